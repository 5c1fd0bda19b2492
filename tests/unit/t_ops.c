/* t_ops.c -- the operations API's logic: listAnalyses's query, times and
 * index (built for an older store), cancelling, the metrics' counters and
 * token check */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "job.h"
#include "metrics.h"
#include "ops.h"
#include "store.h"
#include "study.h"
#include "tap.h"

static char			dir[256];
static struct crypto_keys	keys;

static void
test_time(void)
{
	tap_ok(ops_time_parse("0") == 0, "time: 0 is the epoch");
	tap_ok(ops_time_parse("1796688000") == 1796688000000LL,
	    "time: epoch seconds");
	tap_ok(ops_time_parse("2026-12-07T20:31:23Z") == 1796675483000LL,
	    "time: RFC 3339, Z");
	tap_ok(ops_time_parse("2026-12-07t20:31:23.25z") == 1796675483250LL,
	    "time: lower-case t and z, fraction");
	tap_ok(ops_time_parse("2026-12-08T04:31:23+08:00") == 1796675483000LL,
	    "time: an offset east");
	tap_ok(ops_time_parse("2026-12-07T19:31:23-01:00") == 1796675483000LL,
	    "time: an offset west");
	tap_ok(ops_time_parse("") == -1, "time: empty refused");
	tap_ok(ops_time_parse("2026-12-07") == -1, "time: a date alone refused");
	tap_ok(ops_time_parse("2026-12-07T20:31:23") == -1,
	    "time: no offset refused");
	tap_ok(ops_time_parse("2026-12-07T20:31:23Zjunk") == -1,
	    "time: trailing bytes refused");
	tap_ok(ops_time_parse("-5") == -1, "time: negative refused");
	tap_ok(ops_time_parse("99999999999999") == -1,
	    "time: absurdly many digits refused");
	tap_ok(ops_time_parse("2026-12-07T20:31:23.Z") == -1,
	    "time: a dot without digits refused");
}

static const char s_plus[] = "since=2026-12-08T04:31:23+08:00";

static void
test_query(void)
{
	struct ops_list_req	q;
	char			msg[256];
	enum rc			rc;

	tap_ok(ops_list_query("", &q, msg, sizeof(msg), &rc) == 0 &&
	    q.state == STUDY__MAX && q.type == 0 && q.since_ms == -1 &&
	    q.until_ms == -1 && q.limit == OPS_LIMIT_DEFAULT &&
	    q.cursor_len == 0, "query: defaults");
	tap_ok(ops_list_query("state=CANCELLED&studyType=2&limit=1000&"
	    "since=10&until=2026-12-07T20%3A31%3A23Z", &q, msg, sizeof(msg),
	    &rc) == 0 && q.state == STUDY_CANCELLED && q.type == 2 &&
	    q.limit == 1000 && q.since_ms == 10000 &&
	    q.until_ms == 1796675483000LL, "query: every parameter");
	tap_ok(ops_list_query("since=2026-12-07T20:31:23Z", &q, msg,
	    sizeof(msg), &rc) == 0 && q.since_ms == 1796675483000LL,
	    "query: a time with its colons unescaped");
	tap_ok(ops_list_query("until=2026-12-08T04:31:23%2B08:00", &q, msg,
	    sizeof(msg), &rc) == 0 && q.until_ms == 1796675483000LL,
	    "query: an offset's + escaped (a bare + is a space)");
	tap_ok(ops_list_query(s_plus, &q, msg, sizeof(msg), &rc) == -1 &&
	    strstr(msg, "since") != NULL, "query: a bare + refused");
	tap_ok(ops_list_query("cursor=00112233445566778834003132", &q, msg,
	    sizeof(msg), &rc) == 0 && q.cursor_len == 13 &&
	    q.cursor[8] == 0x88, "query: a cursor is hex");
	tap_ok(ops_list_query("state=done", &q, msg, sizeof(msg), &rc) == -1 &&
	    rc == RC_INVALID && strstr(msg, "state") != NULL,
	    "query: state is upper case");
	tap_ok(ops_list_query("limit=1001", &q, msg, sizeof(msg), &rc) == -1,
	    "query: limit over 1000 refused");
	tap_ok(ops_list_query("limit=-1", &q, msg, sizeof(msg), &rc) == -1,
	    "query: negative limit refused");
	tap_ok(ops_list_query("limit=1&limit=2", &q, msg, sizeof(msg), &rc) ==
	    -1, "query: a parameter twice refused");
	tap_ok(ops_list_query("cursor=0011223344556677883", &q, msg,
	    sizeof(msg), &rc) == -1, "query: odd-length cursor refused");
	tap_ok(ops_list_query("cursor=0011223344556677883G", &q, msg,
	    sizeof(msg), &rc) == -1, "query: non-hex cursor refused");
	tap_ok(ops_list_query("studyType=0", &q, msg, sizeof(msg), &rc) == -1,
	    "query: studyType 0 refused");
}

