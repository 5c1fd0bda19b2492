/* sched.c -- mias-dispatcher: find due work, start it, apply the outcomes */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatcher.h"
#include "log.h"
#include "store.h"

#define SCAN_BATCH	64	/* items started per look at the queue */
#define SCAN_VISIT_MAX	5000	/* keys of one stream passed over per look
				 * (busy, over a share) */
/* Items handed to the workers ahead, per worker: a look at a long queue
 * costs milliseconds, and between two looks the workers live on what the
 * last one handed out. */
#define SCAN_AHEAD	2

/*
 * A look at the queue runs in one read transaction and only picks items;
 * they are started after it ends, each in transactions of its own.  The
 * counters of work in progress are reserved as items are picked, so one
 * look never takes more than an engine's or the transfer limit allows.
 */
struct scan {
	struct disp	*d;
	struct mias_conf *c;
	int64_t		 now, next_due;
	struct task	*picked[SCAN_BATCH];
	int		 n;
	unsigned	 epoch;		/* of the look's transaction */
	int		 visited;
	unsigned	 transfers;
	unsigned	 queued_for_workers;
	unsigned	 trig[CONF_ENGINES + 1];
	unsigned	 cmd[CONF_ENGINES + 1];
	unsigned	 active[CONF_ENGINES + 1];	/* namespaces with due
							 * image items */
};

/*
 * Fair shares.  Image items are due in the order their studies were
 * listed, so one namespace's 100,000-image study would hold every engine
 * until it is done.  Each look finds, per engine, the namespaces with due
 * images (their keys are a stream of their own, lib/queue.h); a namespace
 * may then have at most concurrency / that count of the engine's images
 * running or awaited (at least one), while another namespace waits, and
 * once at its share its stream is not walked further.  When only one has
 * due images it may use the whole engine.  Images of an unknown studyType
 * (lib/queue.h) are taken in due order without shares.
 */
#define NSLOAD_MAX	256

static struct nsload *
nsload_get(struct disp *d, const char *ns, int type, int create)
{
	size_t i;

	for (i = 0; i < d->d_load_n; i++)
		if (d->d_load[i].nl_type == type &&
		    strcmp(d->d_load[i].nl_ns, ns) == 0)
			return &d->d_load[i];
	if (!create || d->d_load_n == NSLOAD_MAX)
		return NULL;
	i = d->d_load_n++;
	memset(&d->d_load[i], 0, sizeof(d->d_load[i]));
	snprintf(d->d_load[i].nl_ns, sizeof(d->d_load[i].nl_ns), "%s", ns);
	d->d_load[i].nl_type = type;
	return &d->d_load[i];
}

/*
 * An image item's value is what job_create() writes, {"t":N,"ns":"NAME"}
 * (N the engine's slot, 1..CONF_ENGINES: lib/conf.h)
 * with a namespace name of letters, digits, '.', '-' and '_': read in
 * place, since a look at the queue reads thousands of them.  Anything
 * else goes through the JSON parser.
 */
static int
item_meta_fast(const char *val, size_t len, int *type, char *ns,
    size_t nslen)
{
	static const char	 a[] = "{\"t\":", b[] = ",\"ns\":\"";
	const char		*p = val, *end = val + len, *q;

	if (len < sizeof(a) + sizeof(b) + 2 ||
	    memcmp(p, a, sizeof(a) - 1) != 0)
		return -1;
	p += sizeof(a) - 1;
	if (p >= end || *p < '1' || *p > '9')
		return -1;
	*type = *p++ - '0';
	if (p < end && *p >= '0' && *p <= '9')
		*type = *type * 10 + (*p++ - '0');
	if (*type > CONF_ENGINES)
		return -1;
	if ((size_t)(end - p) < sizeof(b) - 1 ||
	    memcmp(p, b, sizeof(b) - 1) != 0)
		return -1;
	p += sizeof(b) - 1;
	for (q = p; q < end && *q != '"'; q++)
		if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
		    (*q >= '0' && *q <= '9') || *q == '.' || *q == '-' ||
		    *q == '_'))
			return -1;
	if (q + 2 != end || q[1] != '}' || (size_t)(q - p) >= nslen)
		return -1;
	memcpy(ns, p, (size_t)(q - p));
	ns[q - p] = '\0';
	return 0;
}

