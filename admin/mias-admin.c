/* mias-admin.c -- administration: init, namespaces and tokens, OSS checks */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "audit.h"
#include "conf.h"
#include "crypto.h"
#include "jv.h"
#include "ns.h"
#include "repl.h"
#include "store.h"

static const char	*progname = "mias-admin";

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: mias-admin [-c file] command [arguments]\n"
	    "       mias-admin --version\n"
	    "commands:\n"
	    "  init [--user USER[:GROUP]]\n"
	    "  namespace add NAME [--callback-host HOST]... [--origin ORIGIN]...\n"
	    "                [--token-file FILE [--weak-token]]\n"
	    "  namespace set NAME [--callback-host HOST]... [--origin ORIGIN]...\n"
	    "                [--token-file FILE [--weak-token]]\n"
	    "  namespace list\n"
	    "  namespace disable|enable|rotate NAME\n"
	    "  oss ls|head|get --endpoint E --bucket B ... (see mias-admin(8))\n"
	    "  studies list [--namespace NS] [--state STATE] [--json]\n"
	    "  studies show NAMESPACE TYPE UID [--json]\n"
	    "  deliveries list [--dead] [--json]\n"
	    "  deliveries replay ID|--all-dead\n"
	    "  audit [--namespace NS] [--since TIME] [--until TIME] [--json]\n"
	    "  store check [--repair] | backup DIR | restore DIR [--force] |\n"
	    "        upgrade\n"
	    "  repl status\n");
	exit(2);
}

static void __attribute__((format(printf, 1, 2), noreturn))
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

struct admin {
	struct mias_conf	*a_conf;
	struct crypto_keys	*a_keys;	/* in pages kept out of cores */
	struct store		*a_store;
};

void
admin_stalled(const char *why)
{
	fprintf(stderr, "mias-admin: %s; stopped: run the command "
	    "again\n", why);
	_exit(STORE_STALL_EXIT);
}

static void	admin_open_flags(struct admin *, int);

static void
admin_open(struct admin *a)
{
	admin_open_flags(a, 0);
}

static void
admin_open_flags(struct admin *a, int flags)
{
	char err[512];

	/* as root, the state directory's owner: what we create is theirs */
	if (store_become_owner(a->a_conf->c_state_dir, err,
	    sizeof(err)) == -1 ||
	    store_check_owner(a->a_conf->c_state_dir, err, sizeof(err)) == -1)
		die("%s", err);
	if ((a->a_keys = crypto_keys_new()) == NULL)
		die("no memory kept out of core dumps for the keys");
	if (crypto_keys_load(a->a_conf->c_key_file, a->a_keys, err,
	    sizeof(err)) == -1)
		die("%s (run 'mias-admin init' first?)", err);
	store_on_stall(admin_stalled);
	if (store_open(a->a_conf->c_state_dir, flags, &a->a_store, err,
	    sizeof(err)) == -1)
		die("%s%s", err, store_init_hint(a->a_conf->c_state_dir));
}

/* Whom init makes the state directory and the key file for. */
struct init_owner {
	uid_t	io_uid;
	gid_t	io_gid;
	int	io_shared;	/* two users sharing io_gid: 2770, 0640 */
};

/* USER[:GROUP] */
static void
init_owner_parse(const char *spec, struct init_owner *o)
{
	struct passwd	*pw;
	struct group	*gr;
	char		 user[256];
	const char	*colon = strchr(spec, ':');
	size_t		 ulen = colon ? (size_t)(colon - spec) : strlen(spec);

	if (ulen == 0 || ulen >= sizeof(user) || (colon && colon[1] == '\0'))
		die("--user %s: USER or USER:GROUP", spec);
	memcpy(user, spec, ulen);
	user[ulen] = '\0';
	if ((pw = getpwnam(user)) == NULL)
		die("--user %s: no user %s", spec, user);
	o->io_uid = pw->pw_uid;
	o->io_gid = pw->pw_gid;
	o->io_shared = 0;
	if (colon != NULL) {
		if ((gr = getgrnam(colon + 1)) == NULL)
			die("--user %s: no group %s", spec, colon + 1);
		o->io_gid = gr->gr_gid;
		o->io_shared = 1;
	}
}

