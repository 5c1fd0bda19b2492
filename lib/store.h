/* store.h -- the Berkeley DB environment shared by every mias process */
#ifndef MIAS_STORE_H
#define MIAS_STORE_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

struct store;
struct store_txn;

/* The databases of the environment, one file each.  Add new ones at the
 * end; a store opened by an older program simply ignores them. */
enum store_db {
	SDB_META,		/* schema version and other singletons */
	SDB_NAMESPACES,		/* name -> namespace record */
	SDB_STUDIES,		/* study key -> study record */
	SDB_QUEUE,		/* kind (+ studyType) + be64 due + id: queue.h */
	SDB_JOBS,		/* study key NUL run NUL object key -> image job */
	SDB_JOBIDX,		/* job id -> job key */
	SDB_WAITING,		/* job id -> studyType: results awaited */
	SDB_RESULTS,		/* study key -> assembled result */
	SDB_OUTBOX,		/* message id -> callback to deliver */
	SDB_ORIGINS,		/* web origin NUL namespace -> "" (CORS) */
	SDB_COUNTERS,		/* limits: see limit.c */
	SDB_AUDIT,		/* be64 ms + 4 random bytes -> audit entry;
				 * only read now (audit.h) */
	SDB_ANSWERS,		/* study key -> getAnalysisResult answer */
	SDB_ENDED,		/* be64 ms + study key -> "": the studies
				 * that ended then (retention.h) */
	SDB_SUBMITTED,		/* ns NUL be64(~submitted) type NUL uid: ops.h */
	SDB__MAX
};

/* Results of store calls and of transaction bodies.  A body returns 0 to
 * commit, a positive value of its own to abort and hand that value back,
 * or one of the negative codes below (which it got from a store call). */
enum store_rc {
	STORE_OK = 0,
	STORE_NOTFOUND = -1,	/* no such key (store_get); no more (store_iter_next) */
	STORE_RETRY = -2,	/* deadlock, lock timeout, recovery needed */
	STORE_ERR = -3,		/* I/O error, disk full, corruption */
	STORE_STALE = -4,	/* the store was recovered since the work this
				 * body records began: see store_fresh() */
};

/*
 * The store's format: how its records are laid out, recorded in meta.db
 * (key "format") and checked by every program when it opens the store
 * (store.c, "Formats").  Raised by one, with a step in store.c's table of
 * upgrades, whenever a release changes the layout in a way an older
 * release could misread.  A store without the record is format 1 (every
 * store made before the format was recorded).
 */
#define STORE_FORMAT	2

#define STORE_CREATE	0x01	/* create state_dir if missing and bring the
				 * store to STORE_FORMAT, manual upgrade
				 * steps included (mias-admin init) */
#define STORE_ANYFORMAT	0x02	/* open a store of any format, changing
				 * nothing (mias-admin store upgrade) */
#define STORE_NOUPGRADE	0x04	/* refuse an older store even where its
				 * upgrade is automatic */
#define STORE_REPL	0x08	/* in a group (repl.h): this process is its
				 * node's replication process (the
				 * dispatcher), after every reopen too */
#define STORE_ENVONLY	0x10	/* the environment without its databases,
				 * for store_role alone: on a group's
				 * master, opening a database writes a log
				 * record, which makes the process a
				 * subordinate whose exit calls an election
				 * (doc/REPLICATION.md) */

/*
 * Open (and if needed recover) the environment in dir.  Every process
 * opens with DB_REGISTER, so the first open after a crashed process runs
 * recovery and the others wait for it.  Then the format: a store newer
 * than STORE_FORMAT is refused, an older one upgraded where every step
 * from its format on is automatic, else refused with a message naming
 * 'mias-admin store upgrade'.  -1 with err set on failure.
 */
int	store_open(const char *dir, int flags, struct store **,
	    char *err, size_t errlen);
void	store_close(struct store *);

/* The format the store records (1 when none is).  0 or -1. */
int	store_format(struct store *, int *format);

/*
 * Runs every upgrade step from the store's format to STORE_FORMAT, manual
 * ones included, each in a transaction of its own that also records the
 * new format; say (when not NULL) is told each step done.  0, or -1 (see
 * store_errmsg) when a step failed or the store is newer than this
 * program.
 */
int	store_upgrade(struct store *, void (*say)(void *, const char *),
	    void *arg);

/*
 * Hot backup of the open store into dir (created, or empty): the
 * databases copied page by page in step with the buffer pool (Berkeley
 * DB's DB_ENV->dbbackup), then the log files, with no log file removed
 * meanwhile (store_checkpoint waits), then catastrophic recovery of the
 * copy, which leaves a consistent store at the moment the copy of the log
 * ended, without region (__db.*) or lock files.  Runs while every other
 * process works on.  0, or -1 (see store_errmsg).
 */
