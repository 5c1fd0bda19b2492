/* main.c -- mias-dispatcher: startup, the single-instance lock, signals, the main loop */
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "check.h"
#include "dispatcher.h"
#include "http.h"
#include "log.h"
#include "ops.h"
#include "oss.h"
#include "repl.h"
#include "secmem.h"
#include "store.h"
#include "wake.h"

#define STOP_GRACE_S	10	/* SIGTERM: time given to transfers in flight */
#define CHECKPOINT_MS	30000	/* how often the store is checkpointed */
#define DELIVERY_FLUSH_MS 50	/* longest a delivery's record waits to be
				 * on disk (deliver.c) */
/* After a task finishes, the next queue scan waits until SCAN_SPACING times
 * the last scan's own duration has passed since it ended (at most
 * SCAN_SPACING_MAX_US): a scan that costs much, as with a long backlog, is
 * not repeated for every finished task but starts several at once, and an
 * idle dispatcher's cheap scans still follow at once. */
#define SCAN_SPACING		2
#define SCAN_SPACING_MAX_US	5000

volatile int	disp_quit, disp_reload;

/* for starting again after a stall (stalled()) */
static char	**saved_argv;
static int	  detached, restarted;
#define ENV_RESTART	"MIAS_DISPATCHER_RESTART"	/* set by stalled() */

static void
usage(void)
{
	fprintf(stderr, "usage: mias-dispatcher [-dfh] [-c file]\n"
	    "       mias-dispatcher --version\n");
	exit(2);
}

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		disp_reload = 1;
	else
		disp_quit = 1;
}

static struct dconf *
dconf_load(const char *path, char *err, size_t errlen)
{
	struct dconf *dc;

	if ((dc = calloc(1, sizeof(*dc))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if ((dc->dc_conf = conf_load(path, err, errlen)) == NULL) {
		free(dc);
		return NULL;
	}
	for (size_t i = 0; conf_warning(dc->dc_conf, i) != NULL; i++)
		log_warnx("%s", conf_warning(dc->dc_conf, i));
	dc->dc_refs = 1;
	return dc;
}

static void
write_pid(int fd)
{
	char	pid[32];
	int	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());

	if (ftruncate(fd, 0) == -1 || pwrite(fd, pid, (size_t)n, 0) != n)
		log_warn("dispatcher.lock");
}

static void
check_say_log(void *arg, const char *line)
{
	(void)arg;
	log_warnx("store check: %s", line);
}

/*
 * Work from what the store says: at start, and whenever the store has been
 * recovered (by this process or any other) since the work in hand was
 * read.  What was read before is stale: tasks not started are dropped,
 * those running find out when they record their outcome (task_fresh) and
 * end unrecorded; the next look at the queue finds what the recovered
 * store holds.  The invariant check puts back in the queue whatever
 * would otherwise never be looked at again.
 */
static void
start_over(struct disp *d, const char *why)
{
	struct check_report	r;
	int			rc;

	atomic_store(&d->d_epoch, store_epoch(d->d_store));
	if (why != NULL)
		log_info("%s: starting over from what the store holds", why);
	sched_unstarted(d, 1);	/* read before the recovery */
	rc = check_store(d->d_store, 1, check_say_log, NULL, &r);
	if (rc == -1)
		log_warnx("store check: %s", store_errmsg(d->d_store));
	else if (rc == 1)
		log_warnx("store check: %lu problems, %lu repaired",
		    r.cr_problems, r.cr_repaired);
}

/* The signals that stop or reload the dispatcher. */
static void
stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
}

/*
 * The store's stall guard found this process waiting on a Berkeley DB
 * mutex that a dead process held (lib/store.c): no thread of ours can be
 * woken, so the program starts again in place, with the same pid, as if
 * it had crashed; its open recovers the environment (also when another
 * process already has: store_unregister_self), which frees whatever the
 * old image's threads held under this pid.
 * Descriptors go (the lock's too: it is taken again), and a dispatcher
 * that had detached stays detached.
 */
