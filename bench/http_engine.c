/* http_engine.c -- the benchmark's instant remote engine: the algorithm protocol over HTTP (row 3) */
/*
 * http_engine --result FILE [--port N] [--port-file F] [--pool N]
 *
 * A remote engine as API.md 5./6. and CONTRACT.md describe one: it takes
 * the dispatcher's trigger (POST, any path), answers it at once with
 * {"returnCode":"000000","returnMessage":"OK"}, and then posts the image's
 * result to the trigger's resultCallBackUrl, echoing its namespace and
 * ImageUid.  The result is the bytes of FILE (a result body of API.md 6.,
 * {"returnCode":"000000",...,"Boxes":[...]}) with those two members added
 * at its front.  The results go out from a pool of --pool threads (default
 * 8), each with one libcurl handle that keeps its connection alive: the
 * keep-alive connection pool of issue 21, so that row 3 measures the
 * dispatcher and algorithmResult, not connection set-ups or process starts.
 *
 * Triggers are served by one thread per connection (the dispatcher keeps a
 * few connections, as many as [engine.N] concurrency allows).  GET /__stats
 * answers {"triggers":N,"posted":N,"failed":N,"queued":N}.  A benchmark
 * program, not a fixture: it checks no signature and trusts its loopback
 * caller, but it never reads past what it was sent.
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#define INBUF	(256 * 1024)

struct job {
	struct job	*next;
	char		*url;
	char		*body;
	size_t		 len;
};

static pthread_mutex_t	 mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 cv = PTHREAD_COND_INITIALIZER;
static struct job	*head, *tail;
static unsigned long	 n_trig, n_posted, n_failed, n_queued;
static const char	*result;	/* FILE, after its '{' */
static size_t		 resultlen;

static void
enqueue(struct job *j)
{
	pthread_mutex_lock(&mtx);
	j->next = NULL;
	if (tail != NULL)
		tail->next = j;
	else
		head = j;
	tail = j;
	n_trig++;
	n_queued++;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mtx);
}

static size_t
discard(char *p, size_t sz, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return sz * n;
}

/* One connection of the pool: posts results, one at a time. */
static void *
poster(void *arg)
{
	CURL			*h = curl_easy_init();
	struct curl_slist	*hdrs = NULL;
	struct job		*j;
	long			 status;
	CURLcode		 cc;

	(void)arg;
	hdrs = curl_slist_append(hdrs,
	    "Content-Type: application/json; charset=utf-8");
	/* no "Expect: 100-continue" round trip */
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	for (;;) {
		pthread_mutex_lock(&mtx);
		while (head == NULL)
			pthread_cond_wait(&cv, &mtx);
		j = head;
		if ((head = j->next) == NULL)
			tail = NULL;
		pthread_mutex_unlock(&mtx);
		curl_easy_setopt(h, CURLOPT_URL, j->url);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, j->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)j->len);
		status = 0;
		cc = curl_easy_perform(h);
		if (cc == CURLE_OK)
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		if (cc != CURLE_OK || status < 200 || status > 299)
			fprintf(stderr, "http_engine: %s: %s %ld\n", j->url,
			    curl_easy_strerror(cc), status);
		pthread_mutex_lock(&mtx);
		n_queued--;
		if (cc == CURLE_OK && status >= 200 && status <= 299)
			n_posted++;
		else
			n_failed++;
		pthread_mutex_unlock(&mtx);
		free(j->url);
		free(j->body);
		free(j);
	}
	return NULL;
}

/*
 * The raw JSON string value (quotes and escapes kept) of the member name in
 * body[0..len), or NULL.  A '"name":"' inside another string is escaped
 * (\"name\":\") and never matches.
 */
static const char *
member(const char *body, size_t len, const char *name, size_t *vlen)
{
	char		 pat[64];
	const char	*p, *v, *end = body + len;
	int		 n;

	n = snprintf(pat, sizeof(pat), "\"%s\":\"", name);
	if (n < 0 || (size_t)n >= sizeof(pat) ||
	    (p = memmem(body, len, pat, (size_t)n)) == NULL)
		return NULL;
	v = p + n - 1;		/* the opening quote */
	for (p = v + 1; p < end; p++) {
		if (*p == '\\')
			p++;
		else if (*p == '"') {
			*vlen = (size_t)(p - v) + 1;
			return v;
		}
	}
	return NULL;
}

/* Queues the result of one trigger; -1 when the body is not one. */
static int
trigger(const char *body, size_t len)
{
	const char	*url, *ns, *uid;
	size_t		 ul, nl, il, i;
	struct job	*j;
	char		*p;

	if ((url = member(body, len, "resultCallBackUrl", &ul)) == NULL ||
	    (ns = member(body, len, "namespace", &nl)) == NULL ||
	    (uid = member(body, len, "ImageUid", &il)) == NULL || ul < 3)
		return -1;
	/* a URL in JSON: only \/ may be escaped (json-c), and mias sends
	 * it without */
	for (i = 1; i + 1 < ul; i++)
		if (url[i] == '\\')
			return -1;
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->url = strndup(url + 1, ul - 2)) == NULL ||
	    (j->body = malloc(nl + il + resultlen + 32)) == NULL) {
		if (j != NULL)
			free(j->url);
		free(j);
		return -1;
	}
	p = j->body;
	p += sprintf(p, "{\"namespace\":%.*s,\"ImageUid\":%.*s,", (int)nl, ns,
	    (int)il, uid);
	memcpy(p, result, resultlen);
	j->len = (size_t)(p - j->body) + resultlen;
	enqueue(j);
	return 0;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
