/* log.h -- logging to syslog or standard error, for programs (not lib/) */
#ifndef MIAS_LOG_H
#define MIAS_LOG_H

#include <stdarg.h>

/* foreground: write to stderr; otherwise syslog(3), facility daemon. */
void	log_init(const char *progname, int foreground);
void	log_verbose(int);

/* log_warn appends strerror(errno); the x variants do not.  Callers put
 * "%s: ", __func__ first and never pass a secret. */
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif /* MIAS_LOG_H */
