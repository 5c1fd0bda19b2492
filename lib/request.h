/* request.h -- the responders' input checks: request bytes in, typed request or a message out */
#ifndef MIAS_REQUEST_H
#define MIAS_REQUEST_H

#include <stddef.h>

#include <json-c/json.h>

#include "job.h"
#include "resp.h"
#include "study.h"
#include "url.h"

struct crypto_keys;

/*
 * Every function here is pure (no I/O, no globals), so that unit tests and
 * the fuzzers in tests/fuzz/ run the very checks the responders run.  Each
 * returns 0 with the request filled in, or -1 with *rc and msg as the caller
 * is to see them (returnCode and returnMessage).  Checks that need the
 * configuration, the namespace record or the store stay in the responders,
 * which make them after these, in the same order as before.
 *
 * Strings of a parsed body point into it.  After 0 the caller releases the
 * request with the matching _free(), which wipes the OSS secrets; after -1
 * nothing is left to release (secrets already wiped), though calling _free()
 * anyway is harmless.
 */

/* OSS credentials and location, as executeAnalysis and triggerAnalysis
 * take them. */
struct request_oss {
	const char	*ro_ak;
	char		*ro_sk;		/* secret, wiped by _free() */
	size_t		 ro_sklen;
	char		*ro_sts;	/* secret; NULL when absent or null */
	size_t		 ro_stslen;
	const char	*ro_endpoint;	/* as sent */
	char		 ro_host[URL_HOST_MAX];	/* the endpoint's host, as
						 * oss_endpoint_parse() gives it */
	const char	*ro_bucket;
	const char	*ro_key;
};

/* POST executeAnalysis (API.md 1.). */
struct execute_req {
	json_object		*ex_body;	/* owns the strings */
	const char		*ex_uid;
	int			 ex_type;	/* 1..4 */
	const char		*ex_callback;
	int			 ex_force;
	struct request_oss	 ex_oss;
};

int	request_execute(const char *body, size_t len, struct execute_req *,
	    char *msg, size_t msglen, enum rc *);
void	request_execute_free(struct execute_req *);

/*
 * POST triggerAnalysis (API.md 5.).  ns is the namespace the tokenId
 * authenticated; a body naming another is RC_AUTH.
 */
struct trigger_req {
	json_object		*tr_body;	/* owns the strings */
	const char		*tr_ns;
	const char		*tr_image_uid;	/* < STUDY_UID_MAX bytes */
	const char		*tr_analysis;
	const char		*tr_callback;
	struct request_oss	 tr_oss;
};

int	request_trigger(const char *body, size_t len, const char *ns,
	    struct trigger_req *, char *msg, size_t msglen, enum rc *);
void	request_trigger_free(struct trigger_req *);

/*
 * POST submitAnalysisFeedback (API.md 4.).  request_feedback() checks the
 * body and that data is a non-empty array; its items are checked one by
 * one with request_feedback_item(), which the responder calls only once
 * the study is known to have findings (an unknown study is 100004 whatever
 * its items).
 */
struct feedback_req {
	json_object	*fb_body;	/* owns the strings */
	const char	*fb_uid;
	int		 fb_type;	/* 1..4 */
	json_object	*fb_items;	/* data: a non-empty array */
};

struct feedback_item {
	const char	*fi_id;		/* indexId */
	const char	*fi_cred;	/* "Y", "N" or "UN" */
};

int	request_feedback(const char *body, size_t len, struct feedback_req *,
	    char *msg, size_t msglen, enum rc *);
/* Item i of items, named "data[i]" in msg. */
int	request_feedback_item(json_object *items, size_t i,
	    struct feedback_item *, char *msg, size_t msglen);
void	request_feedback_free(struct feedback_req *);

/*
 * GET getAnalysisResult?studyInstanceUid=...&studyType=... (API.md 3.), or
 * ?imageUid=...[&studyType=...]: a push job (triggerAnalysis) by its
 * ImageUid, whose study uid is STUDY_PUSH_MARK + ImageUid.
 */
struct result_req {
	char	rr_uid[STUDY_UID_MAX + 2];	/* the study uid (push: with
						 * the mark) */
	int	rr_type;	/* 1..4; 0 for a push job of any type */
	int	rr_push;	/* imageUid was given */
};

int	request_result_query(const char *query, struct result_req *,
	    char *msg, size_t msglen, enum rc *);

/*
 * POST algorithmResult?job=<id>&sig=<hmac>: only a result URL this gateway
 * issued (job_sig()) passes; anything else is RC_AUTH.
 */
struct job_req {
	char	jr_id[JOB_ID_LEN + 2];
};

int	request_job_query(const char *query, const struct crypto_keys *,
	    struct job_req *, char *msg, size_t msglen, enum rc *);

#endif /* MIAS_REQUEST_H */
