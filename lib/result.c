/* result.c -- engine results (API.md 6.) checked against the findings schemas of API.md 3. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "buf.h"
#include "hex.h"
#include "crypto.h"
#include "jv.h"
#include "result.h"

/*
 * Decisions the API leaves open, taken here:
 *
 * - Every finding comes out with "credibility": null, box findings and
 *   the X-ray and fundus lists included, although API.md 3. names the field
 *   only for imageDataList.  Feedback (API.md 4.) may name any finding of a
 *   study (for boxes by boxUid) and getAnalysisResult must reflect it, so
 *   each item carries the field from the start; an extra member is
 *   harmless to clients.  A credibility sent by an engine is ignored: only
 *   doctors' feedback sets it.
 * - Members of an item that API.md 3. does not name are dropped, not
 *   refused, so an engine may add diagnostics without breaking results.
 * - Box members are accepted as the engine writes them (BoxUid,
 *   Coordinates, Class) or as API.md 3. does (boxUid, ...), never both at
 *   once; error messages name the spelling that was sent.
 * - Values are shared with the parsed body (reference counted), never
 *   converted, so a number keeps the exact text the engine wrote.
 */

#define RESULT_NTYPES	4

enum rf_kind {
	RF_ID,		/* indexId: a UUID, lower-cased; made up when absent
			 * or null */
	RF_FIELD,	/* a string or an integer, checked by jv_read */
	RF_NUM,		/* a finite number within rf_range */
	RF_VEC,		/* an array of rf_n numbers, each within rf_range */
	RF_POSMAP,	/* an array of at most RESULT_MAX_POINTS [x, y] */
	RF_NULL,	/* credibility: ignored on input, null on output */
};

enum rf_range {
	RN_ANY,
	RN_NONNEG,
	RN_POS,
	RN_UNIT,
	RN__MAX
};

static const char *const rn_phrases[RN__MAX] = {
	"must be a finite number",
	"must be a finite number >= 0",
	"must be a finite number > 0",
	"must be a number from 0 to 1",
};

#define RF_UNIQUE	0x01	/* the item's id: unique within the result */
#define RF_ORDERED	0x02	/* RF_VEC [x_min, y_min, x_max, y_max] */

struct result_field {
	const char	*rf_name;	/* API.md 3., used on output */
	const char	*rf_engine;	/* the engine's spelling, or NULL */
	enum rf_kind	 rf_kind;
	struct jv_field	 rf_jv;		/* RF_FIELD; jf_name set when used */
	enum rf_range	 rf_range;	/* RF_NUM, RF_VEC */
	size_t		 rf_n;		/* RF_VEC */
	int		 rf_flags;
};

struct result_type {
	const char			*rt_list;	/* API.md 3. */
	const char			*rt_engine;	/* API.md 6. */
	const struct result_field	*rt_fields;
	size_t				 rt_nfields;
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static const char	*result_boxuid(const char *);
static const char	*result_text(const char *);

static const char *const category_enum[] =
    { "ggo", "solid", "part-solid", "unknown", NULL };
static const char *const lung_enum[] = { "left", "right", "unknow", NULL };
static const char *const lobe_enum[] =
    { "up", "middle", "down", "unknow", NULL };
static const char *const eye_enum[] = { "OS", "OD", NULL };
static const char *const center_enum[] = { "DISC", "MACULA", NULL };
static const char *const quality_enum[] =
    { "VERY_GOOD", "GOOD", "NEUTRAL", "POOR", "VERY_POOR", NULL };
static const char *const model_enum[] =
    { "AIFC40", "AIFC50", "AIFC60", "AIFC70", "AIFC80", NULL };

#define F_ENUM(e)	{ .jf_type = JV_STRING, .jf_flags = JV_REQUIRED, \
			  .jf_enum = (e) }
#define F_UID		{ .jf_type = JV_STRING, \
			  .jf_flags = JV_REQUIRED | JV_NONEMPTY, \
			  .jf_maxlen = 128, .jf_check = jv_printable }