/*
 * An existing state directory names its owner (and, group-writable, the
 * group it is shared with); else --user; else, as root, www-data (the web
 * server's user on Debian); else the user running init.
 */
static void
init_owner(const char *dir, const char *spec, struct init_owner *o)
{
	struct init_owner	 given;
	struct stat		 st;

	if (stat(dir, &st) == 0) {
		o->io_uid = st.st_uid;
		o->io_gid = st.st_gid;
		o->io_shared = (st.st_mode & S_IWGRP) != 0;
		if (spec == NULL)
			return;
		init_owner_parse(spec, &given);
		if (given.io_uid != o->io_uid || (given.io_shared &&
		    given.io_gid != o->io_gid))
			die("state directory %s exists with another owner "
			    "or group than --user %s names; leave --user out "
			    "or change the directory (chown)", dir, spec);
		return;
	}
	if (spec == NULL && geteuid() != 0) {
		o->io_uid = geteuid();
		o->io_gid = getegid();
		o->io_shared = 0;
		return;
	}
	if (spec == NULL) {
		if (getpwnam("www-data") == NULL)
			die("run as root, init needs the user the responders "
			    "run as: mias-admin init --user USER[:GROUP]");
		spec = "www-data";
	}
	init_owner_parse(spec, o);
	if (geteuid() != 0 && o->io_uid != geteuid())
		die("only root makes the state directory for another user: "
		    "run init as root, or as that user (runuser -u USER -- "
		    "mias-admin init)");
}

/* A new state directory, owned as o says whatever the umask; an existing
 * one is left as it is. */
static void
init_state_dir(const char *dir, const struct init_owner *o)
{
	if (mkdir(dir, 0700) == -1) {
		if (errno == EEXIST)
			return;
		die("%s: %s", dir, strerror(errno));
	}
	if (chown(dir, o->io_uid == geteuid() ? (uid_t)-1 : o->io_uid,
	    o->io_gid) == -1 ||
	    chmod(dir, o->io_shared ? 02770 : 0700) == -1) {
		int saved = errno;

		rmdir(dir);
		die("%s: %s", dir, strerror(saved));
	}
	printf("state directory %s created (mode %s)\n", dir,
	    o->io_shared ? "2770" : "0700");
}

/* A new key file: 32 random bytes, the owner's, read by the group when
 * the store is shared; an existing one is kept. */
static void
init_key(const char *path, const struct init_owner *o)
{
	unsigned char	key[CRYPTO_KEYLEN];
	int		fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd == -1 && errno == EEXIST) {
		printf("key file %s exists; kept (every sealed record "
		    "depends on it)\n", path);
		return;
	}
	if (fd == -1)
		die("%s: %s", path, strerror(errno));
	if (fchown(fd, o->io_uid == geteuid() ? (uid_t)-1 : o->io_uid,
	    o->io_gid) == -1 ||
	    fchmod(fd, o->io_shared ? 0640 : 0600) == -1 ||
	    crypto_random(key, sizeof(key)) == -1 ||
	    write(fd, key, sizeof(key)) != (ssize_t)sizeof(key) ||
	    fsync(fd) == -1) {
		crypto_wipe(key, sizeof(key));
		unlink(path);
		die("%s: cannot write the key", path);
	}
	crypto_wipe(key, sizeof(key));
	close(fd);
	printf("key file %s created\n", path);
}

