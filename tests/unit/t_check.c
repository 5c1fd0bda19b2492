/* t_check.c -- the store's invariants: what check_store finds and repairs */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "crypto.h"
#include "job.h"
#include "outbox.h"
#include "queue.h"
#include "store.h"
#include "study.h"
#include "tap.h"

/*
 * The heap a check uses at most: malloc and its kin counted while
 * counting is on (glibc lets a program replace them; these hand each call
 * on to glibc's own).  Not under AddressSanitizer, whose allocator is
 * replaced the same way.
 */
#if defined(__SANITIZE_ADDRESS__)
#define HEAP_COUNTED	0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEAP_COUNTED	0
#endif
#endif
#ifndef HEAP_COUNTED
#define HEAP_COUNTED	1
#endif

#if HEAP_COUNTED
#include <malloc.h>

extern void	*__libc_malloc(size_t);
extern void	*__libc_calloc(size_t, size_t);
extern void	*__libc_realloc(void *, size_t);
extern void	 __libc_free(void *);

static int	 heap_on;
static size_t	 heap_now, heap_peak;

static void
heap_add(void *p)
{
	if (heap_on && p != NULL) {
		heap_now += malloc_usable_size(p);
		if (heap_now > heap_peak)
			heap_peak = heap_now;
	}
}

static void
heap_sub(void *p)
{
	size_t n;

	if (heap_on && p != NULL) {
		n = malloc_usable_size(p);
		heap_now = heap_now > n ? heap_now - n : 0;
	}
}

void *
malloc(size_t n)
{
	void *p = __libc_malloc(n);

	heap_add(p);
	return p;
}

void *
calloc(size_t m, size_t n)
{
	void *p = __libc_calloc(m, n);

	heap_add(p);
	return p;
}

void *
realloc(void *old, size_t n)
{
	void *p;

	heap_sub(old);
	p = __libc_realloc(old, n);
	heap_add(p != NULL ? p : n == 0 ? NULL : old);
	return p;
}

void
free(void *p)
{
	heap_sub(p);
	__libc_free(p);
}
#endif

/*
 * Under valgrind (tests/sanitize.sh) the backlog is left out: 40,000
 * submissions take minutes there, and Berkeley DB's page splits write
 * bytes of its own pages it never set (its report, not ours).
 */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define UNDER_VALGRIND()	(RUNNING_ON_VALGRIND != 0)
#endif
#endif
#ifndef UNDER_VALGRIND
#define UNDER_VALGRIND()	(getenv("LD_PRELOAD") != NULL && \
				 strstr(getenv("LD_PRELOAD"), "vgpreload") != NULL)
#endif

#define BACKLOG			40000
#define BACKLOG_HEAP_MAX	(3 * 1024 * 1024)

static char		 dir[256];
static struct crypto_keys keys;
static int		 said;

static void
say(void *arg, const char *line)
{
	(void)arg;
	said++;
	printf("# check: %s\n", line);
}

/* check_store's verdict and counts, one line */
static int
check(struct store *s, int repair, struct check_report *r)
{
	said = 0;
	return check_store(s, repair, say, NULL, r);
}

struct op {
	const char	*uid;
	int		 what;
	int64_t		 run;
	char		 id[JOB_ID_LEN + 1];
	char		 msg[WEBHOOK_ID_MAX];
	int		 n;
};

enum {
	OP_SUBMIT,		/* a new study, QUEUED, with its listing item */
	OP_AGE,			/* its record last changed 10 s ago */
	OP_DROP_ITEMS,		/* every queue item goes */
	OP_LISTED,		/* the lost-step state: QUEUED, listed, a job */
	OP_RUNNING_DONE,	/* RUNNING, listed, its one job DONE */
	OP_STRAY,		/* an image item of a job that does not exist */
	OP_MSG,			/* a PENDING callback of the study, old */
	OP_ORPHAN,		/* a callback of no study */
	OP_COUNT,		/* queue items */
	OP_BACKLOG,		/* n studies "b.<from + i>", QUEUED */
	OP_STRAYS,		/* n image items of jobs that do not exist */
};

static int
count_visit(const void *k, size_t kl, const char *v, size_t vl, void *arg)
{
	(void)k;
	(void)kl;
	(void)v;
	(void)vl;
	(*(int *)arg)++;
	return 0;
}

static int
del_visit(const void *k, size_t kl, const char *v, size_t vl, void *arg)
{
	struct store_txn *t = arg;

	(void)v;
	(void)vl;
	return store_del(t, SDB_QUEUE, k, kl);
}

