/* t_crypto.c -- sealing, key file loading, token hashes, base64 and UUIDs */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto.h"
#include "secmem.h"
#include "tap.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static char	tmpdir[512];

/* The master key 00 01 02 .. 1f, for known-answer tests. */
static unsigned char	master[CRYPTO_KEYLEN];

static void
tohex(const unsigned char *p, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 0xf];
	}
	out[2 * n] = '\0';
}

static int
is_lower_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' &&
		    s[i] <= 'f'))
			return 0;
	return s[n] == '\0';
}

/* 1 when the n bytes at p hold the string s */
static int
contains(const unsigned char *p, size_t n, const char *s)
{
	size_t i, l = strlen(s);

	for (i = 0; i + l <= n; i++)
		if (memcmp(p + i, s, l) == 0)
			return 1;
	return 0;
}

static void
test_derive(void)
{
	struct crypto_keys	k, k2;
	char			hex[2 * CRYPTO_KEYLEN + 1];

	crypto_keys_derive(master, &k);
	/* HMAC-SHA256(master, "mias seal v1") etc.: sealed records and
	 * stored token hashes depend on these never changing */
	tohex(k.ck_seal, CRYPTO_KEYLEN, hex);
	TAP_STREQ(hex, "b6cf790f67d89b490bdb5015e6c9d81d"
	    "5d10f2e198732ff0b5f2f599495157d2", "derive: seal key known answer");
	tohex(k.ck_token, CRYPTO_KEYLEN, hex);
	TAP_STREQ(hex, "49f29e2e37d06ee59e552e6012a88622"
	    "4909ba415e8b6f0f55d73827c7dfa148", "derive: token key known answer");
	tohex(k.ck_url, CRYPTO_KEYLEN, hex);
	TAP_STREQ(hex, "e2d9377bc1455590aee611e412af6594"
	    "79796e0e139def5eeba6ee0159e21586", "derive: url key known answer");
	tap_ok(memcmp(k.ck_seal, k.ck_token, CRYPTO_KEYLEN) != 0 &&
	    memcmp(k.ck_seal, k.ck_url, CRYPTO_KEYLEN) != 0 &&
	    memcmp(k.ck_token, k.ck_url, CRYPTO_KEYLEN) != 0,
	    "derive: the three purposes get different keys");
	tap_ok(memcmp(k.ck_seal, master, CRYPTO_KEYLEN) != 0,
	    "derive: the seal key is not the master key");
	crypto_keys_derive(master, &k2);
	tap_ok(memcmp(&k, &k2, sizeof(k)) == 0, "derive: deterministic");
	crypto_keys_wipe(&k2);
	memset(&k, 0, sizeof(k));
	tap_ok(memcmp(&k, &k2, sizeof(k)) == 0,
	    "crypto_keys_wipe zeroes every key");
}

