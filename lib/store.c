/* store.c -- the Berkeley DB environment shared by every mias process */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <grp.h>
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

#include "repl.h"
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
 * needs them.  Not by DB_LOG_AUTO_REMOVE, which removes them whenever a
 * log file fills, under a hot backup copying them too: store_checkpoint
 * removes them, unless a backup holds STORE_BACKUP_LOCK (shared). */
#define STORE_LOG_MAX	(4 * 1024 * 1024)
#define STORE_BACKUP_LOCK	"backup.lock"
#define STORE_WATCH_MS	250
/* The stall guard (see below): how long a process may wait inside Berkeley
 * DB on an environment another process has since recovered, and at all. */
#define STORE_STALL_RECOVERED_MS	2000
#define STORE_STALL_MAX_MS		120000
#define STORE_STALL_SLOTS		32

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
	"ended.db",
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
	int		 s_repl_start;	/* this process is its node's
					 * replication process (repl.h) */
	int		 s_envonly;	/* STORE_ENVONLY */
	int		 s_repl_local;	/* STORE_CREATE (mias-admin init,
					 * before the node joins its group):
					 * commits without a role count */

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

/*
 * The store's own threads (the stall guard, the watchdog) start with every
 * signal blocked: a signal meant for the program (SIGTERM from the web
 * server, above all) must reach a thread of the program's, whose wait it
 * is to end, never one of these.
 */
static int
store_thread(pthread_t *thr, void *(*fn)(void *), void *arg)
{
	sigset_t	all, old;
	int		rc;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(thr, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
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
		guard.running = store_thread(&guard.thr, store_guard_main,
		    NULL) == 0;
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
	s->s_watching = store_thread(&s->s_watch, store_watchdog, s) == 0;
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

/*
 * The permission model (CONTRACT.md "First start").  One user: the state
 * directory is that user's (0700) and so is every file in it (0600).  Two
 * users sharing a group (the responders as the web server's user, the
 * dispatcher as a user of its own): the directory is setgid, so that
 * every file made in it gets its group, and group-writable (2770), and
 * every file in it is group read-write (0660).  The directory's
 * group-write bit tells which; nothing else records it.
 */
static int
store_shared(const struct stat *st)
{
	return (st->st_mode & S_IWGRP) != 0;
}

mode_t
store_file_mode(const char *dir)
{
	struct stat st;

	return stat(dir, &st) == 0 && store_shared(&st) ? 0660 : 0600;
}

int
store_file_open(const char *dir, const char *path, int flags)
{
	struct stat	st;
	mode_t		mode = store_file_mode(dir);
	int		fd, saved;

	if ((fd = open(path, flags | O_CREAT, mode)) == -1)
		return -1;
	/* the umask may have taken the group's bits away; a file of another
	 * user is left as it is (we could not change it) */
	if (fstat(fd, &st) == 0 && st.st_uid == geteuid() &&
	    (st.st_mode & 07777) != mode && fchmod(fd, mode) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Berkeley DB creates some files (its registry, made 0660) under the
 * umask alone, and the rest with our mode under the umask: in a shared
 * directory the umask must leave the group's bits, or a file made by one
 * user locks the other out; in a directory of one user it takes them.
 * Process-wide, set when the store opens; it keeps others out of
 * everything the process creates afterwards. */
static void
store_umask(const struct stat *st)
{
	mode_t old = umask(S_IRWXG | S_IRWXO);

	if (store_shared(st))
		umask((old & ~(mode_t)S_IRWXG) | S_IRWXO);
	else
		umask(old | S_IRWXG | S_IRWXO);
}

static int	store_start1(struct store *);

enum store_up { STORE_UP_NONE, STORE_UP_AUTO, STORE_UP_ALL };
static int	store_upgrade_steps(struct store *, enum store_up,
		    void (*)(void *, const char *), void *);

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
	int	 mode = (int)store_file_mode(s->s_dir);

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
	    (ret = env->set_lg_max(env, STORE_LOG_MAX)) != 0 ||
	    (ret = env->set_lg_filemode(env, mode)) != 0 ||
	    /* a group (doc/REPLICATION.md): the same sites in every
	     * process, since whoever recovers makes the regions anew */
	    (repl_conf() != NULL && (ret = repl_env_config(env,
	    s->s_err, sizeof(s->s_err)) == -1 ? EINVAL : 0) != 0) ||
	    (ret = env->open(env, s->s_dir, STORE_ENV_FLAGS |
	    (repl_conf() != NULL ? DB_INIT_REP : 0), mode)) != 0 ||
	    /* the flag lives in the shared region: off, whatever a
	     * process of an earlier release set (see STORE_LOG_MAX) */
	    (ret = env->log_set_config(env, DB_LOG_AUTO_REMOVE, 0)) != 0) {
		if (s->s_err[0] == '\0')
			snprintf(s->s_err, sizeof(s->s_err), "%s: %s",
			    s->s_dir, db_strerror(ret));
		goto fail;
	}
	store_guard_region(s->s_dir);
	if (store_reserve_regions(s) == -1)
		goto fail;
	for (i = 0; i < SDB__MAX && !s->s_envonly; i++) {
		if ((ret = db_create(&s->s_db[i], env, 0)) != 0 ||
		    (ret = s->s_db[i]->open(s->s_db[i], NULL, store_files[i],
		    NULL, DB_BTREE, STORE_DB_FLAGS | (i == SDB_COUNTERS ||
		    i == SDB_META ? DB_READ_UNCOMMITTED : 0), mode)) != 0) {
			snprintf(s->s_err, sizeof(s->s_err), "%s/%s: %s",
			    s->s_dir, store_files[i], db_strerror(ret));
			goto fail;
		}
	}
	if (s->s_repl_start && repl_env_start(env, s->s_err,
	    sizeof(s->s_err)) == -1)
		goto fail;
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
	if (store_check_owner(dir, err, errlen) == -1)
		return -1;
	store_umask(&st);
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->s_dir = strdup(dir)) == NULL) {
		snprintf(err, errlen, "out of memory");
		free(s);
		return -1;
	}
	pthread_rwlock_init(&s->s_rw, NULL);
	s->s_repl_local = (flags & STORE_CREATE) != 0;
	s->s_repl_start = (flags & STORE_REPL) != 0;
	s->s_envonly = (flags & STORE_ENVONLY) != 0;
	store_guard_start();
	if (store_start(s) == -1) {
		store_guard_stop();
		snprintf(err, errlen, "%s", s->s_err);
		pthread_rwlock_destroy(&s->s_rw);
		free(s->s_dir);
		free(s);
		return -1;
	}
	if (!(flags & (STORE_ANYFORMAT | STORE_ENVONLY)) &&
	    store_upgrade_steps(s,
	    flags & STORE_CREATE ? STORE_UP_ALL : flags & STORE_NOUPGRADE ?
	    STORE_UP_NONE : STORE_UP_AUTO, NULL, NULL) == -1) {
		snprintf(err, errlen, "state directory %s: %s", dir, s->s_err);
		store_close(s);
		return -1;
	}
	*out = s;
	return 0;
}

