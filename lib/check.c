/* check.c -- the store's invariants, checked and repaired (check.h) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "check.h"
#include "hex.h"
#include "job.h"
#include "outbox.h"
#include "queue.h"
#include "store.h"
#include "study.h"

#define CHECK_BATCH	256	/* records read per transaction */
#define CHECK_KEY_MAX	(QUEUE_KEY_MAX > JOB_KEY_MAX ? QUEUE_KEY_MAX : JOB_KEY_MAX)

/*
 * Sets of queue item and job ids (one entry for every item of the queue:
 * hundreds of thousands with a long backlog) hold a 64-bit SipHash of the
 * id under a key drawn for the check, 8 bytes an id in an open-addressed
 * table, not the id itself (ids may hold NUL bytes: a run id is "study
 * key NUL run").  A set only tells which records need a second look: one
 * it says is missing an item is read again, with its items found by
 * their ids, before anything is reported or repaired (fix_study), so two
 * ids of the same hash can at worst hide one problem from this check
 * (about n / 2^64 a lookup, and the key is not known outside the check:
 * ids that clients choose cannot be made to collide); the next check
 * draws a new key.
 */
struct idset {
	uint64_t	*h;		/* 0: empty slot */
	size_t		 n, cap;	/* cap: 0 or a power of 2 */
};

struct chk {
	struct store		*s;
	int			 repair;
	check_say		 say;
	void			*arg;
	struct check_report	*r;
	int64_t			 t0;		/* records changed since: left alone */

	EVP_MAC_CTX		*mac;		/* SipHash under the check's key */
	struct idset		 q[5];		/* queue ids by kind (qi) */
	struct idset		 waiting;	/* job ids awaited */
	json_object		*last;		/* every study's lastMessage */
	json_object		*cands;		/* study keys (hex) to look at */
	json_object		*after;		/* message id -> earlier one */
	json_object		*pending;	/* PENDING message ids to look at */
	json_object		*created;	/* message id -> created < t0 */

	/* batch walks */
	unsigned char		 from[CHECK_KEY_MAX + 1];
	size_t			 fromlen;
	int			 more, seen;
};

enum { QI_STUDY, QI_ASSEMBLE, QI_IMAGE, QI_TIMEOUT, QI_DELIVER };

static int
qi_of(enum queue_kind k)
{
	switch (k) {
	case QK_STUDY:
		return QI_STUDY;
	case QK_ASSEMBLE:
		return QI_ASSEMBLE;
	case QK_IMAGE:
		return QI_IMAGE;
	case QK_TIMEOUT:
		return QI_TIMEOUT;
	case QK_DELIVER:
		return QI_DELIVER;
	}
	return -1;
}

static char *
hex(const void *p, size_t len)
{
	char *out;

	if ((out = malloc(2 * len + 1)) != NULL)
		hex_encode(p, len, out);
	return out;
}

static size_t
unhex(const char *h, char *out, size_t max)
{
	long n = hex_decode(h, strlen(h), out, max);

	return n < 0 ? 0 : (size_t)n;
}

/* The check's hash of an id; 0 when it cannot be computed. */
static uint64_t
id_hash(struct chk *c, const void *id, size_t len)
{
	EVP_MAC_CTX	*m;
	unsigned char	 out[8];
	size_t		 outlen = 0;
	uint64_t	 h;

	if ((m = EVP_MAC_CTX_dup(c->mac)) == NULL)
		return 0;
	if (EVP_MAC_update(m, id, len) != 1 ||
	    EVP_MAC_final(m, out, &outlen, sizeof(out)) != 1 ||
	    outlen != sizeof(out)) {
		EVP_MAC_CTX_free(m);
		return 0;
	}
	EVP_MAC_CTX_free(m);
	memcpy(&h, out, sizeof(h));
	return h != 0 ? h : 1;	/* 0 marks an empty slot */
}

/* The check's keyed SipHash (id_hash); -1 when OpenSSL cannot give it. */
static int
id_hash_init(struct chk *c)
{
	EVP_MAC		*mac;
	unsigned char	 key[16];
	size_t		 size = 8;
	OSSL_PARAM	 params[2];

	params[0] = OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size);
	params[1] = OSSL_PARAM_construct_end();
	if ((mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL)) == NULL)
		return -1;
	c->mac = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);
	if (c->mac == NULL || RAND_bytes(key, sizeof(key)) != 1 ||
	    EVP_MAC_init(c->mac, key, sizeof(key), params) != 1) {
		OPENSSL_cleanse(key, sizeof(key));
		return -1;
	}
	OPENSSL_cleanse(key, sizeof(key));
	return 0;
}