static void
test_token(void)
{
	tap_ok(metrics_token_ok("Bearer s3cret-token", "s3cret-token"),
	    "token: the right one");
	tap_ok(!metrics_token_ok("Bearer s3cret-toke", "s3cret-token"),
	    "token: a prefix refused");
	tap_ok(!metrics_token_ok("Bearer s3cret-tokenX", "s3cret-token"),
	    "token: a longer one refused");
	tap_ok(!metrics_token_ok("bearer s3cret-token", "s3cret-token") &&
	    !metrics_token_ok("Basic s3cret-token", "s3cret-token") &&
	    !metrics_token_ok("s3cret-token", "s3cret-token"),
	    "token: only the Bearer scheme");
	tap_ok(!metrics_token_ok(NULL, "s3cret-token") &&
	    !metrics_token_ok("Bearer ", ""), "token: none, or empty");
}

/* ---- with a store ------------------------------------------------------ */

struct op {
	const char	*uid;
	json_object	*data;
	int		 built;
	char		 jkey[JOB_KEY_MAX];
	size_t		 jklen;
	int		 assemblies;
};

static int
submit_body(struct store_txn *t, void *arg)
{
	struct op		*o = arg;
	struct study_submit	 ss;
	enum study_outcome	 out;

	memset(&ss, 0, sizeof(ss));
	ss.ss_ns = "hosp";
	ss.ss_type = 4;
	ss.ss_uid = o->uid;
	ss.ss_callback = "https://cb.example/notify";
	ss.ss_endpoint = "oss-cn-beijing.aliyuncs.com";
	ss.ss_bucket = "studies";
	ss.ss_key = "knee/";
	ss.ss_creds.sc_ak = (char *)(uintptr_t)"AK";
	ss.ss_creds.sc_sk = (char *)(uintptr_t)"SK";
	return study_submit(t, &keys, &ss, &out);
}

/* A study record as an older version wrote it: no index entry, no
 * counter. */
static int
legacy_body(struct store_txn *t, void *arg)
{
	char		 key[STUDY_KEY_MAX];
	size_t		 klen = study_key(key, "hosp", 2, "1.2.old");
	const char	*rec = "{\"v\":1,\"ns\":\"hosp\",\"studyInstanceUid\":"
	    "\"1.2.old\",\"studyType\":2,\"created\":1000,\"run\":1,"
	    "\"state\":\"DONE\",\"finished\":2000,\"imagesTotal\":1,"
	    "\"imagesDone\":1}";

	const char	*msg = "{\"v\":1,\"id\":\"msg_1\",\"ns\":\"hosp\","
	    "\"kind\":\"status\",\"state\":\"DEAD\",\"body\":\"{}\"}";
	int		 rc;

	(void)arg;
	if ((rc = store_put(t, SDB_OUTBOX, "msg_1", 5, msg, strlen(msg))) != 0)
		return rc;
	return store_put(t, SDB_STUDIES, key, klen, rec, strlen(rec));
}

static int
list_body(struct store_txn *t, void *arg)
{
	struct op		*o = arg;
	struct ops_list_req	 q;
	char			 msg[64];
	enum rc			 rc;
	int			 src;

	json_object_put(o->data);
	o->data = NULL;
	if ((src = ops_built(t, &o->built)) != STORE_OK)
		return src;
	if (ops_list_query("", &q, msg, sizeof(msg), &rc) == -1)
		return STORE_ERR;
	return ops_list(t, "hosp", &q, &o->data);
}

static int
cancel_body(struct store_txn *t, void *arg)
{
	struct op	*o = arg;
	char		 key[STUDY_KEY_MAX];
	size_t		 klen = study_key(key, "hosp", 4, o->uid);

	return study_cancel(t, key, klen, store_now_ms());
}

