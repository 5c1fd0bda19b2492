/* retention.c -- removing studies that ended longer ago than [retention] finished_studies */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "job.h"
#include "metrics.h"
#include "ops.h"
#include "outbox.h"
#include "queue.h"
#include "retention.h"
#include "store.h"
#include "study.h"

/* Callbacks of one study followed through "after": one per run, so a
 * chain longer than this is not one mias wrote. */
#define RETENTION_CHAIN_MAX	10000

/* A string field of a callback or study, NULL when it has none (its
 * absence says something here: record.c's rec_str would give ""). */
static const char *
ret_str(json_object *o, const char *name)
{
	json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, name, &v) || v == NULL)
		return NULL;
	return json_object_get_string(v);
}

/* study_key() with the lengths checked: 0 when they do not fit a key. */
static size_t
ret_key(char *skey, const char *ns, int type, const char *uid)
{
	if (ns == NULL || uid == NULL || *ns == '\0' || strlen(ns) > 128 ||
	    strlen(uid) > STUDY_UID_MAX || type < 1 || type > QUEUE_TYPES)
		return 0;
	return study_key(skey, ns, type, uid);
}

/* When a message stopped being PENDING. */
static int64_t
ret_msg_ended(json_object *m)
{
	int64_t at = 0;

	if (outbox_state_of(m) == OUTBOX_DELIVERED)
		at = rec_int(m, "delivered");
	else if ((at = rec_int(m, "dead")) == 0)	/* before "dead" */
		at = rec_int(m, "lastAttempt");
	return at > 0 ? at : rec_int(m, "created");
}

/*
 * 1 and *ended when study has ended (DONE, FAILED or CANCELLED, none of
 * its callbacks PENDING), 0 when it has not, or a store code.
 */
static int
ret_study_ended(struct store_txn *t, json_object *study, int64_t *ended)
{
	enum study_state	 st = study_state_parse(ret_str(study, "state"));
	json_object		*m;
	const char		*after;
	char			 id[WEBHOOK_ID_MAX];
	int			 n, rc;

	if (st != STUDY_DONE && st != STUDY_FAILED && st != STUDY_CANCELLED)
		return 0;
	*ended = rec_int(study, "finished");
	if ((after = ret_str(study, "lastMessage")) == NULL)
		return 1;
	snprintf(id, sizeof(id), "%s", after);
	for (n = 0; n < RETENTION_CHAIN_MAX && id[0] != '\0'; n++) {
		if ((rc = outbox_get(t, id, &m, 0)) == STORE_NOTFOUND)
			break;
		if (rc != STORE_OK)
			return rc;
		if (outbox_state_of(m) != OUTBOX_DELIVERED &&
		    outbox_state_of(m) != OUTBOX_DEAD) {
			json_object_put(m);
			return 0;
		}
		if (ret_msg_ended(m) > *ended)
			*ended = ret_msg_ended(m);
		after = ret_str(m, "after");
		snprintf(id, sizeof(id), "%s", after != NULL ? after : "");
		json_object_put(m);
	}
	return 1;
}

/*
 * The study key of a message into skey (STUDY_KEY_MAX), or 0.  Messages
 * name their study; those written before they did are found through
 * their body: a status callback carries studyInstanceUid and studyType,
 * a push job's result its ImageUid only, so the studyType is the one
 * whose push job's last callback this message is.  *rc: a store code.
 */
static size_t
ret_msg_study(struct store_txn *t, const char *id, json_object *m,
    char *skey, int *rc)
{
	json_object	*body, *study;
	char		 uid[STUDY_UID_MAX + 2];
	const char	*ns = ret_str(m, "ns"), *u, *kind;
	size_t		 sklen = 0;
	int		 type;

	*rc = STORE_OK;
	if (ret_str(m, "studyInstanceUid") != NULL)
		return ret_key(skey, ns, (int)rec_int(m, "studyType"),
		    ret_str(m, "studyInstanceUid"));
	if ((u = ret_str(m, "body")) == NULL ||
	    (body = store_json(u, strlen(u))) == NULL)
		return 0;
	kind = ret_str(m, "kind");
	if (kind == NULL || strcmp(kind, OUTBOX_RESULT) != 0) {
		sklen = ret_key(skey, ns, (int)rec_int(body, "studyType"),
		    ret_str(body, "studyInstanceUid"));
		goto out;
	}
	if ((u = ret_str(body, "ImageUid")) == NULL ||
	    (size_t)snprintf(uid, sizeof(uid), "%s%s", STUDY_PUSH_MARK, u) >=
	    sizeof(uid))
		goto out;
	for (type = 1; type <= QUEUE_TYPES; type++) {
		if ((sklen = ret_key(skey, ns, type, uid)) == 0)
			break;
		*rc = store_get_json(t, SDB_STUDIES, skey, sklen, &study, 0);
		if (*rc == STORE_NOTFOUND) {
			*rc = STORE_OK;
			sklen = 0;
			continue;
		}
		if (*rc != STORE_OK) {
			sklen = 0;
			break;
		}
		u = ret_str(study, "lastMessage");
		if (u != NULL && strcmp(u, id) == 0) {
			json_object_put(study);
			break;
		}
		json_object_put(study);
		sklen = 0;
	}
out:
	json_object_put(body);
	return sklen;
}

