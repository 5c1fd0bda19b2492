/*
 * store_tool.c -- plants what test_backup.py needs in a stopped store
 *
 * Usage: store_tool STATE_DIR del FILE HEXKEY   delete a record (FILE:
 *                                               "studies.db" ...), print
 *                                               "deleted" or "absent"
 *        store_tool STATE_DIR format N|none     record format N, or
 *                                               remove the record (a
 *                                               store of before formats)
 *
 * Opens the store as it is (STORE_ANYFORMAT), not through the modules
 * that keep its invariants: the point is to break them.  Run it with the
 * gateway stopped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

struct del {
	enum store_db	 db;
	unsigned char	 key[512];
	size_t		 klen;
	const char	*format;	/* format: N or "none" */
};

static int
del_body(struct store_txn *t, void *arg)
{
	struct del *d = arg;

	return store_del(t, d->db, d->key, d->klen);
}

static int
format_body(struct store_txn *t, void *arg)
{
	struct del	*d = arg;
	char		 rec[64];
	int		 rc;

	if (strcmp(d->format, "none") == 0) {
		rc = store_del(t, SDB_META, "format", 6);
		return rc == STORE_NOTFOUND ? STORE_OK : rc;
	}
	snprintf(rec, sizeof(rec), "{\"v\":1,\"format\":%d}",
	    atoi(d->format));
	return store_put(t, SDB_META, "format", 6, rec, strlen(rec));
}

static int
unhex(const char *hex, unsigned char *out, size_t cap, size_t *len)
{
	size_t		n = strlen(hex), i;
	unsigned int	b;

	if (n % 2 != 0 || n / 2 > cap)
		return -1;
	for (i = 0; i < n / 2; i++) {
		if (sscanf(hex + 2 * i, "%2x", &b) != 1)
			return -1;
		out[i] = (unsigned char)b;
	}
	*len = n / 2;
	return 0;
}

int
main(int argc, char **argv)
{
	struct store	*s;
	struct del	 d;
	char		 err[512];
	int		 i, rc;

	memset(&d, 0, sizeof(d));
	if (argc == 5 && strcmp(argv[2], "del") == 0) {
		d.db = SDB__MAX;
		for (i = 0; i < SDB__MAX; i++)
			if (strcmp(argv[3], store_file(i)) == 0)
				d.db = i;
		if (d.db == SDB__MAX || unhex(argv[4], d.key, sizeof(d.key),
		    &d.klen) == -1) {
			fprintf(stderr, "store_tool: bad database or key\n");
			return 2;
		}
	} else if (argc == 4 && strcmp(argv[2], "format") == 0)
		d.format = argv[3];
	else {
		fprintf(stderr, "usage: store_tool STATE_DIR del FILE HEXKEY\n"
		    "       store_tool STATE_DIR format N|none\n");
		return 2;
	}
	if (store_open(argv[1], STORE_ANYFORMAT, &s, err, sizeof(err)) == -1) {
		fprintf(stderr, "store_tool: %s\n", err);
		return 1;
	}
	rc = store_txn(s, d.format != NULL ? format_body : del_body, &d);
	if (rc != 0 && rc != STORE_NOTFOUND)
		fprintf(stderr, "store_tool: %s\n", store_errmsg(s));
	else if (d.format == NULL)
		printf("%s\n", rc == 0 ? "deleted" : "absent");
	store_close(s);
	return rc == 0 || rc == STORE_NOTFOUND ? 0 : 1;
}
