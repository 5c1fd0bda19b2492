/* oss.h -- the OSS client: list, HEAD and download on libcurl, typed errors */
#ifndef MIAS_OSS_H
#define MIAS_OSS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <curl/curl.h>

#include "egress.h"
#include "oss_name.h"
#include "oss_sign.h"

/*
 * What went wrong, as callers see it: oss_err_name() gives the errorCode
 * that mias reports ("OSS_ACCESS_DENIED"...).  Only OSS_UNAVAILABLE is
 * retried (by the client itself, opts.oo_retries times).
 */
enum oss_err {
	OSS_OK,
	OSS_ACCESS_DENIED,		/* AccessDenied, any other 403 */
	OSS_INVALID_ACCESS_KEY,		/* InvalidAccessKeyId */
	OSS_SIGNATURE_MISMATCH,		/* SignatureDoesNotMatch: bad secret */
	OSS_CREDENTIALS_EXPIRED,	/* STS token expired, invalid, or not
					 * the key id's */
	OSS_NO_SUCH_BUCKET,
	OSS_NO_SUCH_KEY,
	OSS_UNAVAILABLE,		/* 5xx, connection, timeout, DNS */
	OSS_BAD_RESPONSE,		/* not what OSS answers: bad XML, ... */
	OSS_EGRESS_REFUSED,		/* address refused by [egress] */
	OSS_TOO_LARGE,			/* object over the caller's limit */
	OSS_BAD_ENDPOINT,		/* unusable endpoint, bucket in another
					 * region, TLS certificate refused */
	OSS_INVALID_ARGUMENT,		/* bad bucket name or key, or OSS's
					 * InvalidArgument and kin */
	OSS_CLOCK_SKEWED,		/* RequestTimeTooSkewed: our clock */
	OSS_OBJECT_ARCHIVED,		/* InvalidObjectState: not restored */
	OSS_ABORTED,			/* the caller's callback said stop */
	OSS_LOCAL_ERROR,		/* out of memory, writing the file */
	OSS_ERR__MAX
};

#define OSS_CODE_MAX	64
#define OSS_MESSAGE_MAX	512
#define OSS_REQID_MAX	64

/*
 * The whole story of a failure, for operators.  The text comes from OSS
 * or from us; either way it is cleaned of control characters and invalid
 * UTF-8, and never holds a secret key or an STS token (OSS's StringToSign,
 * which repeats the token, is not kept).
 */
struct oss_error {
	enum oss_err	 oe_err;
	long		 oe_status;		/* HTTP status, or 0 */
	char		 oe_code[OSS_CODE_MAX];	/* OSS's Code, or "" */
	char		 oe_message[OSS_MESSAGE_MAX];
	char		 oe_request_id[OSS_REQID_MAX];	/* or "" */
	char		 oe_detail[OSS_MESSAGE_MAX];	/* for the log only,
						 * never for callers: the
						 * address an endpoint
						 * resolved to; or "" */
};

const char	*oss_err_name(enum oss_err);

/*
 * The mapping of an OSS error Code (may be NULL or "") and HTTP status to
 * an enum oss_err.  A 404 without a code is taken as OSS_NO_SUCH_KEY.
 */
enum oss_err	 oss_err_from_code(const char *code, long status);

/*
 * Parse an OSS error document (<Error><Code>... as OSS sends it with a
 * 4xx/5xx) into err, with the mapped enum in err->oe_err, which is also
 * returned.  Bytes that are not such a document still give an error by
 * status.  Pure: no I/O.
 */
enum oss_err	 oss_error_parse(const void *body, size_t len, long status,
		    struct oss_error *err);

/* One object of a listing.  The strings last until the callback returns. */
struct oss_object {
	const char	*ob_key;		/* decoded */
	uint64_t	 ob_size;
	const char	*ob_etag;		/* without the quotes, or "" */
	const char	*ob_last_modified;	/* as OSS wrote it, or "" */
	const char	*ob_storage_class;	/* "Standard", ..., or "" */
	unsigned	 ob_flags;
};

#define OSS_OBJ_DIR	0x01	/* key ends in '/': a "folder" marker */
#define OSS_OBJ_EMPTY	0x02	/* zero bytes */
#define OSS_OBJ_ARCHIVE	0x04	/* Archive/ColdArchive class: needs restoring */
#define OSS_OBJ_SKIP	(OSS_OBJ_DIR | OSS_OBJ_EMPTY)	/* not an image */

