/* t_oss_xml.c -- OSS listing and error parsers, error mapping, endpoints, URLs, sniffing */
#include <sys/resource.h>

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "egress.h"
#include "oss.h"
#include "tap.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* What a listing reported, for comparing runs fed in different pieces. */
struct seen {
	size_t	 n;
	int	 stop_after;	/* 0: never */
	char	 keys[16][256];
	uint64_t sizes[16];
	unsigned flags[16];
	char	 etags[16][64];
};

static int
collect(const struct oss_object *o, void *arg)
{
	struct seen	*s = arg;

	if (s->n < NELEM(s->keys)) {
		snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", o->ob_key);
		s->sizes[s->n] = o->ob_size;
		s->flags[s->n] = o->ob_flags;
		snprintf(s->etags[s->n], sizeof(s->etags[0]), "%s",
		    o->ob_etag);
	}
	s->n++;
	return s->stop_after != 0 && s->n >= (size_t)s->stop_after;
}

/* Feed doc in pieces of chunk bytes (0: at once). */
static enum oss_err
parse_list(const char *doc, size_t chunk, struct seen *s,
    struct oss_list_page *page, struct oss_error *err)
{
	struct oss_listp	*lp;
	size_t			 len = strlen(doc), off, n;
	enum oss_err		 rc = OSS_OK;

	if ((lp = oss_listp_new(collect, s)) == NULL)
		return OSS_LOCAL_ERROR;
	if (chunk == 0)
		chunk = len;
	for (off = 0; off < len && rc == OSS_OK; off += n) {
		n = len - off < chunk ? len - off : chunk;
		rc = oss_listp_feed(lp, doc + off, n, err);
	}
	if (rc == OSS_OK)
		rc = oss_listp_finish(lp, page, err);
	oss_listp_free(lp);
	return rc;
}