static int
render_body(struct store_txn *t, void *arg)
{
	char	**out = arg;
	size_t	  len;

	free(*out);
	*out = NULL;
	return metrics_render(t, dir, out, &len);
}

/* A RUNNING study with one listed job: what the dispatcher leaves. */
static int
running_body(struct store_txn *t, void *arg)
{
	struct op	*o = arg;
	json_object	*rec = NULL;
	char		 key[STUDY_KEY_MAX];
	size_t		 klen = study_key(key, "hosp", 4, o->uid);
	int		 rc, created;

	if ((rc = store_get_json(t, SDB_STUDIES, key, klen, &rec, 1)) != 0)
		return rc;
	json_object_object_add(rec, "state", json_object_new_string("RUNNING"));
	json_object_object_add(rec, "listed", json_object_new_boolean(1));
	json_object_object_add(rec, "imagesTotal", json_object_new_int(1));
	rc = store_put_json(t, SDB_STUDIES, key, klen, rec);
	json_object_put(rec);
	if (rc != 0 || (rc = job_create(t, key, klen, 1, "knee/1.dcm", 10,
	    store_now_ms(), store_now_ms(), 0, &created)) != 0)
		return rc;
	o->jklen = job_key(o->jkey, key, klen, 1, "knee/1.dcm");
	return metrics_study_move(t, key, klen, STUDY_QUEUED, STUDY_RUNNING);
}

static int
count_assemble(const void *key, size_t klen, const char *val, size_t len,
    void *arg)
{
	(void)key;
	(void)klen;
	(void)val;
	(void)len;
	(*(int *)arg)++;
	return 0;
}

/* The engine's result arrives after the study was cancelled. */
static int
finish_body(struct store_txn *t, void *arg)
{
	struct op	*o = arg;
	struct job_rec	 rec;
	json_object	*obj = NULL;
	int		 rc, changed;

	if ((rc = store_get_json(t, SDB_JOBS, o->jkey, o->jklen, &obj, 1)) !=
	    0)
		return rc;
	if (job_rec_decode(&rec, obj) == -1)
		return STORE_ERR;
	rc = job_finish(t, o->jkey, o->jklen, &rec, json_object_new_array(),
	    NULL, NULL, store_now_ms(), &changed);
	job_rec_free(&rec);
	if (rc != 0)
		return rc;
	o->assemblies = 0;
	return store_scan(t, SDB_QUEUE, "A", 1, count_assemble,
	    &o->assemblies);
}

static int
study_body(struct store_txn *t, void *arg)
{
	struct op	*o = arg;
	char		 key[STUDY_KEY_MAX];
	size_t		 klen = study_key(key, "hosp", 4, o->uid);

	json_object_put(o->data);
	o->data = NULL;
	return store_get_json(t, SDB_STUDIES, key, klen, &o->data, 0);
}

static const char *
item_uid(json_object *data, size_t i)
{
	json_object *items, *it, *v;

	if (!json_object_object_get_ex(data, "items", &items) ||
	    (it = json_object_array_get_idx(items, i)) == NULL ||
	    !json_object_object_get_ex(it, "studyInstanceUid", &v))
		return NULL;
	return json_object_get_string(v);
}

static size_t
n_items(json_object *data)
{
	json_object *items;

	return json_object_object_get_ex(data, "items", &items) ?
	    json_object_array_length(items) : 0;
}

