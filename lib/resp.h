/* resp.h -- returnCodes, HTTP statuses and the response envelope of API.md */
#ifndef MIAS_RESP_H
#define MIAS_RESP_H

#include <stddef.h>

#include <json-c/json.h>

enum rc {
	RC_OK,			/* 000000 200 */
	RC_INTERNAL,		/* 100001 500 */
	RC_INVALID,		/* 100002 400 */
	RC_AUTH,		/* 100003 401 */
	RC_NOT_FOUND,		/* 100004 404 */
	RC_NOT_READY,		/* 100005 409 */
	RC_FAILED,		/* 100006 200 */
	RC_METHOD,		/* 100007 405 */
	RC_MEDIA_TYPE,		/* 100007 415 */
	RC_TOO_LARGE,		/* 100008 413 */
	RC_URL_REFUSED,		/* 100009 400 */
	RC_TOO_MANY,		/* 100010 429 */
	RC_NOT_SERVED,		/* 100011 400 */
	RC_CONFLICT,		/* 100012 409 */
	RC__MAX
};

const char	*rc_code(enum rc);		/* "000000" */
int		 rc_http(enum rc);		/* 200 */
const char	*rc_http_reason(int status);	/* "OK" */

/*
 * The envelope: returnCode, returnMessage, solution, requestId, data,
 * success.  data is consumed (may be NULL); when NULL, success gives
 * data true for POST and null for GET, and errors give false for POST and
 * null for GET, as API.md says.  Returns a malloc'd string.
 */
char	*resp_envelope(enum rc, const char *msg, json_object *data,
	    int is_post, const char *request_id, size_t *len);

#endif /* MIAS_RESP_H */
