/* t_url.c -- callback URL checks, namespace callback hosts, OSS endpoints */
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "egress.h"
#include "ns.h"
#include "oss_name.h"
#include "url.h"
#include "tap.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static struct egress_policy	pol_none = { 0, NULL, 0 };
static struct egress_policy	pol_priv = { 1, NULL, 0 };
static char			a_lo[] = "127.0.0.1";
static char			a_lh[] = "localhost";
static char			a_oss[] = "OSS.Internal.Example";
static char			*h_lo[] = { a_lo };
static char			*h_lh[] = { a_lh };
static char			*h_oss[] = { a_oss };
static struct egress_policy	pol_lo = { 0, h_lo, 1 };
static struct egress_policy	pol_lh = { 0, h_lh, 1 };
static struct egress_policy	pol_oss = { 0, h_oss, 1 };

static char	why[512];

/* url_callback_check(): "" when accepted, else the reason given. */
static const char *
cb(const char *url, const struct egress_policy *ep, json_object *nsrec)
{
	const char *r;

	memset(why, 0, sizeof(why));
	r = url_callback_check(url, ep, nsrec, why, sizeof(why));
	if (r == NULL)
		return "";
	if (r != why)
		printf("#   reason not in the caller's buffer\n");
	return *r != '\0' ? r : "(empty reason)";
}

static void
ok_cb(const char *url, const struct egress_policy *ep, json_object *ns,
    const char *name)
{
	const char *r = cb(url, ep, ns);

	tap_ok(*r == '\0', "%s: %s accepted", name, url);
	if (*r != '\0')
		printf("#   refused: %s\n", r);
}

static void
bad_cb(const char *url, const struct egress_policy *ep, json_object *ns,
    const char *name, const char *want_sub)
{
	const char *r = cb(url, ep, ns);

	tap_ok(*r != '\0' && strstr(r, want_sub) != NULL,
	    "%s: %s refused, reason mentions '%s'", name, url, want_sub);
	if (*r == '\0')
		printf("#   accepted\n");
	else if (strstr(r, want_sub) == NULL)
		printf("#   reason: %s\n", r);
}

static const char *const private_urls[] = {
	"http://127.0.0.1/",
	"http://127.0.0.1:8080/cb",
	"http://[::1]:8080/",
	"http://localhost/",
	"http://LocalHost:80/x",
	"http://foo.localhost/",
	"http://169.254.169.254/latest",
	"http://169.254.169.254/latest/meta-data/iam/security-credentials/",
	"http://100.100.100.200/latest/meta-data/",
	"http://[fd00:ec2::254]/latest",
	"http://2130706433/",
	"http://0x7f.1/",
	"http://0177.0.0.1/",
	"http://127.1/",
	"http://0/",
	"http://%31%32%37.0.0.1/",
	"http://[::ffff:127.0.0.1]/",
	"http://[0:0:0:0:0:ffff:7f00:1]/",
	"http://[fe80::1%25lo]/",
	"http://10.0.0.1/",
	"http://172.16.5.4/",
	"http://192.168.1.1/admin",
	"http://100.64.0.1/",
	"http://[fc00::1]/",
	"http://[64:ff9b::7f00:1]/",
	"http://[2002:7f00:1::1]/",
	"https:///169.254.169.254/latest",	/* curl takes this host */
	"http:/127.0.0.1/",
};

