/* t_store.c -- the Berkeley DB store: records, transactions, processes, crashes */
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <db.h>

#include "crypto.h"
#include "queue.h"
#include "store.h"
#include "study.h"
#include "tap.h"

static char	dir[256];

static struct store *
open_store(void)
{
	struct store	*s;
	char		 err[256];

	if (store_open(dir, STORE_CREATE, &s, err, sizeof(err)) == -1) {
		printf("# store_open: %s\n", err);
		return NULL;
	}
	return s;
}

struct kv {
	const char	*k, *v;
	char		*got;
};

static int
put_body(struct store_txn *t, void *arg)
{
	struct kv *kv = arg;

	return store_put(t, SDB_META, kv->k, strlen(kv->k), kv->v,
	    strlen(kv->v));
}

static int
get_body(struct store_txn *t, void *arg)
{
	struct kv *kv = arg;

	free(kv->got);
	kv->got = NULL;
	return store_get(t, SDB_META, kv->k, strlen(kv->k), &kv->got, NULL, 0);
}

static int
put_then_refuse(struct store_txn *t, void *arg)
{
	int rc = put_body(t, arg);

	return rc != 0 ? rc : 7;	/* the body's own "no" */
}

static int
count_visit(const void *k, size_t kl, const char *v, size_t vl, void *arg)
{
	(void)k;
	(void)kl;
	(void)v;
	(void)vl;
	(*(int *)arg)++;
	return 0;
}

/* Two cursors side by side, each over its own prefix, as the dispatcher's
 * look at the queue walks them: the keys each meets, joined. */
static int
iter_body(struct store_txn *t, void *arg)
{
	char			*out = arg;
	struct store_iter	*a = NULL, *b = NULL;
	const void		*k;
	const char		*v;
	size_t			 kl, vl;
	int			 ra = 0, rb = 0, rc = STORE_OK;

	out[0] = '\0';
	if ((rc = store_iter_open(t, SDB_META, "p/", 2, &a)) != STORE_OK ||
	    (rc = store_iter_open(t, SDB_META, "q/", 2, &b)) != STORE_OK)
		goto out;
	while (ra == 0 || rb == 0) {
		if (ra == 0 && (ra = store_iter_next(a, &k, &kl, &v, &vl)) ==
		    STORE_OK)
			snprintf(out + strlen(out), 64 - strlen(out), "%.*s=%.*s ",
			    (int)kl, (const char *)k, (int)vl, v);
		if (rb == 0 && (rb = store_iter_next(b, &k, &kl, &v, &vl)) ==
		    STORE_OK)
			snprintf(out + strlen(out), 64 - strlen(out), "%.*s=%.*s ",
			    (int)kl, (const char *)k, (int)vl, v);
	}
	if (ra != STORE_NOTFOUND || rb != STORE_NOTFOUND ||
	    store_iter_next(a, &k, &kl, &v, &vl) != STORE_NOTFOUND)
		rc = STORE_ERR;
out:
	store_iter_close(a);
	store_iter_close(b);
	return rc;
}

/* A cursor over "p" that skips from p/1 to p/1+0x01 (past the keys under
 * "p/1" + NUL), and from there past the prefix: the keys it meets. */
static int
seek_body(struct store_txn *t, void *arg)
{
	char			*out = arg;
	struct store_iter	*a = NULL;
	const void		*k;
	const char		*v;
	size_t			 kl, vl;
	int			 rc;

	out[0] = '\0';
	if ((rc = store_iter_open(t, SDB_META, "p", 1, &a)) != STORE_OK)
		goto out;
	while ((rc = store_iter_next(a, &k, &kl, &v, &vl)) == STORE_OK) {
		snprintf(out + strlen(out), 64 - strlen(out), "%.*s ",
		    (int)kl, (const char *)k);
		if (kl == 3 && memcmp(k, "p/1", 3) == 0 &&
		    (rc = store_iter_seek(a, "p/1\001", 4)) != STORE_OK)
			goto out;
		if (kl == 4 && memcmp(k, "p/1\001", 4) == 0 &&
		    (rc = store_iter_seek(a, "q", 1)) != STORE_OK)
			goto out;
	}
	rc = rc == STORE_NOTFOUND ? STORE_OK : rc;
out:
	store_iter_close(a);
	return rc;
}

static int
scan_body(struct store_txn *t, void *arg)
{
	*(int *)arg = 0;
	return store_scan(t, SDB_META, "p/", 2, count_visit, arg);
}

