/* metrics.h -- counters kept for GET /dicom/api/metrics (Prometheus text) */
#ifndef MIAS_METRICS_H
#define MIAS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

struct store_txn;

/*
 * Scraping must not count every study: the counts live in counters.db
 * and move inside the transactions that change what they count.  Keys:
 *   "ms" NUL ns NUL studyType digit NUL STATE   studies in that state
 *   "mh" NUL studyType digit NUL bucket (2 digits) NUL shard
 *                                             engine latencies
 *   "mh" NUL studyType digit NUL "sum" / "count" NUL shard  (ms, images)
 *   (a shard is one of 8 keys each counter is spread over, metrics.c)
 *   "md" NUL ns NUL "DELIVERED"                 callbacks delivered so far
 *   "md" NUL ns NUL "DEAD"                      dead letters now
 * Stores made before the counters were kept have them built once from
 * studies.db and outbox.db (ops_build, ops.h), in steps of their own
 * transactions.  While that runs, a change to a study (a message) the
 * build has not reached yet is left to it: the build counts the state it
 * finds.  The build's place is kept in meta.db:
 */
#define METRICS_BUILT		"ops-index"	/* done */
#define METRICS_BUILD_STUDIES	"ops-build-s"	/* last study key counted */
#define METRICS_BUILD_OUTBOX	"ops-build-o"	/* last message id counted */

/* Engine latency buckets, in seconds (the last, +Inf, is implicit). */
#define METRICS_BUCKETS	10
extern const double metrics_bucket_le[METRICS_BUCKETS];

/* The study of key skey moved from state from (STUDY__MAX: it is new) to
 * to (STUDY__MAX: it is gone).  A store code. */
int	metrics_study_move(struct store_txn *, const char *skey, size_t sklen,
	    enum study_state from, enum study_state to);

/* What ops_build counts: a study of ns in state st, a dead letter of ns
 * (n of them); and the gauges dropped before it starts. */
int	metrics_study_count(struct store_txn *, const char *ns, int type,
	    enum study_state st, long long n);
int	metrics_dead_count(struct store_txn *, const char *ns, long long n);
int	metrics_gauges_clear(struct store_txn *);

/* The dead letters of ns (read without waiting for writers, as limits
 * are). */
int	metrics_dead_read(struct store_txn *, const char *ns, long long *n);

/* An image of studyType type took ms from its job's creation to its
 * outcome. */
int	metrics_latency(struct store_txn *, int type, int64_t ms);

/* A callback of ns was delivered (a counter). */
int	metrics_delivered(struct store_txn *, const char *ns);

/* The dead letters of ns now (a gauge): +1 when message id is given up,
 * -1 when it is sent again. */
int	metrics_dead_add(struct store_txn *, const char *ns, const char *id,
	    int delta);

/*
 * The Prometheus text exposition of every counter, and of the store's
 * size on disk (the files of dir).  Returns a malloc'd string in *out
 * and a store code.
 */
int	metrics_render(struct store_txn *, const char *dir, char **out,
	    size_t *len);

/* The bearer token check: 1 when the Authorization header value hdr is
 * "Bearer " followed by exactly token (compared in constant time). */
int	metrics_token_ok(const char *hdr, const char *token);

#endif /* MIAS_METRICS_H */
