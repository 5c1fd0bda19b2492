/* study.c -- study records, their keys and the work queue */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "crypto.h"
#include "limit.h"
#include "metrics.h"
#include "ops.h"
#include "outbox.h"
#include "result.h"
#include "queue.h"
#include "store.h"
#include "study.h"

#define STUDY_RECORD_VERSION	1
#define STUDY_AAD		"mias study credentials\n"

/* The seal binds the credentials to one run of one study. */
static int
study_aad(char *out, size_t outlen, const char *key, size_t klen, int64_t run)
{
	int n = snprintf(out, outlen, "%s%lld\n", STUDY_AAD, (long long)run);

	if (n < 0 || (size_t)n + klen > outlen)
		return -1;
	memcpy(out + n, key, klen);
	return n + (int)klen;
}

/*
 * The sealed plaintext is "ak NUL sk NUL sts" (the fields are printable
 * text, so NUL cannot occur in them), built in one buffer of exact size
 * that is wiped: no library keeps copies of the secrets behind our back.
 */
static json_object *
study_seal(const struct crypto_keys *k, const struct study_creds *c,
    const char *key, size_t klen, int64_t run)
{
	json_object	*out = NULL;
	const char	*sts = c->sc_sts ? c->sc_sts : "";
	unsigned char	*plain = NULL, *sealed = NULL;
	char		*b64 = NULL, aad[STUDY_KEY_MAX + 64];
	size_t		 al = strlen(c->sc_ak), sl = strlen(c->sc_sk);
	size_t		 tl = strlen(sts), len = al + 1 + sl + 1 + tl;
	int		 aadlen;

	if ((aadlen = study_aad(aad, sizeof(aad), key, klen, run)) < 0 ||
	    (plain = malloc(len)) == NULL ||
	    (sealed = malloc(len + CRYPTO_SEAL_OVERHEAD)) == NULL ||
	    (b64 = malloc(2 * (len + CRYPTO_SEAL_OVERHEAD) + 4)) == NULL)
		goto out;
	memcpy(plain, c->sc_ak, al + 1);
	memcpy(plain + al + 1, c->sc_sk, sl + 1);
	memcpy(plain + al + 1 + sl + 1, sts, tl);
	if (crypto_seal(k, aad, (size_t)aadlen, plain, len, sealed) == -1)
		goto out;
	crypto_b64_encode(sealed, len + CRYPTO_SEAL_OVERHEAD, b64);
	out = json_object_new_string(b64);
out:
	if (plain != NULL) {
		crypto_wipe(plain, len);
		free(plain);
	}
	free(sealed);
	free(b64);
	return out;
}

/* A new study's first fields (its run 0, made run 1 by study_new_run). */
static void
study_record_new(struct study_rec *rec, const struct study_submit *ss,
    int64_t now)
{
	rec->sr_v = STUDY_RECORD_VERSION;
	rec->sr_ns = ss->ss_ns;
	rec->sr_uid = ss->ss_uid;
	rec->sr_type = ss->ss_type;
	rec->sr_created = now;
	rec->sr_run = 0;
	rec->r_has = (1u << (SF_RUN + 1)) - 1;	/* v .. run */
}

/* Fill rec for a new run: QUEUED, request fields, sealed credentials. */
static int
study_new_run(struct study_rec *rec, const struct crypto_keys *k,
    const struct study_submit *ss, const char *key, size_t klen, int64_t now)
{
	static const enum study_field set[] = {
		SF_RUN, SF_STATE, SF_UPDATED, SF_QUEUED, SF_CALLBACK,
		SF_ENDPOINT, SF_BUCKET, SF_KEY, SF_CREDS, SF_IMAGES_TOTAL,
		SF_IMAGES_DONE, SF_IMAGES_FAILED, SF_ERROR_CODE, SF_ERROR_MSG
	};
	json_object	*sealed;
	size_t		 i;
	int		 rc = -1;

	if ((sealed = study_seal(k, &ss->ss_creds, key, klen,
	    rec->sr_run + 1)) == NULL)
		return -1;
	if (ss->ss_image_uid != NULL) {
		/* the engine by its section's name, which a reload that
		 * adds or moves sections does not change (lib/conf.h); a
		 * push job run again has them at the end of its record */
		REC_DROP(rec, SF_ENGINE);
		REC_DROP(rec, SF_ANALYSIS);
		if (study_rec_encode(rec) == NULL)
			goto out;
		rec->sr_push = 1;
		rec->sr_image_uid = ss->ss_image_uid;
		REC_SET(rec, SF_PUSH);
		REC_SET(rec, SF_IMAGE_UID);
		if ((rec->sr_engine = ss->ss_engine) != NULL)
			REC_SET(rec, SF_ENGINE);
		if ((rec->sr_analysis = ss->ss_analysis) != NULL)
			REC_SET(rec, SF_ANALYSIS);
	}
	rec->sr_run++;
	rec->sr_state = STUDY_QUEUED;
	rec->sr_updated = rec->sr_queued = now;
	rec->sr_callback = ss->ss_callback;
	rec->sr_endpoint = ss->ss_endpoint;
	rec->sr_bucket = ss->ss_bucket;
	rec->sr_key = ss->ss_key;
	rec->sr_creds = json_object_get_string(sealed);
	rec->sr_images_total = rec->sr_images_done = 0;
	rec->sr_images_failed = 0;
	rec->sr_error_code = rec->sr_error_msg = NULL;
	for (i = 0; i < sizeof(set) / sizeof(set[0]); i++)
		REC_SET(rec, set[i]);
	if (study_rec_encode(rec) != NULL)
		rc = 0;
out:
	json_object_put(sealed);
	return rc;
}

