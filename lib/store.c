/* store.c -- the Berkeley DB environment shared by every mias process */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <db.h>

#include "store.h"

/*
 * Every process (responders, the dispatcher, mias-admin) opens the same
 * environment with the same flags, kept here and nowhere else:
 *
 * - DB_INIT_TXN | DB_INIT_LOG | DB_INIT_LOCK | DB_INIT_MPOOL: full
 *   transactions; commits are flushed to the log before they return, so an
 *   accepted request survives power loss.
 * - DB_REGISTER | DB_RECOVER: each process registers itself; the first
 *   open after a process died without closing runs normal recovery, and
 *   the processes still running are told (DB_RUNRECOVERY) to reopen.
 *   Without DB_REGISTER, DB_RECOVER would recover under running processes.
 * - DB_THREAD: the dispatcher may share handles between threads.
 *
 * Locks held by a process that died: a lock request times out
 * (STORE_LOCK_TIMEOUT, reported as DB_LOCK_NOTGRANTED thanks to
 * DB_TIME_NOTGRANTED, not as a deadlock) and the retry loop then calls
 * failchk, which
 * releases a dead process's read locks or asks for recovery when it died
 * inside a write transaction.  Berkeley DB checks lock timeouts only when
 * deadlock detection runs, and a blocked waiter sleeps without a time
 * limit, so each process runs a small watchdog thread that runs the
 * detector for expired locks every STORE_WATCH_MS (what db_deadlock -t
 * would do, without needing one more daemon).
 */
#define STORE_ENV_FLAGS	(DB_CREATE | DB_INIT_TXN | DB_INIT_LOG | \
	DB_INIT_LOCK | DB_INIT_MPOOL | DB_REGISTER | DB_RECOVER | DB_THREAD)
#define STORE_DB_FLAGS	(DB_CREATE | DB_AUTO_COMMIT | DB_THREAD)
#define STORE_MODE	0600
#define STORE_CACHE	(8 * 1024 * 1024)
#define STORE_LOCK_TIMEOUT	(2 * 1000 * 1000)	/* microseconds */
#define STORE_TRIES	32
/* Assembling a study of 100,000 images reads that many records in one
 * transaction: the lock table must hold a lock per page touched (about
 * one page per twenty jobs). */
#define STORE_MAX_LOCKS	50000
/* Buckets of the lock table.  Berkeley DB sizes it by the most lock
 * objects (STORE_MAX_LOCKS) otherwise: 1.6 MB that every process joining
 * the environment touches, the largest part of a responder's memory
 * (bench/ row 5a; 1,024 buckets: 0.25 MB).  Few objects are locked at
 * once: even the assembly of a 100,000-image study, about 5,000 pages,
 * makes chains of five.
 * Set when the environment is made: an existing one keeps its table
 * until it is made again (at recovery). */
#define STORE_LK_TABLE	1024
/* Log files: small ones are removed sooner once a checkpoint no longer
 * needs them (DB_LOG_AUTO_REMOVE). */
#define STORE_LOG_MAX	(4 * 1024 * 1024)
#define STORE_WATCH_MS	250
/* The stall guard (see below): how long a process may wait inside Berkeley
 * DB on an environment another process has since recovered, and at all. */
#define STORE_STALL_RECOVERED_MS	2000
#define STORE_STALL_MAX_MS		120000
#define STORE_STALL_SLOTS		32
#define STORE_SCHEMA	1

static const char *const store_files[SDB__MAX] = {
	"meta.db",
	"namespaces.db",
	"studies.db",
	"queue.db",
	"jobs.db",
	"jobidx.db",
	"waiting.db",
	"results.db",
	"outbox.db",
	"origins.db",
	"counters.db",
	"audit.db",
	"answers.db",
	"submitted.db",
};

struct store {
	char		*s_dir;
	/* s_rw: held shared by every transaction, exclusively to close and
	 * reopen the environment (DB_RUNRECOVERY), so that one thread does
	 * not close it under another's transaction; s_gen counts reopens */
	pthread_rwlock_t s_rw;
	unsigned	 s_gen;
	DB_ENV		*s_env;
	DB		*s_db[SDB__MAX];
	char		 s_err[256];

	/* the watchdog; s_watch_stop is guarded by s_watch_mtx */
	pthread_t	 s_watch;
	int		 s_watching;
	int		 s_watch_stop;
	pthread_mutex_t	 s_watch_mtx;
	pthread_cond_t	 s_watch_cv;
};

