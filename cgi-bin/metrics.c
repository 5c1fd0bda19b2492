/* metrics.c -- GET /dicom/api/metrics: the Prometheus text exposition */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "crypto.h"
#include "fcgi.h"
#include "metrics.h"
#include "ops.h"
#include "store.h"

#define TOKEN_MAX	512

struct metrics_arg {
	const char	*dir;
	char		*text;
	size_t		 len;
};

static int
metrics_body(struct store_txn *t, void *arg)
{
	struct metrics_arg	*a = arg;
	int			 rc;

	free(a->text);
	a->text = NULL;
	if ((rc = ops_need(t)) != STORE_OK)
		return rc;
	return metrics_render(t, a->dir, &a->text, &a->len);
}

/*
 * The token: the file's content, without a final newline, read at every
 * request (a new token applies at once).  0, or -1 (no file configured,
 * unreadable, empty or too long: no one reads the metrics).
 */
static int
read_token(const char *path, char *buf, size_t len)
{
	ssize_t	n;
	int	fd;

	if (path == NULL ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -1;
	n = read(fd, buf, len);
	close(fd);
	if (n <= 0 || (size_t)n >= len)
		goto fail;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (n == 0 || strlen(buf) != (size_t)n)
		goto fail;
	return 0;
fail:
	crypto_wipe(buf, len);
	return -1;
}

static void
metrics(struct req *rq)
{
	struct metrics_arg	 a;
	char			 token[TOKEN_MAX + 1];
	int			 ok, rc;

	if (read_token(rq->rq_conf->c_metrics_token_file, token,
	    sizeof(token)) == -1) {
		req_error(rq, RC_AUTH, "authentication failed: metrics are "
		    "not enabled on this gateway ([metrics] token_file)");
		return;
	}
	ok = metrics_token_ok(rq->rq_authorization, token);
	crypto_wipe(token, sizeof(token));
	if (!ok) {
		req_error(rq, RC_AUTH, "authentication failed: metrics need "
		    "Authorization: Bearer with the configured token");
		return;
	}
	memset(&a, 0, sizeof(a));
	a.dir = rq->rq_conf->c_state_dir;
	rc = req_txn_ops(rq, metrics_body, &a);
	if (rc != 0 || a.text == NULL) {
		free(a.text);
		req_error(rq, RC_INTERNAL, "internal error: storage "
		    "unavailable");
		return;
	}
	req_text(rq, a.text, a.len);
}

static const struct endpoint ep = {
	"metrics", EP_GET, metrics, 1
};

int
main(int argc, char *argv[])
{
	return fcgi_main(argc, argv, &ep);
}
