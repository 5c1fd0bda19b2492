/* fastsrv.c -- the benchmark's fast loopback HTTP servers: a callback sink and a stand-in OSS */
/*
 * fastsrv --mode sink|oss [--port N] [--port-file F] [--object FILE]
 *
 * One thread, epoll, HTTP/1.1 keep-alive: a reference that must not be the
 * bottleneck of what it serves.  Not a test fixture (tests/fixtures/sink.py
 * and oss_server.py are): it checks nothing and records only counters.
 *
 * sink: every request outside /__ is answered 200 {"code":0,"message":"OK"}
 *       and counted; a body holding "status":0 counts as a successful status
 *       callback.  GET /__stats -> {"count":N,"ok":N,"first_ns":T,"last_ns":T}
 *       (CLOCK_REALTIME of the first and last answered), POST /__reset.
 * oss:  ListObjects(V2) of any bucket answers one object whose key is the
 *       prefix asked for (a one-image study), GetObject/HeadObject of any key
 *       answers the bytes of --object.  Signatures are not verified.
 *       GET /__stats counts lists and gets.
 */
#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define INBUF	65536

struct conn {
	int	 fd;
	char	 in[INBUF];
	size_t	 inlen;
	char	*out;
	size_t	 outlen, outoff, outcap;
	int	 close_after;
};

static int	 mode_oss;
static char	*object;
static size_t	 objlen;
static uint64_t	 n_count, n_ok, n_list, n_get;
static int64_t	 first_ns, last_ns;
static volatile sig_atomic_t quit;

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
on_sig(int s)
{
	(void)s;
	quit = 1;
}

static int
out_add(struct conn *c, const char *p, size_t n)
{
	if (c->outlen + n > c->outcap) {
		size_t	 cap = c->outcap ? c->outcap : 4096;
		char	*nb;

		while (cap < c->outlen + n)
			cap *= 2;
		if ((nb = realloc(c->out, cap)) == NULL)
			return -1;
		c->out = nb;
		c->outcap = cap;
	}
	memcpy(c->out + c->outlen, p, n);
	c->outlen += n;
	return 0;
}

static void
respond(struct conn *c, int status, const char *type, const char *body,
    size_t blen, int head_only, const char *extra)
{
	char	hdr[1024];
	int	n;

	n = snprintf(hdr, sizeof(hdr), "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n%s%s\r\n", status,
	    status == 200 ? "OK" : status == 404 ? "Not Found" : "Error",
	    type, blen, extra ? extra : "",
	    c->close_after ? "Connection: close\r\n" : "");
	out_add(c, hdr, (size_t)n);
	if (!head_only && blen > 0)
		out_add(c, body, blen);
}

/* The raw (still percent-encoded) value of a query parameter. */
static int
query_raw(const char *q, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);

	while (q != NULL && *q != '\0') {
		const char *amp = strchr(q, '&');
		size_t len = amp ? (size_t)(amp - q) : strlen(q);

		if (len > nl && strncmp(q, name, nl) == 0 && q[nl] == '=') {
			size_t vl = len - nl - 1;

			if (vl >= outlen)
				return -1;
			memcpy(out, q + nl + 1, vl);
			out[vl] = '\0';
			return 0;
		}
		q = amp ? amp + 1 : NULL;
	}
	return -1;
}

static void
stats(struct conn *c)
{
	char b[256];
	int n;

	if (mode_oss)
		n = snprintf(b, sizeof(b), "{\"lists\":%llu,\"gets\":%llu}",
		    (unsigned long long)n_list, (unsigned long long)n_get);
	else
		n = snprintf(b, sizeof(b), "{\"count\":%llu,\"ok\":%llu,"
		    "\"first_ns\":%lld,\"last_ns\":%lld}",
		    (unsigned long long)n_count, (unsigned long long)n_ok,
		    (long long)first_ns, (long long)last_ns);
	respond(c, 200, "application/json", b, (size_t)n, 0, NULL);
}

