/* record.h -- study, job and result records: keys, states, failure codes, structs with one encode/decode */
#ifndef MIAS_RECORD_H
#define MIAS_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/* ---- keys ------------------------------------------------------------ */

#define STUDY_UID_MAX	128
#define STUDY_KEY_MAX	(128 + 1 + 1 + 1 + STUDY_UID_MAX)

/* The record key: namespace NUL studyType-digit NUL studyInstanceUid.
 * Every record is keyed by namespace first, so a namespace's lookups can
 * never reach another's.  Returns the key length. */
size_t	study_key(char *out, const char *ns, int type, const char *uid);

/* The parts of a study key: ns and uid point into a copy in buf (which
 * holds STUDY_KEY_MAX + 1 bytes).  0, or -1 if malformed. */
int	study_key_parse(const char *key, size_t klen, char *buf,
	    const char **ns, int *type, const char **uid);

/*
 * A push-style job (API.md 5.) is kept as a one-image study whose uid is
 * STUDY_PUSH_MARK followed by the caller's ImageUid: a control character,
 * so no studyInstanceUid (printable only) can name it.
 */
#define STUDY_PUSH_MARK	"\x1f"

/* Job keys: lib/job.h. */
#define JOB_ID_LEN	32	/* hex digits */
#define JOB_SIG_LEN	64	/* hex digits */
#define JOB_OBJKEY_MAX	1024
#define JOB_KEY_MAX	(STUDY_KEY_MAX + 1 + 21 + 1 + JOB_OBJKEY_MAX)

/* ---- states and failure codes ----------------------------------------- */

enum job_state {
	JOB_QUEUED,	/* waiting for the dispatcher */
	JOB_SENT,	/* a remote engine took it; its result is awaited */
	JOB_DONE,	/* findings stored */
	JOB_FAILED,	/* errorCode and errorMessage say why */
	JOB__MAX
};

enum study_state {
	STUDY_QUEUED,
	STUDY_RUNNING,
	STUDY_DONE,
	STUDY_FAILED,
	STUDY_CANCELLED,	/* cancelAnalysis: final, like DONE and FAILED */
	STUDY__MAX
};

/* The errorCode of a failed image or study that the gateway itself
 * decides; an OSS error's code is oss_err_name()'s (lib/oss.h). */
enum fail_code {
	FAIL_ENGINE_ERROR,	/* the engine said it failed, or crashed */
	FAIL_ENGINE_TIMEOUT,
	FAIL_ENGINE_BAD_RESULT,
	FAIL_ENGINE_REJECTED,
	FAIL_ENGINE_UNAVAILABLE,
	FAIL_NO_ENGINE,
	FAIL_LOCAL_ERROR,
	FAIL_OSS_EMPTY,		/* no image objects under the key */
	FAIL_CANCELLED,
	FAIL__MAX
};

const char		*job_state_name(enum job_state);
enum job_state		 job_state_parse(const char *);
const char		*study_state_name(enum study_state);
enum study_state	 study_state_parse(const char *);
const char		*fail_code_name(enum fail_code);

/* ---- the records ----------------------------------------------------- */

/*
 * A record is stored as a JSON object.  Decoding one gives a struct of its
 * fields, typed; the struct keeps the object (r_obj, one reference owned),
 * and strings and objects point into it (borrowed: valid until the next
 * encode or the free).  Encoding writes the fields back into that object:
 * a field that kept its value is not touched, one that changed takes its
 * old place, one the record did not have goes at the end (in the order of
 * the struct), and a field whose bit was taken out of r_has goes.  So a
 * record read and written again keeps its bytes, keys and order, whatever
 * release wrote it, and what the struct does not name stays as it was.
 * After an encode the struct is decoded again from the object.
 *
 * A state the record lacks (or that is no state) is JOB__MAX or
 * STUDY__MAX.  A field is present when its bit (the REC_* below, by
 * record) is in r_has: set it when giving a record a field it may not
 * have had.  A string field present with a NULL value is JSON null.
 */

/* Bits of r_has, by field. */
enum job_field {
	JF_V, JF_ID, JF_NS, JF_TYPE, JF_UID, JF_RUN, JF_OBJECT, JF_SIZE,
	JF_STATE, JF_ATTEMPTS, JF_CREATED, JF_LAST_ERROR, JF_DEADLINE,
	JF_DIGEST, JF_FINISHED, JF_FINDINGS, JF_ERROR_CODE, JF_ERROR_MSG,
	JF__MAX
};

