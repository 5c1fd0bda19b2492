/* egress.c -- which network addresses mias may connect to on a caller's behalf */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "egress.h"

static const char *const egress_names[EGRESS__MAX] = {
	"public",
	"loopback",
	"private",
	"link-local",
	"shared address space (CGNAT)",
	"cloud metadata",
	"multicast",
	"unspecified",
	"documentation",
	"reserved",
};

const char *
egress_class_name(enum egress_class c)
{
	return c < EGRESS__MAX ? egress_names[c] : "unknown";
}

#define V4(a, b, c, d)	((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))

/* The IPv4 ranges that are not public, the first that holds an address
 * deciding its class. */
static const struct egress_net4 {
	uint32_t		 en_net;
	int			 en_bits;
	enum egress_class	 en_class;
} egress_nets4[] = {
	{ V4(169, 254, 169, 254), 32, EGRESS_METADATA },
	{ V4(100, 100, 100, 200), 32, EGRESS_METADATA },
	{ V4(0, 0, 0, 0), 8, EGRESS_UNSPECIFIED },
	{ V4(127, 0, 0, 0), 8, EGRESS_LOOPBACK },
	{ V4(10, 0, 0, 0), 8, EGRESS_PRIVATE },
	{ V4(172, 16, 0, 0), 12, EGRESS_PRIVATE },
	{ V4(192, 168, 0, 0), 16, EGRESS_PRIVATE },
	{ V4(169, 254, 0, 0), 16, EGRESS_LINKLOCAL },
	{ V4(100, 64, 0, 0), 10, EGRESS_CGNAT },
	{ V4(224, 0, 0, 0), 4, EGRESS_MULTICAST },
	{ V4(192, 0, 2, 0), 24, EGRESS_DOCUMENTATION },
	{ V4(198, 51, 100, 0), 24, EGRESS_DOCUMENTATION },
	{ V4(203, 0, 113, 0), 24, EGRESS_DOCUMENTATION },
	{ V4(240, 0, 0, 0), 4, EGRESS_RESERVED },	/* incl. broadcast */
	{ V4(192, 0, 0, 0), 24, EGRESS_RESERVED },	/* IETF protocol */
	{ V4(198, 18, 0, 0), 15, EGRESS_RESERVED },	/* benchmarking */
	{ V4(192, 88, 99, 0), 24, EGRESS_RESERVED },	/* 6to4 relay */
};

/* a is in host byte order */
static enum egress_class
egress_classify4(uint32_t a)
{
	const struct egress_net4	*n;
	uint32_t			 mask;
	size_t				 i;

	for (i = 0; i < sizeof(egress_nets4) / sizeof(egress_nets4[0]); i++) {
		n = &egress_nets4[i];
		mask = n->en_bits == 0 ? 0 : 0xffffffffU << (32 - n->en_bits);
		if ((a & mask) == (n->en_net & mask))
			return n->en_class;
	}
	return EGRESS_PUBLIC;
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static enum egress_class
egress_classify6(const uint8_t *b)
{
	static const uint8_t	 zero[16];
	static const uint8_t	 metadata[16] =	/* fd00:ec2::254 */
	    { 0xfd, 0, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54 };
	uint8_t			 teredo[4];
	int			 i;

	if (memcmp(b, zero, 16) == 0)
		return EGRESS_UNSPECIFIED;
	if (memcmp(b, zero, 15) == 0 && b[15] == 1)
		return EGRESS_LOOPBACK;
	if (memcmp(b, metadata, 16) == 0)
		return EGRESS_METADATA;
	/* ::ffff:a.b.c.d (mapped) and ::a.b.c.d (deprecated compatible) */
	if (memcmp(b, zero, 10) == 0 &&
	    ((b[10] == 0xff && b[11] == 0xff) || (b[10] == 0 && b[11] == 0)))
		return egress_classify4(be32(b + 12));
	/* 64:ff9b::/96 and 64:ff9b:1::/48 (NAT64) */
	if (b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b &&
	    (memcmp(b + 4, zero, 8) == 0 || (b[4] == 0 && b[5] == 1)))
		return egress_classify4(be32(b + 12));
	/* 2002::/16 (6to4) embeds the IPv4 address in bits 16..47 */
	if (b[0] == 0x20 && b[1] == 0x02)
		return egress_classify4(be32(b + 2));
	/* 2001:0::/32 (Teredo): the client address, inverted, is last */
	if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0) {
		for (i = 0; i < 4; i++)
			teredo[i] = (uint8_t)~b[12 + i];
		return egress_classify4(be32(teredo));
	}
	if ((b[0] & 0xfe) == 0xfc)
		return EGRESS_PRIVATE;
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return EGRESS_LINKLOCAL;
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
		return EGRESS_PRIVATE;		/* site-local, deprecated */
	if (b[0] == 0xff)
		return EGRESS_MULTICAST;
	if ((b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) ||
	    (b[0] == 0x3f && b[1] == 0xff && (b[2] & 0xf0) == 0))
		return EGRESS_DOCUMENTATION;	/* 2001:db8::/32, 3fff::/20 */
	if (b[0] == 0x01 && memcmp(b + 1, zero, 7) == 0)
		return EGRESS_RESERVED;		/* 100::/64 discard */
	if (b[0] == 0x20 && b[1] == 0x01 && b[2] < 0x02)
		return EGRESS_RESERVED;		/* 2001::/23 special use */
	if ((b[0] & 0xe0) != 0x20)
		return EGRESS_RESERVED;		/* outside global unicast */
	return EGRESS_PUBLIC;
}

