/* t_result.c -- engine results (API.md 6.) into findings (API.md 3.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "result.h"
#include "tap.h"

#define OK	"\"returnCode\":\"000000\""

static const char *
plain(json_object *o)
{
	return o == NULL ? "(none)" :
	    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
}

/* 36 characters 8-4-4-4-12 of lower-case hex, version 4, RFC 4122 variant */
static int
uuid_v4(const char *s)
{
	size_t i;

	if (s == NULL || strlen(s) != 36)
		return 0;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (strchr("0123456789abcdef", s[i]) == NULL ||
		    s[i] == '\0')
			return 0;
	}
	return s[14] == '4' && strchr("89ab", s[19]) != NULL;
}

static const char *
item_id(json_object *findings, size_t i)
{
	json_object *v;

	if (!json_object_object_get_ex(json_object_array_get_idx(findings, i),
	    "indexId", &v))
		return NULL;
	return json_object_get_string(v);
}

/* body must be refused with want; the struct must be left empty. */
static void
refused(const char *name, int type, const char *body, const char *want)
{
	struct result	r;
	char		m[512];
	int		rc;

	rc = result_parse(type, body, strlen(body), &r, m, sizeof(m));
	tap_ok(rc == -1 && r.r_findings == NULL && !r.r_engine_ok,
	    "%s: refused", name);
	TAP_STREQ(m, want, name);
	result_free(&r);
}

/* body must be accepted as a success with findings want. */
static void
accepted(const char *name, int type, const char *body, const char *want)
{
	struct result	r;
	char		m[512];
	int		rc;

	rc = result_parse(type, body, strlen(body), &r, m, sizeof(m));
	tap_ok(rc == 0 && r.r_engine_ok, "%s: accepted", name);
	if (rc == -1)
		printf("#   %s\n", m);
	TAP_STREQ(plain(r.r_findings), want, name);
	result_free(&r);
}

/*
 * A body of type's engine list holding one item: item with member field
 * set to the JSON text val, or removed when val is NULL.
 */
static char *
body_with(int type, const char *item, const char *field, const char *val)
{
	json_object	*root, *list, *it;
	char		*s;

	it = json_tokener_parse(item);
	if (field != NULL) {
		if (val == NULL)
			json_object_object_del(it, field);
		else
			json_object_object_add(it, field,
			    json_tokener_parse(val));
	}
	list = json_object_new_array();
	json_object_array_add(list, it);
	root = json_object_new_object();
	json_object_object_add(root, "returnCode",
	    json_object_new_string("000000"));
	json_object_object_add(root, result_engine_list_name(type), list);
	s = strdup(plain(root));
	json_object_put(root);
	return s;
}

static void
mut_refused(int type, const char *item, const char *field, const char *val,
    const char *want)
{
	char	*body = body_with(type, item, field, val);
	char	 name[256];

	snprintf(name, sizeof(name), "type %d, %s = %s", type, field,
	    val == NULL ? "(absent)" : val);
	refused(name, type, body, want);
	free(body);
}

static void
mut_accepted(int type, const char *item, const char *field, const char *val)
{
	struct result	 r;
	char		 m[512], *body = body_with(type, item, field, val);
	int		 rc;

	rc = result_parse(type, body, strlen(body), &r, m, sizeof(m));
	tap_ok(rc == 0 && r.r_engine_ok &&
	    json_object_array_length(r.r_findings) == 1,
	    "type %d, %s = %s: accepted", type, field,
	    val == NULL ? "(absent)" : val);
	if (rc == -1)
		printf("#   %s\n", m);
	result_free(&r);
	free(body);
}

/* "\"" + n copies of c + "\"" */
static char *
quoted(size_t n, char c)
{
	char *s = malloc(n + 3);

	s[0] = '"';
	memset(s + 1, c, n);
	s[n + 1] = '"';
	s[n + 2] = '\0';
	return s;
}

/* ---- names and the data object ---- */

static void
test_names(void)
{
	json_object *d;

	TAP_STREQ(result_list_name(1), "imageDataList", "list name 1");
	TAP_STREQ(result_list_name(2), "xRayDataList", "list name 2");
	TAP_STREQ(result_list_name(3), "ocularDataList", "list name 3");
	TAP_STREQ(result_list_name(4), "boxes", "list name 4");
	TAP_STREQ(result_engine_list_name(1), "ImageDataList", "engine name 1");
	TAP_STREQ(result_engine_list_name(2), "XRayDataList", "engine name 2");
	TAP_STREQ(result_engine_list_name(3), "OcularDataList",
	    "engine name 3");
	TAP_STREQ(result_engine_list_name(4), "Boxes", "engine name 4");
	tap_ok(result_list_name(0) == NULL && result_list_name(5) == NULL &&
	    result_engine_list_name(0) == NULL &&
	    result_engine_list_name(5) == NULL, "no list for types 0 and 5");

	d = result_data_new("1.2.840.113619.2.55", 4);
	TAP_STREQ(plain(d), "{\"studyInstanceUid\":\"1.2.840.113619.2.55\","
	    "\"studyType\":4,\"boxes\":[],\"ocularDataList\":[],"
	    "\"xRayDataList\":[],\"imageDataList\":[]}", "result_data_new 4");
	json_object_put(d);
	d = result_data_new("s-1", 1);
	TAP_STREQ(plain(d), "{\"studyInstanceUid\":\"s-1\",\"studyType\":1,"
	    "\"boxes\":[],\"ocularDataList\":[],\"xRayDataList\":[],"
	    "\"imageDataList\":[]}", "result_data_new 1");
	json_object_put(d);
	tap_ok(result_data_new("s", 0) == NULL &&
	    result_data_new("s", 5) == NULL &&
	    result_data_new(NULL, 1) == NULL, "result_data_new bad arguments");
}

/* ---- the envelope of API.md 6. ---- */

