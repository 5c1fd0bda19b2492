/* bdbloop.c -- the reference of row 2: durable Berkeley DB commits in a loop */
/*
 * bdbloop DIR SECONDS STUDY_BYTES QUEUE_BYTES [WRITERS]
 *
 * Opens a Berkeley DB environment in DIR (created) with the flags mias's
 * store uses (DB_INIT_TXN | DB_INIT_LOG | DB_INIT_LOCK | DB_INIT_MPOOL,
 * 8 MB cache, default durable commits: the log is written and fsync'd
 * before commit returns) and, for SECONDS, commits transactions shaped as
 * executeAnalysis's: a read-for-update of a new study key (not found), a
 * put of a STUDY_BYTES record in studies.db and of a QUEUE_BYTES record in
 * queue.db.  WRITERS threads (default 1) commit at once: row 2's reference
 * runs as many as wrk has connections (16), what group commit gives on
 * this disk; one writer is an info row.
 * Prints: commits=N seconds=S rate=R
 *
 * Two switches for doc/PERFORMANCE.md's experiments (not the reference):
 * BDBLOOP_HOT=1 also increments one shared counter record in every
 * transaction (as executeAnalysis's per-namespace count of active
 * studies); BDBLOOP_EARLY=1 commits with DB_TXN_NOSYNC and then flushes
 * the log with log_flush(NULL) before counting the commit: as durable, but
 * the locks are released before the fsync (early lock release).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <db.h>

static DB_ENV	*env;
static DB	*studies, *queue;
static double	 seconds;
static size_t	 sbytes, qbytes;
static double	 t0;
static int	 hot, early, zero;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *
writer(void *arg)
{
	long		 id = (long)arg, n = 0, *out = malloc(sizeof(long));
	char		*sval = malloc(sbytes), *qval = malloc(qbytes);
	char		 key[128];
	size_t		 klen;
	DB_TXN		*txn;
	DBT		 k, v;
	int		 ret;

	memset(sval, 'x', sbytes);
	memset(qval, 'q', qbytes);
	while (now() - t0 < seconds) {
		/* ns NUL type NUL uid, as mias's study keys */
		memcpy(key, "bench\0" "4\0", 8);
		klen = 8 + (size_t)snprintf(key + 8, sizeof(key) - 8,
		    "bdbloop.%ld.%ld.1.2.840.10008.5.1.4.1.1.2", id, n);
		if ((ret = env->txn_begin(env, NULL, &txn, 0)) != 0)
			break;
		memset(&k, 0, sizeof(k));
		memset(&v, 0, sizeof(v));
		k.data = key;
		k.size = (u_int32_t)klen;
		v.flags = DB_DBT_MALLOC;
		ret = studies->get(studies, txn, &k, &v, DB_RMW);
		if (ret == 0)
			free(v.data);
		else if (ret != DB_NOTFOUND)
			goto abort;
		memset(&v, 0, sizeof(v));
		v.data = sval;
		v.size = (u_int32_t)sbytes;
		if ((ret = studies->put(studies, txn, &k, &v, 0)) != 0)
			goto abort;
		v.data = qval;
		v.size = (u_int32_t)qbytes;
		if ((ret = queue->put(queue, txn, &k, &v, 0)) != 0)
			goto abort;
		if (hot) {
			DBT	 ck, cv;
			char	 num[32];
			long	 c = 0;

			memset(&ck, 0, sizeof(ck));
			memset(&cv, 0, sizeof(cv));
			ck.data = "a\0bench";
			ck.size = 7;
			cv.flags = DB_DBT_MALLOC;
			if ((ret = studies->get(studies, txn, &ck, &cv,
			    DB_RMW)) == 0) {
				c = atol(cv.data);
				free(cv.data);
			} else if (ret != DB_NOTFOUND)
				goto abort;
			memset(&cv, 0, sizeof(cv));
			cv.size = (u_int32_t)snprintf(num, sizeof(num), "%ld",
			    c + 1);
			cv.data = num;
			if ((ret = studies->put(studies, txn, &ck, &cv, 0)) != 0)
				goto abort;
		}
		if ((ret = txn->commit(txn, early ? DB_TXN_NOSYNC : 0)) != 0 ||
		    (early && (ret = env->log_flush(env, NULL)) != 0)) {
			fprintf(stderr, "commit: %s\n", db_strerror(ret));
			break;
		}
		n++;
		continue;