#define F_TEXT		{ .jf_type = JV_STRING, .jf_flags = JV_REQUIRED, \
			  .jf_maxlen = 4096, .jf_check = result_text }
#define F_INT(lo, hi)	{ .jf_type = JV_INT, .jf_flags = JV_REQUIRED, \
			  .jf_min = (lo), .jf_max = (hi) }

#define ID		{ .rf_name = "indexId", .rf_kind = RF_ID, \
			  .rf_flags = RF_UNIQUE }
#define FIELD(n, f)	{ .rf_name = (n), .rf_kind = RF_FIELD, .rf_jv = f }
#define NUM(n, r)	{ .rf_name = (n), .rf_kind = RF_NUM, .rf_range = (r) }
#define VEC(n, k, r)	{ .rf_name = (n), .rf_kind = RF_VEC, .rf_n = (k), \
			  .rf_range = (r) }
#define NULLED(n)	{ .rf_name = (n), .rf_kind = RF_NULL }

/* Output order is table order, which is the order of API.md 3. */
static const struct result_field image_fields[] = {
	ID,
	FIELD("seriesInstanceUid", F_UID),
	VEC("spacing", 3, RN_POS),
	VEC("origin", 3, RN_ANY),
	NUM("x", RN_ANY),
	NUM("y", RN_ANY),
	NUM("z", RN_ANY),
	NUM("diameter", RN_NONNEG),
	NUM("confidence", RN_UNIT),
	NULLED("credibility"),
	FIELD("category", F_ENUM(category_enum)),
	FIELD("lung", F_ENUM(lung_enum)),
	FIELD("lobe", F_ENUM(lobe_enum)),
};

static const struct result_field xray_fields[] = {
	ID,
	NUM("posProb", RN_UNIT),
	{ .rf_name = "posMap", .rf_kind = RF_POSMAP },
	NULLED("credibility"),
};

static const struct result_field ocular_fields[] = {
	ID,
	FIELD("analysisInstanceUid", F_UID),
	FIELD("eye", F_ENUM(eye_enum)),
	FIELD("dr", F_INT(0, 4)),
	FIELD("dme", F_INT(0, 1)),
	NUM("confidence", RN_UNIT),
	FIELD("imgCenter", F_ENUM(center_enum)),
	FIELD("imgQuality", F_ENUM(quality_enum)),
	FIELD("inspection", F_TEXT),
	FIELD("inspectionModel", F_ENUM(model_enum)),
	NULLED("credibility"),
};

/* Boxes come with the engine's spelling of API.md 6. (or API.md 3.'s). */
static const struct result_field box_fields[] = {
	{ .rf_name = "boxUid", .rf_engine = "BoxUid", .rf_kind = RF_FIELD,
	    .rf_jv = { .jf_type = JV_STRING, .jf_flags = JV_REQUIRED,
	    .jf_check = result_boxuid }, .rf_flags = RF_UNIQUE },
	{ .rf_name = "coordinates", .rf_engine = "Coordinates",
	    .rf_kind = RF_VEC, .rf_n = 4, .rf_range = RN_NONNEG,
	    .rf_flags = RF_ORDERED },
	{ .rf_name = "class", .rf_engine = "Class", .rf_kind = RF_FIELD,
	    .rf_jv = { .jf_type = JV_STRING,
	    .jf_flags = JV_REQUIRED | JV_NONEMPTY, .jf_maxlen = 64,
	    .jf_check = jv_printable } },
	NULLED("credibility"),
};

/* Indexed by studyType - 1. */
static const struct result_type result_types[RESULT_NTYPES] = {
	{ "imageDataList", "ImageDataList", image_fields,
	    NELEM(image_fields) },
	{ "xRayDataList", "XRayDataList", xray_fields, NELEM(xray_fields) },
	{ "ocularDataList", "OcularDataList", ocular_fields,
	    NELEM(ocular_fields) },
	{ "boxes", "Boxes", box_fields, NELEM(box_fields) },
};

