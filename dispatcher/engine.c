/* engine.c -- mias-dispatcher: hand images to engines (remote or command) */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dispatcher.h"
#include "job.h"
#include "jv.h"
#include "log.h"
#include "ns.h"
#include "oss.h"
#include "result.h"
#include "store.h"
#include "study.h"

extern char **environ;

#define TRIGGER_TIMEOUT		30		/* seconds per trigger POST */
#define CMD_OUTPUT_MAX		(16 * 1024 * 1024)
#define IMAGE_MAX_BYTES		(4ULL * 1024 * 1024 * 1024)

/* Delays before the next trigger attempt: an engine that is down gets a
 * few tries over about twenty seconds, one that says no gets one more. */
static const unsigned unavailable_delay[] = { 2, 5, 10 };
static const unsigned rejected_delay[] = { 2 };

/* What an image job needs, read in one transaction. */
struct image {
	const struct crypto_keys *keys;
	struct task		*task;
	const char		*id;
	char			*jkey;
	size_t			 jklen;
	struct job_rec		 job;
	struct study_rec	 study;
	struct study_creds	 creds;
	int			 runnable;	/* job QUEUED, study RUNNING */
	int			 later;		/* study QUEUED: not listed yet */
	int			 type;
};

static void
image_clear(struct image *im)
{
	free(im->jkey);
	job_rec_free(&im->job);
	study_rec_free(&im->study);
	study_creds_wipe(&im->creds);
	im->jkey = NULL;
}

/*
 * The engine that runs the image, its task counted in that engine's slot
 * (task_retype): a push job's record names its section (triggerAnalysis
 * routed it by its analysis), a study's is its studyType's.  NULL when
 * that engine is not configured (any more).
 */
static struct conf_engine *
image_engine(struct disp *d, struct task *t, const struct image *im)
{
	struct mias_conf	*c = t->t_dconf->dc_conf;
	const char		*name = im->study.sr_engine;
	int			 e;

	e = conf_engine_of(c, im->type, name != NULL && name[0] != '\0' ?
	    name : NULL);
	task_retype(d, t, e != 0 ? e : im->type);
	return e != 0 ? &c->c_engine[e - 1] : NULL;
}

/* What the engine is asked to run: the trigger's analysis for a push
 * job, the first its section lists for a study. */
static const char *
image_analysis(const struct image *im, const struct conf_engine *ce)
{
	const char *a = im->study.sr_analysis;

	return a != NULL && a[0] != '\0' ? a : ce->ce_analysis;
}

static int
image_body(struct store_txn *t, void *arg)
{
	struct image		*im = arg;
	char			 skey[STUDY_KEY_MAX];
	size_t			 sklen;
	int64_t			 run;
	int			 rc;

	image_clear(im);
	im->runnable = im->later = 0;
	if ((rc = task_fresh(t, im->task)) != STORE_OK ||
	    (rc = job_lookup(t, im->id, &im->jkey, &im->jklen, &im->job,
	    0)) != STORE_OK)
		return rc;
	if ((sklen = job_study(&im->job, skey, &run)) == 0)
		return STORE_NOTFOUND;
	im->type = skey[strlen(skey) + 1] - '0';
	if ((rc = study_get(t, skey, sklen, &im->study, 0)) != STORE_OK)
		return rc;
	if (im->job.jr_state != JOB_QUEUED ||
	    !REC_HAS(&im->study, SF_RUN) || im->study.sr_run != run)
		return STORE_OK;
	switch (im->study.sr_state) {
	case STUDY_RUNNING:
		break;
	case STUDY_QUEUED:
		/* its images exist but QUEUED -> RUNNING does not: the study
		 * is listed again, and then this image runs; never dropped
		 * for it (that would strand the job) */
		im->later = 1;
		return STORE_OK;
	default:
		return STORE_OK;	/* ended: the image is done with */
	}
	if (study_creds_open(&im->study, im->keys, skey, sklen,
	    &im->creds) == -1)
		return STORE_OK;
	im->runnable = 1;
	return STORE_OK;
}

/* Read the job; 1 when it should run, else 0 and what becomes of the
 * task in *res. */
static int
image_load(struct disp *d, struct task *t, struct image *im,
    enum task_res *res)
{
	int rc;

