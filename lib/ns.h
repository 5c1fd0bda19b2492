/* ns.h -- namespace records: tokens, signing secrets, callback hosts */
#ifndef MIAS_NS_H
#define MIAS_NS_H

#include <stddef.h>

#include <json-c/json.h>

#include "resp.h"

struct store;
struct store_txn;
struct crypto_keys;

#define NS_NAME_MAX	128
#define NS_TOKEN_MIN	16	/* shorter imported tokens need --weak-token */
#define NS_TOKEN_MAX	256
#define NS_SECRET_LEN	32	/* raw bytes of the signing secret */

/* NULL when name is a valid namespace name, else why not. */
const char	*ns_name_check(const char *);

/*
 * Authenticate a request: the tokenId must match the token of the
 * namespace named in the namespace header, compared in constant time, and
 * the namespace must be enabled.  In three steps, so that the read can
 * share the request's first transaction: ns_auth_precheck (the headers,
 * before any read), ns_auth_read (in the transaction: the record as
 * stored, a store_get result) and ns_auth_verify (raw NULL: no such
 * namespace).  On RC_OK *rec is the namespace record, read-only (the
 * caller puts it).  The message never says which part was wrong.
 */
enum rc		 ns_auth_precheck(const char *ns, const char *token,
		    char *msg, size_t msglen);
int		 ns_auth_read(struct store_txn *, const char *ns, char **raw,
		    size_t *len);
enum rc		 ns_auth_verify(const struct crypto_keys *, const char *ns,
		    const char *token, const char *raw, size_t rawlen,
		    json_object **rec, char *msg, size_t msglen);
/* Forget the namespaces ns_auth_verify keeps (this thread's). */
void		 ns_cache_clear(void);

/*
 * A new record.  token is stored as its keyed hash only; secret (raw
 * bytes) is sealed under the key file with the namespace name bound in.
 */
json_object	*ns_record_new(const struct crypto_keys *, const char *name,
		    const char *token, int weak,
		    const unsigned char secret[NS_SECRET_LEN]);
/* Replace the token hash (rotate). */
void		 ns_record_set_token(json_object *, const struct crypto_keys *,
		    const char *token, int weak);
/* The signing secret in the Standard Webhooks form "whsec_<base64>"; out
 * holds at least 64 bytes.  -1 when the seal does not open (wrong key). */
int		 ns_record_secret(json_object *, const struct crypto_keys *,
		    char *out, size_t outlen);
/* 1 when host may receive this namespace's callbacks: always when the
 * namespace lists no callback hosts, else when host is one of them. */
int		 ns_callback_host_ok(json_object *, const char *host);

/* 1 when origin (as a browser sends it) is one of the namespace's. */
int		 ns_origin_ok(json_object *, const char *origin);

/*
 * 1 when origin is allowed for at least one namespace: what a CORS
 * preflight, which names no namespace, is answered by.  0 when not, -1
 * when the store fails.
 */
int		 ns_origin_any(struct store *, const char *origin);

/* Keep the origin index (SDB_ORIGINS) in step with a record being put:
 * old is the record before (NULL for a new namespace). */
int		 ns_origins_index(struct store_txn *, const char *name,
		    json_object *old, json_object *rec);

/* A fresh random token (base64url, 43 characters) in out[44+]. */
int		 ns_token_new(char *out, size_t outlen);

int		 ns_get(struct store_txn *, const char *name, json_object **,
		    int rmw);
int		 ns_put(struct store_txn *, const char *name, json_object *);

#endif /* MIAS_NS_H */