static void
idset_free(struct idset *s)
{
	free(s->h);
	memset(s, 0, sizeof(*s));
}

static void
idset_put(struct idset *s, uint64_t h)
{
	size_t i;

	for (i = h & (s->cap - 1); s->h[i] != 0; i = (i + 1) & (s->cap - 1))
		if (s->h[i] == h)
			return;
	s->h[i] = h;
	s->n++;
}

static int
set_add(struct chk *c, struct idset *s, const void *id, size_t len)
{
	uint64_t	h;
	size_t		i;

	if ((h = id_hash(c, id, len)) == 0)
		return -1;
	if (2 * (s->n + 1) > s->cap) {		/* at most half full */
		struct idset	ns = { NULL, 0, s->cap ? 2 * s->cap : 1024 };

		if ((ns.h = calloc(ns.cap, sizeof(*ns.h))) == NULL)
			return -1;
		for (i = 0; i < s->cap; i++)
			if (s->h[i] != 0)
				idset_put(&ns, s->h[i]);
		free(s->h);
		*s = ns;
	}
	idset_put(s, h);
	return 0;
}

/* Whether id may be in the set: 1 also when its hash cannot be computed
 * (the record is then taken as fine, not repaired on a guess). */
static int
set_has(struct chk *c, const struct idset *s, const void *id, size_t len)
{
	uint64_t	h;
	size_t		i;

	if ((h = id_hash(c, id, len)) == 0)
		return 1;
	if (s->cap == 0)
		return 0;
	for (i = h & (s->cap - 1); s->h[i] != 0; i = (i + 1) & (s->cap - 1))
		if (s->h[i] == h)
			return 1;
	return 0;
}

/* One finding, said as line (records named by namespace, studyType and
 * uid: never a secret). */
static void
found(struct chk *c, int repaired, const char *line)
{
	c->r->cr_problems++;
	if (repaired)
		c->r->cr_repaired++;
	if (c->say != NULL) {
		char buf[700];

		snprintf(buf, sizeof(buf), "%s%s", line, repaired ?
		    " (repaired)" : "");
		c->say(c->arg, buf);
	}
}

/* ---- walking the queue's items ----------------------------------------- */

/* One queue item, as queue_key_parse reads its key. */
struct qitem {
	const void	*key;
	size_t		 klen;
	enum queue_kind	 kind;
	const char	*id;
	size_t		 idlen;
};

struct qwalk {
	int		(*fn)(const struct qitem *, void *);
	void		*arg;
	unsigned long	 keys;		/* every key read */
};

static int
qwalk_visit(const void *key, size_t klen, const char *val, size_t len,
    void *arg)
{
	struct qwalk	*w = arg;
	struct qitem	 it = { key, klen, 0, NULL, 0 };
	int64_t		 due;

	(void)val;
	(void)len;
	w->keys++;
	if (queue_key_parse(key, klen, &due, &it.kind, &it.id, &it.idlen) ==
	    -1)
		return 0;	/* no item's key: passed over */
	return w->fn(&it, w->arg);
}

/* store_scan of the queue's keys under prefix (plen bytes), fn called with
 * each item's; *keys (or NULL) counts every key read. */
static int
queue_walk(struct store_txn *t, const void *prefix, size_t plen,
    int (*fn)(const struct qitem *, void *), void *arg, unsigned long *keys)
{
	struct qwalk	w = { fn, arg, 0 };
	int		rc;

	rc = store_scan(t, SDB_QUEUE, prefix, plen, qwalk_visit, &w);
	if (keys != NULL)
		*keys = w.keys;
	return rc;
}

/* ---- the queue and the waiting entries, in one transaction ---------- */

static int
queue_visit(const struct qitem *it, void *arg)
{
	struct chk	*c = arg;
	int		 qi;

	if ((qi = qi_of(it->kind)) == -1)
		return 0;
	return set_add(c, &c->q[qi], it->id, it->idlen) == -1 ? STORE_ERR : 0;
}