static int
store_in_group(gid_t gid)
{
	gid_t	*groups;
	int	 i, n, in = 0;

	if (getegid() == gid)
		return 1;
	/* on the heap: NGROUPS_MAX is 65536 on Linux, and a responder's
	 * threads have small stacks */
	if ((n = getgroups(0, NULL)) <= 0 ||
	    (groups = calloc((size_t)n, sizeof(*groups))) == NULL)
		return 0;
	n = getgroups(n, groups);
	for (i = 0; i < n && !in; i++)
		in = groups[i] == gid;
	free(groups);
	return in;
}

static void
store_user_name(uid_t uid, char *buf, size_t len)
{
	struct passwd *pw;

	if ((pw = getpwuid(uid)) != NULL)
		snprintf(buf, len, "%s", pw->pw_name);
	else
		snprintf(buf, len, "%lu", (unsigned long)uid);
}

static void
store_group_name(gid_t gid, char *buf, size_t len)
{
	struct group *gr;

	if ((gr = getgrgid(gid)) != NULL)
		snprintf(buf, len, "%s", gr->gr_name);
	else
		snprintf(buf, len, "%lu", (unsigned long)gid);
}

int
store_check_owner(const char *dir, char *err, size_t errlen)
{
	struct stat	 st;
	char		 who[64], grp[64];
	const char	*prog = program_invocation_short_name;

	if (stat(dir, &st) == -1)
		return errno == ENOENT ? 0 : (snprintf(err, errlen, "%s: %s",
		    dir, strerror(errno)), -1);
	if (st.st_uid == geteuid())
		return 0;
	store_user_name(st.st_uid, who, sizeof(who));
	store_group_name(st.st_gid, grp, sizeof(grp));
	if (!store_shared(&st)) {
		snprintf(err, errlen, "state directory %s belongs to %s, not "
		    "to the user running this program; run it as %s "
		    "(runuser -u %s -- %s ...), or files it creates would "
		    "lock the web server out", dir, who, who, who, prog);
		return -1;
	}
	if (!store_in_group(st.st_gid)) {
		snprintf(err, errlen, "state directory %s belongs to %s and "
		    "group %s; run this program as %s or as a member of %s "
		    "(runuser -u %s -- %s ...)", dir, who, grp, who, grp, who,
		    prog);
		return -1;
	}
	if ((st.st_mode & (S_ISGID | S_IXGRP)) != (S_ISGID | S_IXGRP)) {
		snprintf(err, errlen, "state directory %s is group-writable "
		    "but not setgid: files made in it would not get group %s "
		    "(chmod 2770 %s)", dir, grp, dir);
		return -1;
	}
	return 0;
}

