/* check.h -- the store's invariants: nothing accepted is ever stranded */
#ifndef MIAS_CHECK_H
#define MIAS_CHECK_H

struct store;

/*
 * What must hold between the databases for every accepted study to end:
 * - a QUEUED study, or a RUNNING one whose listing has not ended, has its
 *   listing item (QK_STUDY) of its run;
 * - a RUNNING listed study has its assembly item (QK_ASSEMBLE), or each of
 *   its run's jobs is final or in flight: QUEUED with its image item,
 *   SENT with its waiting entry and its timeout item; when every job is
 *   final, the assembly item is there;
 * - every image item has its job, and the job its study;
 * - every PENDING callback has its delivery item (QK_DELIVER), and every
 *   callback belongs to a study (its lastMessage, or an earlier one of
 *   it through "after").
 *
 * check_store() reads the store in short transactions, so it runs while
 * the gateway serves; what a reader sees as wrong is read again in a
 * transaction of its own before it is reported, and records changed since
 * the check began are left to the writers that changed them.  With
 * repair, what can be is put right in that same transaction: a missing
 * item is queued again (due now), a stray image item deleted.  Callbacks
 * without their study are only reported.
 *
 * say (may be NULL) gets one line per finding, without a newline, naming
 * records by namespace, studyType and uid (never a secret).  Returns 0
 * when the store is clean, 1 when problems were found (repaired or not:
 * see the report), -1 when it could not be checked (store_errmsg).
 */
struct check_report {
	unsigned long	cr_studies;	/* study records read */
	unsigned long	cr_items;	/* queue items read */
	unsigned long	cr_problems;
	unsigned long	cr_repaired;
};

typedef void (*check_say)(void *arg, const char *line);

int	check_store(struct store *, int repair, check_say, void *arg,
	    struct check_report *);

#endif /* MIAS_CHECK_H */
