/* http.c -- mias-dispatcher: outbound POSTs on one curl multi handle (each set up by lib/http.c) */
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "crypto.h"
#include "dispatcher.h"
#include "http.h"
#include "log.h"

#define HTTP_RESP_MAX	(64 * 1024)	/* answers we read; the rest aborts */

static size_t
http_write(char *ptr, size_t size, size_t n, void *arg)
{
	struct xfer	*x = arg;
	size_t		 len = size * n;
	int		 r;

	if ((r = buf_add(&x->x_resp, &x->x_resplen, &x->x_respcap,
	    HTTP_RESP_MAX, ptr, len)) != 0) {
		/* a peer sending a gigabyte gets cut off, not buffered */
		x->x_resp_over = r == -1;
		return 0;
	}
	return len;
}

void
http_free(struct xfer *x)
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
	struct http_opts	 ho;
	struct xfer		*x;
	struct curl_slist	*hl;
	CURL			*e;

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
	x->x_done = done;
	x->x_task = t;
	http_host(url, x->x_host, sizeof(x->x_host));
	if (x->x_hdrs == NULL || (e = x->x_easy = curl_easy_init()) == NULL) {
		http_free(x);
		return -1;
	}
	/* "Expect: 100-continue" would cost a round trip per callback */
	if ((hl = curl_slist_append(x->x_hdrs, "Expect:")) == NULL) {
		http_free(x);
		return -1;
	}
	x->x_hdrs = hl;
	memset(&ho, 0, sizeof(ho));
	ho.ho_url = url;
	ho.ho_headers = x->x_hdrs;
	ho.ho_user_agent = "mias-dispatcher/" VERSION;
	ho.ho_connect_timeout_ms = (timeout_s < 10 ? timeout_s : 10L) * 1000L;
	ho.ho_timeout_ms = timeout_s * 1000L;
	ho.ho_errbuf = x->x_errbuf;
	x->x_eg.he_policy = ep;
	x->x_eg.he_host = x->x_host;
	if (http_setup(e, &ho, &x->x_eg) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_POST, 1L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->x_body) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)len) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_write) !=
	    CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_WRITEDATA, x) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_PRIVATE, x) != CURLE_OK) {
		http_free(x);
		return -1;
	}
	if (curl_multi_add_handle(d->d_multi, e) != CURLM_OK) {
		http_free(x);
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
		x->x_retry_after = http_retry_after(msg->easy_handle);
		x->x_egress_refused = x->x_eg.he_refused > 0;
		curl_multi_remove_handle(d->d_multi, msg->easy_handle);
		TAILQ_REMOVE(&d->d_xfers, x, x_entry);
		d->d_transfers--;
		x->x_code = msg->data.result;
		TAILQ_INSERT_TAIL(&d->d_finished, x, x_entry);
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
		http_free(x);
	}
}
