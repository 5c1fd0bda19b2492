/* t_record.c -- lib/record.c: records written by the code before the structs come back byte for byte */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "store.h"
#include "tap.h"

#define FLAGS	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/*
 * One record of each shape found in the stores that test_results.py and
 * test_dispatch.py left, as the code before lib/record.c wrote them
 * (jobs failed, timed out, retried, with a resultDigest; results with
 * feedback; studies, push jobs, and a push job run again, whose engine
 * and analysis were moved to the end).
 */
static const struct {
	const char	*db;
	const char	*text;
} golden[] = {
	{ "jobs",
	    "{\"v\":1,\"id\":\"3fa79ec4760f004b6c25915158b988e9\",\"ns\":"
	    "\"hosp-r\",\"studyType\":2,\"studyInstanceUid\":\"1.2.8.sil"
	    "ent\",\"run\":1,\"object\":\"ct/r1/1.3.6.1.4.1.5962.1.1.0."
	    "0.0.1194734704.16302.0.12.dcm\",\"size\":3936,\"state\":\""
	    "FAILED\",\"attempts\":0,\"created\":1796684502102,\"deadli"
	    "ne\":1796684505103,\"finished\":1796684505104,\"errorCod"
	    "e\":\"ENGINE_TIMEOUT\",\"errorMessage\":\"no result from t"
	    "he engine within 3 s\"}" },
	{ "jobs",
	    "{\"v\":1,\"id\":\"271250301a8eb3a7fab5fdccfca9c526\",\"ns\":"
	    "\"hosp-r\",\"studyType\":4,\"studyInstanceUid\":\"1.2.8.fai"
	    "l\",\"run\":1,\"object\":\"ct/r1/1.3.6.1.4.1.5962.1.1.0.0."
	    "0.1194734704.16302.0.13.dcm\",\"size\":3936,\"state\":\"FA"
	    "ILED\",\"attempts\":0,\"created\":1796684501988,\"deadline"
	    "\":1796684521990,\"resultDigest\":\"16cfcad67fb91d15b2aa"
	    "df49b9711019c7debab9c8d85d1d7c9610082d242f11\",\"finis"
	    "hed\":1796684501996,\"errorCode\":\"ENGINE_ERROR\",\"error"
	    "Message\":\"engine returned 500001: image unreadable\"}" },
	{ "jobs",
	    "{\"v\":1,\"id\":\"ff1133e9aa41d586ed29f998662ba3dc\",\"ns\":"
	    "\"hosp-r\",\"studyType\":4,\"studyInstanceUid\":\"1.2.8.fai"
	    "l\",\"run\":1,\"object\":\"ct/r1/1.3.6.1.4.1.5962.1.1.0.0."
	    "0.1194734704.16302.0.14.dcm\",\"size\":3936,\"state\":\"DO"
	    "NE\",\"attempts\":0,\"created\":1796684501988,\"deadline\":"
	    "1796684521991,\"resultDigest\":\"9b726f0fef76e6b8162120"
	    "b12620529782c15b8f92c5d150fee3c48546249455\",\"finishe"
	    "d\":1796684501994,\"findings\":[{\"boxUid\":\"60593\",\"coor"
	    "dinates\":[97,99,277,259],\"class\":\"KL2级\",\"credibility"
	    "\":null},{\"boxUid\":\"61368\",\"coordinates\":[397.5,99.5,"
	    "567.5,249.25],\"class\":\"KL1级\",\"credibility\":null}]}" },
	{ "jobs",
	    "{\"v\":1,\"id\":\"6ec2fe8b61a2bdd7709f9ecb5d99ce7c\",\"ns\":"
	    "\"hosp\",\"studyType\":4,\"studyInstanceUid\":\"\\u001ffail-"
	    "1\",\"run\":1,\"object\":\"push/knee-0001.dcm\",\"size\":0,\"s"
	    "tate\":\"FAILED\",\"attempts\":0,\"created\":1796684450131,"
	    "\"finished\":1796684450252,\"errorCode\":\"ENGINE_ERROR\","
	    "\"errorMessage\":\"engine returned 500001: image unread"
	    "able\"}" },
	{ "jobs",
	    "{\"v\":1,\"id\":\"4812bbe9755896f60df26f484bfb37a2\",\"ns\":"
	    "\"hosp\",\"studyType\":4,\"studyInstanceUid\":\"\\u001fdup-1"
	    "\",\"run\":1,\"object\":\"push/dup.dcm\",\"size\":0,\"state\":\""
	    "DONE\",\"attempts\":0,\"created\":1796684439738,\"finished"
	    "\":1796684443011,\"findings\":[{\"boxUid\":\"14178\",\"coord"
	    "inates\":[0,0,945,54052],\"class\":\"KL0级\",\"credibility\""
	    ":null}]}" },
	{ "jobs",
	    "{\"v\":1,\"id\":\"08f9babfdf0637313080b97192f4169f\",\"ns\":"
	    "\"hosp-r\",\"studyType\":1,\"studyInstanceUid\":\"1.2.7.dow"
	    "n\",\"run\":1,\"object\":\"ct/r1/1.3.6.1.4.1.5962.1.1.0.0."
	    "0.1194734704.16302.0.12.dcm\",\"size\":3936,\"state\":\"FA"
	    "ILED\",\"attempts\":3,\"created\":1796684499661,\"lastErro"
	    "r\":\"engine answered HTTP 503\",\"finished\":17966845166"
	    "71,\"errorCode\":\"ENGINE_UNAVAILABLE\",\"errorMessage\":\""
	    "engine answered HTTP 503\"}" },
	{ "jobs",
	    "{\"v\":1,\"id\":\"47d3d23bfefb420b9f7efdf2e7149710\",\"ns\":"
	    "\"hosp-r\",\"studyType\":4,\"studyInstanceUid\":\"1.2.8.ear"
	    "ly\",\"run\":1,\"object\":\"ct/r1/1.3.6.1.4.1.5962.1.1.0.0"
	    ".0.1194734704.16302.0.12.dcm\",\"size\":3936,\"state\":\"D"
	    "ONE\",\"attempts\":0,\"created\":1796684508493,\"resultDig"
	    "est\":\"f73e4c8ddb776c78429424c0f706e57167aba746cf960a"
	    "5c3b3ecab85164fb8c\",\"finished\":1796684508497,\"findin"
	    "gs\":[{\"boxUid\":\"42906\",\"coordinates\":[71,79,251,239]"
	    ",\"class\":\"KL2级\",\"credibility\":null},{\"boxUid\":\"72218"
	    "\",\"coordinates\":[371.5,79.5,541.5,229.25],\"class\":\"K"
	    "L1级\",\"credibility\":null}]}" },
	{ "results",
	    "{\"v\":1,\"run\":1,\"state\":\"FAILED\",\"errorCode\":\"NO_ENGI"
	    "NE\",\"errorMessage\":\"no engine is configured for stud"
	    "yType 1\",\"finished\":1796684494233,\"data\":{\"studyInst"
	    "anceUid\":\"1.2.6.noengine\",\"studyType\":1,\"boxes\":[],\""
	    "ocularDataList\":[],\"xRayDataList\":[],\"imageDataList\""
	    ":[]}}" },
	{ "results",
	    "{\"v\":1,\"run\":1,\"state\":\"DONE\",\"errorCode\":null,\"erro"
	    "rMessage\":null,\"finished\":1796684438447,\"data\":{\"stu"
	    "dyInstanceUid\":\"1.2.826.0.1.3680043.8.498.77.42\",\"st"
	    "udyType\":4,\"boxes\":[{\"boxUid\":\"22789\",\"coordinates\":"
	    "[0,0,924,11075],\"class\":\"KL4级\",\"credibility\":null,\"i"
	    "mageKey\":\"twin/a.dcm\"},{\"boxUid\":\"22790\",\"coordinate"
	    "s\":[0,0,924,11075],\"class\":\"KL4级\",\"credibility\":null"
	    ",\"imageKey\":\"twin/b.dcm\"}],\"ocularDataList\":[],\"xRay"
	    "DataList\":[],\"imageDataList\":[],\"boxDataList\":[{\"box"
	    "Uid\":\"22789\",\"coordinates\":[0,0,924,11075],\"classLev"
	    "el\":\"KL4级\",\"credibility\":null,\"imageKey\":\"twin/a.dcm"
	    "\"},{\"boxUid\":\"22790\",\"coordinates\":[0,0,924,11075],\""
	    "classLevel\":\"KL4级\",\"credibility\":null,\"imageKey\":\"tw"
	    "in/b.dcm\"}]},\"feedback\":{\"22789\":{\"credibility\":\"Y\","
	    "\"by\":\"hosp\",\"from\":\"127.0.0.1\",\"at\":1796684438485},\""
	    "22790\":{\"credibility\":\"N\",\"by\":\"hosp\",\"from\":\"127.0."
	    "0.1\",\"at\":1796684438485}}}" },
	{ "studies",
	    "{\"v\":1,\"ns\":\"hosp-c\",\"studyInstanceUid\":\"1.2.4.sts\","
	    "\"studyType\":4,\"created\":1796684462653,\"run\":1,\"state"
	    "\":\"DONE\",\"updated\":1796684463282,\"queued\":1796684462"
	    "653,\"callback\":\"http://127.0.0.1:37589/cb/sts\",\"endp"
	    "oint\":\"http://127.0.0.1:33621\",\"bucket\":\"studies\",\"k"
	    "ey\":\"ct/s1/\",\"imagesTotal\":3,\"imagesDone\":3,\"imagesF"
	    "ailed\":0,\"errorCode\":null,\"errorMessage\":null,\"start"
	    "ed\":1796684462654,\"listed\":true,\"finished\":179668446"
	    "3282,\"lastMessage\":\"msg_3ceae64dd54bdea9e761b5a80ea0"
	    "b1ec\"}" },
	{ "studies",
	    "{\"v\":1,\"ns\":\"other-hosp\",\"studyInstanceUid\":\"\\u001fe"
	    "1\",\"studyType\":4,\"created\":1796684445144,\"run\":1,\"st"
	    "ate\":\"DONE\",\"updated\":1796684445692,\"queued\":1796684"
	    "445144,\"callback\":\"http://127.0.0.1:40617/result/ns2"
	    "\",\"endpoint\":\"http://127.0.0.1:46021\",\"bucket\":\"stud"
	    "ies\",\"key\":\"push/knee-0001.dcm\",\"push\":true,\"imageUi"
	    "d\":\"e1\",\"engine\":\"4\",\"analysis\":\"OA\",\"imagesTotal\":1"
	    ",\"imagesDone\":1,\"imagesFailed\":0,\"errorCode\":null,\"e"
	    "rrorMessage\":null,\"started\":1796684445144,\"listed\":t"
	    "rue,\"finished\":1796684445692,\"lastMessage\":\"msg_4f16"
	    "904df4e646a6a5075695a9ad5784\"}" },
	{ "studies",
	    "{\"v\":1,\"ns\":\"hosp\",\"studyInstanceUid\":\"\\u001fdup-1\","
	    "\"studyType\":4,\"created\":1796684439736,\"run\":2,\"state"
	    "\":\"DONE\",\"updated\":1796684445125,\"queued\":1796684444"
	    "613,\"callback\":\"http://127.0.0.1:40617/result/dup\",\""
	    "endpoint\":\"http://127.0.0.1:46021\",\"bucket\":\"studies"
	    "\",\"key\":\"push/dup.dcm\",\"push\":true,\"imageUid\":\"dup-1"
	    "\",\"imagesTotal\":1,\"imagesDone\":1,\"imagesFailed\":0,\"e"
	    "rrorCode\":null,\"errorMessage\":null,\"started\":1796684"
	    "444614,\"listed\":true,\"finished\":1796684445125,\"lastM"
	    "essage\":\"msg_4cf0ac04416f259f8e0acda2c489b574\",\"engi"
	    "ne\":\"4\",\"analysis\":\"OA\"}" },
};
#define NGOLDEN	(sizeof(golden) / sizeof(golden[0]))

