/* t_http.c -- lib/http.c: the egress check at connect time, response fields and Retry-After, against a one-shot loopback server of its own */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "egress.h"
#include "http.h"
#include "oneshot.h"
#include "tap.h"

static struct egress_policy	pol_none = { 0, NULL, 0 };
static struct egress_policy	pol_priv = { 1, NULL, 0 };

/* One GET of the server's answer under policy ep; h stays for reading. */
static CURLcode
get(CURL *h, struct oneshot *s, const struct egress_policy *ep,
    struct http_egress *eg, int expect_served)
{
	struct http_opts	 ho;
	char			 url[64], errbuf[CURL_ERROR_SIZE];
	CURLcode		 cc;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/x", s->os_port);
	memset(&ho, 0, sizeof(ho));
	ho.ho_url = url;
	ho.ho_user_agent = "t_http";
	ho.ho_connect_timeout_ms = 10000;
	ho.ho_timeout_ms = 20000;
	ho.ho_errbuf = errbuf;
	memset(eg, 0, sizeof(*eg));
	eg->he_policy = ep;
	eg->he_host = "127.0.0.1";
	s->os_served = 0;
		curl_easy_reset(h);
	if (http_setup(h, &ho, eg) != CURLE_OK)
		return CURLE_FAILED_INIT;
	curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	if (expect_served)
		oneshot_start(s);
	cc = curl_easy_perform(h);
	if (expect_served)
		oneshot_wait(s);
	return cc;
}

static void
test_egress(CURL *h, struct oneshot *s)
{
	struct http_egress	eg;
	CURLcode		cc;

	oneshot_answer(s, "HTTP/1.1 204 No Content\r\n\r\n", "");
	cc = get(h, s, &pol_none, &eg, 0);
	tap_ok(cc != CURLE_OK && eg.he_refused == 1 && eg.he_allowed == 0 &&
	    !s->os_served, "egress: 127.0.0.1 refused at connect time, no "
	    "connection made");
	tap_ok(strstr(eg.he_why, "127.0.0.1") != NULL &&
	    strstr(eg.he_why, "loopback") != NULL, "egress: the refusal's "
	    "detail names the address for the log: %s", eg.he_why);
	cc = get(h, s, &pol_priv, &eg, 1);
	tap_ok(cc == CURLE_OK && eg.he_refused == 0 && eg.he_allowed == 1 &&
	    s->os_served, "egress: allowed with allow_private");
	cc = get(h, s, NULL, &eg, 1);
	tap_ok(cc == CURLE_OK && s->os_served, "egress: no policy, not checked");
}

static long
retry_after_of(CURL *h, struct oneshot *s, const char *field)
{
	char			head[512];
	struct http_egress	eg;

	snprintf(head, sizeof(head), "HTTP/1.1 503 Busy\r\n%s"
	    "X-Twice: one\r\nx-twice: two\r\nContent-Length: 0\r\n\r\n",
	    field);
	oneshot_answer(s, head, "");
	if (get(h, s, &pol_priv, &eg, 1) != CURLE_OK)
		return -2;
	return http_retry_after(h);
}

static void
test_fields(CURL *h, struct oneshot *s)
{
	char		date[64], field[128];
	time_t		when;
	long		ra;

	tap_ok(retry_after_of(h, s, "Retry-After: 7\r\n") == 7,
	    "Retry-After: 7 is 7 s");
	tap_ok(retry_after_of(h, s, "Retry-After: 0\r\n") == 0,
	    "Retry-After: 0 is 0 s");
	tap_ok(retry_after_of(h, s, "") == -1, "no Retry-After is -1");
	tap_ok(retry_after_of(h, s, "Retry-After: soon\r\n") == -1,
	    "a Retry-After that is neither seconds nor a date is -1");
	tap_ok(retry_after_of(h, s, "Retry-After: Tue, 01 Jan 2002 00:00:00 "
	    "GMT\r\n") == 0, "a Retry-After date in the past is 0 s");
	when = time(NULL) + 100;
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT",
	    gmtime(&when));
	snprintf(field, sizeof(field), "Retry-After: %s\r\n", date);
	ra = retry_after_of(h, s, field);
	tap_ok(ra >= 90 && ra <= 100, "a Retry-After date 100 s ahead is "
	    "about 100 s (%ld)", ra);
	TAP_STREQ(http_field(h, "x-twice"), "two", "a field sent twice: "
	    "the last one, by name in any case");
	tap_ok(http_field(h, "x-none") == NULL, "an absent field is NULL");
}

int
main(void)
{
	struct oneshot	 s;
	CURL		*h;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (oneshot_open(&s) == -1 || (h = curl_easy_init()) == NULL) {
		printf("Bail out! no loopback socket or curl handle\n");
		return 1;
	}
	test_egress(h, &s);
	test_fields(h, &s);
	curl_easy_cleanup(h);
	close(s.os_fd);
	curl_global_cleanup();
	return tap_done();
}
