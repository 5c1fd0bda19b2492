/* assemble.c -- mias-dispatcher: list a study's objects into image jobs; assemble results */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatcher.h"
#include "job.h"
#include "log.h"
#include "metrics.h"
#include "oss.h"
#include "store.h"
#include "study.h"

#define LIST_BATCH	500	/* jobs created per transaction */

struct listing {
	struct disp	*d;
	struct task	*task;
	const char	*skey;
	size_t		 sklen;
	int64_t		 run;
	int64_t		 due;		/* of the images: study_due */
	const char	*key;		/* as the caller gave it */
	size_t		 keylen;
	int		 single;	/* the key named one object */
	uint64_t	 total;
	char		*objs[LIST_BATCH];
	uint64_t	 sizes[LIST_BATCH];
	int		 n;
	int		 failed;	/* a store error */
	int		 slot;		/* the engine's (lib/conf.h) */
};

static int
batch_body(struct store_txn *t, void *arg)
{
	struct listing	*l = arg;
	int64_t		 now = store_now_ms();
	int		 i, rc, created;

	if ((rc = task_fresh(t, l->task)) != STORE_OK)
		return rc;
	for (i = 0; i < l->n; i++)
		if ((rc = job_create(t, l->skey, l->sklen, l->run, l->objs[i],
		    l->sizes[i], now, l->due ? l->due : now, l->slot,
		    &created)) !=
		    STORE_OK)
			return rc;
	return STORE_OK;
}

static int
batch_flush(struct listing *l)
{
	int i, rc = 0;

	if (l->n > 0 && store_txn(l->d->d_store, batch_body, l) != 0) {
		log_warnx("%s: %s", __func__, store_errmsg(l->d->d_store));
		rc = -1;
	}
	for (i = 0; i < l->n; i++)
		free(l->objs[i]);
	l->n = 0;
	if (rc == 0)
		disp_poke(l->d);	/* new image items are due while the
					 * listing goes on */
	return rc;
}

/*
 * Which objects are the study's images: the object named by the key
 * itself (a one-image study), or every object under "key/" (a study
 * path; "key" may end in '/' already).  Folder markers and empty objects
 * are not images.  "knee/00010/x" is not under "knee/0001".
 */
static int
list_object(const struct oss_object *ob, void *arg)
{
	struct listing	*l = arg;
	size_t		 kl = strlen(ob->ob_key);

	if (kl == l->keylen && memcmp(ob->ob_key, l->key, kl) == 0) {
		if (ob->ob_flags & OSS_OBJ_SKIP)
			return 0;
		l->single = 1;		/* keys sort first: nothing before */
	} else if (l->keylen > 0 && l->key[l->keylen - 1] != '/' &&
	    (kl <= l->keylen || ob->ob_key[l->keylen] != '/'))
		return 0;
	else if (ob->ob_flags & OSS_OBJ_SKIP)
		return 0;
	if (strlen(ob->ob_key) > JOB_OBJKEY_MAX)
		return 0;
	if ((l->objs[l->n] = strdup(ob->ob_key)) == NULL) {
		l->failed = 1;
		return 1;
	}
	l->sizes[l->n++] = ob->ob_size;
	l->total++;
	if (l->n == LIST_BATCH && batch_flush(l) == -1) {
		l->failed = 1;
		return 1;
	}
	return l->single;	/* stop after the one object */
}

struct start_arg {
	struct task		*task;
	const struct crypto_keys *keys;
	const char		*skey;
	size_t			 sklen;
	int64_t			 run;
	struct study_rec	 study;
	struct study_creds	 creds;
	int			 go;
};

/* QUEUED -> RUNNING (or RUNNING again after a restart mid-listing). */
static int
start_body(struct store_txn *t, void *arg)
{
	struct start_arg	*a = arg;
	int			 rc;

	study_rec_free(&a->study);
	study_creds_wipe(&a->creds);
	a->go = 0;
	if ((rc = task_fresh(t, a->task)) != STORE_OK ||
	    (rc = study_get(t, a->skey, a->sklen, &a->study, 1)) != STORE_OK)
		return rc;
	if (!REC_HAS(&a->study, SF_RUN) || a->study.sr_run != a->run ||
	    (a->study.sr_state != STUDY_QUEUED &&
	    a->study.sr_state != STUDY_RUNNING))
		return STORE_OK;
	if (study_creds_open(&a->study, a->keys, a->skey, a->sklen,
	    &a->creds) == -1)
		return STORE_OK;	/* concluded below as unreadable */
	a->go = 1;
	if (a->study.sr_state == STUDY_QUEUED)
		return study_start(t, a->skey, a->sklen, &a->study,
		    store_now_ms());
	return STORE_OK;
}

struct end_arg {
	struct task	*task;
	const char	*skey;
	size_t		 sklen;
	int64_t		 run;
	const char	*code;		/* NULL: listed */
	const char	*msg;
	uint64_t	 total;
};

