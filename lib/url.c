/* url.c -- checks on callback URLs and on hosts that callers hand us */
#include <sys/socket.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "egress.h"
#include "hex.h"
#include "jv.h"
#include "ns.h"
#include "url.h"

const char url_not_ascii[] = "host is not ASCII; write an internationalised "
    "name in its ASCII (xn--) form";

const char *
url_host_ascii(const char *host)
{
	const unsigned char	*p;

	for (p = (const unsigned char *)host; *p != '\0'; p++) {
		if (*p >= 0x80)
			return url_not_ascii;
		/* "%E3%80%82" is U+3002 once curl has decoded it */
		if (*p == '%' && hex_digit(p[1]) >= 8 &&
		    hex_digit(p[2]) >= 0)
			return url_not_ascii;
	}
	return NULL;
}

/* "localhost" and its subdomains never leave the machine (RFC 6761). */
static int
url_is_localhost(const char *host)
{
	size_t len = strlen(host);

	if (len > 0 && host[len - 1] == '.')
		len--;		/* the absolute form "localhost." */
	return (len == 9 && strncasecmp(host, "localhost", 9) == 0) ||
	    (len > 10 && strncasecmp(host + len - 10, ".localhost", 10) == 0);
}

const char *
url_host_check(const char *host, const struct egress_policy *ep, char *why,
    size_t whylen)
{
	struct sockaddr_storage ss;

	if (egress_literal_refused(ep, host, &ss) ||
	    (url_is_localhost(host) && !ep->ep_allow_private &&
	    !egress_host_listed(ep, host))) {
		/* the host is the caller's own text; why it is refused
		 * (its class, the policy) is not told */
		snprintf(why, whylen, "host %s is %s", host,
		    egress_refused_text);
		return why;
	}
	return NULL;
}

/*
 * curl decodes %XX in a URL's host ("http://a%ff.example/" has the host
 * "a\xff.example"), so a host is checked again as text: printable UTF-8,
 * as the JSON string it came in was.  Otherwise such a URL was accepted,
 * or its bytes echoed into returnMessage.
 */
static int
url_host_text_ok(const char *host)
{
	char		 q[URL_HOST_MAX + 2];
	const char	*why;
	size_t		 n = strlen(host), i, off;

	if (n + 2 > sizeof(q))
		return 0;
	q[0] = '"';
	for (i = 0; i < n; i++) {
		if ((unsigned char)host[i] < 0x20 || host[i] == 0x7f ||
		    host[i] == '"' || host[i] == '\\')
			return 0;
		q[i + 1] = host[i];
	}
	q[n + 1] = '"';
	return jv_strict(q, n + 2, &off, &why) == 0;
}

const char *
url_callback_check(const char *url, const struct egress_policy *ep,
    json_object *nsrec, char *why, size_t whylen)
{
	CURLU		*u;
	char		*scheme = NULL, *host = NULL, *user = NULL;
	char		 bare[URL_HOST_MAX];
	const char	*res = why;
	size_t		 len;

	if ((u = curl_url()) == NULL) {
		snprintf(why, whylen, "out of memory");
		return why;
	}
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) !=
	    CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		snprintf(why, whylen, "not a valid absolute URL");
		goto out;
	}
	if (strcasecmp(scheme, "http") && strcasecmp(scheme, "https")) {
		snprintf(why, whylen, "scheme %s is not allowed; use http or "
		    "https", scheme);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
		snprintf(why, whylen, "must not carry a user name or "
		    "password");
		goto out;
	}
	len = strlen(host);
	if (len == 0 || len >= sizeof(bare)) {
		snprintf(why, whylen, "host is missing or too long");
		goto out;
	}
	if (url_host_ascii(host) != NULL) {
		snprintf(why, whylen, "%s", url_not_ascii);
		goto out;
	}
	if (!url_host_text_ok(host)) {
		snprintf(why, whylen, "host holds characters a host name "
		    "cannot");
		goto out;
	}
	if (host[0] == '[' && host[len - 1] == ']') {
		memcpy(bare, host + 1, len - 2);
		bare[len - 2] = '\0';
	} else
		memcpy(bare, host, len + 1);
	if (nsrec != NULL && !ns_callback_host_ok(nsrec, bare)) {
		snprintf(why, whylen, "host %s is not a callback host of this "
		    "namespace", bare);
		goto out;
	}
	res = url_host_check(bare, ep, why, whylen);
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_url_cleanup(u);
	return res;
}
