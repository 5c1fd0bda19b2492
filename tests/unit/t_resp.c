/* t_resp.c -- returnCodes, HTTP statuses and the response envelope of API.md */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"
#include "tap.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

#define RID	"7942c291-c720-49bd-942c-772cdc390a9e"

/* The table of API.md, "Common envelope of platform responses". */
static const struct {
	enum rc		 rc;
	const char	*name;
	const char	*code;
	int		 http;
	const char	*reason;
} table[] = {
	{ RC_OK, "RC_OK", "000000", 200, "OK" },
	{ RC_INTERNAL, "RC_INTERNAL", "100001", 500, "Internal Server Error" },
	{ RC_INVALID, "RC_INVALID", "100002", 400, "Bad Request" },
	{ RC_AUTH, "RC_AUTH", "100003", 401, "Unauthorized" },
	{ RC_NOT_FOUND, "RC_NOT_FOUND", "100004", 404, "Not Found" },
	{ RC_NOT_READY, "RC_NOT_READY", "100005", 409, "Conflict" },
	{ RC_FAILED, "RC_FAILED", "100006", 200, "OK" },
	{ RC_METHOD, "RC_METHOD", "100007", 405, "Method Not Allowed" },
	{ RC_MEDIA_TYPE, "RC_MEDIA_TYPE", "100007", 415,
	    "Unsupported Media Type" },
	{ RC_TOO_LARGE, "RC_TOO_LARGE", "100008", 413, "Payload Too Large" },
	{ RC_URL_REFUSED, "RC_URL_REFUSED", "100009", 400, "Bad Request" },
	{ RC_TOO_MANY, "RC_TOO_MANY", "100010", 429, "Too Many Requests" },
	{ RC_NOT_SERVED, "RC_NOT_SERVED", "100011", 400, "Bad Request" },
	{ RC_CONFLICT, "RC_CONFLICT", "100012", 409, "Conflict" },
};

