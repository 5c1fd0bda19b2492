/* crypto.h -- sealing, hashing and signing under the key file (OpenSSL) */
#ifndef MIAS_CRYPTO_H
#define MIAS_CRYPTO_H

#include <stddef.h>

#define CRYPTO_KEYLEN	32
#define CRYPTO_IVLEN	12
#define CRYPTO_TAGLEN	16
#define CRYPTO_SEAL_OVERHEAD	(1 + CRYPTO_IVLEN + CRYPTO_TAGLEN)
#define CRYPTO_HASHHEX	65	/* SHA-256 in hex, with NUL */

/*
 * Keys derived from the 32-byte key file, one per purpose, so that a value
 * computed for one purpose (a token hash, say) is never valid for another.
 * Wipe with crypto_keys_wipe() when done.
 */
struct crypto_keys {
	unsigned char	ck_seal[CRYPTO_KEYLEN];	/* AES-256-GCM of records */
	unsigned char	ck_token[CRYPTO_KEYLEN];	/* HMAC of tokens */
	unsigned char	ck_url[CRYPTO_KEYLEN];	/* HMAC of issued URLs */
	/* The key's fingerprint: HMAC-SHA256 of a fixed text under the key
	 * file's bytes, in hex.  Not secret (it reveals nothing of the key):
	 * a backup records it so that a restore can tell whether the key
	 * installed is the one its sealed records need. */
	char		ck_print[CRYPTO_HASHHEX];
};

/* Read the key file: exactly 32 bytes, mode 0600 or 0400 (or 0640/0440:
 * read by the group sharing the store), never open to others.
 * -1 with a message in err (never key material) on failure. */
int	crypto_keys_load(const char *path, struct crypto_keys *,
	    char *err, size_t errlen);
void	crypto_keys_derive(const unsigned char master[CRYPTO_KEYLEN],
	    struct crypto_keys *);
void	crypto_keys_wipe(struct crypto_keys *);
/* A zeroed struct crypto_keys in pages kept out of core dumps (secmem.h),
 * for keys a process holds while it runs; NULL if none can be had.
 * crypto_keys_free() wipes and releases it (NULL is allowed). */
struct crypto_keys *crypto_keys_new(void);
void	crypto_keys_free(struct crypto_keys *);

/*
 * AES-256-GCM with a fresh random IV.  aad binds the sealed value to the
 * record it belongs to, so it cannot be moved to another record.  out must
 * hold len + CRYPTO_SEAL_OVERHEAD bytes.  0 on success.
 */
int	crypto_seal(const struct crypto_keys *, const void *aad, size_t aadlen,
	    const void *in, size_t len, unsigned char *out);
/* out must hold len - CRYPTO_SEAL_OVERHEAD bytes; -1 if forged or wrong. */
int	crypto_open(const struct crypto_keys *, const void *aad, size_t aadlen,
	    const unsigned char *in, size_t len, unsigned char *out);

/* HMAC-SHA256 under a derived key, as lower-case hex (65 bytes with NUL). */
void	crypto_hmac_hex(const unsigned char key[CRYPTO_KEYLEN],
	    const void *msg, size_t len, char out[CRYPTO_HASHHEX]);
void	crypto_token_hash(const struct crypto_keys *, const char *token,
	    char out[CRYPTO_HASHHEX]);

int	crypto_equal(const void *, const void *, size_t);	/* constant time */
void	crypto_wipe(void *, size_t);
int	crypto_random(void *, size_t);
/* Random bytes for identifiers, not keys: from a per-thread pool. 0 or -1. */
int	crypto_random_id(void *, size_t);

/* Base64 (standard alphabet, padded).  encode: out holds 4*ceil(n/3)+1.
 * decode: returns the decoded length or -1 for bad input. */
void	crypto_b64_encode(const void *in, size_t n, char *out);
long	crypto_b64_decode(const char *in, unsigned char *out, size_t outlen);

/*
 * curl_global_init() with an allocator that wipes every block before it
 * is freed: libcurl copies request headers (an STS token) and small POST
 * bodies (an engine trigger with OSS secrets) into buffers of its own.
 * Call once, before any thread uses libcurl.  0 or -1.
 */
int	crypto_curl_init(void);

/* A fresh random UUID (version 4) in its 36-character form. */
void	crypto_uuid(char out[37]);

#endif /* MIAS_CRYPTO_H */
