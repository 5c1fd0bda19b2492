/* ops.c -- the operations API of integrators: listAnalyses and its index */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jv.h"
#include "metrics.h"
#include "ops.h"
#include "outbox.h"
#include "hex.h"
#include "query.h"
#include "store.h"


size_t
ops_index_key(char *out, const char *ns, int64_t ms, int type,
    const char *uid)
{
	size_t	nl = strlen(ns), ul = strlen(uid);

	memcpy(out, ns, nl + 1);
	/* inverted, so that the newest comes first in key order */
	hex_be64_put((unsigned char *)out + nl + 1, ~(uint64_t)ms);
	out[nl + 9] = (char)('0' + type);
	out[nl + 10] = '\0';
	memcpy(out + nl + 11, uid, ul);
	return nl + 11 + ul;
}

int
ops_index_move(struct store_txn *t, const char *ns, int type,
    const char *uid, int64_t old_ms, int64_t new_ms)
{
	char	key[STUDY_KEY_MAX + 16];
	size_t	klen;
	int	rc;

	if (old_ms == new_ms)
		return STORE_OK;
	if (strlen(ns) + strlen(uid) + 16 > sizeof(key))
		return STORE_ERR;
	if (old_ms >= 0) {
		klen = ops_index_key(key, ns, old_ms, type, uid);
		if ((rc = store_del(t, SDB_SUBMITTED, key, klen)) != STORE_OK &&
		    rc != STORE_NOTFOUND)
			return rc;
	}
	if (new_ms < 0)
		return STORE_OK;
	klen = ops_index_key(key, ns, new_ms, type, uid);
	return store_put(t, SDB_SUBMITTED, key, klen, "1", 1);
}

int64_t
ops_submitted(const struct study_rec *study)
{
	if (REC_HAS(study, SF_QUEUED))
		return study->sr_queued;
	return REC_HAS(study, SF_CREATED) ? study->sr_created : 0;
}

/* ---- building the index and the counters of an older store ---------- */

