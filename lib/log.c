/* log.c -- logging to syslog or standard error, for programs (not lib/) */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static const char	*log_prog = "mias";
static int		 log_foreground = 1;
static int		 log_debugging;
static int		 log_journal;	/* stderr is systemd's journal */

/* systemd sets JOURNAL_STREAM=DEV:INODE to the standard error it gave
 * the service: when ours is that one, each line starts with its syslog
 * priority, <N>, which the journal takes off and keeps. */
static int
log_to_journal(void)
{
	const char		*js = getenv("JOURNAL_STREAM");
	unsigned long long	 dev, ino;
	struct stat		 st;

	return js != NULL && sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
	    fstat(2, &st) == 0 && (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

void
log_init(const char *progname, int foreground)
{
	log_prog = progname;
	log_foreground = foreground;
	log_journal = foreground && log_to_journal();
	if (!foreground)
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_verbose(int v)
{
	log_debugging = v;
}

static void
log_vwrite(int pri, const char *fmt, va_list ap, int with_errno)
    __attribute__((format(printf, 2, 0)));

static void
log_vwrite(int pri, const char *fmt, va_list ap, int with_errno)
{
	char	msg[2048];
	int	saved = errno, n;

	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		return;
	if (with_errno && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(saved));
	if (log_foreground) {
		struct timespec	ts;
		struct tm	tm;
		char		stamp[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		if (log_journal)
			fprintf(stderr, "<%d>", pri);
		fprintf(stderr, "%s.%03ldZ %s: %s\n", stamp,
		    ts.tv_nsec / 1000000, log_prog, msg);
		fflush(stderr);
	} else
		syslog(pri, "%s", msg);
	errno = saved;
}

#define LOG_BODY(pri, with_errno) do {				\
	va_list ap;						\
	va_start(ap, fmt);					\
	log_vwrite((pri), fmt, ap, (with_errno));		\
	va_end(ap);						\
} while (0)

void log_warn(const char *fmt, ...)  { LOG_BODY(LOG_WARNING, 1); }
void log_warnx(const char *fmt, ...) { LOG_BODY(LOG_WARNING, 0); }
void log_info(const char *fmt, ...)  { LOG_BODY(LOG_INFO, 0); }

void
log_debug(const char *fmt, ...)
{
	if (log_debugging)
		LOG_BODY(LOG_DEBUG, 0);
}

void
fatal(const char *fmt, ...)
{
	LOG_BODY(LOG_CRIT, 1);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_CRIT, 0);
	exit(1);
}
