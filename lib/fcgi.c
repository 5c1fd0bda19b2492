/* fcgi.c -- the request loop shared by every responder (FastCGI or CGI) */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "conf.h"
#include "crypto.h"
#include "fcgi.h"
#include "audit.h"
#include "jv.h"
#include "limit.h"
#include "log.h"
#include "ns.h"
#include "ops.h"
#include "secmem.h"
#include "forward.h"
#include "repl.h"
#include "store.h"
#include "window.h"

extern char **environ;

#define FCGI_LENGTH_UNKNOWN	((size_t)-1)

/* Where a request's bytes come from and go to: a FastCGI request, or the
 * process's own environment and standard streams under plain CGI. */
struct fcgi_io {
	FCGX_Request	*io_fcgi;	/* NULL under CGI */
};

struct fcgi_ctx {
	const struct endpoint	*fc_ep;
	const char		*fc_conf_path;
	struct mias_conf	*fc_conf;
	struct crypto_keys	*fc_keys;	/* in pages kept out of cores */
	int			 fc_keys_ok;
	struct store		*fc_store;
	struct windows		*fc_win;	/* [limits] counters */
	char			 fc_err[512];	/* why not ready, for logs */
	int			 fc_ready;	/* all of the above open */
};

static volatile sig_atomic_t fcgi_quit;
static pthread_mutex_t	fcgi_ready_mu = PTHREAD_MUTEX_INITIALIZER;

/* Asks the accept loop to end: accept() returns EINTR (the handler is
 * installed without SA_RESTART) and libfcgi gives up once shutdown is
 * pending, so the store is closed cleanly rather than left to recovery. */
static volatile sig_atomic_t fcgi_single;	/* one thread: fcgi_main's loop */

static void
fcgi_sigterm(int sig)
{
	(void)sig;
	fcgi_quit = 1;
	FCGX_ShutdownPending();
	/* libfcgi looks at the shutdown flag just before it calls accept():
	 * a signal that comes in between is lost, and accept() waits for the
	 * next connection, which may never come (a web server that is
	 * stopping).  An alarm every second interrupts it again. */
	if (fcgi_single)
		alarm(1);
}

static void
fcgi_sigalrm(int sig)
{
	(void)sig;
	if (fcgi_quit && fcgi_single)
		alarm(1);
}

static const char *
io_param(struct fcgi_io *io, const char *name)
{
	if (io->io_fcgi != NULL)
		return FCGX_GetParam(name, io->io_fcgi->envp);
	return getenv(name);
}

static size_t
io_read(struct fcgi_io *io, char *buf, size_t len)
{
	size_t	got = 0;
	int	n;

	while (got < len) {
		if (io->io_fcgi != NULL) {
			size_t chunk = len - got > INT_MAX ? INT_MAX : len - got;

			n = FCGX_GetStr(buf + got, (int)chunk, io->io_fcgi->in);
			if (n <= 0)
				break;
		} else {
			n = (int)fread(buf + got, 1, len - got, stdin);
			if (n <= 0)
				break;
		}
		got += (size_t)n;
	}
	return got;
}

static void
io_write(struct fcgi_io *io, const char *buf, size_t len)
{
	if (io->io_fcgi != NULL)
		FCGX_PutStr(buf, (int)len, io->io_fcgi->out);
	else
		fwrite(buf, 1, len, stdout);
}

void
req_reply(struct req *rq, json_object *data)
{
	rq->rq_rc = RC_OK;
	snprintf(rq->rq_msg, sizeof(rq->rq_msg), "OK");
	json_object_put(rq->rq_data);
	rq->rq_data = data;
}

void
req_text(struct req *rq, char *text, size_t len)
{
	req_reply(rq, NULL);
	free(rq->rq_text);
	rq->rq_text = text;
	rq->rq_textlen = len;
}

static void
req_verror(struct req *rq, enum rc rc, json_object *data, const char *fmt,
    va_list ap)
{
	rq->rq_rc = rc;
	vsnprintf(rq->rq_msg, sizeof(rq->rq_msg), fmt, ap);
	json_object_put(rq->rq_data);
	rq->rq_data = data;
}

void
req_error(struct req *rq, enum rc rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	req_verror(rq, rc, NULL, fmt, ap);
	va_end(ap);
}

void
req_error_data(struct req *rq, enum rc rc, json_object *data,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	req_verror(rq, rc, data, fmt, ap);
	va_end(ap);
}

/*
 * The store's stall guard found this responder waiting on a Berkeley DB
 * mutex that a dead process held (lib/store.c): it cannot be woken, so it
 * leaves; the web server starts another, whose open recovers the store if
 * nobody has yet.  The request in hand gets the web server's error.
 */
static void
fcgi_stalled(const char *why)
{
	log_warnx("%s; exiting so that the web server starts this responder "
	    "again", why);
	_exit(STORE_STALL_EXIT);
}

static int	fcgi_ready1(struct fcgi_ctx *);

/* (Re)open what the responder needs; on failure the request gets 100001
 * and the reason goes to the log, never to the caller.  Once everything
 * is open it stays so: threads only take the lock until then. */
static int
fcgi_ready(struct fcgi_ctx *fc)
{
	int rc;

	if (__atomic_load_n(&fc->fc_ready, __ATOMIC_ACQUIRE))
		return 0;
	pthread_mutex_lock(&fcgi_ready_mu);
	if ((rc = fcgi_ready1(fc)) == 0)
		__atomic_store_n(&fc->fc_ready, 1, __ATOMIC_RELEASE);
	else
		log_warnx("not ready: %s", fc->fc_err);
	pthread_mutex_unlock(&fcgi_ready_mu);
	return rc;
}

