/* audit.c -- the append-only audit trail: who did what, from where, when */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "jv.h"
#include "store.h"

/* ,"name":"value" (or null), JSON-quoted, at p; returns the end.  Built
 * by hand, not with sprintf: one line is written per request. */
static char *
audit_field(char *p, const char *name, const char *value)
{
	size_t n = strlen(name);

	*p++ = ',';
	*p++ = '"';
	memcpy(p, name, n);
	p += n;
	*p++ = '"';
	*p++ = ':';
	if (value == NULL) {
		memcpy(p, "null", 5);
		return p + 4;
	}
	return p + jv_quote(p, value);
}

/* A number in decimal at p; returns the end. */
static char *
audit_int(char *p, int64_t v)
{
	char		 tmp[24];
	size_t		 n = 0;
	uint64_t	 u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*p++ = '-';
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

static size_t
audit_need(const char *ns, const char *from, const char *action,
    const char *target, const char *outcome)
{
	return 64 + jv_quoted_len(ns) + jv_quoted_len(from) +
	    jv_quoted_len(action) + (target ? jv_quoted_len(target) : 4) +
	    jv_quoted_len(outcome) + 48;
}

/* Written as text, not built with json-c: one is written per request.
 * jv_quote escapes every control character, so an entry is one line. */
size_t
audit_line(char *buf, size_t buflen, int64_t at, const char *ns,
    const char *from, const char *action, const char *target,
    const char *outcome)
{
	size_t	 need;
	char	*p;

	ns = ns && *ns ? ns : "-";
	from = from && *from ? from : "-";
	action = action ? action : "-";
	outcome = outcome ? outcome : "-";
	if ((need = audit_need(ns, from, action, target, outcome)) > buflen)
		return need;
	memcpy(buf, "{\"at\":", 6);
	p = audit_int(buf + 6, at);
	p = audit_field(p, "ns", ns);
	p = audit_field(p, "from", from);
	p = audit_field(p, "action", action);
	p = audit_field(p, "target", target);
	p = audit_field(p, "outcome", outcome);
	*p++ = '}';
	*p++ = '\n';
	return (size_t)(p - buf);
}

/* The process's descriptor of the trail, opened at its first entry, and
 * the file it is (device, inode), looked at again once a second: a trail
 * renamed away (logrotate) or removed is followed by a new audit.log. */
static pthread_mutex_t	 audit_mu = PTHREAD_MUTEX_INITIALIZER;
static int		 audit_fd = -1;
static char		 audit_path[4096];
static dev_t		 audit_dev;
static ino_t		 audit_ino;
static time_t		 audit_checked;

static int
audit_path_of(const char *dir, char *path, size_t len)
{
	if ((size_t)snprintf(path, len, "%s/%s", dir, AUDIT_FILE) >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* With audit_mu held */
static int
audit_fd_for(const char *dir)
{
	char		path[sizeof(audit_path)];
	struct stat	st;
	time_t		now = time(NULL);
	int		fd;

	if (audit_path_of(dir, path, sizeof(path)) == -1)
		return -1;
	if (audit_fd != -1 && strcmp(path, audit_path) == 0) {
		if (now == audit_checked)
			return audit_fd;
		audit_checked = now;
		if (stat(path, &st) == 0 && st.st_dev == audit_dev &&
		    st.st_ino == audit_ino)
			return audit_fd;
	}
	if ((fd = store_file_open(dir, path, O_WRONLY | O_APPEND |
	    O_CLOEXEC | O_NOFOLLOW)) == -1 || fstat(fd, &st) == -1) {
		if (fd != -1)
			close(fd);
		/* keep writing where we were rather than nowhere */
		return audit_fd != -1 && strcmp(path, audit_path) == 0 ?
		    audit_fd : -1;
	}
	if (audit_fd != -1)
		close(audit_fd);
	audit_fd = fd;
	audit_dev = st.st_dev;
	audit_ino = st.st_ino;
	audit_checked = now;
	memcpy(audit_path, path, sizeof(path));
	return fd;
}

static int
audit_append(int fd, const char *line, size_t len)
{
	ssize_t	n;
	int	saved;

	do
		n = write(fd, line, len);
	while (n == -1 && errno == EINTR);
	if (n == (ssize_t)len)
		return 0;
	saved = n == -1 ? errno : ENOSPC;
	/* cut short (a full disk): end the line, so that the next entry
	 * starts one of its own; the reader skips the torn one */
	if (n > 0)
		(void)!write(fd, "\n", 1);
	errno = saved;
	return -1;
}

int
audit_write(struct store *s, const char *ns, const char *from,
    const char *action, const char *target, const char *outcome)
{
	char	 stack[1024], *buf = stack;
	int64_t	 now = store_now_ms();
	size_t	 len;
	int	 fd, rc = -1, saved;

	if ((len = audit_line(stack, sizeof(stack), now, ns, from, action,
	    target, outcome)) > sizeof(stack)) {
		if ((buf = malloc(len)) == NULL)
			return -1;
		len = audit_line(buf, len, now, ns, from, action, target,
		    outcome);
	}
	pthread_mutex_lock(&audit_mu);
	if ((fd = audit_fd_for(store_dir(s))) != -1)
		rc = audit_append(fd, buf, len);
	saved = errno;
	pthread_mutex_unlock(&audit_mu);
	if (buf != stack)
		free(buf);
	errno = saved;
	return rc;
}

/* --- reading -------------------------------------------------------- */

/*
 * Reading sorts the entries by time, so it must see them all first; it
 * keeps only where each of audit.log's is (32 bytes an entry, against
 * about a kilobyte as a parsed object) and parses it again when its turn
 * comes.  Entries of the old audit.db are few and kept parsed.
 */
struct audit_ent {
	int64_t		 at;
	size_t		 seq;
	json_object	*rec;		/* audit.db's; NULL for audit.log's */
	off_t		 off;		/* audit.log's: where, how long */
	size_t		 len;
};

struct audit_get {
	const char		*ns;
	int64_t			 since, until;
	struct audit_ent	*ent;
	size_t			 n, cap;
	int			 oom;
};

static void
get_clear(struct audit_get *a)
{
	size_t	i;

	for (i = 0; i < a->n; i++)
		json_object_put(a->ent[i].rec);
	free(a->ent);
	a->ent = NULL;
	a->n = a->cap = 0;
}

/* Whether entry rec at time at passes the filters. */
static int
get_wanted(const struct audit_get *a, int64_t at, json_object *rec)
{
	json_object	*v;

	return !((a->since > 0 && at < a->since) || (a->until > 0 &&
	    at > a->until) || (a->ns != NULL &&
	    (!json_object_object_get_ex(rec, "ns", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), a->ns) != 0)));
}

/* Keeps an entry: rec (taken) for audit.db's, off and len for
 * audit.log's. */
static void
get_keep(struct audit_get *a, int64_t at, json_object *rec, off_t off,
    size_t len)
{
	struct audit_ent	*ne;

	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 256;

		if ((ne = realloc(a->ent, cap * sizeof(*ne))) == NULL) {
			json_object_put(rec);
			a->oom = 1;
			return;
		}
		a->ent = ne;
		a->cap = cap;
	}
	a->ent[a->n].at = at;
	a->ent[a->n].seq = a->n;
	a->ent[a->n].rec = rec;
	a->ent[a->n].off = off;
	a->ent[a->n].len = len;
	a->n++;
}

/* audit.db: keys are an 8-byte big-endian time in ms and 4 random bytes */
static int
get_visit(const void *key, size_t klen, const char *val, size_t len,
    void *arg)
{
	struct audit_get	*a = arg;
	const unsigned char	*k = key;
	json_object		*rec;
	int64_t			 at = 0;
	size_t			 i;

	for (i = 0; i < 8 && i < klen; i++)
		at = at << 8 | k[i];
	if ((rec = store_json(val, len)) == NULL)
		return 0;
	if (get_wanted(a, at, rec))
		get_keep(a, at, rec, 0, 0);
	else
		json_object_put(rec);
	return 0;
}

static int
scan_body(struct store_txn *t, void *arg)
{
	struct audit_get	*a = arg;
	int			 rc;

	get_clear(a);	/* a retried transaction starts again */
	rc = store_scan_from(t, SDB_AUDIT, NULL, 0, get_visit, a);
	return rc < 0 ? rc : 0;
}

/*
 * The next entry of audit.log's text from p to end: parsed into *rec,
 * its start and length in *q and *len; NULL when there is none.  Every
 * entry starts with {"at":, which cannot occur inside a JSON string, so
 * an entry that a crash cut short is skipped up to the next one, even on
 * the same line (appended after a torn end).
 */
static const char *
entry_next(json_tokener *tok, const char *p, const char *end,
    json_object **rec, size_t *len)
{
	static const char	 start[] = "{\"at\":";
	const char		*q;
	json_object		*v;

	while ((q = memmem(p, (size_t)(end - p), start,
	    sizeof(start) - 1)) != NULL) {
		json_tokener_reset(tok);
		*rec = json_tokener_parse_ex(tok, q, (int)(end - q));
		if (*rec != NULL && json_object_is_type(*rec, json_type_object) &&
		    json_object_object_get_ex(*rec, "at", &v) &&
		    json_object_is_type(v, json_type_int)) {
			*len = json_tokener_get_parse_end(tok);
			return q;
		}
		json_object_put(*rec);
		p = q + 1;
	}
	*rec = NULL;
	return NULL;
}

static int64_t
entry_at(json_object *rec)
{
	json_object *v;

	json_object_object_get_ex(rec, "at", &v);
	return json_object_get_int64(v);
}

/* audit.log, line by line, from fp */
static int
get_file(struct audit_get *a, FILE *fp, json_tokener *tok)
{
	char		*line = NULL;
	const char	*q;
	size_t		 cap = 0, len;
	ssize_t		 n;
	off_t		 lineoff = 0;
	json_object	*rec;
	int		 saved;

	while ((n = getline(&line, &cap, fp)) > 0) {
		for (q = line; (q = entry_next(tok, q, line + n, &rec,
		    &len)) != NULL; q += len) {
			if (get_wanted(a, entry_at(rec), rec))
				get_keep(a, entry_at(rec), NULL,
				    lineoff + (q - line), len);
			json_object_put(rec);
		}
		lineoff += n;
	}
	saved = ferror(fp) ? EIO : 0;
	free(line);
	errno = saved;
	return saved ? -1 : 0;
}

static int
ent_cmp(const void *x, const void *y)
{
	const struct audit_ent *a = x, *b = y;

	if (a->at != b->at)
		return a->at < b->at ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Hands the sorted entries to visit, audit.log's parsed again from fd. */
static int
get_emit(struct audit_get *a, int fd, json_tokener *tok,
    int (*visit)(json_object *, void *), void *arg)
{
	char		*buf = NULL, *nb;
	size_t		 i, bufcap = 0, len;
	json_object	*rec;
	int		 rc = 0;

	for (i = 0; i < a->n && rc == 0; i++) {
		if ((rec = a->ent[i].rec) != NULL) {
			json_object_get(rec);
		} else {
			if (a->ent[i].len > bufcap) {
				if ((nb = realloc(buf, a->ent[i].len)) == NULL) {
					errno = ENOMEM;
					rc = -1;
					break;
				}
				buf = nb;
				bufcap = a->ent[i].len;
			}
			if (pread(fd, buf, a->ent[i].len, a->ent[i].off) !=
			    (ssize_t)a->ent[i].len) {
				errno = EIO;
				rc = -1;
				break;
			}
			if (entry_next(tok, buf, buf + a->ent[i].len, &rec,
			    &len) == NULL)
				continue;	/* cannot be: it parsed before */
		}
		rc = visit(rec, arg);
		json_object_put(rec);
		if (rc != 0)
			errno = 0;
	}
	free(buf);
	return rc;
}

int
audit_each(struct store *s, const char *ns, int64_t since, int64_t until,
    int (*visit)(json_object *, void *), void *arg)
{
	struct audit_get	 a;
	json_tokener		*tok;
	char			 path[4096];
	FILE			*fp = NULL;
	int			 rc = -1;

	memset(&a, 0, sizeof(a));
	a.ns = ns;
	a.since = since;
	a.until = until;
	if (store_txn(s, scan_body, &a) != 0) {
		get_clear(&a);
		errno = 0;	/* the store's message says why */
		return -1;
	}
	if ((tok = json_tokener_new()) == NULL) {
		get_clear(&a);
		errno = ENOMEM;
		return -1;
	}
	if (audit_path_of(store_dir(s), path, sizeof(path)) == -1 ||
	    ((fp = fopen(path, "re")) == NULL && errno != ENOENT) ||
	    (fp != NULL && get_file(&a, fp, tok) == -1))
		goto out;
	if (a.oom) {
		errno = ENOMEM;
		goto out;
	}
	/* entries are appended as requests end, so neighbours in the file
	 * can be a little out of order: sort by time, keeping the file's
	 * order among equal times */
	if (a.n > 0)
		qsort(a.ent, a.n, sizeof(*a.ent), ent_cmp);
	rc = get_emit(&a, fp != NULL ? fileno(fp) : -1, tok, visit, arg);
out:
	if (fp != NULL)
		fclose(fp);
	json_tokener_free(tok);
	get_clear(&a);
	return rc;
}
