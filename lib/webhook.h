/* webhook.h -- Standard Webhooks signatures of the callbacks we send */
#ifndef MIAS_WEBHOOK_H
#define MIAS_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#define WEBHOOK_ID_MAX	40	/* "msg_" + 32 hex + NUL */
#define WEBHOOK_SIG_MAX	64	/* "v1," + base64 of 32 bytes + NUL */

/* A fresh message id, "msg_" and 32 hex digits.  0 or -1. */
int	webhook_id_new(char out[WEBHOOK_ID_MAX]);

/*
 * The webhook-signature value "v1,<base64>" of HMAC-SHA256 over
 * "id.timestamp.body" under the secret, given as "whsec_<base64>" the way
 * namespace add prints it.  0, or -1 if the secret is malformed.
 */
int	webhook_sign(const char *secret, const char *id, int64_t timestamp,
	    const char *body, size_t len, char out[WEBHOOK_SIG_MAX]);

#endif /* MIAS_WEBHOOK_H */
