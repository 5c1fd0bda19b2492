/* t_conf.c -- conf_load() on files in a temporary directory; conf_duration() */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "tap.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static char	tmpdir[512];
static char	path[600];
static int	nfiles;

/* The sample of CONTRACT.md, byte for byte (its comments included). */
static const char sample[] =
"[server]\n"
"state_dir = /var/lib/mias              ; the Berkeley DB environment (created if missing)\n"
"key_file = /etc/mias/master.key        ; 32 random bytes; seals stored credentials, signs callbacks\n"
"public_url = https://gw.example.org    ; base that engines and callers reach this gateway at\n"
"max_body_bytes = 1048576\n"
"\n"
"[dispatcher]\n"
"concurrency = 64                       ; outbound HTTP transfers in flight\n"
"callback_timeout = 10                  ; seconds\n"
"retry_schedule = 5s,5m,30m,2h,5h,10h,10h   ; after the first try; then dead letter\n"
"\n"
"[egress]                               ; targets that callers choose: callback URLs, OSS endpoints\n"
"allow_private = no                     ; refuse loopback/private/link-local/metadata addresses\n"
"allow_hosts =                          ; hosts always allowed, comma-separated (e.g. 127.0.0.1 for tests)\n"
"\n"
"[oss]\n"
"signature_version = 4                  ; 1 (HMAC-SHA1) or 4 (OSS4-HMAC-SHA256; region from the endpoint)\n"
"\n"
"[engine.4]                             ; one section per studyType\n"
"url = http://10.0.0.5:9000/api/trigger ; a remote engine speaking the algorithm protocol, or\n"
"command =                              ; a local program run per image (see below)\n"
"analysis = OA\n"
"timeout = 600                          ; seconds for one image's result\n"
"concurrency = 8\n"
"namespace =                            ; optional: sent as the `namespace` header (and body field)\n"
"token =                                ; optional: sent as the `tokenId` header, e.g. when the\n"
"                                       ; engine is another mias's triggerAnalysis\n";

/* The two required keys, for tests about something else. */
#define REQ	"[server]\nstate_dir = /s\nkey_file = /k\n"

/* Write text to a fresh file in tmpdir; its name is left in path. */
static const char *
write_conf(const char *text)
{
	FILE *fp;

	snprintf(path, sizeof(path), "%s/c%d.conf", tmpdir, ++nfiles);
	if ((fp = fopen(path, "w")) == NULL) {
		printf("Bail out! cannot write %s: %s\n", path,
		    strerror(errno));
		exit(1);
	}
	fputs(text, fp);
	fclose(fp);
	return path;
}

/* Load text; the error (or "") is left in err. */
static struct mias_conf *
load(const char *text, char *err, size_t errlen)
{
	err[0] = '\0';
	return conf_load(write_conf(text), err, errlen);
}

/*
 * text must be refused with exactly "<path>:<line>: <msg>", or with
 * "<path>: <msg>" when line is 0.
 */
static void
refused(const char *name, const char *text, int line, const char *msg)
{
	struct mias_conf	*c;
	char			 err[512], want[1024];

	c = load(text, err, sizeof(err));
	tap_ok(c == NULL, "%s: refused", name);
	conf_free(c);
	if (line > 0)
		snprintf(want, sizeof(want), "%s:%d: %s", path, line, msg);
	else
		snprintf(want, sizeof(want), "%s: %s", path, msg);
	TAP_STREQ(err, want, name);
}

static void
test_sample(void)
{
	struct mias_conf	*c;
	char			 err[512];
	size_t			 i;
	static const unsigned	 retry[] =
	    { 5, 300, 1800, 7200, 18000, 36000, 36000 };

	c = load(sample, err, sizeof(err));
	tap_ok(c != NULL, "sample: the CONTRACT.md sample loads");
	if (c == NULL) {
		printf("#   error: %s\n", err);
		return;
	}
	TAP_STREQ(c->c_path, path, "sample: c_path is the file read");
	TAP_STREQ(c->c_state_dir, "/var/lib/mias",
	    "sample: state_dir, inline comment stripped");
	TAP_STREQ(c->c_key_file, "/etc/mias/master.key", "sample: key_file");
	TAP_STREQ(c->c_public_url, "https://gw.example.org",
	    "sample: public_url");
	tap_ok(c->c_max_body_bytes == 1048576, "sample: max_body_bytes");
	tap_ok(c->c_concurrency == 64, "sample: [dispatcher] concurrency");
	tap_ok(c->c_callback_timeout == 10, "sample: callback_timeout");
	tap_ok(c->c_retry_n == 7, "sample: retry_schedule has 7 steps (%zu)",
	    c->c_retry_n);
	for (i = 0; i < NELEM(retry); i++)
		tap_ok(c->c_retry[i] == retry[i],
		    "sample: retry step %zu is %u (%u)", i, retry[i],
		    c->c_retry[i]);
	tap_ok(c->c_egress.ep_allow_private == 0, "sample: allow_private no");
	tap_ok(c->c_egress.ep_allow_hosts_n == 0,
	    "sample: allow_hosts empty (comment is not a host)");
	tap_ok(c->c_oss_sigver == 4, "sample: signature_version 4");
	for (i = 0; i < 3; i++)
		tap_ok(!c->c_engine[i].ce_configured,
		    "sample: [engine.%zu] not configured", i + 1);
	tap_ok(c->c_engine[3].ce_configured, "sample: [engine.4] configured");
	TAP_STREQ(c->c_engine[3].ce_url, "http://10.0.0.5:9000/api/trigger",
	    "sample: engine.4 url");
	tap_ok(c->c_engine[3].ce_command == NULL,
	    "sample: engine.4 empty command is NULL");
	TAP_STREQ(c->c_engine[3].ce_analysis, "OA", "sample: engine.4 analysis");
	tap_ok(c->c_engine[3].ce_timeout == 600, "sample: engine.4 timeout");
	tap_ok(c->c_engine[3].ce_concurrency == 8,
	    "sample: engine.4 concurrency");
	tap_ok(c->c_engine[3].ce_namespace == NULL,
	    "sample: engine.4 empty namespace is NULL");
	tap_ok(c->c_engine[3].ce_token == NULL,
	    "sample: engine.4 empty token is NULL");
	conf_free(c);
}

