/* t_wake.c -- the datagram that wakes the dispatcher */
#include <sys/stat.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "wake.h"

static char	dir[256];

/* 1 when fd has a datagram to read within ms milliseconds */
static int
readable(int fd, int ms)
{
	struct pollfd	p = { fd, POLLIN, 0 };

	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

static void
test_wake(void)
{
	char		path[400];
	struct stat	st;
	int		fd, fd2, i;

	fd = wake_listen(dir);
	tap_ok(fd >= 0, "wake_listen binds dispatcher.sock in the state "
	    "directory");
	if (fd < 0) {
		printf("#   %s\n", strerror(errno));
		return;
	}
	snprintf(path, sizeof(path), "%s/dispatcher.sock", dir);
	tap_ok(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode),
	    "  ... a socket at %s", "STATE/dispatcher.sock");
	tap_ok((st.st_mode & 0777) == 0600, "  ... mode 0600 in a private "
	    "state directory (%03o)", (unsigned)(st.st_mode & 0777));
	tap_ok(!readable(fd, 0), "nothing to read before a wake-up");

	wake_dispatcher(dir);
	tap_ok(readable(fd, 2000), "wake_dispatcher: the dispatcher's socket "
	    "is readable");
	wake_drain(fd);
	tap_ok(!readable(fd, 0), "wake_drain reads it all");

	/* many wake-ups, one drain (a burst of submissions) */
	for (i = 0; i < 50; i++)
		wake_dispatcher(dir);
	tap_ok(readable(fd, 2000), "50 wake-ups: readable");
	wake_drain(fd);
	tap_ok(!readable(fd, 0), "  ... one drain empties the socket");

	/* a dispatcher that died left its socket: the next one binds anew */
	fd2 = wake_listen(dir);
	tap_ok(fd2 >= 0, "wake_listen again over the socket left behind");
	wake_dispatcher(dir);
	tap_ok(fd2 >= 0 && readable(fd2, 2000) && !readable(fd, 0),
	    "  ... and the new socket gets the wake-ups");
	close(fd);
	if (fd2 >= 0)
		close(fd2);

	/* nobody listening: dropped, errno kept, no failure */
	errno = 4242;
	wake_dispatcher(dir);
	tap_ok(errno == 4242, "with the socket closed a wake-up is dropped, "
	    "errno left alone");
	unlink(path);
	errno = 4243;
	wake_dispatcher(dir);
	tap_ok(errno == 4243, "with no socket at all too");
}

static void
test_long_path(void)
{
	char	longdir[200];
	int	fd;

	memset(longdir, 'd', sizeof(longdir) - 1);
	longdir[0] = '/';
	longdir[sizeof(longdir) - 1] = '\0';
	errno = 0;
	fd = wake_listen(longdir);
	tap_ok(fd == -1 && errno == ENAMETOOLONG,
	    "a state directory too long for a socket path: ENAMETOOLONG");
	if (fd >= 0)
		close(fd);
	errno = 4244;
	wake_dispatcher(longdir);
	tap_ok(errno == 4244, "  ... and wake_dispatcher does nothing");
}

int
main(void)
{
	if (tap_tmpdir(dir, sizeof(dir), "t_wake") == -1)
		return 1;
	test_wake();
	test_long_path();
	tap_tmpdir_done(dir);
	return tap_done();
}