/* The top-level strings handed back as sent. */
static const struct jv_field result_ids[] = {
	{ "ImageUid", JV_STRING, JV_NULL_OK, 255, 0, 0, NULL, jv_printable },
	{ "namespace", JV_STRING, JV_NULL_OK, 128, 0, 0, NULL, jv_printable },
};

static const struct result_type *
result_type(int study_type)
{
	if (study_type < 1 || study_type > RESULT_NTYPES)
		return NULL;
	return &result_types[study_type - 1];
}

const char *
result_list_name(int study_type)
{
	const struct result_type *rt = result_type(study_type);

	return rt == NULL ? NULL : rt->rt_list;
}

const char *
result_engine_list_name(int study_type)
{
	const struct result_type *rt = result_type(study_type);

	return rt == NULL ? NULL : rt->rt_engine;
}

static const char *
result_boxuid(const char *s)
{
	size_t i;

	for (i = 0; i < 5; i++)
		if (s[i] < '0' || s[i] > '9')
			break;
	if (i < 5 || s[5] != '\0')
		return "must be a string of 5 digits";
	return NULL;
}

/* Free text: tab and newline allowed, no other control character. */
static const char *
result_text(const char *s)
{
	for (; *s != '\0'; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t' && *s != '\n') ||
		    *s == 0x7f)
			return "must not contain control characters other "
			    "than tab and newline";
	return NULL;
}

