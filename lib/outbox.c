/* outbox.c -- callbacks waiting to be delivered, kept until they are */
#include <string.h>

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
