/* oss_err.c -- the OSS client's errors: names, the mapping of OSS codes and HTTP statuses, and messages made safe to show */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "oss_int.h"

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

void
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
void
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
void
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

void
oss_error_clear(struct oss_error *e)
{
	memset(e, 0, sizeof(*e));
	e->oe_err = OSS_OK;
}

enum oss_err
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
 * OSS error codes and HTTP statuses as enum oss_err
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
