/* stamp_engine.c -- the benchmark's instant command engine */
/*
 * stamp_engine INPUT: notes the time it started (CLOCK_REALTIME, ns) and
 * $MIAS_IMAGE_UID as one line appended to $BENCH_STAMP_LOG when that is
 * set, then copies INPUT to standard output.  The benchmark's images are
 * valid engine results (API.md 6.), so the copy is the answer: as cheap an
 * engine as /bin/cat, plus the time stamp row 4 needs.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int
main(int argc, char *argv[])
{
	struct timespec	 ts;
	const char	*log = getenv("BENCH_STAMP_LOG");
	char		 buf[65536];
	ssize_t		 n;
	int		 fd;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (log != NULL && *log != '\0' &&
	    (fd = open(log, O_WRONLY | O_APPEND | O_CREAT, 0600)) != -1) {
		const char *id = getenv("MIAS_IMAGE_UID");
		int l = snprintf(buf, sizeof(buf), "%lld %s\n",
		    (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec,
		    id ? id : "-");

		if (write(fd, buf, (size_t)l) != l)
			return 1;
		close(fd);
	}
	if (argc < 2 || (fd = open(argv[1], O_RDONLY)) == -1)
		return 1;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write(1, buf, (size_t)n) != n)
			return 1;
	return n < 0;
}