static int
end_body(struct store_txn *t, void *arg)
{
	struct end_arg	*a = arg;
	int64_t		 now = store_now_ms();
	int		 rc;

	if ((rc = task_fresh(t, a->task)) != STORE_OK)
		return rc;
	if (a->code != NULL)
		rc = study_conclude(t, a->skey, a->sklen, a->run, NULL, a->code,
		    a->msg, now);
	else
		rc = study_listed(t, a->skey, a->sklen, a->run, a->total, now);
	if (rc != STORE_OK)
		return rc;
	rc = store_del(t, SDB_QUEUE, a->task->t_qkey, a->task->t_qklen);
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

/* The listing's last jobs and its end in one transaction. */
struct finish_arg {
	struct listing	*l;
	struct end_arg	*ea;
};

static int
finish_body(struct store_txn *t, void *arg)
{
	struct finish_arg	*f = arg;
	int			 rc;

	if (f->ea->code == NULL && (rc = batch_body(t, f->l)) != STORE_OK)
		return rc;
	return end_body(t, f->ea);
}

enum task_res
assemble_list(struct disp *d, struct task *t)
{
	struct mias_conf	*c = t->t_dconf->dc_conf;
	struct start_arg	 sa;
	struct end_arg		 ea;
	struct finish_arg	 fa;
	struct listing		 l;
	struct oss_opts		 oo;
	struct oss_client	*oc = NULL;
	struct oss_target	 ot;
	struct oss_creds	 cr;
	struct oss_error	 oe;
	enum oss_err		 err;
	char			 msg[600], buf[STUDY_KEY_MAX + 1];
	const char		*ns, *uid, *ename;
	size_t			 sklen;
	int64_t			 run;
	enum task_res		 res = TASK_DONE;
	int			 type, i;

	memset(&sa, 0, sizeof(sa));
	memset(&ea, 0, sizeof(ea));
	memset(&l, 0, sizeof(l));
	if (queue_run_id_parse(t->t_id, t->t_idlen, &sklen, &run) == -1 ||
	    study_key_parse(t->t_id, sklen, buf, &ns, &type, &uid) == -1) {
		res = TASK_DROP;
		goto out;
	}
	if (strncmp(uid, STUDY_PUSH_MARK, 1) == 0)
		uid++;		/* the ImageUid, in log lines */
	sa.task = t;
	l.task = t;
	sa.keys = d->d_keys;
	sa.skey = t->t_id;
	sa.sklen = sklen;
	sa.run = run;
	ea.task = t;
	ea.skey = t->t_id;
	ea.sklen = sklen;
	ea.run = run;
	/* QUEUED -> RUNNING need not wait for the disk: lost in a crash, or
	 * in a recovery after another process died, the study is listed
	 * again, since every body that records the listing's outcome checks
	 * that the store has not been recovered since (task_fresh); the
	 * listing's end takes it to disk with it */
	if (store_txn_nosync(d->d_store, start_body, &sa) != 0) {
		log_warnx("study %s/%s: %s", ns, uid, store_errmsg(d->d_store));
		goto out;	/* stays queued: tried again */
	}
	if (!sa.go) {
		if (sa.study.sr_creds != NULL) {
			ea.code = fail_code_name(FAIL_LOCAL_ERROR);
			ea.msg = "the study's sealed credentials do not open "
			    "(was the key file replaced?)";
			store_txn(d->d_store, end_body, &ea);
		} else
			res = TASK_DROP;	/* ended or replaced */
		goto out;
	}
	/* a push job names its engine section; a study has its studyType's */
	ename = sa.study.sr_engine;
	if ((l.slot = conf_engine_of(c, type, ename)) == 0) {
		if (ename != NULL)
			snprintf(msg, sizeof(msg), "no engine section [engine.%s] "
			    "is configured any more", ename);
		else
			snprintf(msg, sizeof(msg), "no engine is configured "
			    "for studyType %d", type);
		ea.code = fail_code_name(FAIL_NO_ENGINE);
		ea.msg = msg;
		goto end;
	}
	if (sa.study.sr_push) {
		/* a push job names its one image: nothing to list */
		l.d = d;
		l.skey = t->t_id;
		l.sklen = sklen;
		l.run = run;
		l.due = study_due(&sa.study, store_now_ms());
		if ((l.objs[0] = strdup(sa.study.sr_key != NULL ?
		    sa.study.sr_key : "")) == NULL)
			goto out;
		l.n = 1;
		l.total = 1;
		study_creds_wipe(&sa.creds);
		ea.total = 1;
		goto end;
	}
	log_info("study %s/%s: listing", ns, uid);
	oss_opts_default(&oo);
	oo.oo_keep = 1;		/* one connection per worker and endpoint */
	oo.oo_sigver = c->c_oss_sigver;
	oo.oo_egress = &c->c_egress;
	if ((oc = oss_client_new(&oo, msg, sizeof(msg))) == NULL) {
		log_warnx("study %s/%s: %s", ns, uid, msg);
		goto out;
	}
	cr.oc_access_key_id = sa.creds.sc_ak;
	cr.oc_access_key_secret = sa.creds.sc_sk;
	cr.oc_security_token = sa.creds.sc_sts;
	ot.ot_endpoint = sa.study.sr_endpoint != NULL ?
	    sa.study.sr_endpoint : "";
	ot.ot_bucket = sa.study.sr_bucket != NULL ? sa.study.sr_bucket : "";
	ot.ot_creds = &cr;
	l.d = d;
	l.skey = t->t_id;
	l.sklen = sklen;
	l.run = run;
	l.due = study_due(&sa.study, store_now_ms());
	l.key = sa.study.sr_key != NULL ? sa.study.sr_key : "";
	l.keylen = strlen(l.key);
	memset(&oe, 0, sizeof(oe));
	err = oss_list(oc, &ot, l.key, list_object, &l, &oe);
	study_creds_wipe(&sa.creds);
	if (err == OSS_ABORTED && l.single && !l.failed)
		err = OSS_OK;
	if (l.failed) {
		log_warnx("study %s/%s: could not record its images; will "
		    "retry", ns, uid);
		goto out;
	}
	if (err != OSS_OK) {
		/* the study's errorMessage is the caller's; the detail
		 * (where the endpoint resolved to) only the log's */
		if (oe.oe_detail[0] != '\0')
			log_warnx("study %s/%s: %s", ns, uid, oe.oe_detail);
		snprintf(msg, sizeof(msg), "%s%s%s", oe.oe_message,
		    oe.oe_request_id[0] ? " (OSS request id " : "",
		    oe.oe_request_id[0] ? oe.oe_request_id : "");
		if (oe.oe_request_id[0])
			strncat(msg, ")", sizeof(msg) - strlen(msg) - 1);
		ea.code = oss_err_name(err);
		ea.msg = msg;
	} else if (l.total == 0) {
		snprintf(msg, sizeof(msg), "no image objects under %s in "
		    "bucket %s", l.key, ot.ot_bucket);
		ea.code = fail_code_name(FAIL_OSS_EMPTY);
		ea.msg = msg;
	}
	ea.total = l.total;
end:
	fa.l = &l;
	fa.ea = &ea;
	if (ea.code != NULL && atomic_load(&disp_restarting))
		goto out;	/* the failure may be the restart's */
	/* the images a command engine runs need not wait for the disk (as
	 * QUEUED -> RUNNING above): lost in a crash, the study is listed
	 * again, and its assembly's durable commit takes them to disk
	 * before any callback; a remote engine is told of its images, and
	 * a failure ends the study, so those are durable */
	if ((ea.code == NULL && l.slot > 0 &&
	    c->c_engine[l.slot - 1].ce_url == NULL ?
	    store_txn_nosync : store_txn)(d->d_store, finish_body, &fa) != 0) {
		log_warnx("study %s/%s: %s", ns, uid, store_errmsg(d->d_store));
		goto out;	/* stays queued: listed again */
	}
	if (ea.code != NULL)
		log_info("study %s/%s: failed: %s: %s", ns, uid, ea.code,
		    ea.msg);
	else
		log_info("study %s/%s: %llu images", ns, uid,
		    (unsigned long long)l.total);
out:
	for (i = 0; i < l.n; i++)
		free(l.objs[i]);
	study_creds_wipe(&sa.creds);
	study_rec_free(&sa.study);
	oss_client_free(oc);
	return res;	/* new image items: ending the task wakes the main
			 * loop (sched_done) */
}

struct assemble_arg {
	struct task	*task;
	const char	*skey;
	size_t		 sklen;
	int64_t		 run;
};

static int
assemble_body(struct store_txn *t, void *arg)
{
	struct assemble_arg	*a = arg;
	int			 rc;

	if ((rc = task_fresh(t, a->task)) != STORE_OK)
		return rc;
	rc = job_assemble(t, a->skey, a->sklen, a->run, store_now_ms());
	if (rc == STORE_OK || rc == STORE_NOTFOUND)
		rc = store_del(t, SDB_QUEUE, a->task->t_qkey,
		    a->task->t_qklen);
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

enum task_res
assemble_result(struct disp *d, struct task *t)
{
	struct assemble_arg	a;
	size_t			sklen;
	int64_t			run;

	if (queue_run_id_parse(t->t_id, t->t_idlen, &sklen, &run) == -1)
		return TASK_DROP;
	a.task = t;
	a.skey = t->t_id;
	a.sklen = sklen;
	a.run = run;
	if (store_txn(d->d_store, assemble_body, &a) != 0)
		log_warnx("%s: %s", __func__, store_errmsg(d->d_store));
	return TASK_DONE;
}