static void
test_envelope(void)
{
	struct result	 r;
	char		 m[512], big[2048], *s;
	const char	*b;
	size_t		 i, n;
	int		 rc;

	/* engine failure: a valid body, lists not looked at */
	b = "{\"returnCode\":\"500001\",\"returnMessage\":\"model crashed: "
	    "out of GPU memory\",\"ImageUid\":\"img-9\",\"namespace\":"
	    "\"h.example.com\",\"Boxes\":\"garbage\"}";
	rc = result_parse(4, b, strlen(b), &r, m, sizeof(m));
	tap_ok(rc == 0 && !r.r_engine_ok && r.r_findings == NULL,
	    "engine failure is a valid body, findings NULL");
	TAP_STREQ(r.r_code, "500001", "engine failure: code kept");
	TAP_STREQ(r.r_message, "model crashed: out of GPU memory",
	    "engine failure: message kept");
	TAP_STREQ(r.r_image_uid, "img-9", "engine failure: ImageUid");
	TAP_STREQ(r.r_namespace, "h.example.com", "engine failure: namespace");
	TAP_STREQ(m, "", "engine failure: no message");
	result_free(&r);
	result_free(&r);	/* twice is harmless */

	/* message cleaned: whitespace controls to spaces, others dropped */
	b = "{\"returnCode\":\"E\\u0001 42\",\"returnMessage\":\"line1\\nline2"
	    "\\t\\u0000\\u0007\xc3\xa9\\u0085x\\u007f!\"}";
	rc = result_parse(1, b, strlen(b), &r, m, sizeof(m));
	tap_ok(rc == 0 && !r.r_engine_ok, "control characters: accepted");
	TAP_STREQ(r.r_code, "E 42", "returnCode cleaned");
	TAP_STREQ(r.r_message, "line1 line2 \xc3\xa9x!", "returnMessage cleaned");
	TAP_STREQ(r.r_image_uid, "", "ImageUid absent");
	TAP_STREQ(r.r_namespace, "", "namespace absent");
	result_free(&r);

	/* truncated to whole UTF-8 sequences */
	n = (size_t)snprintf(big, sizeof(big), "{\"returnCode\":\"");
	for (i = 0; i < 40; i++)
		big[n++] = (char)('0' + i % 10);
	n += (size_t)snprintf(big + n, sizeof(big) - n,
	    "\",\"returnMessage\":\"");
	for (i = 0; i < 600; i++) {
		big[n++] = (char)0xc3;
		big[n++] = (char)0xa9;
	}
	snprintf(big + n, sizeof(big) - n, "\"}");
	rc = result_parse(2, big, strlen(big), &r, m, sizeof(m));
	tap_ok(rc == 0 && !r.r_engine_ok, "long code and message: accepted");
	TAP_STREQ(r.r_code, "0123456789012345678901234567890",
	    "returnCode truncated to 31 bytes");
	tap_ok(strlen(r.r_message) == 510 &&
	    (unsigned char)r.r_message[508] == 0xc3 &&
	    (unsigned char)r.r_message[509] == 0xa9,
	    "returnMessage truncated to 255 whole characters (%zu bytes)",
	    strlen(r.r_message));
	result_free(&r);

	/* success: message "OK" kept, null message is no message */
	b = "{" OK ",\"returnMessage\":\"OK\",\"ImageUid\":\"a/b.dcm\","
	    "\"Boxes\":[]}";
	rc = result_parse(4, b, strlen(b), &r, m, sizeof(m));
	tap_ok(rc == 0 && r.r_engine_ok, "success: engine ok");
	TAP_STREQ(r.r_code, "000000", "success: code");
	TAP_STREQ(r.r_message, "OK", "success: message");
	TAP_STREQ(r.r_image_uid, "a/b.dcm", "success: ImageUid");
	TAP_STREQ(plain(r.r_findings), "[]", "empty Boxes accepted");
	result_free(&r);
	b = "{" OK ",\"returnMessage\":null,\"ImageUid\":null,"
	    "\"namespace\":null,\"ImageDataList\":[]}";
	rc = result_parse(1, b, strlen(b), &r, m, sizeof(m));
	tap_ok(rc == 0 && r.r_engine_ok && r.r_message[0] == '\0' &&
	    r.r_image_uid[0] == '\0' && r.r_namespace[0] == '\0',
	    "null returnMessage, ImageUid, namespace: as absent");
	result_free(&r);

	b = "{\"returnCode\":\"000000\\u0000x\",\"Boxes\":[]}";
	rc = result_parse(4, b, strlen(b), &r, m, sizeof(m));
	tap_ok(rc == 0 && !r.r_engine_ok && r.r_findings == NULL,
	    "returnCode 000000 NUL x is not success");
	TAP_STREQ(r.r_code, "000000x", "returnCode NUL dropped");
	result_free(&r);
	b = "{\"returnCode\":\" 000000\",\"Boxes\":[]}";
	rc = result_parse(4, b, strlen(b), &r, m, sizeof(m));
	tap_ok(rc == 0 && !r.r_engine_ok && r.r_findings == NULL,
	    "returnCode \" 000000\" is not success");
	result_free(&r);

	refused("returnCode missing", 4, "{\"Boxes\":[]}",
	    "returnCode: required field missing");
	refused("returnCode a number", 4, "{\"returnCode\":0,\"Boxes\":[]}",
	    "returnCode: must be a string");
	refused("returnCode null", 4, "{\"returnCode\":null}",
	    "returnCode: must be a string");
	refused("returnCode empty", 4, "{\"returnCode\":\"\"}",
	    "returnCode: must not be empty");
	refused("returnCode only controls", 4, "{\"returnCode\":\"\\u0001\"}",
	    "returnCode: must not be empty");
	refused("returnMessage a number", 4,
	    "{" OK ",\"returnMessage\":5,\"Boxes\":[]}",
	    "returnMessage: must be a string");
	refused("ImageUid a number", 4, "{" OK ",\"ImageUid\":5,\"Boxes\":[]}",
	    "ImageUid: must be a string");
	refused("ImageUid control", 4,
	    "{" OK ",\"ImageUid\":\"a\\nb\",\"Boxes\":[]}",
	    "ImageUid: must not contain control characters");
	refused("namespace object", 4, "{" OK ",\"namespace\":{},\"Boxes\":[]}",
	    "namespace: must be a string");
	s = quoted(256, 'u');
	snprintf(big, sizeof(big), "{\"returnCode\":\"1\",\"ImageUid\":%s}", s);
	refused("ImageUid 256 bytes", 4, big,
	    "ImageUid: longer than 255 bytes");
	free(s);
	s = quoted(255, 'u');
	snprintf(big, sizeof(big), "{\"returnCode\":\"1\",\"ImageUid\":%s}", s);
	rc = result_parse(4, big, strlen(big), &r, m, sizeof(m));
	tap_ok(rc == 0 && strlen(r.r_image_uid) == 255,
	    "ImageUid of 255 bytes kept");
	result_free(&r);
	free(s);
	s = quoted(129, 'n');
	snprintf(big, sizeof(big), "{\"returnCode\":\"1\",\"namespace\":%s}", s);
	refused("namespace 129 bytes", 4, big,
	    "namespace: longer than 128 bytes");
	free(s);
	s = quoted(128, 'n');
	snprintf(big, sizeof(big), "{\"returnCode\":\"1\",\"namespace\":%s}", s);
	rc = result_parse(4, big, strlen(big), &r, m, sizeof(m));
	tap_ok(rc == 0 && strlen(r.r_namespace) == 128,
	    "namespace of 128 bytes kept");
	result_free(&r);
	free(s);

	refused("not an object", 4, "[]", "request body must be a JSON object");
	refused("truncated", 4, "{\"returnCode\":", "request body is not "
	    "valid JSON: it ends too early");
	refused("NaN", 1, "{" OK ",\"ImageDataList\":[NaN]}", "request body "
	    "is not valid JSON: unexpected character at offset 40");
	refused("empty body", 1, "", "request body is empty");
	refused("studyType 0", 0, "{" OK ",\"Boxes\":[]}",
	    "studyType: must be an integer from 1 to 4");
	refused("studyType 5", 5, "{" OK ",\"Boxes\":[]}",
	    "studyType: must be an integer from 1 to 4");
}