static int
fcgi_ready1(struct fcgi_ctx *fc)
{
	char err[512];

	if (fc->fc_conf == NULL) {
		if ((fc->fc_conf = conf_load(fc->fc_conf_path, err,
		    sizeof(err))) == NULL) {
			snprintf(fc->fc_err, sizeof(fc->fc_err), "%s", err);
			return -1;
		}
		for (size_t i = 0; conf_warning(fc->fc_conf, i) != NULL; i++)
			log_warnx("%s", conf_warning(fc->fc_conf, i));
	}
	if (!fc->fc_keys_ok) {
		if (fc->fc_keys == NULL &&
		    (fc->fc_keys = crypto_keys_new()) == NULL) {
			snprintf(fc->fc_err, sizeof(fc->fc_err), "no memory "
			    "kept out of core dumps for the keys");
			return -1;
		}
		if (crypto_keys_load(fc->fc_conf->c_key_file, fc->fc_keys,
		    err, sizeof(err)) == -1) {
			snprintf(fc->fc_err, sizeof(fc->fc_err), "%s", err);
			return -1;
		}
		fc->fc_keys_ok = 1;
	}
	if (fc->fc_store == NULL) {
		repl_use(&fc->fc_conf->c_repl);
		store_on_stall(fcgi_stalled);
		if (store_open(fc->fc_conf->c_state_dir, 0, &fc->fc_store,
		    err, sizeof(err)) == -1) {
			snprintf(fc->fc_err, sizeof(fc->fc_err), "%s", err);
			return -1;
		}
	}
	if (fc->fc_win == NULL && windows_open(fc->fc_conf->c_state_dir,
	    &fc->fc_win, err, sizeof(err)) == -1) {
		snprintf(fc->fc_err, sizeof(fc->fc_err), "%s", err);
		return -1;
	}
	return 0;
}

/* "application/json" with optional parameters; a charset, if given, must
 * be UTF-8 since that is what we parse. */
static int
fcgi_json_type(const char *ct)
{
	const char	*p;
	size_t		 n = strlen("application/json");

	if (ct == NULL || strncasecmp(ct, "application/json", n) != 0)
		return 0;
	p = ct + n;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return 1;
	if (*p != ';')
		return 0;
	for (p++; *p != '\0'; ) {
		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		if (strncasecmp(p, "charset=", 8) == 0) {
			p += 8;
			if (*p == '"')
				p++;
			if (strncasecmp(p, "utf-8", 5) != 0 &&
			    strncasecmp(p, "utf8", 4) != 0)
				return 0;
		}
		while (*p != '\0' && *p != ';')
			p++;
	}
	return 1;
}

/* Checks made before the body is read; 0 to go on. */
static int
fcgi_precheck(struct fcgi_ctx *fc, struct fcgi_io *io, struct req *rq,
    size_t *bodylen)
{
	const struct endpoint	*ep = fc->fc_ep;
	const char		*cl, *ct;
	char			*end;
	unsigned long long	 n;

	if (rq->rq_method == NULL)
		rq->rq_method = "";
	rq->rq_is_post = strcmp(rq->rq_method, "POST") == 0;
	if (!((ep->ep_flags & EP_GET) && strcmp(rq->rq_method, "GET") == 0) &&
	    !((ep->ep_flags & EP_POST) && rq->rq_is_post)) {
		req_error(rq, RC_METHOD, "method %s not allowed; use %s",
		    rq->rq_method, (ep->ep_flags & EP_POST) ? "POST" : "GET");
		return -1;
	}
	*bodylen = 0;
	if (!rq->rq_is_post)
		return 0;	/* a GET's Content-Type is not ours to judge */
	ct = io_param(io, "CONTENT_TYPE");
	if (!fcgi_json_type(ct)) {
		req_error(rq, RC_MEDIA_TYPE, "Content-Type must be "
		    "application/json; charset=utf-8");
		return -1;
	}
	cl = io_param(io, "CONTENT_LENGTH");
	if (cl == NULL || *cl == '\0') {
		/* a chunked body some servers pass on without a length
		 * (mod_proxy_fcgi): read to its end, one byte past the limit
		 * at most */
		*bodylen = FCGI_LENGTH_UNKNOWN;
		return 0;
	} else {
		errno = 0;
		n = strtoull(cl, &end, 10);
		if (!isdigit((unsigned char)*cl) || *end != '\0' ||
		    errno != 0) {
			req_error(rq, RC_INVALID, "Content-Length is not a "
			    "number");
			return -1;
		}
	}
	if (n > fc->fc_conf->c_max_body_bytes) {
		req_error(rq, RC_TOO_LARGE, "request body of %llu bytes is "
		    "over the limit of %zu bytes", n,
		    fc->fc_conf->c_max_body_bytes);
		return -1;
	}
	*bodylen = (size_t)n;
	return 0;
}

