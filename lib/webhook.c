/* webhook.c -- Standard Webhooks signatures of the callbacks we send */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "crypto.h"
#include "hex.h"
#include "webhook.h"

int
webhook_id_new(char out[WEBHOOK_ID_MAX])
{
	unsigned char		raw[16];

	if (crypto_random(raw, sizeof(raw)) == -1)
		return -1;
	memcpy(out, "msg_", 4);
	hex_encode(raw, sizeof(raw), out + 4);
	return 0;
}

int
webhook_sign(const char *secret, const char *id, int64_t timestamp,
    const char *body, size_t len, char out[WEBHOOK_SIG_MAX])
{
	/* keys of up to 64 bytes (the standard's longest); base64
	 * decoding wants room for the padding's 2 more */
	unsigned char	 key[66], mac[32];
	unsigned int	 maclen = sizeof(mac);
	char		*msg = NULL;
	long		 keylen;
	int		 n, rc = -1;

	if (strncmp(secret, "whsec_", 6) == 0)
		secret += 6;
	if ((keylen = crypto_b64_decode(secret, key, sizeof(key))) <= 0)
		return -1;
	if ((msg = malloc(len + 128)) == NULL)
		goto out;
	n = snprintf(msg, 128, "%s.%lld.", id, (long long)timestamp);
	if (n < 0 || n >= 128)
		goto out;
	memcpy(msg + n, body, len);
	if (HMAC(EVP_sha256(), key, (int)keylen, (unsigned char *)msg,
	    (size_t)n + len, mac, &maclen) == NULL)
		goto out;
	memcpy(out, "v1,", 3);
	crypto_b64_encode(mac, maclen, out + 3);
	rc = 0;
out:
	free(msg);
	crypto_wipe(key, sizeof(key));
	return rc;
}
