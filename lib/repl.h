/* repl.h -- a group of mias hosts on Berkeley DB's replication manager
 * (doc/REPLICATION.md): the [replication] section and the environment's
 * replication settings, roles and acknowledgements */
#ifndef MIAS_REPL_H
#define MIAS_REPL_H

#include <stddef.h>

#define REPL_PEERS_MAX	16
/* In the state directory: node=HOST:PORT state=up|down for each other
 * member, as the dispatcher (the replication process) sees them,
 * rewritten every second (dispatcher/standby.c). */
#define REPL_SITES_FILE	"repl.sites"
#define REPL_SITES_FRESH	5	/* seconds: older, the dispatcher is
					 * not running */

enum repl_ack {
	REPL_ACK_QUORUM,	/* DB_REPMGR_ACKS_QUORUM (default) */
	REPL_ACK_ALL,		/* DB_REPMGR_ACKS_ALL */
	REPL_ACK__MAX
};

enum repl_role {
	REPL_NONE,		/* electing, alone without a quorum, or the
				 * replication process is not running */
	REPL_MASTER,
	REPL_REPLICA,
	REPL_ROLE__MAX
};

/* [replication] of mias.conf(5); rc_on is 0 when the section is absent,
 * and then nothing of this module is used. */
struct repl_conf {
	int		 rc_on;
	char		*rc_local;		/* HOST:PORT */
	char		*rc_peers[REPL_PEERS_MAX];	/* HOST:PORT each */
	size_t		 rc_peers_n;
	unsigned	 rc_priority;		/* 0: never master */
	char		*rc_internal_url;	/* NULL: [server] public_url */
	enum repl_ack	 rc_ack;
	unsigned	 rc_ack_timeout_ms;
	unsigned	 rc_heartbeat_ms;	/* sent by the master; a replica
						 * that hears nothing for three
						 * times as long calls an
						 * election */
	unsigned	 rc_forward_timeout;	/* seconds, a forwarded write */
};

/* The defaults (conf_defaults: before the file is read). */
void		 repl_conf_defaults(struct repl_conf *);
/* One key of [replication]: NULL when it is good, else why not (a phrase
 * to follow "[replication] KEY "). */
const char	*repl_conf_key(struct repl_conf *, const char *name,
		    const char *value);
/* After the whole file: NULL, or what is missing or wrong. */
const char	*repl_conf_finish(struct repl_conf *);
void		 repl_conf_free(struct repl_conf *);

const char	*repl_role_name(enum repl_role);

/*
 * For store.c.  Every process configures its environment handle the same
 * way before DB_ENV->open (whoever recovers the environment makes its
 * regions, the network configuration among them); only the replication
 * process (the dispatcher) then calls repl_env_start.  (A process that
 * writes on the master starts the manager by itself all the same, as a
 * "subordinate" with connections of its own: Berkeley DB 5.3 does that
 * in log_put, see doc/REPLICATION.md.)  The environment is passed as a
 * void * so that this header needs no db.h.  0, or -1 with err.
 */
/* Once, before store_open (later calls change nothing); NULL or a
 * section that is absent: one host.  Kept as a copy. */
void		 repl_use(const struct repl_conf *);
const struct repl_conf *repl_conf(void);
int		 repl_env_config(void *dbenv, char *err, size_t errlen);
int		 repl_env_start(void *dbenv, char *err, size_t errlen);
/* The role of the environment, its master's address ("" when none; buf
 * of at least 300 bytes) and the generation that counts masters.  A
 * Berkeley DB error number when rep_stat failed, else 0. */
int		 repl_env_role(void *dbenv, enum repl_role *, char *master,
		    size_t masterlen, unsigned *gen);
/* node=HOST:PORT state=up|down for each peer (told to fn) */
int		 repl_env_sites(void *dbenv, void (*fn)(void *,
		    const char *hostport, int up), void *arg);

/* Counts DB_EVENT_REP_PERM_FAILED in this process: a commit whose
 * acknowledgements fell short is seen as a change of the count across
 * it (another thread's failure in between makes a false alarm, on the
 * safe side: a retryable error, never a wrong success). */
unsigned	 repl_perm_failures(void);
/* DB_EVENT_PANIC or _REG_PANIC since the last call: the environment was
 * recovered by another process and must be reopened. */
int		 repl_panicked(void);

#endif /* MIAS_REPL_H */
