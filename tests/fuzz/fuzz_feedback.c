/* fuzz_feedback.c -- submitAnalysisFeedback bodies through request_feedback() and request_feedback_item() */
#include "fuzz.h"
#include "request.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct feedback_req	 fb;
	struct feedback_item	 fi;
	char			 msg[512];
	enum rc			 rc;
	size_t			 i, n;

	msg[0] = '\0';
	if (request_feedback((const char *)data, size, &fb, msg, sizeof(msg),
	    &rc) == -1) {
		FUZZ_ASSERT(rc == RC_INVALID);
		FUZZ_ASSERT(msg[0] != '\0' && fuzz_text_ok(msg, NULL));
		FUZZ_ASSERT(fb.fb_body == NULL);
		return 0;
	}
	FUZZ_ASSERT(fb.fb_type >= 1 && fb.fb_type <= 4);
	FUZZ_ASSERT(fb.fb_uid[0] != '\0');
	n = json_object_array_length(fb.fb_items);
	FUZZ_ASSERT(n > 0);
	/* as the responder does once the study has findings */
	for (i = 0; i < n; i++) {
		msg[0] = '\0';
		if (request_feedback_item(fb.fb_items, i, &fi, msg,
		    sizeof(msg)) == -1) {
			FUZZ_ASSERT(strncmp(msg, "data[", 5) == 0 &&
			    fuzz_text_ok(msg, NULL));
			continue;
		}
		FUZZ_ASSERT(fi.fi_id[0] != '\0' && strlen(fi.fi_id) <= 64);
		FUZZ_ASSERT(strcmp(fi.fi_cred, "Y") == 0 ||
		    strcmp(fi.fi_cred, "N") == 0 ||
		    strcmp(fi.fi_cred, "UN") == 0);
	}
	request_feedback_free(&fb);
	return 0;
}
