/* t_queue.c -- the work queue's keys: kinds, due times, image streams, run ids
 *
 * Only the layout written today: the layouts of earlier builds are read
 * too, for now, and are left out here on purpose (they are being
 * removed).
 */
#include <stdio.h>
#include <string.h>

#include "queue.h"
#include "tap.h"

#define T1	1700000000123LL		/* a due time in ms */

static unsigned char	a[QUEUE_KEY_MAX], b[QUEUE_KEY_MAX];

/* memcmp order, the store's (Berkeley DB's default) key order */
static int
before(const unsigned char *x, size_t xl, const unsigned char *y, size_t yl)
{
	int	c = memcmp(x, y, xl < yl ? xl : yl);

	return c < 0 || (c == 0 && xl < yl);
}

static int
parses(const unsigned char *k, size_t kl, int64_t due, enum queue_kind kind,
    const char *id, size_t idlen)
{
	int64_t		 d = -1;
	enum queue_kind	 kd = 0;
	const char	*i = NULL;
	size_t		 il = 0;

	return queue_key_parse(k, kl, &d, &kd, &i, &il) == 0 && d == due &&
	    kd == kind && il == idlen && memcmp(i, id, idlen) == 0;
}

static void
test_keys(void)
{
	static const enum queue_kind kinds[] = { QK_STUDY, QK_TIMEOUT,
	    QK_ASSEMBLE, QK_DELIVER, QK_IMAGE };
	size_t	al, bl, i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		al = queue_key(a, T1, kinds[i], "msg_1", 5);
		tap_ok(al == 14 && a[0] == (unsigned char)kinds[i] &&
		    parses(a, al, T1, kinds[i], "msg_1", 5),
		    "kind %c: kind byte, due time, id; parsed back", kinds[i]);
	}
	al = queue_key(a, T1, QK_DELIVER, "x", 1);
	bl = queue_key(b, T1 + 1, QK_DELIVER, "a", 1);
	tap_ok(before(a, al, b, bl), "within a kind, the earlier due time "
	    "first, whatever the ids");
	al = queue_key(a, 0x0100000000LL, QK_DELIVER, "x", 1);
	bl = queue_key(b, 0x00ffffffffLL, QK_DELIVER, "x", 1);
	tap_ok(before(b, bl, a, al), "the due time is big-endian (a carry "
	    "into the fifth byte still sorts after)");
	al = queue_key(a, T1 + 1000000, QK_ASSEMBLE, "x", 1);
	bl = queue_key(b, T1, QK_DELIVER, "x", 1);
	tap_ok(before(a, al, b, bl), "kinds come before due times: a later "
	    "'A' item sorts before an earlier 'D' one");
	al = queue_key(a, -5, QK_DELIVER, "x", 1);
	tap_ok(parses(a, al, 0, QK_DELIVER, "x", 1),
	    "a due time before 1970 is kept as 0");
	al = queue_key(a, T1, QK_DELIVER, "", 0);
	tap_ok(al == 9, "an empty id: a 9-byte key");

	/* ids longer than QUEUE_ID_MAX are cut there, never overflow */
	{
		char	id[QUEUE_ID_MAX + 100];

		memset(id, 'i', sizeof(id));
		al = queue_key(a, T1, QK_DELIVER, id, sizeof(id));
		tap_ok(al == 9 + QUEUE_ID_MAX &&
		    parses(a, al, T1, QK_DELIVER, id, QUEUE_ID_MAX),
		    "an id longer than QUEUE_ID_MAX is cut to it");
		al = queue_image_key(a, T1, 16, "hosp-a", id, sizeof(id));
		tap_ok(al == 11 + 6 + QUEUE_ID_MAX && al <= QUEUE_KEY_MAX,
		    "  ... in an image key too");
	}

	tap_ok(queue_key_parse(a, 9, &(int64_t){0}, &(enum queue_kind){0},
	    &(const char *){NULL}, &(size_t){0}) == -1,
	    "a key of 9 bytes (no id) is malformed");
	tap_ok(queue_key_parse("", 0, &(int64_t){0}, &(enum queue_kind){0},
	    &(const char *){NULL}, &(size_t){0}) == -1,
	    "an empty key is malformed");
}