enum egress_class
egress_classify(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		return egress_classify4(ntohl(s4->sin_addr.s_addr));
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 =
		    (const struct sockaddr_in6 *)sa;

		return egress_classify6(s6->sin6_addr.s6_addr);
	}
	return EGRESS_RESERVED;
}

int
egress_literal(const char *host, struct sockaddr_storage *ss)
{
	struct addrinfo	 hints, *res = NULL;
	char		 buf[128];
	size_t		 len = strlen(host);

	if (len >= sizeof(buf) || len == 0)
		return 0;
	if (host[0] == '[' && host[len - 1] == ']') {
		memcpy(buf, host + 1, len - 2);
		buf[len - 2] = '\0';
	} else
		memcpy(buf, host, len + 1);

	/* AI_NUMERICHOST makes getaddrinfo parse every form the resolver
	 * would also accept (inet_aton's decimal, octal and hex), and never
	 * look anything up. */
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(buf, NULL, &hints, &res) != 0 || res == NULL)
		return 0;
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 1;
}

int
egress_host_listed(const struct egress_policy *ep, const char *host)
{
	struct sockaddr_storage	 a, b;
	size_t			 i;
	int			 lit;

	if (host == NULL)
		return 0;
	lit = egress_literal(host, &a);
	for (i = 0; i < ep->ep_allow_hosts_n; i++) {
		const char *h = ep->ep_allow_hosts[i];

		if (strcasecmp(h, host) == 0)
			return 1;
		/* the same address written another way still matches */
		if (lit && egress_literal(h, &b) && a.ss_family == b.ss_family) {
			if (a.ss_family == AF_INET &&
			    ((struct sockaddr_in *)&a)->sin_addr.s_addr ==
			    ((struct sockaddr_in *)&b)->sin_addr.s_addr)
				return 1;
			if (a.ss_family == AF_INET6 &&
			    memcmp(&((struct sockaddr_in6 *)&a)->sin6_addr,
			    &((struct sockaddr_in6 *)&b)->sin6_addr, 16) == 0)
				return 1;
		}
	}
	return 0;
}

/* The address as text (INET6_ADDRSTRLEN bytes): 0, or -1 for a family
 * other than IPv4 and IPv6 (addr untouched). */
static int
egress_addr_text(const struct sockaddr *sa, char *addr)
{
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    addr, INET6_ADDRSTRLEN);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)sa)->sin6_addr, addr,
		    INET6_ADDRSTRLEN);
	else
		return -1;
	return 0;
}

int
egress_literal_refused(const struct egress_policy *ep, const char *host,
    struct sockaddr_storage *ss)
{
	return egress_literal(host, ss) &&
	    !egress_addr_allowed(ep, host, (const struct sockaddr *)ss);
}

int
egress_addr_allowed(const struct egress_policy *ep, const char *host,
    const struct sockaddr *sa)
{
	char	addr[INET6_ADDRSTRLEN];

	if (egress_classify(sa) == EGRESS_PUBLIC || ep->ep_allow_private)
		return 1;
	if (egress_host_listed(ep, host))
		return 1;
	if (egress_addr_text(sa, addr) == -1)
		return 0;
	return egress_host_listed(ep, addr);
}

const char egress_refused_text[] = "not allowed by the gateway's egress rules";

void
egress_refusal_detail(char *buf, size_t len, const char *host,
    const struct sockaddr *sa)
{
	char		 addr[INET6_ADDRSTRLEN] = "";
	const char	*cls = egress_class_name(egress_classify(sa));
	const char	*an = strchr("aeiou", cls[0]) != NULL ? "an" : "a";

	if (egress_addr_text(sa, addr) == -1)
		snprintf(addr, sizeof(addr), "(address family %d)",
		    sa->sa_family);
	if (host != NULL && *host != '\0' && strcasecmp(host, addr) != 0)
		snprintf(buf, len, "%s resolves to %s, %s %s address, not "
		    "allowed by [egress]", host, addr, an, cls);
	else
		snprintf(buf, len, "%s is %s %s address, not allowed by "
		    "[egress]", addr, an, cls);
}