static void
stalled(const char *why)
{
	sigset_t	set;
	long		fd, max = sysconf(_SC_OPEN_MAX);

	log_warnx("%s; starting again", why);
	setenv(ENV_RESTART, detached ? "detached" : "foreground", 1);
	/* the mask survives exec: a SIGTERM sent meanwhile waits for the new
	 * image's handler instead of killing it before it has one */
	stop_signals(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	/*
	 * Closed, not merely marked close-on-exec: until exec the other
	 * threads run on, some in the environment as recovered (they reopened
	 * the store on DB_RUNRECOVERY).  Left their descriptors, they can be
	 * cut off by exec holding locks there under this pid, which stays
	 * alive, so that nothing ever frees them: a hang, seen under ASan in
	 * test_stall.  A worker whose descriptor goes under it fails; it
	 * must not record that as its image's or study's outcome (also seen
	 * under ASan): disp_restarting tells it.
	 */
	atomic_store(&disp_restarting, 1);
	for (fd = 3; fd < (max > 0 && max < 65536 ? max : 1024); fd++)
		close((int)fd);
	execv("/proc/self/exe", saved_argv);
	log_warn("cannot start again: /proc/self/exe");
	_exit(STORE_STALL_EXIT);
}

/* Only one dispatcher per store: two would each deliver every callback. */
static int
lock_state(const char *dir)
{
	char	path[4096], pid[32];
	ssize_t	n;
	int	fd;

	snprintf(path, sizeof(path), "%s/dispatcher.lock", dir);
	if ((fd = store_file_open(dir, path, O_RDWR | O_CLOEXEC)) == -1)
		fatal("%s", path);
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK)
			fatal("%s", path);
		n = read(fd, pid, sizeof(pid) - 1);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		fatalx("another mias-dispatcher (pid %s) is running on %s; "
		    "only one may run per state directory", pid[0] ? pid : "?",
		    dir);
	}
	write_pid(fd);
	return fd;
}

/* Images left by a dispatcher that was killed mid-download. */
static void
clean_tmp(const char *dir)
{
	char		 path[4096];
	DIR		*dp;
	struct dirent	*de;

	snprintf(path, sizeof(path), "%s/tmp", dir);
	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		fatal("%s", path);
	if ((dp = opendir(path)) == NULL)
		fatal("%s", path);
	while ((de = readdir(dp)) != NULL)
		if (strncmp(de->d_name, "image-", 6) == 0)
			unlinkat(dirfd(dp), de->d_name, 0);
	closedir(dp);
}

static void
reload(struct disp *d)
{
	struct dconf	*dc, *old;
	char		 err[512];

	disp_reload = 0;
	oss_forget_connections();	/* the egress policy may have changed */
	if ((dc = dconf_load(d->d_conf_path, err, sizeof(err))) == NULL) {
		log_warnx("SIGHUP: keeping the configuration in use: %s", err);
		return;
	}
	if (strcmp(dc->dc_conf->c_state_dir,
	    d->d_dconf->dc_conf->c_state_dir) != 0)
		log_warnx("SIGHUP: state_dir changes only at restart");
	pthread_mutex_lock(&d->d_mtx);
	old = d->d_dconf;
	d->d_dconf = dc;
	pthread_mutex_unlock(&d->d_mtx);
	disp_conf_unref(d, old);
	log_info("configuration reloaded from %s", d->d_conf_path);
}

