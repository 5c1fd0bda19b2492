/* conf.c -- read and check the INI configuration file with inih */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "conf.h"
#include "paths.h"

/* Parser state: inih reads line by line through conf_reader(), which lets
 * us know the line of every key without inih's optional line-number ABI. */
struct conf_parse {
	struct mias_conf *cp_conf;
	FILE		*cp_fp;
	int		 cp_line;
	int		 cp_err_line;	/* first error, 0 when none */
	char		*cp_err;
	size_t		 cp_errlen;
	int		 cp_seen_state_dir;
	int		 cp_seen_key_file;
	char		**cp_keys;	/* "section\nname" of every key seen */
	size_t		 cp_keys_n;
	int		 cp_engine_line[CONF_ENGINES];	/* of its first key */
	int		 cp_analysis_line[CONF_ENGINES];
	int		 cp_type_line[CONF_ENGINES];	/* studyType = N given */
};

enum conf_kind {
	CK_STRING,	/* non-empty string */
	CK_OPTSTRING,	/* may be empty (stored as NULL) */
	CK_SIZE,	/* positive integer, bytes */
	CK_UINT,	/* positive integer */
	CK_SECONDS,	/* duration */
	CK_BOOL,
	CK_URL,		/* http(s)://... without trailing slash */
	CK_HOSTS,	/* comma-separated list */
	CK_RETRY,	/* comma-separated durations */
	CK_SIGVER,	/* 1 or 4 */
	CK__MAX
};

const char *
conf_default_path(void)
{
	return MIAS_SYSCONFDIR "/mias/mias.conf";
}