/*
 * The stall guard.  A process killed while it holds one of Berkeley DB's
 * mutexes (not a lock: a latch on a buffer, the log or a region, held for
 * microseconds, or for the length of an fsync) leaves it held for good:
 * mutexes have no timeout, failchk cannot release them, and a process
 * waiting on one sleeps until the environment is recovered, and then
 * still, since recovery builds new region files and the waiter keeps
 * sleeping on the old, unlinked one.  Once that has happened the only
 * way out for the waiter is to leave: the web server starts a responder
 * again, the dispatcher re-executes itself (store_on_stall), and their
 * open (DB_REGISTER | DB_RECOVER) recovers the environment when nobody has
 * yet.
 *
 * So every thread notes when it calls into the library (store_enter/leave
 * around each Berkeley DB call, not around a transaction's own work: one
 * slot a thread, nothing shared but an atomic store), and a guard
 * thread that never calls Berkeley DB itself looks twice a second: a wait
 * longer than STORE_STALL_RECOVERED_MS while the region file this process
 * mapped has been replaced (another process ran recovery), or longer than
 * STORE_STALL_MAX_MS in any case, is a stall.
 */
static _Atomic int64_t	 stall_since[STORE_STALL_SLOTS];
static _Atomic uint64_t	 stall_ino[STORE_STALL_SLOTS];	/* region entered */
static _Atomic uint64_t	 stall_cur_ino;		/* region of the last open */
static _Atomic int	 stall_nslots;
static __thread int	 stall_slot = -1;
static __thread int	 stall_depth;

static struct {
	pthread_mutex_t	 mtx;
	pthread_cond_t	 cv;
	pthread_t	 thr;
	int		 users;		/* open stores */
	int		 running, stop;
	char		 region[PATH_MAX];	/* __db.001 of the last open */
	void		(*fn)(const char *);
} guard = { .mtx = PTHREAD_MUTEX_INITIALIZER };

static int64_t
store_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
store_enter(void)
{
	if (stall_depth++ > 0)
		return;
	if (stall_slot < 0) {
		stall_slot = atomic_fetch_add(&stall_nslots, 1);
		if (stall_slot >= STORE_STALL_SLOTS)	/* shared: coarser */
			stall_slot = STORE_STALL_SLOTS - 1;
	}
	atomic_store(&stall_ino[stall_slot], atomic_load(&stall_cur_ino));
	atomic_store(&stall_since[stall_slot], store_mono_ms());
}

static void
store_leave(void)
{
	if (--stall_depth == 0)
		atomic_store(&stall_since[stall_slot], 0);
}

void
store_on_stall(void (*fn)(const char *why))
{
	pthread_mutex_lock(&guard.mtx);
	guard.fn = fn;
	pthread_mutex_unlock(&guard.mtx);
}

/*
 * Remembers which region file an open mapped: a thread that enters the
 * library notes it, since another thread may reopen (after DB_RUNRECOVERY)
 * while it still waits in the old environment.  The thread that opens is
 * in the new one from now on, whatever its slot said when it entered.
 */
static void
store_guard_region(const char *dir)
{
	struct stat	st;
	uint64_t	ino;

	pthread_mutex_lock(&guard.mtx);
	snprintf(guard.region, sizeof(guard.region), "%s/__db.001", dir);
	ino = stat(guard.region, &st) == 0 ? (uint64_t)st.st_ino : 0;
	atomic_store(&stall_cur_ino, ino);
	if (stall_depth > 0 && stall_slot >= 0)
		atomic_store(&stall_ino[stall_slot], ino);
	pthread_mutex_unlock(&guard.mtx);
}

/*
 * For a process that started itself again in place after a stall (the
 * dispatcher), before it opens the store: Berkeley DB refuses a second
 * registration of one pid ("DB_REGISTER limits processes to one open
 * DB_ENV handle"), and the stalled image could not close its handle.  Its
 * slot in __db.register (25 bytes: "%24lu\n" of the pid; "X", 22 blanks,
 * "0\n" when free, the format of Berkeley DB 4.4 to 5.3) is given the
 * pid 0 instead: a taken slot whose lock nobody holds (it went with the
 * descriptor at exec), i.e. a process that died in the environment, so
 * the open that follows recovers it.  The old image's threads may have
 * left locks or latches there under this pid, which stays alive, so that
 * nothing else would ever free them: recovery does.  Done by the new
 * image, when no thread of the old one can register again.
 */
int
store_unregister_self(const char *dir)
{
	static const char	 dead[] = "                       0\n";
	char			 path[PATH_MAX], mine[32], slot[25];
	off_t			 off;
	int			 fd, rc = 0;

	snprintf(path, sizeof(path), "%s/__db.register", dir);
	snprintf(mine, sizeof(mine), "%24lu\n", (unsigned long)getpid());
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	for (off = 0; pread(fd, slot, sizeof(slot), off) == sizeof(slot);
	    off += (off_t)sizeof(slot))
		if (memcmp(slot, mine, sizeof(slot)) == 0 &&
		    pwrite(fd, dead, sizeof(slot), off) != sizeof(slot))
			rc = -1;
	close(fd);
	return rc;
}

/* 1 when the region file entered under ino is gone or another file took
 * its name (called with guard.mtx held). */