size_t
retention_key(unsigned char *out, int64_t ended, const char *skey,
    size_t sklen)
{
	hex_be64_put(out, ended < 0 ? 0 : (uint64_t)ended);
	memcpy(out + 8, skey, sklen);
	return 8 + sklen;
}

static int
ret_put(struct store_txn *t, int64_t ended, const char *skey, size_t sklen)
{
	unsigned char	key[RETENTION_KEY_MAX];
	size_t		klen = retention_key(key, ended, skey, sklen);

	return store_put(t, SDB_ENDED, key, klen, "", 0);
}

int
retention_ended(struct store_txn *t, const char *id, json_object *rec)
{
	json_object	*study = NULL;
	char		 skey[STUDY_KEY_MAX];
	size_t		 sklen;
	int64_t		 ended;
	int		 rc;

	if ((sklen = ret_msg_study(t, id, rec, skey, &rc)) == 0)
		return rc;
	if ((rc = store_get_json(t, SDB_STUDIES, skey, sklen, &study, 0)) !=
	    STORE_OK)
		return rc == STORE_NOTFOUND ? STORE_OK : rc;
	if ((rc = ret_study_ended(t, study, &ended)) == 1)
		rc = ret_put(t, ended, skey, sklen);
	json_object_put(study);
	return rc;
}

struct ret_index {
	const char	*from;
	char		 last[WEBHOOK_ID_MAX];	/* out */
	size_t		 max;
	char		(*ids)[WEBHOOK_ID_MAX];
	size_t		 n;
	int		 done;			/* out */
};

static int
ret_index_body(struct store_txn *t, void *arg)
{
	struct ret_index	*a = arg;
	struct store_iter	*it;
	json_object		*m;
	const void		*key;
	const char		*val;
	char			 seek[WEBHOOK_ID_MAX + 1], *v = NULL;
	size_t			 klen, len, i;
	int			 rc, r;

	a->n = 0;
	a->done = 0;
	snprintf(a->last, sizeof(a->last), "%s", a->from);
	if ((rc = store_get(t, SDB_META, RETENTION_INDEXED,
	    strlen(RETENTION_INDEXED), &v, NULL, 0)) == STORE_OK) {
		free(v);
		a->done = 1;
		return STORE_OK;
	}
	if (rc != STORE_NOTFOUND)
		return rc;
	if ((rc = store_iter_open(t, SDB_OUTBOX, NULL, 0, &it)) != STORE_OK)
		return rc;
	/* past from: the smallest key after it is from and a NUL */
	len = strlen(a->from);
	memcpy(seek, a->from, len);
	seek[len] = '\0';
	if (len > 0 && (rc = store_iter_seek(it, seek, len + 1)) != STORE_OK) {
		(void)store_iter_close(it);
		return rc;
	}
	while (a->n < a->max &&
	    (rc = store_iter_next(it, &key, &klen, &val, &len)) == STORE_OK)
		if (klen < WEBHOOK_ID_MAX && memchr(key, '\0', klen) == NULL) {
			memcpy(a->ids[a->n], key, klen);
			a->ids[a->n++][klen] = '\0';
		}
	if (rc == STORE_NOTFOUND) {
		rc = STORE_OK;
		a->done = 1;
	}
	if ((r = store_iter_close(it)) != STORE_OK && rc == STORE_OK)
		rc = r;
	for (i = 0; rc == STORE_OK && i < a->n; i++) {
		m = NULL;
		if ((rc = outbox_get(t, a->ids[i], &m, 0)) == STORE_NOTFOUND) {
			rc = STORE_OK;
			continue;
		}
		if (rc == STORE_OK && (outbox_state_of(m) == OUTBOX_DELIVERED ||
		    outbox_state_of(m) == OUTBOX_DEAD))
			rc = retention_ended(t, a->ids[i], m);
		json_object_put(m);
	}
	if (rc != STORE_OK)
		return rc;
	if (a->n > 0)
		snprintf(a->last, sizeof(a->last), "%s", a->ids[a->n - 1]);
	if (a->done)
		rc = store_put(t, SDB_META, RETENTION_INDEXED,
		    strlen(RETENTION_INDEXED), "1", 1);
	return rc;
}

