/* url.h -- checks on URLs and OSS endpoints that callers hand us */
#ifndef MIAS_URL_H
#define MIAS_URL_H

#include <stddef.h>

#include <json-c/json.h>

struct egress_policy;

#define URL_MAX		2048
#define URL_HOST_MAX	256

/*
 * The rule for every host a caller gives (callback URLs, OSS endpoints):
 * ASCII only, also once %XX is decoded.  Debian's libcurl cannot convert
 * an internationalised name (IDN) in the C locale the programs run in, so
 * such a host (fullwidth and ideographic dots U+FF0E, U+3002, U+FF61
 * included) would be accepted and then fail at every attempt; callers
 * write it in its xn-- form.  NULL when the host is ASCII, else
 * url_not_ascii (responders answer it with 100009).
 */
extern const char	 url_not_ascii[];
const char	*url_host_ascii(const char *host);

/*
 * A callback URL a caller gave: http or https, a host, no user:password,
 * the host among the namespace's callback hosts when it lists any, and
 * not a literal address that [egress] refuses (names are checked again
 * after DNS, when the dispatcher connects).  NULL when acceptable, else
 * why not (a phrase for returnMessage).
 */
const char	*url_callback_check(const char *url,
		    const struct egress_policy *, json_object *nsrec,
		    char *why, size_t whylen);

/*
 * An OSS endpoint as callers write it ("oss-cn-beijing.aliyuncs.com",
 * "https://host:port", "127.0.0.1:9000").  Fills host (without brackets
 * or port); NULL when well formed, else why not: url_not_ascii for a host
 * that is not ASCII.
 */
const char	*url_endpoint_parse(const char *endpoint, char *host,
		    size_t hostlen);

/* Like url_callback_check for the endpoint's host: NULL or why not. */
const char	*url_endpoint_check(const char *endpoint,
		    const struct egress_policy *, char *why, size_t whylen);

#endif /* MIAS_URL_H */