static void
test_defaults(void)
{
	struct mias_conf	*c;
	char			 err[512];
	size_t			 i;
	static const unsigned	 retry[] =
	    { 5, 300, 1800, 7200, 18000, 36000, 36000 };
	int			 ok;

	c = load(REQ, err, sizeof(err));
	tap_ok(c != NULL, "defaults: state_dir and key_file alone load");
	if (c == NULL) {
		printf("#   error: %s\n", err);
		return;
	}
	TAP_STREQ(c->c_state_dir, "/s", "defaults: state_dir");
	TAP_STREQ(c->c_key_file, "/k", "defaults: key_file");
	tap_ok(c->c_public_url == NULL, "defaults: public_url NULL");
	tap_ok(c->c_max_body_bytes == 1048576,
	    "defaults: max_body_bytes 1048576");
	tap_ok(c->c_concurrency == 64, "defaults: concurrency 64");
	tap_ok(c->c_callback_timeout == 10, "defaults: callback_timeout 10");
	ok = c->c_retry_n == NELEM(retry);
	for (i = 0; ok && i < NELEM(retry); i++)
		ok = c->c_retry[i] == retry[i];
	tap_ok(ok, "defaults: retry schedule 5,300,1800,7200,18000,36000,"
	    "36000");
	tap_ok(c->c_egress.ep_allow_private == 0 &&
	    c->c_egress.ep_allow_hosts_n == 0 &&
	    c->c_egress.ep_allow_hosts == NULL,
	    "defaults: egress refuses private, no allowed hosts");
	tap_ok(c->c_oss_sigver == 4, "defaults: signature_version 4");
	for (ok = 1, i = 0; i < CONF_STUDY_TYPES; i++)
		ok = ok && !c->c_engine[i].ce_configured &&
		    c->c_engine[i].ce_timeout == 600 &&
		    c->c_engine[i].ce_concurrency == 8;
	tap_ok(ok, "defaults: no engine configured, timeout 600, "
	    "concurrency 8");
	conf_free(c);
}

