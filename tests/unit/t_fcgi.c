/* t_fcgi.c -- the responders' request loop, run as plain CGI
 *
 * Each request is one child running fcgi_main() with a CGI environment
 * and the body on a pipe (stdin that is not a FastCGI socket: plain CGI),
 * its answer read from another pipe.  The handler echoes what the loop
 * handed it.  What the loop decides before a handler runs is checked:
 * methods, Content-Type, Content-Length and bodies, the query, CORS
 * preflights and origins, authentication, configuration errors.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "crypto.h"
#include "fcgi.h"
#include "ns.h"
#include "store.h"
#include "tap.h"

#define TOKEN	"tok-0123456789abcdef"
#define ORIGIN	"https://pacs.example"

static char	dir[256], conf[300], errlog[300];

static void
echo(struct req *rq)
{
	json_object	*d = json_object_new_object(), *v;

	json_object_object_add(d, "method",
	    json_object_new_string(rq->rq_method));
	json_object_object_add(d, "q", json_object_new_string(rq->rq_query));
	json_object_object_add(d, "body", json_object_new_string_len(
	    rq->rq_body, (int)rq->rq_bodylen));
	if (rq->rq_nsrec != NULL &&
	    json_object_object_get_ex(rq->rq_nsrec, "name", &v))
		json_object_object_add(d, "ns", json_object_get(v));
	req_reply(rq, d);
}

static const struct endpoint ep_get = { "tGet", EP_GET, echo, 1 };
static const struct endpoint ep_post = { "tPost", EP_POST, echo, 1 };
static const struct endpoint ep_auth = { "tAuth", EP_POST | EP_AUTH, echo,
    1 };

/* One answer: the whole output, its status and its envelope. */
static struct answer {
	char		 out[8192];
	int		 status;
	const char	*body;		/* into out */
	json_object	*env;		/* the envelope, or NULL */
	int		 exit;
} a;

/* A copy of str in pool (filled from the start, used up in order). */
static char *
keep(char *pool, size_t len, const char *str)
{
	static size_t	used;
	size_t		n = strlen(str) + 1;
	char		*p;

	if (used + n > len)
		abort();
	p = memcpy(pool + used, str, n);
	used += n;
	return p;
}

/*
 * Run ep as CGI with env ("NAME=value"..., NULL), the body on stdin and
 * argv[1..] = arg (NULL: none).  Fills a.
 */
static void
run(const struct endpoint *ep, const char *const *env, const char *body,
    size_t len, const char *arg)
{
	int	in[2], out[2], st, fd;
	size_t	got = 0;
	ssize_t	n;
	pid_t	pid;

	json_object_put(a.env);
	memset(&a, 0, sizeof(a));
	a.exit = -1;
	if (pipe(in) == -1 || pipe(out) == -1)
		return;
	if ((pid = fork()) == -1)
		return;
	if (pid == 0) {
		/* the child's own copies (argv and the environment are not
		 * const), in static memory: under CGI the loop wipes the
		 * environment, which would leave heap copies lost */
		static char	 pool[16384];
		char		*argv[4] = { NULL, NULL, NULL, NULL };

		clearenv();
		for (; *env != NULL; env++)
			putenv(keep(pool, sizeof(pool), *env));
		argv[0] = keep(pool, sizeof(pool), ep->ep_name);
		if (arg != NULL) {
			argv[1] = keep(pool, sizeof(pool), "-c");
			argv[2] = keep(pool, sizeof(pool), arg);
		}
		dup2(in[0], 0);
		dup2(out[1], 1);
		if ((fd = open(errlog, O_WRONLY | O_CREAT | O_APPEND, 0600))
		    != -1)
			dup2(fd, 2);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		_exit(fcgi_main(arg != NULL ? 3 : 1, argv, ep));
	}
	close(in[0]);
	close(out[1]);
	if (len > 0 && write(in[1], body, len) != (ssize_t)len)
		printf("# short write of the body\n");
	close(in[1]);
	while ((n = read(out[0], a.out + got, sizeof(a.out) - 1 - got)) > 0)
		got += (size_t)n;
	a.out[got] = '\0';
	close(out[0]);
	if (waitpid(pid, &st, 0) == pid && WIFEXITED(st))
		a.exit = WEXITSTATUS(st);
	if (sscanf(a.out, "Status: %d", &a.status) != 1)
		a.status = 0;
	if ((a.body = strstr(a.out, "\r\n\r\n")) != NULL) {
		a.body += 4;
		a.env = json_tokener_parse(a.body);
	}
}