static void
test_callback(void)
{
	size_t i;

	ok_cb("https://cb.example.org/notify", &pol_none, NULL, "public");
	ok_cb("http://cb.example.org:8080/a/b?c=d#e", &pol_none, NULL,
	    "public with port, query, fragment");
	ok_cb("HTTPS://CB.EXAMPLE.ORG/", &pol_none, NULL, "upper-case scheme");
	ok_cb("http://8.8.8.8/x", &pol_none, NULL, "public IPv4 literal");
	ok_cb("http://[2606:4700::1111]:443/x", &pol_none, NULL,
	    "public IPv6 literal");

	bad_cb("ftp://cb.example.org/x", &pol_none, NULL, "ftp", "scheme");
	TAP_STREQ(cb("ftp://cb.example.org/x", &pol_none, NULL),
	    "scheme ftp is not allowed; use http or https", "ftp: reason");
	bad_cb("file:///etc/passwd", &pol_none, NULL, "file", "");
	bad_cb("gopher://cb.example.org/", &pol_none, NULL, "gopher",
	    "scheme");
	bad_cb("javascript:alert(1)", &pol_none, NULL, "javascript", "");
	TAP_STREQ(cb("not a url", &pol_none, NULL), "not a valid absolute URL",
	    "'not a url' refused");
	TAP_STREQ(cb("", &pol_none, NULL), "not a valid absolute URL",
	    "empty URL refused");
	TAP_STREQ(cb("/relative/path", &pol_none, NULL),
	    "not a valid absolute URL", "relative URL refused");
	TAP_STREQ(cb("cb.example.org/notify", &pol_none, NULL),
	    "not a valid absolute URL", "URL without a scheme refused");
	TAP_STREQ(cb("http://cb.example.org /x", &pol_none, NULL),
	    "not a valid absolute URL", "URL with a space refused");
	TAP_STREQ(cb("https://cb.example.org:99999/", &pol_none, NULL),
	    "not a valid absolute URL", "port 99999 refused");

	TAP_STREQ(cb("https://user:pass@cb.example.org/", &pol_none, NULL),
	    "must not carry a user name or password", "user:pass@ refused");
	TAP_STREQ(cb("https://user@cb.example.org/", &pol_none, NULL),
	    "must not carry a user name or password", "user@ refused");
	TAP_STREQ(cb("https://:pw@cb.example.org/", &pol_none, NULL),
	    "must not carry a user name or password", ":pw@ refused");
	TAP_STREQ(cb("http://cb.example.org\\@127.0.0.1/", &pol_none, NULL),
	    "must not carry a user name or password",
	    "backslash-@ confusion refused");

	/* callers are told the rule, never the address's class (issue 16,
	 * item 5): one fixed text */
	TAP_STREQ(cb("http://127.0.0.1/", &pol_none, NULL),
	    "host 127.0.0.1 is not allowed by the gateway's egress rules",
	    "127.0.0.1: reason");
	TAP_STREQ(cb("http://[::1]:8080/", &pol_none, NULL),
	    "host ::1 is not allowed by the gateway's egress rules",
	    "[::1]: reason names the host without brackets");
	TAP_STREQ(cb("http://localhost/", &pol_none, NULL),
	    "host localhost is not allowed by the gateway's egress rules",
	    "localhost: reason");
	TAP_STREQ(cb("http://169.254.169.254/latest", &pol_none, NULL),
	    "host 169.254.169.254 is not allowed by the gateway's egress "
	    "rules", "169.254.169.254: reason");
	bad_cb("http://2130706433/", &pol_none, NULL, "decimal",
	    "egress rules");

	for (i = 0; i < NELEM(private_urls); i++)
		bad_cb(private_urls[i], &pol_none, NULL, "default policy",
		    "host");
	/* allow_private lets every one of them through */
	for (i = 0; i < NELEM(private_urls); i++)
		ok_cb(private_urls[i], &pol_priv, NULL, "allow_private");

	/* allow_hosts = 127.0.0.1 */
	ok_cb("http://127.0.0.1:8080/cb", &pol_lo, NULL, "allow_hosts 127.0.0.1");
	ok_cb("http://2130706433/", &pol_lo, NULL, "allow_hosts 127.0.0.1");
	ok_cb("http://127.1/", &pol_lo, NULL, "allow_hosts 127.0.0.1");
	bad_cb("http://127.0.0.2/", &pol_lo, NULL, "allow_hosts 127.0.0.1",
	    "egress rules");
	bad_cb("http://[::1]/", &pol_lo, NULL, "allow_hosts 127.0.0.1",
	    "egress rules");
	bad_cb("http://localhost/", &pol_lo, NULL, "allow_hosts 127.0.0.1",
	    "egress rules");
	bad_cb("http://169.254.169.254/", &pol_lo, NULL,
	    "allow_hosts 127.0.0.1", "egress rules");
	/* allow_hosts = localhost */
	ok_cb("http://localhost:8080/", &pol_lh, NULL, "allow_hosts localhost");
	ok_cb("http://LOCALHOST/", &pol_lh, NULL, "allow_hosts localhost");
	bad_cb("http://foo.localhost/", &pol_lh, NULL, "allow_hosts localhost",
	    "egress rules");
	/* a name in allow_hosts does not matter before DNS */
	ok_cb("http://oss.internal.example/", &pol_oss, NULL,
	    "allow_hosts of a name");
}

