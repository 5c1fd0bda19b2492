/* record.c -- study, job and result records: keys, states, failure codes, structs with one encode/decode */
#include <stddef.h>
#include <string.h>

#include "record.h"

static const char *const job_state_names[JOB__MAX] = {
	"QUEUED", "SENT", "DONE", "FAILED",
};

static const char *const study_state_names[STUDY__MAX] = {
	"QUEUED", "RUNNING", "DONE", "FAILED", "CANCELLED",
};

static const char *const fail_code_names[FAIL__MAX] = {
	"ENGINE_ERROR",
	"ENGINE_TIMEOUT",
	"ENGINE_BAD_RESULT",
	"ENGINE_REJECTED",
	"ENGINE_UNAVAILABLE",
	"NO_ENGINE",
	"LOCAL_ERROR",
	"OSS_EMPTY",
	"CANCELLED",
};

/* The index of s in names[n], or n. */
static int
name_index(const char *const *names, int n, const char *s)
{
	int i;

	for (i = 0; s != NULL && i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return n;
}

/* A state's name and back: STATE__MAX is "UNKNOWN", and what is no name. */
#define STATE_NAMES(type, max, names)					\
const char *								\
type##_name(enum type s)						\
{									\
	return (unsigned)s < max ? names[s] : "UNKNOWN";		\
}									\
									\
enum type								\
type##_parse(const char *s)						\
{									\
	return (enum type)name_index(names, max, s);			\
}

STATE_NAMES(job_state, JOB__MAX, job_state_names)
STATE_NAMES(study_state, STUDY__MAX, study_state_names)

const char *
fail_code_name(enum fail_code c)
{
	return (unsigned)c < FAIL__MAX ? fail_code_names[c] : "ENGINE_ERROR";
}

const char *
rec_str(json_object *o, const char *name)
{
	json_object *v;

	return o != NULL && json_object_object_get_ex(o, name, &v) &&
	    json_object_is_type(v, json_type_string) ?
	    json_object_get_string(v) : "";
}

int64_t
rec_int(json_object *o, const char *name)
{
	json_object *v;

	return o != NULL && json_object_object_get_ex(o, name, &v) ?
	    json_object_get_int64(v) : 0;
}

/* ---- the codec: one table per record, in the order of its fields ------ */

enum ftype {
	FT_INT,		/* int */
	FT_INT64,	/* int64_t */
	FT_BOOL,	/* int, 0 or 1 */
	FT_STR,		/* const char *, NULL: null */
	FT_OBJ,		/* json_object *, borrowed */
	FT_JOB_STATE,	/* enum job_state, by name */
	FT_STUDY_STATE	/* enum study_state, by name */
};

struct field {
	const char	*f_name;
	enum ftype	 f_type;
	size_t		 f_off;
};

#define F(s, name, type, member)	{ name, type, offsetof(struct s, member) }

static const struct field job_fields[JF__MAX] = {
	F(job_rec, "v", FT_INT, jr_v),
	F(job_rec, "id", FT_STR, jr_id),
	F(job_rec, "ns", FT_STR, jr_ns),
	F(job_rec, "studyType", FT_INT, jr_type),
	F(job_rec, "studyInstanceUid", FT_STR, jr_uid),
	F(job_rec, "run", FT_INT64, jr_run),
	F(job_rec, "object", FT_STR, jr_object),
	F(job_rec, "size", FT_INT64, jr_size),
	F(job_rec, "state", FT_JOB_STATE, jr_state),
	F(job_rec, "attempts", FT_INT, jr_attempts),
	F(job_rec, "created", FT_INT64, jr_created),
	F(job_rec, "lastError", FT_STR, jr_last_error),
	F(job_rec, "deadline", FT_INT64, jr_deadline),
	F(job_rec, "resultDigest", FT_STR, jr_digest),
	F(job_rec, "finished", FT_INT64, jr_finished),
	F(job_rec, "findings", FT_OBJ, jr_findings),
	F(job_rec, "errorCode", FT_STR, jr_error_code),
	F(job_rec, "errorMessage", FT_STR, jr_error_msg),
};

static const struct field study_fields[SF__MAX] = {
	F(study_rec, "v", FT_INT, sr_v),
	F(study_rec, "ns", FT_STR, sr_ns),
	F(study_rec, "studyInstanceUid", FT_STR, sr_uid),
	F(study_rec, "studyType", FT_INT, sr_type),
	F(study_rec, "created", FT_INT64, sr_created),
	F(study_rec, "run", FT_INT64, sr_run),
	F(study_rec, "state", FT_STUDY_STATE, sr_state),
	F(study_rec, "updated", FT_INT64, sr_updated),
	F(study_rec, "queued", FT_INT64, sr_queued),
	F(study_rec, "callback", FT_STR, sr_callback),
	F(study_rec, "endpoint", FT_STR, sr_endpoint),
	F(study_rec, "bucket", FT_STR, sr_bucket),
	F(study_rec, "key", FT_STR, sr_key),
	F(study_rec, "push", FT_BOOL, sr_push),
	F(study_rec, "imageUid", FT_STR, sr_image_uid),
	F(study_rec, "engine", FT_STR, sr_engine),
	F(study_rec, "analysis", FT_STR, sr_analysis),
	F(study_rec, "creds", FT_STR, sr_creds),
	F(study_rec, "imagesTotal", FT_INT64, sr_images_total),
	F(study_rec, "imagesDone", FT_INT64, sr_images_done),
	F(study_rec, "imagesFailed", FT_INT64, sr_images_failed),
	F(study_rec, "errorCode", FT_STR, sr_error_code),
	F(study_rec, "errorMessage", FT_STR, sr_error_msg),
	F(study_rec, "started", FT_INT64, sr_started),
	F(study_rec, "listed", FT_BOOL, sr_listed),
	F(study_rec, "finished", FT_INT64, sr_finished),
	F(study_rec, "lastMessage", FT_STR, sr_last_message),
};

static const struct field result_fields[RF__MAX] = {
	F(result_rec, "v", FT_INT, rr_v),
	F(result_rec, "run", FT_INT64, rr_run),
	F(result_rec, "state", FT_STUDY_STATE, rr_state),
	F(result_rec, "errorCode", FT_STR, rr_error_code),
	F(result_rec, "errorMessage", FT_STR, rr_error_msg),
	F(result_rec, "finished", FT_INT64, rr_finished),
	F(result_rec, "data", FT_OBJ, rr_data),
	F(result_rec, "feedback", FT_OBJ, rr_feedback),
};

#define AT(rec, f, type)	((type *)(void *)((char *)(rec) + (f)->f_off))
#define CAT(rec, f, type)	\
	((type const *)(const void *)((const char *)(rec) + (f)->f_off))

/* The head every record struct starts with. */
struct rec_head {
	json_object	*r_obj;
	uint32_t	 r_has;
};

/* One field's value from v (present in the object; NULL: JSON null). */
static void
field_get(const struct field *f, void *rec, json_object *v)
{
	const char *s;

	switch (f->f_type) {
	case FT_INT:
		*AT(rec, f, int) = json_object_get_int(v);
		break;
	case FT_INT64:
		*AT(rec, f, int64_t) = json_object_get_int64(v);
		break;
	case FT_BOOL:
		*AT(rec, f, int) = json_object_get_boolean(v) ? 1 : 0;
		break;
	case FT_STR:
		*AT(rec, f, const char *) = v == NULL ? NULL :
		    json_object_get_string(v);
		break;
	case FT_OBJ:
		*AT(rec, f, json_object *) = v;
		break;
	case FT_JOB_STATE:
		s = json_object_is_type(v, json_type_string) ?
		    json_object_get_string(v) : NULL;
		*AT(rec, f, enum job_state) = job_state_parse(s);
		break;
	case FT_STUDY_STATE:
		s = json_object_is_type(v, json_type_string) ?
		    json_object_get_string(v) : NULL;
		*AT(rec, f, enum study_state) = study_state_parse(s);
		break;
	}
}

/* Whether the struct's value of a field differs from v in the object. */
static int
field_changed(const struct field *f, const void *rec, json_object *v)
{
	const char *s;

	switch (f->f_type) {
	case FT_INT:
		return !json_object_is_type(v, json_type_int) ||
		    json_object_get_int64(v) != *CAT(rec, f, int);
	case FT_INT64:
		return !json_object_is_type(v, json_type_int) ||
		    json_object_get_int64(v) != *CAT(rec, f, int64_t);
	case FT_BOOL:
		return !json_object_is_type(v, json_type_boolean) ||
		    json_object_get_boolean(v) != *CAT(rec, f, int);
	case FT_STR:
		s = *CAT(rec, f, const char *);
		if (s == NULL || v == NULL)
			return s != NULL || v != NULL;
		return !json_object_is_type(v, json_type_string) ||
		    strcmp(json_object_get_string(v), s) != 0;
	case FT_OBJ:
		return *CAT(rec, f, json_object *) != v;
	/* a state that is none (JOB__MAX) leaves whatever the record has */
	case FT_JOB_STATE:
		return *CAT(rec, f, enum job_state) != JOB__MAX &&
		    (!json_object_is_type(v, json_type_string) ||
		    job_state_parse(json_object_get_string(v)) !=
		    *CAT(rec, f, enum job_state));
	case FT_STUDY_STATE:
		return *CAT(rec, f, enum study_state) != STUDY__MAX &&
		    (!json_object_is_type(v, json_type_string) ||
		    study_state_parse(json_object_get_string(v)) !=
		    *CAT(rec, f, enum study_state));
	}
	return 1;
}

/* A new JSON value of the struct's field; *ok 0 when out of memory. */
static json_object *
field_new(const struct field *f, const void *rec, int *ok)
{
	json_object	*v = NULL;
	const char	*s;

	switch (f->f_type) {
	case FT_INT:
		v = json_object_new_int(*CAT(rec, f, int));
		break;
	case FT_INT64:
		v = json_object_new_int64(*CAT(rec, f, int64_t));
		break;
	case FT_BOOL:
		v = json_object_new_boolean(*CAT(rec, f, int));
		break;
	case FT_STR:
		if ((s = *CAT(rec, f, const char *)) == NULL)
			return NULL;	/* null */
		v = json_object_new_string(s);
		break;
	case FT_OBJ:
		if ((v = *CAT(rec, f, json_object *)) == NULL)
			return NULL;
		v = json_object_get(v);
		break;
	case FT_JOB_STATE:
		v = json_object_new_string(job_state_name(
		    *CAT(rec, f, enum job_state)));
		break;
	case FT_STUDY_STATE:
		v = json_object_new_string(study_state_name(
		    *CAT(rec, f, enum study_state)));
		break;
	}
	*ok = v != NULL;
	return v;
}

static int
rec_decode(const struct field *tab, int n, void *rec, size_t size,
    json_object *obj)
{
	struct rec_head	*h = rec;
	json_object	*v;
	int		 i;

	memset(rec, 0, size);
	if (obj == NULL)
		return -1;	/* a record store_json could not read */
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		return -1;
	}
	h->r_obj = obj;
	for (i = 0; i < n; i++) {
		if (!json_object_object_get_ex(obj, tab[i].f_name, &v)) {
			/* a record without a state has none (not the first) */
			if (tab[i].f_type == FT_JOB_STATE)
				*AT(rec, &tab[i], enum job_state) = JOB__MAX;
			else if (tab[i].f_type == FT_STUDY_STATE)
				*AT(rec, &tab[i], enum study_state) =
				    STUDY__MAX;
			continue;
		}
		h->r_has |= (uint32_t)1 << i;
		field_get(&tab[i], rec, v);
	}
	return 0;
}