static const char *
text(json_object *o)
{
	return o != NULL ? json_object_to_json_string_ext(o, FLAGS) : "(null)";
}

/* Decode and encode without a change: the same bytes. */
static int
round_trip(const char *db, const char *in, char *out, size_t outlen)
{
	struct job_rec		 j;
	struct study_rec	 s;
	struct result_rec	 r;
	json_object		*o = json_tokener_parse(in), *e = NULL;
	int			 rc = -1;

	out[0] = '\0';
	if (strcmp(db, "jobs") == 0) {
		if (job_rec_decode(&j, o) == 0 && (e = job_rec_encode(&j)))
			snprintf(out, outlen, "%s", text(e));
		job_rec_free(&j);
	} else if (strcmp(db, "studies") == 0) {
		if (study_rec_decode(&s, o) == 0 &&
		    (e = study_rec_encode(&s)))
			snprintf(out, outlen, "%s", text(e));
		study_rec_free(&s);
	} else {
		if (result_rec_decode(&r, o) == 0 &&
		    (e = result_rec_encode(&r)))
			snprintf(out, outlen, "%s", text(e));
		result_rec_free(&r);
	}
	if (e != NULL)
		rc = strcmp(in, out) == 0 ? 0 : -1;
	return rc;
}

/* What a fresh build of the fields in the structs' order gives: not the
 * same bytes for a record whose keys came in another order (the negative
 * control: the comparison above can fail). */