static void
test_seal(void)
{
	struct crypto_keys	 k, other;
	unsigned char		 m2[CRYPTO_KEYLEN];
	static const char	 pt[] = "accessKeySecret=wJalrXUtnFEMI/K7MDENG";
	static const char	 aad[] = "study ns1/4/1.2.3";
	unsigned char		 s1[sizeof(pt) + CRYPTO_SEAL_OVERHEAD];
	unsigned char		 s2[sizeof(pt) + CRYPTO_SEAL_OVERHEAD];
	unsigned char		 bad[sizeof(s1)];
	unsigned char		 out[sizeof(pt) + 8];
	unsigned char		 zero[sizeof(pt)];
	unsigned char		 empty[CRYPTO_SEAL_OVERHEAD];
	/* sealed with Python's AESGCM: key = the seal key of master,
	 * IV a0..ab, aad "record-1", plaintext "hello, sealed world" */
	static const unsigned char kat[] = {
		0x01, 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8,
		0xa9, 0xaa, 0xab, 0x8c, 0x9a, 0xcc, 0x7e, 0xd5, 0x34, 0x47,
		0x93, 0x65, 0xbe, 0x13, 0x03, 0xe8, 0x8e, 0x04, 0x26, 0x45,
		0x36, 0x8e, 0xc8, 0x7e, 0x87, 0x68, 0x15, 0xcf, 0xd8, 0x80,
		0x4b, 0x19, 0xf0, 0xdb, 0x4f, 0x71, 0x92, 0x7b
	};
	const size_t		 len = sizeof(pt), slen = sizeof(s1);

	crypto_keys_derive(master, &k);
	memcpy(m2, master, sizeof(m2));
	m2[31] ^= 1;
	crypto_keys_derive(m2, &other);
	memset(zero, 0, sizeof(zero));

	tap_ok(CRYPTO_SEAL_OVERHEAD == 29, "seal overhead is 1+12+16");
	tap_ok(crypto_seal(&k, aad, sizeof(aad) - 1, pt, len, s1) == 0,
	    "seal: succeeds");
	tap_ok(s1[0] == 1, "seal: version byte 1 first");
	tap_ok(!contains(s1, slen, "accessKey"),
	    "seal: plaintext does not show in the output");
	memset(out, 0xee, sizeof(out));
	tap_ok(crypto_open(&k, aad, sizeof(aad) - 1, s1, slen, out) == 0 &&
	    memcmp(out, pt, len) == 0, "open: round trip gives the plaintext");
	tap_ok(out[len] == 0xee, "open: writes no more than len - overhead");

	tap_ok(crypto_seal(&k, aad, sizeof(aad) - 1, pt, len, s2) == 0 &&
	    memcmp(s1 + 1, s2 + 1, CRYPTO_IVLEN) != 0,
	    "seal: two seals of the same plaintext have fresh IVs");
	tap_ok(memcmp(s1, s2, slen) != 0,
	    "seal: two seals of the same plaintext differ");
	tap_ok(crypto_open(&k, aad, sizeof(aad) - 1, s2, slen, out) == 0 &&
	    memcmp(out, pt, len) == 0, "open: the second seal opens too");

	/* every bit that matters is authenticated */
	memcpy(bad, s1, slen);
	bad[1 + CRYPTO_IVLEN + 3] ^= 0x01;
	memset(out, 0xee, sizeof(out));
	tap_ok(crypto_open(&k, aad, sizeof(aad) - 1, bad, slen, out) == -1,
	    "open: tampered ciphertext refused");
	tap_ok(memcmp(out, zero, len) == 0,
	    "open: refused open leaves no plaintext behind");
	memcpy(bad, s1, slen);
	bad[1 + CRYPTO_IVLEN] ^= 0x80;
	tap_ok(crypto_open(&k, aad, sizeof(aad) - 1, bad, slen, out) == -1,
	    "open: tampered first ciphertext byte refused");
	memcpy(bad, s1, slen);
	bad[slen - 1] ^= 0x01;
	tap_ok(crypto_open(&k, aad, sizeof(aad) - 1, bad, slen, out) == -1,
	    "open: tampered tag refused");
	memcpy(bad, s1, slen);
	bad[slen - CRYPTO_TAGLEN] ^= 0x40;
	tap_ok(crypto_open(&k, aad, sizeof(aad) - 1, bad, slen, out) == -1,
	    "open: tampered first tag byte refused");
	memcpy(bad, s1, slen);
	bad[1] ^= 0x01;
	tap_ok(crypto_open(&k, aad, sizeof(aad) - 1, bad, slen, out) == -1,
	    "open: tampered IV refused");
	memcpy(bad, s1, slen);
	bad[CRYPTO_IVLEN] ^= 0x01;
	tap_ok(crypto_open(&k, aad, sizeof(aad) - 1, bad, slen, out) == -1,
	    "open: tampered last IV byte refused");
	memcpy(bad, s1, slen);
	bad[0] = 2;
	tap_ok(crypto_open(&k, aad, sizeof(aad) - 1, bad, slen, out) == -1,
	    "open: unknown version byte refused");
	bad[0] = 0;
	tap_ok(crypto_open(&k, aad, sizeof(aad) - 1, bad, slen, out) == -1,
	    "open: version byte 0 refused");
	tap_ok(crypto_open(&k, "study ns1/4/1.2.4", sizeof(aad) - 1, s1, slen,
	    out) == -1, "open: different AAD refused");
	tap_ok(crypto_open(&k, aad, sizeof(aad) - 2, s1, slen, out) == -1,
	    "open: shorter AAD refused");
	tap_ok(crypto_open(&k, NULL, 0, s1, slen, out) == -1,
	    "open: no AAD refused");
	tap_ok(crypto_open(&other, aad, sizeof(aad) - 1, s1, slen, out) == -1,
	    "open: another master key refused");
	tap_ok(crypto_open(&k, aad, sizeof(aad) - 1, s1, slen - 1, out) == -1,
	    "open: truncated by one byte refused");
	tap_ok(crypto_open(&k, aad, sizeof(aad) - 1, s1,
	    CRYPTO_SEAL_OVERHEAD - 1, out) == -1,
	    "open: shorter than the overhead refused");
	tap_ok(crypto_open(&k, aad, sizeof(aad) - 1, s1, 0, out) == -1,
	    "open: empty input refused");

	/* empty plaintext */
	tap_ok(crypto_seal(&k, aad, sizeof(aad) - 1, "", 0, empty) == 0 &&
	    crypto_open(&k, aad, sizeof(aad) - 1, empty, sizeof(empty),
	    out) == 0, "seal/open: empty plaintext round trip");
	empty[sizeof(empty) - 1] ^= 1;
	tap_ok(crypto_open(&k, aad, sizeof(aad) - 1, empty, sizeof(empty),
	    out) == -1, "open: empty plaintext with tampered tag refused");

	/* the format: version || IV || ciphertext || tag, AES-256-GCM */
	memset(out, 0, sizeof(out));
	tap_ok(crypto_open(&k, "record-1", 8, kat, sizeof(kat), out) == 0 &&
	    memcmp(out, "hello, sealed world", 19) == 0,
	    "open: a record sealed by another AES-GCM implementation opens");

	crypto_keys_wipe(&k);
	crypto_keys_wipe(&other);
}

