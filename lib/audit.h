/* audit.h -- the append-only audit trail: who did what, from where, when */
#ifndef MIAS_AUDIT_H
#define MIAS_AUDIT_H

#include <stdint.h>

#include <json-c/json.h>

struct store;

/* The trail is a file of the state directory, one JSON object per line,
 * only ever appended to.  Before it, entries were records of the store's
 * audit.db; those are still read. */
#define AUDIT_FILE	"audit.log"

/*
 * Appends one entry: ns is who (the namespace, or "-" before
 * authentication), from is where (the client address, or "mias-admin"),
 * action what ("executeAnalysis", "namespace rotate"...), target on what
 * (a study id, a namespace; may be NULL), outcome how it ended (a
 * returnCode, "ok").  Never a secret.
 *
 * One write(2) with O_APPEND: entries of concurrent processes never
 * interleave (the state directory is on a local file system, as Berkeley
 * DB requires).  It reaches the kernel before this returns, so a process
 * killed afterwards loses nothing; it is not forced to the disk, so an
 * operating-system crash can lose the last moments, and a line cut short
 * then is skipped by the reader.  The file is opened once per process and
 * looked at again once a second: renamed away or removed, it is followed
 * by a new audit.log (so logrotate's default works).
 * Returns 0, or -1 with errno set.
 */
int	audit_write(struct store *, const char *ns, const char *from,
	    const char *action, const char *target, const char *outcome);

/*
 * Entries from since to until (ms, inclusive; 0: unbounded), of one
 * namespace or all (ns NULL), oldest first (those of audit.db before
 * those of audit.log in the same millisecond), each handed to visit,
 * which borrows it; a visit that returns non-zero stops the walk, which
 * then returns it.  About 32 bytes of memory per entry read, whatever
 * the entries hold.  -1 with errno set for the file, or with errno 0 and
 * the store's message.
 */
int	audit_each(struct store *, const char *ns, int64_t since,
	    int64_t until, int (*visit)(json_object *, void *), void *arg);

/* The line audit_write would append, into buf of buflen bytes; its
 * length, or, when it does not fit, more than buflen: the size of buffer
 * it needs (nothing written). */
size_t	audit_line(char *buf, size_t buflen, int64_t at, const char *ns,
	    const char *from, const char *action, const char *target,
	    const char *outcome);

#endif /* MIAS_AUDIT_H */
