/* oss_sign.c -- signing OSS requests (V1 HMAC-SHA1, V4 OSS4-HMAC-SHA256) */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "hex.h"
#include "oss_sign.h"

#define SIGN_V4_ALGO		"OSS4-HMAC-SHA256"
#define SIGN_V4_PAYLOAD		"UNSIGNED-PAYLOAD"
#define SIGN_V4_TERM		"aliyun_v4_request"
#define SIGN_V4_PRODUCT		"oss"

/*
 * Query parameters that V1 always signs, from the official SDKs.  Of what
 * mias sends only continuation-token is among them: prefix, max-keys,
 * list-type and encoding-type are not signed by V1.
 */
static const char *const sign_v1_subres[] = {
	"acl", "append", "bucketInfo", "callback", "callback-var",
	"cloudboxes", "continuation-token", "delete", "location", "objectMeta",
	"partNumber", "position", "regionList", "response-cache-control",
	"response-content-disposition", "response-content-encoding",
	"response-content-language", "response-content-type",
	"response-expires", "restore", "security-token", "sequential", "stat",
	"symlink", "tagging", "uploadId", "uploads", "versionId", "versioning",
	"versions",
};

/*
 * A growing string.  Growing copies by hand instead of realloc() so that
 * no copy of a string to sign, which holds the STS token, is freed
 * unwiped.  The first failure sticks and sb_take() then returns NULL.
 */
struct sbuf {
	char	*sb_buf;
	size_t	 sb_len;
	size_t	 sb_cap;
	int	 sb_err;
};

/* One header or parameter being canonicalised; the strings are owned. */
struct sign_kv {
	char	*kv_name;
	char	*kv_value;
	size_t	 kv_order;	/* keeps repeated names in the caller's order */
};

static void
sb_addn(struct sbuf *sb, const char *s, size_t n)
{
	char	*nb;
	size_t	 ncap;

	if (sb->sb_err)
		return;
	if (n >= SIZE_MAX / 2 - sb->sb_len) {
		sb->sb_err = 1;
		return;
	}
	if (sb->sb_len + n + 1 > sb->sb_cap) {
		ncap = sb->sb_cap ? sb->sb_cap : 256;
		while (ncap < sb->sb_len + n + 1)
			ncap *= 2;
		if ((nb = malloc(ncap)) == NULL) {
			sb->sb_err = 1;
			return;
		}
		if (sb->sb_buf != NULL) {
			memcpy(nb, sb->sb_buf, sb->sb_len);
			OPENSSL_cleanse(sb->sb_buf, sb->sb_cap);
			free(sb->sb_buf);
		}
		sb->sb_buf = nb;
		sb->sb_cap = ncap;
	}
	memcpy(sb->sb_buf + sb->sb_len, s, n);
	sb->sb_len += n;
	sb->sb_buf[sb->sb_len] = '\0';
}

static void
sb_add(struct sbuf *sb, const char *s)
{
	sb_addn(sb, s, strlen(s));
}

static void
sb_addc(struct sbuf *sb, char c)
{
	sb_addn(sb, &c, 1);
}

static void
sb_wipe(struct sbuf *sb)
{
	if (sb->sb_buf != NULL) {
		OPENSSL_cleanse(sb->sb_buf, sb->sb_cap);
		free(sb->sb_buf);
	}
	memset(sb, 0, sizeof(*sb));
}

/* The string, now the caller's, or NULL after a failure. */
static char *
sb_take(struct sbuf *sb)
{
	char	*s;

	if (sb->sb_err) {
		sb_wipe(sb);
		return NULL;
	}
	if (sb->sb_buf == NULL)
		sb_add(sb, "");
	if (sb->sb_err)
		return NULL;
	s = sb->sb_buf;
	memset(sb, 0, sizeof(*sb));
	return s;
}

void
oss_sign_free_str(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

static void sign_seterr(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
sign_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int
sign_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	    c == '~';
}

static void
sb_add_encoded(struct sbuf *sb, const char *s, int keep_slash)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const unsigned char	*p;
	char			 esc[3];

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (sign_unreserved(*p) || (keep_slash && *p == '/')) {
			sb_addc(sb, (char)*p);
			continue;
		}
		esc[0] = '%';
		esc[1] = hex[*p >> 4];
		esc[2] = hex[*p & 0x0f];
		sb_addn(sb, esc, 3);
	}
}

