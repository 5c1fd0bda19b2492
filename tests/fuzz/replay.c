/* replay.c -- run a harness over corpus files without libFuzzer, for compilers that have none */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

/*
 * Usage: fuzz_X [-flag...] FILE|DIR...  Every regular file named, and
 * every regular file directly inside a directory named, is passed once to
 * LLVMFuzzerTestOneInput(), in name order.  A broken invariant aborts
 * (the harness prints which); otherwise it prints how many inputs ran and
 * exits 0.  A harness's LLVMFuzzerInitialize(), if it has one, runs first.
 * Arguments starting with '-' are libFuzzer's flags and ignored, so that
 * "fuzz_X -runs=0 corpus/X" replays a corpus whichever way fuzz_X was
 * built.
 */

int	LLVMFuzzerInitialize(int *, char ***) __attribute__((weak));

static int
run_file(const char *path, size_t *count)
{
	FILE		*fp;
	uint8_t		*buf = NULL;
	long		 len;
	size_t		 got;

	if ((fp = fopen(path, "rb")) == NULL ||
	    fseek(fp, 0, SEEK_END) == -1 || (len = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) == -1) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		if (fp != NULL)
			fclose(fp);
		return -1;
	}
	/* an exact-size copy, as libFuzzer hands them, so that a read
	 * past the end is caught by the sanitizers */
	if ((buf = malloc(len > 0 ? (size_t)len : 1)) == NULL) {
		fclose(fp);
		return -1;
	}
	got = fread(buf, 1, (size_t)len, fp);
	fclose(fp);
	if (got != (size_t)len) {
		fprintf(stderr, "replay: %s: short read\n", path);
		free(buf);
		return -1;
	}
	if (getenv("REPLAY_VERBOSE") != NULL)
		fprintf(stderr, "replay: %s\n", path);
	LLVMFuzzerTestOneInput(buf, got);
	free(buf);
	(*count)++;
	return 0;
}

static int
cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
run_dir(const char *dir, size_t *count)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	char		**names = NULL, **nn, path[4096];
	size_t		 n = 0, i;
	int		 rc = 0;

	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) == -1 || !S_ISREG(st.st_mode))
			continue;
		if ((nn = realloc(names, (n + 1) * sizeof(*names))) == NULL ||
		    (nn[n] = strdup(path)) == NULL) {
			rc = -1;
			if (nn != NULL)
				names = nn;
			break;
		}
		names = nn;
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp);
	for (i = 0; i < n; i++) {
		if (rc == 0 && run_file(names[i], count) == -1)
			rc = -1;
		free(names[i]);
	}
	free(names);
	return rc;
}

int
main(int argc, char *argv[])
{
	struct stat	st;
	size_t		count = 0;
	int		i, rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++) {
		if (argv[i][0] == '-')
			continue;
		if (stat(argv[i], &st) == -1) {
			fprintf(stderr, "replay: %s: %s\n", argv[i],
			    strerror(errno));
			rc = 1;
		} else if (S_ISDIR(st.st_mode)) {
			if (run_dir(argv[i], &count) == -1)
				rc = 1;
		} else if (run_file(argv[i], &count) == -1)
			rc = 1;
	}
	printf("%s: %zu inputs replayed\n", argv[0], count);
	return rc;
}
