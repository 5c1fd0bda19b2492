/* t_request.c -- the responders' input checks of lib/request.c: results, messages and return codes */
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "job.h"
#include "request.h"
#include "tap.h"

static const char study[] =
    "{\"studyInstanceUid\": \"1.2.840.1\", \"studyType\": 4,"
    " \"statusNotifyCallBackUrl\": \"https://his.example/cb\","
    " \"accessKeyId\": \"AK\", \"accessKeySecret\": \"the-secret\","
    " \"securityToken\": \"the-token\", \"endpoint\": \"http://[::1]:9000\","
    " \"bucketName\": \"pacs-1\", \"key\": \"studies/1/\","
    " \"forceAnalysis\": true}";

/* The body given, or the study above with one member replaced. */
static char body[4096];

static const char *
with(const char *member, const char *value)
{
	const char	*p = strstr(study, member), *end;
	size_t		 n;

	if (p == NULL)
		return study;
	end = strpbrk(p + strlen(member) + 2, ",}");
	n = (size_t)(p - study);
	snprintf(body, sizeof(body), "%.*s%s: %s%s", (int)n, study, member,
	    value, end);
	return body;
}

static void
execute_refused(const char *name, const char *b, const char *want)
{
	struct execute_req	ex;
	char			msg[512] = "";
	enum rc			rc = RC_OK;

	tap_ok(request_execute(b, strlen(b), &ex, msg, sizeof(msg), &rc) ==
	    -1 && rc == RC_INVALID && ex.ex_body == NULL,
	    "execute: %s refused with RC_INVALID", name);
	TAP_STREQ(msg, want, name);
}

#define HOSTNAME_WHY	"endpoint: not a valid host name: labels of " \
	"letters, digits, '-' and '_', none empty, none starting or ending " \
	"with '-'"

static void
test_execute(void)
{
	struct execute_req	ex;
	const char		*b;
	char			msg[512];
	enum rc			rc;

	tap_ok(request_execute(study, strlen(study), &ex, msg, sizeof(msg),
	    &rc) == 0, "execute: the example is accepted");
	TAP_STREQ(ex.ex_uid, "1.2.840.1", "execute: studyInstanceUid");
	tap_ok(ex.ex_type == 4 && ex.ex_force == 1, "execute: studyType, "
	    "forceAnalysis");
	TAP_STREQ(ex.ex_oss.ro_host, "::1", "execute: the endpoint's host");
	TAP_STREQ(ex.ex_oss.ro_sts, "the-token", "execute: securityToken");
	request_execute_free(&ex);
	tap_ok(ex.ex_body == NULL && ex.ex_oss.ro_sk == NULL,
	    "execute: free releases the body");

	b = with("\"securityToken\"", "null");
	tap_ok(request_execute(b, strlen(b), &ex, msg, sizeof(msg), &rc) ==
	    0 && ex.ex_oss.ro_sts == NULL,
	    "execute: securityToken null is none");
	request_execute_free(&ex);

	execute_refused("an empty body", "", "request body is empty");
	execute_refused("an array", "[1]",
	    "request body must be a JSON object");
	execute_refused("studyType 9", with("\"studyType\"", "9"),
	    "studyType: must be an integer from 1 to 4");
	execute_refused("a bad bucket", with("\"bucketName\"", "\"A_b\""),
	    "bucketName: may hold only lower-case letters, digits and '-'");
	execute_refused("a key from the root", with("\"key\"", "\"/x\""),
	    "key: must not start with '/' or '\\'");
	execute_refused("a bad endpoint", with("\"endpoint\"",
	    "\"oss cn/beijing\""),
	    "endpoint: host holds characters a host name cannot");
	/* a host that is not ASCII: 100009, as the callback URL's host */
	b = with("\"endpoint\"", "\"http://127\\u3002" "0\\u3002" "0\\u3002"
	    "1:9000\"");
	tap_ok(request_execute(b, strlen(b), &ex, msg, sizeof(msg), &rc) ==
	    -1 && rc == RC_URL_REFUSED && ex.ex_body == NULL,
	    "execute: an endpoint with U+3002 dots is RC_URL_REFUSED");
	TAP_STREQ(msg, "endpoint: host is not ASCII; write an "
	    "internationalised name in its ASCII (xn--) form",
	    "execute: its message names the field");
	execute_refused("forceAnalysis \"yes\"",
	    with("\"forceAnalysis\"", "\"yes\""),
	    "forceAnalysis: must be true or false");
}