static int
waiting_visit(const void *key, size_t klen, const char *val, size_t len,
    void *arg)
{
	struct chk *c = arg;

	(void)val;
	(void)len;
	return set_add(c, &c->waiting, key, klen) == -1 ? STORE_ERR : 0;
}

static int
items_body(struct store_txn *t, void *arg)
{
	struct chk	*c = arg;
	int		 i, rc;

	for (i = 0; i < 5; i++)
		idset_free(&c->q[i]);
	idset_free(&c->waiting);
	c->r->cr_items = 0;
	if ((rc = queue_walk(t, NULL, 0, queue_visit, c, &c->r->cr_items)) !=
	    0)
		return rc;
	return store_scan(t, SDB_WAITING, NULL, 0, waiting_visit, c);
}

/* ---- walking a database in batches ----------------------------------- */

/* Notes where the next batch starts: just past key. */
static void
batch_next(struct chk *c, const void *key, size_t klen)
{
	if (klen >= sizeof(c->from))
		klen = sizeof(c->from) - 1;
	memcpy(c->from, key, klen);
	c->from[klen] = '\0';
	c->fromlen = klen + 1;
}

/* ---- studies ---------------------------------------------------------- */

struct jobs_seen {
	struct chk	*c;
	unsigned long	 n, final;
	int		 missing;
};

static int
jobs_visit(const void *key, size_t klen, const char *val, size_t len,
    void *arg)
{
	struct jobs_seen	*js = arg;
	json_object		*job = store_json(val, len);
	const char		*id = rec_str(job, "id");

	(void)key;
	(void)klen;
	js->n++;
	switch (job_state_of(job)) {
	case JOB_DONE:
	case JOB_FAILED:
		js->final++;
		break;
	case JOB_QUEUED:
		if (!set_has(js->c, &js->c->q[QI_IMAGE], id, strlen(id)))
			js->missing = 1;
		break;
	case JOB_SENT:
		if (!set_has(js->c, &js->c->waiting, id, strlen(id)) ||
		    !set_has(js->c, &js->c->q[QI_TIMEOUT], id, strlen(id)))
			js->missing = 1;
		break;
	default:
		break;
	}
	json_object_put(job);
	return 0;
}

struct study_walk {
	struct chk		*c;
	struct store_txn	*t;
};

static int
study_visit(const void *key, size_t klen, const char *val, size_t len,
    void *arg)
{
	struct study_walk	*w = arg;
	struct chk		*c = w->c;
	struct study_rec	 st;
	char			 qid[STUDY_KEY_MAX + 24], jp[JOB_KEY_MAX];
	size_t			 qlen, jplen;
	int64_t			 run;
	int			 rc = 0, cand = 0;

	if (c->seen++ == CHECK_BATCH) {
		c->more = 1;
		return 1;
	}
	batch_next(c, key, klen);
	c->r->cr_studies++;
	if (study_rec_decode(&st, store_json(val, len)) == -1)
		return 0;
	if (REC_HAS(&st, SF_LAST_MESSAGE))
		json_object_object_add(c->last, REC_STR(st.sr_last_message), NULL);
	run = st.sr_run;
	if ((st.sr_state != STUDY_QUEUED && st.sr_state != STUDY_RUNNING) ||
	    st.sr_updated >= c->t0)
		goto out;
	qlen = queue_run_id(qid, key, klen, run);
	if (set_has(c, &c->q[QI_STUDY], qid, qlen) ||
	    set_has(c, &c->q[QI_ASSEMBLE], qid, qlen))
		goto out;
	if (st.sr_state == STUDY_QUEUED || !st.sr_listed)
		cand = 1;
	else {
		struct jobs_seen js = { c, 0, 0, 0 };

		jplen = job_prefix(jp, key, klen, run);
		if ((rc = store_scan(w->t, SDB_JOBS, jp, jplen, jobs_visit,
		    &js)) != 0)
			goto out;
		cand = js.missing || js.final == js.n;
	}
	if (cand) {
		char *h = hex(key, klen);

		if (h == NULL)
			rc = STORE_ERR;
		else
			json_object_array_add(c->cands,
			    json_object_new_string(h));
		free(h);
	}
out:
	study_rec_free(&st);
	return rc;
}