/* ---- the lists ---- */

static void
test_lists(void)
{
	char	*b;
	size_t	 i, n, cap = 700 * 1024;

	refused("list missing", 4, "{" OK "}", "Boxes: required field missing");
	refused("list null", 4, "{" OK ",\"Boxes\":null}",
	    "Boxes: must be an array");
	refused("list an object", 2, "{" OK ",\"XRayDataList\":{}}",
	    "XRayDataList: must be an array");
	refused("both spellings", 4, "{" OK ",\"Boxes\":[],\"boxes\":[]}",
	    "boxes: must not be given together with Boxes");
	refused("wrong-type list instead", 1, "{" OK ",\"Boxes\":[{\"BoxUid\":"
	    "\"12345\",\"Coordinates\":[1,2,3,4],\"Class\":\"K\"}]}",
	    "ImageDataList: required field missing");
	refused("wrong-type list beside", 4, "{" OK ",\"Boxes\":[],"
	    "\"ImageDataList\":[{}]}",
	    "ImageDataList: must be absent or empty in a studyType 4 result");
	refused("wrong-type list lower-case", 3, "{" OK ",\"OcularDataList\":[],"
	    "\"xRayDataList\":[1]}",
	    "xRayDataList: must be absent or empty in a studyType 3 result");
	refused("wrong-type list a string", 2, "{" OK ",\"XRayDataList\":[],"
	    "\"OcularDataList\":\"\"}",
	    "OcularDataList: must be absent or empty in a studyType 2 result");
	refused("wrong-type boxes", 1, "{" OK ",\"imageDataList\":[],"
	    "\"Boxes\":[{}]}",
	    "Boxes: must be absent or empty in a studyType 1 result");
	accepted("other lists null or empty", 4, "{" OK ",\"Boxes\":[],"
	    "\"ImageDataList\":null,\"xRayDataList\":[],\"OcularDataList\":[],"
	    "\"boxDataList\":[1]}", "[]");
	accepted("empty ImageDataList", 1, "{" OK ",\"ImageDataList\":[]}",
	    "[]");
	accepted("empty xRayDataList (lower-case)", 2,
	    "{" OK ",\"xRayDataList\":[]}", "[]");
	accepted("empty ocularDataList (lower-case)", 3,
	    "{" OK ",\"ocularDataList\":[]}", "[]");
	refused("item not an object", 4, "{" OK ",\"Boxes\":[[]]}",
	    "Boxes[0]: must be an object");
	refused("item null", 1, "{" OK ",\"ImageDataList\":[null]}",
	    "ImageDataList[0]: must be an object");

	/* RESULT_MAX_ITEMS */
	b = malloc(cap);
	n = (size_t)snprintf(b, cap, "{" OK ",\"Boxes\":[");
	for (i = 0; i <= RESULT_MAX_ITEMS; i++)
		n += (size_t)snprintf(b + n, cap - n, "%s{}", i ? "," : "");
	snprintf(b + n, cap - n, "]}");
	refused("10001 items", 4, b, "Boxes: more than 10000 items");
	n = (size_t)snprintf(b, cap, "{" OK ",\"Boxes\":[");
	for (i = 0; i < RESULT_MAX_ITEMS; i++)
		n += (size_t)snprintf(b + n, cap - n, "%s{\"BoxUid\":\"%05zu\","
		    "\"Coordinates\":[0,0,1,1],\"Class\":\"K\"}", i ? "," : "",
		    i);
	snprintf(b + n, cap - n, "]}");
	{
		struct result	r;
		char		m[512];
		json_object	*v = NULL;

		tap_ok(result_parse(4, b, strlen(b), &r, m, sizeof(m)) == 0 &&
		    json_object_array_length(r.r_findings) == RESULT_MAX_ITEMS,
		    "10000 boxes accepted");
		json_object_object_get_ex(json_object_array_get_idx(
		    r.r_findings, RESULT_MAX_ITEMS - 1), "boxUid", &v);
		TAP_STREQ(json_object_get_string(v), "09999", "last of 10000");
		result_free(&r);
	}
	free(b);
}

/* ---- type 4: boxes ---- */

#define BOX	"{\"BoxUid\":\"12345\",\"Coordinates\":[10,20,30,40]," \
		"\"Class\":\"KL1\xe7\xba\xa7\"}"

