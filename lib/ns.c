/* ns.c -- namespace records: tokens, signing secrets, callback hosts */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"
#include "ns.h"
#include "secmem.h"
#include "store.h"

#define NS_RECORD_VERSION	1
#define NS_AAD			"mias namespace secret\n"

const char *
ns_name_check(const char *s)
{
	size_t	len = strlen(s), i;

	if (len == 0)
		return "must not be empty";
	if (len > NS_NAME_MAX)
		return "longer than 128 characters";
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		    c == '_'))
			return "may hold only letters, digits, '.', '-' "
			    "and '_'";
	}
	return NULL;
}

int
ns_get(struct store_txn *t, const char *name, json_object **rec, int rmw)
{
	return store_get_json(t, SDB_NAMESPACES, name, strlen(name), rec, rmw);
}

int
ns_put(struct store_txn *t, const char *name, json_object *rec)
{
	return store_put_json(t, SDB_NAMESPACES, name, strlen(name), rec);
}

/*
 * The namespaces a responder served last, each as stored (the raw record),
 * parsed, and with the last token that matched it.  The record is read
 * from the store on every request as before and compared with the cached
 * bytes, so a rotated token, a disabled namespace or a changed origin
 * takes effect at once; only the parse and the token's HMAC are saved
 * when nothing changed.  The cached token is wiped when it is replaced.
 * The tokens are kept in one block per thread, of pages kept out of core
 * dumps (secmem.h), entry i's at ns_tokens + i * NS_TOKEN_SLOT; without
 * that block nothing is cached and every request computes the HMAC.
 */
#define NS_CACHE	8
#define NS_TOKEN_SLOT	(NS_TOKEN_MAX + 1)

struct ns_cached {
	char		*name;
	char		*raw;
	size_t		 rawlen;
	json_object	*rec;
	char		*token;		/* matched rec's tokenHash, or NULL */
	size_t		 toklen;
	unsigned	 used;
};

static __thread struct ns_cached ns_cache[NS_CACHE];
static __thread unsigned	 ns_tick;
static __thread char		*ns_tokens;	/* NS_CACHE slots */

static void
ns_cached_clear(struct ns_cached *c)
{
	free(c->name);
	free(c->raw);
	json_object_put(c->rec);
	if (c->token != NULL)
		crypto_wipe(c->token, c->toklen);
	memset(c, 0, sizeof(*c));
}

void
ns_cache_clear(void)
{
	size_t i;

	for (i = 0; i < NS_CACHE; i++)
		ns_cached_clear(&ns_cache[i]);
	secmem_free(ns_tokens, NS_CACHE * NS_TOKEN_SLOT);
	ns_tokens = NULL;
}

/* Keeps token as c's, in c's slot of the thread's block. */
static void
ns_cached_token(struct ns_cached *c, const char *token, size_t toklen)
{
	if (c->token != NULL) {
		crypto_wipe(c->token, c->toklen);
		c->token = NULL;
	}
	if (toklen > NS_TOKEN_MAX || (ns_tokens == NULL &&
	    (ns_tokens = secmem_alloc(NS_CACHE * NS_TOKEN_SLOT)) == NULL))
		return;
	c->token = ns_tokens + (size_t)(c - ns_cache) * NS_TOKEN_SLOT;
	memcpy(c->token, token, toklen);
	c->token[toklen] = '\0';
	c->toklen = toklen;
}

/* The entry for name holding exactly raw, parsing it into a reused or
 * the least recently used entry if need be; NULL when out of memory or
 * not a JSON object. */
static struct ns_cached *
ns_cached(const char *name, const char *raw, size_t rawlen)
{
	struct ns_cached	*c, *victim = &ns_cache[0];
	size_t			 i;

	for (i = 0; i < NS_CACHE; i++) {
		c = &ns_cache[i];
		if (c->name != NULL && strcmp(c->name, name) == 0) {
			if (c->rawlen == rawlen &&
			    memcmp(c->raw, raw, rawlen) == 0) {
				c->used = ++ns_tick;
				return c;
			}
			victim = c;
			break;
		}
		if (c->name == NULL || c->used < victim->used)
			victim = c;
	}
	c = victim;
	ns_cached_clear(c);
	if ((c->name = strdup(name)) == NULL ||
	    (c->raw = malloc(rawlen ? rawlen : 1)) == NULL ||
	    (c->rec = store_json(raw, rawlen)) == NULL) {
		ns_cached_clear(c);
		return NULL;
	}
	memcpy(c->raw, raw, rawlen);
	c->rawlen = rawlen;
	c->used = ++ns_tick;
	return c;
}

