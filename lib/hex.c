/* hex.c -- bytes as lower-case hex and back, URL percent-decoding, and big-endian key fields */
#include "hex.h"

int
hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void
hex_encode(const void *in, size_t len, char *out)
{
	static const char	 digits[] = "0123456789abcdef";
	const unsigned char	*b = in;
	size_t			 i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * len] = '\0';
}

long
hex_decode(const char *hex, size_t hexlen, void *out, size_t max)
{
	unsigned char	*b = out;
	size_t		 i;
	int		 hi, lo;

	if (hexlen % 2 != 0 || hexlen / 2 > max)
		return -1;
	for (i = 0; i < hexlen / 2; i++) {
		if ((hi = hex_digit((unsigned char)hex[2 * i])) < 0 ||
		    (lo = hex_digit((unsigned char)hex[2 * i + 1])) < 0)
			return -1;
		b[i] = (unsigned char)(hi << 4 | lo);
	}
	return (long)(hexlen / 2);
}

void
hex_be64_put(unsigned char out[8], uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		out[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

uint64_t
hex_be64_get(const unsigned char in[8])
{
	uint64_t	v = 0;
	int		i;

	for (i = 0; i < 8; i++)
		v = v << 8 | in[i];
	return v;
}

long
hex_pct_decode(const char *s, size_t n, int plus, char *out, size_t outlen)
{
	size_t	i, o = 0;
	int	hi, lo;
	char	c;

	for (i = 0; i < n; i++) {
		c = s[i];
		if (c == '%') {
			if (n - i < 3 || (hi = hex_digit(s[i + 1])) < 0 ||
			    (lo = hex_digit(s[i + 2])) < 0)
				return -1;
			c = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && plus)
			c = ' ';
		if (o + 1 >= outlen)
			return -1;
		out[o++] = c;
	}
	if (outlen == 0)
		return -1;
	out[o] = '\0';
	return (long)o;
}