static void
test_image_keys(void)
{
	unsigned char	c[QUEUE_KEY_MAX];
	char		ns[QUEUE_NS_MAX + 2];
	size_t		al, bl, cl, p;

	al = queue_image_key(a, T1, 4, "hosp-a", "job1", 4);
	p = queue_image_prefix(a, al);
	tap_ok(a[0] == QK_IMAGE && a[1] == 4 && p == 9 &&
	    memcmp(a + 2, "hosp-a", 7) == 0,
	    "an image key: 'I', the engine slot, the namespace and its NUL "
	    "(the prefix, %zu bytes)", p);
	tap_ok(parses(a, al, T1, QK_IMAGE, "job1", 4),
	    "  ... then the due time and the job id, parsed back");

	/* each engine's, and each namespace's, images are a stream */
	bl = queue_image_key(b, T1 - 1000, 4, "hosp-b", "job2", 4);
	cl = queue_image_key(c, T1 + 1000, 4, "hosp-a", "job3", 4);
	tap_ok(before(a, al, c, cl) && before(c, cl, b, bl),
	    "a namespace's images are together, in due order, before the "
	    "next namespace's (even its earlier ones)");
	tap_ok(queue_image_prefix(c, cl) == p && memcmp(a, c, p) == 0 &&
	    memcmp(a, b, p) != 0,
	    "the prefix is shared by a namespace's images of a type only");
	bl = queue_image_key(b, T1 - 1000, 3, "hosp-z", "job2", 4);
	tap_ok(before(b, bl, a, al), "slot 3's images all come before slot "
	    "4's");
	bl = queue_image_key(b, T1, 1, "a", "j", 1);
	tap_ok(parses(b, bl, T1, QK_IMAGE, "j", 1) &&
	    queue_image_prefix(b, bl) == 4, "slot 1, a one-letter namespace");
	bl = queue_image_key(b, T1, QUEUE_TYPES, "n", "j", 1);
	tap_ok(b[1] == QUEUE_TYPES && parses(b, bl, T1, QK_IMAGE, "j", 1),
	    "slot QUEUE_TYPES (%d), the last", QUEUE_TYPES);

	/* what cannot be in an image key makes a plain one */
	memset(ns, 'n', sizeof(ns));
	ns[QUEUE_NS_MAX] = '\0';
	bl = queue_image_key(b, T1, 2, ns, "j", 1);
	tap_ok(queue_image_prefix(b, bl) == QUEUE_NS_MAX + 3 &&
	    parses(b, bl, T1, QK_IMAGE, "j", 1),
	    "a namespace of QUEUE_NS_MAX bytes is in the key");
	ns[QUEUE_NS_MAX] = 'n';
	ns[QUEUE_NS_MAX + 1] = '\0';
	bl = queue_image_key(b, T1, 2, ns, "j", 1);
	cl = queue_key(c, T1, QK_IMAGE, "j", 1);
	tap_ok(bl == cl && memcmp(b, c, cl) == 0 &&
	    queue_image_prefix(b, bl) == 0,
	    "one byte longer: the plain key, no prefix");
	bl = queue_image_key(b, T1, 0, "hosp-a", "j", 1);
	tap_ok(bl == cl && memcmp(b, c, cl) == 0, "slot 0: the plain key");
	bl = queue_image_key(b, T1, QUEUE_TYPES + 1, "hosp-a", "j", 1);
	tap_ok(bl == cl && memcmp(b, c, cl) == 0,
	    "slot QUEUE_TYPES + 1: the plain key");
	bl = queue_image_key(b, T1, 4, "", "j", 1);
	tap_ok(bl == cl && memcmp(b, c, cl) == 0, "an empty namespace: the "
	    "plain key");
	bl = queue_image_key(b, T1, 4, NULL, "j", 1);
	tap_ok(bl == cl && memcmp(b, c, cl) == 0, "no namespace: the plain "
	    "key");

	/* prefixes of what is not an image key with a namespace */
	cl = queue_key(c, T1, QK_DELIVER, "msg", 3);
	tap_ok(queue_image_prefix(c, cl) == 0, "a delivery key has no image "
	    "prefix");
	tap_ok(queue_image_prefix("I\004hosp", 6) == 0,
	    "a namespace without its NUL: no prefix");
	tap_ok(queue_image_prefix("I\004\0", 3) == 0,
	    "an empty namespace: no prefix");
	al = queue_image_key(a, T1, 4, "hosp-a", "j", 1);
	tap_ok(queue_key_parse(a, 9 + 8, &(int64_t){0},
	    &(enum queue_kind){0}, &(const char *){NULL}, &(size_t){0}) == -1,
	    "an image key cut inside its due time is malformed");
}

static void
test_run_ids(void)
{
	/* a study key holds NULs of its own: the run follows the last */
	static const char key[] = "hosp-a\0" "4\0" "1.2.840.1";
	char	out[QUEUE_ID_MAX];
	size_t	n, kl = 0;
	int64_t	run = 0;

	n = queue_run_id(out, key, sizeof(key) - 1, 12);
	tap_ok(n == sizeof(key) - 1 + 1 + 2 && out[sizeof(key) - 1] == '\0' &&
	    memcmp(out + sizeof(key), "12", 2) == 0,
	    "a run id: the study key, NUL, the run in decimal (%zu bytes)", n);
	tap_ok(queue_run_id_parse(out, n, &kl, &run) == 0 &&
	    kl == sizeof(key) - 1 && run == 12 && memcmp(out, key, kl) == 0,
	    "  ... parsed back: the whole study key and run 12");
	n = queue_run_id(out, key, sizeof(key) - 1, 9223372036854775807LL);
	tap_ok(queue_run_id_parse(out, n, &kl, &run) == 0 &&
	    run == 9223372036854775807LL, "the largest run");
	tap_ok(queue_run_id_parse("no-nul-here", 11, &kl, &run) == -1,
	    "an id without a NUL is refused");
	tap_ok(queue_run_id_parse("key\0", 4, &kl, &run) == -1,
	    "an id without a run after its NUL is refused");
	tap_ok(queue_run_id_parse("key\0" "123456789012345678901234", 28, &kl,
	    &run) == -1, "a run of 24 digits is refused");
}

int
main(void)
{
	test_keys();
	test_image_keys();
	test_run_ids();
	return tap_done();
}