static void
handle(struct conn *c, const char *method, char *target, const char *body,
    size_t blen)
{
	static const char ok[] = "{\"code\":0,\"message\":\"OK\"}";
	char	*q, *path = target;

	if (strncmp(target, "/__stats", 8) == 0) {
		stats(c);
		return;
	}
	if (strncmp(target, "/__reset", 8) == 0) {
		n_count = n_ok = n_list = n_get = 0;
		first_ns = last_ns = 0;
		respond(c, 200, "application/json", "{}", 2, 0, NULL);
		return;
	}
	if (!mode_oss) {
		int64_t t = now_ns();

		n_count++;
		if (blen > 0 && memmem(body, blen, "\"status\":0", 10) != NULL)
			n_ok++;
		if (first_ns == 0)
			first_ns = t;
		last_ns = t;
		respond(c, 200, "application/json", ok, sizeof(ok) - 1, 0,
		    NULL);
		return;
	}
	/* oss: path style /bucket/key?query */
	if ((q = strchr(path, '?')) != NULL)
		*q++ = '\0';
	if (path[0] == '/')
		path++;
	{
		char	*slash = strchr(path, '/');
		char	 prefix[4096], xml[8192];
		int	 n;

		if (slash == NULL || slash[1] == '\0') {
			/* a bucket: a listing */
			if (q == NULL || query_raw(q, "prefix", prefix,
			    sizeof(prefix)) == -1)
				prefix[0] = '\0';
			/* '+' in a query is a space; the listing's url
			 * encoding reads it so too */
			n_list++;
			n = snprintf(xml, sizeof(xml),
			    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			    "<ListBucketResult><Name>bench</Name>"
			    "<Prefix>%s</Prefix><MaxKeys>1000</MaxKeys>"
			    "<EncodingType>url</EncodingType>"
			    "<IsTruncated>false</IsTruncated>"
			    "<KeyCount>%d</KeyCount>", prefix,
			    prefix[0] ? 1 : 0);
			if (prefix[0])
				n += snprintf(xml + n, sizeof(xml) - (size_t)n,
				    "<Contents><Key>%s</Key>"
				    "<LastModified>2024-01-01T00:00:00.000Z"
				    "</LastModified><ETag>\"0123456789ABCDEF"
				    "0123456789ABCDEF\"</ETag><Type>Normal"
				    "</Type><Size>%zu</Size><StorageClass>"
				    "Standard</StorageClass></Contents>",
				    prefix, objlen);
			n += snprintf(xml + n, sizeof(xml) - (size_t)n,
			    "</ListBucketResult>");
			respond(c, 200, "application/xml", xml, (size_t)n, 0,
			    "x-oss-request-id: 0000000000000000000000AA\r\n");
			return;
		}
		n_get++;
		respond(c, 200, "application/octet-stream", object, objlen,
		    strcmp(method, "HEAD") == 0,
		    "ETag: \"0123456789ABCDEF0123456789ABCDEF\"\r\n"
		    "Last-Modified: Mon, 01 Jan 2024 00:00:00 GMT\r\n"
		    "x-oss-object-type: Normal\r\n"
		    "x-oss-request-id: 0000000000000000000000AB\r\n");
	}
}

/* Parse as many whole requests as the buffer holds; -1 on a bad one. */
static int
parse(struct conn *c)
{
	for (;;) {
		char	*end, *line, *sp1, *sp2, *h;
		size_t	 hlen, clen = 0, total;
		char	 method[16];

		if (c->inlen == 0)
			return 0;
		end = memmem(c->in, c->inlen, "\r\n\r\n", 4);
		if (end == NULL)
			return c->inlen == sizeof(c->in) ? -1 : 0;
		hlen = (size_t)(end - c->in) + 4;
		*end = '\0';
		line = c->in;
		if ((sp1 = strchr(line, ' ')) == NULL ||
		    (sp2 = strchr(sp1 + 1, ' ')) == NULL)
			return -1;
		*sp1 = '\0';
		*sp2 = '\0';
		snprintf(method, sizeof(method), "%.15s", line);
		if (strncmp(sp2 + 1, "HTTP/1.0", 8) == 0)
			c->close_after = 1;
		for (h = strstr(sp2 + 1, "\r\n"); h != NULL;
		    h = strstr(h + 2, "\r\n")) {
			char *v = h + 2;

			if (strncasecmp(v, "Content-Length:", 15) == 0)
				clen = strtoul(v + 15, NULL, 10);
			else if (strncasecmp(v, "Connection:", 11) == 0 &&
			    strcasestr(v, "close") != NULL &&
			    (strchr(v, '\r') == NULL ||
			    strcasestr(v, "close") < strchr(v, '\r')))
				c->close_after = 1;
		}
		total = hlen + clen;
		if (total > sizeof(c->in))
			return -1;
		if (c->inlen < total) {
			/* undo the NULs: parsed again when the body is in */
			*sp1 = ' ';
			*sp2 = ' ';
			*end = '\r';
			return 0;
		}
		handle(c, method, sp1 + 1, c->in + hlen, clen);
		memmove(c->in, c->in + total, c->inlen - total);
		c->inlen -= total;
		if (c->close_after)
			return 0;
	}
}

