/* oss.c -- the OSS client: list, HEAD and download on libcurl, typed errors */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/rand.h>

#include "buf.h"
#include "crypto.h"
#include "egress.h"
#include "http.h"
#include "oss.h"
#include "oss_int.h"

#define OSS_PAGE_KEYS		1000	/* max-keys: OSS's largest page */
#define OSS_ERRBODY_MAX		(64 * 1024)
#define OSS_ERRHDR_MAX		(8 * 1024)	/* x-oss-err, base64 */
#define OSS_EMPTY_PAGES_MAX	16	/* truncated pages without objects */

static const char *const oss_kind_names[OSS_KIND__MAX] = {
	"unknown",
	"dicom",
	"jpeg",
	"png",
};

const char *
oss_kind_name(enum oss_kind k)
{
	return (unsigned)k < OSS_KIND__MAX ? oss_kind_names[k] : "unknown";
}

/* ------------------------------------------------------------------------
 * Content
 */

uint64_t
oss_crc64(uint64_t crc, const void *buf, size_t len)
{
	static uint64_t		 table[256];
	static int		 ready;
	const unsigned char	*p = buf;
	uint64_t		 c;
	int			 i, j;

	/*
	 * Two threads may both fill the table: they write the same values.
	 * The release/acquire pair makes sure no thread uses it half seen.
	 */
	if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) {
		for (i = 0; i < 256; i++) {
			c = (uint64_t)i;
			for (j = 0; j < 8; j++)
				c = c & 1 ? (c >> 1) ^ 0xc96c5795d7870f42ULL :
				    c >> 1;
			__atomic_store_n(&table[i], c, __ATOMIC_RELAXED);
		}
		__atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
	}
	crc = ~crc;
	while (len-- > 0)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

