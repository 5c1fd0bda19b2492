/* fuzz_sig.c -- algorithmResult URLs through request_job_query() and job_sig_ok() */
#include "crypto.h"
#include "fuzz.h"
#include "job.h"
#include "query.h"
#include "request.h"

static struct crypto_keys keys;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	unsigned char master[CRYPTO_KEYLEN];

	(void)argc;
	(void)argv;
	memset(master, 0x5a, sizeof(master));
	crypto_keys_derive(master, &keys);
	return 0;
}

static int
hex_or_alnum(const char *s)
{
	for (; *s != '\0'; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= 'A' && *s <= 'Z')))
			return 0;
	return 1;
}

/*
 * The input is a query string.  No input forges a signature, so beyond
 * "never crash, always RC_AUTH", the harness signs the job id the input
 * names and checks that exactly that signature passes, and that the input
 * split at its first newline into id and sig goes through job_sig_ok()
 * directly.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct job_req	 jr;
	char		 msg[512], id[JOB_ID_LEN + 2], sig[JOB_SIG_LEN + 1];
	char		 q[JOB_ID_LEN + JOB_SIG_LEN + 16], *s, *nl;
	const char	*why;
	enum rc		 rc;

	if (keys.ck_url[0] == 0 && keys.ck_url[1] == 0)
		LLVMFuzzerInitialize(NULL, NULL);
	s = fuzz_cstring(data, size);
	msg[0] = '\0';
	if (request_job_query(s, &keys, &jr, msg, sizeof(msg), &rc) == 0) {
		/* only possible for an input that carries a real signature */
		job_sig(&keys, jr.jr_id, sig);
		FUZZ_ASSERT(strstr(s, sig) != NULL);
	} else
		FUZZ_ASSERT(rc == RC_AUTH && msg[0] != '\0');

	if (query_get(s, "job", id, sizeof(id), &why) == 1 &&
	    strlen(id) == JOB_ID_LEN && hex_or_alnum(id)) {
		job_sig(&keys, id, sig);
		snprintf(q, sizeof(q), "job=%s&sig=%s", id, sig);
		FUZZ_ASSERT(request_job_query(q, &keys, &jr, msg, sizeof(msg),
		    &rc) == 0 && strcmp(jr.jr_id, id) == 0);
		sig[0] = sig[0] == '0' ? '1' : '0';
		snprintf(q, sizeof(q), "job=%s&sig=%s", id, sig);
		FUZZ_ASSERT(request_job_query(q, &keys, &jr, msg, sizeof(msg),
		    &rc) == -1);
	}

	if ((nl = strchr(s, '\n')) != NULL) {
		*nl = '\0';
		(void)job_sig_ok(&keys, s, nl + 1);
	}
	free(s);
	return 0;
}