static void
fcgi_respond(struct fcgi_io *io, struct req *rq, const struct endpoint *ep)
{
	char	 head[1024], ra[48] = "";
	char	*body;
	size_t	 len = 0;
	int	 status = rc_http(rq->rq_rc), hn;

	if (rq->rq_text != NULL && rq->rq_rc == RC_OK) {
		hn = snprintf(head, sizeof(head), "Status: 200 OK\r\n"
		    "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
		    "Content-Length: %zu\r\n"
		    "Cache-Control: no-store\r\n"
		    "X-Content-Type-Options: nosniff\r\n\r\n",
		    rq->rq_textlen);
		io_write(io, head, (size_t)hn);
		io_write(io, rq->rq_text, rq->rq_textlen);
		return;
	}
	if (rq->rq_rc == RC_TOO_MANY && rq->rq_retry_after > 0)
		snprintf(ra, sizeof(ra), "Retry-After: %d\r\n",
		    rq->rq_retry_after);

	body = resp_envelope(rq->rq_rc, rq->rq_msg, rq->rq_data,
	    rq->rq_is_post, rq->rq_id, &len);
	rq->rq_data = NULL;	/* consumed */
	if (body == NULL) {
		status = 500;
		body = strdup("{\"returnCode\":\"100001\",\"returnMessage\":"
		    "\"internal error: out of memory\",\"solution\":\"\","
		    "\"requestId\":\"00000000-0000-4000-8000-000000000000\","
		    "\"data\":null,\"success\":false}");
		len = body != NULL ? strlen(body) : 0;
	}
	hn = snprintf(head, sizeof(head), "Status: %d %s\r\n"
	    "Content-Type: application/json; charset=utf-8\r\n"
	    "Content-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "%s%s%s%s%s%s%s%s%s"
	    "\r\n", status, rc_http_reason(status), len, ra,
	    rq->rq_role != NULL ? "X-Mias-Role: " : "",
	    rq->rq_role != NULL ? rq->rq_role : "",
	    rq->rq_role != NULL ? "\r\n" : "",
	    rq->rq_rc != RC_METHOD ? "" : (ep->ep_flags & EP_POST) ?
	    "Allow: POST, OPTIONS\r\n" : "Allow: GET, OPTIONS\r\n",
	    rq->rq_origin != NULL ? "Vary: Origin\r\n" : "",
	    rq->rq_cors ? "Access-Control-Allow-Origin: " : "",
	    rq->rq_cors ? rq->rq_origin : "", rq->rq_cors ? "\r\n" : "");
	io_write(io, head, (size_t)hn);
	if (body != NULL)
		io_write(io, body, len);
	free(body);
}

/*
 * A CORS preflight (CONTRACT.md "Security decisions"): it carries no
 * tokenId or namespace, so the origin is allowed when any namespace lists
 * it; the real request is then checked against its own namespace.
 */
static void
fcgi_preflight(struct fcgi_ctx *fc, struct fcgi_io *io, struct req *rq)
{
	const struct endpoint	*ep = fc->fc_ep;
	char			 head[1024];
	int			 hn, allowed = 0;

	if (rq->rq_origin != NULL && fcgi_ready(fc) == 0)
		allowed = ns_origin_any(fc->fc_store, rq->rq_origin) == 1;
	if (allowed)
		hn = snprintf(head, sizeof(head), "Status: 204 No Content\r\n"
		    "Access-Control-Allow-Origin: %s\r\n"
		    "Access-Control-Allow-Methods: %s, OPTIONS\r\n"
		    "Access-Control-Allow-Headers: tokenId, namespace, "
		    "content-type\r\n"
		    "Access-Control-Max-Age: 600\r\n"
		    "Vary: Origin\r\n\r\n", rq->rq_origin,
		    (ep->ep_flags & EP_POST) ? "POST" : "GET");
	else
		hn = snprintf(head, sizeof(head), "Status: 204 No Content\r\n"
		    "Allow: %s, OPTIONS\r\n%s\r\n",
		    (ep->ep_flags & EP_POST) ? "POST" : "GET",
		    rq->rq_origin != NULL ? "Vary: Origin\r\n" : "");
	if (hn > 0 && (size_t)hn < sizeof(head))
		io_write(io, head, (size_t)hn);
}

/*
 * The query as the client sent it.  lighttpd hands QUERY_STRING over
 * normalised (a stray '%' becomes "%25"), which would make a malformed
 * escape look valid; REQUEST_URI keeps the original target with both
 * lighttpd and Apache.  Plain CGI may have only QUERY_STRING.
 */
static const char *
fcgi_query(struct fcgi_io *io, char *buf, size_t len)
{
	const char	*uri = io_param(io, "REQUEST_URI"), *q;
	size_t		 n;

	if (uri != NULL && (q = strchr(uri, '?')) != NULL) {
		q++;
		n = strcspn(q, "#");
		if (n < len) {
			memcpy(buf, q, n);
			buf[n] = '\0';
			return buf;
		}
	}
	q = io_param(io, "QUERY_STRING");
	return q != NULL ? q : "";
}

/*
 * Who is asking, and may they: the failed authentications of the client's
 * address for the namespace named (limit.h) and the namespace's requests
 * this second come from shared memory (window.c); one read-only
 * transaction reads the namespace record and, for submissions, the
 * namespace's queued studies: its own (fcgi_gate), or for a GET endpoint
 * the handler's (req_txn).  The request is counted at its end, in
 * fcgi_account.  -1 when the request is refused (rq holds the answer).
 */
struct gate {
	const struct fcgi_ctx	*g_fc;
	struct req		*g_rq;
	long long		 g_queued;
	char			*g_raw;		/* namespace record, or NULL */
	size_t			 g_rawlen;
};

static int
gate_body(struct store_txn *t, void *arg)
{
	struct gate		*g = arg;
	const struct req	*rq = g->g_rq;
	int			 rc;

	free(g->g_raw);
	g->g_raw = NULL;
	g->g_queued = 0;
	rc = ns_auth_read(t, rq->rq_ns, &g->g_raw, &g->g_rawlen);
	if (rc == STORE_NOTFOUND)
		return STORE_OK;
	if (rc == STORE_OK && (g->g_fc->fc_ep->ep_flags & EP_SUBMIT))
		rc = limit_queued_read(t, rq->rq_ns, &g->g_queued);
	return rc;
}