/* One batch of db from where the last one ended (the visitor stops it
 * after CHECK_BATCH records, noting where the next begins); on failure
 * the start is put back, so that a retried body reads the same batch. */
static int
batch_walk(struct store_txn *t, struct chk *c, enum store_db db,
    store_visit visit, void *arg)
{
	unsigned char	from[sizeof(c->from)];
	size_t		fromlen = c->fromlen;
	int		rc;

	memcpy(from, c->from, sizeof(from));
	c->seen = 0;
	c->more = 0;
	if ((rc = store_scan_from(t, db, from, fromlen, visit, arg)) < 0) {
		memcpy(c->from, from, sizeof(from));
		c->fromlen = fromlen;
		return rc;
	}
	return 0;
}

static int
studies_body(struct store_txn *t, void *arg)
{
	struct chk		*c = arg;
	struct study_walk	 w = { c, t };
	size_t			 n0 = json_object_array_length(c->cands);
	int			 rc;

	if ((rc = batch_walk(t, c, SDB_STUDIES, study_visit, &w)) < 0)
		json_object_array_del_idx(c->cands, n0,
		    json_object_array_length(c->cands) - n0);
	return rc;
}

/* Whether a queue item of kind with this id exists: a walk of the kind's
 * keys (or of prefix), for the few records a check looks at again. */
struct find {
	const char	*id;
	size_t		 idlen;
	int		 found;
};

static int
find_visit(const struct qitem *it, void *arg)
{
	struct find *f = arg;

	if (it->idlen == f->idlen && memcmp(it->id, f->id, it->idlen) == 0) {
		f->found = 1;
		return 1;
	}
	return 0;
}

static int
queue_find(struct store_txn *t, const void *prefix, size_t plen,
    const char *id, size_t idlen, int *found)
{
	struct find	f = { id, idlen, 0 };
	int		rc;

	rc = queue_walk(t, prefix, plen, find_visit, &f, NULL);
	*found = f.found;
	return rc < 0 ? rc : 0;
}

/* The image ids queued for one namespace's studyType, exactly (the second
 * look at one study: hex of the id, for json-c's keys). */
static int
ns_images_visit(const struct qitem *it, void *arg)
{
	char *h;

	if ((h = hex(it->id, it->idlen)) == NULL)
		return STORE_ERR;
	json_object_object_add(arg, h, NULL);
	free(h);
	return 0;
}

static int
ns_images_has(json_object *images, const char *id, size_t len)
{
	char	*h;
	int	 has;

	if ((h = hex(id, len)) == NULL)
		return 0;
	has = json_object_object_get_ex(images, h, NULL);
	free(h);
	return has;
}

struct fix {
	struct chk	*c;
	const char	*skey;
	size_t		 sklen;
	json_object	*images;	/* ids of the namespace's image items */
	/* what was found, reported after the commit */
	int		 what;		/* FIX_ bits */
	unsigned long	 jobs;		/* jobs put back in flight */
};

#define FIX_LISTING	0x1	/* QUEUED or unlisted, no listing item */
#define FIX_JOBS	0x2	/* jobs neither final nor in flight */
#define FIX_ASSEMBLY	0x4	/* every job final, no assembly item */

struct fix_jobs {
	struct fix		*f;
	struct store_txn	*t;
	int			 type;
	const char		*ns;
	unsigned long		 n, final;
};

