/* ops.h -- the operations API of integrators: listAnalyses and its index */
#ifndef MIAS_OPS_H
#define MIAS_OPS_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "resp.h"
#include "record.h"

struct store;
struct store_txn;

#define OPS_LIMIT_DEFAULT	100
#define OPS_LIMIT_MAX		1000
/* Index entries one listAnalyses request reads at most: with filters that
 * match little, a page may hold fewer than limit items and still carry a
 * nextCursor. */
#define OPS_SCAN_MAX		10000
/* A cursor: be64 time, studyType digit, NUL, uid; sent as hex. */
#define OPS_CURSOR_MAX		(8 + 2 + STUDY_UID_MAX + 1)

/*
 * The submission index (submitted.db): "ns NUL be64(~submitted ms)
 * studyType-digit NUL uid" -> "1", one entry per study (and push job) at
 * the time its latest run was submitted, so that a namespace's studies
 * are one key range, newest first.  Written with the study record
 * (study_submit).  ops_index_move drops the entry at old_ms (-1: none)
 * and writes the one at new_ms (-1: none).
 */
size_t	ops_index_key(char *out, const char *ns, int64_t ms, int type,
	    const char *uid);
int	ops_index_move(struct store_txn *, const char *ns, int type,
	    const char *uid, int64_t old_ms, int64_t new_ms);

/* When a study's latest run was submitted (ms): "queued", else
 * "created". */
int64_t	ops_submitted(const struct study_rec *);

/*
 * Stores made before the index and the metrics counters (metrics.h) have
 * neither: ops_build makes both from studies.db (and the dead-letter
 * gauges from outbox.db), in steps of their own transactions of a few
 * thousand records each, while the store is in use (metrics.h says how
 * the counts stay right meanwhile), and marks the store done (meta.db
 * METRICS_BUILT).  Any process may take the next step; an interrupted
 * build goes on where it stopped.  ops_build_steps takes one step of
 * step records (0: the default); *done says whether the build is over.
 * Store codes.
 *
 * ops_need, in a transaction body of a responder that reads the index or
 * the counts: STORE_OK where they are built; OPS_UNBUILT (which the body
 * returns) where the store has still to build them, so that its caller
 * calls ops_build and runs the body again (req_txn_ops, fcgi.h); or a
 * store code.  OPS_UNBUILT stands apart from the small positive codes
 * other modules' bodies return (OUTBOX_NOT_DEAD...).
 */
#define OPS_UNBUILT	1000
int	ops_built(struct store_txn *, int *built);
int	ops_need(struct store_txn *);
int	ops_build(struct store *);
int	ops_build_steps(struct store *, size_t step, int *done);

/* GET listAnalyses's query (pure: unit tests and fuzzers call it). */
struct ops_list_req {
	enum study_state state;		/* STUDY__MAX: any */
	int		 type;		/* 0: any */
	int64_t		 since_ms;	/* -1: no bound */
	int64_t		 until_ms;	/* -1: no bound */
	int		 limit;
	unsigned char	 cursor[OPS_CURSOR_MAX];
	size_t		 cursor_len;	/* 0: from the newest */
};

int	ops_list_query(const char *query, struct ops_list_req *, char *msg,
	    size_t msglen, enum rc *);

/* RFC 3339 ("2026-12-07T20:31:23Z", "...23.5+01:00") or seconds since the
 * epoch: ms, or -1. */
int64_t	ops_time_parse(const char *);

/* The page: data = {"items": [...], "nextCursor": "..." | null}. */
int	ops_list(struct store_txn *, const char *ns,
	    const struct ops_list_req *, json_object **data);

/*
 * The bodies of POST cancelAnalysis ({"studyInstanceUid", "studyType"},
 * both required) and redeliverCallbacks (both optional, but one only with
 * the other).  On 0, o->os_uid is NULL (none given) or points into
 * o->os_body; release with ops_study_free.
 */
struct ops_study_req {
	json_object	*os_body;
	const char	*os_uid;
	int		 os_type;
};

int	ops_study_body(const char *body, size_t len, int required,
	    struct ops_study_req *, char *msg, size_t msglen, enum rc *);
void	ops_study_free(struct ops_study_req *);

#endif /* MIAS_OPS_H */