static int64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int
main(int argc, char *argv[])
{
	struct disp		 d;
	struct sigaction	 sa;
	sigset_t		 set;
	struct mias_conf	*c;
	char			 err[512];
	int64_t			 wait_ms, next_scan, next_checkpoint = 0;
	int			 ops_done = 0;
	int64_t			 flush_at = 0, next_sweep = 0;
	int64_t			 spacing = 0, scanned = 0;	/* us */
	time_t			 stop_at = 0;
	int			 ch, foreground = 0, verbose = 0, woken, i;
	unsigned		 nworkers = 4;

	static const struct option longopts[] = {
		{ "version",	no_argument,	NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};

	memset(&d, 0, sizeof(d));
	saved_argv = argv;
	while ((ch = getopt_long(argc, argv, "c:dfh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'V':
			printf("mias-dispatcher %s\n", PACKAGE_VERSION);
			return 0;
		case 'c':
			d.d_conf_path = optarg;
			break;
		case 'd':
			verbose = 1;
			break;
		case 'f':
			foreground = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (d.d_conf_path == NULL)
		d.d_conf_path = getenv("MIAS_CONF");
	if (d.d_conf_path == NULL || *d.d_conf_path == '\0')
		d.d_conf_path = conf_default_path();
	if (getenv(ENV_RESTART) != NULL) {	/* started again by stalled() */
		restarted = 1;
		detached = strcmp(getenv(ENV_RESTART), "detached") == 0;
		unsetenv(ENV_RESTART);
	}
	log_init("mias-dispatcher", !detached);
	log_verbose(verbose);
	if ((d.d_dconf = dconf_load(d.d_conf_path, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	c = d.d_dconf->dc_conf;
	repl_use(&c->c_repl);
	if (store_check_owner(c->c_state_dir, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if ((d.d_keys = crypto_keys_new()) == NULL)
		fatalx("no memory kept out of core dumps for the keys");
	if (crypto_keys_load(c->c_key_file, d.d_keys, err, sizeof(err)) == -1)
		fatalx("%s", err);
	/* what can fail at start fails here, on the terminal, before the
	 * process detaches: the lock (an flock survives the fork with the
	 * descriptor) and the store (opened again after the fork: Berkeley
	 * DB handles and threads do not cross one) */
	d.d_lock_fd = lock_state(c->c_state_dir);
	clean_tmp(c->c_state_dir);
	/* before anything slow (a store open may run recovery): a SIGTERM
	 * that comes early ends the process through the main loop; one sent
	 * while stalled() executed the program again was held blocked */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	stop_signals(&set);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	store_on_stall(stalled);
	if (restarted && store_unregister_self(c->c_state_dir) == -1)
		log_warn("%s/__db.register", c->c_state_dir);
	if (!foreground && !detached) {
		if (store_open(c->c_state_dir, 0, &d.d_store, err,
		    sizeof(err)) == -1)
			fatalx("%s%s", err,
			    store_init_hint(c->c_state_dir));
		store_close(d.d_store);
		d.d_store = NULL;
		if (daemon(0, 0) == -1)
			fatal("daemon");
		log_init("mias-dispatcher", 0);
		write_pid(d.d_lock_fd);
		detached = 1;
	}
	/* in a group, this process is its node's replication process */
	if (store_open(c->c_state_dir, STORE_REPL, &d.d_store, err,
	    sizeof(err)) == -1)
		fatalx("%s%s", err, store_init_hint(c->c_state_dir));
	if ((d.d_wake_fd = wake_listen(c->c_state_dir)) == -1)
		fatal("%s/dispatcher.sock", c->c_state_dir);
	if (pipe2(d.d_pipe, O_CLOEXEC | O_NONBLOCK) == -1)
		fatal("pipe");
	if (crypto_curl_init() == -1 ||
	    (d.d_multi = http_multi_new((long)c->c_concurrency)) == NULL)
		fatalx("cannot initialise libcurl");
	TAILQ_INIT(&d.d_todo);
	TAILQ_INIT(&d.d_xfers);
	TAILQ_INIT(&d.d_finished);
	pthread_mutex_init(&d.d_mtx, NULL);
	pthread_cond_init(&d.d_cv, NULL);
	for (i = 0; i < CONF_ENGINES; i++)
		if (c->c_engine[i].ce_configured &&
		    c->c_engine[i].ce_command != NULL)
			nworkers += c->c_engine[i].ce_concurrency;
	d.d_work = sched_work;
	if (work_start(&d, nworkers) == -1)
		fatalx("cannot start worker threads");

	log_info("started (pid %ld, state %s, %u workers)", (long)getpid(),
	    c->c_state_dir, d.d_nworkers);
	if (repl_conf() == NULL)	/* a group: on promotion */
		start_over(&d, NULL);

	next_scan = 0;
	while (!disp_quit || d.d_transfers > 0) {
		int64_t now;
		char	buf[256];

		if (disp_quit && stop_at == 0) {
			/* stop taking work; let transfers finish */
			log_info("stopping");
			stop_at = time(NULL) + STOP_GRACE_S;
			pthread_mutex_lock(&d.d_mtx);
			d.d_stopping = 1;
			pthread_cond_broadcast(&d.d_cv);
			pthread_mutex_unlock(&d.d_mtx);
		}
		if (stop_at != 0 && time(NULL) >= stop_at)
			break;
		if (disp_reload)
			reload(&d);
		switch (disp_standby(&d)) {
		case STANDBY_WAIT:	/* in a group, not the master */
			/* (any more): nothing more leaves this node, and no
			 * worker takes up what was read as master */
			if (d.d_transfers > 0)
				http_abort_all(&d);
			sched_unstarted(&d, 0);
			http_poll(&d, 100, &woken);
			wake_drain(d.d_wake_fd);
			while (read(d.d_pipe[0], buf, sizeof(buf)) > 0)
				;
			continue;
		case STANDBY_PROMOTED:
			start_over(&d, "this node became the master");
			next_scan = next_sweep = 0;
			break;
		default:
			break;
		}
		now = store_now_ms();
		if (now >= next_checkpoint) {
			if (store_checkpoint(d.d_store) == -1)
				log_warnx("%s", store_errmsg(d.d_store));
			next_checkpoint = now + CHECKPOINT_MS;
		}
		/* a store made before listAnalyses's index and the metrics'
		 * counts gets them, a step of a few thousand studies at a time
		 * (lib/ops.c); the first steps mark a new store done */
		if (!ops_done && ops_build_steps(d.d_store, 0, &ops_done) != 0) {
			/* the responders build it when asked: no more here */
			log_warnx("building the listing index: %s",
			    store_errmsg(d.d_store));
			ops_done = 1;
		}
		if (!disp_quit && now >= next_scan) {
			int64_t t0 = mono_us();

			next_scan = now + sched_scan(&d);
			if (store_epoch(d.d_store) != atomic_load(&d.d_epoch)) {
				start_over(&d, "the store was recovered");
				next_scan = 0;
			}
			spacing = (mono_us() - t0) * SCAN_SPACING;
			if (spacing > SCAN_SPACING_MAX_US)
				spacing = SCAN_SPACING_MAX_US;
			scanned = mono_us();
		}
		if (!disp_quit && now >= next_sweep)
			next_sweep = now + retention_sweep(&d);
		if (d.d_unflushed && now >= flush_at) {
			/* the deliveries recorded since the last time */
			if (store_flush(d.d_store) == -1)
				log_warnx("%s", store_errmsg(d.d_store));
			d.d_unflushed = 0;
			flush_at = now + DELIVERY_FLUSH_MS;
		}
		wait_ms = next_scan - store_now_ms();
		if (d.d_unflushed && wait_ms > flush_at - store_now_ms())
			wait_ms = flush_at - store_now_ms();
		if (wait_ms > next_sweep - store_now_ms())
			wait_ms = next_sweep - store_now_ms();
		if (wait_ms < 0)
			wait_ms = 0;
		/* what the last transfer moved (credentials, signatures)
		 * may linger in the registers while we wait */
		secmem_scrub_registers();
		http_poll(&d, (int)(wait_ms > 1000 ? 1000 : wait_ms), &woken);
		sched_finished(&d);
		if (woken) {
			/* new work: look at the queue now; room for more (a
			 * task finished): now, or after SCAN_SPACING (above) */
			wake_drain(d.d_wake_fd);
			while (read(d.d_pipe[0], buf, sizeof(buf)) > 0)
				;
			if ((woken & WOKEN_NEW) || mono_us() >= scanned + spacing)
				next_scan = 0;
			else if (next_scan > store_now_ms() + (spacing + 999) / 1000)
				next_scan = store_now_ms() + (spacing + 999) / 1000;
		}
	}
	http_abort_all(&d);
	work_stop(&d);
	sched_unstarted(&d, 0);
	(void)store_flush(d.d_store);
	(void)store_checkpoint(d.d_store);
	curl_multi_cleanup(d.d_multi);
	curl_global_cleanup();
	store_close(d.d_store);
	crypto_keys_free(d.d_keys);
	{
		char path[4096];

		snprintf(path, sizeof(path), "%s/dispatcher.sock",
		    d.d_dconf->dc_conf->c_state_dir);
		unlink(path);
	}
	disp_conf_unref(&d, d.d_dconf);
	free(d.d_load);
	free(d.d_busy);
	log_info("stopped");
	return 0;
}
