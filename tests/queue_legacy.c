/*
 * queue_legacy.c -- rewrites a store's queue in the key layouts of earlier builds
 *
 * Usage: queue_legacy STATE_DIR                   oldest layout, print
 *                                                 "converted N"
 *        queue_legacy STATE_DIR --untyped-images  image keys without the
 *                                                 studyType, "converted N"
 *        queue_legacy STATE_DIR --count           print "kind-first N
 *                                                 legacy M typed-images T"
 *
 * The first builds keyed queue items by due time first (8 bytes
 * big-endian), then the kind byte and the id; the next put the kind first
 * ('I', due time, id for images); lib/queue.c now also puts an image's
 * studyType and namespace after the 'I', and still reads, finds and
 * deletes both older layouts.  This program builds the older layouts itself (not through
 * lib/queue.c), so test_queue_legacy.py and test_engine_streams.py can
 * give the dispatcher and the responders a store as an earlier build left
 * it.  Run it with the dispatcher stopped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"
#include "store.h"

struct item {
	unsigned char	*key, *val;
	size_t		 klen, vlen;
};

struct walk {
	struct item	*items;
	size_t		 n, cap;
	size_t		 legacy, typed;
	int		 untyped_only;	/* convert typed image keys only */
};

/* An image key with the studyType and the namespace ('I', type 1..4,
 * name, NUL, due[8], id): the length of that prefix, else 0. */
static size_t
typed_image(const unsigned char *k, size_t klen)
{
	size_t p = queue_image_prefix(k, klen);

	return p > 0 && klen > p + 8 ? p : 0;
}

static int
collect(const void *key, size_t klen, const char *val, size_t len, void *arg)
{
	struct walk		*w = arg;
	const unsigned char	*k = key;
	struct item		*it;

	if (klen < 10)
		return 0;
	if (k[0] == 0) {
		w->legacy++;
		return 0;
	}
	if (typed_image(k, klen))
		w->typed++;
	else if (w->untyped_only)
		return 0;
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 64;

		if ((it = realloc(w->items, cap * sizeof(*it))) == NULL)
			return STORE_ERR;
		w->items = it;
		w->cap = cap;
	}
	it = &w->items[w->n];
	if ((it->key = malloc(klen)) == NULL ||
	    (it->val = malloc(len + 1)) == NULL)
		return STORE_ERR;
	memcpy(it->key, key, klen);
	memcpy(it->val, val, len);
	it->klen = klen;
	it->vlen = len;
	w->n++;
	return 0;
}

static void
walk_free(struct walk *w)
{
	size_t i;

	for (i = 0; i < w->n; i++) {
		free(w->items[i].key);
		free(w->items[i].val);
	}
	free(w->items);
	w->items = NULL;
	w->n = w->cap = w->legacy = w->typed = 0;
}

static int
count_body(struct store_txn *t, void *arg)
{
	walk_free(arg);
	return store_scan(t, SDB_QUEUE, NULL, 0, collect, arg);
}

static int
convert_body(struct store_txn *t, void *arg)
{
	struct walk	*w = arg;
	unsigned char	 old[QUEUE_KEY_MAX];
	size_t		 i;
	int		 rc;

	walk_free(w);
	if ((rc = store_scan(t, SDB_QUEUE, NULL, 0, collect, w)) != 0)
		return rc;
	for (i = 0; i < w->n; i++) {
		struct item	*it = &w->items[i];
		size_t		 p = typed_image(it->key, it->klen), olen;

		/* the kind byte, and the studyType and the name */
		if (p == 0)
			p = 1;
		if (w->untyped_only) {
			/* 'I', type, name, NUL, due[8], id  ->  'I', due[8],
			 * id */
			old[0] = it->key[0];
			memcpy(old + 1, it->key + p, it->klen - p);
			olen = it->klen - p + 1;
		} else {
			/* kind, [type, name, NUL,] due[8], id  ->  due[8],
			 * kind, id */
			memcpy(old, it->key + p, 8);
			old[8] = it->key[0];
			memcpy(old + 9, it->key + p + 8, it->klen - p - 8);
			olen = it->klen - p + 1;
		}
		if ((rc = store_del(t, SDB_QUEUE, it->key, it->klen)) != 0 ||
		    (rc = store_put(t, SDB_QUEUE, old, olen, it->val,
		    it->vlen)) != 0)
			return rc;
	}
	return STORE_OK;
}

int
main(int argc, char **argv)
{
	struct store	*s;
	struct walk	 w;
	char		 err[256];
	int		 count;

	memset(&w, 0, sizeof(w));
	if (argc < 2 || argc > 3 || (argc == 3 &&
	    strcmp(argv[2], "--count") != 0 &&
	    strcmp(argv[2], "--untyped-images") != 0)) {
		fprintf(stderr, "usage: queue_legacy STATE_DIR "
		    "[--count | --untyped-images]\n");
		return 2;
	}
	count = argc == 3 && strcmp(argv[2], "--count") == 0;
	w.untyped_only = argc == 3 && !count;
	if (store_open(argv[1], 0, &s, err, sizeof(err)) == -1) {
		fprintf(stderr, "queue_legacy: %s\n", err);
		return 2;
	}
	if (store_txn(s, count ? count_body : convert_body, &w) != 0) {
		fprintf(stderr, "queue_legacy: %s\n", store_errmsg(s));
		store_close(s);
		return 1;
	}
	if (count)
		printf("kind-first %zu legacy %zu typed-images %zu\n", w.n,
		    w.legacy, w.typed);
	else
		printf("converted %zu\n", w.n);
	walk_free(&w);
	store_close(s);
	return 0;
}