static void
test_boxes(void)
{
	char *s;

	accepted("boxes", 4, "{" OK ",\"returnMessage\":\"OK\",\"namespace\":"
	    "\"h\",\"ImageUid\":\"i\",\"Boxes\":["
	    "{\"Class\":\"KL1\xe7\xba\xa7\",\"Coordinates\":[10,20,30.5,40.25],"
	    "\"BoxUid\":\"12345\"},"
	    "{\"boxUid\":\"00001\",\"coordinates\":[0,0,0,0],\"class\":"
	    "\"KL4\xe7\xba\xa7\",\"extra\":{\"a\":1}},"
	    "{\"BoxUid\":\"99999\",\"Coordinates\":[1.0e2,2,3E2,4.000],"
	    "\"Class\":\"KL0\",\"credibility\":\"Y\"}]}",
	    "[{\"boxUid\":\"12345\",\"coordinates\":[10,20,30.5,40.25],"
	    "\"class\":\"KL1\xe7\xba\xa7\",\"credibility\":null},"
	    "{\"boxUid\":\"00001\",\"coordinates\":[0,0,0,0],"
	    "\"class\":\"KL4\xe7\xba\xa7\",\"credibility\":null},"
	    "{\"boxUid\":\"99999\",\"coordinates\":[1.0e2,2,3E2,4.000],"
	    "\"class\":\"KL0\",\"credibility\":null}]");
	accepted("boxes, lower-case list name", 4, "{" OK ",\"boxes\":[" BOX
	    "]}", "[{\"boxUid\":\"12345\",\"coordinates\":[10,20,30,40],"
	    "\"class\":\"KL1\xe7\xba\xa7\",\"credibility\":null}]");

	mut_refused(4, BOX, "BoxUid", NULL,
	    "Boxes[0].BoxUid: required field missing");
	mut_refused(4, BOX, "BoxUid", "null",
	    "Boxes[0].BoxUid: must be a string, not null");
	mut_refused(4, BOX, "BoxUid", "12345", "Boxes[0].BoxUid: must be a string");
	mut_refused(4, BOX, "BoxUid", "\"1234\"",
	    "Boxes[0].BoxUid: must be a string of 5 digits");
	mut_refused(4, BOX, "BoxUid", "\"123456\"",
	    "Boxes[0].BoxUid: must be a string of 5 digits");
	mut_refused(4, BOX, "BoxUid", "\"1234a\"",
	    "Boxes[0].BoxUid: must be a string of 5 digits");
	mut_refused(4, BOX, "BoxUid", "\"\"",
	    "Boxes[0].BoxUid: must be a string of 5 digits");
	mut_refused(4, BOX, "BoxUid", "\"\xef\xbc\x91\x32\x33\x34\x35\"",
	    "Boxes[0].BoxUid: must be a string of 5 digits");
	mut_refused(4, BOX, "Coordinates", NULL,
	    "Boxes[0].Coordinates: required field missing");
	mut_refused(4, BOX, "Coordinates", "null",
	    "Boxes[0].Coordinates: must be an array of 4 numbers");
	mut_refused(4, BOX, "Coordinates", "[1,2,3]",
	    "Boxes[0].Coordinates: must be an array of 4 numbers");
	mut_refused(4, BOX, "Coordinates", "[1,2,3,4,5]",
	    "Boxes[0].Coordinates: must be an array of 4 numbers");
	mut_refused(4, BOX, "Coordinates", "\"1,2,3,4\"",
	    "Boxes[0].Coordinates: must be an array of 4 numbers");
	mut_refused(4, BOX, "Coordinates", "[1,\"2\",3,4]",
	    "Boxes[0].Coordinates[1]: must be a finite number >= 0");
	mut_refused(4, BOX, "Coordinates", "[1,2,3,null]",
	    "Boxes[0].Coordinates[3]: must be a finite number >= 0");
	mut_refused(4, BOX, "Coordinates", "[1,-2,3,4]",
	    "Boxes[0].Coordinates[1]: must be a finite number >= 0");
	mut_refused(4, BOX, "Coordinates", "[1,2,1e400,4]",
	    "Boxes[0].Coordinates[2]: must be a finite number >= 0");
	mut_refused(4, BOX, "Coordinates", "[3.5,2,3.4,4]",
	    "Boxes[0].Coordinates: x_min must not be greater than x_max");
	mut_refused(4, BOX, "Coordinates", "[1,4.01,3,4]",
	    "Boxes[0].Coordinates: y_min must not be greater than y_max");
	mut_accepted(4, BOX, "Coordinates", "[3,4,3,4]");
	mut_refused(4, BOX, "Class", NULL, "Boxes[0].Class: required field missing");
	mut_refused(4, BOX, "Class", "\"\"", "Boxes[0].Class: must not be empty");
	mut_refused(4, BOX, "Class", "1", "Boxes[0].Class: must be a string");
	mut_refused(4, BOX, "Class", "\"KL\\n1\"",
	    "Boxes[0].Class: must not contain control characters");
	s = quoted(65, 'K');
	mut_refused(4, BOX, "Class", s, "Boxes[0].Class: longer than 64 bytes");
	free(s);
	s = quoted(64, 'K');
	mut_accepted(4, BOX, "Class", s);
	free(s);
	mut_refused(4, BOX, "boxUid", "\"12345\"",
	    "Boxes[0]: \"BoxUid\" and \"boxUid\" must not both be given");
	mut_refused(4, BOX, "class", "\"K\"",
	    "Boxes[0]: \"Class\" and \"class\" must not both be given");
	refused("lower-case member named as sent", 4, "{" OK ",\"boxes\":["
	    "{\"boxUid\":\"12345\",\"coordinates\":[1,2],\"class\":\"K\"}]}",
	    "boxes[0].coordinates: must be an array of 4 numbers");
	refused("third box", 4, "{" OK ",\"Boxes\":[" BOX ","
	    "{\"BoxUid\":\"12346\",\"Coordinates\":[1,2,3,4],\"Class\":\"K\"},"
	    "{\"BoxUid\":\"12347\",\"Coordinates\":[1,2,3],\"Class\":\"K\"}]}",
	    "Boxes[2].Coordinates: must be an array of 4 numbers");
	refused("duplicate BoxUid", 4, "{" OK ",\"Boxes\":[" BOX ","
	    "{\"BoxUid\":\"12346\",\"Coordinates\":[1,2,3,4],\"Class\":\"K\"},"
	    BOX "]}", "Boxes[2].BoxUid: duplicate of Boxes[0]");
	refused("duplicate boxUid across spellings", 4, "{" OK ",\"Boxes\":["
	    "{\"BoxUid\":\"11111\",\"Coordinates\":[1,2,3,4],\"Class\":\"K\"},"
	    "{\"boxUid\":\"11111\",\"Coordinates\":[1,2,3,4],\"Class\":\"K\"}]}",
	    "Boxes[1].boxUid: duplicate of Boxes[0]");
}

/* ---- type 1: lung nodules ---- */

#define ID1	"0f8fad5b-d9cb-469f-a165-70867728950e"
#define ID2	"7c9e6679-7425-40de-944b-e07fc1f90ae7"
#define IMG	"{\"indexId\":\"" ID1 "\",\"seriesInstanceUid\":\"1.2.840.1\"," \
		"\"spacing\":[0.700,0.700,1.250],\"origin\":[-150.5,-170,0]," \
		"\"x\":100.5,\"y\":200,\"z\":30,\"diameter\":5.20," \
		"\"confidence\":0.8900,\"category\":\"solid\"," \
		"\"lung\":\"left\",\"lobe\":\"up\"}"

