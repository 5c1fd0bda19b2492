/* repl_spike.c -- the replication spike of issue 19: one Berkeley DB
 * environment per node, several processes per environment, as a mias node
 * has (doc/REPLICATION.md gives the figures it measured).  Not installed.
 *
 *   repl_spike node  DIR LOCAL PEERS PRIO        the "dispatcher": opens,
 *                    repmgr_start, prints every event and role change
 *   repl_spike write DIR LOCAL PEERS N MS [start] a "responder": N commits
 *                    MS ms apart, each line: commit ms and the verdict
 *   repl_spike hold  DIR LOCAL PEERS [start]     begins a write, prints
 *                    "holding" and sleeps: to be SIGKILLed mid-commit
 *
 * LOCAL and PEERS are HOST:PORT (PEERS comma-separated).  Times are
 * CLOCK_REALTIME milliseconds so that lines of several processes line up.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <db.h>

static _Atomic int	perm_failed;
static _Atomic int	role;		/* 0 none, 1 master, 2 client */
static _Atomic int	panicked;	/* DB_EVENT_PANIC, _REG_PANIC */
static int		status(DB_ENV *);

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
event(DB_ENV *env, u_int32_t ev, void *info)
{
	static const char *const names[] = { "PANIC", "REG_ALIVE",
	    "REG_PANIC", "CLIENT",
	    "CONNECT_BROKEN", "CONNECT_ESTD", "CONNECT_TRY_FAILED", "DUPMASTER",
	    "ELECTED", "ELECTION_FAILED", "INIT_DONE", "JOIN_FAILURE",
	    "LOCAL_SITE_REMOVED", "MASTER", "MASTER_FAILURE", "NEWMASTER",
	    "PERM_FAILED", "SITE_ADDED", "SITE_REMOVED", "STARTUPDONE",
	    "WOULD_ROLLBACK" };

	(void)env;
	(void)info;
	if (ev == DB_EVENT_PANIC || ev == DB_EVENT_REG_PANIC)
		panicked = 1;
	if (ev == DB_EVENT_REP_PERM_FAILED)
		perm_failed = 1;
	if (ev == DB_EVENT_REP_MASTER)
		role = 1;
	if (ev == DB_EVENT_REP_CLIENT)
		role = 2;
	if (ev <= DB_EVENT_REP_WOULD_ROLLBACK)
		printf("%lld %d event %s\n", now_ms(), (int)getpid(),
		    names[ev]);
	else
		printf("%lld %d event %u\n", now_ms(), (int)getpid(), ev);
	fflush(stdout);
}

static void
errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
	(void)env;
	(void)pfx;
	fprintf(stderr, "%lld %d bdb: %s\n", now_ms(), (int)getpid(), msg);
}

static int
site(DB_ENV *env, const char *hp, int local)
{
	char		host[256], *c;
	DB_SITE		*s;
	int		ret;

	snprintf(host, sizeof(host), "%s", hp);
	if ((c = strrchr(host, ':')) == NULL)
		return EINVAL;
	*c++ = '\0';
	if ((ret = env->repmgr_site(env, host, (u_int)atoi(c), &s, 0)) != 0)
		return ret;
	if (local)
		ret = s->set_config(s, DB_LOCAL_SITE, 1);
	if (ret == 0)
		ret = s->set_config(s, DB_LEGACY, 1);
	s->close(s);
	return ret;
}

static DB_ENV *
open_env(const char *dir, const char *local, const char *peers, int prio,
    int start, DB **dbp)
{
	DB_ENV	*env;
	DB	*db;
	char	*list, *p, *save = NULL;
	int	 ret, n = 1;

	if ((ret = db_env_create(&env, 0)) != 0)
		goto err;
	env->set_errcall(env, errcall);
	env->set_event_notify(env, event);
	if (getenv("SPIKE_BARE") != NULL) {
		/* join without any replication manager call */
		(void)peers;
		(void)prio;
		(void)start;
		n = 0;
		if ((ret = env->set_thread_count(env, 64)) != 0)
			goto err;
		goto open;
	}
	if ((ret = site(env, local, 1)) != 0)
		goto err;
	list = strdup(peers);
	for (p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		while (*p == ' ')
			p++;
		if ((ret = site(env, p, 0)) != 0)
			goto err;
		n++;
	}
	free(list);
	(void)n;
	if (
	    (ret = env->rep_set_priority(env, (u_int32_t)prio)) != 0 ||
	    (ret = env->repmgr_set_ack_policy(env, DB_REPMGR_ACKS_QUORUM)) != 0 ||
	    (ret = env->rep_set_timeout(env, DB_REP_ACK_TIMEOUT, 2000000)) != 0 ||
	    (ret = env->rep_set_timeout(env, DB_REP_HEARTBEAT_SEND, 500000)) != 0 ||
	    (ret = env->rep_set_timeout(env, DB_REP_HEARTBEAT_MONITOR, 2000000)) != 0 ||
	    (ret = env->rep_set_timeout(env, DB_REP_CONNECTION_RETRY, 500000)) != 0 ||
	    (ret = env->rep_set_timeout(env, DB_REP_ELECTION_RETRY, 500000)) != 0 ||
	    (ret = env->set_thread_count(env, 64)) != 0)
		goto err;
open:
	if ((ret = env->open(env, dir, DB_CREATE | DB_INIT_TXN | DB_INIT_LOG |
	    DB_INIT_LOCK | DB_INIT_MPOOL | DB_INIT_REP | DB_REGISTER |
	    DB_RECOVER | DB_THREAD, 0600)) != 0)
		goto err;
	printf("%lld %d opened\n", now_ms(), (int)getpid());
	fflush(stdout);
	if (start && (ret = env->repmgr_start(env, 3, DB_REP_ELECTION)) != 0 &&
	    ret != DB_REP_IGNORE)
		goto err;
	if (start)
		printf("%lld %d started%s\n", now_ms(), (int)getpid(),
		    ret == DB_REP_IGNORE ? " (ignore)" : "");
	if (dbp != NULL) {
		/* a replica cannot create the file: wait for it */
		for (;;) {
			if ((ret = db_create(&db, env, 0)) != 0)
				goto err;
			ret = db->open(db, NULL, "spike.db", NULL, DB_BTREE,
			    DB_AUTO_COMMIT | DB_THREAD | (status(env) == 1 ?
			    DB_CREATE : 0), 0600);
			if (ret == 0)
				break;
			db->close(db, 0);
			if (ret != ENOENT && ret != DB_REP_LOCKOUT &&
			    ret != DB_REP_HANDLE_DEAD)
				goto err;
			usleep(100000);
		}
		*dbp = db;
	}
	return env;
err:
	fprintf(stderr, "%lld %d open: %s\n", now_ms(), (int)getpid(),
	    db_strerror(ret));
	exit(2);
}

