/* fuzz.h -- what every harness in tests/fuzz shares: the libFuzzer entry points and invariant checks */
#ifndef MIAS_FUZZ_H
#define MIAS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Each harness defines LLVMFuzzerTestOneInput() and may define
 * LLVMFuzzerInitialize().  Built with --enable-fuzzing they link with
 * libFuzzer; otherwise with replay.c, which feeds them the files of a
 * corpus.  A broken invariant aborts, so that both libFuzzer and the
 * replay report it as a crash with the input that caused it.
 */
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	LLVMFuzzerInitialize(int *, char ***);

#define FUZZ_ASSERT(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: invariant broken: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

/* The input as a C string, as the web server hands query strings and as
 * the request loop hands bodies (NUL-terminated; an embedded NUL simply
 * ends it).  The caller frees it. */
static inline char *
fuzz_cstring(const uint8_t *data, size_t size)
{
	char *s;

	if ((s = malloc(size + 1)) == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* A message for returnMessage or a log: not empty, valid UTF-8, no control
 * characters other than those allowed in allow (may be NULL).  Returns 1
 * when it is. */
static inline int
fuzz_text_ok(const char *s, const char *allow)
{
	const unsigned char	*p = (const unsigned char *)s;
	unsigned char		 lo, hi;
	size_t			 n, i;

	for (; *p != '\0'; p += n + 1) {
		lo = 0x80;
		hi = 0xbf;
		if (*p < 0x80) {
			n = 0;
			if ((*p < 0x20 || *p == 0x7f) &&
			    (allow == NULL || strchr(allow, *p) == NULL))
				return 0;
			continue;
		}
		if (*p >= 0xc2 && *p <= 0xdf)
			n = 1;
		else if (*p >= 0xe0 && *p <= 0xef) {
			n = 2;
			if (*p == 0xe0)
				lo = 0xa0;
			else if (*p == 0xed)
				hi = 0x9f;
		} else if (*p >= 0xf0 && *p <= 0xf4) {
			n = 3;
			if (*p == 0xf0)
				lo = 0x90;
			else if (*p == 0xf4)
				hi = 0x8f;
		} else
			return 0;
		for (i = 1; i <= n; i++) {
			if (p[i] < lo || p[i] > hi)
				return 0;
			lo = 0x80;
			hi = 0xbf;
		}
	}
	return 1;
}

#endif /* MIAS_FUZZ_H */