static void
test_image(void)
{
	struct result	 r;
	json_object	*f;
	char		 m[512], want[4096], *s;
	const char	*b;
	int		 rc;

	b = "{" OK ",\"ImageDataList\":["
	    /* members in another order, id upper-case, credibility sent */
	    "{\"lobe\":\"middle\",\"lung\":\"right\",\"category\":\"part-solid\","
	    "\"credibility\":\"Y\",\"confidence\":1,\"diameter\":0,\"z\":-1e-3,"
	    "\"y\":-2.50E+2,\"x\":123456789012345678,\"origin\":[0.0,-0,1e2],"
	    "\"spacing\":[0.5,0.5,2],\"seriesInstanceUid\":\"1.2.3\","
	    "\"indexId\":\"0F8FAD5B-D9CB-469F-A165-70867728950E\"},"
	    /* no indexId */
	    "{\"seriesInstanceUid\":\"1.2.4\",\"spacing\":[0.700,0.700,1.250],"
	    "\"origin\":[-150.5,-170,-300.25],\"x\":1,\"y\":2,\"z\":3,"
	    "\"diameter\":5.20,\"confidence\":0.8900,\"category\":\"ggo\","
	    "\"lung\":\"left\",\"lobe\":\"up\"},"
	    /* indexId null */
	    "{\"indexId\":null,\"seriesInstanceUid\":\"1.2.5\","
	    "\"spacing\":[1,1,1],\"origin\":[0,0,0],\"x\":0,\"y\":0,\"z\":0,"
	    "\"diameter\":1,\"confidence\":0,\"category\":\"unknown\","
	    "\"lung\":\"unknow\",\"lobe\":\"unknow\",\"note\":\"dropped\"}]}";
	rc = result_parse(1, b, strlen(b), &r, m, sizeof(m));
	tap_ok(rc == 0 && r.r_engine_ok && r.r_findings != NULL &&
	    json_object_array_length(r.r_findings) == 3, "image: 3 findings");
	if (rc == -1)
		printf("#   %s\n", m);
	f = r.r_findings;
	TAP_STREQ(item_id(f, 0), ID1, "image: indexId lower-cased");
	tap_ok(uuid_v4(item_id(f, 1)), "image: absent indexId made up (%s)",
	    item_id(f, 1));
	tap_ok(uuid_v4(item_id(f, 2)), "image: null indexId made up (%s)",
	    item_id(f, 2));
	tap_ok(item_id(f, 1) != NULL && item_id(f, 2) != NULL &&
	    strcmp(item_id(f, 1), item_id(f, 2)) != 0,
	    "image: made-up indexIds differ");
	snprintf(want, sizeof(want), "["
	    "{\"indexId\":\"" ID1 "\",\"seriesInstanceUid\":\"1.2.3\","
	    "\"spacing\":[0.5,0.5,2],\"origin\":[0.0,0,1e2],"
	    "\"x\":123456789012345678,\"y\":-2.50E+2,\"z\":-1e-3,"
	    "\"diameter\":0,\"confidence\":1,\"credibility\":null,"
	    "\"category\":\"part-solid\",\"lung\":\"right\",\"lobe\":\"middle\"},"
	    "{\"indexId\":\"%s\",\"seriesInstanceUid\":\"1.2.4\","
	    "\"spacing\":[0.700,0.700,1.250],\"origin\":[-150.5,-170,-300.25],"
	    "\"x\":1,\"y\":2,\"z\":3,\"diameter\":5.20,\"confidence\":0.8900,"
	    "\"credibility\":null,\"category\":\"ggo\",\"lung\":\"left\","
	    "\"lobe\":\"up\"},"
	    "{\"indexId\":\"%s\",\"seriesInstanceUid\":\"1.2.5\","
	    "\"spacing\":[1,1,1],\"origin\":[0,0,0],\"x\":0,\"y\":0,\"z\":0,"
	    "\"diameter\":1,\"confidence\":0,\"credibility\":null,"
	    "\"category\":\"unknown\",\"lung\":\"unknow\",\"lobe\":\"unknow\"}]",
	    item_id(f, 1), item_id(f, 2));
	TAP_STREQ(plain(f), want, "image: findings, field by field");
	result_free(&r);

	/* precision, also after the parsed body is gone and on a copy */
	b = "{" OK ",\"imageDataList\":[" IMG "]}";
	rc = result_parse(1, b, strlen(b), &r, m, sizeof(m));
	tap_ok(rc == 0 && strstr(plain(r.r_findings),
	    "\"confidence\":0.8900,") != NULL &&
	    strstr(plain(r.r_findings), "\"spacing\":[0.700,0.700,1.250]") !=
	    NULL && strstr(plain(r.r_findings), "\"diameter\":5.20,") != NULL,
	    "image: lower-case list, 0.8900 stays 0.8900");
	{
		json_object *copy = NULL, *back;

		json_object_deep_copy(r.r_findings, &copy, NULL);
		back = json_tokener_parse(plain(copy));
		tap_ok(strstr(plain(back), "\"confidence\":0.8900,") != NULL,
		    "image: precision survives deep copy and re-parse");
		json_object_put(copy);
		json_object_put(back);
	}
	result_free(&r);

	mut_refused(1, IMG, "indexId", "\"not-a-uuid\"",
	    "ImageDataList[0].indexId: must be a UUID");
	mut_refused(1, IMG, "indexId", "5",
	    "ImageDataList[0].indexId: must be a UUID");
	mut_refused(1, IMG, "indexId", "\"0f8fad5b-d9cb-469f-a165-70867728950\"",
	    "ImageDataList[0].indexId: must be a UUID");
	mut_refused(1, IMG, "indexId", "\"0f8fad5bd9cb-469f-a165-70867728950e0\"",
	    "ImageDataList[0].indexId: must be a UUID");
	mut_refused(1, IMG, "indexId", "\"0f8fad5b-d9cb-469f-a165-70867728950g\"",
	    "ImageDataList[0].indexId: must be a UUID");
	mut_refused(1, IMG, "indexId",
	    "\"{0f8fad5b-d9cb-469f-a165-70867728950e}\"",
	    "ImageDataList[0].indexId: must be a UUID");
	mut_accepted(1, IMG, "indexId", "\"00000000-0000-0000-0000-000000000000\"");
	mut_refused(1, IMG, "seriesInstanceUid", NULL,
	    "ImageDataList[0].seriesInstanceUid: required field missing");
	mut_refused(1, IMG, "seriesInstanceUid", "\"\"",
	    "ImageDataList[0].seriesInstanceUid: must not be empty");
	mut_refused(1, IMG, "seriesInstanceUid", "1.2",
	    "ImageDataList[0].seriesInstanceUid: must be a string");
	mut_refused(1, IMG, "seriesInstanceUid", "\"1.2\\t3\"",
	    "ImageDataList[0].seriesInstanceUid: must not contain control "
	    "characters");
	s = quoted(129, '1');
	mut_refused(1, IMG, "seriesInstanceUid", s,
	    "ImageDataList[0].seriesInstanceUid: longer than 128 bytes");
	free(s);
	s = quoted(128, '1');
	mut_accepted(1, IMG, "seriesInstanceUid", s);
	free(s);
	mut_refused(1, IMG, "spacing", NULL,
	    "ImageDataList[0].spacing: required field missing");
	mut_refused(1, IMG, "spacing", "[1,1]",
	    "ImageDataList[0].spacing: must be an array of 3 numbers");
	mut_refused(1, IMG, "spacing", "[[1],1,1]",
	    "ImageDataList[0].spacing[0]: must be a finite number > 0");
	mut_refused(1, IMG, "spacing", "[1,0,1]",
	    "ImageDataList[0].spacing[1]: must be a finite number > 0");
	mut_refused(1, IMG, "spacing", "[1,1,-0.5]",
	    "ImageDataList[0].spacing[2]: must be a finite number > 0");
	mut_refused(1, IMG, "origin", "[1,2,3,4]",
	    "ImageDataList[0].origin: must be an array of 3 numbers");
	mut_refused(1, IMG, "origin", "{}",
	    "ImageDataList[0].origin: must be an array of 3 numbers");
	mut_refused(1, IMG, "origin", "[-1,-1e400,0]",
	    "ImageDataList[0].origin[1]: must be a finite number");
	mut_refused(1, IMG, "origin", "[-1,true,0]",
	    "ImageDataList[0].origin[1]: must be a finite number");
	mut_refused(1, IMG, "x", "\"1\"",
	    "ImageDataList[0].x: must be a finite number");
	mut_refused(1, IMG, "x", "1e400",
	    "ImageDataList[0].x: must be a finite number");
	mut_refused(1, IMG, "y", NULL,
	    "ImageDataList[0].y: required field missing");
	mut_refused(1, IMG, "z", "null",
	    "ImageDataList[0].z: must be a finite number");
	mut_refused(1, IMG, "diameter", "-0.1",
	    "ImageDataList[0].diameter: must be a finite number >= 0");
	mut_refused(1, IMG, "diameter", "1E+400",
	    "ImageDataList[0].diameter: must be a finite number >= 0");
	mut_refused(1, IMG, "confidence", "1.01",
	    "ImageDataList[0].confidence: must be a number from 0 to 1");
	mut_refused(1, IMG, "confidence", "-0.01",
	    "ImageDataList[0].confidence: must be a number from 0 to 1");
	mut_refused(1, IMG, "confidence", "\"0.5\"",
	    "ImageDataList[0].confidence: must be a number from 0 to 1");
	mut_refused(1, IMG, "confidence", NULL,
	    "ImageDataList[0].confidence: required field missing");
	mut_accepted(1, IMG, "credibility", "{\"any\":1}");
	mut_refused(1, IMG, "category", "\"GGO\"",
	    "ImageDataList[0].category: must be one of \"ggo\", \"solid\", "
	    "\"part-solid\", \"unknown\"");
	mut_refused(1, IMG, "category", NULL,
	    "ImageDataList[0].category: required field missing");
	mut_refused(1, IMG, "lung", "\"unknown\"",
	    "ImageDataList[0].lung: must be one of \"left\", \"right\", "
	    "\"unknow\"");
	mut_refused(1, IMG, "lobe", "\"upper\"",
	    "ImageDataList[0].lobe: must be one of \"up\", \"middle\", "
	    "\"down\", \"unknow\"");
	mut_refused(1, IMG, "lobe", "null",
	    "ImageDataList[0].lobe: must be a string, not null");
	refused("duplicate indexId (case differs)", 1, "{" OK
	    ",\"ImageDataList\":[" IMG ",{\"indexId\":\"" ID2 "\","
	    "\"seriesInstanceUid\":\"1\",\"spacing\":[1,1,1],\"origin\":[0,0,0],"
	    "\"x\":0,\"y\":0,\"z\":0,\"diameter\":0,\"confidence\":0,"
	    "\"category\":\"ggo\",\"lung\":\"left\",\"lobe\":\"up\"},"
	    "{\"indexId\":\"0F8FAD5B-D9CB-469F-A165-70867728950e\","
	    "\"seriesInstanceUid\":\"1\",\"spacing\":[1,1,1],\"origin\":[0,0,0],"
	    "\"x\":0,\"y\":0,\"z\":0,\"diameter\":0,\"confidence\":0,"
	    "\"category\":\"ggo\",\"lung\":\"left\",\"lobe\":\"up\"}]}",
	    "ImageDataList[2].indexId: duplicate of ImageDataList[0]");
	refused("lower-case list named as sent", 1, "{" OK ",\"imageDataList\":["
	    IMG ",{}]}", "imageDataList[1].seriesInstanceUid: required field "
	    "missing");
}

