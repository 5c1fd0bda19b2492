/* queue.h -- the dispatcher's work queue: items by kind, then due time */
#ifndef MIAS_QUEUE_H
#define MIAS_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

struct store_txn;

/*
 * Keys are one kind byte, the 8-byte big-endian due time in milliseconds
 * and an id, so a cursor from a kind's first key meets that kind's due
 * work first, and a look for work walks only the kinds it has room for.
 * Image items have the engine's slot (1..QUEUE_TYPES; slots 1..4 are the
 * studyTypes' [engine.N], the others named sections: lib/conf.h, struct
 * conf_engine) as a second byte, then
 * the namespace and a NUL, before the due time: each engine's images are
 * a stream of their own, and within it each namespace's, so a backlog
 * waiting for one engine, or held to one namespace's fair share, is
 * never walked to reach the images behind it.  An image item of an
 * unknown studyType (or namespace) is keyed as the other kinds are: 'I',
 * then the due time (so its second byte is 0, never a slot), then the id.
 * Whoever moves an item in time deletes its key and puts a new one.
 *
 * This is the only layout read: a store of another layout is upgraded
 * through its format version (lib/store.h, STORE_FORMAT).
 */
enum queue_kind {
	QK_STUDY = 'S',		/* list a study's objects: id study key NUL run */
	QK_IMAGE = 'I',		/* run one image job: id job id */
	QK_TIMEOUT = 'T',	/* an engine's result is overdue: id job id */
	QK_ASSEMBLE = 'A',	/* every image is done: id study key NUL run */
	QK_DELIVER = 'D',	/* deliver a callback: id message id */
};

#define QUEUE_ID_MAX	512
#define QUEUE_NS_MAX	128	/* a namespace name's bytes in an image key */
#define QUEUE_KEY_MAX	(1 + 1 + QUEUE_NS_MAX + 1 + 8 + QUEUE_ID_MAX)
#define QUEUE_TYPES	16	/* engine slots of image keys: 1..QUEUE_TYPES
				 * (CONF_ENGINES) */

/* Items of any kind but images, and images of an unknown studyType. */
size_t	queue_key(unsigned char *out, int64_t due_ms, enum queue_kind,
	    const void *id, size_t idlen);
/* An image item of studyType type for namespace ns (a type outside
 * 1..QUEUE_TYPES, or a name that is empty or too long: neither in the key).
 * The prefix of a namespace's images of a type is the key's first
 * queue_image_prefix() bytes (0 for a key without them). */
size_t	queue_image_key(unsigned char *out, int64_t due_ms, int type,
	    const char *ns, const void *id, size_t idlen);
size_t	queue_image_prefix(const void *key, size_t klen);
/* 0 and the parts of a key (id points into key), -1 if malformed. */
int	queue_key_parse(const void *key, size_t klen, int64_t *due_ms,
	    enum queue_kind *, const char **id, size_t *idlen);

/* value may be NULL ({} is stored).  Store codes. */
int	queue_put(struct store_txn *, int64_t due_ms, enum queue_kind,
	    const void *id, size_t idlen, json_object *value);
/* Its value is {"t":type,"ns":"NS"}, which a look at the queue reads in
 * place (dispatcher/sched.c, item_meta). */
int	queue_put_image(struct store_txn *, int64_t due_ms, int type,
	    const char *ns, const void *id, size_t idlen);
/* STORE_NOTFOUND when there is no such item. */
int	queue_del(struct store_txn *, int64_t due_ms, enum queue_kind,
	    const void *id, size_t idlen);

/* "study key NUL run" ids of QK_STUDY and QK_ASSEMBLE items. */
size_t	queue_run_id(char *out, const char *key, size_t klen, int64_t run);
int	queue_run_id_parse(const char *id, size_t idlen, size_t *klen,
	    int64_t *run);

#endif /* MIAS_QUEUE_H */
