/* t_jv.c -- jv_parse(), jv_read()/jv_check() field tables, jv_printable() */
#include <stdio.h>
#include <string.h>

#include "jv.h"
#include "tap.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* ---- jv_parse ---- */

/* Parse text (len bytes); 1 when an object came back.  msg is left in
 * lastmsg. */
static char	lastmsg[512];

static int
parses(const char *text, size_t len)
{
	json_object *o;

	lastmsg[0] = '\0';
	o = jv_parse(text, len, lastmsg, sizeof(lastmsg));
	if (o == NULL)
		return 0;
	json_object_put(o);
	return 1;
}
#define PARSES(s)	parses((s), sizeof(s) - 1)

static void
refused(const char *name, const char *text, size_t len, const char *want)
{
	int ok = parses(text, len);

	tap_ok(!ok, "jv_parse refuses %s", name);
	TAP_STREQ(lastmsg, want, name);
}
#define REFUSED(name, s, want)	refused((name), (s), sizeof(s) - 1, (want))

/* "{"a":{"a":...{}...}}" nested depth deep */
static int
nested(int depth, int arrays)
{
	char	buf[512];
	size_t	n = 0;
	int	i;

	if (arrays) {
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "{\"a\":");
		for (i = 1; i < depth; i++)
			buf[n++] = '[';
		for (i = 1; i < depth; i++)
			buf[n++] = ']';
		buf[n++] = '}';
	} else {
		for (i = 1; i < depth; i++)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n,
			    "{\"a\":");
		buf[n++] = '{';
		for (i = 0; i < depth; i++)
			buf[n++] = '}';
	}
	buf[n] = '\0';
	return parses(buf, n);
}

