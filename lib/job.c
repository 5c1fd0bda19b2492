/* job.c -- image jobs: one per image of a study run, and their outcomes */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "crypto.h"
#include "hex.h"
#include "job.h"
#include "metrics.h"
#include "queue.h"
#include "result.h"
#include "store.h"

#define JOB_RECORD_VERSION	1

enum job_state
job_state_of(json_object *rec)
{
	json_object *v;

	return json_object_object_get_ex(rec, "state", &v) ?
	    job_state_parse(json_object_get_string(v)) : JOB__MAX;
}

size_t
job_prefix(char *out, const char *skey, size_t sklen, int64_t run)
{
	int n;

	memcpy(out, skey, sklen);
	out[sklen] = '\0';
	n = snprintf(out + sklen + 1, 22, "%lld", (long long)run);
	out[sklen + 1 + (size_t)n] = '\0';
	return sklen + 1 + (size_t)n + 1;
}

size_t
job_key(char *out, const char *skey, size_t sklen, int64_t run,
    const char *objkey)
{
	size_t	n = job_prefix(out, skey, sklen, run);
	size_t	ol = strlen(objkey);

	if (ol > JOB_OBJKEY_MAX)
		ol = JOB_OBJKEY_MAX;
	memcpy(out + n, objkey, ol);
	return n + ol;
}

void
job_id(const char *jkey, size_t jklen, char out[JOB_ID_LEN + 1])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)jkey, jklen, md);
	hex_encode(md, JOB_ID_LEN / 2, out);
}

void
job_sig(const struct crypto_keys *k, const char *id, char out[JOB_SIG_LEN + 1])
{
	char	msg[JOB_ID_LEN + 8];
	int	n = snprintf(msg, sizeof(msg), "job\n%s", id);

	/* an id too long for the buffer is signed as cut (and never
	 * matches, job_sig_ok checks the length first) */
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = (int)sizeof(msg) - 1;
	crypto_hmac_hex(k->ck_url, msg, (size_t)n, out);
}

int
job_sig_ok(const struct crypto_keys *k, const char *id, const char *sig)
{
	char want[JOB_SIG_LEN + 1];

	if (strlen(id) != JOB_ID_LEN || strlen(sig) != JOB_SIG_LEN)
		return 0;
	job_sig(k, id, want);
	return crypto_equal(want, sig, JOB_SIG_LEN);
}

/* The job record as changed, stored; a store code. */
static int
job_put(struct store_txn *t, const char *jkey, size_t jklen,
    struct job_rec *rec)
{
	json_object *o = job_rec_encode(rec);

	return o != NULL ? store_put_json(t, SDB_JOBS, jkey, jklen, o) :
	    STORE_ERR;
}

int
job_create(struct store_txn *t, const char *skey, size_t sklen, int64_t run,
    const char *objkey, uint64_t size, int64_t now, int64_t due, int slot,
    int *created)
{
	struct job_rec	 rec;
	char		 jkey[JOB_KEY_MAX], id[JOB_ID_LEN + 1];
	char		 buf[STUDY_KEY_MAX + 1], *old = NULL;
	const char	*ns, *uid;
	size_t		 jklen;
	int		 rc, type;

	*created = 0;
	if (study_key_parse(skey, sklen, buf, &ns, &type, &uid) == -1)
		return STORE_ERR;
	jklen = job_key(jkey, skey, sklen, run, objkey);
	rc = store_get(t, SDB_JOBS, jkey, jklen, &old, NULL, 1);
	free(old);
	if (rc != STORE_NOTFOUND)
		return rc;	/* exists (STORE_OK) or an error */
	job_id(jkey, jklen, id);
	if (job_rec_new(&rec) == -1)
		return STORE_ERR;
	rec.jr_v = JOB_RECORD_VERSION;
	rec.jr_id = id;
	rec.jr_ns = ns;
	rec.jr_type = type;
	rec.jr_uid = uid;
	rec.jr_run = run;
	rec.jr_object = objkey;
	rec.jr_size = (int64_t)size;
	rec.jr_state = JOB_QUEUED;
	rec.jr_attempts = 0;
	rec.jr_created = now;
	rec.r_has = (1u << (JF_CREATED + 1)) - 1;	/* v .. created */
	/* the engine's slot lets the dispatcher apply the engine's limit
	 * without reading the job */
	if ((rc = job_put(t, jkey, jklen, &rec)) == STORE_OK &&
	    (rc = store_put(t, SDB_JOBIDX, id, JOB_ID_LEN, jkey,
	    jklen)) == STORE_OK &&
	    (rc = queue_put_image(t, due, slot > 0 ? slot : type, ns, id,
	    JOB_ID_LEN)) == STORE_OK)
		*created = 1;
	job_rec_free(&rec);
	return rc;
}

