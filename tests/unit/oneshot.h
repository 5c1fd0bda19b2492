/* oneshot.h -- a loopback HTTP server for the unit tests: one connection at a time, the request head read, a prepared answer sent */
#ifndef MIAS_ONESHOT_H
#define MIAS_ONESHOT_H

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct oneshot {
	int		 os_fd;
	unsigned	 os_port;
	char		 os_answer[4096];
	size_t		 os_answerlen;
	int		 os_served;
	pthread_t	 os_thread;
};

static int oneshot_open(struct oneshot *) __attribute__((unused));
static void oneshot_answer(struct oneshot *, const char *, const char *)
    __attribute__((unused));
static void oneshot_start(struct oneshot *) __attribute__((unused));
static void oneshot_wait(struct oneshot *) __attribute__((unused));

/* Listen on 127.0.0.1, a port of the kernel's choosing: 0 or -1. */
static int
oneshot_open(struct oneshot *s)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);

	memset(s, 0, sizeof(*s));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((s->os_fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(s->os_fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(s->os_fd, 4) == -1 ||
	    getsockname(s->os_fd, (struct sockaddr *)&sin, &len) == -1)
		return -1;
	s->os_port = ntohs(sin.sin_port);
	return 0;
}

/* The next answer: a head (with its blank line) and a body. */
static void
oneshot_answer(struct oneshot *s, const char *head, const char *body)
{
	s->os_answerlen = (size_t)snprintf(s->os_answer,
	    sizeof(s->os_answer), "%s%s", head, body);
}

static void *
oneshot_run(void *arg)
{
	struct oneshot	*s = arg;
	char		 buf[8192];
	size_t		 n = 0;
	ssize_t		 r;
	int		 c;

	if ((c = accept(s->os_fd, NULL, NULL)) == -1)
		return NULL;
	while (n < sizeof(buf) - 1 && (r = read(c, buf + n,
	    sizeof(buf) - 1 - n)) > 0) {
		n += (size_t)r;
		buf[n] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL)
			break;
	}
	(void)!write(c, s->os_answer, s->os_answerlen);
	s->os_served = 1;
	close(c);
	return NULL;
}

/* Serve one connection in a thread; oneshot_wait() after the request. */
static void
oneshot_start(struct oneshot *s)
{
	s->os_served = 0;
	pthread_create(&s->os_thread, NULL, oneshot_run, s);
}

static void
oneshot_wait(struct oneshot *s)
{
	pthread_join(s->os_thread, NULL);
}

#endif /* MIAS_ONESHOT_H */