static int
store_region_replaced(uint64_t ino)
{
	struct stat st;

	if (ino == 0 || guard.region[0] == '\0')
		return 0;
	if (stat(guard.region, &st) == -1)
		return errno == ENOENT;
	return (uint64_t)st.st_ino != ino;
}

static void *
store_guard_main(void *arg)
{
	struct timespec	 ts;
	int64_t		 now, since, oldest;
	uint64_t	 ino;
	int		 i, n, replaced;
	const char	*why;
	void		(*fn)(const char *);

	(void)arg;
	pthread_mutex_lock(&guard.mtx);
	while (!guard.stop) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 500 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&guard.cv, &guard.mtx, &ts);
		if (guard.stop)
			break;
		oldest = 0;
		replaced = 0;
		now = store_mono_ms();
		n = atomic_load(&stall_nslots);
		for (i = 0; i < n && i < STORE_STALL_SLOTS; i++) {
			since = atomic_load(&stall_since[i]);
			ino = atomic_load(&stall_ino[i]);
			if (since == 0)
				continue;
			if (oldest == 0 || since < oldest)
				oldest = since;
			if (now - since >= STORE_STALL_RECOVERED_MS &&
			    store_region_replaced(ino))
				replaced = 1;
		}
		why = NULL;
		if (replaced)
			why = "waiting inside a Berkeley DB environment that has "
			    "since been recovered (a process died in it)";
		else if (oldest != 0 && now - oldest >= STORE_STALL_MAX_MS)
			why = "a call into Berkeley DB has not returned for two "
			    "minutes";
		if (why == NULL)
			continue;
		fn = guard.fn;
		pthread_mutex_unlock(&guard.mtx);
		if (fn != NULL)
			fn(why);	/* does not return, as a rule */
		_exit(STORE_STALL_EXIT);
	}
	pthread_mutex_unlock(&guard.mtx);
	return NULL;
}

/* One guard a process while a store is open; started again after a fork
 * (the dispatcher closes its store before it detaches). */
static void
store_guard_start(void)
{
	pthread_condattr_t ca;

	pthread_mutex_lock(&guard.mtx);
	if (guard.users++ == 0 && !guard.running) {
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&guard.cv, &ca);
		pthread_condattr_destroy(&ca);
		guard.stop = 0;
		guard.running = pthread_create(&guard.thr, NULL,
		    store_guard_main, NULL) == 0;
		if (!guard.running)
			pthread_cond_destroy(&guard.cv);
	}
	pthread_mutex_unlock(&guard.mtx);
}

static void
store_guard_stop(void)
{
	int join = 0;

	pthread_mutex_lock(&guard.mtx);
	if (--guard.users == 0 && guard.running) {
		guard.stop = 1;
		pthread_cond_signal(&guard.cv);
		join = 1;
	}
	pthread_mutex_unlock(&guard.mtx);
	if (join) {
		pthread_join(guard.thr, NULL);
		pthread_mutex_lock(&guard.mtx);
		guard.running = 0;
		pthread_cond_destroy(&guard.cv);
		pthread_mutex_unlock(&guard.mtx);
	}
}

struct store_txn {
	struct store	*t_store;
	DB_TXN		*t_txn;
	int		 t_dberr;	/* first Berkeley DB error seen */
	int		 t_wrote;	/* a put or del: flush at commit */
	unsigned	 t_epoch;	/* s_gen when the body began */
};

static void
store_errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
	struct store *s = env->app_private;

	(void)pfx;
	if (s != NULL)
		snprintf(s->s_err, sizeof(s->s_err), "%s", msg);
}

/* Informational messages (failchk freeing a dead process's resources):
 * kept like errors, never printed, since lib/ does not print. */
static void
store_msgcall(const DB_ENV *env, const char *msg)
{
	store_errcall(env, NULL, msg);
}

/* Tells failchk whether the owner of a lock or transaction still runs. */
static int
store_isalive(DB_ENV *env, pid_t pid, db_threadid_t tid, u_int32_t flags)
{
	(void)env;
	(void)tid;
	(void)flags;
	return kill(pid, 0) == 0 || errno == EPERM;
}

static void *
store_watchdog(void *arg)
{
	struct store	*s = arg;
	struct timespec	 ts;

	pthread_mutex_lock(&s->s_watch_mtx);
	while (!s->s_watch_stop) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += STORE_WATCH_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->s_watch_cv, &s->s_watch_mtx, &ts);
		if (s->s_watch_stop)
			break;
		/* the environment handle is free-threaded (DB_THREAD) */
		store_enter();
		s->s_env->lock_detect(s->s_env, 0, DB_LOCK_EXPIRE, NULL);
		store_leave();
	}
	pthread_mutex_unlock(&s->s_watch_mtx);
	return NULL;
}