/* An image job (jobs.db; lib/job.h). */
struct job_rec {
	json_object	*r_obj;
	uint32_t	 r_has;		/* 1 << JF_* */
	int		 jr_v;
	const char	*jr_id;
	const char	*jr_ns;
	int		 jr_type;	/* studyType */
	const char	*jr_uid;	/* studyInstanceUid */
	int64_t		 jr_run;
	const char	*jr_object;	/* the image's object key */
	int64_t		 jr_size;
	enum job_state	 jr_state;
	int		 jr_attempts;	/* triggers refused or failed */
	int64_t		 jr_created;
	const char	*jr_last_error;
	int64_t		 jr_deadline;	/* SENT: its result is due by then */
	const char	*jr_digest;	/* resultDigest (algorithmResult) */
	int64_t		 jr_finished;
	json_object	*jr_findings;	/* DONE */
	const char	*jr_error_code;	/* FAILED */
	const char	*jr_error_msg;
};

enum study_field {
	SF_V, SF_NS, SF_UID, SF_TYPE, SF_CREATED, SF_RUN, SF_STATE,
	SF_UPDATED, SF_QUEUED, SF_CALLBACK, SF_ENDPOINT, SF_BUCKET, SF_KEY,
	SF_PUSH, SF_IMAGE_UID, SF_ENGINE, SF_ANALYSIS, SF_CREDS,
	SF_IMAGES_TOTAL, SF_IMAGES_DONE, SF_IMAGES_FAILED, SF_ERROR_CODE,
	SF_ERROR_MSG, SF_STARTED, SF_LISTED, SF_FINISHED, SF_LAST_MESSAGE,
	SF__MAX
};

/* A study, or a push job kept as one (studies.db; lib/study.h). */
struct study_rec {
	json_object		*r_obj;
	uint32_t		 r_has;		/* 1 << SF_* */
	int			 sr_v;
	const char		*sr_ns;
	const char		*sr_uid;	/* studyInstanceUid */
	int			 sr_type;	/* studyType */
	int64_t			 sr_created;
	int64_t			 sr_run;
	enum study_state	 sr_state;
	int64_t			 sr_updated;
	int64_t			 sr_queued;	/* when the run was queued */
	const char		*sr_callback;
	const char		*sr_endpoint;
	const char		*sr_bucket;
	const char		*sr_key;
	int			 sr_push;	/* a push job (API.md 5.) */
	const char		*sr_image_uid;	/* push: the caller's */
	const char		*sr_engine;	/* push: its engine section */
	const char		*sr_analysis;	/* push: the trigger's */
	const char		*sr_creds;	/* sealed, while it runs */
	int64_t			 sr_images_total;
	int64_t			 sr_images_done;
	int64_t			 sr_images_failed;
	const char		*sr_error_code;
	const char		*sr_error_msg;
	int64_t			 sr_started;
	int			 sr_listed;	/* every image has its job */
	int64_t			 sr_finished;
	const char		*sr_last_message;	/* its last callback */
};

enum result_field {
	RF_V, RF_RUN, RF_STATE, RF_ERROR_CODE, RF_ERROR_MSG, RF_FINISHED,
	RF_DATA, RF_FEEDBACK,
	RF__MAX
};

/* A study run's result (results.db; lib/answer.h). */
struct result_rec {
	json_object		*r_obj;
	uint32_t		 r_has;		/* 1 << RF_* */
	int			 rr_v;
	int64_t			 rr_run;
	enum study_state	 rr_state;
	const char		*rr_error_code;
	const char		*rr_error_msg;
	int64_t			 rr_finished;
	json_object		*rr_data;	/* API.md 3. */
	json_object		*rr_feedback;	/* by finding id */
};

/* A string field, "" when the record has none (or null). */
#define REC_STR(s)	((s) != NULL ? (s) : "")

#define REC_HAS(r, f)	(((r)->r_has >> (f)) & 1)
#define REC_SET(r, f)	((r)->r_has |= (uint32_t)1 << (f))
#define REC_DROP(r, f)	((r)->r_has &= ~((uint32_t)1 << (f)))

/*
 * Decode takes the object (its reference); -1 when it is NULL (a stored
 * record store_json could not read) or no JSON object (the reference is
 * dropped then, and the struct is empty).  New starts an empty record
 * (-1: out of memory).  Encode returns the object to store (still the
 * struct's), or NULL when out of memory.  Free drops the object.
 */
int		 job_rec_decode(struct job_rec *, json_object *);
int		 job_rec_new(struct job_rec *);
json_object	*job_rec_encode(struct job_rec *);
void		 job_rec_free(struct job_rec *);
int		 study_rec_decode(struct study_rec *, json_object *);
int		 study_rec_new(struct study_rec *);
json_object	*study_rec_encode(struct study_rec *);
void		 study_rec_free(struct study_rec *);
int		 result_rec_decode(struct result_rec *, json_object *);
int		 result_rec_new(struct result_rec *);
json_object	*result_rec_encode(struct result_rec *);
void		 result_rec_free(struct result_rec *);

/* A field of an object the structs above do not type (a callback, an
 * audit entry, an answer built for display): "" (a string field: also
 * when it is no string) or 0 when it has none. */
const char	*rec_str(json_object *, const char *name);
int64_t		 rec_int(json_object *, const char *name);

#endif /* MIAS_RECORD_H */