static void
item_meta(const char *val, size_t len, int *type, char *ns, size_t nslen)
{
	json_object	*o, *v;

	if (item_meta_fast(val, len, type, ns, nslen) == 0)
		return;
	o = store_json(val, len);

	*type = 0;
	ns[0] = '\0';
	if (o != NULL && json_object_object_get_ex(o, "t", &v))
		*type = json_object_get_int(v);
	if (o != NULL && json_object_object_get_ex(o, "ns", &v))
		snprintf(ns, nslen, "%s", json_object_get_string(v));
	json_object_put(o);
	if (*type < 1 || *type > CONF_ENGINES)
		*type = 0;
}

static int
busy_has(struct disp *d, const void *key, size_t klen)
{
	size_t i;

	for (i = 0; i < d->d_busy_n; i++)
		if (d->d_busy[i]->t_qklen == klen &&
		    memcmp(d->d_busy[i]->t_qkey, key, klen) == 0)
			return 1;
	return 0;
}

/* Whether an item of this kind (and type) may start now; reserves. */
static int
scan_room(struct scan *sc, enum queue_kind kind, int type, struct nsload *nl)
{
	struct disp		*d = sc->d;
	struct conf_engine	*ce;

	switch (kind) {
	case QK_TIMEOUT:
		return 1;
	case QK_DELIVER:
		if (sc->transfers >= sc->c->c_concurrency)
			return 0;
		sc->transfers++;
		return 1;
	case QK_STUDY:
	case QK_ASSEMBLE:
		if (sc->queued_for_workers >= SCAN_AHEAD * d->d_nworkers)
			return 0;
		sc->queued_for_workers++;
		return 1;
	case QK_IMAGE:
		if (type == 0)
			return 1;	/* unknown: let the handler drop it */
		ce = &sc->c->c_engine[type - 1];
		if (!ce->ce_configured)
			return 1;	/* the handler fails it */
		if (nl != NULL && sc->active[type] > 1) {
			unsigned share = ce->ce_concurrency / sc->active[type];

			if (nl->nl_busy + nl->nl_picked >= (share ? share : 1))
				return 0;
		}
		if (ce->ce_url != NULL) {
			if (sc->transfers >= sc->c->c_concurrency ||
			    sc->trig[type] + d->d_waiting[type] >=
			    ce->ce_concurrency)
				return 0;
			sc->transfers++;
			sc->trig[type]++;
		} else {
			if (sc->cmd[type] >= ce->ce_concurrency ||
			    sc->queued_for_workers >= SCAN_AHEAD * d->d_nworkers)
				return 0;
			sc->cmd[type]++;
			sc->queued_for_workers++;
		}
		return 1;
	}
	return 1;
}

/* Whether an image of this studyType could start now. */
static int
type_room(const struct scan *sc, int type)
{
	const struct conf_engine *ce = &sc->c->c_engine[type - 1];

	if (!ce->ce_configured)
		return 1;	/* the handler fails it */
	if (ce->ce_url != NULL)
		return sc->transfers < sc->c->c_concurrency &&
		    sc->trig[type] + sc->d->d_waiting[type] <
		    ce->ce_concurrency;
	return sc->cmd[type] < ce->ce_concurrency &&
	    sc->queued_for_workers < SCAN_AHEAD * sc->d->d_nworkers;
}

/*
 * Whether a look may still start anything of this kind at all: once a
 * kind is out of room it stays so for the rest of the look, and its
 * cursor is not walked further.  Images are decided one by one as well
 * (scan_room: the namespace's share); here, whether any engine has room.
 */
static int
kind_room(const struct scan *sc, enum queue_kind kind)
{
	int type, configured;

	switch (kind) {
	case QK_DELIVER:
		return sc->transfers < sc->c->c_concurrency;
	case QK_STUDY:
	case QK_ASSEMBLE:
		return sc->queued_for_workers <
		    SCAN_AHEAD * sc->d->d_nworkers;
	case QK_IMAGE:
		/* an engine with room; images of a studyType without one
		 * (a reload took it away) are met on the way, in due order,
		 * and failed by their handler */
		configured = 0;
		for (type = 1; type <= CONF_ENGINES; type++) {
			if (!sc->c->c_engine[type - 1].ce_configured)
				continue;
			configured = 1;
			if (type_room(sc, type))
				return 1;
		}
		return !configured;
	default:
		return 1;
	}
}