static void
store_watch_start(struct store *s)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&s->s_watch_mtx, NULL);
	pthread_cond_init(&s->s_watch_cv, &ca);
	pthread_condattr_destroy(&ca);
	s->s_watch_stop = 0;
	s->s_watching = pthread_create(&s->s_watch, NULL, store_watchdog,
	    s) == 0;
}

static void
store_watch_stop(struct store *s)
{
	if (!s->s_watching)
		return;
	pthread_mutex_lock(&s->s_watch_mtx);
	s->s_watch_stop = 1;
	pthread_cond_signal(&s->s_watch_cv);
	pthread_mutex_unlock(&s->s_watch_mtx);
	pthread_join(s->s_watch, NULL);
	pthread_cond_destroy(&s->s_watch_cv);
	pthread_mutex_destroy(&s->s_watch_mtx);
	s->s_watching = 0;
}

static void
store_shut(struct store *s)
{
	int i;

	store_enter();
	store_watch_stop(s);

	for (i = 0; i < SDB__MAX; i++)
		if (s->s_db[i] != NULL) {
			s->s_db[i]->close(s->s_db[i], 0);
			s->s_db[i] = NULL;
		}
	if (s->s_env != NULL) {
		s->s_env->close(s->s_env, 0);
		s->s_env = NULL;
	}
	store_leave();
}

/*
 * Berkeley DB maps its region files (__db.001 ...) larger than it first
 * writes them and extends them as the regions grow (the buffer pool
 * fills); on a full disk the extension fails and touching the mapped
 * page kills the process with SIGBUS instead of returning ENOSPC.
 * Reserving every region file's blocks up to the size mapped turns that
 * into an error at open, which the responder answers as 100001.  The
 * mapped sizes are read from /proc/self/maps (Linux).
 */
static int
store_reserve_regions(struct store *s)
{
	char		 line[4096 + 128], path[4096];
	unsigned long	 start, end, off;
	size_t		 dl = strlen(s->s_dir);
	FILE		*fp;
	int		 fd, ret, rc = 0;

	if ((fp = fopen("/proc/self/maps", "re")) == NULL)
		return 0;	/* not Linux: nothing to learn the sizes from */
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *p = strchr(line, '/');

		if (p == NULL || sscanf(line, "%lx-%lx %*s %lx", &start, &end,
		    &off) != 3)
			continue;
		p[strcspn(p, "\n")] = '\0';
		if (strncmp(p, s->s_dir, dl) != 0 ||
		    strncmp(p + dl, "/__db.", 6) != 0)
			continue;
		snprintf(path, sizeof(path), "%s", p);
		if ((fd = open(path, O_RDWR | O_CLOEXEC)) == -1)
			continue;
		ret = posix_fallocate(fd, 0, (off_t)(off + (end - start)));
		close(fd);
		if (ret != 0) {
			snprintf(s->s_err, sizeof(s->s_err), "%.180s: %s",
			    path, strerror(ret));
			rc = -1;
			break;
		}
	}
	fclose(fp);
	return rc;
}

static int	store_start1(struct store *);

/* Opens the environment and the databases; counted by the stall guard
 * (an open joins, and may wait on, the environment's mutexes). */
static int
store_start(struct store *s)
{
	int rc;

	store_enter();
	rc = store_start1(s);
	store_leave();
	return rc;
}

static int
store_start1(struct store *s)
{
	DB_ENV	*env;
	int	 i, ret;

	if ((ret = db_env_create(&env, 0)) != 0) {
		snprintf(s->s_err, sizeof(s->s_err), "db_env_create: %s",
		    db_strerror(ret));
		return -1;
	}
	s->s_env = env;
	env->app_private = s;
	env->set_errcall(env, store_errcall);
	env->set_msgcall(env, store_msgcall);
	if ((ret = env->set_cachesize(env, 0, STORE_CACHE, 1)) != 0 ||
	    (ret = env->set_lk_detect(env, DB_LOCK_DEFAULT)) != 0 ||
	    (ret = env->set_lk_max_locks(env, STORE_MAX_LOCKS)) != 0 ||
	    (ret = env->set_lk_max_objects(env, STORE_MAX_LOCKS)) != 0 ||
	    (ret = env->set_lk_max_lockers(env, 4096)) != 0 ||
	    (ret = env->set_lk_tablesize(env, STORE_LK_TABLE)) != 0 ||
	    (ret = env->set_timeout(env, STORE_LOCK_TIMEOUT,
	    DB_SET_LOCK_TIMEOUT)) != 0 ||
	    (ret = env->set_thread_count(env, 1024)) != 0 ||
	    (ret = env->set_isalive(env, store_isalive)) != 0 ||
	    (ret = env->set_flags(env, DB_TIME_NOTGRANTED, 1)) != 0 ||
	    (ret = env->log_set_config(env, DB_LOG_AUTO_REMOVE, 1)) != 0 ||
	    (ret = env->set_lg_max(env, STORE_LOG_MAX)) != 0 ||
	    (ret = env->open(env, s->s_dir, STORE_ENV_FLAGS,
	    STORE_MODE)) != 0) {
		if (s->s_err[0] == '\0')
			snprintf(s->s_err, sizeof(s->s_err), "%s: %s",
			    s->s_dir, db_strerror(ret));
		goto fail;
	}
	store_guard_region(s->s_dir);
	if (store_reserve_regions(s) == -1)
		goto fail;
	for (i = 0; i < SDB__MAX; i++) {
		if ((ret = db_create(&s->s_db[i], env, 0)) != 0 ||
		    (ret = s->s_db[i]->open(s->s_db[i], NULL, store_files[i],
		    NULL, DB_BTREE, STORE_DB_FLAGS | (i == SDB_COUNTERS ?
		    DB_READ_UNCOMMITTED : 0), STORE_MODE)) != 0) {
			snprintf(s->s_err, sizeof(s->s_err), "%s/%s: %s",
			    s->s_dir, store_files[i], db_strerror(ret));
			goto fail;
		}
	}
	store_watch_start(s);
	return 0;
fail:
	store_shut(s);
	return -1;
}

