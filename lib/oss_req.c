/* oss_req.c -- building a signed OSS request (URL and headers) apart from running it */
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "egress.h"
#include "oss_name.h"
#include "oss_sign.h"
#include "oss_int.h"

/* ------------------------------------------------------------------------
 * Requests
 */

static void
slist_wipe_free(struct curl_slist *l)
{
	struct curl_slist	*i;

	for (i = l; i != NULL; i = i->next)
		if (i->data != NULL)
			OPENSSL_cleanse(i->data, strlen(i->data));
	curl_slist_free_all(l);
}

void
oss_request_free(struct oss_request *rq)
{
	slist_wipe_free(rq->rq_headers);
	free(rq->rq_url);
	memset(rq, 0, sizeof(*rq));
}

/* Append "name: value" to *l, wiping the temporary copy. */
static int
slist_add(struct curl_slist **l, const char *name, const char *value)
{
	struct curl_slist	*n;
	char			*line;
	size_t			 len;

	len = strlen(name) + 2 + strlen(value) + 1;
	if ((line = malloc(len)) == NULL)
		return -1;
	snprintf(line, len, "%s: %s", name, value);
	n = curl_slist_append(*l, line);
	OPENSSL_cleanse(line, len);
	free(line);
	if (n == NULL)
		return -1;
	*l = n;
	return 0;
}

enum oss_err
oss_request_build(const struct oss_client *c, const struct oss_target *t,
    const char *method, const char *key, const struct oss_param *query,
    size_t nquery, const struct oss_param *headers, size_t nheaders,
    time_t now, struct oss_request *rq, struct oss_error *err)
{
	struct oss_endpoint	 en;
	struct oss_sign_in	 in;
	struct oss_sign_out	 out;
	struct sockaddr_storage	 ss;
	char			 region[OSS_REGION_MAX], why[128];
	char			 port[16] = "";
	char			*ekey = NULL;
	const char		*bad;
	size_t			 i, len;
	enum oss_err		 rc;
	int			 src;

	memset(rq, 0, sizeof(*rq));
	memset(&out, 0, sizeof(out));
	if ((bad = oss_endpoint_parse(t->ot_endpoint, &en)) != NULL)
		return oss_fail(err, OSS_BAD_ENDPOINT, "endpoint: %s", bad);
	if ((bad = oss_bucket_check(t->ot_bucket)) != NULL)
		return oss_fail(err, OSS_INVALID_ARGUMENT, "bucketName: %s",
		    bad);
	if (key != NULL && (key[0] == '\0' || strlen(key) > OSS_KEY_MAX))
		return oss_fail(err, OSS_INVALID_ARGUMENT,
		    "object key is empty or longer than %d bytes", OSS_KEY_MAX);
	if (t->ot_creds == NULL)
		return oss_fail(err, OSS_INVALID_ARGUMENT, "no credentials");
	if (strlen(method) >= sizeof(rq->rq_method))
		return oss_fail(err, OSS_INVALID_ARGUMENT, "bad method");

	/* An address literal is refused here, before any packet leaves;
	 * names are checked at connect time, after DNS. */
	if (egress_literal_refused(c->c_opts.oo_egress, en.en_host, &ss)) {
		oss_fail(err, OSS_EGRESS_REFUSED, "the OSS endpoint is %s",
		    egress_refused_text);
		egress_refusal_detail(err->oe_detail, sizeof(err->oe_detail),
		    NULL, (const struct sockaddr *)&ss);
		return OSS_EGRESS_REFUSED;
	}

	if (!oss_region_from_host(en.en_host, region, sizeof(region)))
		snprintf(region, sizeof(region), "%s",
		    c->c_opts.oo_region != NULL ? c->c_opts.oo_region :
		    OSS_DEFAULT_REGION);
	memset(&in, 0, sizeof(in));
	in.si_sigver = c->c_opts.oo_sigver;
	in.si_method = method;
	in.si_bucket = t->ot_bucket;
	in.si_key = key;
	in.si_query = query;
	in.si_nquery = nquery;
	in.si_headers = headers;
	in.si_nheaders = nheaders;
	in.si_time = now;
	in.si_region = region;
	in.si_creds = t->ot_creds;
	if ((src = oss_sign(&in, &out, why, sizeof(why))) != 0)
		return oss_fail(err, src == -1 ? OSS_INVALID_ARGUMENT :
		    OSS_LOCAL_ERROR, "%s", why);

	if (en.en_path_style)
		snprintf(rq->rq_host, sizeof(rq->rq_host), "%s", en.en_host);
	else if ((size_t)snprintf(rq->rq_host, sizeof(rq->rq_host), "%s.%s",
	    t->ot_bucket, en.en_host) >= sizeof(rq->rq_host)) {
		rc = oss_fail(err, OSS_BAD_ENDPOINT, "endpoint too long");
		goto out;
	}
	snprintf(rq->rq_endpoint_host, sizeof(rq->rq_endpoint_host), "%s",
	    en.en_host);
	snprintf(rq->rq_method, sizeof(rq->rq_method), "%s", method);
	if (en.en_port != 0)
		snprintf(port, sizeof(port), ":%u", en.en_port);
	if ((ekey = oss_uri_encode(key != NULL ? key : "", 1)) == NULL) {
		rc = oss_fail(err, OSS_LOCAL_ERROR, "out of memory");
		goto out;
	}
	len = strlen(rq->rq_host) + strlen(t->ot_bucket) + strlen(ekey) +
	    strlen(out.so_query) + 32;
	if ((rq->rq_url = malloc(len)) == NULL) {
		rc = oss_fail(err, OSS_LOCAL_ERROR, "out of memory");
		goto out;
	}
	snprintf(rq->rq_url, len, "%s://%s%s%s%s/%s%s%s%s",
	    en.en_https ? "https" : "http", en.en_ipv6 ? "[" : "",
	    rq->rq_host, en.en_ipv6 ? "]" : "", port,
	    en.en_path_style ? t->ot_bucket : "",
	    en.en_path_style ? "/" : "", ekey, out.so_query[0] ? "?" : "");
	strncat(rq->rq_url, out.so_query, len - strlen(rq->rq_url) - 1);

	for (i = 0; i < out.so_nhdr; i++) {
		struct curl_slist	*l;

		if ((l = curl_slist_append(rq->rq_headers, out.so_hdr[i])) ==
		    NULL) {
			rc = oss_fail(err, OSS_LOCAL_ERROR, "out of memory");
			goto out;
		}
		rq->rq_headers = l;
	}
	for (i = 0; i < nheaders; i++)
		if (slist_add(&rq->rq_headers, headers[i].op_name,
		    headers[i].op_value != NULL ? headers[i].op_value : "") ==
		    -1) {
			rc = oss_fail(err, OSS_LOCAL_ERROR, "out of memory");
			goto out;
		}
	rc = OSS_OK;
out:
	oss_sign_out_free(&out);
	free(ekey);
	if (rc != OSS_OK)
		oss_request_free(rq);
	return rc;
}
