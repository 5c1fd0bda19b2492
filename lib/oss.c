/* oss.c -- the OSS client: list, HEAD and download on libcurl, typed errors */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <expat.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "hex.h"
#include "egress.h"
#include "oss_sign.h"
#include "oss.h"

#define OSS_PAGE_KEYS		1000	/* max-keys: OSS's largest page */
#define OSS_KEY_MAX		1023	/* bytes, OSS's limit */
#define OSS_ERRBODY_MAX		(64 * 1024)
#define OSS_ERRHDR_MAX		(8 * 1024)	/* x-oss-err, base64 */
#define OSS_EMPTY_PAGES_MAX	16	/* truncated pages without objects */
#define OSS_TEXT_MAX		(OSS_TOKEN_MAX - 1)	/* one XML element */

static const char *const oss_err_names[OSS_ERR__MAX] = {
	"OSS_OK",
	"OSS_ACCESS_DENIED",
	"OSS_INVALID_ACCESS_KEY",
	"OSS_SIGNATURE_MISMATCH",
	"OSS_CREDENTIALS_EXPIRED",
	"OSS_NO_SUCH_BUCKET",
	"OSS_NO_SUCH_KEY",
	"OSS_UNAVAILABLE",
	"OSS_BAD_RESPONSE",
	"OSS_EGRESS_REFUSED",
	"OSS_TOO_LARGE",
	"OSS_BAD_ENDPOINT",
	"OSS_INVALID_ARGUMENT",
	"OSS_CLOCK_SKEWED",
	"OSS_OBJECT_ARCHIVED",
	"OSS_ABORTED",
	"OSS_LOCAL_ERROR",
};

static const char *const oss_kind_names[OSS_KIND__MAX] = {
	"unknown",
	"dicom",
	"jpeg",
	"png",
};

/*
 * OSS error codes, and the S3 ones that OSS-compatible servers send for
 * the same thing.  A code not listed here is mapped by HTTP status.
 */
static const struct {
	const char	*code;
	enum oss_err	 err;
} oss_codes[] = {
	{ "AccessDenied", OSS_ACCESS_DENIED },
	{ "AccessForbidden", OSS_ACCESS_DENIED },
	{ "UserDisable", OSS_ACCESS_DENIED },
	{ "AllAccessDisabled", OSS_ACCESS_DENIED },
	{ "InvalidAccessKeyId", OSS_INVALID_ACCESS_KEY },
	{ "SignatureDoesNotMatch", OSS_SIGNATURE_MISMATCH },
	{ "SecurityTokenExpired", OSS_CREDENTIALS_EXPIRED },
	{ "InvalidSecurityToken", OSS_CREDENTIALS_EXPIRED },
	{ "AccessKeyIdAndSecurityTokenNotMatch", OSS_CREDENTIALS_EXPIRED },
	{ "ExpiredToken", OSS_CREDENTIALS_EXPIRED },
	{ "InvalidToken", OSS_CREDENTIALS_EXPIRED },
	{ "TokenRefreshRequired", OSS_CREDENTIALS_EXPIRED },
	{ "NoSuchBucket", OSS_NO_SUCH_BUCKET },
	{ "NoSuchKey", OSS_NO_SUCH_KEY },
	{ "InternalError", OSS_UNAVAILABLE },
	{ "ServiceUnavailable", OSS_UNAVAILABLE },
	{ "SlowDown", OSS_UNAVAILABLE },
	{ "RequestTimeout", OSS_UNAVAILABLE },
	{ "BadGateway", OSS_UNAVAILABLE },
	{ "GatewayTimeout", OSS_UNAVAILABLE },
	{ "TooManyRequests", OSS_UNAVAILABLE },
	{ "RequestTimeTooSkewed", OSS_CLOCK_SKEWED },
	{ "InvalidObjectState", OSS_OBJECT_ARCHIVED },
	{ "InvalidArgument", OSS_INVALID_ARGUMENT },
	{ "InvalidBucketName", OSS_INVALID_ARGUMENT },
	{ "InvalidObjectName", OSS_INVALID_ARGUMENT },
	{ "InvalidURI", OSS_INVALID_ARGUMENT },
	{ "KeyTooLong", OSS_INVALID_ARGUMENT },
	{ "PermanentRedirect", OSS_BAD_ENDPOINT },
	{ "TemporaryRedirect", OSS_BAD_ENDPOINT },
	{ "AuthorizationHeaderMalformed", OSS_BAD_ENDPOINT },
	{ "NotImplemented", OSS_BAD_RESPONSE },
};

const char *
oss_err_name(enum oss_err e)
{
	return (unsigned)e < OSS_ERR__MAX ? oss_err_names[e] : "OSS_UNKNOWN";
}

const char *
oss_kind_name(enum oss_kind k)
{
	return (unsigned)k < OSS_KIND__MAX ? oss_kind_names[k] : "unknown";
}

/* ------------------------------------------------------------------------
 * Messages: whatever a server sends may end up in a JSON errorMessage or
 * on a terminal, so it is reduced to valid UTF-8 without controls.
 */

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	size_t	len, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* overlong forms, UTF-16 surrogates, beyond U+10FFFF */
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
		return 0;
	return len;
}