int
store_open(const char *dir, int flags, struct store **out, char *err,
    size_t errlen)
{
	struct store	*s;
	struct stat	 st;

	if (flags & STORE_CREATE) {
		if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
			snprintf(err, errlen, "%s: %s", dir, strerror(errno));
			return -1;
		}
	}
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "state directory %s: %s", dir,
		    errno ? strerror(errno) : "not a directory");
		return -1;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->s_dir = strdup(dir)) == NULL) {
		snprintf(err, errlen, "out of memory");
		free(s);
		return -1;
	}
	pthread_rwlock_init(&s->s_rw, NULL);
	store_guard_start();
	if (store_start(s) == -1) {
		store_guard_stop();
		snprintf(err, errlen, "%s", s->s_err);
		pthread_rwlock_destroy(&s->s_rw);
		free(s->s_dir);
		free(s);
		return -1;
	}
	*out = s;
	return 0;
}

int
store_check_owner(const char *dir, char *err, size_t errlen)
{
	struct stat	 st;
	struct passwd	*pw;
	char		 who[64];

	if (stat(dir, &st) == -1)
		return errno == ENOENT ? 0 : (snprintf(err, errlen, "%s: %s",
		    dir, strerror(errno)), -1);
	if (st.st_uid == geteuid())
		return 0;
	if ((pw = getpwuid(st.st_uid)) != NULL)
		snprintf(who, sizeof(who), "%s", pw->pw_name);
	else
		snprintf(who, sizeof(who), "uid %lu", (unsigned long)st.st_uid);
	snprintf(err, errlen, "state directory %s belongs to %s, not to the "
	    "user running this program; run it as %s (e.g. sudo -u %s ...), "
	    "or files it creates would lock the web server out", dir, who,
	    who, who);
	return -1;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	store_shut(s);
	store_guard_stop();
	pthread_rwlock_destroy(&s->s_rw);
	free(s->s_dir);
	free(s);
}

/* A call on the whole environment, outside any transaction: a checkpoint
 * (dirty pages written, so old log files can go) or a log flush. */
static int
store_env_call(struct store *s, int checkpoint)
{
	int ret;

	pthread_rwlock_rdlock(&s->s_rw);
	if (s->s_env == NULL) {
		pthread_rwlock_unlock(&s->s_rw);
		return -1;
	}
	store_enter();
	ret = checkpoint ? s->s_env->txn_checkpoint(s->s_env, 0, 0, 0) :
	    s->s_env->log_flush(s->s_env, NULL);
	store_leave();
	pthread_rwlock_unlock(&s->s_rw);
	if (ret != 0) {
		snprintf(s->s_err, sizeof(s->s_err), "%s: %s",
		    checkpoint ? "checkpoint" : "log_flush", db_strerror(ret));
		return -1;
	}
	return 0;
}

int
store_checkpoint(struct store *s)
{
	return store_env_call(s, 1);
}

int
store_flush(struct store *s)
{
	return store_env_call(s, 0);
}

const char *
store_dir(const struct store *s)
{
	return s->s_dir;
}

const char *
store_errmsg(const struct store *s)
{
	return s->s_err;
}

int64_t
store_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Map a Berkeley DB error to a store code, remembering it in the txn. */
static int
store_fail(struct store_txn *t, int ret)
{
	if (t->t_dberr == 0)
		t->t_dberr = ret;
	switch (ret) {
	case DB_LOCK_DEADLOCK:
	case DB_LOCK_NOTGRANTED:
	case DB_RUNRECOVERY:
		return STORE_RETRY;
	default:
		snprintf(t->t_store->s_err, sizeof(t->t_store->s_err), "%s",
		    db_strerror(ret));
		return STORE_ERR;
	}
}