enum oss_kind
oss_sniff(const void *buf, size_t len)
{
	static const unsigned char	 png[8] =
	    { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	const unsigned char		*p = buf;

	if (len >= 132 && memcmp(p + 128, "DICM", 4) == 0)
		return OSS_KIND_DICOM;
	if (len >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
		return OSS_KIND_JPEG;
	if (len >= 8 && memcmp(p, png, 8) == 0)
		return OSS_KIND_PNG;
	return OSS_KIND_UNKNOWN;
}

/* ------------------------------------------------------------------------
 * The client
 */

/* The handle a thread's last oo_keep client left (oss_forget_connections) */
struct oss_kept {
	CURL		*k_curl;
	unsigned	 k_gen;
};

static pthread_key_t	oss_kept_key;
static pthread_once_t	oss_kept_once = PTHREAD_ONCE_INIT;
static int		oss_kept_ok;
static atomic_uint	oss_kept_gen;

static void
oss_kept_free(void *p)
{
	struct oss_kept *k = p;

	curl_easy_cleanup(k->k_curl);
	free(k);
}

static void
oss_kept_init(void)
{
	oss_kept_ok = pthread_key_create(&oss_kept_key, oss_kept_free) == 0;
}

void
oss_forget_connections(void)
{
	atomic_fetch_add(&oss_kept_gen, 1);
}

/* The thread's kept handle, if it is of the current generation. */
static CURL *
oss_kept_take(void)
{
	struct oss_kept	*k;
	CURL		*h = NULL;

	pthread_once(&oss_kept_once, oss_kept_init);
	if (!oss_kept_ok || (k = pthread_getspecific(oss_kept_key)) == NULL)
		return NULL;
	(void)pthread_setspecific(oss_kept_key, NULL);
	if (k->k_gen == atomic_load(&oss_kept_gen))
		h = k->k_curl;
	else
		curl_easy_cleanup(k->k_curl);
	free(k);
	return h;
}

/* 0 when the thread keeps h, -1 when the caller must clean it up. */
static int
oss_kept_put(CURL *h)
{
	struct oss_kept *k;

	pthread_once(&oss_kept_once, oss_kept_init);
	if (!oss_kept_ok || pthread_getspecific(oss_kept_key) != NULL ||
	    (k = malloc(sizeof(*k))) == NULL)
		return -1;
	curl_easy_reset(h);	/* no pointers into the last request */
	k->k_curl = h;
	k->k_gen = atomic_load(&oss_kept_gen);
	if (pthread_setspecific(oss_kept_key, k) != 0) {
		free(k);
		return -1;
	}
	return 0;
}

void
oss_opts_default(struct oss_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->oo_sigver = OSS_SIGV4;
	o->oo_connect_timeout = 10;
	o->oo_timeout = 60;
	o->oo_get_timeout = 3600;
	o->oo_low_speed_limit = 1024;
	o->oo_low_speed_time = 30;
	o->oo_retries = 3;
	o->oo_retry_base_ms = 500;
	o->oo_retry_max_ms = 8000;
	o->oo_max_page_bytes = 16 * 1024 * 1024;
}

struct oss_client *
oss_client_new(const struct oss_opts *o, char *err, size_t errlen)
{
	struct oss_client	*c;

	if (o->oo_sigver != OSS_SIGV1 && o->oo_sigver != OSS_SIGV4) {
		snprintf(err, errlen, "signature version %d is neither 1 "
		    "nor 4", o->oo_sigver);
		return NULL;
	}
	if (o->oo_egress == NULL) {
		snprintf(err, errlen, "no egress policy");
		return NULL;
	}
	if (o->oo_region != NULL && (strlen(o->oo_region) == 0 ||
	    strlen(o->oo_region) >= OSS_REGION_MAX ||
	    strspn(o->oo_region, "abcdefghijklmnopqrstuvwxyz0123456789-") !=
	    strlen(o->oo_region))) {
		snprintf(err, errlen, "bad region");
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->c_opts = *o;
	if (o->oo_keep)
		c->c_curl = oss_kept_take();
	if (c->c_curl == NULL && (c->c_curl = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "curl_easy_init failed");
		free(c);
		return NULL;
	}
	return c;
}

void
oss_client_free(struct oss_client *c)
{
	if (c == NULL)
		return;
	if (!c->c_opts.oo_keep || oss_kept_put(c->c_curl) == -1)
		curl_easy_cleanup(c->c_curl);
	free(c);
}

/* ------------------------------------------------------------------------
 * Transfers
 */

enum xfer_sink {
	XS_NONE,	/* HEAD */
	XS_LIST,	/* a listing page, to the streaming parser */
	XS_FD,		/* an object, to a file descriptor */
	XS_BUF		/* the first bytes, to a buffer */
};

enum xfer_stop {
	XA_NONE,
	XA_DONE,	/* not a failure: we have what we wanted */
	XA_TOO_LARGE,
	XA_WRITE,
	XA_LIST,	/* the parser failed, or its callback stopped and
			 * the page was too long to read to its end */
	XA_ERRBODY,	/* error document over OSS_ERRBODY_MAX */
	XA_PAGE_SIZE
};

/* One OSS exchange: the request and what came back (set up by
 * lib/http.c like every other transfer). */
struct oss_xfer {
	const struct oss_client	*x_client;
	const struct oss_request *x_req;
	const struct oss_creds	*x_creds;
	enum xfer_sink		 x_sink;
	enum xfer_stop		 x_stop;
	CURL			*x_curl;
	char			 x_curlerr[CURL_ERROR_SIZE];

	/* response head */
	long			 x_status;
	char			 x_request_id[OSS_REQID_MAX];
	char			 x_etag[128];
	char			 x_ctype[128];
	char			 x_lastmod[64];
	char			 x_class[32];
	char			 x_location[256];
	char			*x_osserr;	/* x-oss-err, base64 */
	uint64_t		 x_clen;
	int			 x_has_clen;
	uint64_t		 x_range_first;
	uint64_t		 x_range_total;
	int			 x_has_range;
	uint64_t		 x_crc64;
	int			 x_has_crc64;

	/* error documents */
	char			*x_errbody;
	size_t			 x_errlen, x_errcap;

	/* XS_LIST */
	struct oss_listp	*x_listp;
	size_t			 x_page_bytes;
	struct oss_error	 x_listerr;

	/*
	 * A Range asked for.  OSS answers 206, or 200 with the whole object
	 * when the range starts past its end; a server without ranges
	 * always sends 200.  From a 200, x_skip bytes are dropped and at
	 * most x_want (0: all) kept.
	 */
	int			 x_ranged;
	uint64_t		 x_skip;
	uint64_t		 x_want;

	/* XS_FD */
	int			 x_fd;
	uint64_t		 x_max;
	uint64_t		 x_written;
	uint64_t		 x_crc_calc;
	int			 x_errno;

	/* XS_BUF */
	unsigned char		*x_buf;
	size_t			 x_buflen;
	size_t			 x_got;

	/* egress, at connect time */
	struct http_egress	 x_eg;
};

static void
xfer_reset_head(struct oss_xfer *x)
{
	x->x_request_id[0] = x->x_etag[0] = x->x_ctype[0] = '\0';
	x->x_lastmod[0] = x->x_class[0] = x->x_location[0] = '\0';
	free(x->x_osserr);
	x->x_osserr = NULL;
	x->x_has_clen = x->x_has_range = x->x_has_crc64 = 0;
}

static void
xfer_free(struct oss_xfer *x)
{
	free(x->x_osserr);
	free(x->x_errbody);
	oss_listp_free(x->x_listp);
	memset(x, 0, sizeof(*x));
}

/* The field name of the response cleaned and trimmed into dst; "" when
 * absent. */
static void
hdr_copy(struct oss_xfer *x, const char *name, char *dst, size_t dstlen)
{
	const char	*v = http_field(x->x_curl, name);

	dst[0] = '\0';
	if (v != NULL) {
		oss_clean(dst, dstlen, v, strlen(v));
		oss_trim(dst);
	}
}

/*
 * The head of a response is read whole, from what libcurl parsed, at the
 * blank line that ends it: before a byte of the body, so that an object
 * too large is refused before it is written.  A 1xx head is followed by
 * another.
 */
static void
xfer_head(struct oss_xfer *x)
{
	const char	*v;
	char		 num[32], cr[96], *e;
	uint64_t	 a, total;
	size_t		 n;

	hdr_copy(x, "x-oss-request-id", x->x_request_id,
	    sizeof(x->x_request_id));
	hdr_copy(x, "etag", x->x_etag, sizeof(x->x_etag));
	if ((n = strlen(x->x_etag)) >= 2 && x->x_etag[0] == '"' &&
	    x->x_etag[n - 1] == '"') {
		memmove(x->x_etag, x->x_etag + 1, n - 2);
		x->x_etag[n - 2] = '\0';
	}
	hdr_copy(x, "content-type", x->x_ctype, sizeof(x->x_ctype));
	hdr_copy(x, "last-modified", x->x_lastmod, sizeof(x->x_lastmod));
	hdr_copy(x, "x-oss-storage-class", x->x_class, sizeof(x->x_class));
	hdr_copy(x, "location", x->x_location, sizeof(x->x_location));
	if (http_field(x->x_curl, "content-length") != NULL) {
		hdr_copy(x, "content-length", num, sizeof(num));
		x->x_has_clen = oss_parse_u64(num, &x->x_clen) == 0;
	}
	if (http_field(x->x_curl, "x-oss-hash-crc64ecma") != NULL) {
		hdr_copy(x, "x-oss-hash-crc64ecma", num, sizeof(num));
		x->x_has_crc64 = oss_parse_u64(num, &x->x_crc64) == 0;
	}
	/* "bytes first-last/total" */
	hdr_copy(x, "content-range", cr, sizeof(cr));
	if (strncasecmp(cr, "bytes ", 6) == 0) {
		errno = 0;
		a = strtoull(cr + 6, &e, 10);
		if (errno == 0 && *e == '-' && (e = strchr(e, '/')) != NULL &&
		    oss_parse_u64(e + 1, &total) == 0) {
			x->x_range_first = a;
			x->x_range_total = total;
			x->x_has_range = 1;
		}
	}
	if ((v = http_field(x->x_curl, "x-oss-err")) != NULL &&
	    strlen(v) < OSS_ERRHDR_MAX && (x->x_osserr = strdup(v)) != NULL)
		oss_trim(x->x_osserr);
}

static size_t
xfer_header(char *line, size_t size, size_t nmemb, void *arg)
{
	struct oss_xfer	*x = arg;
	size_t		 n = size * nmemb;

	if (!(n == 2 && line[0] == '\r' && line[1] == '\n') &&
	    !(n == 1 && line[0] == '\n'))
		return n;
	xfer_reset_head(x);
	x->x_status = 0;
	curl_easy_getinfo(x->x_curl, CURLINFO_RESPONSE_CODE, &x->x_status);
	if (x->x_status < 200)
		return n;
	xfer_head(x);
	/* Refuse an object too large before a byte of it. */
	if (x->x_has_clen && x->x_sink == XS_FD && x->x_status < 300 &&
	    !(x->x_ranged && x->x_status == 200) && x->x_clen > x->x_max) {
		x->x_stop = XA_TOO_LARGE;
		return 0;
	}
	return n;
}

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t	w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static size_t
xfer_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct oss_xfer	*x = arg;
	size_t		 total = size * nmemb, n = total, k;
	int		 done = 0;

	if (total == 0)
		return 0;
	if (x->x_status < 200 || x->x_status >= 300) {
		/* An error document: keep it to parse at the end. */
		if (buf_add(&x->x_errbody, &x->x_errlen, &x->x_errcap,
		    OSS_ERRBODY_MAX, p, n) != 0) {
			x->x_stop = XA_ERRBODY;
			return 0;
		}
		return total;
	}
	if (x->x_ranged && x->x_status == 200 && x->x_skip > 0) {
		k = x->x_skip < n ? (size_t)x->x_skip : n;
		x->x_skip -= k;
		p += k;
		n -= k;
		if (n == 0)
			return total;
	}
	switch (x->x_sink) {
	case XS_NONE:
		break;
	case XS_LIST:
		x->x_page_bytes += n;
		if (x->x_page_bytes > x->x_client->c_opts.oo_max_page_bytes) {
			/* a page its caller stopped ends as stopped, however
			 * long the rest that was being dropped */
			if (oss_listp_stopped(x->x_listp)) {
				(void)oss_listp_finish(x->x_listp, NULL,
				    &x->x_listerr);
				x->x_stop = XA_LIST;
			} else
				x->x_stop = XA_PAGE_SIZE;
			return 0;
		}
		if (oss_listp_feed(x->x_listp, p, n, &x->x_listerr) !=
		    OSS_OK) {
			x->x_stop = XA_LIST;
			return 0;
		}
		break;
	case XS_FD:
		if (x->x_ranged && x->x_status == 200 && x->x_want > 0 &&
		    n >= x->x_want - x->x_written) {
			n = (size_t)(x->x_want - x->x_written);
			done = 1;
		}
		if (n > x->x_max - x->x_written) {
			x->x_stop = XA_TOO_LARGE;
			return 0;
		}
		if (write_all(x->x_fd, p, n) == -1) {
			x->x_errno = errno;
			x->x_stop = XA_WRITE;
			return 0;
		}
		x->x_written += n;
		x->x_crc_calc = oss_crc64(x->x_crc_calc, p, n);
		break;
	case XS_BUF:
		k = x->x_buflen - x->x_got < n ? x->x_buflen - x->x_got : n;
		memcpy(x->x_buf + x->x_got, p, k);
		x->x_got += k;
		done = x->x_got == x->x_buflen;
		break;
	}
	if (done) {
		x->x_stop = XA_DONE;
		return 0;
	}
	return total;
}

static enum oss_err
xfer_setup(CURL *h, struct oss_xfer *x, long timeout)
{
	const struct oss_opts	*o = &x->x_client->c_opts;
	struct http_opts	 ho;
	CURLcode		 cc;

	curl_easy_reset(h);
	memset(&ho, 0, sizeof(ho));
	ho.ho_url = x->x_req->rq_url;
	ho.ho_headers = x->x_req->rq_headers;
	ho.ho_user_agent = o->oo_user_agent != NULL ? o->oo_user_agent :
	    "mias";
	ho.ho_connect_timeout_ms = o->oo_connect_timeout * 1000L;
	ho.ho_timeout_ms = timeout * 1000L;
	ho.ho_low_speed_limit = o->oo_low_speed_limit;
	ho.ho_low_speed_time = o->oo_low_speed_time;
	ho.ho_ca_file = o->oo_ca_file;
	ho.ho_path_as_is = 1;		/* a key may contain "../" */
	ho.ho_errbuf = x->x_curlerr;
	x->x_eg.he_policy = o->oo_egress;
	x->x_eg.he_host = x->x_req->rq_host;
	x->x_eg.he_also = x->x_req->rq_endpoint_host;
	x->x_curl = h;
	cc = http_setup(h, &ho, &x->x_eg);
#define SET(opt, val)	do { if (cc == CURLE_OK)			\
		cc = curl_easy_setopt(h, opt, val); } while (0)
	if (strcmp(x->x_req->rq_method, "HEAD") == 0)
		SET(CURLOPT_NOBODY, 1L);
	else if (strcmp(x->x_req->rq_method, "GET") == 0)
		SET(CURLOPT_HTTPGET, 1L);
	else
		SET(CURLOPT_CUSTOMREQUEST, x->x_req->rq_method);
	SET(CURLOPT_HEADERFUNCTION, xfer_header);
	SET(CURLOPT_HEADERDATA, x);
	SET(CURLOPT_WRITEFUNCTION, xfer_write);
	SET(CURLOPT_WRITEDATA, x);
#undef SET
	if (cc != CURLE_OK)
		return OSS_LOCAL_ERROR;
	return OSS_OK;
}

/* The x-oss-err header (a base64 error document) decoded; -1 if it is
 * not base64. */
static long
osserr_decode(const char *in, unsigned char **out)
{
	size_t	n = strlen(in);
	long	len;

	if ((*out = malloc(n / 4 * 3 + 1)) == NULL)
		return -1;
	if ((len = crypto_b64_decode(in, *out, n / 4 * 3)) < 0) {
		free(*out);
		*out = NULL;
	}
	return len;
}

/* The response was an error: make it an oss_error. */
static enum oss_err
xfer_http_error(struct oss_xfer *x, int bucket_call, struct oss_error *err)
{
	unsigned char	*doc = NULL;
	long		 dlen;

	if (x->x_errbody != NULL && x->x_stop != XA_ERRBODY)
		oss_error_parse(x->x_errbody, x->x_errlen, x->x_status, err);
	else if (x->x_osserr != NULL &&
	    (dlen = osserr_decode(x->x_osserr, &doc)) > 0)
		oss_error_parse(doc, (size_t)dlen, x->x_status, err);
	else
		oss_error_parse("", 0, x->x_status, err);
	free(doc);
	/* Without a code, a listing's 404 is its bucket's. */
	if (err->oe_code[0] == '\0' && x->x_status == 404 && bucket_call)
		err->oe_err = OSS_NO_SUCH_BUCKET;
	/* x_location is clean: hdr_copy() made it so. */
	if (x->x_status >= 300 && x->x_status < 400 && err->oe_code[0] ==
	    '\0')
		snprintf(err->oe_message, sizeof(err->oe_message),
		    "HTTP %ld redirect%s%s not followed", x->x_status,
		    x->x_location[0] ? " to " : "", x->x_location);
	if (err->oe_request_id[0] == '\0')
		memcpy(err->oe_request_id, x->x_request_id,
		    sizeof(err->oe_request_id));
	oss_redact(err->oe_message, x->x_creds);
	return err->oe_err;
}

/* Map curl's failure where no HTTP answer (or only part of one) came. */
static enum oss_err
xfer_net_error(struct oss_xfer *x, CURLcode cc, struct oss_error *err)
{
	const char	*why = x->x_curlerr[0] ? x->x_curlerr :
	    curl_easy_strerror(cc);
	enum oss_err	 e;

	if (x->x_eg.he_refused > 0 && x->x_eg.he_allowed == 0) {
		oss_fail(err, OSS_EGRESS_REFUSED, "the OSS endpoint is %s",
		    egress_refused_text);
		memcpy(err->oe_detail, x->x_eg.he_why,
		    sizeof(err->oe_detail));
		return OSS_EGRESS_REFUSED;
	}
	switch (cc) {
	case CURLE_OUT_OF_MEMORY:
		e = OSS_LOCAL_ERROR;
		break;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
		/* Not going to get better by trying again. */
		e = OSS_BAD_ENDPOINT;
		break;
	case CURLE_FILESIZE_EXCEEDED:
		e = OSS_TOO_LARGE;
		break;
	default:
		e = OSS_UNAVAILABLE;
		break;
	}
	oss_fail(err, e, "%s: %s", x->x_req->rq_host, why);
	err->oe_status = x->x_status;
	oss_redact(err->oe_message, x->x_creds);
	return e;
}

/* One exchange on the client's handle; the outcome in err. */
static enum oss_err
xfer_run(struct oss_client *c, struct oss_xfer *x, long timeout, int bucket_call,
    struct oss_error *err)
{
	CURLcode	 cc;

	oss_error_clear(err);
	if (xfer_setup(c->c_curl, x, timeout) != OSS_OK)
		return oss_fail(err, OSS_LOCAL_ERROR, "cannot set up curl");
	cc = curl_easy_perform(c->c_curl);
	if (x->x_status == 0)	/* the head was cut off */
		curl_easy_getinfo(c->c_curl, CURLINFO_RESPONSE_CODE,
		    &x->x_status);
	err->oe_status = x->x_status;

	switch (x->x_stop) {
	case XA_DONE:
		cc = CURLE_OK;
		break;
	case XA_TOO_LARGE:
		return oss_fail(err, OSS_TOO_LARGE,
		    "object larger than the limit of %" PRIu64 " bytes",
		    x->x_max);
	case XA_WRITE:
		return oss_fail(err, OSS_LOCAL_ERROR, "writing the object: %s",
		    strerror(x->x_errno));
	case XA_LIST:
		*err = x->x_listerr;
		err->oe_status = x->x_status;
		snprintf(err->oe_request_id, sizeof(err->oe_request_id), "%s",
		    x->x_request_id);
		return err->oe_err;
	case XA_PAGE_SIZE:
		return oss_fail(err, OSS_BAD_RESPONSE,
		    "listing page larger than %zu bytes",
		    c->c_opts.oo_max_page_bytes);
	case XA_ERRBODY:
	case XA_NONE:
		break;
	}
	if (x->x_status >= 300 || (x->x_status > 0 && x->x_status < 200))
		return xfer_http_error(x, bucket_call, err);
	if (cc != CURLE_OK)
		return xfer_net_error(x, cc, err);
	if (x->x_status == 0)
		return oss_fail(err, OSS_BAD_RESPONSE, "no HTTP status");
	memcpy(err->oe_request_id, x->x_request_id,
	    sizeof(err->oe_request_id));
	return OSS_OK;
}

static void
backoff(const struct oss_opts *o, unsigned attempt)
{
	struct timespec	ts;
	uint64_t	ms = o->oo_retry_base_ms;
	unsigned	r = 0;

	while (attempt-- > 0 && ms < o->oo_retry_max_ms)
		ms *= 2;
	if (ms > o->oo_retry_max_ms)
		ms = o->oo_retry_max_ms;
	/* Half to all of the delay, so that many clients told to wait at
	 * once do not come back at once. */
	if (ms > 1 && RAND_bytes((unsigned char *)&r, sizeof(r)) == 1)
		ms = ms / 2 + r % (ms / 2 + 1);
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void
head_from(const struct oss_xfer *x, struct oss_head *h)
{
	memset(h, 0, sizeof(*h));
	if (x->x_has_range)
		h->oh_size = x->x_range_total;
	else if (x->x_has_clen)
		h->oh_size = x->x_clen;
	snprintf(h->oh_etag, sizeof(h->oh_etag), "%s", x->x_etag);
	snprintf(h->oh_content_type, sizeof(h->oh_content_type), "%s",
	    x->x_ctype);
	snprintf(h->oh_last_modified, sizeof(h->oh_last_modified), "%s",
	    x->x_lastmod);
	snprintf(h->oh_storage_class, sizeof(h->oh_storage_class), "%s",
	    x->x_class);
	h->oh_crc64 = x->x_crc64;
	h->oh_has_crc64 = x->x_has_crc64;
}

/* Build the request and set x up for it: how every exchange starts. */
static enum oss_err
xfer_prepare(struct oss_client *c, const struct oss_target *t,
    const char *method, const char *key, const struct oss_param *query,
    size_t nquery, const struct oss_param *hdr, size_t nhdr,
    enum xfer_sink sink, struct oss_request *rq, struct oss_xfer *x,
    struct oss_error *err)
{
	enum oss_err	rc;

	memset(x, 0, sizeof(*x));
	if ((rc = oss_request_build(c, t, method, key, query, nquery, hdr,
	    nhdr, time(NULL), rq, err)) != OSS_OK)
		return rc;
	x->x_client = c;
	x->x_req = rq;
	x->x_creds = t->ot_creds;
	x->x_sink = sink;
	return OSS_OK;
}

static void
xfer_end(struct oss_xfer *x, struct oss_request *rq)
{
	xfer_free(x);
	oss_request_free(rq);
}

/* Whether an exchange that ended in rc is tried again: after a pause. */
static int
xfer_retry(const struct oss_client *c, enum oss_err rc, unsigned attempt)
{
	if (rc != OSS_UNAVAILABLE || attempt >= c->c_opts.oo_retries)
		return 0;
	backoff(&c->c_opts, attempt);
	return 1;
}

/* ------------------------------------------------------------------------
 * Operations
 */

/* What oss_list keeps across the pages and retries of one listing. */
struct list_state {
	oss_list_cb	 ls_cb;
	void		*ls_arg;
	size_t		 ls_page_objects;
	int		 ls_retrying;	/* skip what was already reported */
	int		 ls_too_many;
	int		 ls_have_last;
	char		 ls_last[OSS_TEXT_MAX + 1];
};

static int
list_object(const struct oss_object *o, void *arg)
{
	struct list_state	*ls = arg;

	if (++ls->ls_page_objects > OSS_PAGE_KEYS) {
		ls->ls_too_many = 1;
		return -1;
	}
	/* OSS lists in key order, so a retried page's objects up to the
	 * last one reported were reported already. */
	if (ls->ls_retrying && ls->ls_have_last &&
	    strcmp(o->ob_key, ls->ls_last) <= 0)
		return 0;
	snprintf(ls->ls_last, sizeof(ls->ls_last), "%s", o->ob_key);
	ls->ls_have_last = 1;
	return ls->ls_cb(o, ls->ls_arg);
}

static enum oss_err
list_page(struct oss_client *c, const struct oss_target *t,
    const char *prefix, const char *token, struct list_state *ls,
    struct oss_list_page *page, struct oss_error *err)
{
	struct oss_param	q[5];
	struct oss_request	rq;
	struct oss_xfer		x;
	size_t			nq = 0;
	enum oss_err		rc;

	q[nq].op_name = "list-type";
	q[nq++].op_value = "2";
	q[nq].op_name = "max-keys";
	q[nq++].op_value = "1000";
	q[nq].op_name = "encoding-type";
	q[nq++].op_value = "url";
	if (prefix != NULL && prefix[0] != '\0') {
		q[nq].op_name = "prefix";
		q[nq++].op_value = prefix;
	}
	if (token[0] != '\0') {
		q[nq].op_name = "continuation-token";
		q[nq++].op_value = token;
	}
	if ((rc = xfer_prepare(c, t, "GET", NULL, q, nq, NULL, 0, XS_LIST, &rq,
	    &x, err)) != OSS_OK)
		return rc;
	ls->ls_page_objects = 0;
	if ((x.x_listp = oss_listp_new(list_object, ls)) == NULL) {
		rc = oss_fail(err, OSS_LOCAL_ERROR, "out of memory");
		goto out;
	}
	rc = xfer_run(c, &x, c->c_opts.oo_timeout, 1, err);
	if (ls->ls_too_many)
		rc = oss_fail(err, OSS_BAD_RESPONSE,
		    "listing page with over %d objects", OSS_PAGE_KEYS);
	else if (rc == OSS_OK) {
		rc = oss_listp_finish(x.x_listp, page, err);
		err->oe_status = x.x_status;
		memcpy(err->oe_request_id, x.x_request_id,
		    sizeof(err->oe_request_id));
	}
out:
	xfer_end(&x, &rq);
	return rc;
}

enum oss_err
oss_list(struct oss_client *c, const struct oss_target *t,
    const char *prefix, oss_list_cb cb, void *arg, struct oss_error *err)
{
	struct oss_error	 local;
	struct oss_list_page	*page = NULL;
	struct list_state	*ls = NULL;
	char			*token = NULL;
	unsigned		 attempt, empty = 0;
	enum oss_err		 rc;

	if (err == NULL)
		err = &local;
	oss_error_clear(err);
	if (prefix != NULL && strlen(prefix) > OSS_KEY_MAX)
		return oss_fail(err, OSS_INVALID_ARGUMENT, "prefix too long");
	if ((page = calloc(1, sizeof(*page))) == NULL ||
	    (ls = calloc(1, sizeof(*ls))) == NULL ||
	    (token = calloc(1, OSS_TOKEN_MAX)) == NULL) {
		rc = oss_fail(err, OSS_LOCAL_ERROR, "out of memory");
		goto out;
	}
	ls->ls_cb = cb;
	ls->ls_arg = arg;
	for (;;) {
		for (attempt = 0;; attempt++) {
			ls->ls_retrying = attempt > 0;
			rc = list_page(c, t, prefix, token, ls, page, err);
			if (!xfer_retry(c, rc, attempt))
				break;
		}
		if (rc != OSS_OK || !page->lp_truncated)
			break;
		if (page->lp_next_token[0] == '\0' ||
		    strcmp(page->lp_next_token, token) == 0) {
			rc = oss_fail(err, OSS_BAD_RESPONSE, "truncated "
			    "listing without a new NextContinuationToken");
			break;
		}
		/* A server could send empty pages forever. */
		if (page->lp_objects == 0 && ++empty > OSS_EMPTY_PAGES_MAX) {
			rc = oss_fail(err, OSS_BAD_RESPONSE,
			    "%d empty listing pages in a row",
			    OSS_EMPTY_PAGES_MAX);
			break;
		}
		if (page->lp_objects > 0)
			empty = 0;
		memcpy(token, page->lp_next_token, OSS_TOKEN_MAX);
	}
out:
	free(token);
	free(ls);
	free(page);
	return rc;
}

enum oss_err
oss_head(struct oss_client *c, const struct oss_target *t, const char *key,
    struct oss_head *h, struct oss_error *err)
{
	struct oss_error	local;
	struct oss_request	rq;
	struct oss_xfer		x;
	unsigned		attempt;
	enum oss_err		rc;

	if (err == NULL)
		err = &local;
	for (attempt = 0;; attempt++) {
		if ((rc = xfer_prepare(c, t, "HEAD", key, NULL, 0, NULL, 0,
		    XS_NONE, &rq, &x, err)) != OSS_OK)
			return rc;
		rc = xfer_run(c, &x, c->c_opts.oo_timeout, 0, err);
		if (rc == OSS_OK && h != NULL)
			head_from(&x, h);
		xfer_end(&x, &rq);
		if (!xfer_retry(c, rc, attempt))
			break;
	}
	return rc;
}

/* "bytes=first-last", or "bytes=first-" for len 0. */
static void
range_value(uint64_t off, uint64_t len, char *buf, size_t buflen)
{
	if (len == 0)
		snprintf(buf, buflen, "bytes=%" PRIu64 "-", off);
	else
		snprintf(buf, buflen, "bytes=%" PRIu64 "-%" PRIu64, off,
		    off + len - 1);
}

/* A failed download can be tried again if fd can be put back as it was. */
static int
fd_rewind(int fd, off_t start, uint64_t written)
{
	if (written == 0)
		return 0;
	if (start == -1 || lseek(fd, start, SEEK_SET) != start ||
	    ftruncate(fd, start) == -1)
		return -1;
	return 0;
}

/* What every ranged read checks of a 206. */
static enum oss_err
range_check(const struct oss_xfer *x, uint64_t off, struct oss_error *err)
{
	if (x->x_status == 206 && (!x->x_has_range ||
	    x->x_range_first != off))
		return oss_fail(err, OSS_BAD_RESPONSE,
		    "answer to a Range is not the range asked for");
	return OSS_OK;
}

enum oss_err
oss_get_fd(struct oss_client *c, const struct oss_target *t, const char *key,
    uint64_t off, uint64_t len, int fd, uint64_t max_bytes,
    struct oss_head *h, uint64_t *written, struct oss_error *err)
{
	struct oss_error	 local;
	struct oss_param	 range = { "Range", NULL };
	struct oss_request	 rq;
	struct oss_xfer		 x;
	char			 rv[64];
	off_t			 start;
	unsigned		 attempt;
	int			 ranged = off > 0 || len > 0, again;
	enum oss_err		 rc;

	if (err == NULL)
		err = &local;
	if (written != NULL)
		*written = 0;
	oss_error_clear(err);
	if (len > 0 && off > UINT64_MAX - len)
		return oss_fail(err, OSS_INVALID_ARGUMENT, "bad range");
	range_value(off, len, rv, sizeof(rv));
	range.op_value = rv;
	start = lseek(fd, 0, SEEK_CUR);
	for (attempt = 0;; attempt++) {
		if ((rc = xfer_prepare(c, t, "GET", key, NULL, 0,
		    ranged ? &range : NULL, ranged ? 1 : 0, XS_FD, &rq, &x,
		    err)) != OSS_OK)
			return rc;
		x.x_ranged = ranged;
		x.x_skip = off;
		x.x_want = len;
		x.x_fd = fd;
		x.x_max = max_bytes;
		rc = xfer_run(c, &x, c->c_opts.oo_get_timeout, 0, err);
		if (rc == OSS_OK)
			rc = range_check(&x, off, err);
		if (rc == OSS_OK && !ranged && x.x_has_crc64 &&
		    x.x_crc64 != x.x_crc_calc)
			rc = oss_fail(err, OSS_BAD_RESPONSE, "CRC-64 of the "
			    "object does not match its x-oss-hash-crc64ecma");
		if (rc == OSS_OK && h != NULL)
			head_from(&x, h);
		if (written != NULL)
			*written = x.x_written;
		/* only a file put back as it was is tried again */
		again = rc == OSS_UNAVAILABLE &&
		    attempt < c->c_opts.oo_retries &&
		    fd_rewind(fd, start, x.x_written) == 0;
		xfer_end(&x, &rq);
		if (!again || !xfer_retry(c, rc, attempt))
			break;
		if (written != NULL)
			*written = 0;
	}
	return rc;
}

enum oss_err
oss_get_range(struct oss_client *c, const struct oss_target *t,
    const char *key, uint64_t off, void *buf, size_t len, size_t *got,
    struct oss_error *err)
{
	struct oss_error	 local;
	struct oss_param	 range = { "Range", NULL };
	struct oss_request	 rq;
	struct oss_xfer		 x;
	char			 rv[64];
	unsigned		 attempt;
	enum oss_err		 rc;

	if (err == NULL)
		err = &local;
	*got = 0;
	oss_error_clear(err);
	if (len == 0)
		return OSS_OK;
	if (off > UINT64_MAX - len)
		return oss_fail(err, OSS_INVALID_ARGUMENT, "bad range");
	range_value(off, len, rv, sizeof(rv));
	range.op_value = rv;
	for (attempt = 0;; attempt++) {
		if ((rc = xfer_prepare(c, t, "GET", key, NULL, 0, &range, 1,
		    XS_BUF, &rq, &x, err)) != OSS_OK)
			return rc;
		x.x_ranged = 1;
		x.x_skip = off;
		x.x_buf = buf;
		x.x_buflen = len;
		rc = xfer_run(c, &x, c->c_opts.oo_timeout, 0, err);
		if (rc == OSS_OK)
			rc = range_check(&x, off, err);
		if (rc != OSS_OK && x.x_status == 416) {
			/* Nothing at off (an empty object, say): no bytes,
			 * which is what the caller asked for. */
			oss_error_clear(err);
			x.x_got = 0;
			rc = OSS_OK;
		}
		if (rc == OSS_OK)
			*got = x.x_got;
		xfer_end(&x, &rq);
		if (!xfer_retry(c, rc, attempt))
			break;
	}
	return rc;
}