static int
rebuilt_differs(const char *in)
{
	struct study_rec	 s, n;
	json_object		*e;
	int			 differs;

	if (study_rec_decode(&s, json_tokener_parse(in)) == -1 ||
	    study_rec_new(&n) == -1)
		return -1;
	memcpy((char *)&n + sizeof(n.r_obj), (char *)&s + sizeof(s.r_obj),
	    sizeof(n) - sizeof(n.r_obj));
	e = study_rec_encode(&n);
	differs = e != NULL && strcmp(text(e), in) != 0;
	study_rec_free(&n);
	study_rec_free(&s);
	return differs;
}

static void
test_golden(void)
{
	char	out[4096];
	size_t	i;
	int	moved = -1;

	for (i = 0; i < NGOLDEN; i++) {
		int rc = round_trip(golden[i].db, golden[i].text, out,
		    sizeof(out));

		tap_ok(rc == 0, "%s record %zu: decoded and encoded, the same "
		    "bytes%s%s", golden[i].db, i, rc ? ": " : "",
		    rc ? out : "");
		if (strcmp(golden[i].db, "studies") == 0 &&
		    strstr(golden[i].text, "\"lastMessage\"") <
		    strstr(golden[i].text, "\"engine\""))
			moved = (int)i;
	}
	tap_ok(moved >= 0 && rebuilt_differs(golden[moved].text) == 1,
	    "a push job run again (engine after lastMessage) built afresh in "
	    "the struct's order differs: the order kept is the record's");
}

