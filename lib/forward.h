/* forward.h -- a write that reaches a replica, carried to the master of
 * the group (CONTRACT.md "Replication": the one network hop a responder
 * makes, to a URL of the group's own configuration) */
#ifndef MIAS_FORWARD_H
#define MIAS_FORWARD_H

#include <stddef.h>

/* The header that marks a forwarded request: it is never forwarded again
 * (two nodes that each think the other is master do not bounce it). */
#define FORWARD_MARK	"X-Mias-Forwarded"

struct forward_resp {
	long	 fr_status;
	char	*fr_body;		/* malloc'd; the caller frees it */
	size_t	 fr_len;
	size_t	 fr_cap;
	char	 fr_ctype[128];		/* Content-Type, "" when none */
	char	 fr_hdrs[1024];		/* the headers passed back (Retry-After,
					 * Vary, Access-Control-Allow-Origin),
					 * each ending in CRLF */
};

/*
 * POST (or GET) url with the request's own headers (name: value lines,
 * NULL-terminated; FORWARD_MARK added) and body, within timeout seconds,
 * no redirect followed.  0 and *out, or -1 with err (no header values or
 * body in it: they carry tokens and OSS secrets).
 */
int	forward_http(const char *method, const char *url,
	    const char *const *headers, const char *body, size_t len,
	    unsigned timeout, struct forward_resp *out, char *err,
	    size_t errlen);
void	forward_resp_free(struct forward_resp *);

#endif /* MIAS_FORWARD_H */
