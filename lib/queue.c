/* queue.c -- the dispatcher's work queue: items by kind, then due time */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "queue.h"
#include "store.h"

/* A due time (before 1970: as 1970) */
static void
put_be64(unsigned char *out, int64_t ms)
{
	hex_be64_put(out, ms < 0 ? 0 : (uint64_t)ms);
}

static int64_t
get_be64(const unsigned char *k)
{
	return (int64_t)hex_be64_get(k);
}

size_t
queue_key(unsigned char *out, int64_t due_ms, enum queue_kind kind,
    const void *id, size_t idlen)
{
	out[0] = (unsigned char)kind;
	put_be64(out + 1, due_ms);
	if (idlen > QUEUE_ID_MAX)
		idlen = QUEUE_ID_MAX;
	memcpy(out + 9, id, idlen);
	return 9 + idlen;
}

size_t
queue_image_key(unsigned char *out, int64_t due_ms, int type, const char *ns,
    const void *id, size_t idlen)
{
	size_t nslen = ns != NULL ? strlen(ns) : 0;

	if (type < 1 || type > QUEUE_TYPES || nslen == 0 ||
	    nslen > QUEUE_NS_MAX)
		return queue_key(out, due_ms, QK_IMAGE, id, idlen);
	out[0] = (unsigned char)QK_IMAGE;
	out[1] = (unsigned char)type;
	memcpy(out + 2, ns, nslen);
	out[2 + nslen] = '\0';
	put_be64(out + 3 + nslen, due_ms);
	if (idlen > QUEUE_ID_MAX)
		idlen = QUEUE_ID_MAX;
	memcpy(out + 11 + nslen, id, idlen);
	return 11 + nslen + idlen;
}

size_t
queue_image_prefix(const void *key, size_t klen)
{
	const unsigned char	*k = key, *nul;

	if (klen < 3 || k[0] != QK_IMAGE || k[1] < 1 || k[1] > QUEUE_TYPES)
		return 0;
	if ((nul = memchr(k + 2, '\0', klen - 2)) == NULL || nul == k + 2 ||
	    (size_t)(nul - k) - 2 > QUEUE_NS_MAX)
		return 0;
	return (size_t)(nul - k) + 1;
}

int
queue_key_parse(const void *key, size_t klen, int64_t *due_ms,
    enum queue_kind *kind, const char **id, size_t *idlen)
{
	const unsigned char	*k = key;

	if (klen < 10)
		return -1;
	switch (k[0]) {
	case QK_IMAGE:
	case QK_STUDY:
	case QK_TIMEOUT:
	case QK_ASSEMBLE:
	case QK_DELIVER:
		break;
	default:
		return -1;	/* not a queue item's key */
	}
	*kind = (enum queue_kind)k[0];
	if (k[0] == QK_IMAGE && k[1] >= 1 && k[1] <= QUEUE_TYPES) {
		size_t p = queue_image_prefix(k, klen);

		if (p == 0 || klen < p + 9)
			return -1;
		*due_ms = get_be64(k + p);
		*id = (const char *)k + p + 8;
		*idlen = klen - p - 8;
		return 0;
	}
	*due_ms = get_be64(k + 1);
	*id = (const char *)k + 9;
	*idlen = klen - 9;
	return 0;
}

int
queue_put(struct store_txn *t, int64_t due_ms, enum queue_kind kind,
    const void *id, size_t idlen, json_object *value)
{
	unsigned char	key[QUEUE_KEY_MAX];
	size_t		klen = queue_key(key, due_ms, kind, id, idlen);

	if (value == NULL)
		return store_put(t, SDB_QUEUE, key, klen, "{}", 2);
	return store_put_json(t, SDB_QUEUE, key, klen, value);
}

int
queue_put_image(struct store_txn *t, int64_t due_ms, int type,
    const char *ns, const void *id, size_t idlen)
{
	unsigned char	 key[QUEUE_KEY_MAX];
	size_t		 klen = queue_image_key(key, due_ms, type, ns, id,
			    idlen);
	json_object	*value;
	int		 rc;

	if ((value = json_object_new_object()) == NULL)
		return STORE_ERR;
	json_object_object_add(value, "t", json_object_new_int(type));
	json_object_object_add(value, "ns", json_object_new_string(ns));
	rc = store_put_json(t, SDB_QUEUE, key, klen, value);
	json_object_put(value);
	return rc;
}

int
queue_del(struct store_txn *t, int64_t due_ms, enum queue_kind kind,
    const void *id, size_t idlen)
{
	unsigned char	key[QUEUE_KEY_MAX];
	size_t		klen = queue_key(key, due_ms, kind, id, idlen);

	return store_del(t, SDB_QUEUE, key, klen);
}

size_t
queue_run_id(char *out, const char *key, size_t klen, int64_t run)
{
	memcpy(out, key, klen);
	out[klen] = '\0';
	return klen + 1 + (size_t)snprintf(out + klen + 1, 21, "%lld",
	    (long long)run);
}

int
queue_run_id_parse(const char *id, size_t idlen, size_t *klen, int64_t *run)
{
	const char	*nul = NULL;
	char		 num[24];
	size_t		 i, n;

	/* the run follows the last NUL: study keys hold two NULs */
	for (i = idlen; i > 0; i--)
		if (id[i - 1] == '\0') {
			nul = id + i - 1;
			break;
		}
	if (nul == NULL)
		return -1;
	n = idlen - (size_t)(nul - id) - 1;
	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, nul + 1, n);
	num[n] = '\0';
	*run = strtoll(num, NULL, 10);
	*klen = (size_t)(nul - id);
	return 0;
}