int
ops_built(struct store_txn *t, int *built)
{
	char	*val = NULL;
	int	 rc;

	rc = store_get(t, SDB_META, METRICS_BUILT, strlen(METRICS_BUILT),
	    &val, NULL, 0);
	free(val);
	*built = rc == STORE_OK;
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

int
ops_need(struct store_txn *t)
{
	int	built, rc;

	if ((rc = ops_built(t, &built)) != STORE_OK)
		return rc;
	return built ? STORE_OK : OPS_UNBUILT;
}

/* Records one build step reads: its locks stay well inside the lock
 * table (store.c) however large the store. */
#define OPS_BUILD_STEP	2000

struct build {
	size_t	step;
	int	done;
};

/* A study: its index entry, and counted in its state. */
static int
build_study(struct store_txn *t, const void *key, size_t klen,
    const char *val, size_t len)
{
	struct study_rec	 rec;
	char			 buf[STUDY_KEY_MAX + 1];
	const char		*ns, *uid;
	enum study_state	 st;
	int			 type, rc;

	if (study_key_parse(key, klen, buf, &ns, &type, &uid) == -1 ||
	    study_rec_decode(&rec, store_json(val, len)) == -1)
		return STORE_OK;	/* not ours to judge: lib/check.c's */
	rc = ops_index_move(t, ns, type, uid, -1, ops_submitted(&rec));
	st = rec.sr_state;
	study_rec_free(&rec);
	if (rc != STORE_OK || st == STUDY__MAX)
		return rc;
	return metrics_study_count(t, ns, type, st, 1);
}

/* A message: counted when it is a dead letter. */
static int
build_message(struct store_txn *t, const void *key, size_t klen,
    const char *val, size_t len)
{
	json_object	*rec, *ns;
	int		 rc = STORE_OK;

	(void)key;
	(void)klen;
	if ((rec = store_json(val, len)) == NULL)
		return STORE_OK;
	if (outbox_state_of(rec) == OUTBOX_DEAD &&
	    json_object_object_get_ex(rec, "ns", &ns))
		rc = metrics_dead_count(t, json_object_get_string(ns), 1);
	json_object_put(rec);
	return rc;
}

/* The phases of a build, in order: each walks one database, its place
 * kept in meta.db under its name while it lasts. */
static const struct build_phase {
	const char	*bp_name;
	enum store_db	 bp_db;
	int		(*bp_visit)(struct store_txn *, const void *, size_t,
			    const char *, size_t);
} build_phases[] = {
	{ METRICS_BUILD_STUDIES, SDB_STUDIES, build_study },
	{ METRICS_BUILD_OUTBOX, SDB_OUTBOX, build_message },
};
#define BUILD_PHASES	(sizeof(build_phases) / sizeof(build_phases[0]))

/*
 * One step of phase i: up to b->step records of its database after place;
 * the place moves on, and at the end the phase is over (the next one
 * starts, or after the last the build is done).
 */
static int
build_phase(struct store_txn *t, struct build *b, size_t i,
    const char *place, size_t plen)
{
	const char		*name = build_phases[i].bp_name;
	const char		*next = i + 1 < BUILD_PHASES ?
				    build_phases[i + 1].bp_name : NULL;
	struct store_iter	*it;
	const void		*key;
	const char		*val;
	char			 last[JOB_OBJKEY_MAX + STUDY_KEY_MAX];
	size_t			 klen, len, n = 0, lastlen = plen;
	int			 rc, crc;

	if (plen + 1 > sizeof(last))
		return STORE_ERR;
	memcpy(last, place, plen);
	if ((rc = store_iter_open(t, build_phases[i].bp_db, NULL, 0, &it)) !=
	    STORE_OK)
		return rc;
	if (plen > 0) {
		/* strictly after the place: its key, then NUL */
		last[plen] = '\0';
		rc = store_iter_seek(it, last, plen + 1);
	}
	while (rc == STORE_OK && n < b->step &&
	    (rc = store_iter_next(it, &key, &klen, &val, &len)) == STORE_OK) {
		n++;
		if (klen > sizeof(last)) {
			rc = STORE_ERR;	/* no key of ours is that long */
			break;
		}
		if ((rc = build_phases[i].bp_visit(t, key, klen, val, len)) !=
		    STORE_OK)
			break;
		memcpy(last, key, klen);
		lastlen = klen;
	}
	if ((crc = store_iter_close(it)) != 0 && (rc == STORE_OK ||
	    rc == STORE_NOTFOUND))
		rc = crc;
	if (rc == STORE_OK)	/* more to do: the place moves on */
		return store_put(t, SDB_META, name, strlen(name), last,
		    lastlen);
	if (rc != STORE_NOTFOUND)
		return rc;
	/* the end: this phase is over */
	if ((rc = store_del(t, SDB_META, name, strlen(name))) != STORE_OK)
		return rc;
	if (next != NULL)
		return store_put(t, SDB_META, next, strlen(next), "", 0);
	b->done = 1;
	return store_put(t, SDB_META, METRICS_BUILT, strlen(METRICS_BUILT),
	    "1", 1);
}

static int
build_step(struct store_txn *t, void *arg)
{
	struct build	*b = arg;
	const char	*first = build_phases[0].bp_name;
	char		*place = NULL;
	size_t		 plen = 0, i;
	int		 rc;

	b->done = 0;
	if ((rc = ops_built(t, &b->done)) != STORE_OK || b->done)
		return rc;
	/* the place first, and for writing: one builder at a time */
	for (i = 0; i < BUILD_PHASES; i++) {
		rc = store_get(t, SDB_META, build_phases[i].bp_name,
		    strlen(build_phases[i].bp_name), &place, &plen, STORE_RMW);
		if (rc == STORE_OK) {
			rc = build_phase(t, b, i, place, plen);
			goto out;
		}
		if (rc != STORE_NOTFOUND)
			goto out;
	}
	/* the start: what was counted before goes, the studies come first */
	if ((rc = metrics_gauges_clear(t)) == STORE_OK)
		rc = store_put(t, SDB_META, first, strlen(first), "", 0);
out:
	free(place);
	return rc;
}

int
ops_build_steps(struct store *s, size_t step, int *done)
{
	struct build	b = { step > 0 ? step : OPS_BUILD_STEP, 0 };
	int		rc;

	rc = store_txn(s, build_step, &b);
	*done = b.done;
	return rc;
}

int
ops_build(struct store *s)
{
	int done = 0, rc;

	while ((rc = ops_build_steps(s, 0, &done)) == STORE_OK && !done)
		;
	return rc;
}

/* ---- the query ---------------------------------------------------------- */

int64_t
ops_time_parse(const char *s)
{
	struct tm	 tm;
	const char	*p;
	char		*end;
	long long	 v, frac = 0, scale = 1000, off = 0;
	time_t		 secs;

	if (*s == '\0')
		return -1;
	for (p = s; isdigit((unsigned char)*p); p++)
		;
	if (*p == '\0') {
		if (p - s > 12)
			return -1;
		v = strtoll(s, &end, 10);
		return (int64_t)v * 1000;
	}
	memset(&tm, 0, sizeof(tm));
	/* YYYY-MM-DD'T'HH:MM:SS, 't' and ' ' allowed as RFC 3339 says */
	if ((p = strptime(s, "%Y-%m-%d", &tm)) == NULL ||
	    (*p != 'T' && *p != 't' && *p != ' ') || p - s != 10 ||
	    (end = strptime(p + 1, "%H:%M:%S", &tm)) == NULL ||
	    end - p != 9)
		return -1;
	p = end;
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++)
			if (scale > 1) {
				scale /= 10;
				frac += (*p - '0') * scale;
			}
		if (!isdigit((unsigned char)p[-1]))
			return -1;
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	else if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1]) &&
	    isdigit((unsigned char)p[2]) && p[3] == ':' &&
	    isdigit((unsigned char)p[4]) && isdigit((unsigned char)p[5])) {
		off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600 +
		    ((p[4] - '0') * 10 + (p[5] - '0')) * 60;
		if (off > 24 * 3600)
			return -1;
		if (*p == '+')
			off = -off;
		p += 6;
	} else
		return -1;
	if (*p != '\0' || (secs = timegm(&tm)) == (time_t)-1)
		return -1;
	if ((long long)secs + off < 0)
		return -1;
	return ((int64_t)secs + off) * 1000 + frac;
}