/* 8-4-4-4-12 hex digits, any version, either case. */
static int
result_is_uuid(const char *s, size_t len)
{
	size_t i;

	if (len != 36)
		return 0;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isxdigit((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

/*
 * Copy the n bytes of src into dst (dstlen > 0), as much as fits in whole
 * UTF-8 sequences: tab, CR and LF become a space, other C0 and C1 controls
 * and DEL are dropped, as is any byte that does not start a valid sequence
 * (json-c hands over valid UTF-8; this does not rely on it).
 */
static void
result_clean(char *dst, size_t dstlen, const char *src, size_t n)
{
	const unsigned char	*s = (const unsigned char *)src;
	size_t			 i = 0, o = 0, k, j;

	while (i < n) {
		unsigned char c = s[i];

		if (c < 0x80)
			k = 1;
		else if (c >= 0xc2 && c <= 0xdf)
			k = 2;
		else if (c >= 0xe0 && c <= 0xef)
			k = 3;
		else if (c >= 0xf0 && c <= 0xf4)
			k = 4;
		else
			k = 0;
		for (j = 1; k > 0 && j < k; j++)
			if (i + j >= n || (s[i + j] & 0xc0) != 0x80)
				k = 0;
		if (k == 0) {
			i++;
			continue;
		}
		if (c == '\t' || c == '\n' || c == '\r')
			c = ' ';
		else if (c < 0x20 || c == 0x7f ||
		    (c == 0xc2 && s[i + 1] < 0xa0)) {
			i += k;
			continue;
		}
		if (o + k >= dstlen)
			break;
		if (k == 1)
			dst[o] = (char)c;
		else
			memcpy(dst + o, s + i, k);
		o += k;
		i += k;
	}
	dst[o] = '\0';
}

/* returnCode or returnMessage: a string, cleaned into dst; *raw is the
 * string as sent (*rawlen bytes, NULs included), or NULL when absent. */
static int
result_string(json_object *root, const char *name, int required,
    char *dst, size_t dstlen, const char **raw, size_t *rawlen, char *msg,
    size_t msglen)
{
	json_object *v;

	*raw = NULL;
	*rawlen = 0;
	if (!json_object_object_get_ex(root, name, &v) ||
	    (v == NULL && !required)) {
		if (!required)
			return 0;
		snprintf(msg, msglen, "%s: required field missing", name);
		return -1;
	}
	if (!json_object_is_type(v, json_type_string)) {
		snprintf(msg, msglen, "%s: must be a string", name);
		return -1;
	}
	*raw = json_object_get_string(v);
	*rawlen = (size_t)json_object_get_string_len(v);
	result_clean(dst, dstlen, *raw, *rawlen);
	if (required && dst[0] == '\0') {
		snprintf(msg, msglen, "%s: must not be empty", name);
		return -1;
	}
	return 0;
}

/* An int or a double, finite, within r. */
static int
result_number_ok(json_object *v, enum rf_range r)
{
	double d;

	if (!json_object_is_type(v, json_type_int) &&
	    !json_object_is_type(v, json_type_double))
		return 0;
	d = json_object_get_double(v);
	if (!isfinite(d))
		return 0;
	switch (r) {
	case RN_NONNEG:
		return d >= 0;
	case RN_POS:
		return d > 0;
	case RN_UNIT:
		return d >= 0 && d <= 1;
	case RN_ANY:
	case RN__MAX:
		break;
	}
	return 1;
}

/*
 * The member of item for f, under either of its spellings: *name is the
 * spelling sent (or the engine's when neither was), *val its value (NULL
 * when absent or null), *present whether it was there at all.
 */
static int
result_member(json_object *in, const struct result_field *f,
    const char *prefix, const char **name, json_object **val, int *present,
    char *msg, size_t msglen)
{
	json_object	*v2 = NULL;
	int		 has2 = 0;

	*val = NULL;
	*name = f->rf_engine != NULL ? f->rf_engine : f->rf_name;
	*present = json_object_object_get_ex(in, *name, val);
	if (f->rf_engine != NULL)
		has2 = json_object_object_get_ex(in, f->rf_name, &v2);
	if (*present && has2) {
		snprintf(msg, msglen, "%s: \"%s\" and \"%s\" must not both "
		    "be given", prefix, f->rf_engine, f->rf_name);
		return -1;
	}
	if (has2) {
		*name = f->rf_name;
		*val = v2;
		*present = 1;
	}
	return 0;
}

static int
result_vec(json_object *val, const struct result_field *f, const char *path,
    char *msg, size_t msglen)
{
	double	c[4];
	size_t	i;

	if (!json_object_is_type(val, json_type_array) ||
	    json_object_array_length(val) != f->rf_n) {
		snprintf(msg, msglen, "%s: must be an array of %zu numbers",
		    path, f->rf_n);
		return -1;
	}
	for (i = 0; i < f->rf_n; i++) {
		json_object *e = json_object_array_get_idx(val, i);

		if (!result_number_ok(e, f->rf_range)) {
			snprintf(msg, msglen, "%s[%zu]: %s", path, i,
			    rn_phrases[f->rf_range]);
			return -1;
		}
		if (i < NELEM(c))
			c[i] = json_object_get_double(e);
	}
	if ((f->rf_flags & RF_ORDERED) && f->rf_n == 4) {
		if (c[0] > c[2]) {
			snprintf(msg, msglen, "%s: x_min must not be greater "
			    "than x_max", path);
			return -1;
		}
		if (c[1] > c[3]) {
			snprintf(msg, msglen, "%s: y_min must not be greater "
			    "than y_max", path);
			return -1;
		}
	}
	return 0;
}

static int
result_posmap(json_object *val, const char *path, char *msg, size_t msglen)
{
	size_t i, j, n;

	if (!json_object_is_type(val, json_type_array)) {
		snprintf(msg, msglen, "%s: must be an array of [x, y] pairs",
		    path);
		return -1;
	}
	if ((n = json_object_array_length(val)) > RESULT_MAX_POINTS) {
		snprintf(msg, msglen, "%s: more than %d points", path,
		    RESULT_MAX_POINTS);
		return -1;
	}
	for (i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(val, i);

		if (!json_object_is_type(p, json_type_array) ||
		    json_object_array_length(p) != 2) {
			snprintf(msg, msglen, "%s[%zu]: must be an array of 2 "
			    "numbers", path, i);
			return -1;
		}
		for (j = 0; j < 2; j++)
			if (!result_number_ok(json_object_array_get_idx(p, j),
			    RN_ANY)) {
				snprintf(msg, msglen, "%s[%zu][%zu]: %s", path,
				    i, j, rn_phrases[RN_ANY]);
				return -1;
			}
	}
	return 0;
}

/*
 * The output value of field f of item in, a new reference in *out (NULL
 * for null).  val is the member sent as name; prefix names the item in
 * messages ("Boxes[2]").
 */
static int
result_value(const struct result_field *f, json_object *in,
    const char *prefix, const char *name, json_object *val, int present,
    json_object **out, char *msg, size_t msglen)
{
	struct jv_field	 jf;
	struct jv_value	 v;
	char		 id[37], path[128], sub[512];
	const char	*s;
	size_t		 i;

	*out = NULL;
	snprintf(path, sizeof(path), "%s.%s", prefix, name);
	if (!present && f->rf_kind != RF_ID && f->rf_kind != RF_NULL &&
	    f->rf_kind != RF_FIELD) {
		snprintf(msg, msglen, "%s: required field missing", path);
		return -1;
	}
	switch (f->rf_kind) {
	case RF_ID:
		if (val == NULL)
			crypto_uuid(id);
		else {
			if (!json_object_is_type(val, json_type_string) ||
			    !result_is_uuid(s = json_object_get_string(val),
			    (size_t)json_object_get_string_len(val))) {
				snprintf(msg, msglen, "%s: must be a UUID",
				    path);
				return -1;
			}
			for (i = 0; i < 36; i++)
				id[i] = (char)tolower((unsigned char)s[i]);
			id[36] = '\0';
		}
		*out = json_object_new_string(id);
		break;
	case RF_FIELD:
		/* jv_read says "name: ...", null included; name the item */
		jf = f->rf_jv;
		jf.jf_name = name;
		if (jv_read(in, &jf, 1, &v, sub, sizeof(sub)) == -1) {
			snprintf(msg, msglen, "%s.%s", prefix, sub);
			return -1;
		}
		if (!v.v_present)
			return 0;
		*out = json_object_get(v.v_obj);
		return 0;
	case RF_NUM:
		if (!result_number_ok(val, f->rf_range)) {
			snprintf(msg, msglen, "%s: %s", path,
			    rn_phrases[f->rf_range]);
			return -1;
		}
		*out = json_object_get(val);
		return 0;
	case RF_VEC:
		if (result_vec(val, f, path, msg, msglen) == -1)
			return -1;
		*out = json_object_get(val);
		return 0;
	case RF_POSMAP:
		if (result_posmap(val, path, msg, msglen) == -1)
			return -1;
		*out = json_object_get(val);
		return 0;
	case RF_NULL:
		return 0;
	}
	if (*out == NULL) {
		snprintf(msg, msglen, "out of memory");
		return -1;
	}
	return 0;
}

/*
 * One finding: in is the engine's item number idx of the list sent as
 * list; *out becomes its API.md 3. form.  seen maps the ids met so far to
 * the index of their item.
 */
static int
result_item(const struct result_type *rt, const char *list, size_t idx,
    json_object *in, json_object *seen, json_object **out, char *msg,
    size_t msglen)
{
	const struct result_field	*f;
	json_object			*item = NULL, *val, *v, *prev;
	const char			*name;
	char				 prefix[64];
	size_t				 i;
	int				 present, rc = -1;

	*out = NULL;
	snprintf(prefix, sizeof(prefix), "%s[%zu]", list, idx);
	if (!json_object_is_type(in, json_type_object)) {
		snprintf(msg, msglen, "%s: must be an object", prefix);
		goto out;
	}
	if ((item = json_object_new_object()) == NULL) {
		snprintf(msg, msglen, "out of memory");
		goto out;
	}
	for (i = 0; i < rt->rt_nfields; i++) {
		f = &rt->rt_fields[i];
		if (result_member(in, f, prefix, &name, &val, &present, msg,
		    msglen) == -1)
			goto out;
		if (result_value(f, in, prefix, name, val, present, &v, msg,
		    msglen) == -1)
			goto out;
		if (json_object_object_add_ex(item, f->rf_name, v,
		    JSON_C_OBJECT_ADD_KEY_IS_NEW |
		    JSON_C_OBJECT_KEY_IS_CONSTANT) == -1) {
			json_object_put(v);
			snprintf(msg, msglen, "out of memory");
			goto out;
		}
		if (!(f->rf_flags & RF_UNIQUE) || v == NULL)
			continue;
		if (json_object_object_get_ex(seen, json_object_get_string(v),
		    &prev)) {
			snprintf(msg, msglen, "%s.%s: duplicate of %s[%d]",
			    prefix, name, list, json_object_get_int(prev));
			goto out;
		}
		if ((prev = json_object_new_int((int)idx)) == NULL ||
		    json_object_object_add(seen, json_object_get_string(v),
		    prev) == -1) {
			json_object_put(prev);
			snprintf(msg, msglen, "out of memory");
			goto out;
		}
	}
	*out = item;
	item = NULL;
	rc = 0;
out:
	json_object_put(item);
	return rc;
}

/* A list of another study type may be there only as null or []. */
static int
result_others(json_object *root, int study_type, char *msg, size_t msglen)
{
	const struct result_type	*rt;
	const char			*names[2];
	json_object			*v;
	int				 t, k;

	for (t = 1; t <= RESULT_NTYPES; t++) {
		if (t == study_type)
			continue;
		rt = result_type(t);
		names[0] = rt->rt_engine;
		names[1] = rt->rt_list;
		for (k = 0; k < 2; k++) {
			if (!json_object_object_get_ex(root, names[k], &v) ||
			    v == NULL)
				continue;
			if (json_object_is_type(v, json_type_array) &&
			    json_object_array_length(v) == 0)
				continue;
			snprintf(msg, msglen, "%s: must be absent or empty in "
			    "a studyType %d result", names[k], study_type);
			return -1;
		}
	}
	return 0;
}

int
result_parse(int study_type, const char *body, size_t len, struct result *r,
    char *msg, size_t msglen)
{
	const struct result_type	*rt;
	json_object			*root = NULL, *findings = NULL;
	json_object			*seen = NULL, *list, *l2, *item;
	struct jv_value			 ids[NELEM(result_ids)];
	const char			*code, *message, *name;
	size_t				 codelen, messagelen, i, n;
	int				 has1, has2, rc = -1;

	memset(r, 0, sizeof(*r));
	if (msglen > 0)
		msg[0] = '\0';
	if ((rt = result_type(study_type)) == NULL) {
		snprintf(msg, msglen, "studyType: must be an integer from 1 "
		    "to %d", RESULT_NTYPES);
		goto out;
	}
	if ((root = jv_parse(body, len, msg, msglen)) == NULL)
		goto out;
	if (result_string(root, "returnCode", 1, r->r_code,
	    sizeof(r->r_code), &code, &codelen, msg, msglen) == -1 ||
	    result_string(root, "returnMessage", 0, r->r_message,
	    sizeof(r->r_message), &message, &messagelen, msg, msglen) == -1)
		goto out;
	if (jv_read(root, result_ids, NELEM(result_ids), ids, msg,
	    msglen) == -1)
		goto out;
	if (ids[0].v_present)
		memcpy(r->r_image_uid, ids[0].v_str, ids[0].v_len + 1);
	if (ids[1].v_present)
		memcpy(r->r_namespace, ids[1].v_str, ids[1].v_len + 1);

	/* A failure report is a valid body whatever lists it carries. */
	if (codelen != strlen(RESULT_OK_CODE) ||
	    memcmp(code, RESULT_OK_CODE, codelen) != 0) {
		rc = 0;
		goto out;
	}

	/* the engine's spelling, or leniently API.md 3.'s: not both */
	name = rt->rt_engine;
	has1 = json_object_object_get_ex(root, name, &list);
	has2 = json_object_object_get_ex(root, rt->rt_list, &l2);
	if (has1 && has2) {
		snprintf(msg, msglen, "%s: must not be given together with "
		    "%s", rt->rt_list, name);
		goto out;
	}
	if (has2) {
		name = rt->rt_list;
		list = l2;
	} else if (!has1) {
		snprintf(msg, msglen, "%s: required field missing", name);
		goto out;
	}
	if (!json_object_is_type(list, json_type_array)) {
		snprintf(msg, msglen, "%s: must be an array", name);
		goto out;
	}
	if ((n = json_object_array_length(list)) > RESULT_MAX_ITEMS) {
		snprintf(msg, msglen, "%s: more than %d items", name,
		    RESULT_MAX_ITEMS);
		goto out;
	}
	if ((findings = json_object_new_array_ext((int)n)) == NULL ||
	    (seen = json_object_new_object()) == NULL) {
		snprintf(msg, msglen, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (result_item(rt, name, i, json_object_array_get_idx(list, i),
		    seen, &item, msg, msglen) == -1)
			goto out;
		if (json_object_array_add(findings, item) == -1) {
			json_object_put(item);
			snprintf(msg, msglen, "out of memory");
			goto out;
		}
	}
	if (result_others(root, study_type, msg, msglen) == -1)
		goto out;
	r->r_findings = findings;
	findings = NULL;
	r->r_engine_ok = 1;
	rc = 0;
out:
	json_object_put(seen);
	json_object_put(findings);
	json_object_put(root);
	return rc;
}

void
result_free(struct result *r)
{
	json_object_put(r->r_findings);
	r->r_findings = NULL;
}

json_object *
result_data_new(const char *study_uid, int study_type)
{
	/* the order of API.md 3. */
	static const char *const lists[] =
	    { "boxes", "ocularDataList", "xRayDataList", "imageDataList" };
	json_object	*d, *v;
	size_t		 i;

	if (study_uid == NULL || result_type(study_type) == NULL ||
	    (d = json_object_new_object()) == NULL)
		return NULL;
	if ((v = json_object_new_string(study_uid)) == NULL ||
	    json_object_object_add(d, "studyInstanceUid", v) == -1)
		goto err;
	if ((v = json_object_new_int(study_type)) == NULL ||
	    json_object_object_add(d, "studyType", v) == -1)
		goto err;
	for (i = 0; i < NELEM(lists); i++)
		if ((v = json_object_new_array()) == NULL ||
		    json_object_object_add(d, lists[i], v) == -1)
			goto err;
	return d;
err:
	json_object_put(v);
	json_object_put(d);
	return NULL;
}

json_object *
result_box_compat(json_object *boxes)
{
	json_object	*list, *item = NULL;
	size_t		 i, n;

	if (!json_object_is_type(boxes, json_type_array))
		return NULL;
	n = json_object_array_length(boxes);
	if ((list = json_object_new_array_ext((int)n)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		json_object *box = json_object_array_get_idx(boxes, i);

		if (!json_object_is_type(box, json_type_object) ||
		    (item = json_object_new_object()) == NULL)
			goto err;
		json_object_object_foreach(box, key, val) {
			if (json_object_object_add(item,
			    strcmp(key, "class") == 0 ? "classLevel" : key,
			    json_object_get(val)) == -1) {
				json_object_put(val);
				goto err;
			}
		}
		if (json_object_array_add(list, item) == -1)
			goto err;
		item = NULL;
	}
	return list;
err:
	json_object_put(item);
	json_object_put(list);
	return NULL;
}

/* A growable buffer for the canonical text of result_digest(). */
struct canon {
	char	*c_buf;
	size_t	 c_len, c_cap;
	int	 c_failed;
};

static void
canon_add(struct canon *c, const char *p, size_t n)
{
	if (!c->c_failed &&
	    buf_add(&c->c_buf, &c->c_len, &c->c_cap, 0, p, n) != 0)
		c->c_failed = 1;
}

static int
canon_keycmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A string as JSON text, escaped one way only: '"', '\\' and control
 * characters as \u00XX, every other byte as it is (the parser handed over
 * valid UTF-8, escapes decoded), so equal strings give equal text. */
static void
canon_string(struct canon *c, const char *s, size_t len)
{
	char			 esc[7] = { '\\', 'u', '0', '0', 0, 0, 0 };
	size_t			 i, run = 0;

	canon_add(c, "\"", 1);
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		canon_add(c, s + run, i - run);
		hex_encode(&ch, 1, esc + 4);
		canon_add(c, esc, sizeof(esc) - 1);	/* not the NUL */
		run = i + 1;
	}
	canon_add(c, s + run, len - run);
	canon_add(c, "\"", 1);
}

static void
canon_value(struct canon *c, json_object *v)
{
	char		  num[64];
	const char	**keys = NULL;
	size_t		  i, n;
	double		  d;

	switch (json_object_get_type(v)) {
	case json_type_null:
		canon_add(c, "null", 4);
		break;
	case json_type_boolean:
		if (json_object_get_boolean(v))
			canon_add(c, "true", 4);
		else
			canon_add(c, "false", 5);
		break;
	case json_type_int:
	case json_type_double:
		/* by value: the engine may write 1 or 1.0 the second time */
		d = json_object_get_double(v);
		if (json_object_is_type(v, json_type_int))
			snprintf(num, sizeof(num), "%lld",
			    (long long)json_object_get_int64(v));
		else if (floor(d) == d && fabs(d) < 9e15)
			snprintf(num, sizeof(num), "%lld", (long long)d);
		else
			snprintf(num, sizeof(num), "%.17g", d);
		canon_add(c, num, strlen(num));
		break;
	case json_type_string:
		canon_string(c, json_object_get_string(v),
		    (size_t)json_object_get_string_len(v));
		break;
	case json_type_array:
		canon_add(c, "[", 1);
		n = json_object_array_length(v);
		for (i = 0; i < n; i++) {
			if (i > 0)
				canon_add(c, ",", 1);
			canon_value(c, json_object_array_get_idx(v, i));
		}
		canon_add(c, "]", 1);
		break;
	case json_type_object:
		n = (size_t)json_object_object_length(v);
		if (n > 0 && (keys = calloc(n, sizeof(*keys))) == NULL) {
			c->c_failed = 1;
			break;
		}
		i = 0;
		json_object_object_foreach(v, k, val) {
			(void)val;
			if (i < n)
				keys[i++] = k;
		}
		n = i;
		if (n > 1)	/* keys is NULL for an empty object */
			qsort(keys, n, sizeof(*keys), canon_keycmp);
		canon_add(c, "{", 1);
		for (i = 0; i < n; i++) {
			json_object *m = NULL;

			if (i > 0)
				canon_add(c, ",", 1);
			canon_string(c, keys[i], strlen(keys[i]));
			canon_add(c, ":", 1);
			json_object_object_get_ex(v, keys[i], &m);
			canon_value(c, m);
		}
		canon_add(c, "}", 1);
		free(keys);
		break;
	}
}

int
result_digest(const char *body, size_t len, char out[RESULT_DIGEST_LEN + 1])
{
	struct canon		 c;
	json_object		*root;
	unsigned char		 md[SHA256_DIGEST_LENGTH];
	char			 msg[128];

	memset(&c, 0, sizeof(c));
	if ((root = jv_parse(body, len, msg, sizeof(msg))) != NULL) {
		canon_add(&c, "json\n", 5);
		canon_value(&c, root);
		json_object_put(root);
	} else {
		canon_add(&c, "raw\n", 4);
		canon_add(&c, body, len);
	}
	if (c.c_failed) {
		free(c.c_buf);
		return -1;
	}
	SHA256((const unsigned char *)c.c_buf, c.c_len, md);
	free(c.c_buf);
	hex_encode(md, SHA256_DIGEST_LENGTH, out);
	return 0;
}