	memset(im, 0, sizeof(*im));
	im->keys = d->d_keys;
	im->task = t;
	im->id = t->t_id;
	rc = store_txn(d->d_store, image_body, im);
	if (rc == STORE_OK && im->runnable)
		return 1;
	if (rc == STORE_OK && im->later) {
		t->t_retry = store_now_ms() + 1000;
		*res = TASK_RETRY;
	} else if (rc != STORE_OK && rc != STORE_NOTFOUND) {
		log_warnx("image %s: %s", t->t_id, store_errmsg(d->d_store));
		*res = TASK_DONE;
	} else
		*res = TASK_DROP;	/* ended, replaced by another run, or
					 * its study is gone */
	return 0;
}

/* The outcome of an image: the job finished (or failed), its item gone. */
struct outcome {
	struct task	*task;
	json_object	*findings;	/* consumed */
	const char	*code;
	const char	*msg;
	int		 sent;		/* a remote engine took it */
	int64_t		 deadline;
	int		 retry_in;	/* > 0: try again in that many s */
	int		 local;		/* a command engine's (see below) */
	int		 changed;
};

static int
outcome_body(struct store_txn *t, void *arg)
{
	struct outcome	*o = arg;
	struct job_rec	 job;
	char		*jkey = NULL;
	size_t		 jklen;
	int		 rc;

	o->changed = 0;
	if ((rc = task_fresh(t, o->task)) != STORE_OK)
		return rc;
	if ((rc = job_lookup(t, o->task->t_id, &jkey, &jklen, &job, 1)) !=
	    STORE_OK)
		goto drop;
	if (job.jr_state != JOB_QUEUED)
		goto drop;	/* the engine's result came first */
	if (o->sent) {
		rc = job_sent(t, jkey, jklen, &job, o->task->t_type,
		    o->deadline);
		goto drop_if_ok;
	}
	if (o->retry_in > 0) {
		/* the record and the item's new due time in one commit */
		if ((rc = job_retry(t, jkey, jklen, &job, o->msg)) !=
		    STORE_OK)
			goto out;
		if ((rc = store_del(t, SDB_QUEUE, o->task->t_qkey,
		    o->task->t_qklen)) != STORE_OK && rc != STORE_NOTFOUND)
			goto out;
		rc = queue_put_image(t, store_now_ms() + o->retry_in * 1000LL,
		    o->task->t_type, o->task->t_ns, o->task->t_id,
		    o->task->t_idlen);
		goto out;
	}
	rc = job_finish(t, jkey, jklen, &job,
	    o->findings ? json_object_get(o->findings) : NULL, o->code, o->msg,
	    store_now_ms(), &o->changed);
drop_if_ok:
	if (rc != STORE_OK)
		goto out;
drop:
	if (rc == STORE_OK || rc == STORE_NOTFOUND)
		rc = store_del(t, SDB_QUEUE, o->task->t_qkey, o->task->t_qklen);
	if (rc == STORE_NOTFOUND)
		rc = STORE_OK;
out:
	job_rec_free(&job);
	free(jkey);
	return rc;
}

/*
 * A command engine's outcome need not wait for the disk: nobody outside
 * has seen it.  Lost in a crash, or in a recovery after another process
 * died (which this process learns of before it records anything more:
 * task_fresh), the image is run again; it reaches the
 * disk with the next durable commit at the latest, which is the study's
 * assembly, before any callback tells a caller about it (the log is
 * written in order).  A remote engine's outcome follows a request the
 * engine saw, and is durable.
 */
static void
outcome_store(struct disp *d, struct outcome *o)
{
	if (atomic_load(&disp_restarting))
		;	/* the failure may be the restart's: the item stays */
	else if ((o->local ? store_txn_nosync : store_txn)(d->d_store,
	    outcome_body, o) != 0)
		log_warnx("image %s: cannot record its outcome: %s",
		    o->task->t_id, store_errmsg(d->d_store));
	json_object_put(o->findings);
	o->findings = NULL;
}

/* ---- remote engines ------------------------------------------------- */

static enum task_res trigger_done(struct xfer *, CURLcode);