/* What a look did with one due item. */
enum scan_res {
	SCAN_NEXT,		/* picked */
	SCAN_REFUSED,		/* no room for it now */
	SCAN_FULL		/* the batch is full: the look ends */
};

static enum scan_res
scan_item(struct scan *sc, const void *key, size_t klen, const char *val,
    size_t len, int64_t due, enum queue_kind kind, const char *id,
    size_t idlen)
{
	struct task	*t;
	int		 type = 0;
	char		 ns[129] = "";
	struct nsload	*nl;

	/* running items were passed over by stream_next */
	if (kind == QK_IMAGE)
		item_meta(val, len, &type, ns, sizeof(ns));
	/* a namespace that has come since the busy count has no entry yet:
	 * it gets one, for its share */
	nl = kind == QK_IMAGE && type != 0 ? nsload_get(sc->d, ns, type,
	    sc->active[type] > 1) : NULL;
	if (!scan_room(sc, kind, type, nl))
		return SCAN_REFUSED;
	if (nl != NULL)
		nl->nl_picked++;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return SCAN_FULL;
	memcpy(t->t_qkey, key, klen);
	t->t_qklen = klen;
	t->t_due = due;
	t->t_kind = kind;
	memcpy(t->t_id, id, idlen);
	t->t_id[idlen] = '\0';
	t->t_idlen = idlen;
	t->t_type = type;
	snprintf(t->t_ns, sizeof(t->t_ns), "%s", ns);
	sc->picked[sc->n++] = t;
	return sc->n == SCAN_BATCH ? SCAN_FULL : SCAN_NEXT;
}

/*
 * A look walks one cursor per kind (keys start with the kind), one per
 * engine and namespace for images (their keys go on with the studyType and
 * the namespace), and takes their due
 * items in the order of their due times, as if it walked one queue ordered
 * by time.  A stream out of room is not walked further: a long backlog of
 * studies costs nothing while the workers are busy with images, one
 * engine's backlog nothing while another engine has room, and one
 * namespace's nothing once it has its share of an engine.
 */
#if QUEUE_TYPES != CONF_ENGINES
#error "image keys and the configuration disagree on the studyTypes"
#endif
static const struct {
	unsigned char	p[2];
	size_t		plen;
	enum queue_kind	kind;
} scan_fixed[] = {
	{ { QK_DELIVER }, 1, QK_DELIVER },
	{ { QK_TIMEOUT }, 1, QK_TIMEOUT },
	{ { QK_ASSEMBLE }, 1, QK_ASSEMBLE },
	{ { QK_IMAGE, 0 }, 2, QK_IMAGE },	/* images without a studyType */
	{ { QK_STUDY }, 1, QK_STUDY },
};
#define SCAN_FIXED	(sizeof(scan_fixed) / sizeof(scan_fixed[0]))
/* namespaces with due images of one engine that one look finds */
#define SCAN_NS_MAX	NSLOAD_MAX

struct stream {
	struct store_iter	*it;
	int			 state;		/* 0 unopened, 1 has a due item,
						 * -1 done */
	unsigned char		 prefix[2 + QUEUE_NS_MAX + 1];
	size_t			 plen;
	unsigned char		 from[2 + QUEUE_NS_MAX + 1];
	size_t			 fromlen;	/* > 0: walked from this key */
	enum queue_kind		 skind;
	int			 type;		/* a namespace's images of
						 * this studyType, or 0 */
	const void		*key;
	size_t			 klen;
	const char		*val;
	size_t			 len;
	int64_t			 due;
	enum queue_kind		 kind;
	const char		*id;
	size_t			 idlen;
	unsigned		 visits;
};

struct streams {
	struct stream	*st;
	size_t		 n, cap;
};

/* Whether a look may still walk a stream. */
static int
stream_room(const struct scan *sc, const struct stream *st)
{
	if (st->type != 0)
		return type_room(sc, st->type);
	return kind_room(sc, st->skind);
}

/* Moves the stream to its next due item not running already; 0 or a
 * store code. */
