/* forward.c -- a write that reaches a replica, carried to the master of
 * the group through the one HTTP layer (forward.h, http.h) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "buf.h"
#include "crypto.h"
#include "forward.h"
#include "http.h"

#define FORWARD_BODY_MAX	(64 * 1024 * 1024)

static pthread_once_t	forward_once = PTHREAD_ONCE_INIT;
static int		forward_ready;

static void
forward_init(void)
{
	forward_ready = crypto_curl_init() == 0;
}

static size_t
forward_body(char *p, size_t size, size_t n, void *arg)
{
	struct forward_resp	*fr = arg;

	return buf_add(&fr->fr_body, &fr->fr_len, &fr->fr_cap,
	    FORWARD_BODY_MAX, p, size * n) == 0 ? size * n : 0;
}

/* The fields of the master's answer that mias's own answers carry. */
static void
forward_fields(CURL *c, struct forward_resp *fr)
{
	static const char *const keep[] = { "Retry-After", "Vary",
	    "Access-Control-Allow-Origin", "X-Mias-Role", NULL };
	const char	*v;
	size_t		 i, have;

	if ((v = http_field(c, "Content-Type")) != NULL &&
	    strlen(v) < sizeof(fr->fr_ctype))
		snprintf(fr->fr_ctype, sizeof(fr->fr_ctype), "%s", v);
	for (i = 0; keep[i] != NULL; i++) {
		if ((v = http_field(c, keep[i])) == NULL)
			continue;
		have = strlen(fr->fr_hdrs);
		if (have + strlen(keep[i]) + strlen(v) + 5 <
		    sizeof(fr->fr_hdrs))
			snprintf(fr->fr_hdrs + have, sizeof(fr->fr_hdrs) - have,
			    "%s: %s\r\n", keep[i], v);
	}
}

int
forward_http(const char *method, const char *url,
    const char *const *headers, const char *body, size_t len,
    unsigned timeout, struct forward_resp *out, char *err, size_t errlen)
{
	CURL			*c = NULL;
	struct curl_slist	*h = NULL, *n;
	struct http_egress	 eg;	/* the group's own nodes: not checked */
	struct http_opts	 o;
	char			 ebuf[CURL_ERROR_SIZE];
	CURLcode		 cc;
	int			 rc = -1;

	memset(out, 0, sizeof(*out));
	memset(&eg, 0, sizeof(eg));
	if (errlen > 0)
		err[0] = '\0';
	pthread_once(&forward_once, forward_init);
	if (!forward_ready || (c = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "cannot initialise libcurl");
		return -1;
	}
	for (; headers != NULL && *headers != NULL; headers++) {
		if ((n = curl_slist_append(h, *headers)) == NULL)
			goto out;
		h = n;
	}
	if ((n = curl_slist_append(h, FORWARD_MARK ": 1")) == NULL ||
	    (h = n, n = curl_slist_append(h, "Expect:")) == NULL)
		goto out;
	h = n;
	memset(&o, 0, sizeof(o));
	o.ho_url = url;
	o.ho_headers = h;
	o.ho_connect_timeout_ms = 1000L * (timeout < 3 ? timeout : 3);
	o.ho_timeout_ms = 1000L * timeout;
	o.ho_errbuf = ebuf;
	if ((cc = http_setup(c, &o, &eg)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, forward_body)) !=
	    CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_WRITEDATA, out)) != CURLE_OK) {
		snprintf(err, errlen, "%s", curl_easy_strerror(cc));
		goto out;
	}
	if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body != NULL ? body :
		    "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)len);
	}
	if ((cc = curl_easy_perform(c)) != CURLE_OK) {
		snprintf(err, errlen, "%s", curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->fr_status);
	forward_fields(c, out);
	rc = 0;
out:
	if (rc == -1) {
		if (err[0] == '\0')
			snprintf(err, errlen, "out of memory");
		forward_resp_free(out);
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return rc;
}

void
forward_resp_free(struct forward_resp *fr)
{
	if (fr->fr_body != NULL) {
		crypto_wipe(fr->fr_body, fr->fr_len);
		free(fr->fr_body);
	}
	fr->fr_body = NULL;
	fr->fr_len = fr->fr_cap = 0;
}
