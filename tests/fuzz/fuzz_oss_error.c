/* fuzz_oss_error.c -- OSS error documents through oss_error_parse(); the first byte picks the HTTP status */
#include "fuzz.h"
#include "oss.h"

static const long statuses[] = {
	400, 403, 404, 409, 416, 429, 500, 503, 301, 307, 200, 0, 401, 408,
	502, 599
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oss_error	err;
	enum oss_err		e;
	long			status;

	if (size < 1)
		return 0;
	status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
	e = oss_error_parse(data + 1, size - 1, status, &err);
	FUZZ_ASSERT(e == err.oe_err && (unsigned)e < OSS_ERR__MAX);
	FUZZ_ASSERT(err.oe_status == status);
	/* what oss.h promises: cleaned text, bounded */
	FUZZ_ASSERT(err.oe_message[0] != '\0');
	FUZZ_ASSERT(fuzz_text_ok(err.oe_message, NULL));
	FUZZ_ASSERT(fuzz_text_ok(err.oe_code, NULL));
	FUZZ_ASSERT(fuzz_text_ok(err.oe_request_id, NULL));
	FUZZ_ASSERT(oss_err_name(e) != NULL);
	return 0;
}