static json_object *
rec_encode(const struct field *tab, int n, void *rec, size_t size)
{
	struct rec_head	*h = rec;
	json_object	*obj = h->r_obj, *v, *nv;
	uint32_t	 has = h->r_has;
	int		 i, had, ok;

	if (obj == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		had = json_object_object_get_ex(obj, tab[i].f_name, &v);
		if (!(has >> i & 1)) {
			if (had)
				json_object_object_del(obj, tab[i].f_name);
			continue;
		}
		if (had && !field_changed(&tab[i], rec, v))
			continue;
		ok = 1;
		nv = field_new(&tab[i], rec, &ok);
		if (!ok || json_object_object_add(obj, tab[i].f_name,
		    nv) != 0) {
			json_object_put(nv);
			return NULL;
		}
	}
	/* the strings the caller set are its own: point into the object */
	json_object_get(obj);
	rec_decode(tab, n, rec, size, obj);
	return obj;
}

/* ---- keys ------------------------------------------------------------ */

size_t
study_key(char *out, const char *ns, int type, const char *uid)
{
	size_t	nl = strlen(ns), ul = strlen(uid);

	memcpy(out, ns, nl);
	out[nl] = '\0';
	out[nl + 1] = (char)('0' + type);
	out[nl + 2] = '\0';
	memcpy(out + nl + 3, uid, ul);
	return nl + 3 + ul;
}