static int
stream_next(struct scan *sc, struct stream *st)
{
	int rc;

	for (;;) {
		rc = store_iter_next(st->it, &st->key, &st->klen, &st->val,
		    &st->len);
		if (rc == STORE_NOTFOUND) {
			st->state = -1;
			return 0;
		}
		if (rc != STORE_OK) {
			st->state = -1;
			return rc;
		}
		if (queue_key_parse(st->key, st->klen, &st->due, &st->kind,
		    &st->id, &st->idlen) == -1)
			continue;	/* not ours: pass over it */
		if (st->due > sc->now) {
			if (st->due < sc->next_due)
				sc->next_due = st->due;
			st->state = -1;
			return 0;
		}
		if (busy_has(sc->d, st->key, st->klen))
			continue;
		st->state = 1;
		return 0;
	}
}

static int
stream_open(struct scan *sc, struct store_txn *txn, struct stream *st)
{
	int rc;

	if ((rc = store_iter_open(txn, SDB_QUEUE, st->prefix, st->plen,
	    &st->it)) != STORE_OK || (st->fromlen > 0 &&
	    (rc = store_iter_seek(st->it, st->from, st->fromlen)) !=
	    STORE_OK)) {
		st->state = -1;
		return rc;
	}
	return stream_next(sc, st);
}

static struct stream *
streams_add(struct streams *ss)
{
	struct stream *st;

	if (ss->n == ss->cap) {
		size_t cap = ss->cap ? 2 * ss->cap : 16;

		if ((st = reallocarray(ss->st, cap, sizeof(*st))) == NULL)
			return NULL;
		ss->st = st;
		ss->cap = cap;
	}
	st = &ss->st[ss->n++];
	memset(st, 0, sizeof(*st));
	return st;
}

/*
 * The namespaces with images of studyType type: one stream each, opened
 * on its first due item not running already (a namespace with one is
 * counted in sc->active[type]).  The keys of a namespace follow each other,
 * so a cursor finds them by skipping from one namespace's first key to
 * past its last.  Past SCAN_NS_MAX namespaces, the images of the others
 * are one more stream, walked in key order without shares.
 */
static int
streams_find(struct scan *sc, struct store_txn *txn, struct streams *ss,
    int type)
{
	struct store_iter	*it;
	struct stream		*st;
	unsigned char		 p[2] = { QK_IMAGE, (unsigned char)type };
	unsigned char		 skip[2 + QUEUE_NS_MAX + 1];
	const void		*key;
	const char		*val;
	size_t			 klen, len, plen, found = 0;
	int			 rc, r;

	if ((rc = store_iter_open(txn, SDB_QUEUE, p, sizeof(p), &it)) != 0)
		return rc;
	while ((rc = store_iter_next(it, &key, &klen, &val, &len)) ==
	    STORE_OK) {
		if (found == SCAN_NS_MAX) {
			/* the rest: one stream from this namespace on */
			if ((st = streams_add(ss)) == NULL) {
				rc = STORE_ERR;
				break;
			}
			memcpy(st->prefix, p, sizeof(p));
			st->plen = sizeof(p);
			if ((st->fromlen = queue_image_prefix(key, klen)) == 0)
				st->fromlen = klen < sizeof(st->from) ? klen :
				    sizeof(st->from);
			memcpy(st->from, key, st->fromlen);
			st->skind = QK_IMAGE;
			break;
		}
		if ((plen = queue_image_prefix(key, klen)) == 0) {
			/* not ours: past it */
			if (klen > sizeof(skip) - 1)
				break;
			memcpy(skip, key, klen);
			skip[klen] = '\0';
			if ((rc = store_iter_seek(it, skip, klen + 1)) != 0)
				break;
			continue;
		}
		if ((st = streams_add(ss)) == NULL) {
			rc = STORE_ERR;
			break;
		}
		memcpy(st->prefix, key, plen);
		st->plen = plen;
		st->skind = QK_IMAGE;
		st->type = type;
		found++;
		if ((rc = stream_open(sc, txn, st)) != 0)
			break;
		if (st->state == 1)
			sc->active[type]++;
		/* the next namespace: past "I", type, name, NUL */
		memcpy(skip, st->prefix, plen);
		skip[plen - 1] = 1;
		if ((rc = store_iter_seek(it, skip, plen)) != 0)
			break;
	}
	if (rc == STORE_NOTFOUND)
		rc = 0;
	if ((r = store_iter_close(it)) != 0 && rc == 0)
		rc = r;
	return rc;
}

