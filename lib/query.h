/* query.h -- strict decoding of URL query strings */
#ifndef MIAS_QUERY_H
#define MIAS_QUERY_H

#include <stddef.h>

/*
 * Find name in a query string ("a=1&b=%2C") and decode its value into out
 * ('+' is a space, %XX a byte; the result must be valid UTF-8 without NUL
 * or control characters).  1 when found, 0 when absent, -1 when the query
 * is malformed (bad escape, invalid UTF-8, name given twice, value longer
 * than outlen - 1) with why set.
 */
int	query_get(const char *qs, const char *name, char *out, size_t outlen,
	    const char **why);

#endif /* MIAS_QUERY_H */
