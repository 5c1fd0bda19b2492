/* t_retention.c -- lib/retention.c on a store in a temporary directory: the index of ended studies (ended.db), removal in batches */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "job.h"
#include "outbox.h"
#include "queue.h"
#include "retention.h"
#include "store.h"
#include "study.h"
#include "tap.h"

#define NS	"h"

static char			 dir[256];
static struct store		*s;
static struct crypto_keys	 keys;

/* ---- building studies as the responders and the dispatcher do ------ */

struct mk {
	const char	*uid;
	int		 njobs;
	char		 skey[STUDY_KEY_MAX];
	size_t		 sklen;
	char		 msg[WEBHOOK_ID_MAX];	/* its callback */
};

static int
mk_body(struct store_txn *t, void *arg)
{
	struct mk		*m = arg;
	struct study_submit	 ss;
	enum study_outcome	 out;
	json_object		*study = NULL, *v;
	struct job_rec		 rec;
	char			 obj[64], *jkey, ak[] = "ak", sk[] = "sk";
	size_t			 jklen;
	int64_t			 now = store_now_ms();
	int			 i, rc, created, changed;

	memset(&ss, 0, sizeof(ss));
	ss.ss_ns = NS;
	ss.ss_type = 4;
	ss.ss_uid = m->uid;
	ss.ss_callback = "http://127.0.0.1:9/cb";
	ss.ss_endpoint = "http://127.0.0.1:9";
	ss.ss_bucket = "b";
	ss.ss_key = "k/";
	ss.ss_creds.sc_ak = ak;
	ss.ss_creds.sc_sk = sk;
	if ((rc = study_submit(t, &keys, &ss, &out)) != STORE_OK)
		return rc;
	m->sklen = study_key(m->skey, NS, 4, m->uid);
	for (i = 0; i < m->njobs; i++) {
		snprintf(obj, sizeof(obj), "k/%05d.dcm", i);
		if ((rc = job_create(t, m->skey, m->sklen, 1, obj, 10, now, now,
		    0, &created)) != STORE_OK)
			return rc;
	}
	for (i = 0; i < m->njobs; i++) {
		char jk[JOB_KEY_MAX], id[JOB_ID_LEN + 1];

		snprintf(obj, sizeof(obj), "k/%05d.dcm", i);
		jklen = job_key(jk, m->skey, m->sklen, 1, obj);
		job_id(jk, jklen, id);
		if ((rc = job_lookup(t, id, &jkey, &jklen, &rec, 1)) !=
		    STORE_OK)
			return rc;
		rc = job_finish(t, jkey, jklen, &rec, json_object_new_array(),
		    NULL, NULL, now, &changed);
		free(jkey);
		job_rec_free(&rec);
		if (rc != STORE_OK)
			return rc;
	}
	if ((rc = job_assemble(t, m->skey, m->sklen, 1, now)) != STORE_OK)
		return rc;
	if ((rc = store_get_json(t, SDB_STUDIES, m->skey, m->sklen, &study,
	    0)) != STORE_OK)
		return rc;
	json_object_object_get_ex(study, "lastMessage", &v);
	snprintf(m->msg, sizeof(m->msg), "%s", json_object_get_string(v));
	json_object_put(study);
	return STORE_OK;
}

static int
mk(struct mk *m, const char *uid, int njobs)
{
	memset(m, 0, sizeof(*m));
	m->uid = uid;
	m->njobs = njobs;
	return store_txn(s, mk_body, m);
}

/* Ends a callback as deliver.c does (state, time), indexing its study
 * unless told not to (a store of an earlier release). */
struct end {
	const char	*id;
	const char	*state;
	int64_t		 at;
	int		 index;
	int		 old;		/* drop the study's name: an old record */
};

static int
end_body(struct store_txn *t, void *arg)
{
	struct end	*e = arg;
	json_object	*rec;
	int		 rc;

	if ((rc = outbox_get(t, e->id, &rec, STORE_RMW)) != STORE_OK)
		return rc;
	json_object_object_add(rec, "state", json_object_new_string(e->state));
	if (strcmp(e->state, "DELIVERED") == 0)
		json_object_object_add(rec, "delivered",
		    json_object_new_int64(e->at));
	else if (strcmp(e->state, "DEAD") == 0)
		json_object_object_add(rec, "dead", json_object_new_int64(e->at));
	if (e->old) {
		json_object_object_del(rec, "studyType");
		json_object_object_del(rec, "studyInstanceUid");
	}
	if ((rc = outbox_put(t, e->id, rec)) == STORE_OK && e->index)
		rc = retention_ended(t, e->id, rec);
	json_object_put(rec);
	return rc;
}

static int
end_msg(const char *id, const char *state, int64_t at, int index, int old)
{
	struct end e = { id, state, at, index, old };

	return store_txn(s, end_body, &e);
}

