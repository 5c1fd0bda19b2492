/* metrics.c -- counters kept for GET /dicom/api/metrics (Prometheus text) */
#include <dirent.h>
#include <unistd.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "metrics.h"
#include "store.h"

const double metrics_bucket_le[METRICS_BUCKETS] = {
	0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600,
};

/* Keys are NUL-separated parts; n parts, returns the length or 0. */
static size_t
mkey(char *out, size_t outlen, const char *a, const char *b, const char *c,
    const char *d)
{
	const char	*parts[4] = { a, b, c, d };
	size_t		 len = 0, l;
	int		 i;

	for (i = 0; i < 4 && parts[i] != NULL; i++) {
		l = strlen(parts[i]);
		if (len + l + 1 > outlen)
			return 0;
		if (i > 0)
			out[len++] = '\0';
		memcpy(out + len, parts[i], l);
		len += l;
	}
	return len;
}

static int
counter_add(struct store_txn *t, const char *key, size_t klen,
    long long delta, int set)
{
	char		*val = NULL, buf[32];
	long long	 n = 0;
	int		 rc, len;

	if (klen == 0)
		return STORE_ERR;
	if (!set) {
		rc = store_get(t, SDB_COUNTERS, key, klen, &val, NULL,
		    STORE_RMW);
		if (rc == STORE_OK)
			n = strtoll(val, NULL, 10);
		else if (rc != STORE_NOTFOUND)
			return rc;
		free(val);
	}
	n += delta;
	if (n <= 0) {
		rc = store_del(t, SDB_COUNTERS, key, klen);
		return rc == STORE_NOTFOUND ? STORE_OK : rc;
	}
	len = snprintf(buf, sizeof(buf), "%lld", n);
	return store_put(t, SDB_COUNTERS, key, klen, buf, (size_t)len);
}

static size_t
study_mkey(char *out, size_t outlen, const char *ns, int type,
    enum study_state st)
{
	char tbuf[2] = { (char)('0' + type), '\0' };

	if (type < 1 || type > 9 || st >= STUDY__MAX)
		return 0;
	return mkey(out, outlen, "ms", ns, tbuf, study_state_name(st));
}

/* ---- an older store's counts, while ops_build makes them ------------- */

static int metrics_built;	/* seen done: no more looking (a process
				 * works on one store) */

static int
meta_get(struct store_txn *t, const char *name, char **val, size_t *len)
{
	return store_get(t, SDB_META, name, strlen(name), val, len, 0);
}

/* 1 when key (of the database whose build place is mine; other: the
 * place of the other phase) is counted already, or the build has not
 * started (it drops what was counted before); 0 when the build will count
 * it.  The studies are counted first, then the outbox. */
