/* oss_cmd.c -- mias-admin oss ls|head|get, to try OSS credentials by hand */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "admin.h"
#include "conf.h"
#include "crypto.h"
#include "oss.h"

#define CRED_LINE_MAX	8192	/* STS tokens run to a few KB */

enum ossc_cmd {
	OSSC_LS,
	OSSC_HEAD,
	OSSC_GET,
	OSSC__MAX
};

static const char *const ossc_names[OSSC__MAX] = { "ls", "head", "get" };
static char ossc_argv0[] = "oss";

/* The credentials, owned and wiped by this file. */
struct ossc_creds {
	char	*cc_id;
	char	*cc_secret;
	char	*cc_token;
};

struct ossc {
	enum ossc_cmd		 o_cmd;
	const char		*o_endpoint;
	const char		*o_bucket;
	const char		*o_prefix;
	const char		*o_key;
	const char		*o_output;
	const char		*o_credfile;
	int			 o_all;
	int			 o_ranged;
	uint64_t		 o_off;
	uint64_t		 o_len;	/* 0: to the end */
	struct oss_opts		 o_opts;
	struct oss_client	*o_client;
	struct oss_target	 o_target;
	struct oss_creds	 o_creds;
	struct ossc_creds	 o_own;
	/* ls */
	uint64_t		 o_listed;
	uint64_t		 o_skipped;
	int			 o_out_err;
};

static void ossc_warnx(const char *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* "mias-admin: oss ls: ..." on standard error. */
static void
ossc_warnx(const char *cmd, const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "mias-admin: oss%s%s: ", cmd ? " " : "",
	    cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
ossc_usage(void)
{
	fprintf(stderr,
	    "usage: mias-admin [-c file] oss ls --endpoint E --bucket B "
	    "[--prefix P] [--all]\n"
	    "       mias-admin [-c file] oss head --endpoint E --bucket B "
	    "--key K\n"
	    "       mias-admin [-c file] oss get --endpoint E --bucket B "
	    "--key K\n"
	    "                  [-o file] [--range first-last]\n"
	    "options for all: [--credentials file] [--signature-version "
	    "1|4] [--region R]\n"
	    "                 [--timeout seconds] [--retries n]\n"
	    "credentials: OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET and "
	    "OSS_SECURITY_TOKEN\n"
	    "(or OSS_SESSION_TOKEN) from the environment, or --credentials "
	    "file with\n"
	    "access_key_id=, access_key_secret= and security_token= lines; "
	    "never arguments.\n");
}

/* An OSS failure, as operators and scripts read it. */
static int
ossc_fail(const struct ossc *o, const struct oss_error *e)
{
	if (e->oe_request_id[0] != '\0')
		ossc_warnx(ossc_names[o->o_cmd], "%s: %s (request id %s)",
		    oss_err_name(e->oe_err), e->oe_message, e->oe_request_id);
	else
		ossc_warnx(ossc_names[o->o_cmd], "%s: %s",
		    oss_err_name(e->oe_err), e->oe_message);
	/* the operator is told what callers are not */
	if (e->oe_detail[0] != '\0')
		ossc_warnx(ossc_names[o->o_cmd], "%s", e->oe_detail);
	return 1;
}

static void
cred_free(struct ossc_creds *cc)
{
	char	**s[3];
	size_t	  i;

	s[0] = &cc->cc_id;
	s[1] = &cc->cc_secret;
	s[2] = &cc->cc_token;
	for (i = 0; i < 3; i++) {
		if (*s[i] != NULL) {
			OPENSSL_cleanse(*s[i], strlen(*s[i]));
			free(*s[i]);
		}
		*s[i] = NULL;
	}
}

static char *
trim(char *s)
{
	char	*e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
	    e[-1] == '\n'))
		*--e = '\0';
	return s;
}

/*
 * Read a credentials file.  Messages name lines and keys, never values.
 * The stream is unbuffered so that no copy of a secret is left in a stdio
 * buffer; the line buffer is wiped.
 */