static void
test_trigger(void)
{
	static const char b[] =
	    "{\"namespace\": \"hospital-a\", \"ImageUid\": \"img-1\","
	    " \"accessKeyId\": \"AK\", \"accessKeySecret\": \"SK\","
	    " \"securityToken\": \"\", \"endpoint\": \"oss-cn-beijing.aliyuncs.com\","
	    " \"bucketName\": \"pacs-1\", \"key\": \"a.dcm\", \"analysis\": \"OA\","
	    " \"resultCallBackUrl\": \"https://his.example/r\"}";
	struct trigger_req	tr;
	char			msg[512];
	enum rc			rc;

	tap_ok(request_trigger(b, sizeof(b) - 1, "hospital-a", &tr, msg,
	    sizeof(msg), &rc) == 0, "trigger: the example is accepted");
	TAP_STREQ(tr.tr_image_uid, "img-1", "trigger: ImageUid");
	TAP_STREQ(tr.tr_analysis, "OA", "trigger: analysis");
	TAP_STREQ(tr.tr_oss.ro_sts, "", "trigger: an empty securityToken");
	request_trigger_free(&tr);
	tap_ok(request_trigger(b, sizeof(b) - 1, "hospital-b", &tr, msg,
	    sizeof(msg), &rc) == -1 && rc == RC_AUTH && tr.tr_body == NULL,
	    "trigger: another namespace is RC_AUTH");
	TAP_STREQ(msg, "authentication failed: the body's namespace is not "
	    "the namespace of the tokenId", "trigger: its message");
	tap_ok(request_trigger("{}", 2, "hospital-a", &tr, msg, sizeof(msg),
	    &rc) == -1 && rc == RC_INVALID, "trigger: {} is RC_INVALID");
	TAP_STREQ(msg, "namespace: required field missing",
	    "trigger: the first field missing is named");

	{
		char	nb[sizeof(b) + 32];
		const char *e = strstr(b, "oss-cn-beijing");

		snprintf(nb, sizeof(nb), "%.*s127\xef\xbc\x8e" "0.0.1:9000%s",
		    (int)(e - b), b, e + strlen("oss-cn-beijing.aliyuncs.com"));
		tap_ok(request_trigger(nb, strlen(nb), "hospital-a", &tr, msg,
		    sizeof(msg), &rc) == -1 && rc == RC_URL_REFUSED,
		    "trigger: an endpoint with a U+FF0E dot is "
		    "RC_URL_REFUSED");
		TAP_STREQ(msg, "endpoint: host is not ASCII; write an "
		    "internationalised name in its ASCII (xn--) form",
		    "trigger: its message names the field");
	}
}

/*
 * Issue 18, item 1: executeAnalysis checked endpoints and buckets with
 * one rule and the dispatcher with another, and triggerAnalysis took any
 * printable bucket name.  Now each entry point gives the same answer.
 */
static const char trigger_body[] =
    "{\"namespace\": \"hospital-a\", \"ImageUid\": \"img-1\","
    " \"accessKeyId\": \"AK\", \"accessKeySecret\": \"SK\","
    " \"securityToken\": \"\", \"endpoint\": \"http://[::1]:9000\","
    " \"bucketName\": \"pacs-1\", \"key\": \"a.dcm\", \"analysis\": \"OA\","
    " \"resultCallBackUrl\": \"https://his.example/r\"}";

/* trigger_body with one member replaced */
static const char *
trigger_with(const char *member, const char *value)
{
	static char	 tb[4096];
	const char	*p = strstr(trigger_body, member), *end;

	end = strpbrk(p + strlen(member) + 2, ",}");
	snprintf(tb, sizeof(tb), "%.*s%s: %s%s", (int)(p - trigger_body),
	    trigger_body, member, value, end);
	return tb;
}