static void
test_parse(void)
{
	json_object	*o, *v;
	char		 msg[256];
	static const char body[] = "{\"studyType\": 4, \"key\": \"a/b\"}";

	msg[0] = '\0';
	o = jv_parse(body, sizeof(body) - 1, msg, sizeof(msg));
	tap_ok(o != NULL && json_object_is_type(o, json_type_object),
	    "jv_parse: a valid object");
	tap_ok(o != NULL && json_object_object_get_ex(o, "studyType", &v) &&
	    json_object_get_int(v) == 4, "jv_parse: its members are there");
	tap_ok(msg[0] == '\0', "jv_parse: no message on success");
	json_object_put(o);

	tap_ok(parses(body, sizeof(body) - 1) == 1 &&
	    parses("{}", 2) == 1, "jv_parse: {} is an object");
	tap_ok(PARSES("  \r\n{\"a\":[1,2,{\"b\":null}]} \n\t\r "),
	    "jv_parse: white space before and after accepted");
	tap_ok(PARSES("{\"k\":\"\xe8\x82\xba\xe7\xbb\x93\xe8\x8a\x82 KL1\xe7\xba\xa7\"}"),
	    "jv_parse: UTF-8 Chinese accepted");
	tap_ok(PARSES("{\"k\":\"\\ud83d\\ude00 \\u00e9\"}"),
	    "jv_parse: \\u escapes with a surrogate pair accepted");

	REFUSED("an empty body", "", "request body is empty");
	REFUSED("[] (not an object)", "[]",
	    "request body must be a JSON object");
	REFUSED("a string (not an object)", "\"s\"",
	    "request body must be a JSON object");
	REFUSED("{ (ends early)", "{",
	    "request body is not valid JSON: it ends too early");
	REFUSED("an unterminated string", "{\"a\":\"b",
	    "request body is not valid JSON: it ends too early");
	REFUSED("trailing garbage {}x", "{}x",
	    "request body is not valid JSON: unexpected character at "
	    "offset 2");
	REFUSED("two objects {}{}", "{}{}",
	    "request body is not valid JSON: unexpected character at "
	    "offset 2");
	REFUSED("a form feed after the object", "{}\f",
	    "request body is not valid JSON: unexpected character at "
	    "offset 2");
	tap_ok(!PARSES("true") && !PARSES("null") && !PARSES("1"),
	    "jv_parse refuses bare true, null and 1");
	REFUSED("an invalid UTF-8 byte", "{\"a\":\"\xff\"}",
	    "request body is not valid JSON: invalid UTF-8 at offset 6");
	tap_ok(!PARSES("{\"a\":\"\x80\"}"),
	    "jv_parse refuses a lone continuation byte");
	tap_ok(!PARSES("{\"a\":\"\xe4\xb8\"}"),
	    "jv_parse refuses a truncated sequence");
	tap_ok(!PARSES("{\"\xfe\":1}"),
	    "jv_parse refuses invalid UTF-8 in a member name");
	tap_ok(!PARSES("\xef\xbb\xbf{}"), "jv_parse refuses a byte order mark");
	REFUSED("a NUL byte inside", "{\"a\":\"x\0y\"}",
	    "request body is not valid JSON: it contains a NUL byte");
	REFUSED("a NUL byte after the object", "{}\0",
	    "request body is not valid JSON: it contains a NUL byte");

	/* nesting */
	tap_ok(nested(15, 0), "jv_parse: objects 15 deep accepted");
	tap_ok(nested(16, 0), "jv_parse: objects 16 deep (JV_MAX_DEPTH) "
	    "accepted");
	tap_ok(!nested(17, 0), "jv_parse: objects 17 deep refused");
	TAP_STREQ(lastmsg, "request body is not valid JSON: nested deeper "
	    "than 16 levels", "jv_parse: 17 deep: message");
	tap_ok(!nested(40, 0), "jv_parse: objects 40 deep refused");
	tap_ok(nested(15, 1), "jv_parse: arrays 15 deep accepted");
	tap_ok(!nested(17, 1), "jv_parse: arrays 17 deep refused");
	TAP_STREQ(lastmsg, "request body is not valid JSON: nested deeper "
	    "than 16 levels", "jv_parse: arrays 17 deep: message");

	/* strict JSON */
	tap_ok(!PARSES("{\"a\":'x'}"), "jv_parse refuses a single-quoted "
	    "string");
	tap_ok(!PARSES("{/* c */\"a\":1}"), "jv_parse refuses a /* */ comment");
	tap_ok(!PARSES("{\"a\":1} // c"), "jv_parse refuses a // comment");
	tap_ok(!PARSES("{\"a\":1 # c\n}"), "jv_parse refuses a # comment");
	tap_ok(!PARSES("{\"a\":1,}"), "jv_parse refuses a trailing comma");
	tap_ok(!PARSES("{\"a\":[1,]}"),
	    "jv_parse refuses a trailing comma in an array");
	tap_ok(!PARSES("{a:1}"), "jv_parse refuses an unquoted name");
	tap_ok(!PARSES("{\"a\":0x10}"), "jv_parse refuses a hex number");
	tap_ok(!PARSES("{\"a\":01}"), "jv_parse refuses a leading zero");
	tap_ok(!PARSES("{\"a\":+1}"), "jv_parse refuses a plus sign");
	tap_ok(!PARSES("{\"a\":.5}"), "jv_parse refuses .5");
	tap_ok(!PARSES("{\"a\":True}"), "jv_parse refuses True");
	tap_ok(!PARSES("{\"a\":\"\\x41\"}"), "jv_parse refuses a \\x escape");
}

/*
 * json-c's JSON_TOKENER_STRICT and JSON_TOKENER_VALIDATE_UTF8 (0.16) let
 * these through, and jv_parse() adds no check of its own, although its
 * contract is strict JSON in valid UTF-8.
 */
