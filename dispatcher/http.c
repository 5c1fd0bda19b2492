/* http.c -- mias-dispatcher: outbound POSTs on one curl multi handle */
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"
#include "dispatcher.h"
#include "egress.h"
#include "log.h"

#define HTTP_RESP_MAX	(64 * 1024)	/* answers we read; the rest aborts */

static size_t
http_write(char *ptr, size_t size, size_t n, void *arg)
{
	struct xfer	*x = arg;
	size_t		 len = size * n;
	char		*nr;

	if (x->x_resplen + len > HTTP_RESP_MAX) {
		/* a peer sending a gigabyte gets cut off, not buffered */
		x->x_resp_over = 1;
		return 0;
	}
	if ((nr = realloc(x->x_resp, x->x_resplen + len + 1)) == NULL)
		return 0;
	x->x_resp = nr;
	memcpy(x->x_resp + x->x_resplen, ptr, len);
	x->x_resplen += len;
	x->x_resp[x->x_resplen] = '\0';
	return len;
}

static size_t
http_header(char *buf, size_t size, size_t n, void *arg)
{
	struct xfer	*x = arg;
	size_t		 len = size * n;
	char		 val[64];
	size_t		 vl;

	if (len > 12 && strncasecmp(buf, "Retry-After:", 12) == 0) {
		vl = len - 12 < sizeof(val) - 1 ? len - 12 : sizeof(val) - 1;
		memcpy(val, buf + 12, vl);
		val[vl] = '\0';
		x->x_retry_after = -1;
		if (strspn(val, " \t0123456789\r\n") == strlen(val))
			x->x_retry_after = strtol(val, NULL, 10);
		else {
			time_t when = curl_getdate(val, NULL);

			if (when > 0)
				x->x_retry_after = when > time(NULL) ?
				    (long)(when - time(NULL)) : 0;
		}
	}
	return len;
}

/* The address curl is about to connect to, after DNS: refuse it here,
 * so a name that resolves (or re-resolves) to an internal address
 * cannot get past the policy. */
static curl_socket_t
http_opensocket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct xfer *x = arg;

	(void)purpose;
	if (x->x_egress != NULL &&
	    !egress_addr_allowed(x->x_egress, x->x_host, &a->addr)) {
		x->x_egress_refused = 1;
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static void
xfer_free(struct xfer *x)
{
	if (x->x_easy != NULL)
		curl_easy_cleanup(x->x_easy);
	curl_slist_free_all(x->x_hdrs);
	if (x->x_body != NULL) {
		/* engine triggers carry OSS secrets */
		crypto_wipe(x->x_body, x->x_bodylen);
		free(x->x_body);
	}
	free(x->x_resp);
	free(x);
}

/* The host part of url, for the egress check and log lines. */
static void
http_host(const char *url, char *host, size_t hostlen)
{
	CURLU	*u = curl_url();
	char	*h = NULL;

	host[0] = '\0';
	if (u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK) {
		size_t l = strlen(h);

		if (l > 1 && h[0] == '[' && h[l - 1] == ']') {
			h[l - 1] = '\0';
			snprintf(host, hostlen, "%s", h + 1);
		} else
			snprintf(host, hostlen, "%s", h);
	}
	curl_free(h);
	curl_url_cleanup(u);
}

int
http_post(struct disp *d, const char *url, char *body, size_t len,
    struct curl_slist *hdrs, long timeout_s, const struct egress_policy *ep,
    xfer_done done, struct task *t)
{
	struct xfer	*x;
	CURL		*e;

	if ((x = calloc(1, sizeof(*x))) == NULL) {
		curl_slist_free_all(hdrs);
		crypto_wipe(body, len);
		free(body);
		return -1;
	}
	x->x_disp = d;
	x->x_body = body;
	x->x_bodylen = len;
	x->x_hdrs = curl_slist_append(hdrs, "Content-Type: application/json; "
	    "charset=utf-8");
	x->x_retry_after = -1;
	x->x_egress = ep;
	x->x_done = done;
	x->x_task = t;
	http_host(url, x->x_host, sizeof(x->x_host));
	if (x->x_hdrs == NULL || (e = x->x_easy = curl_easy_init()) == NULL) {
		xfer_free(x);
		return -1;
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->x_body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->x_hdrs);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "mias-dispatcher/" VERSION);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, http_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, http_opensocket);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, x);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->x_errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, timeout_s < 10 ?
	    timeout_s : 10L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, timeout_s);
	/* "Expect: 100-continue" would cost a round trip per callback */
	x->x_hdrs = curl_slist_append(x->x_hdrs, "Expect:");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->x_hdrs);
	if (curl_multi_add_handle(d->d_multi, e) != CURLM_OK) {
		xfer_free(x);
		return -1;
	}
	TAILQ_INSERT_TAIL(&d->d_xfers, x, x_entry);
	d->d_transfers++;
	return 0;
}

void
http_poll(struct disp *d, int timeout_ms, int *woken)
{
	struct curl_waitfd	 extra[2];
	struct CURLMsg		*msg;
	struct xfer		*x;
	int			 running, left, n;

	extra[0].fd = d->d_wake_fd;
	extra[0].events = CURL_WAIT_POLLIN;
	extra[0].revents = 0;
	extra[1].fd = d->d_pipe[0];
	extra[1].events = CURL_WAIT_POLLIN;
	extra[1].revents = 0;
	curl_multi_poll(d->d_multi, extra, 2, timeout_ms, &n);
	*woken = (extra[0].revents != 0 ? WOKEN_NEW : 0) |
	    (extra[1].revents != 0 ? WOKEN_DONE : 0);
	curl_multi_perform(d->d_multi, &running);
	while ((msg = curl_multi_info_read(d->d_multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &x);
		curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE,
		    &x->x_status);
		curl_multi_remove_handle(d->d_multi, msg->easy_handle);
		TAILQ_REMOVE(&d->d_xfers, x, x_entry);
		d->d_transfers--;
		x->x_done(x, msg->data.result);
		xfer_free(x);
		*woken |= WOKEN_DONE;
	}
}

void
http_abort_all(struct disp *d)
{
	struct xfer *x;

	while ((x = TAILQ_FIRST(&d->d_xfers)) != NULL) {
		TAILQ_REMOVE(&d->d_xfers, x, x_entry);
		curl_multi_remove_handle(d->d_multi, x->x_easy);
		d->d_transfers--;
		/* the item stays queued: it runs again at the next start */
		task_release(d, x->x_task);
		xfer_free(x);
	}
}