/* One time parameter: 0 (absent: -1), or -1 with msg. */
static int
query_time(const char *query, const char *name, int64_t *ms, char *msg,
    size_t msglen)
{
	char		 buf[64];
	const char	*why = NULL;
	int		 n;

	*ms = -1;
	if ((n = query_get(query, name, buf, sizeof(buf), &why)) == 0)
		return 0;
	if (n == -1 || (*ms = ops_time_parse(buf)) < 0) {
		snprintf(msg, msglen, "%s: must be an RFC 3339 time or seconds "
		    "since the epoch", name);
		return -1;
	}
	return 0;
}

int
ops_list_query(const char *query, struct ops_list_req *q, char *msg,
    size_t msglen, enum rc *rc)
{
	char		 buf[2 * OPS_CURSOR_MAX + 2], *end;
	const char	*why = NULL;
	long		 v, dn;
	size_t		 n;
	int		 got;

	memset(q, 0, sizeof(*q));
	q->state = STUDY__MAX;
	q->limit = OPS_LIMIT_DEFAULT;
	*rc = RC_INVALID;
	if ((got = query_get(query, "state", buf, sizeof(buf), &why)) != 0 &&
	    (got == -1 || (q->state = study_state_parse(buf)) == STUDY__MAX)) {
		snprintf(msg, msglen, "state: must be one of QUEUED, RUNNING, "
		    "DONE, FAILED, CANCELLED");
		return -1;
	}
	if ((got = query_get(query, "studyType", buf, 8, &why)) != 0) {
		v = got == 1 ? strtol(buf, &end, 10) : 0;
		if (got == -1 || buf[0] < '1' || buf[0] > '4' || *end != '\0' ||
		    v < 1 || v > 4) {
			snprintf(msg, msglen, "studyType: must be an integer "
			    "from 1 to 4");
			return -1;
		}
		q->type = (int)v;
	}
	if (query_time(query, "since", &q->since_ms, msg, msglen) == -1 ||
	    query_time(query, "until", &q->until_ms, msg, msglen) == -1)
		return -1;
	if ((got = query_get(query, "limit", buf, 8, &why)) != 0) {
		v = got == 1 ? strtol(buf, &end, 10) : 0;
		if (got == -1 || buf[0] < '0' || buf[0] > '9' || *end != '\0' ||
		    v < 1 || v > OPS_LIMIT_MAX) {
			snprintf(msg, msglen, "limit: must be an integer from 1 "
			    "to %d", OPS_LIMIT_MAX);
			return -1;
		}
		q->limit = (int)v;
	}
	if ((got = query_get(query, "cursor", buf, sizeof(buf), &why)) != 0) {
		n = got == 1 ? strlen(buf) : 0;
		if (n < 2 * 10 || (dn = hex_decode(buf, n, q->cursor,
		    OPS_CURSOR_MAX)) < 0)
			goto badcursor;
		q->cursor_len = (size_t)dn;
	}
	return 0;
badcursor:
	snprintf(msg, msglen, "cursor: not one this endpoint gave");
	return -1;
}

