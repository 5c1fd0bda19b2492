/* fuzz_query.c -- getAnalysisResult query strings through request_result_query() and query_get() */
#include "fuzz.h"
#include "jv.h"
#include "query.h"
#include "request.h"

static int
ref_hex(char c)
{
	const char	*digits = "0123456789abcdef", *p;

	if (c >= 'A' && c <= 'F')
		c = (char)(c - 'A' + 'a');
	return c != '\0' && (p = strchr(digits, c)) != NULL ?
	    (int)(p - digits) : -1;
}

/* A plain decoder of [s, end) (%XX, '+'), to judge query_get() by:
 * the length, or -1 for a bad escape. */
static long
ref_decode(const char *s, const char *end, char *out)
{
	long	n = 0;
	int	hi, lo;

	for (; s < end; s++) {
		if (*s == '%') {
			if (end - s < 3 || (hi = ref_hex(s[1])) < 0 ||
			    (lo = ref_hex(s[2])) < 0)
				return -1;
			out[n++] = (char)(hi << 4 | lo);
			s += 2;
		} else
			out[n++] = *s == '+' ? ' ' : *s;
	}
	out[n] = '\0';
	return n;
}

/* 1 when some value of name in q is really not valid UTF-8. */
static int
ref_bad_utf8(const char *q, const char *name)
{
	const char	*p, *amp, *eq, *end;
	char		*k, *v;
	long		 n;
	int		 bad = 0;

	k = malloc(strlen(q) + 1);
	v = malloc(strlen(q) + 1);
	for (p = q; p != NULL && *p != '\0'; p = amp != NULL ? amp + 1 : NULL) {
		amp = strchr(p, '&');
		end = amp != NULL ? amp : p + strlen(p);
		if ((eq = memchr(p, '=', (size_t)(end - p))) == NULL)
			continue;
		if (ref_decode(p, eq, k) < 0 || strcmp(k, name) != 0 ||
		    (n = ref_decode(eq + 1, end, v)) < 0)
			continue;
		if ((size_t)n == strlen(v) && !fuzz_text_ok(v, "\t\n\r\v\f\x01"
		    "\x02\x03\x04\x05\x06\x07\x08\x0e\x0f\x10\x11\x12\x13\x14"
		    "\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f"))
			bad = 1;
	}
	free(k);
	free(v);
	return bad;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct result_req	 rr;
	char			 msg[512], out[8], *q;
	const char		*why = NULL;
	enum rc			 rc;
	int			 n;

	q = fuzz_cstring(data, size);
	msg[0] = '\0';
	if (request_result_query(q, &rr, msg, sizeof(msg), &rc) == -1) {
		FUZZ_ASSERT(rc == RC_INVALID);
		FUZZ_ASSERT(msg[0] != '\0' && fuzz_text_ok(msg, NULL));
		/* refused as invalid UTF-8 only when it is */
		if (strcmp(msg, "studyInstanceUid: not valid UTF-8") == 0)
			FUZZ_ASSERT(ref_bad_utf8(q, "studyInstanceUid"));
	} else {
		FUZZ_ASSERT(rr.rr_type >= (rr.rr_push ? 0 : 1) &&
		    rr.rr_type <= 4);
		FUZZ_ASSERT(rr.rr_uid[0] != '\0' &&
		    strlen(rr.rr_uid) <= STUDY_UID_MAX);
		/* a push job's uid is the mark and an ImageUid, which no
		 * studyInstanceUid can be */
		FUZZ_ASSERT(rr.rr_push == (rr.rr_uid[0] == STUDY_PUSH_MARK[0]));
		if (rr.rr_push)
			FUZZ_ASSERT(rr.rr_uid[1] != '\0');
		/* what query_get() promises of a value it hands back */
		FUZZ_ASSERT(fuzz_text_ok(rr.rr_uid + rr.rr_push, NULL));
	}
	/* a small buffer: values that do not fit are errors, never cut */
	if ((n = query_get(q, "studyType", out, sizeof(out), &why)) == 1)
		FUZZ_ASSERT(strlen(out) < sizeof(out) &&
		    jv_printable(out) == NULL);
	else if (n == -1)
		FUZZ_ASSERT(why != NULL);
	free(q);
	return 0;
}
