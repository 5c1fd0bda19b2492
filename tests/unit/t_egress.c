/* t_egress.c -- address literals, their classes, the [egress] check */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include "egress.h"
#include "tap.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

#define PUB	EGRESS_PUBLIC
#define LOOP	EGRESS_LOOPBACK
#define PRIV	EGRESS_PRIVATE
#define LINK	EGRESS_LINKLOCAL
#define CGNAT	EGRESS_CGNAT
#define META	EGRESS_METADATA
#define MCAST	EGRESS_MULTICAST
#define UNSPEC	EGRESS_UNSPECIFIED
#define DOC	EGRESS_DOCUMENTATION
#define RSVD	EGRESS_RESERVED

static const struct {
	const char		*lit;
	enum egress_class	 cls;
} table[] = {
	/* IPv4 loopback, in every spelling inet_aton() takes */
	{ "127.0.0.1", LOOP },
	{ "127.255.255.254", LOOP },
	{ "127.0.0.0", LOOP },
	{ "2130706433", LOOP },		/* decimal */
	{ "0x7f000001", LOOP },		/* hex */
	{ "0X7F000001", LOOP },
	{ "0x7f.1", LOOP },		/* hex, two parts */
	{ "0177.0.0.1", LOOP },		/* octal */
	{ "017700000001", LOOP },	/* octal, one part */
	{ "127.1", LOOP },		/* short */
	{ "127.0.1", LOOP },
	{ "[127.0.0.1]", LOOP },
	/* RFC 1918 and the public addresses around them */
	{ "10.0.0.1", PRIV },
	{ "10.255.255.255", PRIV },
	{ "9.255.255.255", PUB },
	{ "11.0.0.0", PUB },
	{ "172.16.0.0", PRIV },
	{ "172.20.1.2", PRIV },
	{ "172.31.255.255", PRIV },
	{ "172.15.255.255", PUB },
	{ "172.32.0.0", PUB },
	{ "192.168.0.1", PRIV },
	{ "192.168.255.255", PRIV },
	{ "192.167.255.255", PUB },
	{ "192.169.0.0", PUB },
	{ "0xc0a80001", PRIV },		/* 192.168.0.1 in hex */
	/* link-local and the metadata services */
	{ "169.254.0.1", LINK },
	{ "169.254.255.255", LINK },
	{ "169.254.169.253", LINK },
	{ "169.253.255.255", PUB },
	{ "169.255.0.0", PUB },
	{ "169.254.169.254", META },
	{ "2852039166", META },		/* 169.254.169.254 in decimal */
	{ "100.100.100.200", META },
	{ "100.100.100.199", CGNAT },
	/* CGNAT 100.64/10 */
	{ "100.64.0.0", CGNAT },
	{ "100.127.255.255", CGNAT },
	{ "100.63.255.255", PUB },
	{ "100.128.0.0", PUB },
	/* 0/8 */
	{ "0.0.0.0", UNSPEC },
	{ "0.1.2.3", UNSPEC },
	{ "0", UNSPEC },
	{ "0.255.255.255", UNSPEC },
	/* multicast 224/4 */
	{ "224.0.0.1", MCAST },
	{ "239.255.255.255", MCAST },
	{ "223.255.255.255", PUB },
	/* 240/4 and broadcast */
	{ "240.0.0.1", RSVD },
	{ "254.1.2.3", RSVD },
	{ "255.255.255.255", RSVD },
	{ "4294967295", RSVD },
	/* documentation TEST-NET-1/2/3 */
	{ "192.0.2.1", DOC },
	{ "192.0.2.255", DOC },
	{ "198.51.100.7", DOC },
	{ "203.0.113.9", DOC },
	{ "192.0.3.0", PUB },
	{ "203.0.112.255", PUB },
	/* other special use */
	{ "198.18.0.1", RSVD },		/* benchmarking 198.18/15 */
	{ "198.19.255.255", RSVD },
	{ "198.17.255.255", PUB },
	{ "198.20.0.0", PUB },
	{ "192.0.0.8", RSVD },		/* IETF protocol assignments */
	{ "192.88.99.1", RSVD },	/* 6to4 relay anycast */
	/* public */
	{ "8.8.8.8", PUB },
	{ "1.1.1.1", PUB },
	{ "47.95.0.1", PUB },

	/* IPv6 */
	{ "::1", LOOP },
	{ "0:0:0:0:0:0:0:1", LOOP },
	{ "[::1]", LOOP },
	{ "::", UNSPEC },
	{ "[::]", UNSPEC },
	{ "fe80::1", LINK },
	{ "FE80::1", LINK },
	{ "febf:ffff::1", LINK },
	{ "fe80::1%lo", LINK },		/* with a zone */
	{ "fc00::1", PRIV },
	{ "fd12::1", PRIV },
	{ "fdff:ffff::1", PRIV },
	{ "fec0::1", PRIV },		/* site-local, deprecated */
	{ "ff02::1", MCAST },
	{ "ff0e::1", MCAST },
	{ "2001:db8::1", DOC },
	{ "2001:db8:ffff::1", DOC },
	{ "100::1", RSVD },		/* discard-only */
	{ "2001:1::1", RSVD },		/* 2001::/23 IETF assignments */
	{ "4000::1", RSVD },		/* outside 2000::/3 */
	/* IPv4 embedded in IPv6: classified by the IPv4 address */
	{ "::ffff:127.0.0.1", LOOP },	/* mapped */
	{ "::ffff:7f00:1", LOOP },
	{ "[::ffff:7f00:1]", LOOP },
	{ "::ffff:169.254.169.254", META },
	{ "::ffff:100.100.100.200", META },
	{ "::ffff:10.0.0.1", PRIV },
	{ "::ffff:100.64.0.1", CGNAT },
	{ "::ffff:0.0.0.0", UNSPEC },
	{ "::ffff:8.8.8.8", PUB },
	{ "::127.0.0.1", LOOP },	/* compatible, deprecated */
	{ "64:ff9b::7f00:1", LOOP },	/* NAT64 */
	{ "64:ff9b::127.0.0.1", LOOP },
	{ "64:ff9b::a9fe:a9fe", META },
	{ "64:ff9b::10.1.2.3", PRIV },
	{ "64:ff9b::8.8.8.8", PUB },
	{ "64:ff9b:1::7f00:1", LOOP },	/* local-use NAT64 */
	{ "2002:7f00:1::1", LOOP },	/* 6to4 */
	{ "2002:0a00:0001::1", PRIV },
	{ "2002:a9fe:a9fe::1", META },
	{ "2002:0808:0808::1", PUB },
	/* Teredo: the client address is the last 32 bits, inverted */
	{ "2001:0:4136:e378:8000:63bf:80ff:fffe", LOOP },	/* 127.0.0.1 */
	{ "2001:0:4136:e378:8000:63bf:f5ff:fffe", PRIV },	/* 10.0.0.1 */
	{ "2001:0:4136:e378:8000:63bf:5601:5601", META },	/* 169.254.169.254 */
	{ "2001:0:4136:e378:8000:63bf:f7f7:f7f7", PUB },	/* 8.8.8.8 */
	{ "fd00:ec2::254", META },	/* AWS metadata over IPv6 */
	/* public */
	{ "2606:4700::1111", PUB },
	{ "[2606:4700::1111]", PUB },
	{ "2400:3200::1", PUB },
	{ "2001:4860:4860::8888", PUB },
};