int
store_become_owner(const char *dir, char *err, size_t errlen)
{
	struct stat	 st;
	struct passwd	*pw;
	int		 rc;

	if (geteuid() != 0)
		return 0;
	if (stat(dir, &st) == -1)
		return errno == ENOENT ? 0 : (snprintf(err, errlen, "%s: %s",
		    dir, strerror(errno)), -1);
	if (st.st_uid == 0)
		return 0;
	/* the supplementary groups first: only root may set them */
	if ((pw = getpwuid(st.st_uid)) != NULL)
		rc = initgroups(pw->pw_name, st.st_gid);
	else
		rc = setgroups(1, &st.st_gid);
	if (rc == -1 || setegid(st.st_gid) == -1 ||
	    seteuid(st.st_uid) == -1) {
		snprintf(err, errlen, "cannot become the owner of %s (uid "
		    "%lu): %s", dir, (unsigned long)st.st_uid,
		    strerror(errno));
		return -1;
	}
	return 0;
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

enum store_call { STORE_CHECKPOINT, STORE_LOG_FLUSH, STORE_LOG_REMOVE };

/* A call on the whole environment, outside any transaction: a checkpoint
 * (dirty pages written, so old log files can go), a log flush, or the
 * removal of the log files no checkpoint needs any more. */
static int
store_env_call(struct store *s, enum store_call call)
{
	static const char *const names[] = { "checkpoint", "log_flush",
	    "log_archive" };
	int ret;

	pthread_rwlock_rdlock(&s->s_rw);
	if (s->s_env == NULL) {
		pthread_rwlock_unlock(&s->s_rw);
		return -1;
	}
	store_enter();
	switch (call) {
	case STORE_CHECKPOINT:
		ret = s->s_env->txn_checkpoint(s->s_env, 0, 0, 0);
		break;
	case STORE_LOG_FLUSH:
		ret = s->s_env->log_flush(s->s_env, NULL);
		break;
	default:
		ret = s->s_env->log_archive(s->s_env, NULL, DB_ARCH_REMOVE);
		break;
	}
	store_leave();
	pthread_rwlock_unlock(&s->s_rw);
	if (ret != 0) {
		snprintf(s->s_err, sizeof(s->s_err), "%s: %s", names[call],
		    db_strerror(ret));
		return -1;
	}
	return 0;
}

/* The lock a backup holds shared while it copies the log files, and a
 * checkpoint takes exclusively, without waiting, to remove them. */
static int
store_backup_lock(const char *dir, int op)
{
	char	path[PATH_MAX];
	int	fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
	    STORE_BACKUP_LOCK) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = store_file_open(dir, path, O_RDWR | O_CLOEXEC |
	    O_NOFOLLOW)) == -1)
		return -1;
	if (flock(fd, op) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

int
store_checkpoint(struct store *s)
{
	int fd, rc;

	if (store_env_call(s, STORE_CHECKPOINT) == -1)
		return -1;
	/* a backup under way: its log files go at a later checkpoint */
	if ((fd = store_backup_lock(s->s_dir, LOCK_EX | LOCK_NB)) == -1)
		return 0;
	rc = store_env_call(s, STORE_LOG_REMOVE);
	close(fd);
	return rc;
}

int
store_flush(struct store *s)
{
	return store_env_call(s, STORE_LOG_FLUSH);
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
	/* a group: handles a role change or an internal init made stale
	 * (reopened), a client syncing with its master (waited for) */
	case DB_REP_HANDLE_DEAD:
	case DB_REP_LOCKOUT:
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

/* The group's fence (store_durable): one write, whose quorum
 * acknowledgement vouches for every log record before it. */
static int
store_fence_body(struct store_txn *t, void *arg)
{
	(void)arg;
	return store_put(t, SDB_META, "repl.fence", 10, "1", 1);
}

/*
 * A group: nothing leaves the node that an election could take back.  A
 * commit that no quorum acknowledged (the replicas stopped, or this node
 * cut off or hung while the others elected another master) is still
 * readable here, and a new master without it does the work again: a
 * callback read from it and sent would go twice, with two webhook-ids.
 * So a fence is written and waited for like any write (store_repl_acked:
 * a quorum's acknowledgement and this node master still); a replica
 * acknowledges a record only once it has every record before it, so the
 * fence's acknowledgement covers everything committed before it.  0, or
 * -1 with s_err.
 */
static int
store_repl_fence(struct store *s, unsigned epoch)
{
	if (store_run(s, store_fence_body, NULL, 0) != 0)
		return -1;
	if (store_epoch(s) != epoch) {
		snprintf(s->s_err, sizeof(s->s_err), "the store was recovered "
		    "since this work began: it starts over");
		return -1;
	}
	return 0;
}

int
store_durable(struct store *s, unsigned epoch)
{
	int ret;

	pthread_rwlock_rdlock(&s->s_rw);
	if (s->s_env == NULL || s->s_gen != epoch) {
		pthread_rwlock_unlock(&s->s_rw);
		snprintf(s->s_err, sizeof(s->s_err), "the store was recovered "
		    "since this work began: it starts over");
		return -1;
	}
	store_enter();
	ret = s->s_env->log_flush(s->s_env, NULL);
	store_leave();
	pthread_rwlock_unlock(&s->s_rw);
	if (ret != 0) {
		snprintf(s->s_err, sizeof(s->s_err), "log_flush: %s",
		    db_strerror(ret));
		return -1;
	}
	if (repl_conf() != NULL)
		return store_repl_fence(s, epoch);
	return 0;
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

/*
 * A group: the database handles a role change or an internal init made
 * stale (DB_REP_HANDLE_DEAD) are opened again, unless another thread has
 * since generation gen; the environment stays open (closing it would stop
 * the replication process's manager, and its connections, and call an
 * election).  A new epoch: what was read before may be gone.  0 or -1.
 */
static int
store_reopen_dbs(struct store *s, unsigned gen)
{
	int i, ret = 0, mode = (int)store_file_mode(s->s_dir);

	pthread_rwlock_wrlock(&s->s_rw);
	if (s->s_gen != gen || s->s_env == NULL) {
		pthread_rwlock_unlock(&s->s_rw);
		return 0;
	}
	store_enter();
	for (i = 0; i < SDB__MAX && ret == 0; i++) {
		if (s->s_db[i] != NULL)
			s->s_db[i]->close(s->s_db[i], DB_NOSYNC);
		s->s_db[i] = NULL;
		if ((ret = db_create(&s->s_db[i], s->s_env, 0)) != 0 ||
		    (ret = s->s_db[i]->open(s->s_db[i], NULL, store_files[i],
		    NULL, DB_BTREE, STORE_DB_FLAGS | (i == SDB_COUNTERS ||
		    i == SDB_META ? DB_READ_UNCOMMITTED : 0), mode)) != 0)
			snprintf(s->s_err, sizeof(s->s_err), "%s/%s: %s",
			    s->s_dir, store_files[i], db_strerror(ret));
	}
	store_leave();
	s->s_gen++;
	pthread_rwlock_unlock(&s->s_rw);
	if (ret != 0)
		store_reset(s, s->s_gen);
	return ret == 0 ? 0 : -1;
}

/*
 * A group: whether the commit just made counts (doc/REPLICATION.md).  It
 * does when no DB_EVENT_REP_PERM_FAILED came during it (the count was
 * perm before) and the environment is master still: a commit made in an
 * environment without a role (just recovered, its replication process
 * not yet started again) is neither sent nor waited for, and is lost
 * once the node syncs with the group.  With s_rw held.  0 or -1 (s_err).
 */
static int
store_repl_acked(struct store *s, unsigned perm)
{
	enum repl_role	role;
	int		ret;

	if (repl_perm_failures() != perm) {
		snprintf(s->s_err, sizeof(s->s_err), "replication: the write "
		    "was not acknowledged by a quorum of the group in time");
		return -1;
	}
	store_enter();
	ret = repl_env_role(s->s_env, &role, NULL, 0, NULL);
	store_leave();
	if (ret == 0 && role == REPL_NONE && s->s_repl_local)
		return 0;
	if (ret != 0 || role != REPL_MASTER) {
		snprintf(s->s_err, sizeof(s->s_err), "replication: this node "
		    "is not the master of the group (any more)");
		return -1;
	}
	return 0;
}

int
store_role(struct store *s, char *master, size_t len)
{
	enum repl_role	role = REPL_NONE;
	unsigned	gen;

	int		ret;

	if (master != NULL && len > 0)
		master[0] = '\0';
	if (repl_conf() == NULL)
		return REPL_NONE;
	if (repl_panicked()) {
		/* another process recovered the environment: rejoin */
		store_reset(s, store_epoch(s));
	}
	if (store_reopen(s) == -1)
		return REPL_NONE;
	pthread_rwlock_rdlock(&s->s_rw);
	gen = s->s_gen;
	ret = s->s_env == NULL ? DB_RUNRECOVERY : 0;
	if (ret == 0) {
		store_enter();
		ret = repl_env_role(s->s_env, &role, master, len, NULL);
		store_leave();
	}
	pthread_rwlock_unlock(&s->s_rw);
	if (ret == DB_RUNRECOVERY) {
		store_reset(s, gen);
		return REPL_NONE;
	}
	return role;
}

void
store_new_epoch(struct store *s)
{
	pthread_rwlock_wrlock(&s->s_rw);
	s->s_gen++;
	pthread_rwlock_unlock(&s->s_rw);
}

int
store_sites(struct store *s, void (*fn)(void *, const char *, int),
    void *arg)
{
	int ret = -1;

	if (repl_conf() == NULL)
		return 0;
	pthread_rwlock_rdlock(&s->s_rw);
	if (s->s_env != NULL) {
		store_enter();
		ret = repl_env_sites(s->s_env, fn, arg);
		store_leave();
	}
	pthread_rwlock_unlock(&s->s_rw);
	return ret == 0 ? 0 : -1;
}

static int
store_run(struct store *s, store_body body, void *arg, u_int32_t cflags)
{
	struct store_txn	t;
	unsigned		gen, perm;
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
			perm = repl_perm_failures();
			store_enter();
			ret = t.t_txn->commit(t.t_txn, DB_TXN_NOSYNC);
			store_leave();
			t.t_txn = NULL;
			if (ret == 0 && t.t_wrote && repl_conf() != NULL &&
			    store_repl_acked(s, perm) == -1) {
				/* committed here, but perhaps not on a quorum:
				 * never reported as done, and not retried */
				pthread_rwlock_unlock(&s->s_rw);
				return STORE_ERR;
			}
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
		else if (rc == STORE_RETRY && t.t_dberr == DB_REP_HANDLE_DEAD)
			reset = 2;	/* the databases only */
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
		if (reset == 1)
			store_reset(s, gen);
		else if (reset == 2 && store_reopen_dbs(s, gen) == -1)
			return STORE_ERR;
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
	    &v, rmw == STORE_DIRTY && (db == SDB_COUNTERS || db == SDB_META) ?
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

/*
 * Formats.  meta.db's record "format" ({"v":1,"format":N}) says how the
 * store's records are laid out.  Each step of store_steps upgrades a
 * store of format st_from to st_from + 1 in one transaction, which also
 * records the new format, so that a crash leaves the store in one format
 * or the next, never between.
 *
 * A step is automatic when any program may run it as it opens the store:
 * it changes little (one short transaction, which may run on the request
 * path of the first responder to open the store) and needs no decision
 * from anyone.  A step that rewrites many records is manual: every program
 * refuses the store, naming 'mias-admin store upgrade', which the
 * administrator runs with the gateway stopped, after a backup.  Either
 * way, an upgraded store is refused by the releases before it, so going
 * back to one is restoring the backup made before the upgrade.
 */
struct store_step {
	int		 st_from;	/* upgrades format st_from to st_from + 1 */
	int		 st_auto;	/* any program may run it at open */
	const char	*st_what;
	int		(*st_run)(struct store_txn *);	/* NULL: no change
							 * but the record */
};

static const struct store_step store_steps[] = {
	/* stores made before the format was recorded are format 1; nothing
	 * changes in them but the record itself */
	{ 1, 1, "the store's format recorded", NULL },
};
#define STORE_NSTEPS	(sizeof(store_steps) / sizeof(store_steps[0]))

static const char store_format_key[] = "format";

static int
store_format_read(struct store_txn *t, int *format, int rmw)
{
	/* rmw 0: a dirty read, so that no open waits on a writer of
	 * meta.db; only an upgrade writes the record, and it reads it again
	 * (rmw 1) in its own transaction */
	json_object	*rec, *v;
	int64_t		 n = 0;
	int		 rc;

	rc = store_get_json(t, SDB_META, store_format_key,
	    sizeof(store_format_key) - 1, &rec, rmw ? STORE_RMW : STORE_DIRTY);
	if (rc == STORE_NOTFOUND) {
		*format = 1;
		return STORE_OK;
	}
	if (rc != STORE_OK)
		return rc;
	if (json_object_object_get_ex(rec, "format", &v) &&
	    json_object_is_type(v, json_type_int))
		n = json_object_get_int64(v);
	json_object_put(rec);
	if (n < 1 || n > INT_MAX) {
		snprintf(t->t_store->s_err, sizeof(t->t_store->s_err),
		    "meta.db: the format record is not valid");
		return STORE_ERR;
	}
	*format = (int)n;
	return STORE_OK;
}

struct store_fmt_arg {
	int			 fa_format;	/* read in the transaction */
	const struct store_step	*fa_step;
	int			 fa_done;
};

static int
store_format_body(struct store_txn *t, void *arg)
{
	struct store_fmt_arg *fa = arg;

	return store_format_read(t, &fa->fa_format, 0);
}

static int
store_step_body(struct store_txn *t, void *arg)
{
	struct store_fmt_arg	*fa = arg;
	json_object		*rec;
	int			 rc;

	fa->fa_done = 0;
	if ((rc = store_format_read(t, &fa->fa_format, 1)) != STORE_OK)
		return rc;
	if (fa->fa_format != fa->fa_step->st_from)
		return 0;	/* another process took this step meanwhile */
	if (fa->fa_step->st_run != NULL &&
	    (rc = fa->fa_step->st_run(t)) != STORE_OK)
		return rc;
	if ((rec = json_object_new_object()) == NULL)
		return STORE_ERR;
	json_object_object_add(rec, "v", json_object_new_int(1));
	json_object_object_add(rec, "format",
	    json_object_new_int(fa->fa_step->st_from + 1));
	json_object_object_add(rec, "changed",
	    json_object_new_int64(store_now_ms()));
	rc = store_put_json(t, SDB_META, store_format_key,
	    sizeof(store_format_key) - 1, rec);
	json_object_put(rec);
	if (rc == STORE_OK)
		fa->fa_done = 1;
	return rc;
}

int
store_format(struct store *s, int *format)
{
	struct store_fmt_arg fa;

	memset(&fa, 0, sizeof(fa));
	if (store_txn(s, store_format_body, &fa) != 0)
		return -1;
	*format = fa.fa_format;
	return 0;
}

static const struct store_step *
store_step_from(int format)
{
	size_t i;

	for (i = 0; i < STORE_NSTEPS; i++)
		if (store_steps[i].st_from == format)
			return &store_steps[i];
	return NULL;
}

/* Brings the store to STORE_FORMAT: with STORE_UP_AUTO only when every
 * step on the way is automatic, with STORE_UP_NONE never (an older store
 * is refused); a newer store is refused always.  0 or -1 and s_err. */
static int
store_upgrade_steps(struct store *s, enum store_up up,
    void (*say)(void *, const char *), void *arg)
{
	struct store_fmt_arg	 fa;
	const struct store_step	*st;
	char			 line[160];
	int			 format, f;

	if (store_format(s, &format) == -1)
		return -1;
	if (format > STORE_FORMAT) {
		snprintf(s->s_err, sizeof(s->s_err), "the store is in "
		    "format %d, newer than this program's (%d): a later "
		    "release of mias made it; run that release, or restore "
		    "the backup made before the upgrade", format,
		    STORE_FORMAT);
		return -1;
	}
	for (f = format; f < STORE_FORMAT && up != STORE_UP_ALL; f++)
		if (up == STORE_UP_NONE || (st = store_step_from(f)) == NULL ||
		    !st->st_auto) {
			snprintf(s->s_err, sizeof(s->s_err), "the store is in "
			    "format %d, older than this program's (%d): stop "
			    "the gateway, back the store up ('mias-admin store "
			    "backup DIR') and run 'mias-admin store upgrade'",
			    format, STORE_FORMAT);
			return -1;
		}
	while (format < STORE_FORMAT) {
		if ((st = store_step_from(format)) == NULL) {
			snprintf(s->s_err, sizeof(s->s_err), "no upgrade from "
			    "format %d", format);
			return -1;
		}
		memset(&fa, 0, sizeof(fa));
		fa.fa_step = st;
		if (store_txn(s, store_step_body, &fa) != 0)
			return -1;
		if (fa.fa_done && say != NULL) {
			snprintf(line, sizeof(line), "format %d -> %d: %s",
			    st->st_from, st->st_from + 1, st->st_what);
			say(arg, line);
		}
		format = fa.fa_done ? st->st_from + 1 : fa.fa_format;
	}
	return 0;
}

int
store_upgrade(struct store *s, void (*say)(void *, const char *), void *arg)
{
	return store_upgrade_steps(s, STORE_UP_ALL, say, arg);
}

const char *
store_file(enum store_db db)
{
	return db < SDB__MAX ? store_files[db] : NULL;
}

/* Copies the file name from dir "from" to dir "to" (created exclusively),
 * as much of it as there is now, and flushes it to disk.  0 or -1 with
 * errno. */
static int
store_copy_file(const char *from, const char *to, const char *name)
{
	char	 src[PATH_MAX], dst[PATH_MAX], buf[65536];
	ssize_t	 n;
	int	 in, out = -1, rc = -1, saved;

	if ((size_t)snprintf(src, sizeof(src), "%s/%s", from, name) >=
	    sizeof(src) || (size_t)snprintf(dst, sizeof(dst), "%s/%s", to,
	    name) >= sizeof(dst)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -1;
	if ((out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1)	/* a backup: its owner's only */
		goto out;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			goto out;
	if (n == 0 && fsync(out) == 0)
		rc = 0;
out:
	saved = errno;
	close(in);
	if (out != -1)
		close(out);
	errno = saved;
	return rc;
}

int
store_fsync_dir(const char *dir)
{
	int fd, rc;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* The databases and the log files, copied while every other process goes
 * on (with s_rw held shared: no reopen under the copy).  The copy of a
 * database may mix pages of before and after a transaction; the log
 * files, copied after the databases and with none removed meanwhile,
 * hold every change since the last checkpoint before the copy began,
 * from which recovery makes the copy consistent. */
static int
store_backup_copy(struct store *s, const char *dir)
{
	char	**list = NULL, **lp;
	int	  i, ret;

	/* a checkpoint now keeps the recovery of the copy short */
	store_enter();
	ret = s->s_env->txn_checkpoint(s->s_env, 0, 0, 0);
	store_leave();
	if (ret != 0) {
		snprintf(s->s_err, sizeof(s->s_err), "checkpoint: %s",
		    db_strerror(ret));
		return -1;
	}
	/* Not counted by the stall guard: copying a large database can take
	 * longer than any call into the library should. */
	for (i = 0; i < SDB__MAX; i++)
		if ((ret = s->s_env->dbbackup(s->s_env, store_files[i], dir,
		    DB_EXCL)) != 0) {
			if (s->s_err[0] == '\0')
				snprintf(s->s_err, sizeof(s->s_err), "%s: %s",
				    store_files[i], db_strerror(ret));
			return -1;
		}
	store_enter();
	if ((ret = s->s_env->log_flush(s->s_env, NULL)) == 0)
		ret = s->s_env->log_archive(s->s_env, &list, DB_ARCH_LOG);
	store_leave();
	if (ret != 0) {
		snprintf(s->s_err, sizeof(s->s_err), "log files: %s",
		    db_strerror(ret));
		return -1;
	}
	for (lp = list; lp != NULL && *lp != NULL; lp++)
		if (strchr(*lp, '/') != NULL ||
		    store_copy_file(s->s_dir, dir, *lp) == -1) {
			snprintf(s->s_err, sizeof(s->s_err), "%s: %s", *lp,
			    strerror(errno));
			free(list);
			return -1;
		}
	free(list);
	return 0;
}

int
store_backup(struct store *s, const char *dir)
{
	int lock, rc;

	s->s_err[0] = '\0';
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		snprintf(s->s_err, sizeof(s->s_err), "%s: %s", dir,
		    strerror(errno));
		return -1;
	}
	/* held until the log files are copied: no checkpoint removes one */
	if ((lock = store_backup_lock(s->s_dir, LOCK_SH)) == -1) {
		snprintf(s->s_err, sizeof(s->s_err), "%s/%s: %s", s->s_dir,
		    STORE_BACKUP_LOCK, strerror(errno));
		return -1;
	}
	pthread_rwlock_rdlock(&s->s_rw);
	if (s->s_env == NULL) {
		snprintf(s->s_err, sizeof(s->s_err), "the store is closed");
		rc = -1;
	} else
		rc = store_backup_copy(s, dir);
	pthread_rwlock_unlock(&s->s_rw);
	close(lock);
	if (rc == 0 && store_recover_copy(dir, s->s_err,
	    sizeof(s->s_err)) == -1)
		rc = -1;
	if (rc == 0 && store_fsync_dir(dir) == -1) {
		snprintf(s->s_err, sizeof(s->s_err), "%s: %s", dir,
		    strerror(errno));
		rc = -1;
	}
	return rc;
}

int
store_recover_copy(const char *dir, char *err, size_t errlen)
{
	struct store	 tmp;	/* only for its s_err, from store_errcall */
	DB_ENV		*env;
	mode_t		 mode = store_file_mode(dir);
	int		 ret;

	memset(&tmp, 0, sizeof(tmp));
	if ((ret = db_env_create(&env, 0)) != 0) {
		snprintf(err, errlen, "db_env_create: %s", db_strerror(ret));
		return -1;
	}
	env->app_private = &tmp;
	env->set_errcall(env, store_errcall);
	env->set_msgcall(env, store_msgcall);
	/* DB_PRIVATE: the regions in this process's memory, no __db.*
	 * files; the checkpoint and log_archive then drop the log files
	 * the recovered copy no longer needs */
	if ((ret = env->set_cachesize(env, 0, STORE_CACHE, 1)) != 0 ||
	    (ret = env->set_lk_max_locks(env, STORE_MAX_LOCKS)) != 0 ||
	    (ret = env->set_lk_max_objects(env, STORE_MAX_LOCKS)) != 0 ||
	    (ret = env->set_lg_max(env, STORE_LOG_MAX)) != 0 ||
	    (ret = env->set_lg_filemode(env, mode)) != 0 ||
	    (ret = env->open(env, dir, DB_CREATE | DB_INIT_TXN |
	    DB_INIT_LOG | DB_INIT_LOCK | DB_INIT_MPOOL | DB_RECOVER_FATAL |
	    DB_PRIVATE, mode)) != 0 ||
	    (ret = env->txn_checkpoint(env, 0, 0, DB_FORCE)) != 0 ||
	    (ret = env->log_archive(env, NULL, DB_ARCH_REMOVE)) != 0) {
		snprintf(err, errlen, "recovery of %s: %s", dir,
		    tmp.s_err[0] != '\0' ? tmp.s_err : db_strerror(ret));
		env->close(env, 0);
		return -1;
	}
	if ((ret = env->close(env, 0)) != 0) {
		snprintf(err, errlen, "recovery of %s: %s", dir,
		    db_strerror(ret));
		return -1;
	}
	return 0;
}

/* Berkeley DB reports what verify finds through an error callback with no
 * argument of ours: kept per thread. */
static __thread char store_verify_msg[256];

static void
store_verify_errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
	(void)env;
	(void)pfx;
	if (store_verify_msg[0] == '\0')
		snprintf(store_verify_msg, sizeof(store_verify_msg), "%s", msg);
}

int
store_verify(const char *dir, void (*say)(void *, const char *), void *arg,
    char *err, size_t errlen)
{
	char		 path[PATH_MAX], line[PATH_MAX + 300];
	struct stat	 st;
	DB		*db;
	int		 i, ret, bad = 0, seen = 0;

	for (i = 0; i < SDB__MAX; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
		    store_files[i]) >= sizeof(path)) {
			snprintf(err, errlen, "%s: name too long", dir);
			return -1;
		}
		if (stat(path, &st) == -1) {
			if (errno == ENOENT)
				continue;	/* made by a later release */
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return -1;
		}
		seen++;
		if ((ret = db_create(&db, NULL, 0)) != 0) {
			snprintf(err, errlen, "db_create: %s",
			    db_strerror(ret));
			return -1;
		}
		store_verify_msg[0] = '\0';
		db->set_errcall(db, store_verify_errcall);
		/* the handle is gone after verify, whatever it returns */
		if ((ret = db->verify(db, path, NULL, NULL, 0)) != 0) {
			bad++;
			snprintf(line, sizeof(line), "%s: %s", store_files[i],
			    store_verify_msg[0] != '\0' ? store_verify_msg :
			    db_strerror(ret));
			if (say != NULL)
				say(arg, line);
		}
	}
	if (seen == 0) {
		snprintf(err, errlen, "%s: no database files", dir);
		return -1;
	}
	return bad;
}

/*
 * Each process in the environment holds an fcntl lock on its slot of
 * __db.register for as long as it has the environment open (DB_REGISTER);
 * a lock another process holds is a process still in it.
 */
int
store_in_use(const char *dir, char *err, size_t errlen)
{
	char		path[PATH_MAX];
	struct flock	fl;
	int		fd, rc;

	if ((size_t)snprintf(path, sizeof(path), "%s/__db.register", dir) >=
	    sizeof(path)) {
		snprintf(err, errlen, "%s: name too long", dir);
		return -1;
	}
	if ((fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = 0;
	fl.l_len = 0;	/* the whole file */
	if (fcntl(fd, F_GETLK, &fl) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		rc = -1;
	} else
		rc = fl.l_type != F_UNLCK;
	close(fd);
	return rc;
}

const char *
store_init_hint(const char *dir)
{
	char		path[PATH_MAX];
	struct stat	st;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
	    store_files[SDB_META]) < sizeof(path) && stat(path, &st) == 0)
		return "";
	return " (run 'mias-admin init' first?)";
}