/* ---- type 2: chest X-ray ---- */

#define XRAY	"{\"indexId\":\"" ID2 "\",\"posProb\":0.75," \
		"\"posMap\":[[1,2],[3.5,4.25]]}"

static void
test_xray(void)
{
	struct result	 r;
	char		 m[512], want[1024], *b;
	size_t		 i, n, cap = 700 * 1024;
	int		 rc;
	const char	*body;

	body = "{" OK ",\"returnMessage\":\"OK\",\"XRayDataList\":["
	    "{\"posMap\":[[0,0],[-1.5,2.250],[1e-3,7]],\"posProb\":0.9100,"
	    "\"indexId\":\"" ID2 "\",\"credibility\":\"N\"},"
	    "{\"posProb\":0,\"posMap\":[]},"
	    "{\"indexId\":\"" ID1 "\",\"posProb\":1,\"posMap\":[[640,480]]}]}";
	rc = result_parse(2, body, strlen(body), &r, m, sizeof(m));
	tap_ok(rc == 0 && r.r_engine_ok &&
	    json_object_array_length(r.r_findings) == 3, "xray: 3 findings");
	tap_ok(uuid_v4(item_id(r.r_findings, 1)),
	    "xray: absent indexId made up (%s)", item_id(r.r_findings, 1));
	snprintf(want, sizeof(want), "["
	    "{\"indexId\":\"" ID2 "\",\"posProb\":0.9100,"
	    "\"posMap\":[[0,0],[-1.5,2.250],[1e-3,7]],\"credibility\":null},"
	    "{\"indexId\":\"%s\",\"posProb\":0,\"posMap\":[],"
	    "\"credibility\":null},"
	    "{\"indexId\":\"" ID1 "\",\"posProb\":1,\"posMap\":[[640,480]],"
	    "\"credibility\":null}]", item_id(r.r_findings, 1));
	TAP_STREQ(plain(r.r_findings), want, "xray: findings, field by field");
	result_free(&r);
	accepted("xray, lower-case list", 2, "{" OK ",\"xRayDataList\":[" XRAY
	    "]}", "[{\"indexId\":\"" ID2 "\",\"posProb\":0.75,"
	    "\"posMap\":[[1,2],[3.5,4.25]],\"credibility\":null}]");

	mut_refused(2, XRAY, "indexId", "\"x\"",
	    "XRayDataList[0].indexId: must be a UUID");
	mut_refused(2, XRAY, "posProb", NULL,
	    "XRayDataList[0].posProb: required field missing");
	mut_refused(2, XRAY, "posProb", "2",
	    "XRayDataList[0].posProb: must be a number from 0 to 1");
	mut_refused(2, XRAY, "posProb", "true",
	    "XRayDataList[0].posProb: must be a number from 0 to 1");
	mut_refused(2, XRAY, "posMap", NULL,
	    "XRayDataList[0].posMap: required field missing");
	mut_refused(2, XRAY, "posMap", "null",
	    "XRayDataList[0].posMap: must be an array of [x, y] pairs");
	mut_refused(2, XRAY, "posMap", "{}",
	    "XRayDataList[0].posMap: must be an array of [x, y] pairs");
	mut_refused(2, XRAY, "posMap", "[[1,2],[3]]",
	    "XRayDataList[0].posMap[1]: must be an array of 2 numbers");
	mut_refused(2, XRAY, "posMap", "[[1,2],[3,4,5]]",
	    "XRayDataList[0].posMap[1]: must be an array of 2 numbers");
	mut_refused(2, XRAY, "posMap", "[3,4]",
	    "XRayDataList[0].posMap[0]: must be an array of 2 numbers");
	mut_refused(2, XRAY, "posMap", "[[1,\"a\"]]",
	    "XRayDataList[0].posMap[0][1]: must be a finite number");
	mut_refused(2, XRAY, "posMap", "[[1,2],[1e999,2]]",
	    "XRayDataList[0].posMap[1][0]: must be a finite number");
	refused("duplicate X-ray indexId", 2, "{" OK ",\"XRayDataList\":["
	    XRAY "," XRAY "]}",
	    "XRayDataList[1].indexId: duplicate of XRayDataList[0]");

	/* RESULT_MAX_POINTS */
	b = malloc(cap);
	for (rc = 0; rc < 2; rc++) {
		n = (size_t)snprintf(b, cap, "{" OK ",\"XRayDataList\":["
		    "{\"posProb\":0.5,\"posMap\":[");
		for (i = 0; i < (size_t)RESULT_MAX_POINTS + (rc == 0); i++)
			n += (size_t)snprintf(b + n, cap - n, "%s[0,1]",
			    i ? "," : "");
		snprintf(b + n, cap - n, "]}]}");
		if (rc == 0)
			refused("100001 points", 2, b,
			    "XRayDataList[0].posMap: more than 100000 points");
		else {
			struct result r2;

			tap_ok(result_parse(2, b, strlen(b), &r2, m,
			    sizeof(m)) == 0 && r2.r_engine_ok,
			    "100000 points accepted");
			result_free(&r2);
		}
	}
	free(b);
}