static void
test_one_rule(void)
{
	static const struct {
		const char	*member, *value, *want;
	} t[] = {
		{ "\"endpoint\"", "\"http://a..b.example.com\"", HOSTNAME_WHY },
		{ "\"endpoint\"", "\"http://-x.example.com\"", HOSTNAME_WHY },
		{ "\"endpoint\"", "\"http://x-.example.com\"", HOSTNAME_WHY },
		{ "\"endpoint\"", "\"http://[not-v6]:9000\"",
		    "endpoint: not a valid IPv6 address" },
		{ "\"bucketName\"", "\"Foo_Bar\"", "bucketName: may hold only "
		    "lower-case letters, digits and '-'" },
		{ "\"bucketName\"", "\"-pacs\"", "bucketName: must start and "
		    "end with a letter or digit" },
	};
	struct execute_req	 ex;
	struct trigger_req	 tr;
	char			 emsg[512], tmsg[512];
	const char		*b;
	enum rc			 erc, trc;
	size_t			 i;
	int			 er, trr;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		b = with(t[i].member, t[i].value);
		er = request_execute(b, strlen(b), &ex, emsg, sizeof(emsg),
		    &erc);
		b = trigger_with(t[i].member, t[i].value);
		trr = request_trigger(b, strlen(b), "hospital-a", &tr, tmsg,
		    sizeof(tmsg), &trc);
		tap_ok(er == -1 && erc == RC_INVALID, "execute: %s %s is "
		    "RC_INVALID", t[i].member, t[i].value);
		tap_ok(trr == -1 && trc == RC_INVALID, "trigger: %s %s is "
		    "RC_INVALID", t[i].member, t[i].value);
		TAP_STREQ(emsg, t[i].want, "execute: its message");
		TAP_STREQ(tmsg, t[i].want, "trigger: the same message");
	}
}

static void
test_feedback(void)
{
	static const char b[] =
	    "{\"studyInstanceUid\": \"1.2\", \"studyType\": 1, \"data\": ["
	    "{\"indexId\": \"a\", \"credibility\": \"Y\"}, 7,"
	    " {\"indexId\": \"b\", \"credibility\": \"maybe\"},"
	    " {\"credibility\": \"N\"}]}";
	static const char empty[] =
	    "{\"studyInstanceUid\": \"1.2\", \"studyType\": 1, \"data\": []}";
	struct feedback_req	fb;
	struct feedback_item	fi;
	char			msg[512];
	enum rc			rc;

	tap_ok(request_feedback(b, sizeof(b) - 1, &fb, msg, sizeof(msg),
	    &rc) == 0 && fb.fb_type == 1, "feedback: the body is accepted "
	    "before its items are looked at");
	tap_ok(request_feedback_item(fb.fb_items, 0, &fi, msg,
	    sizeof(msg)) == 0, "feedback: data[0] is good");
	TAP_STREQ(fi.fi_cred, "Y", "feedback: data[0].credibility");
	tap_ok(request_feedback_item(fb.fb_items, 1, &fi, msg,
	    sizeof(msg)) == -1, "feedback: data[1] is refused");
	TAP_STREQ(msg, "data[1]: must be an object", "feedback: data[1]");
	request_feedback_item(fb.fb_items, 2, &fi, msg, sizeof(msg));
	TAP_STREQ(msg, "data[2].credibility: must be one of \"Y\", \"N\", "
	    "\"UN\"", "feedback: data[2]");
	request_feedback_item(fb.fb_items, 3, &fi, msg, sizeof(msg));
	TAP_STREQ(msg, "data[3].indexId: required field missing",
	    "feedback: data[3]");
	request_feedback_free(&fb);
	tap_ok(request_feedback(empty, sizeof(empty) - 1, &fb, msg,
	    sizeof(msg), &rc) == -1 && rc == RC_INVALID,
	    "feedback: empty data is refused");
	TAP_STREQ(msg, "data: must not be empty", "feedback: its message");
}

static void
query_case(const char *q, const char *want)
{
	struct result_req	rr;
	char			msg[512] = "";
	enum rc			rc = RC_OK;
	int			r;

	r = request_result_query(q, &rr, msg, sizeof(msg), &rc);
	if (want == NULL) {
		tap_ok(r == 0, "query %s is accepted", q);
		return;
	}
	tap_ok(r == -1 && rc == RC_INVALID, "query %s is refused", q);
	TAP_STREQ(msg, want, q);
}