static void
test_typed(void)
{
	struct job_rec		 j;
	struct study_rec	 s;
	json_object		*e;
	size_t			 i;
	int			 ok = 0;

	for (i = 0; i < NGOLDEN; i++)
		if (strcmp(golden[i].db, "jobs") == 0 &&
		    strstr(golden[i].text, "\"lastError\"") != NULL)
			break;
	tap_ok(i < NGOLDEN && job_rec_decode(&j,
	    json_tokener_parse(golden[i].text)) == 0 &&
	    j.jr_state == JOB_FAILED && j.jr_attempts >= 1 &&
	    j.jr_last_error != NULL && REC_HAS(&j, JF_LAST_ERROR) &&
	    !REC_HAS(&j, JF_DEADLINE) && strncmp(j.jr_error_code, "ENGINE_",
	    7) == 0, "a job's fields typed: state, attempts, lastError, no "
	    "deadline");
	job_rec_free(&j);

	/* a QUEUED job as job_create writes it goes SENT, then DONE: the
	 * keys come in the order the code before wrote them */
	job_rec_new(&j);
	j.jr_v = 1;
	j.jr_id = "0123456789abcdef0123456789abcdef";
	j.jr_ns = "hosp";
	j.jr_type = 1;
	j.jr_uid = "1.2.3";
	j.jr_run = 1;
	j.jr_object = "a/b.dcm";
	j.jr_size = 10;
	j.jr_state = JOB_QUEUED;
	j.jr_attempts = 0;
	j.jr_created = 5;
	j.r_has = (1u << (JF_CREATED + 1)) - 1;
	e = job_rec_encode(&j);
	ok = e != NULL && strcmp(text(e), "{\"v\":1,\"id\":\"0123456789abcde"
	    "f0123456789abcdef\",\"ns\":\"hosp\",\"studyType\":1,\"studyInst"
	    "anceUid\":\"1.2.3\",\"run\":1,\"object\":\"a/b.dcm\",\"size\":10,"
	    "\"state\":\"QUEUED\",\"attempts\":0,\"created\":5}") == 0;
	tap_ok(ok, "a new job: its fields in order (%s)", text(e));
	j.jr_state = JOB_SENT;
	j.jr_deadline = 9;
	REC_SET(&j, JF_DEADLINE);
	job_rec_encode(&j);
	j.jr_state = JOB_DONE;
	j.jr_finished = 11;
	j.jr_findings = json_object_new_array();
	REC_SET(&j, JF_FINISHED);
	REC_SET(&j, JF_FINDINGS);
	e = job_rec_encode(&j);
	tap_ok(e != NULL && strstr(text(e), "\"state\":\"DONE\",\"attempts\":0,"
	    "\"created\":5,\"deadline\":9,\"finished\":11,\"findings\":[]}") !=
	    NULL, "SENT then DONE: the state in its place, deadline, finished "
	    "and findings appended (%s)", text(e));
	tap_ok(j.jr_state == JOB_DONE && j.jr_finished == 11 &&
	    strcmp(j.jr_ns, "hosp") == 0, "the struct is read again from "
	    "what was encoded");
	/* findings were the caller's: the record took its own reference */
	json_object_put(j.jr_findings);
	job_rec_free(&j);

	for (i = 0; i < NGOLDEN; i++)
		if (strcmp(golden[i].db, "studies") == 0)
			break;
	study_rec_decode(&s, json_tokener_parse(golden[i].text));
	tap_ok(s.sr_state == STUDY_DONE || s.sr_state == STUDY_FAILED,
	    "a study's state typed (%s)", study_state_name(s.sr_state));
	s.sr_creds = "sealed";
	REC_SET(&s, SF_CREDS);
	e = study_rec_encode(&s);
	tap_ok(e != NULL && strstr(text(e), ",\"creds\":\"sealed\"}") != NULL,
	    "a field the record lacked goes at the end");
	REC_DROP(&s, SF_CREDS);
	e = study_rec_encode(&s);
	tap_ok(e != NULL && strcmp(text(e), golden[i].text) == 0,
	    "and taken out again, the record is as it was");
	s.sr_error_code = NULL;
	REC_SET(&s, SF_ERROR_CODE);
	e = study_rec_encode(&s);
	tap_ok(e != NULL && strstr(text(e), "\"errorCode\":null") != NULL &&
	    REC_HAS(&s, SF_ERROR_CODE) && s.sr_error_code == NULL,
	    "a NULL string is JSON null, and present");
	study_rec_free(&s);

	tap_ok(job_rec_decode(&j, json_tokener_parse("[1]")) == -1 &&
	    j.r_obj == NULL, "an array is no record");
	tap_ok(study_state_parse("RUNNING") == STUDY_RUNNING &&
	    study_state_parse("running") == STUDY__MAX &&
	    study_state_parse(NULL) == STUDY__MAX &&
	    job_state_parse("SENT") == JOB_SENT &&
	    strcmp(fail_code_name(FAIL_OSS_EMPTY), "OSS_EMPTY") == 0 &&
	    strcmp(fail_code_name(FAIL_CANCELLED), "CANCELLED") == 0,
	    "the name tables");
}

/* A stored record that cannot be read is refused, never taken for an
 * empty one (the assembly would count a corrupt job as a failed image). */
static void
test_corrupt(void)
{
	static const char	 cut[] = "{\"v\":1,\"state\":\"DO";
	struct job_rec		 j;
	struct study_rec	 s;
	struct result_rec	 r;

	tap_ok(job_rec_decode(&j, store_json(cut, sizeof(cut) - 1)) == -1 &&
	    j.r_obj == NULL, "a job record cut short: refused");
	tap_ok(study_rec_decode(&s, store_json(cut, sizeof(cut) - 1)) == -1 &&
	    result_rec_decode(&r, NULL) == -1,
	    "a study or result record that is no JSON: refused");
	tap_ok(study_rec_decode(&s, store_json("[1]", 3)) == -1,
	    "a record that is no JSON object: refused");
	tap_ok(job_rec_new(&j) == 0 && j.r_obj != NULL && j.jr_state == JOB__MAX,
	    "a new record is empty, with no state");
	job_rec_free(&j);
}

int
main(void)
{
	test_golden();
	test_typed();
	test_corrupt();
	return tap_done();
}