static void
conf_error(struct conf_parse *cp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
conf_error(struct conf_parse *cp, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (cp->cp_err_line != 0)
		return;		/* keep the first */
	cp->cp_err_line = cp->cp_line;
	n = snprintf(cp->cp_err, cp->cp_errlen, "%s:%d: ",
	    cp->cp_conf->c_path, cp->cp_line);
	if (n < 0 || (size_t)n >= cp->cp_errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(cp->cp_err + n, cp->cp_errlen - n, fmt, ap);
	va_end(ap);
}

int
conf_duration(const char *s, unsigned *secs)
{
	char		*end;
	unsigned long	 v, mul = 1;

	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0)
		return -1;
	switch (*end) {
	case 's':
		end++;
		break;
	case 'm':
		mul = 60;
		end++;
		break;
	case 'h':
		mul = 3600;
		end++;
		break;
	case 'd':
		mul = 86400;
		end++;
		break;
	default:
		break;
	}
	while (isspace((unsigned char)*end))
		end++;
	if (*end != '\0' || v > UINT_MAX / mul)
		return -1;
	*secs = (unsigned)(v * mul);
	return 0;
}

static int
conf_number(const char *s, unsigned long long max, unsigned long long *out)
{
	char			*end;
	unsigned long long	 v;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Appends s (malloc'd) to the array v of *n: 0, or -1 (s freed) when out
 * of memory. */
static int
conf_strv_add(char ***v, size_t *n, char *s)
{
	char	**nv;

	if ((nv = reallocarray(*v, *n + 1, sizeof(*nv))) == NULL) {
		free(s);
		return -1;
	}
	*v = nv;
	nv[(*n)++] = s;
	return 0;
}

/* Split a comma-separated list into a NULL-free array of trimmed words. */
static int
conf_split(const char *s, char ***out, size_t *outn)
{
	char	*copy, *p, *word, *w, **v = NULL;
	size_t	 n = 0;
	int	 rc = -1;

	if ((copy = strdup(s)) == NULL)
		return -1;
	for (p = copy; (word = strsep(&p, ",")) != NULL; ) {
		char *e;

		while (isspace((unsigned char)*word))
			word++;
		e = word + strlen(word);
		while (e > word && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (*word == '\0')
			continue;
		if ((w = strdup(word)) == NULL ||
		    conf_strv_add(&v, &n, w) == -1)
			goto out;
	}
	*out = v;
	*outn = n;
	v = NULL;
	n = 0;
	rc = 0;
out:
	while (n > 0)
		free(v[--n]);
	free(v);
	free(copy);
	return rc;
}

static void
conf_strv_free(char **v, size_t n)
{
	while (n > 0)
		free(v[--n]);
	free(v);
}

static int
conf_set_string(char **dst, const char *value, int may_be_empty)
{
	char *s;

	if (*value == '\0' && may_be_empty) {
		free(*dst);
		*dst = NULL;
		return 0;
	}
	if ((s = strdup(value)) == NULL)
		return -1;
	free(*dst);
	*dst = s;
	return 0;
}

/* Returns NULL when value is acceptable for kind, else why not. */
static const char *
conf_check(enum conf_kind kind, const char *value)
{
	unsigned long long	 n;
	unsigned		 secs;

	switch (kind) {
	case CK_STRING:
		return *value == '\0' ? "must not be empty" : NULL;
	case CK_OPTSTRING:
	case CK_HOSTS:
		return NULL;
	case CK_SIZE:
		return conf_number(value, 1ULL << 31, &n) ?
		    "must be a number of bytes between 1 and 2147483648" : NULL;
	case CK_UINT:
		return conf_number(value, 100000, &n) ?
		    "must be a whole number between 1 and 100000" : NULL;
	case CK_SECONDS:
		return conf_duration(value, &secs) || secs == 0 ?
		    "must be a duration such as 30, 30s, 5m or 2h" : NULL;
	case CK_BOOL:
		return strcmp(value, "yes") && strcmp(value, "no") &&
		    strcmp(value, "true") && strcmp(value, "false") &&
		    strcmp(value, "1") && strcmp(value, "0") ?
		    "must be yes or no" : NULL;
	case CK_URL:
		if (*value == '\0')
			return NULL;
		if (strncmp(value, "http://", 7) &&
		    strncmp(value, "https://", 8))
			return "must be an http:// or https:// URL";
		if (strchr(value, ' ') != NULL)
			return "must not contain spaces";
		if (strstr(value, "://")[3] == '\0' ||
		    strstr(value, "://")[3] == '/')
			return "must name a host";
		return NULL;
	case CK_RETRY:
		return NULL;	/* checked when split */
	case CK_SIGVER:
		return strcmp(value, "1") && strcmp(value, "4") ?
		    "must be 1 or 4" : NULL;
	case CK__MAX:
		break;
	}
	return "internal error";
}

static int
conf_bool(const char *v)
{
	return !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1");
}

/* The names of "analysis = OA, Ballooning": each once, no blanks inside. */
static int
conf_engine_analyses(struct conf_parse *cp, struct conf_engine *ce,
    const char *section, const char *value)
{
	char	**v;
	size_t	  vn, i, j;

	if (conf_split(value, &v, &vn))
		return 0;
	for (i = 0; i < vn; i++) {
		for (j = 0; v[i][j] != '\0'; j++)
			if ((unsigned char)v[i][j] <= ' ' || v[i][j] == 0x7f)
				break;
		if (v[i][j] != '\0' || j > 64) {
			conf_error(cp, "[%s] analysis: '%s' is not a name (no "
			    "blanks or control characters, at most 64 "
			    "bytes)", section, v[i]);
			goto bad;
		}
		for (j = 0; j < i; j++)
			if (strcmp(v[i], v[j]) == 0) {
				conf_error(cp, "[%s] analysis: %s is listed "
				    "twice", section, v[i]);
				goto bad;
			}
	}
	if (vn == 0) {
		conf_error(cp, "[%s] analysis must name at least one "
		    "analysis", section);
		goto bad;
	}
	conf_strv_free(ce->ce_analyses, ce->ce_analyses_n);
	ce->ce_analyses = v;
	ce->ce_analyses_n = vn;
	return conf_set_string(&ce->ce_analysis, v[0], 0) == 0;
bad:
	conf_strv_free(v, vn);
	return 0;
}

static int
conf_engine_key(struct conf_parse *cp, struct conf_engine *ce, int slot,
    const char *section, const char *name, const char *value)
{
	enum conf_kind	 kind;
	const char	*why;

	if (!strcmp(name, "url"))
		kind = CK_URL;
	else if (!strcmp(name, "command") || !strcmp(name, "namespace") ||
	    !strcmp(name, "token"))
		kind = CK_OPTSTRING;
	else if (!strcmp(name, "analysis"))
		kind = CK_STRING;
	else if (!strcmp(name, "timeout"))
		kind = CK_SECONDS;
	else if (!strcmp(name, "concurrency"))
		kind = CK_UINT;
	else if (!strcmp(name, "studyType") && slot > CONF_STUDY_TYPES)
		kind = CK_STRING;
	else {
		conf_error(cp, "unknown key '%s' in an [engine.N] section%s",
		    name, !strcmp(name, "studyType") ? " (studyType is for "
		    "[engine.NAME] sections)" : "");
		return 0;
	}
	if ((why = conf_check(kind, value)) != NULL) {
		conf_error(cp, "%s %s", name, why);
		return 0;
	}
	ce->ce_configured = 1;
	if (!strcmp(name, "url"))
		return conf_set_string(&ce->ce_url, value, 1) == 0;
	if (!strcmp(name, "command"))
		return conf_set_string(&ce->ce_command, value, 1) == 0;
	if (!strcmp(name, "namespace"))
		return conf_set_string(&ce->ce_namespace, value, 1) == 0;
	if (!strcmp(name, "token"))
		return conf_set_string(&ce->ce_token, value, 1) == 0;
	if (!strcmp(name, "analysis")) {
		cp->cp_analysis_line[slot - 1] = cp->cp_line;
		return conf_engine_analyses(cp, ce, section, value);
	}
	if (!strcmp(name, "studyType")) {
		if (value[0] < '1' || value[0] > '0' + CONF_STUDY_TYPES ||
		    value[1] != '\0') {
			conf_error(cp, "[%s] studyType must be 1, 2, 3 or 4",
			    section);
			return 0;
		}
		ce->ce_type = value[0] - '0';
		cp->cp_type_line[slot - 1] = cp->cp_line;
		return 1;
	}
	if (!strcmp(name, "timeout"))
		return conf_duration(value, &ce->ce_timeout) == 0;
	ce->ce_concurrency = (unsigned)strtoul(value, NULL, 10);
	return 1;
}

/*
 * The slot of section [engine.X]: N for [engine.N], the slot a named
 * section was given when it began (the next free one from
 * CONF_STUDY_TYPES + 1), 0 and an error for a bad name or too many.
 * Named sections move to slot N at the end (conf_finish) when they say
 * studyType = N and no [engine.N] exists.
 */
static int
conf_engine_slot(struct conf_parse *cp, const char *section)
{
	struct mias_conf	*c = cp->cp_conf;
	const char		*p = section + 7, *q;
	int			 i, digits = 1;

	if (p[0] >= '1' && p[0] <= '0' + CONF_STUDY_TYPES && p[1] == '\0')
		return p[0] - '0';
	for (q = p; *q != '\0'; q++) {
		if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
		    (*q >= '0' && *q <= '9') || *q == '-' || *q == '_'))
			break;
		digits = digits && *q >= '0' && *q <= '9';
	}
	if (*p != '\0' && *q == '\0' && digits) {
		conf_error(cp, "unknown section [%s]: studyType sections are "
		    "[engine.1] to [engine.%d]", section, CONF_STUDY_TYPES);
		return 0;
	}
	if (*p == '\0' || *q != '\0' || q - p > CONF_ENGINE_NAME_MAX) {
		conf_error(cp, "unknown section [%s]: a named engine section "
		    "is [engine.NAME], NAME of letters, digits, '-' and '_', "
		    "at most %d", section, CONF_ENGINE_NAME_MAX);
		return 0;
	}
	for (i = CONF_STUDY_TYPES; i < CONF_ENGINES; i++)
		if (strcmp(c->c_engine[i].ce_name, p) == 0)
			return i + 1;
	for (i = CONF_STUDY_TYPES; i < CONF_ENGINES; i++)
		if (c->c_engine[i].ce_name[0] == '\0') {
			snprintf(c->c_engine[i].ce_name,
			    sizeof(c->c_engine[i].ce_name), "%s", p);
			return i + 1;
		}
	conf_error(cp, "[%s]: more than %d named engine sections", section,
	    CONF_ENGINES - CONF_STUDY_TYPES);
	return 0;
}

/* 1 (and an error) when [section] name was set before. */
static int
conf_seen(struct conf_parse *cp, const char *section, const char *name)
{
	char	*id;
	size_t	 i;

	if (asprintf(&id, "%s\n%s", section, name) == -1)
		return 1;
	for (i = 0; i < cp->cp_keys_n; i++)
		if (strcmp(cp->cp_keys[i], id) == 0) {
			free(id);
			conf_error(cp, "[%s] %s is set twice (an indented line "
			    "continues the previous value: join it into one "
			    "line)", section, name);
			return 1;
		}
	return conf_strv_add(&cp->cp_keys, &cp->cp_keys_n, id) == -1;
}

/* Keys removed from this release: none yet.  Add { "section", "key",
 * "RELEASE" } when a release stops reading a key; remove the entry the
 * release after. */
static const struct conf_removed conf_removed_none[] = {
	{ NULL, NULL, NULL }
};
const struct conf_removed *conf_removed_keys = conf_removed_none;

const char *
conf_warning(const struct mias_conf *c, size_t i)
{
	return i < c->c_warn_n ? c->c_warn[i] : NULL;
}

/* 1 (and a warning) when [section] name is a key of an earlier release;
 * 0 when it is not, or no memory was left for the warning (an error). */
static int
conf_removed_key(struct conf_parse *cp, const char *section, const char *name)
{
	const struct conf_removed	*r;
	struct mias_conf		*c = cp->cp_conf;
	char				*w;

	for (r = conf_removed_keys; r != NULL && r->cr_name != NULL; r++) {
		if (strcmp(r->cr_name, name) != 0)
			continue;
		if (strcmp(r->cr_section, section) == 0 ||
		    (strcmp(r->cr_section, "engine") == 0 &&
		    strncmp(section, "engine.", 7) == 0))
			break;
	}
	if (r == NULL || r->cr_name == NULL)
		return 0;
	if (asprintf(&w, "%s:%d: [%s] %s is no longer used (since mias %s); "
	    "remove it", c->c_path, cp->cp_line, section, name,
	    r->cr_release) == -1)
		return 0;
	return conf_strv_add(&c->c_warn, &c->c_warn_n, w) == 0;
}

static int
conf_handler(void *arg, const char *section, const char *name,
    const char *value)
{
	struct conf_parse	*cp = arg;
	struct mias_conf	*c = cp->cp_conf;
	const char		*why;
	unsigned long long	 n;

	/*
	 * inih hands an indented line to us again as more of the previous
	 * key: refuse it, and any key given twice, rather than silently
	 * keep only one of the values.
	 */
	if (conf_seen(cp, section, name))
		return 0;
	if (conf_removed_key(cp, section, name))
		return 1;

#define KEY(s, k)	(!strcmp(section, (s)) && !strcmp(name, (k)))
#define CHECK(kind)	do {						\
		if ((why = conf_check((kind), value)) != NULL) {	\
			conf_error(cp, "[%s] %s %s", section, name, why); \
			return 0;					\
		}							\
	} while (0)

	if (KEY("server", "state_dir")) {
		CHECK(CK_STRING);
		cp->cp_seen_state_dir = 1;
		return conf_set_string(&c->c_state_dir, value, 0) == 0;
	}
	if (KEY("server", "key_file")) {
		CHECK(CK_STRING);
		cp->cp_seen_key_file = 1;
		return conf_set_string(&c->c_key_file, value, 0) == 0;
	}
	if (KEY("metrics", "token_file")) {
		CHECK(CK_OPTSTRING);
		return conf_set_string(&c->c_metrics_token_file, value, 1) == 0;
	}
	if (KEY("server", "public_url")) {
		CHECK(CK_URL);
		if (conf_set_string(&c->c_public_url, value, 1))
			return 0;
		/* one slash between base and path, whatever was written */
		if (c->c_public_url != NULL) {
			size_t l = strlen(c->c_public_url);
			while (l > 0 && c->c_public_url[l - 1] == '/')
				c->c_public_url[--l] = '\0';
		}
		return 1;
	}
	if (KEY("server", "max_body_bytes")) {
		CHECK(CK_SIZE);
		conf_number(value, 1ULL << 31, &n);
		c->c_max_body_bytes = (size_t)n;
		return 1;
	}
	if (KEY("dispatcher", "concurrency")) {
		CHECK(CK_UINT);
		c->c_concurrency = (unsigned)strtoul(value, NULL, 10);
		return 1;
	}
	if (KEY("dispatcher", "callback_timeout")) {
		CHECK(CK_SECONDS);
		return conf_duration(value, &c->c_callback_timeout) == 0;
	}
	if (KEY("dispatcher", "retry_schedule")) {
		char	**v;
		size_t	  vn, i;

		if (conf_split(value, &v, &vn))
			return 0;
		if (vn > CONF_RETRY_MAX) {
			conf_strv_free(v, vn);
			conf_error(cp, "[dispatcher] retry_schedule has more "
			    "than %d steps", CONF_RETRY_MAX);
			return 0;
		}
		for (i = 0; i < vn; i++)
			if (conf_duration(v[i], &c->c_retry[i])) {
				conf_error(cp, "[dispatcher] retry_schedule: "
				    "'%s' is not a duration such as 5s, 5m "
				    "or 2h", v[i]);
				conf_strv_free(v, vn);
				return 0;
			}
		c->c_retry_n = vn;
		conf_strv_free(v, vn);
		return 1;
	}
	if (KEY("egress", "allow_private")) {
		CHECK(CK_BOOL);
		c->c_egress.ep_allow_private = conf_bool(value);
		return 1;
	}
	if (KEY("egress", "allow_hosts")) {
		conf_strv_free(c->c_egress.ep_allow_hosts,
		    c->c_egress.ep_allow_hosts_n);
		c->c_egress.ep_allow_hosts = NULL;
		c->c_egress.ep_allow_hosts_n = 0;
		return conf_split(value, &c->c_egress.ep_allow_hosts,
		    &c->c_egress.ep_allow_hosts_n) == 0;
	}
	if (KEY("oss", "signature_version")) {
		CHECK(CK_SIGVER);
		c->c_oss_sigver = atoi(value);
		return 1;
	}
	if (KEY("limits", "queued_studies") ||
	    KEY("limits", "requests_per_second") ||
	    KEY("limits", "auth_failures_per_minute")) {
		CHECK(CK_UINT);
		n = strtoul(value, NULL, 10);
		if (!strcmp(name, "queued_studies"))
			c->c_limit_queued = (unsigned)n;
		else if (!strcmp(name, "requests_per_second"))
			c->c_limit_rps = (unsigned)n;
		else
			c->c_limit_authfail = (unsigned)n;
		return 1;
	}
	if (KEY("retention", "finished_studies")) {
		unsigned secs;

		if (strcmp(value, "never") == 0) {
			c->c_retention_finished = 0;
			return 1;
		}
		if (conf_duration(value, &secs) || secs == 0) {
			conf_error(cp, "[retention] finished_studies must be a "
			    "duration such as 90s, 12h or 365d, or never");
			return 0;
		}
		c->c_retention_finished = secs;
		return 1;
	}
	if (!strcmp(section, "replication")) {
		if ((why = repl_conf_key(&c->c_repl, name, value)) == NULL)
			return 1;
		if (!strcmp(why, "is not a key of this section"))
			conf_error(cp, "unknown key '%s' in section "
			    "[replication]", name);
		else
			conf_error(cp, "[replication] %s %s", name, why);
		return 0;
	}
	if (!strncmp(section, "engine.", 7)) {
		int slot;

		if ((slot = conf_engine_slot(cp, section)) == 0)
			return 0;
		if (cp->cp_engine_line[slot - 1] == 0)
			cp->cp_engine_line[slot - 1] = cp->cp_line;
		return conf_engine_key(cp, &c->c_engine[slot - 1], slot,
		    section, name, value);
	}
	if (strcmp(section, "server") && strcmp(section, "dispatcher") &&
	    strcmp(section, "egress") && strcmp(section, "oss") &&
	    strcmp(section, "limits") && strcmp(section, "retention") &&
	    strcmp(section, "metrics"))
		conf_error(cp, "unknown section [%s]", section);
	else
		conf_error(cp, "unknown key '%s' in section [%s]", name,
		    section);
	return 0;
#undef KEY
#undef CHECK
}

static char *
conf_reader(char *str, int num, void *arg)
{
	struct conf_parse *cp = arg;
	char *s;

	size_t len;

	if ((s = fgets(str, num, cp->cp_fp)) == NULL)
		return NULL;
	cp->cp_line++;
	len = strlen(s);
	/* inih's line buffer is fixed; a longer line would come back cut
	 * in pieces, each read as a line of its own */
	if (len > 0 && s[len - 1] != '\n' && !feof(cp->cp_fp)) {
		conf_error(cp, "line longer than %d characters", num - 2);
		return NULL;
	}
	return s;
}

static void
conf_defaults(struct mias_conf *c)
{
	static const unsigned retry[] =
	    { 5, 300, 1800, 7200, 18000, 36000, 36000 };
	size_t i;

	c->c_max_body_bytes = 1048576;
	c->c_concurrency = 64;
	c->c_callback_timeout = 10;
	for (i = 0; i < sizeof(retry) / sizeof(retry[0]); i++)
		c->c_retry[i] = retry[i];
	c->c_retry_n = i;
	c->c_oss_sigver = 4;
	c->c_limit_queued = 10000;
	c->c_limit_rps = 200;
	c->c_limit_authfail = 30;
	c->c_retention_finished = 365 * 86400;
	repl_conf_defaults(&c->c_repl);
	for (i = 0; i < CONF_ENGINES; i++) {
		c->c_engine[i].ce_timeout = 600;
		c->c_engine[i].ce_concurrency = 8;
		if (i < CONF_STUDY_TYPES) {
			snprintf(c->c_engine[i].ce_name,
			    sizeof(c->c_engine[i].ce_name), "%zu", i + 1);
			c->c_engine[i].ce_type = (int)i + 1;
		}
	}
}

/*
 * Named sections that say studyType = N take slot N when no [engine.N]
 * exists (two that both could: an error); the others keep theirs and serve
 * triggers only, with findings of their studyType (4, boxes, when they say
 * none).
 */
static int
conf_place_named(struct conf_parse *cp)
{
	struct mias_conf	*c = cp->cp_conf;
	struct conf_engine	*ce, *to;
	size_t			 i;
	int			 n;

	for (i = CONF_STUDY_TYPES; i < CONF_ENGINES; i++) {
		ce = &c->c_engine[i];
		if (!ce->ce_configured)
			continue;
		if (ce->ce_type == 0) {
			ce->ce_type = CONF_STUDY_TYPES;
			continue;
		}
		n = ce->ce_type;
		to = &c->c_engine[n - 1];
		if (to->ce_configured && cp->cp_engine_line[n - 1] != 0 &&
		    cp->cp_type_line[n - 1] != 0) {
			snprintf(cp->cp_err, cp->cp_errlen, "%s:%d: [engine.%s] "
			    "and [engine.%s] both say studyType = %d and there "
			    "is no [engine.%d]: one of them must serve it",
			    c->c_path, cp->cp_type_line[i], to->ce_name,
			    ce->ce_name, n, n);
			return -1;
		}
		if (to->ce_configured)
			continue;	/* [engine.N] serves the studies */
		/* the slot's defaults go where the section was */
		*to = *ce;
		memset(ce, 0, sizeof(*ce));
		ce->ce_timeout = 600;
		ce->ce_concurrency = 8;
		cp->cp_engine_line[n - 1] = cp->cp_engine_line[i];
		cp->cp_analysis_line[n - 1] = cp->cp_analysis_line[i];
		cp->cp_type_line[n - 1] = cp->cp_type_line[i];
		cp->cp_engine_line[i] = cp->cp_analysis_line[i] =
		    cp->cp_type_line[i] = 0;
	}
	return 0;
}

/*
 * An analysis name belongs to one section.  Configurations written before
 * named sections existed may list one name in several [engine.N] sections
 * (a trigger then went, and goes, to the lowest N): between two of those
 * it is still accepted, so that they keep working unchanged.
 */
static int
conf_unique_analyses(struct conf_parse *cp)
{
	struct mias_conf	*c = cp->cp_conf;
	const struct conf_engine *a, *b;
	size_t			 i, j, k, l;
	int			 line;

	for (i = 0; i < CONF_ENGINES; i++) {
		a = &c->c_engine[i];
		for (j = i + 1; a->ce_configured && j < CONF_ENGINES; j++) {
			b = &c->c_engine[j];
			if (!b->ce_configured)
				continue;
			if (i < CONF_STUDY_TYPES && j < CONF_STUDY_TYPES &&
			    cp->cp_type_line[i] == 0 &&
			    cp->cp_type_line[j] == 0)
				continue;	/* two [engine.N]: as before */
			for (k = 0; k < a->ce_analyses_n; k++)
				for (l = 0; l < b->ce_analyses_n; l++) {
					if (strcmp(a->ce_analyses[k],
					    b->ce_analyses[l]) != 0)
						continue;
					line = cp->cp_analysis_line[i] >
					    cp->cp_analysis_line[j] ?
					    cp->cp_analysis_line[i] :
					    cp->cp_analysis_line[j];
					snprintf(cp->cp_err, cp->cp_errlen,
					    "%s:%d: analysis %s is listed by "
					    "[engine.%s] and [engine.%s]: an "
					    "analysis belongs to one section",
					    c->c_path, line, a->ce_analyses[k],
					    a->ce_name, b->ce_name);
					return -1;
				}
		}
	}
	return 0;
}

static int
conf_finish(struct conf_parse *cp)
{
	struct mias_conf	*c = cp->cp_conf;
	const char		*why;
	size_t			 i;

	if (!cp->cp_seen_state_dir) {
		snprintf(cp->cp_err, cp->cp_errlen, "%s: missing required "
		    "key [server] state_dir", c->c_path);
		return -1;
	}
	if (!cp->cp_seen_key_file) {
		snprintf(cp->cp_err, cp->cp_errlen, "%s: missing required "
		    "key [server] key_file", c->c_path);
		return -1;
	}
	if ((why = repl_conf_finish(&c->c_repl)) != NULL) {
		snprintf(cp->cp_err, cp->cp_errlen, "%s: %s", c->c_path, why);
		return -1;
	}
	if (c->c_repl.rc_on && c->c_repl.rc_internal_url == NULL &&
	    c->c_public_url != NULL &&
	    (c->c_repl.rc_internal_url = strdup(c->c_public_url)) == NULL) {
		snprintf(cp->cp_err, cp->cp_errlen, "out of memory");
		return -1;
	}
	if (conf_place_named(cp) == -1)
		return -1;
	for (i = 0; i < CONF_ENGINES; i++) {
		struct conf_engine *ce = &c->c_engine[i];

		if (!ce->ce_configured)
			continue;
		if ((ce->ce_url == NULL) == (ce->ce_command == NULL)) {
			snprintf(cp->cp_err, cp->cp_errlen, "%s:%d: "
			    "[engine.%s] needs exactly one of url and "
			    "command", c->c_path, cp->cp_engine_line[i],
			    ce->ce_name);
			return -1;
		}
		if (ce->ce_analysis == NULL) {
			snprintf(cp->cp_err, cp->cp_errlen, "%s:%d: missing "
			    "required key [engine.%s] analysis",
			    c->c_path, cp->cp_engine_line[i], ce->ce_name);
			return -1;
		}
		if (ce->ce_url != NULL && c->c_public_url == NULL) {
			snprintf(cp->cp_err, cp->cp_errlen, "%s:%d: "
			    "[engine.%s] is a remote engine, which needs "
			    "[server] public_url for its result callbacks",
			    c->c_path, cp->cp_engine_line[i], ce->ce_name);
			return -1;
		}
	}
	return conf_unique_analyses(cp);
}

int
conf_engine_for_analysis(const struct mias_conf *c, const char *analysis)
{
	size_t i, j;

	for (i = 0; i < CONF_ENGINES; i++)
		for (j = 0; c->c_engine[i].ce_configured &&
		    j < c->c_engine[i].ce_analyses_n; j++)
			if (strcmp(c->c_engine[i].ce_analyses[j],
			    analysis) == 0)
				return (int)i + 1;
	return 0;
}

int
conf_engine_by_name(const struct mias_conf *c, const char *name)
{
	size_t i;

	for (i = 0; i < CONF_ENGINES; i++)
		if (c->c_engine[i].ce_configured &&
		    strcmp(c->c_engine[i].ce_name, name) == 0)
			return (int)i + 1;
	return 0;
}

int
conf_engine_of(const struct mias_conf *c, int type, const char *engine)
{
	if (engine != NULL)
		return conf_engine_by_name(c, engine);
	if (type < 1 || type > CONF_STUDY_TYPES ||
	    !c->c_engine[type - 1].ce_configured)
		return 0;
	return type;
}

struct mias_conf *
conf_load(const char *path, char *err, size_t errlen)
{
	struct conf_parse	 cp;
	struct mias_conf	*c;
	int			 rc;

	memset(&cp, 0, sizeof(cp));
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->c_path = strdup(path)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		free(c);
		return NULL;
	}
	conf_defaults(c);
	cp.cp_conf = c;
	cp.cp_err = err;
	cp.cp_errlen = errlen;
	if ((cp.cp_fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	rc = ini_parse_stream(conf_reader, &cp, conf_handler, &cp);
	fclose(cp.cp_fp);
	while (cp.cp_keys_n > 0)
		free(cp.cp_keys[--cp.cp_keys_n]);
	free(cp.cp_keys);
	if (rc != 0 && cp.cp_err_line == 0) {
		/* a syntax error inih found itself, or a handler OOM */
		snprintf(err, errlen, "%s:%d: %s", path, rc > 0 ? rc : 0,
		    rc > 0 ? "syntax error (expected [section] or "
		    "key = value)" : "cannot read the file");
		goto fail;
	}
	if (rc != 0 || cp.cp_err_line != 0 || conf_finish(&cp) != 0)
		goto fail;
	return c;
fail:
	conf_free(c);
	return NULL;
}

void
conf_free(struct mias_conf *c)
{
	size_t i;

	if (c == NULL)
		return;
	free(c->c_path);
	free(c->c_state_dir);
	free(c->c_key_file);
	free(c->c_metrics_token_file);
	repl_conf_free(&c->c_repl);
	free(c->c_public_url);
	for (i = 0; i < c->c_warn_n; i++)
		free(c->c_warn[i]);
	free(c->c_warn);
	conf_strv_free(c->c_egress.ep_allow_hosts, c->c_egress.ep_allow_hosts_n);
	for (i = 0; i < CONF_ENGINES; i++) {
		struct conf_engine *ce = &c->c_engine[i];

		free(ce->ce_url);
		free(ce->ce_command);
		free(ce->ce_analysis);
		conf_strv_free(ce->ce_analyses, ce->ce_analyses_n);
		free(ce->ce_namespace);
		if (ce->ce_token != NULL) {
			explicit_bzero(ce->ce_token, strlen(ce->ce_token));
			free(ce->ce_token);
		}
	}
	free(c);
}