int
retention_index(struct store *s, char *cursor, size_t max)
{
	struct ret_index	a;
	int			rc;

	memset(&a, 0, sizeof(a));
	a.from = cursor;
	a.max = max;
	if ((a.ids = calloc(max ? max : 1, sizeof(*a.ids))) == NULL)
		return STORE_ERR;
	rc = store_txn(s, ret_index_body, &a);
	free(a.ids);
	if (rc != STORE_OK)
		return rc;
	memcpy(cursor, a.last, WEBHOOK_ID_MAX);
	return a.done;
}

struct ret_due {
	int64_t			 before;
	struct retention_item	*items;
	size_t			 max, n;
	int64_t			 next;
};

static int
ret_due_body(struct store_txn *t, void *arg)
{
	struct ret_due		*a = arg;
	struct retention_item	*ri;
	struct store_iter	*it;
	const unsigned char	*k;
	const void		*key;
	const char		*val;
	size_t			 klen, len;
	int64_t			 ended;
	int			 rc, r;

	a->n = 0;
	a->next = INT64_MAX;
	if ((rc = store_iter_open(t, SDB_ENDED, NULL, 0, &it)) != STORE_OK)
		return rc;
	while (a->n < a->max &&
	    (rc = store_iter_next(it, &key, &klen, &val, &len)) == STORE_OK) {
		if (klen <= 8 || klen > RETENTION_KEY_MAX)
			continue;	/* not ours */
		k = key;
		ended = (int64_t)hex_be64_get(k);
		if (ended > a->before) {
			a->next = ended;
			break;
		}
		ri = &a->items[a->n++];
		memcpy(ri->ri_key, key, klen);
		ri->ri_klen = klen;
		ri->ri_ended = ended;
		memcpy(ri->ri_skey, k + 8, klen - 8);
		ri->ri_sklen = klen - 8;
	}
	if (rc == STORE_NOTFOUND)
		rc = STORE_OK;
	if ((r = store_iter_close(it)) != STORE_OK && rc == STORE_OK)
		rc = r;
	return rc;
}

int
retention_due(struct store *s, int64_t before, struct retention_item *items,
    size_t max, size_t *n, int64_t *next)
{
	struct ret_due	a = { before, items, max, 0, INT64_MAX };
	int		rc;

	rc = store_txn(s, ret_due_body, &a);
	*n = rc == STORE_OK ? a.n : 0;
	*next = a.next;
	return rc;
}

/* A job of the study, as read before it is deleted. */
struct ret_job {
	char	*key;
	size_t	 klen;
	char	 id[JOB_ID_LEN + 1];
	int64_t	 deadline;	/* SENT: its timeout item's due time */
};

struct ret_arg {
	const struct retention_item	*it;
	int64_t				 before;
	size_t				 max;		/* records, this txn */
	size_t				 deleted;	/* out */
	int				 go;		/* out: still to remove */
	struct retention_removed	*rr;
	struct ret_job			*jobs;		/* RETENTION_BATCH */
	size_t				 njobs;
};

static void
ret_jobs_free(struct ret_arg *a)
{
	size_t i;

	for (i = 0; i < a->njobs; i++)
		free(a->jobs[i].key);
	a->njobs = 0;
}

/* Whether the entry's study is to be removed now: 1, 0 when it has not
 * ended (or is gone), 2 when it ended after a->before (*ended), or a store
 * code; the study in *study (or NULL). */
static int
ret_check(struct store_txn *t, struct ret_arg *a, json_object **study,
    int64_t *ended)
{
	int rc;

	*study = NULL;
	if ((rc = store_get_json(t, SDB_STUDIES, a->it->ri_skey,
	    a->it->ri_sklen, study, STORE_RMW)) == STORE_NOTFOUND)
		return 0;
	if (rc != STORE_OK)
		return rc;
	if ((rc = ret_study_ended(t, *study, ended)) != 1)
		return rc;
	return *ended <= a->before ? 1 : 2;
}