/* Shaped as OSS answers ListObjectsV2 with encoding-type=url. */
static const char page_encoded[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult>\n"
    "  <Name>examplebucket</Name>\n"
    "  <Prefix>study%2F1%2F</Prefix>\n"
    "  <MaxKeys>1000</MaxKeys>\n"
    "  <EncodingType>url</EncodingType>\n"
    "  <IsTruncated>true</IsTruncated>\n"
    "  <NextContinuationToken>CgJiYw%2B%2F--</NextContinuationToken>\n"
    "  <Contents>\n"
    "    <Key>study%2F1%2F</Key>\n"
    "    <LastModified>2024-01-02T03:04:05.000Z</LastModified>\n"
    "    <ETag>\"D41D8CD98F00B204E9800998ECF8427E\"</ETag>\n"
    "    <Type>Normal</Type>\n"
    "    <Size>0</Size>\n"
    "    <StorageClass>Standard</StorageClass>\n"
    "    <Owner><ID>1</ID><DisplayName>1</DisplayName></Owner>\n"
    "  </Contents>\n"
    "  <Contents>\n"
    "    <Key>study%2F1%2Fimage%201.dcm</Key>\n"
    "    <ETag>&quot;5B3C1A2E053D763E1B002CC607C5A0FE&quot;</ETag>\n"
    "    <Size>528392</Size>\n"
    "    <StorageClass>Standard</StorageClass>\n"
    "  </Contents>\n"
    "  <Contents>\n"
    "    <Key>study%2F1%2Fa%2Bb+c.dcm</Key>\n"
    "    <Size>10</Size>\n"
    "    <StorageClass>Archive</StorageClass>\n"
    "  </Contents>\n"
    "  <Contents>\n"
    "    <Key>study%2F1%2F%E5%BD%B1%E5%83%8F.dcm</Key>\n"
    "    <Size>18446744073709551615</Size>\n"
    "  </Contents>\n"
    "  <Contents>\n"
    "    <Key>study%2F1%2Fempty.dcm</Key>\n"
    "    <Size>0</Size>\n"
    "  </Contents>\n"
    "  <KeyCount>5</KeyCount>\n"
    "</ListBucketResult>\n";

static void
check_encoded_page(const char *how, size_t chunk)
{
	struct seen		s;
	struct oss_list_page	page;
	struct oss_error	err;
	enum oss_err		rc;

	memset(&s, 0, sizeof(s));
	memset(&err, 0, sizeof(err));
	rc = parse_list(page_encoded, chunk, &s, &page, &err);
	tap_ok(rc == OSS_OK, "%s: parses (%s)", how, err.oe_message);
	tap_ok(s.n == 5 && page.lp_objects == 5, "%s: 5 objects", how);
	tap_ok(page.lp_truncated == 1, "%s: truncated", how);
	tap_ok(page.lp_url_encoded == 1, "%s: url encoded", how);
	TAP_STREQ(page.lp_next_token, "CgJiYw+/--", "next token decoded");
	TAP_STREQ(s.keys[0], "study/1/", "directory marker key");
	tap_ok(s.flags[0] == (OSS_OBJ_DIR | OSS_OBJ_EMPTY),
	    "%s: directory marker flagged", how);
	TAP_STREQ(s.etags[0], "D41D8CD98F00B204E9800998ECF8427E",
	    "ETag without quotes");
	TAP_STREQ(s.keys[1], "study/1/image 1.dcm", "%20 decoded");
	tap_ok(s.sizes[1] == 528392 && s.flags[1] == 0,
	    "%s: image size, no flags", how);
	TAP_STREQ(s.etags[1], "5B3C1A2E053D763E1B002CC607C5A0FE",
	    "ETag from &quot; entities");
	TAP_STREQ(s.keys[2], "study/1/a+b c.dcm",
	    "%2B is '+', '+' is a space");
	tap_ok(s.flags[2] == OSS_OBJ_ARCHIVE, "%s: archive class flagged",
	    how);
	TAP_STREQ(s.keys[3], "study/1/\xe5\xbd\xb1\xe5\x83\x8f.dcm",
	    "Chinese key decoded");
	tap_ok(s.sizes[3] == UINT64_MAX, "%s: 64-bit size", how);
	TAP_STREQ(s.keys[4], "study/1/empty.dcm", "zero-byte object");
	tap_ok(s.flags[4] == OSS_OBJ_EMPTY, "%s: zero-byte flagged", how);
}

static void
test_list(void)
{
	static const char plain[] =
	    "<ListBucketResult><IsTruncated>false</IsTruncated>"
	    "<Contents><Key>a%20b</Key><Size>1</Size></Contents>"
	    "<Contents><Key> sp </Key><Size>2</Size></Contents>"
	    "</ListBucketResult>";
	static const char raw_token[] =
	    "<ListBucketResult><EncodingType>url</EncodingType>"
	    "<IsTruncated>true</IsTruncated>"
	    "<NextContinuationToken>+/t2Ez-</NextContinuationToken>"
	    "</ListBucketResult>";
	static const char s3_ns[] =
	    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/"
	    "2006-03-01/\"><IsTruncated>false</IsTruncated>"
	    "<Contents><Key>k</Key><Size>3</Size></Contents>"
	    "</ListBucketResult>";
	struct seen		s;
	struct oss_list_page	page;
	struct oss_error	err;

	check_encoded_page("whole page", 0);
	check_encoded_page("1-byte pieces", 1);
	check_encoded_page("7-byte pieces", 7);

	memset(&s, 0, sizeof(s));
	tap_ok(parse_list(plain, 3, &s, &page, &err) == OSS_OK && s.n == 2,
	    "page without EncodingType");
	TAP_STREQ(s.keys[0], "a%20b", "keys left alone when not encoded");
	TAP_STREQ(s.keys[1], " sp ", "spaces around a key are kept");
	tap_ok(page.lp_truncated == 0 && page.lp_url_encoded == 0,
	    "not truncated, not encoded");

	memset(&s, 0, sizeof(s));
	tap_ok(parse_list(raw_token, 0, &s, &page, &err) == OSS_OK,
	    "page with an unencoded token");
	TAP_STREQ(page.lp_next_token, "+/t2Ez-",
	    "unencoded token kept as sent ('+' not made a space)");

	memset(&s, 0, sizeof(s));
	tap_ok(parse_list(s3_ns, 0, &s, &page, &err) == OSS_OK && s.n == 1,
	    "S3 namespace on the root is fine");

	memset(&s, 0, sizeof(s));
	s.stop_after = 2;
	tap_ok(parse_list(page_encoded, 5, &s, &page, &err) == OSS_ABORTED &&
	    s.n == 2, "callback stops the listing: OSS_ABORTED, no more "
	    "callbacks");
	tap_ok(err.oe_err == OSS_ABORTED, "error says OSS_ABORTED");

	/* the rest of a stopped page is taken and dropped, whatever it is,
	 * so that the transfer ends normally and its connection is kept */
	{
		struct oss_listp	*lp;
		enum oss_err		 r1, r2, r3;

		memset(&s, 0, sizeof(s));
		s.stop_after = 1;
		if ((lp = oss_listp_new(collect, &s)) != NULL) {
			r1 = oss_listp_feed(lp, page_encoded,
			    strlen(page_encoded), &err);
			r2 = oss_listp_feed(lp, "<<not xml at all", 16, &err);
			r3 = oss_listp_finish(lp, &page, &err);
			oss_listp_free(lp);
			tap_ok(r1 == OSS_OK && r2 == OSS_OK &&
			    r3 == OSS_ABORTED && s.n == 1 &&
			    err.oe_err == OSS_ABORTED, "after the callback "
			    "stops, the rest of the page (even malformed) is "
			    "accepted unparsed; the end says OSS_ABORTED "
			    "(%d %d %d, %zu objects)", r1, r2, r3, s.n);
		} else
			tap_ok(0, "oss_listp_new");
	}
}

static void
test_list_malformed(void)
{
	static const struct {
		const char	*name;
		const char	*doc;
	} t[] = {
		{ "empty document", "" },
		{ "truncated document",
		    "<ListBucketResult><IsTruncated>false</IsTruncated>"
		    "<Contents><Key>a</Key><Size>1</Size>" },
		{ "not XML", "<html><body>502 Bad Gateway</body></html>" },
		{ "error document where a listing belongs",
		    "<Error><Code>AccessDenied</Code></Error>" },
		{ "Contents without Size",
		    "<ListBucketResult><IsTruncated>false</IsTruncated>"
		    "<Contents><Key>a</Key></Contents></ListBucketResult>" },
		{ "Contents without Key",
		    "<ListBucketResult><IsTruncated>false</IsTruncated>"
		    "<Contents><Size>1</Size></Contents></ListBucketResult>" },
		{ "bad Size",
		    "<ListBucketResult><IsTruncated>false</IsTruncated>"
		    "<Contents><Key>a</Key><Size>12a</Size></Contents>"
		    "</ListBucketResult>" },
		{ "negative Size",
		    "<ListBucketResult><IsTruncated>false</IsTruncated>"
		    "<Contents><Key>a</Key><Size>-1</Size></Contents>"
		    "</ListBucketResult>" },
		{ "Size over 64 bits",
		    "<ListBucketResult><IsTruncated>false</IsTruncated>"
		    "<Contents><Key>a</Key><Size>18446744073709551616</Size>"
		    "</Contents></ListBucketResult>" },
		{ "no IsTruncated",
		    "<ListBucketResult><Contents><Key>a</Key><Size>1</Size>"
		    "</Contents></ListBucketResult>" },
		{ "bad IsTruncated",
		    "<ListBucketResult><IsTruncated>maybe</IsTruncated>"
		    "</ListBucketResult>" },
		{ "KeyCount disagrees",
		    "<ListBucketResult><IsTruncated>false</IsTruncated>"
		    "<Contents><Key>a</Key><Size>1</Size></Contents>"
		    "<KeyCount>2</KeyCount></ListBucketResult>" },
		{ "EncodingType after an object",
		    "<ListBucketResult><IsTruncated>false</IsTruncated>"
		    "<Contents><Key>a</Key><Size>1</Size></Contents>"
		    "<EncodingType>url</EncodingType></ListBucketResult>" },
		{ "unknown EncodingType",
		    "<ListBucketResult><EncodingType>base64</EncodingType>"
		    "<IsTruncated>false</IsTruncated></ListBucketResult>" },
		{ "bad escape in an encoded key",
		    "<ListBucketResult><EncodingType>url</EncodingType>"
		    "<IsTruncated>false</IsTruncated><Contents><Key>a%zz</Key>"
		    "<Size>1</Size></Contents></ListBucketResult>" },
		{ "encoded NUL in a key",
		    "<ListBucketResult><EncodingType>url</EncodingType>"
		    "<IsTruncated>false</IsTruncated><Contents><Key>a%00b"
		    "</Key><Size>1</Size></Contents></ListBucketResult>" },
		{ "empty key",
		    "<ListBucketResult><IsTruncated>false</IsTruncated>"
		    "<Contents><Key></Key><Size>1</Size></Contents>"
		    "</ListBucketResult>" },
		{ "element inside Key",
		    "<ListBucketResult><IsTruncated>false</IsTruncated>"
		    "<Contents><Key>a<b/></Key><Size>1</Size></Contents>"
		    "</ListBucketResult>" },
		{ "document type declaration (entity expansion)",
		    "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaa\">"
		    "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]>"
		    "<ListBucketResult><IsTruncated>false</IsTruncated>"
		    "<Contents><Key>&b;</Key><Size>1</Size></Contents>"
		    "</ListBucketResult>" },
		{ "two roots",
		    "<ListBucketResult><IsTruncated>false</IsTruncated>"
		    "</ListBucketResult><ListBucketResult/>" },
		{ "invalid UTF-8",
		    "<ListBucketResult><IsTruncated>false</IsTruncated>"
		    "<Contents><Key>\xff\xfe</Key><Size>1</Size></Contents>"
		    "</ListBucketResult>" },
	};
	struct seen		 s;
	struct oss_list_page	 page;
	struct oss_error	 err;
	struct oss_listp	*lp;
	char			*big;
	size_t			 i, n;
	enum oss_err		 rc;

	for (i = 0; i < NELEM(t); i++) {
		memset(&s, 0, sizeof(s));
		memset(&err, 0, sizeof(err));
		rc = parse_list(t[i].doc, 4, &s, &page, &err);
		tap_ok(rc == OSS_BAD_RESPONSE && err.oe_err == OSS_BAD_RESPONSE
		    && err.oe_message[0] != '\0', "malformed: %s -> "
		    "OSS_BAD_RESPONSE (%s)", t[i].name, err.oe_message);
	}

	/* A key far over OSS's limit: refused, not stored whole. */
	n = 100000;
	if ((big = malloc(n + 200)) == NULL)
		return;
	strcpy(big, "<ListBucketResult><IsTruncated>false</IsTruncated>"
	    "<Contents><Key>");
	memset(big + strlen(big), 'k', n);
	strcpy(big + strlen("<ListBucketResult><IsTruncated>false"
	    "</IsTruncated><Contents><Key>") + n, "</Key><Size>1</Size>"
	    "</Contents></ListBucketResult>");
	memset(&s, 0, sizeof(s));
	rc = parse_list(big, 1000, &s, &page, &err);
	tap_ok(rc == OSS_BAD_RESPONSE && s.n == 0,
	    "100,000-byte key refused (%s)", err.oe_message);
	free(big);

	/* After an error, further pieces are not parsed. */
	memset(&s, 0, sizeof(s));
	lp = oss_listp_new(collect, &s);
	rc = oss_listp_feed(lp, "<Error>", 7, &err);
	tap_ok(rc == OSS_BAD_RESPONSE, "wrong root fails at once");
	rc = oss_listp_feed(lp, "<Contents><Key>a</Key><Size>1</Size>"
	    "</Contents>", 47, &err);
	tap_ok(rc == OSS_BAD_RESPONSE && s.n == 0, "and stays failed");
	oss_listp_free(lp);
}

static int
count_only(const struct oss_object *o, void *arg)
{
	size_t	*n = arg;

	(void)o;
	(*n)++;
	return 0;
}

/*
 * 100,000 objects through one parser, generated and fed a piece at a
 * time: the listing must not grow with the number of objects.
 */
static void
test_list_streaming(void)
{
	struct oss_listp	*lp;
	struct oss_error	 err;
	struct oss_list_page	 page;
	struct rusage		 ru0, ru1;
	char			 buf[512];
	size_t			 n = 0, i;
	int			 len;
	enum oss_err		 rc;

	getrusage(RUSAGE_SELF, &ru0);
	lp = oss_listp_new(count_only, &n);
	rc = oss_listp_feed(lp, "<ListBucketResult><IsTruncated>false"
	    "</IsTruncated>", 50, &err);
	for (i = 0; i < 100000 && rc == OSS_OK; i++) {
		len = snprintf(buf, sizeof(buf), "<Contents><Key>study/"
		    "%06zu/IM%06zu.dcm</Key><LastModified>2024-01-01T00:00:00"
		    ".000Z</LastModified><ETag>\"%032zx\"</ETag><Size>%zu"
		    "</Size><StorageClass>Standard</StorageClass></Contents>",
		    i / 100, i, i, 1000 + i);
		rc = oss_listp_feed(lp, buf, (size_t)len, &err);
	}
	if (rc == OSS_OK)
		rc = oss_listp_feed(lp, "</ListBucketResult>", 19, &err);
	if (rc == OSS_OK)
		rc = oss_listp_finish(lp, &page, &err);
	oss_listp_free(lp);
	getrusage(RUSAGE_SELF, &ru1);
	tap_ok(rc == OSS_OK && n == 100000, "100,000 objects streamed "
	    "(%zu)", n);
	tap_ok(ru1.ru_maxrss - ru0.ru_maxrss < 4096, "peak memory grew by "
	    "%ld KB (< 4 MB) for a %zu-byte page", ru1.ru_maxrss -
	    ru0.ru_maxrss, (size_t)100000 * 200);
}

static void
test_error_docs(void)
{
	static const struct {
		const char	*code;
		long		 status;
		enum oss_err	 want;
	} map[] = {
		{ "AccessDenied", 403, OSS_ACCESS_DENIED },
		{ "InvalidAccessKeyId", 403, OSS_INVALID_ACCESS_KEY },
		{ "SignatureDoesNotMatch", 403, OSS_SIGNATURE_MISMATCH },
		{ "SecurityTokenExpired", 403, OSS_CREDENTIALS_EXPIRED },
		{ "InvalidSecurityToken", 403, OSS_CREDENTIALS_EXPIRED },
		{ "AccessKeyIdAndSecurityTokenNotMatch", 403,
		    OSS_CREDENTIALS_EXPIRED },
		{ "ExpiredToken", 400, OSS_CREDENTIALS_EXPIRED },
		{ "NoSuchBucket", 404, OSS_NO_SUCH_BUCKET },
		{ "NoSuchKey", 404, OSS_NO_SUCH_KEY },
		{ "InternalError", 500, OSS_UNAVAILABLE },
		{ "ServiceUnavailable", 503, OSS_UNAVAILABLE },
		{ "SlowDown", 503, OSS_UNAVAILABLE },
		{ "RequestTimeTooSkewed", 403, OSS_CLOCK_SKEWED },
		{ "InvalidObjectState", 403, OSS_OBJECT_ARCHIVED },
		{ "InvalidArgument", 400, OSS_INVALID_ARGUMENT },
		{ "InvalidBucketName", 400, OSS_INVALID_ARGUMENT },
		{ "PermanentRedirect", 301, OSS_BAD_ENDPOINT },
		{ "NotImplemented", 501, OSS_BAD_RESPONSE },
		{ "SomethingNew", 403, OSS_ACCESS_DENIED },
		{ "SomethingNew", 502, OSS_UNAVAILABLE },
		{ "SomethingNew", 418, OSS_BAD_RESPONSE },
		{ "", 503, OSS_UNAVAILABLE },
		{ "", 429, OSS_UNAVAILABLE },
		{ NULL, 404, OSS_NO_SUCH_KEY },
		{ NULL, 400, OSS_INVALID_ARGUMENT },
		{ NULL, 307, OSS_BAD_ENDPOINT },
	};
	static const char expired[] =
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>\n"
	    "  <Code>SecurityTokenExpired</Code>\n"
	    "  <Message>The security token you provided has expired."
	    "</Message>\n"
	    "  <RequestId>5C3D9175B6FC201293AD****</RequestId>\n"
	    "  <HostId>b.oss-cn-hangzhou.aliyuncs.com</HostId>\n"
	    "  <EC>0002-00000007</EC>\n</Error>\n";
	static const char mismatch[] =
	    "<Error><Code>SignatureDoesNotMatch</Code><Message>The request "
	    "signature we calculated does not match the signature you "
	    "provided.</Message><RequestId>R1</RequestId>"
	    "<OSSAccessKeyId>ak</OSSAccessKeyId>"
	    "<StringToSign>GET\n\n\nx-oss-security-token:TOPSECRETTOKEN\n"
	    "</StringToSign><SignatureProvided>sig</SignatureProvided>"
	    "</Error>";
	static const char redirect[] =
	    "<Error><Code>PermanentRedirect</Code><Message>The bucket you "
	    "are attempting to access must be addressed using the specified "
	    "endpoint.</Message><RequestId>R2</RequestId>"
	    "<Endpoint>oss-cn-shanghai.aliyuncs.com</Endpoint></Error>";
	static const char dirty[] =
	    "<Error><Code>AccessDenied</Code><Message>a\tb&#10;c&#13;d\n"
	    "\xe4\xb8\xad</Message></Error>";
	static const char esc[] =
	    "<Error><Code>AccessDenied</Code><Message>a\x1b[31m</Message>"
	    "</Error>";
	static const char doctype[] =
	    "<!DOCTYPE e [<!ENTITY x \"NoSuchKey\">]>"
	    "<Error><Code>&x;</Code></Error>";
	struct oss_error	 err;
	size_t			 i;
	char			*long_msg;

	for (i = 0; i < NELEM(map); i++)
		tap_ok(oss_err_from_code(map[i].code, map[i].status) ==
		    map[i].want, "code %s, status %ld -> %s",
		    map[i].code ? map[i].code : "(none)", map[i].status,
		    oss_err_name(map[i].want));

	tap_ok(oss_error_parse(expired, strlen(expired), 403, &err) ==
	    OSS_CREDENTIALS_EXPIRED, "expired STS token document");
	TAP_STREQ(err.oe_code, "SecurityTokenExpired", "Code kept");
	TAP_STREQ(err.oe_message,
	    "The security token you provided has expired.", "Message kept");
	TAP_STREQ(err.oe_request_id, "5C3D9175B6FC201293AD****",
	    "RequestId kept");
	tap_ok(err.oe_status == 403, "status kept");

	tap_ok(oss_error_parse(mismatch, strlen(mismatch), 403, &err) ==
	    OSS_SIGNATURE_MISMATCH, "signature mismatch document");
	tap_ok(strstr(err.oe_message, "TOPSECRET") == NULL &&
	    strstr(err.oe_code, "TOPSECRET") == NULL &&
	    strstr(err.oe_request_id, "TOPSECRET") == NULL,
	    "StringToSign (which holds the STS token) is not kept");

	tap_ok(oss_error_parse(redirect, strlen(redirect), 301, &err) ==
	    OSS_BAD_ENDPOINT, "bucket in another region");
	tap_ok(strstr(err.oe_message, "(endpoint: oss-cn-shanghai."
	    "aliyuncs.com)") != NULL, "the right endpoint is named: %s",
	    err.oe_message);

	tap_ok(oss_error_parse(dirty, strlen(dirty), 403, &err) ==
	    OSS_ACCESS_DENIED, "message with line breaks");
	TAP_STREQ(err.oe_message, "a b c d \xe4\xb8\xad",
	    "tabs and line breaks made spaces, UTF-8 kept");
	tap_ok(oss_error_parse(esc, strlen(esc), 403, &err) ==
	    OSS_ACCESS_DENIED && err.oe_code[0] == '\0' &&
	    strchr(err.oe_message, 0x1b) == NULL,
	    "escape character (not XML) never reaches the message");

	tap_ok(oss_error_parse(doctype, strlen(doctype), 404, &err) ==
	    OSS_NO_SUCH_KEY && err.oe_code[0] == '\0',
	    "DOCTYPE refused: mapped by status, entity not expanded");
	tap_ok(oss_error_parse("<html>oops</html>", 17, 502, &err) ==
	    OSS_UNAVAILABLE, "HTML 502 -> OSS_UNAVAILABLE");
	tap_ok(strstr(err.oe_message, "502") != NULL,
	    "message names the status: %s", err.oe_message);
	tap_ok(oss_error_parse("", 0, 403, &err) == OSS_ACCESS_DENIED,
	    "empty 403 -> OSS_ACCESS_DENIED");
	tap_ok(oss_error_parse("<Error><Code>NoSuchKey", 22, 404, &err) ==
	    OSS_NO_SUCH_KEY, "truncated document -> by status");

	/* a long Message is cut, on a character boundary */
	if ((long_msg = malloc(4000)) != NULL) {
		strcpy(long_msg, "<Error><Code>AccessDenied</Code><Message>");
		for (i = 0; i < 1000; i++)
			strcat(long_msg, "\xe4\xb8\xad");
		strcat(long_msg, "</Message></Error>");
		oss_error_parse(long_msg, strlen(long_msg), 403, &err);
		tap_ok(strlen(err.oe_message) < OSS_MESSAGE_MAX &&
		    strlen(err.oe_message) % 3 == 0,
		    "long message cut to %zu bytes on a character boundary",
		    strlen(err.oe_message));
		free(long_msg);
	}
}

static void
test_names(void)
{
	static const char *const want[] = {
		"OSS_OK", "OSS_ACCESS_DENIED", "OSS_INVALID_ACCESS_KEY",
		"OSS_SIGNATURE_MISMATCH", "OSS_CREDENTIALS_EXPIRED",
		"OSS_NO_SUCH_BUCKET", "OSS_NO_SUCH_KEY", "OSS_UNAVAILABLE",
		"OSS_BAD_RESPONSE", "OSS_EGRESS_REFUSED", "OSS_TOO_LARGE",
		"OSS_BAD_ENDPOINT", "OSS_INVALID_ARGUMENT", "OSS_CLOCK_SKEWED",
		"OSS_OBJECT_ARCHIVED", "OSS_ABORTED", "OSS_LOCAL_ERROR",
	};
	size_t	i;
	int	ok = NELEM(want) == OSS_ERR__MAX;

	for (i = 0; i < NELEM(want) && i < OSS_ERR__MAX; i++)
		ok = ok && strcmp(oss_err_name((enum oss_err)i), want[i]) == 0;
	tap_ok(ok, "every enum oss_err has its name");
	TAP_STREQ(oss_err_name(OSS_ERR__MAX), "OSS_UNKNOWN",
	    "out of range name");
	TAP_STREQ(oss_kind_name(OSS_KIND_DICOM), "dicom", "kind name");
}

static void
test_endpoints(void)
{
	static const struct {
		const char	*in;
		int		 ok;
		int		 https;
		const char	*host;
		unsigned	 port;
		int		 path_style;
	} t[] = {
		{ "oss-cn-beijing.aliyuncs.com", 1, 1,
		    "oss-cn-beijing.aliyuncs.com", 0, 0 },
		{ "https://oss-cn-beijing.aliyuncs.com/", 1, 1,
		    "oss-cn-beijing.aliyuncs.com", 0, 0 },
		{ "HTTP://OSS-CN-Beijing-Internal.Aliyuncs.com", 1, 0,
		    "oss-cn-beijing-internal.aliyuncs.com", 0, 0 },
		{ "oss-cn-beijing.aliyuncs.com.", 1, 1,
		    "oss-cn-beijing.aliyuncs.com", 0, 0 },
		{ " oss-cn-beijing.aliyuncs.com", 0, 0, NULL, 0, 0 },
		{ "http://127.0.0.1:9000", 1, 0, "127.0.0.1", 9000, 1 },
		{ "127.0.0.1:9000/", 1, 1, "127.0.0.1", 9000, 1 },
		{ "localhost:8080", 1, 1, "localhost", 8080, 1 },
		{ "http://[::1]:9000", 1, 0, "::1", 9000, 1 },
		{ "[2001:db8::5]", 1, 1, "2001:db8::5", 0, 1 },
		{ "::1", 0, 0, NULL, 0, 0 },	/* IPv6 in brackets */
		{ "2130706433", 1, 1, "2130706433", 0, 1 },
		{ "0x7f.1:80", 1, 1, "0x7f.1", 80, 1 },
		{ "minio.example.org:9000", 1, 1, "minio.example.org", 9000,
		    0 },
		{ "", 0, 0, NULL, 0, 0 },
		{ "https://", 0, 0, NULL, 0, 0 },
		{ "ftp://oss-cn-beijing.aliyuncs.com", 0, 0, NULL, 0, 0 },
		{ "file:///etc/passwd", 0, 0, NULL, 0, 0 },
		{ "http://user:pw@oss-cn-beijing.aliyuncs.com", 0, 0, NULL, 0,
		    0 },
		{ "oss-cn-beijing.aliyuncs.com/path", 0, 0, NULL, 0, 0 },
		{ "oss-cn-beijing.aliyuncs.com?x=1", 0, 0, NULL, 0, 0 },
		{ "oss-cn-beijing.aliyuncs.com#f", 0, 0, NULL, 0, 0 },
		{ "host:0", 0, 0, NULL, 0, 0 },
		{ "host:65536", 0, 0, NULL, 0, 0 },
		{ "host:", 0, 0, NULL, 0, 0 },
		{ "host:+80", 0, 0, NULL, 0, 0 },
		{ "a..b", 0, 0, NULL, 0, 0 },
		{ "-a.example", 0, 0, NULL, 0, 0 },
		{ "a b.example", 0, 0, NULL, 0, 0 },
		{ "\xe5\x8c\xbb\xe9\x99\xa2.example", 0, 0, NULL, 0, 0 },
		{ "[::1", 0, 0, NULL, 0, 0 },
		{ "[::1]x", 0, 0, NULL, 0, 0 },
		{ "[not-v6]:80", 0, 0, NULL, 0, 0 },
		{ "[fe80::1%25eth0]", 0, 0, NULL, 0, 0 },
		{ "1:2:3", 0, 0, NULL, 0, 0 },
	};
	struct oss_endpoint	en;
	size_t			i;
	const char		*bad;

	for (i = 0; i < NELEM(t); i++) {
		bad = oss_endpoint_parse(t[i].in, &en);
		if (!t[i].ok) {
			tap_ok(bad != NULL, "endpoint '%s' refused (%s)",
			    t[i].in, bad);
			continue;
		}
		tap_ok(bad == NULL && en.en_https == t[i].https &&
		    strcmp(en.en_host, t[i].host) == 0 &&
		    en.en_port == t[i].port &&
		    en.en_path_style == t[i].path_style,
		    "endpoint '%s' -> %s://%s:%u %s", t[i].in,
		    en.en_https ? "https" : "http", en.en_host, en.en_port,
		    en.en_path_style ? "path-style" : "virtual-host");
	}
	tap_ok(oss_bucket_check("examplebucket") == NULL &&
	    oss_bucket_check("a-1") == NULL && oss_bucket_check("ab") &&
	    oss_bucket_check("Bucket") && oss_bucket_check("-ab") &&
	    oss_bucket_check("ab-") && oss_bucket_check("a.b.c") &&
	    oss_bucket_check("a_b") && oss_bucket_check(NULL) &&
	    oss_bucket_check("evil.com/x"), "bucket names as OSS allows "
	    "them");
}

static const char *
hdr(const struct oss_request *rq, const char *name)
{
	const struct curl_slist	*l;
	size_t			 n = strlen(name);

	for (l = rq->rq_headers; l != NULL; l = l->next)
		if (strncasecmp(l->data, name, n) == 0 && l->data[n] == ':')
			return l->data + n + 2;
	return NULL;
}

static void
test_requests(void)
{
	char			 lh[] = "localhost";
	char			*hosts[] = { lh };
	struct egress_policy	 open = { 1, NULL, 0 };
	struct egress_policy	 strict = { 0, hosts, 1 };
	struct oss_creds	 cr = { "ak", "sk", "tok" };
	struct oss_creds	 bad = { "ak", "sk", "SECRETTOK\r\nX: y" };
	struct oss_target	 t = { NULL, "examplebucket", &cr };
	struct oss_param	 q[] = { { "list-type", "2" },
				    { "prefix", "a b/" } };
	struct oss_opts		 o;
	struct oss_client	*c, *cs, *c1;
	struct oss_request	 rq;
	struct oss_error	 err;
	char			 errbuf[128];
	const char		*a;

	oss_opts_default(&o);
	o.oo_egress = &open;
	c = oss_client_new(&o, errbuf, sizeof(errbuf));
	o.oo_egress = &strict;
	o.oo_region = "cn-shanghai";
	cs = oss_client_new(&o, errbuf, sizeof(errbuf));
	o.oo_sigver = OSS_SIGV1;
	o.oo_egress = &open;
	c1 = oss_client_new(&o, errbuf, sizeof(errbuf));
	tap_ok(c != NULL && cs != NULL && c1 != NULL, "clients made");
	if (c == NULL || cs == NULL || c1 == NULL)
		return;
	o.oo_sigver = 2;
	tap_ok(oss_client_new(&o, errbuf, sizeof(errbuf)) == NULL,
	    "signature version 2 refused: %s", errbuf);

	t.ot_endpoint = "oss-cn-beijing.aliyuncs.com";
	tap_ok(oss_request_build(c, &t, "GET", "study/1 a/\xe4\xb8\xad+.dcm",
	    NULL, 0, NULL, 0, 1702743657, &rq, &err) == OSS_OK,
	    "object request built");
	TAP_STREQ(rq.rq_url, "https://examplebucket.oss-cn-beijing."
	    "aliyuncs.com/study/1%20a/%E4%B8%AD%2B.dcm",
	    "virtual-hosted URL, key encoded");
	TAP_STREQ(rq.rq_host, "examplebucket.oss-cn-beijing.aliyuncs.com",
	    "connected host is bucket.endpoint");
	a = hdr(&rq, "Authorization");
	tap_ok(a != NULL && strncmp(a, "OSS4-HMAC-SHA256 Credential=ak/"
	    "20231216/cn-beijing/oss/aliyun_v4_request,Signature=", 75) ==
	    0, "V4, region from the endpoint: %s", a ? a : "(none)");
	TAP_STREQ(hdr(&rq, "x-oss-security-token"), "tok",
	    "STS token header");
	TAP_STREQ(hdr(&rq, "x-oss-content-sha256"), "UNSIGNED-PAYLOAD",
	    "payload header");
	oss_request_free(&rq);

	t.ot_endpoint = "http://127.0.0.1:9000";
	tap_ok(oss_request_build(c, &t, "GET", NULL, q, NELEM(q), NULL, 0,
	    1702743657, &rq, &err) == OSS_OK, "bucket request built");
	TAP_STREQ(rq.rq_url, "http://127.0.0.1:9000/examplebucket/"
	    "?list-type=2&prefix=a%20b%2F", "path-style URL with the query");
	a = hdr(&rq, "Authorization");
	tap_ok(a != NULL && strstr(a, "/cn-hangzhou/oss/") != NULL,
	    "default region for an IP endpoint");
	oss_request_free(&rq);

	t.ot_endpoint = "[::1]:9000";
	tap_ok(oss_request_build(c, &t, "HEAD", "k", NULL, 0, NULL, 0,
	    1702743657, &rq, &err) == OSS_OK, "IPv6 request built");
	TAP_STREQ(rq.rq_url, "https://[::1]:9000/examplebucket/k",
	    "IPv6 literal in brackets, path style");
	oss_request_free(&rq);

	t.ot_endpoint = "http://localhost:9000";
	tap_ok(oss_request_build(cs, &t, "GET", "k", NULL, 0, NULL, 0,
	    1702743657, &rq, &err) == OSS_OK,
	    "localhost allowed by allow_hosts");
	a = hdr(&rq, "Authorization");
	tap_ok(a != NULL && strstr(a, "/cn-shanghai/oss/") != NULL,
	    "configured region for a host that names none");
	oss_request_free(&rq);
	t.ot_endpoint = "oss-cn-beijing.aliyuncs.com";
	tap_ok(oss_request_build(cs, &t, "GET", "k", NULL, 0, NULL, 0,
	    1702743657, &rq, &err) == OSS_OK &&
	    (a = hdr(&rq, "Authorization")) != NULL &&
	    strstr(a, "/cn-beijing/oss/") != NULL,
	    "but the endpoint's own region wins");
	oss_request_free(&rq);

	t.ot_endpoint = "http://127.0.0.1:9000";
	tap_ok(oss_request_build(c1, &t, "GET", "k", NULL, 0, NULL, 0,
	    1672223261, &rq, &err) == OSS_OK &&
	    (a = hdr(&rq, "Authorization")) != NULL &&
	    strncmp(a, "OSS ak:", 7) == 0 &&
	    hdr(&rq, "x-oss-date") == NULL &&
	    hdr(&rq, "Date") != NULL &&
	    strcmp(hdr(&rq, "Date"), "Wed, 28 Dec 2022 10:27:41 GMT") == 0,
	    "V1 request: OSS ak:sig and Date");
	oss_request_free(&rq);

	/* egress, before any I/O */
	t.ot_endpoint = "http://127.0.0.1:9000";
	tap_ok(oss_request_build(cs, &t, "GET", "k", NULL, 0, NULL, 0,
	    1702743657, &rq, &err) == OSS_EGRESS_REFUSED && rq.rq_url ==
	    NULL, "loopback literal refused: %s", err.oe_message);
	t.ot_endpoint = "http://2130706433:9000";
	tap_ok(oss_request_build(cs, &t, "GET", "k", NULL, 0, NULL, 0,
	    1702743657, &rq, &err) == OSS_EGRESS_REFUSED,
	    "loopback in decimal refused");
	t.ot_endpoint = "http://[::ffff:169.254.169.254]";
	tap_ok(oss_request_build(cs, &t, "GET", "k", NULL, 0, NULL, 0,
	    1702743657, &rq, &err) == OSS_EGRESS_REFUSED,
	    "metadata address, IPv4-mapped, refused: %s", err.oe_message);
	t.ot_endpoint = "100.100.100.200";
	tap_ok(oss_request_build(cs, &t, "GET", "k", NULL, 0, NULL, 0,
	    1702743657, &rq, &err) == OSS_EGRESS_REFUSED,
	    "Alibaba metadata address refused");

	/* callers' mistakes */
	t.ot_endpoint = "oss-cn-beijing.aliyuncs.com";
	t.ot_bucket = "Evil.com/x";
	tap_ok(oss_request_build(c, &t, "GET", "k", NULL, 0, NULL, 0,
	    1702743657, &rq, &err) == OSS_INVALID_ARGUMENT,
	    "bad bucket name refused");
	t.ot_bucket = "examplebucket";
	tap_ok(oss_request_build(c, &t, "GET", "", NULL, 0, NULL, 0,
	    1702743657, &rq, &err) == OSS_INVALID_ARGUMENT,
	    "empty key refused");
	t.ot_creds = &bad;
	tap_ok(oss_request_build(c, &t, "GET", "k", NULL, 0, NULL, 0,
	    1702743657, &rq, &err) == OSS_INVALID_ARGUMENT &&
	    strstr(err.oe_message, "SECRETTOK") == NULL,
	    "token with CR LF refused, not repeated: %s", err.oe_message);
	t.ot_creds = &cr;
	t.ot_endpoint = "gopher://x";
	tap_ok(oss_request_build(c, &t, "GET", "k", NULL, 0, NULL, 0,
	    1702743657, &rq, &err) == OSS_BAD_ENDPOINT, "bad endpoint");

	oss_client_free(c);
	oss_client_free(cs);
	oss_client_free(c1);
}

static void
test_content(void)
{
	unsigned char	dicom[200], jpeg[16], png[16];

	tap_ok(oss_crc64(0, "123456789", 9) == 0x995dc9bbdf1939faULL,
	    "CRC-64/ECMA check value");
	tap_ok(oss_crc64(oss_crc64(0, "1234", 4), "56789", 5) ==
	    0x995dc9bbdf1939faULL, "CRC-64 in pieces");
	tap_ok(oss_crc64(0, "", 0) == 0, "CRC-64 of nothing");

	memset(dicom, 0, sizeof(dicom));
	memcpy(dicom + 128, "DICM", 4);
	memset(jpeg, 0, sizeof(jpeg));
	memcpy(jpeg, "\xff\xd8\xff\xe0", 4);
	memset(png, 0, sizeof(png));
	memcpy(png, "\x89PNG\r\n\x1a\n", 8);
	tap_ok(oss_sniff(dicom, sizeof(dicom)) == OSS_KIND_DICOM, "DICOM");
	tap_ok(oss_sniff(dicom, 131) == OSS_KIND_UNKNOWN,
	    "DICOM needs 132 bytes");
	tap_ok(oss_sniff(jpeg, sizeof(jpeg)) == OSS_KIND_JPEG, "JPEG");
	tap_ok(oss_sniff(png, sizeof(png)) == OSS_KIND_PNG, "PNG");
	tap_ok(oss_sniff("", 0) == OSS_KIND_UNKNOWN, "nothing");
	tap_ok(oss_sniff("GIF89a", 6) == OSS_KIND_UNKNOWN, "other");
}

int
main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	test_list();
	test_list_malformed();
	test_list_streaming();
	test_error_docs();
	test_names();
	test_endpoints();
	test_requests();
	test_content();
	curl_global_cleanup();
	return tap_done();
}
