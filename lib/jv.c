/* jv.c -- strict, typed access to JSON request fields (json-c) */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/printbuf.h>

#include "crypto.h"
#include "hex.h"
#include "jv.h"

static const char *const jv_type_names[JV__MAX] = {
	"a string",
	"an integer",
	"true or false",
	"an array",
	"an object",
	"a number",
};

/*
 * A strict RFC 8259 check run before json-c, which lets through NaN,
 * Infinity, "1.", single-quoted names, raw control characters in strings
 * and some invalid UTF-8 even in its strict mode.  Pure: bytes in, the
 * offset of the first fault and why out.
 */
struct jv_scan {
	const unsigned char	*p, *end, *start;
	const char		*why;
	int			 depth;
};

static int	jv_scan_value(struct jv_scan *);

static int
jv_fail(struct jv_scan *sc, const char *why)
{
	if (sc->why == NULL)
		sc->why = why;
	return -1;
}

static void
jv_ws(struct jv_scan *sc)
{
	while (sc->p < sc->end && (*sc->p == ' ' || *sc->p == '\t' ||
	    *sc->p == '\n' || *sc->p == '\r'))
		sc->p++;
}

static int
jv_hex4(struct jv_scan *sc, unsigned *cp)
{
	int i;

	*cp = 0;
	if (sc->end - sc->p < 4)
		return jv_fail(sc, "bad \\u escape");
	for (i = 0; i < 4; i++) {
		unsigned char c = *sc->p++;

		*cp <<= 4;
		if (c >= '0' && c <= '9')
			*cp |= c - '0';
		else if (c >= 'a' && c <= 'f')
			*cp |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			*cp |= c - 'A' + 10;
		else
			return jv_fail(sc, "bad \\u escape");
	}
	return 0;
}

/* One UTF-8 sequence starting at a byte >= 0x80 (RFC 3629 table 3-7). */
static int
jv_utf8(struct jv_scan *sc)
{
	const unsigned char	*p = sc->p;
	unsigned char		 lo = 0x80, hi = 0xbf;
	int			 n, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 1;
	else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 2;
		if (p[0] == 0xe0)
			lo = 0xa0;
		else if (p[0] == 0xed)
			hi = 0x9f;	/* no surrogates */
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 3;
		if (p[0] == 0xf0)
			lo = 0x90;
		else if (p[0] == 0xf4)
			hi = 0x8f;	/* nothing above U+10FFFF */
	} else
		return jv_fail(sc, "invalid UTF-8");
	if (sc->end - p <= n)
		return jv_fail(sc, "invalid UTF-8");
	for (i = 1; i <= n; i++) {
		if (p[i] < lo || p[i] > hi)
			return jv_fail(sc, "invalid UTF-8");
		lo = 0x80;
		hi = 0xbf;
	}
	sc->p += n + 1;
	return 0;
}

static int
jv_scan_string(struct jv_scan *sc)
{
	unsigned cp, lo;

	sc->p++;	/* the opening quote */
	while (sc->p < sc->end) {
		unsigned char c = *sc->p;

		if (c == '"') {
			sc->p++;
			return 0;
		}
		if (c < 0x20)
			return jv_fail(sc, "control character in a string");
		if (c >= 0x80) {
			if (jv_utf8(sc) == -1)
				return -1;
			continue;
		}
		sc->p++;
		if (c != '\\')
			continue;
		if (sc->p >= sc->end)
			break;
		c = *sc->p++;
		if (strchr("\"\\/bfnrt", c) != NULL && c != '\0')
			continue;
		if (c != 'u')
			return jv_fail(sc, "bad escape in a string");
		if (jv_hex4(sc, &cp) == -1)
			return -1;
		if (cp >= 0xdc00 && cp <= 0xdfff)
			return jv_fail(sc, "lone surrogate in a string");
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (sc->end - sc->p < 2 || sc->p[0] != '\\' ||
			    sc->p[1] != 'u')
				return jv_fail(sc, "lone surrogate in a string");
			sc->p += 2;
			if (jv_hex4(sc, &lo) == -1)
				return -1;
			if (lo < 0xdc00 || lo > 0xdfff)
				return jv_fail(sc, "lone surrogate in a string");
		}
	}
	return jv_fail(sc, "unterminated string");
}

