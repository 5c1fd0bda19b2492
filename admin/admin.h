/* admin.h -- the commands of mias-admin that live outside mias-admin.c */
#ifndef MIAS_ADMIN_H
#define MIAS_ADMIN_H

struct mias_conf;
struct store;

/*
 * mias-admin oss ls|head|get: try an endpoint and a set of credentials
 * from the command line.  argv[0] is the word after "oss".  Results go to
 * standard output, errors to standard error as
 * "mias-admin: oss ls: OSS_NO_SUCH_BUCKET: message (request id X)".
 * Returns the exit status: 0 done, 1 failed, 2 bad usage.
 */
int	admin_oss(const struct mias_conf *, int argc, char **argv);

/*
 * mias-admin studies list|show and deliveries list|replay (tasks.c):
 * argv[0] is the word after "studies" / "deliveries".  Never prints a
 * credential.  Same exit statuses.
 */
int	admin_studies(const struct mias_conf *, struct store *, int argc,
	    char **argv);
int	admin_deliveries(const struct mias_conf *, struct store *, int argc,
	    char **argv);
/* mias-admin audit [--namespace NS] [--since T] [--until T] [--json];
 * argv[0] is "audit" itself. */
int	admin_audit(const struct mias_conf *, struct store *, int argc,
	    char **argv);
/*
 * mias-admin store check [--repair] | backup DIR | restore DIR [--force] |
 * upgrade (store_cmd.c): argv[0] is the word after "store".  check
 * returns 0 clean, 1 problems found (or repaired), 2 could not check; the
 * others 0 done, 1 failed, 2 bad usage.
 */
int	admin_store(const struct mias_conf *, int argc, char **argv);
/*
 * A group of hosts (repl_cmd.c).  admin_repl: mias-admin repl status,
 * argv[0] the word after "repl"; key=value lines, 0 (2 bad usage, 1 the
 * store failed).  admin_writes: whether the command line (argv[0] the
 * command) changes the store.  admin_replica_refuse: 0 on the master,
 * else 3 after printing master=HOST:PORT (empty when there is none).
 */
int	admin_repl(const struct mias_conf *, struct store *, int argc,
	    char **argv);
int	admin_writes(int argc, char **argv);
int	admin_replica_refuse(struct store *);
/* After a failed audit_write: a warning on standard error, from errno. */
void	warn_audit(void);
/* The store's stall guard (store_on_stall, lib/store.c) of every command:
 * a dead process left a Berkeley DB mutex held; says that running the
 * command again recovers the store, and exits STORE_STALL_EXIT. */
void	admin_stalled(const char *why) __attribute__((noreturn));

#endif /* MIAS_ADMIN_H */
