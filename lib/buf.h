/* buf.h -- the one growable byte buffer: doubling, a NUL kept after its bytes, an optional cap */
#ifndef MIAS_BUF_H
#define MIAS_BUF_H

#include <stddef.h>

/*
 * Append n bytes of p to *b (*len bytes in *cap allocated; all three 0 or
 * NULL to start), growing it by doubling; a NUL is kept after the bytes.
 * max caps *len (0: no cap), so that a peer sending a gigabyte is cut
 * off, not buffered.  0; -1 past max (nothing appended); -2 out of
 * memory.  *b is the caller's to free.
 */
int	buf_add(char **b, size_t *len, size_t *cap, size_t max,
	    const void *p, size_t n);

#endif /* MIAS_BUF_H */
