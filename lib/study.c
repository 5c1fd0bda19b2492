/* study.c -- study records, their keys and the work queue */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "crypto.h"
#include "job.h"
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

static const char *const study_state_names[STUDY__MAX] = {
	"QUEUED",
	"RUNNING",
	"DONE",
	"FAILED",
	"CANCELLED",
};

const char *
study_state_name(enum study_state s)
{
	return s < STUDY__MAX ? study_state_names[s] : "UNKNOWN";
}

enum study_state
study_state_parse(const char *s)
{
	int i;

	for (i = 0; i < STUDY__MAX; i++)
		if (s != NULL && strcmp(s, study_state_names[i]) == 0)
			return (enum study_state)i;
	return STUDY__MAX;
}

size_t
study_key(char *out, const char *ns, int type, const char *uid)
{
	size_t	nl = strlen(ns), ul = strlen(uid);

	memcpy(out, ns, nl);
	out[nl] = '\0';
	out[nl + 1] = (char)('0' + type);
	out[nl + 2] = '\0';
	memcpy(out + nl + 3, uid, ul);
	return nl + 3 + ul;
}

int
study_key_parse(const char *key, size_t klen, char *buf, const char **ns,
    int *type, const char **uid)
{
	size_t nl;

	if (klen > STUDY_KEY_MAX)
		return -1;
	memcpy(buf, key, klen);
	buf[klen] = '\0';
	nl = strlen(buf);
	if (nl + 3 > klen || buf[nl + 1] < '1' || buf[nl + 1] > '4' ||
	    buf[nl + 2] != '\0')
		return -1;
	*ns = buf;
	*type = buf[nl + 1] - '0';
	*uid = buf + nl + 3;
	return 0;
}

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

static json_object *
study_record_new(const struct study_submit *ss, int64_t now)
{
	json_object *rec = json_object_new_object();

	if (rec == NULL)
		return NULL;
	json_object_object_add(rec, "v",
	    json_object_new_int(STUDY_RECORD_VERSION));
	json_object_object_add(rec, "ns", json_object_new_string(ss->ss_ns));
	json_object_object_add(rec, "studyInstanceUid",
	    json_object_new_string(ss->ss_uid));
	json_object_object_add(rec, "studyType",
	    json_object_new_int(ss->ss_type));
	json_object_object_add(rec, "created", json_object_new_int64(now));
	json_object_object_add(rec, "run", json_object_new_int64(0));
	return rec;
}

/* Fill rec for a new run: QUEUED, request fields, sealed credentials. */
static int
study_new_run(json_object *rec, const struct crypto_keys *k,
    const struct study_submit *ss, const char *key, size_t klen, int64_t now)
{
	json_object	*v, *sealed;
	int64_t		 run = 0;

	if (json_object_object_get_ex(rec, "run", &v))
		run = json_object_get_int64(v);
	run++;
	if ((sealed = study_seal(k, &ss->ss_creds, key, klen, run)) == NULL)
		return -1;
	json_object_object_add(rec, "run", json_object_new_int64(run));
	json_object_object_add(rec, "state",
	    json_object_new_string(study_state_name(STUDY_QUEUED)));
	json_object_object_add(rec, "updated", json_object_new_int64(now));
	json_object_object_add(rec, "queued", json_object_new_int64(now));
	json_object_object_add(rec, "callback",
	    json_object_new_string(ss->ss_callback));
	json_object_object_add(rec, "endpoint",
	    json_object_new_string(ss->ss_endpoint));
	json_object_object_add(rec, "bucket",
	    json_object_new_string(ss->ss_bucket));
	json_object_object_add(rec, "key", json_object_new_string(ss->ss_key));
	if (ss->ss_image_uid != NULL) {
		json_object_object_add(rec, "push", json_object_new_boolean(1));
		json_object_object_add(rec, "imageUid",
		    json_object_new_string(ss->ss_image_uid));
		/* the engine by its section's name, which a reload that
		 * adds or moves sections does not change (lib/conf.h) */
		json_object_object_del(rec, "engine");
		json_object_object_del(rec, "analysis");
		if (ss->ss_engine != NULL)
			json_object_object_add(rec, "engine",
			    json_object_new_string(ss->ss_engine));
		if (ss->ss_analysis != NULL)
			json_object_object_add(rec, "analysis",
			    json_object_new_string(ss->ss_analysis));
	}
	json_object_object_add(rec, "creds", sealed);
	json_object_object_add(rec, "imagesTotal", json_object_new_int(0));
	json_object_object_add(rec, "imagesDone", json_object_new_int(0));
	json_object_object_add(rec, "imagesFailed", json_object_new_int(0));
	json_object_object_add(rec, "errorCode", NULL);
	json_object_object_add(rec, "errorMessage", NULL);
	return 0;
}