char *
oss_uri_encode(const char *s, int keep_slash)
{
	struct sbuf	sb = { NULL, 0, 0, 0 };

	sb_add_encoded(&sb, s, keep_slash);
	return sb_take(&sb);
}

int
oss_sign_v1_subresource(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(sign_v1_subres) / sizeof(sign_v1_subres[0]);
	    i++)
		if (strcmp(name, sign_v1_subres[i]) == 0)
			return 1;
	return 0;
}

static const char *const sign_wday[] =
    { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const sign_month[] =
    { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
      "Nov", "Dec" };

int
oss_http_date(time_t t, char buf[OSS_HTTP_DATE_LEN])
{
	struct tm	tm;
	char		tmp[80];

	/* By hand, not strftime(): %a and %b follow the locale. */
	if (gmtime_r(&t, &tm) == NULL || tm.tm_year < -1900 + 1 ||
	    tm.tm_year > 9999 - 1900 || tm.tm_wday < 0 || tm.tm_wday > 6 ||
	    tm.tm_mon < 0 || tm.tm_mon > 11)
		return -1;
	if (snprintf(tmp, sizeof(tmp), "%s, %02d %s %04d %02d:%02d:%02d GMT",
	    sign_wday[tm.tm_wday], tm.tm_mday, sign_month[tm.tm_mon],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec) !=
	    OSS_HTTP_DATE_LEN - 1)
		return -1;
	memcpy(buf, tmp, OSS_HTTP_DATE_LEN);
	return 0;
}

int
oss_iso8601(time_t t, char buf[OSS_ISO8601_LEN])
{
	struct tm	tm;

	char		tmp[64];

	/* Through tmp, as the compiler cannot know that struct tm's fields
	 * are in range and so the output fits. */
	if (gmtime_r(&t, &tm) == NULL || tm.tm_year < -1900 + 1 ||
	    tm.tm_year > 9999 - 1900)
		return -1;
	if (snprintf(tmp, sizeof(tmp), "%04d%02d%02dT%02d%02d%02dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec) != OSS_ISO8601_LEN - 1)
		return -1;
	memcpy(buf, tmp, OSS_ISO8601_LEN);
	return 0;
}

static int
sign_region_ok(const char *r, size_t n)
{
	size_t	i;

	if (n == 0 || n >= OSS_REGION_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!(islower((unsigned char)r[i]) ||
		    isdigit((unsigned char)r[i]) || r[i] == '-'))
			return 0;
	return r[0] != '-' && r[n - 1] != '-';
}

int
oss_region_from_host(const char *host, char *buf, size_t len)
{
	static const char	 suffix[] = ".aliyuncs.com";
	static const char	 internal[] = "-internal";
	char			 h[256];
	const char		*label, *r;
	size_t			 n, i, rn;

	n = strlen(host);
	if (n >= sizeof(h))
		return 0;
	for (i = 0; i < n; i++)
		h[i] = (char)tolower((unsigned char)host[i]);
	h[n] = '\0';
	if (n > 0 && h[n - 1] == '.')
		h[--n] = '\0';
	if (n <= sizeof(suffix) - 1 ||
	    strcmp(h + n - (sizeof(suffix) - 1), suffix) != 0)
		return 0;
	n -= sizeof(suffix) - 1;
	h[n] = '\0';

	/* The last label before aliyuncs.com names the region. */
	label = strrchr(h, '.');
	label = label == NULL ? h : label + 1;
	if (strncmp(label, "oss-", 4) == 0) {
		/* oss-cn-beijing[-internal].aliyuncs.com */
		r = label + 4;
		rn = strlen(r);
	} else if (strcmp(label, "oss") == 0 && label != h) {
		/* cn-beijing.oss.aliyuncs.com, the dual-stack form */
		for (r = label - 1; r > h && r[-1] != '.'; r--)
			;
		rn = (size_t)(label - 1 - r);
	} else
		return 0;
	if (rn > sizeof(internal) - 1 &&
	    strncmp(r + rn - (sizeof(internal) - 1), internal,
	    sizeof(internal) - 1) == 0)
		rn -= sizeof(internal) - 1;
	/* Acceleration endpoints serve every region and name none. */
	if (strncmp(r, "accelerate", 10) == 0 || !sign_region_ok(r, rn) ||
	    rn >= len)
		return 0;
	memcpy(buf, r, rn);
	buf[rn] = '\0';
	return 1;
}

/* RFC 7230 token characters: what a header name may be made of. */
static int
sign_tchar(unsigned char c)
{
	return isalnum(c) ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int
sign_hname_ok(const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!sign_tchar((unsigned char)*s))
			return 0;
	return 1;
}

/* A header value may not break the header block: no CR, LF or other
 * controls but tab. */
static int
sign_hvalue_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return 0;
	return 1;
}

/* Printable ASCII without space, and for the key id none of the
 * separators of the Authorization header. */
static int
sign_credchars_ok(const char *s, const char *forbid)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f ||
		    strchr(forbid, *s) != NULL)
			return 0;
	return 1;
}