/* Copy n bytes of src to dst cleaned; truncates on a character boundary. */
static void
oss_clean(char *dst, size_t dstlen, const char *src, size_t n)
{
	const unsigned char	*s = (const unsigned char *)src;
	size_t			 i = 0, o = 0, len;

	if (dstlen == 0)
		return;
	while (i < n && s[i] != '\0') {
		if (s[i] < 0x80) {
			if (o + 1 >= dstlen)
				break;
			if (s[i] == '\t' || s[i] == '\n' || s[i] == '\r')
				dst[o++] = ' ';
			else if (s[i] < 0x20 || s[i] == 0x7f)
				dst[o++] = '?';
			else
				dst[o++] = (char)s[i];
			i++;
			continue;
		}
		if ((len = utf8_seq(s + i, n - i)) == 0) {
			if (o + 1 >= dstlen)
				break;
			dst[o++] = '?';
			i++;
			continue;
		}
		if (o + len >= dstlen)
			break;
		memcpy(dst + o, s + i, len);
		o += len;
		i += len;
	}
	dst[o] = '\0';
}

/* Trim white space at both ends, in place. */
static void
oss_trim(char *s)
{
	size_t	n = strlen(s), i = 0;

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	while (isspace((unsigned char)s[i]))
		i++;
	if (i > 0)
		memmove(s, s + i, n - i + 1);
}

/* Belt and braces: should a server ever echo a secret into its message,
 * it is masked before anyone sees it. */
static void
oss_redact(char *msg, const struct oss_creds *cr)
{
	const char	*secrets[2];
	char		*p;
	size_t		 i, n;

	if (cr == NULL)
		return;
	secrets[0] = cr->oc_access_key_secret;
	secrets[1] = cr->oc_security_token;
	for (i = 0; i < 2; i++) {
		if (secrets[i] == NULL || (n = strlen(secrets[i])) < 4)
			continue;
		while ((p = strstr(msg, secrets[i])) != NULL)
			memset(p, '*', n);
	}
}

static void
oss_error_clear(struct oss_error *e)
{
	memset(e, 0, sizeof(*e));
	e->oe_err = OSS_OK;
}