static int
fix_job_visit(const void *key, size_t klen, const char *val, size_t len,
    void *arg)
{
	struct fix_jobs	*fj = arg;
	struct fix	*f = fj->f;
	json_object	*job = store_json(val, len), *w = NULL;
	const char	*id = rec_str(job, "id");
	unsigned char	 tk[QUEUE_KEY_MAX];
	char		*old = NULL;
	size_t		 tklen;
	int64_t		 deadline;
	int		 rc = 0, bad = 0, has_w, has_t;

	(void)key;
	(void)klen;
	fj->n++;
	if (job == NULL || strlen(id) != JOB_ID_LEN)
		goto out;
	switch (job_state_of(job)) {
	case JOB_DONE:
	case JOB_FAILED:
		fj->final++;
		break;
	case JOB_QUEUED:
		if (ns_images_has(f->images, id, JOB_ID_LEN))
			break;
		bad = 1;
		if (!f->c->repair)
			break;
		rc = queue_put_image(fj->t, store_now_ms(), fj->type, fj->ns, id,
		    JOB_ID_LEN);
		break;
	case JOB_SENT:
		deadline = rec_int(job, "deadline");
		if ((rc = store_get(fj->t, SDB_WAITING, id, JOB_ID_LEN, &old,
		    NULL, 0)) != STORE_OK && rc != STORE_NOTFOUND)
			break;
		has_w = rc == STORE_OK;
		free(old);
		old = NULL;
		tklen = queue_key(tk, deadline, QK_TIMEOUT, id, JOB_ID_LEN);
		if ((rc = store_get(fj->t, SDB_QUEUE, tk, tklen, &old, NULL,
		    0)) != STORE_OK && rc != STORE_NOTFOUND)
			break;
		has_t = rc == STORE_OK;
		rc = 0;
		if (has_w && has_t)
			break;
		bad = 1;
		if (!f->c->repair)
			break;
		if (!has_w) {
			if ((w = json_object_new_object()) == NULL) {
				rc = STORE_ERR;
				break;
			}
			json_object_object_add(w, "studyType",
			    json_object_new_int(fj->type));
			json_object_object_add(w, "ns",
			    json_object_new_string(fj->ns));
			if ((rc = store_put_json(fj->t, SDB_WAITING, id,
			    JOB_ID_LEN, w)) != STORE_OK)
				break;
		}
		if (!has_t)
			rc = queue_put(fj->t, deadline, QK_TIMEOUT, id,
			    JOB_ID_LEN, NULL);
		break;
	default:
		break;
	}
	if (bad)
		f->jobs++;
out:
	free(old);
	json_object_put(w);
	json_object_put(job);
	return rc;
}

static int
fix_body(struct store_txn *t, void *arg)
{
	struct fix		*f = arg;
	struct chk		*c = f->c;
	struct study_rec	 st;
	unsigned char		 p[2], ikey[QUEUE_KEY_MAX];
	char			 qid[STUDY_KEY_MAX + 24], jp[JOB_KEY_MAX];
	char			 buf[STUDY_KEY_MAX + 1];
	const char		*ns, *uid;
	size_t			 qlen, jplen, iplen;
	int64_t			 run;
	int			 rc, type, has, listed, slot;

	f->what = 0;
	f->jobs = 0;
	json_object_put(f->images);
	f->images = NULL;
	if (study_key_parse(f->skey, f->sklen, buf, &ns, &type, &uid) == -1)
		return 0;
	if ((rc = study_get(t, f->skey, f->sklen, &st, 1)) != STORE_OK)
		return rc == STORE_NOTFOUND ? 0 : rc;
	run = st.sr_run;
	if ((st.sr_state != STUDY_QUEUED && st.sr_state != STUDY_RUNNING) ||
	    st.sr_updated >= c->t0)
		goto out;
	qlen = queue_run_id(qid, f->skey, f->sklen, run);
	p[0] = QK_ASSEMBLE;
	if ((rc = queue_find(t, p, 1, qid, qlen, &has)) != 0 || has)
		goto out;
	p[0] = QK_STUDY;
	if ((rc = queue_find(t, p, 1, qid, qlen, &has)) != 0 || has)
		goto out;
	listed = st.sr_state == STUDY_RUNNING && st.sr_listed;

	/* the run's jobs: each final, or in flight (a listing done again
	 * finds its jobs there and queues none of them) */
	if ((f->images = json_object_new_object()) == NULL) {
		rc = STORE_ERR;
		goto out;
	}
	/* under any engine's slot: a push job for a named engine section is
	 * queued under that section's (lib/queue.h) */
	for (slot = 1; slot <= QUEUE_TYPES; slot++) {
		iplen = queue_image_prefix(ikey, queue_image_key(ikey, 0, slot,
		    ns, "", 0));
		if (iplen > 0 && (rc = queue_walk(t, ikey, iplen,
		    ns_images_visit, f->images, NULL)) < 0)
			goto out;
	}
	{
		struct fix_jobs fj = { f, t, type, ns, 0, 0 };

		jplen = job_prefix(jp, f->skey, f->sklen, run);
		if ((rc = store_scan(t, SDB_JOBS, jp, jplen, fix_job_visit,
		    &fj)) < 0)
			goto out;
		rc = 0;
		if (f->jobs > 0)
			f->what |= FIX_JOBS;
		if (listed && f->jobs == 0 && fj.final == fj.n)
			f->what |= FIX_ASSEMBLY;
	}
	if (!listed)
		f->what |= FIX_LISTING;
	if (!c->repair)
		goto out;
	if (f->what & FIX_LISTING)
		rc = study_queue_listing(t, f->skey, f->sklen, run,
		    store_now_ms());
	else if (f->what & FIX_ASSEMBLY)
		rc = queue_put(t, store_now_ms(), QK_ASSEMBLE, qid, qlen, NULL);
out:
	study_rec_free(&st);
	return rc;
}