static int
jv_digits(struct jv_scan *sc)
{
	const unsigned char *start = sc->p;

	while (sc->p < sc->end && *sc->p >= '0' && *sc->p <= '9')
		sc->p++;
	return sc->p > start ? 0 : jv_fail(sc, "bad number");
}

static int
jv_scan_number(struct jv_scan *sc)
{
	if (*sc->p == '-')
		sc->p++;
	if (sc->p < sc->end && *sc->p == '0')
		sc->p++;
	else if (jv_digits(sc) == -1)
		return -1;
	if (sc->p < sc->end && *sc->p == '.') {
		sc->p++;
		if (jv_digits(sc) == -1)
			return -1;
	}
	if (sc->p < sc->end && (*sc->p == 'e' || *sc->p == 'E')) {
		sc->p++;
		if (sc->p < sc->end && (*sc->p == '+' || *sc->p == '-'))
			sc->p++;
		if (jv_digits(sc) == -1)
			return -1;
	}
	return 0;
}

static int
jv_scan_word(struct jv_scan *sc, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(sc->end - sc->p) < n || memcmp(sc->p, w, n) != 0)
		return jv_fail(sc, "unexpected character");
	sc->p += n;
	return 0;
}

static int
jv_scan_container(struct jv_scan *sc, unsigned char close)
{
	if (++sc->depth > JV_MAX_DEPTH)
		return jv_fail(sc, "nested too deeply");
	sc->p++;
	jv_ws(sc);
	if (sc->p < sc->end && *sc->p == close) {
		sc->p++;
		sc->depth--;
		return 0;
	}
	for (;;) {
		if (close == '}') {
			if (sc->p >= sc->end || *sc->p != '"')
				return jv_fail(sc, "expected a quoted member "
				    "name");
			if (jv_scan_string(sc) == -1)
				return -1;
			jv_ws(sc);
			if (sc->p >= sc->end || *sc->p != ':')
				return jv_fail(sc, "expected ':'");
			sc->p++;
		}
		if (jv_scan_value(sc) == -1)
			return -1;
		if (sc->p < sc->end && *sc->p == ',') {
			sc->p++;
			jv_ws(sc);
			continue;
		}
		if (sc->p < sc->end && *sc->p == close) {
			sc->p++;
			sc->depth--;
			return 0;
		}
		return jv_fail(sc, sc->p >= sc->end ? "ends too early" :
		    "expected ',' or a closing bracket");
	}
}

static int
jv_scan_value(struct jv_scan *sc)
{
	int rc;

	jv_ws(sc);
	if (sc->p >= sc->end)
		return jv_fail(sc, "ends too early");
	switch (*sc->p) {
	case '{':
		rc = jv_scan_container(sc, '}');
		break;
	case '[':
		rc = jv_scan_container(sc, ']');
		break;
	case '"':
		rc = jv_scan_string(sc);
		break;
	case 't':
		rc = jv_scan_word(sc, "true");
		break;
	case 'f':
		rc = jv_scan_word(sc, "false");
		break;
	case 'n':
		rc = jv_scan_word(sc, "null");
		break;
	default:
		if (*sc->p == '-' || (*sc->p >= '0' && *sc->p <= '9'))
			rc = jv_scan_number(sc);
		else
			rc = jv_fail(sc, "unexpected character");
		break;
	}
	if (rc == 0)
		jv_ws(sc);
	return rc;
}