static enum oss_err
oss_fail(struct oss_error *e, enum oss_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Set e to code with our own message; returns code. */
static enum oss_err
oss_fail(struct oss_error *e, enum oss_err code, const char *fmt, ...)
{
	char	buf[OSS_MESSAGE_MAX];
	va_list	ap;

	e->oe_err = code;
	e->oe_detail[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	oss_clean(e->oe_message, sizeof(e->oe_message), buf, strlen(buf));
	return code;
}

/* ------------------------------------------------------------------------
 * Error documents
 */

static enum oss_err
oss_err_from_status(long status)
{
	if (status >= 500 || status == 429 || status == 408)
		return OSS_UNAVAILABLE;
	if (status == 403 || status == 401)
		return OSS_ACCESS_DENIED;
	if (status == 404)
		return OSS_NO_SUCH_KEY;
	if (status == 400)
		return OSS_INVALID_ARGUMENT;
	if (status >= 300 && status < 400)
		return OSS_BAD_ENDPOINT;
	return OSS_BAD_RESPONSE;
}

enum oss_err
oss_err_from_code(const char *code, long status)
{
	size_t	i;

	if (code != NULL && *code != '\0')
		for (i = 0; i < sizeof(oss_codes) / sizeof(oss_codes[0]); i++)
			if (strcmp(code, oss_codes[i].code) == 0)
				return oss_codes[i].err;
	return oss_err_from_status(status);
}

enum errx_field {
	ERRX_NONE,
	ERRX_CODE,
	ERRX_MESSAGE,
	ERRX_REQUEST_ID,
	ERRX_ENDPOINT,
	ERRX__MAX
};

static const char *const errx_names[ERRX__MAX] = {
	NULL, "Code", "Message", "RequestId", "Endpoint",
};

/*
 * State of the error document parser.  Every element is kept truncated,
 * to twice what struct oss_error holds so that oss_clean() cuts it on a
 * character boundary: an error is reported whatever its length.
 */
struct errx {
	XML_Parser	 ex_xml;
	int		 ex_depth;
	int		 ex_root_ok;
	enum errx_field	 ex_field;
	char		 ex_text[ERRX__MAX][2 * OSS_MESSAGE_MAX];
	size_t		 ex_len[ERRX__MAX];
};

static void
errx_start(void *arg, const XML_Char *name, const XML_Char **attr)
{
	struct errx	*ex = arg;
	int		 i;

	(void)attr;
	ex->ex_depth++;
	if (ex->ex_depth == 1) {
		ex->ex_root_ok = strcmp(name, "Error") == 0;
		return;
	}
	ex->ex_field = ERRX_NONE;
	if (ex->ex_depth != 2 || !ex->ex_root_ok)
		return;
	for (i = 1; i < ERRX__MAX; i++)
		if (strcmp(name, errx_names[i]) == 0)
			ex->ex_field = (enum errx_field)i;
}

static void
errx_end(void *arg, const XML_Char *name)
{
	struct errx	*ex = arg;

	(void)name;
	ex->ex_depth--;
	ex->ex_field = ERRX_NONE;
}

static void
errx_text(void *arg, const XML_Char *s, int len)
{
	struct errx	*ex = arg;
	size_t		 room, n;

	if (ex->ex_field == ERRX_NONE || len <= 0)
		return;
	room = sizeof(ex->ex_text[0]) - 1 - ex->ex_len[ex->ex_field];
	n = (size_t)len < room ? (size_t)len : room;
	memcpy(ex->ex_text[ex->ex_field] + ex->ex_len[ex->ex_field], s, n);
	ex->ex_len[ex->ex_field] += n;
	ex->ex_text[ex->ex_field][ex->ex_len[ex->ex_field]] = '\0';
}

/* A document type declaration can define entities: none is accepted. */
static void
errx_doctype(void *arg, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int has_internal_subset)
{
	struct errx	*ex = arg;

	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	XML_StopParser(ex->ex_xml, XML_FALSE);
}

enum oss_err
oss_error_parse(const void *body, size_t len, long status,
    struct oss_error *err)
{
	struct errx	*ex;
	XML_Parser	 p = NULL;
	int		 parsed = 0;

	oss_error_clear(err);
	err->oe_status = status;
	if ((ex = calloc(1, sizeof(*ex))) == NULL)
		return oss_fail(err, OSS_LOCAL_ERROR, "out of memory");
	if (len > 0 && len <= INT_MAX && (p = XML_ParserCreate("UTF-8")) !=
	    NULL) {
		ex->ex_xml = p;
		XML_SetUserData(p, ex);
		XML_SetElementHandler(p, errx_start, errx_end);
		XML_SetCharacterDataHandler(p, errx_text);
		XML_SetStartDoctypeDeclHandler(p, errx_doctype);
		parsed = XML_Parse(p, body, (int)len, 1) == XML_STATUS_OK &&
		    ex->ex_root_ok;
	}
	if (parsed) {
		oss_trim(ex->ex_text[ERRX_CODE]);
		oss_trim(ex->ex_text[ERRX_MESSAGE]);
		oss_trim(ex->ex_text[ERRX_REQUEST_ID]);
		oss_trim(ex->ex_text[ERRX_ENDPOINT]);
		oss_clean(err->oe_code, sizeof(err->oe_code),
		    ex->ex_text[ERRX_CODE], ex->ex_len[ERRX_CODE]);
		oss_clean(err->oe_request_id, sizeof(err->oe_request_id),
		    ex->ex_text[ERRX_REQUEST_ID], ex->ex_len[ERRX_REQUEST_ID]);
		if (ex->ex_text[ERRX_ENDPOINT][0] != '\0') {
			/* A bucket of another region: say where it is. */
			char	m[4 * OSS_MESSAGE_MAX + 32];

			snprintf(m, sizeof(m), "%s (endpoint: %s)",
			    ex->ex_text[ERRX_MESSAGE],
			    ex->ex_text[ERRX_ENDPOINT]);
			oss_clean(err->oe_message, sizeof(err->oe_message), m,
			    strlen(m));
		} else
			oss_clean(err->oe_message, sizeof(err->oe_message),
			    ex->ex_text[ERRX_MESSAGE],
			    ex->ex_len[ERRX_MESSAGE]);
	}
	err->oe_err = oss_err_from_code(err->oe_code, status);
	if (err->oe_message[0] == '\0')
		snprintf(err->oe_message, sizeof(err->oe_message),
		    "HTTP status %ld%s", status, parsed ? "" :
		    " without an OSS error document");
	if (p != NULL)
		XML_ParserFree(p);
	free(ex);
	return err->oe_err;
}

/* ------------------------------------------------------------------------
 * Listing pages, parsed as they arrive
 */

enum listx_field {
	LF_NONE,
	LF_IS_TRUNCATED,	/* depth 2 */
	LF_NEXT_TOKEN,
	LF_ENCODING,
	LF_KEY_COUNT,
	LF_KEY,			/* depth 3, in Contents */
	LF_SIZE,
	LF_ETAG,
	LF_LAST_MODIFIED,
	LF_STORAGE_CLASS,
	LF__MAX
};

static const char *const listx_names[LF__MAX] = {
	NULL, "IsTruncated", "NextContinuationToken", "EncodingType",
	"KeyCount", "Key", "Size", "ETag", "LastModified", "StorageClass",
};

struct oss_listp {
	XML_Parser		 lp_xml;
	oss_list_cb		 lp_cb;
	void			*lp_arg;
	enum oss_err		 lp_err;
	char			 lp_errmsg[256];
	int			 lp_depth;
	int			 lp_root_ok;
	int			 lp_in_contents;
	enum listx_field	 lp_field;
	char			 lp_text[OSS_TEXT_MAX + 1];
	size_t			 lp_textlen;
	/* the object being read */
	char			 lp_key[OSS_TEXT_MAX + 1];
	char			 lp_etag[128];
	char			 lp_lastmod[64];
	char			 lp_class[32];
	uint64_t		 lp_size;
	int			 lp_has_key;
	int			 lp_has_size;
	/* the page */
	struct oss_list_page	 lp_page;
	int			 lp_has_truncated;
	uint64_t		 lp_key_count;
	int			 lp_has_key_count;
	int			 lp_finished;
	int			 lp_stopped;	/* by the callback */
};

static void
listp_fail(struct oss_listp *lp, enum oss_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
listp_fail(struct oss_listp *lp, enum oss_err e, const char *fmt, ...)
{
	va_list	ap;

	if (lp->lp_err != OSS_OK || lp->lp_stopped)
		return;
	lp->lp_err = e;
	va_start(ap, fmt);
	vsnprintf(lp->lp_errmsg, sizeof(lp->lp_errmsg), fmt, ap);
	va_end(ap);
	XML_StopParser(lp->lp_xml, XML_FALSE);
}

/*
 * Undo the encoding of encoding-type=url in place: %XX, and '+' for a
 * space when plus is set (OSS encodes keys as a form would; a literal '+'
 * arrives as %2B).  -1 for a bad escape or an encoded NUL.
 */
static int
pct_decode(char *s, int plus)
{
	char	*o = s;
	int	 hi, lo;

	for (; *s != '\0'; s++) {
		if (*s == '%') {
			if ((hi = hex_digit((unsigned char)s[1])) < 0 ||
			    (lo = hex_digit((unsigned char)s[2])) < 0 ||
			    (hi == 0 && lo == 0))
				return -1;
			*o++ = (char)(hi << 4 | lo);
			s += 2;
		} else if (*s == '+' && plus)
			*o++ = ' ';
		else
			*o++ = *s;
	}
	*o = '\0';
	return 0;
}

/* Strict decimal; -1 for anything else or overflow. */
static int
parse_u64(const char *s, uint64_t *v)
{
	uint64_t	n = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' ||
		    n > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	*v = n;
	return 0;
}

static void
listp_start(void *arg, const XML_Char *name, const XML_Char **attr)
{
	struct oss_listp	*lp = arg;
	int			 i, lo, hi;

	(void)attr;
	if (lp->lp_err != OSS_OK)
		return;
	if (lp->lp_field != LF_NONE) {
		listp_fail(lp, OSS_BAD_RESPONSE, "element <%s> inside <%s>",
		    name, listx_names[lp->lp_field]);
		return;
	}
	lp->lp_depth++;
	if (lp->lp_depth == 1) {
		if (strcmp(name, "ListBucketResult") != 0)
			listp_fail(lp, OSS_BAD_RESPONSE,
			    "<%s> is not a listing", name);
		lp->lp_root_ok = 1;
		return;
	}
	if (lp->lp_depth == 2 && strcmp(name, "Contents") == 0) {
		lp->lp_in_contents = 1;
		lp->lp_has_key = lp->lp_has_size = 0;
		lp->lp_key[0] = lp->lp_etag[0] = '\0';
		lp->lp_lastmod[0] = lp->lp_class[0] = '\0';
		lp->lp_size = 0;
		return;
	}
	if (lp->lp_depth == 2) {
		lo = LF_IS_TRUNCATED;
		hi = LF_KEY_COUNT;
	} else if (lp->lp_depth == 3 && lp->lp_in_contents) {
		lo = LF_KEY;
		hi = LF_STORAGE_CLASS;
	} else
		return;
	for (i = lo; i <= hi; i++)
		if (strcmp(name, listx_names[i]) == 0) {
			lp->lp_field = (enum listx_field)i;
			lp->lp_textlen = 0;
			lp->lp_text[0] = '\0';
		}
}

static void
listp_text(void *arg, const XML_Char *s, int len)
{
	struct oss_listp	*lp = arg;

	if (lp->lp_err != OSS_OK || lp->lp_field == LF_NONE || len <= 0)
		return;
	if ((size_t)len > OSS_TEXT_MAX - lp->lp_textlen) {
		listp_fail(lp, OSS_BAD_RESPONSE, "<%s> longer than %d bytes",
		    listx_names[lp->lp_field], OSS_TEXT_MAX);
		return;
	}
	memcpy(lp->lp_text + lp->lp_textlen, s, (size_t)len);
	lp->lp_textlen += (size_t)len;
	lp->lp_text[lp->lp_textlen] = '\0';
}

static void
listp_copy(char *dst, size_t dstlen, const char *src)
{
	oss_clean(dst, dstlen, src, strlen(src));
}

/* A leaf element ended: its text is in lp_text. */
static void
listp_leaf(struct oss_listp *lp)
{
	char	*t = lp->lp_text;
	size_t	 n;

	switch (lp->lp_field) {
	case LF_IS_TRUNCATED:
		oss_trim(t);
		if (strcasecmp(t, "true") == 0)
			lp->lp_page.lp_truncated = 1;
		else if (strcasecmp(t, "false") == 0)
			lp->lp_page.lp_truncated = 0;
		else
			listp_fail(lp, OSS_BAD_RESPONSE, "bad IsTruncated");
		lp->lp_has_truncated = 1;
		break;
	case LF_NEXT_TOKEN:
		oss_trim(t);
		memcpy(lp->lp_page.lp_next_token, t, strlen(t) + 1);
		break;
	case LF_ENCODING:
		oss_trim(t);
		if (strcasecmp(t, "url") != 0)
			listp_fail(lp, OSS_BAD_RESPONSE,
			    "unknown EncodingType");
		else if (lp->lp_page.lp_objects > 0)
			/* Objects already reported were taken as not
			 * encoded. */
			listp_fail(lp, OSS_BAD_RESPONSE,
			    "EncodingType after the first object");
		lp->lp_page.lp_url_encoded = 1;
		break;
	case LF_KEY_COUNT:
		oss_trim(t);
		if (parse_u64(t, &lp->lp_key_count) == -1)
			listp_fail(lp, OSS_BAD_RESPONSE, "bad KeyCount");
		lp->lp_has_key_count = 1;
		break;
	case LF_KEY:
		/* Keys are taken as they are: spaces at either end are
		 * part of them. */
		if (lp->lp_page.lp_url_encoded && pct_decode(t, 1) == -1) {
			listp_fail(lp, OSS_BAD_RESPONSE, "bad encoding in Key");
			break;
		}
		if ((n = strlen(t)) == 0) {
			listp_fail(lp, OSS_BAD_RESPONSE, "empty Key");
			break;
		}
		memcpy(lp->lp_key, t, n + 1);
		lp->lp_has_key = 1;
		break;
	case LF_SIZE:
		oss_trim(t);
		if (parse_u64(t, &lp->lp_size) == -1)
			listp_fail(lp, OSS_BAD_RESPONSE, "bad Size");
		lp->lp_has_size = 1;
		break;
	case LF_ETAG:
		oss_trim(t);
		n = strlen(t);
		if (n >= 2 && t[0] == '"' && t[n - 1] == '"') {
			t[n - 1] = '\0';
			t++;
		}
		listp_copy(lp->lp_etag, sizeof(lp->lp_etag), t);
		break;
	case LF_LAST_MODIFIED:
		oss_trim(t);
		listp_copy(lp->lp_lastmod, sizeof(lp->lp_lastmod), t);
		break;
	case LF_STORAGE_CLASS:
		oss_trim(t);
		listp_copy(lp->lp_class, sizeof(lp->lp_class), t);
		break;
	case LF_NONE:
	case LF__MAX:
		break;
	}
}

static void
listp_object(struct oss_listp *lp)
{
	struct oss_object	o;
	size_t			n;

	if (lp->lp_stopped)
		return;		/* expat may still call back after the stop */
	if (!lp->lp_has_key || !lp->lp_has_size) {
		listp_fail(lp, OSS_BAD_RESPONSE, "<Contents> without %s",
		    lp->lp_has_key ? "Size" : "Key");
		return;
	}
	memset(&o, 0, sizeof(o));
	o.ob_key = lp->lp_key;
	o.ob_size = lp->lp_size;
	o.ob_etag = lp->lp_etag;
	o.ob_last_modified = lp->lp_lastmod;
	o.ob_storage_class = lp->lp_class;
	n = strlen(lp->lp_key);
	if (n > 0 && lp->lp_key[n - 1] == '/')
		o.ob_flags |= OSS_OBJ_DIR;
	if (lp->lp_size == 0)
		o.ob_flags |= OSS_OBJ_EMPTY;
	if (strcasecmp(lp->lp_class, "Archive") == 0 ||
	    strcasecmp(lp->lp_class, "ColdArchive") == 0 ||
	    strcasecmp(lp->lp_class, "DeepColdArchive") == 0)
		o.ob_flags |= OSS_OBJ_ARCHIVE;
	lp->lp_page.lp_objects++;
	if (lp->lp_cb != NULL && lp->lp_cb(&o, lp->lp_arg) != 0) {
		lp->lp_stopped = 1;
		XML_StopParser(lp->lp_xml, XML_FALSE);
	}
}

static void
listp_end(void *arg, const XML_Char *name)
{
	struct oss_listp	*lp = arg;

	(void)name;
	if (lp->lp_err != OSS_OK)
		return;
	if (lp->lp_field != LF_NONE) {
		listp_leaf(lp);
		lp->lp_field = LF_NONE;
	} else if (lp->lp_depth == 2 && lp->lp_in_contents) {
		lp->lp_in_contents = 0;
		listp_object(lp);
	}
	lp->lp_depth--;
}

static void
listp_doctype(void *arg, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int has_internal_subset)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	listp_fail(arg, OSS_BAD_RESPONSE, "document type declaration");
}

struct oss_listp *
oss_listp_new(oss_list_cb cb, void *arg)
{
	struct oss_listp	*lp;

	if ((lp = calloc(1, sizeof(*lp))) == NULL)
		return NULL;
	if ((lp->lp_xml = XML_ParserCreate("UTF-8")) == NULL) {
		free(lp);
		return NULL;
	}
	lp->lp_cb = cb;
	lp->lp_arg = arg;
	lp->lp_err = OSS_OK;
	XML_SetUserData(lp->lp_xml, lp);
	XML_SetElementHandler(lp->lp_xml, listp_start, listp_end);
	XML_SetCharacterDataHandler(lp->lp_xml, listp_text);
	XML_SetStartDoctypeDeclHandler(lp->lp_xml, listp_doctype);
	return lp;
}

void
oss_listp_free(struct oss_listp *lp)
{
	if (lp == NULL)
		return;
	XML_ParserFree(lp->lp_xml);
	free(lp);
}

static enum oss_err
listp_status(struct oss_listp *lp, struct oss_error *err)
{
	if (lp->lp_err == OSS_OK)
		return OSS_OK;
	oss_error_clear(err);
	return oss_fail(err, lp->lp_err, "%s%s",
	    lp->lp_err == OSS_BAD_RESPONSE ? "listing: " : "", lp->lp_errmsg);
}

static enum oss_err
listp_parse(struct oss_listp *lp, const char *p, size_t len, int final,
    struct oss_error *err)
{
	size_t	n;

	do {
		n = len < (1U << 20) ? len : (1U << 20);
		if (XML_Parse(lp->lp_xml, p, (int)n, final && n == len) !=
		    XML_STATUS_OK && lp->lp_err == OSS_OK && !lp->lp_stopped) {
			lp->lp_err = OSS_BAD_RESPONSE;
			snprintf(lp->lp_errmsg, sizeof(lp->lp_errmsg),
			    "malformed XML at line %lu: %s",
			    (unsigned long)XML_GetCurrentLineNumber(
			    lp->lp_xml), XML_ErrorString(
			    XML_GetErrorCode(lp->lp_xml)));
		}
		p += n;
		len -= n;
	} while (len > 0 && lp->lp_err == OSS_OK && !lp->lp_stopped);
	return listp_status(lp, err);
}

enum oss_err
oss_listp_feed(struct oss_listp *lp, const void *buf, size_t len,
    struct oss_error *err)
{
	if (lp->lp_err != OSS_OK || lp->lp_finished)
		return listp_status(lp, err);
	if (len == 0 || lp->lp_stopped)
		return OSS_OK;		/* the rest of a stopped page: dropped */
	return listp_parse(lp, buf, len, 0, err);
}

enum oss_err
oss_listp_finish(struct oss_listp *lp, struct oss_list_page *page,
    struct oss_error *err)
{
	char	*t = lp->lp_page.lp_next_token;

	if (lp->lp_err == OSS_OK && lp->lp_stopped) {
		lp->lp_err = OSS_ABORTED;
		snprintf(lp->lp_errmsg, sizeof(lp->lp_errmsg),
		    "listing stopped by the caller");
		return listp_status(lp, err);
	}
	if (lp->lp_err == OSS_OK && !lp->lp_finished) {
		lp->lp_finished = 1;
		listp_parse(lp, "", 0, 1, err);
	}
	if (lp->lp_err == OSS_OK && !lp->lp_root_ok)
		listp_fail(lp, OSS_BAD_RESPONSE, "empty document");
	if (lp->lp_err == OSS_OK && !lp->lp_has_truncated)
		listp_fail(lp, OSS_BAD_RESPONSE, "no IsTruncated");
	if (lp->lp_err == OSS_OK && lp->lp_has_key_count &&
	    lp->lp_key_count != lp->lp_page.lp_objects)
		listp_fail(lp, OSS_BAD_RESPONSE,
		    "KeyCount %" PRIu64 " but %zu objects", lp->lp_key_count,
		    lp->lp_page.lp_objects);
	/*
	 * The token is opaque.  Alibaba's SDKs disagree on whether OSS
	 * encodes it under encoding-type=url; only %XX is undone, which
	 * leaves an unencoded token (base64 has no '%') as it is.
	 */
	if (lp->lp_err == OSS_OK && lp->lp_page.lp_url_encoded &&
	    strchr(t, '%') != NULL && pct_decode(t, 0) == -1)
		listp_fail(lp, OSS_BAD_RESPONSE,
		    "bad encoding in NextContinuationToken");
	if (page != NULL)
		*page = lp->lp_page;
	return listp_status(lp, err);
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

struct oss_client {
	struct oss_opts	 c_opts;
	CURL		*c_curl;	/* reused: connections, TLS sessions */
};

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
	if (egress_literal(en.en_host, &ss) &&
	    !egress_addr_allowed(c->c_opts.oo_egress, en.en_host,
	    (const struct sockaddr *)&ss)) {
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

/* One HTTP exchange: the request and what came back. */
struct xfer {
	const struct oss_client	*x_client;
	const struct oss_request *x_req;
	const struct oss_creds	*x_creds;
	enum xfer_sink		 x_sink;
	enum xfer_stop		 x_stop;
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
	size_t			 x_errlen;

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
	unsigned		 x_refused;
	unsigned		 x_allowed;
	char			 x_refused_why[OSS_MESSAGE_MAX];
};

static void
xfer_reset_head(struct xfer *x)
{
	x->x_request_id[0] = x->x_etag[0] = x->x_ctype[0] = '\0';
	x->x_lastmod[0] = x->x_class[0] = x->x_location[0] = '\0';
	free(x->x_osserr);
	x->x_osserr = NULL;
	x->x_has_clen = x->x_has_range = x->x_has_crc64 = 0;
}

static void
xfer_free(struct xfer *x)
{
	free(x->x_osserr);
	free(x->x_errbody);
	oss_listp_free(x->x_listp);
	memset(x, 0, sizeof(*x));
}

/* Copy header value v (n bytes) cleaned and trimmed into dst. */
static void
hdr_copy(char *dst, size_t dstlen, const char *v, size_t n)
{
	oss_clean(dst, dstlen, v, n);
	oss_trim(dst);
}

static size_t
xfer_header(char *line, size_t size, size_t nmemb, void *arg)
{
	struct xfer	*x = arg;
	size_t		 n = size * nmemb, nlen;
	const char	*v, *colon;
	char		 num[32], *e;
	uint64_t	 a, total;

	if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		/* A status line starts a new response (after a 100). */
		xfer_reset_head(x);
		x->x_status = 0;
		if ((v = memchr(line, ' ', n)) != NULL &&
		    (size_t)(line + n - v) > 3 &&
		    isdigit((unsigned char)v[1]) &&
		    isdigit((unsigned char)v[2]) &&
		    isdigit((unsigned char)v[3]))
			x->x_status = (v[1] - '0') * 100 + (v[2] - '0') * 10 +
			    (v[3] - '0');
		return n;
	}
	if ((colon = memchr(line, ':', n)) == NULL)
		return n;
	nlen = (size_t)(colon - line);
	v = colon + 1;
	n -= nlen + 1;
	while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n'))
		n--;

#define HDR(s)	(nlen == sizeof(s) - 1 && strncasecmp(line, s, nlen) == 0)
	if (HDR("x-oss-request-id"))
		hdr_copy(x->x_request_id, sizeof(x->x_request_id), v, n);
	else if (HDR("etag")) {
		hdr_copy(x->x_etag, sizeof(x->x_etag), v, n);
		if ((nlen = strlen(x->x_etag)) >= 2 && x->x_etag[0] == '"' &&
		    x->x_etag[nlen - 1] == '"') {
			memmove(x->x_etag, x->x_etag + 1, nlen - 2);
			x->x_etag[nlen - 2] = '\0';
		}
	} else if (HDR("content-type"))
		hdr_copy(x->x_ctype, sizeof(x->x_ctype), v, n);
	else if (HDR("last-modified"))
		hdr_copy(x->x_lastmod, sizeof(x->x_lastmod), v, n);
	else if (HDR("x-oss-storage-class"))
		hdr_copy(x->x_class, sizeof(x->x_class), v, n);
	else if (HDR("location"))
		hdr_copy(x->x_location, sizeof(x->x_location), v, n);
	else if (HDR("content-length")) {
		hdr_copy(num, sizeof(num), v, n);
		x->x_has_clen = parse_u64(num, &x->x_clen) == 0;
		/* Refuse an object too large before a byte of it. */
		if (x->x_has_clen && x->x_sink == XS_FD &&
		    x->x_status >= 200 && x->x_status < 300 &&
		    !(x->x_ranged && x->x_status == 200) &&
		    x->x_clen > x->x_max) {
			x->x_stop = XA_TOO_LARGE;
			return 0;
		}
	} else if (HDR("x-oss-hash-crc64ecma")) {
		hdr_copy(num, sizeof(num), v, n);
		x->x_has_crc64 = parse_u64(num, &x->x_crc64) == 0;
	} else if (HDR("content-range")) {
		/* "bytes first-last/total" */
		char	cr[96];

		hdr_copy(cr, sizeof(cr), v, n);
		if (strncasecmp(cr, "bytes ", 6) == 0) {
			errno = 0;
			a = strtoull(cr + 6, &e, 10);
			if (errno == 0 && *e == '-' && (e = strchr(e, '/')) !=
			    NULL && parse_u64(e + 1, &total) == 0) {
				x->x_range_first = a;
				x->x_range_total = total;
				x->x_has_range = 1;
			}
		}
	} else if (HDR("x-oss-err") && n < OSS_ERRHDR_MAX) {
		free(x->x_osserr);
		if ((x->x_osserr = malloc(n + 1)) != NULL) {
			memcpy(x->x_osserr, v, n);
			x->x_osserr[n] = '\0';
			oss_trim(x->x_osserr);
		}
	}
#undef HDR
	return size * nmemb;
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
	struct xfer	*x = arg;
	size_t		 total = size * nmemb, n = total, k;
	char		*nb;
	int		 done = 0;

	if (total == 0)
		return 0;
	if (x->x_status < 200 || x->x_status >= 300) {
		/* An error document: keep it to parse at the end. */
		if (x->x_errlen + n > OSS_ERRBODY_MAX) {
			x->x_stop = XA_ERRBODY;
			return 0;
		}
		if ((nb = realloc(x->x_errbody, x->x_errlen + n + 1)) ==
		    NULL) {
			x->x_stop = XA_ERRBODY;
			return 0;
		}
		x->x_errbody = nb;
		memcpy(x->x_errbody + x->x_errlen, p, n);
		x->x_errlen += n;
		x->x_errbody[x->x_errlen] = '\0';
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
			if (x->x_listp->lp_stopped) {
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

/*
 * The egress check where it counts: on the address curl is about to
 * connect to, after DNS, for every address it tries.  A name allowed in
 * [egress] allow_hosts covers its virtual-hosted buckets
 * (bucket.endpoint).
 */
static curl_socket_t
xfer_opensocket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct xfer			*x = arg;
	const struct egress_policy	*ep = x->x_client->c_opts.oo_egress;

	if (purpose != CURLSOCKTYPE_IPCXN ||
	    (!egress_addr_allowed(ep, x->x_req->rq_endpoint_host, &a->addr) &&
	    !egress_addr_allowed(ep, x->x_req->rq_host, &a->addr))) {
		egress_refusal_detail(x->x_refused_why,
		    sizeof(x->x_refused_why), x->x_req->rq_host, &a->addr);
		x->x_refused++;
		return CURL_SOCKET_BAD;
	}
	x->x_allowed++;
	/* CLOEXEC: the dispatcher runs engine commands. */
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static enum oss_err
xfer_setup(CURL *h, struct xfer *x, long timeout)
{
	const struct oss_opts	*o = &x->x_client->c_opts;
	CURLcode		 cc = CURLE_OK;

	curl_easy_reset(h);
#define SET(opt, val)	do { if (cc == CURLE_OK)			\
		cc = curl_easy_setopt(h, opt, val); } while (0)
	SET(CURLOPT_URL, x->x_req->rq_url);
	SET(CURLOPT_HTTPHEADER, x->x_req->rq_headers);
	if (strcmp(x->x_req->rq_method, "HEAD") == 0)
		SET(CURLOPT_NOBODY, 1L);
	else if (strcmp(x->x_req->rq_method, "GET") == 0)
		SET(CURLOPT_HTTPGET, 1L);
	else
		SET(CURLOPT_CUSTOMREQUEST, x->x_req->rq_method);
	SET(CURLOPT_ERRORBUFFER, x->x_curlerr);
	SET(CURLOPT_HEADERFUNCTION, xfer_header);
	SET(CURLOPT_HEADERDATA, x);
	SET(CURLOPT_WRITEFUNCTION, xfer_write);
	SET(CURLOPT_WRITEDATA, x);
	SET(CURLOPT_OPENSOCKETFUNCTION, xfer_opensocket);
	SET(CURLOPT_OPENSOCKETDATA, x);
#if LIBCURL_VERSION_NUM >= 0x075500
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
	SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_PROXY, "");		/* none, whatever the environment */
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PATH_AS_IS, 1L);	/* a key may contain "../" */
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (o->oo_ca_file != NULL)
		SET(CURLOPT_CAINFO, o->oo_ca_file);
	SET(CURLOPT_CONNECTTIMEOUT_MS, o->oo_connect_timeout * 1000L);
	SET(CURLOPT_TIMEOUT_MS, timeout * 1000L);
	SET(CURLOPT_LOW_SPEED_LIMIT, o->oo_low_speed_limit);
	SET(CURLOPT_LOW_SPEED_TIME, o->oo_low_speed_time);
	SET(CURLOPT_USERAGENT, o->oo_user_agent != NULL ? o->oo_user_agent :
	    "mias");
#undef SET
	if (cc != CURLE_OK)
		return OSS_LOCAL_ERROR;
	return OSS_OK;
}

/* Base64 decode of the x-oss-err header; -1 if it is not base64. */
static long
b64_decode(const char *in, unsigned char **out)
{
	size_t	n = strlen(in);
	int	len, pad = 0;

	*out = NULL;
	if (n == 0 || n % 4 != 0 || n > OSS_ERRHDR_MAX)
		return -1;
	if ((*out = malloc(n / 4 * 3 + 1)) == NULL)
		return -1;
	if ((len = EVP_DecodeBlock(*out, (const unsigned char *)in,
	    (int)n)) < 0) {
		free(*out);
		*out = NULL;
		return -1;
	}
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	if (in[n - 1] == '=')
		pad++;
	if (in[n - 2] == '=')
		pad++;
	return len - pad;
}

/* The response was an error: make it an oss_error. */
static enum oss_err
xfer_http_error(struct xfer *x, int bucket_call, struct oss_error *err)
{
	unsigned char	*doc = NULL;
	long		 dlen;

	if (x->x_errbody != NULL && x->x_stop != XA_ERRBODY)
		oss_error_parse(x->x_errbody, x->x_errlen, x->x_status, err);
	else if (x->x_osserr != NULL &&
	    (dlen = b64_decode(x->x_osserr, &doc)) > 0)
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
xfer_net_error(struct xfer *x, CURLcode cc, struct oss_error *err)
{
	const char	*why = x->x_curlerr[0] ? x->x_curlerr :
	    curl_easy_strerror(cc);
	enum oss_err	 e;

	if (x->x_refused > 0 && x->x_allowed == 0) {
		oss_fail(err, OSS_EGRESS_REFUSED, "the OSS endpoint is %s",
		    egress_refused_text);
		memcpy(err->oe_detail, x->x_refused_why,
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
xfer_run(struct oss_client *c, struct xfer *x, long timeout, int bucket_call,
    struct oss_error *err)
{
	CURLcode	 cc;

	oss_error_clear(err);
	if (xfer_setup(c->c_curl, x, timeout) != OSS_OK)
		return oss_fail(err, OSS_LOCAL_ERROR, "cannot set up curl");
	cc = curl_easy_perform(c->c_curl);
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
head_from(const struct xfer *x, struct oss_head *h)
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
	struct xfer		x;
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
	memset(&x, 0, sizeof(x));
	if ((rc = oss_request_build(c, t, "GET", NULL, q, nq, NULL, 0,
	    time(NULL), &rq, err)) != OSS_OK)
		return rc;
	x.x_client = c;
	x.x_req = &rq;
	x.x_creds = t->ot_creds;
	x.x_sink = XS_LIST;
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
	xfer_free(&x);
	oss_request_free(&rq);
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
			if (rc != OSS_UNAVAILABLE ||
			    attempt >= c->c_opts.oo_retries)
				break;
			backoff(&c->c_opts, attempt);
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
	struct xfer		x;
	unsigned		attempt;
	enum oss_err		rc;

	if (err == NULL)
		err = &local;
	for (attempt = 0;; attempt++) {
		memset(&x, 0, sizeof(x));
		if ((rc = oss_request_build(c, t, "HEAD", key, NULL, 0, NULL,
		    0, time(NULL), &rq, err)) != OSS_OK)
			return rc;
		x.x_client = c;
		x.x_req = &rq;
		x.x_creds = t->ot_creds;
		x.x_sink = XS_NONE;
		rc = xfer_run(c, &x, c->c_opts.oo_timeout, 0, err);
		if (rc == OSS_OK && h != NULL)
			head_from(&x, h);
		xfer_free(&x);
		oss_request_free(&rq);
		if (rc != OSS_UNAVAILABLE || attempt >= c->c_opts.oo_retries)
			break;
		backoff(&c->c_opts, attempt);
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
range_check(const struct xfer *x, uint64_t off, struct oss_error *err)
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
	struct xfer		 x;
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
		memset(&x, 0, sizeof(x));
		if ((rc = oss_request_build(c, t, "GET", key, NULL, 0,
		    ranged ? &range : NULL, ranged ? 1 : 0, time(NULL), &rq,
		    err)) != OSS_OK)
			return rc;
		x.x_client = c;
		x.x_req = &rq;
		x.x_creds = t->ot_creds;
		x.x_sink = XS_FD;
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
		again = rc == OSS_UNAVAILABLE &&
		    attempt < c->c_opts.oo_retries &&
		    fd_rewind(fd, start, x.x_written) == 0;
		xfer_free(&x);
		oss_request_free(&rq);
		if (!again)
			break;
		if (written != NULL)
			*written = 0;
		backoff(&c->c_opts, attempt);
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
	struct xfer		 x;
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
		memset(&x, 0, sizeof(x));
		if ((rc = oss_request_build(c, t, "GET", key, NULL, 0, &range,
		    1, time(NULL), &rq, err)) != OSS_OK)
			return rc;
		x.x_client = c;
		x.x_req = &rq;
		x.x_creds = t->ot_creds;
		x.x_sink = XS_BUF;
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
		xfer_free(&x);
		oss_request_free(&rq);
		if (rc != OSS_UNAVAILABLE || attempt >= c->c_opts.oo_retries)
			break;
		backoff(&c->c_opts, attempt);
	}
	return rc;
}
