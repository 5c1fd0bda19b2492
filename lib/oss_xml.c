/* oss_xml.c -- OSS's XML: error documents and ListObjectsV2 pages, parsed with expat as they arrive; pure, no I/O */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <expat.h>

#include "hex.h"
#include "oss_int.h"

/* ------------------------------------------------------------------------
 * Error documents
 */

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
	size_t	n = strlen(s);
	long	r;

	r = hex_pct_decode(s, n, plus, s, n + 1);
	return r < 0 || strlen(s) != (size_t)r ? -1 : 0;
}

int
oss_parse_u64(const char *s, uint64_t *v)
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
		if (oss_parse_u64(t, &lp->lp_key_count) == -1)
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
		if (oss_parse_u64(t, &lp->lp_size) == -1)
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

int
oss_listp_stopped(const struct oss_listp *lp)
{
	return lp->lp_stopped;
}
