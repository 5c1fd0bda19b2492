/* forward.c -- a write that reaches a replica, carried to the master of
 * the group with libcurl (forward.h) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "crypto.h"
#include "forward.h"

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
	size_t			 len = size * n;
	char			*b;

	if (fr->fr_len + len > FORWARD_BODY_MAX ||
	    (b = realloc(fr->fr_body, fr->fr_len + len + 1)) == NULL)
		return 0;
	memcpy(b + fr->fr_len, p, len);
	fr->fr_len += len;
	b[fr->fr_len] = '\0';
	fr->fr_body = b;
	return len;
}

/* The headers of the master's answer that mias's own answers carry. */
static size_t
forward_header(char *p, size_t size, size_t n, void *arg)
{
	static const char *const keep[] = { "Retry-After:", "Vary:",
	    "Access-Control-Allow-Origin:", "X-Mias-Role:", NULL };
	struct forward_resp	*fr = arg;
	size_t			 len = size * n, i, l, have;

	if (len > 12 && strncasecmp(p, "Content-Type:", 13) == 0) {
		const char *v = p + 13;

		while (*v == ' ' && v < p + len)
			v++;
		l = (size_t)(p + len - v);
		while (l > 0 && (v[l - 1] == '\r' || v[l - 1] == '\n'))
			l--;
		if (l < sizeof(fr->fr_ctype))
			snprintf(fr->fr_ctype, sizeof(fr->fr_ctype), "%.*s",
			    (int)l, v);
		return len;
	}
	for (i = 0; keep[i] != NULL; i++) {
		l = strlen(keep[i]);
		if (len <= l || strncasecmp(p, keep[i], l) != 0)
			continue;
		have = strlen(fr->fr_hdrs);
		l = len;
		while (l > 0 && (p[l - 1] == '\r' || p[l - 1] == '\n'))
			l--;
		if (have + l + 3 < sizeof(fr->fr_hdrs))
			snprintf(fr->fr_hdrs + have, sizeof(fr->fr_hdrs) - have,
			    "%.*s\r\n", (int)l, p);
	}
	return len;
}

int
forward_http(const char *method, const char *url,
    const char *const *headers, const char *body, size_t len,
    unsigned timeout, struct forward_resp *out, char *err, size_t errlen)
{
	CURL			*c = NULL;
	struct curl_slist	*h = NULL, *n;
	CURLcode		 cc;
	int			 rc = -1;

	memset(out, 0, sizeof(*out));
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
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)timeout);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)(timeout < 3 ?
	    timeout : 3));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, forward_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, forward_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
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
	fr->fr_len = 0;
}