/* The envelope's member, or data's when name starts with "data." */
static const char *
member(const char *name)
{
	json_object	*o = a.env, *v;

	if (o != NULL && strncmp(name, "data.", 5) == 0) {
		if (!json_object_object_get_ex(o, "data", &o))
			return NULL;
		name += 5;
	}
	if (o == NULL || !json_object_object_get_ex(o, name, &v) || v == NULL)
		return NULL;
	return json_object_get_string(v);
}

static int
is(const char *name, const char *want)
{
	const char *got = member(name);

	return got != NULL && strcmp(got, want) == 0;
}

/* The header line (without its CRLF) in the head, or NULL. */
static int
has_header(const char *line)
{
	char	want[600];
	size_t	headlen = a.body != NULL ? (size_t)(a.body - a.out) : strlen(a.out);
	char	*p;

	snprintf(want, sizeof(want), "\r\n%s\r\n", line);
	p = strstr(a.out, want);
	return p != NULL && (size_t)(p - a.out) < headlen;
}

static void
show(int cond)
{
	if (!cond)
		printf("#   exit %d, answer: %.600s\n", a.exit, a.out);
}

#define ENV_BASE	"GATEWAY_INTERFACE=CGI/1.1", "REMOTE_ADDR=192.0.2.1"

static char	conf_env[400];

static void
test_get(void)
{
	const char *e1[] = { ENV_BASE, conf_env, "REQUEST_METHOD=GET",
	    "QUERY_STRING=a=1&b=%2C", NULL };
	const char *e2[] = { ENV_BASE, conf_env, "REQUEST_METHOD=GET",
	    "QUERY_STRING=b=2%25zz", "REQUEST_URI=/x?b=2%zz#frag", NULL };
	const char *e3[] = { ENV_BASE, conf_env, "REQUEST_METHOD=POST",
	    "CONTENT_TYPE=application/json", "CONTENT_LENGTH=2", NULL };
	const char *e4[] = { ENV_BASE, conf_env, "REQUEST_METHOD=DELETE",
	    NULL };
	int ok;

	run(&ep_get, e1, NULL, 0, NULL);
	show(ok = a.status == 200 && is("returnCode", "000000") &&
	    is("data.method", "GET") && is("data.q", "a=1&b=%2C") &&
	    a.exit == 0);
	tap_ok(ok, "GET: the handler runs with the query string as sent");
	tap_ok(has_header("Content-Type: application/json; charset=utf-8") &&
	    has_header("Cache-Control: no-store") &&
	    has_header("X-Content-Type-Options: nosniff"),
	    "  ... answered as JSON, not to be cached or sniffed");
	run(&ep_get, e2, NULL, 0, NULL);
	show(ok = is("data.q", "b=2%zz"));
	tap_ok(ok, "the query comes from REQUEST_URI (as the client sent it, "
	    "without the fragment), not the normalised QUERY_STRING");
	run(&ep_get, e3, "{}", 2, NULL);
	show(ok = a.status == 405 && is("returnCode", "100007") &&
	    has_header("Allow: GET, OPTIONS"));
	tap_ok(ok, "POST to a GET endpoint: 405, 100007, Allow: GET, OPTIONS");
	run(&ep_post, e4, NULL, 0, NULL);
	show(ok = a.status == 405 && has_header("Allow: POST, OPTIONS"));
	tap_ok(ok, "DELETE to a POST endpoint: 405, Allow: POST, OPTIONS");
}

/* POST body with Content-Type ct (NULL: none) and Content-Length cl
 * (NULL: none). */
