/* dispatcher.h -- mias-dispatcher: shared state of the main loop and its workers */
#ifndef MIAS_DISPATCHER_H
#define MIAS_DISPATCHER_H

#include <sys/queue.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "conf.h"
#include "crypto.h"
#include "http.h"
#include "queue.h"

struct store;

/*
 * The configuration in use, shared by reference so that SIGHUP can put a
 * new one in place while workers still finish tasks under the old one.
 * Guarded by disp.d_mtx.
 */
struct dconf {
	struct mias_conf	*dc_conf;
	int			 dc_refs;
};

/* One queue item being worked on, by the main loop or a worker. */
struct task {
	TAILQ_ENTRY(task)	 t_entry;	/* workers' FIFO */
	unsigned char		 t_qkey[QUEUE_KEY_MAX];
	size_t			 t_qklen;
	int64_t			 t_due;
	enum queue_kind		 t_kind;
	char			 t_id[QUEUE_ID_MAX + 1];	/* NUL added */
	size_t			 t_idlen;
	int			 t_type;	/* studyType of image items */
	int64_t			 t_retry;	/* TASK_RETRY: due again then */
	int			 t_flag;	/* per kind: result callback */
	char			 t_ns[129];	/* image items: whose */
	struct dconf		*t_dconf;	/* reference held */
	unsigned		 t_epoch;	/* the store's, when the item was
						 * read: every body that records
						 * the task's outcome checks it
						 * (store_fresh) */
};
TAILQ_HEAD(taskq, task);

/*
 * What a handler did with its task, returned to the scheduler (sched.c),
 * which alone changes the queue and ends the task.  A handler that records
 * an outcome deletes or moves the item in that same transaction (after
 * task_fresh), and reports TASK_DONE; one that leaves the item for a later
 * look (a store error, the dispatcher stopping) reports TASK_DONE too.
 */
enum task_res {
	TASK_DONE,	/* nothing more to do with the queue */
	TASK_RETRY,	/* the item is due again at t_retry */
	TASK_DROP,	/* done with: the item goes */
	TASK_WORKER,	/* a worker thread runs it (work.c) */
	TASK_PENDING	/* a transfer has it: its completion function
			 * returns the outcome when it ends */
};

/* A transfer on the curl multi handle. */
struct xfer;
/* A handler's completion function: what its finished transfer says (the
 * scheduler calls it, sched_finished). */
typedef enum task_res (*xfer_done)(struct xfer *, CURLcode);

struct xfer {
	TAILQ_ENTRY(xfer)	 x_entry;
	struct disp		*x_disp;
	CURL			*x_easy;
	struct curl_slist	*x_hdrs;
	char			*x_body;	/* owned; wiped when done */
	size_t			 x_bodylen;
	char			*x_resp;	/* the answer, capped */
	size_t			 x_resplen, x_respcap;
	int			 x_resp_over;	/* answer was longer than the cap */
	long			 x_status;
	long			 x_retry_after;	/* seconds, -1 if none */
	char			 x_host[256];
	struct http_egress	 x_eg;		/* he_policy NULL: not
						 * checked */
	int			 x_egress_refused;
	char			 x_errbuf[CURL_ERROR_SIZE];
	CURLcode		 x_code;	/* how it ended */
	xfer_done		 x_done;
	struct task		*x_task;
};

#define DISP_WORKERS_MAX	32

/* Image work of one namespace for one engine, for fair shares. */
struct nsload {
	char		nl_ns[129];
	int		nl_type;
	unsigned	nl_busy;	/* running or awaited */
	unsigned	nl_picked;	/* started in this look */
};

struct disp {
	const char		*d_conf_path;
	struct dconf		*d_dconf;	/* current */
	struct crypto_keys	*d_keys;	/* in pages kept out of cores */
	struct store		*d_store;
	int			 d_wake_fd;
	int			 d_pipe[2];	/* workers -> main loop */
	int			 d_lock_fd;
	CURLM			*d_multi;
	unsigned		 d_transfers;
	TAILQ_HEAD(, xfer)	 d_xfers;	/* on d_multi; main thread */
	TAILQ_HEAD(, xfer)	 d_finished;	/* ended, their completion
						 * not yet run; main thread */

	pthread_mutex_t		 d_mtx;		/* guards what follows */
	pthread_cond_t		 d_cv;
	struct taskq		 d_todo;	/* for workers */
	struct task		**d_busy;	/* items being worked on */
	size_t			 d_busy_n, d_busy_cap;
	unsigned		 d_cmd_running[CONF_ENGINES + 1];
	unsigned		 d_triggering[CONF_ENGINES + 1];
	int			 d_stopping;	/* workers: abandon and exit */
	pthread_t		 d_workers[DISP_WORKERS_MAX];
	unsigned		 d_nworkers;