static void
test_parse_bugs(void)
{
	static const char *const notnum[] = {
		"{\"a\":NaN}", "{\"a\":Infinity}", "{\"a\":-Infinity}",
		"{\"a\":1.}",
	};
	static const char *const ctl[] = {
		"{\"a\":\"x\x01y\"}", "{\"a\":\"x\ny\"}", "{\"a\":\"x\ty\"}",
		"{\"a\":\"x\x1fy\"}", "{\"x\x01\":1}",
	};
	static const char *const utf8[] = {
		"{\"a\":\"\xc0\xaf\"}",		/* overlong '/' */
		"{\"a\":\"\xc0\x8a\"}",		/* overlong newline */
		"{\"a\":\"\xe0\x80\xaf\"}",	/* overlong '/', 3 bytes */
		"{\"a\":\"\xed\xa0\x80\"}",	/* UTF-16 surrogate D800 */
		"{\"a\":\"\xf4\x90\x80\x80\"}",	/* above U+10FFFF */
	};
	char	list[512];
	size_t	i, n;

	/* fixed: a single-quoted member name is accepted */
	tap_ok(!PARSES("{'a':1}"), "jv_parse refuses a single-quoted "
	    "member name {'a':1}");
	tap_ok(!PARSES("{\"a\":{'b':1}}"), "jv_parse refuses a "
	    "single-quoted member name in a nested object");

	/* fixed: NaN, Infinity and "1." are not JSON numbers */
	for (list[0] = '\0', n = 0, i = 0; i < NELEM(notnum); i++)
		if (parses(notnum[i], strlen(notnum[i]))) {
			n++;
			snprintf(list + strlen(list), sizeof(list) -
			    strlen(list), " %s", notnum[i]);
		}
	tap_ok(n == 0, "jv_parse refuses NaN, Infinity, -Infinity and "
	    "1. (accepted:%s)", n ? list : " none");

	/* fixed: RFC 8259 7.: control characters in strings must be
	 * escaped */
	for (list[0] = '\0', n = 0, i = 0; i < NELEM(ctl); i++)
		if (parses(ctl[i], strlen(ctl[i]))) {
			n++;
			snprintf(list + strlen(list), sizeof(list) -
			    strlen(list), " #%zu", i);
		}
	tap_ok(n == 0, "jv_parse refuses raw U+0001, U+000A, U+0009, "
	    "U+001F in strings (accepted:%s)", n ? list : " none");

	/* fixed: overlong forms, surrogates and code points above
	 * U+10FFFF are not valid UTF-8 (RFC 3629) */
	for (list[0] = '\0', n = 0, i = 0; i < NELEM(utf8); i++)
		if (parses(utf8[i], strlen(utf8[i]))) {
			n++;
			snprintf(list + strlen(list), sizeof(list) -
			    strlen(list), " #%zu", i);
		}
	tap_ok(n == 0, "jv_parse refuses overlong UTF-8 (C0 AF, C0 8A, "
	    "E0 80 AF), a surrogate (ED A0 80) and F4 90 80 80 (accepted:%s)",
	    n ? list : " none");
}

/* ---- jv_read, with the table of executeAnalysis ---- */

enum {
	F_UID, F_TYPE, F_CALLBACK, F_AK, F_SK, F_STS, F_ENDPOINT, F_BUCKET,
	F_KEY, F_FORCE, F__MAX
};

static const char *
check_bucket(const char *s)
{
	size_t len = strlen(s), i;

	if (len < 3 || len > 63)
		return "must be 3 to 63 characters long";
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return "may hold only lower-case letters, digits and "
			    "'-'";
	return NULL;
}

static const char *
check_key(const char *s)
{
	if (s[0] == '/' || s[0] == '\\')
		return "must not start with '/' or '\\'";
	return jv_printable(s);
}

static const struct jv_field fields[F__MAX] = {
	[F_UID] = { "studyInstanceUid", JV_STRING, JV_REQUIRED | JV_NONEMPTY,
	    128, 0, 0, NULL, jv_printable },
	[F_TYPE] = { "studyType", JV_INT, JV_REQUIRED, 0, 1, 4, NULL, NULL },
	[F_CALLBACK] = { "statusNotifyCallBackUrl", JV_STRING,
	    JV_REQUIRED | JV_NONEMPTY, 2048, 0, 0, NULL, jv_printable },
	[F_AK] = { "accessKeyId", JV_STRING, JV_REQUIRED | JV_NONEMPTY, 128,
	    0, 0, NULL, jv_printable },
	[F_SK] = { "accessKeySecret", JV_STRING, JV_REQUIRED | JV_NONEMPTY,
	    256, 0, 0, NULL, jv_printable },
	[F_STS] = { "securityToken", JV_STRING, JV_NULL_OK, 8192, 0, 0, NULL,
	    jv_printable },
	[F_ENDPOINT] = { "endpoint", JV_STRING, JV_REQUIRED | JV_NONEMPTY,
	    256, 0, 0, NULL, NULL },
	[F_BUCKET] = { "bucketName", JV_STRING, JV_REQUIRED | JV_NONEMPTY, 63,
	    0, 0, NULL, check_bucket },
	[F_KEY] = { "key", JV_STRING, JV_REQUIRED | JV_NONEMPTY, 1023, 0, 0,
	    NULL, check_key },
	[F_FORCE] = { "forceAnalysis", JV_BOOL, JV_NULL_OK, 0, 0, 0, NULL,
	    NULL },
};

