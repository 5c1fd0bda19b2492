/* resp.c -- returnCodes, HTTP statuses and the response envelope of API.md */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "hex.h"
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
	{ "100012", 409 },
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

/* A growable buffer for the envelope. */
struct ebuf {
	char	*b;
	size_t	 len, cap;
	int	 failed;
};

static void
eb_add(struct ebuf *e, const char *p, size_t n)
{
	if (!e->failed && buf_add(&e->b, &e->len, &e->cap, 0, p, n) != 0)
		e->failed = 1;
}

#define EB_LIT(e, s)	eb_add((e), (s), sizeof(s) - 1)

/* A JSON string, escaped as json-c escapes with JSON_C_TO_STRING_NOSLASHESCAPE
 * (quote, backslash, control characters; UTF-8 and '/' as they are), so
 * that the envelope is byte for byte what json-c would print. */
static void
eb_str(struct ebuf *e, const char *s)
{
	const char		*run = s;
	char			 esc[8];

	EB_LIT(e, "\"");
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		const char *rep = NULL;

		switch (c) {
		case '\b': rep = "\\b"; break;
		case '\n': rep = "\\n"; break;
		case '\r': rep = "\\r"; break;
		case '\t': rep = "\\t"; break;
		case '\f': rep = "\\f"; break;
		case '"': rep = "\\\""; break;
		case '\\': rep = "\\\\"; break;
		default:
			if (c >= 0x20)
				continue;
			esc[0] = '\\';
			esc[1] = 'u';
			esc[2] = esc[3] = '0';
			hex_encode(&c, 1, esc + 4);
			rep = esc;
		}
		eb_add(e, run, (size_t)(s - run));
		eb_add(e, rep, strlen(rep));
		run = s + 1;
	}
	eb_add(e, run, (size_t)(s - run));
	EB_LIT(e, "\"");
}

/*
 * {"returnCode":...,"returnMessage":...,"solution":"","requestId":...,
 * "data":...,"success":...}, written directly: building it as json-c
 * objects cost more than the rest of a stored answer's request.  data
 * (consumed) is printed by json-c; NULL is true/false on POST, null on
 * GET.
 */
char *
resp_envelope(enum rc rc, const char *msg, json_object *data, int is_post,
    const char *request_id, size_t *len)
{
	struct ebuf	 e = { NULL, 0, 0, 0 };
	const char	*d;
	size_t		 dlen;

	EB_LIT(&e, "{\"returnCode\":");
	eb_str(&e, rc_code(rc));
	EB_LIT(&e, ",\"returnMessage\":");
	eb_str(&e, msg != NULL ? msg : rc == RC_OK ? "OK" : "error");
	EB_LIT(&e, ",\"solution\":\"\",\"requestId\":");
	eb_str(&e, request_id);
	EB_LIT(&e, ",\"data\":");
	if (data != NULL) {
		if ((d = json_object_to_json_string_length(data,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
		    &dlen)) == NULL)
			e.failed = 1;
		else
			eb_add(&e, d, dlen);
		json_object_put(data);
	} else if (is_post)
		eb_add(&e, rc == RC_OK ? "true" : "false", rc == RC_OK ? 4 : 5);
	else
		EB_LIT(&e, "null");
	if (rc == RC_OK)
		EB_LIT(&e, ",\"success\":true}");
	else
		EB_LIT(&e, ",\"success\":false}");
	if (e.failed) {
		free(e.b);
		return NULL;
	}
	*len = e.len;
	return e.b;
}