	unsigned		 d_waiting[CONF_ENGINES + 1];	/* main */
	struct nsload		*d_load;	/* main: per namespace, see sched.c */
	size_t			 d_load_n;
	int			 d_unflushed;	/* main: a delivery's record may
						 * not be on disk yet */
	_Atomic unsigned	 d_epoch;	/* the store's epoch the work in
						 * hand was read in (main writes;
						 * workers read to abandon) */
	void			(*d_work)(struct disp *, struct task *);
						/* what a worker runs */
};

/* main.c */
extern volatile int	disp_quit, disp_reload;

/* Wake the main loop (a full pipe: it is woken already).  Any thread. */
static inline void
disp_poke(struct disp *d)
{
	(void)!write(d->d_pipe[1], "p", 1);
}

/* A task's outcome may be recorded only if the store has not been
 * recovered since the task was read (store.h, store_fresh). */
#define task_fresh(txn, t)	store_fresh((txn), (t)->t_epoch)
/* Whether the dispatcher has since started over from the store. */
#define task_stale(d, t)	(atomic_load(&(d)->d_epoch) != (t)->t_epoch)

/* sched.c: finding due work, starting it (the handlers), and applying
 * the outcomes they return */
int64_t	sched_scan(struct disp *);	/* returns ms until the next due */
void	sched_work(struct disp *, struct task *);	/* a worker's task */
/* The transfers http_poll finished (d_finished): each one's completion
 * function, and its outcome applied.  Main. */
void	sched_finished(struct disp *);
/* Ends the tasks no worker has taken, their items left for a later look:
 * those read before a recovery (stale_only), or all of them once the
 * workers stopped.  Main. */
void	sched_unstarted(struct disp *, int stale_only);

/* task.c: a task's place in the work in progress, and its end */
/* Set by a restart after a stall, before descriptors are closed under the
 * workers: a failure a worker meets from then on is that, not its task's,
 * and is not recorded. */
extern atomic_int	disp_restarting;
void	disp_conf_unref(struct disp *, struct dconf *);
/* An image task's engine count of work in progress, by 1 or -1.  With
 * d_mtx held. */
void	task_count(struct disp *, struct task *, int by);
/* Ends a task without touching its item (it runs again at the next look,
 * or start).  Any thread. */
void	task_release(struct disp *, struct task *);
/* An image task is the engine's in slot (lib/conf.h) rather than the one
 * its queue item named (a reload renumbered the slots, or the item's
 * studyType was unknown): its count of work in progress moves there.  Any
 * thread. */
void	task_retype(struct disp *, struct task *, int slot);

/* http.c */
int	http_post(struct disp *, const char *url, char *body, size_t len,
	    struct curl_slist *hdrs, long timeout_s,
	    const struct egress_policy *, xfer_done, struct task *);
/* *woken: WOKEN_NEW (a responder announced work) and/or WOKEN_DONE (a task
 * or transfer finished: room for more), or 0 */
#define WOKEN_NEW	1
#define WOKEN_DONE	2
/* Runs the transfers; those that ended go onto d_finished. */
void	http_poll(struct disp *, int timeout_ms, int *woken);
void	http_free(struct xfer *);
void	http_abort_all(struct disp *);

/* work.c: the worker threads; each runs d_work on the tasks it takes */
int	work_start(struct disp *, unsigned n);
void	work_stop(struct disp *);	/* the tasks none took stay queued */
void	work_submit(struct disp *, struct task *);
/* The tasks no worker has taken, onto *out: all, or those read before the
 * store's epoch (stale_only).  Main. */
void	work_take(struct disp *, int stale_only, struct taskq *out);

/* The handlers: the scheduler (sched.c) calls them; each returns its
 * outcome, or TASK_PENDING and returns it from its transfer's completion
 * function (sched_finished). */
/* engine.c */
enum task_res	engine_trigger(struct disp *, struct task *);	/* remote, main */
enum task_res	engine_command(struct disp *, struct task *);	/* local, worker */
enum task_res	engine_timeout(struct disp *, struct task *);	/* main */

/* assemble.c */
enum task_res	assemble_list(struct disp *, struct task *);	/* worker */
enum task_res	assemble_result(struct disp *, struct task *);	/* worker */

/* deliver.c */
enum task_res	deliver_start(struct disp *, struct task *);	/* main */

/* standby.c: in a group ([replication]), whether this node's dispatcher
 * works: STANDBY_WORK (master, or no group), STANDBY_WAIT (not master:
 * take no work), STANDBY_PROMOTED (just became master: start over from
 * what the store holds, then work).  Main thread. */
enum standby { STANDBY_WORK, STANDBY_WAIT, STANDBY_PROMOTED };
enum standby disp_standby(struct disp *);

/* retention.c: remove studies ended longer ago than [retention] says;
 * returns ms until the next sweep is due (main) */
int64_t	retention_sweep(struct disp *);

#endif /* MIAS_DISPATCHER_H */