enum rc
ns_auth_precheck(const char *ns, const char *token, char *msg, size_t msglen)
{
	if (ns == NULL || *ns == '\0') {
		snprintf(msg, msglen, "authentication failed: the namespace "
		    "header is missing");
		return RC_AUTH;
	}
	if (token == NULL || *token == '\0') {
		snprintf(msg, msglen, "authentication failed: the tokenId "
		    "header is missing");
		return RC_AUTH;
	}
	if (ns_name_check(ns) != NULL || strlen(token) > NS_TOKEN_MAX) {
		snprintf(msg, msglen, "authentication failed: unknown "
		    "namespace or wrong tokenId");
		return RC_AUTH;
	}
	return RC_OK;
}

int
ns_auth_read(struct store_txn *t, const char *ns, char **raw, size_t *len)
{
	return store_get(t, SDB_NAMESPACES, ns, strlen(ns), raw, len, 0);
}

enum rc
ns_auth_verify(const struct crypto_keys *k, const char *ns, const char *token,
    const char *raw, size_t rawlen, json_object **rec, char *msg,
    size_t msglen)
{
	struct ns_cached	*c;
	json_object		*v;
	char			 hash[CRYPTO_HASHHEX];
	const char		*want;
	size_t			 toklen = strlen(token);
	int			 match;

	*rec = NULL;
	if (raw == NULL) {
		/* hash anyway, so that timing does not tell names apart */
		crypto_token_hash(k, token, hash);
		snprintf(msg, msglen, "authentication failed: unknown "
		    "namespace or wrong tokenId");
		return RC_AUTH;
	}
	if ((c = ns_cached(ns, raw, rawlen)) == NULL) {
		snprintf(msg, msglen, "internal error: unreadable namespace "
		    "record");
		return RC_INTERNAL;
	}
	if (c->token != NULL && c->toklen == toklen &&
	    crypto_equal(c->token, token, toklen))
		match = 1;
	else {
		crypto_token_hash(k, token, hash);
		want = json_object_object_get_ex(c->rec, "tokenHash", &v) ?
		    json_object_get_string(v) : "";
		match = strlen(want) == CRYPTO_HASHHEX - 1 &&
		    crypto_equal(want, hash, CRYPTO_HASHHEX - 1);
		if (match)
			ns_cached_token(c, token, toklen);
	}
	if (!match) {
		snprintf(msg, msglen, "authentication failed: unknown "
		    "namespace or wrong tokenId");
		return RC_AUTH;
	}
	if (json_object_object_get_ex(c->rec, "disabled", &v) &&
	    json_object_get_boolean(v)) {
		snprintf(msg, msglen, "authentication failed: namespace %s "
		    "is disabled", ns);
		return RC_AUTH;
	}
	*rec = json_object_get(c->rec);
	return RC_OK;
}

void
ns_record_set_token(json_object *rec, const struct crypto_keys *k,
    const char *token, int weak)
{
	char hash[CRYPTO_HASHHEX];

	crypto_token_hash(k, token, hash);
	json_object_object_add(rec, "tokenHash", json_object_new_string(hash));
	json_object_object_add(rec, "tokenWeak", json_object_new_boolean(weak));
}

json_object *
ns_record_new(const struct crypto_keys *k, const char *name,
    const char *token, int weak, const unsigned char secret[NS_SECRET_LEN])
{
	json_object	*rec;
	unsigned char	 sealed[NS_SECRET_LEN + CRYPTO_SEAL_OVERHEAD];
	char		 b64[2 * sizeof(sealed)];
	char		 aad[sizeof(NS_AAD) + 160];
	int		 aadlen;

	aadlen = snprintf(aad, sizeof(aad), "%s%s", NS_AAD, name);
	if (crypto_seal(k, aad, (size_t)aadlen, secret, NS_SECRET_LEN,
	    sealed) == -1)
		return NULL;
	crypto_b64_encode(sealed, sizeof(sealed), b64);
	if ((rec = json_object_new_object()) == NULL)
		return NULL;
	json_object_object_add(rec, "v",
	    json_object_new_int(NS_RECORD_VERSION));
	json_object_object_add(rec, "name", json_object_new_string(name));
	ns_record_set_token(rec, k, token, weak);
	json_object_object_add(rec, "secret", json_object_new_string(b64));
	json_object_object_add(rec, "callbackHosts", json_object_new_array());
	json_object_object_add(rec, "origins", json_object_new_array());
	json_object_object_add(rec, "disabled", json_object_new_boolean(0));
	json_object_object_add(rec, "created",
	    json_object_new_int64(store_now_ms()));
	return rec;
}