static int
sign_has_token(const struct oss_sign_in *in)
{
	return in->si_creds->oc_security_token != NULL &&
	    in->si_creds->oc_security_token[0] != '\0';
}

/* Checks shared by every step; NULL when in is usable, else why not. */
static const char *
sign_check(const struct oss_sign_in *in)
{
	const struct oss_creds	*c = in->si_creds;
	const char		*m, *n;
	size_t			 i;

	if (in->si_sigver != OSS_SIGV1 && in->si_sigver != OSS_SIGV4)
		return "signature version is neither 1 nor 4";
	if (in->si_method == NULL || *in->si_method == '\0')
		return "no method";
	for (m = in->si_method; *m != '\0'; m++)
		if (!isupper((unsigned char)*m))
			return "bad method";
	if (c == NULL || c->oc_access_key_id == NULL ||
	    c->oc_access_key_id[0] == '\0' || c->oc_access_key_secret == NULL ||
	    c->oc_access_key_secret[0] == '\0')
		return "access key id or secret missing";
	if (!sign_credchars_ok(c->oc_access_key_id, ",:/;="))
		return "access key id has characters it cannot have";
	if (sign_has_token(in) && !sign_credchars_ok(c->oc_security_token, ""))
		return "security token has characters it cannot have";
	if (in->si_bucket != NULL && (in->si_bucket[0] == '\0' ||
	    strchr(in->si_bucket, '/') != NULL))
		return "bad bucket name";
	if (in->si_sigver == OSS_SIGV4 && (in->si_region == NULL ||
	    !sign_region_ok(in->si_region, strlen(in->si_region))))
		return "bad or missing region";
	if (in->si_nquery > 0 && in->si_query == NULL)
		return "query missing";
	for (i = 0; i < in->si_nquery; i++)
		if (in->si_query[i].op_name == NULL ||
		    in->si_query[i].op_name[0] == '\0')
			return "query parameter without a name";
	if (in->si_nheaders > 0 && in->si_headers == NULL)
		return "headers missing";
	for (i = 0; i < in->si_nheaders; i++) {
		n = in->si_headers[i].op_name;
		if (!sign_hname_ok(n))
			return "bad header name";
		if (in->si_headers[i].op_value != NULL &&
		    !sign_hvalue_ok(in->si_headers[i].op_value))
			return "header value with control characters";
		if (strcasecmp(n, "authorization") == 0 ||
		    strcasecmp(n, "date") == 0 ||
		    strcasecmp(n, "x-oss-security-token") == 0 ||
		    strcasecmp(n, "x-oss-content-sha256") == 0 ||
		    (in->si_sigver == OSS_SIGV4 &&
		    strcasecmp(n, "x-oss-date") == 0))
			return "header that the signer makes given by caller";
	}
	if (in->si_nadditional > 0 && in->si_additional == NULL)
		return "additional headers missing";
	for (i = 0; i < in->si_nadditional; i++)
		if (!sign_hname_ok(in->si_additional[i]))
			return "bad additional header name";
	if (in->si_nsubresources > 0 && in->si_subresources == NULL)
		return "sub-resources missing";
	return NULL;
}