static void
store_backoff(int attempt)
{
	struct timespec ts;
	unsigned	ms = attempt < 8 ? 1U << attempt : 200;

	ts.tv_sec = 0;
	ts.tv_nsec = (long)(ms + (unsigned)rand() % (ms + 1)) * 1000000L;
	nanosleep(&ts, NULL);
}

static int	store_run(struct store *, store_body, void *, u_int32_t);

static int
store_log_flush(struct store *s)
{
	int ret;

	store_enter();
	ret = s->s_env->log_flush(s->s_env, NULL);
	store_leave();
	return ret;
}

unsigned
store_epoch(struct store *s)
{
	unsigned gen;

	pthread_rwlock_rdlock(&s->s_rw);
	gen = s->s_gen;
	pthread_rwlock_unlock(&s->s_rw);
	return gen;
}

unsigned
store_txn_epoch(const struct store_txn *t)
{
	return t->t_epoch;
}

int
store_fresh(const struct store_txn *t, unsigned epoch)
{
	return t->t_epoch == epoch ? STORE_OK : STORE_STALE;
}

int
store_txn(struct store *s, store_body body, void *arg)
{
	return store_run(s, body, arg, 0);
}

int
store_txn_nosync(struct store *s, store_body body, void *arg)
{
	return store_run(s, body, arg, DB_TXN_NOSYNC);
}

/* Closes the environment (to be reopened) unless another thread has
 * already, since generation gen; with s_rw held by no one in this thread. */
static void
store_reset(struct store *s, unsigned gen)
{
	pthread_rwlock_wrlock(&s->s_rw);
	if (s->s_gen == gen && s->s_env != NULL) {
		store_shut(s);
		s->s_gen++;
	}
	pthread_rwlock_unlock(&s->s_rw);
}

/* Opens the environment if it is closed; 0 or -1 (s_err says why). */
static int
store_reopen(struct store *s)
{
	int rc = 0;

	pthread_rwlock_wrlock(&s->s_rw);
	if (s->s_env == NULL)
		rc = store_start(s);
	pthread_rwlock_unlock(&s->s_rw);
	return rc;
}

static int
store_run(struct store *s, store_body body, void *arg, u_int32_t cflags)
{
	struct store_txn	t;
	unsigned		gen;
	int			attempt, ret, rc, reset;

	for (attempt = 0; attempt < STORE_TRIES; attempt++) {
		pthread_rwlock_rdlock(&s->s_rw);
		if (s->s_env == NULL) {
			pthread_rwlock_unlock(&s->s_rw);
			if (store_reopen(s) == -1)
				return STORE_ERR;
			pthread_rwlock_rdlock(&s->s_rw);
			if (s->s_env == NULL) {	/* closed again meanwhile */
				pthread_rwlock_unlock(&s->s_rw);
				continue;
			}
		}
		gen = s->s_gen;
		memset(&t, 0, sizeof(t));
		t.t_store = s;
		t.t_epoch = gen;
		store_enter();
		ret = s->s_env->txn_begin(s->s_env, NULL, &t.t_txn, 0);
		store_leave();
		if (ret != 0) {
			pthread_rwlock_unlock(&s->s_rw);
			if (ret == DB_RUNRECOVERY) {
				store_reset(s, gen);
				continue;
			}
			snprintf(s->s_err, sizeof(s->s_err), "txn_begin: %s",
			    db_strerror(ret));
			return STORE_ERR;
		}
		rc = body(&t, arg);
		if (rc == 0) {
			/*
			 * Commit without waiting for the disk, so the locks go
			 * at once, then wait for the log to be on disk before
			 * telling anyone: concurrent committers share one
			 * flush (group commit), and since the log is written in
			 * order, nothing that saw this transaction's changes
			 * can be durable without it.  Accepted still means on
			 * disk when store_txn returns.
			 */
			store_enter();
			ret = t.t_txn->commit(t.t_txn, DB_TXN_NOSYNC);
			store_leave();
			t.t_txn = NULL;
			if (ret == 0 && cflags == 0 && t.t_wrote &&
			    (ret = store_log_flush(s)) != 0) {
				/* committed but maybe not on disk: not retried
				 * (that could apply the body twice); the caller
				 * reports a failure, the next call reopens */
				snprintf(s->s_err, sizeof(s->s_err), "log_flush: %s",
				    db_strerror(ret));
				pthread_rwlock_unlock(&s->s_rw);
				if (ret == DB_RUNRECOVERY)
					store_reset(s, gen);
				return STORE_ERR;
			}
			if (ret == 0) {
				pthread_rwlock_unlock(&s->s_rw);
				return 0;
			}
			rc = store_fail(&t, ret);
		} else {
			store_enter();
			t.t_txn->abort(t.t_txn);
			store_leave();
			if (rc == STORE_STALE)
				snprintf(s->s_err, sizeof(s->s_err), "the store "
				    "was recovered since this work began: it "
				    "starts over");
		}
		reset = 0;
		if (rc == STORE_RETRY && t.t_dberr == DB_RUNRECOVERY)
			reset = 1;	/* reopened on the next try */
		else if (rc == STORE_RETRY &&
		    t.t_dberr == DB_LOCK_NOTGRANTED) {
			store_enter();
			ret = s->s_env->failchk(s->s_env, 0);
			store_leave();
			if (ret == DB_RUNRECOVERY)
				reset = 1;	/* a writer died mid-way */
		}
		pthread_rwlock_unlock(&s->s_rw);
		if (rc != STORE_RETRY)
			return rc;
		if (reset)
			store_reset(s, gen);
		store_backoff(attempt);
	}
	snprintf(s->s_err, sizeof(s->s_err), "transaction retried %d times "
	    "without success", STORE_TRIES);
	return STORE_ERR;
}