static const char *
fcgi_addr(const struct req *rq)
{
	return rq->rq_remote != NULL && *rq->rq_remote ? rq->rq_remote : "-";
}

/*
 * Failed authentications are counted per address and namespace (limit.h):
 * ns is the namespace when it exists, NULL for the address's bucket of
 * unknown namespaces.  -1 (rq holds the 429) once the bucket is full.
 */
static int
gate_authfail(const struct fcgi_ctx *fc, struct req *rq, const char *ns)
{
	const struct mias_conf	*c = fc->fc_conf;

	if (limit_authfail_count(fc->fc_win, fcgi_addr(rq), ns,
	    rq->rq_time) < (long long)c->c_limit_authfail)
		return 0;
	rq->rq_retry_after = (int)(60 - rq->rq_time % 60);
	req_error(rq, RC_TOO_MANY, "too many failed authentications from "
	    "this address%s; try again later", ns != NULL ? " for this "
	    "namespace" : "");
	return -1;
}

/* What needs no store: the failed authentications of the address for a
 * well-formed namespace (which need not exist: its bucket is empty then,
 * and gate_post looks at the unknown namespaces' one) or, for none or a
 * malformed one, the unknown namespaces' bucket; then the form of the
 * namespace and the token. */
static int
gate_pre(struct fcgi_ctx *fc, struct req *rq)
{
	enum rc			 rc;

	rq->rq_time = time(NULL);
	/* guessing tokens is slowed down first */
	if (gate_authfail(fc, rq, rq->rq_ns != NULL &&
	    ns_name_check(rq->rq_ns) == NULL ? rq->rq_ns : NULL) == -1)
		return -1;
	if ((rc = ns_auth_precheck(rq->rq_ns, rq->rq_token, rq->rq_msg,
	    sizeof(rq->rq_msg))) != RC_OK) {
		rq->rq_rc = rc;		/* rq_msg says why */
		rq->rq_authfail = 1;
		return -1;
	}
	return 0;
}

/* What gate_body read: the token, then the namespace's limits.  Done again
 * from the start when the transaction is retried. */
static int
gate_post(struct gate *g)
{
	const struct fcgi_ctx	*fc = g->g_fc;
	const struct mias_conf	*c = fc->fc_conf;
	struct req		*rq = g->g_rq;
	enum rc			 rc;

	json_object_put(rq->rq_nsrec);
	rq->rq_nsrec = NULL;
	rq->rq_counted = rq->rq_cors = 0;
	rq->rq_authfail = 0;
	/* a namespace that does not exist: the address's shared bucket */
	if ((rq->rq_ns_known = g->g_raw != NULL) == 0 &&
	    gate_authfail(g->g_fc, rq, NULL) == -1)
		return -1;
	rc = ns_auth_verify(fc->fc_keys, rq->rq_ns, rq->rq_token, g->g_raw,
	    g->g_rawlen, &rq->rq_nsrec, rq->rq_msg, sizeof(rq->rq_msg));
	if (rc != RC_OK) {
		rq->rq_rc = rc;
		if (rc == RC_INTERNAL)
			log_warnx("request %s: namespace %s: %s", rq->rq_id,
			    rq->rq_ns, rq->rq_msg);
		else
			rq->rq_authfail = 1;
		return -1;
	}
	rq->rq_counted = 1;
	rq->rq_cors = ns_origin_ok(rq->rq_nsrec, rq->rq_origin);
	if (windows_count(fc->fc_win, "r", rq->rq_ns, fc->fc_ep->ep_name,
	    rq->rq_time, 1, 0) >= (long long)c->c_limit_rps) {
		rq->rq_retry_after = 1;
		req_error(rq, RC_TOO_MANY, "more than %u requests per second "
		    "to %s for this namespace", c->c_limit_rps,
		    fc->fc_ep->ep_name);
		return -1;
	}
	if (g->g_queued >= (long long)c->c_limit_queued) {
		rq->rq_retry_after = 60;
		req_error(rq, RC_TOO_MANY, "this namespace has %u studies "
		    "queued or running, its limit; try again when some have "
		    "finished", c->c_limit_queued);
		return -1;
	}
	return 0;
}

/* The store's part of the gate, in a transaction of its own. */
static int
gate_txn(struct fcgi_ctx *fc, struct req *rq, struct gate *g)
{
	if (store_txn(fc->fc_store, gate_body, g) != 0) {
		log_warnx("request %s: store: %s", rq->rq_id,
		    store_errmsg(fc->fc_store));
		req_error(rq, RC_INTERNAL, "internal error: storage "
		    "unavailable");
		return -1;
	}
	return gate_post(g);
}

static int
fcgi_gate(struct fcgi_ctx *fc, struct req *rq)
{
	struct gate	g;
	int		ret;

	memset(&g, 0, sizeof(g));
	g.g_fc = fc;
	g.g_rq = rq;
	if (gate_pre(fc, rq) == -1)
		return -1;
	ret = gate_txn(fc, rq, &g);
	free(g.g_raw);
	return ret;
}

struct gated {
	struct gate	*gd_gate;
	int		(*gd_body)(struct store_txn *, void *);
	void		*gd_arg;
	int		 gd_done;	/* the gate decided */
	int		 gd_refused;
};

static int
gated_body(struct store_txn *t, void *arg)
{
	struct gated	*gd = arg;
	int		 rc;

	gd->gd_done = gd->gd_refused = 0;
	if ((rc = gate_body(t, gd->gd_gate)) != STORE_OK)
		return rc;
	gd->gd_done = 1;
	if (gate_post(gd->gd_gate) == -1) {
		gd->gd_refused = 1;
		return STORE_OK;	/* the handler's part is not run */
	}
	return gd->gd_body(t, gd->gd_arg);
}

