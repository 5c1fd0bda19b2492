/* t_outbox.c -- callbacks kept until delivered: records, queue items, replay */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "outbox.h"
#include "queue.h"
#include "store.h"
#include "tap.h"

static char		 dir[256];
static struct store	*s;

/* One step's arguments and results, for the transaction bodies. */
static struct step {
	const char	*ns, *uid, *kind, *url, *body, *after, *id;
	int		 type;
	int64_t		 now, due;
	char		 newid[WEBHOOK_ID_MAX];
	json_object	*rec, *done;
	int		 rc, found;
} st;

static int
add_body(struct store_txn *t, void *arg)
{
	(void)arg;
	return outbox_add(t, st.ns, st.type, st.uid, st.kind, st.url, st.body,
	    st.after, st.now, st.due, st.newid);
}

static int
add(const char *ns, int type, const char *uid, const char *after,
    int64_t due, char id[WEBHOOK_ID_MAX])
{
	char	body[256];
	int	rc;

	snprintf(body, sizeof(body), "{\"studyInstanceUid\":\"%s\","
	    "\"studyType\":%d,\"status\":0}", uid, type);
	memset(&st, 0, sizeof(st));
	st.ns = ns;
	st.type = type;
	st.uid = uid;
	st.kind = OUTBOX_STATUS;
	st.url = "https://cb.example/mias?x=1";
	st.body = body;
	st.after = after;
	st.now = 1000;
	st.due = due;
	rc = store_txn(s, add_body, NULL);
	memcpy(id, st.newid, WEBHOOK_ID_MAX);
	return rc;
}

static int
get_body(struct store_txn *t, void *arg)
{
	(void)arg;
	json_object_put(st.rec);
	st.rec = NULL;
	return outbox_get(t, st.id, &st.rec, 0);
}

/* The stored record of id (the caller puts it), or NULL. */
static json_object *
get(const char *id)
{
	st.id = id;
	st.rec = NULL;
	if (store_txn(s, get_body, NULL) != STORE_OK)
		return NULL;
	return st.rec;
}

static int
dead_body(struct store_txn *t, void *arg)
{
	json_object	*rec;
	int		 rc;

	(void)arg;
	if ((rc = outbox_get(t, st.id, &rec, STORE_RMW)) != STORE_OK)
		return rc;
	json_object_object_add(rec, "state", json_object_new_string(
	    outbox_state_name(OUTBOX_DEAD)));
	json_object_object_add(rec, "attempts", json_object_new_int(4));
	rc = outbox_put(t, st.id, rec);
	json_object_put(rec);
	return rc;
}

static int
qdel_body(struct store_txn *t, void *arg)
{
	(void)arg;
	return queue_del(t, st.due, QK_DELIVER, st.id, strlen(st.id));
}

static int
qvisit(const void *key, size_t klen, const char *val, size_t len, void *arg)
{
	int64_t		 due;
	enum queue_kind	 kind;
	const char	*id;
	size_t		 idlen;

	(void)val;
	(void)len;
	(void)arg;
	if (queue_key_parse(key, klen, &due, &kind, &id, &idlen) == 0 &&
	    kind == QK_DELIVER && idlen == strlen(st.id) &&
	    memcmp(id, st.id, idlen) == 0) {
		st.found++;
		st.due = due;
	}
	return 0;
}

static int
qfind_body(struct store_txn *t, void *arg)
{
	unsigned char	k = QK_DELIVER;

	(void)arg;
	st.found = 0;
	return store_scan(t, SDB_QUEUE, &k, 1, qvisit, NULL);
}

/* How many delivery items the queue holds for id (the due time of the
 * last in *due). */
static int
queued(const char *id, int64_t *due)
{
	st.id = id;
	if (store_txn(s, qfind_body, NULL) != STORE_OK)
		return -1;
	if (due != NULL)
		*due = st.due;
	return st.found;
}

static int
replay_body(struct store_txn *t, void *arg)
{
	(void)arg;
	json_object_put(st.done);
	st.done = json_object_new_array();
	return outbox_replay(t, st.id, st.ns, st.uid, st.type, st.done);
}

/* outbox_replay; the ids sent again, sorted and joined by blanks, in
 * out ("" when none). */