static char *
sign_strdup_lower(const char *s)
{
	char	*d, *p;

	if ((d = strdup(s)) == NULL)
		return NULL;
	for (p = d; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return d;
}

/* Header values are signed without surrounding white space. */
static char *
sign_strdup_trim(const char *s)
{
	const char	*e;
	char		*d;

	if (s == NULL)
		s = "";
	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if ((d = malloc((size_t)(e - s) + 1)) == NULL)
		return NULL;
	memcpy(d, s, (size_t)(e - s));
	d[e - s] = '\0';
	return d;
}

static void
kv_free(struct sign_kv *kv, size_t n)
{
	size_t	i;

	if (kv == NULL)
		return;
	for (i = 0; i < n; i++) {
		oss_sign_free_str(kv[i].kv_name);
		oss_sign_free_str(kv[i].kv_value);
	}
	free(kv);
}

static int
kv_cmp(const void *a, const void *b)
{
	const struct sign_kv	*x = a, *y = b;
	int			 c;

	if ((c = strcmp(x->kv_name, y->kv_name)) != 0)
		return c;
	return x->kv_order < y->kv_order ? -1 : x->kv_order > y->kv_order;
}

/* Like kv_cmp, but V4 sorts parameters of one name by value. */
static int
kv_cmp_value(const void *a, const void *b)
{
	const struct sign_kv	*x = a, *y = b;
	int			 c;

	if ((c = strcmp(x->kv_name, y->kv_name)) != 0)
		return c;
	return strcmp(x->kv_value, y->kv_value);
}

static int
kv_push(struct sign_kv *kv, size_t *n, char *name, char *value)
{
	if (name == NULL || value == NULL) {
		oss_sign_free_str(name);
		oss_sign_free_str(value);
		return -1;
	}
	kv[*n].kv_name = name;
	kv[*n].kv_value = value;
	kv[*n].kv_order = *n;
	(*n)++;
	return 0;
}

static int
sign_v4_additional(const struct oss_sign_in *in, const char *lname)
{
	size_t	i;

	for (i = 0; i < in->si_nadditional; i++)
		if (strcasecmp(in->si_additional[i], lname) == 0)
			return 1;
	return 0;
}

static int
sign_v4_default_header(const char *lname)
{
	return strncmp(lname, "x-oss-", 6) == 0 ||
	    strcmp(lname, "content-type") == 0 ||
	    strcmp(lname, "content-md5") == 0;
}

static int
sign_header_present(const struct oss_sign_in *in, const char *lname)
{
	size_t	i;

	for (i = 0; i < in->si_nheaders; i++)
		if (strcasecmp(in->si_headers[i].op_name, lname) == 0)
			return 1;
	return 0;
}

/*
 * The headers a version signs, lower-cased, trimmed, sorted, including
 * those oss_sign() makes (x-oss-date and x-oss-content-sha256 for V4, the
 * STS token for both).  -1 on lack of memory.
 */
static int
sign_headers(const struct oss_sign_in *in, struct sign_kv **out, size_t *nout)
{
	struct sign_kv	*kv;
	char		 iso[OSS_ISO8601_LEN];
	char		*lname;
	size_t		 i, n = 0;
	int		 signed_;

	*out = NULL;
	*nout = 0;
	if ((kv = calloc(in->si_nheaders + 3, sizeof(*kv))) == NULL)
		return -1;
	for (i = 0; i < in->si_nheaders; i++) {
		if ((lname = sign_strdup_lower(in->si_headers[i].op_name)) ==
		    NULL)
			goto err;
		if (in->si_sigver == OSS_SIGV1)
			signed_ = strncmp(lname, "x-oss-", 6) == 0;
		else
			signed_ = sign_v4_default_header(lname) ||
			    sign_v4_additional(in, lname);
		if (!signed_) {
			free(lname);
			continue;
		}
		if (kv_push(kv, &n, lname,
		    sign_strdup_trim(in->si_headers[i].op_value)) == -1)
			goto err;
	}
	if (in->si_sigver == OSS_SIGV4) {
		if (oss_iso8601(in->si_time, iso) == -1)
			goto err;
		if (kv_push(kv, &n, strdup("x-oss-date"), strdup(iso)) == -1 ||
		    kv_push(kv, &n, strdup("x-oss-content-sha256"),
		    strdup(SIGN_V4_PAYLOAD)) == -1)
			goto err;
	}
	if (sign_has_token(in) && kv_push(kv, &n,
	    strdup("x-oss-security-token"),
	    strdup(in->si_creds->oc_security_token)) == -1)
		goto err;
	if (n > 1)
		qsort(kv, n, sizeof(*kv), kv_cmp);
	*out = kv;
	*nout = n;
	return 0;
err:
	kv_free(kv, n);
	return -1;
}

/* "name:value\n" per header, repeated names joined with ',' as HTTP
 * would fold them. */
static void
sb_add_headers(struct sbuf *sb, const struct sign_kv *kv, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (i > 0 && strcmp(kv[i].kv_name, kv[i - 1].kv_name) == 0) {
			sb->sb_len--;	/* the previous '\n' */
			sb_addc(sb, ',');
		} else {
			sb_add(sb, kv[i].kv_name);
			sb_addc(sb, ':');
		}
		sb_add(sb, kv[i].kv_value);
		sb_addc(sb, '\n');
	}
}

