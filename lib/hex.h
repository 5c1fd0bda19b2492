/* hex.h -- bytes as lower-case hex and back, URL percent-decoding, and big-endian key fields */
#ifndef MIAS_HEX_H
#define MIAS_HEX_H

#include <stddef.h>
#include <stdint.h>

/* The value of a hex digit (either case), or -1. */
int	hex_digit(int c);

/* len bytes as 2 * len lower-case hex digits and a NUL into out. */
void	hex_encode(const void *in, size_t len, char *out);

/* hexlen digits (even) into at most max bytes: the count, or -1 when the
 * text is not hex or too long. */
long	hex_decode(const char *hex, size_t hexlen, void *out, size_t max);

/*
 * Undo URL percent-encoding of the n bytes at s into out (outlen bytes,
 * NUL-terminated): %XX is a byte, '+' a space when plus is set.  out may
 * be s: decoding never lengthens.  The decoded length, or -1 for a bad
 * escape or when out is too small.  An encoded NUL is decoded: callers
 * that want text compare the length with strlen(out).
 */
long	hex_pct_decode(const char *s, size_t n, int plus, char *out,
	    size_t outlen);

/* A 64-bit field of a key, big-endian, so keys sort by it. */
void	hex_be64_put(unsigned char out[8], uint64_t);
uint64_t hex_be64_get(const unsigned char in[8]);

#endif /* MIAS_HEX_H */