static int
metrics_counted(struct store_txn *t, const char *mine, const char *other,
    int mine_first, const void *key, size_t klen, int *counted)
{
	char	*val = NULL;
	size_t	 len;
	int	 rc, c;

	*counted = 1;
	if (__atomic_load_n(&metrics_built, __ATOMIC_RELAXED))
		return STORE_OK;
	if ((rc = meta_get(t, METRICS_BUILT, &val, NULL)) == STORE_OK) {
		free(val);
		__atomic_store_n(&metrics_built, 1, __ATOMIC_RELAXED);
		return STORE_OK;
	}
	if (rc != STORE_NOTFOUND)
		return rc;
	if ((rc = meta_get(t, mine, &val, &len)) == STORE_OK) {
		/* in key order, as the build goes: up to its place */
		c = memcmp(key, val, klen < len ? klen : len);
		*counted = c < 0 || (c == 0 && klen <= len);
		free(val);
		return STORE_OK;
	}
	if (rc != STORE_NOTFOUND)
		return rc;
	if ((rc = meta_get(t, other, &val, NULL)) == STORE_OK) {
		free(val);
		/* the other phase under way: mine is over, or to come */
		*counted = mine_first;
		return STORE_OK;
	}
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

int
metrics_study_move(struct store_txn *t, const char *skey, size_t sklen,
    enum study_state from, enum study_state to)
{
	char		 key[300], buf[STUDY_KEY_MAX + 1];
	const char	*ns, *uid;
	int		 type, rc, counted;

	if (from == to)
		return STORE_OK;
	if (study_key_parse(skey, sklen, buf, &ns, &type, &uid) == -1)
		return STORE_ERR;
	if ((rc = metrics_counted(t, METRICS_BUILD_STUDIES,
	    METRICS_BUILD_OUTBOX, 1, skey, sklen, &counted)) != STORE_OK ||
	    !counted)
		return rc;
	if (from < STUDY__MAX && (rc = counter_add(t, key, study_mkey(key,
	    sizeof(key), ns, type, from), -1, 0)) != STORE_OK)
		return rc;
	if (to < STUDY__MAX)
		return counter_add(t, key, study_mkey(key, sizeof(key), ns,
		    type, to), 1, 0);
	return STORE_OK;
}

int
metrics_study_count(struct store_txn *t, const char *ns, int type,
    enum study_state st, long long n)
{
	char key[300];

	return counter_add(t, key, study_mkey(key, sizeof(key), ns, type, st),
	    n, 0);
}

static int
collect_key(const void *key, size_t klen, const char *val, size_t len,
    void *arg)
{
	json_object	*keys = arg;
	const char	*k = key;

	(void)val;
	(void)len;
	/* every "ms" key; of "md" keys, the dead-letter gauges only */
	if (k[1] == 'd' && (klen < 5 || memcmp(k + klen - 5, "\0DEAD", 5) != 0))
		return 0;
	return json_object_array_add(keys, json_object_new_string_len(key,
	    (int)klen)) == 0 ? 0 : STORE_ERR;
}

int
metrics_gauges_clear(struct store_txn *t)
{
	json_object	*keys = json_object_new_array(), *k;
	size_t		 i;
	int		 rc;

	if (keys == NULL)
		return STORE_ERR;
	if ((rc = store_scan(t, SDB_COUNTERS, "ms", 3, collect_key, keys)) ==
	    STORE_OK)
		rc = store_scan(t, SDB_COUNTERS, "md", 3, collect_key, keys);
	for (i = 0; rc == STORE_OK && i < json_object_array_length(keys);
	    i++) {
		k = json_object_array_get_idx(keys, i);
		rc = store_del(t, SDB_COUNTERS, json_object_get_string(k),
		    (size_t)json_object_get_string_len(k));
	}
	json_object_put(keys);
	return rc;
}

/*
 * Every image's outcome of a studyType moves its latency counters, in
 * transactions that are durable: one key for all of them would make every
 * outcome of the type wait for the commit before it.  So each counter is
 * kept in METRICS_SHARDS keys (one chosen at random each time), summed
 * when rendered.
 */
#define METRICS_SHARDS	8

int
metrics_latency(struct store_txn *t, int type, int64_t ms)
{
	char	key[64], tbuf[2] = { (char)('0' + type), '\0' }, b[4], sh[4];
	int	i, rc;

	if (type < 1 || type > 9)
		return STORE_OK;
	if (ms < 0)
		ms = 0;
	for (i = 0; i < METRICS_BUCKETS; i++)
		if ((double)ms <= metrics_bucket_le[i] * 1000)
			break;
	snprintf(b, sizeof(b), "%02d", i);	/* METRICS_BUCKETS: +Inf */
	snprintf(sh, sizeof(sh), "%d", (int)(random() % METRICS_SHARDS));
	if ((rc = counter_add(t, key, mkey(key, sizeof(key), "mh", tbuf, b,
	    sh), 1, 0)) != STORE_OK ||
	    (rc = counter_add(t, key, mkey(key, sizeof(key), "mh", tbuf, "sum",
	    sh), ms, 0)) != STORE_OK)
		return rc;
	return counter_add(t, key, mkey(key, sizeof(key), "mh", tbuf, "count",
	    sh), 1, 0);
}

int
metrics_delivered(struct store_txn *t, const char *ns)
{
	char key[300];

	return counter_add(t, key, mkey(key, sizeof(key), "md", ns,
	    "DELIVERED", NULL), 1, 0);
}

int
metrics_dead_add(struct store_txn *t, const char *ns, const char *id,
    int delta)
{
	char	key[300];
	int	rc, counted;

	if ((rc = metrics_counted(t, METRICS_BUILD_OUTBOX,
	    METRICS_BUILD_STUDIES, 0, id, strlen(id), &counted)) != STORE_OK ||
	    !counted)
		return rc;
	return counter_add(t, key, mkey(key, sizeof(key), "md", ns, "DEAD",
	    NULL), delta, 0);
}

int
metrics_dead_count(struct store_txn *t, const char *ns, long long n)
{
	char key[300];

	return counter_add(t, key, mkey(key, sizeof(key), "md", ns, "DEAD",
	    NULL), n, 0);
}

int
metrics_dead_read(struct store_txn *t, const char *ns, long long *n)
{
	char	key[300], *val = NULL;
	size_t	klen = mkey(key, sizeof(key), "md", ns, "DEAD", NULL);
	int	rc;

	*n = 0;
	if (klen == 0)
		return STORE_ERR;
	rc = store_get(t, SDB_COUNTERS, key, klen, &val, NULL, STORE_DIRTY);
	if (rc == STORE_OK)
		*n = strtoll(val, NULL, 10);
	free(val);
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

/* ---- the exposition -------------------------------------------------- */

/* A label value: backslash, double quote and newline escaped. */
static void
mb_label(FILE *m, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			fputs("\\\\", m);
		else if (*s == '"')
			fputs("\\\"", m);
		else if (*s == '\n')
			fputs("\\n", m);
		else
			fputc(*s, m);
	}
}

/* The parts of a counters.db key (up to 4), and its value. */
struct mrec {
	const char	*part[4];
	int		 nparts;
	long long	 val;
	char		 buf[300];
};

static int
mrec_parse(struct mrec *r, const void *key, size_t klen, const char *val,
    size_t len)
{
	char	vb[32];
	size_t	i;

	if (klen >= sizeof(r->buf) || len >= sizeof(vb))
		return -1;
	memcpy(r->buf, key, klen);
	r->buf[klen] = '\0';
	r->nparts = 0;
	r->part[r->nparts++] = r->buf;
	for (i = 0; i < klen; i++)
		if (r->buf[i] == '\0') {
			if (r->nparts == 4)
				return -1;
			r->part[r->nparts++] = r->buf + i + 1;
		}
	memcpy(vb, val, len);
	vb[len] = '\0';
	r->val = strtoll(vb, NULL, 10);
	return 0;
}

static int
studies_visit(const void *key, size_t klen, const char *val, size_t len,
    void *arg)
{
	FILE		*m = arg;
	struct mrec	 r;

	if (mrec_parse(&r, key, klen, val, len) == -1 || r.nparts != 4)
		return 0;
	fprintf(m, "mias_studies{namespace=\"");
	mb_label(m, r.part[1]);
	fprintf(m, "\",study_type=\"");
	mb_label(m, r.part[2]);
	fprintf(m, "\",state=\"");
	mb_label(m, r.part[3]);
	fprintf(m, "\"} %lld\n", r.val);
	return 0;
}

/* Deliveries are written in two passes (counter, then gauge), each a
 * family of its own, as the text format wants a family's lines together. */
struct dpass {
	FILE		*m;
	const char	*which;		/* "DELIVERED" or "DEAD" */
	const char	*metric;
};

static int
dpass_visit(const void *key, size_t klen, const char *val, size_t len,
    void *arg)
{
	struct dpass	*d = arg;
	struct mrec	 r;

	if (mrec_parse(&r, key, klen, val, len) == -1 || r.nparts != 3 ||
	    strcmp(r.part[2], d->which) != 0)
		return 0;
	fprintf(d->m, "%s{namespace=\"", d->metric);
	mb_label(d->m, r.part[1]);
	fprintf(d->m, "\"} %lld\n", r.val);
	return 0;
}

/* Engine latencies, one studyType at a time. */
struct hist {
	long long	 bucket[METRICS_BUCKETS + 1];
	long long	 sum, count;
	int		 seen;
};

static int
hist_visit(const void *key, size_t klen, const char *val, size_t len,
    void *arg)
{
	struct hist	*h = arg;
	struct mrec	 r;
	int		 b;

	/* "mh" type part shard (older keys, without a shard, count too) */
	if (mrec_parse(&r, key, klen, val, len) == -1 || r.nparts < 3)
		return 0;
	h->seen = 1;
	if (strcmp(r.part[2], "sum") == 0)
		h->sum += r.val;
	else if (strcmp(r.part[2], "count") == 0)
		h->count += r.val;
	else if ((b = atoi(r.part[2])) >= 0 && b <= METRICS_BUCKETS)
		h->bucket[b] += r.val;
	return 0;
}

/* The size of the store's files (databases and logs): one level, regular
 * files only. */
static long long
dir_bytes(const char *dir)
{
	DIR		*d;
	struct dirent	*e;
	struct stat	 st;
	long long	 n = 0;
	int		 fd;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((e = readdir(d)) != NULL)
		if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode))
			n += (long long)st.st_size;
	closedir(d);
	return n;
}