static void
test_values(void)
{
	struct mias_conf	*c;
	char			 err[512];

	c = load(
	    "# hash comments too\n"
	    "[server]\n"
	    "state_dir = /srv/mias/state\n"
	    "key_file=/srv/mias/key\n"
	    "public_url = https://gw.example.org/base///\n"
	    "max_body_bytes = 2048\n"
	    "[dispatcher]\n"
	    "concurrency = 3\n"
	    "callback_timeout = 2m\n"
	    "retry_schedule = 1s, 2m ,, 3h,4\n"
	    "[egress]\n"
	    "allow_private = yes\n"
	    "allow_hosts =  oss.internal.example , 127.0.0.1,,OSS2.Example  \n"
	    "[oss]\n"
	    "signature_version = 1\n"
	    "[engine.1]\n"
	    "command = /usr/bin/nodule {input}\n"
	    "analysis = LN\n"
	    "timeout = 1h\n"
	    "concurrency = 2\n"
	    "namespace = upstream\n"
	    "token = s3cret\n"
	    "[engine.2]\n"
	    "url = https://engine.example/trigger\n"
	    "analysis = CXR\n",
	    err, sizeof(err));
	tap_ok(c != NULL, "values: a file with every key loads");
	if (c == NULL) {
		printf("#   error: %s\n", err);
		return;
	}
	TAP_STREQ(c->c_state_dir, "/srv/mias/state", "values: state_dir");
	TAP_STREQ(c->c_key_file, "/srv/mias/key",
	    "values: key_file without spaces around '='");
	TAP_STREQ(c->c_public_url, "https://gw.example.org/base",
	    "values: public_url trailing slashes stripped");
	tap_ok(c->c_max_body_bytes == 2048, "values: max_body_bytes 2048");
	tap_ok(c->c_concurrency == 3, "values: concurrency 3");
	tap_ok(c->c_callback_timeout == 120, "values: callback_timeout 2m "
	    "is 120 (%u)", c->c_callback_timeout);
	tap_ok(c->c_retry_n == 4 && c->c_retry[0] == 1 &&
	    c->c_retry[1] == 120 && c->c_retry[2] == 10800 &&
	    c->c_retry[3] == 4,
	    "values: retry_schedule '1s, 2m ,, 3h,4' is 1,120,10800,4");
	tap_ok(c->c_egress.ep_allow_private == 1, "values: allow_private yes");
	tap_ok(c->c_egress.ep_allow_hosts_n == 3,
	    "values: allow_hosts has 3 entries (%zu)",
	    c->c_egress.ep_allow_hosts_n);
	if (c->c_egress.ep_allow_hosts_n == 3) {
		TAP_STREQ(c->c_egress.ep_allow_hosts[0], "oss.internal.example",
		    "values: allow_hosts[0] trimmed");
		TAP_STREQ(c->c_egress.ep_allow_hosts[1], "127.0.0.1",
		    "values: allow_hosts[1] trimmed");
		TAP_STREQ(c->c_egress.ep_allow_hosts[2], "OSS2.Example",
		    "values: allow_hosts[2] trimmed, case kept");
	}
	tap_ok(c->c_oss_sigver == 1, "values: signature_version 1");
	tap_ok(c->c_engine[0].ce_configured && c->c_engine[0].ce_url == NULL,
	    "values: engine.1 is a command engine");
	TAP_STREQ(c->c_engine[0].ce_command, "/usr/bin/nodule {input}",
	    "values: engine.1 command");
	TAP_STREQ(c->c_engine[0].ce_analysis, "LN", "values: engine.1 analysis");
	tap_ok(c->c_engine[0].ce_timeout == 3600,
	    "values: engine.1 timeout 1h is 3600");
	tap_ok(c->c_engine[0].ce_concurrency == 2,
	    "values: engine.1 concurrency 2");
	TAP_STREQ(c->c_engine[0].ce_namespace, "upstream",
	    "values: engine.1 namespace");
	TAP_STREQ(c->c_engine[0].ce_token, "s3cret", "values: engine.1 token");
	TAP_STREQ(c->c_engine[1].ce_url, "https://engine.example/trigger",
	    "values: engine.2 url");
	tap_ok(c->c_engine[1].ce_timeout == 600 &&
	    c->c_engine[1].ce_concurrency == 8,
	    "values: engine.2 keeps default timeout and concurrency");
	tap_ok(!c->c_engine[2].ce_configured && !c->c_engine[3].ce_configured,
	    "values: engine.3 and engine.4 not configured");
	conf_free(c);

	c = load(REQ "public_url = http://gw.example.org/\n"
	    "[egress]\nallow_private = false\nallow_hosts = 127.0.0.1\n",
	    err, sizeof(err));
	tap_ok(c != NULL && c->c_public_url != NULL &&
	    strcmp(c->c_public_url, "http://gw.example.org") == 0,
	    "values: one trailing slash of public_url stripped");
	tap_ok(c != NULL && c->c_egress.ep_allow_private == 0 &&
	    c->c_egress.ep_allow_hosts_n == 1 &&
	    strcmp(c->c_egress.ep_allow_hosts[0], "127.0.0.1") == 0,
	    "values: allow_private false, a single allow_hosts entry");
	conf_free(c);

	c = load(REQ "[egress]\nallow_private = 1\n", err, sizeof(err));
	tap_ok(c != NULL && c->c_egress.ep_allow_private == 1,
	    "values: allow_private 1");
	conf_free(c);
	c = load(REQ "[egress]\nallow_private = true\n", err, sizeof(err));
	tap_ok(c != NULL && c->c_egress.ep_allow_private == 1,
	    "values: allow_private true");
	conf_free(c);
	c = load(REQ "[egress]\nallow_private = 0\n", err, sizeof(err));
	tap_ok(c != NULL && c->c_egress.ep_allow_private == 0,
	    "values: allow_private 0");
	conf_free(c);

	/* a command engine needs no public_url */
	c = load(REQ "[engine.3]\ncommand = /bin/true\nanalysis = DR\n",
	    err, sizeof(err));
	tap_ok(c != NULL, "values: command engine without public_url loads");
	conf_free(c);
}