static int
op_body(struct store_txn *t, void *arg)
{
	struct op		*o = arg;
	struct study_submit	 ss;
	enum study_outcome	 out;
	json_object		*rec = NULL;
	char			 key[STUDY_KEY_MAX], jkey[JOB_KEY_MAX];
	size_t			 klen;
	int64_t			 old = store_now_ms() - 10000;
	int			 rc = 0, created, i;
	char			 uid[32], id[JOB_ID_LEN + 1];

	klen = study_key(key, "hosp", 4, o->uid ? o->uid : "");
	switch (o->what) {
	case OP_SUBMIT:
		memset(&ss, 0, sizeof(ss));
		ss.ss_ns = "hosp";
		ss.ss_type = 4;
		ss.ss_uid = o->uid;
		ss.ss_callback = "https://cb.example/notify";
		ss.ss_endpoint = "oss-cn-beijing.aliyuncs.com";
		ss.ss_bucket = "studies";
		ss.ss_key = "knee/";
		ss.ss_creds.sc_ak = (char *)(uintptr_t)"AK";
		ss.ss_creds.sc_sk = (char *)(uintptr_t)"SK";
		return study_submit(t, &keys, &ss, &out);
	case OP_AGE:
	case OP_LISTED:
	case OP_RUNNING_DONE:
		if ((rc = store_get_json(t, SDB_STUDIES, key, klen, &rec, 1)) !=
		    0)
			return rc;
		o->run = json_object_get_int64(json_object_object_get(rec,
		    "run"));
		if (o->what == OP_LISTED || o->what == OP_RUNNING_DONE) {
			json_object_object_add(rec, "listed",
			    json_object_new_boolean(1));
			json_object_object_add(rec, "imagesTotal",
			    json_object_new_int(1));
			if ((rc = job_create(t, key, klen, o->run, "knee/1.dcm",
			    10, old, old, 0, &created)) != 0)
				break;
			job_id(jkey, job_key(jkey, key, klen, o->run,
			    "knee/1.dcm"), o->id);
		}
		if (o->what == OP_RUNNING_DONE) {
			struct job_rec	 job;
			char		*jk = NULL;
			size_t		 jkl;
			int		 changed;

			json_object_object_add(rec, "state",
			    json_object_new_string("RUNNING"));
			json_object_object_add(rec, "updated",
			    json_object_new_int64(old));
			if ((rc = store_put_json(t, SDB_STUDIES, key, klen,
			    rec)) != 0 ||
			    (rc = job_lookup(t, o->id, &jk, &jkl, &job, 1)) != 0)
				break;
			rc = job_finish(t, jk, jkl, &job,
			    json_object_new_array(), NULL, NULL, old, &changed);
			free(jk);
			job_rec_free(&job);
			if (rc != 0)
				break;
			/* job_finish counted it and may have queued the
			 * assembly: the test drops the items after */
			json_object_put(rec);
			rec = NULL;
			if ((rc = store_get_json(t, SDB_STUDIES, key, klen, &rec,
			    1)) != 0)
				return rc;
		}
		json_object_object_add(rec, "updated",
		    json_object_new_int64(old));
		rc = store_put_json(t, SDB_STUDIES, key, klen, rec);
		break;
	case OP_DROP_ITEMS:
		return store_scan(t, SDB_QUEUE, NULL, 0, del_visit, t);
	case OP_STRAY:
		rc = queue_put_image(t, old, 4, "hosp",
		    "0123456789abcdef0123456789abcdef", JOB_ID_LEN);
		break;
	case OP_MSG:
	case OP_ORPHAN:
		if ((rc = outbox_add(t, "hosp", 4, o->uid ? o->uid : "9.9",
		    OUTBOX_STATUS, "https://cb.example/notify", "{}", NULL,
		    old, old, o->msg)) != 0)
			return rc;
		if (o->what == OP_ORPHAN)
			break;
		if ((rc = store_get_json(t, SDB_STUDIES, key, klen, &rec, 1)) !=
		    0)
			return rc;
		json_object_object_add(rec, "lastMessage",
		    json_object_new_string(o->msg));
		rc = store_put_json(t, SDB_STUDIES, key, klen, rec);
		break;
	case OP_BACKLOG:
		for (i = 0; i < o->n && rc == 0; i++) {
			snprintf(uid, sizeof(uid), "b.%ld", (long)o->run + i);
			memset(&ss, 0, sizeof(ss));
			ss.ss_ns = "hosp";
			ss.ss_type = 4;
			ss.ss_uid = uid;
			ss.ss_callback = "https://cb.example/notify";
			ss.ss_endpoint = "oss-cn-beijing.aliyuncs.com";
			ss.ss_bucket = "studies";
			ss.ss_key = "knee/";
			ss.ss_creds.sc_ak = (char *)(uintptr_t)"AK";
			ss.ss_creds.sc_sk = (char *)(uintptr_t)"SK";
			rc = study_submit(t, &keys, &ss, &out);
		}
		return rc;
	case OP_STRAYS:
		for (i = 0; i < o->n && rc == 0; i++) {
			snprintf(id, sizeof(id), "%032lx", (long)o->run + i);
			rc = queue_put_image(t, old, 4, "hosp", id,
			    JOB_ID_LEN);
		}
		return rc;
	case OP_COUNT:
		o->n = 0;
		return store_scan(t, SDB_QUEUE, NULL, 0, count_visit, &o->n);
	}
	json_object_put(rec);
	return rc;
}

