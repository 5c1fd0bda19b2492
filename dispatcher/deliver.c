/* deliver.c -- mias-dispatcher: deliver callbacks, signed, retried, then dead letters */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatcher.h"
#include "log.h"
#include "metrics.h"
#include "ns.h"
#include "outbox.h"
#include "retention.h"
#include "store.h"
#include "webhook.h"

#define RETRY_AFTER_MAX	(24 * 3600)	/* seconds we accept to be told to wait */

struct msg {
	struct task	*task;
	const struct crypto_keys *keys;
	const char	*id;
	json_object	*rec;
	char		 secret[80];
	int		 go;		/* PENDING, and nothing before it pending */
	int		 wait;		/* an earlier message of the study is */
};

static int
msg_body(struct store_txn *t, void *arg)
{
	struct msg	*m = arg;
	json_object	*v, *ns = NULL, *before = NULL;
	int		 rc;

	json_object_put(m->rec);
	m->rec = NULL;
	m->go = m->wait = 0;
	if ((rc = task_fresh(t, m->task)) != STORE_OK ||
	    (rc = outbox_get(t, m->id, &m->rec, 0)) != STORE_OK)
		return rc;
	if (outbox_state_of(m->rec) != OUTBOX_PENDING)
		return STORE_OK;
	if (json_object_object_get_ex(m->rec, "after", &v) &&
	    outbox_get(t, json_object_get_string(v), &before, 0) == STORE_OK &&
	    outbox_state_of(before) == OUTBOX_PENDING) {
		json_object_put(before);
		m->wait = 1;
		return STORE_OK;
	}
	json_object_put(before);
	if (!json_object_object_get_ex(m->rec, "ns", &v) ||
	    (rc = ns_get(t, json_object_get_string(v), &ns, 0)) != STORE_OK)
		return rc == STORE_OK ? STORE_ERR : rc;
	rc = ns_record_secret(ns, m->keys, m->secret, sizeof(m->secret));
	json_object_put(ns);
	if (rc == -1)
		return STORE_ERR;
	m->go = 1;
	return STORE_OK;
}

static enum task_res deliver_done(struct xfer *, CURLcode);

enum task_res
deliver_start(struct disp *d, struct task *t)
{
	struct mias_conf	*c = t->t_dconf->dc_conf;
	struct curl_slist	*hdrs = NULL;
	struct msg		 m;
	json_object		*v;
	char			 sig[WEBHOOK_SIG_MAX], hdr[QUEUE_ID_MAX + 32], *body = NULL;
	const char		*b, *url, *kind;
	int64_t			 ts = store_now_ms() / 1000;
	size_t			 len;
	enum task_res		 res = TASK_DONE;
	int			 rc;

	memset(&m, 0, sizeof(m));
	m.task = t;
	m.keys = d->d_keys;
	m.id = t->t_id;
	rc = store_txn(d->d_store, msg_body, &m);
	if (rc == STORE_NOTFOUND || (rc == 0 && !m.go && !m.wait)) {
		res = TASK_DROP;
		goto release;
	}
	if (rc != 0) {
		log_warnx("callback %s: %s", t->t_id, store_errmsg(d->d_store));
		goto release;
	}
	if (m.wait) {
		/* the study's earlier callback goes first */
		t->t_retry = store_now_ms() + 1000;
		res = TASK_RETRY;
		goto release;
	}
	json_object_object_get_ex(m.rec, "body", &v);
	b = json_object_get_string(v);
	len = strlen(b);
	json_object_object_get_ex(m.rec, "url", &v);
	url = json_object_get_string(v);
	kind = json_object_object_get_ex(m.rec, "kind", &v) ?
	    json_object_get_string(v) : OUTBOX_STATUS;
	t->t_flag = strcmp(kind, OUTBOX_RESULT) == 0;
	if (webhook_sign(m.secret, t->t_id, ts, b, len, sig) == -1 ||
	    (body = strdup(b)) == NULL) {
		log_warnx("callback %s: cannot sign it", t->t_id);
		goto release;
	}
	snprintf(hdr, sizeof(hdr), "webhook-id: %s", t->t_id);
	hdrs = curl_slist_append(hdrs, hdr);
	snprintf(hdr, sizeof(hdr), "webhook-timestamp: %lld", (long long)ts);
	hdrs = curl_slist_append(hdrs, hdr);
	snprintf(hdr, sizeof(hdr), "webhook-signature: %s", sig);
	hdrs = curl_slist_append(hdrs, hdr);
	if (http_post(d, url, body, len, hdrs, (long)c->c_callback_timeout,
	    &c->c_egress, deliver_done, t) == -1) {
		log_warnx("callback %s: cannot start the transfer", t->t_id);
		goto release;
	}
	crypto_wipe(m.secret, sizeof(m.secret));
	json_object_put(m.rec);
	return TASK_PENDING;
release:
	crypto_wipe(m.secret, sizeof(m.secret));
	json_object_put(m.rec);
	return res;
}

