/* work.c -- mias-dispatcher: worker threads for OSS listings, command engines, assembly */
#include <stdlib.h>
#include <string.h>

#include "dispatcher.h"
#include "secmem.h"

/*
 * Work that blocks (a paged OSS listing, a download and an engine
 * program, gathering a large study) runs on these threads so the main
 * loop keeps delivering callbacks meanwhile.  Each task touches the store
 * in transactions of its own; the Berkeley DB handles are free-threaded.
 */
static void *
work_main(void *arg)
{
	struct disp	*d = arg;
	struct task	*t;

	for (;;) {
		/* a task's credentials may linger in the registers */
		secmem_scrub_registers();
		pthread_mutex_lock(&d->d_mtx);
		while (!d->d_stopping && TAILQ_EMPTY(&d->d_todo))
			pthread_cond_wait(&d->d_cv, &d->d_mtx);
		if (d->d_stopping) {
			pthread_mutex_unlock(&d->d_mtx);
			return NULL;
		}
		/* images first: each holds one of its engine's slots from
		 * the moment it was picked, listings and assemblies none */
		TAILQ_FOREACH(t, &d->d_todo, t_entry)
			if (t->t_kind == QK_IMAGE)
				break;
		if (t == NULL)
			t = TAILQ_FIRST(&d->d_todo);
		TAILQ_REMOVE(&d->d_todo, t, t_entry);
		pthread_mutex_unlock(&d->d_mtx);
		d->d_work(d, t);
	}
}

int
work_start(struct disp *d, unsigned n)
{
	if (n > DISP_WORKERS_MAX)
		n = DISP_WORKERS_MAX;
	for (d->d_nworkers = 0; d->d_nworkers < n; d->d_nworkers++)
		if (pthread_create(&d->d_workers[d->d_nworkers], NULL,
		    work_main, d) != 0)
			break;
	return d->d_nworkers > 0 ? 0 : -1;
}

/* Tasks not started stay queued in the store and run at the next start;
 * a running engine program is killed (engine_command watches
 * d_stopping). */
void
work_stop(struct disp *d)
{
	unsigned i;

	pthread_mutex_lock(&d->d_mtx);
	d->d_stopping = 1;
	pthread_cond_broadcast(&d->d_cv);
	pthread_mutex_unlock(&d->d_mtx);
	for (i = 0; i < d->d_nworkers; i++)
		pthread_join(d->d_workers[i], NULL);
	d->d_nworkers = 0;
}

void
work_take(struct disp *d, int stale_only, struct taskq *out)
{
	struct task	*t, *next;
	unsigned	 epoch = atomic_load(&d->d_epoch);

	pthread_mutex_lock(&d->d_mtx);
	for (t = TAILQ_FIRST(&d->d_todo); t != NULL; t = next) {
		next = TAILQ_NEXT(t, t_entry);
		if (!stale_only || t->t_epoch != epoch) {
			TAILQ_REMOVE(&d->d_todo, t, t_entry);
			TAILQ_INSERT_TAIL(out, t, t_entry);
		}
	}
	pthread_mutex_unlock(&d->d_mtx);
}

void
work_submit(struct disp *d, struct task *t)
{
	pthread_mutex_lock(&d->d_mtx);
	TAILQ_INSERT_TAIL(&d->d_todo, t, t_entry);
	pthread_cond_signal(&d->d_cv);
	pthread_mutex_unlock(&d->d_mtx);
}