/* ---- type 3: fundus ---- */

#define OCU	"{\"indexId\":\"" ID1 "\",\"analysisInstanceUid\":\"1.2.3.4\"," \
		"\"eye\":\"OS\",\"dr\":2,\"dme\":0,\"confidence\":0.90," \
		"\"imgCenter\":\"DISC\",\"imgQuality\":\"GOOD\"," \
		"\"inspection\":\"ok\",\"inspectionModel\":\"AIFC50\"}"

static void
test_ocular(void)
{
	struct result	 r;
	char		 m[512], want[2048], *s;
	const char	*b;
	int		 rc;

	b = "{" OK ",\"OcularDataList\":["
	    "{\"inspectionModel\":\"AIFC80\",\"inspection\":\"\xe8\xa7\x86\xe7"
	    "\x9b\x98\\n\\tclear\",\"imgQuality\":\"VERY_POOR\","
	    "\"imgCenter\":\"MACULA\",\"confidence\":0.5000,\"dme\":1,\"dr\":4,"
	    "\"eye\":\"OD\",\"analysisInstanceUid\":\"a-1\",\"indexId\":\""
	    ID2 "\",\"credibility\":\"UN\"},"
	    "{\"analysisInstanceUid\":\"a-2\",\"eye\":\"OS\",\"dr\":0,\"dme\":0,"
	    "\"confidence\":1e-1,\"imgCenter\":\"DISC\",\"imgQuality\":"
	    "\"VERY_GOOD\",\"inspection\":\"\",\"inspectionModel\":\"AIFC40\"}]}";
	rc = result_parse(3, b, strlen(b), &r, m, sizeof(m));
	tap_ok(rc == 0 && r.r_engine_ok &&
	    json_object_array_length(r.r_findings) == 2, "ocular: 2 findings");
	if (rc == -1)
		printf("#   %s\n", m);
	tap_ok(uuid_v4(item_id(r.r_findings, 1)),
	    "ocular: absent indexId made up (%s)", item_id(r.r_findings, 1));
	snprintf(want, sizeof(want), "["
	    "{\"indexId\":\"" ID2 "\",\"analysisInstanceUid\":\"a-1\","
	    "\"eye\":\"OD\",\"dr\":4,\"dme\":1,\"confidence\":0.5000,"
	    "\"imgCenter\":\"MACULA\",\"imgQuality\":\"VERY_POOR\","
	    "\"inspection\":\"\xe8\xa7\x86\xe7\x9b\x98\\n\\tclear\","
	    "\"inspectionModel\":\"AIFC80\",\"credibility\":null},"
	    "{\"indexId\":\"%s\",\"analysisInstanceUid\":\"a-2\","
	    "\"eye\":\"OS\",\"dr\":0,\"dme\":0,\"confidence\":1e-1,"
	    "\"imgCenter\":\"DISC\",\"imgQuality\":\"VERY_GOOD\","
	    "\"inspection\":\"\",\"inspectionModel\":\"AIFC40\","
	    "\"credibility\":null}]", item_id(r.r_findings, 1));
	TAP_STREQ(plain(r.r_findings), want, "ocular: findings, field by field");
	result_free(&r);

	mut_refused(3, OCU, "indexId", "[]",
	    "OcularDataList[0].indexId: must be a UUID");
	mut_refused(3, OCU, "analysisInstanceUid", NULL,
	    "OcularDataList[0].analysisInstanceUid: required field missing");
	s = quoted(129, 'a');
	mut_refused(3, OCU, "analysisInstanceUid", s,
	    "OcularDataList[0].analysisInstanceUid: longer than 128 bytes");
	free(s);
	mut_refused(3, OCU, "eye", "\"os\"",
	    "OcularDataList[0].eye: must be one of \"OS\", \"OD\"");
	mut_refused(3, OCU, "dr", "5",
	    "OcularDataList[0].dr: must be an integer from 0 to 4");
	mut_refused(3, OCU, "dr", "-1",
	    "OcularDataList[0].dr: must be an integer from 0 to 4");
	mut_refused(3, OCU, "dr", "1.0",
	    "OcularDataList[0].dr: must be an integer from 0 to 4");
	mut_refused(3, OCU, "dr", "\"1\"",
	    "OcularDataList[0].dr: must be an integer from 0 to 4");
	mut_refused(3, OCU, "dr", NULL,
	    "OcularDataList[0].dr: required field missing");
	mut_refused(3, OCU, "dme", "2",
	    "OcularDataList[0].dme: must be an integer from 0 to 1");
	mut_refused(3, OCU, "confidence", "1.5",
	    "OcularDataList[0].confidence: must be a number from 0 to 1");
	mut_refused(3, OCU, "imgCenter", "\"disc\"",
	    "OcularDataList[0].imgCenter: must be one of \"DISC\", \"MACULA\"");
	mut_refused(3, OCU, "imgQuality", "\"BAD\"",
	    "OcularDataList[0].imgQuality: must be one of \"VERY_GOOD\", "
	    "\"GOOD\", \"NEUTRAL\", \"POOR\", \"VERY_POOR\"");
	mut_refused(3, OCU, "inspectionModel", "\"AIFC90\"",
	    "OcularDataList[0].inspectionModel: must be one of \"AIFC40\", "
	    "\"AIFC50\", \"AIFC60\", \"AIFC70\", \"AIFC80\"");
	mut_refused(3, OCU, "inspection", NULL,
	    "OcularDataList[0].inspection: required field missing");
	mut_refused(3, OCU, "inspection", "\"a\\r\\nb\"",
	    "OcularDataList[0].inspection: must not contain control "
	    "characters other than tab and newline");
	mut_refused(3, OCU, "inspection", "\"a\\u007f\"",
	    "OcularDataList[0].inspection: must not contain control "
	    "characters other than tab and newline");
	mut_refused(3, OCU, "inspection", "\"a\\u0000b\"",
	    "OcularDataList[0].inspection: must not contain NUL characters");
	s = quoted(4097, 'i');
	mut_refused(3, OCU, "inspection", s,
	    "OcularDataList[0].inspection: longer than 4096 bytes");
	free(s);
	s = quoted(4096, 'i');
	mut_accepted(3, OCU, "inspection", s);
	free(s);
	refused("duplicate ocular indexId", 3, "{" OK ",\"ocularDataList\":["
	    OCU "," OCU "]}",
	    "ocularDataList[1].indexId: duplicate of ocularDataList[0]");
}