int
jv_strict(const char *buf, size_t len, size_t *off, const char **why)
{
	struct jv_scan sc;

	memset(&sc, 0, sizeof(sc));
	sc.start = sc.p = (const unsigned char *)buf;
	sc.end = sc.start + len;
	if (jv_scan_value(&sc) == 0 && sc.p != sc.end)
		jv_fail(&sc, "unexpected character");
	*off = (size_t)(sc.p - sc.start);
	*why = sc.why;
	return sc.why == NULL ? 0 : -1;
}

/*
 * The longest string or number of a valid JSON text, in bytes as written
 * (decoding never lengthens one): the most json-c's tokener holds in its
 * buffer at once.
 */
#define JV_NUMCHAR(c)	(((c) >= '0' && (c) <= '9') || (c) == '-' || \
	(c) == '+' || (c) == '.' || (c) == 'e' || (c) == 'E')

static size_t
jv_longest_token(const char *p, size_t len)
{
	const char	*e = p + len, *q, *s;
	size_t		 max = 0, n;

	while (p < e) {
		if (JV_NUMCHAR(*p)) {
			for (s = p; p < e && JV_NUMCHAR(*p); p++)
				;
		} else if (*p == '"') {
			/* to the quote that an even run of backslashes (or
			 * none) stands before */
			for (s = ++p;; p = q + 1) {
				if ((q = memchr(p, '"', (size_t)(e - p))) == NULL)
					return len;
				for (n = 0; q - n > s && q[-1 - (long)n] == '\\';
				    n++)
					;
				if (n % 2 == 0)
					break;
			}
			p = q + 1;
			if ((size_t)(q - s) > max)
				max = (size_t)(q - s);
			continue;
		} else {
			p++;
			continue;
		}
		if ((size_t)(p - s) > max)
			max = (size_t)(p - s);
	}
	return max;
}

/*
 * Have tok read a JSON string of len bytes, then forget it.  json-c keeps
 * the text of every string (and number) it reads in one buffer of the
 * tokener, grown by realloc and freed unwiped, which its public API does
 * not reach.  Read first with the body's longest token, this grows that
 * buffer past anything the body holds, so it never moves while the body
 * is read; read again afterwards, it overwrites whatever of the body the
 * buffer held.  -1 out of memory.
 */
static int
jv_tok_fill(json_tokener *tok, size_t len)
{
	json_object	*o;
	char		*s;

	if ((s = malloc(len + 2)) == NULL)
		return -1;
	s[0] = '"';
	memset(s + 1, 'x', len);
	s[len + 1] = '"';
	o = json_tokener_parse_ex(tok, s, (int)len + 2);
	free(s);
	json_tokener_reset(tok);
	if (o == NULL)
		return -1;
	json_object_put(o);
	return 0;
}