static int
cmd_init(struct admin *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "user",	required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 }
	};
	struct init_owner	 o;
	struct store		*s;
	const char		*dir = a->a_conf->c_state_dir;
	const char		*spec = NULL;
	char			 err[512];
	int			 ch;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (ch != 'u')
			usage();
		spec = optarg;
	}
	if (optind != argc)
		usage();
	init_owner(dir, spec, &o);
	init_state_dir(dir, &o);
	init_key(a->a_conf->c_key_file, &o);
	if (store_become_owner(dir, err, sizeof(err)) == -1 ||
	    store_check_owner(dir, err, sizeof(err)) == -1)
		die("%s", err);
	if ((a->a_keys = crypto_keys_new()) == NULL)
		die("no memory kept out of core dumps for the keys");
	if (crypto_keys_load(a->a_conf->c_key_file, a->a_keys, err,
	    sizeof(err)) == -1)
		die("%s (the users of the store must be able to read it)",
		    err);
	if (store_open(dir, STORE_CREATE, &s, err, sizeof(err)) == -1)
		die("%s", err);
	store_close(s);
	printf("state directory %s ready\n", dir);
	return 0;
}

/* Options shared by namespace add and namespace set. */
struct ns_opts {
	json_object	*o_hosts;	/* NULL: not given */
	json_object	*o_origins;
	char		*o_token;	/* from --token-file, or NULL */
	int		 o_weak;
};

static const char *
check_origin(const char *o)
{
	const char *p;

	if (strncmp(o, "https://", 8) && strncmp(o, "http://", 7))
		return "must start with http:// or https://";
	p = strstr(o, "://") + 3;
	if (*p == '\0' || strchr(p, '/') != NULL)
		return "must be scheme://host[:port], without a path";
	return jv_printable(o);
}

static char *
read_token_file(const char *path)
{
	char	buf[NS_TOKEN_MAX + 2];
	size_t	n;
	FILE	*fp;

	if ((fp = fopen(path, "r")) == NULL)
		die("%s: %s", path, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (n > NS_TOKEN_MAX)
		die("%s: token longer than %d characters", path, NS_TOKEN_MAX);
	if (n == 0)
		die("%s: no token in the file", path);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)buf[i] < 0x21 || buf[i] == 0x7f) {
			crypto_wipe(buf, sizeof(buf));
			die("%s: a token may hold only printable characters "
			    "without spaces", path);
		}
	return strdup(buf);
}

static void
ns_opts_parse(int argc, char **argv, struct ns_opts *o)
{
	static const struct option longopts[] = {
		{ "callback-host",	required_argument, NULL, 'H' },
		{ "origin",		required_argument, NULL, 'O' },
		{ "token-file",		required_argument, NULL, 'T' },
		{ "weak-token",		no_argument,	   NULL, 'W' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*why;
	int		 ch;

	memset(o, 0, sizeof(*o));
	optind = 0;	/* 0: glibc forgets the earlier scan entirely */
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'H':
			if (o->o_hosts == NULL)
				o->o_hosts = json_object_new_array();
			if (*optarg == '\0' || strpbrk(optarg, "/: ") != NULL)
				die("--callback-host %s: give a bare host "
				    "name or address", optarg);
			json_object_array_add(o->o_hosts,
			    json_object_new_string(optarg));
			break;
		case 'O':
			if ((why = check_origin(optarg)) != NULL)
				die("--origin %s: %s", optarg, why);
			if (o->o_origins == NULL)
				o->o_origins = json_object_new_array();
			json_object_array_add(o->o_origins,
			    json_object_new_string(optarg));
			break;
		case 'T':
			free(o->o_token);
			o->o_token = read_token_file(optarg);
			break;
		case 'W':
			o->o_weak = 1;
			break;
		default:
			usage();
		}
	}
	if (o->o_token != NULL && strlen(o->o_token) < NS_TOKEN_MIN &&
	    !o->o_weak)
		die("the imported token is shorter than %d characters; "
		    "accept it with --weak-token", NS_TOKEN_MIN);
	if (o->o_weak && o->o_token == NULL)
		die("--weak-token goes with --token-file");
}

static void
ns_opts_free(struct ns_opts *o)
{
	json_object_put(o->o_hosts);
	json_object_put(o->o_origins);
	if (o->o_token != NULL) {
		crypto_wipe(o->o_token, strlen(o->o_token));
		free(o->o_token);
	}
}