static int
op(struct store *s, const char *uid, int what)
{
	struct op o;

	memset(&o, 0, sizeof(o));
	o.uid = uid;
	o.what = what;
	if (store_txn(s, op_body, &o) != 0) {
		printf("# op %d: %s\n", what, store_errmsg(s));
		return -1;
	}
	return what == OP_COUNT ? o.n : 0;
}

/* n backlog studies (OP_BACKLOG) or strays (OP_STRAYS), in transactions
 * of 500 */
static int
op_many(struct store *s, int what, int n)
{
	struct op	o;
	int		i;

	for (i = 0; i < n; i += 500) {
		memset(&o, 0, sizeof(o));
		o.what = what;
		o.run = i;
		o.n = n - i < 500 ? n - i : 500;
		if (store_txn(s, op_body, &o) != 0) {
			printf("# op %d: %s\n", what, store_errmsg(s));
			return -1;
		}
	}
	return 0;
}

int
main(void)
{
	unsigned char		 master[CRYPTO_KEYLEN] = { 9, 8, 7 };
	struct check_report	 r;
	struct store		*s;
	char			 err[256];
	int			 rc, n;

	if (tap_tmpdir(dir, sizeof(dir), "t_check") == -1)
		return 1;
	crypto_keys_derive(master, &keys);
	if (store_open(dir, STORE_CREATE, &s, err, sizeof(err)) == -1) {
		printf("# store_open: %s\n", err);
		return 1;
	}

	rc = check(s, 0, &r);
	tap_ok(rc == 0 && r.cr_problems == 0, "an empty store is clean");

	op(s, "1.1", OP_SUBMIT);
	op(s, "1.1", OP_AGE);
	rc = check(s, 0, &r);
	tap_ok(rc == 0 && r.cr_studies == 1 && r.cr_items == 1,
	    "a queued study with its listing item is clean (%d, %lu studies, "
	    "%lu items)", rc, r.cr_studies, r.cr_items);

	/* a QUEUED study whose listing item is gone: nothing would ever
	 * list it */
	op(s, "1.1", OP_DROP_ITEMS);
	rc = check(s, 0, &r);
	tap_ok(rc == 1 && r.cr_problems == 1 && r.cr_repaired == 0 &&
	    said == 1, "a queued study without its listing item is found "
	    "(%d, %lu)", rc, r.cr_problems);
	tap_ok(op(s, NULL, OP_COUNT) == 0, "without --repair nothing changes");
	rc = check(s, 1, &r);
	tap_ok(rc == 1 && r.cr_repaired == 1, "and repaired on request");
	tap_ok(op(s, NULL, OP_COUNT) == 1, "its listing item is back");
	rc = check(s, 0, &r);
	tap_ok(rc == 0, "then the store is clean");

	/* the state an outside kill test left: QUEUED, listed, its job QUEUED
	 * and nothing queued for either */
	op(s, "2.2", OP_SUBMIT);
	op(s, "2.2", OP_LISTED);
	op(s, NULL, OP_DROP_ITEMS);
	rc = check(s, 1, &r);
	tap_ok(rc == 1 && r.cr_problems == 2 && r.cr_repaired == 2,
	    "a stranded study and its stranded job are found and repaired "
	    "(%lu, %lu)", r.cr_problems, r.cr_repaired);
	n = op(s, NULL, OP_COUNT);
	tap_ok(n == 3, "listing items for both studies and the job's image "
	    "item (%d)", n);
	rc = check(s, 0, &r);
	tap_ok(rc == 0, "then the store is clean (%lu)", r.cr_problems);

	/* running, every image final, and no assembly */
	op(s, "3.3", OP_SUBMIT);
	op(s, NULL, OP_DROP_ITEMS);
	op(s, "3.3", OP_RUNNING_DONE);
	op(s, NULL, OP_DROP_ITEMS);
	rc = check(s, 1, &r);
	tap_ok(rc == 1 && r.cr_repaired >= 1, "a running study whose images "
	    "are all final gets its assembly (%lu)", r.cr_repaired);
	op(s, "1.1", OP_AGE);
	op(s, "2.2", OP_AGE);
	rc = check(s, 0, &r);
	tap_ok(rc == 0, "then the store is clean (%lu)", r.cr_problems);

	/* an image item whose job does not exist */
	op(s, NULL, OP_STRAY);
	n = op(s, NULL, OP_COUNT);
	rc = check(s, 1, &r);
	tap_ok(rc == 1 && r.cr_problems == 1 && r.cr_repaired == 1,
	    "a stray image item is found and deleted");
	tap_ok(op(s, NULL, OP_COUNT) == n - 1, "it is gone");
	/* two items of the same missing job, due at different times */
	op(s, NULL, OP_STRAY);
	usleep(2000);
	op(s, NULL, OP_STRAY);
	rc = check(s, 1, &r);
	tap_ok(rc == 1 && r.cr_repaired == 2 && op(s, NULL, OP_COUNT) == n - 1,
	    "two stray items of one id are both deleted (%lu)", r.cr_repaired);

	/* callbacks */
	op(s, "3.3", OP_MSG);
	rc = check(s, 0, &r);
	tap_ok(rc == 0, "a study's pending callback with its delivery item "
	    "is clean");
	n = op(s, NULL, OP_COUNT);
	op(s, NULL, OP_DROP_ITEMS);
	rc = check(s, 1, &r);
	tap_ok(rc == 1 && r.cr_repaired >= 1, "a pending callback without its "
	    "delivery item is found and queued again");
	op(s, "1.1", OP_AGE);
	op(s, "2.2", OP_AGE);
	op(s, "3.3", OP_AGE);
	rc = check(s, 1, &r);
	tap_ok(rc == 0 || r.cr_problems == r.cr_repaired, "the rest put back "
	    "(%lu)", r.cr_problems);
	op(s, NULL, OP_ORPHAN);
	rc = check(s, 1, &r);
	tap_ok(rc == 1 && r.cr_problems == 1 && r.cr_repaired == 0,
	    "a callback of no study is reported, not deleted");

	/* a long backlog: the check's sets do not hold its ids (about 200
	 * bytes an item in json-c objects), and strays are found in batches */
	if (UNDER_VALGRIND()) {
		tap_ok(1, "# SKIP a long backlog, under valgrind");
		goto done;
	}
	op(s, NULL, OP_DROP_ITEMS);
	tap_ok(op_many(s, OP_BACKLOG, BACKLOG) == 0 &&
	    op_many(s, OP_STRAYS, 600) == 0, "%d queued studies and 600 stray "
	    "image items", BACKLOG);
#if HEAP_COUNTED
	heap_now = heap_peak = 0;
	heap_on = 1;
#endif
	rc = check(s, 1, &r);
#if HEAP_COUNTED
	heap_on = 0;
#endif
	tap_ok(r.cr_items >= BACKLOG + 600 && r.cr_repaired >= 600,
	    "the strays are found in every batch and deleted (%lu items read, "
	    "%lu repaired)", r.cr_items, r.cr_repaired);
#if HEAP_COUNTED
	tap_ok(heap_peak < BACKLOG_HEAP_MAX, "the check's heap stays small "
	    "with %d queued studies: at most %.2f MB (< %.1f MB)", BACKLOG,
	    heap_peak / 1048576.0, BACKLOG_HEAP_MAX / 1048576.0);
#else
	tap_ok(1, "# SKIP the check's heap is not counted under a sanitizer");
#endif
	n = op(s, NULL, OP_COUNT);
	rc = check(s, 0, &r);
	tap_ok(rc == 1 && r.cr_problems == 1 && n >= BACKLOG && n < BACKLOG +
	    600, "then only the callback of no study is left, every listing "
	    "item kept (%d items, %lu problems)", n, r.cr_problems);

done:
	store_close(s);
	crypto_keys_wipe(&keys);
	tap_tmpdir_done(dir);
	return tap_done();
}
