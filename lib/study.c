/* study.c -- study records, their keys and the work queue */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "store.h"
#include "study.h"

#define STUDY_RECORD_VERSION	1
#define STUDY_AAD		"mias study credentials\n"

static const char *const study_state_names[STUDY__MAX] = {
	"QUEUED",
	"RUNNING",
	"DONE",
	"FAILED",
};

const char *
study_state_name(enum study_state s)
{
	return s < STUDY__MAX ? study_state_names[s] : "UNKNOWN";
}

enum study_state
study_state_parse(const char *s)
{
	int i;

	for (i = 0; i < STUDY__MAX; i++)
		if (s != NULL && strcmp(s, study_state_names[i]) == 0)
			return (enum study_state)i;
	return STUDY__MAX;
}

size_t
study_key(char *out, const char *ns, int type, const char *uid)
{
	size_t	nl = strlen(ns), ul = strlen(uid);

	memcpy(out, ns, nl);
	out[nl] = '\0';
	out[nl + 1] = (char)('0' + type);
	out[nl + 2] = '\0';
	memcpy(out + nl + 3, uid, ul);
	return nl + 3 + ul;
}

size_t
study_queue_key(unsigned char *out, int64_t due_ms, const char *key,
    size_t klen, int64_t run)
{
	uint64_t	v = (uint64_t)due_ms;
	int		i;

	for (i = 7; i >= 0; i--) {
		out[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
	memcpy(out + 8, key, klen);
	out[8 + klen] = '\0';
	return 8 + klen + 1 + (size_t)snprintf((char *)out + 9 + klen, 21,
	    "%lld", (long long)run);
}

/* The seal binds the credentials to one run of one study. */
static int
study_aad(char *out, size_t outlen, const char *key, size_t klen, int64_t run)
{
	int n = snprintf(out, outlen, "%s%lld\n", STUDY_AAD, (long long)run);

	if (n < 0 || (size_t)n + klen > outlen)
		return -1;
	memcpy(out + n, key, klen);
	return n + (int)klen;
}

static json_object *
study_seal(const struct crypto_keys *k, const struct study_creds *c,
    const char *key, size_t klen, int64_t run)
{
	json_object	*o, *out = NULL;
	const char	*plain;
	unsigned char	*sealed = NULL;
	char		*b64 = NULL, aad[STUDY_KEY_MAX + 64];
	size_t		 len;
	int		 aadlen;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	json_object_object_add(o, "ak", json_object_new_string(c->sc_ak));
	json_object_object_add(o, "sk", json_object_new_string(c->sc_sk));
	json_object_object_add(o, "sts",
	    json_object_new_string(c->sc_sts ? c->sc_sts : ""));
	plain = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN,
	    &len);
	if ((aadlen = study_aad(aad, sizeof(aad), key, klen, run)) < 0 ||
	    (sealed = malloc(len + CRYPTO_SEAL_OVERHEAD)) == NULL ||
	    (b64 = malloc(2 * (len + CRYPTO_SEAL_OVERHEAD) + 4)) == NULL)
		goto out;
	if (crypto_seal(k, aad, (size_t)aadlen, plain, len, sealed) == -1)
		goto out;
	crypto_b64_encode(sealed, len + CRYPTO_SEAL_OVERHEAD, b64);
	out = json_object_new_string(b64);
out:
	/* json-c keeps the serialised form in the object: wipe it too */
	crypto_wipe((char *)(uintptr_t)plain, len);
	json_object_put(o);
	free(sealed);
	free(b64);
	return out;
}

static json_object *
study_record_new(const struct study_submit *ss, int64_t now)
{
	json_object *rec = json_object_new_object();

	if (rec == NULL)
		return NULL;
	json_object_object_add(rec, "v",
	    json_object_new_int(STUDY_RECORD_VERSION));
	json_object_object_add(rec, "ns", json_object_new_string(ss->ss_ns));
	json_object_object_add(rec, "studyInstanceUid",
	    json_object_new_string(ss->ss_uid));
	json_object_object_add(rec, "studyType",
	    json_object_new_int(ss->ss_type));
	json_object_object_add(rec, "created", json_object_new_int64(now));
	json_object_object_add(rec, "run", json_object_new_int64(0));
	return rec;
}

/* Fill rec for a new run: QUEUED, request fields, sealed credentials. */
static int
study_new_run(json_object *rec, const struct crypto_keys *k,
    const struct study_submit *ss, const char *key, size_t klen, int64_t now)
{
	json_object	*v, *sealed;
	int64_t		 run = 0;

	if (json_object_object_get_ex(rec, "run", &v))
		run = json_object_get_int64(v);
	run++;
	if ((sealed = study_seal(k, &ss->ss_creds, key, klen, run)) == NULL)
		return -1;
	json_object_object_add(rec, "run", json_object_new_int64(run));
	json_object_object_add(rec, "state",
	    json_object_new_string(study_state_name(STUDY_QUEUED)));
	json_object_object_add(rec, "updated", json_object_new_int64(now));
	json_object_object_add(rec, "callback",
	    json_object_new_string(ss->ss_callback));
	json_object_object_add(rec, "endpoint",
	    json_object_new_string(ss->ss_endpoint));
	json_object_object_add(rec, "bucket",
	    json_object_new_string(ss->ss_bucket));
	json_object_object_add(rec, "key", json_object_new_string(ss->ss_key));
	json_object_object_add(rec, "creds", sealed);
	json_object_object_add(rec, "imagesTotal", json_object_new_int(0));
	json_object_object_add(rec, "imagesDone", json_object_new_int(0));
	json_object_object_add(rec, "imagesFailed", json_object_new_int(0));
	json_object_object_add(rec, "errorCode", NULL);
	json_object_object_add(rec, "errorMessage", NULL);
	return 0;
}

int
study_submit(struct store_txn *t, const struct crypto_keys *k,
    const struct study_submit *ss, enum study_outcome *outcome)
{
	char			 key[STUDY_KEY_MAX];
	unsigned char		 qkey[STUDY_QKEY_MAX];
	json_object		*rec = NULL, *v, *item = NULL;
	enum study_state	 st;
	size_t			 klen, qlen;
	int64_t			 now = store_now_ms();
	int			 rc;

	klen = study_key(key, ss->ss_ns, ss->ss_type, ss->ss_uid);
	rc = store_get_json(t, SDB_STUDIES, key, klen, &rec, 1);
	if (rc == STORE_NOTFOUND) {
		if ((rec = study_record_new(ss, now)) == NULL)
			return STORE_ERR;
		*outcome = STUDY_NEW;
	} else if (rc != STORE_OK)
		return rc;
	else {
		st = json_object_object_get_ex(rec, "state", &v) ?
		    study_state_parse(json_object_get_string(v)) : STUDY__MAX;
		/*
		 * Queued or running: the run under way will finish; a second
		 * one would race it.  Done: only forceAnalysis (the images
		 * changed) starts again.  Failed: a resubmission is how a
		 * caller retries, so it runs again.
		 */
		if (st == STUDY_QUEUED || st == STUDY_RUNNING ||
		    (st == STUDY_DONE && !ss->ss_force)) {
			json_object_put(rec);
			*outcome = STUDY_UNCHANGED;
			return STORE_OK;
		}
		*outcome = STUDY_RERUN;
	}
	rc = STORE_ERR;
	if (study_new_run(rec, k, ss, key, klen, now) == -1)
		goto out;
	if ((rc = store_put_json(t, SDB_STUDIES, key, klen, rec)) != STORE_OK)
		goto out;
	if ((item = json_object_new_object()) == NULL) {
		rc = STORE_ERR;
		goto out;
	}
	json_object_object_add(item, "kind", json_object_new_string("study"));
	json_object_object_get_ex(rec, "run", &v);
	json_object_object_add(item, "run", json_object_get(v));
	qlen = study_queue_key(qkey, now, key, klen, json_object_get_int64(v));
	rc = store_put_json(t, SDB_QUEUE, qkey, qlen, item);
out:
	json_object_put(item);
	json_object_put(rec);
	return rc;
}

int
study_creds_open(json_object *rec, const struct crypto_keys *k,
    const char *key, size_t klen, struct study_creds *c)
{
	json_object	*v, *o = NULL;
	unsigned char	*sealed = NULL, *plain = NULL;
	char		 aad[STUDY_KEY_MAX + 64];
	const char	*b64;
	size_t		 cap;
	long		 n;
	int		 aadlen, rc = -1;

	memset(c, 0, sizeof(*c));
	if (!json_object_object_get_ex(rec, "creds", &v) ||
	    !json_object_is_type(v, json_type_string))
		return -1;
	b64 = json_object_get_string(v);
	cap = strlen(b64) / 4 * 3 + 3;
	if ((sealed = malloc(cap)) == NULL || (plain = malloc(cap + 1)) == NULL)
		goto out;
	n = crypto_b64_decode(b64, sealed, cap);
	json_object_object_get_ex(rec, "run", &v);
	if (n < CRYPTO_SEAL_OVERHEAD || (aadlen = study_aad(aad, sizeof(aad),
	    key, klen, json_object_get_int64(v))) < 0)
		goto out;
	if (crypto_open(k, aad, (size_t)aadlen, sealed, (size_t)n, plain) == -1)
		goto out;
	plain[n - CRYPTO_SEAL_OVERHEAD] = '\0';
	if ((o = json_tokener_parse((char *)plain)) == NULL)
		goto out;
	if (json_object_object_get_ex(o, "ak", &v))
		c->sc_ak = strdup(json_object_get_string(v));
	if (json_object_object_get_ex(o, "sk", &v))
		c->sc_sk = strdup(json_object_get_string(v));
	if (json_object_object_get_ex(o, "sts", &v))
		c->sc_sts = strdup(json_object_get_string(v));
	if (c->sc_ak == NULL || c->sc_sk == NULL || c->sc_sts == NULL) {
		study_creds_wipe(c);
		goto out;
	}
	rc = 0;
out:
	if (plain != NULL) {
		crypto_wipe(plain, cap + 1);
		free(plain);
	}
	if (o != NULL) {
		/* the parsed copies of the secrets live in o */
		json_object_object_get_ex(o, "sk", &v);
		if (v != NULL)
			crypto_wipe((char *)(uintptr_t)json_object_get_string(v),
			    (size_t)json_object_get_string_len(v));
		json_object_put(o);
	}
	free(sealed);
	return rc;
}

static void
study_wipe_str(char **s)
{
	if (*s != NULL) {
		crypto_wipe(*s, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

void
study_creds_wipe(struct study_creds *c)
{
	study_wipe_str(&c->sc_ak);
	study_wipe_str(&c->sc_sk);
	study_wipe_str(&c->sc_sts);
}
