/* crypto.c -- sealing, hashing and signing under the key file (OpenSSL) */
#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <uuid/uuid.h>
#include <stdlib.h>

#include "crypto.h"
#include "hex.h"
#include "secmem.h"

#define SEAL_VERSION	1

static void
crypto_hmac(const unsigned char *key, size_t keylen, const void *msg,
    size_t len, unsigned char out[32])
{
	unsigned int outlen = 32;

	HMAC(EVP_sha256(), key, (int)keylen, msg, len, out, &outlen);
}

void
crypto_keys_derive(const unsigned char master[CRYPTO_KEYLEN],
    struct crypto_keys *k)
{
	crypto_hmac(master, CRYPTO_KEYLEN, "mias seal v1", 12, k->ck_seal);
	crypto_hmac(master, CRYPTO_KEYLEN, "mias token v1", 13, k->ck_token);
	crypto_hmac(master, CRYPTO_KEYLEN, "mias url v1", 11, k->ck_url);
	crypto_hmac_hex(master, "mias key fingerprint v1", 23, k->ck_print);
}

int
crypto_keys_load(const char *path, struct crypto_keys *k, char *err,
    size_t errlen)
{
	unsigned char	 master[CRYPTO_KEYLEN + 1];
	struct stat	 st;
	ssize_t		 n;
	int		 fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		snprintf(err, errlen, "key file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "key file %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "key file %s: not a regular file", path);
		goto out;
	}
	/* the group may read it (0640): the responders and the dispatcher
	 * as two users sharing a group (CONTRACT.md "First start") */
	if (st.st_mode & (S_IWGRP | S_IXGRP | S_IRWXO)) {
		snprintf(err, errlen, "key file %s: open to others or "
		    "writable by its group (mode %03o); chmod 600 it (640 "
		    "when a group shares the store)", path,
		    (unsigned)(st.st_mode & 0777));
		goto out;
	}
	n = read(fd, master, sizeof(master));
	if (n != CRYPTO_KEYLEN) {
		snprintf(err, errlen, "key file %s: must hold exactly %d "
		    "bytes", path, CRYPTO_KEYLEN);
		goto out;
	}
	crypto_keys_derive(master, k);
	rc = 0;
out:
	crypto_wipe(master, sizeof(master));
	close(fd);
	return rc;
}

void
crypto_keys_wipe(struct crypto_keys *k)
{
	crypto_wipe(k, sizeof(*k));
}

struct crypto_keys *
crypto_keys_new(void)
{
	return secmem_alloc(sizeof(struct crypto_keys));
}

void
crypto_keys_free(struct crypto_keys *k)
{
	secmem_free(k, sizeof(*k));
}

int
crypto_seal(const struct crypto_keys *k, const void *aad, size_t aadlen,
    const void *in, size_t len, unsigned char *out)
{
	EVP_CIPHER_CTX	*ctx;
	unsigned char	*iv = out + 1, *ct = out + 1 + CRYPTO_IVLEN;
	int		 n, rc = -1;

	out[0] = SEAL_VERSION;
	if (RAND_bytes(iv, CRYPTO_IVLEN) != 1)
		return -1;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, k->ck_seal,
	    iv) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1 ||
	    EVP_EncryptUpdate(ctx, ct, &n, in, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(ctx, ct + n, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CRYPTO_TAGLEN,
	    ct + len) != 1)
		goto out;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

int
crypto_open(const struct crypto_keys *k, const void *aad, size_t aadlen,
    const unsigned char *in, size_t len, unsigned char *out)
{
	EVP_CIPHER_CTX	*ctx;
	const unsigned char *iv = in + 1, *ct = in + 1 + CRYPTO_IVLEN;
	size_t		 ctlen;
	int		 n, rc = -1;

	if (len < CRYPTO_SEAL_OVERHEAD || in[0] != SEAL_VERSION)
		return -1;
	ctlen = len - CRYPTO_SEAL_OVERHEAD;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, k->ck_seal,
	    iv) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1 ||
	    EVP_DecryptUpdate(ctx, out, &n, ct, (int)ctlen) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CRYPTO_TAGLEN,
	    (void *)(uintptr_t)(ct + ctlen)) != 1 ||
	    EVP_DecryptFinal_ex(ctx, out + n, &n) != 1) {
		crypto_wipe(out, ctlen);
		goto out;
	}
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