int	store_backup(struct store *, const char *dir);

/* Catastrophic recovery of a copy of a store in dir that no process has
 * open (a backup, a store just restored), with a private environment that
 * leaves no region files.  0, or -1 with err. */
int	store_recover_copy(const char *dir, char *err, size_t errlen);

/* Berkeley DB's verify of every database file of a store in dir that no
 * process has open (a copy): each bad one is told to say.  The number of
 * bad files, or -1 with err when none could be checked. */
int	store_verify(const char *dir, void (*say)(void *, const char *),
	    void *arg, char *err, size_t errlen);

/* 1 when a live process has the environment in dir open (registered in
 * its __db.register), 0 when none has, -1 with err. */
int	store_in_use(const char *dir, char *err, size_t errlen);

/* " (run 'mias-admin init' first?)" when dir holds no store yet, else "":
 * a hint to add to a failed store_open's message. */
const char *store_init_hint(const char *dir);

/* The file name of each database, "meta.db" ... */
const char *store_file(enum store_db);

/*
 * Who may use the store (CONTRACT.md "First start"): the owner of the
 * state directory, or, when the directory is group-writable and setgid
 * (2770: the responders and the dispatcher as two users sharing a group),
 * a member of its group.  Anyone else would create Berkeley DB files the
 * others cannot open, locking the web server out: refuse.  0 when we may
 * (or the directory does not exist yet), else -1 and err, which says what
 * to run.  store_open checks it too.
 */
int	store_check_owner(const char *dir, char *err, size_t errlen);

/*
 * For a program run as root (mias-admin): take the identity of the state
 * directory's owner (effective user, its group and supplementary groups;
 * the saved user stays root), so that every file it creates afterwards,
 * Berkeley DB's included, is the runtime users'.  0 (nothing to do when
 * not root, the directory missing or root's), or -1 and err.
 */
int	store_become_owner(const char *dir, char *err, size_t errlen);

/* The mode of the files in the state directory dir: 0660 when it is
 * shared by a group (group-writable), else 0600. */
mode_t	store_file_mode(const char *dir);

/* open(2) with O_CREAT of path, a file of the state directory dir, with
 * store_file_mode(dir) whatever the umask.  A descriptor, or -1 (errno). */
int	store_file_open(const char *dir, const char *path, int flags);

const char *store_dir(const struct store *);

/* Write dirty pages to the databases and let the log files the store no
 * longer needs be removed.  The dispatcher calls it now and then. */
int	store_checkpoint(struct store *);

/* Wait until every commit so far (store_txn_nosync's too) is on disk.
 * 0 or -1. */
int	store_flush(struct store *);

/*
 * A process that waits inside Berkeley DB on a mutex a dead process held
 * never wakes (store.c, "The stall guard").  When the guard sees such a
 * stall it calls fn (from its own thread) with the reason; fn logs and
 * leaves the process (the dispatcher re-executes itself).  Without fn, or
 * when fn returns, the process exits with STORE_STALL_EXIT.
 */
#define STORE_STALL_EXIT	75	/* EX_TEMPFAIL */
void	store_on_stall(void (*fn)(const char *why));
/* For a program that executed itself again after a stall, before
 * store_open: marks the registration its pid left in dir's environment
 * (the old image could not close its handle) as that of a dead process,
 * so that store_open recovers the environment, freeing whatever the old
 * image's threads held.  0 or -1. */
int	store_unregister_self(const char *dir);

/*
 * A group of hosts ([replication], repl.h; nothing of this changes a
 * store without it).  repl_use() before store_open configures every
 * environment handle for the group; STORE_REPL makes the process its
 * node's replication process.  store_role: the node's role and the
 * master's HOST:PORT ("" when none); it also reopens the environment when
 * another process recovered it, so that the replication process rejoins
 * the group at once.  store_sites: each other member and whether it is
 * connected.  A write committed on a node that is not master, or without
 * a quorum's acknowledgement, makes store_txn return STORE_ERR (s_err
 * says which): never success.
 */
int	store_role(struct store *, char *master, size_t len);
int	store_sites(struct store *, void (*fn)(void *, const char *hostport,
	    int up), void *arg);
/* A new epoch without reopening (store_epoch below): the replication
 * process's role changed, and what it read before must not be written
 * back or told. */
void	store_new_epoch(struct store *);

/* The last error the library reported, for logs (never holds values). */
const char *store_errmsg(const struct store *);

typedef int (*store_body)(struct store_txn *, void *arg);

/*
 * Run body in a transaction, again on deadlock or lock timeout (after
 * clearing locks left by dead processes), and after reopening the
 * environment if Berkeley DB asks for recovery.  The body may run several
 * times: it must not have effects outside the transaction.  Commits are
 * durable (flushed to disk) unless the store was told otherwise.
 */