static int
flush_out(struct conn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t n = write(c->fd, c->out + c->outoff,
		    c->outlen - c->outoff);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 1;
			return -1;
		}
		c->outoff += (size_t)n;
	}
	c->outoff = c->outlen = 0;
	return 0;
}

static void
conn_close(int ep, struct conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->out);
	free(c);
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in	 sin;
	struct epoll_event	 ev, evs[256];
	socklen_t		 sl;
	const char		*portfile = NULL, *objfile = NULL;
	int			 lfd, ep, i, one = 1, port = 0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--mode") && i + 1 < argc)
			mode_oss = !strcmp(argv[++i], "oss");
		else if (!strcmp(argv[i], "--port") && i + 1 < argc)
			port = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--port-file") && i + 1 < argc)
			portfile = argv[++i];
		else if (!strcmp(argv[i], "--object") && i + 1 < argc)
			objfile = argv[++i];
		else {
			fprintf(stderr, "usage: fastsrv --mode sink|oss "
			    "[--port N] [--port-file F] [--object FILE]\n");
			return 2;
		}
	}
	if (objfile != NULL) {
		FILE		*f = fopen(objfile, "rb");
		struct stat	 st;

		if (f == NULL || fstat(fileno(f), &st) == -1 ||
		    (object = malloc((size_t)st.st_size + 1)) == NULL ||
		    fread(object, 1, (size_t)st.st_size, f) !=
		    (size_t)st.st_size) {
			perror(objfile);
			return 1;
		}
		objlen = (size_t)st.st_size;
		fclose(f);
	} else {
		object = strdup("bench");
		objlen = 5;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_sig);
	signal(SIGINT, on_sig);
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
		return perror("socket"), 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 1024) == -1)
		return perror("bind"), 1;
	sl = sizeof(sin);
	getsockname(lfd, (struct sockaddr *)&sin, &sl);
	if (portfile != NULL) {
		char	tmp[4096];
		FILE	*f;

		snprintf(tmp, sizeof(tmp), "%s.tmp", portfile);
		if ((f = fopen(tmp, "w")) == NULL)
			return perror(tmp), 1;
		fprintf(f, "%d\n", ntohs(sin.sin_port));
		fclose(f);
		rename(tmp, portfile);
	}
	ep = epoll_create1(0);
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	while (!quit) {
		int n = epoll_wait(ep, evs, 256, 500);

		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (c == NULL) {
				int fd;

				while ((fd = accept4(lfd, NULL, NULL,
				    SOCK_NONBLOCK)) != -1) {
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY,
					    &one, sizeof(one));
					if ((c = calloc(1, sizeof(*c))) ==
					    NULL) {
						close(fd);
						continue;
					}
					c->fd = fd;
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
				ssize_t r = read(c->fd, c->in + c->inlen,
				    sizeof(c->in) - c->inlen);

				if (r <= 0) {
					if (r < 0 && (errno == EAGAIN ||
					    errno == EINTR))
						continue;
					conn_close(ep, c);
					continue;
				}
				c->inlen += (size_t)r;
				if (parse(c) == -1) {
					conn_close(ep, c);
					continue;
				}
			}
			{
				int fr = flush_out(c);

				if (fr == -1 || (fr == 0 && c->close_after)) {
					conn_close(ep, c);
					continue;
				}
				ev.events = fr == 1 ? EPOLLIN | EPOLLOUT :
				    EPOLLIN;
				ev.data.ptr = c;
				epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
			}
		}
	}
	return 0;
}
