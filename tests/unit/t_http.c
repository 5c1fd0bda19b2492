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
#include "tap.h"

static struct egress_policy	pol_none = { 0, NULL, 0 };
static struct egress_policy	pol_priv = { 1, NULL, 0 };

struct srv {
	int		 fd;
	unsigned	 port;
	const char	*answer;	/* the head to send */
	int		 served;
};

/* Accept one connection, read the request head, send the answer. */
static void *
srv_run(void *arg)
{
	struct srv	*s = arg;
	char		 buf[4096];
	size_t		 n = 0;
	ssize_t		 r;
	int		 c;

	if ((c = accept(s->fd, NULL, NULL)) == -1)
		return NULL;
	while (n < sizeof(buf) - 1 && (r = read(c, buf + n,
	    sizeof(buf) - 1 - n)) > 0) {
		n += (size_t)r;
		buf[n] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL)
			break;
	}
	(void)!write(c, s->answer, strlen(s->answer));
	s->served = 1;
	close(c);
	return NULL;
}

static int
srv_open(struct srv *s)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((s->fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(s->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(s->fd, 1) == -1 ||
	    getsockname(s->fd, (struct sockaddr *)&sin, &len) == -1)
		return -1;
	s->port = ntohs(sin.sin_port);
	return 0;
}

/* One GET of the server's answer under policy ep; h stays for reading. */
static CURLcode
get(CURL *h, struct srv *s, const struct egress_policy *ep,
    struct http_egress *eg, int expect_served)
{
	struct http_opts	 ho;
	pthread_t		 th;
	char			 url[64], errbuf[CURL_ERROR_SIZE];
	CURLcode		 cc;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/x", s->port);
	memset(&ho, 0, sizeof(ho));
	ho.ho_url = url;
	ho.ho_user_agent = "t_http";
	ho.ho_connect_timeout_ms = 10000;
	ho.ho_timeout_ms = 20000;
	ho.ho_errbuf = errbuf;
	memset(eg, 0, sizeof(*eg));
	eg->he_policy = ep;
	eg->he_host = "127.0.0.1";
	s->served = 0;
	curl_easy_reset(h);
	if (http_setup(h, &ho, eg) != CURLE_OK)
		return CURLE_FAILED_INIT;
	curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	if (expect_served)
		pthread_create(&th, NULL, srv_run, s);
	cc = curl_easy_perform(h);
	if (expect_served)
		pthread_join(th, NULL);
	return cc;
}

static void
test_egress(CURL *h, struct srv *s)
{
	struct http_egress	eg;
	CURLcode		cc;

	s->answer = "HTTP/1.1 204 No Content\r\n\r\n";
	cc = get(h, s, &pol_none, &eg, 0);
	tap_ok(cc != CURLE_OK && eg.he_refused == 1 && eg.he_allowed == 0 &&
	    !s->served, "egress: 127.0.0.1 refused at connect time, no "
	    "connection made");
	tap_ok(strstr(eg.he_why, "127.0.0.1") != NULL &&
	    strstr(eg.he_why, "loopback") != NULL, "egress: the refusal's "
	    "detail names the address for the log: %s", eg.he_why);
	cc = get(h, s, &pol_priv, &eg, 1);
	tap_ok(cc == CURLE_OK && eg.he_refused == 0 && eg.he_allowed == 1 &&
	    s->served, "egress: allowed with allow_private");
	cc = get(h, s, NULL, &eg, 1);
	tap_ok(cc == CURLE_OK && s->served, "egress: no policy, not checked");
}

static long
retry_after_of(CURL *h, struct srv *s, const char *field)
{
	static char		answer[512];
	struct http_egress	eg;

	snprintf(answer, sizeof(answer), "HTTP/1.1 503 Busy\r\n%s"
	    "X-Twice: one\r\nx-twice: two\r\nContent-Length: 0\r\n\r\n",
	    field);
	s->answer = answer;
	if (get(h, s, &pol_priv, &eg, 1) != CURLE_OK)
		return -2;
	return http_retry_after(h);
}

static void
test_fields(CURL *h, struct srv *s)
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
	struct srv	 s;
	CURL		*h;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	memset(&s, 0, sizeof(s));
	if (srv_open(&s) == -1 || (h = curl_easy_init()) == NULL) {
		printf("Bail out! no loopback socket or curl handle\n");
		return 1;
	}
	test_egress(h, &s);
	test_fields(h, &s);
	curl_easy_cleanup(h);
	close(s.fd);
	curl_global_cleanup();
	return tap_done();
}