/* Apply the given options to a record; absent options leave it as is. */
static void
ns_opts_apply(struct admin *a, struct ns_opts *o, json_object *rec)
{
	if (o->o_hosts != NULL)
		json_object_object_add(rec, "callbackHosts",
		    json_object_get(o->o_hosts));
	if (o->o_origins != NULL)
		json_object_object_add(rec, "origins",
		    json_object_get(o->o_origins));
	if (o->o_token != NULL)
		ns_record_set_token(rec, a->a_keys, o->o_token,
		    strlen(o->o_token) < NS_TOKEN_MIN);
}

struct ns_arg {
	const char	*name;
	json_object	*rec;		/* new record (add) */
	struct admin	*admin;
	struct ns_opts	*opts;
	const char	*op;		/* set, disable, enable, rotate */
	char		*token;		/* rotate: the new token */
};

static int
ns_add_body(struct store_txn *t, void *arg)
{
	struct ns_arg	*na = arg;
	json_object	*old = NULL;
	int		 rc;

	rc = ns_get(t, na->name, &old, 1);
	json_object_put(old);
	if (rc == STORE_OK)
		return 1;	/* exists */
	if (rc != STORE_NOTFOUND)
		return rc;
	if ((rc = ns_origins_index(t, na->name, NULL, na->rec)) != STORE_OK)
		return rc;
	return ns_put(t, na->name, na->rec);
}

static int
cmd_ns_add(struct admin *a, const char *name, int argc, char **argv)
{
	struct ns_opts	 o;
	struct ns_arg	 na;
	unsigned char	 secret[NS_SECRET_LEN];
	char		 token[64], secret_str[80];
	const char	*why, *tok;
	int		 rc;

	if ((why = ns_name_check(name)) != NULL)
		die("namespace name %s: %s", name, why);
	ns_opts_parse(argc, argv, &o);
	admin_open(a);
	if (ns_token_new(token, sizeof(token)) == -1 ||
	    crypto_random(secret, sizeof(secret)) == -1)
		die("cannot get random bytes");
	tok = o.o_token != NULL ? o.o_token : token;
	memset(&na, 0, sizeof(na));
	na.name = name;
	if ((na.rec = ns_record_new(a->a_keys, name, tok,
	    strlen(tok) < NS_TOKEN_MIN, secret)) == NULL)
		die("cannot seal the signing secret");
	ns_opts_apply(a, &o, na.rec);
	if (ns_record_secret(na.rec, a->a_keys, secret_str,
	    sizeof(secret_str)) == -1)
		die("cannot open the signing secret just sealed");
	rc = store_txn(a->a_store, ns_add_body, &na);
	if (rc == 1)
		die("namespace %s exists already (see 'namespace set')", name);
	if (rc != 0)
		die("cannot store namespace %s: %s", name,
		    store_errmsg(a->a_store));
	if (audit_write(a->a_store, name, "mias-admin", "namespace add",
	    name, "ok") == -1)
		warn_audit();
	/* printed once; only the hash of the token and the sealed secret
	 * are kept */
	printf("token=%s\nsigning_secret=%s\n", tok, secret_str);
	crypto_wipe(token, sizeof(token));
	crypto_wipe(secret, sizeof(secret));
	crypto_wipe(secret_str, sizeof(secret_str));
	json_object_put(na.rec);
	ns_opts_free(&o);
	return 0;
}

