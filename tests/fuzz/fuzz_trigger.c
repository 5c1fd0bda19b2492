/* fuzz_trigger.c -- triggerAnalysis bodies through request_trigger() */
#include "fuzz.h"
#include "request.h"

/* The namespace of the tokenId; the seeds use it in their bodies. */
#define FUZZ_NS	"hospital-a"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trigger_req	 tr;
	char			 msg[512];
	enum rc			 rc;

	msg[0] = '\0';
	if (request_trigger((const char *)data, size, FUZZ_NS, &tr, msg,
	    sizeof(msg), &rc) == -1) {
		FUZZ_ASSERT(rc == RC_INVALID || rc == RC_AUTH);
		FUZZ_ASSERT(msg[0] != '\0' && fuzz_text_ok(msg, NULL));
		FUZZ_ASSERT(tr.tr_body == NULL && tr.tr_oss.ro_sk == NULL);
		return 0;
	}
	FUZZ_ASSERT(strcmp(tr.tr_ns, FUZZ_NS) == 0);
	FUZZ_ASSERT(strlen(tr.tr_image_uid) > 0 &&
	    strlen(tr.tr_image_uid) < STUDY_UID_MAX);
	FUZZ_ASSERT(tr.tr_analysis[0] != '\0' && tr.tr_callback[0] != '\0');
	FUZZ_ASSERT(strlen(tr.tr_oss.ro_sk) == tr.tr_oss.ro_sklen);
	FUZZ_ASSERT(tr.tr_oss.ro_host[0] != '\0');
	request_trigger_free(&tr);
	return 0;
}