static void
post(const struct endpoint *ep, const char *ct, const char *cl,
    const char *body, size_t len, const char *extra)
{
	char		 cte[200], cle[100];
	const char	*env[10];
	int		 n = 0;

	env[n++] = "GATEWAY_INTERFACE=CGI/1.1";
	env[n++] = "REMOTE_ADDR=192.0.2.1";
	env[n++] = conf_env;
	env[n++] = "REQUEST_METHOD=POST";
	if (ct != NULL) {
		snprintf(cte, sizeof(cte), "CONTENT_TYPE=%s", ct);
		env[n++] = cte;
	}
	if (cl != NULL) {
		snprintf(cle, sizeof(cle), "CONTENT_LENGTH=%s", cl);
		env[n++] = cle;
	}
	if (extra != NULL)
		env[n++] = extra;
	env[n] = NULL;
	run(ep, env, body, len, NULL);
}

static void
test_post(void)
{
	static const char *good[] = { "application/json",
	    "application/json; charset=utf-8", "Application/JSON;Charset=UTF8",
	    "application/json; charset=\"UTF-8\"", "application/json ; x=y" };
	static const char *bad[] = { "text/plain", "application/jsonp",
	    "application/json; charset=iso-8859-1", "application/json x",
	    "" };
	char	big[200];
	size_t	i;
	int	ok;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		post(&ep_post, good[i], "7", "{\"a\":1}", 7, NULL);
		show(ok = a.status == 200 && is("data.body", "{\"a\":1}"));
		tap_ok(ok, "Content-Type '%s' is accepted, the body handed "
		    "over", good[i]);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		post(&ep_post, bad[i], "7", "{\"a\":1}", 7, NULL);
		show(ok = a.status == 415 && is("returnCode", "100007"));
		tap_ok(ok, "Content-Type '%s': 415, 100007", bad[i]);
	}
	post(&ep_post, NULL, "7", "{\"a\":1}", 7, NULL);
	show(ok = a.status == 415);
	tap_ok(ok, "no Content-Type: 415");

	post(&ep_post, "application/json", "7x", "{\"a\":1}", 7, NULL);
	show(ok = a.status == 400 && is("returnCode", "100002"));
	tap_ok(ok, "Content-Length '7x': 400, 100002");
	post(&ep_post, "application/json", "+7", "{\"a\":1}", 7, NULL);
	show(ok = a.status == 400);
	tap_ok(ok, "Content-Length '+7': 400");
	post(&ep_post, "application/json", "99999999999999999999999",
	    "{}", 2, NULL);
	show(ok = a.status == 400);
	tap_ok(ok, "a Content-Length past 2^64: 400");
	post(&ep_post, "application/json", "101", "{}", 2, NULL);
	show(ok = a.status == 413 && is("returnCode", "100008"));
	tap_ok(ok, "a Content-Length over max_body_bytes (100): 413, 100008, "
	    "before reading");
	memset(big, ' ', sizeof(big));
	post(&ep_post, "application/json", "100", big, 100, NULL);
	show(ok = a.status == 200);
	tap_ok(ok, "a body of exactly max_body_bytes is accepted");
	post(&ep_post, "application/json", "10", "{}", 2, NULL);
	show(ok = a.status == 400 && member("returnMessage") != NULL &&
	    strstr(member("returnMessage"), "ended after 2 of 10") != NULL);
	tap_ok(ok, "a body shorter than its Content-Length: 400, said");

	/* no Content-Length (a chunked body passed on): read to the end */
	post(&ep_post, "application/json", NULL, "{\"b\":2}", 7, NULL);
	show(ok = a.status == 200 && is("data.body", "{\"b\":2}"));
	tap_ok(ok, "no Content-Length: the body is read to its end");
	post(&ep_post, "application/json", NULL, big, 101, NULL);
	show(ok = a.status == 413 && is("returnCode", "100008"));
	tap_ok(ok, "  ... and one byte over max_body_bytes is 413");
	post(&ep_post, "application/json", "", "{\"b\":2}", 7, NULL);
	show(ok = a.status == 200 && is("data.body", "{\"b\":2}"));
	tap_ok(ok, "an empty Content-Length is no length either");
}