static void
test_errors(void)
{
	struct mias_conf	*c;
	char			 err[512], want[1024];

	/* missing required keys: "FILE: ..." without a line */
	refused("missing state_dir",
	    "[server]\nkey_file = /k\n", 0,
	    "missing required key [server] state_dir");
	refused("missing key_file",
	    "[server]\nstate_dir = /s\n", 0,
	    "missing required key [server] key_file");
	refused("empty file: state_dir reported first", "", 0,
	    "missing required key [server] state_dir");
	refused("empty state_dir",
	    "[server]\n\nstate_dir =\nkey_file = /k\n", 3,
	    "[server] state_dir must not be empty");

	/* unknown keys and sections */
	refused("unknown key in [server]",
	    "; comment\n[server]\nstate_dir = /s\nkey_file = /k\n"
	    "statedir = /x\n", 5,
	    "unknown key 'statedir' in section [server]");
	refused("unknown key in [dispatcher]",
	    REQ "[dispatcher]\nconcurrency = 4\nretries = 3\n", 6,
	    "unknown key 'retries' in section [dispatcher]");
	refused("key in the wrong section",
	    REQ "[egress]\nsignature_version = 4\n", 5,
	    "unknown key 'signature_version' in section [egress]");
	refused("unknown section",
	    REQ "\n[logging]\n; comment\nlevel = debug\n", 7,
	    "unknown section [logging]");
	refused("unknown key in an engine section",
	    REQ "[engine.2]\nanalysis = CXR\nurl = http://e/\nretries = 1\n",
	    7, "unknown key 'retries' in an [engine.N] section");
	refused("[engine.5]",
	    REQ "public_url = https://gw.example.org\n[engine.5]\n"
	    "url = http://10.0.0.5/\nanalysis = OA\n", 6,
	    "unknown section [engine.5]: studyType sections are [engine.1] "
	    "to [engine.4]");
	refused("[engine.0]",
	    REQ "[engine.0]\ncommand = /bin/true\n", 5,
	    "unknown section [engine.0]: studyType sections are [engine.1] "
	    "to [engine.4]");
	refused("[engine.14]",
	    REQ "[engine.14]\ncommand = /bin/true\n", 5,
	    "unknown section [engine.14]: studyType sections are [engine.1] "
	    "to [engine.4]");
	refused("[engine.] without a name",
	    REQ "[engine.]\ncommand = /bin/true\n", 5,
	    "unknown section [engine.]: a named engine section is "
	    "[engine.NAME], NAME of letters, digits, '-' and '_', at most 64");
	refused("[engine.a b]",
	    REQ "[engine.a b]\ncommand = /bin/true\n", 5,
	    "unknown section [engine.a b]: a named engine section is "
	    "[engine.NAME], NAME of letters, digits, '-' and '_', at most 64");
	refused("syntax error",
	    REQ "[dispatcher]\nconcurrency 4\n", 5,
	    "syntax error (expected [section] or key = value)");

	/* bad values, each on a known line */
	refused("max_body_bytes=abc",
	    "[server]\nstate_dir = /s\nmax_body_bytes=abc\nkey_file = /k\n", 3,
	    "[server] max_body_bytes must be a number of bytes between 1 and "
	    "2147483648");
	refused("max_body_bytes=0",
	    REQ "max_body_bytes = 0\n", 4,
	    "[server] max_body_bytes must be a number of bytes between 1 and "
	    "2147483648");
	refused("max_body_bytes=-1",
	    REQ "max_body_bytes = -1\n", 4,
	    "[server] max_body_bytes must be a number of bytes between 1 and "
	    "2147483648");
	refused("max_body_bytes=10k",
	    REQ "max_body_bytes = 10k\n", 4,
	    "[server] max_body_bytes must be a number of bytes between 1 and "
	    "2147483648");
	refused("max_body_bytes too large",
	    REQ "max_body_bytes = 2147483649\n", 4,
	    "[server] max_body_bytes must be a number of bytes between 1 and "
	    "2147483648");
	refused("signature_version=3",
	    REQ "\n\n[oss]\n; v3 does not exist\nsignature_version = 3\n", 8,
	    "[oss] signature_version must be 1 or 4");
	refused("allow_private=maybe",
	    REQ "[egress]\nallow_hosts = a\nallow_private = maybe\n", 6,
	    "[egress] allow_private must be yes or no");
	refused("retry_schedule=5x",
	    REQ "[dispatcher]\nretry_schedule = 5x\n", 5,
	    "[dispatcher] retry_schedule: '5x' is not a duration such as 5s, "
	    "5m or 2h");
	refused("retry_schedule with one bad step",
	    REQ "[dispatcher]\nretry_schedule = 5s, 5m, soon, 2h\n", 5,
	    "[dispatcher] retry_schedule: 'soon' is not a duration such as "
	    "5s, 5m or 2h");
	refused("retry_schedule with 33 steps",
	    REQ "[dispatcher]\nretry_schedule = "
	    "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1"
	    "\n", 5,
	    "[dispatcher] retry_schedule has more than 32 steps");
	refused("callback_timeout=0",
	    REQ "[dispatcher]\ncallback_timeout = 0\n", 5,
	    "[dispatcher] callback_timeout must be a duration such as 30, 30s, "
	    "5m or 2h");
	refused("concurrency=0",
	    REQ "[dispatcher]\nconcurrency = 0\n", 5,
	    "[dispatcher] concurrency must be a whole number between 1 and "
	    "100000");
	refused("public_url=ftp",
	    REQ "public_url = ftp://gw.example.org\n", 4,
	    "[server] public_url must be an http:// or https:// URL");
	refused("engine timeout=soon",
	    REQ "[engine.1]\ncommand = /bin/true\nanalysis = LN\n"
	    "timeout = soon\n", 7,
	    "timeout must be a duration such as 30, 30s, 5m or 2h");
	refused("engine url=ftp",
	    REQ "[engine.1]\nurl = ftp://engine/\n", 5,
	    "url must be an http:// or https:// URL");
	refused("engine empty analysis",
	    REQ "[engine.1]\ncommand = /bin/true\nanalysis =\n", 6,
	    "analysis must not be empty");

	/* the first error is the one reported */
	refused("first of two errors",
	    REQ "[oss]\nsignature_version = 2\n[egress]\nallow_private = x\n",
	    5, "[oss] signature_version must be 1 or 4");

	/* engine sections checked as a whole, after the file is read; the
	 * line named is the section's first key */
	refused("[engine.4] with both url and command",
	    REQ "public_url = https://gw.example.org\n[engine.4]\n"
	    "url = http://10.0.0.5:9000/api/trigger\ncommand = /bin/oa\n"
	    "analysis = OA\n", 6,
	    "[engine.4] needs exactly one of url and command");
	refused("[engine.4] with neither url nor command",
	    REQ "[engine.4]\nurl =\ncommand =\nanalysis = OA\n", 5,
	    "[engine.4] needs exactly one of url and command");
	refused("[engine.2] without analysis",
	    REQ "[engine.2]\ncommand = /bin/cxr\n", 5,
	    "missing required key [engine.2] analysis");
	refused("remote engine without public_url",
	    REQ "[engine.4]\nurl = http://10.0.0.5:9000/api/trigger\n"
	    "analysis = OA\n", 5,
	    "[engine.4] is a remote engine, which needs [server] public_url "
	    "for its result callbacks");

	/* a file that is not there */
	snprintf(want, sizeof(want), "%s/absent.conf", tmpdir);
	c = conf_load(want, err, sizeof(err));
	tap_ok(c == NULL, "absent file refused");
	conf_free(c);
	snprintf(want, sizeof(want), "%s/absent.conf: %s", tmpdir,
	    strerror(ENOENT));
	TAP_STREQ(err, want, "absent file: path and strerror");

	/* a short error buffer is not overrun */
	memset(err, 'x', sizeof(err));
	c = conf_load(write_conf(REQ "bogus = 1\n"), err, 8);
	tap_ok(c == NULL && strlen(err) == 7 && err[8] == 'x',
	    "short error buffer truncated, NUL-terminated, not overrun");
	conf_free(c);
}