/*
 * Called once per object, in key order.  0 to go on; anything else stops
 * the listing, which then returns OSS_ABORTED (the rest of that page is
 * read and dropped unparsed, so that its connection can serve the next
 * request: a one-image study's listing stops at its first object, and
 * aborting the transfer would close it).  When a listing fails
 * (after any retries), objects reported before the failure were real but
 * the set is incomplete: callers discard it.
 */
typedef int	(*oss_list_cb)(const struct oss_object *, void *arg);

/*
 * Streaming parser of one ListObjectsV2 page.  Feed it the body in pieces
 * of any size; it calls the callback as each <Contents> closes and keeps
 * no more than one object and the page's token, whatever the page's size.
 * Pure: no I/O, so tests and fuzzers can drive it.
 */
#define OSS_TOKEN_MAX	4096

struct oss_list_page {
	int	 lp_truncated;			/* IsTruncated */
	char	 lp_next_token[OSS_TOKEN_MAX];	/* NextContinuationToken */
	size_t	 lp_objects;			/* <Contents> reported */
	int	 lp_url_encoded;		/* EncodingType url */
};

struct oss_listp;

struct oss_listp *oss_listp_new(oss_list_cb, void *arg);
/* OSS_OK, OSS_BAD_RESPONSE (malformed, or not a listing), OSS_ABORTED or
 * OSS_LOCAL_ERROR, with err filled in.  The first error sticks. */
enum oss_err	 oss_listp_feed(struct oss_listp *, const void *, size_t,
		    struct oss_error *);
/* Ends the document; page may be NULL. */
enum oss_err	 oss_listp_finish(struct oss_listp *, struct oss_list_page *,
		    struct oss_error *);
void		 oss_listp_free(struct oss_listp *);

/*
 * The client.  One per thread: it keeps a curl handle so that the pages
 * of a listing reuse one connection.  The program calls
 * curl_global_init() before the first client is made.
 */
struct oss_opts {
	int		 oo_sigver;		/* OSS_SIGV1 or OSS_SIGV4 */
	const struct egress_policy *oo_egress;	/* required; kept by pointer */
	const char	*oo_region;		/* V4 region of endpoints that
						 * name none; NULL: default */
	long		 oo_connect_timeout;	/* seconds */
	long		 oo_timeout;		/* seconds per list page, HEAD,
						 * ranged read */
	long		 oo_get_timeout;	/* seconds per whole download;
						 * 0: none (low speed still) */
	long		 oo_low_speed_limit;	/* bytes/s below which ... */
	long		 oo_low_speed_time;	/* ... for this many s aborts */
	unsigned	 oo_retries;		/* after OSS_UNAVAILABLE */
	unsigned	 oo_retry_base_ms;	/* first pause, then doubled */
	unsigned	 oo_retry_max_ms;	/* longest pause */
	size_t		 oo_max_page_bytes;	/* one listing page's XML */
	const char	*oo_ca_file;		/* NULL: the system's store */
	const char	*oo_user_agent;		/* NULL: "mias" */
	int		 oo_keep;		/* hand the connection on to
						 * the thread's next client */
};

/* Defaults: V4, connect 10 s, 60 s per request, 3600 s per download, abort
 * below 1 KB/s for 30 s, 3 retries from 500 ms to 8 s, 16 MB pages. */
void		 oss_opts_default(struct oss_opts *);

struct oss_client;

struct oss_client *oss_client_new(const struct oss_opts *, char *err,
		    size_t errlen);
void		 oss_client_free(struct oss_client *);
/*
 * Clients made with oo_keep leave their curl handle, and with it the open
 * connections and TLS sessions, to the next client the same thread makes:
 * a worker that lists or fetches one study after another from the same
 * endpoint connects once.  Requests are signed one by one, so nothing of
 * one study's credentials is carried to the next.  A connection is only
 * reused for the same scheme, host and port, which passed the egress
 * check when it was opened; oss_forget_connections() (after the egress
 * policy changed) makes every thread start afresh.  A thread's handle is
 * freed when the thread exits.
 */
