/* t_restart.c -- a process that executes itself again in the middle of a
 * transaction (the dispatcher after a stall) finds the store recovered:
 * the write lock its old image held under the same pid is gone */
#include <sys/wait.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "tap.h"

#define KEY	"restart-key"

static char	 dir[256];
static char	*self;
static char	 v_old[] = "old", v_new[] = "new";
static char	 m_free[] = "free", m_fixed[] = "fixed";

static int
put_body(struct store_txn *t, void *arg)
{
	return store_put(t, SDB_META, KEY, strlen(KEY), arg, strlen(arg));
}

/* The old image: writes KEY (taking the page's write lock), then, inside
 * the transaction, closes its descriptors and executes itself again, as
 * mias-dispatcher's stalled() does. */
static int
exec_body(struct store_txn *t, void *arg)
{
	int fd;

	if (put_body(t, v_old) != STORE_OK)
		_exit(4);
	for (fd = 3; fd < 1024; fd++)
		close(fd);
	execl(self, self, (char *)arg, dir, (char *)NULL);
	_exit(5);
}

/* The new image: marks its old registration (mode "fixed": with
 * store_unregister_self; "free": as free, what mias did before), opens the
 * store and writes KEY again.  0 when the write went through. */
static int
new_image(const char *mode)
{
	static const char	 empty[] = "X                      0\n";
	struct store		*s;
	char			 err[256], path[600], mine[32], slot[25];
	off_t			 off;
	int			 fd;

	alarm(strcmp(mode, "free") == 0 ? 6 : 60);
	if (strcmp(mode, "fixed") == 0) {
		if (store_unregister_self(dir) == -1)
			return 6;
	} else {
		snprintf(path, sizeof(path), "%s/__db.register", dir);
		snprintf(mine, sizeof(mine), "%24lu\n",
		    (unsigned long)getpid());
		if ((fd = open(path, O_RDWR)) == -1)
			return 6;
		for (off = 0; pread(fd, slot, 25, off) == 25; off += 25)
			if (memcmp(slot, mine, 25) == 0)
				(void)!pwrite(fd, empty, 25, off);
		close(fd);
	}
	if (store_open(dir, 0, &s, err, sizeof(err)) == -1) {
		fprintf(stderr, "store_open: %s\n", err);
		return 7;
	}
	if (store_txn(s, put_body, v_new) != STORE_OK)
		return 8;
	store_close(s);
	return 0;
}

/* the whole sequence in a child: its status */
static int
run(char *mode)
{
	struct store	*s;
	char		 err[256];
	pid_t		 pid;
	int		 status;

	if ((pid = fork()) == 0) {
		if (store_open(dir, 0, &s, err, sizeof(err)) == -1)
			_exit(3);
		(void)store_txn(s, exec_body, mode);
		_exit(9);
	}
	if (pid == -1 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

int
main(int argc, char **argv)
{
	struct store	*s;
	char		 err[256];
	int		 st;

	self = argv[0];
	if (argc == 3) {	/* the new image */
		snprintf(dir, sizeof(dir), "%s", argv[2]);
		return new_image(argv[1]);
	}
	if ((self = realpath("/proc/self/exe", NULL)) == NULL ||
	    tap_tmpdir(dir, sizeof(dir), "t_restart") == -1)
		return 1;
	if (store_open(dir, STORE_CREATE, &s, err, sizeof(err)) == -1) {
		printf("Bail out! store_open: %s\n", err);
		return 1;
	}
	store_close(s);

	/* the hazard first, so that the test shows it can fail: marked
	 * free, the old image's lock stays under a live pid */
	st = run(m_free);
	tap_ok(!(WIFEXITED(st) && WEXITSTATUS(st) == 0),
	    "registration marked free: the new image cannot write the key "
	    "its old image locked (status 0x%x)", st);
	/* whatever that left is a dead process's now: start clean */
	if (store_open(dir, 0, &s, err, sizeof(err)) == 0)
		store_close(s);

	st = run(m_fixed);
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "store_unregister_self: the store is recovered and the new "
	    "image writes the key (status 0x%x)", st);
	free(self);
	tap_tmpdir_done(dir);
	return tap_done();
}