enum task_res
engine_trigger(struct disp *d, struct task *t)
{
	struct mias_conf	*c = t->t_dconf->dc_conf;
	struct conf_engine	*ce;
	struct image		 im;
	struct curl_slist	*hdrs = NULL;
	json_object		*b = NULL;
	char			 sig[JOB_SIG_LEN + 1], *cb = NULL, *body = NULL;
	char			 hdr[NS_TOKEN_MAX + 32];
	const char		*s;
	size_t			 len;
	enum task_res		 res = TASK_DONE;

	if (image_load(d, t, &im, &res) != 1)
		goto release;
	ce = image_engine(d, t, &im);
	if (ce != NULL && ce->ce_command != NULL) {
		/* queued for a slot a reload gave another engine: the
		 * command engine that serves it now runs it */
		image_clear(&im);
		return TASK_WORKER;
	}
	if (ce == NULL || ce->ce_url == NULL) {
		struct outcome o = { t, NULL, fail_code_name(FAIL_NO_ENGINE),
		    "no remote engine is configured for this studyType",
		    0, 0, 0, 0, 0 };

		outcome_store(d, &o);
		goto release;
	}
	/* the caller's credentials go to the engine, which reads the image
	 * itself (API.md 5.) */
	job_sig(d->d_keys, t->t_id, sig);
	if (asprintf(&cb, "%s/dicom/api/algorithmResult?job=%s&sig=%s",
	    c->c_public_url, t->t_id, sig) == -1) {
		cb = NULL;
		goto fail;
	}
	if ((b = json_object_new_object()) == NULL)
		goto fail;
	json_object_object_add(b, "namespace", json_object_new_string(
	    ce->ce_namespace ? ce->ce_namespace : REC_STR(im.study.sr_ns)));
	json_object_object_add(b, "ImageUid", json_object_new_string(t->t_id));
	json_object_object_add(b, "endpoint",
	    json_object_new_string(REC_STR(im.study.sr_endpoint)));
	json_object_object_add(b, "bucketName",
	    json_object_new_string(REC_STR(im.study.sr_bucket)));
	json_object_object_add(b, "key",
	    json_object_new_string(REC_STR(im.job.jr_object)));
	json_object_object_add(b, "analysis",
	    json_object_new_string(image_analysis(&im, ce)));
	json_object_object_add(b, "resultCallBackUrl",
	    json_object_new_string(cb));
	/* the caller's credentials are written into the body here, in one
	 * buffer of exact size that is wiped when the transfer ends: json-c
	 * would keep copies of them in buffers it frees unwiped */
	s = json_object_to_json_string_length(b, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (s == NULL || len < 2)
		goto fail;
	{
		static const char f1[] = "{\"accessKeyId\":";
		static const char f2[] = ",\"accessKeySecret\":";
		static const char f3[] = ",\"securityToken\":";
		size_t total = sizeof(f1) - 1 + jv_quoted_len(im.creds.sc_ak) +
		    sizeof(f2) - 1 + jv_quoted_len(im.creds.sc_sk) +
		    sizeof(f3) - 1 + jv_quoted_len(im.creds.sc_sts) + 1 +
		    (len - 1);
		char *p;

		if ((body = malloc(total + 1)) == NULL)
			goto fail;
		p = body;
		memcpy(p, f1, sizeof(f1) - 1);
		p += sizeof(f1) - 1;
		p += jv_quote(p, im.creds.sc_ak);
		memcpy(p, f2, sizeof(f2) - 1);
		p += sizeof(f2) - 1;
		p += jv_quote(p, im.creds.sc_sk);
		memcpy(p, f3, sizeof(f3) - 1);
		p += sizeof(f3) - 1;
		p += jv_quote(p, im.creds.sc_sts);
		*p++ = ',';
		memcpy(p, s + 1, len);	/* the rest, after its '{' */
		len = total;
	}
	if (ce->ce_namespace != NULL) {
		snprintf(hdr, sizeof(hdr), "namespace: %s", ce->ce_namespace);
		hdrs = curl_slist_append(hdrs, hdr);
	}
	if (ce->ce_token != NULL) {
		snprintf(hdr, sizeof(hdr), "tokenId: %s", ce->ce_token);
		hdrs = curl_slist_append(hdrs, hdr);
		crypto_wipe(hdr, sizeof(hdr));
	}
	t->t_flag = im.job.jr_attempts;
	if (http_post(d, ce->ce_url, body, len, hdrs, TRIGGER_TIMEOUT, NULL,
	    trigger_done, t) == -1) {
		body = NULL;	/* freed by http_post */
		goto fail;
	}
	json_object_put(b);
	free(cb);
	image_clear(&im);
	return TASK_PENDING;
fail:
	log_warnx("image %s: cannot start the trigger", t->t_id);
	json_object_put(b);
	free(cb);
	free(body);
release:
	image_clear(&im);
	return res;
}

static enum task_res
trigger_done(struct xfer *x, CURLcode code)
{
	struct disp		*d = x->x_disp;
	struct task		*t = x->x_task;
	struct conf_engine	*ce = &t->t_dconf->dc_conf->c_engine[t->t_type - 1];
	struct outcome		 o;
	json_object		*resp = NULL, *v;
	char			 msg[512];
	const char		*rc = NULL;
	int			 rejected = 0, attempts = t->t_flag;

	memset(&o, 0, sizeof(o));
	o.task = t;
	/* an engine (another mias, say) explains a refusal in the body
	 * whatever the status: keep its words for the caller */
	if (code == CURLE_OK && x->x_resp != NULL &&
	    (resp = store_json(x->x_resp, x->x_resplen)) != NULL &&
	    json_object_object_get_ex(resp, "returnCode", &v) &&
	    json_object_is_type(v, json_type_string))
		rc = json_object_get_string(v);
	if (rc != NULL && strcmp(rc, "000000") == 0 && x->x_status >= 200 &&
	    x->x_status < 300) {
		o.sent = 1;
		o.deadline = store_now_ms() + ce->ce_timeout * 1000LL;
		outcome_store(d, &o);
		json_object_put(resp);
		return TASK_DONE;
	}
	if (code != CURLE_OK)
		snprintf(msg, sizeof(msg), "engine unreachable: %s",
		    x->x_errbuf[0] ? x->x_errbuf : curl_easy_strerror(code));
	else if (x->x_status >= 500 || x->x_status == 429 ||
	    x->x_status == 408)
		snprintf(msg, sizeof(msg), "engine answered HTTP %ld",
		    x->x_status);
	else {
		rejected = 1;
		if (rc != NULL) {
			if (!json_object_object_get_ex(resp, "returnMessage",
			    &v))
				v = NULL;
			snprintf(msg, sizeof(msg), "engine refused the image: "
			    "HTTP %ld, returnCode %.16s: %.300s", x->x_status,
			    rc, v ? json_object_get_string(v) : "");
		} else
			snprintf(msg, sizeof(msg), "engine refused the image: "
			    "HTTP %ld without a returnCode", x->x_status);
	}
	json_object_put(resp);
	o.msg = msg;
	if (rejected && attempts < (int)(sizeof(rejected_delay) /
	    sizeof(rejected_delay[0])))
		o.retry_in = (int)rejected_delay[attempts];
	else if (!rejected && attempts < (int)(sizeof(unavailable_delay) /
	    sizeof(unavailable_delay[0])))
		o.retry_in = (int)unavailable_delay[attempts];
	else
		o.code = fail_code_name(rejected ? FAIL_ENGINE_REJECTED :
		    FAIL_ENGINE_UNAVAILABLE);
	log_info("image %s: %s%s", t->t_id, msg, o.retry_in ? ", will retry" :
	    "");
	outcome_store(d, &o);
	return TASK_DONE;
}

struct timeout_arg {
	struct task	*task;
	int		 changed;
};

static int
timeout_body(struct store_txn *t, void *arg)
{
	struct timeout_arg	*a = arg;
	struct mias_conf	*c = a->task->t_dconf->dc_conf;
	struct job_rec		 job;
	json_object		*w = NULL, *v;
	char			*jkey = NULL, msg[128];
	size_t			 jklen;
	int			 rc, type;

	a->changed = 0;
	if ((rc = task_fresh(t, a->task)) != STORE_OK)
		return rc;
	rc = job_lookup(t, a->task->t_id, &jkey, &jklen, &job, 1);
	if (rc == STORE_OK && job.jr_state == JOB_SENT) {
		/* the slot of the engine the trigger went to: its waiting
		 * record's (job_sent) */
		type = 0;
		if (store_get_json(t, SDB_WAITING, a->task->t_id, JOB_ID_LEN,
		    &w, 0) == STORE_OK && json_object_object_get_ex(w,
		    "studyType", &v))
			type = json_object_get_int(v);
		json_object_put(w);
		snprintf(msg, sizeof(msg), "no result from the engine within "
		    "%u s", type >= 1 && type <= CONF_ENGINES ?
		    c->c_engine[type - 1].ce_timeout : 0);
		rc = job_finish(t, jkey, jklen, &job, NULL,
		    fail_code_name(FAIL_ENGINE_TIMEOUT), msg, store_now_ms(),
		    &a->changed);
	}
	if (rc == STORE_OK || rc == STORE_NOTFOUND)
		rc = store_del(t, SDB_QUEUE, a->task->t_qkey,
		    a->task->t_qklen);
	if (rc == STORE_NOTFOUND)
		rc = STORE_OK;
	job_rec_free(&job);
	free(jkey);
	return rc;
}

enum task_res
engine_timeout(struct disp *d, struct task *t)
{
	struct timeout_arg a = { t, 0 };

	if (store_txn(d->d_store, timeout_body, &a) != 0)
		log_warnx("image %s: cannot record its timeout: %s", t->t_id,
		    store_errmsg(d->d_store));
	else if (a.changed)
		log_info("image %s: no result in time", t->t_id);
	return TASK_DONE;
}

/* ---- local command engines --------------------------------------------- */

/*
 * The command line, split at blanks (no shell, no quoting), with
 * "{input}" in any word replaced by the image's path; without one the
 * path is added as the last word.
 */
static char **
command_argv(const char *command, const char *path)
{
	char	**argv = NULL, *copy, *p, *w, *at;
	size_t	  n = 0, cap = 8;
	int	  used = 0;

	if ((copy = strdup(command)) == NULL ||
	    (argv = calloc(cap + 2, sizeof(*argv))) == NULL)
		goto fail;
	for (p = copy; (w = strsep(&p, " \t")) != NULL; ) {
		if (*w == '\0')
			continue;
		if (n == cap) {
			char **na = reallocarray(argv, 2 * cap + 2,
			    sizeof(*na));

			if (na == NULL)
				goto fail;
			argv = na;
			cap *= 2;
		}
		if ((at = strstr(w, "{input}")) != NULL) {
			used = 1;
			if (asprintf(&argv[n], "%.*s%s%s", (int)(at - w), w,
			    path, at + 7) == -1) {
				argv[n] = NULL;
				goto fail;
			}
		} else if ((argv[n] = strdup(w)) == NULL)
			goto fail;
		argv[++n] = NULL;
	}
	if (n == 0)
		goto fail;
	if (!used && (argv[n++] = strdup(path)) == NULL)
		goto fail;
	argv[n] = NULL;
	free(copy);
	return argv;
fail:
	if (argv != NULL)
		for (n = 0; argv[n] != NULL; n++)
			free(argv[n]);
	free(argv);
	free(copy);
	return NULL;
}

static void
argv_free(char **argv)
{
	size_t i;

	for (i = 0; argv != NULL && argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}

static int
stopping(struct disp *d)
{
	int s;

	pthread_mutex_lock(&d->d_mtx);
	s = d->d_stopping;
	pthread_mutex_unlock(&d->d_mtx);
	return s;
}

/*
 * Run the command on path; its standard output (at most CMD_OUTPUT_MAX)
 * goes to *out.  0 when it exited 0; otherwise -1 with msg and code set.
 * 1 when the dispatcher is stopping (abandoned: runs again next start).
 */
static int
command_run(struct disp *d, struct task *t, struct conf_engine *ce, int type,
    const char *analysis, const char *id, const char *path, char **out,
    size_t *outlen, const char **code, char *msg, size_t msglen)
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 sa;
	struct pollfd			 pfd;
	char				**argv = NULL, *buf = NULL, *nb;
	char				 envt[32], enva[160], envi[QUEUE_ID_MAX + 32];
	char				**envp = NULL;
	size_t				 len = 0, cap = 0, ne, i;
	int64_t				 deadline;
	pid_t				 pid = -1;
	int				 p[2] = { -1, -1 }, status, rc = -1;
	int				 killed = 0, abandoned = 0, over = 0;

	*out = NULL;
	*outlen = 0;
	*code = fail_code_name(FAIL_ENGINE_ERROR);
	if ((argv = command_argv(ce->ce_command, path)) == NULL) {
		snprintf(msg, msglen, "the engine command is empty or too "
		    "long");
		return -1;
	}
	/* the engine learns what it is asked, never a credential */
	for (ne = 0; environ[ne] != NULL; ne++)
		;
	if ((envp = calloc(ne + 4, sizeof(*envp))) == NULL)
		goto out;
	for (i = 0; i < ne; i++)
		envp[i] = environ[i];
	snprintf(envt, sizeof(envt), "MIAS_STUDY_TYPE=%d", type);
	snprintf(enva, sizeof(enva), "MIAS_ANALYSIS=%s", analysis);
	snprintf(envi, sizeof(envi), "MIAS_IMAGE_UID=%s", id);
	envp[ne] = envt;
	envp[ne + 1] = enva;
	envp[ne + 2] = envi;
	envp[ne + 3] = NULL;

	if (pipe2(p, O_CLOEXEC) == -1)
		goto out;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawnattr_init(&sa);
	/* its own process group, so a timeout kills what it started too */
	posix_spawnattr_setpgroup(&sa, 0);
	posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETPGROUP);
	errno = posix_spawnp(&pid, argv[0], &fa, &sa, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&sa);
	close(p[1]);
	p[1] = -1;
	if (errno != 0) {
		snprintf(msg, msglen, "cannot run the engine %s: %s", argv[0],
		    strerror(errno));
		pid = -1;
		goto out;
	}
	deadline = store_now_ms() + ce->ce_timeout * 1000LL;
	pfd.fd = p[0];
	pfd.events = POLLIN;
	for (;;) {
		int64_t left = deadline - store_now_ms();
		ssize_t n;

		/* stopping, or started over from the store (whatever this
		 * image's run gives could not be recorded): the item stays */
		if (stopping(d) || task_stale(d, t)) {
			abandoned = 1;
			break;
		}
		if (left <= 0) {
			killed = 1;
			break;
		}
		if (poll(&pfd, 1, left > 200 ? 200 : (int)left) <= 0)
			continue;
		if (len == cap) {
			cap = cap ? 2 * cap : 65536;
			if (cap > CMD_OUTPUT_MAX + 1)
				cap = CMD_OUTPUT_MAX + 1;
			if ((nb = realloc(buf, cap + 1)) == NULL)
				break;
			buf = nb;
		}
		if ((n = read(p[0], buf + len, cap - len)) <= 0)
			break;	/* end of output */
		len += (size_t)n;
		if (len > CMD_OUTPUT_MAX) {
			over = 1;
			break;
		}
	}
	if (killed || abandoned || over)
		kill(-pid, SIGKILL);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (abandoned) {
		rc = 1;
		goto out;
	}
	if (killed) {
		*code = fail_code_name(FAIL_ENGINE_TIMEOUT);
		snprintf(msg, msglen, "the engine gave no result within %u s",
		    ce->ce_timeout);
		goto out;
	}
	if (over) {
		*code = fail_code_name(FAIL_ENGINE_BAD_RESULT);
		snprintf(msg, msglen, "the engine wrote more than %d bytes",
		    CMD_OUTPUT_MAX);
		goto out;
	}
	if (WIFSIGNALED(status)) {
		snprintf(msg, msglen, "the engine was killed by signal %d",
		    WTERMSIG(status));
		goto out;
	}
	if (WEXITSTATUS(status) != 0) {
		snprintf(msg, msglen, "the engine exited with status %d",
		    WEXITSTATUS(status));
		goto out;
	}
	if (buf == NULL && (buf = malloc(1)) == NULL)
		goto out;
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	buf = NULL;
	rc = 0;
out:
	if (rc == -1 && msg[0] == '\0')
		snprintf(msg, msglen, "cannot run the engine: %s",
		    strerror(errno));
	if (p[0] != -1)
		close(p[0]);
	if (p[1] != -1)
		close(p[1]);
	free(buf);
	free(envp);
	argv_free(argv);
	return rc;
}

