/* audit.h -- the append-only audit trail: who did what, from where, when */
#ifndef MIAS_AUDIT_H
#define MIAS_AUDIT_H

#include <stdint.h>

#include <json-c/json.h>

struct store;
struct store_txn;

/*
 * One entry: ns is who (the namespace, or "-" before authentication),
 * from is where (the client address, or "mias-admin"), action what
 * ("executeAnalysis", "namespace rotate"...), target on what (a study id,
 * a namespace; may be NULL), outcome how it ended (a returnCode, "ok").
 * Never a secret.  Written without forcing the log to disk: an entry can
 * be lost with the last moments before a crash, never half-written.
 * Returns 0 or -1.
 */
int	audit_write(struct store *, const char *ns, const char *from,
	    const char *action, const char *target, const char *outcome);
/* The same entry inside the caller's transaction; a store result. */
int	audit_put(struct store_txn *, const char *ns, const char *from,
	    const char *action, const char *target, const char *outcome);

/* Entries from since to until (ms, inclusive; 0: unbounded), of one
 * namespace or all (ns NULL), oldest first, as a JSON array. */
int	audit_read(struct store *, const char *ns, int64_t since,
	    int64_t until, json_object **list);

#endif /* MIAS_AUDIT_H */