static const char *
sign_header_value(const struct oss_sign_in *in, const char *lname)
{
	size_t	i;

	for (i = 0; i < in->si_nheaders; i++)
		if (strcasecmp(in->si_headers[i].op_name, lname) == 0)
			return in->si_headers[i].op_value ?
			    in->si_headers[i].op_value : "";
	return "";
}

static int
sign_v1_signed_param(const struct oss_sign_in *in, const char *name)
{
	size_t	i;

	if (oss_sign_v1_subresource(name) || strncmp(name, "x-oss-", 6) == 0)
		return 1;
	for (i = 0; i < in->si_nsubresources; i++)
		if (strcmp(in->si_subresources[i], name) == 0)
			return 1;
	return 0;
}

char *
oss_sign_v1_resource(const struct oss_sign_in *in)
{
	struct sbuf	 sb = { NULL, 0, 0, 0 };
	struct sign_kv	*kv = NULL;
	const char	*v;
	size_t		 i, n = 0;

	if (sign_check(in) != NULL)
		return NULL;
	if (in->si_nquery > 0 &&
	    (kv = calloc(in->si_nquery, sizeof(*kv))) == NULL)
		return NULL;
	for (i = 0; i < in->si_nquery; i++) {
		if (!sign_v1_signed_param(in, in->si_query[i].op_name))
			continue;
		v = in->si_query[i].op_value ? in->si_query[i].op_value : "";
		if (kv_push(kv, &n, strdup(in->si_query[i].op_name),
		    strdup(v)) == -1) {
			sb.sb_err = 1;
			goto out;
		}
	}
	if (n > 1)
		qsort(kv, n, sizeof(*kv), kv_cmp);

	/* V1 signs the resource as it is named, not as it is encoded. */
	sb_addc(&sb, '/');
	if (in->si_bucket != NULL) {
		sb_add(&sb, in->si_bucket);
		sb_addc(&sb, '/');
	}
	if (in->si_key != NULL)
		sb_add(&sb, in->si_key);
	for (i = 0; i < n; i++) {
		sb_addc(&sb, i == 0 ? '?' : '&');
		sb_add(&sb, kv[i].kv_name);
		if (kv[i].kv_value[0] != '\0') {
			sb_addc(&sb, '=');
			sb_add(&sb, kv[i].kv_value);
		}
	}
out:
	kv_free(kv, n);
	return sb_take(&sb);
}

char *
oss_sign_v1_string(const struct oss_sign_in *in)
{
	struct sbuf	 sb = { NULL, 0, 0, 0 };
	struct sign_kv	*hdr = NULL;
	char		 date[OSS_HTTP_DATE_LEN];
	char		*res = NULL;
	size_t		 nhdr = 0;

	if (sign_check(in) != NULL || in->si_sigver != OSS_SIGV1 ||
	    oss_http_date(in->si_time, date) == -1)
		return NULL;
	if (sign_headers(in, &hdr, &nhdr) == -1 ||
	    (res = oss_sign_v1_resource(in)) == NULL) {
		sb.sb_err = 1;
		goto out;
	}
	sb_add(&sb, in->si_method);
	sb_addc(&sb, '\n');
	sb_add(&sb, sign_header_value(in, "content-md5"));
	sb_addc(&sb, '\n');
	sb_add(&sb, sign_header_value(in, "content-type"));
	sb_addc(&sb, '\n');
	sb_add(&sb, date);
	sb_addc(&sb, '\n');
	sb_add_headers(&sb, hdr, nhdr);
	sb_add(&sb, res);
out:
	kv_free(hdr, nhdr);
	oss_sign_free_str(res);
	return sb_take(&sb);
}