/*
 * fixed: url_is_localhost() does not take the absolute form with a
 * trailing dot, so "localhost." and "foo.localhost." pass the early check
 * that "localhost" fails (the connect-time check still catches them, but
 * the caller gets no 100009).
 */
static void
test_callback_bugs(void)
{
	bad_cb("http://localhost./", &pol_none, NULL,
	    "trailing dot", "egress rules");
	bad_cb("http://foo.localhost./", &pol_none, NULL,
	    "trailing dot", "egress rules");
}

/* What executeAnalysis and triggerAnalysis do with an endpoint: the one
 * rule (oss_name.c), then [egress] on its host. */
static const char *
endpoint_parse(const char *s, char *host, size_t hostlen)
{
	struct oss_endpoint	 en;
	const char		*bad;

	if ((bad = oss_endpoint_parse(s, &en)) == NULL)
		snprintf(host, hostlen, "%s", en.en_host);
	return bad;
}

static const char *
endpoint_check(const char *s, const struct egress_policy *ep, char *buf,
    size_t buflen)
{
	char		 host[URL_HOST_MAX];
	const char	*bad;

	if ((bad = endpoint_parse(s, host, sizeof(host))) != NULL) {
		snprintf(buf, buflen, "%s", bad);
		return buf;
	}
	return url_host_check(host, ep, buf, buflen);
}

/* Issue 16, item 6: a host that is not ASCII was accepted (000000) and
 * then failed in libcurl at every attempt until it dead-lettered. */
static void
test_not_ascii(void)
{
	static const char *const hosts[] = {
		"127\xe3\x80\x82" "0\xe3\x80\x82" "0\xe3\x80\x82" "1", /* U+3002 */
		"127\xef\xbc\x8e" "0.0.1",		/* U+FF0E fullwidth */
		"127\xef\xbd\xa1" "0.0.1",		/* U+FF61 halfwidth */
		"b\xc3\xbc" "cher.example",		/* IDN: buecher */
		"127%E3%80%82" "0%E3%80%82" "0%E3%80%82" "1",
		"b%C3%BCcher.example",
		"a%ff.example",
	};
	char	url[256], host[URL_HOST_MAX];
	size_t	i;

	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		snprintf(url, sizeof(url), "http://%s:8080/cb", hosts[i]);
		bad_cb(url, &pol_none, NULL, "not ASCII", "not ASCII");
		bad_cb(url, &pol_priv, NULL, "not ASCII, even with "
		    "allow_private", "not ASCII");
		snprintf(url, sizeof(url), "https://%s:9000", hosts[i]);
		tap_ok(endpoint_parse(url, host, sizeof(host)) ==
		    url_not_ascii, "endpoint %s: url_not_ascii", url);
		tap_ok(url_host_ascii(hosts[i]) == url_not_ascii,
		    "url_host_ascii(%s)", hosts[i]);
	}
	TAP_STREQ(url_not_ascii, "host is not ASCII; write an "
	    "internationalised name in its ASCII (xn--) form", "the reason");
	tap_ok(url_host_ascii("xn--bcher-kva.example") == NULL &&
	    url_host_ascii("127.0.0.1") == NULL && url_host_ascii("") == NULL,
	    "ASCII hosts (the xn-- form) pass the rule");
	ok_cb("https://xn--bcher-kva.example/cb", &pol_none, NULL,
	    "the xn-- form");
	tap_ok(endpoint_parse("xn--bcher-kva.example", host,
	    sizeof(host)) == NULL, "endpoint: the xn-- form");
	/* an ASCII %XX in a host is not this rule's (libcurl's or the
	 * endpoint's character check refuses it) */
	tap_ok(url_host_ascii("%31%32%37.0.0.1") == NULL,
	    "%%31 (ASCII) is not the rule's");
}

