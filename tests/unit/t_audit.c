/* t_audit.c -- the audit trail: one line per entry, processes appending
 * at once, torn lines, entries of the old audit.db, filters and order */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "store.h"
#include "tap.h"

static char	dir[256];

static int
collect(json_object *rec, void *arg)
{
	return json_object_array_add(arg, json_object_get(rec)) == 0 ? 0 :
	    -1;
}

/* audit_each's entries as a JSON array. */
static int
audit_read(struct store *s, const char *ns, int64_t since, int64_t until,
    json_object **list)
{
	json_object	*arr;

	if ((arr = json_object_new_array()) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if (audit_each(s, ns, since, until, collect, arr) == -1) {
		json_object_put(arr);
		return -1;
	}
	*list = arr;
	return 0;
}

#define PROCS	4
#define EACH	2000

static const char *
str(json_object *e, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(e, k, &v) &&
	    json_object_is_type(v, json_type_string) ?
	    json_object_get_string(v) : NULL;
}

static int64_t
at(json_object *e)
{
	json_object *v;

	return json_object_object_get_ex(e, "at", &v) ?
	    json_object_get_int64(v) : -1;
}

static void
test_line(void)
{
	char	 buf[512], big[600];
	size_t	 n;

	n = audit_line(buf, sizeof(buf), 1700000000123LL, "hosp",
	    "10.0.0.1", "executeAnalysis", "1.2.3", "OK");
	buf[n] = '\0';
	TAP_STREQ(buf, "{\"at\":1700000000123,\"ns\":\"hosp\",\"from\":"
	    "\"10.0.0.1\",\"action\":\"executeAnalysis\",\"target\":\"1.2.3\","
	    "\"outcome\":\"OK\"}\n", "an entry is one JSON line");
	n = audit_line(buf, sizeof(buf), 5, NULL, "", "a\nb", NULL,
	    "x\r\"\\\x01");
	buf[n] = '\0';
	TAP_STREQ(buf, "{\"at\":5,\"ns\":\"-\",\"from\":\"-\",\"action\":"
	    "\"a\\u000ab\",\"target\":null,\"outcome\":"
	    "\"x\\u000d\\\"\\\\\\u0001\"}\n",
	    "no ns or address: \"-\"; no target: null; control characters "
	    "escaped, so still one line");
	n = audit_line(buf, sizeof(buf), 0, "n", "f", "a", "t", "o");
	buf[n] = '\0';
	TAP_STREQ(buf, "{\"at\":0,\"ns\":\"n\",\"from\":\"f\",\"action\":"
	    "\"a\",\"target\":\"t\",\"outcome\":\"o\"}\n", "time 0");
	n = audit_line(buf, sizeof(buf), INT64_MIN, "n", "f", "a", "t", "o");
	buf[n] = '\0';
	tap_ok(strncmp(buf, "{\"at\":-9223372036854775808,\"ns\":", 32) == 0,
	    "the lowest time there is, in full (%.40s)", buf);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memset(buf, 'x', sizeof(buf));
	n = audit_line(buf, sizeof(buf), 5, "ns", "from", big, NULL, "OK");
	tap_ok(n > sizeof(buf) && buf[0] == 'x',
	    "an entry longer than the buffer: the size it needs (%zu), "
	    "nothing written", n);
	{
		char *whole = malloc(n);

		tap_ok(whole != NULL && audit_line(whole, n, 5, "ns", "from",
		    big, NULL, "OK") == strlen("{\"at\":5,\"ns\":\"ns\","
		    "\"from\":\"from\",\"action\":\"\",\"target\":null,"
		    "\"outcome\":\"OK\"}\n") + sizeof(big) - 1,
		    "and in a buffer of that size it is written whole");
		free(whole);
	}
}

/* PROCS processes append EACH entries each, at once */
static void
test_processes(void)
{
	char		 err[256], path[512];
	struct store	*s;
	json_object	*list = NULL;
	struct stat	 st;
	pid_t		 pid[PROCS];
	size_t		 i, n, sorted = 1, seen[PROCS] = { 0 };
	int		 p, status, ok = 1;

	for (p = 0; p < PROCS; p++) {
		if ((pid[p] = fork()) == 0) {
			char	ns[16], target[32];
			int	j, bad = 0;

			if (store_open(dir, 0, &s, err, sizeof(err)) == -1)
				_exit(2);
			snprintf(ns, sizeof(ns), "ns%d", p);
			for (j = 0; j < EACH; j++) {
				snprintf(target, sizeof(target), "%d", j);
				bad |= audit_write(s, ns, "127.0.0.1",
				    "getAnalysisResult", target, "OK") == -1;
			}
			store_close(s);
			_exit(bad);
		}
	}
	for (p = 0; p < PROCS; p++)
		ok &= pid[p] > 0 && waitpid(pid[p], &status, 0) == pid[p] &&
		    WIFEXITED(status) && WEXITSTATUS(status) == 0;
	tap_ok(ok, "%d processes appended %d entries each", PROCS, EACH);

	if (store_open(dir, 0, &s, err, sizeof(err)) == -1) {
		tap_ok(0, "store_open: %s", err);
		return;
	}
	tap_ok(audit_read(s, NULL, 0, 0, &list) == 0, "read them back");
	n = list ? json_object_array_length(list) : 0;
	tap_ok(n == PROCS * EACH, "every entry, whole (%zu)", n);
	/* each process's entries in its own order, none mangled */
	for (i = 0; i < n; i++) {
		json_object	*e = json_object_array_get_idx(list, i);
		const char	*ns = str(e, "ns"), *t = str(e, "target");

		if (i > 0 && at(e) < at(json_object_array_get_idx(list, i - 1)))
			sorted = 0;
		if (ns == NULL || t == NULL || strncmp(ns, "ns", 2) != 0 ||
		    ns[2] < '0' || ns[2] >= '0' + PROCS ||
		    (size_t)atoi(t) != seen[ns[2] - '0']++) {
			ok = 0;
			break;
		}
	}
	tap_ok(ok, "no entry torn or out of its process's order");
	tap_ok(sorted, "oldest first");
	json_object_put(list);

	snprintf(path, sizeof(path), "%s/%s", dir, AUDIT_FILE);
	if (stat(path, &st) == -1)
		st.st_mode = 0;
	tap_ok((st.st_mode & 0777) == 0600,
	    "%s is the owner's only (0%o)", AUDIT_FILE,
	    (unsigned)(st.st_mode & 0777));
	store_close(s);
}

struct legacy {
	int64_t		 at;
	const char	*text;
};

static int
legacy_body(struct store_txn *t, void *arg)
{
	const struct legacy	*l = arg;
	unsigned char		 key[12];
	uint64_t		 v = (uint64_t)l->at;
	int			 i;

	for (i = 7; i >= 0; i--, v >>= 8)
		key[i] = (unsigned char)(v & 0xff);
	memcpy(key + 8, "rand", 4);
	return store_put(t, SDB_AUDIT, key, sizeof(key), l->text,
	    strlen(l->text));
}

/* a fresh trail: entries of audit.db (an older mias) and of the file,
 * a torn line and entries out of order by a little */
static void
test_merge(void)
{
	static const char *lines =
	    "{\"at\":3000,\"ns\":\"a\",\"from\":\"x\",\"action\":\"f3\","
	    "\"target\":null,\"outcome\":\"OK\"}\n"
	    "{\"at\":2500,\"ns\":\"b\",\"from\":\"x\",\"action\":\"f25\","
	    "\"target\":null,\"outcome\":\"OK\"}\n"
	    "{\"at\":4000,\"ns\":\"a\",\"fr\n"	/* a crash cut it short */
	    "not json\n"
	    "[1,2]\n"
	    "{\"ns\":\"a\",\"action\":\"no time\"}\n"
	    "{\"at\":5000,\"ns\":\"a\",\"from\":\"x\",\"action\":\"f5\","
	    "\"target\":\"t\",\"outcome\":\"OK\"}\n"
	    "{\"at\":5000,\"ns\":\"a\",\"from\":\"x\",\"action\":\"f5b\","
	    "\"target\":\"t\",\"outcome\":\"OK\"}";	/* no newline */
	struct legacy	 l1 = { 1000, "{\"at\":1000,\"ns\":\"a\",\"from\":"
			    "\"x\",\"action\":\"d1\",\"target\":null,"
			    "\"outcome\":\"OK\"}" };
	struct legacy	 l2 = { 4500, "{\"at\":4500,\"ns\":\"b\",\"from\":"
			    "\"x\",\"action\":\"d45\",\"target\":null,"
			    "\"outcome\":\"OK\"}" };
	char		 sub[300], err[256], path[600], got[256];
	struct store	*s;
	json_object	*list;
	size_t		 i;
	int		 fd;

	snprintf(sub, sizeof(sub), "%s/merge", dir);
	if (store_open(sub, STORE_CREATE, &s, err, sizeof(err)) == -1) {
		tap_ok(0, "store_open: %s", err);
		return;
	}
	tap_ok(audit_read(s, NULL, 0, 0, &list) == 0 &&
	    json_object_array_length(list) == 0, "no trail yet: empty");
	json_object_put(list);
	tap_ok(store_txn(s, legacy_body, &l1) == 0 &&
	    store_txn(s, legacy_body, &l2) == 0, "two entries in audit.db");
	snprintf(path, sizeof(path), "%s/%s", sub, AUDIT_FILE);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	tap_ok(fd != -1 && write(fd, lines, strlen(lines)) ==
	    (ssize_t)strlen(lines) && close(fd) == 0, "a file with bad lines");

#define ACTIONS(ns, since, until, want) do {				\
	got[0] = '\0';							\
	list = NULL;							\
	if (audit_read(s, ns, since, until, &list) == 0)		\
		for (i = 0; i < json_object_array_length(list); i++) {	\
			strcat(got, i ? " " : "");			\
			strcat(got, str(json_object_array_get_idx(list,	\
			    i), "action"));				\
		}							\
	json_object_put(list);						\
	TAP_STREQ(got, want, #ns " " #since " " #until);		\
} while (0)
	ACTIONS(NULL, 0, 0, "d1 f25 f3 d45 f5 f5b");
	ACTIONS("a", 0, 0, "d1 f3 f5 f5b");
	ACTIONS("b", 0, 0, "f25 d45");
	ACTIONS(NULL, 2500, 4500, "f25 f3 d45");
	ACTIONS(NULL, 4501, 0, "f5 f5b");
	ACTIONS("zz", 0, 0, "");
#undef ACTIONS

	/* the next entry after a line without a newline starts its own */
	tap_ok(audit_write(s, "a", "y", "later", NULL, "OK") == 0,
	    "append after the last line");
	tap_ok(audit_read(s, "a", 0, 0, &list) == 0 &&
	    json_object_array_length(list) == 5 &&
	    strcmp(str(json_object_array_get_idx(list, 4), "action"),
	    "later") == 0, "it reads back as an entry of its own");
	json_object_put(list);
	store_close(s);
}

/* renamed away (logrotate), the trail goes on in a new audit.log */
static void
test_rotate(void)
{
	char		 sub[300], err[256], path[600], old[620];
	struct store	*s;
	json_object	*list = NULL;
	struct stat	 st;

	snprintf(sub, sizeof(sub), "%s/rotate", dir);
	if (store_open(sub, STORE_CREATE, &s, err, sizeof(err)) == -1) {
		tap_ok(0, "store_open: %s", err);
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", sub, AUDIT_FILE);
	snprintf(old, sizeof(old), "%s.1", path);
	tap_ok(audit_write(s, "a", "x", "before", NULL, "OK") == 0 &&
	    rename(path, old) == 0, "an entry, then the file renamed away");
	sleep(1);	/* the writer looks at the name once a second */
	tap_ok(audit_write(s, "a", "x", "after", NULL, "OK") == 0 &&
	    stat(path, &st) == 0 && st.st_size > 0 &&
	    (st.st_mode & 0777) == 0600,
	    "the next entry starts a new %s, mode 0600", AUDIT_FILE);
	tap_ok(audit_read(s, NULL, 0, 0, &list) == 0 &&
	    json_object_array_length(list) == 1 &&
	    strcmp(str(json_object_array_get_idx(list, 0), "action"),
	    "after") == 0, "which holds it alone");
	json_object_put(list);

	/* longer than audit_write's buffer on the stack */
	{
		char	long_target[3000];

		memset(long_target, 't', sizeof(long_target) - 1);
		long_target[sizeof(long_target) - 1] = '\0';
		tap_ok(audit_write(s, "a", "x", "long", long_target, "OK") ==
		    0 && audit_read(s, NULL, 0, 0, &list) == 0 &&
		    json_object_array_length(list) == 2 &&
		    strcmp(str(json_object_array_get_idx(list, 1), "target"),
		    long_target) == 0, "an entry of 3,000 bytes is written whole");
		json_object_put(list);
	}
	store_close(s);
}

int
main(void)
{
	struct store	*s;
	char		 err[256];

	if (tap_tmpdir(dir, sizeof(dir), "t_audit") == -1)
		return 1;
	if (store_open(dir, STORE_CREATE, &s, err, sizeof(err)) == -1) {
		printf("Bail out! store_open: %s\n", err);
		return 1;
	}
	store_close(s);
	test_line();
	test_processes();
	test_merge();
	test_rotate();
	tap_tmpdir_done(dir);
	return tap_done();
}