respond(int fd, int status, const char *body)
{
	char	buf[512];
	int	n;

	n = snprintf(buf, sizeof(buf), "HTTP/1.1 %d %s\r\nContent-Type: "
	    "application/json\r\nContent-Length: %zu\r\n\r\n%s", status,
	    status == 200 ? "OK" : "Bad Request", strlen(body), body);
	return n < 0 || (size_t)n >= sizeof(buf) ? -1 :
	    write_all(fd, buf, (size_t)n);
}

/* One trigger connection: HTTP/1.1 requests with Content-Length bodies. */
static void *
serve(void *arg)
{
	int	 fd = (int)(intptr_t)arg;
	char	*in = malloc(INBUF);
	size_t	 inlen = 0;

	if (in == NULL)
		goto out;
	for (;;) {
		char	*end, *h;
		size_t	 hlen, clen = 0;
		ssize_t	 r;
		int	 stats;

		while ((end = memmem(in, inlen, "\r\n\r\n", 4)) == NULL) {
			if (inlen == INBUF)
				goto out;
			if ((r = read(fd, in + inlen, INBUF - inlen)) <= 0) {
				if (r < 0 && errno == EINTR)
					continue;
				goto out;
			}
			inlen += (size_t)r;
		}
		hlen = (size_t)(end - in) + 4;
		*end = '\0';
		for (h = strstr(in, "\r\n"); h != NULL; h = strstr(h + 2,
		    "\r\n"))
			if (strncasecmp(h + 2, "Content-Length:", 15) == 0)
				clen = strtoul(h + 17, NULL, 10);
		if (clen > INBUF - hlen)
			goto out;
		while (inlen < hlen + clen) {
			if ((r = read(fd, in + inlen, INBUF - inlen)) <= 0) {
				if (r < 0 && errno == EINTR)
					continue;
				goto out;
			}
			inlen += (size_t)r;
		}
		stats = strncmp(in, "GET /__stats", 12) == 0;
		if (stats) {
			char b[256];

			pthread_mutex_lock(&mtx);
			snprintf(b, sizeof(b), "{\"triggers\":%lu,\"posted\":"
			    "%lu,\"failed\":%lu,\"queued\":%lu}", n_trig,
			    n_posted, n_failed, n_queued);
			pthread_mutex_unlock(&mtx);
			if (respond(fd, 200, b) == -1)
				goto out;
		} else if (trigger(in + hlen, clen) == 0) {
			if (respond(fd, 200, "{\"returnCode\":\"000000\","
			    "\"returnMessage\":\"OK\"}") == -1)
				goto out;
		} else if (respond(fd, 400, "{\"returnCode\":\"100002\","
		    "\"returnMessage\":\"not a trigger\"}") == -1)
			goto out;
		memmove(in, in + hlen + clen, inlen - hlen - clen);
		inlen -= hlen + clen;
	}
out:
	free(in);
	close(fd);
	return NULL;
}

static char *
slurp(const char *path, size_t *len)
{
	FILE		*f = fopen(path, "rb");
	struct stat	 st;
	char		*b = NULL;

	if (f == NULL || fstat(fileno(f), &st) == -1 || st.st_size < 2 ||
	    (b = malloc((size_t)st.st_size + 1)) == NULL ||
	    fread(b, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		free(b);
		b = NULL;
	} else {
		b[st.st_size] = '\0';
		*len = (size_t)st.st_size;
	}
	if (f != NULL)
		fclose(f);
	return b;
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in	 sin;
	socklen_t		 sl;
	pthread_attr_t		 attr;
	pthread_t		 th;
	const char		*portfile = NULL, *resfile = NULL;
	char			*res;
	size_t			 len = 0;
	int			 lfd, i, one = 1, port = 0, pool = 8;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--port") && i + 1 < argc)
			port = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--port-file") && i + 1 < argc)
			portfile = argv[++i];
		else if (!strcmp(argv[i], "--result") && i + 1 < argc)
			resfile = argv[++i];
		else if (!strcmp(argv[i], "--pool") && i + 1 < argc)
			pool = atoi(argv[++i]);
		else
			resfile = NULL, i = argc;
	}
	if (resfile == NULL || pool < 1 || pool > 256) {
		fprintf(stderr, "usage: http_engine --result FILE [--port N] "
		    "[--port-file F] [--pool N]\n");
		return 2;
	}
	if ((res = slurp(resfile, &len)) == NULL || res[0] != '{') {
		fprintf(stderr, "http_engine: %s: not a JSON object\n",
		    resfile);
		return 1;
	}
	result = res + 1;
	resultlen = len - 1;
	while (resultlen > 0 && (result[resultlen - 1] == '\n' ||
	    result[resultlen - 1] == ' '))
		resultlen--;
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (i = 0; i < pool; i++)
		if (pthread_create(&th, &attr, poster, NULL) != 0)
			return perror("pthread_create"), 1;
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return perror("socket"), 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 256) == -1)
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
	for (;;) {
		int fd = accept(lfd, NULL, NULL);

		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EMFILE || errno == ENFILE)
				continue;
			return perror("accept"), 1;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (pthread_create(&th, &attr, serve, (void *)(intptr_t)fd) != 0)
			close(fd);
	}
}