static const char base[] =
    "{\"studyInstanceUid\": \"1.2.840.113619.2.55.3\","
    " \"studyType\": 4,"
    " \"statusNotifyCallBackUrl\": \"https://cb.hospital.example/notify\","
    " \"accessKeyId\": \"LTAI5t\","
    " \"accessKeySecret\": \"s3cr3t\","
    " \"endpoint\": \"oss-cn-beijing.aliyuncs.com\","
    " \"bucketName\": \"pacs-images\","
    " \"key\": \"2024/study-1/\","
    " \"unknownField\": [1, 2, 3]}";

static json_object *
base_obj(void)
{
	char msg[256];

	return jv_parse(base, sizeof(base) - 1, msg, sizeof(msg));
}

/*
 * The base body with member name set to the JSON text value (or removed
 * when value is NULL), read through the table: the message, or "" when
 * accepted.
 */
static char	readmsg[512];
static struct jv_value readv[F__MAX];

static const char *
read_with(const char *name, const char *value)
{
	json_object	*o, *v = NULL;
	int		 rc;

	o = base_obj();
	if (value != NULL) {
		v = json_tokener_parse(value);
		if (v == NULL && strcmp(value, "null") != 0) {
			printf("#   test value %s does not parse\n", value);
			json_object_put(o);
			return "(bad test)";
		}
		json_object_object_add(o, name, v);
	} else
		json_object_object_del(o, name);
	memset(readmsg, 0, sizeof(readmsg));
	rc = jv_read(o, fields, F__MAX, readv, readmsg, sizeof(readmsg));
	json_object_put(o);
	if (rc == 0 && readmsg[0] != '\0')
		return "(rc 0 but a message)";
	if (rc == -1 && readmsg[0] == '\0')
		return "(rc -1 without a message)";
	return rc == 0 ? "" : readmsg;
}

