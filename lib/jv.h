/* jv.h -- strict, typed access to JSON request fields (json-c) */
#ifndef MIAS_JV_H
#define MIAS_JV_H

#include <stddef.h>

#include <json-c/json.h>

#define JV_MAX_DEPTH	16	/* nesting allowed in request bodies */

enum jv_type {
	JV_STRING,
	JV_INT,
	JV_BOOL,
	JV_ARRAY,
	JV_OBJECT,
	JV_NUMBER,	/* int or double */
	JV__MAX
};

#define JV_REQUIRED	0x01	/* absent is an error */
#define JV_NULL_OK	0x02	/* null counts as absent */
#define JV_NONEMPTY	0x04	/* "" is an error */

/*
 * One field of a request: a responder declares a table of these and reads
 * only the typed values jv_read() hands back.  check, when set, returns
 * NULL for a good value or a phrase saying what is wrong with it.
 */
struct jv_field {
	const char	 *jf_name;
	enum jv_type	  jf_type;
	int		  jf_flags;
	size_t		  jf_maxlen;	/* strings, in bytes; 0: no limit */
	long long	  jf_min, jf_max;	/* ints, when min < max */
	const char *const *jf_enum;	/* strings: NULL-terminated */
	const char	*(*jf_check)(const char *);
};

struct jv_value {
	int		 v_present;
	const char	*v_str;		/* JV_STRING, owned by the object */
	size_t		 v_len;
	long long	 v_int;		/* JV_INT */
	int		 v_bool;	/* JV_BOOL */
	double		 v_num;		/* JV_NUMBER */
	json_object	*v_obj;		/* any type, borrowed */
};

/*
 * Parse a whole request body: one JSON object, valid UTF-8, nesting at
 * most JV_MAX_DEPTH, nothing after it but white space.  Returns NULL and a
 * message for returnMessage when the body is not that.
 */
json_object	*jv_parse(const char *buf, size_t len, char *msg, size_t msglen);

/*
 * Check obj against fields[0..n-1] and fill vals[0..n-1].  Returns 0, or
 * -1 with msg naming the first field at fault ("studyType: must be an
 * integer from 1 to 4").  Fields not in the table are ignored.
 */
int	jv_read(json_object *obj, const struct jv_field *fields, size_t n,
	    struct jv_value *vals, char *msg, size_t msglen);

/* Check a single value against a field description (used for items of
 * arrays); prefix names it in msg, e.g. "data[2].indexId". */
int	jv_check(json_object *val, const struct jv_field *, const char *prefix,
	    struct jv_value *, char *msg, size_t msglen);

/* The RFC 8259 grammar, UTF-8 and nesting checks on their own: 0, or -1
 * with the offset of the fault and a phrase saying what it is. */
int	jv_strict(const char *buf, size_t len, size_t *off, const char **why);

/*
 * A JSON string literal of s (quotes included) written to out, which
 * holds jv_quoted_len(s) + 1 bytes; for writing secrets into a body
 * without json-c keeping copies of them.
 */
size_t	jv_quoted_len(const char *s);
size_t	jv_quote(char *out, const char *s);

/* A string with no control characters (U+0000..U+001F, U+007F). */
const char *jv_printable(const char *);

/*
 * A JSON value that json-c prints as the text given (copied), for
 * splicing JSON written earlier into an answer without parsing it again.
 * The text must be one valid JSON value: it is not checked.  Only for
 * printing: its type and contents as seen by json-c mean nothing.
 */
json_object *jv_raw(const char *text, size_t len);

#endif /* MIAS_JV_H */