/* One pass over the due items of every stream with room. */
static int
scan_pass(struct scan *sc, struct store_txn *txn, struct streams *ss)
{
	struct stream	*st, *best;
	size_t		 i;
	int		 rc = 0, r, type;

	ss->n = 0;
	for (i = 0; i < SCAN_FIXED; i++) {
		if ((st = streams_add(ss)) == NULL)
			return STORE_ERR;
		memcpy(st->prefix, scan_fixed[i].p, scan_fixed[i].plen);
		st->plen = scan_fixed[i].plen;
		st->skind = scan_fixed[i].kind;
	}
	memset(sc->active, 0, sizeof(sc->active));
	for (type = 1; type <= CONF_ENGINES; type++)
		if (type_room(sc, type) &&
		    (rc = streams_find(sc, txn, ss, type)) != 0)
			goto out;
	for (;;) {
		best = NULL;
		for (i = 0; i < ss->n; i++) {
			st = &ss->st[i];
			if (st->state == -1 || !stream_room(sc, st))
				continue;
			if (st->state == 0 && (rc = stream_open(sc, txn, st)) != 0)
				goto out;
			if (st->state == 1 && (best == NULL || st->due < best->due))
				best = st;
		}
		if (best == NULL)
			break;
		/* a stream whose due items are refused one by one (images of
		 * no namespace's stream over a share) stops here, not the
		 * others */
		if (++best->visits > SCAN_VISIT_MAX) {
			best->state = -1;
			sc->visited = SCAN_VISIT_MAX + 1;
			continue;
		}
		switch (scan_item(sc, best->key, best->klen, best->val,
		    best->len, best->due, best->kind, best->id, best->idlen)) {
		case SCAN_FULL:
			goto out;
		case SCAN_REFUSED:
			if (best->type != 0) {
				/* a namespace at its share (or its engine
				 * full): the rest of its images wait too */
				best->state = -1;
				continue;
			}
			break;
		case SCAN_NEXT:
			break;
		}
		if ((rc = stream_next(sc, best)) != 0)
			goto out;
	}
out:
	for (i = 0; i < ss->n; i++)
		if ((r = store_iter_close(ss->st[i].it)) != 0 && rc == 0)
			rc = r;
	return rc;
}

static int
scan_body(struct store_txn *txn, void *arg)
{
	struct scan	*sc = arg;
	struct disp	*d = sc->d;
	struct streams	 ss = { NULL, 0, 0 };
	int		 i;

	/* a retried body starts from scratch */
	for (i = 0; i < sc->n; i++)
		free(sc->picked[i]);
	sc->n = 0;
	sc->epoch = store_txn_epoch(txn);
	sc->visited = 0;
	sc->next_due = INT64_MAX;
	pthread_mutex_lock(&d->d_mtx);
	sc->transfers = d->d_transfers;
	sc->queued_for_workers = 0;
	{
		struct task *t;

		TAILQ_FOREACH(t, &d->d_todo, t_entry)
			sc->queued_for_workers++;
	}
	memcpy(sc->trig, d->d_triggering, sizeof(sc->trig));
	memcpy(sc->cmd, d->d_cmd_running, sizeof(sc->cmd));
	for (i = 0; i < (int)d->d_load_n; i++)
		d->d_load[i].nl_picked = 0;
	/* the busy set is read in the visit: hold the lock throughout;
	 * workers only take it briefly */
	i = scan_pass(sc, txn, &ss);
	pthread_mutex_unlock(&d->d_mtx);
	free(ss.st);
	return i;
}

struct waiting {
	struct disp	*d;
	unsigned	 w[CONF_ENGINES + 1];
};

static int
waiting_visit(const void *key, size_t klen, const char *val, size_t len,
    void *arg)
{
	struct waiting	*wt = arg;
	json_object	*o = store_json(val, len), *v;
	struct nsload	*nl;
	int		 t = 0;

	(void)key;
	(void)klen;
	if (o != NULL && json_object_object_get_ex(o, "studyType", &v))
		t = json_object_get_int(v);
	if (t >= 1 && t <= CONF_ENGINES) {
		wt->w[t]++;
		if (json_object_object_get_ex(o, "ns", &v) &&
		    (nl = nsload_get(wt->d, json_object_get_string(v), t,
		    1)) != NULL)
			nl->nl_busy++;
	}
	json_object_put(o);
	return 0;
}