json_object *
jv_parse(const char *buf, size_t len, char *msg, size_t msglen)
{
	json_tokener		*tok;
	json_object		*o = NULL;
	enum json_tokener_error	 jerr;
	const char		*why;
	size_t			 off, longest;

	if (len == 0) {
		snprintf(msg, msglen, "request body is empty");
		return NULL;
	}
	if (len > INT_MAX - 2) {
		snprintf(msg, msglen, "request body is too large");
		return NULL;
	}
	if (memchr(buf, '\0', len) != NULL) {
		snprintf(msg, msglen, "request body is not valid JSON: "
		    "it contains a NUL byte");
		return NULL;
	}
	if (jv_strict(buf, len, &off, &why) == -1) {
		if (off >= len)
			snprintf(msg, msglen, "request body is not valid JSON: "
			    "it ends too early");
		else if (strcmp(why, "nested too deeply") == 0)
			snprintf(msg, msglen, "request body is not valid JSON: "
			    "nested deeper than %d levels", JV_MAX_DEPTH);
		else
			snprintf(msg, msglen, "request body is not valid JSON: "
			    "%s at offset %zu", why, off);
		return NULL;
	}
	if ((tok = json_tokener_new_ex(JV_MAX_DEPTH)) == NULL) {
		snprintf(msg, msglen, "out of memory");
		return NULL;
	}
	/* room for the longest string at once: a buffer that grew by
	 * realloc would leave the start of a secret in the blocks freed */
	longest = jv_longest_token(buf, len);
	if (jv_tok_fill(tok, longest) == -1) {
		json_tokener_free(tok);
		snprintf(msg, msglen, "out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	off = json_tokener_get_parse_end(tok);
	/* the tokener's buffer last held a string of the body, which may be
	 * a secret (accessKeySecret, securityToken): overwrite it */
	json_tokener_set_flags(tok, 0);
	(void)jv_tok_fill(tok, longest);
	json_tokener_free(tok);
	if (o == NULL || jerr != json_tokener_success) {
		json_object_put(o);
		if (jerr == json_tokener_continue)
			snprintf(msg, msglen, "request body is not valid JSON: "
			    "it ends too early");
		else if (jerr == json_tokener_error_depth)
			snprintf(msg, msglen, "request body is not valid JSON: "
			    "nested deeper than %d levels", JV_MAX_DEPTH);
		else
			snprintf(msg, msglen, "request body is not valid JSON: "
			    "%s at offset %zu", json_tokener_error_desc(jerr),
			    off);
		return NULL;
	}
	for (; off < len; off++)
		if (!isspace((unsigned char)buf[off])) {
			json_object_put(o);
			snprintf(msg, msglen, "request body is not valid JSON: "
			    "unexpected data after the object at offset %zu",
			    off);
			return NULL;
		}
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		snprintf(msg, msglen, "request body must be a JSON object");
		return NULL;
	}
	return o;
}

const char *
jv_printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return "must not contain control characters";
	return NULL;
}

int
jv_check(json_object *val, const struct jv_field *f, const char *prefix,
    struct jv_value *v, char *msg, size_t msglen)
{
	const char	*why;
	size_t		 i;

	memset(v, 0, sizeof(*v));
	if (val == NULL) {
		if (f->jf_flags & JV_REQUIRED) {
			snprintf(msg, msglen, "%s: required field missing",
			    prefix);
			return -1;
		}
		return 0;
	}
	switch (f->jf_type) {
	case JV_STRING:
		if (!json_object_is_type(val, json_type_string))
			goto badtype;
		v->v_str = json_object_get_string(val);
		v->v_len = (size_t)json_object_get_string_len(val);
		if (strlen(v->v_str) != v->v_len) {
			snprintf(msg, msglen, "%s: must not contain NUL "
			    "characters", prefix);
			return -1;
		}
		if ((f->jf_flags & JV_NONEMPTY) && v->v_len == 0) {
			snprintf(msg, msglen, "%s: must not be empty", prefix);
			return -1;
		}
		if (f->jf_maxlen > 0 && v->v_len > f->jf_maxlen) {
			snprintf(msg, msglen, "%s: longer than %zu bytes",
			    prefix, f->jf_maxlen);
			return -1;
		}
		if (f->jf_enum != NULL) {
			for (i = 0; f->jf_enum[i] != NULL; i++)
				if (strcmp(f->jf_enum[i], v->v_str) == 0)
					break;
			if (f->jf_enum[i] == NULL) {
				int n = snprintf(msg, msglen, "%s: must be one "
				    "of", prefix);
				for (i = 0; f->jf_enum[i] != NULL && n > 0 &&
				    (size_t)n < msglen; i++)
					n += snprintf(msg + n, msglen - n,
					    "%s \"%s\"", i ? "," : "",
					    f->jf_enum[i]);
				return -1;
			}
		}
		if (f->jf_check != NULL &&
		    (why = f->jf_check(v->v_str)) != NULL) {
			snprintf(msg, msglen, "%s: %s", prefix, why);
			return -1;
		}
		break;
	case JV_INT:
		if (!json_object_is_type(val, json_type_int))
			goto badtype;
		v->v_int = json_object_get_int64(val);
		if (f->jf_min < f->jf_max &&
		    (v->v_int < f->jf_min || v->v_int > f->jf_max)) {
			snprintf(msg, msglen, "%s: must be an integer from "
			    "%lld to %lld", prefix, f->jf_min, f->jf_max);
			return -1;
		}
		break;
	case JV_BOOL:
		if (!json_object_is_type(val, json_type_boolean))
			goto badtype;
		v->v_bool = json_object_get_boolean(val);
		break;
	case JV_ARRAY:
		if (!json_object_is_type(val, json_type_array))
			goto badtype;
		break;
	case JV_OBJECT:
		if (!json_object_is_type(val, json_type_object))
			goto badtype;
		break;
	case JV_NUMBER:
		if (!json_object_is_type(val, json_type_int) &&
		    !json_object_is_type(val, json_type_double))
			goto badtype;
		v->v_num = json_object_get_double(val);
		break;
	case JV__MAX:
		goto badtype;
	}
	v->v_present = 1;
	v->v_obj = val;
	return 0;
badtype:
	if (f->jf_type == JV_INT && f->jf_min < f->jf_max)
		snprintf(msg, msglen, "%s: must be an integer from %lld to "
		    "%lld", prefix, f->jf_min, f->jf_max);
	else
		snprintf(msg, msglen, "%s: must be %s", prefix,
		    f->jf_type < JV__MAX ? jv_type_names[f->jf_type] : "?");
	return -1;
}