/* ---- the listing ------------------------------------------------------- */

static json_object *
ops_time(int64_t ms)
{
	char		buf[40];
	time_t		t;
	struct tm	tm;

	if (ms <= 0)
		return NULL;
	t = (time_t)(ms / 1000);
	if (gmtime_r(&t, &tm) == NULL)
		return NULL;
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), ".%03dZ",
	    (int)(ms % 1000));
	return json_object_new_string(buf);
}

static json_object *
ops_item(const struct study_rec *st, int type, const char *uid)
{
	json_object	*it = json_object_new_object();
	int64_t		 ended = 0;

	if (it == NULL)
		return NULL;
	if (uid[0] == STUDY_PUSH_MARK[0])
		json_object_object_add(it, "imageUid",
		    json_object_new_string(uid + 1));
	else
		json_object_object_add(it, "studyInstanceUid",
		    json_object_new_string(uid));
	json_object_object_add(it, "studyType", json_object_new_int(type));
	json_object_object_add(it, "state", REC_HAS(st, SF_STATE) ?
	    json_object_new_string(study_state_name(st->sr_state)) : NULL);
	json_object_object_add(it, "submittedAt", ops_time(ops_submitted(st)));
	if (st->sr_state != STUDY_QUEUED && st->sr_state != STUDY_RUNNING)
		ended = st->sr_finished;
	json_object_object_add(it, "endedAt", ops_time(ended));
	json_object_object_add(it, "imagesTotal",
	    json_object_new_int((int)st->sr_images_total));
	json_object_object_add(it, "imagesDone",
	    json_object_new_int((int)st->sr_images_done));
	return it;
}

static json_object *
ops_cursor(const unsigned char *p, size_t n)
{
	char buf[2 * OPS_CURSOR_MAX + 1];

	if (n > OPS_CURSOR_MAX)
		return NULL;
	hex_encode(p, n, buf);
	return json_object_new_string(buf);
}