static void
test_store(void)
{
	unsigned char	 master[CRYPTO_KEYLEN] = { 3, 1, 4 };
	struct store	*s;
	struct op	 o;
	char		 err[256], *text = NULL;
	json_object	*v;

	if (tap_tmpdir(dir, sizeof(dir), "t_ops") == -1)
		exit(1);
	crypto_keys_derive(master, &keys);
	if (store_open(dir, STORE_CREATE, &s, err, sizeof(err)) == -1) {
		printf("Bail out! store_open: %s\n", err);
		exit(1);
	}
	memset(&o, 0, sizeof(o));

	/* an older store: a study without index entry or counter */
	tap_ok(store_txn(s, legacy_body, &o) == 0, "an older study written");
	o.uid = "1.2.new";
	tap_ok(store_txn(s, submit_body, &o) == 0, "a new study submitted");
	tap_ok(store_txn(s, list_body, &o) == 0 && !o.built &&
	    n_items(o.data) == 1 && item_uid(o.data, 0) != NULL &&
	    strcmp(item_uid(o.data, 0), "1.2.new") == 0,
	    "before the build: only the new study is in the index");
	tap_ok(ops_build(s) == 0, "ops_build");
	tap_ok(store_txn(s, list_body, &o) == 0 && o.built &&
	    n_items(o.data) == 2 && strcmp(item_uid(o.data, 0), "1.2.new") == 0
	    && strcmp(item_uid(o.data, 1), "1.2.old") == 0,
	    "after it: both, newest first");
	tap_ok(store_txn(s, render_body, &text) == 0 && text != NULL &&
	    strstr(text, "mias_studies{namespace=\"hosp\",study_type=\"2\","
	    "state=\"DONE\"} 1\n") != NULL &&
	    strstr(text, "mias_studies{namespace=\"hosp\",study_type=\"4\","
	    "state=\"QUEUED\"} 1\n") != NULL,
	    "the counts are built from the studies, once each");
	tap_ok(text != NULL && strstr(text, "mias_callbacks_dead_letters{"
	    "namespace=\"hosp\"} 1\n") != NULL,
	    "the dead letters are counted from the outbox");
	tap_ok(ops_build(s) == 0 && store_txn(s, render_body, &text) == 0 &&
	    strstr(text, "state=\"QUEUED\"} 1\n") != NULL,
	    "a second build changes nothing");

	/* resubmitting a running study moves nothing; a rerun moves the entry */
	tap_ok(store_txn(s, submit_body, &o) == 0 &&
	    store_txn(s, list_body, &o) == 0 && n_items(o.data) == 2,
	    "one entry per study");

	/* cancelling a running study; its engine's late result */
	tap_ok(store_txn(s, running_body, &o) == 0, "the study is RUNNING");
	tap_ok(store_txn(s, cancel_body, &o) == 0, "study_cancel: RUNNING");
	tap_ok(store_txn(s, cancel_body, &o) == STUDY_CANCEL_FINAL,
	    "study_cancel again: STUDY_CANCEL_FINAL");
	tap_ok(store_txn(s, finish_body, &o) == 0, "the late result: job_finish");
	tap_ok(store_txn(s, study_body, &o) == 0 &&
	    json_object_object_get_ex(o.data, "state", &v) &&
	    strcmp(json_object_get_string(v), "CANCELLED") == 0,
	    "the study stays CANCELLED");
	tap_ok(json_object_object_get_ex(o.data, "imagesDone", &v) &&
	    json_object_get_int(v) == 0 && o.assemblies == 0,
	    "nothing counted into it, no assembly queued");
	tap_ok(!json_object_object_get_ex(o.data, "creds", NULL),
	    "its credentials are gone");
	tap_ok(store_txn(s, render_body, &text) == 0 &&
	    strstr(text, "state=\"CANCELLED\"} 1\n") != NULL &&
	    strstr(text, "state=\"RUNNING\"}") == NULL &&
	    strstr(text, "state=\"QUEUED\"}") == NULL &&
	    strstr(text, "mias_engine_latency_seconds_count{study_type=\"4\"} "
	    "1\n") != NULL, "metrics: CANCELLED 1, the latency counted");

	free(text);
	json_object_put(o.data);
	store_close(s);
	crypto_keys_wipe(&keys);
	tap_tmpdir_done(dir);
}

/* ---- a build in steps, with the store in use ------------------------- */

struct legacy {
	const char	*uid;
	const char	*state;		/* written as it is */
	const char	*to;		/* and moved to (metrics_study_move) */
	const char	*msg;		/* a message id, or NULL */
	const char	*msg_state;
	int		 msg_delta;	/* metrics_dead_add, or 0 */
};