int	store_txn(struct store *, store_body, void *arg);

/* The same, but the commit is not flushed to disk before it returns (it
 * is with the next durable commit): for records a crash may lose without
 * harm. */
int	store_txn_nosync(struct store *, store_body, void *arg);

/*
 * Recovery and what a process holds in memory.  When any process dies
 * inside the environment, the next one to open it recovers it, and every
 * other process reopens (DB_RUNRECOVERY).  Recovery keeps only what was
 * on disk: a commit that was not flushed (store_txn_nosync) is gone, with
 * every commit after it.  So whatever a process read before a recovery,
 * and still holds in memory, may describe a store that no longer exists,
 * and must never be written back.
 *
 * store_epoch() counts the reopens of this process's handle (each one
 * follows a recovery, by this or another process); store_txn_epoch() is
 * the epoch a body runs in.  Work that spans transactions notes the epoch
 * of the transaction that read what it works from, and every body that
 * records its outcome calls store_fresh() first: STORE_STALE (which the
 * body returns, aborting) when a recovery came in between.  The work then
 * starts over from what the store says.
 */
unsigned store_epoch(struct store *);
/* Before anything read in epoch leaves the process (a callback sent): wait
 * until everything committed so far is on disk, in that same epoch; in a
 * group ([replication]), also acknowledged by a quorum of the group with
 * this node master still (a fence written and waited for: up to the ack
 * timeout).  0, or -1 when the flush or the fence failed or a recovery or
 * role change came since (s_err says): what was read may be gone, and
 * must not be told to anyone. */
int	store_durable(struct store *, unsigned epoch);
unsigned store_txn_epoch(const struct store_txn *);
int	store_fresh(const struct store_txn *, unsigned epoch);

/* Lookups inside a body.  *val is malloc'd, NUL-terminated for convenience
 * (len excludes the NUL); the caller frees it.  rmw: 0, STORE_RMW (take a
 * write lock at once, avoiding deadlocks on read-modify-write) or, in
 * counters.db and meta.db only, STORE_DIRTY (read without waiting for
 * writers: a value another transaction wrote and may yet abort; for
 * limits, where a count a moment off does no harm and waiting would
 * serialise requests, and for the format read at every open). */
#define STORE_RMW	1
#define STORE_DIRTY	2
int	store_get(struct store_txn *, enum store_db, const void *key,
	    size_t klen, char **val, size_t *len, int rmw);
int	store_put(struct store_txn *, enum store_db, const void *key,
	    size_t klen, const void *val, size_t len);
int	store_del(struct store_txn *, enum store_db, const void *key,
	    size_t klen);

/* Records are JSON objects with a version field "v". */
int	store_get_json(struct store_txn *, enum store_db, const void *key,
	    size_t klen, json_object **, int rmw);
int	store_put_json(struct store_txn *, enum store_db, const void *key,
	    size_t klen, json_object *);

/* Parse a record's bytes (not NUL-terminated) as a JSON object. */
json_object *store_json(const char *val, size_t len);

/* Visit every record whose key starts with prefix, in key order; stops
 * early when cb returns non-zero, and returns that value. */
typedef int (*store_visit)(const void *key, size_t klen, const char *val,
	    size_t len, void *arg);
int	store_scan(struct store_txn *, enum store_db, const void *prefix,
	    size_t plen, store_visit, void *arg);

/* Visit every record from the first key >= start (all when slen is 0) to
 * the end, in key order, until cb returns non-zero. */
int	store_scan_from(struct store_txn *, enum store_db, const void *start,
	    size_t slen, store_visit, void *arg);

/*
 * A cursor over the records whose key starts with prefix (all when plen is
 * 0), in key order, for a reader that walks several ranges side by side.
 * Inside a body; close it before the body returns.  store_iter_next: 0
 * and the record (valid until the next call), STORE_NOTFOUND past the
 * last, or another store code (pass it on as the body's result), as
 * store_iter_close's other than 0.  store_iter_seek: the next
 * store_iter_next gives the first record from key on (still within the
 * prefix), to skip ahead over a range.
 */
struct store_iter;
int	store_iter_open(struct store_txn *, enum store_db, const void *prefix,
	    size_t plen, struct store_iter **);
int	store_iter_next(struct store_iter *, const void **key, size_t *klen,
	    const char **val, size_t *len);
int	store_iter_seek(struct store_iter *, const void *key, size_t klen);
int	store_iter_close(struct store_iter *);

/* Wall clock in milliseconds, for record timestamps. */
int64_t	store_now_ms(void);

/* fsync a directory, so that the names made in it are on disk.  0 or -1
 * (errno). */
int	store_fsync_dir(const char *dir);

#endif /* MIAS_STORE_H */
