/* fuzz_ops.c -- the operations API's inputs: listAnalyses query strings through ops_list_query() and ops_time_parse(), cancelAnalysis and redeliverCallbacks bodies through ops_study_body() */
#include "fuzz.h"
#include "ops.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ops_list_req	 q;
	struct ops_study_req	 o;
	char			 msg[512], *s;
	enum rc			 rc;
	int64_t			 ms;
	int			 required;

	if (size < 1)
		return 0;
	/* the first byte chooses: 'q' a query string, else a body (with
	 * both fields required when it is odd) */
	s = fuzz_cstring(data + 1, size - 1);
	msg[0] = '\0';
	if (data[0] == 'q') {
		if (ops_list_query(s, &q, msg, sizeof(msg), &rc) == -1) {
			FUZZ_ASSERT(rc == RC_INVALID);
			FUZZ_ASSERT(msg[0] != '\0' && fuzz_text_ok(msg, NULL));
		} else {
			FUZZ_ASSERT(q.state <= STUDY__MAX);
			FUZZ_ASSERT(q.type >= 0 && q.type <= 4);
			FUZZ_ASSERT(q.limit >= 1 && q.limit <= OPS_LIMIT_MAX);
			FUZZ_ASSERT(q.cursor_len <= OPS_CURSOR_MAX);
			FUZZ_ASSERT(q.since_ms >= -1 && q.until_ms >= -1);
		}
		ms = ops_time_parse(s);
		FUZZ_ASSERT(ms >= -1);
	} else {
		required = data[0] & 1;
		if (ops_study_body(s, size - 1, required, &o, msg, sizeof(msg),
		    &rc) == -1) {
			FUZZ_ASSERT(rc == RC_INVALID);
			FUZZ_ASSERT(msg[0] != '\0' && fuzz_text_ok(msg, NULL));
			FUZZ_ASSERT(o.os_body == NULL);
		} else {
			FUZZ_ASSERT((o.os_uid == NULL) == (o.os_type == 0));
			FUZZ_ASSERT(!required || o.os_uid != NULL);
			if (o.os_uid != NULL) {
				FUZZ_ASSERT(o.os_uid[0] != '\0' &&
				    strlen(o.os_uid) <= STUDY_UID_MAX);
				FUZZ_ASSERT(fuzz_text_ok(o.os_uid, NULL));
				FUZZ_ASSERT(o.os_type >= 1 && o.os_type <= 4);
			}
			ops_study_free(&o);
		}
	}
	free(s);
	return 0;
}