/* Write n bytes of master (then 0x55s) to tmpdir/name with mode. */
static const char *
keyfile(const char *name, size_t n, mode_t mode)
{
	static char	 p[600];
	unsigned char	 buf[64];
	int		 fd;

	memset(buf, 0x55, sizeof(buf));
	memcpy(buf, master, sizeof(master));
	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	unlink(p);
	if ((fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1 ||
	    write(fd, buf, n) != (ssize_t)n || fchmod(fd, mode) == -1) {
		printf("Bail out! cannot write %s: %s\n", p, strerror(errno));
		exit(1);
	}
	close(fd);
	return p;
}

static void
test_keys_load(void)
{
	struct crypto_keys	 k, want;
	char			 err[512], msg[1024];
	const char		*p;

	crypto_keys_derive(master, &want);

	p = keyfile("k32", 32, 0600);
	memset(&k, 0, sizeof(k));
	err[0] = '\0';
	tap_ok(crypto_keys_load(p, &k, err, sizeof(err)) == 0,
	    "keys_load: 32 bytes, mode 0600 accepted");
	if (err[0] != '\0')
		printf("#   error: %s\n", err);
	tap_ok(memcmp(&k, &want, sizeof(k)) == 0,
	    "keys_load: keys are derived from the file's bytes");

	p = keyfile("k400", 32, 0400);
	tap_ok(crypto_keys_load(p, &k, err, sizeof(err)) == 0,
	    "keys_load: mode 0400 accepted");

	p = keyfile("k31", 31, 0600);
	tap_ok(crypto_keys_load(p, &k, err, sizeof(err)) == -1,
	    "keys_load: 31 bytes refused");
	snprintf(msg, sizeof(msg), "key file %s: must hold exactly 32 bytes",
	    p);
	TAP_STREQ(err, msg, "keys_load: 31 bytes: message");

	p = keyfile("k33", 33, 0600);
	tap_ok(crypto_keys_load(p, &k, err, sizeof(err)) == -1,
	    "keys_load: 33 bytes refused");
	snprintf(msg, sizeof(msg), "key file %s: must hold exactly 32 bytes",
	    p);
	TAP_STREQ(err, msg, "keys_load: 33 bytes: message");

	p = keyfile("k0", 0, 0600);
	tap_ok(crypto_keys_load(p, &k, err, sizeof(err)) == -1,
	    "keys_load: empty file refused");

	p = keyfile("k644", 32, 0644);
	tap_ok(crypto_keys_load(p, &k, err, sizeof(err)) == -1,
	    "keys_load: mode 0644 refused");
	snprintf(msg, sizeof(msg), "key file %s: open to others or writable "
	    "by its group (mode 644); chmod 600 it (640 when a group shares "
	    "the store)", p);
	TAP_STREQ(err, msg, "keys_load: mode 0644: message");

	p = keyfile("k640", 32, 0640);
	tap_ok(crypto_keys_load(p, &k, err, sizeof(err)) == 0,
	    "keys_load: mode 0640 (read by the group sharing the store) "
	    "accepted");
	p = keyfile("k660", 32, 0660);
	tap_ok(crypto_keys_load(p, &k, err, sizeof(err)) == -1,
	    "keys_load: mode 0660 refused");
	p = keyfile("k650", 32, 0650);
	tap_ok(crypto_keys_load(p, &k, err, sizeof(err)) == -1,
	    "keys_load: mode 0650 refused");
	p = keyfile("k604", 32, 0604);
	tap_ok(crypto_keys_load(p, &k, err, sizeof(err)) == -1,
	    "keys_load: mode 0604 refused");
	p = keyfile("k620", 32, 0620);
	tap_ok(crypto_keys_load(p, &k, err, sizeof(err)) == -1,
	    "keys_load: mode 0620 (group may write) refused");

	snprintf(msg, sizeof(msg), "%s/absent", tmpdir);
	tap_ok(crypto_keys_load(msg, &k, err, sizeof(err)) == -1 &&
	    strstr(err, "absent") != NULL &&
	    strstr(err, strerror(ENOENT)) != NULL,
	    "keys_load: absent file refused, path and reason in message");
	tap_ok(crypto_keys_load(tmpdir, &k, err, sizeof(err)) == -1,
	    "keys_load: a directory refused");

	crypto_keys_wipe(&k);
	crypto_keys_wipe(&want);
}

static void
test_hashes(void)
{
	struct crypto_keys	k, other;
	unsigned char		m2[CRYPTO_KEYLEN];
	char			h1[CRYPTO_HASHHEX], h2[CRYPTO_HASHHEX];
	char			h3[CRYPTO_HASHHEX];
	static const char	tok[] = "correct horse battery staple";

	crypto_keys_derive(master, &k);
	memcpy(m2, master, sizeof(m2));
	m2[0] ^= 0x80;
	crypto_keys_derive(m2, &other);

	crypto_hmac_hex(master, "abc", 3, h1);
	TAP_STREQ(h1, "f0133729c4163dede81e21cd47839256"
	    "da58171238c8a0d874397c73b14e1e47",
	    "hmac_hex: HMAC-SHA256 known answer, lower-case hex");

	crypto_token_hash(&k, tok, h1);
	crypto_token_hash(&k, tok, h2);
	tap_ok(strlen(h1) == 64 && is_lower_hex(h1, 64),
	    "token_hash: 64 lower-case hex characters");
	TAP_STREQ(h2, h1, "token_hash: deterministic");
	TAP_STREQ(h1, "e9c754da1c0b124070ea868a84ce3909"
	    "e3f180be57a15f3cb86ce5bbf8faa975",
	    "token_hash: HMAC-SHA256 under the token key, known answer");
	crypto_hmac_hex(k.ck_token, tok, strlen(tok), h3);
	TAP_STREQ(h3, h1, "token_hash: is crypto_hmac_hex under ck_token");
	crypto_token_hash(&other, tok, h2);
	tap_ok(strcmp(h1, h2) != 0, "token_hash: another key, another hash");
	crypto_token_hash(&k, "correct horse battery stapler", h2);
	tap_ok(strcmp(h1, h2) != 0,
	    "token_hash: another token, another hash");
	crypto_hmac_hex(k.ck_url, tok, strlen(tok), h2);
	tap_ok(strcmp(h1, h2) != 0,
	    "token_hash: differs from the url key's HMAC of the same text");
	crypto_token_hash(&k, "", h2);
	tap_ok(strlen(h2) == 64 && is_lower_hex(h2, 64) && strcmp(h1, h2),
	    "token_hash: empty token hashes too");

	tap_ok(crypto_equal("abcdef", "abcdef", 6) == 1,
	    "crypto_equal: equal buffers");
	tap_ok(crypto_equal("abcdef", "abcdeg", 6) == 0,
	    "crypto_equal: last byte differs");
	tap_ok(crypto_equal("xbcdef", "abcdef", 6) == 0,
	    "crypto_equal: first byte differs");
	tap_ok(crypto_equal("abcdef", "abcdeg", 5) == 1,
	    "crypto_equal: compares only n bytes");
	tap_ok(crypto_equal("a", "b", 0) == 1, "crypto_equal: n 0 is equal");

	crypto_keys_wipe(&k);
	crypto_keys_wipe(&other);
}

static void
test_misc(void)
{
	unsigned char	a[32], b[32], zero[32];

	memset(zero, 0, sizeof(zero));
	tap_ok(crypto_random(a, sizeof(a)) == 0 &&
	    crypto_random(b, sizeof(b)) == 0 && memcmp(a, b, 32) != 0 &&
	    memcmp(a, zero, 32) != 0, "crypto_random: two draws differ");
	crypto_wipe(a, sizeof(a));
	tap_ok(memcmp(a, zero, 32) == 0, "crypto_wipe: zeroes");
}

static void
test_b64(void)
{
	static const struct {
		const char	*raw, *b64;
	} v[] = {	/* RFC 4648, section 10 */
		{ "", "" },
		{ "f", "Zg==" },
		{ "fo", "Zm8=" },
		{ "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
	};
	static const char *const bad[] = {
		"Zm9",		/* not a multiple of 4 */
		"Zm9vY",
		"Zm9v!!!!",	/* outside the alphabet */
		"Zm9v-_-_",	/* base64url is not base64 */
		"Zm 9",
		"Zm9vYmE",
	};
	static const char *const badpad[] = {
		"====",
		"Zg=A",
		"Zg==Zg==",
	};
	unsigned char	raw[256], back[258];	/* decode needs 3 * len / 4 */
	char		enc[4 * (sizeof(raw) + 2) / 3 + 1];
	size_t		i, n;
	long		got;
	int		ok;

	for (i = 0; i < NELEM(v); i++) {
		crypto_b64_encode(v[i].raw, strlen(v[i].raw), enc);
		TAP_STREQ(enc, v[i].b64, v[i].b64[0] ? v[i].b64 :
		    "b64 encode of nothing is \"\"");
		memset(back, 0, sizeof(back));
		got = crypto_b64_decode(v[i].b64, back, sizeof(back));
		tap_ok(got == (long)strlen(v[i].raw) &&
		    memcmp(back, v[i].raw, strlen(v[i].raw)) == 0,
		    "b64 decode \"%s\" is \"%s\" (%ld)", v[i].b64, v[i].raw,
		    got);
	}

	/* every length 0..256 of every byte value */
	for (i = 0; i < sizeof(raw); i++)
		raw[i] = (unsigned char)(255 - i);
	for (ok = 1, n = 0; n <= sizeof(raw) && ok; n++) {
		crypto_b64_encode(raw, n, enc);
		ok = strlen(enc) == 4 * ((n + 2) / 3) &&
		    crypto_b64_decode(enc, back, sizeof(back)) == (long)n &&
		    memcmp(raw, back, n) == 0;
	}
	tap_ok(ok, "b64 round trip of 0..256 bytes (stopped at %zu)", n - 1);

	for (i = 0; i < NELEM(bad); i++)
		tap_ok(crypto_b64_decode(bad[i], back, sizeof(back)) == -1,
		    "b64 decode \"%s\" is -1", bad[i]);
	tap_ok(crypto_b64_decode("Zm9vYmFy", back, 5) == -1,
	    "b64 decode into too small a buffer is -1");
	tap_ok(crypto_b64_decode("Zm9vYmFy", back, 6) == 6,
	    "b64 decode into an exact buffer");
	tap_ok(crypto_b64_decode("Zm9vYg==", back, 6) == 4,
	    "b64 decode with padding into 3 * len / 4 bytes");

	/*
	 * fixed: '=' is only padding, only at the end; OpenSSL's
	 * EVP_DecodeBlock() does not check that, and crypto_b64_decode()
	 * only counts the last two characters, so these come back as data
	 * ("====" decodes to 1 byte, "Zg==Zg==" to 4).
	 */
	for (i = 0; i < NELEM(badpad); i++) {
		got = crypto_b64_decode(badpad[i], back, sizeof(back));
		tap_ok(got == -1, "b64 decode \"%s\" (misplaced "
		    "padding) is -1 (got %ld)", badpad[i], got);
	}
}

static void
test_uuid(void)
{
	char	u1[37], u2[37];
	int	ok, i, j;

	for (ok = 1, j = 0; j < 64 && ok; j++) {
		crypto_uuid(u1);
		ok = strlen(u1) == 36;
		for (i = 0; i < 36 && ok; i++)
			if (i == 8 || i == 13 || i == 18 || i == 23)
				ok = u1[i] == '-';
			else
				ok = isdigit((unsigned char)u1[i]) ||
				    (u1[i] >= 'a' && u1[i] <= 'f');
		ok = ok && u1[14] == '4' && strchr("89ab", u1[19]) != NULL;
	}
	tap_ok(ok, "uuid: 64 draws are 8-4-4-4-12 lower-case hex, version 4, "
	    "variant 10 (last: %s)", u1);
	crypto_uuid(u2);
	tap_ok(strcmp(u1, u2) != 0, "uuid: two differ");
}


/* The mapping holding p, from /proc/self/smaps: whether its VmFlags say
 * "dd" (not dumped); -1 when not found. */
static int
smaps_dontdump(const void *p)
{
	FILE		*f = fopen("/proc/self/smaps", "r");
	char		 line[512];
	unsigned long	 a, b;
	int		 in = 0, dd = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%lx-%lx ", &a, &b) == 2 &&
		    strchr(line, '-') < strchr(line, ' '))
			in = (uintptr_t)p >= a && (uintptr_t)p < b;
		else if (in && strncmp(line, "VmFlags:", 8) == 0) {
			dd = strstr(line, " dd") != NULL;
			break;
		}
	}
	fclose(f);
	return dd;
}

