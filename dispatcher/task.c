/* task.c -- mias-dispatcher: a task's place in the work in progress, from
 * its start (sched.c) to its end, and the configuration it holds */
#include <stdlib.h>

#include "dispatcher.h"

atomic_int	disp_restarting;

/*
 * An image task's place in its engine's count of work in progress (by, 1
 * or -1), by the engine in its slot t_type under the task's configuration.
 * Called with d_mtx held.
 */
void
task_count(struct disp *d, struct task *t, int by)
{
	struct conf_engine	*ce;
	unsigned		*n;

	if (t->t_kind != QK_IMAGE || t->t_type < 1 ||
	    t->t_type > CONF_ENGINES)
		return;
	ce = &t->t_dconf->dc_conf->c_engine[t->t_type - 1];
	if (!ce->ce_configured)
		return;
	n = ce->ce_url != NULL ? &d->d_triggering[t->t_type] :
	    &d->d_cmd_running[t->t_type];
	if (by > 0)
		(*n)++;
	else if (*n > 0)
		(*n)--;
}

void
task_retype(struct disp *d, struct task *t, int slot)
{
	pthread_mutex_lock(&d->d_mtx);
	task_count(d, t, -1);
	t->t_type = slot;
	task_count(d, t, 1);
	pthread_mutex_unlock(&d->d_mtx);
}

void
task_release(struct disp *d, struct task *t)
{
	size_t			 i;

	pthread_mutex_lock(&d->d_mtx);
	for (i = 0; i < d->d_busy_n; i++)
		if (d->d_busy[i] == t) {
			d->d_busy[i] = d->d_busy[--d->d_busy_n];
			break;
		}
	task_count(d, t, -1);
	pthread_mutex_unlock(&d->d_mtx);
	disp_conf_unref(d, t->t_dconf);
	free(t);
	disp_poke(d);
}

void
disp_conf_unref(struct disp *d, struct dconf *dc)
{
	int last;

	pthread_mutex_lock(&d->d_mtx);
	last = --dc->dc_refs == 0;
	pthread_mutex_unlock(&d->d_mtx);
	if (last) {
		conf_free(dc->dc_conf);
		free(dc);
	}
}
