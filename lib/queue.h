/* queue.h -- the dispatcher's work queue: items ordered by due time */
#ifndef MIAS_QUEUE_H
#define MIAS_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

struct store_txn;

/*
 * Keys are the 8-byte big-endian due time in milliseconds, one kind byte
 * and an id, so a cursor from the start meets due work first.  Whoever
 * moves an item in time deletes its key and puts a new one.
 */
enum queue_kind {
	QK_STUDY = 'S',		/* list a study's objects: id study key NUL run */
	QK_IMAGE = 'I',		/* run one image job: id job id */
	QK_TIMEOUT = 'T',	/* an engine's result is overdue: id job id */
	QK_ASSEMBLE = 'A',	/* every image is done: id study key NUL run */
	QK_DELIVER = 'D',	/* deliver a callback: id message id */
};

#define QUEUE_ID_MAX	512
#define QUEUE_KEY_MAX	(8 + 1 + QUEUE_ID_MAX)

size_t	queue_key(unsigned char *out, int64_t due_ms, enum queue_kind,
	    const void *id, size_t idlen);
/* 0 and the parts of a key (id points into key), -1 if malformed. */
int	queue_key_parse(const void *key, size_t klen, int64_t *due_ms,
	    enum queue_kind *, const char **id, size_t *idlen);

/* value may be NULL ({} is stored).  Store codes. */
int	queue_put(struct store_txn *, int64_t due_ms, enum queue_kind,
	    const void *id, size_t idlen, json_object *value);
int	queue_del(struct store_txn *, int64_t due_ms, enum queue_kind,
	    const void *id, size_t idlen);

/* "study key NUL run" ids of QK_STUDY and QK_ASSEMBLE items. */
size_t	queue_run_id(char *out, const char *key, size_t klen, int64_t run);
int	queue_run_id_parse(const char *id, size_t idlen, size_t *klen,
	    int64_t *run);

#endif /* MIAS_QUEUE_H */
