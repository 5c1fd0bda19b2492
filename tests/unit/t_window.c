/* t_window.c -- [limits] counters in shared memory: windows, keys,
 * processes, a crowded table */
#include <sys/stat.h>
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "window.h"

static char	dir[256];

#define T0	((time_t)1700000000)	/* a minute boundary: 1700000000 % 60 == 20 */

static void
test_counts(void)
{
	struct windows	*w, *w2;
	char		 err[256] = "";
	long long	 n;
	int		 i;

	tap_ok(windows_open(dir, &w, err, sizeof(err)) == 0, "open: %s",
	    err);
	if (w == NULL)
		return;
	tap_ok(windows_count(w, "r", "ns", "ep", T0, 1, 0) == 0,
	    "a new key counts 0");
	for (i = 0; i < 5; i++)
		n = windows_count(w, "r", "ns", "ep", T0, 1, 1);
	tap_ok(n == 4, "adding returns the count before (%lld)", n);
	tap_ok(windows_count(w, "r", "ns", "ep", T0, 1, 0) == 5,
	    "five in this second");
	tap_ok(windows_count(w, "r", "ns", "other", T0, 1, 0) == 0 &&
	    windows_count(w, "r", "ns2", "ep", T0, 1, 0) == 0 &&
	    windows_count(w, "f", "ns", "ep", T0, 1, 0) == 0,
	    "other keys are apart");
	tap_ok(windows_count(w, "r", "ns", "ep", T0 + 1, 1, 0) == 0,
	    "the next second starts at 0");
	(void)windows_count(w, "r", "ns", "ep", T0 + 1, 1, 1);
	tap_ok(windows_count(w, "r", "ns", "ep", T0, 1, 1) == 1 &&
	    windows_count(w, "r", "ns", "ep", T0 + 1, 1, 0) == 2,
	    "a request of the last second ending late counts in the new one");

	/* minutes: T0 - 20 .. T0 + 39 is one window */
	(void)windows_count(w, "f", "10.0.0.1", NULL, T0 - 20, 60, 1);
	(void)windows_count(w, "f", "10.0.0.1", NULL, T0 + 39, 60, 1);
	tap_ok(windows_count(w, "f", "10.0.0.1", NULL, T0, 60, 0) == 2,
	    "one minute's window");
	tap_ok(windows_count(w, "f", "10.0.0.1", NULL, T0 + 40, 60, 0) == 0,
	    "the next minute starts at 0");

	tap_ok(windows_open(dir, &w2, err, sizeof(err)) == 0 &&
	    windows_count(w2, "f", "10.0.0.1", NULL, T0, 60, 0) == 2,
	    "a second mapping (another process) sees the same counts");
	windows_close(w2);
	windows_close(w);
}

static void
test_processes(void)
{
	struct windows	*w;
	char		 err[256] = "";
	pid_t		 pid[4];
	int		 i, j, st, ok = 1;

	if (windows_open(dir, &w, err, sizeof(err)) == -1) {
		tap_ok(0, "open: %s", err);
		return;
	}
	for (i = 0; i < 4; i++) {
		if ((pid[i] = fork()) == 0) {
			for (j = 0; j < 25000; j++)
				(void)windows_count(w, "r", "busy", "ep", T0,
				    1, 1);
			_exit(0);
		}
	}
	for (i = 0; i < 4; i++)
		if (pid[i] == -1 || waitpid(pid[i], &st, 0) == -1 ||
		    !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			ok = 0;
	tap_ok(ok, "four processes ran");
	tap_ok(windows_count(w, "r", "busy", "ep", T0, 1, 0) == 100000,
	    "4 x 25,000 adds at once: 100,000 counted (%lld)",
	    windows_count(w, "r", "busy", "ep", T0, 1, 0));
	windows_close(w);
}

static void
test_crowded(void)
{
	struct windows	*w;
	char		 err[256] = "", sub[300], key[32];
	int		 i, ok = 1;

	snprintf(sub, sizeof(sub), "%s/small", dir);
	if (mkdir(sub, 0700) == -1 ||
	    windows_open_slots(sub, 16, &w, err, sizeof(err)) == -1) {
		tap_ok(0, "a 16-slot table: %s", err);
		return;
	}
	for (i = 0; i < 16; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		(void)windows_count(w, "r", key, "ep", T0, 1, 1);
	}
	for (i = 0; i < 16; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		if (windows_count(w, "r", key, "ep", T0, 1, 0) != 1)
			ok = 0;
	}
	tap_ok(ok, "16 keys in 16 slots each keep their count");
	(void)windows_count(w, "r", "k16", "ep", T0 + 1, 1, 1);
	tap_ok(windows_count(w, "r", "k16", "ep", T0 + 1, 1, 0) == 1,
	    "a 17th key takes the slot of the one quiet for longest");
	for (i = 0; i < 16; i++) {
		snprintf(key, sizeof(key), "n%d", i);
		(void)windows_count(w, "r", key, "ep", T0 + 300, 1, 1);
	}
	ok = 1;
	for (i = 0; i < 16; i++) {
		snprintf(key, sizeof(key), "n%d", i);
		if (windows_count(w, "r", key, "ep", T0 + 300, 1, 0) != 1)
			ok = 0;
	}
	tap_ok(ok, "five minutes later 16 new keys reuse the quiet slots");
	tap_ok(windows_count(w, "r", "k3", "ep", T0 + 300, 1, 0) == 0,
	    "an old key reads 0");
	windows_close(w);
}

static void
test_foreign(void)
{
	struct windows	*w;
	char		 err[256] = "", sub[300], path[400];
	FILE		*f;
	size_t		 i;

	snprintf(sub, sizeof(sub), "%s/foreign", dir);
	snprintf(path, sizeof(path), "%s/%s", sub, WINDOWS_FILE);
	if (mkdir(sub, 0700) == -1 || (f = fopen(path, "w")) == NULL) {
		tap_ok(0, "a foreign file");
		return;
	}
	/* the right size, not our magic */
	for (i = 0; i < 16 + (size_t)WINDOWS_SLOTS * 16; i++)
		fputc('x', f);
	fclose(f);
	tap_ok(windows_open(sub, &w, err, sizeof(err)) == -1 &&
	    strstr(err, "not a counter file") != NULL,
	    "a file that is not ours is refused: %s", err);
}

int
main(void)
{
	if (tap_tmpdir(dir, sizeof(dir), "t_window") == -1)
		return 1;
	test_counts();
	test_processes();
	test_crowded();
	test_foreign();
	tap_tmpdir_done(dir);
	return tap_done();
}
