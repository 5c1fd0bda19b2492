/* window.h -- requests counted per key and time window, in shared memory */
#ifndef MIAS_WINDOW_H
#define MIAS_WINDOW_H

#include <stddef.h>
#include <time.h>

/*
 * The counters behind [limits] requests_per_second and
 * auth_failures_per_minute: how many requests a key (a namespace and
 * endpoint, a client address) made in the current second or minute.  They
 * live in limits.shm in the state directory, a fixed table every responder
 * process maps, and are changed with atomic operations: no lock, no
 * transaction, no disk.  Counts are what a limit needs, not an account:
 * the file may be removed at any time (counting starts again), and when
 * the table is crowded (more than 16 keys active within two minutes on
 * one stretch of it) a key may take over another's slot and both lose
 * what they had counted.
 */
struct windows;

#define WINDOWS_FILE	"limits.shm"
#define WINDOWS_SLOTS	8192

/* Map dir's table, creating it; 0, or -1 with err. */
int	windows_open(const char *dir, struct windows **, char *err,
	    size_t errlen);
/* The same with a table of nslots (tests; a file's size is fixed). */
int	windows_open_slots(const char *dir, unsigned nslots,
	    struct windows **, char *err, size_t errlen);
void	windows_close(struct windows *);

/*
 * The count of key (kind, a, b; b may be NULL) in the window of period
 * seconds that holds now, before this call; add 1 adds this request.
 */
long long windows_count(struct windows *, const char *kind, const char *a,
	    const char *b, time_t now, unsigned period, int add);

#endif /* MIAS_WINDOW_H */
