/* t_answer.c -- getAnalysisResult's stored answer: written with the result,
 * read without parsing, the same bytes as an answer built from the result */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "answer.h"
#include "resp.h"
#include "store.h"
#include "tap.h"

#define KEY	"ns\0" "1.2.3\0" "4"
#define KEYLEN	(sizeof(KEY) - 1)
#define FLAGS	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

static char	dir[256];

struct arg {
	const char	*text;		/* a results.db record to write */
	struct answer	 fast;		/* answer_get */
	struct answer	 slow;		/* answer_from_result of results.db */
	int		 fast_rc;
	const char	*raw;		/* written to answers.db as it is */
};

static int
put_body(struct store_txn *t, void *p)
{
	struct arg	*a = p;
	json_object	*res;
	int		 rc;

	if (a->raw != NULL)
		return store_put(t, SDB_ANSWERS, KEY, KEYLEN, a->raw,
		    strlen(a->raw));
	if ((res = json_tokener_parse(a->text)) == NULL)
		return STORE_ERR;
	rc = answer_put_result(t, KEY, KEYLEN, res);
	json_object_put(res);
	return rc;
}

static int
get_body(struct store_txn *t, void *p)
{
	struct arg	*a = p;
	json_object	*res = NULL;
	int		 rc;

	answer_free(&a->fast);
	answer_free(&a->slow);
	a->fast_rc = answer_get(t, KEY, KEYLEN, &a->fast);
	if ((rc = store_get_json(t, SDB_RESULTS, KEY, KEYLEN, &res, 0)) !=
	    STORE_OK)
		return rc;
	if (answer_from_result(res, &a->slow) == -1)
		a->slow.a_data = NULL;
	json_object_put(res);
	return STORE_OK;
}

static const char *
text(json_object *o)
{
	return o != NULL ? json_object_to_json_string_ext(o, FLAGS) : NULL;
}

/* Writes rec, reads it back both ways; 0 when both agree. */
static void
check(struct store *s, const char *name, const char *rec, enum rc want_rc,
    const char *want_msg, const char *want_data)
{
	struct arg	a;

	memset(&a, 0, sizeof(a));
	a.text = rec;
	tap_ok(store_txn(s, put_body, &a) == 0, "%s: written", name);
	tap_ok(store_txn(s, get_body, &a) == 0, "%s: read", name);
	tap_ok(a.fast_rc == STORE_OK, "%s: an answer is stored", name);
	tap_ok(a.fast.a_rc == want_rc && a.slow.a_rc == want_rc,
	    "%s: returnCode %s", name, rc_code(want_rc));
	TAP_STREQ(a.fast.a_msg, want_msg, "stored returnMessage");
	TAP_STREQ(a.slow.a_msg, want_msg, "built returnMessage");
	TAP_STREQ(text(a.fast.a_data), want_data, "stored data");
	TAP_STREQ(text(a.slow.a_data), want_data, "built data");
	answer_free(&a.fast);
	answer_free(&a.slow);
}

static void
check_raw(struct store *s, const char *name, const char *raw)
{
	struct arg	a;

	memset(&a, 0, sizeof(a));
	a.raw = raw;
	tap_ok(store_txn(s, put_body, &a) == 0 &&
	    store_txn(s, get_body, &a) == 0 &&
	    a.fast_rc == STORE_NOTFOUND && a.fast.a_data == NULL,
	    "%s: not taken for an answer (the reader builds one)", name);
	answer_free(&a.fast);
	answer_free(&a.slow);
}

int
main(void)
{
	struct store	*s;
	struct arg	 a;
	char		 err[256];

	if (tap_tmpdir(dir, sizeof(dir), "t_answer") == -1)
		return 1;
	if (store_open(dir, STORE_CREATE, &s, err, sizeof(err)) == -1) {
		printf("Bail out! store_open: %s\n", err);
		return 1;
	}

	/* numbers keep their text; feedback shows as credibility; a slash
	 * is not escaped */
	check(s, "DONE with feedback",
	    "{\"v\":1,\"run\":2,\"state\":\"DONE\",\"errorCode\":null,"
	    "\"errorMessage\":null,\"finished\":5,\"data\":{"
	    "\"studyInstanceUid\":\"1.2.3\",\"studyType\":4,\"boxes\":[],"
	    "\"boxDataList\":[{\"indexId\":\"a\",\"score\":0.8900,"
	    "\"credibility\":\"UN\"},{\"indexId\":\"b/c\",\"score\":1e-3}]},"
	    "\"feedback\":{\"b/c\":{\"credibility\":\"N\",\"at\":7}}}",
	    RC_OK, "OK",
	    "{\"studyInstanceUid\":\"1.2.3\",\"studyType\":4,\"boxes\":[],"
	    "\"boxDataList\":[{\"indexId\":\"a\",\"score\":0.8900,"
	    "\"credibility\":\"UN\"},{\"indexId\":\"b/c\",\"score\":1e-3,"
	    "\"credibility\":\"N\"}]}");

	check(s, "FAILED",
	    "{\"v\":1,\"run\":3,\"state\":\"FAILED\",\"errorCode\":\"500002\","
	    "\"errorMessage\":\"engine said \\\"no\\\"\\u00e9\",\"finished\":5,"
	    "\"data\":{\"studyInstanceUid\":\"1.2.3\",\"studyType\":4,"
	    "\"boxDataList\":[]}}",
	    RC_FAILED, "analysis failed: engine said \"no\"\xc3\xa9",
	    "{\"studyInstanceUid\":\"1.2.3\",\"studyType\":4,"
	    "\"boxDataList\":[],\"errorCode\":\"500002\","
	    "\"errorMessage\":\"engine said \\\"no\\\"\xc3\xa9\"}");

	/* a record without data (not one job_assemble writes): the answer
	 * written before it must not stay */
	memset(&a, 0, sizeof(a));
	a.text = "{\"v\":1,\"state\":\"DONE\"}";
	tap_ok(store_txn(s, put_body, &a) == 0 &&
	    store_txn(s, get_body, &a) == 0 && a.fast_rc == STORE_NOTFOUND,
	    "a result without data: no answer stored, the old one removed");
	answer_free(&a.fast);
	answer_free(&a.slow);

	check_raw(s, "another version", "A2 0 2\nOK{}");
	check_raw(s, "an unknown returnCode", "A1 4 2\nOK{}");
	check_raw(s, "a message longer than the value", "A1 0 99\nOK{}");
	check_raw(s, "no data", "A1 0 2\nOK");
	check_raw(s, "no header", "{}");

	store_close(s);
	tap_tmpdir_done(dir);
	return tap_done();
}