/* The query as V4 signs it and as it is sent: names and values encoded,
 * sorted by encoded name, "name" alone for an empty value. */
static char *
sign_v4_query(const struct oss_sign_in *in)
{
	struct sbuf	 sb = { NULL, 0, 0, 0 };
	struct sign_kv	*kv = NULL;
	size_t		 i, n = 0;

	if (in->si_nquery > 0 &&
	    (kv = calloc(in->si_nquery, sizeof(*kv))) == NULL)
		return NULL;
	for (i = 0; i < in->si_nquery; i++)
		if (kv_push(kv, &n, oss_uri_encode(in->si_query[i].op_name, 0),
		    oss_uri_encode(in->si_query[i].op_value ?
		    in->si_query[i].op_value : "", 0)) == -1) {
			sb.sb_err = 1;
			goto out;
		}
	if (n > 1)
		qsort(kv, n, sizeof(*kv), kv_cmp_value);
	for (i = 0; i < n; i++) {
		if (i > 0)
			sb_addc(&sb, '&');
		sb_add(&sb, kv[i].kv_name);
		if (kv[i].kv_value[0] != '\0') {
			sb_addc(&sb, '=');
			sb_add(&sb, kv[i].kv_value);
		}
	}
out:
	kv_free(kv, n);
	return sb_take(&sb);
}

/* The AdditionalHeaders list: lower case, sorted, each once, only those
 * sent and not signed anyway. */
static char *
sign_v4_additional_list(const struct oss_sign_in *in)
{
	struct sbuf	 sb = { NULL, 0, 0, 0 };
	struct sign_kv	*kv = NULL;
	char		*l;
	size_t		 i, n = 0;

	if (in->si_nadditional > 0 &&
	    (kv = calloc(in->si_nadditional, sizeof(*kv))) == NULL)
		return NULL;
	for (i = 0; i < in->si_nadditional; i++) {
		if ((l = sign_strdup_lower(in->si_additional[i])) == NULL) {
			sb.sb_err = 1;
			goto out;
		}
		if (sign_v4_default_header(l) || !sign_header_present(in, l)) {
			free(l);
			continue;
		}
		if (kv_push(kv, &n, l, strdup("")) == -1) {
			sb.sb_err = 1;
			goto out;
		}
	}
	if (n > 1)
		qsort(kv, n, sizeof(*kv), kv_cmp);
	for (i = 0; i < n; i++) {
		if (i > 0 && strcmp(kv[i].kv_name, kv[i - 1].kv_name) == 0)
			continue;
		if (i > 0)
			sb_addc(&sb, ';');
		sb_add(&sb, kv[i].kv_name);
	}
out:
	kv_free(kv, n);
	return sb_take(&sb);
}

char *
oss_sign_v4_canonical(const struct oss_sign_in *in)
{
	struct sbuf	 sb = { NULL, 0, 0, 0 }, uri = { NULL, 0, 0, 0 };
	struct sign_kv	*hdr = NULL;
	char		*query = NULL, *add = NULL, *path = NULL;
	size_t		 nhdr = 0;

	if (sign_check(in) != NULL || in->si_sigver != OSS_SIGV4)
		return NULL;
	sb_addc(&uri, '/');
	if (in->si_bucket != NULL) {
		sb_add(&uri, in->si_bucket);
		sb_addc(&uri, '/');
	}
	if (in->si_key != NULL)
		sb_add(&uri, in->si_key);
	if ((path = sb_take(&uri)) == NULL ||
	    (query = sign_v4_query(in)) == NULL ||
	    (add = sign_v4_additional_list(in)) == NULL ||
	    sign_headers(in, &hdr, &nhdr) == -1) {
		sb.sb_err = 1;
		goto out;
	}
	sb_add(&sb, in->si_method);
	sb_addc(&sb, '\n');
	sb_add_encoded(&sb, path, 1);
	sb_addc(&sb, '\n');
	sb_add(&sb, query);
	sb_addc(&sb, '\n');
	sb_add_headers(&sb, hdr, nhdr);
	sb_addc(&sb, '\n');
	sb_add(&sb, add);
	sb_addc(&sb, '\n');
	sb_add(&sb, SIGN_V4_PAYLOAD);
out:
	kv_free(hdr, nhdr);
	oss_sign_free_str(path);
	oss_sign_free_str(query);
	oss_sign_free_str(add);
	return sb_take(&sb);
}