static void
test_cors(void)
{
	const char *pre_ok[] = { ENV_BASE, conf_env, "REQUEST_METHOD=OPTIONS",
	    "HTTP_ORIGIN=" ORIGIN, NULL };
	const char *pre_no[] = { ENV_BASE, conf_env, "REQUEST_METHOD=OPTIONS",
	    "HTTP_ORIGIN=https://evil.example", NULL };
	const char *pre_none[] = { ENV_BASE, conf_env,
	    "REQUEST_METHOD=OPTIONS", NULL };
	int ok;

	run(&ep_post, pre_ok, NULL, 0, NULL);
	show(ok = a.status == 204 &&
	    has_header("Access-Control-Allow-Origin: " ORIGIN) &&
	    has_header("Access-Control-Allow-Methods: POST, OPTIONS") &&
	    has_header("Vary: Origin"));
	tap_ok(ok, "a preflight from an origin a namespace lists: 204, the "
	    "origin echoed");
	run(&ep_post, pre_no, NULL, 0, NULL);
	show(ok = a.status == 204 && strstr(a.out, "Access-Control") == NULL &&
	    has_header("Allow: POST, OPTIONS") && has_header("Vary: Origin"));
	tap_ok(ok, "a preflight from another origin: 204 without CORS "
	    "headers");
	run(&ep_get, pre_none, NULL, 0, NULL);
	show(ok = a.status == 204 && strstr(a.out, "Access-Control") == NULL &&
	    has_header("Allow: GET, OPTIONS") && !has_header("Vary: Origin"));
	tap_ok(ok, "OPTIONS without an Origin: 204, Allow");

	post(&ep_auth, "application/json", "2", "{}", 2,
	    "HTTP_ORIGIN=" ORIGIN "\r\nX-Evil: 1");
	show(ok = strstr(a.out, "X-Evil") == NULL &&
	    !has_header("Vary: Origin"));
	tap_ok(ok, "an Origin holding CR LF is dropped, never echoed");
}

static void
test_auth(void)
{
	const char *ok_env[] = { ENV_BASE, conf_env, "REQUEST_METHOD=POST",
	    "CONTENT_TYPE=application/json", "CONTENT_LENGTH=2",
	    "HTTP_NAMESPACE=hosp-a", "HTTP_TOKENID=" TOKEN,
	    "HTTP_ORIGIN=" ORIGIN, NULL };
	const char *wrong[] = { ENV_BASE, conf_env, "REQUEST_METHOD=POST",
	    "CONTENT_TYPE=application/json", "CONTENT_LENGTH=2",
	    "HTTP_NAMESPACE=hosp-a", "HTTP_TOKENID=tok-wrong", NULL };
	const char *none[] = { ENV_BASE, conf_env, "REQUEST_METHOD=POST",
	    "CONTENT_TYPE=application/json", "CONTENT_LENGTH=2",
	    "HTTP_NAMESPACE=hosp-a", NULL };
	int ok;

	run(&ep_auth, ok_env, "{}", 2, NULL);
	show(ok = a.status == 200 && is("data.ns", "hosp-a"));
	tap_ok(ok, "the right token: the handler runs with the namespace's "
	    "record");
	tap_ok(has_header("Access-Control-Allow-Origin: " ORIGIN) &&
	    has_header("Vary: Origin"), "  ... and the namespace's origin is "
	    "echoed");
	run(&ep_auth, wrong, "{}", 2, NULL);
	show(ok = a.status == 401 && is("returnCode", "100003") &&
	    member("data.method") == NULL);
	tap_ok(ok, "a wrong token: 401, 100003, the handler not run");
	run(&ep_auth, none, "{}", 2, NULL);
	show(ok = a.status == 401 && is("returnCode", "100003"));
	tap_ok(ok, "no tokenId: 401, 100003");
}