/*
 * Lines the file holds must be read as written, or refused: "nothing
 * starts on a half-read configuration" (CONTRACT.md).
 */
static void
test_whole_lines(void)
{
	struct mias_conf	*c;
	char			 err[512], text[1024], line[400], want[700];
	size_t			 i;
	int			 ok;

	/*
	 * fixed: inih (INI_MAX_LINE 200, no realloc) hands a longer line
	 * over in pieces; conf_reader() counts each piece as a line and does
	 * not notice.  Here the second piece starts with a blank, so inih
	 * takes it for a continuation line and allow_hosts silently becomes
	 * just "last.example" (the 19 hosts before it are lost).
	 */
	strcpy(line, "allow_hosts = ");
	while (strlen(line) < 199)
		strcat(line, "h.example,");
	line[198] = ',';	/* the 199th byte: the first piece ends here */
	line[199] = '\0';
	snprintf(text, sizeof(text), REQ "[egress]\n%s last.example\n",
	    line);
	c = load(text, err, sizeof(err));
	snprintf(want, sizeof(want), "%s:5: ", path);
	ok = c != NULL ? c->c_egress.ep_allow_hosts_n > 1 &&
	    strcmp(c->c_egress.ep_allow_hosts[c->c_egress.ep_allow_hosts_n -
	    1], "last.example") == 0 :
	    strncmp(err, want, strlen(want)) == 0;
	tap_ok(ok, "a %zu-byte allow_hosts line is read whole or "
	    "refused at line 5", strlen(line) + strlen(" last.example"));
	if (!ok && c != NULL) {
		printf("#   loaded with %zu host(s):",
		    c->c_egress.ep_allow_hosts_n);
		for (i = 0; i < c->c_egress.ep_allow_hosts_n; i++)
			printf(" %s", c->c_egress.ep_allow_hosts[i]);
		printf("\n");
	} else if (!ok)
		printf("#   error: %s\n", err);
	conf_free(c);

	/* fixed: the same with a long line whose rest has no blank: the
	 * error names line 6 of a file whose line 5 is the long one */
	strcpy(line, "allow_hosts = ");
	while (strlen(line) < 250)
		strcat(line, "host.example,");
	snprintf(text, sizeof(text), REQ "[egress]\n%s\n[oss]\n"
	    "signature_version = 1\n", line);
	c = load(text, err, sizeof(err));
	snprintf(want, sizeof(want), "%s:5: ", path);
	ok = c != NULL ? c->c_egress.ep_allow_hosts_n == 19 &&
	    c->c_oss_sigver == 1 : strncmp(err, want, strlen(want)) == 0;
	tap_ok(ok, "a %zu-byte line without blanks is read whole or "
	    "refused at line 5", strlen(line));
	if (!ok)
		printf("#   %s\n", c != NULL ? "loaded" : err);
	conf_free(c);

	/*
	 * fixed: inih passes an indented line after a key as a continuation
	 * of that key's value (INI_ALLOW_MULTILINE, on in Debian's libinih);
	 * conf_handler() replaces the value with it, so a list written over
	 * two lines silently keeps only its last line.
	 */
	c = load(REQ "[egress]\nallow_hosts = a.example,\n    b.example\n",
	    err, sizeof(err));
	ok = c != NULL ? c->c_egress.ep_allow_hosts_n == 2 &&
	    strcmp(c->c_egress.ep_allow_hosts[0], "a.example") == 0 :
	    strncmp(err, path, strlen(path)) == 0 && err[strlen(path)] ==
	    ':' && (strncmp(err + strlen(path), ":5: ", 4) == 0 ||
	    strncmp(err + strlen(path), ":6: ", 4) == 0);
	tap_ok(ok, "allow_hosts continued on an indented line keeps "
	    "both hosts or is refused at line 5 or 6");
	if (!ok && c != NULL)
		printf("#   loaded with %zu host(s), the first '%s'\n",
		    c->c_egress.ep_allow_hosts_n,
		    c->c_egress.ep_allow_hosts_n > 0 ?
		    c->c_egress.ep_allow_hosts[0] : "");
	conf_free(c);

	c = load(REQ "[dispatcher]\nretry_schedule = 5s,5m,\n    30m\n",
	    err, sizeof(err));
	ok = c != NULL ? c->c_retry_n == 3 && c->c_retry[0] == 5 &&
	    c->c_retry[1] == 300 && c->c_retry[2] == 1800 :
	    strncmp(err, path, strlen(path)) == 0 &&
	    (strncmp(err + strlen(path), ":5: ", 4) == 0 ||
	    strncmp(err + strlen(path), ":6: ", 4) == 0);
	tap_ok(ok, "retry_schedule continued on an indented line is "
	    "5,300,1800 or refused at line 5 or 6");
	if (!ok && c != NULL)
		printf("#   loaded with %zu step(s), the first %u\n",
		    c->c_retry_n, c->c_retry[0]);
	conf_free(c);
}