static int
fix_study(struct chk *c, const char *hkey)
{
	struct fix	 f;
	char		 skey[STUDY_KEY_MAX + 1], buf[STUDY_KEY_MAX + 1];
	char		 line[600];
	const char	*ns, *uid;
	int		 type, rc;

	memset(&f, 0, sizeof(f));
	f.c = c;
	f.skey = skey;
	if ((f.sklen = unhex(hkey, skey, STUDY_KEY_MAX)) == 0)
		return 0;
	rc = store_txn(c->s, fix_body, &f);
	json_object_put(f.images);
	if (rc != 0)
		return -1;
	if (f.what == 0 ||
	    study_key_parse(skey, f.sklen, buf, &ns, &type, &uid) == -1)
		return 0;
	if (strncmp(uid, STUDY_PUSH_MARK, 1) == 0)
		uid++;		/* a push job: its ImageUid */
	snprintf(line, sizeof(line), "study %s/%d/%s: %s%s%s", ns, type, uid,
	    f.what & FIX_LISTING ? "not final, and no listing item would "
	    "ever list it" : f.what & FIX_ASSEMBLY ? "every image is final, "
	    "and no assembly item would end it" : "running",
	    f.what & FIX_JOBS ? "; image jobs neither final nor in flight: " :
	    "", "");
	if (f.what & FIX_JOBS)
		snprintf(line + strlen(line), sizeof(line) - strlen(line),
		    "%lu", f.jobs);
	found(c, c->repair, line);
	return 0;
}

/* ---- image items without their job or study ------------------------ */

/*
 * The image items are walked in batches of CHECK_BATCH, each read and
 * looked at in one transaction (a set of them all would grow with the
 * backlog).
 */
struct strays {
	struct chk	*c;
	unsigned char	(*keys)[QUEUE_KEY_MAX];	/* this batch's */
	size_t		 klen[CHECK_BATCH];
	size_t		 n;
	unsigned char	 from[CHECK_KEY_MAX + 1];	/* where it starts */
	size_t		 fromlen;
	unsigned long	 found, repaired;
};

static int
strays_visit(const void *key, size_t klen, const char *val, size_t len,
    void *arg)
{
	struct strays	*sy = arg;
	struct chk	*c = sy->c;

	(void)val;
	(void)len;
	if (klen == 0 || *(const unsigned char *)key != QK_IMAGE)
		return 1;	/* past the image items: the last batch */
	if (c->seen++ == CHECK_BATCH) {
		c->more = 1;
		return 1;
	}
	batch_next(c, key, klen);
	if (klen > QUEUE_KEY_MAX)
		return 0;	/* no item's key */
	memcpy(sy->keys[sy->n], key, klen);
	sy->klen[sy->n++] = klen;
	return 0;
}