int
jv_read(json_object *obj, const struct jv_field *fields, size_t n,
    struct jv_value *vals, char *msg, size_t msglen)
{
	json_object	*val;
	size_t		 i;

	/* all of them, so a caller's cleanup may look at every value even
	 * when reading stopped at the first bad field */
	memset(vals, 0, n * sizeof(*vals));
	for (i = 0; i < n; i++) {
		const struct jv_field *f = &fields[i];

		/* json-c gives a member whose value is null as NULL */
		if (json_object_object_get_ex(obj, f->jf_name, &val) &&
		    val == NULL && !(f->jf_flags & JV_NULL_OK)) {
			memset(&vals[i], 0, sizeof(vals[i]));
			snprintf(msg, msglen, "%s: must be %s, not null",
			    f->jf_name, jv_type_names[f->jf_type]);
			return -1;
		}
		if (jv_check(val, f, f->jf_name, &vals[i], msg, msglen) == -1)
			return -1;
	}
	return 0;
}

size_t
jv_quoted_len(const char *s)
{
	size_t n = 2;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			n += 2;
		else if (c < 0x20)
			n += 6;
		else
			n++;
	}
	return n;
}

size_t
jv_quote(char *out, const char *s)
{
	char			*p = out;

	*p++ = '"';
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			*p++ = '\\';
			*p++ = (char)c;
		} else if (c < 0x20) {
			memcpy(p, "\\u00", 4);
			hex_encode(&c, 1, p + 4);	/* its NUL is
							 * overwritten */
			p += 6;
		} else
			*p++ = (char)c;
	}
	*p++ = '"';
	*p = '\0';
	return (size_t)(p - out);
}

struct jv_rawtext {
	size_t	len;
	char	text[];
};

static int
jv_raw_print(json_object *o, struct printbuf *pb, int level, int flags)
{
	struct jv_rawtext *r = json_object_get_userdata(o);

	(void)level;
	(void)flags;
	return printbuf_memappend(pb, r->text, (int)r->len);
}

static void
jv_raw_free(json_object *o, void *userdata)
{
	(void)o;
	free(userdata);
}

json_object *
jv_raw(const char *text, size_t len)
{
	struct jv_rawtext	*r;
	json_object		*o;

	if (len > INT_MAX || (r = malloc(sizeof(*r) + len)) == NULL)
		return NULL;
	if ((o = json_object_new_boolean(0)) == NULL) {
		free(r);
		return NULL;
	}
	r->len = len;
	memcpy(r->text, text, len);
	json_object_set_serializer(o, jv_raw_print, r, jv_raw_free);
	return o;
}
