/* log.c -- logging to syslog or standard error, every line escaped to printable ASCII */
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

/* The code point of the UTF-8 sequence at p (n >= 1 bytes left), its
 * length in *len; -1 when it is not well formed (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF). */
static long
log_utf8(const unsigned char *p, size_t n, size_t *len)
{
	long	cp, min;
	size_t	need, i;

	if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		need = 4; cp = p[0] & 0x07; min = 0x10000;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		need = 3; cp = p[0] & 0x0f; min = 0x800;
	} else if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		need = 2; cp = p[0] & 0x1f; min = 0x80;
	} else
		return -1;
	if (n < need)
		return -1;
	for (i = 1; i < need; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*len = need;
	return cp;
}

size_t
log_escape(char *dst, size_t dstlen, const char *src)
{
	const unsigned char	*p = (const unsigned char *)src;
	size_t			 n = strlen(src), o = 0, len, plen;
	size_t			 mark = (size_t)-1;	/* where "..." goes */
	char			 piece[16];
	long			 cp;

	if (dstlen == 0)
		return 0;
	for (; n > 0; p += len, n -= len) {
		len = plen = 1;
		if (*p >= 0x20 && *p < 0x7f && *p != '\\')
			piece[0] = (char)*p;
		else if (*p == '\\')
			plen = (size_t)snprintf(piece, sizeof(piece), "\\\\");
		else if (*p >= 0x80 && (cp = log_utf8(p, n, &len)) != -1)
			plen = (size_t)snprintf(piece, sizeof(piece), "\\u{%lx}",
			    cp);
		else
			plen = (size_t)snprintf(piece, sizeof(piece), "\\x%02x",
			    *p);
		if (mark == (size_t)-1 && o + plen + 4 > dstlen)
			mark = o;
		if (o + plen + 1 > dstlen) {
			/* cut after the last whole piece that leaves room
			 * for "...": never half an escape */
			o = mark;
			if (o + 4 <= dstlen) {
				memcpy(dst + o, "...", 3);
				o += 3;
			}
			break;
		}
		memcpy(dst + o, piece, plen);
		o += plen;
	}
	dst[o] = '\0';
	return o;
}

static void
log_vwrite(int pri, const char *fmt, va_list ap, int with_errno)
    __attribute__((format(printf, 2, 0)));

static void
log_vwrite(int pri, const char *fmt, va_list ap, int with_errno)
{
	char	msg[2048];
	char	line[4 * sizeof(msg)];	/* log_escape: 4 bytes a byte */
	int	saved = errno, n;

	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		return;
	if (with_errno && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(saved));
	/* the arguments come from outside (study uids, engines' and OSS's
	 * messages): one line of printable ASCII, whatever they hold */
	log_escape(line, sizeof(line), msg);
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
		    ts.tv_nsec / 1000000, log_prog, line);
		fflush(stderr);
	} else
		syslog(pri, "%s", line);
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