int64_t
study_due(const struct study_rec *study, int64_t now)
{
	int64_t q = study->sr_queued;

	if (!REC_HAS(study, SF_QUEUED))
		return now;
	return q > 0 && q < now ? q : now;
}

int
study_get(struct store_txn *t, const char *skey, size_t sklen,
    struct study_rec *study, int rmw)
{
	json_object	*o = NULL;
	int		 rc;

	memset(study, 0, sizeof(*study));
	if ((rc = store_get_json(t, SDB_STUDIES, skey, sklen, &o, rmw)) !=
	    STORE_OK)
		return rc;
	return study_rec_decode(study, o) == 0 ? STORE_OK : STORE_ERR;
}

int
study_put(struct store_txn *t, const char *skey, size_t sklen,
    struct study_rec *study)
{
	json_object *o = study_rec_encode(study);

	return o != NULL ? store_put_json(t, SDB_STUDIES, skey, sklen, o) :
	    STORE_ERR;
}

int
study_queue_listing(struct store_txn *t, const char *skey, size_t sklen,
    int64_t run, int64_t due)
{
	json_object	*item;
	char		 qid[STUDY_KEY_MAX + 24];
	size_t		 qlen = queue_run_id(qid, skey, sklen, run);
	int		 rc;

	if ((item = json_object_new_object()) == NULL)
		return STORE_ERR;
	json_object_object_add(item, "kind", json_object_new_string("study"));
	json_object_object_add(item, "run", json_object_new_int64(run));
	rc = queue_put(t, due, QK_STUDY, qid, qlen, item);
	json_object_put(item);
	return rc;
}

int
study_assembly_due(struct store_txn *t, const char *skey, size_t sklen,
    const struct study_rec *study, int64_t now)
{
	char	qid[STUDY_KEY_MAX + 24];
	size_t	qlen;

	if (!study->sr_listed || study->sr_images_done +
	    study->sr_images_failed < study->sr_images_total)
		return STORE_OK;
	qlen = queue_run_id(qid, skey, sklen, study->sr_run);
	return queue_put(t, study_due(study, now), QK_ASSEMBLE, qid, qlen,
	    NULL);
}

int
study_submit(struct store_txn *t, const struct crypto_keys *k,
    const struct study_submit *ss, enum study_outcome *outcome)
{
	struct study_rec	 rec;
	char			 key[STUDY_KEY_MAX];
	enum study_state	 st;
	size_t			 klen;
	int64_t			 now = store_now_ms(), old_ms;
	int			 rc;

	klen = study_key(key, ss->ss_ns, ss->ss_type, ss->ss_uid);
	rc = study_get(t, key, klen, &rec, 1);
	if (rc == STORE_NOTFOUND) {
		if (study_rec_new(&rec) == -1)
			return STORE_ERR;
		study_record_new(&rec, ss, now);
		*outcome = STUDY_NEW;
		st = STUDY__MAX;
		old_ms = -1;
	} else if (rc != STORE_OK)
		return rc;
	else {
		st = rec.sr_state;
		/*
		 * Queued or running: the run under way will finish; a second
		 * one would race it.  Done: only forceAnalysis (the images
		 * changed) starts again.  Failed: a resubmission is how a
		 * caller retries, so it runs again.
		 */
		if (st == STUDY_QUEUED || st == STUDY_RUNNING ||
		    (st == STUDY_DONE && !ss->ss_force)) {
			study_rec_free(&rec);
			*outcome = STUDY_UNCHANGED;
			return STORE_OK;
		}
		*outcome = STUDY_RERUN;
		old_ms = ops_submitted(&rec);
	}
	rc = STORE_ERR;
	if (study_new_run(&rec, k, ss, key, klen, now) == -1)
		goto out;
	if ((rc = study_put(t, key, klen, &rec)) != STORE_OK)
		goto out;
	/* listAnalyses's index moves with the record */
	if ((rc = ops_index_move(t, ss->ss_ns, ss->ss_type, ss->ss_uid, old_ms,
	    ops_submitted(&rec))) != STORE_OK)
		goto out;
	if ((rc = study_queue_listing(t, key, klen, rec.sr_run, now)) !=
	    STORE_OK)
		goto out;
	/*
	 * The counters last: they share one page of counters.db with every
	 * other namespace's, and its write lock is held to the commit, so
	 * every submission (and the dispatcher's moves) waits for the one
	 * holding it (bench/ row 2b, doc/PERFORMANCE.md).
	 */
	if ((rc = metrics_study_move(t, key, klen, st, STUDY_QUEUED)) !=
	    STORE_OK)
		goto out;
	rc = limit_active_add(t, ss->ss_ns, 1);
out:
	study_rec_free(&rec);
	return rc;
}