int
req_txn(struct req *rq, int (*body)(struct store_txn *, void *), void *arg)
{
	struct gated	gd;
	int		rc;

	if (rq->rq_gate == NULL)
		return store_txn(rq->rq_store, body, arg);
	memset(&gd, 0, sizeof(gd));
	gd.gd_gate = rq->rq_gate;
	gd.gd_body = body;
	gd.gd_arg = arg;
	rc = store_txn(rq->rq_store, gated_body, &gd);
	if (!gd.gd_done)
		return rc;	/* the gate is still to do, after the handler */
	rq->rq_gate = NULL;
	return gd.gd_refused ? REQ_REFUSED : rc;
}

int
req_txn_ops(struct req *rq, int (*body)(struct store_txn *, void *),
    void *arg)
{
	int	rc;

	rc = req_txn(rq, body, arg);
	if (rc == OPS_UNBUILT && (rc = ops_build(rq->rq_store)) == STORE_OK)
		rc = req_txn(rq, body, arg);
	return rc;
}

/* The master's internal_url, as the master recorded it in meta.db
 * (dispatcher/standby.c), when that master is the one named. */
struct fwd_master {
	const char	*fm_addr;	/* HOST:PORT from the replication */
	char		 fm_url[512];
};

static int
fwd_master_body(struct store_txn *t, void *arg)
{
	struct fwd_master	*fm = arg;
	json_object		*o = NULL, *v;
	int			 rc;

	fm->fm_url[0] = '\0';
	if ((rc = store_get_json(t, SDB_META, "repl.master", 11, &o, 0)) != 0)
		return rc == STORE_NOTFOUND ? STORE_OK : rc;
	if (json_object_object_get_ex(o, "local", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    strcmp(json_object_get_string(v), fm->fm_addr) == 0 &&
	    json_object_object_get_ex(o, "url", &v) &&
	    json_object_is_type(v, json_type_string))
		snprintf(fm->fm_url, sizeof(fm->fm_url), "%s",
		    json_object_get_string(v));
	json_object_put(o);
	return STORE_OK;
}

/*
 * In a group, a write that reaches a replica is carried out on the master
 * (CONTRACT.md "Replication"): the request goes as it came (its target,
 * tokenId, namespace, Content-Type, Origin and body) to the master's
 * internal_url, and the master's answer goes back as it is.  0: this node
 * is the master (or no group), the request is handled here; 1: answered
 * (the answer written to io); -1: rq holds a retryable error.
 */
static int
fcgi_forward(struct fcgi_ctx *fc, struct fcgi_io *io, struct req *rq)
{
	static const struct { const char *param, *name; } pass[] = {
		{ "HTTP_TOKENID", "tokenId" },
		{ "HTTP_NAMESPACE", "namespace" },
		{ "CONTENT_TYPE", "Content-Type" },
		{ "HTTP_ORIGIN", "Origin" },
	};
	struct forward_resp	 fr;
	struct fwd_master	 fm;
	char			 master[300], url[2560], err[256], head[1536];
	char			*hdr[sizeof(pass) / sizeof(pass[0]) + 1];
	const char		*uri = io_param(io, "REQUEST_URI"), *v;
	size_t			 i, nh = 0;
	int			 role, hn, rc = -1;

	if (repl_conf() == NULL || !(fc->fc_ep->ep_flags & EP_POST))
		return 0;
	if ((role = store_role(fc->fc_store, master, sizeof(master))) ==
	    REPL_MASTER)
		return 0;
	memset(&fm, 0, sizeof(fm));
	fm.fm_addr = master;
	if (role != REPL_REPLICA || io_param(io, "HTTP_X_MIAS_FORWARDED") ||
	    uri == NULL || *uri != '/' ||
	    store_txn(fc->fc_store, fwd_master_body, &fm) != 0 ||
	    fm.fm_url[0] == '\0' || (size_t)snprintf(url, sizeof(url),
	    "%s%s", fm.fm_url, uri) >= sizeof(url)) {
		req_error(rq, RC_INTERNAL, "this node cannot reach the master "
		    "of its group now (an election may be under way): try "
		    "again");
		return -1;
	}
	for (i = 0; i < sizeof(pass) / sizeof(pass[0]); i++)
		if ((v = io_param(io, pass[i].param)) != NULL &&
		    strpbrk(v, "\r\n") == NULL &&
		    asprintf(&hdr[nh], "%s: %s", pass[i].name, v) != -1)
			nh++;
	hdr[nh] = NULL;
	if (forward_http("POST", url, (const char *const *)hdr, rq->rq_body,
	    rq->rq_bodylen, repl_conf()->rc_forward_timeout, &fr, err,
	    sizeof(err)) == -1 || fr.fr_status < 200 || fr.fr_status > 599) {
		log_warnx("request %s: forwarding to the master %s: %s",
		    rq->rq_id, master, fr.fr_status ? "bad status" : err);
		req_error(rq, RC_INTERNAL, "this node could not reach the "
		    "master of its group: try again");
		if (fr.fr_status)
			forward_resp_free(&fr);
		goto out;
	}
	hn = snprintf(head, sizeof(head), "Status: %ld %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
	    "%s\r\n", fr.fr_status, rc_http_reason((int)fr.fr_status),
	    fr.fr_ctype[0] ? fr.fr_ctype : "application/json; charset=utf-8",
	    fr.fr_len, fr.fr_hdrs);
	io_write(io, head, (size_t)hn);
	if (fr.fr_len > 0)
		io_write(io, fr.fr_body, fr.fr_len);
	rq->rq_rc = fr.fr_status == 200 ? RC_OK : RC_INTERNAL;
	forward_resp_free(&fr);
	rc = 1;
out:
	while (nh > 0) {
		nh--;
		crypto_wipe(hdr[nh], strlen(hdr[nh]));
		free(hdr[nh]);
	}
	return rc;
}

/* The end of an authenticated endpoint's request: it is counted, and its
 * audit record appended. */
static void
fcgi_account(struct fcgi_ctx *fc, struct req *rq)
{
	if (rq->rq_time == 0)
		rq->rq_time = time(NULL);
	if (rq->rq_authfail)
		limit_authfail_add(fc->fc_win, fcgi_addr(rq),
		    rq->rq_ns_known ? rq->rq_ns : NULL, rq->rq_time);
	if (fc->fc_win != NULL && rq->rq_counted)
		(void)windows_count(fc->fc_win, "r", rq->rq_ns,
		    fc->fc_ep->ep_name, rq->rq_time, 1, 1);
	if (audit_write(fc->fc_store, rq->rq_ns != NULL &&
	    ns_name_check(rq->rq_ns) == NULL ? rq->rq_ns : "-",
	    rq->rq_remote, fc->fc_ep->ep_name, rq->rq_audit_target[0] ?
	    rq->rq_audit_target : NULL, rc_code(rq->rq_rc)) == -1)
		log_warnx("request %s: audit record not written: %s",
		    rq->rq_id, strerror(errno));
}

static void
fcgi_handle(struct fcgi_ctx *fc, struct fcgi_io *io)
{
	char		 qbuf[8192];
	struct req	 rq;
	struct gate	 gate;
	size_t		 bodylen, got;
	int		 forwarded = 0;

	memset(&rq, 0, sizeof(rq));
	memset(&gate, 0, sizeof(gate));
	crypto_uuid(rq.rq_id);
	rq.rq_method = io_param(io, "REQUEST_METHOD");
	rq.rq_query = fcgi_query(io, qbuf, sizeof(qbuf));
	rq.rq_token = io_param(io, "HTTP_TOKENID");
	rq.rq_ns = io_param(io, "HTTP_NAMESPACE");
	rq.rq_remote = io_param(io, "REMOTE_ADDR");
	rq.rq_origin = io_param(io, "HTTP_ORIGIN");
	rq.rq_authorization = io_param(io, "HTTP_AUTHORIZATION");
	/* echoed in a header: nothing that could end it */
	if (rq.rq_origin != NULL && (jv_printable(rq.rq_origin) != NULL ||
	    strlen(rq.rq_origin) > 512))
		rq.rq_origin = NULL;
	rq.rq_rc = RC_OK;
	if (rq.rq_method != NULL && strcmp(rq.rq_method, "OPTIONS") == 0) {
		fcgi_preflight(fc, io, &rq);
		return;
	}

	if (fcgi_ready(fc) == -1) {
		rq.rq_is_post = rq.rq_method && !strcmp(rq.rq_method, "POST");
		req_error(&rq, RC_INTERNAL, "internal error: the service is "
		    "not configured correctly (see the server log)");
		goto out;
	}
	rq.rq_conf = fc->fc_conf;
	rq.rq_store = fc->fc_store;
	rq.rq_keys = fc->fc_keys;

	if (fcgi_precheck(fc, io, &rq, &bodylen) == -1)
		goto out;
	if ((fc->fc_ep->ep_flags & (EP_AUTH | EP_GET)) == (EP_AUTH | EP_GET)) {
		/* in the handler's transaction (req_txn) */
		if (gate_pre(fc, &rq) == -1)
			goto out;
		gate.g_fc = fc;
		gate.g_rq = &rq;
		rq.rq_gate = &gate;
	} else if ((fc->fc_ep->ep_flags & EP_AUTH) &&
	    fcgi_gate(fc, &rq) == -1)
		goto out;
	if (bodylen == FCGI_LENGTH_UNKNOWN) {
		size_t max = fc->fc_conf->c_max_body_bytes;

		if ((rq.rq_body = malloc(max + 2)) == NULL) {
			req_error(&rq, RC_INTERNAL, "internal error: out of "
			    "memory");
			goto out;
		}
		got = io_read(io, rq.rq_body, max + 1);
		rq.rq_body[got] = '\0';
		rq.rq_bodylen = got;
		if (got > max) {
			req_error(&rq, RC_TOO_LARGE, "request body is over the "
			    "limit of %zu bytes", max);
			goto out;
		}
	} else {
		if ((rq.rq_body = malloc(bodylen + 1)) == NULL) {
			req_error(&rq, RC_INTERNAL, "internal error: out of "
			    "memory");
			goto out;
		}
		got = io_read(io, rq.rq_body, bodylen);
		rq.rq_body[got] = '\0';
		rq.rq_bodylen = got;
		if (got != bodylen) {
			req_error(&rq, RC_INVALID, "request body ended after "
			    "%zu of %zu bytes", got, bodylen);
			goto out;
		}
	}
	switch (fcgi_forward(fc, io, &rq)) {
	case 1:			/* the master answered */
		forwarded = 1;
		goto out;
	case -1:		/* rq holds the error */
		goto out;
	default:
		break;
	}
	fc->fc_ep->ep_handler(&rq);
	if (rq.rq_gate != NULL) {
		/* answered without the store: authenticated now, and a
		 * refusal is the answer */
		rq.rq_gate = NULL;
		if (gate_txn(fc, &rq, &gate) == -1) {
			json_object_put(rq.rq_data);
			rq.rq_data = NULL;
			goto out;
		}
	}
	if (rq.rq_rc == RC_INTERNAL)
		log_warnx("request %s: %s (store: %s)", rq.rq_id, rq.rq_msg,
		    store_errmsg(fc->fc_store));
out:
	/* who did what: every authenticated endpoint, refusals included */
	if ((fc->fc_ep->ep_flags & EP_AUTH) && fc->fc_store != NULL)
		fcgi_account(fc, &rq);
	if (!forwarded)
		fcgi_respond(io, &rq, fc->fc_ep);
	if (rq.rq_body != NULL) {
		/* bodies carry OSS secrets */
		crypto_wipe(rq.rq_body, rq.rq_bodylen);
		free(rq.rq_body);
	}
	json_object_put(rq.rq_nsrec);
	free(rq.rq_text);
	free(gate.g_raw);
}

/*
 * libfcgi frees what a request brought without wiping it: the parameters
 * (HTTP_TOKENID among them), each a string of its own in envp, and the
 * input stream's buffer, which last held the parameters' and the body's
 * records (OSS secrets).  fcgi_wipe() wipes both before FCGX_Finish_r()
 * frees them.  The buffer is reached through the stream's private data,
 * whose first members (buff, bufflen, mBuff: the aligned buffer, its
 * length and the block malloc returned) are the same in every libfcgi
 * from 2.0 to 2.4.2; they are trusted only when they agree with the
 * stream's public pointers, and otherwise only the bytes between those
 * are wiped.  What libfcgi frees on its own, out of our reach, is in
 * doc/SECURITY.md.
 */
struct fcgi_stream_head {	/* FCGX_Stream_Data (fcgiapp.c), its head */
	unsigned char	*buff;
	int		 bufflen;
	unsigned char	*mBuff;
};

static int
fcgi_in_buffer(const unsigned char *p, const unsigned char *b, size_t len)
{
	return (uintptr_t)p >= (uintptr_t)b && (uintptr_t)p <= (uintptr_t)b +
	    len;
}

static void
fcgi_wipe_stream(FCGX_Stream *s)
{
	const struct fcgi_stream_head	*h;
	size_t				 len;

	if (s == NULL)
		return;
	h = s->data;
	if (h != NULL && h->mBuff != NULL && h->bufflen > 0 &&
	    (uintptr_t)h->buff >= (uintptr_t)h->mBuff &&
	    (uintptr_t)h->buff < (uintptr_t)h->mBuff + 8 &&
	    fcgi_in_buffer(s->rdNext, h->buff, (size_t)h->bufflen) &&
	    fcgi_in_buffer(s->stop, h->buff, (size_t)h->bufflen) &&
	    (len = malloc_usable_size(h->mBuff)) >= (size_t)h->bufflen) {
		explicit_bzero(h->mBuff, len);
		return;
	}
	if (s->stopUnget != NULL && (uintptr_t)s->stop >
	    (uintptr_t)s->stopUnget)
		explicit_bzero(s->stopUnget, (size_t)(s->stop - s->stopUnget));
}

static void
fcgi_wipe(FCGX_Request *r)
{
	char **p;

	fcgi_wipe_stream(r->in);
	for (p = r->envp; p != NULL && *p != NULL; p++)
		explicit_bzero(*p, strlen(*p));
}

/* --- several requests at once --------------------------------------- */

static int
fcgi_threads(const struct endpoint *ep)
{
	const char	*env = getenv("MIAS_THREADS");
	char		*end;
	long		 n = ep->ep_threads > 0 ? ep->ep_threads : 1;

	if (env != NULL && *env != '\0') {
		errno = 0;
		n = strtol(env, &end, 10);
		if (errno != 0 || *end != '\0' || n < 1 ||
		    n > FCGI_THREADS_MAX) {
			log_warnx("MIAS_THREADS=%s: not a number from 1 to %d; "
			    "using %d", env, FCGI_THREADS_MAX,
			    ep->ep_threads > 0 ? ep->ep_threads : 1);
			n = ep->ep_threads > 0 ? ep->ep_threads : 1;
		}
	}
	return (int)n;
}

/*
 * A request thread: accepts and answers until the main thread stops it
 * with SIGUSR2, which ends accept() (EINTR, and libfcgi gives up once
 * shutdown is pending).  SIGUSR2 is blocked while a request is in hand,
 * so that it never interrupts the request's own reads and writes: one
 * sent meanwhile is taken before the next accept().
 */
static void *
fcgi_thread(void *arg)
{
	struct fcgi_ctx	*fc = arg;
	struct fcgi_io	 io;
	FCGX_Request	 r;
	sigset_t	 set;
	int		 rc;

	(void)pthread_setname_np(pthread_self(), "mias-request");
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	if (FCGX_InitRequest(&r, 0, 0) != 0) {
		log_warnx("cannot initialise a FastCGI request");
		return NULL;
	}
	io.io_fcgi = &r;
	for (;;) {
		pthread_sigmask(SIG_UNBLOCK, &set, NULL);
		if (fcgi_quit)
			break;
		rc = FCGX_Accept_r(&r);
		pthread_sigmask(SIG_BLOCK, &set, NULL);
		if (rc < 0)
			break;
		fcgi_handle(fc, &io);
		fcgi_wipe(&r);
		FCGX_Finish_r(&r);
		secmem_scrub_registers();
	}
	FCGX_Free(&r, 1);
	ns_cache_clear();	/* this thread's */
	/* ended by a failed accept rather than by the main thread: tell it
	 * (it is the only thread that takes SIGUSR1) */
	if (!fcgi_quit)
		kill(getpid(), SIGUSR1);
	return NULL;
}

/*
 * n threads answer requests; this one waits for SIGTERM or SIGUSR1 (they
 * are blocked in the others, so they come here), then ends every thread's
 * accept with SIGUSR2 -- again every 100 ms, for one that was about to
 * enter accept() when the first came -- and lets requests in hand finish
 * (they hold SIGUSR2 until then).
 * 0 once all have ended; -1 if one is still busy after 30 s (its request
 * is stuck; the caller then leaves the store to recovery).
 */
static int
fcgi_run_threads(struct fcgi_ctx *fc, int n)
{
	struct sigaction	 sa;
	struct timespec		 until;
	sigset_t		 block, old;
	pthread_t		*thr;
	int			*live, i, started = 0, left, waited;

	if ((thr = calloc((size_t)n, sizeof(*thr))) == NULL ||
	    (live = calloc((size_t)n, sizeof(*live))) == NULL)
		fatalx("out of memory");
	/* malloc would give each thread an arena of its own; the threads
	 * mostly wait on the disk and locks (their small blocks come from
	 * per-thread caches without the arena's lock), and memory is what a
	 * responder should not spend: one arena (bench/ row 5a: a second
	 * one held 0.2-0.3 MB of executeAnalysis's 3 MB) */
	(void)mallopt(M_ARENA_MAX, 1);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fcgi_sigterm;
	sigaction(SIGUSR2, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	for (i = 0; i < n; i++)
		if (pthread_create(&thr[i], NULL, fcgi_thread, fc) == 0)
			live[i] = 1, started++;
	if (started == 0)
		fatalx("cannot start a request thread");
	if (started < n)
		log_warnx("%d of %d request threads started", started, n);

	sigdelset(&old, SIGTERM);
	sigdelset(&old, SIGUSR1);
	sigaddset(&old, SIGUSR2);
	while (!fcgi_quit)
		sigsuspend(&old);	/* returns after a handler ran */

	for (waited = 0, left = started; left > 0 && waited < 300; waited++) {
		for (i = 0; i < n; i++) {
			if (!live[i])
				continue;
			pthread_kill(thr[i], SIGUSR2);
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += 100 * 1000 * 1000 / left;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			if (pthread_timedjoin_np(thr[i], NULL, &until) == 0) {
				live[i] = 0;
				left--;
			}
		}
	}
	free(thr);
	free(live);
	if (left > 0) {
		log_warnx("%d request threads still busy 30 s after the stop "
		    "signal; leaving without closing the store", left);
		return -1;
	}
	return 0;
}

int
fcgi_main(int argc, char *argv[], const struct endpoint *ep)
{
	struct fcgi_ctx		 fc;
	struct fcgi_io		 io;
	struct sigaction	 sa;
	FCGX_Request		 r;
	int			 ch, threads;
	static const struct option longopts[] = {
		{ "version",	no_argument,	NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};

	memset(&fc, 0, sizeof(fc));
	fc.fc_ep = ep;
	log_init(ep->ep_name, 1);	/* stderr: the web server's error log */
	/* Under plain CGI a query string without '=' becomes our argv
	 * (RFC 3875 4.4): a caller could name our configuration.  Only a
	 * command line typed by someone counts. */
	if (getenv("GATEWAY_INTERFACE") != NULL)
		argc = 1;
	while ((ch = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			fc.fc_conf_path = optarg;
			break;
		case 'V':
			printf("%s.fcgi %s\n", ep->ep_name, PACKAGE_VERSION);
			return 0;
		default:
			fprintf(stderr, "usage: %s.fcgi [-c file]\n"
			    "       %s.fcgi --version\n", ep->ep_name,
			    ep->ep_name);
			return 2;
		}
	}
	if (fc.fc_conf_path == NULL)
		fc.fc_conf_path = getenv("MIAS_CONF");
	if (fc.fc_conf_path == NULL || *fc.fc_conf_path == '\0')
		fc.fc_conf_path = conf_default_path();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	(void)fcgi_ready(&fc);

	if (FCGX_IsCGI()) {
		/* the body goes straight to our buffer, which is wiped, and
		 * not through one of stdio's */
		setvbuf(stdin, NULL, _IONBF, 0);
		io.io_fcgi = NULL;
		fcgi_handle(&fc, &io);
		fflush(stdout);
		goto out;
	}
	/* The web server stops us with SIGTERM (lighttpd, mod_fcgid); we
	 * take SIGUSR1 the same way.  The request in hand is finished. */
	sa.sa_handler = fcgi_sigterm;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	if (FCGX_Init() != 0)
		fatalx("%s: cannot initialise FastCGI", ep->ep_name);
	if ((threads = fcgi_threads(ep)) > 1) {
		if (fcgi_run_threads(&fc, threads) == -1)
			goto leave;	/* a thread is stuck: no clean close */
		goto out;
	}
	if (FCGX_InitRequest(&r, 0, 0) != 0)
		fatalx("%s: cannot initialise FastCGI", ep->ep_name);
	io.io_fcgi = &r;
	sa.sa_handler = fcgi_sigalrm;
	sigaction(SIGALRM, &sa, NULL);
	fcgi_single = 1;
	if (fcgi_quit)
		alarm(1);	/* the stop came before */
	while (!fcgi_quit && FCGX_Accept_r(&r) >= 0) {
		fcgi_handle(&fc, &io);
		fcgi_wipe(&r);
		FCGX_Finish_r(&r);
		secmem_scrub_registers();
	}
out:
	ns_cache_clear();
	windows_close(fc.fc_win);
	store_close(fc.fc_store);
	conf_free(fc.fc_conf);
leave:
	crypto_keys_free(fc.fc_keys);
	return 0;
}