static void
test_keys_new(void)
{
	struct crypto_keys	*k = crypto_keys_new();
	char			*slot;
	size_t			 i, zero = 1;

	tap_ok(k != NULL, "crypto_keys_new: keys in pages of their own");
	if (k == NULL)
		return;
	for (i = 0; i < sizeof(*k); i++)
		zero &= ((unsigned char *)k)[i] == 0;
	tap_ok(zero && ((uintptr_t)k & 4095) == 0, "  zeroed, page-aligned");
	tap_ok(smaps_dontdump(k) == 1, "  marked MADV_DONTDUMP (VmFlags dd)");
	crypto_keys_derive(master, k);
	crypto_keys_free(k);
	crypto_keys_free(NULL);
	slot = secmem_alloc(5000);
	tap_ok(slot != NULL && smaps_dontdump(slot) == 1 &&
	    smaps_dontdump(slot + 4999) == 1, "secmem_alloc: 5000 bytes, "
	    "all kept out of dumps");
	secmem_free(slot, 5000);
	secmem_scrub_registers();
	tap_ok(1, "secmem_scrub_registers runs on this CPU (no illegal "
	    "instruction)");
}

int
main(void)
{
	const char	*t;
	char		 cmd[600];
	size_t		 i;
	int		 rc;

	for (i = 0; i < sizeof(master); i++)
		master[i] = (unsigned char)i;
	t = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/t_crypto.XXXXXX",
	    t != NULL && *t != '\0' ? t : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		printf("Bail out! mkdtemp %s: %s\n", tmpdir, strerror(errno));
		return 1;
	}

	test_derive();
	test_seal();
	test_keys_load();
	test_hashes();
	test_misc();
	test_b64();
	test_uuid();
	test_keys_new();

	{
		static const char *const names[] = { "k32", "k400", "k31",
		    "k33", "k0", "k644", "k640", "k604", "k620" };

		for (i = 0; i < NELEM(names); i++) {
			snprintf(cmd, sizeof(cmd), "%s/%s", tmpdir, names[i]);
			unlink(cmd);
		}
	}
	rmdir(tmpdir);
	rc = tap_done();
	return rc;
}
