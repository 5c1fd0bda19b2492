/* fuzz_result.c -- engine results (API.md 6.) through result_parse(); the first byte picks the studyType */
#include "fuzz.h"
#include "result.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct result	 r;
	json_object	*compat;
	const char	*s;
	char		 msg[512];
	int		 type;

	if (size < 1)
		return 0;
	type = 1 + data[0] % 4;
	msg[0] = '\0';
	if (result_parse(type, (const char *)data + 1, size - 1, &r, msg,
	    sizeof(msg)) == -1) {
		FUZZ_ASSERT(msg[0] != '\0' && fuzz_text_ok(msg, NULL));
		FUZZ_ASSERT(!r.r_engine_ok && r.r_findings == NULL);
		result_free(&r);
		return 0;
	}
	/* what result.h promises of the strings it hands back */
	FUZZ_ASSERT(fuzz_text_ok(r.r_code, NULL));
	FUZZ_ASSERT(fuzz_text_ok(r.r_message, NULL));
	FUZZ_ASSERT(fuzz_text_ok(r.r_image_uid, NULL));
	FUZZ_ASSERT(fuzz_text_ok(r.r_namespace, NULL));
	if (!r.r_engine_ok) {
		FUZZ_ASSERT(r.r_findings == NULL);
		result_free(&r);
		return 0;
	}
	FUZZ_ASSERT(strcmp(r.r_code, RESULT_OK_CODE) == 0);
	FUZZ_ASSERT(json_object_is_type(r.r_findings, json_type_array));
	/* as the dispatcher stores and serves them */
	s = json_object_to_json_string_ext(r.r_findings,
	    JSON_C_TO_STRING_PLAIN);
	FUZZ_ASSERT(s != NULL);
	if (type == 4) {
		FUZZ_ASSERT((compat = result_box_compat(r.r_findings)) != NULL);
		json_object_put(compat);
	}
	result_free(&r);
	return 0;
}
