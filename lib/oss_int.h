/* oss_int.h -- what the OSS client's modules (oss.c, oss_err.c, oss_xml.c, oss_req.c) share; not for callers */
#ifndef MIAS_OSS_INT_H
#define MIAS_OSS_INT_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "oss.h"

#define OSS_KEY_MAX		1023	/* bytes, OSS's limit */
#define OSS_TEXT_MAX		(OSS_TOKEN_MAX - 1)	/* one XML element */

struct oss_client {
	struct oss_opts	 c_opts;
	CURL		*c_curl;	/* reused: connections, TLS sessions */
};

/* oss_err.c: whatever a server sends may end up in a JSON errorMessage or
 * on a terminal, so it is reduced to valid UTF-8 without controls. */
/* Copy n bytes of src to dst cleaned; truncates on a character boundary. */
void		 oss_clean(char *dst, size_t dstlen, const char *src,
		    size_t n);
void		 oss_trim(char *);	/* white space at both ends */
/* Mask the secret key and STS token should msg repeat them. */
void		 oss_redact(char *msg, const struct oss_creds *);
void		 oss_error_clear(struct oss_error *);
/* Set e to code with our own message; returns code. */
enum oss_err	 oss_fail(struct oss_error *e, enum oss_err code,
		    const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));

/* oss_xml.c */
/* Strict decimal; -1 for anything else or overflow. */
int		 oss_parse_u64(const char *, uint64_t *);
/* Whether the listing's callback asked to stop. */
int		 oss_listp_stopped(const struct oss_listp *);

#endif /* MIAS_OSS_INT_H */