/* Reads up to a->max jobs of the study (any run) into a->jobs. */
static int
ret_jobs_read(struct store_txn *t, struct ret_arg *a)
{
	struct store_iter	*it;
	struct ret_job		*j;
	char			 prefix[STUDY_KEY_MAX + 1];
	const void		*key;
	const char		*val;
	size_t			 klen, len;
	json_object		*rec;
	int			 rc, r;

	/* "study key NUL": no other study's key goes on with a NUL there */
	memcpy(prefix, a->it->ri_skey, a->it->ri_sklen);
	prefix[a->it->ri_sklen] = '\0';
	if ((rc = store_iter_open(t, SDB_JOBS, prefix, a->it->ri_sklen + 1,
	    &it)) != STORE_OK)
		return rc;
	while (a->njobs < a->max &&
	    (rc = store_iter_next(it, &key, &klen, &val, &len)) == STORE_OK) {
		j = &a->jobs[a->njobs];
		memset(j, 0, sizeof(*j));
		if ((j->key = malloc(klen)) == NULL) {
			rc = STORE_ERR;
			break;
		}
		memcpy(j->key, key, klen);
		j->klen = klen;
		a->njobs++;
		if ((rec = store_json(val, len)) == NULL)
			continue;
		if (ret_str(rec, "id") != NULL &&
		    strlen(ret_str(rec, "id")) == JOB_ID_LEN)
			memcpy(j->id, ret_str(rec, "id"), JOB_ID_LEN + 1);
		if (job_state_of(rec) == JOB_SENT)
			j->deadline = rec_int(rec, "deadline");
		json_object_put(rec);
	}
	if (rc == STORE_NOTFOUND)
		rc = STORE_OK;
	if ((r = store_iter_close(it)) != STORE_OK && rc == STORE_OK)
		rc = r;
	return rc;
}