static void
test_basic(void)
{
	struct store	*s = open_store();
	struct kv	 kv = { "alpha", "one", NULL };
	struct kv	 p1 = { "p/1", "x", NULL }, p2 = { "p/2", "y", NULL };
	struct kv	 q = { "q/1", "z", NULL };
	int		 n = -1, rc;

	tap_ok(s != NULL, "store opens and creates its databases");
	if (s == NULL)
		return;
	tap_ok(store_txn(s, put_body, &kv) == 0, "put commits");
	tap_ok(store_txn(s, get_body, &kv) == 0 && kv.got != NULL &&
	    strcmp(kv.got, "one") == 0, "get reads what was put");
	kv.k = "missing";
	tap_ok(store_txn(s, get_body, &kv) == STORE_NOTFOUND,
	    "a missing key is STORE_NOTFOUND");
	kv.k = "beta";
	kv.v = "two";
	tap_ok(store_txn(s, put_then_refuse, &kv) == 7,
	    "a body's own code aborts and comes back");
	tap_ok(store_txn(s, get_body, &kv) == STORE_NOTFOUND,
	    "nothing of an aborted body is kept");
	store_txn(s, put_body, &p1);
	store_txn(s, put_body, &p2);
	store_txn(s, put_body, &q);
	rc = store_txn(s, scan_body, &n);
	tap_ok(rc == 0 && n == 2,
	    "scan visits exactly the keys under a prefix (%d)", n);
	{
		struct kv	r = { "r", "w", NULL };
		char		out[64];

		store_txn(s, put_body, &r);	/* after q/: not under it */
		rc = store_txn(s, iter_body, out);
		tap_ok(rc == 0 && strcmp(out, "p/1=x q/1=z p/2=y ") == 0,
		    "two cursors walk their own prefixes side by side, then "
		    "stay at the end (%s)", out);
	}
	{
		struct kv	p1x = { "p/1\001", "v", NULL };
		char		out[64];

		store_txn(s, put_body, &p1x);	/* the seek's own key */
		rc = store_txn(s, seek_body, out);
		tap_ok(rc == 0 && strcmp(out, "p/1 p/1\001 ") == 0,
		    "a seek goes to the first key from the one given, and one "
		    "past the prefix ends the cursor (p/2 skipped)");
	}
	free(kv.got);
	store_close(s);
}

/* Read-modify-write of one counter: concurrent writers deadlock or wait
 * on it, and the wrapper must retry until every increment lands. */
static int
incr_body(struct store_txn *t, void *arg)
{
	char	*val = NULL, buf[32];
	long	 n = 0;
	int	 rc;

	(void)arg;
	rc = store_get(t, SDB_META, "counter", 7, &val, NULL, 0);
	if (rc == STORE_OK)
		n = strtol(val, NULL, 10);
	else if (rc != STORE_NOTFOUND)
		return rc;
	free(val);
	snprintf(buf, sizeof(buf), "%ld", n + 1);
	return store_put(t, SDB_META, "counter", 7, buf, strlen(buf));
}

static void
test_two_processes(void)
{
	struct kv	 kv = { "counter", NULL, NULL };
	struct store	*s;
	pid_t		 pid[2];
	int		 i, j, status, ok = 1;

	for (i = 0; i < 2; i++) {
		if ((pid[i] = fork()) == 0) {
			struct store *cs = open_store();

			if (cs == NULL)
				_exit(2);
			/* plain reads then writes: deadlocks happen */
			for (j = 0; j < 300; j++)
				if (store_txn(cs, incr_body, NULL) != 0)
					_exit(3);
			store_close(cs);
			_exit(0);
		}
	}
	for (i = 0; i < 2; i++) {
		waitpid(pid[i], &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			ok = 0;
	}
	tap_ok(ok, "two processes writing at once both finish");
	s = open_store();
	if (s != NULL)
		ok = store_txn(s, get_body, &kv) == 0;
	tap_ok(ok && kv.got != NULL && strcmp(kv.got, "600") == 0,
	    "no increment of 600 is lost (got %s)", kv.got ? kv.got : "-");
	free(kv.got);
	store_close(s);
}

/* The writer commits records it reports through a pipe, then stops inside
 * a transaction holding a write lock on "held", and is killed there. */
static int
hold_body(struct store_txn *t, void *arg)
{
	int	fd = *(int *)arg;
	int	rc;

	if ((rc = store_put(t, SDB_META, "held", 4, "uncommitted", 11)) != 0)
		return rc;
	if (write(fd, "H", 1) != 1)
		_exit(4);
	for (;;)
		pause();
}

static int
numbered_body(struct store_txn *t, void *arg)
{
	char key[32];

	snprintf(key, sizeof(key), "n/%04d", *(int *)arg);
	return store_put(t, SDB_META, key, strlen(key), "v", 1);
}

static int
held_write_body(struct store_txn *t, void *arg)
{
	(void)arg;
	return store_put(t, SDB_META, "held", 4, "waiter", 6);
}

static int
n_scan_body(struct store_txn *t, void *arg)
{
	*(int *)arg = 0;
	return store_scan(t, SDB_META, "n/", 2, count_visit, arg);
}

static void
test_killed_writer(void)
{
	struct kv	 kv = { "held", NULL, NULL };
	struct store	*s;
	struct timespec	 t0, t1;
	pid_t		 writer, waiter;
	int		 p[2], w[2], i, n = -1, status, committed = 0;
	char		 c;

	if (pipe(p) == -1 || pipe(w) == -1)
		return;
	if ((writer = fork()) == 0) {
		struct store *cs = open_store();

		close(p[0]);
		if (cs == NULL)
			_exit(2);
		for (i = 0; i < 50; i++) {
			if (store_txn(cs, numbered_body, &i) != 0)
				_exit(3);
			if (write(p[1], "C", 1) != 1)	/* committed */
				_exit(4);
		}
		store_txn(cs, hold_body, &p[1]);
		_exit(5);
	}
	close(p[1]);
	while (read(p[0], &c, 1) == 1 && c == 'C')
		committed++;
	tap_ok(c == 'H', "writer holds a lock inside a transaction");

	/* A second process wants the same lock and must not wait forever. */
	if ((waiter = fork()) == 0) {
		struct store *cs = open_store();
		int rc;

		close(w[0]);
		if (cs == NULL)
			_exit(2);
		if (write(w[1], "S", 1) != 1)
			_exit(4);
		rc = store_txn(cs, held_write_body, NULL);
		store_close(cs);
		_exit(rc == 0 ? 0 : 3);
	}
	close(w[1]);
	read(w[0], &c, 1);
	usleep(300 * 1000);
	kill(writer, SIGKILL);
	waitpid(writer, &status, 0);
	tap_ok(WIFSIGNALED(status), "writer killed with SIGKILL mid-transaction");

	clock_gettime(CLOCK_MONOTONIC, &t0);
	waitpid(waiter, &status, 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the waiting process gets the lock after the writer dies "
	    "(%.1f s)", (double)(t1.tv_sec - t0.tv_sec) +
	    (t1.tv_nsec - t0.tv_nsec) / 1e9);

	s = open_store();
	tap_ok(s != NULL, "store reopens cleanly after the crash");
	if (s == NULL)
		return;
	i = store_txn(s, n_scan_body, &n);
	tap_ok(i == 0 && n == committed && committed == 50, "every committed record survived (%d of %d)", n,
	    committed);
	i = store_txn(s, get_body, &kv);
	tap_ok(i == 0 && kv.got != NULL && strcmp(kv.got, "waiter") == 0,
	    "the dead writer's uncommitted write is gone (held=%s)",
	    kv.got ? kv.got : "-");
	free(kv.got);
	store_close(s);
}

/*
 * A process killed inside Berkeley DB (here inside a read, holding the
 * page's lock and latch) leaves them held.  A process already waiting on
 * them when another process recovers the environment is never woken: it
 * sleeps in the old, unlinked region, where no lock timeout comes any
 * more.  The stall guard must end the waiter (lib/store.c).
 */
static int	latch_die;

static int
latch_compare(DB *db, const DBT *a, const DBT *b)
{
	size_t	n = a->size < b->size ? a->size : b->size;
	int	c = memcmp(a->data, b->data, n);

	(void)db;
	if (latch_die)
		kill(getpid(), SIGKILL);	/* inside the page's latch */
	return c != 0 ? c : (int)a->size - (int)b->size;
}

static void
latch_holder(void)
{
	DB_ENV	*env;
	DB	*db;
	DBT	 k, v;

	if (db_env_create(&env, 0) != 0 ||
	    env->open(env, dir, DB_CREATE | DB_INIT_TXN | DB_INIT_LOG |
	    DB_INIT_LOCK | DB_INIT_MPOOL | DB_REGISTER | DB_RECOVER, 0600) != 0 ||
	    db_create(&db, env, 0) != 0 ||
	    db->set_bt_compare(db, latch_compare) != 0 ||
	    db->open(db, NULL, "meta.db", NULL, DB_BTREE,
	    DB_AUTO_COMMIT | DB_READ_UNCOMMITTED, 0600) != 0)
		_exit(2);
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)(uintptr_t)"latched";
	k.size = 7;
	v.flags = DB_DBT_MALLOC;
	latch_die = 1;		/* a dirty read: no lock, only the latch */
	db->get(db, NULL, &k, &v, DB_READ_UNCOMMITTED);
	_exit(3);
}