struct after_arg {
	struct task	*task;
	int		 ok;
	int		 gone;		/* 410: the receiver wants no more */
	long		 status;
	long		 retry_after;
	const char	*error;
	const unsigned	*retry;		/* the schedule */
	size_t		 retry_n;
	enum outbox_state state;	/* out */
	int64_t		 next;		/* out */
};

static int
after_body(struct store_txn *t, void *arg)
{
	struct after_arg	*a = arg;
	json_object		*rec = NULL, *v;
	int64_t			 now = store_now_ms(), delay;
	int			 rc, attempts;
	unsigned char		 key[QUEUE_KEY_MAX];
	size_t			 klen;

	if ((rc = task_fresh(t, a->task)) != STORE_OK)
		return rc;
	if ((rc = outbox_get(t, a->task->t_id, &rec, 1)) != STORE_OK)
		goto drop;
	attempts = (json_object_object_get_ex(rec, "attempts", &v) ?
	    json_object_get_int(v) : 0) + 1;
	json_object_object_add(rec, "attempts", json_object_new_int(attempts));
	json_object_object_add(rec, "lastAttempt", json_object_new_int64(now));
	json_object_object_add(rec, "lastStatus",
	    json_object_new_int64(a->status));
	json_object_object_add(rec, "lastError", a->ok ? NULL :
	    json_object_new_string(a->error));
	if (a->ok) {
		a->state = OUTBOX_DELIVERED;
		json_object_object_add(rec, "delivered",
		    json_object_new_int64(now));
	} else if (a->gone || (size_t)attempts > a->retry_n) {
		a->state = OUTBOX_DEAD;
		json_object_object_add(rec, "dead", json_object_new_int64(now));
	} else {
		/* the schedule, give or take a fifth, so that a receiver
		 * that was down is not hit by every retry at once */
		delay = (int64_t)a->retry[attempts - 1] * 1000;
		delay = delay * (80 + (int64_t)(random() % 41)) / 100;
		if (a->retry_after >= 0 && (a->status == 429 ||
		    a->status == 503))
			delay = (int64_t)(a->retry_after < RETRY_AFTER_MAX ?
			    a->retry_after : RETRY_AFTER_MAX) * 1000;
		a->state = OUTBOX_PENDING;
		a->next = now + delay;
		json_object_object_add(rec, "next",
		    json_object_new_int64(a->next));
	}
	json_object_object_add(rec, "state",
	    json_object_new_string(outbox_state_name(a->state)));
	if ((rc = outbox_put(t, a->task->t_id, rec)) != STORE_OK)
		goto out;
	/* its study may have ended with it: retention counts from now */
	if (a->state != OUTBOX_PENDING &&
	    (rc = retention_ended(t, a->task->t_id, rec)) != STORE_OK)
		goto out;
	if (a->state != OUTBOX_PENDING && json_object_object_get_ex(rec, "ns",
	    &v) && (rc = a->state == OUTBOX_DELIVERED ?
	    metrics_delivered(t, json_object_get_string(v)) :
	    metrics_dead_add(t, json_object_get_string(v), a->task->t_id,
	    1)) != STORE_OK)
		goto out;
	if (a->state == OUTBOX_PENDING) {
		klen = queue_key(key, a->next, QK_DELIVER, a->task->t_id,
		    a->task->t_idlen);
		if ((rc = store_put(t, SDB_QUEUE, key, klen, "{}", 2)) !=
		    STORE_OK)
			goto out;
	}
drop:
	if (rc == STORE_OK || rc == STORE_NOTFOUND)
		rc = store_del(t, SDB_QUEUE, a->task->t_qkey,
		    a->task->t_qklen);
	if (rc == STORE_NOTFOUND)
		rc = STORE_OK;
out:
	json_object_put(rec);
	return rc;
}