int64_t
study_due(json_object *study, int64_t now)
{
	json_object	*v;
	int64_t		 q;

	if (study == NULL || !json_object_object_get_ex(study, "queued", &v))
		return now;
	q = json_object_get_int64(v);
	return q > 0 && q < now ? q : now;
}

int
study_submit(struct store_txn *t, const struct crypto_keys *k,
    const struct study_submit *ss, enum study_outcome *outcome)
{
	char			 key[STUDY_KEY_MAX];
	char			 qid[STUDY_KEY_MAX + 24];
	json_object		*rec = NULL, *v, *item = NULL;
	enum study_state	 st;
	size_t			 klen, qlen;
	int64_t			 now = store_now_ms(), old_ms;
	int			 rc;

	klen = study_key(key, ss->ss_ns, ss->ss_type, ss->ss_uid);
	rc = store_get_json(t, SDB_STUDIES, key, klen, &rec, 1);
	if (rc == STORE_NOTFOUND) {
		if ((rec = study_record_new(ss, now)) == NULL)
			return STORE_ERR;
		*outcome = STUDY_NEW;
		st = STUDY__MAX;
		old_ms = -1;
	} else if (rc != STORE_OK)
		return rc;
	else {
		st = json_object_object_get_ex(rec, "state", &v) ?
		    study_state_parse(json_object_get_string(v)) : STUDY__MAX;
		/*
		 * Queued or running: the run under way will finish; a second
		 * one would race it.  Done: only forceAnalysis (the images
		 * changed) starts again.  Failed: a resubmission is how a
		 * caller retries, so it runs again.
		 */
		if (st == STUDY_QUEUED || st == STUDY_RUNNING ||
		    (st == STUDY_DONE && !ss->ss_force)) {
			json_object_put(rec);
			*outcome = STUDY_UNCHANGED;
			return STORE_OK;
		}
		*outcome = STUDY_RERUN;
		old_ms = ops_submitted(rec);
	}
	rc = STORE_ERR;
	if (study_new_run(rec, k, ss, key, klen, now) == -1)
		goto out;
	if ((rc = store_put_json(t, SDB_STUDIES, key, klen, rec)) != STORE_OK)
		goto out;
	/* listAnalyses's index and the metrics move with the record */
	if ((rc = ops_index_move(t, ss->ss_ns, ss->ss_type, ss->ss_uid, old_ms,
	    ops_submitted(rec))) != STORE_OK)
		goto out;
	if ((item = json_object_new_object()) == NULL) {
		rc = STORE_ERR;
		goto out;
	}
	json_object_object_add(item, "kind", json_object_new_string("study"));
	json_object_object_get_ex(rec, "run", &v);
	json_object_object_add(item, "run", json_object_get(v));
	qlen = queue_run_id(qid, key, klen, json_object_get_int64(v));
	if ((rc = queue_put(t, now, QK_STUDY, qid, qlen, item)) != STORE_OK)
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
	json_object_put(item);
	json_object_put(rec);
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
study_creds_open(json_object *rec, const struct crypto_keys *k,
    const char *key, size_t klen, struct study_creds *c)
{
	json_object	*v;
	unsigned char	*sealed = NULL, *plain = NULL;
	char		 aad[STUDY_KEY_MAX + 64];
	const char	*b64, *p, *end;
	size_t		 cap, len;
	long		 n;
	int		 aadlen, rc = -1;

	memset(c, 0, sizeof(*c));
	if (!json_object_object_get_ex(rec, "creds", &v) ||
	    !json_object_is_type(v, json_type_string))
		return -1;
	b64 = json_object_get_string(v);
	cap = strlen(b64) / 4 * 3 + 3;
	if ((sealed = malloc(cap)) == NULL || (plain = malloc(cap + 1)) == NULL)
		goto out;
	n = crypto_b64_decode(b64, sealed, cap);
	json_object_object_get_ex(rec, "run", &v);
	if (n < CRYPTO_SEAL_OVERHEAD || (aadlen = study_aad(aad, sizeof(aad),
	    key, klen, json_object_get_int64(v))) < 0)
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
study_status_body(json_object *study, const char *code, const char *msg)
{
	json_object *b = json_object_new_object(), *v;

	if (b == NULL)
		return NULL;
	json_object_object_get_ex(study, "studyInstanceUid", &v);
	json_object_object_add(b, "studyInstanceUid", json_object_get(v));
	json_object_object_get_ex(study, "studyType", &v);
	json_object_object_add(b, "studyType", json_object_get(v));
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
	json_object		*study = NULL, *res = NULL, *body = NULL, *v, *ns;
	json_object		*url, *uid, *type;
	enum study_state	 st;
	char			 id[WEBHOOK_ID_MAX];
	const char		*after = NULL;
	int			 rc, push;

	if ((rc = store_get_json(t, SDB_STUDIES, skey, sklen, &study, 1)) !=
	    STORE_OK)
		goto out;
	st = json_object_object_get_ex(study, "state", &v) ?
	    study_state_parse(json_object_get_string(v)) : STUDY__MAX;
	if (!json_object_object_get_ex(study, "run", &v) ||
	    json_object_get_int64(v) != run ||
	    (st != STUDY_QUEUED && st != STUDY_RUNNING)) {
		rc = STORE_OK;		/* ended already, or replaced */
		goto out;
	}
	rc = STORE_ERR;
	if (data == NULL) {
		/* failed before any image: every list present and empty */
		json_object *u, *ty;

		if (!json_object_object_get_ex(study, "studyInstanceUid", &u) ||
		    !json_object_object_get_ex(study, "studyType", &ty) ||
		    (data = result_data_new(json_object_get_string(u),
		    json_object_get_int(ty))) == NULL)
			goto out;
		if (json_object_get_int(ty) == 4)
			json_object_object_add(data, "boxDataList",
			    json_object_new_array());
	}
	if ((res = json_object_new_object()) == NULL)
		goto out;
	json_object_object_add(res, "v", json_object_new_int(1));
	json_object_object_add(res, "run", json_object_new_int64(run));
	json_object_object_add(res, "state", json_object_new_string(
	    study_state_name(fin)));
	json_object_object_add(res, "errorCode",
	    code ? json_object_new_string(code) : NULL);
	json_object_object_add(res, "errorMessage",
	    code ? json_object_new_string(msg ? msg : "") : NULL);
	json_object_object_add(res, "finished", json_object_new_int64(now));
	json_object_object_add(res, "data", data);
	data = NULL;
	if ((rc = answer_put_result(t, skey, sklen, res)) != STORE_OK)
		goto out;

	rc = STORE_ERR;
	push = json_object_object_get_ex(study, "push", &v) &&
	    json_object_get_boolean(v);
	if (push) {
		json_object_object_get_ex(res, "data", &v);
		body = study_push_body(study, v, code, msg);
	} else
		body = study_status_body(study, code, msg);
	if (body == NULL ||
	    !json_object_object_get_ex(study, "ns", &ns) ||
	    !json_object_object_get_ex(study, "callback", &url) ||
	    !json_object_object_get_ex(study, "studyType", &type) ||
	    !json_object_object_get_ex(study, "studyInstanceUid", &uid))
		goto out;
	if (json_object_object_get_ex(study, "lastMessage", &v))
		after = json_object_get_string(v);
	if ((rc = outbox_add(t, json_object_get_string(ns),
	    json_object_get_int(type), json_object_get_string(uid),
	    push ? OUTBOX_RESULT : OUTBOX_STATUS,
	    json_object_get_string(url), json_object_to_json_string_ext(body,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), after,
	    now, study_due(study, now), id)) != STORE_OK)
		goto out;

	json_object_object_add(study, "state", json_object_new_string(
	    study_state_name(fin)));
	json_object_object_add(study, "errorCode",
	    code ? json_object_new_string(code) : NULL);
	json_object_object_add(study, "errorMessage",
	    code ? json_object_new_string(msg ? msg : "") : NULL);
	json_object_object_add(study, "finished", json_object_new_int64(now));
	json_object_object_add(study, "updated", json_object_new_int64(now));
	json_object_object_add(study, "lastMessage", json_object_new_string(id));
	/* the credentials are needed no more: forget them */
	json_object_object_del(study, "creds");
	if ((rc = store_put_json(t, SDB_STUDIES, skey, sklen, study)) ==
	    STORE_OK &&
	    (rc = limit_active_add(t, json_object_get_string(ns), -1)) ==
	    STORE_OK)
		rc = metrics_study_move(t, skey, sklen, st, fin);
out:
	json_object_put(data);
	json_object_put(res);
	json_object_put(body);
	json_object_put(study);
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
	json_object		*study = NULL, *v;
	enum study_state	 st;
	int64_t			 run;
	int			 rc;

	if ((rc = store_get_json(t, SDB_STUDIES, skey, sklen, &study, 1)) !=
	    STORE_OK)
		return rc;
	st = json_object_object_get_ex(study, "state", &v) ?
	    study_state_parse(json_object_get_string(v)) : STUDY__MAX;
	run = json_object_object_get_ex(study, "run", &v) ?
	    json_object_get_int64(v) : 0;
	json_object_put(study);
	if (st != STUDY_QUEUED && st != STUDY_RUNNING)
		return STUDY_CANCEL_FINAL;
	/* the dispatcher drops the run's items as it meets them: each finds
	 * the study no longer QUEUED or RUNNING (dispatcher/engine.c,
	 * dispatcher/study.c), and job_finish counts nothing into it */
	return study_end(t, skey, sklen, run, NULL, "CANCELLED",
	    "cancelled by the caller", now, STUDY_CANCELLED);
}

struct study_gather {
	json_object	*list;		/* the study type's list in data */
	json_object	*box_uids;	/* boxUids used so far */
	int		 done, failed, codes;
	char		 code[64];
	char		 msg[256];
	char		 others[128];
};

/*
 * Engines number boxes per image, so two images may both have box 12345;
 * feedback names a box by its boxUid, so within a study each must be
 * unique: a repeated one gets the next free number.
 */
static void
study_unique_box(struct study_gather *g, json_object *item)
{
	json_object	*v;
	char		 uid[8];
	long		 n, tries;

	if (g->box_uids == NULL ||
	    !json_object_object_get_ex(item, "boxUid", &v))
		return;
	snprintf(uid, sizeof(uid), "%s", json_object_get_string(v));
	n = strtol(uid, NULL, 10);
	for (tries = 0; tries < 100000 &&
	    json_object_object_get_ex(g->box_uids, uid, NULL); tries++) {
		n = (n + 1) % 100000;
		snprintf(uid, sizeof(uid), "%05ld", n);
	}
	if (strcmp(uid, json_object_get_string(v)) != 0)
		json_object_object_add(item, "boxUid",
		    json_object_new_string(uid));
	json_object_object_add(g->box_uids, uid, NULL);
}

static int
study_gather_job(const void *key, size_t klen, const char *val, size_t len,
    void *arg)
{
	struct study_gather	*g = arg;
	json_object		*rec, *f, *v, *obj;
	size_t			 i, n;

	(void)key;
	(void)klen;
	if ((rec = store_json(val, len)) == NULL)
		return STORE_ERR;
	if (job_state_of(rec) == JOB_DONE) {
		g->done++;
		/* the image a finding is on: a viewer draws it there */
		if (!json_object_object_get_ex(rec, "object", &obj))
			obj = NULL;
		if (json_object_object_get_ex(rec, "findings", &f) &&
		    json_object_is_type(f, json_type_array)) {
			n = json_object_array_length(f);
			for (i = 0; i < n; i++) {
				json_object *item = json_object_array_get_idx(
				    f, i);

				study_unique_box(g, item);
				if (obj != NULL && json_object_is_type(item,
				    json_type_object))
					json_object_object_add(item,
					    "imageKey", json_object_get(obj));
				json_object_array_add(g->list,
				    json_object_get(item));
			}
		}
	} else {
		const char *c = json_object_object_get_ex(rec, "errorCode", &v) ?
		    json_object_get_string(v) : "ENGINE_ERROR";

		g->failed++;
		if (g->code[0] == '\0') {
			snprintf(g->code, sizeof(g->code), "%s", c);
			if (json_object_object_get_ex(rec, "errorMessage", &v))
				snprintf(g->msg, sizeof(g->msg), "%s",
				    json_object_get_string(v));
		} else if (strcmp(g->code, c) != 0 &&
		    strstr(g->others, c) == NULL) {
			size_t ol = strlen(g->others);

			snprintf(g->others + ol, sizeof(g->others) - ol,
			    "%s%s", ol ? ", " : "", c);
		}
	}
	json_object_put(rec);
	return 0;
}

int
study_assemble(struct store_txn *t, const char *skey, size_t sklen,
    int64_t run, int64_t now)
{
	struct study_gather	 g;
	json_object		*data;
	char			 prefix[JOB_KEY_MAX], buf[STUDY_KEY_MAX + 1];
	char			 msg[512];
	const char		*ns, *uid;
	size_t			 plen;
	int			 type, rc;

	if (study_key_parse(skey, sklen, buf, &ns, &type, &uid) == -1)
		return STORE_ERR;
	if ((data = result_data_new(uid, type)) == NULL)
		return STORE_ERR;
	memset(&g, 0, sizeof(g));
	json_object_object_get_ex(data, result_list_name(type), &g.list);
	if (type == 4 && (g.box_uids = json_object_new_object()) == NULL) {
		json_object_put(data);
		return STORE_ERR;
	}
	plen = job_prefix(prefix, skey, sklen, run);
	rc = store_scan(t, SDB_JOBS, prefix, plen, study_gather_job, &g);
	json_object_put(g.box_uids);
	if (rc != 0) {
		json_object_put(data);
		return rc;
	}
	if (type == 4) {
		json_object *boxes;

		/* clients of the deployed platform read boxDataList */
		json_object_object_get_ex(data, "boxes", &boxes);
		json_object_object_add(data, "boxDataList",
		    result_box_compat(boxes));
	}
	if (g.failed == 0)
		return study_conclude(t, skey, sklen, run, data, NULL, NULL,
		    now);
	snprintf(msg, sizeof(msg), "%d of %d images failed: %s: %s%s%s%s",
	    g.failed, g.done + g.failed, g.code, g.msg,
	    g.others[0] ? " (also " : "", g.others, g.others[0] ? ")" : "");
	return study_conclude(t, skey, sklen, run, data, g.code, msg, now);
}