static const char *const names[] = {
	"localhost",
	"LOCALHOST",
	"example.com",
	"oss-cn-beijing.aliyuncs.com",
	"foo.localhost",
	"",
	"[]",
	"[::1",
	"::1]",
	"[example.com]",
	"127.0.0.1:80",
	"[::1]:80",
	"127.0.0.1 ",
	" 127.0.0.1",
	"127.0.0.1.",
	"1.2.3.4.5",
	"08.8.8.8",			/* 8 is not an octal digit */
	"4294967296",			/* 2^32 */
	"0x100000000",
	"127.0.0.1/8",
	"1::2::3",
	"gggg::1",
};

static const char *
cls(enum egress_class c)
{
	return egress_class_name(c);
}

static void
test_table(void)
{
	struct sockaddr_storage	 ss;
	enum egress_class	 want, got;
	size_t			 i;
	int			 lit;

	for (i = 0; i < NELEM(table); i++) {
		want = table[i].cls;
		memset(&ss, 0xa5, sizeof(ss));
		lit = egress_literal(table[i].lit, &ss);
		if (!lit) {
			tap_ok(0, "%s is a literal", table[i].lit);
			continue;
		}
		got = egress_classify((struct sockaddr *)&ss);
		tap_ok(got == want, "%s is %s (got %s)", table[i].lit,
		    cls(want), cls(got));
	}
}

