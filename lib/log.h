/* log.h -- logging to syslog or standard error, every line escaped to printable ASCII */
#ifndef MIAS_LOG_H
#define MIAS_LOG_H

#include <stdarg.h>
#include <stddef.h>

/* foreground: write to stderr; otherwise syslog(3), facility daemon. */
void	log_init(const char *progname, int foreground);
void	log_verbose(int);

/*
 * log_warn appends strerror(errno); the x variants do not.  A line starts
 * with what it is about, so that an operator can follow one thing through
 * the log: "study NS/UID: ", "image JOB: ", "callback MSGID: ",
 * "request ID: " (the requestId the caller got), or the task
 * ("retention: ", "store check: ", "SIGHUP: "); lines about the program
 * itself ("started ...", "stopping") have none, and a few of the
 * dispatcher's, about no one study, name their function ("%s: ",
 * __func__).  Never a secret.
 */
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * What every log line goes through, since its arguments come from outside:
 * src copied to dst as printable ASCII.  A control character, DEL or a
 * byte of invalid UTF-8 becomes \xNN, a well-formed UTF-8 character
 * (U+2028, an emoji) \u{hex}, a backslash \\; the rest is kept.  A line
 * that does not fit ends in "..." after the last whole escape.  Returns
 * the length written (dst is NUL-terminated when dstlen > 0).  Each byte
 * takes at most 4 bytes.
 */
size_t	log_escape(char *dst, size_t dstlen, const char *src);

#endif /* MIAS_LOG_H */