static void
test_duration(void)
{
	static const struct {
		const char	*in;
		int		 rc;
		unsigned	 secs;
	} t[] = {
		{ "5s", 0, 5 },
		{ "30m", 0, 1800 },
		{ "2h", 0, 7200 },
		{ "5h", 0, 18000 },
		{ "10h", 0, 36000 },
		{ "10", 0, 10 },
		{ "0", 0, 0 },
		{ "5m", 0, 300 },
		{ " 7s ", 0, 7 },
		{ "4294967295", 0, 4294967295U },
		{ "", -1, 0 },
		{ "s", -1, 0 },
		{ "5x", -1, 0 },
		{ "-1", -1, 0 },
		{ "+1", -1, 0 },
		{ "5 s", -1, 0 },
		{ "5ss", -1, 0 },
		{ "5S", -1, 0 },
		{ "1.5h", -1, 0 },
		{ "0x10", -1, 0 },
		{ "4294967296", -1, 0 },
		{ "1193047h", -1, 0 },
		{ "71583m", 0, 4294980U },
		{ "99999999999999999999999", -1, 0 },
	};
	size_t		i;
	unsigned	secs;
	int		rc;

	for (i = 0; i < NELEM(t); i++) {
		secs = 12345;
		rc = conf_duration(t[i].in, &secs);
		if (t[i].rc == 0)
			tap_ok(rc == 0 && secs == t[i].secs,
			    "conf_duration(\"%s\") is %u (rc %d, %u)", t[i].in,
			    t[i].secs, rc, secs);
		else
			tap_ok(rc == -1 && secs == 12345,
			    "conf_duration(\"%s\") is -1, *secs untouched "
			    "(rc %d)", t[i].in, rc);
	}
}

/* [retention] finished_studies: a duration (s m h d), or never */
static void
test_retention(void)
{
	struct mias_conf	*c;
	char			 err[512];

	c = load(REQ, err, sizeof(err));
	tap_ok(c != NULL && c->c_retention_finished == 365 * 86400,
	    "retention: finished_studies is 365d by default");
	conf_free(c);
	c = load(REQ "[retention]\nfinished_studies = 3s\n", err,
	    sizeof(err));
	tap_ok(c != NULL && c->c_retention_finished == 3,
	    "retention: 3s is 3 seconds");
	conf_free(c);
	c = load(REQ "[retention]\nfinished_studies = 30d\n", err,
	    sizeof(err));
	tap_ok(c != NULL && c->c_retention_finished == 30 * 86400,
	    "retention: 30d is 30 days");
	conf_free(c);
	c = load(REQ "[retention]\nfinished_studies = never\n", err,
	    sizeof(err));
	tap_ok(c != NULL && c->c_retention_finished == 0,
	    "retention: never keeps studies for ever (0)");
	conf_free(c);
	refused("retention: 0 is refused",
	    REQ "[retention]\nfinished_studies = 0\n", 5,
	    "[retention] finished_studies must be a duration such as 90s, "
	    "12h or 365d, or never");
	refused("retention: 2w is refused",
	    REQ "[retention]\nfinished_studies = 2w\n", 5,
	    "[retention] finished_studies must be a duration such as 90s, "
	    "12h or 365d, or never");
	refused("retention: unknown key",
	    REQ "[retention]\nresults = 3d\n", 5,
	    "unknown key 'results' in section [retention]");
}

/* A key of the release before: a warning naming file and line, and the
 * file loads; the next release drops it from the table and it is an
 * unknown key.  The shipped table is empty; this one stands in for it. */
static void
test_removed(void)
{
	static const struct conf_removed table[] = {
		{ "dispatcher", "poll_interval", "0.2.0" },
		{ "engine", "old_knob", "0.2.0" },
		{ NULL, NULL, NULL }
	};
	const struct conf_removed	*shipped = conf_removed_keys;
	struct mias_conf		*c;
	char				 err[512], want[1024];

	tap_ok(shipped != NULL && shipped[0].cr_name == NULL,
	    "removed keys: none in this release");
	conf_removed_keys = table;
	c = load(REQ "[dispatcher]\nconcurrency = 3\npoll_interval = 5s\n"
	    "[engine.2]\ncommand = /bin/true\nanalysis = LN\nold_knob = 1\n",
	    err, sizeof(err));
	tap_ok(c != NULL, "removed keys: the file still loads (%s)", err);
	if (c != NULL) {
		snprintf(want, sizeof(want), "%s:6: [dispatcher] poll_interval "
		    "is no longer used (since mias 0.2.0); remove it", path);
		TAP_STREQ(conf_warning(c, 0) ? conf_warning(c, 0) : "", want,
		    "removed keys: a warning with file and line");
		snprintf(want, sizeof(want), "%s:10: [engine.2] old_knob is no "
		    "longer used (since mias 0.2.0); remove it", path);
		TAP_STREQ(conf_warning(c, 1) ? conf_warning(c, 1) : "", want,
		    "removed keys: [engine.N] keys too");
		tap_ok(conf_warning(c, 2) == NULL, "removed keys: two warnings");
		tap_ok(c->c_concurrency == 3, "removed keys: the other keys "
		    "are read");
		conf_free(c);
	}
	c = load(REQ, err, sizeof(err));
	tap_ok(c != NULL && conf_warning(c, 0) == NULL,
	    "removed keys: no warning without them");
	conf_free(c);
	conf_removed_keys = shipped;
	refused("removed keys: out of the table, an unknown key again",
	    REQ "[dispatcher]\npoll_interval = 5s\n", 5,
	    "unknown key 'poll_interval' in section [dispatcher]");
}

/* [metrics] token_file: absent by default (no metrics), a path, or
 * empty (the same as absent); other keys of the section are errors. */