static int
strays_body(struct store_txn *t, void *arg)
{
	struct strays	*sy = arg;
	struct chk	*c = sy->c;
	struct job_rec	 job;
	json_object	*st = NULL;
	char		 qkey[QUEUE_KEY_MAX], skey[STUDY_KEY_MAX], *jkey = NULL;
	char		*val = NULL, idbuf[JOB_ID_LEN + 1];
	const char	*id;
	size_t		 i, qklen, jklen, sklen, idlen;
	int64_t		 due, run;
	enum queue_kind	 kind;
	int		 rc = 0, stray;

	sy->found = sy->repaired = 0;
	memset(&job, 0, sizeof(job));
	/* a retried body reads the same batch again */
	memcpy(c->from, sy->from, sizeof(c->from));
	c->fromlen = sy->fromlen;
	sy->n = 0;
	if ((rc = batch_walk(t, c, SDB_QUEUE, strays_visit, sy)) < 0)
		return rc;
	rc = 0;
	for (i = 0; i < sy->n; i++) {
		qklen = sy->klen[i];
		memcpy(qkey, sy->keys[i], qklen);
		if (queue_key_parse(qkey, qklen, &due, &kind, &id, &idlen) ==
		    -1)
			continue;
		if ((rc = store_get(t, SDB_QUEUE, qkey, qklen, &val, NULL,
		    0)) != STORE_OK) {
			if (rc != STORE_NOTFOUND)
				goto out;
			rc = 0;
			continue;	/* gone meanwhile */
		}
		free(val);
		val = NULL;
		stray = 0;
		if (idlen != JOB_ID_LEN)
			stray = 1;
		else {
			memcpy(idbuf, id, JOB_ID_LEN);
			idbuf[JOB_ID_LEN] = '\0';
			rc = job_lookup(t, idbuf, &jkey, &jklen, &job, 0);
			if (rc == STORE_NOTFOUND)
				stray = 1;
			else if (rc != STORE_OK)
				goto out;
			else if ((sklen = job_study(&job, skey, &run)) == 0)
				stray = 1;
			else if ((rc = store_get_json(t, SDB_STUDIES, skey,
			    sklen, &st, 0)) == STORE_NOTFOUND)
				stray = 1;
			else if (rc != STORE_OK)
				goto out;
			rc = 0;
			free(jkey);
			jkey = NULL;
			job_rec_free(&job);
			json_object_put(st);
			st = NULL;
		}
		if (!stray)
			continue;
		sy->found++;
		if (c->repair) {
			if ((rc = store_del(t, SDB_QUEUE, qkey, qklen)) !=
			    STORE_OK)
				goto out;
			sy->repaired++;
		}
	}
out:
	free(jkey);
	job_rec_free(&job);
	json_object_put(st);
	return rc;
}

static int
check_strays(struct chk *c)
{
	struct strays	 sy;
	unsigned long	 i;
	int		 rc = 0;

	memset(&sy, 0, sizeof(sy));
	sy.c = c;
	if ((sy.keys = calloc(CHECK_BATCH, sizeof(*sy.keys))) == NULL)
		return -1;
	sy.from[0] = QK_IMAGE;
	sy.fromlen = 1;
	do {
		if (store_txn(c->s, strays_body, &sy) != 0) {
			rc = -1;
			break;
		}
		memcpy(sy.from, c->from, sizeof(sy.from));
		sy.fromlen = c->fromlen;
		for (i = 0; i < sy.found; i++)
			found(c, i < sy.repaired, "an image item without its "
			    "job or its study");
	} while (c->more);
	free(sy.keys);
	return rc;
}

/* ---- callbacks ---------------------------------------------------------- */

static int
outbox_visit(const void *key, size_t klen, const char *val, size_t len,
    void *arg)
{
	struct chk	*c = arg;
	json_object	*m;
	char		 id[WEBHOOK_ID_MAX];

	if (c->seen++ == CHECK_BATCH) {
		c->more = 1;
		return 1;
	}
	batch_next(c, key, klen);
	if (klen >= sizeof(id) || (m = store_json(val, len)) == NULL)
		return 0;
	memcpy(id, key, klen);
	id[klen] = '\0';
	if (rec_int(m, "created") < c->t0) {
		json_object_object_add(c->created, id, NULL);
		if (json_object_object_get_ex(m, "after", NULL))
			json_object_object_add(c->after, id,
			    json_object_new_string(rec_str(m, "after")));
		if (outbox_state_of(m) == OUTBOX_PENDING &&
		    !set_has(c, &c->q[QI_DELIVER], id, klen))
			json_object_object_add(c->pending, id, NULL);
	}
	json_object_put(m);
	return 0;
}

static int
outbox_body(struct store_txn *t, void *arg)
{
	struct chk *c = arg;

	/* what a retried batch added again to the sets is the same */
	return batch_walk(t, c, SDB_OUTBOX, outbox_visit, c);
}