/* STORE_OK for a record that is gone already. */
static int
ret_del(struct store_txn *t, enum store_db db, const void *key, size_t klen)
{
	int rc = store_del(t, db, key, klen);

	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

static int
ret_jobs_body(struct store_txn *t, void *arg)
{
	struct ret_arg	*a = arg;
	struct ret_job	*j;
	json_object	*study;
	int64_t		 ended;
	size_t		 i;
	int		 rc;

	ret_jobs_free(a);
	a->deleted = 0;
	a->go = 0;
	rc = ret_check(t, a, &study, &ended);
	json_object_put(study);
	if (rc != 1)
		return rc < 0 ? rc : STORE_OK;
	a->go = 1;
	if ((rc = ret_jobs_read(t, a)) != STORE_OK)
		return rc;
	for (i = 0; i < a->njobs; i++) {
		j = &a->jobs[i];
		if (j->id[0] != '\0' &&
		    ((rc = ret_del(t, SDB_JOBIDX, j->id, JOB_ID_LEN)) != 0 ||
		    (rc = ret_del(t, SDB_WAITING, j->id, JOB_ID_LEN)) != 0))
			return rc;
		if (j->id[0] != '\0' && j->deadline > 0 &&
		    (rc = queue_del(t, j->deadline, QK_TIMEOUT, j->id,
		    JOB_ID_LEN)) != STORE_OK && rc != STORE_NOTFOUND)
			return rc;
		if ((rc = ret_del(t, SDB_JOBS, j->key, j->klen)) != STORE_OK)
			return rc;
		a->deleted++;
	}
	return STORE_OK;
}

/* The study's callbacks: the last one, and those before it. */
static int
ret_del_messages(struct store_txn *t, json_object *study, size_t *deleted)
{
	json_object	*m;
	const char	*after;
	char		 id[WEBHOOK_ID_MAX];
	int		 n, rc;

	if ((after = ret_str(study, "lastMessage")) == NULL)
		return STORE_OK;
	snprintf(id, sizeof(id), "%s", after);
	for (n = 0; n < RETENTION_CHAIN_MAX && id[0] != '\0'; n++) {
		if ((rc = outbox_get(t, id, &m, STORE_RMW)) == STORE_NOTFOUND)
			break;
		if (rc != STORE_OK)
			return rc;
		/* a dead letter leaves the namespace's gauge (metrics.h) */
		if (outbox_state_of(m) == OUTBOX_DEAD &&
		    ret_str(m, "ns") != NULL && (rc = metrics_dead_add(t,
		    ret_str(m, "ns"), id, -1)) != STORE_OK) {
			json_object_put(m);
			return rc;
		}
		rc = store_del(t, SDB_OUTBOX, id, strlen(id));
		after = ret_str(m, "after");
		snprintf(id, sizeof(id), "%s", after != NULL ? after : "");
		json_object_put(m);
		if (rc != STORE_OK)
			return rc;
		(*deleted)++;
	}
	return STORE_OK;
}

static int
ret_final_body(struct store_txn *t, void *arg)
{
	struct ret_arg			*a = arg;
	const struct retention_item	*it = a->it;
	struct retention_removed	*rr = a->rr;
	struct study_rec		 sr;
	json_object			*study;
	char				 buf[STUDY_KEY_MAX + 1];
	const char			*ns, *uid;
	int64_t				 ended = 0;
	int				 rc, type, state;

	ret_jobs_free(a);
	a->deleted = 0;
	rr->rr_outcome = RETENTION_KEPT;
	if ((rc = ret_check(t, a, &study, &ended)) < 0)
		goto out;
	if ((state = rc) != 1 || study_key_parse(it->ri_skey, it->ri_sklen,
	    buf, &ns, &type, &uid) == -1) {
		/* not ended (or not any more): the entry goes, and comes back
		 * when the study ends; ended later: it moves to that time */
		if ((rc = ret_del(t, SDB_ENDED, it->ri_key, it->ri_klen)) ==
		    STORE_OK && state == 2) {
			rc = ret_put(t, ended, it->ri_skey, it->ri_sklen);
			rr->rr_outcome = RETENTION_LATER;
		}
		goto out;
	}
	/* a job written since the last batch (cannot be, as the study has
	 * ended; but then it would outlive its study): back to the batches */
	a->max = 1;
	if ((rc = ret_jobs_read(t, a)) != STORE_OK)
		goto out;
	if (a->njobs > 0) {
		rr->rr_outcome = RETENTION_MORE;
		goto out;
	}
	if ((rc = ret_del_messages(t, study, &a->deleted)) != STORE_OK ||
	    (rc = ret_del(t, SDB_RESULTS, it->ri_skey, it->ri_sklen)) != 0 ||
	    (rc = ret_del(t, SDB_ANSWERS, it->ri_skey, it->ri_sklen)) != 0 ||
	    (rc = store_del(t, SDB_STUDIES, it->ri_skey, it->ri_sklen)) != 0 ||
	    (rc = ret_del(t, SDB_ENDED, it->ri_key, it->ri_klen)) != 0)
		goto out;
	/* and from the operations index and the metrics' counts (ops.h) */
	if (study_rec_decode(&sr, json_object_get(study)) == -1) {
		rc = STORE_ERR;
		goto out;
	}
	rc = ops_index_move(t, ns, type, uid, ops_submitted(&sr), -1);
	if (rc == STORE_OK)
		rc = metrics_study_move(t, it->ri_skey, it->ri_sklen,
		    sr.sr_state, STUDY__MAX);
	study_rec_free(&sr);
	if (rc != STORE_OK)
		goto out;
	a->deleted += 3;
	rr->rr_outcome = RETENTION_REMOVED;
	snprintf(rr->rr_ns, sizeof(rr->rr_ns), "%s", ns);
	rr->rr_type = type;
	snprintf(rr->rr_uid, sizeof(rr->rr_uid), "%s", uid);
	rr->rr_ended = ended;
out:
	json_object_put(study);
	return rc;
}

int
retention_remove(struct store *s, const struct retention_item *it,
    int64_t before, size_t *budget, struct retention_removed *rr)
{
	struct ret_job	 jobs[RETENTION_BATCH];
	struct ret_arg	 a;
	int		 rc;

	memset(rr, 0, sizeof(*rr));
	memset(&a, 0, sizeof(a));
	a.it = it;
	a.before = before;
	a.rr = rr;
	a.jobs = jobs;
	for (;;) {
		if (*budget == 0) {
			rr->rr_outcome = RETENTION_MORE;
			return STORE_OK;
		}
		a.max = *budget < RETENTION_BATCH ? *budget : RETENTION_BATCH;
		/*
		 * Not flushed: lost in a crash, the jobs are there again
		 * and so is the entry, and the sweep deletes them again.
		 * The last transaction, durable, takes these to the disk.
		 */
		rc = store_txn_nosync(s, ret_jobs_body, &a);
		ret_jobs_free(&a);
		if (rc != STORE_OK)
			return rc;
		*budget -= a.deleted;
		rr->rr_records += a.deleted;
		if (!a.go || a.deleted < a.max)
			break;
	}
	rc = store_txn(s, ret_final_body, &a);
	ret_jobs_free(&a);
	if (rc != STORE_OK)
		return rc;
	*budget -= a.deleted < *budget ? a.deleted : *budget;
	rr->rr_records += a.deleted;
	return STORE_OK;
}