static void
test_metrics(void)
{
	struct mias_conf	*c;
	char			 err[512];

	c = load(REQ, err, sizeof(err));
	tap_ok(c != NULL && c->c_metrics_token_file == NULL,
	    "[metrics] token_file: none by default");
	conf_free(c);
	c = load(REQ "[metrics]\ntoken_file = /etc/mias/metrics.token\n", err,
	    sizeof(err));
	tap_ok(c != NULL && c->c_metrics_token_file != NULL &&
	    strcmp(c->c_metrics_token_file, "/etc/mias/metrics.token") == 0,
	    "[metrics] token_file: the path");
	conf_free(c);
	c = load(REQ "[metrics]\ntoken_file =\n", err, sizeof(err));
	tap_ok(c != NULL && c->c_metrics_token_file == NULL,
	    "[metrics] token_file empty: none");
	conf_free(c);
	c = load(REQ "[metrics]\ntoken = x\n", err, sizeof(err));
	tap_ok(c == NULL && strstr(err, "token") != NULL,
	    "[metrics] an unknown key is an error (%s)", err);
	conf_free(c);
}

/* ---- engine sections by name, several analyses per section ---- */

#define CMD	"command = /bin/true\n"

static void
test_named(void)
{
	struct mias_conf	*c;
	char			 err[512];
	int			 s;

	c = load(REQ "[engine.4]\n" CMD "analysis = OA, Ballooning\n"
	    "[engine.retina]\n" CMD "analysis = DR\nstudyType = 3\n"
	    "[engine.triage]\n" CMD "analysis=TRIAGE ,  XR2\n"
	    "timeout = 30\n", err, sizeof(err));
	tap_ok(c != NULL, "named: two named sections and [engine.4] load");
	TAP_STREQ(err, "", "named: no error");
	if (c == NULL)
		return;
	tap_ok(c->c_engine[3].ce_analyses_n == 2 &&
	    strcmp(c->c_engine[3].ce_analyses[0], "OA") == 0 &&
	    strcmp(c->c_engine[3].ce_analyses[1], "Ballooning") == 0,
	    "named: analysis = OA, Ballooning lists both");
	TAP_STREQ(c->c_engine[3].ce_analysis, "OA",
	    "named: executeAnalysis runs the first one");
	tap_ok(conf_engine_for_analysis(c, "OA") == 4 &&
	    conf_engine_for_analysis(c, "Ballooning") == 4,
	    "named: OA and Ballooning route to [engine.4]");
	s = conf_engine_for_analysis(c, "DR");
	tap_ok(s == 3 && strcmp(c->c_engine[2].ce_name, "retina") == 0 &&
	    c->c_engine[2].ce_type == 3,
	    "named: studyType = 3 without [engine.3]: [engine.retina] serves "
	    "studyType 3 (slot 3)");
	s = conf_engine_for_analysis(c, "XR2");
	tap_ok(s > CONF_STUDY_TYPES && s == conf_engine_for_analysis(c,
	    "TRIAGE") && strcmp(c->c_engine[s - 1].ce_name, "triage") == 0 &&
	    c->c_engine[s - 1].ce_type == 4 &&
	    c->c_engine[s - 1].ce_timeout == 30,
	    "named: [engine.triage] without studyType: a slot of its own, "
	    "box findings, its own timeout");
	tap_ok(conf_engine_for_analysis(c, "oa") == 0 &&
	    conf_engine_for_analysis(c, "") == 0,
	    "named: names are matched exactly");
	tap_ok(conf_engine_by_name(c, "triage") == s &&
	    conf_engine_by_name(c, "retina") == 3 &&
	    conf_engine_by_name(c, "4") == 4 &&
	    conf_engine_by_name(c, "1") == 0,
	    "named: sections found by name");
	tap_ok(conf_engine_of(c, 4, NULL) == 4 &&
	    conf_engine_of(c, 3, NULL) == 3 &&
	    conf_engine_of(c, 1, NULL) == 0 &&
	    conf_engine_of(c, 4, "triage") == s &&
	    conf_engine_of(c, 4, "gone") == 0,
	    "named: a study's engine by studyType, a push job's by name");
	conf_free(c);

	c = load(REQ "[engine.3]\n" CMD "analysis = DR\n"
	    "[engine.retina2]\n" CMD "analysis = DR2\nstudyType = 3\n",
	    err, sizeof(err));
	s = c != NULL ? conf_engine_for_analysis(c, "DR2") : 0;
	tap_ok(c != NULL && s > CONF_STUDY_TYPES &&
	    c->c_engine[s - 1].ce_type == 3 &&
	    strcmp(c->c_engine[2].ce_name, "3") == 0,
	    "named: studyType = 3 beside [engine.3]: triggers only, with "
	    "fundus findings");
	conf_free(c);

	refused("an analysis in two sections",
	    REQ "[engine.4]\n" CMD "analysis = OA, Ballooning\n"
	    "[engine.other]\n" CMD "analysis = DR, Ballooning\n", 9,
	    "analysis Ballooning is listed by [engine.4] and [engine.other]: "
	    "an analysis belongs to one section");
	c = load(REQ "[engine.1]\n" CMD "analysis = OA\n"
	    "[engine.3]\n" CMD "analysis = OA\n", err, sizeof(err));
	tap_ok(c != NULL && conf_engine_for_analysis(c, "OA") == 1,
	    "named: one name in two [engine.N] sections still loads (older "
	    "configurations), triggers going to the lowest N");
	conf_free(c);
	refused("a name of [engine.N] in a section moved to slot 3",
	    REQ "[engine.1]\n" CMD "analysis = OA\n"
	    "[engine.r]\n" CMD "analysis = OA\nstudyType = 3\n", 9,
	    "analysis OA is listed by [engine.1] and [engine.r]: an analysis "
	    "belongs to one section");
	refused("an analysis twice in one section",
	    REQ "[engine.x]\n" CMD "analysis = OA, OA\n", 6,
	    "[engine.x] analysis: OA is listed twice");
	refused("analysis = , ",
	    REQ "[engine.x]\n" CMD "analysis = ,\n", 6,
	    "[engine.x] analysis must name at least one analysis");
	refused("two named sections claim studyType 2",
	    REQ "[engine.a]\n" CMD "analysis = A\nstudyType = 2\n"
	    "[engine.b]\n" CMD "analysis = B\nstudyType = 2\n", 11,
	    "[engine.a] and [engine.b] both say studyType = 2 and there is "
	    "no [engine.2]: one of them must serve it");
	refused("studyType in [engine.N]",
	    REQ "[engine.2]\n" CMD "analysis = A\nstudyType = 2\n", 7,
	    "unknown key 'studyType' in an [engine.N] section (studyType is "
	    "for [engine.NAME] sections)");
	refused("studyType 5",
	    REQ "[engine.a]\n" CMD "analysis = A\nstudyType = 5\n", 7,
	    "[engine.a] studyType must be 1, 2, 3 or 4");
	refused("a named section without analysis",
	    REQ "[engine.a]\n" CMD, 5,
	    "missing required key [engine.a] analysis");
	refused("a named remote engine without public_url",
	    REQ "[engine.a]\nurl = http://e/\nanalysis = A\n", 5,
	    "[engine.a] is a remote engine, which needs [server] public_url "
	    "for its result callbacks");
}

