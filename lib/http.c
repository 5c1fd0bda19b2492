/* http.c -- the one HTTP layer on libcurl: handle options, the egress check at connect time, timeouts, response fields */
#include <sys/socket.h>

#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "egress.h"
#include "http.h"

/*
 * The egress check where it counts: on the address curl is about to
 * connect to, after DNS, for every address it tries.  A name allowed in
 * [egress] allow_hosts covers its virtual-hosted buckets (he_also).
 */
static curl_socket_t
http_opensocket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct http_egress	*eg = arg;

	if (purpose != CURLSOCKTYPE_IPCXN || (eg->he_policy != NULL &&
	    !egress_addr_allowed(eg->he_policy, eg->he_host, &a->addr) &&
	    (eg->he_also == NULL ||
	    !egress_addr_allowed(eg->he_policy, eg->he_also, &a->addr)))) {
		egress_refusal_detail(eg->he_why, sizeof(eg->he_why),
		    eg->he_host, &a->addr);
		eg->he_refused++;
		return CURL_SOCKET_BAD;
	}
	eg->he_allowed++;
	/* CLOEXEC: the dispatcher runs engine commands. */
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

CURLcode
http_setup(CURL *h, const struct http_opts *o, struct http_egress *eg)
{
	CURLcode	cc = CURLE_OK;

	eg->he_refused = eg->he_allowed = 0;
	eg->he_why[0] = '\0';
#define SET(opt, val)	do { if (cc == CURLE_OK)			\
		cc = curl_easy_setopt(h, opt, val); } while (0)
	SET(CURLOPT_URL, o->ho_url);
	SET(CURLOPT_HTTPHEADER, o->ho_headers);
	if (o->ho_errbuf != NULL) {
		o->ho_errbuf[0] = '\0';
		SET(CURLOPT_ERRORBUFFER, o->ho_errbuf);
	}
	SET(CURLOPT_OPENSOCKETFUNCTION, http_opensocket);
	SET(CURLOPT_OPENSOCKETDATA, eg);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_PROXY, "");		/* none, whatever the environment */
	SET(CURLOPT_NOSIGNAL, 1L);
	if (o->ho_path_as_is)
		SET(CURLOPT_PATH_AS_IS, 1L);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (o->ho_ca_file != NULL)
		SET(CURLOPT_CAINFO, o->ho_ca_file);
	SET(CURLOPT_CONNECTTIMEOUT_MS, o->ho_connect_timeout_ms);
	SET(CURLOPT_TIMEOUT_MS, o->ho_timeout_ms);
	if (o->ho_low_speed_time > 0) {
		SET(CURLOPT_LOW_SPEED_LIMIT, o->ho_low_speed_limit);
		SET(CURLOPT_LOW_SPEED_TIME, o->ho_low_speed_time);
	}
	SET(CURLOPT_USERAGENT, o->ho_user_agent);
#undef SET
	return cc;
}

CURLM *
http_multi_new(long conns)
{
	CURLM	*m;

	if ((m = curl_multi_init()) == NULL)
		return NULL;
	if (curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, conns) !=
	    CURLM_OK ||
	    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, conns) != CURLM_OK) {
		curl_multi_cleanup(m);
		return NULL;
	}
	return m;
}

const char *
http_field(CURL *h, const char *name)
{
	struct curl_header	*f;

	if (curl_easy_header(h, name, 0, CURLH_HEADER, -1, &f) != CURLHE_OK)
		return NULL;
	if (f->amount > 1 && curl_easy_header(h, name, f->amount - 1,
	    CURLH_HEADER, -1, &f) != CURLHE_OK)
		return NULL;
	return f->value;
}

long
http_retry_after(CURL *h)
{
	const char	*v;
	curl_off_t	 s;

	if ((v = http_field(h, "Retry-After")) == NULL ||
	    curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &s) != CURLE_OK)
		return -1;
	/* libcurl gives 0 for what it cannot read, and a past date as a
	 * negative count */
	if (s == 0 && v[strspn(v, " \t0")] != '\0')
		return -1;
	return s < 0 ? 0 : (long)s;
}