int
job_lookup(struct store_txn *t, const char *id, char **jkey, size_t *jklen,
    struct job_rec *rec, int rmw)
{
	json_object	*o = NULL;
	int		 rc;

	*jkey = NULL;
	memset(rec, 0, sizeof(*rec));
	if (strlen(id) != JOB_ID_LEN)
		return STORE_NOTFOUND;
	if ((rc = store_get(t, SDB_JOBIDX, id, JOB_ID_LEN, jkey, jklen,
	    0)) != STORE_OK)
		return rc;
	if ((rc = store_get_json(t, SDB_JOBS, *jkey, *jklen, &o, rmw)) ==
	    STORE_OK && job_rec_decode(rec, o) == -1)
		rc = STORE_ERR;
	if (rc != STORE_OK) {
		free(*jkey);
		*jkey = NULL;
	}
	return rc;
}

size_t
job_study(const struct job_rec *rec, char *skey, int64_t *run)
{
	if (!REC_HAS(rec, JF_NS) || !REC_HAS(rec, JF_TYPE) ||
	    !REC_HAS(rec, JF_UID) || !REC_HAS(rec, JF_RUN) ||
	    rec->jr_ns == NULL || rec->jr_uid == NULL)
		return 0;
	*run = rec->jr_run;
	return study_key(skey, rec->jr_ns, rec->jr_type, rec->jr_uid);
}

int
job_sent(struct store_txn *t, const char *jkey, size_t jklen,
    struct job_rec *rec, int study_type, int64_t deadline)
{
	json_object	*w;
	char		 id[JOB_ID_LEN + 1];
	int		 rc;

	if (rec->jr_id == NULL || strlen(rec->jr_id) != JOB_ID_LEN)
		return STORE_ERR;
	memcpy(id, rec->jr_id, sizeof(id));
	rec->jr_state = JOB_SENT;
	rec->jr_deadline = deadline;
	REC_SET(rec, JF_DEADLINE);
	if ((rc = job_put(t, jkey, jklen, rec)) != STORE_OK)
		return rc;
	if ((w = json_object_new_object()) == NULL)
		return STORE_ERR;
	json_object_object_add(w, "studyType", json_object_new_int(study_type));
	if (REC_HAS(rec, JF_NS))
		json_object_object_add(w, "ns", json_object_new_string(
		    rec->jr_ns != NULL ? rec->jr_ns : ""));
	rc = store_put_json(t, SDB_WAITING, id, JOB_ID_LEN, w);
	json_object_put(w);
	if (rc != STORE_OK)
		return rc;
	return queue_put(t, deadline, QK_TIMEOUT, id, JOB_ID_LEN, NULL);
}

int
job_retry(struct store_txn *t, const char *jkey, size_t jklen,
    struct job_rec *rec, const char *msg)
{
	rec->jr_attempts++;
	REC_SET(rec, JF_ATTEMPTS);
	rec->jr_last_error = msg != NULL ? msg : "";
	REC_SET(rec, JF_LAST_ERROR);
	return job_put(t, jkey, jklen, rec);
}

