/* t_webhook.c -- Standard Webhooks signatures and message ids */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "webhook.h"

/*
 * The reference libraries' published test vector (standard-webhooks,
 * every language's tests: secret, msg_id, timestamp, payload, signature),
 * checked independently with Python's hmac before it was written here:
 *   hmac.new(b64decode("MfKQ..."), b"msg_p5jX....1614265330.{...}",
 *            sha256)
 */
#define V_SECRET	"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define V_ID		"msg_p5jXN8AQM9LWM0D4loKWxJek"
#define V_TS		1614265330
#define V_BODY		"{\"test\": 2432232314}"
#define V_SIG		"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

static const char *
sign(const char *secret, const char *id, int64_t ts, const char *body,
    size_t len)
{
	static char	out[WEBHOOK_SIG_MAX];

	memset(out, 'X', sizeof(out));
	if (webhook_sign(secret, id, ts, body, len, out) == -1)
		return "(-1)";
	return out;
}

static void
test_vector(void)
{
	char	body[sizeof(V_BODY) + 8];

	TAP_STREQ(sign(V_SECRET, V_ID, V_TS, V_BODY, strlen(V_BODY)), V_SIG,
	    "the Standard Webhooks test vector");
	TAP_STREQ(sign(V_SECRET + 6, V_ID, V_TS, V_BODY, strlen(V_BODY)),
	    V_SIG, "the same secret without its whsec_ prefix");

	/* the body is len bytes, not a C string: bytes after it do not
	 * count, a NUL inside it does */
	snprintf(body, sizeof(body), "%sJUNK", V_BODY);
	TAP_STREQ(sign(V_SECRET, V_ID, V_TS, body, strlen(V_BODY)), V_SIG,
	    "only len bytes of the body are signed");
	memcpy(body, V_BODY "\0x", sizeof(V_BODY) + 1);
	tap_ok(strcmp(sign(V_SECRET, V_ID, V_TS, body, sizeof(V_BODY) + 1),
	    V_SIG) != 0, "a body with a NUL and more is signed whole");

	/* each part is signed: change one, the signature changes */
	tap_ok(strcmp(sign(V_SECRET, V_ID, V_TS + 1, V_BODY, strlen(V_BODY)),
	    V_SIG) != 0, "another timestamp, another signature");
	tap_ok(strcmp(sign(V_SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJel", V_TS,
	    V_BODY, strlen(V_BODY)), V_SIG) != 0,
	    "another message id, another signature");
	tap_ok(strcmp(sign(V_SECRET, V_ID, V_TS, "{\"test\": 2432232315}",
	    strlen(V_BODY)), V_SIG) != 0, "another body, another signature");
	tap_ok(strcmp(sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx", V_ID, V_TS,
	    V_BODY, strlen(V_BODY)), V_SIG) != 0,
	    "another secret, another signature");

	/* an empty body, a 64-byte key (the longest the standard allows) */
	TAP_STREQ(sign(V_SECRET, V_ID, V_TS, "", 0),
	    "v1,v48jdbgvh29KJz2Qc+ghw8G6vG3nAKnujWBg8oM/62A=",
	    "an empty body (vector computed with Python's hmac)");
	TAP_STREQ(sign("whsec_QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQU"
	    "FBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQQ==", V_ID, V_TS,
	    V_BODY, strlen(V_BODY)),
	    "v1,MXsQREHhJZhX4m1JK1UFoKm1KguNADfO23PvHTUQ+mM=",
	    "a 64-byte secret (vector computed with Python's hmac)");
}

static void
test_bad_secret(void)
{
	static const char	*bad[] = {
		"whsec_",				/* empty */
		"",
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",	/* not 4n */
		"whsec_MfKQ9r8GKYqrTwjU PD8ILPZIo2LaLaS",	/* blank */
		"whsec_MfKQ9r8GKYqrTwjU-PD8ILPZIo2LaLaS",	/* base64url */
		"whsec_MfKQ9r8G=YqrTwjUPD8ILPZIo2LaLaSw",	/* '=' inside */
		"whsec_====",
		"whsec_QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
		"QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB",
		/* 69 bytes: longer than any key (the standard's are 24 to 64) */
	};
	char			 out[WEBHOOK_SIG_MAX];
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		tap_ok(webhook_sign(bad[i], V_ID, V_TS, V_BODY, strlen(V_BODY),
		    out) == -1, "a malformed secret is refused: '%s'", bad[i]);
}

static int
id_ok(const char *id)
{
	size_t	i;

	if (strncmp(id, "msg_", 4) != 0 || strlen(id) != 36)
		return 0;
	for (i = 4; i < 36; i++)
		if (!isxdigit((unsigned char)id[i]) ||
		    isupper((unsigned char)id[i]))
			return 0;
	return 1;
}

static void
test_id(void)
{
	char	a[WEBHOOK_ID_MAX], b[WEBHOOK_ID_MAX];

	memset(a, 'X', sizeof(a));
	memset(b, 'X', sizeof(b));
	tap_ok(webhook_id_new(a) == 0 && webhook_id_new(b) == 0,
	    "two message ids");
	tap_ok(id_ok(a) && id_ok(b), "each is msg_ and 32 lower-case hex "
	    "digits: %s %s", a, b);
	tap_ok(strcmp(a, b) != 0, "they differ");
	tap_ok(strlen(a) < WEBHOOK_ID_MAX, "an id fits WEBHOOK_ID_MAX");
}

int
main(void)
{
	test_vector();
	test_bad_secret();
	test_id();
	return tap_done();
}