abort:
		txn->abort(txn);
		if (ret != DB_LOCK_DEADLOCK) {
			fprintf(stderr, "put: %s\n", db_strerror(ret));
			break;
		}
	}
	free(sval);
	free(qval);
	*out = n;
	return out;
}

int
main(int argc, char *argv[])
{
	pthread_t	th[64];
	long		total = 0;
	int		ret, i, nw;
	double		el;

	if (argc < 5) {
		fprintf(stderr, "usage: bdbloop DIR SECONDS STUDY_BYTES "
		    "QUEUE_BYTES [WRITERS]\n");
		return 2;
	}
	seconds = atof(argv[2]);
	sbytes = (size_t)atol(argv[3]);
	qbytes = (size_t)atol(argv[4]);
	nw = argc > 5 ? atoi(argv[5]) : 1;
	hot = getenv("BDBLOOP_HOT") != NULL && atoi(getenv("BDBLOOP_HOT"));
	early = getenv("BDBLOOP_EARLY") != NULL &&
	    atoi(getenv("BDBLOOP_EARLY"));
	/* BDBLOOP_ZERO=1: DB_LOG_ZERO, an experiment (doc/PERFORMANCE.md) */
	zero = getenv("BDBLOOP_ZERO") != NULL && atoi(getenv("BDBLOOP_ZERO"));
	if (nw < 1 || nw > 64)
		nw = 1;
	if ((ret = db_env_create(&env, 0)) != 0 ||
	    (ret = env->set_cachesize(env, 0, 8 * 1024 * 1024, 1)) != 0 ||
	    (ret = env->set_lk_detect(env, DB_LOCK_DEFAULT)) != 0 ||
	    (ret = env->log_set_config(env, DB_LOG_AUTO_REMOVE, 1)) != 0 ||
	    (ret = env->log_set_config(env, DB_LOG_ZERO, zero)) != 0 ||
	    (ret = env->open(env, argv[1], DB_CREATE | DB_INIT_TXN |
	    DB_INIT_LOG | DB_INIT_LOCK | DB_INIT_MPOOL | DB_THREAD |
	    DB_RECOVER, 0600)) != 0) {
		fprintf(stderr, "%s: %s\n", argv[1], db_strerror(ret));
		return 1;
	}
	if ((ret = db_create(&studies, env, 0)) != 0 ||
	    (ret = studies->open(studies, NULL, "studies.db", NULL, DB_BTREE,
	    DB_CREATE | DB_AUTO_COMMIT | DB_THREAD, 0600)) != 0 ||
	    (ret = db_create(&queue, env, 0)) != 0 ||
	    (ret = queue->open(queue, NULL, "queue.db", NULL, DB_BTREE,
	    DB_CREATE | DB_AUTO_COMMIT | DB_THREAD, 0600)) != 0) {
		fprintf(stderr, "open: %s\n", db_strerror(ret));
		return 1;
	}
	t0 = now();
	for (i = 0; i < nw; i++)
		pthread_create(&th[i], NULL, writer, (void *)(long)i);
	for (i = 0; i < nw; i++) {
		long *n;

		pthread_join(th[i], (void **)&n);
		total += *n;
		free(n);
	}
	el = now() - t0;
	printf("commits=%ld seconds=%.3f rate=%.1f writers=%d%s%s\n", total,
	    el, total / el, nw, hot ? " hot" : "", early ? " early" : "");
	queue->close(queue, 0);
	studies->close(studies, 0);
	env->close(env, 0);
	return 0;
}
