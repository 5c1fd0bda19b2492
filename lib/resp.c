/* resp.c -- returnCodes, HTTP statuses and the response envelope of API.md */
#include <stdlib.h>
#include <string.h>

#include "resp.h"

static const struct {
	const char	*code;
	int		 http;
} rc_table[RC__MAX] = {
	{ "000000", 200 },
	{ "100001", 500 },
	{ "100002", 400 },
	{ "100003", 401 },
	{ "100004", 404 },
	{ "100005", 409 },
	{ "100006", 200 },
	{ "100007", 405 },
	{ "100007", 415 },
	{ "100008", 413 },
	{ "100009", 400 },
	{ "100010", 429 },
	{ "100011", 400 },
};

const char *
rc_code(enum rc rc)
{
	return rc < RC__MAX ? rc_table[rc].code : rc_table[RC_INTERNAL].code;
}

int
rc_http(enum rc rc)
{
	return rc < RC__MAX ? rc_table[rc].http : 500;
}

const char *
rc_http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

char *
resp_envelope(enum rc rc, const char *msg, json_object *data, int is_post,
    const char *request_id, size_t *len)
{
	json_object	*o;
	const char	*s;
	char		*out = NULL;
	size_t		 n;

	if (data == NULL) {
		if (rc == RC_OK)
			data = is_post ? json_object_new_boolean(1) : NULL;
		else
			data = is_post ? json_object_new_boolean(0) : NULL;
	}
	if ((o = json_object_new_object()) == NULL) {
		json_object_put(data);
		return NULL;
	}
	json_object_object_add(o, "returnCode",
	    json_object_new_string(rc_code(rc)));
	json_object_object_add(o, "returnMessage",
	    json_object_new_string(msg != NULL ? msg :
	    rc == RC_OK ? "OK" : "error"));
	json_object_object_add(o, "solution", json_object_new_string(""));
	json_object_object_add(o, "requestId",
	    json_object_new_string(request_id));
	json_object_object_add(o, "data", data);
	json_object_object_add(o, "success",
	    json_object_new_boolean(rc == RC_OK));
	s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	if (s != NULL && (out = malloc(n + 1)) != NULL) {
		memcpy(out, s, n + 1);
		*len = n;
	}
	json_object_put(o);
	return out;
}