char *
oss_sign_v4_string(const struct oss_sign_in *in, const char *canonical)
{
	struct sbuf	 sb = { NULL, 0, 0, 0 };
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	char		 iso[OSS_ISO8601_LEN], hex[2 * EVP_MAX_MD_SIZE + 1];

	if (sign_check(in) != NULL || in->si_sigver != OSS_SIGV4 ||
	    canonical == NULL || oss_iso8601(in->si_time, iso) == -1)
		return NULL;
	if (EVP_Digest(canonical, strlen(canonical), md, &mdlen,
	    EVP_sha256(), NULL) != 1)
		return NULL;
	hex_encode(md, mdlen, hex);
	sb_add(&sb, SIGN_V4_ALGO "\n");
	sb_add(&sb, iso);
	sb_addc(&sb, '\n');
	sb_addn(&sb, iso, 8);
	sb_addc(&sb, '/');
	sb_add(&sb, in->si_region);
	sb_add(&sb, "/" SIGN_V4_PRODUCT "/" SIGN_V4_TERM "\n");
	sb_add(&sb, hex);
	return sb_take(&sb);
}

static int
sign_hmac256(const void *key, size_t keylen, const char *msg,
    unsigned char out[32])
{
	unsigned int	len = 0;

	if (keylen > INT32_MAX || HMAC(EVP_sha256(), key, (int)keylen,
	    (const unsigned char *)msg, strlen(msg), out, &len) == NULL ||
	    len != 32)
		return -1;
	return 0;
}

int
oss_sign_v4_key(const char *secret, const char *date, const char *region,
    unsigned char key[32])
{
	struct sbuf	 sb = { NULL, 0, 0, 0 };
	unsigned char	 k[32];
	char		*first;
	int		 rc = -1;

	sb_add(&sb, "aliyun_v4");
	sb_add(&sb, secret);
	if ((first = sb_take(&sb)) == NULL)
		return -1;
	if (sign_hmac256(first, strlen(first), date, k) == -1 ||
	    sign_hmac256(k, sizeof(k), region, k) == -1 ||
	    sign_hmac256(k, sizeof(k), SIGN_V4_PRODUCT, k) == -1 ||
	    sign_hmac256(k, sizeof(k), SIGN_V4_TERM, key) == -1)
		goto out;
	rc = 0;
out:
	OPENSSL_cleanse(k, sizeof(k));
	oss_sign_free_str(first);
	return rc;
}

static int
out_add(struct oss_sign_out *out, const char *name, const char *value)
{
	struct sbuf	sb = { NULL, 0, 0, 0 };

	if (out->so_nhdr >= OSS_SIGN_HDR_MAX)
		return -1;
	sb_add(&sb, name);
	sb_add(&sb, ": ");
	sb_add(&sb, value);
	if ((out->so_hdr[out->so_nhdr] = sb_take(&sb)) == NULL)
		return -1;
	out->so_nhdr++;
	return 0;
}

void
oss_sign_out_free(struct oss_sign_out *out)
{
	size_t	i;

	for (i = 0; i < out->so_nhdr; i++)
		oss_sign_free_str(out->so_hdr[i]);
	oss_sign_free_str(out->so_query);
	memset(out, 0, sizeof(*out));
}