struct submit_arg {
	const struct crypto_keys	*keys;
	const struct study_submit	*ss;
	enum study_outcome		*outcome;
};

static int
submit_body(struct store_txn *t, void *arg)
{
	struct submit_arg *a = arg;

	return study_submit(t, a->keys, a->ss, a->outcome);
}

int
study_submit_txn(struct store *s, const struct crypto_keys *k,
    const struct study_submit *ss, enum study_outcome *outcome)
{
	struct submit_arg a = { k, ss, outcome };

	return store_txn(s, submit_body, &a);
}

int
study_creds_open(const struct study_rec *rec, const struct crypto_keys *k,
    const char *key, size_t klen, struct study_creds *c)
{
	unsigned char	*sealed = NULL, *plain = NULL;
	char		 aad[STUDY_KEY_MAX + 64];
	const char	*b64, *p, *end;
	size_t		 cap, len;
	long		 n;
	int		 aadlen, rc = -1;

	memset(c, 0, sizeof(*c));
	if ((b64 = rec->sr_creds) == NULL)
		return -1;
	cap = strlen(b64) / 4 * 3 + 3;
	if ((sealed = malloc(cap)) == NULL || (plain = malloc(cap + 1)) == NULL)
		goto out;
	n = crypto_b64_decode(b64, sealed, cap);
	if (n < CRYPTO_SEAL_OVERHEAD || (aadlen = study_aad(aad, sizeof(aad),
	    key, klen, rec->sr_run)) < 0)
		goto out;
	if (crypto_open(k, aad, (size_t)aadlen, sealed, (size_t)n, plain) == -1)
		goto out;
	len = (size_t)n - CRYPTO_SEAL_OVERHEAD;
	plain[len] = '\0';
	p = (const char *)plain;
	end = p + len;
	/* ak NUL sk NUL sts */
	if ((c->sc_ak = strdup(p)) == NULL)
		goto fail;
	p += strlen(p) + 1;
	if (p > end || (c->sc_sk = strdup(p)) == NULL)
		goto fail;
	p += strlen(p) + 1;
	if (p > end || (c->sc_sts = strndup(p, (size_t)(end - p))) == NULL)
		goto fail;
	rc = 0;
	goto out;
fail:
	study_creds_wipe(c);
out:
	if (plain != NULL) {
		crypto_wipe(plain, cap + 1);
		free(plain);
	}
	free(sealed);
	return rc;
}

