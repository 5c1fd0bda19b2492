/* audit.c -- the append-only audit trail: who did what, from where, when */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "crypto.h"
#include "jv.h"
#include "store.h"

/* Keys: 8-byte big-endian time in ms and 4 random bytes, so entries sort
 * by time and two in the same millisecond do not collide.  Nothing in
 * mias deletes or rewrites an entry. */
#define AUDIT_KEYLEN	12

static void
audit_key(unsigned char *key, int64_t ms)
{
	uint64_t	v = (uint64_t)ms;
	int		i;

	for (i = 7; i >= 0; i--) {
		key[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

/* "name":"value" (or null), JSON-quoted, at p; returns the end */
static char *
audit_field(char *p, const char *name, const char *value)
{
	p += sprintf(p, ",\"%s\":", name);
	if (value == NULL) {
		memcpy(p, "null", 5);
		return p + 4;
	}
	return p + jv_quote(p, value);
}

/* Written as text, not built with json-c: one is written per request. */
int
audit_put(struct store_txn *t, const char *ns, const char *from,
    const char *action, const char *target, const char *outcome)
{
	unsigned char	 key[AUDIT_KEYLEN];
	char		 stack[1024], *buf = stack, *p;
	int64_t		 now = store_now_ms();
	size_t		 need;
	int		 rc;

	ns = ns && *ns ? ns : "-";
	from = from && *from ? from : "-";
	outcome = outcome ? outcome : "-";
	need = 64 + jv_quoted_len(ns) + jv_quoted_len(from) +
	    jv_quoted_len(action) + (target ? jv_quoted_len(target) : 4) +
	    jv_quoted_len(outcome) + 48;
	audit_key(key, now);
	if (crypto_random_id(key + 8, 4) == -1 ||
	    (need > sizeof(stack) && (buf = malloc(need)) == NULL))
		return STORE_ERR;
	p = buf + sprintf(buf, "{\"at\":%lld", (long long)now);
	p = audit_field(p, "ns", ns);
	p = audit_field(p, "from", from);
	p = audit_field(p, "action", action);
	p = audit_field(p, "target", target);
	p = audit_field(p, "outcome", outcome);
	*p++ = '}';
	rc = store_put(t, SDB_AUDIT, key, AUDIT_KEYLEN, buf, (size_t)(p - buf));
	if (buf != stack)
		free(buf);
	return rc;
}

struct audit_put {
	const char	*ns, *from, *action, *target, *outcome;
};

static int
put_body(struct store_txn *t, void *arg)
{
	struct audit_put *a = arg;

	return audit_put(t, a->ns, a->from, a->action, a->target, a->outcome);
}

int
audit_write(struct store *s, const char *ns, const char *from,
    const char *action, const char *target, const char *outcome)
{
	struct audit_put a = { ns, from, action, target, outcome };

	return store_txn_nosync(s, put_body, &a) == 0 ? 0 : -1;
}

struct audit_get {
	const char	*ns;
	int64_t		 until;
	json_object	*list;
};

static int
get_visit(const void *key, size_t klen, const char *val, size_t len,
    void *arg)
{
	struct audit_get	*a = arg;
	const unsigned char	*k = key;
	json_object		*rec, *v;
	int64_t			 at = 0;
	size_t			 i;

	for (i = 0; i < 8 && i < klen; i++)
		at = at << 8 | k[i];
	if (a->until > 0 && at > a->until)
		return 1;
	if ((rec = store_json(val, len)) == NULL)
		return 0;
	if (a->ns != NULL && (!json_object_object_get_ex(rec, "ns", &v) ||
	    strcmp(json_object_get_string(v), a->ns) != 0)) {
		json_object_put(rec);
		return 0;
	}
	json_object_array_add(a->list, rec);
	return 0;
}

struct audit_scan {
	struct audit_get	 g;
	unsigned char		 start[8];
	int			 bounded;
};

static int
scan_body(struct store_txn *t, void *arg)
{
	struct audit_scan	*a = arg;
	int			 rc;

	json_object_put(a->g.list);
	if ((a->g.list = json_object_new_array()) == NULL)
		return STORE_ERR;
	/* store_scan walks from the first key at or after the prefix; an
	 * 8-byte time is both where to start and, once past, not a prefix
	 * of later keys: so scan by range with the visit stopping at until */
	rc = store_scan_from(t, SDB_AUDIT, a->bounded ? a->start : NULL,
	    a->bounded ? 8 : 0, get_visit, &a->g);
	return rc < 0 ? rc : 0;
}

int
audit_read(struct store *s, const char *ns, int64_t since, int64_t until,
    json_object **list)
{
	struct audit_scan a;

	memset(&a, 0, sizeof(a));
	a.g.ns = ns;
	a.g.until = until;
	if (since > 0) {
		audit_key(a.start, since);
		a.bounded = 1;
	}
	if (store_txn(s, scan_body, &a) != 0) {
		json_object_put(a.g.list);
		return -1;
	}
	*list = a.g.list;
	return 0;
}