/* ---- looking at the store ------------------------------------------ */

struct look {
	enum store_db	 db;
	const void	*key;
	size_t		 klen;
	int		 n;
};

static int
count_visit(const void *k, size_t kl, const char *v, size_t vl, void *arg)
{
	(void)k;
	(void)kl;
	(void)v;
	(void)vl;
	(*(int *)arg)++;
	return 0;
}

static int
look_body(struct store_txn *t, void *arg)
{
	struct look	*l = arg;
	char		*v = NULL;
	int		 rc;

	l->n = 0;
	if (l->db == SDB_JOBS)	/* the study's jobs: "study key NUL" */
		return store_scan(t, l->db, l->key, l->klen + 1, count_visit,
		    &l->n);
	rc = store_get(t, l->db, l->key, l->klen, &v, NULL, 0);
	free(v);
	if (rc == STORE_OK)
		l->n = 1;
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

/* Records of db under key (jobs: of the study key). */
static int
count(enum store_db db, const void *key, size_t klen)
{
	char		 buf[STUDY_KEY_MAX + 1];
	struct look	 l = { db, buf, klen, -1 };

	memcpy(buf, key, klen);
	buf[klen] = '\0';
	if (store_txn(s, look_body, &l) != STORE_OK)
		return -1;
	return l.n;
}

static int
has_entry(int64_t at, const struct mk *m)
{
	unsigned char	k[RETENTION_KEY_MAX];
	size_t		kl = retention_key(k, at, m->skey, m->sklen);
	struct look	l = { SDB_ENDED, k, kl, -1 };

	return store_txn(s, look_body, &l) == STORE_OK ? l.n : -1;
}

static int
counter(void)
{
	static const char key[] = "a\0" NS;

	return count(SDB_COUNTERS, key, sizeof(key) - 1);
}

/* ---- the tests ------------------------------------------------------ */

static void
test_remove(void)
{
	struct retention_item	 items[4];
	struct retention_removed rr;
	struct mk		 m;
	size_t			 n, budget;
	int64_t			 next, at = store_now_ms() + 60000;

	memset(&rr, 0, sizeof(rr));
	tap_ok(mk(&m, "1.2.3.1", 600) == STORE_OK,
	    "a study of 600 images, finished, its callback pending");
	tap_ok(count(SDB_JOBS, m.skey, m.sklen) == 600, "  ... 600 jobs");
	tap_ok(retention_due(s, INT64_MAX - 1, items, 4, &n, &next) ==
	    STORE_OK && n == 0, "not ended while its callback is pending");
	tap_ok(end_msg(m.msg, "DELIVERED", at, 1, 0) == STORE_OK &&
	    has_entry(at, &m) == 1,
	    "delivered: an ended.db entry at the time of the delivery");
	tap_ok(retention_due(s, at - 1, items, 4, &n, &next) == STORE_OK &&
	    n == 0 && next == at, "not due before; next says when");
	tap_ok(retention_due(s, at, items, 4, &n, &next) == STORE_OK &&
	    n == 1 && items[0].ri_ended == at &&
	    items[0].ri_sklen == m.sklen &&
	    memcmp(items[0].ri_skey, m.skey, m.sklen) == 0,
	    "due at that time, naming the study");

	budget = 300;
	tap_ok(retention_remove(s, &items[0], at, &budget, &rr) == STORE_OK &&
	    rr.rr_outcome == RETENTION_MORE && budget == 0 &&
	    rr.rr_records == 300, "a budget of 300: 300 records, then MORE "
	    "(%d, %zu)", rr.rr_outcome, rr.rr_records);
	tap_ok(count(SDB_JOBS, m.skey, m.sklen) == 300 &&
	    count(SDB_STUDIES, m.skey, m.sklen) == 1,
	    "  ... jobs deleted first, the study still there");
	budget = 10000;
	tap_ok(retention_remove(s, &items[0], at, &budget, &rr) == STORE_OK &&
	    rr.rr_outcome == RETENTION_REMOVED, "then REMOVED");
	tap_ok(strcmp(rr.rr_ns, NS) == 0 && rr.rr_type == 4 &&
	    strcmp(rr.rr_uid, "1.2.3.1") == 0 && rr.rr_ended == at,
	    "  ... naming namespace, studyType, study and when it ended");
	tap_ok(count(SDB_JOBS, m.skey, m.sklen) == 0 &&
	    count(SDB_STUDIES, m.skey, m.sklen) == 0 &&
	    count(SDB_RESULTS, m.skey, m.sklen) == 0 &&
	    count(SDB_ANSWERS, m.skey, m.sklen) == 0 &&
	    count(SDB_OUTBOX, m.msg, strlen(m.msg)) == 0 &&
	    has_entry(at, &m) == 0,
	    "  ... jobs, study, result, answer, callback and entry are gone");
	tap_ok(counter() == 0, "  ... the queued-studies counter is 0");
}

static void
test_kept(void)
{
	struct retention_item	 items[4];
	struct retention_removed rr;
	struct mk		 m;
	size_t			 n, budget = 1000;
	int64_t			 next, at = store_now_ms() + 50000;

	tap_ok(mk(&m, "1.2.3.2", 3) == STORE_OK &&
	    end_msg(m.msg, "DEAD", at, 1, 0) == STORE_OK &&
	    has_entry(at, &m) == 1, "dead letter: an ended.db entry at the time it died");
	/* mias-admin deliveries replay: PENDING again */
	tap_ok(end_msg(m.msg, "PENDING", 0, 0, 0) == STORE_OK,
	    "the dead letter is replayed");
	tap_ok(retention_due(s, at, items, 4, &n, &next) == STORE_OK &&
	    n == 1, "  ... its entry is still due");
	tap_ok(retention_remove(s, &items[0], at, &budget, &rr) == STORE_OK &&
	    rr.rr_outcome == RETENTION_KEPT, "  ... KEPT: not ended any more");
	tap_ok(count(SDB_STUDIES, m.skey, m.sklen) == 1 &&
	    count(SDB_JOBS, m.skey, m.sklen) == 3 && has_entry(at, &m) == 0,
	    "  ... study and jobs kept, the entry dropped");
}

static int
put_entry_body(struct store_txn *t, void *arg)
{
	const struct retention_item *ri = arg;

	return store_put(t, SDB_ENDED, ri->ri_key, ri->ri_klen, "", 0);
}

static void
test_later(void)
{
	struct retention_item	 ri;
	struct retention_removed rr;
	struct mk		 m;
	size_t			 budget = 1000;
	int64_t			 at = store_now_ms() + 40000;

	tap_ok(mk(&m, "1.2.3.3", 2) == STORE_OK &&
	    end_msg(m.msg, "DELIVERED", at, 1, 0) == STORE_OK,
	    "a study delivered at T");
	/* an entry older than the study's end (a replay delivered later) */
	memset(&ri, 0, sizeof(ri));
	ri.ri_klen = retention_key(ri.ri_key, at - 10000, m.skey, m.sklen);
	ri.ri_ended = at - 10000;
	memcpy(ri.ri_skey, m.skey, m.sklen);
	ri.ri_sklen = m.sklen;
	tap_ok(store_txn(s, put_entry_body, &ri) == STORE_OK,
	    "  ... and an entry of it at T - 10 s");
	tap_ok(retention_remove(s, &ri, at - 1, &budget, &rr) == STORE_OK &&
	    rr.rr_outcome == RETENTION_LATER, "swept at T - 1 ms: LATER");
	tap_ok(has_entry(at - 10000, &m) == 0 && has_entry(at, &m) == 1 &&
	    count(SDB_STUDIES, m.skey, m.sklen) == 1 &&
	    count(SDB_JOBS, m.skey, m.sklen) == 2,
	    "  ... the entry moved to T, nothing removed");
}

static void
test_index(void)
{
	struct mk	m;
	char		cursor[WEBHOOK_ID_MAX] = "";
	int		rc, calls = 0;
	int64_t		at = store_now_ms() + 30000;

	/* a study that ended in an earlier release: no entry, and its
	 * callback's record does not name it */
	tap_ok(mk(&m, "1.2.3.4", 2) == STORE_OK &&
	    end_msg(m.msg, "DELIVERED", at, 0, 1) == STORE_OK &&
	    has_entry(at, &m) == 0, "a study ended before entries were written");
	while ((rc = retention_index(s, cursor, 1)) == 0 && calls < 100)
		calls++;
	tap_ok(rc == 1 && calls >= 2, "the walk over the callbacks ends, one "
	    "message a batch (%d batches)", calls + 1);
	tap_ok(has_entry(at, &m) == 1, "  ... and indexes the study, found "
	    "through its callback's body");
	tap_ok(count(SDB_META, RETENTION_INDEXED,
	    strlen(RETENTION_INDEXED)) == 1, "  ... recorded in meta.db");
	cursor[0] = '\0';
	tap_ok(retention_index(s, cursor, 1) == 1,
	    "  ... so that the next start does not walk again");
}

int
main(void)
{
	unsigned char	 master[CRYPTO_KEYLEN];
	char		 err[256];

	if (tap_tmpdir(dir, sizeof(dir), "t_retention") == -1)
		return 1;
	memset(master, 7, sizeof(master));
	crypto_keys_derive(master, &keys);
	if (store_open(dir, STORE_CREATE, &s, err, sizeof(err)) == -1) {
		printf("Bail out! store_open: %s\n", err);
		return 1;
	}
	test_remove();
	test_kept();
	test_later();
	test_index();
	store_close(s);
	crypto_keys_wipe(&keys);
	tap_tmpdir_done(dir);
	return tap_done();
}