int
ops_list(struct store_txn *t, const char *ns, const struct ops_list_req *q,
    json_object **data)
{
	struct store_iter	*it = NULL;
	struct study_rec	 st;
	json_object		*items, *o, *v, *next = NULL;
	char			 start[STUDY_KEY_MAX + OPS_CURSOR_MAX + 2];
	char			 skey[STUDY_KEY_MAX];
	const unsigned char	*k, *tail;
	const char		*val, *uid;
	size_t			 nl = strlen(ns), klen, vlen, slen, tl, n = 0;
	size_t			 scanned = 0;
	int64_t			 ms;
	int			 rc, type;

	*data = NULL;
	memset(&st, 0, sizeof(st));
	if ((items = json_object_new_array()) == NULL)
		return STORE_ERR;
	if (nl + 1 + OPS_CURSOR_MAX + 1 > sizeof(start)) {
		rc = STORE_ERR;
		goto out;
	}
	memcpy(start, ns, nl + 1);
	slen = nl + 1;
	if (q->cursor_len > 0) {
		/* strictly after the cursor's entry: its key, then NUL */
		memcpy(start + slen, q->cursor, q->cursor_len);
		slen += q->cursor_len;
		start[slen++] = '\0';
	} else if (q->until_ms >= 0) {
		hex_be64_put((unsigned char *)start + slen, ~(uint64_t)q->until_ms);
		slen += 8;
	}
	if ((rc = store_iter_open(t, SDB_SUBMITTED, ns, nl + 1, &it)) !=
	    STORE_OK)
		goto out;
	if (slen > nl + 1 && (rc = store_iter_seek(it, start, slen)) !=
	    STORE_OK)
		goto out;
	for (;;) {
		rc = store_iter_next(it, (const void **)&k, &klen, &val, &vlen);
		if (rc == STORE_NOTFOUND) {
			rc = STORE_OK;
			break;
		}
		if (rc != STORE_OK)
			goto out;
		tail = k + nl + 1;
		tl = klen - nl - 1;
		if (tl < 11 || tl > OPS_CURSOR_MAX || tail[8] < '1' ||
		    tail[8] > '9' || tail[9] != '\0')
			continue;	/* not an index entry */
		ms = (int64_t)~hex_be64_get(tail);
		if (q->since_ms >= 0 && ms < q->since_ms)
			break;		/* older from here on */
		if (n == (size_t)q->limit || scanned == OPS_SCAN_MAX) {
			/* more to come: resume after the last one read */
			if ((next = ops_cursor((unsigned char *)start +
			    nl + 1, slen - nl - 1)) == NULL) {
				rc = STORE_ERR;
				goto out;
			}
			break;
		}
		scanned++;
		json_object_put(next);
		next = NULL;
		/* where the next page starts, should this be the last */
		memcpy(start + nl + 1, tail, tl);
		slen = nl + 1 + tl;
		if (q->until_ms >= 0 && ms > q->until_ms)
			continue;
		type = tail[8] - '0';
		if (q->type != 0 && type != q->type)
			continue;
		{
			char ub[STUDY_UID_MAX + 2];

			if (tl - 10 > STUDY_UID_MAX + 1)
				continue;
			memcpy(ub, tail + 10, tl - 10);
			ub[tl - 10] = '\0';
			uid = ub;
			klen = study_key(skey, ns, type, uid);
			study_rec_free(&st);
			rc = store_get_json(t, SDB_STUDIES, skey, klen, &o, 0);
			if (rc == STORE_NOTFOUND)
				continue;	/* removed since */
			if (rc != STORE_OK)
				goto out;
			if (study_rec_decode(&st, o) == -1) {
				rc = STORE_ERR;
				goto out;
			}
			if (ops_submitted(&st) != ms)
				continue;	/* an older run's entry */
			if (q->state != STUDY__MAX && st.sr_state != q->state)
				continue;
			if ((v = ops_item(&st, type, uid)) == NULL) {
				rc = STORE_ERR;
				goto out;
			}
		}
		json_object_array_add(items, v);
		n++;
	}
	if (rc == STORE_OK && (*data = json_object_new_object()) == NULL)
		rc = STORE_ERR;
	if (rc == STORE_OK) {
		json_object_object_add(*data, "items", items);
		items = NULL;
		json_object_object_add(*data, "nextCursor", next);
		next = NULL;
	}
out:
	if (it != NULL) {
		int crc = store_iter_close(it);

		if (rc == STORE_OK && crc != 0)
			rc = crc;
	}
	if (rc != STORE_OK) {
		json_object_put(*data);
		*data = NULL;
	}
	json_object_put(items);
	json_object_put(next);
	study_rec_free(&st);
	return rc;
}

/* ---- cancelAnalysis and redeliverCallbacks --------------------------- */

enum { OS_UID, OS_TYPE, OS__MAX };

int
ops_study_body(const char *body, size_t len, int required,
    struct ops_study_req *o, char *msg, size_t msglen, enum rc *rc)
{
	struct jv_field	f[OS__MAX] = {
		[OS_UID] = { "studyInstanceUid", JV_STRING, JV_NONEMPTY |
		    JV_NULL_OK, STUDY_UID_MAX, 0, 0, NULL, jv_printable },
		[OS_TYPE] = { "studyType", JV_INT, JV_NULL_OK, 0, 1, 4, NULL,
		    NULL },
	};
	struct jv_value	v[OS__MAX];

	memset(o, 0, sizeof(*o));
	*rc = RC_INVALID;
	if (required) {
		f[OS_UID].jf_flags = JV_REQUIRED | JV_NONEMPTY;
		f[OS_TYPE].jf_flags = JV_REQUIRED;
	}
	if ((o->os_body = jv_parse(body, len, msg, msglen)) == NULL)
		return -1;
	if (jv_read(o->os_body, f, OS__MAX, v, msg, msglen) == -1)
		goto err;
	o->os_uid = v[OS_UID].v_present ? v[OS_UID].v_str : NULL;
	o->os_type = v[OS_TYPE].v_present ? (int)v[OS_TYPE].v_int : 0;
	if ((o->os_uid == NULL) != (o->os_type == 0)) {
		snprintf(msg, msglen, "studyInstanceUid and studyType: give "
		    "both or neither");
		goto err;
	}
	return 0;
err:
	ops_study_free(o);
	return -1;
}

void
ops_study_free(struct ops_study_req *o)
{
	json_object_put(o->os_body);
	memset(o, 0, sizeof(*o));
}