static int
replay(const char *id, const char *ns, const char *uid, int type, char *out,
    size_t outlen)
{
	const char	*v[16];
	size_t		 i, j, n;
	int		 rc;

	st.id = id;
	st.ns = ns;
	st.uid = uid;
	st.type = type;
	st.done = NULL;
	rc = store_txn(s, replay_body, NULL);
	out[0] = '\0';
	n = json_object_array_length(st.done);
	for (i = 0; i < n && i < 16; i++)
		v[i] = json_object_get_string(json_object_array_get_idx(
		    st.done, i));
	for (i = 1; i < n && i < 16; i++)		/* insertion sort */
		for (j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
			const char *x = v[j];

			v[j] = v[j - 1];
			v[j - 1] = x;
		}
	for (i = 0; i < n && i < 16; i++) {
		if (i > 0)
			strncat(out, " ", outlen - strlen(out) - 1);
		strncat(out, v[i], outlen - strlen(out) - 1);
	}
	json_object_put(st.done);
	st.done = NULL;
	return rc;
}

static const char *
field(json_object *rec, const char *name)
{
	json_object *v;

	if (rec == NULL || !json_object_object_get_ex(rec, name, &v))
		return NULL;
	return json_object_get_string(v);
}

static void
test_states(void)
{
	json_object	*r = json_object_new_object();

	TAP_STREQ(outbox_state_name(OUTBOX_PENDING), "PENDING",
	    "state names: PENDING");
	TAP_STREQ(outbox_state_name(OUTBOX_DELIVERED), "DELIVERED",
	    "state names: DELIVERED");
	TAP_STREQ(outbox_state_name(OUTBOX_DEAD), "DEAD", "state names: DEAD");
	TAP_STREQ(outbox_state_name(OUTBOX__MAX), "UNKNOWN",
	    "a state out of range: UNKNOWN");
	tap_ok(outbox_state_of(NULL) == OUTBOX__MAX &&
	    outbox_state_of(r) == OUTBOX__MAX,
	    "no record, or no state: OUTBOX__MAX");
	json_object_object_add(r, "state", json_object_new_string("dead"));
	tap_ok(outbox_state_of(r) == OUTBOX__MAX, "a state is matched "
	    "exactly (\"dead\" is none)");
	json_object_object_add(r, "state", json_object_new_string("DEAD"));
	tap_ok(outbox_state_of(r) == OUTBOX_DEAD, "\"DEAD\" is OUTBOX_DEAD");
	json_object_put(r);
}

static void
test_add(void)
{
	char		 id1[WEBHOOK_ID_MAX], id2[WEBHOOK_ID_MAX];
	json_object	*rec;
	int64_t		 due = 0;

	tap_ok(add("hosp-a", 4, "1.2.3", NULL, 2000, id1) == STORE_OK,
	    "outbox_add");
	tap_ok(strncmp(id1, "msg_", 4) == 0 && strlen(id1) == 36,
	    "  ... gives the message a webhook-id (%s)", id1);
	rec = get(id1);
	tap_ok(rec != NULL, "  ... stored under it");
	tap_ok(outbox_state_of(rec) == OUTBOX_PENDING &&
	    field(rec, "attempts") != NULL &&
	    strcmp(field(rec, "attempts"), "0") == 0,
	    "  ... PENDING, 0 attempts");
	tap_ok(field(rec, "id") && !strcmp(field(rec, "id"), id1) &&
	    field(rec, "ns") && !strcmp(field(rec, "ns"), "hosp-a") &&
	    field(rec, "studyType") && !strcmp(field(rec, "studyType"), "4") &&
	    field(rec, "studyInstanceUid") &&
	    !strcmp(field(rec, "studyInstanceUid"), "1.2.3") &&
	    field(rec, "kind") && !strcmp(field(rec, "kind"), "status") &&
	    field(rec, "url") &&
	    !strcmp(field(rec, "url"), "https://cb.example/mias?x=1") &&
	    field(rec, "created") && !strcmp(field(rec, "created"), "1000") &&
	    field(rec, "v") && !strcmp(field(rec, "v"), "1"),
	    "  ... with its id, namespace, study, kind, URL, creation time "
	    "and version");
	TAP_STREQ(field(rec, "body"),
	    "{\"studyInstanceUid\":\"1.2.3\",\"studyType\":4,\"status\":0}",
	    "  ... and the body as given, byte for byte");
	tap_ok(field(rec, "after") == NULL, "  ... and no \"after\"");
	json_object_put(rec);
	tap_ok(queued(id1, &due) == 1 && due == 2000,
	    "  ... and one delivery item in the queue, due at 2000");

	tap_ok(add("hosp-a", 4, "1.2.3", id1, 3000, id2) == STORE_OK &&
	    strcmp(id1, id2) != 0, "a second message of the study: a new id");
	rec = get(id2);
	TAP_STREQ(field(rec, "after"), id1, "  ... delivered after the first "
	    "(\"after\")");
	json_object_put(rec);
	tap_ok(get("msg_00000000000000000000000000000000") == NULL,
	    "an unknown id has no record");
}

