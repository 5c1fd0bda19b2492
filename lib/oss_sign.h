/* oss_sign.h -- signing OSS requests (V1 HMAC-SHA1, V4 OSS4-HMAC-SHA256) */
#ifndef MIAS_OSS_SIGN_H
#define MIAS_OSS_SIGN_H

#include <stddef.h>
#include <time.h>

#define OSS_HTTP_DATE_LEN	30	/* "Wed, 28 Dec 2022 10:27:41 GMT" */
#define OSS_ISO8601_LEN		17	/* "20231216T162057Z" + NUL */
#define OSS_REGION_MAX		64

/*
 * The V4 region for endpoints that do not name one (127.0.0.1, a MinIO or
 * other OSS-compatible server, oss-accelerate.aliyuncs.com).  cn-hangzhou
 * is what Alibaba's own SDKs default to, and a server that is not Alibaba's
 * takes the region from the Credential scope it is sent.
 */
#define OSS_DEFAULT_REGION	"cn-hangzhou"

enum oss_sigver {
	OSS_SIGV1 = 1,
	OSS_SIGV4 = 4
};

/*
 * Whose request this is.  The secret and the STS token are the caller's:
 * oss_sign() copies nothing of them beyond its own call and wipes what it
 * derived from them.
 */
struct oss_creds {
	const char	*oc_access_key_id;
	const char	*oc_access_key_secret;
	const char	*oc_security_token;	/* NULL or "" without STS */
};

/* One query parameter or header, as the application means it (unencoded).
 * A NULL or empty value is a parameter without one ("?acl"). */
struct oss_param {
	const char	*op_name;
	const char	*op_value;
};

struct oss_sign_in {
	int			 si_sigver;	/* enum oss_sigver */
	const char		*si_method;	/* "GET", "HEAD", ... */
	const char		*si_bucket;	/* NULL: a service call */
	const char		*si_key;	/* NULL or "": a bucket call */
	const struct oss_param	*si_query;	/* any order */
	size_t			 si_nquery;
	/*
	 * Headers the caller sends itself (Content-Type, Content-MD5,
	 * x-oss-*, Range...), any case.  Those that OSS signs are signed.
	 * Date, x-oss-date, x-oss-content-sha256, x-oss-security-token and
	 * Authorization are made here and must not be among them, except
	 * x-oss-date for V1, which is then signed like any x-oss-* header.
	 */
	const struct oss_param	*si_headers;
	size_t			 si_nheaders;
	/* V4: further headers from si_headers to sign (AdditionalHeaders). */
	const char *const	*si_additional;
	size_t			 si_nadditional;
	/* V1: sub-resources to sign beyond the ones OSS always signs. */
	const char *const	*si_subresources;
	size_t			 si_nsubresources;
	time_t			 si_time;
	const char		*si_region;	/* V4, e.g. "cn-beijing" */
	const struct oss_creds	*si_creds;
};

#define OSS_SIGN_HDR_MAX	5

/*
 * What the request must send besides the caller's own headers, as complete
 * "Name: value" lines (Authorization, Date, x-oss-date,
 * x-oss-content-sha256, x-oss-security-token), and the query string for
 * the URL, already encoded and in the order that was signed.  The lines
 * carry the STS token and a replayable signature: oss_sign_out_free()
 * wipes them.
 */
struct oss_sign_out {
	char	*so_hdr[OSS_SIGN_HDR_MAX];
	size_t	 so_nhdr;
	char	*so_query;	/* "" when there is no query */
};

/*
 * Sign a request.  0 on success; -1 with a reason in err (never a secret,
 * never the token) when an input is missing or unusable, for instance a
 * header value or STS token with a line break that would let a caller
 * inject headers; -2 on lack of memory or a failure of OpenSSL.  out is
 * cleared first and left empty on error.
 */
int	oss_sign(const struct oss_sign_in *, struct oss_sign_out *,
	    char *err, size_t errlen);
void	oss_sign_out_free(struct oss_sign_out *);

/*
 * The steps of oss_sign(), for the test vectors.  Strings are allocated
 * and may hold the STS token: release them with oss_sign_free_str(),
 * which wipes them.  NULL on bad input or lack of memory.
 */
char	*oss_sign_v1_string(const struct oss_sign_in *);
char	*oss_sign_v1_resource(const struct oss_sign_in *);
char	*oss_sign_v4_canonical(const struct oss_sign_in *);
char	*oss_sign_v4_string(const struct oss_sign_in *, const char *canonical);
/* V4 signing key from secret, "yyyymmdd" and region; 0 on success. */
int	 oss_sign_v4_key(const char *secret, const char *date,
	    const char *region, unsigned char key[32]);
void	 oss_sign_free_str(char *);

/* 1 when V1 signs query parameter name as a sub-resource. */
int	 oss_sign_v1_subresource(const char *name);

/*
 * Percent-encode per RFC 3986 as OSS V4 does: A-Z a-z 0-9 - _ . ~ kept,
 * every other byte as %XX (upper case); '/' kept when keep_slash, which is
 * also how object keys are written in request paths.  Allocated; NULL on
 * lack of memory.
 */
char	*oss_uri_encode(const char *, int keep_slash);

/*
 * The region an Alibaba endpoint names: oss-cn-beijing.aliyuncs.com,
 * oss-cn-beijing-internal.aliyuncs.com and cn-beijing.oss.aliyuncs.com
 * give cn-beijing.  1 and the region in buf when the host names one, 0
 * when it does not (IP literals, other servers, oss-accelerate).
 */
int	 oss_region_from_host(const char *host, char *buf, size_t len);

/* RFC 7231 date ("Wed, 28 Dec 2022 10:27:41 GMT") and the ISO 8601 basic
 * form of V4 ("20221228T102741Z"), in UTC, whatever the locale.  0 on
 * success, -1 for a time gmtime_r() cannot represent. */
int	 oss_http_date(time_t, char buf[OSS_HTTP_DATE_LEN]);
int	 oss_iso8601(time_t, char buf[OSS_ISO8601_LEN]);

#endif /* MIAS_OSS_SIGN_H */