int
job_finish(struct store_txn *t, const char *jkey, size_t jklen,
    struct job_rec *rec, json_object *findings, const char *code,
    const char *msg, int64_t now, int *changed)
{
	enum job_state		 st = rec->jr_state;
	struct study_rec	 study;
	char			 skey[STUDY_KEY_MAX];
	char			 id[JOB_ID_LEN + 1];
	size_t			 sklen;
	int64_t			 run;
	int			 rc;

	*changed = 0;
	memset(&study, 0, sizeof(study));
	if (st == JOB_DONE || st == JOB_FAILED) {
		json_object_put(findings);
		return STORE_OK;
	}
	if (rec->jr_id == NULL || strlen(rec->jr_id) != JOB_ID_LEN ||
	    (sklen = job_study(rec, skey, &run)) == 0) {
		json_object_put(findings);
		return STORE_ERR;
	}
	memcpy(id, rec->jr_id, sizeof(id));
	if (st == JOB_SENT) {
		/* no longer awaited: its timeout goes too */
		if ((rc = store_del(t, SDB_WAITING, id, JOB_ID_LEN)) !=
		    STORE_OK && rc != STORE_NOTFOUND)
			goto fail;
		if ((rc = queue_del(t, rec->jr_deadline, QK_TIMEOUT, id,
		    JOB_ID_LEN)) != STORE_OK && rc != STORE_NOTFOUND)
			goto fail;
	}
	rec->jr_state = findings != NULL ? JOB_DONE : JOB_FAILED;
	rec->jr_finished = now;
	REC_SET(rec, JF_FINISHED);
	if (findings != NULL) {
		rec->jr_findings = findings;
		REC_SET(rec, JF_FINDINGS);
	} else {
		rec->jr_error_code = code != NULL ? code :
		    fail_code_name(FAIL_ENGINE_ERROR);
		rec->jr_error_msg = msg != NULL ? msg : "";
		REC_SET(rec, JF_ERROR_CODE);
		REC_SET(rec, JF_ERROR_MSG);
	}
	rc = job_put(t, jkey, jklen, rec);
	json_object_put(findings);	/* the record holds its own */
	findings = NULL;
	if (rc != STORE_OK)
		goto fail;
	/* the engine's latency, from the job's creation to its outcome */
	if (REC_HAS(rec, JF_CREATED) && (rc = metrics_latency(t,
	    rec->jr_type, now - rec->jr_created)) != STORE_OK)
		goto fail;

	/* count it in the study; the last one queues the assembly */
	if ((rc = study_get(t, skey, sklen, &study, 1)) != STORE_OK)
		goto fail;
	if (!REC_HAS(&study, SF_RUN) || study.sr_run != run ||
	    (study.sr_state != STUDY_QUEUED &&
	    study.sr_state != STUDY_RUNNING)) {
		/* a newer run replaced this one, or the run ended (cancelled):
		 * nothing more to count, and the study stays as it is */
		study_rec_free(&study);
		*changed = 1;
		return STORE_OK;
	}
	if (rec->jr_state == JOB_DONE)
		study.sr_images_done++;
	else
		study.sr_images_failed++;
	study.sr_updated = now;
	REC_SET(&study, SF_IMAGES_DONE);
	REC_SET(&study, SF_IMAGES_FAILED);
	REC_SET(&study, SF_UPDATED);
	if ((rc = study_put(t, skey, sklen, &study)) != STORE_OK ||
	    (rc = study_assembly_due(t, skey, sklen, &study, now)) !=
	    STORE_OK)
		goto fail;
	study_rec_free(&study);
	*changed = 1;
	return STORE_OK;
fail:
	json_object_put(findings);
	study_rec_free(&study);
	return rc;
}

struct job_gather {
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
job_unique_box(struct job_gather *g, json_object *item)
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
job_gather_job(const void *key, size_t klen, const char *val, size_t len,
    void *arg)
{
	struct job_gather	*g = arg;
	struct job_rec		 rec;
	json_object		*f;
	const char		*obj, *c;
	size_t			 i, n;

	(void)key;
	(void)klen;
	if (job_rec_decode(&rec, store_json(val, len)) == -1)
		return STORE_ERR;
	if (rec.jr_state == JOB_DONE) {
		g->done++;
		/* the image a finding is on: a viewer draws it there */
		obj = rec.jr_object;
		if ((f = rec.jr_findings) != NULL &&
		    json_object_is_type(f, json_type_array)) {
			n = json_object_array_length(f);
			for (i = 0; i < n; i++) {
				json_object *item = json_object_array_get_idx(
				    f, i);

				job_unique_box(g, item);
				if (obj != NULL && json_object_is_type(item,
				    json_type_object))
					json_object_object_add(item,
					    "imageKey",
					    json_object_new_string(obj));
				json_object_array_add(g->list,
				    json_object_get(item));
			}
		}
	} else {
		c = rec.jr_error_code != NULL ? rec.jr_error_code :
		    fail_code_name(FAIL_ENGINE_ERROR);
		g->failed++;
		if (g->code[0] == '\0') {
			snprintf(g->code, sizeof(g->code), "%s", c);
			if (rec.jr_error_msg != NULL)
				snprintf(g->msg, sizeof(g->msg), "%s",
				    rec.jr_error_msg);
		} else if (strcmp(g->code, c) != 0 &&
		    strstr(g->others, c) == NULL) {
			size_t ol = strlen(g->others);

			snprintf(g->others + ol, sizeof(g->others) - ol,
			    "%s%s", ol ? ", " : "", c);
		}
	}
	job_rec_free(&rec);
	return 0;
}

int
job_assemble(struct store_txn *t, const char *skey, size_t sklen,
    int64_t run, int64_t now)
{
	struct job_gather	 g;
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
	rc = store_scan(t, SDB_JOBS, prefix, plen, job_gather_job, &g);
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
