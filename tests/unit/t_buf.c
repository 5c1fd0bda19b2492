/* t_buf.c -- lib/buf.c: growing, the NUL after the bytes, the cap */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "tap.h"

int
main(void)
{
	char	*b = NULL, big[1000];
	size_t	 len = 0, cap = 0, i;
	int	 ok = 1;

	tap_ok(buf_add(&b, &len, &cap, 8, "abcd", 4) == 0 &&
	    buf_add(&b, &len, &cap, 8, "efgh", 4) == 0 && len == 8 &&
	    strcmp(b, "abcdefgh") == 0, "grows to its cap, NUL kept");
	tap_ok(buf_add(&b, &len, &cap, 8, "i", 1) == -1 && len == 8 &&
	    strcmp(b, "abcdefgh") == 0, "a byte past the cap is refused, "
	    "nothing appended");
	tap_ok(buf_add(&b, &len, &cap, 8, "", 0) == 0 && len == 8,
	    "nothing added at the cap is fine");
	free(b);
	b = NULL;
	len = cap = 0;
	memset(big, 'x', sizeof(big));
	for (i = 0; i < 100; i++)
		ok &= buf_add(&b, &len, &cap, 0, big, sizeof(big)) == 0;
	for (i = 0; i < len && ok; i++)
		ok = b[i] == 'x';
	tap_ok(ok && len == 100000 && b[len] == '\0' && cap > len &&
	    cap <= 2 * (len + 1), "no cap: 100,000 bytes by doubling (%zu "
	    "allocated)", cap);
	tap_ok(buf_add(&b, &len, &cap, 100000, "y", 1) == -1 &&
	    len == 100000, "the cap holds after growing");
	free(b);
	return tap_done();
}