/* Member name of o as a string, or NULL. */
static const char *
str_of(json_object *o, const char *name)
{
	json_object *v;

	if (!json_object_object_get_ex(o, name, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* 1 when the six members come in the order of API.md and no others. */
static int
in_order(json_object *o)
{
	static const char *const want[] = { "returnCode", "returnMessage",
	    "solution", "requestId", "data", "success" };
	size_t i = 0;

	json_object_object_foreach(o, k, v) {
		(void)v;
		if (i >= NELEM(want) || strcmp(k, want[i]) != 0)
			return 0;
		i++;
	}
	return i == NELEM(want);
}

static void
test_table(void)
{
	size_t	i;
	int	seen[RC__MAX];

	tap_ok(NELEM(table) == RC__MAX, "every enum rc is in the table (%d)",
	    RC__MAX);
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < NELEM(table); i++) {
		seen[table[i].rc]++;
		TAP_STREQ(rc_code(table[i].rc), table[i].code, table[i].name);
		tap_ok(rc_http(table[i].rc) == table[i].http,
		    "%s is HTTP %d (%d)", table[i].name, table[i].http,
		    rc_http(table[i].rc));
		TAP_STREQ(rc_http_reason(table[i].http), table[i].reason,
		    table[i].reason);
	}
	for (i = 0; i < RC__MAX; i++)
		if (seen[i] != 1)
			break;
	tap_ok(i == RC__MAX, "each enum rc once in the table");
	TAP_STREQ(rc_code(RC__MAX), "100001", "out of range rc: code 100001");
	tap_ok(rc_http(RC__MAX) == 500, "out of range rc: HTTP 500");
	TAP_STREQ(rc_http_reason(204), "No Content", "204 No Content");
	TAP_STREQ(rc_http_reason(503), "Service Unavailable",
	    "503 Service Unavailable");
	TAP_STREQ(rc_http_reason(599), "Internal Server Error",
	    "unknown status: Internal Server Error");
}

static void
test_envelopes(void)
{
	json_object	*o, *d;
	char		*s;
	size_t		 i, len;
	int		 post;

	for (i = 0; i < NELEM(table); i++)
		for (post = 1; post >= 0; post--) {
			const char	*m = table[i].rc == RC_OK ? "OK" :
			    "studyType: must be an integer from 1 to 4";
			int		 ok = table[i].rc == RC_OK;

			len = 0;
			s = resp_envelope(table[i].rc, m, NULL, post, RID,
			    &len);
			o = s != NULL ? json_tokener_parse(s) : NULL;
			tap_ok(s != NULL && len == strlen(s) && o != NULL &&
			    json_object_is_type(o, json_type_object),
			    "%s %s: a JSON object of len bytes",
			    table[i].name, post ? "POST" : "GET");
			if (o == NULL) {
				free(s);
				continue;
			}
			tap_ok(in_order(o) &&
			    (str_of(o, "returnCode") != NULL &&
			    strcmp(str_of(o, "returnCode"), table[i].code) ==
			    0) &&
			    (str_of(o, "returnMessage") != NULL &&
			    strcmp(str_of(o, "returnMessage"), m) == 0) &&
			    (str_of(o, "solution") != NULL &&
			    strcmp(str_of(o, "solution"), "") == 0) &&
			    (str_of(o, "requestId") != NULL &&
			    strcmp(str_of(o, "requestId"), RID) == 0),
			    "%s %s: returnCode %s, message, solution, "
			    "requestId, in order", table[i].name,
			    post ? "POST" : "GET", table[i].code);
			tap_ok(json_object_object_get_ex(o, "success", &d) &&
			    json_object_is_type(d, json_type_boolean) &&
			    json_object_get_boolean(d) == ok,
			    "%s %s: success %s", table[i].name,
			    post ? "POST" : "GET", ok ? "true" : "false");
			if (post)
				tap_ok(json_object_object_get_ex(o, "data",
				    &d) && json_object_is_type(d,
				    json_type_boolean) &&
				    json_object_get_boolean(d) == ok,
				    "%s POST: data %s", table[i].name,
				    ok ? "true" : "false");
			else
				tap_ok(json_object_object_get_ex(o, "data",
				    &d) && d == NULL &&
				    strstr(s, "\"data\":null") != NULL,
				    "%s GET: data null", table[i].name);
			json_object_put(o);
			free(s);
		}
}

static void
test_exact(void)
{
	char		*s;
	size_t		 len;
	json_object	*data, *o, *d, *v;

	s = resp_envelope(RC_OK, NULL, NULL, 1, RID, &len);
	TAP_STREQ(s, "{\"returnCode\":\"000000\",\"returnMessage\":\"OK\","
	    "\"solution\":\"\",\"requestId\":\"" RID "\",\"data\":true,"
	    "\"success\":true}", "POST success envelope, byte for byte");
	tap_ok(s != NULL && len == strlen(s), "len is the length");
	free(s);

	s = resp_envelope(RC_NOT_READY, NULL, NULL, 0, RID, &len);
	TAP_STREQ(s, "{\"returnCode\":\"100005\",\"returnMessage\":\"error\","
	    "\"solution\":\"\",\"requestId\":\"" RID "\",\"data\":null,"
	    "\"success\":false}", "GET error envelope without a message");
	free(s);

	/* an object passed in is the data, on GET or POST */
	data = json_tokener_parse("{\"studyInstanceUid\":\"1.2.3\","
	    "\"studyType\":4,\"boxes\":[{\"boxUid\":\"12345\","
	    "\"coordinates\":[1,2,3,4],\"class\":\"KL1\xe7\xba\xa7\"}]}");
	s = resp_envelope(RC_OK, "OK", data, 0, RID, &len);
	TAP_STREQ(s, "{\"returnCode\":\"000000\",\"returnMessage\":\"OK\","
	    "\"solution\":\"\",\"requestId\":\"" RID "\",\"data\":"
	    "{\"studyInstanceUid\":\"1.2.3\",\"studyType\":4,\"boxes\":"
	    "[{\"boxUid\":\"12345\",\"coordinates\":[1,2,3,4],\"class\":"
	    "\"KL1\xe7\xba\xa7\"}]},\"success\":true}",
	    "GET with data: the object passed through");
	free(s);

	/* RC_FAILED carries data (errorCode/errorMessage) with success false */
	data = json_object_new_object();
	json_object_object_add(data, "errorCode",
	    json_object_new_string("OSS_EMPTY"));
	s = resp_envelope(RC_FAILED, "analysis failed", data, 0, RID, &len);
	o = s != NULL ? json_tokener_parse(s) : NULL;
	tap_ok(o != NULL && json_object_object_get_ex(o, "data", &d) &&
	    json_object_object_get_ex(d, "errorCode", &v) &&
	    strcmp(json_object_get_string(v), "OSS_EMPTY") == 0,
	    "RC_FAILED: data object passed through");
	tap_ok(o != NULL && json_object_object_get_ex(o, "success", &v) &&
	    !json_object_get_boolean(v) &&
	    strcmp(str_of(o, "returnCode"), "100006") == 0,
	    "RC_FAILED: 100006, success false");
	json_object_put(o);
	free(s);

	/* escaping: quotes, backslash, control characters; UTF-8 and
	 * slashes as they are */
	s = resp_envelope(RC_INVALID, "key: \"a/b\\c\"\n\xe4\xb8\x8d\xe6\x94"
	    "\xaf\xe6\x8c\x81 https://x/y\x01", NULL, 1, RID, &len);
	TAP_STREQ(s, "{\"returnCode\":\"100002\",\"returnMessage\":"
	    "\"key: \\\"a/b\\\\c\\\"\\n\xe4\xb8\x8d\xe6\x94\xaf\xe6\x8c\x81 "
	    "https://x/y\\u0001\",\"solution\":\"\",\"requestId\":\"" RID
	    "\",\"data\":false,\"success\":false}",
	    "message: quotes, backslash, newline, U+0001 escaped; Chinese "
	    "and '/' not");
	tap_ok(s != NULL && strstr(s, "\\/") == NULL && strstr(s, "\\u4e0d") ==
	    NULL, "no \\/ and no \\u escapes of Chinese");
	o = s != NULL ? json_tokener_parse(s) : NULL;
	tap_ok(o != NULL && str_of(o, "returnMessage") != NULL &&
	    strcmp(str_of(o, "returnMessage"), "key: \"a/b\\c\"\n\xe4\xb8\x8d"
	    "\xe6\x94\xaf\xe6\x8c\x81 https://x/y\x01") == 0,
	    "message round-trips through a JSON parser");
	json_object_put(o);
	free(s);

	/* request ids are echoed as given */
	s = resp_envelope(RC_AUTH, "authentication failed", NULL, 1,
	    "00000000-0000-4000-8000-000000000000", &len);
	o = s != NULL ? json_tokener_parse(s) : NULL;
	tap_ok(o != NULL && str_of(o, "requestId") != NULL &&
	    strcmp(str_of(o, "requestId"),
	    "00000000-0000-4000-8000-000000000000") == 0,
	    "requestId echoed");
	json_object_put(o);
	free(s);
}

/* The envelope as json-c prints it, built from objects: the oracle for
 * resp_envelope, which writes it directly. */
static char *
jsonc_envelope(const char *code, const char *msg, json_object *data,
    int success)
{
	json_object	*o = json_object_new_object();
	const char	*s;
	char		*out;

	json_object_object_add(o, "returnCode", json_object_new_string(code));
	json_object_object_add(o, "returnMessage", json_object_new_string(msg));
	json_object_object_add(o, "solution", json_object_new_string(""));
	json_object_object_add(o, "requestId", json_object_new_string(RID));
	json_object_object_add(o, "data", data);
	json_object_object_add(o, "success", json_object_new_boolean(success));
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	out = strdup(s);
	json_object_put(o);
	return out;
}

static void
test_like_jsonc(void)
{
	char	 all[256], *a, *b;
	size_t	 i, len, same = 0, n = 0;
	const char *msgs[] = { all, "", "OK", "a\"b\\c/d\x7f",
	    "\xe4\xb8\x8d\xe6\x94\xaf\xe6\x8c\x81", "\xff\xfe broken UTF-8" };

	for (i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = '\0';
	for (i = 0; i < NELEM(msgs); i++, n += 2) {
		a = resp_envelope(RC_INVALID, msgs[i], NULL, 1, RID, &len);
		b = jsonc_envelope("100002", msgs[i],
		    json_object_new_boolean(0), 0);
		same += a != NULL && b != NULL && strcmp(a, b) == 0 &&
		    len == strlen(a);
		free(a);
		free(b);
		a = resp_envelope(RC_OK, msgs[i], json_tokener_parse(
		    "{\"k\":[1,2.50,\"x/y\"]}"), 0, RID, &len);
		b = jsonc_envelope("000000", msgs[i], json_tokener_parse(
		    "{\"k\":[1,2.50,\"x/y\"]}"), 1);
		same += a != NULL && b != NULL && strcmp(a, b) == 0;
		free(a);
		free(b);
	}
	tap_ok(same == n, "the envelope is byte for byte what json-c prints, "
	    "for messages with every byte from 1 to 255 (%zu of %zu)", same,
	    n);
}

int
main(void)
{
	test_table();
	test_envelopes();
	test_exact();
	test_like_jsonc();
	return tap_done();
}