enum task_res
engine_command(struct disp *d, struct task *t)
{
	struct mias_conf	*c = t->t_dconf->dc_conf;
	struct conf_engine	*ce;
	struct oss_opts		 oo;
	struct oss_client	*oc = NULL;
	struct oss_target	 ot;
	struct oss_creds	 cr;
	struct oss_error	 oe;
	struct outcome		 o;
	struct image		 im;
	struct result		 res;
	enum oss_err		 err;
	char			 path[4096], msg[512], emsg[700], *out = NULL;
	size_t			 outlen;
	enum task_res		 tr = TASK_DONE;
	int			 fd = -1, r;

	memset(&o, 0, sizeof(o));
	memset(&res, 0, sizeof(res));
	path[0] = msg[0] = '\0';
	o.task = t;
	o.local = 1;
	if (image_load(d, t, &im, &tr) != 1)
		goto release;
	ce = image_engine(d, t, &im);
	if (ce != NULL && ce->ce_url != NULL) {
		/* queued for a slot a reload gave another engine: queued
		 * again under the remote engine's, which the main loop
		 * triggers */
		t->t_retry = store_now_ms();
		tr = TASK_RETRY;
		goto release;
	}
	if (ce == NULL || ce->ce_command == NULL) {
		o.code = fail_code_name(FAIL_NO_ENGINE);
		o.msg = "no command engine is configured for this studyType";
		goto record;
	}

	/* the image, in a file only we can read, removed whatever happens */
	snprintf(path, sizeof(path), "%s/tmp/image-XXXXXX",
	    c->c_state_dir);
	if ((fd = mkostemp(path, O_CLOEXEC)) == -1) {
		snprintf(msg, sizeof(msg), "cannot make a temporary file: %s",
		    strerror(errno));
		path[0] = '\0';
		o.code = fail_code_name(FAIL_LOCAL_ERROR);
		o.msg = msg;
		goto record;
	}
	oss_opts_default(&oo);
	oo.oo_keep = 1;		/* one connection per worker and endpoint */
	oo.oo_sigver = c->c_oss_sigver;
	oo.oo_egress = &c->c_egress;
	if ((oc = oss_client_new(&oo, msg, sizeof(msg))) == NULL) {
		o.code = fail_code_name(FAIL_LOCAL_ERROR);
		o.msg = msg;
		goto record;
	}
	cr.oc_access_key_id = im.creds.sc_ak;
	cr.oc_access_key_secret = im.creds.sc_sk;
	cr.oc_security_token = im.creds.sc_sts;
	ot.ot_endpoint = REC_STR(im.study.sr_endpoint);
	ot.ot_bucket = REC_STR(im.study.sr_bucket);
	ot.ot_creds = &cr;
	memset(&oe, 0, sizeof(oe));
	err = oss_get_fd(oc, &ot, REC_STR(im.job.jr_object), 0, 0, fd,
	    IMAGE_MAX_BYTES, NULL, NULL, &oe);
	study_creds_wipe(&im.creds);
	close(fd);
	fd = -1;
	if (err != OSS_OK) {
		/* errorMessage is the caller's; the detail the log's */
		if (oe.oe_detail[0] != '\0')
			log_warnx("image %s: %s", t->t_id, oe.oe_detail);
		snprintf(msg, sizeof(msg), "%s", oe.oe_message);
		o.code = oss_err_name(err);
		o.msg = msg;
		goto record;
	}

	r = command_run(d, t, ce, im.type, image_analysis(&im, ce), t->t_id,
	    path, &out, &outlen, &o.code, msg, sizeof(msg));
	if (r == 1)
		goto release;	/* stopping: the item stays queued */
	if (r == -1) {
		o.msg = msg;
		goto record;
	}
	if (result_parse(im.type, out, outlen, &res, msg, sizeof(msg)) == -1) {
		o.code = fail_code_name(FAIL_ENGINE_BAD_RESULT);
		o.msg = msg;
	} else if (!res.r_engine_ok) {
		snprintf(emsg, sizeof(emsg), "engine returned %s: %s",
		    res.r_code, res.r_message);
		o.code = fail_code_name(FAIL_ENGINE_ERROR);
		o.msg = emsg;
	} else {
		o.code = NULL;
		o.findings = res.r_findings;
		res.r_findings = NULL;
	}
record:
	outcome_store(d, &o);
	if (o.code != NULL)
		log_info("image %s: %s: %s", t->t_id, o.code, o.msg);
release:
	if (fd != -1)
		close(fd);
	if (path[0] != '\0')
		unlink(path);
	oss_client_free(oc);
	result_free(&res);
	free(out);
	image_clear(&im);
	return tr;
}
