/* http.h -- the one HTTP layer on libcurl: handle options, the egress check at connect time, timeouts, response fields */
#ifndef MIAS_HTTP_H
#define MIAS_HTTP_H

#include <stddef.h>

#include <curl/curl.h>

struct egress_policy;

/*
 * The egress check of one transfer.  It runs on every address curl is
 * about to connect to, after DNS, so a name that resolves (or
 * re-resolves) to an address [egress] refuses gets no connection.  This
 * is the only place the check is installed: OSS transfers and the
 * dispatcher's engine triggers and callbacks all come through
 * http_setup().
 */
#define HTTP_WHY_MAX	512

struct http_egress {
	const struct egress_policy *he_policy;	/* NULL: not checked */
	const char	*he_host;	/* the host the URL names */
	const char	*he_also;	/* or NULL: a name whose allow_hosts
					 * entry also covers he_host (the
					 * endpoint of bucket.endpoint) */
	unsigned	 he_refused;	/* addresses refused ... */
	unsigned	 he_allowed;	/* ... and allowed */
	char		 he_why[HTTP_WHY_MAX];	/* the last refusal, for the
						 * log only: it names the
						 * address */
};

/* What a transfer is, beyond its callbacks. */
struct http_opts {
	const char		*ho_url;
	struct curl_slist	*ho_headers;	/* kept by pointer */
	const char		*ho_user_agent;
	long			 ho_connect_timeout_ms;
	long			 ho_timeout_ms;		/* whole transfer; 0:
							 * none */
	long			 ho_low_speed_limit;	/* bytes/s below ... */
	long			 ho_low_speed_time;	/* ... for s: 0 none */
	const char		*ho_ca_file;	/* NULL: the system's store */
	int			 ho_path_as_is;	/* send "../" in a path */
	char			*ho_errbuf;	/* CURL_ERROR_SIZE, or NULL */
};

/*
 * Set h up for one exchange: the options above, http and https only, no
 * redirects, no proxy whatever the environment, no signals, peers
 * verified over TLS 1.2 or later, and the egress check (eg, kept by
 * pointer until the transfer ends; its counters are zeroed).  The
 * method, body and callbacks are the caller's.  CURLE_OK or the first
 * option curl refused.
 */
CURLcode	 http_setup(CURL *h, const struct http_opts *,
		    struct http_egress *eg);

/* A multi handle for transfers run side by side: at most conns
 * connections open at once, and as many kept for reuse.  NULL on failure. */
CURLM		*http_multi_new(long conns);

/*
 * A response field of the last response h received (1xx heads aside),
 * by name in any case; the last one when it came several times.  NULL
 * when absent.  Valid until h's next transfer; may be called from the
 * header callback once the head is complete.
 */
const char	*http_field(CURL *h, const char *name);

/* The seconds a 429 or 503 asks to wait (Retry-After: seconds or an
 * HTTP date, a past date being 0), or -1 when it sent none that can be
 * understood. */
long		 http_retry_after(CURL *h);

#endif /* MIAS_HTTP_H */