int
study_key_parse(const char *key, size_t klen, char *buf, const char **ns,
    int *type, const char **uid)
{
	size_t nl;

	if (klen > STUDY_KEY_MAX)
		return -1;
	memcpy(buf, key, klen);
	buf[klen] = '\0';
	nl = strlen(buf);
	if (nl + 3 > klen || buf[nl + 1] < '1' || buf[nl + 1] > '4' ||
	    buf[nl + 2] != '\0')
		return -1;
	*ns = buf;
	*type = buf[nl + 1] - '0';
	*uid = buf + nl + 3;
	return 0;
}

/* Each record's decode, encode and free: the codec on its table. */
#define REC_CODEC(rec, tab, n)						\
int									\
rec##_decode(struct rec *r, json_object *obj)				\
{									\
	return rec_decode(tab, n, r, sizeof(*r), obj);			\
}									\
									\
int									\
rec##_new(struct rec *r)						\
{									\
	json_object *o = json_object_new_object();			\
									\
	if (o == NULL) {						\
		memset(r, 0, sizeof(*r));				\
		return -1;						\
	}								\
	return rec_decode(tab, n, r, sizeof(*r), o);			\
}									\
									\
json_object *								\
rec##_encode(struct rec *r)						\
{									\
	json_object *o;							\
									\
	/* the decode in rec_encode took a reference of its own */	\
	if ((o = rec_encode(tab, n, r, sizeof(*r))) != NULL)		\
		json_object_put(o);					\
	return o;							\
}									\
									\
void									\
rec##_free(struct rec *r)						\
{									\
	json_object_put(r->r_obj);					\
	memset(r, 0, sizeof(*r));					\
}

REC_CODEC(job_rec, job_fields, JF__MAX)
REC_CODEC(study_rec, study_fields, SF__MAX)
REC_CODEC(result_rec, result_fields, RF__MAX)
