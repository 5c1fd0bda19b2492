/* fcgi.h -- the request loop shared by every responder (FastCGI or CGI) */
#ifndef MIAS_FCGI_H
#define MIAS_FCGI_H

#include <stddef.h>
#include <time.h>

#include <json-c/json.h>

#include "resp.h"

struct mias_conf;
struct store;
struct crypto_keys;

#define EP_GET		0x01
#define EP_POST		0x02
#define EP_AUTH		0x10	/* tokenId + namespace checked before the handler */
#define EP_SUBMIT	0x20	/* starts work: [limits] queued_studies applies */

/*
 * One request as the handler sees it.  Input fields are validated by the
 * loop (method, content type, size, authentication when EP_AUTH) before
 * the handler runs; the handler reads rq_body / rq_query and sets the
 * output with req_reply() or req_error().
 */
struct gate;
struct store_txn;

struct req {
	const char		*rq_method;
	const char		*rq_query;	/* QUERY_STRING, maybe "" */
	const char		*rq_token;	/* header tokenId, or NULL */
	const char		*rq_ns;		/* header namespace, or NULL */
	const char		*rq_remote;	/* REMOTE_ADDR, for the audit trail */
	const char		*rq_origin;	/* header Origin, or NULL */
	const char		*rq_authorization;	/* header Authorization,
						 * or NULL (metrics only) */
	int			 rq_cors;	/* echo rq_origin (allowed) */
	int			 rq_retry_after;	/* seconds, with 100010 */
	const char		*rq_role;	/* X-Mias-Role (health, in a
						 * group), a static string */
	time_t			 rq_time;	/* when authenticated: rate windows */
	int			 rq_authfail;	/* a wrong token: counted */
	int			 rq_ns_known;	/* rq_ns exists: its failures
						 * count in its own bucket */
	int			 rq_counted;	/* authenticated: counted */
	char			 rq_audit_target[160];	/* the study, for the
						 * audit trail; "" if none */
	char			*rq_body;	/* NUL-terminated */
	size_t			 rq_bodylen;
	int			 rq_is_post;

	const struct mias_conf	*rq_conf;
	struct store		*rq_store;	/* NULL: storage unavailable */
	const struct crypto_keys *rq_keys;
	json_object		*rq_nsrec;	/* the authenticated namespace */
	char			 rq_id[37];	/* requestId */

	enum rc			 rq_rc;
	char			 rq_msg[512];
	json_object		*rq_data;	/* envelope data, or NULL */
	char			*rq_text;	/* malloc'd: answered as it is
						 * instead of an envelope
						 * (req_text), or NULL */
	size_t			 rq_textlen;
	struct gate		*rq_gate;	/* the authentication still to
						 * do, in req_txn */
};

struct endpoint {
	const char	*ep_name;	/* "executeAnalysis", for logs */
	int		 ep_flags;	/* EP_GET | EP_POST | EP_AUTH */
	void		(*ep_handler)(struct req *);
	int		 ep_threads;	/* requests at once per FastCGI
					 * process (0: 1); $MIAS_THREADS
					 * overrides */
};

/*
 * The responder's main: reads the configuration (-c FILE, else MIAS_CONF,
 * else the default), opens the key file and the store, then answers
 * requests until the web server stops it.  Works as plain CGI too (one
 * request) when standard input is not a FastCGI listening socket.
 * Configuration and storage errors answer 100001 rather than exit, so the
 * web server does not respawn a failing process in a loop.
 *
 * With more than one thread (ep_threads, $MIAS_THREADS, at most
 * FCGI_THREADS_MAX), each thread accepts and answers requests on the
 * shared listening socket, and the main thread only waits for SIGTERM or
 * SIGUSR1, then stops them: requests that wait on the disk (a durable
 * submission) share one log flush (group commit) instead of queueing
 * behind each other.
 */
#define FCGI_THREADS_MAX	64
int	fcgi_main(int argc, char *argv[], const struct endpoint *);

void	req_reply(struct req *, json_object *data);	/* 000000 */
/* An error whose envelope still carries data (100005 progress, 100006
 * partial findings); data is consumed. */
void	req_error_data(struct req *, enum rc, json_object *data,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* A 200 answer that is no envelope (the metrics' Prometheus text):
 * text, malloc'd, is consumed. */
void	req_text(struct req *, char *text, size_t len);
void	req_error(struct req *, enum rc, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/*
 * The handler's transaction (store_txn's codes).  A GET endpoint's
 * authentication (EP_AUTH) is done at the start of this transaction
 * instead of in one of its own, before body runs; REQ_REFUSED when it
 * refused the request (rq holds the answer: return without touching it).
 * Should the handler answer without calling it, the authentication is
 * done after it, and a refusal replaces the handler's answer.
 */
#define REQ_REFUSED	(-100)
int	req_txn(struct req *, int (*body)(struct store_txn *, void *),
	    void *arg);
/* req_txn for a body that reads the ops index or counts (ops_need,
 * ops.h): where it answers OPS_UNBUILT, they are built (by a caller the
 * gateway has authenticated by then) and body runs again. */
int	req_txn_ops(struct req *, int (*body)(struct store_txn *, void *),
	    void *arg);

#endif /* MIAS_FCGI_H */