struct fix_msg {
	struct chk	*c;
	const char	*id;
	int		 bad;
};

static int
fix_msg_body(struct store_txn *t, void *arg)
{
	struct fix_msg	*fm = arg;
	json_object	*m = NULL;
	unsigned char	 p = QK_DELIVER;
	int		 rc, has;

	fm->bad = 0;
	if ((rc = outbox_get(t, fm->id, &m, 1)) != STORE_OK)
		return rc == STORE_NOTFOUND ? 0 : rc;
	if (outbox_state_of(m) != OUTBOX_PENDING ||
	    (rc = queue_find(t, &p, 1, fm->id, strlen(fm->id), &has)) != 0 ||
	    has)
		goto out;
	fm->bad = 1;
	if (fm->c->repair)
		rc = queue_put(t, store_now_ms(), QK_DELIVER, fm->id,
		    strlen(fm->id), NULL);
out:
	json_object_put(m);
	return rc;
}

static int
check_outbox(struct chk *c)
{
	json_object	*reach;
	const char	*id;
	json_object	*v;
	int		 rc = 0;

	c->fromlen = 0;
	do {
		if (store_txn(c->s, outbox_body, c) != 0)
			return -1;
	} while (c->more);
	{
		json_object_object_foreach(c->pending, k, val) {
			struct fix_msg fm = { c, k, 0 };

			(void)val;
			if (store_txn(c->s, fix_msg_body, &fm) != 0)
				return -1;
			if (fm.bad) {
				char line[200];

				snprintf(line, sizeof(line), "callback %s: "
				    "pending, and no delivery item would send "
				    "it", k);
				found(c, c->repair, line);
			}
		}
	}
	/* which messages some study leads to: its last, and the ones before
	 * it through "after" */
	if ((reach = json_object_new_object()) == NULL)
		return -1;
	{
		json_object_object_foreach(c->last, k, val) {
			(void)val;
			for (id = k; id != NULL && *id != '\0' &&
			    !json_object_object_get_ex(reach, id, NULL); ) {
				json_object_object_add(reach, id, NULL);
				id = json_object_object_get_ex(c->after, id, &v) ?
				    json_object_get_string(v) : NULL;
			}
		}
	}
	{
		json_object_object_foreach(c->created, k, val) {
			(void)val;
			if (!json_object_object_get_ex(reach, k, NULL)) {
				char line[200];

				snprintf(line, sizeof(line), "callback %s: "
				    "belongs to no study", k);
				found(c, 0, line);
			}
		}
	}
	json_object_put(reach);
	return rc;
}

int
check_store(struct store *s, int repair, check_say say, void *arg,
    struct check_report *r)
{
	struct chk	c;
	size_t		i;
	int		rc = -1;

	memset(&c, 0, sizeof(c));
	memset(r, 0, sizeof(*r));
	c.s = s;
	c.repair = repair;
	c.say = say;
	c.arg = arg;
	c.r = r;
	/* a record changed within the last second may be a writer's that
	 * is still at work: left to it */
	c.t0 = store_now_ms() - 1000;
	if (id_hash_init(&c) == -1 ||
	    (c.last = json_object_new_object()) == NULL ||
	    (c.cands = json_object_new_array()) == NULL ||
	    (c.after = json_object_new_object()) == NULL ||
	    (c.pending = json_object_new_object()) == NULL ||
	    (c.created = json_object_new_object()) == NULL)
		goto out;
	if (store_txn(s, items_body, &c) != 0)
		goto out;
	c.fromlen = 0;
	do {
		if (store_txn(s, studies_body, &c) != 0)
			goto out;
	} while (c.more);
	for (i = 0; i < json_object_array_length(c.cands); i++)
		if (fix_study(&c, json_object_get_string(
		    json_object_array_get_idx(c.cands, i))) == -1)
			goto out;
	if (check_strays(&c) == -1 || check_outbox(&c) == -1)
		goto out;
	rc = r->cr_problems > 0;
out:
	for (i = 0; i < 5; i++)
		idset_free(&c.q[i]);
	idset_free(&c.waiting);
	EVP_MAC_CTX_free(c.mac);
	json_object_put(c.last);
	json_object_put(c.cands);
	json_object_put(c.after);
	json_object_put(c.pending);
	json_object_put(c.created);
	return rc;
}