static int
ns_change_body(struct store_txn *t, void *arg)
{
	struct ns_arg	*na = arg;
	json_object	*rec = NULL, *old, *before;
	int		 rc;

	if ((rc = ns_get(t, na->name, &rec, 1)) != STORE_OK)
		return rc == STORE_NOTFOUND ? 1 : rc;
	old = json_object_get(json_object_object_get(rec, "origins"));
	if (strcmp(na->op, "disable") == 0)
		json_object_object_add(rec, "disabled",
		    json_object_new_boolean(1));
	else if (strcmp(na->op, "enable") == 0)
		json_object_object_add(rec, "disabled",
		    json_object_new_boolean(0));
	else if (strcmp(na->op, "rotate") == 0)
		ns_record_set_token(rec, na->admin->a_keys, na->token, 0);
	else
		ns_opts_apply(na->admin, na->opts, rec);
	json_object_object_add(rec, "updated",
	    json_object_new_int64(store_now_ms()));
	/* the index is rebuilt from the origins before and after */
	before = json_object_new_object();
	json_object_object_add(before, "origins", old);
	if ((rc = ns_origins_index(t, na->name, before, rec)) == STORE_OK)
		rc = ns_put(t, na->name, rec);
	json_object_put(before);
	json_object_put(rec);
	return rc;
}

static int
cmd_ns_change(struct admin *a, const char *op, const char *name, int argc,
    char **argv)
{
	struct ns_opts	o;
	struct ns_arg	na;
	char		token[64];
	int		rc;

	memset(&o, 0, sizeof(o));
	if (strcmp(op, "set") == 0)
		ns_opts_parse(argc, argv, &o);
	else if (argc > 1)
		usage();
	admin_open(a);
	memset(&na, 0, sizeof(na));
	na.name = name;
	na.admin = a;
	na.opts = &o;
	na.op = op;
	if (strcmp(op, "rotate") == 0) {
		if (ns_token_new(token, sizeof(token)) == -1)
			die("cannot get random bytes");
		na.token = token;
	}
	rc = store_txn(a->a_store, ns_change_body, &na);
	if (rc == 1)
		die("no namespace %s", name);
	if (rc != 0)
		die("cannot update namespace %s: %s", name,
		    store_errmsg(a->a_store));
	{
		char action[32];

		snprintf(action, sizeof(action), "namespace %s", op);
		if (audit_write(a->a_store, name, "mias-admin", action, name,
		    "ok") == -1)
			warn_audit();
	}
	if (na.token != NULL)
		printf("token=%s\n", token);
	else
		printf("namespace %s: %s done\n", name, op);
	crypto_wipe(token, sizeof(token));
	ns_opts_free(&o);
	return 0;
}

static void
print_list(json_object *rec, const char *key)
{
	json_object	*arr;
	size_t		 i, n;

	if (!json_object_object_get_ex(rec, key, &arr) ||
	    (n = json_object_array_length(arr)) == 0) {
		printf("-");
		return;
	}
	for (i = 0; i < n; i++)
		printf("%s%s", i ? "," : "",
		    json_object_get_string(json_object_array_get_idx(arr, i)));
}

static int
ns_list_visit(const void *key, size_t klen, const char *val, size_t len,
    void *arg)
{
	json_object	*list = arg, *rec;

	(void)key;
	(void)klen;
	if ((rec = store_json(val, len)) == NULL)
		return STORE_ERR;
	json_object_array_add(list, rec);
	return 0;
}

/* Collects the records: a body may run more than once, so it must not
 * print. */
static int
ns_list_body(struct store_txn *t, void *arg)
{
	json_object **list = arg;

	json_object_put(*list);
	if ((*list = json_object_new_array()) == NULL)
		return STORE_ERR;
	return store_scan(t, SDB_NAMESPACES, NULL, 0, ns_list_visit, *list);
}

static void
ns_list_print(json_object *list)
{
	json_object	*rec, *v;
	size_t		 i;
	int		 disabled, weak;

	printf("NAME\tSTATE\tTOKEN\tCALLBACK-HOSTS\tORIGINS\n");
	for (i = 0; i < json_object_array_length(list); i++) {
		rec = json_object_array_get_idx(list, i);
		disabled = json_object_object_get_ex(rec, "disabled", &v) &&
		    json_object_get_boolean(v);
		weak = json_object_object_get_ex(rec, "tokenWeak", &v) &&
		    json_object_get_boolean(v);
		json_object_object_get_ex(rec, "name", &v);
		printf("%s\t%s\t%s\t", json_object_get_string(v),
		    disabled ? "disabled" : "enabled",
		    weak ? "weak" : "strong");
		print_list(rec, "callbackHosts");
		printf("\t");
		print_list(rec, "origins");
		printf("\n");
	}
}

