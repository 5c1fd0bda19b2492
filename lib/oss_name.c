/* oss_name.c -- the one rule for an OSS endpoint and the one for a bucket name, used by every entry point */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "egress.h"
#include "oss_name.h"
#include "url.h"

const char *
oss_bucket_check(const char *b)
{
	size_t	n, i;

	if (b == NULL || (n = strlen(b)) < 3 || n > 63)
		return "must be 3 to 63 characters long";
	for (i = 0; i < n; i++)
		if (!((b[i] >= 'a' && b[i] <= 'z') ||
		    (b[i] >= '0' && b[i] <= '9') || b[i] == '-'))
			return "may hold only lower-case letters, digits and "
			    "'-'";
	if (b[0] == '-' || b[n - 1] == '-')
		return "must start and end with a letter or digit";
	return NULL;
}

/* A DNS name (or an IPv4 literal in any of its forms): labels of letters,
 * digits, '-' and '_', none empty or over 63, none starting or ending
 * with '-'. */
static int
endpoint_name_ok(const char *h)
{
	size_t	label = 0, n = strlen(h);

	if (n == 0 || n > 253)
		return 0;
	for (; *h != '\0'; h++) {
		if (*h == '.') {
			if (label == 0 || h[-1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!(isalnum((unsigned char)*h) || *h == '-' || *h == '_'))
			return 0;
		if (label == 0 && *h == '-')
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0 && h[-1] != '-';
}

const char *
oss_endpoint_parse(const char *s, struct oss_endpoint *en)
{
	struct sockaddr_storage	 ss;
	struct in6_addr		 a6;
	char			 host[OSS_HOST_MAX];
	const char		*p = s, *end, *why;
	size_t			 n, i;
	long			 port = 0;

	memset(en, 0, sizeof(*en));
	if (s == NULL)
		return "host is missing or too long";
	en->en_https = 1;
	if (strncasecmp(p, "https://", 8) == 0)
		p += 8;
	else if (strncasecmp(p, "http://", 7) == 0) {
		p += 7;
		en->en_https = 0;
	} else if (strstr(p, "://") != NULL)
		return "scheme must be http or https";
	if (*p == '[') {
		if ((end = strchr(p, ']')) == NULL)
			return "unterminated IPv6 address";
		n = (size_t)(end - p - 1);
		p++;
		end++;
		en->en_ipv6 = 1;
	} else {
		end = p + strcspn(p, ":/");
		n = (size_t)(end - p);
	}
	if (n == 0 || n >= sizeof(host))
		return "host is missing or too long";
	memcpy(host, p, n);
	host[n] = '\0';
	if ((why = url_host_ascii(host)) != NULL)
		return why;
	for (p = host; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' &&
		    *p != ':' && *p != '_')
			return "host holds characters a host name cannot";
	if (*end == ':') {
		for (p = end + 1; isdigit((unsigned char)*p) && port <= 65535;
		    p++)
			port = port * 10 + (*p - '0');
		if (p == end + 1 || port < 1 || port > 65535)
			return "port must be a number from 1 to 65535";
		end = p;
	}
	if (*end == '/')
		end++;
	if (*end != '\0')
		return "must be a host name, optionally with a scheme and "
		    "port, without a path";
	if (en->en_ipv6) {
		if (inet_pton(AF_INET6, host, &a6) != 1)
			return "not a valid IPv6 address";
	} else {
		if (n > 1 && host[n - 1] == '.')
			host[--n] = '\0';
		if (!endpoint_name_ok(host))
			return "not a valid host name: labels of letters, "
			    "digits, '-' and '_', none empty, none starting "
			    "or ending with '-'";
	}
	for (i = 0; i <= n; i++)
		en->en_host[i] = (char)tolower((unsigned char)host[i]);
	en->en_port = (unsigned)port;
	/* Address literals and localhost have no bucket subdomains. */
	en->en_path_style = en->en_ipv6 || strcmp(en->en_host, "localhost") ==
	    0 || egress_literal(en->en_host, &ss);
	return NULL;
}