static int
status(DB_ENV *env)
{
	DB_REP_STAT	*sp;
	int		 r;

	if (env->rep_stat(env, &sp, 0) != 0)
		return 0;
	r = sp->st_status == DB_REP_MASTER ? 1 :
	    sp->st_status == DB_REP_CLIENT ? 2 : 0;
	if (r == 2 && sp->st_master == DB_EID_INVALID)
		r = 0;
	free(sp);
	return r;
}

static void
mem(void)
{
	char	line[256];
	FILE	*f = fopen("/proc/self/status", "r");

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS", 5) == 0 ||
		    strncmp(line, "RssAnon", 7) == 0 ||
		    strncmp(line, "Threads", 7) == 0)
			printf("%lld %d %s", now_ms(), (int)getpid(), line);
	if (f != NULL)
		fclose(f);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	DB_ENV	*env;
	DB	*db;
	DB_TXN	*txn;
	DBT	 k, v;
	char	 key[64], val[64];
	int	 i, n, ms, ret, last = -1, r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 6 && strcmp(argv[1], "node") == 0) {
		env = open_env(argv[2], argv[3], argv[4], atoi(argv[5]), 1,
		    NULL);
		mem();
		for (;;) {
			if (panicked) {
				/* recovered under us: close, reopen, start */
				printf("%lld %d reopen\n", now_ms(),
				    (int)getpid());
				env->close(env, 0);
				panicked = 0;
				env = open_env(argv[2], argv[3], argv[4],
				    atoi(argv[5]), 1, NULL);
			}
			if ((r = status(env)) != last) {
				printf("%lld %d role %s\n", now_ms(),
				    (int)getpid(), r == 1 ? "master" :
				    r == 2 ? "replica" : "none");
				last = r;
			}
			usleep(10000);
		}
	}
	if (argc >= 7 && strcmp(argv[1], "write") == 0) {
		n = atoi(argv[5]);
		ms = atoi(argv[6]);
		env = open_env(argv[2], argv[3], argv[4], 0,
		    argc > 7 && strcmp(argv[7], "start") == 0, &db);
		mem();
		for (i = 0; i < n; i++) {
			long long t0 = now_ms();

			memset(&k, 0, sizeof(k));
			memset(&v, 0, sizeof(v));
			snprintf(key, sizeof(key), "%d-%d", (int)getpid(), i);
			snprintf(val, sizeof(val), "%lld", t0);
			k.data = key;
			k.size = (u_int32_t)strlen(key);
			v.data = val;
			v.size = (u_int32_t)strlen(val);
			perm_failed = 0;
			if ((ret = env->txn_begin(env, NULL, &txn, 0)) == 0) {
				if ((ret = db->put(db, txn, &k, &v, 0)) != 0)
					txn->abort(txn);
				else
					ret = txn->commit(txn, 0);
			}
			printf("%lld %d commit %d %s %lld ms%s\n", now_ms(),
			    (int)getpid(), i, ret ? db_strerror(ret) : "ok",
			    now_ms() - t0, perm_failed ? " PERM_FAILED" : "");
			if (ret == DB_REP_HANDLE_DEAD || ret == DB_RUNRECOVERY) {
				db->close(db, 0);
				env->close(env, 0);
				env = open_env(argv[2], argv[3], argv[4], 0,
				    argc > 7 && strcmp(argv[7], "start") == 0,
				    &db);
			}
			usleep((useconds_t)ms * 1000);
		}
		mem();
		db->close(db, 0);
		env->close(env, 0);
		return 0;
	}
	if (argc >= 5 && strcmp(argv[1], "hold") == 0) {
		env = open_env(argv[2], argv[3], argv[4], 0,
		    argc > 5 && strcmp(argv[5], "start") == 0, &db);
		memset(&k, 0, sizeof(k));
		memset(&v, 0, sizeof(v));
		k.data = "held";
		k.size = 4;
		v.data = "x";
		v.size = 1;
		if ((ret = env->txn_begin(env, NULL, &txn, 0)) != 0 ||
		    (ret = db->put(db, txn, &k, &v, 0)) != 0) {
			fprintf(stderr, "hold: %s\n", db_strerror(ret));
			return 1;
		}
		printf("%lld %d holding\n", now_ms(), (int)getpid());
		pause();
		return 0;
	}
	fprintf(stderr, "usage: see the comment at the top of repl_spike.c\n");
	return 2;
}
