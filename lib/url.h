/* url.h -- checks on callback URLs and on hosts that callers hand us */
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
 * Whether [egress] lets us reach host (a callback URL's or an OSS
 * endpoint's, as oss_endpoint_parse() gives it) as far as can be told
 * before DNS: an address literal it refuses, or localhost where private
 * addresses are refused, is not.  Names are checked again after DNS, when
 * the dispatcher connects.  NULL when acceptable, else why not (in why).
 */
const char	*url_host_check(const char *host,
		    const struct egress_policy *, char *why, size_t whylen);

#endif /* MIAS_URL_H */
