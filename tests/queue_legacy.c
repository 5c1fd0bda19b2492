/*
 * queue_legacy.c -- rewrites a store's queue in the key layout of earlier builds
 *
 * Usage: queue_legacy STATE_DIR          convert, print "converted N"
 *        queue_legacy STATE_DIR --count  print "kind-first N legacy M"
 *
 * Earlier builds keyed queue items by due time first (8 bytes big-endian),
 * then the kind byte and the id; lib/queue.c now puts the kind first and
 * still reads, finds and deletes the older keys.  This program builds the
 * older layout itself (not through lib/queue.c), so test_queue_legacy.py
 * can give the dispatcher and the responders a store as an earlier build
 * left it.  Run it with the dispatcher stopped.
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
	size_t		 legacy;
};

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
	memset(w, 0, sizeof(*w));
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
		struct item *it = &w->items[i];

		/* kind, due[8], id  ->  due[8], kind, id */
		memcpy(old, it->key + 1, 8);
		old[8] = it->key[0];
		memcpy(old + 9, it->key + 9, it->klen - 9);
		if ((rc = store_del(t, SDB_QUEUE, it->key, it->klen)) != 0 ||
		    (rc = store_put(t, SDB_QUEUE, old, it->klen, it->val,
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

	if (argc < 2 || argc > 3 || (argc == 3 &&
	    strcmp(argv[2], "--count") != 0)) {
		fprintf(stderr, "usage: queue_legacy STATE_DIR [--count]\n");
		return 2;
	}
	count = argc == 3;
	if (store_open(argv[1], 0, &s, err, sizeof(err)) == -1) {
		fprintf(stderr, "queue_legacy: %s\n", err);
		return 2;
	}
	memset(&w, 0, sizeof(w));
	if (store_txn(s, count ? count_body : convert_body, &w) != 0) {
		fprintf(stderr, "queue_legacy: %s\n", store_errmsg(s));
		store_close(s);
		return 1;
	}
	if (count)
		printf("kind-first %zu legacy %zu\n", w.n, w.legacy);
	else
		printf("converted %zu\n", w.n);
	walk_free(&w);
	store_close(s);
	return 0;
}