static void
store_dbt(DBT *d, const void *data, size_t len)
{
	memset(d, 0, sizeof(*d));
	d->data = (void *)(uintptr_t)data;
	d->size = (u_int32_t)len;
}

int
store_get(struct store_txn *t, enum store_db db, const void *key,
    size_t klen, char **val, size_t *len, int rmw)
{
	DBT	k, v;
	char	*buf;
	int	ret;

	store_dbt(&k, key, klen);
	memset(&v, 0, sizeof(v));
	v.flags = DB_DBT_MALLOC;
	store_enter();
	ret = t->t_store->s_db[db]->get(t->t_store->s_db[db], t->t_txn, &k,
	    &v, rmw == STORE_DIRTY && db == SDB_COUNTERS ?
	    DB_READ_UNCOMMITTED : rmw ? DB_RMW : 0);
	store_leave();
	if (ret == DB_NOTFOUND)
		return STORE_NOTFOUND;
	if (ret != 0)
		return store_fail(t, ret);
	if ((buf = realloc(v.data, v.size + 1)) == NULL) {
		free(v.data);
		return STORE_ERR;
	}
	buf[v.size] = '\0';
	*val = buf;
	if (len != NULL)
		*len = v.size;
	return STORE_OK;
}

int
store_put(struct store_txn *t, enum store_db db, const void *key,
    size_t klen, const void *val, size_t len)
{
	DBT	k, v;
	int	ret;

	t->t_wrote = 1;
	store_dbt(&k, key, klen);
	store_dbt(&v, val, len);
	store_enter();
	ret = t->t_store->s_db[db]->put(t->t_store->s_db[db], t->t_txn, &k,
	    &v, 0);
	store_leave();
	return ret == 0 ? STORE_OK : store_fail(t, ret);
}

int
store_del(struct store_txn *t, enum store_db db, const void *key,
    size_t klen)
{
	DBT	k;
	int	ret;

	t->t_wrote = 1;
	store_dbt(&k, key, klen);
	store_enter();
	ret = t->t_store->s_db[db]->del(t->t_store->s_db[db], t->t_txn, &k, 0);
	store_leave();
	if (ret == DB_NOTFOUND)
		return STORE_NOTFOUND;
	return ret == 0 ? STORE_OK : store_fail(t, ret);
}

int
store_get_json(struct store_txn *t, enum store_db db, const void *key,
    size_t klen, json_object **out, int rmw)
{
	char	*val;
	size_t	 len;
	int	 rc;

	if ((rc = store_get(t, db, key, klen, &val, &len, rmw)) != STORE_OK)
		return rc;
	*out = json_tokener_parse(val);
	free(val);
	if (*out == NULL || !json_object_is_type(*out, json_type_object)) {
		json_object_put(*out);
		*out = NULL;
		snprintf(t->t_store->s_err, sizeof(t->t_store->s_err),
		    "%s: a record is not valid JSON", store_files[db]);
		return STORE_ERR;
	}
	return STORE_OK;
}

int
store_put_json(struct store_txn *t, enum store_db db, const void *key,
    size_t klen, json_object *o)
{
	size_t		 len;
	const char	*s;

	s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (s == NULL)
		return STORE_ERR;
	return store_put(t, db, key, klen, s, len);
}