/* ---- the compatibility list of API.md 3. ---- */

static void
test_compat(void)
{
	struct result	 r;
	json_object	*c;
	char		 m[512];
	const char	*b;

	b = "{" OK ",\"Boxes\":[" BOX ",{\"BoxUid\":\"00002\","
	    "\"Coordinates\":[0.50,1,2,3],\"Class\":\"KL2\"}]}";
	tap_ok(result_parse(4, b, strlen(b), &r, m, sizeof(m)) == 0,
	    "compat: parsed");
	c = result_box_compat(r.r_findings);
	TAP_STREQ(plain(c), "[{\"boxUid\":\"12345\",\"coordinates\":"
	    "[10,20,30,40],\"classLevel\":\"KL1\xe7\xba\xa7\","
	    "\"credibility\":null},{\"boxUid\":\"00002\",\"coordinates\":"
	    "[0.50,1,2,3],\"classLevel\":\"KL2\",\"credibility\":null}]",
	    "compat: boxDataList with classLevel");
	json_object_put(c);
	TAP_STREQ(plain(r.r_findings), "[{\"boxUid\":\"12345\",\"coordinates\":"
	    "[10,20,30,40],\"class\":\"KL1\xe7\xba\xa7\",\"credibility\":null},"
	    "{\"boxUid\":\"00002\",\"coordinates\":[0.50,1,2,3],"
	    "\"class\":\"KL2\",\"credibility\":null}]",
	    "compat: boxes untouched");
	result_free(&r);
	tap_ok(result_box_compat(NULL) == NULL, "compat: NULL refused");
}

/* ---- the digest that tells a repeated result from a different one ---- */

static int
same_digest(const char *a, const char *b)
{
	char da[RESULT_DIGEST_LEN + 1], db[RESULT_DIGEST_LEN + 1];

	if (result_digest(a, strlen(a), da) != 0 ||
	    result_digest(b, strlen(b), db) != 0)
		return -1;
	return strcmp(da, db) == 0;
}

static void
test_digest(void)
{
	const char	*b = "{\"returnCode\":\"000000\",\"Boxes\":[" BOX "]}";
	char		 d[RESULT_DIGEST_LEN + 1];
	size_t		 i;
	int		 hex = 1;

	tap_ok(result_digest(b, strlen(b), d) == 0 &&
	    strlen(d) == RESULT_DIGEST_LEN, "digest: 64 characters");
	for (i = 0; i < strlen(d); i++)
		hex = hex && strchr("0123456789abcdef", d[i]) != NULL;
	tap_ok(hex, "digest: lower-case hex");
	tap_ok(same_digest(b, b) == 1, "digest: the same body, the same digest");
	tap_ok(same_digest(b, " { \"Boxes\" : [ {\"Class\":\"KL1\xe7\xba\xa7\","
	    "\"Coordinates\":[10, 20, 30, 40],\"BoxUid\":\"12345\"} ],\n"
	    "\"returnCode\" : \"000000\" }\n") == 1,
	    "digest: members in another order, other white space: the same");
	tap_ok(same_digest(b, "{\"returnCode\":\"000000\",\"Boxes\":["
	    "{\"BoxUid\":\"12345\",\"Coordinates\":[10.0,2e1,30,40.000],"
	    "\"Class\":\"KL\\u0031\\u7ea7\"}]}") == 1,
	    "digest: numbers by value (20 = 2e1 = 20.0), escapes decoded");
	tap_ok(same_digest(b, "{\"returnCode\":\"000000\",\"Boxes\":["
	    "{\"BoxUid\":\"12345\",\"Coordinates\":[10,20,30,41],"
	    "\"Class\":\"KL1\xe7\xba\xa7\"}]}") == 0,
	    "digest: another coordinate, another digest");
	tap_ok(same_digest(b, "{\"returnCode\":\"000000\",\"Boxes\":["
	    "{\"BoxUid\":\"12345\",\"Coordinates\":[10,20,30,40],"
	    "\"Class\":\"KL2\xe7\xba\xa7\"}]}") == 0,
	    "digest: another class, another digest");
	tap_ok(same_digest("{\"a\":[1,2]}", "{\"a\":[2,1]}") == 0,
	    "digest: array order counts");
	tap_ok(same_digest("{\"a\":\"1\"}", "{\"a\":1}") == 0,
	    "digest: a string is not a number");
	tap_ok(same_digest("{\"a\":null}", "{}") == 0,
	    "digest: a null member is not an absent one");
	tap_ok(same_digest("{\"a\":0.1}", "{\"a\":0.10000000000000001}") == 1,
	    "digest: the same double written two ways");
	tap_ok(same_digest("{\"a\":0.1}", "{\"a\":0.2}") == 0,
	    "digest: different fractions differ");
	tap_ok(same_digest("{\"a\":\"x\\u0022y\\/\"}", "{\"a\":\"x\\\"y/\"}") == 1,
	    "digest: a quote and a slash, escaped or not: the same");
	tap_ok(same_digest("{\"a\":\"\\u0001\"}", "{\"a\":\"\\u0002\"}") == 0 &&
	    same_digest("{\"a\":\"\\\\\"}", "{\"a\":\"\\\"\"}") == 0,
	    "digest: control characters, backslash and quote kept apart");
	tap_ok(same_digest("{\"a\":\"b\",\"c\":1}", "{\"a\":\"b\\\",\\\"c\\\":1\"}") == 0,
	    "digest: a quote inside a string cannot fake a member");
	tap_ok(same_digest("not json", "not json") == 1 &&
	    same_digest("not json", "not json ") == 0,
	    "digest: a body that is not JSON: by its bytes");
	tap_ok(same_digest("null", "nul") == 0,
	    "digest: JSON and bytes never meet");
}

int
main(void)
{
	test_digest();
	test_names();
	test_envelope();
	test_lists();
	test_boxes();
	test_image();
	test_xray();
	test_ocular();
	test_compat();
	return tap_done();
}