static void
test_result_query(void)
{
	struct result_req	rr;
	char			msg[512], q[300];
	enum rc			rc;

	tap_ok(request_result_query("studyType=3&studyInstanceUid=1%2C2", &rr,
	    msg, sizeof(msg), &rc) == 0 && rr.rr_type == 3,
	    "query: accepted in any order");
	TAP_STREQ(rr.rr_uid, "1,2", "query: the uid decoded");
	query_case("studyInstanceUid=%22%C3%A9&studyType=1", NULL);
	query_case("studyType=1", "studyInstanceUid: required query "
	    "parameter missing");

	/* a push job by its ImageUid */
	tap_ok(request_result_query("imageUid=img%201", &rr, msg, sizeof(msg),
	    &rc) == 0 && rr.rr_push && rr.rr_type == 0,
	    "query: imageUid alone is a push job of any type");
	TAP_STREQ(rr.rr_uid, STUDY_PUSH_MARK "img 1",
	    "query: its study uid is the push mark and the ImageUid");
	tap_ok(request_result_query("studyType=4&imageUid=x", &rr, msg,
	    sizeof(msg), &rc) == 0 && rr.rr_push && rr.rr_type == 4,
	    "query: imageUid with a studyType");
	tap_ok(request_result_query("studyInstanceUid=1&studyType=4", &rr,
	    msg, sizeof(msg), &rc) == 0 && !rr.rr_push,
	    "query: a study is not a push job");
	query_case("imageUid=", "imageUid: must not be empty");
	query_case("imageUid=a&studyInstanceUid=1&studyType=4",
	    "studyInstanceUid: must not be given with imageUid");
	query_case("imageUid=a&studyType=5",
	    "studyType: must be an integer from 1 to 4");
	query_case("imageUid=a%01b", "imageUid: must not contain control "
	    "characters");
	query_case("imageUid=a&imageUid=b", "imageUid: parameter given twice");
	memset(q, 0, sizeof(q));
	memcpy(q, "imageUid=", 9);
	memset(q + 9, 'u', STUDY_UID_MAX - 1);
	query_case(q, NULL);
	q[9 + STUDY_UID_MAX - 1] = 'u';
	query_case(q, "imageUid: longer than 127 bytes");
	q[9 + STUDY_UID_MAX] = 'u';
	query_case(q, "imageUid: malformed or longer than 127 bytes");
	query_case("studyInstanceUid=&studyType=1", "studyInstanceUid: "
	    "required query parameter missing");
	/* a bad name before the uid: was an uninitialised read */
	query_case("%zz=1&studyInstanceUid=1&studyType=1",
	    "studyInstanceUid: malformed query string");
	query_case("studyInstanceUid=%ff&studyType=1",
	    "studyInstanceUid: not valid UTF-8");
	query_case("studyInstanceUid=a%0ab&studyType=1",
	    "studyInstanceUid: must not contain control characters");
	query_case("studyInstanceUid=1&studyInstanceUid=2&studyType=1",
	    "studyInstanceUid: parameter given twice");
	memset(q, 0, sizeof(q));
	memcpy(q, "studyInstanceUid=", 17);
	memset(q + 17, '1', 129);
	query_case(q, "studyInstanceUid: longer than 128 bytes");
	memset(q + 17, '1', 200);
	query_case(q, "studyInstanceUid: malformed or longer than 128 bytes");
	query_case("studyInstanceUid=1", "studyType: required query "
	    "parameter missing");
	query_case("studyInstanceUid=1&studyType=5",
	    "studyType: must be an integer from 1 to 4");
	query_case("studyInstanceUid=1&studyType=01",
	    "studyType: must be an integer from 1 to 4");
}

static void
test_job_query(void)
{
	struct crypto_keys	keys;
	struct job_req		jr;
	unsigned char		master[CRYPTO_KEYLEN];
	char			sig[JOB_SIG_LEN + 1], q[200], msg[512];
	const char		*id = "0123456789abcdef0123456789abcdef";
	enum rc			rc;

	memset(master, 7, sizeof(master));
	crypto_keys_derive(master, &keys);
	job_sig(&keys, id, sig);
	snprintf(q, sizeof(q), "job=%s&sig=%s", id, sig);
	tap_ok(request_job_query(q, &keys, &jr, msg, sizeof(msg), &rc) == 0,
	    "job query: an issued URL passes");
	TAP_STREQ(jr.jr_id, id, "job query: the id");
	sig[10] = sig[10] == 'a' ? 'b' : 'a';
	snprintf(q, sizeof(q), "sig=%s&job=%s", sig, id);
	tap_ok(request_job_query(q, &keys, &jr, msg, sizeof(msg), &rc) == -1 &&
	    rc == RC_AUTH && jr.jr_id[0] == '\0',
	    "job query: another signature is RC_AUTH");
	TAP_STREQ(msg, "authentication failed: this result URL was not issued "
	    "by this gateway", "job query: its message");
	tap_ok(request_job_query("job=1", &keys, &jr, msg, sizeof(msg), &rc) ==
	    -1 && rc == RC_AUTH, "job query: no sig is RC_AUTH");
	crypto_keys_wipe(&keys);
}

int
main(void)
{
	test_execute();
	test_trigger();
	test_one_rule();
	test_feedback();
	test_result_query();
	test_job_query();
	return tap_done();
}