int
ns_record_secret(json_object *rec, const struct crypto_keys *k, char *out,
    size_t outlen)
{
	json_object	*v, *name;
	unsigned char	 sealed[NS_SECRET_LEN + CRYPTO_SEAL_OVERHEAD + 4];
	unsigned char	 raw[NS_SECRET_LEN];
	char		 aad[sizeof(NS_AAD) + 160];
	long		 n;
	int		 aadlen, rc = -1;

	if (outlen < 6 + 45 ||
	    !json_object_object_get_ex(rec, "secret", &v) ||
	    !json_object_object_get_ex(rec, "name", &name))
		return -1;
	n = crypto_b64_decode(json_object_get_string(v), sealed,
	    sizeof(sealed));
	if (n != (long)(NS_SECRET_LEN + CRYPTO_SEAL_OVERHEAD))
		return -1;
	aadlen = snprintf(aad, sizeof(aad), "%s%s", NS_AAD,
	    json_object_get_string(name));
	if (crypto_open(k, aad, (size_t)aadlen, sealed, (size_t)n, raw) == -1)
		goto out;
	memcpy(out, "whsec_", 6);
	crypto_b64_encode(raw, sizeof(raw), out + 6);
	rc = 0;
out:
	crypto_wipe(raw, sizeof(raw));
	return rc;
}

int
ns_callback_host_ok(json_object *rec, const char *host)
{
	json_object	*hosts;
	size_t		 i, n;

	if (!json_object_object_get_ex(rec, "callbackHosts", &hosts) ||
	    (n = json_object_array_length(hosts)) == 0)
		return 1;
	for (i = 0; i < n; i++)
		if (strcasecmp(json_object_get_string(
		    json_object_array_get_idx(hosts, i)), host) == 0)
			return 1;
	return 0;
}

int
ns_token_new(char *out, size_t outlen)
{
	unsigned char	raw[32];
	char		b64[48];
	size_t		i, j;

	if (outlen < 44 || crypto_random(raw, sizeof(raw)) == -1)
		return -1;
	crypto_b64_encode(raw, sizeof(raw), b64);
	crypto_wipe(raw, sizeof(raw));
	/* base64url without padding: safe in headers, shell and URLs */
	for (i = j = 0; b64[i] != '\0'; i++) {
		if (b64[i] == '=')
			continue;
		out[j++] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
	}
	out[j] = '\0';
	crypto_wipe(b64, sizeof(b64));
	return 0;
}

int
ns_origin_ok(json_object *rec, const char *origin)
{
	json_object	*list;
	size_t		 i, n;

	if (origin == NULL || rec == NULL ||
	    !json_object_object_get_ex(rec, "origins", &list))
		return 0;
	n = json_object_array_length(list);
	for (i = 0; i < n; i++)
		if (strcmp(json_object_get_string(
		    json_object_array_get_idx(list, i)), origin) == 0)
			return 1;
	return 0;
}

struct origin_any {
	const char	*origin;
	int		 found;
};

static int
origin_visit(const void *key, size_t klen, const char *val, size_t len,
    void *arg)
{
	(void)key;
	(void)klen;
	(void)val;
	(void)len;
	((struct origin_any *)arg)->found = 1;
	return 1;
}

static int
origin_any_body(struct store_txn *t, void *arg)
{
	struct origin_any	*a = arg;
	int			 rc;

	a->found = 0;
	/* the key is the origin and its NUL, so "https://a.example" does
	 * not match "https://a.example.evil" */
	rc = store_scan(t, SDB_ORIGINS, a->origin, strlen(a->origin) + 1,
	    origin_visit, a);
	return rc < 0 ? rc : 0;
}

int
ns_origin_any(struct store *s, const char *origin)
{
	struct origin_any a = { origin, 0 };

	if (origin == NULL || *origin == '\0' || strlen(origin) > 512)
		return 0;
	if (store_txn(s, origin_any_body, &a) != 0)
		return -1;
	return a.found;
}

static int
origins_apply(struct store_txn *t, const char *name, json_object *rec,
    int add)
{
	json_object	*list;
	char		 key[1024];
	size_t		 i, n, ol, nl = strlen(name);
	int		 rc;

	if (rec == NULL || !json_object_object_get_ex(rec, "origins", &list))
		return STORE_OK;
	n = json_object_array_length(list);
	for (i = 0; i < n; i++) {
		const char *o = json_object_get_string(
		    json_object_array_get_idx(list, i));

		ol = strlen(o);
		if (ol + 1 + nl > sizeof(key))
			continue;
		memcpy(key, o, ol);
		key[ol] = '\0';
		memcpy(key + ol + 1, name, nl);
		rc = add ? store_put(t, SDB_ORIGINS, key, ol + 1 + nl, "", 0) :
		    store_del(t, SDB_ORIGINS, key, ol + 1 + nl);
		if (rc != STORE_OK && rc != STORE_NOTFOUND)
			return rc;
	}
	return STORE_OK;
}

int
ns_origins_index(struct store_txn *t, const char *name, json_object *old,
    json_object *rec)
{
	int rc;

	if ((rc = origins_apply(t, name, old, 0)) != STORE_OK)
		return rc;
	return origins_apply(t, name, rec, 1);
}
