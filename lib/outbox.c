/* outbox.c -- callbacks waiting to be delivered, kept until they are */
#include <string.h>

#include "metrics.h"
#include "outbox.h"
#include "queue.h"
#include "store.h"

#define OUTBOX_RECORD_VERSION	1

static const char *const outbox_state_names[OUTBOX__MAX] = {
	"PENDING", "DELIVERED", "DEAD",
};

const char *
outbox_state_name(enum outbox_state s)
{
	return s < OUTBOX__MAX ? outbox_state_names[s] : "UNKNOWN";
}

enum outbox_state
outbox_state_of(json_object *rec)
{
	json_object	*v;
	int		 i;

	if (rec != NULL && json_object_object_get_ex(rec, "state", &v))
		for (i = 0; i < OUTBOX__MAX; i++)
			if (!strcmp(json_object_get_string(v),
			    outbox_state_names[i]))
				return (enum outbox_state)i;
	return OUTBOX__MAX;
}

int
outbox_get(struct store_txn *t, const char *id, json_object **rec, int rmw)
{
	return store_get_json(t, SDB_OUTBOX, id, strlen(id), rec, rmw);
}

int
outbox_put(struct store_txn *t, const char *id, json_object *rec)
{
	return store_put_json(t, SDB_OUTBOX, id, strlen(id), rec);
}

int
outbox_add(struct store_txn *t, const char *ns, int type, const char *uid,
    const char *kind, const char *url, const char *body, const char *after,
    int64_t now, int64_t due, char id[WEBHOOK_ID_MAX])
{
	json_object	*rec;
	int		 rc;

	if (webhook_id_new(id) == -1 || (rec = json_object_new_object()) == NULL)
		return STORE_ERR;
	json_object_object_add(rec, "v",
	    json_object_new_int(OUTBOX_RECORD_VERSION));
	json_object_object_add(rec, "id", json_object_new_string(id));
	json_object_object_add(rec, "ns", json_object_new_string(ns));
	json_object_object_add(rec, "studyType", json_object_new_int(type));
	json_object_object_add(rec, "studyInstanceUid",
	    json_object_new_string(uid));
	json_object_object_add(rec, "kind", json_object_new_string(kind));
	json_object_object_add(rec, "url", json_object_new_string(url));
	json_object_object_add(rec, "body", json_object_new_string(body));
	json_object_object_add(rec, "state",
	    json_object_new_string(outbox_state_name(OUTBOX_PENDING)));
	json_object_object_add(rec, "attempts", json_object_new_int(0));
	json_object_object_add(rec, "created", json_object_new_int64(now));
	if (after != NULL)
		json_object_object_add(rec, "after",
		    json_object_new_string(after));
	if ((rc = outbox_put(t, id, rec)) == STORE_OK)
		rc = queue_put(t, due, QK_DELIVER, id, strlen(id), NULL);
	json_object_put(rec);
	return rc;
}

static int
replay_one(struct store_txn *t, const char *id, json_object *rec,
    json_object *done)
{
	json_object	*v;
	int64_t		 now = store_now_ms();
	int		 rc;

	/* the same message, so the same webhook-id, from the first try */
	json_object_object_add(rec, "state", json_object_new_string(
	    outbox_state_name(OUTBOX_PENDING)));
	json_object_object_add(rec, "attempts", json_object_new_int(0));
	json_object_object_add(rec, "replayed", json_object_new_int64(now));
	if ((rc = outbox_put(t, id, rec)) != STORE_OK ||
	    (rc = queue_put(t, now, QK_DELIVER, id, strlen(id), NULL)) !=
	    STORE_OK)
		return rc;
	if (json_object_object_get_ex(rec, "ns", &v) &&
	    (rc = metrics_dead_add(t, json_object_get_string(v), id, -1)) !=
	    STORE_OK)
		return rc;
	json_object_array_add(done, json_object_new_string(id));
	return STORE_OK;
}

struct dead_sel {
	const char	*ns, *uid;
	int		 type;
	json_object	*ids;
};

/* The study a status callback is about: its body's studyInstanceUid and
 * studyType. */
static int
dead_of_study(json_object *rec, const char *uid, int type)
{
	json_object	*v, *body, *u, *ty;
	int		 match;

	if (!json_object_object_get_ex(rec, "body", &v) ||
	    (body = json_tokener_parse(json_object_get_string(v))) == NULL)
		return 0;
	match = json_object_object_get_ex(body, "studyInstanceUid", &u) &&
	    json_object_is_type(u, json_type_string) &&
	    strcmp(json_object_get_string(u), uid) == 0 &&
	    json_object_object_get_ex(body, "studyType", &ty) &&
	    json_object_get_int(ty) == type;
	json_object_put(body);
	return match;
}

static int
dead_visit(const void *key, size_t klen, const char *val, size_t len,
    void *arg)
{
	struct dead_sel	*d = arg;
	json_object	*rec, *v;

	if ((rec = store_json(val, len)) == NULL)
		return 0;
	if (outbox_state_of(rec) == OUTBOX_DEAD &&
	    (d->ns == NULL || (json_object_object_get_ex(rec, "ns", &v) &&
	    strcmp(json_object_get_string(v), d->ns) == 0)) &&
	    (d->uid == NULL || dead_of_study(rec, d->uid, d->type)))
		json_object_array_add(d->ids, json_object_new_string_len(key,
		    (int)klen));
	json_object_put(rec);
	return 0;
}

int
outbox_replay(struct store_txn *t, const char *id, const char *ns,
    const char *uid, int type, json_object *done)
{
	struct dead_sel	 d = { ns, uid, type, NULL };
	json_object	*rec = NULL;
	size_t		 i;
	int		 rc;

	if (id != NULL) {
		if ((rc = outbox_get(t, id, &rec, 1)) != STORE_OK)
			return rc;
		if (outbox_state_of(rec) != OUTBOX_DEAD)
			rc = OUTBOX_NOT_DEAD;
		else
			rc = replay_one(t, id, rec, done);
		json_object_put(rec);
		return rc;
	}
	if ((d.ids = json_object_new_array()) == NULL)
		return STORE_ERR;
	if ((rc = store_scan(t, SDB_OUTBOX, NULL, 0, dead_visit, &d)) != 0)
		goto out;
	for (i = 0; i < json_object_array_length(d.ids); i++) {
		const char *mid = json_object_get_string(
		    json_object_array_get_idx(d.ids, i));

		if ((rc = outbox_get(t, mid, &rec, 1)) != STORE_OK ||
		    (rc = replay_one(t, mid, rec, done)) != STORE_OK)
			goto out;
		json_object_put(rec);
		rec = NULL;
	}
out:
	json_object_put(rec);
	json_object_put(d.ids);
	return rc;
}