/* [replication]: absent, the defaults, each key's checks. */
static void
test_replication(void)
{
	struct mias_conf	*c;
	char			 err[512];

	c = load(REQ, err, sizeof(err));
	tap_ok(c != NULL && !c->c_repl.rc_on, "no [replication]: one host");
	conf_free(c);

	c = load(REQ "public_url = http://10.0.0.1\n[replication]\n"
	    "local = 10.0.0.1:6000\npeers = 10.0.0.2:6000 , node3:6000\n", err,
	    sizeof(err));
	tap_ok(c != NULL, "[replication] with local and peers: %s", err);
	if (c != NULL) {
		tap_ok(c->c_repl.rc_on && c->c_repl.rc_peers_n == 2 &&
		    strcmp(c->c_repl.rc_peers[1], "node3:6000") == 0,
		    "peers are listed, spaces trimmed");
		tap_ok(c->c_repl.rc_priority == 100 &&
		    c->c_repl.rc_ack == REPL_ACK_QUORUM &&
		    c->c_repl.rc_ack_timeout_ms == 2000 &&
		    c->c_repl.rc_heartbeat_ms == 1000 &&
		    c->c_repl.rc_forward_timeout == 10,
		    "defaults: priority 100, quorum, 2s, 1s, 10s");
		TAP_STREQ(c->c_repl.rc_internal_url, "http://10.0.0.1",
		    "internal_url defaults to public_url");
	}
	conf_free(c);

	c = load(REQ "[replication]\nlocal = a:1\npeers = b:2\npriority = 0\n"
	    "ack_policy = all\nack_timeout = 500ms\nheartbeat = 2s\n"
	    "internal_url = https://a.example/\nforward_timeout = 3s\n", err,
	    sizeof(err));
	tap_ok(c != NULL && c->c_repl.rc_priority == 0 &&
	    c->c_repl.rc_ack == REPL_ACK_ALL &&
	    c->c_repl.rc_ack_timeout_ms == 500 &&
	    c->c_repl.rc_heartbeat_ms == 2000 &&
	    c->c_repl.rc_forward_timeout == 3 &&
	    strcmp(c->c_repl.rc_internal_url, "https://a.example") == 0,
	    "every key set: %s", err);
	conf_free(c);

	refused("local missing", REQ "[replication]\npeers = b:2\n", 0,
	    "missing required key [replication] local");
	refused("peers missing", REQ "[replication]\nlocal = a:1\n", 0,
	    "missing required key [replication] peers");
	refused("local among peers", REQ "[replication]\nlocal = a:1\n"
	    "peers = b:2, a:1\n", 0, "[replication] peers lists this host's "
	    "own address (local): list only the others");
	refused("port out of range", REQ "[replication]\nlocal = a:70000\n",
	    5, "[replication] local must be HOST:PORT with a port from 1 to "
	    "65535");
	refused("no port", REQ "[replication]\nlocal = a\n", 5,
	    "[replication] local must be HOST:PORT");
	refused("bad host", REQ "[replication]\nlocal = a/b:1\n", 5,
	    "[replication] local must be HOST:PORT (a host name or an IPv4 "
	    "address)");
	refused("bad ack policy", REQ "[replication]\nack_policy = one\n", 5,
	    "[replication] ack_policy must be quorum or all");
	refused("bad url", REQ "[replication]\ninternal_url = ftp://x\n", 5,
	    "[replication] internal_url must be an http:// or https:// URL");
	refused("bad priority", REQ "[replication]\npriority = -1\n", 5,
	    "[replication] priority must be a number from 0 to 1000000");
	refused("unknown key", REQ "[replication]\nlocals = a:1\n", 5,
	    "unknown key 'locals' in section [replication]");
}

int
main(void)
{
	const char	*t;
	char		 name[600];
	int		 i, rc;

	t = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/t_conf.XXXXXX",
	    t != NULL && *t != '\0' ? t : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		printf("Bail out! mkdtemp %s: %s\n", tmpdir, strerror(errno));
		return 1;
	}

	test_sample();
	test_defaults();
	test_values();
	test_errors();
	test_named();
	test_whole_lines();
	test_duration();
	test_retention();
	test_removed();
	test_metrics();
	test_replication();

	for (i = 1; i <= nfiles; i++) {
		snprintf(name, sizeof(name), "%s/c%d.conf", tmpdir, i);
		unlink(name);
	}
	rmdir(tmpdir);
	rc = tap_done();
	return rc;
}
