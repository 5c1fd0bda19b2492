/* fuzz_url.c -- callback URLs and OSS endpoints through url_callback_check(), oss_endpoint_parse(), url_host_check() and egress_literal() */
#include <sys/socket.h>

#include "egress.h"
#include "fuzz.h"
#include "jv.h"
#include "oss_name.h"
#include "url.h"

static json_object	*nsrec;
static char		 allow1[] = "oss.internal.example";
static char		 allow2[] = "10.0.0.5";
static char		 allow3[] = "[fd00::1]";
static char		*allow[] = { allow1, allow2, allow3 };

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	json_object *hosts;

	(void)argc;
	(void)argv;
	/* a namespace that lists its callback hosts */
	nsrec = json_object_new_object();
	hosts = json_object_new_array();
	json_object_array_add(hosts, json_object_new_string("his.example"));
	json_object_array_add(hosts, json_object_new_string("127.0.0.1"));
	json_object_array_add(hosts, json_object_new_string("::1"));
	json_object_object_add(nsrec, "callbackHosts", hosts);
	return 0;
}

/*
 * The first byte picks the policy: bit 0 allow_private, bit 1 the
 * allow_hosts list, bit 2 a namespace with callback hosts.  The rest is
 * the URL or endpoint, as a caller's JSON string reaches these checks:
 * valid UTF-8 without control characters (jv_read() refuses the rest).
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct egress_policy	 ep;
	struct oss_endpoint	 en;
	struct sockaddr_storage	 ss;
	char			 why[512], host[URL_HOST_MAX], *s;
	const char		*bad;

	if (nsrec == NULL)
		LLVMFuzzerInitialize(NULL, NULL);
	if (size < 1)
		return 0;
	memset(&ep, 0, sizeof(ep));
	ep.ep_allow_private = data[0] & 1;
	if (data[0] & 2) {
		ep.ep_allow_hosts = allow;
		ep.ep_allow_hosts_n = sizeof(allow) / sizeof(allow[0]);
	}
	s = fuzz_cstring(data + 1, size - 1);
	if (jv_printable(s) != NULL || !fuzz_text_ok(s, NULL)) {
		free(s);
		return 0;
	}

	why[0] = '\0';
	if ((bad = url_callback_check(s, &ep, data[0] & 4 ? nsrec : NULL,
	    why, sizeof(why))) != NULL)
		FUZZ_ASSERT(bad == why && why[0] != '\0' &&
		    fuzz_text_ok(why, NULL));

	/* the one endpoint rule, as the responders and the dispatcher use
	 * it, then [egress] on its host */
	if ((bad = oss_endpoint_parse(s, &en)) == NULL) {
		FUZZ_ASSERT(en.en_host[0] != '\0' &&
		    strlen(en.en_host) < sizeof(host));
		why[0] = '\0';
		if ((bad = url_host_check(en.en_host, &ep, why,
		    sizeof(why))) != NULL)
			FUZZ_ASSERT(bad == why && why[0] != '\0' &&
			    fuzz_text_ok(why, NULL));
	} else
		FUZZ_ASSERT(bad[0] != '\0' && fuzz_text_ok(bad, NULL));

	if (egress_literal(s, &ss))
		FUZZ_ASSERT(ss.ss_family == AF_INET ||
		    ss.ss_family == AF_INET6);
	(void)egress_host_listed(&ep, s);
	free(s);
	return 0;
}