static void
latch_stalled(const char *why)
{
	(void)why;
	_exit(42);
}

static int
latched_write_body(struct store_txn *t, void *arg)
{
	(void)arg;
	return store_put(t, SDB_META, "latched", 7, "w", 1);
}

static void
test_killed_latch_holder(void)
{
	struct kv	 kv = { "latched", "before", NULL };
	struct store	*s;
	struct timespec	 t0, t1;
	pid_t		 holder, waiter, r = 0;
	int		 status, i, wstatus = 0, p[2], g[2];
	char		 c = 0;

	if ((s = open_store()) == NULL)
		return;
	store_txn(s, put_body, &kv);
	store_close(s);

	/* the waiter joins the environment first (after the holder's death
	 * its open would recover it), then waits for the go */
	if (pipe(p) == -1 || pipe(g) == -1)
		return;
	if ((waiter = fork()) == 0) {
		struct store *cs;

		close(p[0]);
		close(g[1]);
		store_on_stall(latch_stalled);
		if ((cs = open_store()) == NULL)
			_exit(2);
		if (write(p[1], "R", 1) != 1 || read(g[0], &c, 1) != 1)
			_exit(4);
		store_txn(cs, latched_write_body, NULL);
		_exit(0);	/* got through: the latch was not held */
	}
	close(p[1]);
	close(g[0]);
	if (read(p[0], &c, 1) != 1)
		c = 0;
	if ((holder = fork()) == 0)
		latch_holder();
	waitpid(holder, &status, 0);
	tap_ok(c == 'R' && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	    "a process was killed inside a read (status %#x)", status);
	if (write(g[1], "G", 1) != 1)
		c = 0;
	usleep(1500 * 1000);
	r = waitpid(waiter, &wstatus, WNOHANG);
	tap_ok(r == 0, "a process writing to that page waits (still waiting "
	    "after 1.5 s)");

	/* another process opens the store: DB_REGISTER sees the dead
	 * process and recovers the environment */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	s = open_store();
	tap_ok(s != NULL, "a new process opens (and recovers) the store");
	for (i = 0; r == 0 && i < 150; i++) {
		usleep(100 * 1000);
		r = waitpid(waiter, &wstatus, WNOHANG);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (r == 0) {
		kill(waiter, SIGKILL);
		waitpid(waiter, &wstatus, 0);
	}
	tap_ok(r == waiter && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 42,
	    "the waiter's stall guard ended it %.1f s after the recovery "
	    "(status %#x)", (double)(t1.tv_sec - t0.tv_sec) +
	    (t1.tv_nsec - t0.tv_nsec) / 1e9, wstatus);
	if (s == NULL)
		return;
	kv.v = "after";
	tap_ok(store_txn(s, put_body, &kv) == 0 &&
	    store_txn(s, get_body, &kv) == 0 && kv.got != NULL &&
	    strcmp(kv.got, "after") == 0,
	    "the recovered store reads and writes that page");
	free(kv.got);
	store_close(s);
}

/*
 * The other side of the guard: a process that is told by DB_RUNRECOVERY
 * that the store was recovered reopens it and carries on, and may then
 * spend long in its transaction.  It is in the new environment and must
 * not be taken for a waiter left in the old one.  The body below first
 * waits (outside Berkeley DB, but inside its transaction) while another
 * process recovers the store, then reads (DB_RUNRECOVERY: the store is
 * reopened and the body run again), and on its second run stays a second
 * more: over two seconds since the transaction began, in a store whose
 * region file is not the one it began with.
 */
struct reopen_arg {
	int	go;		/* read end: the store has been recovered */
	int	runs;
};

static int
reopen_body(struct store_txn *t, void *arg)
{
	struct reopen_arg	*a = arg;
	char			*v = NULL, c;
	int			 rc;

	if (a->runs++ == 0) {
		if (read(a->go, &c, 1) != 1)
			return STORE_ERR;
	} else
		sleep(1);
	rc = store_get(t, SDB_META, "held", 4, &v, NULL, 0);
	free(v);
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return rc;
	return store_put(t, SDB_META, "reopened", 8, "yes", 3);
}

static void
test_reopen_not_stalled(void)
{
	struct kv	 kv = { "reopened", NULL, NULL };
	struct store	*s;
	pid_t		 dead, worker;
	int		 g[2], p[2], status, wstatus;
	char		 c = 0;

	if (pipe(g) == -1 || pipe(p) == -1)
		return;
	if ((worker = fork()) == 0) {
		struct reopen_arg	 a = { g[0], 0 };
		struct store		*cs = open_store();
		int			 rc;

		close(g[1]);
		close(p[0]);
		if (cs == NULL || write(p[1], "R", 1) != 1)
			_exit(2);
		rc = store_txn(cs, reopen_body, &a);
		store_close(cs);
		_exit(rc != 0 ? 3 : a.runs < 2 ? 4 : 0);
	}
	close(g[0]);
	close(p[1]);
	if (read(p[0], &c, 1) != 1)
		c = 0;
	/* a process that dies with the store open: the next open recovers */
	if ((dead = fork()) == 0) {
		if (open_store() == NULL)
			_exit(2);
		kill(getpid(), SIGKILL);
	}
	waitpid(dead, &status, 0);
	usleep(1500 * 1000);
	s = open_store();
	tap_ok(c == 'R' && WIFSIGNALED(status) && s != NULL,
	    "a process died with the store open; the next open recovered it "
	    "while another process was inside a transaction");
	if (write(g[1], "G", 1) != 1)
		c = 0;
	waitpid(worker, &wstatus, 0);
	tap_ok(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0,
	    "that process reopened the store and finished its transaction "
	    "without being taken for a stalled one (status %#x)", wstatus);
	if (s == NULL)
		return;
	tap_ok(store_txn(s, get_body, &kv) == 0 && kv.got != NULL &&
	    strcmp(kv.got, "yes") == 0, "its write is in the store");
	free(kv.got);
	store_close(s);
}

struct sub {
	struct crypto_keys	*keys;
	struct study_submit	 ss;
	enum study_outcome	 out;
	json_object		*rec;
	const char		*set_state;
};

static int
submit_body(struct store_txn *t, void *arg)
{
	struct sub *a = arg;

	return study_submit(t, a->keys, &a->ss, &a->out);
}

static int
read_study_body(struct store_txn *t, void *arg)
{
	struct sub	*a = arg;
	char		 key[STUDY_KEY_MAX];
	size_t		 klen;
	int		 rc;

	klen = study_key(key, a->ss.ss_ns, a->ss.ss_type, a->ss.ss_uid);
	json_object_put(a->rec);
	a->rec = NULL;
	if ((rc = store_get_json(t, SDB_STUDIES, key, klen, &a->rec, 1)) != 0)
		return rc;
	if (a->set_state != NULL) {
		json_object_object_add(a->rec, "state",
		    json_object_new_string(a->set_state));
		return store_put_json(t, SDB_STUDIES, key, klen, a->rec);
	}
	return 0;
}

static int
queue_count_body(struct store_txn *t, void *arg)
{
	*(int *)arg = 0;
	return store_scan(t, SDB_QUEUE, NULL, 0, count_visit, arg);
}

static const char *
state_of(struct sub *a)
{
	json_object *v;

	return a->rec != NULL && json_object_object_get_ex(a->rec, "state",
	    &v) ? json_object_get_string(v) : "-";
}

static long long
run_of(struct sub *a)
{
	json_object *v;

	return a->rec != NULL && json_object_object_get_ex(a->rec, "run",
	    &v) ? (long long)json_object_get_int64(v) : -1;
}


/* study_creds_open on the record as read */
static int
creds_open(json_object *rec, const struct crypto_keys *k, const char *key,
    size_t klen, struct study_creds *c)
{
	struct study_rec	sr;
	int			rc;

	if (study_rec_decode(&sr, json_object_get(rec)) == -1)
		return -1;
	rc = study_creds_open(&sr, k, key, klen, c);
	study_rec_free(&sr);
	return rc;
}

static void
test_study(void)
{
	struct crypto_keys	 keys;
	unsigned char		 master[CRYPTO_KEYLEN] = { 1, 2, 3 };
	struct study_creds	 c;
	struct sub		 a;
	struct store		*s = open_store();
	char			 key[STUDY_KEY_MAX];
	size_t			 klen;
	json_object		*v;
	int			 n = 0;

	if (s == NULL)
		return;
	crypto_keys_derive(master, &keys);
	memset(&a, 0, sizeof(a));
	a.keys = &keys;
	a.ss.ss_ns = "hospital-a";
	a.ss.ss_type = 4;
	a.ss.ss_uid = "1.2.840.113619.2.55";
	a.ss.ss_callback = "https://cb.example/notify";
	a.ss.ss_endpoint = "oss-cn-beijing.aliyuncs.com";
	a.ss.ss_bucket = "studies";
	a.ss.ss_key = "knee/2024/";
	a.ss.ss_creds.sc_ak = (char *)(uintptr_t)"AK-test";
	a.ss.ss_creds.sc_sk = (char *)(uintptr_t)"very-secret";
	a.ss.ss_creds.sc_sts = (char *)(uintptr_t)"sts-token";

	tap_ok(store_txn(s, submit_body, &a) == 0 && a.out == STUDY_NEW,
	    "first submission creates the study");
	store_txn(s, read_study_body, &a);
	TAP_STREQ(state_of(&a), "QUEUED", "new study is QUEUED");
	tap_ok(json_object_object_get_ex(a.rec, "creds", &v) &&
	    strstr(json_object_to_json_string(a.rec), "very-secret") == NULL &&
	    strstr(json_object_to_json_string(a.rec), "sts-token") == NULL,
	    "credentials are not stored in clear");
	klen = study_key(key, a.ss.ss_ns, a.ss.ss_type, a.ss.ss_uid);
	tap_ok(creds_open(a.rec, &keys, key, klen, &c) == 0 &&
	    strcmp(c.sc_sk, "very-secret") == 0 &&
	    strcmp(c.sc_sts, "sts-token") == 0, "sealed credentials open");
	study_creds_wipe(&c);
	tap_ok(creds_open(a.rec, &keys, "other", 5, &c) == -1,
	    "sealed credentials do not open under another study's key");
	store_txn(s, queue_count_body, &n);
	tap_ok(n == 1, "one work item queued (%d)", n);

	tap_ok(store_txn(s, submit_body, &a) == 0 && a.out == STUDY_UNCHANGED,
	    "a repeat while QUEUED changes nothing");
	a.ss.ss_force = 1;
	tap_ok(store_txn(s, submit_body, &a) == 0 && a.out == STUDY_UNCHANGED,
	    "forceAnalysis while QUEUED does not start a second run");
	a.ss.ss_force = 0;
	a.set_state = "DONE";
	store_txn(s, read_study_body, &a);
	a.set_state = NULL;
	tap_ok(store_txn(s, submit_body, &a) == 0 && a.out == STUDY_UNCHANGED,
	    "a repeat of a DONE study changes nothing");
	a.ss.ss_force = 1;
	tap_ok(store_txn(s, submit_body, &a) == 0 && a.out == STUDY_RERUN,
	    "forceAnalysis on a DONE study starts a new run");
	store_txn(s, read_study_body, &a);
	tap_ok(run_of(&a) == 2 && strcmp(state_of(&a), "QUEUED") == 0,
	    "the new run is run 2, QUEUED");
	tap_ok(creds_open(a.rec, &keys, key, klen, &c) == 0,
	    "the new run's credentials open");
	study_creds_wipe(&c);
	a.ss.ss_force = 0;
	a.set_state = "FAILED";
	store_txn(s, read_study_body, &a);
	a.set_state = NULL;
	tap_ok(store_txn(s, submit_body, &a) == 0 && a.out == STUDY_RERUN,
	    "resubmitting a FAILED study runs it again");
	store_txn(s, queue_count_body, &n);
	tap_ok(n == 3, "each run queued its own work item (%d)", n);

	a.ss.ss_ns = "hospital-b";
	tap_ok(store_txn(s, submit_body, &a) == 0 && a.out == STUDY_NEW,
	    "the same study id in another namespace is another study");
	json_object_put(a.rec);
	crypto_keys_wipe(&keys);
	store_close(s);
}

/*
 * store_txn_nosync leaves the commit in the log buffer: a process killed
 * before anything flushed it loses it (the next open recovers from the
 * log on disk), one that called store_flush does not.
 */
static int
nosync_put_killed(const char *key, int flush)
{
	struct kv	kv = { key, "v", NULL };
	pid_t		pid;
	int		status;

	if ((pid = fork()) == 0) {
		struct store *cs = open_store();

		if (cs == NULL || store_txn_nosync(cs, put_body, &kv) != 0 ||
		    (flush && store_flush(cs) != 0))
			_exit(2);
		kill(getpid(), SIGKILL);
		_exit(3);
	}
	if (pid == -1 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? 0 : -1;
}

/* nosync_put_killed, then the key read back after the recovery: a store
 * code, or 99 when the process could not be run. */
static int
killed_then_read(const char *key, int flush)
{
	struct kv	 kv = { key, NULL, NULL };
	struct store	*s;
	int		 rc;

	if (nosync_put_killed(key, flush) == -1 || (s = open_store()) == NULL)
		return 99;
	rc = store_txn(s, get_body, &kv);
	store_close(s);
	free(kv.got);
	return rc;
}

static void
test_flush(void)
{
	int lost = killed_then_read("nosync-lost", 0);
	int kept = killed_then_read("nosync-kept", 1);

	tap_ok(lost == STORE_NOTFOUND, "a commit without a flush, its process "
	    "killed: gone after recovery (%d)", lost);
	tap_ok(kept == STORE_OK, "the same followed by store_flush: kept "
	    "(%d)", kept);
}

/* Queue keys: the kind first; a key of another layout (due time first)
 * is not a queue item's. */
static void
test_queue_keys(void)
{
	static const unsigned char legacy[] = {
		0, 0, 0x01, 0x9a, 0xe6, 0x1d, 0x2c, 0x00, 'T', 'j', 'o', 'b'
	};
	unsigned char	 k[QUEUE_KEY_MAX];
	size_t		 kl, idlen;
	int64_t		 due;
	enum queue_kind	 kind;
	const char	*id;

	kl = queue_key(k, 0x0102030405060708LL, QK_STUDY, "s1", 2);
	tap_ok(kl == 11 && k[0] == 'S' && k[1] == 1 && k[8] == 8 &&
	    memcmp(k + 9, "s1", 2) == 0, "a queue key is the kind, the due "
	    "time (big-endian), the id");
	tap_ok(queue_key_parse(k, kl, &due, &kind, &id, &idlen) == 0 &&
	    due == 0x0102030405060708LL && kind == QK_STUDY && idlen == 2 &&
	    memcmp(id, "s1", 2) == 0, "and parses back");
	tap_ok(queue_key_parse(legacy, sizeof(legacy), &due, &kind, &id,
	    &idlen) == -1, "a key with the due time first is refused");
	tap_ok(queue_key_parse(k, 9, &due, &kind, &id, &idlen) == -1,
	    "a key without an id is refused");

	kl = queue_image_key(k, 0x0102030405060708LL, 3, "hosp-a", "j1", 2);
	tap_ok(kl == 19 && k[0] == 'I' && k[1] == 3 &&
	    memcmp(k + 2, "hosp-a", 7) == 0 && k[9] == 1 && k[16] == 8 &&
	    memcmp(k + 17, "j1", 2) == 0, "an image key is 'I', the "
	    "studyType, the namespace, NUL, the due time, the id");
	tap_ok(queue_image_prefix(k, kl) == 9, "its namespace's prefix is "
	    "'I', the studyType, the namespace and the NUL");
	tap_ok(queue_key_parse(k, kl, &due, &kind, &id, &idlen) == 0 &&
	    due == 0x0102030405060708LL && kind == QK_IMAGE && idlen == 2 &&
	    memcmp(id, "j1", 2) == 0, "and parses back");
	tap_ok(queue_key_parse(k, 17, &due, &kind, &id, &idlen) == -1 &&
	    queue_key_parse(k, 6, &due, &kind, &id, &idlen) == -1,
	    "an image key without an id, or cut in its namespace, is refused");
	kl = queue_image_key(k, 0x00a2030405060708LL, 0, "hosp-a", "j2", 2);
	tap_ok(kl == 11 && k[0] == 'I' && k[1] == 0 &&
	    queue_image_prefix(k, kl) == 0 &&
	    queue_key_parse(k, kl, &due, &kind, &id, &idlen) == 0 &&
	    due == 0x00a2030405060708LL && kind == QK_IMAGE && idlen == 2 &&
	    memcmp(id, "j2", 2) == 0, "an image of an unknown studyType has "
	    "neither and parses");
	kl = queue_image_key(k, 1, QUEUE_TYPES + 1, "hosp-a", "j3", 2);
	tap_ok(kl == 11 && k[1] == 0, "slot 17 is unknown: no studyType "
	    "in the key");
	kl = queue_image_key(k, 1, 2, "", "j3", 2);
	tap_ok(kl == 11 && k[1] == 0, "nor without a namespace");
}

static int
del_format_body(struct store_txn *t, void *arg)
{
	(void)arg;
	return store_del(t, SDB_META, "format", 6);
}

static int
put_format_body(struct store_txn *t, void *arg)
{
	const char *rec = arg;

	return store_put(t, SDB_META, "format", 6, rec, strlen(rec));
}

static void
count_say(void *arg, const char *line)
{
	(void)line;
	(*(int *)arg)++;
}

/* Makes the store in d look as one made before formats were recorded
 * (del_format_body) or as one of a later release (put_format_body). */
static int
set_format(const char *d, store_body body, const char *rec)
{
	struct store	*s;
	char		 err[256];
	int		 rc;

	if (store_open(d, STORE_ANYFORMAT, &s, err, sizeof(err)) == -1)
		return -1;
	rc = store_txn(s, body, (void *)(uintptr_t)rec);
	store_close(s);
	return rc == 0 || rc == STORE_NOTFOUND ? 0 : -1;
}

static void
test_format(void)
{
	char		 d[300], err[512];
	struct store	*s;
	int		 f = 0, said = 0, rc;

	snprintf(d, sizeof(d), "%s/format", dir);
	rc = store_open(d, STORE_CREATE, &s, err, sizeof(err));
	if (rc == 0)
		rc = store_format(s, &f);
	tap_ok(rc == 0 && f == STORE_FORMAT, "init records the format (%d)",
	    f);
	if (rc == 0)
		store_close(s);

	/* a store without the record: format 1 */
	tap_ok(set_format(d, del_format_body, NULL) == 0,
	    "format record removed");
	rc = store_open(d, STORE_NOUPGRADE, &s, err, sizeof(err));
	tap_ok(rc == -1 && strstr(err, "format 1, older") != NULL &&
	    strstr(err, "'mias-admin store upgrade'") != NULL,
	    "an older store not upgraded is refused, naming the command "
	    "(%s)", rc == -1 ? err : "opened");
	if (rc == 0)
		store_close(s);
	f = 0;
	rc = store_open(d, 0, &s, err, sizeof(err));
	if (rc == 0)
		rc = store_format(s, &f);
	tap_ok(rc == 0 && f == STORE_FORMAT,
	    "a format 1 store is upgraded at open: the step is automatic "
	    "(%d)", f);
	if (rc == 0)
		store_close(s);

	set_format(d, del_format_body, NULL);
	f = 0;
	rc = store_open(d, STORE_ANYFORMAT, &s, err, sizeof(err));
	tap_ok(rc == 0 && store_format(s, &f) == 0 && f == 1,
	    "opened as it is, the store says format 1");
	if (rc == 0) {
		rc = store_upgrade(s, count_say, &said);
		if (rc == 0)
			rc = store_format(s, &f);
		tap_ok(rc == 0 && f == STORE_FORMAT && said == STORE_FORMAT - 1,
		    "store_upgrade takes each step once (%d steps, format %d)",
		    said, f);
		said = 0;
		tap_ok(store_upgrade(s, count_say, &said) == 0 && said == 0,
		    "and none on an upgraded store");
		store_close(s);
	}

	/* a store of a later release */
	tap_ok(set_format(d, put_format_body, "{\"v\":1,\"format\":99}") == 0,
	    "format 99 recorded");
	rc = store_open(d, 0, &s, err, sizeof(err));
	tap_ok(rc == -1 && strstr(err, "format 99, newer") != NULL,
	    "a newer store is refused (%s)", rc == -1 ? err : "opened");
	if (rc == 0)
		store_close(s);
	rc = store_open(d, STORE_CREATE, &s, err, sizeof(err));
	tap_ok(rc == -1, "even by init");
	if (rc == 0)
		store_close(s);
	rc = store_open(d, STORE_ANYFORMAT, &s, err, sizeof(err));
	tap_ok(rc == 0 && store_upgrade(s, NULL, NULL) == -1 &&
	    strstr(store_errmsg(s), "newer") != NULL,
	    "and store_upgrade will not touch it");
	if (rc == 0)
		store_close(s);
	set_format(d, put_format_body, "{\"v\":1,\"format\":\"2\"}");
	rc = store_open(d, 0, &s, err, sizeof(err));
	tap_ok(rc == -1 && strstr(err, "not valid") != NULL,
	    "a format record that is not a number is refused");
	if (rc == 0)
		store_close(s);
}

/* 1 when a name of the store's region or registry files is in d */
static int
has_region_files(const char *d)
{
	DIR		*dp;
	struct dirent	*de;
	int		 found = 0;

	if ((dp = opendir(d)) == NULL)
		return 1;
	while ((de = readdir(dp)) != NULL)
		if (strncmp(de->d_name, "__db.", 5) == 0 ||
		    strcmp(de->d_name, "backup.lock") == 0)
			found = 1;
	closedir(dp);
	return found;
}

static void
test_backup(void)
{
	char		 d[300], b[300], path[400], err[512];
	struct store	*s, *c;
	struct kv	 kv = { "kept", "yes", NULL };
	pid_t		 pid;
	int		 pfd[2], status, rc, fd;
	char		 ch;

	snprintf(d, sizeof(d), "%s/live", dir);
	snprintf(b, sizeof(b), "%s/copy", dir);
	if (store_open(d, STORE_CREATE, &s, err, sizeof(err)) == -1) {
		tap_ok(0, "store_open: %s", err);
		return;
	}
	store_txn(s, put_body, &kv);
	rc = store_backup(s, b);
	tap_ok(rc == 0, "store_backup (%s)", rc ? store_errmsg(s) : "ok");
	tap_ok(!has_region_files(b), "the copy holds no region, registry "
	    "or lock file");
	tap_ok(store_verify(b, NULL, NULL, err, sizeof(err)) == 0,
	    "every database of the copy verifies");
	tap_ok(store_in_use(d, err, sizeof(err)) == 0,
	    "our own registration is not another process in the store");

	/* another process in the store */
	if (pipe(pfd) == -1)
		return;
	if ((pid = fork()) == 0) {
		close(pfd[0]);
		if (store_open(d, 0, &c, err, sizeof(err)) == -1)
			_exit(1);
		if (write(pfd[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(pfd[1]);
	rc = read(pfd[0], &ch, 1) == 1 ? store_in_use(d, err, sizeof(err)) :
	    -2;
	close(pfd[0]);
	tap_ok(rc == 1, "a process with the store open is seen (%d)", rc);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	rc = store_in_use(d, err, sizeof(err));
	tap_ok(rc == 0, "and no longer once it died (%d)", rc);
	store_close(s);

	/* the copy is a store of its own */
	rc = store_open(b, 0, &c, err, sizeof(err));
	tap_ok(rc == 0, "the copy opens as a store (%s)", rc ? err : "ok");
	if (rc == 0) {
		tap_ok(store_txn(c, get_body, &kv) == 0 && kv.got != NULL &&
		    strcmp(kv.got, "yes") == 0, "and holds what was committed");
		store_close(c);
	}
	free(kv.got);

	/* a damaged copy does not verify */
	store_recover_copy(b, err, sizeof(err));
	snprintf(path, sizeof(path), "%s/meta.db", b);
	if ((fd = open(path, O_WRONLY)) != -1) {
		static const char junk[64] = "not a btree page, not at all";

		if (pwrite(fd, junk, sizeof(junk), 0) != sizeof(junk))
			printf("# pwrite failed\n");
		close(fd);
	}
	rc = store_verify(b, NULL, NULL, err, sizeof(err));
	tap_ok(rc == 1, "a damaged database fails verify (%d)", rc);
}

/* 200 KB of records, each small enough to stay on its page: Berkeley DB
 * logs an overflow item with bytes of its own stack it never set, which
 * valgrind (tests/sanitize.sh) reports */
static int
bulk_body(struct store_txn *t, void *arg)
{
	char	key[32], val[512];
	int	i, rc, base = *(int *)arg;

	memset(val, 'x', sizeof(val));
	for (i = 0; i < 400; i++) {
		snprintf(key, sizeof(key), "bulk/%08d", base + i);
		if ((rc = store_put(t, SDB_META, key, strlen(key), val,
		    sizeof(val))) != 0)
			return rc;
	}
	return 0;
}

/* The log files in d: their count, and the lowest number. */
static int
log_files(const char *d, int *lowest)
{
	DIR		*dp;
	struct dirent	*de;
	int		 n = 0, v;

	*lowest = 0;
	if ((dp = opendir(d)) == NULL)
		return -1;
	while ((de = readdir(dp)) != NULL)
		if (strncmp(de->d_name, "log.", 4) == 0) {
			n++;
			v = atoi(de->d_name + 4);
			if (*lowest == 0 || v < *lowest)
				*lowest = v;
		}
	closedir(dp);
	return n;
}

/* While a backup holds backup.lock (shared), no log file goes: neither
 * when a log file fills nor at a checkpoint; after it, a checkpoint
 * removes those no longer needed. */
static void
test_backup_logs(void)
{
	char		 d[300], lock[400], err[512];
	struct store	*s;
	int		 fd, i, n0, n1, n2, low0, low1, low2, base = 0;

	snprintf(d, sizeof(d), "%s/logs", dir);
	if (store_open(d, STORE_CREATE, &s, err, sizeof(err)) == -1) {
		tap_ok(0, "store_open: %s", err);
		return;
	}
	store_txn(s, bulk_body, &base);
	base += 200;
	store_checkpoint(s);
	n0 = log_files(d, &low0);
	snprintf(lock, sizeof(lock), "%s/backup.lock", d);
	fd = open(lock, O_RDWR | O_CREAT, 0600);
	tap_ok(fd != -1 && flock(fd, LOCK_SH) == 0, "backup.lock taken "
	    "shared, as a backup does");
	for (i = 0; i < 30; i++, base += 200) {	/* about 6 MB of log */
		store_txn(s, bulk_body, &base);
		if (i % 10 == 9)
			store_checkpoint(s);
	}
	store_checkpoint(s);
	n1 = log_files(d, &low1);
	tap_ok(n1 > n0 && low1 == low0, "no log file removed while a backup "
	    "holds the lock, through log switches and checkpoints (%d from "
	    "log.%d, then %d from log.%d)", n0, low0, n1, low1);
	close(fd);
	store_checkpoint(s);
	n2 = log_files(d, &low2);
	tap_ok(n2 < n1 && low2 > low1, "released: the next checkpoint removes "
	    "the ones no longer needed (%d from log.%d)", n2, low2);
	store_close(s);
}

/* The replication manager's connections: Berkeley DB sets SO_KEEPALIVE
 * on them and never TCP_NODELAY, which libmias's setsockopt adds (without
 * it every quorum acknowledgement waited ~40 ms for Nagle and delayed
 * ACKs: lib/repl.c). */
static void
test_nodelay(void)
{
	int		fd, one = 1, v = 0;
	socklen_t	len = sizeof(v);

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1) {
		tap_ok(0, "a TCP socket: %s", strerror(errno));
		return;
	}
	tap_ok(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len) == 0 &&
	    v == 0, "a new TCP socket has no TCP_NODELAY");
	len = sizeof(v);
	tap_ok(setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one,
	    sizeof(one)) == 0 && getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v,
	    &len) == 0 && v != 0, "SO_KEEPALIVE set on it (as Berkeley DB's "
	    "replication manager does) brings TCP_NODELAY");
	close(fd);
}

int
main(void)
{
	test_queue_keys();
	test_nodelay();
	if (tap_tmpdir(dir, sizeof(dir), "t_store") == -1)
		return 1;
	test_basic();
	test_two_processes();
	test_killed_writer();
	test_killed_latch_holder();
	test_reopen_not_stalled();
	test_study();
	test_flush();
	test_format();
	test_backup();
	test_backup_logs();
	tap_tmpdir_done(dir);
	return tap_done();
}