static int
sign_v1(const struct oss_sign_in *in, struct oss_sign_out *out)
{
	struct sbuf	 sb = { NULL, 0, 0, 0 };
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned char	 b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
	unsigned int	 mdlen = 0;
	const char	*secret = in->si_creds->oc_access_key_secret;
	char		*sts = NULL, *auth = NULL;
	int		 rc = -1;

	if ((sts = oss_sign_v1_string(in)) == NULL)
		goto out;
	if (strlen(secret) > INT32_MAX || HMAC(EVP_sha1(), secret,
	    (int)strlen(secret), (const unsigned char *)sts, strlen(sts), md,
	    &mdlen) == NULL)
		goto out;
	EVP_EncodeBlock(b64, md, (int)mdlen);
	sb_add(&sb, "OSS ");
	sb_add(&sb, in->si_creds->oc_access_key_id);
	sb_addc(&sb, ':');
	sb_add(&sb, (const char *)b64);
	if ((auth = sb_take(&sb)) == NULL ||
	    out_add(out, "Authorization", auth) == -1)
		goto out;
	rc = 0;
out:
	OPENSSL_cleanse(md, sizeof(md));
	oss_sign_free_str(sts);
	oss_sign_free_str(auth);
	return rc;
}

static int
sign_v4(const struct oss_sign_in *in, struct oss_sign_out *out)
{
	struct sbuf	 sb = { NULL, 0, 0, 0 };
	unsigned char	 key[32], sig[32];
	char		 iso[OSS_ISO8601_LEN], date[9], hex[65];
	char		*canon = NULL, *sts = NULL, *add = NULL, *auth = NULL;
	int		 rc = -1;

	if (oss_iso8601(in->si_time, iso) == -1)
		goto out;
	memcpy(date, iso, 8);
	date[8] = '\0';
	if ((canon = oss_sign_v4_canonical(in)) == NULL ||
	    (sts = oss_sign_v4_string(in, canon)) == NULL ||
	    (add = sign_v4_additional_list(in)) == NULL ||
	    oss_sign_v4_key(in->si_creds->oc_access_key_secret, date,
	    in->si_region, key) == -1 ||
	    sign_hmac256(key, sizeof(key), sts, sig) == -1)
		goto out;
	hex_encode(sig, sizeof(sig), hex);
	sb_add(&sb, SIGN_V4_ALGO " Credential=");
	sb_add(&sb, in->si_creds->oc_access_key_id);
	sb_addc(&sb, '/');
	sb_add(&sb, date);
	sb_addc(&sb, '/');
	sb_add(&sb, in->si_region);
	sb_add(&sb, "/" SIGN_V4_PRODUCT "/" SIGN_V4_TERM);
	if (add[0] != '\0') {
		sb_add(&sb, ",AdditionalHeaders=");
		sb_add(&sb, add);
	}
	sb_add(&sb, ",Signature=");
	sb_add(&sb, hex);
	if (out_add(out, "x-oss-date", iso) == -1 ||
	    out_add(out, "x-oss-content-sha256", SIGN_V4_PAYLOAD) == -1 ||
	    (auth = sb_take(&sb)) == NULL ||
	    out_add(out, "Authorization", auth) == -1)
		goto out;
	rc = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(sig, sizeof(sig));
	OPENSSL_cleanse(hex, sizeof(hex));
	oss_sign_free_str(canon);
	oss_sign_free_str(sts);
	oss_sign_free_str(add);
	oss_sign_free_str(auth);
	return rc;
}

int
oss_sign(const struct oss_sign_in *in, struct oss_sign_out *out, char *err,
    size_t errlen)
{
	char		 date[OSS_HTTP_DATE_LEN];
	const char	*why;

	memset(out, 0, sizeof(*out));
	if ((why = sign_check(in)) != NULL) {
		sign_seterr(err, errlen, "cannot sign: %s", why);
		return -1;
	}
	if (oss_http_date(in->si_time, date) == -1) {
		sign_seterr(err, errlen, "cannot sign: time out of range");
		return -1;
	}
	if (out_add(out, "Date", date) == -1 ||
	    (sign_has_token(in) && out_add(out, "x-oss-security-token",
	    in->si_creds->oc_security_token) == -1) ||
	    (in->si_sigver == OSS_SIGV1 ? sign_v1(in, out) :
	    sign_v4(in, out)) == -1 ||
	    (out->so_query = sign_v4_query(in)) == NULL) {
		oss_sign_out_free(out);
		sign_seterr(err, errlen,
		    "cannot sign: out of memory or crypto failure");
		return -2;
	}
	return 0;
}