json_object *
store_json(const char *val, size_t len)
{
	json_tokener	*tok;
	json_object	*o;

	if ((tok = json_tokener_new()) == NULL)
		return NULL;
	o = json_tokener_parse_ex(tok, val, (int)len);
	json_tokener_free(tok);
	if (o != NULL && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

struct store_iter {
	struct store_txn	*i_txn;
	DBC			*i_c;
	DBT			 i_k, i_v;
	u_int32_t		 i_op;
	int			 i_end;
	size_t			 i_plen;
	unsigned char		 i_prefix[];
};

int
store_iter_open(struct store_txn *t, enum store_db db, const void *prefix,
    size_t plen, struct store_iter **out)
{
	DB			*d = t->t_store->s_db[db];
	struct store_iter	*it;
	int			 ret;

	*out = NULL;
	if ((it = calloc(1, sizeof(*it) + plen)) == NULL)
		return STORE_ERR;
	store_enter();
	ret = d->cursor(d, t->t_txn, &it->i_c, 0);
	store_leave();
	if (ret != 0) {
		free(it);
		return store_fail(t, ret);
	}
	it->i_txn = t;
	it->i_k.flags = DB_DBT_REALLOC;
	it->i_v.flags = DB_DBT_REALLOC;
	it->i_plen = plen;
	if (plen > 0) {
		memcpy(it->i_prefix, prefix, plen);
		if ((it->i_k.data = malloc(plen)) == NULL) {
			store_iter_close(it);
			return STORE_ERR;
		}
		memcpy(it->i_k.data, prefix, plen);
		it->i_k.size = (u_int32_t)plen;
		it->i_op = DB_SET_RANGE;
	} else
		it->i_op = DB_FIRST;
	*out = it;
	return STORE_OK;
}

int
store_iter_seek(struct store_iter *it, const void *key, size_t klen)
{
	void *k;

	if (it->i_end)
		return STORE_OK;
	if ((k = realloc(it->i_k.data, klen ? klen : 1)) == NULL)
		return STORE_ERR;
	memcpy(k, key, klen);
	it->i_k.data = k;
	it->i_k.size = (u_int32_t)klen;
	it->i_op = DB_SET_RANGE;
	return STORE_OK;
}

int
store_iter_next(struct store_iter *it, const void **key, size_t *klen,
    const char **val, size_t *len)
{
	int ret;

	if (it->i_end)
		return STORE_NOTFOUND;
	store_enter();
	ret = it->i_c->get(it->i_c, &it->i_k, &it->i_v, it->i_op);
	store_leave();
	it->i_op = DB_NEXT;
	if (ret == DB_NOTFOUND || (ret == 0 && it->i_plen > 0 &&
	    (it->i_k.size < it->i_plen ||
	    memcmp(it->i_k.data, it->i_prefix, it->i_plen) != 0))) {
		it->i_end = 1;
		return STORE_NOTFOUND;
	}
	if (ret != 0) {
		it->i_end = 1;
		return store_fail(it->i_txn, ret);
	}
	*key = it->i_k.data;
	*klen = it->i_k.size;
	*val = it->i_v.data;
	*len = it->i_v.size;
	return STORE_OK;
}

int
store_iter_close(struct store_iter *it)
{
	int ret, rc = STORE_OK;

	if (it == NULL)
		return STORE_OK;
	store_enter();
	ret = it->i_c->close(it->i_c);
	store_leave();
	if (ret != 0)
		rc = store_fail(it->i_txn, ret);
	free(it->i_k.data);
	free(it->i_v.data);
	free(it);
	return rc;
}

static int	store_walk(struct store_txn *, enum store_db, const void *,
		    size_t, int, store_visit, void *);

int
store_scan(struct store_txn *t, enum store_db db, const void *prefix,
    size_t plen, store_visit cb, void *arg)
{
	return store_walk(t, db, prefix, plen, 1, cb, arg);
}

int
store_scan_from(struct store_txn *t, enum store_db db, const void *start,
    size_t slen, store_visit cb, void *arg)
{
	return store_walk(t, db, start, slen, 0, cb, arg);
}

static int
store_walk(struct store_txn *t, enum store_db db, const void *prefix,
    size_t plen, int as_prefix, store_visit cb, void *arg)
{
	DB	*d = t->t_store->s_db[db];
	DBC	*c;
	DBT	 k, v;
	int	 ret, rc = 0;
	u_int32_t op = DB_SET_RANGE;

	store_enter();
	ret = d->cursor(d, t->t_txn, &c, 0);
	store_leave();
	if (ret != 0)
		return store_fail(t, ret);
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.flags = DB_DBT_REALLOC;
	v.flags = DB_DBT_REALLOC;
	if (plen > 0) {
		if ((k.data = malloc(plen)) == NULL) {
			store_enter();
			c->close(c);
			store_leave();
			return STORE_ERR;
		}
		memcpy(k.data, prefix, plen);
		k.size = (u_int32_t)plen;
	} else
		op = DB_FIRST;
	for (;;) {
		store_enter();	/* the visits are not counted */
		ret = c->get(c, &k, &v, op);
		store_leave();
		op = DB_NEXT;
		if (ret == DB_NOTFOUND)
			break;
		if (ret != 0) {
			rc = store_fail(t, ret);
			break;
		}
		if (as_prefix && plen > 0 &&
		    (k.size < plen || memcmp(k.data, prefix, plen) != 0))
			break;
		if ((rc = cb(k.data, k.size, v.data, v.size, arg)) != 0)
			break;
	}
	free(k.data);
	free(v.data);
	store_enter();
	ret = c->close(c);
	store_leave();
	if (ret != 0 && rc == 0)
		rc = store_fail(t, ret);
	return rc;
}