int
metrics_render(struct store_txn *t, const char *dir, char **out, size_t *len)
{
	FILE		*m;
	char		*b = NULL;
	size_t		 blen = 0;
	struct dpass	 d;
	struct hist	 h;
	char		 p[8];
	long long	 cum, bytes;
	int		 type, i, rc;

	*out = NULL;
	if ((m = open_memstream(&b, &blen)) == NULL)
		return STORE_ERR;
	fprintf(m, "# HELP mias_studies Studies by namespace, studyType "
	    "and state.\n# TYPE mias_studies gauge\n");
	if ((rc = store_scan(t, SDB_COUNTERS, "ms", 3, studies_visit, m)) !=
	    0)
		goto fail;

	fprintf(m, "# HELP mias_engine_latency_seconds Time from an image "
	    "job's creation to its outcome, by studyType.\n"
	    "# TYPE mias_engine_latency_seconds histogram\n");
	for (type = 1; type <= 9; type++) {
		memset(&h, 0, sizeof(h));
		p[0] = 'm';
		p[1] = 'h';
		p[2] = '\0';
		p[3] = (char)('0' + type);
		p[4] = '\0';
		if ((rc = store_scan(t, SDB_COUNTERS, p, 5, hist_visit, &h)) !=
		    0)
			goto fail;
		if (!h.seen)
			continue;
		for (i = 0, cum = 0; i < METRICS_BUCKETS; i++) {
			cum += h.bucket[i];
			fprintf(m, "mias_engine_latency_seconds_bucket{"
			    "study_type=\"%d\",le=\"%g\"} %lld\n", type,
			    metrics_bucket_le[i], cum);
		}
		cum += h.bucket[METRICS_BUCKETS];
		fprintf(m, "mias_engine_latency_seconds_bucket{study_type="
		    "\"%d\",le=\"+Inf\"} %lld\n", type, cum);
		fprintf(m, "mias_engine_latency_seconds_sum{study_type="
		    "\"%d\"} %lld.%03lld\n", type, h.sum / 1000, h.sum % 1000);
		fprintf(m, "mias_engine_latency_seconds_count{study_type="
		    "\"%d\"} %lld\n", type, cum);
	}

	fprintf(m, "# HELP mias_callbacks_delivered_total Callbacks "
	    "delivered, by namespace.\n"
	    "# TYPE mias_callbacks_delivered_total counter\n");
	d.m = m;
	d.which = "DELIVERED";
	d.metric = "mias_callbacks_delivered_total";
	if ((rc = store_scan(t, SDB_COUNTERS, "md", 3, dpass_visit, &d)) != 0)
		goto fail;
	fprintf(m, "# HELP mias_callbacks_dead_letters Callbacks given up "
	    "on and not sent again yet, by namespace.\n"
	    "# TYPE mias_callbacks_dead_letters gauge\n");
	d.which = "DEAD";
	d.metric = "mias_callbacks_dead_letters";
	if ((rc = store_scan(t, SDB_COUNTERS, "md", 3, dpass_visit, &d)) != 0)
		goto fail;

	if ((bytes = dir_bytes(dir)) >= 0)
		fprintf(m, "# HELP mias_store_bytes Size of the store's "
		    "files on disk.\n# TYPE mias_store_bytes gauge\n"
		    "mias_store_bytes %lld\n", bytes);
	rc = ferror(m) ? STORE_ERR : STORE_OK;
fail:
	if (fclose(m) != 0 && rc == STORE_OK)
		rc = STORE_ERR;
	if (rc != STORE_OK) {
		free(b);
		return rc;
	}
	*out = b;
	*len = blen;
	return STORE_OK;
}

int
metrics_token_ok(const char *hdr, const char *token)
{
	size_t hl, tl;

	if (hdr == NULL || token == NULL || (tl = strlen(token)) == 0 ||
	    strncmp(hdr, "Bearer ", 7) != 0)
		return 0;
	hdr += 7;
	hl = strlen(hdr);
	/* the length is no secret; the content is compared in constant time */
	return hl == tl && CRYPTO_memcmp(hdr, token, tl) == 0;
}