void		 oss_forget_connections(void);

/* Where and as whom.  The endpoint is as the caller wrote it. */
struct oss_target {
	const char		*ot_endpoint;
	const char		*ot_bucket;
	const struct oss_creds	*ot_creds;
};

/* List every object under prefix (NULL or "": the whole bucket), 1000 a
 * page, in key order. */
enum oss_err	 oss_list(struct oss_client *, const struct oss_target *,
		    const char *prefix, oss_list_cb, void *arg,
		    struct oss_error *);

/* What HEAD (and GET) tell of an object. */
struct oss_head {
	uint64_t	 oh_size;
	char		 oh_etag[128];		/* without the quotes */
	char		 oh_content_type[128];
	char		 oh_last_modified[64];
	char		 oh_storage_class[32];
	uint64_t	 oh_crc64;		/* x-oss-hash-crc64ecma ... */
	int		 oh_has_crc64;		/* ... when OSS sent one */
};

enum oss_err	 oss_head(struct oss_client *, const struct oss_target *,
		    const char *key, struct oss_head *, struct oss_error *);

#define OSS_NO_LIMIT	UINT64_MAX

/*
 * Download key, or len bytes of it from off (len 0: to its end), to fd,
 * which is written from its current offset.  Over max_bytes is
 * OSS_TOO_LARGE, found from Content-Length before anything is written
 * when the server sends one.  A whole object is checked against OSS's
 * CRC-64 when OSS sends one.  A retry rewinds and truncates fd to where
 * it started, so a retried download is only possible on a regular file or
 * before the first byte.  *written (may be NULL) says how many bytes were
 * written; head (may be NULL) gets the response's headers.
 */
enum oss_err	 oss_get_fd(struct oss_client *, const struct oss_target *,
		    const char *key, uint64_t off, uint64_t len, int fd,
		    uint64_t max_bytes, struct oss_head *head,
		    uint64_t *written, struct oss_error *);

/*
 * Read up to len bytes of key from off into buf; *got says how many.  An
 * object shorter than off + len gives fewer bytes (none past its end),
 * not an error.  For oss_sniff().
 */
enum oss_err	 oss_get_range(struct oss_client *, const struct oss_target *,
		    const char *key, uint64_t off, void *buf, size_t len,
		    size_t *got, struct oss_error *);

/* What the first bytes of a file say it is. */
enum oss_kind {
	OSS_KIND_UNKNOWN,
	OSS_KIND_DICOM,		/* "DICM" at offset 128 (PS3.10 file) */
	OSS_KIND_JPEG,
	OSS_KIND_PNG,
	OSS_KIND__MAX
};

#define OSS_SNIFF_BYTES	132	/* enough for every kind above */

enum oss_kind	 oss_sniff(const void *, size_t);
const char	*oss_kind_name(enum oss_kind);	/* "dicom", "jpeg", ... */

/*
 * The CRC-64 that OSS sends as x-oss-hash-crc64ecma (ECMA-182 polynomial,
 * reflected, as Go's crc64.ECMA); start with crc 0.
 */
uint64_t	 oss_crc64(uint64_t crc, const void *, size_t);

/*
 * Building a request apart from running it, so that the dispatcher can
 * put transfers on a curl multi handle: the URL and the signed headers
 * for one call, plus what the egress check needs at connect time.
 * oss_request_free() wipes the headers (they carry the STS token and a
 * replayable signature).
 */
struct oss_request {
	char			*rq_url;
	struct curl_slist	*rq_headers;
	char			 rq_method[8];
	char			 rq_host[OSS_HOST_MAX];	/* connected to */
	char			 rq_endpoint_host[OSS_HOST_MAX];
};

/*
 * query and headers as for oss_sign() (unencoded); key may be NULL for a
 * bucket call.  Refuses, without any I/O, endpoints whose host is an
 * address literal that the egress policy does not allow.
 */
enum oss_err	 oss_request_build(const struct oss_client *,
		    const struct oss_target *, const char *method,
		    const char *key, const struct oss_param *query,
		    size_t nquery, const struct oss_param *headers,
		    size_t nheaders, time_t now, struct oss_request *,
		    struct oss_error *);
void		 oss_request_free(struct oss_request *);

#endif /* MIAS_OSS_H */
