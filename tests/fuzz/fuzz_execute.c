/* fuzz_execute.c -- executeAnalysis bodies through request_execute() */
#include "fuzz.h"
#include "request.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct execute_req	 ex;
	char			 msg[512];
	enum rc			 rc;

	msg[0] = '\0';
	if (request_execute((const char *)data, size, &ex, msg, sizeof(msg),
	    &rc) == -1) {
		FUZZ_ASSERT(rc == RC_INVALID);
		FUZZ_ASSERT(msg[0] != '\0' && fuzz_text_ok(msg, NULL));
		FUZZ_ASSERT(ex.ex_body == NULL && ex.ex_oss.ro_sk == NULL);
		return 0;
	}
	FUZZ_ASSERT(ex.ex_type >= 1 && ex.ex_type <= 4);
	FUZZ_ASSERT(strlen(ex.ex_uid) > 0 && strlen(ex.ex_uid) <= STUDY_UID_MAX);
	FUZZ_ASSERT(strlen(ex.ex_callback) > 0 && ex.ex_oss.ro_ak != NULL);
	FUZZ_ASSERT(strlen(ex.ex_oss.ro_sk) == ex.ex_oss.ro_sklen);
	FUZZ_ASSERT(ex.ex_oss.ro_sts == NULL ||
	    strlen(ex.ex_oss.ro_sts) == ex.ex_oss.ro_stslen);
	FUZZ_ASSERT(ex.ex_oss.ro_host[0] != '\0');
	FUZZ_ASSERT(strlen(ex.ex_oss.ro_bucket) >= 3 &&
	    ex.ex_oss.ro_key[0] != '/');
	request_execute_free(&ex);
	FUZZ_ASSERT(ex.ex_body == NULL);
	return 0;
}