static void
test_conf(void)
{
	char		 badconf[400];
	const char	*bad[] = { ENV_BASE, badconf, "REQUEST_METHOD=GET",
	    NULL };
	const char	*cgi[] = { ENV_BASE, conf_env, "REQUEST_METHOD=GET",
	    NULL };
	const char	*cmd[] = { "REQUEST_METHOD=GET", NULL };
	char		 arg[400];
	int		 ok;

	snprintf(badconf, sizeof(badconf), "MIAS_CONF=%s/no-such.conf", dir);
	run(&ep_get, bad, NULL, 0, NULL);
	show(ok = a.status == 500 && is("returnCode", "100001") &&
	    a.exit == 0);
	tap_ok(ok, "a configuration that cannot be read: 500, 100001, and "
	    "a clean exit (no respawn loop)");
	run(&ep_get, cgi, NULL, 0, badconf + 10);
	show(ok = a.status == 200);
	tap_ok(ok, "under CGI (GATEWAY_INTERFACE) argv is ignored: a query "
	    "cannot name the configuration");
	snprintf(arg, sizeof(arg), "%s", conf);
	run(&ep_get, cmd, NULL, 0, arg);
	show(ok = a.status == 200);
	tap_ok(ok, "from a command line, -c names it");
	run(&ep_get, cmd, NULL, 0, badconf + 10);
	show(ok = a.status == 500 && is("returnCode", "100001"));
	tap_ok(ok, "  ... (a -c naming no file: 100001)");
}

/* The state directory, the key file, the configuration, namespace hosp-a
 * with TOKEN and ORIGIN. */
static int
ns_body(struct store_txn *t, void *arg)
{
	json_object	*rec = arg;
	int		 rc;

	if ((rc = ns_put(t, "hosp-a", rec)) != STORE_OK)
		return rc;
	return ns_origins_index(t, "hosp-a", NULL, rec);
}

static int
setup(void)
{
	unsigned char		 master[CRYPTO_KEYLEN];
	static unsigned char	 secret[NS_SECRET_LEN];
	struct crypto_keys	 k;
	struct store		*s;
	json_object		*rec, *l;
	char			 path[400], err[256];
	FILE			*f;
	int			 fd, rc;

	memset(master, 9, sizeof(master));
	snprintf(path, sizeof(path), "%s/master.key", dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1 ||
	    write(fd, master, sizeof(master)) != sizeof(master) ||
	    close(fd) == -1)
		return -1;
	snprintf(conf, sizeof(conf), "%s/mias.conf", dir);
	if ((f = fopen(conf, "w")) == NULL)
		return -1;
	fprintf(f, "[server]\nstate_dir = %s/state\nkey_file = %s\n"
	    "public_url = http://127.0.0.1:9\nmax_body_bytes = 100\n", dir,
	    path);
	if (fclose(f) != 0)
		return -1;
	snprintf(conf_env, sizeof(conf_env), "MIAS_CONF=%s", conf);
	snprintf(errlog, sizeof(errlog), "%s/stderr.log", dir);

	snprintf(path, sizeof(path), "%s/state", dir);
	if (store_open(path, STORE_CREATE, &s, err, sizeof(err)) == -1) {
		printf("# store_open: %s\n", err);
		return -1;
	}
	crypto_keys_derive(master, &k);
	rec = ns_record_new(&k, "hosp-a", TOKEN, 0, secret);
	crypto_keys_wipe(&k);
	l = json_object_new_array();
	json_object_array_add(l, json_object_new_string(ORIGIN));
	json_object_object_add(rec, "origins", l);
	rc = store_txn(s, ns_body, rec);
	json_object_put(rec);
	store_close(s);
	return rc == STORE_OK ? 0 : -1;
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (tap_tmpdir(dir, sizeof(dir), "t_fcgi") == -1)
		return 1;
	if (setup() == -1) {
		printf("Bail out! cannot set up %s\n", dir);
		return 1;
	}
	test_get();
	test_post();
	test_cors();
	test_auth();
	test_conf();
	json_object_put(a.env);
	tap_tmpdir_done(dir);
	return tap_done();
}
