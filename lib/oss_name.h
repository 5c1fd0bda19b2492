/* oss_name.h -- the one rule for an OSS endpoint and the one for a bucket name, used by every entry point */
#ifndef MIAS_OSS_NAME_H
#define MIAS_OSS_NAME_H

#define OSS_HOST_MAX	256

/* What a request names as its endpoint, parsed (oss_endpoint_parse()). */
struct oss_endpoint {
	int		 en_https;
	char		 en_host[OSS_HOST_MAX];	/* lower case, no brackets,
						 * no trailing dot */
	unsigned	 en_port;		/* 0: the scheme's */
	int		 en_path_style;		/* IP literal or localhost */
	int		 en_ipv6;		/* needs brackets in URLs */
};

/*
 * Endpoints as callers write them: "oss-cn-beijing.aliyuncs.com",
 * "https://oss-cn-beijing.aliyuncs.com/", "http://127.0.0.1:9000",
 * "[::1]:9000".  https unless "http://" is written.  No user info, path,
 * query, fragment or blanks; an IPv6 address in brackets; a name of
 * labels of letters, digits, '-' and '_', none empty, none starting or
 * ending with '-'.  NULL when acceptable, else why not (a phrase for
 * returnMessage): url_not_ascii (url.h) for a host that is not ASCII,
 * which responders answer with 100009.  The responders (request.c) and
 * the OSS client (oss_request_build()) both call it.  Pure.
 */
const char	*oss_endpoint_parse(const char *, struct oss_endpoint *);

/*
 * Bucket names as OSS allows them: 3-63 of a-z 0-9 '-', not starting or
 * ending with '-'.  NULL if valid, else why not.  Fits a jv_field's
 * validator.
 */
const char	*oss_bucket_check(const char *);

#endif /* MIAS_OSS_NAME_H */
