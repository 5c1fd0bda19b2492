/* tasks.c -- mias-admin studies and deliveries: inspect work, replay dead letters */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "audit.h"
#include "conf.h"
#include "job.h"
#include "outbox.h"
#include "queue.h"
#include "store.h"
#include "study.h"
#include "wake.h"

/* Push jobs are kept as studies whose uid starts with STUDY_PUSH_MARK (a
 * control character): shown and named as "push:<ImageUid>". */
static const char *
uid_shown(const char *uid, char *buf, size_t len)
{
	if (uid[0] == STUDY_PUSH_MARK[0]) {
		snprintf(buf, len, "push:%s", uid + 1);
		return buf;
	}
	return uid;
}

static const char *
when(long long ms, char *buf, size_t len)
{
	time_t		t = (time_t)(ms / 1000);
	struct tm	tm;

	if (ms <= 0)
		return "-";
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

/* ---- studies -------------------------------------------------------- */

struct collect {
	json_object	*list;
	const char	*ns;		/* filter, or NULL */
	const char	*state;		/* filter, or NULL */
	enum study_state st;		/* state, parsed */
	const char	*deadonly;
};

static int
study_visit(const void *key, size_t klen, const char *val, size_t len,
    void *arg)
{
	struct collect		*c = arg;
	struct study_rec	 rec;

	(void)key;
	(void)klen;
	if (study_rec_decode(&rec, store_json(val, len)) == -1)
		return 0;
	if ((c->ns != NULL && strcmp(REC_STR(rec.sr_ns), c->ns) != 0) ||
	    (c->state != NULL && rec.sr_state != c->st)) {
		study_rec_free(&rec);
		return 0;
	}
	json_object_object_del(rec.r_obj, "creds");	/* never shown */
	json_object_array_add(c->list, json_object_get(rec.r_obj));
	study_rec_free(&rec);
	return 0;
}

static int
studies_body(struct store_txn *t, void *arg)
{
	struct collect *c = arg;

	json_object_put(c->list);
	if ((c->list = json_object_new_array()) == NULL)
		return STORE_ERR;
	if (c->ns != NULL)	/* keys start with the namespace */
		return store_scan(t, SDB_STUDIES, c->ns, strlen(c->ns) + 1,
		    study_visit, c);
	return store_scan(t, SDB_STUDIES, NULL, 0, study_visit, c);
}

struct show {
	const char	*ns, *uid;
	int		 type;
	json_object	*study, *result, *jobs;
};

static int
job_visit(const void *key, size_t klen, const char *val, size_t len,
    void *arg)
{
	json_object	*jobs = arg, *j;
	struct job_rec	 rec;

	(void)key;
	(void)klen;
	if (job_rec_decode(&rec, store_json(val, len)) == -1)
		return 0;
	if ((j = json_object_new_object()) != NULL) {
		json_object_object_add(j, "id",
		    json_object_new_string(REC_STR(rec.jr_id)));
		json_object_object_add(j, "object",
		    json_object_new_string(REC_STR(rec.jr_object)));
		json_object_object_add(j, "state",
		    json_object_new_string(job_state_name(rec.jr_state)));
		json_object_object_add(j, "attempts",
		    json_object_new_int(rec.jr_attempts));
		if (REC_HAS(&rec, JF_FINDINGS))
			json_object_object_add(j, "findings",
			    json_object_new_int((int)
			    json_object_array_length(rec.jr_findings)));
		if (*REC_STR(rec.jr_error_code) != '\0') {
			json_object_object_add(j, "errorCode",
			    json_object_new_string(rec.jr_error_code));
			json_object_object_add(j, "errorMessage",
			    json_object_new_string(REC_STR(rec.jr_error_msg)));
		}
		json_object_array_add(jobs, j);
	}
	job_rec_free(&rec);
	return 0;
}

static int
show_body(struct store_txn *t, void *arg)
{
	struct show	*s = arg;
	char		 key[STUDY_KEY_MAX], prefix[JOB_KEY_MAX];
	size_t		 klen, plen;
	int		 rc;

	json_object_put(s->study);
	json_object_put(s->result);
	json_object_put(s->jobs);
	s->study = s->result = NULL;
	if ((s->jobs = json_object_new_array()) == NULL)
		return STORE_ERR;
	klen = study_key(key, s->ns, s->type, s->uid);
	if ((rc = store_get_json(t, SDB_STUDIES, key, klen, &s->study, 0)) !=
	    STORE_OK)
		return rc;
	json_object_object_del(s->study, "creds");
	rc = store_get_json(t, SDB_RESULTS, key, klen, &s->result, 0);
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return rc;
	plen = job_prefix(prefix, key, klen, rec_int(s->study, "run"));
	return store_scan(t, SDB_JOBS, prefix, plen, job_visit, s->jobs);
}

static void
studies_print(json_object *list)
{
	char	ub[STUDY_UID_MAX + 8];
	size_t	i;

	printf("NAMESPACE\tTYPE\tSTUDY\tSTATE\tRUN\tDONE/FAILED/TOTAL\tERROR\n");
	for (i = 0; i < json_object_array_length(list); i++) {
		struct study_rec r;

		if (study_rec_decode(&r, json_object_get(
		    json_object_array_get_idx(list, i))) == -1)
			continue;
		printf("%s\t%d\t%s\t%s\t%lld\t%lld/%lld/%lld\t%s\n",
		    REC_STR(r.sr_ns), r.sr_type,
		    uid_shown(REC_STR(r.sr_uid), ub, sizeof(ub)),
		    study_state_name(r.sr_state), (long long)r.sr_run,
		    (long long)r.sr_images_done,
		    (long long)r.sr_images_failed,
		    (long long)r.sr_images_total, *REC_STR(r.sr_error_code) ?
		    r.sr_error_code : "-");
		study_rec_free(&r);
	}
}

/* The list body collects, as JSON or as print's table; the exit status. */
static int
list_run(struct store *st, const char *what,
    int (*body)(struct store_txn *, void *), struct collect *c, int json,
    void (*print)(json_object *))
{
	int rc = store_txn(st, body, c);

	if (rc != 0)
		fprintf(stderr, "mias-admin: %s list: %s\n", what,
		    store_errmsg(st));
	else if (json)
		printf("%s\n", json_object_to_json_string_ext(c->list,
		    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	else
		print(c->list);
	json_object_put(c->list);
	return rc != 0;
}

static void
show_print(struct show *s)
{
	struct study_rec	 r;
	json_object		*v;
	char			 b1[32], ub[STUDY_UID_MAX + 8];
	size_t			 i;

	if (study_rec_decode(&r, json_object_get(s->study)) == -1)
		return;
	printf("namespace:        %s\n", REC_STR(r.sr_ns));
	printf("studyType:        %d\n", r.sr_type);
	printf("studyInstanceUid: %s\n", uid_shown(REC_STR(r.sr_uid), ub,
	    sizeof(ub)));
	printf("state:            %s\n", study_state_name(r.sr_state));
	printf("run:              %lld\n", (long long)r.sr_run);
	printf("images:           %lld done, %lld failed, %lld in all\n",
	    (long long)r.sr_images_done, (long long)r.sr_images_failed,
	    (long long)r.sr_images_total);
	if (*REC_STR(r.sr_error_code))
		printf("error:            %s: %s\n", r.sr_error_code,
		    REC_STR(r.sr_error_msg));
	printf("created:          %s\n", when(r.sr_created, b1, sizeof(b1)));
	printf("updated:          %s\n", when(r.sr_updated, b1, sizeof(b1)));
	printf("callback:         %s\n", REC_STR(r.sr_callback));
	printf("oss:              %s bucket %s key %s\n", REC_STR(r.sr_endpoint),
	    REC_STR(r.sr_bucket), REC_STR(r.sr_key));
	printf("last callback:    %s\n", *REC_STR(r.sr_last_message) ?
	    r.sr_last_message : "-");
	study_rec_free(&r);
	if (s->result != NULL && json_object_object_get_ex(s->result,
	    "feedback", &v)) {
		json_object_object_foreach(v, id, fb)
			printf("feedback:         %s %s by %s at %s\n", id,
			    rec_str(fb, "credibility"), rec_str(fb, "by"),
			    when(rec_int(fb, "at"), b1, sizeof(b1)));
	}
	for (i = 0; i < json_object_array_length(s->jobs); i++) {
		json_object *j = json_object_array_get_idx(s->jobs, i);

		printf("image:            %s %s %s%s%s%s\n", rec_str(j, "id"),
		    rec_str(j, "state"), rec_str(j, "object"),
		    *rec_str(j, "errorCode") ? " " : "",
		    rec_str(j, "errorCode"), *rec_str(j, "errorCode") ?
		    "" : "");
	}
}

int
admin_studies(const struct mias_conf *conf, struct store *st, int argc,
    char **argv)
{
	static const struct option longopts[] = {
		{ "namespace",	required_argument, NULL, 'n' },
		{ "state",	required_argument, NULL, 's' },
		{ "json",	no_argument,	   NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct collect	 c;
	struct show	 s;
	char		 pushuid[STUDY_UID_MAX + 2];
	int		 ch, json = 0, rc;

	(void)conf;
	memset(&c, 0, sizeof(c));
	memset(&s, 0, sizeof(s));
	if (argc < 1)
		goto usage;
	optind = 0;	/* 0: glibc forgets the earlier scan entirely */
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			c.ns = optarg;
			break;
		case 's':
			c.state = optarg;
			c.st = study_state_parse(optarg);
			break;
		case 'j':
			json = 1;
			break;
		default:
			goto usage;
		}
	}
	if (strcmp(argv[0], "list") == 0 && optind == argc)
		return list_run(st, "studies", studies_body, &c, json,
		    studies_print);
	if (strcmp(argv[0], "show") != 0 || argc - optind != 3)
		goto usage;
	s.ns = argv[optind];
	s.type = atoi(argv[optind + 1]);
	s.uid = argv[optind + 2];
	if (strncmp(s.uid, "push:", 5) == 0) {
		snprintf(pushuid, sizeof(pushuid), "%s%s", STUDY_PUSH_MARK,
		    s.uid + 5);
		s.uid = pushuid;
	}
	if (s.type < 1 || s.type > CONF_STUDY_TYPES)
		goto usage;
	rc = store_txn(st, show_body, &s);
	if (rc != 0) {
		if (rc == STORE_NOTFOUND)
			fprintf(stderr, "mias-admin: studies show: no study "
			    "%s %d %s\n", s.ns, s.type, s.uid);
		else
			fprintf(stderr, "mias-admin: studies show: %s\n",
			    store_errmsg(st));
		json_object_put(s.study);
		json_object_put(s.result);
		json_object_put(s.jobs);
		return 1;
	}
	if (json) {
		json_object_object_add(s.study, "images", s.jobs);
		json_object_object_add(s.study, "result", s.result);
		printf("%s\n", json_object_to_json_string_ext(s.study,
		    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		s.jobs = s.result = NULL;
	} else
		show_print(&s);
	json_object_put(s.study);
	json_object_put(s.result);
	json_object_put(s.jobs);
	return 0;
usage:
	fprintf(stderr, "usage: mias-admin studies list [--namespace NS] "
	    "[--state STATE] [--json]\n"
	    "       mias-admin studies show NAMESPACE TYPE UID [--json]\n");
	return 2;
}

/* ---- deliveries ------------------------------------------------------- */

static int
msg_visit(const void *key, size_t klen, const char *val, size_t len,
    void *arg)
{
	struct collect	*c = arg;
	json_object	*rec;

	(void)key;
	(void)klen;
	if ((rec = store_json(val, len)) == NULL)
		return 0;
	if (c->deadonly != NULL && outbox_state_of(rec) != OUTBOX_DEAD) {
		json_object_put(rec);
		return 0;
	}
	json_object_object_del(rec, "body");	/* findings: not for a list */
	json_object_array_add(c->list, rec);
	return 0;
}

static int
msgs_body(struct store_txn *t, void *arg)
{
	struct collect *c = arg;

	json_object_put(c->list);
	if ((c->list = json_object_new_array()) == NULL)
		return STORE_ERR;
	return store_scan(t, SDB_OUTBOX, NULL, 0, msg_visit, c);
}

struct replay {
	const char	*id;		/* one, or NULL: every dead letter */
	json_object	*done;		/* ids replayed */
	int		 notdead;
};

static void
msgs_print(json_object *list)
{
	char	b1[32];
	size_t	i;

	printf("ID\tSTATE\tATTEMPTS\tKIND\tNAMESPACE\tCREATED\tURL\t"
	    "LAST-ERROR\n");
	for (i = 0; i < json_object_array_length(list); i++) {
		json_object *m = json_object_array_get_idx(list, i);

		printf("%s\t%s\t%lld\t%s\t%s\t%s\t%s\t%s\n",
		    rec_str(m, "id"), rec_str(m, "state"),
		    (long long)rec_int(m, "attempts"), rec_str(m, "kind"),
		    rec_str(m, "ns"), when(rec_int(m, "created"), b1,
		    sizeof(b1)), rec_str(m, "url"), *rec_str(m, "lastError") ?
		    rec_str(m, "lastError") : "-");
	}
}

static int
replay_body(struct store_txn *t, void *arg)
{
	struct replay	*r = arg;
	int		 rc;

	json_object_put(r->done);
	if ((r->done = json_object_new_array()) == NULL)
		return STORE_ERR;
	r->notdead = 0;
	rc = outbox_replay(t, r->id, NULL, NULL, 0, r->done);
	if (rc == OUTBOX_NOT_DEAD) {
		r->notdead = 1;
		return STORE_OK;
	}
	return rc;
}

int
admin_deliveries(const struct mias_conf *conf, struct store *st, int argc,
    char **argv)
{
	static const struct option longopts[] = {
		{ "dead",	no_argument, NULL, 'd' },
		{ "all-dead",	no_argument, NULL, 'a' },
		{ "json",	no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct collect	 c;
	struct replay	 r;
	size_t		 i;
	int		 ch, json = 0, all = 0, rc;

	memset(&c, 0, sizeof(c));
	memset(&r, 0, sizeof(r));
	if (argc < 1)
		goto usage;
	optind = 0;	/* 0: glibc forgets the earlier scan entirely */
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			c.deadonly = "DEAD";
			break;
		case 'a':
			all = 1;
			break;
		case 'j':
			json = 1;
			break;
		default:
			goto usage;
		}
	}
	if (strcmp(argv[0], "list") == 0 && optind == argc && !all)
		return list_run(st, "deliveries", msgs_body, &c, json,
		    msgs_print);
	if (strcmp(argv[0], "replay") != 0 || c.deadonly != NULL ||
	    (all ? optind != argc : optind != argc - 1))
		goto usage;
	r.id = all ? NULL : argv[optind];
	rc = store_txn(st, replay_body, &r);
	if (rc != 0) {
		if (rc == STORE_NOTFOUND)
			fprintf(stderr, "mias-admin: deliveries replay: no "
			    "message %s\n", r.id);
		else
			fprintf(stderr, "mias-admin: deliveries replay: %s\n",
			    store_errmsg(st));
		json_object_put(r.done);
		return 1;
	}
	if (r.notdead) {
		fprintf(stderr, "mias-admin: deliveries replay: %s is not a "
		    "dead letter\n", r.id);
		json_object_put(r.done);
		return 1;
	}
	for (i = 0; i < json_object_array_length(r.done); i++) {
		const char *id = json_object_get_string(
		    json_object_array_get_idx(r.done, i));

		printf("replayed %s\n", id);
		if (audit_write(st, "-", "mias-admin", "deliveries replay", id,
		    "ok") == -1)
			warn_audit();
	}
	json_object_put(r.done);
	wake_dispatcher(conf->c_state_dir);
	return 0;
usage:
	fprintf(stderr, "usage: mias-admin deliveries list [--dead] [--json]\n"
	    "       mias-admin deliveries replay ID|--all-dead\n");
	return 2;
}

/* ---- audit --------------------------------------------------------------- */

/* "2026-11-27T20:00:00Z", "2026-11-27 20:00", "2026-11-27" (UTC) or
 * seconds since the epoch; ms or -1. */
static int64_t
parse_time(const char *s)
{
	static const char *const fmts[] = { "%Y-%m-%dT%H:%M:%SZ",
	    "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M",
	    "%Y-%m-%d", NULL };
	struct tm	 tm;
	const char	*end;
	char		*e;
	long long	 v;
	size_t		 i;

	v = strtoll(s, &e, 10);
	if (*s != '\0' && *e == '\0')
		return v * 1000;
	for (i = 0; fmts[i] != NULL; i++) {
		memset(&tm, 0, sizeof(tm));
		if ((end = strptime(s, fmts[i], &tm)) != NULL && *end == '\0')
			return (int64_t)timegm(&tm) * 1000;
	}
	return -1;
}

void
warn_audit(void)
{
	fprintf(stderr, "mias-admin: warning: the audit record of this action "
	    "was not written: %s\n", strerror(errno));
}

/* One audit entry printed, as a line of the table or an element of the
 * JSON array; -1 when standard output fails. */
struct audit_out {
	int	json;
	size_t	n;
};

static int
audit_print(json_object *e, void *arg)
{
	struct audit_out	*o = arg;
	char			 b1[32];

	if (o->json)
		printf("%s  %s", o->n ? ",\n" : "", json_object_to_json_string_ext(
		    e, JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	else
		printf("%s\t%s\t%s\t%s\t%s\t%s\n",
		    when(rec_int(e, "at"), b1, sizeof(b1)), rec_str(e, "ns"),
		    rec_str(e, "from"), rec_str(e, "action"),
		    *rec_str(e, "target") ? rec_str(e, "target") : "-",
		    rec_str(e, "outcome"));
	o->n++;
	return ferror(stdout) ? -1 : 0;
}

int
admin_audit(const struct mias_conf *conf, struct store *st, int argc,
    char **argv)
{
	static const struct option longopts[] = {
		{ "namespace",	required_argument, NULL, 'n' },
		{ "since",	required_argument, NULL, 's' },
		{ "until",	required_argument, NULL, 'u' },
		{ "json",	no_argument,	   NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct audit_out o = { 0, 0 };
	const char	*ns = NULL;
	int64_t		 since = 0, until = 0;
	int		 ch;

	(void)conf;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			ns = optarg;
			break;
		case 's':
			if ((since = parse_time(optarg)) < 0)
				goto usage;
			break;
		case 'u':
			if ((until = parse_time(optarg)) < 0)
				goto usage;
			break;
		case 'j':
			o.json = 1;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc)
		goto usage;
	/* printed as read: a long trail is never held in memory whole */
	printf(o.json ? "[\n" : "TIME\tNAMESPACE\tFROM\tACTION\tTARGET\t"
	    "OUTCOME\n");
	if (audit_each(st, ns, since, until, audit_print, &o) != 0) {
		if (o.json)
			printf("\n]\n");
		fflush(stdout);
		fprintf(stderr, "mias-admin: audit: %s\n", errno ?
		    strerror(errno) : ferror(stdout) ? "cannot write the "
		    "output" : store_errmsg(st));
		return 1;
	}
	if (o.json)
		printf("%s]\n", o.n ? "\n" : "");
	return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
usage:
	fprintf(stderr, "usage: mias-admin audit [--namespace NS] [--since TIME] "
	    "[--until TIME] [--json]\n"
	    "  TIME: 2026-11-27T20:00:00Z, 2026-11-27, or seconds since 1970\n");
	return 2;
}