static void
test_literal(void)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)&ss;
	struct in6_addr		 want6;
	size_t			 i;

	for (i = 0; i < NELEM(names); i++)
		tap_ok(egress_literal(names[i], &ss) == 0,
		    "\"%s\" is not an address literal", names[i]);

	tap_ok(egress_literal("2130706433", &ss) == 1 &&
	    ss.ss_family == AF_INET &&
	    s4->sin_addr.s_addr == htonl(0x7f000001) && s4->sin_port == 0,
	    "\"2130706433\" fills an AF_INET 127.0.0.1, port 0");
	inet_pton(AF_INET6, "2606:4700::1111", &want6);
	tap_ok(egress_literal("[2606:4700::1111]", &ss) == 1 &&
	    ss.ss_family == AF_INET6 &&
	    memcmp(&s6->sin6_addr, &want6, sizeof(want6)) == 0,
	    "\"[2606:4700::1111]\" fills an AF_INET6 without brackets");
}

static void
test_classify_raw(void)
{
	struct sockaddr_in	s4;
	struct sockaddr_in6	s6;
	struct sockaddr_un	su;

	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	s4.sin_addr.s_addr = htonl(0x0a000001);
	tap_ok(egress_classify((struct sockaddr *)&s4) == PRIV,
	    "classify: a hand-made sockaddr_in 10.0.0.1 is private");
	s4.sin_port = htons(443);
	s4.sin_addr.s_addr = htonl(0x08080808);
	tap_ok(egress_classify((struct sockaddr *)&s4) == PUB,
	    "classify: 8.8.8.8:443 is public");
	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	s6.sin6_addr.s6_addr[15] = 1;
	tap_ok(egress_classify((struct sockaddr *)&s6) == LOOP,
	    "classify: a hand-made sockaddr_in6 ::1 is loopback");
	memset(&su, 0, sizeof(su));
	su.sun_family = AF_UNIX;
	tap_ok(egress_classify((struct sockaddr *)&su) == RSVD,
	    "classify: AF_UNIX is reserved (never public)");
}

/* The check the dispatcher makes, for literal addr reached as host. */
static int
allowed(const struct egress_policy *ep, const char *host, const char *addr)
{
	struct sockaddr_storage ss;

	if (!egress_literal(addr, &ss)) {
		printf("#   %s is not a literal\n", addr);
		return -1;
	}
	return egress_addr_allowed(ep, host, (struct sockaddr *)&ss);
}