static void
test_replay(void)
{
	char		 a[WEBHOOK_ID_MAX], b[WEBHOOK_ID_MAX], c[WEBHOOK_ID_MAX];
	char		 d[WEBHOOK_ID_MAX], want[200], got[400];
	json_object	*rec;
	int64_t		 due = 0, t0;

	tap_ok(replay("msg_00000000000000000000000000000000", NULL, NULL, 0,
	    got, sizeof(got)) == STORE_NOTFOUND && got[0] == '\0',
	    "replay of an unknown id: STORE_NOTFOUND");
	add("hosp-r", 4, "9.1", NULL, 5000, a);
	tap_ok(replay(a, NULL, NULL, 0, got, sizeof(got)) == OUTBOX_NOT_DEAD &&
	    got[0] == '\0', "replay of a PENDING message: OUTBOX_NOT_DEAD");

	/* retries exhausted: DEAD, its queue item gone */
	st.id = a;
	st.due = 5000;
	tap_ok(store_txn(s, dead_body, NULL) == STORE_OK &&
	    store_txn(s, qdel_body, NULL) == STORE_OK && queued(a, NULL) == 0,
	    "a message made a dead letter, its queue item deleted");
	t0 = store_now_ms();
	tap_ok(replay(a, NULL, NULL, 0, got, sizeof(got)) == STORE_OK &&
	    strcmp(got, a) == 0, "replay of the dead letter by id: done "
	    "lists it");
	rec = get(a);
	tap_ok(outbox_state_of(rec) == OUTBOX_PENDING &&
	    field(rec, "attempts") && !strcmp(field(rec, "attempts"), "0") &&
	    field(rec, "replayed") != NULL && field(rec, "id") &&
	    !strcmp(field(rec, "id"), a),
	    "  ... PENDING again, 0 attempts, marked replayed, the same id");
	TAP_STREQ(field(rec, "body"),
	    "{\"studyInstanceUid\":\"9.1\",\"studyType\":4,\"status\":0}",
	    "  ... the same body");
	json_object_put(rec);
	tap_ok(queued(a, &due) == 1 && due >= t0 && due <= store_now_ms(),
	    "  ... queued for delivery now");
	tap_ok(replay(a, NULL, NULL, 0, got, sizeof(got)) == OUTBOX_NOT_DEAD,
	    "  ... and not replayed twice");

	/* selections: namespace, study (from the body), every namespace */
	add("hosp-r", 4, "9.2", NULL, 5000, a);
	add("hosp-r", 4, "9.3", NULL, 5000, b);
	add("hosp-q", 4, "9.2", NULL, 5000, c);
	add("hosp-r", 1, "9.2", NULL, 5000, d);
	st.id = a;
	store_txn(s, dead_body, NULL);
	st.id = b;
	store_txn(s, dead_body, NULL);
	st.id = c;
	store_txn(s, dead_body, NULL);
	st.id = d;
	store_txn(s, dead_body, NULL);
	tap_ok(replay(NULL, "hosp-r", "9.2", 4, got, sizeof(got)) ==
	    STORE_OK && strcmp(got, a) == 0,
	    "replay of hosp-r's study 9.2 of type 4: only its dead letter "
	    "(not type 1's, not hosp-q's, not 9.3's)");
	snprintf(want, sizeof(want), "%s %s", strcmp(b, d) < 0 ? b : d,
	    strcmp(b, d) < 0 ? d : b);
	tap_ok(replay(NULL, "hosp-r", NULL, 0, got, sizeof(got)) ==
	    STORE_OK && strcmp(got, want) == 0,
	    "replay of every dead letter of hosp-r: the other two");
	tap_ok(replay(NULL, NULL, NULL, 0, got, sizeof(got)) == STORE_OK &&
	    strcmp(got, c) == 0, "replay of every namespace's: hosp-q's");
	tap_ok(replay(NULL, NULL, NULL, 0, got, sizeof(got)) == STORE_OK &&
	    got[0] == '\0', "nothing dead left: nothing replayed");
	tap_ok(queued(a, NULL) == 2 && queued(b, NULL) == 2 &&
	    queued(c, NULL) == 2 && queued(d, NULL) == 2,
	    "each replayed message has a delivery item now (besides the one "
	    "outbox_add queued)");
}

int
main(void)
{
	char	err[256];

	if (tap_tmpdir(dir, sizeof(dir), "t_outbox") == -1)
		return 1;
	if (store_open(dir, STORE_CREATE, &s, err, sizeof(err)) == -1) {
		printf("Bail out! store_open: %s\n", err);
		return 1;
	}
	test_states();
	test_add();
	test_replay();
	store_close(s);
	tap_tmpdir_done(dir);
	return tap_done();
}
