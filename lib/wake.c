/* wake.c -- responders wake the dispatcher when they queue work */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "wake.h"

#define WAKE_SOCKET	"dispatcher.sock"

static int
wake_addr(const char *state_dir, struct sockaddr_un *sun)
{
	int n;

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	n = snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/%s", state_dir,
	    WAKE_SOCKET);
	return n < 0 || (size_t)n >= sizeof(sun->sun_path) ? -1 : 0;
}

void
wake_dispatcher(const char *state_dir)
{
	/* one socket per process, kept: a responder wakes the dispatcher
	 * on every submission */
	static int		fd = -1;
	struct sockaddr_un	sun;
	int			saved = errno;

	if (wake_addr(state_dir, &sun) == -1)
		return;
	int			s = __atomic_load_n(&fd, __ATOMIC_ACQUIRE);
	int			none = -1;

	if (s == -1) {
		/* threads may race here: one socket is kept, others closed */
		if ((s = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0)) == -1)
			return;
		if (!__atomic_compare_exchange_n(&fd, &none, s, 0,
		    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			close(s);
			s = none;
		}
	}
	(void)sendto(s, "w", 1, MSG_DONTWAIT, (struct sockaddr *)&sun,
	    sizeof(sun));
	errno = saved;
}

int
wake_listen(const char *state_dir)
{
	struct sockaddr_un	sun;
	int			fd;

	if (wake_addr(state_dir, &sun) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return -1;
	/* a socket left by a dispatcher that died; the caller holds the
	 * single-instance lock, so it is not in use */
	unlink(sun.sun_path);
	/* the responders (in a shared directory, another user of its
	 * group) must be able to write to it: the store's file mode, not
	 * the umask's */
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(sun.sun_path, store_file_mode(state_dir)) == -1) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

void
wake_drain(int fd)
{
	char buf[64];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}
