/*
 * latch_holder.c -- dies holding a Berkeley DB page latch, for the stall tests
 *
 * Usage: latch_holder STATE_DIR DBFILE
 *
 * Joins the environment in STATE_DIR as any mias process does (DB_REGISTER)
 * and reads DBFILE (which must hold a record) with a comparison function
 * that sends SIGKILL to the process: it dies inside the read, holding the
 * latch of the page it was searching.  A later writer to that page waits on
 * the latch for good, which is what lib/store.c's stall guard is for.  The
 * read is a dirty one (DB_READ_UNCOMMITTED), so no lock is held: only the
 * latch.  Exits 2 when the environment or DBFILE cannot be opened, 3 when
 * the comparison never ran (an empty database).
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <db.h>

static int
die_compare(DB *db, const DBT *a, const DBT *b)
{
	(void)db;
	(void)a;
	(void)b;
	kill(getpid(), SIGKILL);
	return 0;
}

int
main(int argc, char **argv)
{
	DB_ENV	*env;
	DB	*db;
	DBT	 k, v;
	int	 ret;

	if (argc != 3) {
		fprintf(stderr, "usage: latch_holder STATE_DIR DBFILE\n");
		return 2;
	}
	if ((ret = db_env_create(&env, 0)) != 0 ||
	    (ret = env->open(env, argv[1], DB_CREATE | DB_INIT_TXN |
	    DB_INIT_LOG | DB_INIT_LOCK | DB_INIT_MPOOL | DB_REGISTER |
	    DB_RECOVER, 0600)) != 0 ||
	    (ret = db_create(&db, env, 0)) != 0 ||
	    (ret = db->set_bt_compare(db, die_compare)) != 0 ||
	    (ret = db->open(db, NULL, argv[2], NULL, DB_BTREE,
	    DB_AUTO_COMMIT | DB_READ_UNCOMMITTED, 0)) != 0) {
		fprintf(stderr, "latch_holder: %s/%s: %s\n", argv[1], argv[2],
		    db_strerror(ret));
		return 2;
	}
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)(uintptr_t)"latch";
	k.size = 5;
	v.flags = DB_DBT_MALLOC;
	db->get(db, NULL, &k, &v, DB_READ_UNCOMMITTED);
	fprintf(stderr, "latch_holder: the comparison never ran (is %s "
	    "empty?)\n", argv[2]);
	return 3;
}