static int
cmd_namespace(struct admin *a, int argc, char **argv)
{
	if (argc < 1)
		usage();
	if (strcmp(argv[0], "list") == 0) {
		if (argc != 1)
			usage();
		json_object *list = NULL;

		admin_open(a);
		if (store_txn(a->a_store, ns_list_body, &list) != 0)
			die("cannot list namespaces: %s",
			    store_errmsg(a->a_store));
		ns_list_print(list);
		json_object_put(list);
		return 0;
	}
	if (argc < 2)
		usage();
	if (strcmp(argv[0], "add") == 0)
		return cmd_ns_add(a, argv[1], argc - 1, argv + 1);
	if (strcmp(argv[0], "set") == 0 || strcmp(argv[0], "disable") == 0 ||
	    strcmp(argv[0], "enable") == 0 || strcmp(argv[0], "rotate") == 0)
		return cmd_ns_change(a, argv[0], argv[1], argc - 1, argv + 1);
	usage();
}

int
main(int argc, char *argv[])
{
	struct admin	 a;
	const char	*path = NULL;
	char		 err[512];
	int		 ch, rc;

	static const struct option longopts[] = {
		{ "version",	no_argument,	NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};

	memset(&a, 0, sizeof(a));
	while ((ch = getopt_long(argc, argv, "+c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'V':
			printf("%s %s\n", progname, PACKAGE_VERSION);
			return 0;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	if (path == NULL)
		path = getenv("MIAS_CONF");
	if (path == NULL || *path == '\0')
		path = conf_default_path();
	if ((a.a_conf = conf_load(path, err, sizeof(err))) == NULL)
		die("%s", err);
	for (size_t i = 0; conf_warning(a.a_conf, i) != NULL; i++)
		fprintf(stderr, "%s: warning: %s\n", progname,
		    conf_warning(a.a_conf, i));
	repl_use(&a.a_conf->c_repl);
	/* a group: the store changes only on the master */
	if (a.a_conf->c_repl.rc_on && admin_writes(argc, argv)) {
		admin_open_flags(&a, STORE_ENVONLY);
		if ((rc = admin_replica_refuse(a.a_store)) != 0)
			goto out;
		store_close(a.a_store);
		a.a_store = NULL;
	}

	if (strcmp(argv[0], "init") == 0)
		rc = cmd_init(&a, argc, argv);
	else if (strcmp(argv[0], "namespace") == 0)
		rc = cmd_namespace(&a, argc - 1, argv + 1);
	else if (strcmp(argv[0], "oss") == 0)
		rc = admin_oss(a.a_conf, argc - 1, argv + 1);
	else if (strcmp(argv[0], "studies") == 0) {
		admin_open(&a);
		rc = admin_studies(a.a_conf, a.a_store, argc - 1, argv + 1);
	} else if (strcmp(argv[0], "audit") == 0) {
		admin_open(&a);
		rc = admin_audit(a.a_conf, a.a_store, argc, argv);
	} else if (strcmp(argv[0], "store") == 0)
		rc = admin_store(a.a_conf, argc - 1, argv + 1);
	else if (strcmp(argv[0], "deliveries") == 0) {
		admin_open(&a);
		rc = admin_deliveries(a.a_conf, a.a_store, argc - 1, argv + 1);
	} else if (strcmp(argv[0], "repl") == 0) {
		admin_open_flags(&a, STORE_ENVONLY);
		if ((rc = admin_repl(a.a_conf, a.a_store, argc - 1,
		    argv + 1)) == 2)
			usage();
	}
	else
		usage();
out:
	store_close(a.a_store);
	crypto_keys_free(a.a_keys);
	conf_free(a.a_conf);
	return rc;
}
