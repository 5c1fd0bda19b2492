/* t_oss_xfer.c -- lib/oss.c's transfers against a one-shot loopback server of its own: response fields, the size limit before a byte is written, the CRC-64 check */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "egress.h"
#include "oss.h"
#include "oneshot.h"
#include "tap.h"

static struct egress_policy	pol_priv = { 1, NULL, 0 };

static struct oneshot		 srv;
static struct oss_client	*cl;
static struct oss_creds		 creds = { "AK", "SK", NULL };
static struct oss_target	 tgt;
static char			 endpoint[64];

static void
answer(const char *head, const char *body)
{
	oneshot_answer(&srv, head, body);
}

static enum oss_err
get(uint64_t max, const char *want_file, uint64_t *written,
    struct oss_error *err)
{
	FILE		*f = tmpfile();
	char		 got[256] = "";
	size_t		 n;
	enum oss_err	 rc;

	oneshot_start(&srv);
	rc = oss_get_fd(cl, &tgt, "k/1.dcm", 0, 0, fileno(f), max, NULL,
	    written, err);
	oneshot_wait(&srv);
	rewind(f);
	n = fread(got, 1, sizeof(got) - 1, f);
	got[n] = '\0';
	if (want_file != NULL && strcmp(got, want_file) != 0)
		rc = OSS_ERR__MAX;	/* not what was sent */
	fclose(f);
	return rc;
}

static void
test_head(void)
{
	struct oss_head		h;
	struct oss_error	err;
	enum oss_err		rc;

	answer("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n"
	    "ETag: \"5B3C1A2E0563E1B002CC607C6689\"\r\n"
	    "Content-Type: application/dicom\r\n"
	    "Last-Modified: Fri, 24 Feb 2012 06:07:48 GMT\r\n"
	    "x-oss-storage-class: Archive\r\n"
	    "x-oss-hash-crc64ecma: 12345678901234567890\r\n"
	    "x-oss-request-id: 5C3D9175B6FC201293AD4890\r\n\r\n", "");
	oneshot_start(&srv);
	rc = oss_head(cl, &tgt, "k/1.dcm", &h, &err);
	oneshot_wait(&srv);
	tap_ok(rc == OSS_OK && h.oh_size == 1234, "HEAD: OSS_OK, size from "
	    "Content-Length (%s)", oss_err_name(rc));
	TAP_STREQ(h.oh_etag, "5B3C1A2E0563E1B002CC607C6689", "HEAD: ETag "
	    "without its quotes");
	TAP_STREQ(h.oh_content_type, "application/dicom", "HEAD: "
	    "Content-Type");
	TAP_STREQ(h.oh_last_modified, "Fri, 24 Feb 2012 06:07:48 GMT",
	    "HEAD: Last-Modified");
	TAP_STREQ(h.oh_storage_class, "Archive", "HEAD: storage class");
	tap_ok(h.oh_has_crc64 && h.oh_crc64 == 12345678901234567890ULL,
	    "HEAD: x-oss-hash-crc64ecma");
	TAP_STREQ(err.oe_request_id, "5C3D9175B6FC201293AD4890", "HEAD: "
	    "the request id");

	answer("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
	    "x-oss-request-id: 5C3D9175B6FC201293AD4891\r\n"
	    /* <Error><Code>NoSuchKey</Code>...</Error>, base64 */
	    "x-oss-err: PEVycm9yPjxDb2RlPk5vU3VjaEtleTwvQ29kZT48TWVzc2FnZT5UaG"
	    "Ugc3BlY2lmaWVkIGtleSBkb2VzIG5vdCBleGlzdC48L01lc3NhZ2U+PC9FcnJvcj4="
	    "\r\n\r\n", "");
	oneshot_start(&srv);
	rc = oss_head(cl, &tgt, "k/1.dcm", &h, &err);
	oneshot_wait(&srv);
	tap_ok(rc == OSS_NO_SUCH_KEY && strcmp(err.oe_code, "NoSuchKey") ==
	    0, "HEAD 404: the x-oss-err document read (%s, %s)",
	    oss_err_name(rc), err.oe_code);
	TAP_STREQ(err.oe_message, "The specified key does not exist.",
	    "HEAD 404: its message");
}

static void
test_get(void)
{
	struct oss_error	err;
	uint64_t		written = 99, crc;
	char			head[256];
	enum oss_err		rc;

	answer("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
	    "0123456789012345678901234567890123456789012345678901234567890123"
	    "456789012345678901234567890123456789");
	rc = get(10, "", &written, &err);
	tap_ok(rc == OSS_TOO_LARGE && written == 0, "GET over the limit: "
	    "OSS_TOO_LARGE from Content-Length, nothing written (%s, %" PRIu64
	    ")", oss_err_name(rc), written);

	crc = oss_crc64(0, "hello", 5);
	snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
	    "x-oss-hash-crc64ecma: %" PRIu64 "\r\n\r\n", crc);
	answer(head, "hello");
	rc = get(OSS_NO_LIMIT, "hello", &written, &err);
	tap_ok(rc == OSS_OK && written == 5, "GET with the right CRC-64: "
	    "OSS_OK (%s)", oss_err_name(rc));
	snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
	    "x-oss-hash-crc64ecma: %" PRIu64 "\r\n\r\n", crc + 1);
	answer(head, "hello");
	rc = get(OSS_NO_LIMIT, NULL, &written, &err);
	tap_ok(rc == OSS_BAD_RESPONSE && strstr(err.oe_message, "CRC-64") !=
	    NULL, "GET with a wrong CRC-64: OSS_BAD_RESPONSE (%s: %s)",
	    oss_err_name(rc), err.oe_message);

	answer("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
	    "Content-Length: 5\r\n\r\n", "hello");
	rc = get(OSS_NO_LIMIT, "hello", &written, &err);
	tap_ok(rc == OSS_OK && written == 5, "GET after a 100 Continue: the "
	    "final response's head is read (%s)", oss_err_name(rc));
}

int
main(void)
{
	struct oss_opts	o;
	char		msg[256];

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (oneshot_open(&srv) == -1) {
		printf("Bail out! no loopback socket\n");
		return 1;
	}
	oss_opts_default(&o);
	o.oo_egress = &pol_priv;
	o.oo_retries = 0;
	if ((cl = oss_client_new(&o, msg, sizeof(msg))) == NULL) {
		printf("Bail out! %s\n", msg);
		return 1;
	}
	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%u",
	    srv.os_port);
	tgt.ot_endpoint = endpoint;
	tgt.ot_bucket = "studies";
	tgt.ot_creds = &creds;
	test_head();
	test_get();
	oss_client_free(cl);
	close(srv.os_fd);
	curl_global_cleanup();
	return tap_done();
}
