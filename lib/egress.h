/* egress.h -- which network addresses mias may connect to on a caller's behalf */
#ifndef MIAS_EGRESS_H
#define MIAS_EGRESS_H

#include <sys/socket.h>
#include <stddef.h>

/*
 * Callers choose callback URLs and OSS endpoints; without this check they
 * could make the gateway reach into the hospital network or a cloud metadata
 * service.  The policy comes from the [egress] section of the configuration.
 */
struct egress_policy {
	int		  ep_allow_private;	/* allow every class below */
	char		**ep_allow_hosts;	/* host names or address literals */
	size_t		  ep_allow_hosts_n;
};

enum egress_class {
	EGRESS_PUBLIC,
	EGRESS_LOOPBACK,
	EGRESS_PRIVATE,		/* RFC 1918, fc00::/7 */
	EGRESS_LINKLOCAL,	/* 169.254/16, fe80::/10 */
	EGRESS_CGNAT,		/* 100.64/10 */
	EGRESS_METADATA,	/* 169.254.169.254, 100.100.100.200, fd00:ec2::254 */
	EGRESS_MULTICAST,
	EGRESS_UNSPECIFIED,	/* 0.0.0.0/8, :: */
	EGRESS_DOCUMENTATION,	/* TEST-NET-1/2/3, 2001:db8::/32 */
	EGRESS_RESERVED,	/* 240/4, broadcast, benchmarking, other special use */
	EGRESS__MAX
};

/* Class of an address; IPv4-mapped, NAT64, 6to4 and Teredo forms are
 * classified by the IPv4 address they embed. */
enum egress_class	 egress_classify(const struct sockaddr *);
const char		*egress_class_name(enum egress_class);

/*
 * Parse a host that is an address literal, accepting every form that
 * inet_aton() and getaddrinfo() would (decimal "2130706433", hex "0x7f.1",
 * octal "0177.0.0.1", bracketed IPv6).  Returns 1 and fills *ss for a
 * literal, 0 for a name.
 */
int	 egress_literal(const char *host, struct sockaddr_storage *ss);

/* 1 when host (a name or literal, compared case-insensitively) is listed in
 * allow_hosts. */
int	 egress_host_listed(const struct egress_policy *, const char *host);

/*
 * The check made before connecting: 1 when mias may connect to address sa
 * reached through host name host (may be NULL), 0 when it must not.
 * Public addresses always pass; others only with allow_private or when
 * host or the address literal is in allow_hosts.
 */
int	 egress_addr_allowed(const struct egress_policy *, const char *host,
	    const struct sockaddr *sa);

/*
 * The same check before DNS, for a host as a caller wrote it: 1 when host
 * is an address literal that the policy refuses (*ss filled, for
 * egress_refusal_detail()), else 0.  Names are checked when curl
 * connects (lib/http.c).
 */
int	 egress_literal_refused(const struct egress_policy *,
	    const char *host, struct sockaddr_storage *ss);

/*
 * What callers are told when the policy refuses a host: this fixed text,
 * never the address a name resolved to nor its class, which would make
 * the gateway's resolver a probe of the internal network.  The detail is
 * for the log only: egress_refusal_detail() writes "host resolves to
 * addr, a loopback address, not allowed by [egress]" (or "addr is ..."
 * when host is NULL or the address itself) into buf.
 */
extern const char	 egress_refused_text[];
void	 egress_refusal_detail(char *buf, size_t len, const char *host,
	    const struct sockaddr *sa);

#endif /* MIAS_EGRESS_H */