static void
test_policy(void)
{
	struct egress_policy	 none = { 0, NULL, 0 };
	struct egress_policy	 priv = { 1, NULL, 0 };
	static char		 a_lo[] = "127.0.0.1";
	static char		 a_oss[] = "oss.internal.example";
	static char		 a_cb[] = "cb.hospital.example";
	static char		 a_v6[] = "::1";
	static char		 a_meta[] = "fd00:ec2::254";
	static char		 a_ten[] = "10.1.2.3";
	static char		*h_lo[] = { a_lo };
	static char		*h_name[] = { a_oss, a_cb };
	static char		*h_v6[] = { a_v6 };
	static char		*h_meta[] = { a_meta, a_ten };
	struct egress_policy	 lo = { 0, h_lo, 1 };
	struct egress_policy	 nm = { 0, h_name, 2 };
	struct egress_policy	 v6 = { 0, h_v6, 1 };
	struct egress_policy	 mx = { 0, h_meta, 2 };
	size_t			 i;

	/* default: every class but public refused */
	for (i = 0; i < NELEM(table); i++) {
		int want = table[i].cls == PUB;

		tap_ok(allowed(&none, NULL, table[i].lit) == want,
		    "default policy %s %s", want ? "allows" : "refuses",
		    table[i].lit);
	}
	tap_ok(allowed(&none, "cb.example", "127.0.0.1") == 0,
	    "default: a name resolving to 127.0.0.1 refused");
	tap_ok(allowed(&none, "metadata.google.internal", "169.254.169.254") ==
	    0, "default: a name resolving to the metadata address refused");
	tap_ok(allowed(&none, "cb.example", "93.184.216.34") == 1,
	    "default: a name resolving to a public address allowed");

	/* allow_private: everything */
	tap_ok(allowed(&priv, NULL, "127.0.0.1") == 1,
	    "allow_private: 127.0.0.1 allowed");
	tap_ok(allowed(&priv, "x", "169.254.169.254") == 1,
	    "allow_private: metadata allowed");
	tap_ok(allowed(&priv, NULL, "fd12::1") == 1,
	    "allow_private: fd12::1 allowed");
	tap_ok(allowed(&priv, NULL, "8.8.8.8") == 1,
	    "allow_private: public still allowed");

	/* allow_hosts = 127.0.0.1: that address, however it is written */
	tap_ok(allowed(&lo, "127.0.0.1", "127.0.0.1") == 1,
	    "allow_hosts 127.0.0.1: host 127.0.0.1 allowed");
	tap_ok(allowed(&lo, "2130706433", "127.0.0.1") == 1,
	    "allow_hosts 127.0.0.1: host 2130706433 allowed");
	tap_ok(allowed(&lo, "0x7f.1", "127.0.0.1") == 1,
	    "allow_hosts 127.0.0.1: host 0x7f.1 allowed");
	tap_ok(allowed(&lo, "0177.0.0.1", "0177.0.0.1") == 1,
	    "allow_hosts 127.0.0.1: host 0177.0.0.1 allowed");
	tap_ok(allowed(&lo, NULL, "127.0.0.1") == 1,
	    "allow_hosts 127.0.0.1: address alone allowed");
	tap_ok(allowed(&lo, "cb.test", "127.0.0.1") == 1,
	    "allow_hosts 127.0.0.1: a name resolving to it allowed");
	tap_ok(allowed(&lo, "127.0.0.2", "127.0.0.2") == 0,
	    "allow_hosts 127.0.0.1: 127.0.0.2 refused");
	tap_ok(allowed(&lo, NULL, "::1") == 0,
	    "allow_hosts 127.0.0.1: ::1 refused");
	tap_ok(allowed(&lo, "127.0.0.1", "10.0.0.1") == 1,
	    "allow_hosts 127.0.0.1: the listed host name decides, not the "
	    "address it resolved to");
	tap_ok(allowed(&lo, "cb.test", "169.254.169.254") == 0,
	    "allow_hosts 127.0.0.1: metadata through another name refused");

	/* allow_hosts of names, compared case-insensitively */
	tap_ok(allowed(&nm, "oss.internal.example", "10.0.0.5") == 1,
	    "allow_hosts name: listed host to a private address allowed");
	tap_ok(allowed(&nm, "OSS.Internal.EXAMPLE", "10.0.0.5") == 1,
	    "allow_hosts name: case does not matter");
	tap_ok(allowed(&nm, "cb.hospital.example", "192.168.1.9") == 1,
	    "allow_hosts name: second entry allowed");
	tap_ok(allowed(&nm, "oss.internal.example.evil", "10.0.0.5") == 0,
	    "allow_hosts name: a longer name is not the listed one");
	tap_ok(allowed(&nm, "internal.example", "10.0.0.5") == 0,
	    "allow_hosts name: a parent domain is not the listed one");
	tap_ok(allowed(&nm, NULL, "10.0.0.5") == 0,
	    "allow_hosts name: address alone refused");

	/* IPv6 entries */
	tap_ok(allowed(&v6, "[::1]", "::1") == 1,
	    "allow_hosts ::1: host [::1] allowed");
	tap_ok(allowed(&v6, "0:0:0:0:0:0:0:1", "::1") == 1,
	    "allow_hosts ::1: host 0:0:0:0:0:0:0:1 allowed");
	tap_ok(allowed(&v6, NULL, "::1") == 1,
	    "allow_hosts ::1: address alone allowed");
	tap_ok(allowed(&v6, NULL, "127.0.0.1") == 0,
	    "allow_hosts ::1: 127.0.0.1 refused");
	tap_ok(allowed(&mx, NULL, "fd00:0ec2:0::0254") == 1,
	    "allow_hosts fd00:ec2::254: another spelling allowed");
	tap_ok(allowed(&mx, "x", "10.1.2.3") == 1,
	    "allow_hosts 10.1.2.3: address reached through a name allowed");
	tap_ok(allowed(&mx, "x", "10.1.2.4") == 0,
	    "allow_hosts 10.1.2.3: 10.1.2.4 refused");

	tap_ok(egress_host_listed(&nm, NULL) == 0,
	    "host_listed: NULL host is not listed");
	tap_ok(egress_host_listed(&none, "localhost") == 0,
	    "host_listed: empty list lists nothing");
	tap_ok(egress_host_listed(&nm, "Cb.Hospital.Example") == 1,
	    "host_listed: case-insensitive");
	tap_ok(egress_host_listed(&lo, "127.1") == 1,
	    "host_listed: 127.1 is 127.0.0.1");
}