/* What the receiver's answer says: API.md 2. wants {"code":0}, a result
 * callback (API.md 6.) {"returnCode":"000000"}. */
static int
answer_ok(struct xfer *x, int result_kind)
{
	json_object	*o, *v;
	int		 ok = 0;

	if (x->x_resp == NULL || (o = store_json(x->x_resp,
	    x->x_resplen)) == NULL)
		return 0;
	if (result_kind)
		ok = json_object_object_get_ex(o, "returnCode", &v) &&
		    json_object_is_type(v, json_type_string) &&
		    strcmp(json_object_get_string(v), "000000") == 0;
	else
		ok = json_object_object_get_ex(o, "code", &v) &&
		    json_object_is_type(v, json_type_int) &&
		    json_object_get_int64(v) == 0;
	json_object_put(o);
	return ok;
}

static enum task_res
deliver_done(struct xfer *x, CURLcode code)
{
	struct disp		*d = x->x_disp;
	struct task		*t = x->x_task;
	struct mias_conf	*c = t->t_dconf->dc_conf;
	struct after_arg	 a;
	char			 err[600];

	memset(&a, 0, sizeof(a));
	a.task = t;
	a.status = code == CURLE_OK ? x->x_status : 0;
	a.retry_after = x->x_retry_after;
	a.retry = c->c_retry;
	a.retry_n = c->c_retry_n;
	if (x->x_egress_refused)
		snprintf(err, sizeof(err), "refused by the egress policy: %s "
		    "resolves to an address this gateway does not connect to",
		    x->x_host);
	else if (x->x_resp_over)
		snprintf(err, sizeof(err), "the answer was longer than %d "
		    "bytes: cut off", 64 * 1024);
	else if (code != CURLE_OK)
		snprintf(err, sizeof(err), "%s", x->x_errbuf[0] ?
		    x->x_errbuf : curl_easy_strerror(code));
	else if (x->x_status < 200 || x->x_status >= 300)
		snprintf(err, sizeof(err), "HTTP %ld", x->x_status);
	else if (!answer_ok(x, t->t_flag))
		snprintf(err, sizeof(err), "HTTP %ld but the answer is not %s",
		    x->x_status, t->t_flag ? "{\"returnCode\":\"000000\"}" :
		    "{\"code\":0}");
	else
		a.ok = 1;
	a.gone = code == CURLE_OK && x->x_status == 410;
	a.error = err;
	/*
	 * The attempt's record need not wait for the disk: lost in a crash,
	 * the callback is sent again, with the same webhook-id (at least
	 * once, as API.md and Standard Webhooks have it).  The main loop
	 * flushes it within DELIVERY_FLUSH_MS, if no durable commit of the
	 * workers has taken it to disk before; the main loop never waits
	 * for the disk per callback.
	 */
	if (store_txn_nosync(d->d_store, after_body, &a) != 0) {
		log_warnx("callback %s: cannot record the attempt: %s",
		    t->t_id, store_errmsg(d->d_store));
		goto out;
	}
	d->d_unflushed = 1;
	if (a.ok)
		log_info("callback %s to %s: delivered", t->t_id, x->x_host);
	else
		log_info("callback %s to %s: %s; %s", t->t_id, x->x_host, err,
		    a.state == OUTBOX_DEAD ? "dead letter" : "will retry");
out:
	return TASK_DONE;
}