static int
legacy_put(struct store_txn *t, void *arg)
{
	struct legacy	*l = arg;
	char		 key[STUDY_KEY_MAX], rec[512];
	size_t		 klen;
	int		 n, rc;

	if (l->uid != NULL) {
		klen = study_key(key, "hosp", 1, l->uid);
		n = snprintf(rec, sizeof(rec), "{\"v\":1,\"ns\":\"hosp\","
		    "\"studyInstanceUid\":\"%s\",\"studyType\":1,\"created\":"
		    "1000,\"run\":1,\"state\":\"%s\"}", l->uid, l->to != NULL ?
		    l->to : l->state);
		if ((rc = store_put(t, SDB_STUDIES, key, klen, rec,
		    (size_t)n)) != 0)
			return rc;
		if (l->to != NULL && (rc = metrics_study_move(t, key, klen,
		    study_state_parse(l->state), study_state_parse(l->to))) !=
		    0)
			return rc;
	}
	if (l->msg != NULL) {
		n = snprintf(rec, sizeof(rec), "{\"v\":1,\"id\":\"%s\","
		    "\"ns\":\"hosp\",\"state\":\"%s\"}", l->msg,
		    l->msg_state);
		if ((rc = store_put(t, SDB_OUTBOX, l->msg, strlen(l->msg), rec,
		    (size_t)n)) != 0)
			return rc;
		if (l->msg_delta != 0 && (rc = metrics_dead_add(t, "hosp",
		    l->msg, l->msg_delta)) != 0)
			return rc;
	}
	return 0;
}

static void
legacy(struct store *s, const char *uid, const char *state, const char *to,
    const char *msg, const char *msg_state, int msg_delta)
{
	struct legacy l = { uid, state, to, msg, msg_state, msg_delta };

	if (store_txn(s, legacy_put, &l) != 0)
		tap_ok(0, "legacy record %s %s", uid ? uid : "", msg ? msg : "");
}

static int
has(const char *text, const char *line)
{
	return text != NULL && strstr(text, line) != NULL;
}

static void
test_build_steps(void)
{
	struct store	*s;
	char		 err[256], *text = NULL;
	int		 done = 0, steps = 0, rc = 0;

	if (tap_tmpdir(dir, sizeof(dir), "t_ops_steps") == -1)
		exit(1);
	if (store_open(dir, STORE_CREATE, &s, err, sizeof(err)) == -1) {
		printf("Bail out! store_open: %s\n", err);
		exit(1);
	}
	/* an older store: studies a, b, c (key order) QUEUED, two dead
	 * letters, a counter that is wrong (counted before any build) */
	legacy(s, "a", "QUEUED", NULL, "msg_1", "DEAD", 0);
	legacy(s, "b", "QUEUED", NULL, "msg_2", "DEAD", 0);
	legacy(s, "c", "QUEUED", "RUNNING", NULL, NULL, 0);
	/* the start, then one study a step */
	rc |= ops_build_steps(s, 1, &done);
	rc |= ops_build_steps(s, 1, &done);
	tap_ok(rc == 0 && !done, "build: started, study a counted");
	/* meanwhile: a (counted) and b (not yet) change; a dead letter is
	 * sent again before the outbox is counted */
	legacy(s, "a", "QUEUED", "DONE", NULL, NULL, 0);
	legacy(s, "b", "QUEUED", "FAILED", "msg_1", "PENDING", -1);
	while (rc == 0 && !done && steps++ < 100)
		rc = ops_build_steps(s, 1, &done);
	tap_ok(rc == 0 && done, "build: done in %d more steps", steps);
	/* a change after the build counts as ever */
	legacy(s, "c", "RUNNING", "DONE", "msg_2", "PENDING", -1);
	tap_ok(store_txn(s, render_body, &text) == 0, "rendered");
	tap_ok(has(text, "study_type=\"1\",state=\"DONE\"} 2\n") &&
	    has(text, "study_type=\"1\",state=\"FAILED\"} 1\n") &&
	    !has(text, "state=\"QUEUED\"}") && !has(text, "state=\"RUNNING\"}"),
	    "each study counted once, in the state it is in");
	if (tap_failed && text != NULL) {
		char *line, *save = NULL, *copy = strdup(text);

		for (line = strtok_r(copy, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save))
			printf("#   %s\n", line);
		free(copy);
	}
	tap_ok(!has(text, "mias_callbacks_dead_letters{namespace=\"hosp\"}"),
	    "dead letters: none left, none below zero");
	free(text);
	store_close(s);
	tap_tmpdir_done(dir);
}

int
main(void)
{
	test_time();
	test_query();
	test_token();
	/* first: a process remembers that its store's build is done
	 * (metrics.c), and test_store builds one */
	test_build_steps();
	test_store();
	return tap_done();
}