static void
test_names(void)
{
	static const char *const want[EGRESS__MAX] = {
		"public", "loopback", "private", "link-local",
		"shared address space (CGNAT)", "cloud metadata", "multicast",
		"unspecified", "documentation", "reserved",
	};
	int	c, d, distinct = 1;

	for (c = 0; c < EGRESS__MAX; c++) {
		tap_ok(egress_class_name((enum egress_class)c) != NULL,
		    "class %d has a name", c);
		TAP_STREQ(egress_class_name((enum egress_class)c), want[c],
		    want[c]);
		for (d = 0; d < c; d++)
			if (strcmp(egress_class_name((enum egress_class)c),
			    egress_class_name((enum egress_class)d)) == 0)
				distinct = 0;
	}
	tap_ok(distinct, "class names are distinct");
	TAP_STREQ(egress_class_name(EGRESS__MAX), "unknown",
	    "EGRESS__MAX is \"unknown\"");
}

/*
 * fixed: 2001::/23 is IETF protocol assignments (special use) but
 * egress_classify6() tests b[2] == 0 && b[3] < 2, i.e. only 2001::/31;
 * the rest of the /23 (benchmarking 2001:2::/48, ORCHIDv2 2001:20::/28,
 * ...) is classed public.  The test should be b[2] < 0x02.
 */
static void
test_bugs(void)
{
	static const char *const v[] = {
		"2001:2::1",		/* benchmarking, like 198.18/15 */
		"2001:20::1",		/* ORCHIDv2 */
		"2001:1ff:ffff::1",	/* last of the /23 */
	};
	struct sockaddr_storage	 ss;
	enum egress_class	 got;
	size_t			 i;

	for (i = 0; i < NELEM(v); i++) {
		got = egress_literal(v[i], &ss) ?
		    egress_classify((struct sockaddr *)&ss) : EGRESS__MAX;
		tap_ok(got == RSVD, "%s (in 2001::/23) is reserved "
		    "(got %s)", v[i], cls(got));
	}
	tap_ok(egress_literal("2001:200::1", &ss) &&
	    egress_classify((struct sockaddr *)&ss) == PUB,
	    "2001:200::1 (just past 2001::/23) is public");
}

/* Issue 16, item 5: what callers see names no address; the log's
 * detail does. */
static void
test_refusal(void)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_un	 un;
	char			 buf[256];

	TAP_STREQ(egress_refused_text, "not allowed by the gateway's egress "
	    "rules", "the callers' text");
	tap_ok(strpbrk(egress_refused_text, "0123456789:[") == NULL,
	    "it holds no address");

	egress_literal("127.0.0.1", &ss);
	egress_refusal_detail(buf, sizeof(buf), "bkt.example",
	    (struct sockaddr *)&ss);
	TAP_STREQ(buf, "bkt.example resolves to 127.0.0.1, a loopback "
	    "address, not allowed by [egress]", "detail: a name");
	egress_refusal_detail(buf, sizeof(buf), NULL, (struct sockaddr *)&ss);
	TAP_STREQ(buf, "127.0.0.1 is a loopback address, not allowed by "
	    "[egress]", "detail: no host");
	egress_literal("[fd00:ec2::254]", &ss);
	egress_refusal_detail(buf, sizeof(buf), "FD00:EC2::254",
	    (struct sockaddr *)&ss);
	TAP_STREQ(buf, "fd00:ec2::254 is a cloud metadata address, not "
	    "allowed by [egress]", "detail: the host is the address");
	egress_literal("10.0.0.1", &ss);
	egress_refusal_detail(buf, sizeof(buf), "", (struct sockaddr *)&ss);
	TAP_STREQ(buf, "10.0.0.1 is a private address, not allowed by "
	    "[egress]", "detail: an empty host");
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	egress_refusal_detail(buf, 40, "h", (struct sockaddr *)&un);
	tap_ok(strlen(buf) < 40 && strncmp(buf, "h resolves to (address "
	    "family", 26) == 0, "detail: another family, cut to fit: %s",
	    buf);
}

int
main(void)
{
	test_table();
	test_literal();
	test_classify_raw();
	test_policy();
	test_names();
	test_bugs();
	test_refusal();
	return tap_done();
}