static void
study_wipe_str(char **s)
{
	if (*s != NULL) {
		crypto_wipe(*s, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

void
study_creds_wipe(struct study_creds *c)
{
	study_wipe_str(&c->sc_ak);
	study_wipe_str(&c->sc_sk);
	study_wipe_str(&c->sc_sts);
}

static json_object *
study_status_body(const struct study_rec *study, const char *code,
    const char *msg)
{
	json_object *b = json_object_new_object();

	if (b == NULL)
		return NULL;
	json_object_object_add(b, "studyInstanceUid", study->sr_uid != NULL ?
	    json_object_new_string(study->sr_uid) : NULL);
	json_object_object_add(b, "studyType", REC_HAS(study, SF_TYPE) ?
	    json_object_new_int(study->sr_type) : NULL);
	json_object_object_add(b, "status", json_object_new_int(code ? -1 : 0));
	json_object_object_add(b, "errorCode",
	    code ? json_object_new_string(code) : NULL);
	json_object_object_add(b, "errorMessage",
	    code ? json_object_new_string(msg ? msg : "") : NULL);
	return b;
}

json_object *
study_push_body(json_object *study, json_object *data, const char *code,
    const char *msg)
{
	json_object	*b = json_object_new_object(), *v, *list, *out, *item;
	json_object	*e, *x;
	size_t		 i;
	int		 type;

	if (b == NULL)
		return NULL;
	json_object_object_get_ex(study, "studyType", &v);
	type = json_object_get_int(v);
	json_object_object_add(b, "returnCode",
	    json_object_new_string(code ? "100006" : "000000"));
	json_object_object_add(b, "returnMessage", json_object_new_string(
	    code ? (msg ? msg : code) : "OK"));
	if (code != NULL)
		json_object_object_add(b, "errorCode",
		    json_object_new_string(code));
	json_object_object_get_ex(study, "ns", &v);
	json_object_object_add(b, "namespace", json_object_get(v));
	json_object_object_get_ex(study, "imageUid", &v);
	json_object_object_add(b, "ImageUid", json_object_get(v));
	out = json_object_new_array();
	if (data != NULL && json_object_object_get_ex(data,
	    result_list_name(type), &list))
		for (i = 0; i < json_object_array_length(list); i++) {
			item = json_object_array_get_idx(list, i);
			if (type != 4) {
				e = json_object_new_object();
				json_object_object_foreach(item, k, val)
					if (strcmp(k, "credibility") != 0)
						json_object_object_add(e, k,
						    json_object_get(val));
			} else {
				e = json_object_new_object();
				json_object_object_get_ex(item, "boxUid", &x);
				json_object_object_add(e, "BoxUid",
				    json_object_get(x));
				json_object_object_get_ex(item, "coordinates",
				    &x);
				json_object_object_add(e, "Coordinates",
				    json_object_get(x));
				json_object_object_get_ex(item, "class", &x);
				json_object_object_add(e, "Class",
				    json_object_get(x));
				if (json_object_object_get_ex(item, "imageKey",
				    &x))
					json_object_object_add(e, "imageKey",
					    json_object_get(x));
			}
			json_object_array_add(out, e);
		}
	/* Boxes is present (maybe empty) in every result, as API.md 6. says;
	 * the other types' list only for its type */
	if (type == 4)
		json_object_object_add(b, "Boxes", out);
	else {
		json_object_object_add(b, "Boxes", json_object_new_array());
		json_object_object_add(b, result_engine_list_name(type), out);
	}
	return b;
}

/*
 * The end of a run, as final state fin (DONE, FAILED, CANCELLED): its
 * result, the callback, the record.  code NULL only for DONE.
 */
static int
study_end(struct store_txn *t, const char *skey, size_t sklen,
    int64_t run, json_object *data, const char *code, const char *msg,
    int64_t now, enum study_state fin)
{
	struct study_rec	 study;
	struct result_rec	 res;
	json_object		*o = NULL, *body = NULL;
	enum study_state	 st;
	char			 id[WEBHOOK_ID_MAX];
	int			 rc;

	memset(&res, 0, sizeof(res));
	if ((rc = study_get(t, skey, sklen, &study, 1)) != STORE_OK)
		goto out;
	st = study.sr_state;
	if (!REC_HAS(&study, SF_RUN) || study.sr_run != run ||
	    (st != STUDY_QUEUED && st != STUDY_RUNNING)) {
		rc = STORE_OK;		/* ended already, or replaced */
		goto out;
	}
	rc = STORE_ERR;
	if (data == NULL) {
		/* failed before any image: every list present and empty */
		if (study.sr_uid == NULL || (data = result_data_new(
		    study.sr_uid, study.sr_type)) == NULL)
			goto out;
		if (study.sr_type == 4)
			json_object_object_add(data, "boxDataList",
			    json_object_new_array());
	}
	if (result_rec_new(&res) == -1)
		goto out;
	res.rr_v = 1;
	res.rr_run = run;
	res.rr_state = fin;
	res.rr_error_code = code;
	res.rr_error_msg = code ? (msg ? msg : "") : NULL;
	res.rr_finished = now;
	res.rr_data = data;
	res.r_has = (1u << RF_FEEDBACK) - 1;	/* every field but feedback */
	o = result_rec_encode(&res);
	json_object_put(data);
	data = NULL;
	if (o == NULL || (rc = answer_put_result(t, skey, sklen, o)) !=
	    STORE_OK)
		goto out;

	rc = STORE_ERR;
	if (study.sr_push)
		body = study_push_body(study.r_obj, res.rr_data, code, msg);
	else
		body = study_status_body(&study, code, msg);
	if (body == NULL || study.sr_ns == NULL || study.sr_callback == NULL ||
	    !REC_HAS(&study, SF_TYPE) || study.sr_uid == NULL)
		goto out;
	if ((rc = outbox_add(t, study.sr_ns, study.sr_type, study.sr_uid,
	    study.sr_push ? OUTBOX_RESULT : OUTBOX_STATUS, study.sr_callback,
	    json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE), study.sr_last_message, now,
	    study_due(&study, now), id)) != STORE_OK)
		goto out;

	study.sr_state = fin;
	study.sr_error_code = code;
	study.sr_error_msg = code ? (msg ? msg : "") : NULL;
	study.sr_finished = now;
	study.sr_updated = now;
	study.sr_last_message = id;
	REC_SET(&study, SF_STATE);
	REC_SET(&study, SF_ERROR_CODE);
	REC_SET(&study, SF_ERROR_MSG);
	REC_SET(&study, SF_FINISHED);
	REC_SET(&study, SF_UPDATED);
	REC_SET(&study, SF_LAST_MESSAGE);
	/* the credentials are needed no more: forget them */
	REC_DROP(&study, SF_CREDS);
	if ((rc = study_put(t, skey, sklen, &study)) == STORE_OK &&
	    (rc = limit_active_add(t, study.sr_ns, -1)) == STORE_OK)
		rc = metrics_study_move(t, skey, sklen, st, fin);
out:
	json_object_put(data);
	json_object_put(body);
	result_rec_free(&res);
	study_rec_free(&study);
	return rc;
}

int
study_start(struct store_txn *t, const char *skey, size_t sklen,
    struct study_rec *study, int64_t now)
{
	int rc;

	study->sr_state = STUDY_RUNNING;
	study->sr_started = now;
	study->sr_updated = now;
	study->sr_listed = 0;
	REC_SET(study, SF_STARTED);
	REC_SET(study, SF_UPDATED);
	REC_SET(study, SF_LISTED);
	if ((rc = study_put(t, skey, sklen, study)) != STORE_OK)
		return rc;
	return metrics_study_move(t, skey, sklen, STUDY_QUEUED,
	    STUDY_RUNNING);
}

int
study_listed(struct store_txn *t, const char *skey, size_t sklen,
    int64_t run, uint64_t total, int64_t now)
{
	struct study_rec	 study;
	int			 rc;

	if ((rc = study_get(t, skey, sklen, &study, 1)) != STORE_OK)
		goto out;
	if (!REC_HAS(&study, SF_RUN) || study.sr_run != run)
		goto out;	/* replaced */
	switch (study.sr_state) {
	case STUDY_RUNNING:
		break;
	case STUDY_QUEUED:
		rc = STORE_STALE;
		goto out;
	default:
		goto out;	/* ended meanwhile */
	}
	study.sr_listed = 1;
	study.sr_images_total = (int64_t)total;
	study.sr_updated = now;
	REC_SET(&study, SF_LISTED);
	REC_SET(&study, SF_IMAGES_TOTAL);
	REC_SET(&study, SF_UPDATED);
	/* every image may have finished while the listing went on */
	if ((rc = study_put(t, skey, sklen, &study)) == STORE_OK)
		rc = study_assembly_due(t, skey, sklen, &study, now);
out:
	study_rec_free(&study);
	return rc;
}

int
study_conclude(struct store_txn *t, const char *skey, size_t sklen,
    int64_t run, json_object *data, const char *code, const char *msg,
    int64_t now)
{
	return study_end(t, skey, sklen, run, data, code, msg, now,
	    code != NULL ? STUDY_FAILED : STUDY_DONE);
}

int
study_cancel(struct store_txn *t, const char *skey, size_t sklen,
    int64_t now)
{
	struct study_rec	 study;
	enum study_state	 st;
	int64_t			 run;
	int			 rc;

	if ((rc = study_get(t, skey, sklen, &study, 1)) != STORE_OK)
		return rc;
	st = study.sr_state;
	run = study.sr_run;
	study_rec_free(&study);
	if (st != STUDY_QUEUED && st != STUDY_RUNNING)
		return STUDY_CANCEL_FINAL;
	/* the dispatcher drops the run's items as it meets them: each finds
	 * the study no longer QUEUED or RUNNING (dispatcher/engine.c,
	 * dispatcher/assemble.c), and job_finish counts nothing into it */
	return study_end(t, skey, sklen, run, NULL,
	    fail_code_name(FAIL_CANCELLED),
	    "cancelled by the caller", now, STUDY_CANCELLED);
}