static void
test_read(void)
{
	json_object	*o;
	char		 msg[256], big[1100];

	o = base_obj();
	tap_ok(o != NULL && jv_read(o, fields, F__MAX, readv, msg,
	    sizeof(msg)) == 0, "jv_read: a full executeAnalysis body is "
	    "accepted");
	TAP_STREQ(readv[F_UID].v_str, "1.2.840.113619.2.55.3",
	    "jv_read: studyInstanceUid value");
	tap_ok(readv[F_UID].v_present && readv[F_UID].v_len == 21,
	    "jv_read: studyInstanceUid present, v_len 21");
	tap_ok(readv[F_TYPE].v_present && readv[F_TYPE].v_int == 4,
	    "jv_read: studyType 4");
	TAP_STREQ(readv[F_KEY].v_str, "2024/study-1/", "jv_read: key value");
	tap_ok(!readv[F_STS].v_present && readv[F_STS].v_str == NULL,
	    "jv_read: absent optional securityToken not present");
	tap_ok(!readv[F_FORCE].v_present && readv[F_FORCE].v_bool == 0,
	    "jv_read: absent optional forceAnalysis not present");
	tap_ok(readv[F_KEY].v_obj != NULL &&
	    json_object_is_type(readv[F_KEY].v_obj, json_type_string),
	    "jv_read: v_obj is the member");
	json_object_put(o);

	/* required */
	TAP_STREQ(read_with("studyType", NULL),
	    "studyType: required field missing", "studyType missing");
	TAP_STREQ(read_with("key", NULL), "key: required field missing",
	    "key missing");
	/* null is not a value of a field without JV_NULL_OK */
	TAP_STREQ(read_with("studyType", "null"),
	    "studyType: must be an integer, not null",
	    "studyType null is refused as null");

	/* types and ranges */
	TAP_STREQ(read_with("studyType", "\"4\""),
	    "studyType: must be an integer from 1 to 4", "studyType \"4\"");
	TAP_STREQ(read_with("studyType", "4.0"),
	    "studyType: must be an integer from 1 to 4", "studyType 4.0");
	TAP_STREQ(read_with("studyType", "true"),
	    "studyType: must be an integer from 1 to 4", "studyType true");
	TAP_STREQ(read_with("studyType", "0"),
	    "studyType: must be an integer from 1 to 4", "studyType 0");
	TAP_STREQ(read_with("studyType", "5"),
	    "studyType: must be an integer from 1 to 4", "studyType 5");
	TAP_STREQ(read_with("studyType", "-1"),
	    "studyType: must be an integer from 1 to 4", "studyType -1");
	TAP_STREQ(read_with("studyType", "4294967300"),
	    "studyType: must be an integer from 1 to 4",
	    "studyType 2^32+4 (no truncation to 4)");
	TAP_STREQ(read_with("studyType", "18446744073709551615"),
	    "studyType: must be an integer from 1 to 4",
	    "studyType 2^64-1");
	TAP_STREQ(read_with("studyType", "1"), "", "studyType 1 accepted");
	tap_ok(readv[F_TYPE].v_int == 1, "studyType 1: v_int 1");
	TAP_STREQ(read_with("studyInstanceUid", "12345"),
	    "studyInstanceUid: must be a string", "studyInstanceUid number");
	TAP_STREQ(read_with("studyInstanceUid", "[\"x\"]"),
	    "studyInstanceUid: must be a string", "studyInstanceUid array");

	/* lengths */
	memset(big, 'k', sizeof(big));
	big[0] = '"';
	big[1024] = '"';
	big[1025] = '\0';		/* 1023 bytes */
	TAP_STREQ(read_with("key", big), "", "key of 1023 bytes accepted");
	tap_ok(readv[F_KEY].v_len == 1023, "key of 1023 bytes: v_len");
	big[1024] = 'k';
	big[1025] = '"';
	big[1026] = '\0';		/* 1024 bytes */
	TAP_STREQ(read_with("key", big), "key: longer than 1023 bytes",
	    "key of 1024 bytes");
	/* 342 three-byte characters: 1026 bytes, 342 characters */
	{
		size_t i, n = 0;

		big[n++] = '"';
		for (i = 0; i < 342; i++) {
			memcpy(big + n, "\xe5\xbd\xb1", 3);
			n += 3;
		}
		big[n++] = '"';
		big[n] = '\0';
		TAP_STREQ(read_with("key", big), "key: longer than 1023 bytes",
		    "key length is counted in bytes, not characters");
	}

	/* JV_NONEMPTY */
	TAP_STREQ(read_with("studyInstanceUid", "\"\""),
	    "studyInstanceUid: must not be empty", "studyInstanceUid \"\"");
	TAP_STREQ(read_with("securityToken", "\"\""), "",
	    "securityToken \"\" (not JV_NONEMPTY) accepted");
	tap_ok(readv[F_STS].v_present && readv[F_STS].v_len == 0,
	    "securityToken \"\": present, length 0");

	/* JV_NULL_OK */
	TAP_STREQ(read_with("securityToken", "null"), "",
	    "securityToken null accepted");
	tap_ok(!readv[F_STS].v_present, "securityToken null: not present");
	TAP_STREQ(read_with("forceAnalysis", "null"), "",
	    "forceAnalysis null accepted");
	tap_ok(!readv[F_FORCE].v_present, "forceAnalysis null: not present");
	TAP_STREQ(read_with("securityToken", "5"),
	    "securityToken: must be a string",
	    "securityToken 5 is still a wrong type");

	/* bool */
	TAP_STREQ(read_with("forceAnalysis", "true"), "",
	    "forceAnalysis true accepted");
	tap_ok(readv[F_FORCE].v_present && readv[F_FORCE].v_bool == 1,
	    "forceAnalysis true: v_bool 1");
	TAP_STREQ(read_with("forceAnalysis", "false"), "",
	    "forceAnalysis false accepted");
	tap_ok(readv[F_FORCE].v_present && readv[F_FORCE].v_bool == 0,
	    "forceAnalysis false: present, v_bool 0");
	TAP_STREQ(read_with("forceAnalysis", "\"true\""),
	    "forceAnalysis: must be true or false", "forceAnalysis \"true\"");
	TAP_STREQ(read_with("forceAnalysis", "1"),
	    "forceAnalysis: must be true or false", "forceAnalysis 1");

	/* jf_check */
	TAP_STREQ(read_with("bucketName", "\"Pacs_Images\""),
	    "bucketName: may hold only lower-case letters, digits and '-'",
	    "bucketName check message prefixed with the field name");
	TAP_STREQ(read_with("bucketName", "\"ab\""),
	    "bucketName: must be 3 to 63 characters long", "bucketName ab");
	TAP_STREQ(read_with("key", "\"/etc/passwd\""),
	    "key: must not start with '/' or '\\'", "key /etc/passwd");
	TAP_STREQ(read_with("key", "\"a\\nb\""),
	    "key: must not contain control characters", "key with \\n");
	TAP_STREQ(read_with("studyInstanceUid", "\"1.2\\u007f\""),
	    "studyInstanceUid: must not contain control characters",
	    "studyInstanceUid with U+007F");

	/* NUL */
	TAP_STREQ(read_with("studyInstanceUid", "\"1.2\\u00003\""),
	    "studyInstanceUid: must not contain NUL characters",
	    "studyInstanceUid with \\u0000");
	TAP_STREQ(read_with("endpoint", "\"oss.example\\u0000.evil\""),
	    "endpoint: must not contain NUL characters",
	    "endpoint (no jf_check) with \\u0000");

	/*
	 * fixed: json-c hands back a member whose value is null as a NULL
	 * json_object, so jv_read() cannot tell it from an absent member and
	 * JV_NULL_OK has no effect: an optional field declared without it
	 * still takes null as absent, where jv.h says only JV_NULL_OK fields
	 * do.  (Tell them apart with json_object_object_get_ex()'s return.)
	 */
	{
		static const struct jv_field fnote = { "note", JV_STRING, 0,
		    0, 0, 0, NULL, NULL };
		struct jv_value nv;
		json_object *b;

		b = json_tokener_parse("{\"note\": null}");
		msg[0] = '\0';
		tap_ok(jv_read(b, &fnote, 1, &nv, msg, sizeof(msg)) == -1 &&
		    strcmp(msg, "note: must be a string, not null") == 0,
		    "null for an optional string without JV_NULL_OK is "
		    "refused (got '%s')", msg);
		json_object_put(b);
	}

	/* the first field at fault (table order) is the one named */
	{
		json_object *b = base_obj();

		json_object_object_del(b, "key");
		json_object_object_add(b, "studyType",
		    json_object_new_int(9));
		msg[0] = '\0';
		tap_ok(jv_read(b, fields, F__MAX, readv, msg, sizeof(msg)) ==
		    -1, "two faults: refused");
		TAP_STREQ(msg, "studyType: must be an integer from 1 to 4",
		    "two faults: the first in table order is named");
		json_object_put(b);
	}
}