static int
cred_file(const char *path, struct ossc_creds *cc)
{
	struct stat	  st;
	FILE		 *f;
	char		  line[CRED_LINE_MAX];
	char		 *k, *v, *eq, **dst;
	size_t		  n, lineno = 0;
	int		  rc = -1;

	if ((f = fopen(path, "re")) == NULL) {
		ossc_warnx(NULL, "%s: %s", path, strerror(errno));
		return -1;
	}
	setvbuf(f, NULL, _IONBF, 0);
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077) != 0)
		ossc_warnx(NULL, "warning: %s can be read by group or others",
		    path);
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		n = strlen(line);
		if (n == sizeof(line) - 1 && line[n - 1] != '\n') {
			ossc_warnx(NULL, "%s:%zu: line too long", path, lineno);
			goto out;
		}
		k = trim(line);
		if (*k == '\0' || *k == '#')
			continue;
		if ((eq = strchr(k, '=')) == NULL) {
			ossc_warnx(NULL, "%s:%zu: not key=value", path, lineno);
			goto out;
		}
		*eq = '\0';
		k = trim(k);
		v = trim(eq + 1);
		n = strlen(v);
		if (n >= 2 && ((v[0] == '"' && v[n - 1] == '"') ||
		    (v[0] == '\'' && v[n - 1] == '\''))) {
			v[n - 1] = '\0';
			v++;
		}
		if (strcmp(k, "access_key_id") == 0)
			dst = &cc->cc_id;
		else if (strcmp(k, "access_key_secret") == 0)
			dst = &cc->cc_secret;
		else if (strcmp(k, "security_token") == 0)
			dst = &cc->cc_token;
		else {
			ossc_warnx(NULL, "%s:%zu: unknown key (access_key_id, "
			    "access_key_secret, security_token)", path, lineno);
			goto out;
		}
		if (*dst != NULL) {
			ossc_warnx(NULL, "%s:%zu: %s given twice", path, lineno,
			    k);
			goto out;
		}
		if ((*dst = strdup(v)) == NULL) {
			ossc_warnx(NULL, "out of memory");
			goto out;
		}
	}
	if (ferror(f)) {
		ossc_warnx(NULL, "%s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(line, sizeof(line));
	fclose(f);
	return rc;
}

static int
cred_env(struct ossc_creds *cc)
{
	const char	*id, *secret, *token;

	id = getenv("OSS_ACCESS_KEY_ID");
	secret = getenv("OSS_ACCESS_KEY_SECRET");
	if ((token = getenv("OSS_SECURITY_TOKEN")) == NULL || *token == '\0')
		token = getenv("OSS_SESSION_TOKEN");
	if ((id != NULL && (cc->cc_id = strdup(id)) == NULL) ||
	    (secret != NULL && (cc->cc_secret = strdup(secret)) == NULL) ||
	    (token != NULL && *token != '\0' &&
	    (cc->cc_token = strdup(token)) == NULL)) {
		ossc_warnx(NULL, "out of memory");
		return -1;
	}
	return 0;
}

static int
cred_load(struct ossc *o)
{
	struct ossc_creds	*cc = &o->o_own;

	if ((o->o_credfile != NULL ? cred_file(o->o_credfile, cc) :
	    cred_env(cc)) == -1)
		return -1;
	if (cc->cc_id == NULL || *cc->cc_id == '\0' ||
	    cc->cc_secret == NULL || *cc->cc_secret == '\0') {
		ossc_warnx(NULL, "no credentials: set OSS_ACCESS_KEY_ID and "
		    "OSS_ACCESS_KEY_SECRET (and OSS_SECURITY_TOKEN for STS), "
		    "or use --credentials FILE");
		return -1;
	}
	o->o_creds.oc_access_key_id = cc->cc_id;
	o->o_creds.oc_access_key_secret = cc->cc_secret;
	o->o_creds.oc_security_token = cc->cc_token;
	return 0;
}

static int
parse_u64(const char *s, uint64_t *v)
{
	char			*e;
	unsigned long long	 n;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtoull(s, &e, 10);
	if (errno != 0 || *e != '\0')
		return -1;
	*v = n;
	return 0;
}

/* "first-last" (inclusive) or "first-" */
static int
parse_range(struct ossc *o, const char *s)
{
	char		 buf[64], *dash;
	uint64_t	 a, b;

	if (strlen(s) >= sizeof(buf))
		return -1;
	memcpy(buf, s, strlen(s) + 1);
	if ((dash = strchr(buf, '-')) == NULL)
		return -1;
	*dash = '\0';
	if (parse_u64(buf, &a) == -1)
		return -1;
	o->o_ranged = 1;
	o->o_off = a;
	o->o_len = 0;
	if (dash[1] == '\0')
		return 0;
	if (parse_u64(dash + 1, &b) == -1 || b < a || b == UINT64_MAX)
		return -1;
	o->o_len = b - a + 1;
	return 0;
}

/* Keys are printed as they are, but for the bytes that would break a
 * line or drive a terminal. */
static void
print_key(FILE *f, const char *k)
{
	const unsigned char	*p;

	for (p = (const unsigned char *)k; *p != '\0'; p++) {
		if (*p == '\\')
			fputs("\\\\", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
}

static int
ls_one(const struct oss_object *ob, void *arg)
{
	struct ossc	*o = arg;
	int		 skip = (ob->ob_flags & OSS_OBJ_SKIP) != 0;

	o->o_listed++;
	if (skip)
		o->o_skipped++;
	if (skip && !o->o_all)
		return 0;
	printf("%" PRIu64 "\t", ob->ob_size);
	print_key(stdout, ob->ob_key);
	if (ob->ob_flags & OSS_OBJ_DIR)
		fputs("\tskipped: directory marker", stdout);
	else if (ob->ob_flags & OSS_OBJ_EMPTY)
		fputs("\tskipped: empty", stdout);
	if (ob->ob_flags & OSS_OBJ_ARCHIVE)
		printf("\tarchive: %s", ob->ob_storage_class);
	if (putchar('\n') == EOF) {
		o->o_out_err = errno;
		return -1;
	}
	return 0;
}

static int
cmd_ls(struct ossc *o)
{
	struct oss_error	err;
	enum oss_err		rc;

	rc = oss_list(o->o_client, &o->o_target, o->o_prefix, ls_one, o,
	    &err);
	if (fflush(stdout) == EOF && o->o_out_err == 0)
		o->o_out_err = errno;
	if (o->o_out_err != 0) {
		ossc_warnx("ls", "standard output: %s",
		    strerror(o->o_out_err));
		return 1;
	}
	if (rc != OSS_OK)
		return ossc_fail(o, &err);
	return 0;
}

static int
cmd_head(struct ossc *o)
{
	struct oss_head		h;
	struct oss_error	err;
	unsigned char		buf[OSS_SNIFF_BYTES];
	size_t			got = 0;
	enum oss_kind		kind = OSS_KIND_UNKNOWN;

	if (oss_head(o->o_client, &o->o_target, o->o_key, &h, &err) !=
	    OSS_OK)
		return ossc_fail(o, &err);
	printf("key=");
	print_key(stdout, o->o_key);
	printf("\nsize=%" PRIu64 "\n", h.oh_size);
	printf("etag=%s\n", h.oh_etag);
	printf("content_type=%s\n", h.oh_content_type);
	printf("last_modified=%s\n", h.oh_last_modified);
	printf("storage_class=%s\n", h.oh_storage_class);
	if (h.oh_has_crc64)
		printf("crc64=%" PRIu64 "\n", h.oh_crc64);
	/* What the dispatcher will take it for, from its first bytes. */
	if (h.oh_size > 0) {
		if (oss_get_range(o->o_client, &o->o_target, o->o_key, 0, buf,
		    sizeof(buf), &got, &err) == OSS_OK)
			kind = oss_sniff(buf, got);
		else
			ossc_warnx("head", "warning: cannot read the first "
			    "bytes: %s: %s", oss_err_name(err.oe_err),
			    err.oe_message);
	}
	printf("kind=%s\n", oss_kind_name(kind));
	if (fflush(stdout) == EOF) {
		ossc_warnx("head", "standard output: %s", strerror(errno));
		return 1;
	}
	return 0;
}

static int
cmd_get(struct ossc *o)
{
	struct oss_error	 err;
	char			*tmp = NULL;
	const char		*out = o->o_output;
	int			 fd = STDOUT_FILENO, rc = 1;
	size_t			 n;

	if (out != NULL && strcmp(out, "-") == 0)
		out = NULL;
	if (out == NULL && isatty(STDOUT_FILENO)) {
		ossc_warnx("get", "not writing an object to a terminal: use "
		    "-o FILE");
		return 1;
	}
	if (out != NULL) {
		/* Into a temporary file beside the target, renamed when
		 * complete: a failed download leaves no partial file. */
		n = strlen(out) + 16;
		if ((tmp = malloc(n)) == NULL) {
			ossc_warnx("get", "out of memory");
			return 1;
		}
		snprintf(tmp, n, "%s.XXXXXX", out);
		if ((fd = mkstemp(tmp)) == -1) {
			ossc_warnx("get", "%s: %s", tmp, strerror(errno));
			free(tmp);
			return 1;
		}
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	if (oss_get_fd(o->o_client, &o->o_target, o->o_key, o->o_off,
	    o->o_len, fd, OSS_NO_LIMIT, NULL, NULL, &err) != OSS_OK) {
		ossc_fail(o, &err);
		goto out;
	}
	if (out != NULL) {
		if (fsync(fd) == -1 || close(fd) == -1) {
			fd = -1;
			ossc_warnx("get", "%s: %s", tmp, strerror(errno));
			goto out;
		}
		fd = -1;
		if (rename(tmp, out) == -1) {
			ossc_warnx("get", "%s: %s", out, strerror(errno));
			goto out;
		}
		free(tmp);
		tmp = NULL;
	}
	rc = 0;
out:
	if (tmp != NULL) {
		if (fd != -1)
			close(fd);
		unlink(tmp);
		free(tmp);
	}
	return rc;
}

enum {
	OPT_ENDPOINT = 256,
	OPT_BUCKET,
	OPT_PREFIX,
	OPT_ALL,
	OPT_KEY,
	OPT_RANGE,
	OPT_CREDENTIALS,
	OPT_SIGVER,
	OPT_REGION,
	OPT_TIMEOUT,
	OPT_RETRIES
};

static const struct option ossc_longopts[] = {
	{ "endpoint", required_argument, NULL, OPT_ENDPOINT },
	{ "bucket", required_argument, NULL, OPT_BUCKET },
	{ "prefix", required_argument, NULL, OPT_PREFIX },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "output", required_argument, NULL, 'o' },
	{ "range", required_argument, NULL, OPT_RANGE },
	{ "credentials", required_argument, NULL, OPT_CREDENTIALS },
	{ "signature-version", required_argument, NULL, OPT_SIGVER },
	{ "region", required_argument, NULL, OPT_REGION },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "retries", required_argument, NULL, OPT_RETRIES },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* Options and the command word, in any order.  0, or 2 for bad usage. */
static int
ossc_args(struct ossc *o, int argc, char **argv)
{
	const char	*cmd = NULL;
	uint64_t	 n;
	int		 ch, i;

	opterr = 0;
	optind = 0;	/* glibc: start over, main() used getopt too */
	while ((ch = getopt_long(argc, argv, ":o:h", ossc_longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case OPT_ENDPOINT:
			o->o_endpoint = optarg;
			break;
		case OPT_BUCKET:
			o->o_bucket = optarg;
			break;
		case OPT_PREFIX:
			o->o_prefix = optarg;
			break;
		case OPT_ALL:
			o->o_all = 1;
			break;
		case OPT_KEY:
			o->o_key = optarg;
			break;
		case 'o':
			o->o_output = optarg;
			break;
		case OPT_RANGE:
			if (parse_range(o, optarg) == -1) {
				ossc_warnx(NULL, "--range: want first-last or "
				    "first- (bytes, inclusive)");
				return 2;
			}
			break;
		case OPT_CREDENTIALS:
			o->o_credfile = optarg;
			break;
		case OPT_SIGVER:
			if (strcmp(optarg, "1") == 0)
				o->o_opts.oo_sigver = OSS_SIGV1;
			else if (strcmp(optarg, "4") == 0)
				o->o_opts.oo_sigver = OSS_SIGV4;
			else {
				ossc_warnx(NULL, "--signature-version: 1 or 4");
				return 2;
			}
			break;
		case OPT_REGION:
			o->o_opts.oo_region = optarg;
			break;
		case OPT_TIMEOUT:
			if (parse_u64(optarg, &n) == -1 || n == 0 ||
			    n > 86400) {
				ossc_warnx(NULL, "--timeout: seconds, 1 to "
				    "86400");
				return 2;
			}
			o->o_opts.oo_timeout = (long)n;
			o->o_opts.oo_get_timeout = (long)n;
			if (o->o_opts.oo_connect_timeout > (long)n)
				o->o_opts.oo_connect_timeout = (long)n;
			if (o->o_opts.oo_low_speed_time > (long)n)
				o->o_opts.oo_low_speed_time = (long)n;
			break;
		case OPT_RETRIES:
			if (parse_u64(optarg, &n) == -1 || n > 20) {
				ossc_warnx(NULL, "--retries: 0 to 20");
				return 2;
			}
			o->o_opts.oo_retries = (unsigned)n;
			break;
		case 'h':
			ossc_usage();
			return 2;
		case ':':
			ossc_warnx(NULL, "option %s needs a value",
			    argv[optind - 1]);
			ossc_usage();
			return 2;
		default:
			if (optopt != 0 && optopt < 256)
				ossc_warnx(NULL, "unknown option -%c", optopt);
			else
				ossc_warnx(NULL, "unknown option %s",
				    argv[optind - 1]);
			ossc_usage();
			return 2;
		}
	}
	for (i = optind; i < argc; i++) {
		if (cmd != NULL) {
			ossc_warnx(NULL, "unexpected argument: %s", argv[i]);
			ossc_usage();
			return 2;
		}
		cmd = argv[i];
	}
	if (cmd == NULL) {
		ossc_usage();
		return 2;
	}
	for (i = 0; i < OSSC__MAX; i++)
		if (strcmp(cmd, ossc_names[i]) == 0)
			break;
	if (i == OSSC__MAX) {
		ossc_warnx(NULL, "unknown command %s", cmd);
		ossc_usage();
		return 2;
	}
	o->o_cmd = (enum ossc_cmd)i;
	if (o->o_endpoint == NULL || o->o_bucket == NULL) {
		ossc_warnx(ossc_names[o->o_cmd], "--endpoint and --bucket are "
		    "needed");
		return 2;
	}
	if (o->o_cmd != OSSC_LS && o->o_key == NULL) {
		ossc_warnx(ossc_names[o->o_cmd], "--key is needed");
		return 2;
	}
	if ((o->o_cmd != OSSC_LS && (o->o_prefix != NULL || o->o_all)) ||
	    (o->o_cmd != OSSC_GET && (o->o_output != NULL || o->o_ranged)) ||
	    (o->o_cmd == OSSC_LS && o->o_key != NULL)) {
		ossc_warnx(ossc_names[o->o_cmd], "option not for this command");
		ossc_usage();
		return 2;
	}
	return 0;
}

int
admin_oss(const struct mias_conf *conf, int argc, char **argv)
{
	struct ossc	  o;
	char		**av = NULL;
	char		  err[256];
	int		  rc = 1, i;

	memset(&o, 0, sizeof(o));
	oss_opts_default(&o.o_opts);
	o.o_opts.oo_sigver = conf->c_oss_sigver;
	o.o_opts.oo_egress = &conf->c_egress;
	o.o_opts.oo_user_agent = "mias-admin";

	/* getopt wants a program name first. */
	if (argc < 0 || argc > INT_MAX - 2 ||
	    (av = calloc((size_t)argc + 2, sizeof(*av))) == NULL) {
		ossc_warnx(NULL, "out of memory");
		return 1;
	}
	av[0] = ossc_argv0;
	for (i = 0; i < argc; i++)
		av[i + 1] = argv[i];
	if ((rc = ossc_args(&o, argc + 1, av)) != 0)
		goto out;
	rc = 1;
	if (cred_load(&o) == -1)
		goto out;
	if (crypto_curl_init() == -1) {
		ossc_warnx(NULL, "cannot initialise libcurl");
		goto out;
	}
	if ((o.o_client = oss_client_new(&o.o_opts, err, sizeof(err))) ==
	    NULL) {
		ossc_warnx(ossc_names[o.o_cmd], "%s", err);
		goto cleanup;
	}
	o.o_target.ot_endpoint = o.o_endpoint;
	o.o_target.ot_bucket = o.o_bucket;
	o.o_target.ot_creds = &o.o_creds;
	switch (o.o_cmd) {
	case OSSC_LS:
		rc = cmd_ls(&o);
		break;
	case OSSC_HEAD:
		rc = cmd_head(&o);
		break;
	case OSSC_GET:
		rc = cmd_get(&o);
		break;
	case OSSC__MAX:
		break;
	}
	oss_client_free(o.o_client);
cleanup:
	curl_global_cleanup();
out:
	cred_free(&o.o_own);
	free(av);
	return rc;
}
