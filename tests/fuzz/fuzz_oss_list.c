/* fuzz_oss_list.c -- ListObjectsV2 pages through the streaming oss_listp_* parser, fed in pieces */
#include <inttypes.h>

#include "fuzz.h"
#include "oss.h"

struct seen {
	size_t	n;
	size_t	stop_after;	/* 0: never */
};

static int
object(const struct oss_object *o, void *arg)
{
	struct seen *s = arg;

	/* what oss.h promises of every object */
	FUZZ_ASSERT(o->ob_key != NULL && o->ob_key[0] != '\0');
	FUZZ_ASSERT(strlen(o->ob_key) < OSS_TOKEN_MAX);
	FUZZ_ASSERT(fuzz_text_ok(o->ob_etag, NULL));
	FUZZ_ASSERT(fuzz_text_ok(o->ob_last_modified, NULL));
	FUZZ_ASSERT(fuzz_text_ok(o->ob_storage_class, NULL));
	FUZZ_ASSERT(((o->ob_flags & OSS_OBJ_EMPTY) != 0) == (o->ob_size == 0));
	s->n++;
	return s->stop_after != 0 && s->n >= s->stop_after;
}

/*
 * The first byte says how the page arrives: the low 6 bits the size of
 * its pieces (0: in one piece), the top 2 bits after how many objects the
 * caller stops the listing (0: never).
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oss_listp	*lp;
	struct oss_list_page	 page;
	struct oss_error	 err;
	struct seen		 s;
	enum oss_err		 e = OSS_OK;
	size_t			 chunk, off, n;

	if (size < 1)
		return 0;
	memset(&s, 0, sizeof(s));
	memset(&err, 0, sizeof(err));
	chunk = data[0] & 0x3f;
	s.stop_after = data[0] >> 6;
	data++;
	size--;
	if (chunk == 0)
		chunk = size > 0 ? size : 1;
	FUZZ_ASSERT((lp = oss_listp_new(object, &s)) != NULL);
	for (off = 0; off < size && e == OSS_OK; off += n) {
		n = size - off < chunk ? size - off : chunk;
		e = oss_listp_feed(lp, data + off, n, &err);
	}
	if (e == OSS_OK)
		e = oss_listp_finish(lp, &page, &err);
	if (e == OSS_OK) {
		FUZZ_ASSERT(page.lp_objects == s.n);
		FUZZ_ASSERT(strlen(page.lp_next_token) < OSS_TOKEN_MAX);
		FUZZ_ASSERT(page.lp_truncated == 0 || page.lp_truncated == 1);
	} else {
		FUZZ_ASSERT(e == OSS_BAD_RESPONSE || e == OSS_ABORTED);
		FUZZ_ASSERT(e != OSS_ABORTED || s.stop_after != 0);
		FUZZ_ASSERT(err.oe_err == e && err.oe_message[0] != '\0');
		FUZZ_ASSERT(fuzz_text_ok(err.oe_message, NULL));
	}
	oss_listp_free(lp);
	return 0;
}
