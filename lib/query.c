/* query.c -- strict decoding of URL query strings */
#include <string.h>

#include "hex.h"
#include "jv.h"
#include "query.h"

/* Decode [s, end) into out; -1 on a bad escape or overflow. */
static int
query_decode(const char *s, const char *end, char *out, size_t outlen)
{
	return (int)hex_pct_decode(s, (size_t)(end - s), 1, out, outlen);
}

/*
 * Valid UTF-8 by the rules of JSON bodies: jv_strict() reads the value as
 * a JSON string, in which '"', '\\' and control characters would mean
 * something else, so those (all ASCII) are blanked first; controls are
 * refused on their own afterwards.  Without that, a value holding a quote
 * and an accented letter was refused as "not valid UTF-8".
 */
static int
query_utf8_ok(const char *s, size_t len)
{
	char		 q[1024];
	const char	*why;
	size_t		 i, off;

	if (len + 2 > sizeof(q))
		return 0;
	q[0] = '"';
	for (i = 0; i < len; i++)
		q[i + 1] = s[i] == '"' || s[i] == '\\' ||
		    (unsigned char)s[i] < 0x20 ? ' ' : s[i];
	q[len + 1] = '"';
	return jv_strict(q, len + 2, &off, &why) == 0;
}

int
query_get(const char *qs, const char *name, char *out, size_t outlen,
    const char **why)
{
	const char	*p = qs, *amp, *eq, *end;
	char		 key[64];
	size_t		 off, vlen;
	int		 found = 0, n;

	while (p != NULL && *p != '\0') {
		amp = strchr(p, '&');
		end = amp != NULL ? amp : p + strlen(p);
		eq = memchr(p, '=', (size_t)(end - p));
		if (end == p) {		/* "a=1&&b=2": empty piece */
			p = amp != NULL ? amp + 1 : NULL;
			continue;
		}
		if ((n = query_decode(p, eq != NULL ? eq : end, key,
		    sizeof(key))) < 0) {
			*why = "malformed query string";
			return -1;
		}
		/* whole names only: "a%00x" is not "a" */
		if ((size_t)n == strlen(key) && strcmp(key, name) == 0) {
			if (found) {
				*why = "parameter given twice";
				return -1;
			}
			found = 1;
			if (eq == NULL)
				out[0] = '\0';
			else if ((n = query_decode(eq + 1, end, out,
			    outlen)) < 0) {
				*why = "malformed or too long";
				return -1;
			} else {
				vlen = (size_t)n;
				if (strlen(out) != vlen) {
					*why = "must not contain NUL";
					return -1;
				}
				/* the same UTF-8 rules as JSON bodies */
				for (off = 0; off < vlen; off++)
					if ((unsigned char)out[off] >= 0x80)
						break;
				if (off < vlen && !query_utf8_ok(out, vlen)) {
					*why = "not valid UTF-8";
					return -1;
				}
				if (jv_printable(out) != NULL) {
					*why = "must not contain control "
					    "characters";
					return -1;
				}
			}
		}
		p = amp != NULL ? amp + 1 : NULL;
	}
	return found;
}