static int
waiting_body(struct store_txn *txn, void *arg)
{
	struct waiting	*wt = arg;
	struct disp	*d = wt->d;
	struct nsload	*nl;
	size_t		 i;

	memset(wt->w, 0, sizeof(wt->w));
	/* busy = awaited (counted here) + running (the busy set) */
	d->d_load_n = 0;
	pthread_mutex_lock(&d->d_mtx);
	for (i = 0; i < d->d_busy_n; i++) {
		struct task *t = d->d_busy[i];

		if (t->t_kind == QK_IMAGE && t->t_type != 0 &&
		    (nl = nsload_get(d, t->t_ns, t->t_type, 1)) != NULL)
			nl->nl_busy++;
	}
	pthread_mutex_unlock(&d->d_mtx);
	return store_scan(txn, SDB_WAITING, NULL, 0, waiting_visit, wt);
}

static void	sched_done(struct disp *, struct task *, enum task_res);

/* The main loop's handlers; what blocks goes to the workers (sched_work). */
static void
task_start(struct disp *d, struct task *t)
{
	struct conf_engine	*ce = NULL;
	enum task_res		 res;

	if (t->t_type >= 1 && t->t_type <= CONF_ENGINES)
		ce = &t->t_dconf->dc_conf->c_engine[t->t_type - 1];
	switch (t->t_kind) {
	case QK_STUDY:
	case QK_ASSEMBLE:
		res = TASK_WORKER;
		break;
	case QK_IMAGE:
		if (ce != NULL && ce->ce_configured && ce->ce_url == NULL)
			res = TASK_WORKER;
		else
			res = engine_trigger(d, t);
		break;
	case QK_TIMEOUT:
		res = engine_timeout(d, t);
		break;
	case QK_DELIVER:
		res = deliver_start(d, t);
		break;
	default:
		log_warnx("%s: unknown queue item kind %d: dropped", __func__,
		    t->t_kind);
		res = TASK_DROP;
		break;
	}
	sched_done(d, t, res);
}

void
sched_work(struct disp *d, struct task *t)
{
	enum task_res res;

	switch (t->t_kind) {
	case QK_STUDY:
		res = assemble_list(d, t);
		break;
	case QK_ASSEMBLE:
		res = assemble_result(d, t);
		break;
	case QK_IMAGE:
		res = engine_command(d, t);
		break;
	default:
		log_warnx("%s: unexpected task kind %d", __func__, t->t_kind);
		res = TASK_DONE;
		break;
	}
	sched_done(d, t, res);
}

int64_t
sched_scan(struct disp *d)
{
	struct scan	sc;
	struct waiting	wt;
	int		i, rc;

	memset(&sc, 0, sizeof(sc));
	if (d->d_load == NULL &&
	    (d->d_load = calloc(NSLOAD_MAX, sizeof(*d->d_load))) == NULL)
		return 1000;
	wt.d = d;
	if (store_txn(d->d_store, waiting_body, &wt) == 0)
		memcpy(d->d_waiting, wt.w, sizeof(wt.w));
	sc.d = d;
	sc.c = d->d_dconf->dc_conf;
	sc.now = store_now_ms();
	if ((rc = store_txn(d->d_store, scan_body, &sc)) != 0) {
		log_warnx("%s: cannot read the queue: %s", __func__,
		    store_errmsg(d->d_store));
		for (i = 0; i < sc.n; i++)
			free(sc.picked[i]);
		return 1000;
	}
	/* mark them busy (and count them) before any starts: a handler may
	 * finish synchronously and release its task */
	pthread_mutex_lock(&d->d_mtx);
	for (i = 0; i < sc.n; i++) {
		struct task		*t = sc.picked[i];

		if (d->d_busy_n == d->d_busy_cap) {
			size_t		 cap = d->d_busy_cap ? 2 * d->d_busy_cap : 64;
			struct task	**nb = reallocarray(d->d_busy, cap,
			    sizeof(*nb));

			if (nb == NULL)
				break;
			d->d_busy = nb;
			d->d_busy_cap = cap;
		}
		d->d_busy[d->d_busy_n++] = t;
		t->t_epoch = sc.epoch;
		t->t_dconf = d->d_dconf;
		t->t_dconf->dc_refs++;
		task_count(d, t, 1);
	}
	pthread_mutex_unlock(&d->d_mtx);
	for (; i < sc.n; i++) {		/* out of memory: later */
		free(sc.picked[i]);
		sc.picked[i] = NULL;
	}
	/*
	 * Nothing leaves the process that a recovery could take back.  A
	 * committed step is on disk only once the log is flushed, and a
	 * commit's own flush may be cut short by another process's recovery
	 * after others have read it (group commit: the locks go first): a
	 * callback queued by such an assembly would be sent, then the
	 * assembly done again with a new webhook-id.  So callbacks go out
	 * only once what the look read is on disk, in the epoch it read it.
	 */
	for (i = 0; i < sc.n; i++)
		if (sc.picked[i] != NULL && sc.picked[i]->t_kind == QK_DELIVER)
			break;
	if (i < sc.n && store_durable(d->d_store, sc.epoch) == -1) {
		log_warnx("%s: %s", __func__, store_errmsg(d->d_store));
		for (i = 0; i < sc.n; i++)
			if (sc.picked[i] != NULL)
				task_release(d, sc.picked[i]);
		return 1000;	/* a recovery: started over at once (main.c) */
	}
	for (i = 0; i < sc.n; i++)
		if (sc.picked[i] != NULL)
			task_start(d, sc.picked[i]);
	if (sc.n == SCAN_BATCH)
		return 0;	/* more may be due and startable */
	if (sc.visited > SCAN_VISIT_MAX)
		return 1000;	/* the rest waits for room (a wake-up) */
	if (sc.next_due == INT64_MAX)
		return 1000;
	return sc.next_due > sc.now ? sc.next_due - sc.now : 0;
}