static json_object *
ns_with_hosts(const struct crypto_keys *k, const char *const *hosts,
    size_t n)
{
	static const unsigned char secret[NS_SECRET_LEN] = { 1, 2, 3 };
	json_object	*rec, *arr;
	size_t		 i;

	rec = ns_record_new(k, "hospital-a", "tok-0123456789abcdef", 0,
	    secret);
	if (rec == NULL)
		return NULL;
	if (hosts != NULL) {
		arr = json_object_new_array();
		for (i = 0; i < n; i++)
			json_object_array_add(arr,
			    json_object_new_string(hosts[i]));
		json_object_object_add(rec, "callbackHosts", arr);
	}
	return rec;
}

static void
test_namespace(void)
{
	static const char *const one[] = { "cb.hospital.example" };
	static const char *const two[] = { "cb.hospital.example",
	    "Backup.Hospital.Example" };
	static const char *const lo[] = { "127.0.0.1" };
	unsigned char		 master[CRYPTO_KEYLEN];
	struct crypto_keys	 k;
	json_object		*rec, *open;
	size_t			 i;

	for (i = 0; i < sizeof(master); i++)
		master[i] = (unsigned char)(0x40 + i);
	crypto_keys_derive(master, &k);

	open = ns_with_hosts(&k, NULL, 0);
	tap_ok(open != NULL, "ns_record_new builds a record");
	if (open != NULL) {
		ok_cb("https://anything.example/x", &pol_none, open,
		    "namespace without callback hosts");
		bad_cb("http://127.0.0.1/", &pol_none, open,
		    "namespace without callback hosts", "egress rules");
		json_object_put(open);
	}

	rec = ns_with_hosts(&k, one, NELEM(one));
	tap_ok(rec != NULL, "namespace with callbackHosts "
	    "[\"cb.hospital.example\"]");
	if (rec == NULL)
		return;
	ok_cb("https://cb.hospital.example/x", &pol_none, rec, "ns host");
	ok_cb("http://cb.hospital.example:8443/notify?id=1", &pol_none, rec,
	    "ns host with port and query");
	ok_cb("https://CB.Hospital.EXAMPLE/x", &pol_none, rec,
	    "ns host, other case");
	TAP_STREQ(cb("https://evil.example/x", &pol_none, rec),
	    "host evil.example is not a callback host of this namespace",
	    "ns: evil.example refused");
	bad_cb("https://cb.hospital.example.evil.example/x", &pol_none, rec,
	    "ns", "not a callback host");
	bad_cb("https://sub.cb.hospital.example/x", &pol_none, rec, "ns",
	    "not a callback host");
	bad_cb("https://hospital.example/x", &pol_none, rec, "ns",
	    "not a callback host");
	bad_cb("https://127.0.0.1/x", &pol_priv, rec,
	    "ns (even with allow_private)", "not a callback host");
	bad_cb("ftp://cb.hospital.example/x", &pol_none, rec, "ns", "scheme");
	json_object_put(rec);

	rec = ns_with_hosts(&k, two, NELEM(two));
	ok_cb("https://backup.hospital.example/x", &pol_none, rec,
	    "ns, second host, case-insensitive");
	bad_cb("https://other.hospital.example/x", &pol_none, rec, "ns two",
	    "not a callback host");
	json_object_put(rec);

	/* a namespace cannot widen [egress] */
	rec = ns_with_hosts(&k, lo, NELEM(lo));
	bad_cb("http://127.0.0.1:8080/cb", &pol_none, rec,
	    "ns host 127.0.0.1, default egress", "egress rules");
	ok_cb("http://127.0.0.1:8080/cb", &pol_lo, rec,
	    "ns host 127.0.0.1, allow_hosts 127.0.0.1");
	json_object_put(rec);

	crypto_keys_wipe(&k);
}