void
crypto_hmac_hex(const unsigned char key[CRYPTO_KEYLEN], const void *msg,
    size_t len, char out[CRYPTO_HASHHEX])
{
	unsigned char		 mac[32];

	crypto_hmac(key, CRYPTO_KEYLEN, msg, len, mac);
	hex_encode(mac, sizeof(mac), out);
}

/* Tokens are hashed under a key, not with a bare hash: an imported token
 * may be short, and a stolen store without the key file must not let
 * anyone test guesses offline. */
void
crypto_token_hash(const struct crypto_keys *k, const char *token,
    char out[CRYPTO_HASHHEX])
{
	crypto_hmac_hex(k->ck_token, token, strlen(token), out);
}

int
crypto_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

void
crypto_wipe(void *p, size_t n)
{
	OPENSSL_cleanse(p, n);
}

int
crypto_random(void *p, size_t n)
{
	return RAND_bytes(p, (int)n) == 1 ? 0 : -1;
}

void
crypto_b64_encode(const void *in, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

long
crypto_b64_decode(const char *in, unsigned char *out, size_t outlen)
{
	size_t	len = strlen(in), pad = 0, i;
	int	n;

	if (len % 4 != 0 || len / 4 * 3 > outlen)
		return -1;
	if (len > 0 && in[len - 1] == '=')
		pad++;
	if (len > 1 && in[len - 2] == '=')
		pad++;
	/* OpenSSL takes '=' anywhere and skips white space: be exact */
	for (i = 0; i < len - pad; i++)
		if (!((in[i] >= 'A' && in[i] <= 'Z') ||
		    (in[i] >= 'a' && in[i] <= 'z') ||
		    (in[i] >= '0' && in[i] <= '9') || in[i] == '+' ||
		    in[i] == '/'))
			return -1;
	if ((n = EVP_DecodeBlock(out, (const unsigned char *)in,
	    (int)len)) < 0)
		return -1;
	return (long)n - (long)pad;
}

/*
 * Random bytes for identifiers (request ids, audit keys) come from
 * OpenSSL's DRBG (no system call, as libuuid makes), drawn 256 bytes at a
 * time: one RAND_bytes call costs about as much as the rest of an id.  The
 * pool is per thread, and emptied in a child after fork() so that parent
 * and child never hand out the same bytes.  Not for keys.
 */
#define ID_POOL		256

static __thread unsigned char	id_pool[ID_POOL];
static __thread size_t		id_left;
static __thread unsigned	id_pool_gen;
static unsigned			id_gen;		/* bumped in a forked child */
static pthread_once_t		id_once = PTHREAD_ONCE_INIT;

static void
id_atfork_child(void)
{
	id_gen++;
}

static void
id_init(void)
{
	(void)pthread_atfork(NULL, NULL, id_atfork_child);
}

int
crypto_random_id(void *p, size_t n)
{
	(void)pthread_once(&id_once, id_init);
	if (id_pool_gen != id_gen) {
		OPENSSL_cleanse(id_pool, sizeof(id_pool));
		id_left = 0;
		id_pool_gen = id_gen;
	}
	if (n > ID_POOL)
		return crypto_random(p, n);
	if (id_left < n) {
		if (RAND_bytes(id_pool, ID_POOL) != 1)
			return -1;
		id_left = ID_POOL;
	}
	id_left -= n;
	memcpy(p, id_pool + id_left, n);
	OPENSSL_cleanse(id_pool + id_left, n);
	return 0;
}

void
crypto_uuid(char out[37])
{
	uuid_t u;

	if (crypto_random_id(u, sizeof(u)) == -1) {
		uuid_generate_random(u);
	} else {
		u[6] = (u[6] & 0x0f) | 0x40;	/* version 4 */
		u[8] = (u[8] & 0x3f) | 0x80;	/* RFC 4122 variant */
	}
	uuid_unparse_lower(u, out);
}

