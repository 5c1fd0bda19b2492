/* buf.c -- the one growable byte buffer: doubling, a NUL kept after its bytes, an optional cap */
#include <stdlib.h>
#include <string.h>

#include "buf.h"

int
buf_add(char **b, size_t *len, size_t *cap, size_t max, const void *p,
    size_t n)
{
	char	*nb;
	size_t	 ncap;

	if (max != 0 && (n > max || *len > max - n))
		return -1;
	if (*len + n + 1 > *cap) {
		ncap = *cap ? *cap : 256;
		while (ncap < *len + n + 1)
			ncap *= 2;
		if ((nb = realloc(*b, ncap)) == NULL)
			return -2;
		*b = nb;
		*cap = ncap;
	}
	if (n > 0)
		memcpy(*b + *len, p, n);
	*len += n;
	(*b)[*len] = '\0';
	return 0;
}
