/* tap.h -- a minimal Test Anything Protocol producer for the unit tests */
#ifndef MIAS_TAP_H
#define MIAS_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;

static void tap_ok(int cond, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), unused));
static int tap_done(void) __attribute__((unused));
static int tap_tmpdir(char *, size_t, const char *) __attribute__((unused));
static void tap_tmpdir_done(const char *) __attribute__((unused));

static void
tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		tap_failed++;
}

/* Prints the plan and returns the exit status for main(). */
static int
tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#define TAP_STREQ(got, want, name) do {					\
	const char *tap_g_ = (got), *tap_w_ = (want);			\
	int tap_c_ = tap_g_ != NULL && strcmp(tap_g_, tap_w_) == 0;	\
	tap_ok(tap_c_, "%s", (name));					\
	if (!tap_c_)							\
		printf("#   got:  '%s'\n#   want: '%s'\n",		\
		    tap_g_ ? tap_g_ : "(null)", tap_w_);		\
} while (0)

/* A fresh directory $TMPDIR/name.XXXXXX in dir; 0, or -1 (said why). */
static int
tap_tmpdir(char *dir, size_t len, const char *name)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, len, "%s/%s.XXXXXX", tmp ? tmp : "/tmp", name);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return -1;
	}
	return 0;
}

/* Removes dir when every test passed; keeps it to look at otherwise. */
static void
tap_tmpdir_done(const char *dir)
{
	char cmd[600];

	if (tap_failed == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", dir);
	} else
		printf("# left in %s\n", dir);
}

#endif /* MIAS_TAP_H */