static void
test_enum_and_types(void)
{
	static const char *const cred[] = { "Y", "N", "UN", NULL };
	static const struct jv_field fcred = { "credibility", JV_STRING,
	    JV_REQUIRED, 2, 0, 0, cred, NULL };
	static const struct jv_field fidx = { "indexId", JV_STRING,
	    JV_REQUIRED | JV_NONEMPTY, 64, 0, 0, NULL, jv_printable };
	static const struct jv_field fnum = { "confidence", JV_NUMBER, 0, 0,
	    0, 0, NULL, NULL };
	static const struct jv_field farr = { "data", JV_ARRAY, JV_REQUIRED,
	    0, 0, 0, NULL, NULL };
	static const struct jv_field fobj = { "meta", JV_OBJECT, 0, 0, 0, 0,
	    NULL, NULL };
	static const struct jv_field fint = { "n", JV_INT, 0, 0, 0, 0, NULL,
	    NULL };
	struct jv_value	 v;
	json_object	*j;
	char		 msg[256], small[24];
	int		 rc;

#define CHECK(f, text, prefix) (					\
	j = json_tokener_parse(text),					\
	msg[0] = '\0',							\
	rc = jv_check(j, &(f), (prefix), &v, msg, sizeof(msg)),		\
	json_object_put(j),						\
	rc)

	tap_ok(CHECK(fcred, "\"UN\"", "credibility") == 0 && msg[0] == '\0',
	    "enum: UN accepted");
	tap_ok(CHECK(fcred, "\"Y\"", "credibility") == 0, "enum: Y accepted");
	tap_ok(CHECK(fcred, "\"y\"", "credibility") == -1,
	    "enum: y refused (case matters)");
	TAP_STREQ(msg, "credibility: must be one of \"Y\", \"N\", \"UN\"",
	    "enum: message lists the choices");
	tap_ok(CHECK(fcred, "\"U\"", "data[0].credibility") == -1,
	    "enum: a prefix of a choice refused");
	TAP_STREQ(msg, "data[0].credibility: must be one of \"Y\", \"N\", "
	    "\"UN\"", "enum: message with an item prefix");

	/* the enum message is cut to the buffer, never past it */
	j = json_tokener_parse("\"X\"");
	memset(small, '#', sizeof(small));
	rc = jv_check(j, &fcred, "credibility", &v, small, 16);
	json_object_put(j);
	tap_ok(rc == -1 && strlen(small) == 15 && small[16] == '#',
	    "enum: long message truncated to a 16-byte buffer");

	/* jv_check on array items, with a prefix */
	tap_ok(CHECK(fidx, "5", "data[2].indexId") == -1,
	    "jv_check: wrong type refused");
	TAP_STREQ(msg, "data[2].indexId: must be a string",
	    "jv_check: the prefix names the item");
	tap_ok(jv_check(NULL, &fidx, "data[2].indexId", &v, msg,
	    sizeof(msg)) == -1, "jv_check: missing required item refused");
	TAP_STREQ(msg, "data[2].indexId: required field missing",
	    "jv_check: missing, with the prefix");
	tap_ok(CHECK(fidx, "\"\"", "data[7].indexId") == -1,
	    "jv_check: empty refused");
	TAP_STREQ(msg, "data[7].indexId: must not be empty",
	    "jv_check: empty, with the prefix");
	tap_ok(CHECK(fidx, "\"a\\tb\"", "data[3].indexId") == -1,
	    "jv_check: jf_check refused");
	TAP_STREQ(msg, "data[3].indexId: must not contain control characters",
	    "jv_check: jf_check message with the prefix");
	tap_ok(jv_check(NULL, &fnum, "confidence", &v, msg, sizeof(msg)) == 0 &&
	    !v.v_present, "jv_check: missing optional is fine, not present");

	/* other types */
	tap_ok(CHECK(fnum, "0.75", "confidence") == 0 && v.v_num == 0.75,
	    "number: 0.75");
	tap_ok(CHECK(fnum, "3", "confidence") == 0 && v.v_num == 3.0,
	    "number: an integer is a number");
	tap_ok(CHECK(fnum, "\"0.75\"", "confidence") == -1,
	    "number: a string refused");
	TAP_STREQ(msg, "confidence: must be a number", "number: message");
	tap_ok(CHECK(farr, "[]", "data") == 0 && v.v_present,
	    "array: [] accepted");
	tap_ok(CHECK(farr, "{}", "data") == -1, "array: {} refused");
	TAP_STREQ(msg, "data: must be an array", "array: message");
	tap_ok(CHECK(fobj, "{}", "meta") == 0, "object: {} accepted");
	tap_ok(CHECK(fobj, "[]", "meta") == -1, "object: [] refused");
	TAP_STREQ(msg, "meta: must be an object", "object: message");
	tap_ok(CHECK(fint, "-7", "n") == 0 && v.v_int == -7,
	    "int without a range: -7 accepted");
	tap_ok(CHECK(fint, "1.5", "n") == -1, "int without a range: 1.5 "
	    "refused");
	TAP_STREQ(msg, "n: must be an integer", "int without a range: "
	    "message");
#undef CHECK
}

static void
test_printable(void)
{
	static const char *const bad[] = {
		"\x01", "a\tb", "a\nb", "a\rb", "x\x1f", "\x7f", "abc\x7f",
		"\x1b[31m",
	};
	static const char *const good[] = {
		"", "1.2.840.113619", "a,b,c", "KL1\xe7\xba\xa7",
		"\xe8\x82\xba\xe7\xbb\x93\xe8\x8a\x82, \xe5\xb7\xa6\xe8\x82\xba",
		"path/to/img 01.dcm", "~!@#$%^&*()_+{}|:\"<>?`-=[]\\;',./",
	};
	size_t i;

	for (i = 0; i < NELEM(bad); i++)
		TAP_STREQ(jv_printable(bad[i]),
		    "must not contain control characters",
		    "jv_printable refuses a control character");
	for (i = 0; i < NELEM(good); i++)
		tap_ok(jv_printable(good[i]) == NULL, "jv_printable accepts "
		    "\"%s\"", good[i]);
}

int
main(void)
{
	test_parse();
	test_parse_bugs();
	test_read();
	test_enum_and_types();
	test_printable();
	return tap_done();
}
