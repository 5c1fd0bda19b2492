/* noop.c -- the benchmark's do-nothing FastCGI responder (the reference of rows 1 and 6) */
/*
 * Answers every request with the same bytes: the status line and headers
 * mias's responders send, and a body read from the file named by
 * $NOOP_BODY (the benchmark puts mias's own getAnalysisResult answer
 * there, so the web server moves the same bytes for both), else a small
 * JSON envelope.  The file is read once, at the first request that finds
 * it.  Nothing else: no parameter, no request body, no database; what is
 * left is the web server and the FastCGI protocol.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

static const char dflt[] = "{\"returnCode\":\"000000\",\"returnMessage\":"
    "\"OK\",\"solution\":\"\",\"requestId\":"
    "\"00000000-0000-4000-8000-000000000000\",\"data\":true,"
    "\"success\":true}";

static char	*body;
static size_t	 len;
static char	 head[512];
static int	 hn;

static void
load(void)
{
	const char	*path = getenv("NOOP_BODY");
	FILE		*f;
	char		*b;
	long		 n;

	if (path != NULL && *path != '\0' && (f = fopen(path, "rb")) != NULL) {
		if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 &&
		    (b = malloc((size_t)n)) != NULL) {
			rewind(f);
			if (fread(b, 1, (size_t)n, f) == (size_t)n) {
				body = b;
				len = (size_t)n;
			} else
				free(b);
		}
		fclose(f);
	}
	if (body == NULL) {
		body = (char *)dflt;
		len = sizeof(dflt) - 1;
	}
	hn = snprintf(head, sizeof(head), "Status: 200 OK\r\n"
	    "Content-Type: application/json; charset=utf-8\r\n"
	    "Content-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n\r\n", len);
}

int
main(void)
{
	FCGX_Request r;

	if (FCGX_Init() != 0 || FCGX_InitRequest(&r, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&r) >= 0) {
		if (body == NULL || body == dflt) {
			if (body == dflt)
				body = NULL;
			load();
		}
		FCGX_PutStr(head, hn, r.out);
		FCGX_PutStr(body, (int)len, r.out);
		FCGX_Finish_r(&r);
	}
	return 0;
}