struct move_arg {
	struct task	*t;
	int64_t		 due;		/* -1: delete */
};

static int
move_body(struct store_txn *txn, void *arg)
{
	struct move_arg	*m = arg;
	char		*val = NULL;
	size_t		 len;
	int		 rc;

	if ((rc = task_fresh(txn, m->t)) != STORE_OK)
		return rc;
	rc = store_get(txn, SDB_QUEUE, m->t->t_qkey, m->t->t_qklen, &val, &len,
	    1);
	if (rc == STORE_NOTFOUND)
		return STORE_OK;	/* done by someone else already */
	if (rc != STORE_OK)
		return rc;
	rc = store_del(txn, SDB_QUEUE, m->t->t_qkey, m->t->t_qklen);
	if (rc != STORE_OK || m->due < 0)
		goto out;
	if (m->t->t_kind == QK_IMAGE)
		/* key and value name the slot the task has now: a retyped
		 * image (task_retype) is not read back into its old one */
		rc = queue_put_image(txn, m->due, m->t->t_type, m->t->t_ns,
		    m->t->t_id, m->t->t_idlen);
	else {
		unsigned char	key[QUEUE_KEY_MAX];
		size_t		klen = queue_key(key, m->due, m->t->t_kind,
				    m->t->t_id, m->t->t_idlen);

		rc = store_put(txn, SDB_QUEUE, key, klen, val, len);
	}
out:
	free(val);
	return rc;
}

/* A handler's outcome: the queue changes (TASK_RETRY, TASK_DROP), the task
 * goes to a worker (TASK_WORKER) or ends.  Any thread. */
static void
sched_done(struct disp *d, struct task *t, enum task_res res)
{
	struct move_arg m = { t, -1 };

	switch (res) {
	case TASK_PENDING:
		return;
	case TASK_WORKER:
		work_submit(d, t);
		return;
	case TASK_RETRY:
		m.due = t->t_retry;
		/* FALLTHROUGH */
	case TASK_DROP:
		if (store_txn(d->d_store, move_body, &m) != 0)
			log_warnx("queue item %s: %s", t->t_id,
			    store_errmsg(d->d_store));
		break;
	case TASK_DONE:
		break;
	}
	task_release(d, t);
}

void
sched_finished(struct disp *d)
{
	struct xfer	*x;
	struct task	*t;
	enum task_res	 res;

	while ((x = TAILQ_FIRST(&d->d_finished)) != NULL) {
		TAILQ_REMOVE(&d->d_finished, x, x_entry);
		t = x->x_task;
		res = x->x_done(x, x->x_code);
		sched_done(d, t, res);
		http_free(x);
	}
}

void
sched_unstarted(struct disp *d, int stale_only)
{
	struct taskq	 q;
	struct task	*t;

	TAILQ_INIT(&q);
	work_take(d, stale_only, &q);
	while ((t = TAILQ_FIRST(&q)) != NULL) {
		TAILQ_REMOVE(&q, t, t_entry);
		task_release(d, t);
	}
}