#define HOSTNAME_WHY	"not a valid host name: labels of letters, " \
	"digits, '-' and '_', none empty, none starting or ending with '-'"

static void
test_endpoint(void)
{
	static const struct {
		const char	*in, *host;
	} good[] = {
		{ "oss-cn-beijing.aliyuncs.com", "oss-cn-beijing.aliyuncs.com" },
		{ "https://oss-cn-beijing.aliyuncs.com",
		    "oss-cn-beijing.aliyuncs.com" },
		{ "http://oss-cn-beijing.aliyuncs.com/",
		    "oss-cn-beijing.aliyuncs.com" },
		{ "HTTPS://Oss.Example:443/", "oss.example" },
		{ "http://127.0.0.1:9000", "127.0.0.1" },
		{ "127.0.0.1:9000", "127.0.0.1" },
		{ "[::1]:9000", "::1" },
		{ "https://[2606:4700::1111]/", "2606:4700::1111" },
		{ "host/", "host" },
		{ "minio_1.local:65535", "minio_1.local" },
	};
	static const struct {
		const char	*in, *why;
	} bad[] = {
		{ "ftp://x", "scheme must be http or https" },
		{ "s3://bucket", "scheme must be http or https" },
		{ "host/path", "must be a host name, optionally with a scheme "
		    "and port, without a path" },
		{ "https://oss.example/bucket/key", "must be a host name, "
		    "optionally with a scheme and port, without a path" },
		{ "host:port", "port must be a number from 1 to 65535" },
		{ "host:", "port must be a number from 1 to 65535" },
		{ "host:123456", "port must be a number from 1 to 65535" },
		{ "", "host is missing or too long" },
		{ "https://", "host is missing or too long" },
		{ ":9000", "host is missing or too long" },
		{ "[]:9000", "host is missing or too long" },
		{ "ho st", "host holds characters a host name cannot" },
		{ "user@host", "host holds characters a host name cannot" },
		{ "host?x=1", "host holds characters a host name cannot" },
		{ "[::1", "unterminated IPv6 address" },
		/* issue 18: accepted here and refused by the dispatcher */
		{ "http://a..b.example.com", HOSTNAME_WHY },
		{ "http://-x.example.com", HOSTNAME_WHY },
		{ "http://x-.example.com", HOSTNAME_WHY },
		{ "[not-v6]:80", "not a valid IPv6 address" },
		{ " oss.example", "host holds characters a host name cannot" },
		{ "[::1]x", "must be a host name, optionally with a scheme "
		    "and port, without a path" },
	};
	char		host[URL_HOST_MAX];
	const char	*r;
	size_t		i;

	for (i = 0; i < NELEM(good); i++) {
		memset(host, 0, sizeof(host));
		r = endpoint_parse(good[i].in, host, sizeof(host));
		tap_ok(r == NULL && strcmp(host, good[i].host) == 0,
		    "endpoint \"%s\" parses to host %s", good[i].in,
		    good[i].host);
		if (r != NULL)
			printf("#   refused: %s\n", r);
	}
	for (i = 0; i < NELEM(bad); i++) {
		r = endpoint_parse(bad[i].in, host, sizeof(host));
		TAP_STREQ(r, bad[i].why, bad[i].in[0] ? bad[i].in :
		    "endpoint \"\"");
	}
	{
		char	longhost[OSS_HOST_MAX + 8];

		memset(longhost, 'a', sizeof(longhost) - 1);
		longhost[sizeof(longhost) - 1] = '\0';
		TAP_STREQ(endpoint_parse(longhost, host, sizeof(host)),
		    "host is missing or too long", "host of 263 bytes");
	}

	/* fixed: the port is not checked to be 1..65535 */
	tap_ok(endpoint_parse("host:99999", host, sizeof(host)) != NULL,
	    "endpoint port 99999 refused");
	tap_ok(endpoint_parse("host:0", host, sizeof(host)) != NULL,
	    "endpoint port 0 refused");

	/* the responders' check: the one rule, then [egress] */
	tap_ok(endpoint_check("oss-cn-beijing.aliyuncs.com", &pol_none,
	    why, sizeof(why)) == NULL, "endpoint check: OSS public name");
	tap_ok(endpoint_check("https://47.95.0.1", &pol_none, why,
	    sizeof(why)) == NULL, "endpoint check: public IPv4");
	TAP_STREQ(endpoint_check("http://127.0.0.1:9000", &pol_none, why,
	    sizeof(why)), "host 127.0.0.1 is not allowed by the gateway's "
	    "egress rules", "endpoint check: 127.0.0.1 refused");
	TAP_STREQ(endpoint_check("ftp://x", &pol_none, why, sizeof(why)),
	    "scheme must be http or https",
	    "endpoint check: parse error passed on");
	r = endpoint_check("[::1]:9000", &pol_none, why, sizeof(why));
	tap_ok(r != NULL && strstr(r, "egress rules") != NULL,
	    "endpoint check: [::1]:9000 refused");
	r = endpoint_check("2130706433:9000", &pol_none, why, sizeof(why));
	tap_ok(r != NULL && strstr(r, "egress rules") != NULL,
	    "endpoint check: 2130706433:9000 refused");
	r = endpoint_check("http://localhost:9000", &pol_none, why,
	    sizeof(why));
	tap_ok(r != NULL && strstr(r, "egress rules") != NULL,
	    "endpoint check: localhost refused");
	r = endpoint_check("169.254.169.254", &pol_none, why, sizeof(why));
	tap_ok(r != NULL && strstr(r, "egress rules") != NULL,
	    "endpoint check: 169.254.169.254 refused");
	r = endpoint_check("http://[fd00:ec2::254]", &pol_none, why,
	    sizeof(why));
	tap_ok(r != NULL && strstr(r, "egress rules") != NULL,
	    "endpoint check: fd00:ec2::254 refused");
	r = endpoint_check("10.1.2.3:9000", &pol_none, why, sizeof(why));
	tap_ok(r != NULL && strstr(r, "egress rules") != NULL,
	    "endpoint check: 10.1.2.3 refused");
	tap_ok(endpoint_check("http://127.0.0.1:9000", &pol_lo, why,
	    sizeof(why)) == NULL, "endpoint check: 127.0.0.1 in allow_hosts");
	tap_ok(endpoint_check("2130706433:9000", &pol_lo, why,
	    sizeof(why)) == NULL,
	    "endpoint check: 2130706433 matches allow_hosts 127.0.0.1");
	tap_ok(endpoint_check("http://127.0.0.2:9000", &pol_lo, why,
	    sizeof(why)) != NULL, "endpoint check: 127.0.0.2 not in "
	    "allow_hosts");
	tap_ok(endpoint_check("http://127.0.0.1:9000", &pol_priv, why,
	    sizeof(why)) == NULL, "endpoint check: 127.0.0.1 with "
	    "allow_private");
	tap_ok(endpoint_check("http://localhost:9000", &pol_lh, why,
	    sizeof(why)) == NULL, "endpoint check: localhost in allow_hosts");
	tap_ok(endpoint_check("oss.internal.example", &pol_oss, why,
	    sizeof(why)) == NULL, "endpoint check: a listed name");
}

int
main(void)
{
	test_callback();
	test_callback_bugs();
	test_not_ascii();
	test_namespace();
	test_endpoint();
	return tap_done();
}
