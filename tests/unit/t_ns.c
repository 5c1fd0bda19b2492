/* t_ns.c -- namespace records: names, authentication, secrets, origins
 *
 * (Callback hosts, ns_callback_host_ok, are t_url's.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "crypto.h"
#include "ns.h"
#include "store.h"
#include "tap.h"

#define TOKEN	"tok-0123456789abcdef"
#define TOKEN2	"tok-fedcba9876543210"	/* as long as TOKEN */

static char			 dir[256];
static struct store		*s;
static struct crypto_keys	 keys, other;
static const unsigned char	 secret[NS_SECRET_LEN] = "0123456789abcdef"
				    "ghijklmnopqrstu";

static void
test_names(void)
{
	char	name[NS_NAME_MAX + 2];

	tap_ok(ns_name_check("hosp-a.B_9") == NULL,
	    "letters, digits, '.', '-' and '_' make a name");
	tap_ok(ns_name_check("") != NULL, "the empty name is refused");
	memset(name, 'n', sizeof(name));
	name[NS_NAME_MAX] = '\0';
	tap_ok(ns_name_check(name) == NULL, "a name of %d characters",
	    NS_NAME_MAX);
	name[NS_NAME_MAX] = 'n';
	name[NS_NAME_MAX + 1] = '\0';
	tap_ok(ns_name_check(name) != NULL, "one more is refused");
	tap_ok(ns_name_check("a b") != NULL && ns_name_check("a/b") != NULL &&
	    ns_name_check("a\nb") != NULL && ns_name_check("a:b") != NULL &&
	    ns_name_check("\xc3\xa9") != NULL,
	    "blank, '/', newline, ':' and UTF-8 are refused");
}

static void
test_precheck(void)
{
	char	msg[256], tok[NS_TOKEN_MAX + 2];

	tap_ok(ns_auth_precheck("hosp-a", TOKEN, msg, sizeof(msg)) == RC_OK,
	    "precheck: a name and a token pass");
	tap_ok(ns_auth_precheck(NULL, TOKEN, msg, sizeof(msg)) == RC_AUTH &&
	    strstr(msg, "namespace header is missing") != NULL,
	    "no namespace header: RC_AUTH, said");
	tap_ok(ns_auth_precheck("", TOKEN, msg, sizeof(msg)) == RC_AUTH,
	    "an empty namespace header: RC_AUTH");
	tap_ok(ns_auth_precheck("hosp-a", NULL, msg, sizeof(msg)) == RC_AUTH &&
	    strstr(msg, "tokenId header is missing") != NULL,
	    "no tokenId header: RC_AUTH, said");
	tap_ok(ns_auth_precheck("hosp a", TOKEN, msg, sizeof(msg)) == RC_AUTH &&
	    strstr(msg, "unknown namespace or wrong tokenId") != NULL,
	    "a name that cannot be one: the message of a wrong token");
	memset(tok, 't', sizeof(tok));
	tok[NS_TOKEN_MAX] = '\0';
	tap_ok(ns_auth_precheck("hosp-a", tok, msg, sizeof(msg)) == RC_OK,
	    "a token of NS_TOKEN_MAX characters passes");
	tok[NS_TOKEN_MAX] = 't';
	tok[NS_TOKEN_MAX + 1] = '\0';
	tap_ok(ns_auth_precheck("hosp-a", tok, msg, sizeof(msg)) == RC_AUTH,
	    "one longer is refused");
}

/* ns_auth_verify of token against rec as stored (NULL: no namespace). */
static enum rc
verify(const char *ns, const char *token, json_object *rec, char *msg,
    size_t msglen, int *gotrec)
{
	const char	*raw = NULL;
	json_object	*out = NULL;
	enum rc		 rc;

	if (rec != NULL)
		raw = json_object_to_json_string_ext(rec, JSON_C_TO_STRING_PLAIN);
	rc = ns_auth_verify(&keys, ns, token, raw, raw ? strlen(raw) : 0,
	    &out, msg, msglen);
	*gotrec = out != NULL;
	json_object_put(out);
	return rc;
}

static void
test_verify(void)
{
	json_object	*rec;
	char		 msg[256], unknown[256], wrong[256];
	int		 got;

	rec = ns_record_new(&keys, "hosp-a", TOKEN, 0, secret);
	tap_ok(rec != NULL, "ns_record_new");
	if (rec == NULL)
		return;
	tap_ok(strstr(json_object_to_json_string(rec), TOKEN) == NULL,
	    "the record does not hold the token itself");
	tap_ok(verify("hosp-a", TOKEN, rec, msg, sizeof(msg), &got) == RC_OK &&
	    got, "the right token: RC_OK and the record");
	tap_ok(verify("hosp-a", TOKEN, rec, msg, sizeof(msg), &got) == RC_OK &&
	    got, "  ... again (the thread's cache)");
	tap_ok(verify("hosp-a", TOKEN2, rec, wrong, sizeof(wrong), &got) ==
	    RC_AUTH && !got, "a wrong token of the same length: RC_AUTH, no "
	    "record (not taken from the cache)");
	tap_ok(verify("hosp-a", "tok", rec, msg, sizeof(msg), &got) ==
	    RC_AUTH, "a wrong shorter token: RC_AUTH");
	tap_ok(verify("hosp-x", TOKEN, NULL, unknown, sizeof(unknown), &got) ==
	    RC_AUTH && !got, "no such namespace: RC_AUTH");
	TAP_STREQ(unknown, wrong, "  ... with the message of a wrong token");

	/* rotate: the old token stops working at once, the new one works */
	ns_record_set_token(rec, &keys, TOKEN2, 0);
	tap_ok(verify("hosp-a", TOKEN, rec, msg, sizeof(msg), &got) ==
	    RC_AUTH, "after a rotation the old token is refused, though "
	    "cached");
	tap_ok(verify("hosp-a", TOKEN2, rec, msg, sizeof(msg), &got) == RC_OK,
	    "  ... and the new one is accepted");

	/* disabled */
	json_object_object_add(rec, "disabled", json_object_new_boolean(1));
	tap_ok(verify("hosp-a", TOKEN2, rec, msg, sizeof(msg), &got) ==
	    RC_AUTH && !got && strstr(msg, "disabled") != NULL,
	    "a disabled namespace: RC_AUTH, said (%s)", msg);
	json_object_object_add(rec, "disabled", json_object_new_boolean(0));
	tap_ok(verify("hosp-a", TOKEN2, rec, msg, sizeof(msg), &got) == RC_OK,
	    "enabled again: RC_OK");

	/* a record that is not JSON */
	{
		json_object *out = NULL;

		tap_ok(ns_auth_verify(&keys, "hosp-a", TOKEN2, "{nope", 5, &out,
		    msg, sizeof(msg)) == RC_INTERNAL && out == NULL,
		    "an unreadable record: RC_INTERNAL");
	}
	ns_cache_clear();
	tap_ok(verify("hosp-a", TOKEN2, rec, msg, sizeof(msg), &got) == RC_OK,
	    "after ns_cache_clear the token is checked anew: RC_OK");
	json_object_put(rec);
	ns_cache_clear();
}

static void
test_secret(void)
{
	json_object	*rec;
	char		 out[80], b64[64], small[50];

	rec = ns_record_new(&keys, "hosp-s", TOKEN, 1, secret);
	if (rec == NULL) {
		tap_ok(0, "ns_record_new");
		return;
	}
	tap_ok(strstr(json_object_to_json_string(rec), "0123456789abcdef") ==
	    NULL, "the record does not hold the secret in clear");
	crypto_b64_encode(secret, sizeof(secret), b64);
	tap_ok(ns_record_secret(rec, &keys, out, sizeof(out)) == 0 &&
	    strncmp(out, "whsec_", 6) == 0 && strcmp(out + 6, b64) == 0,
	    "ns_record_secret: whsec_ and the secret's base64");
	tap_ok(ns_record_secret(rec, &other, out, sizeof(out)) == -1,
	    "under another key file: -1");
	tap_ok(ns_record_secret(rec, &keys, small, sizeof(small)) == -1,
	    "an output buffer too small: -1");
	/* the name is bound in: a record copied to another name fails */
	json_object_object_add(rec, "name", json_object_new_string("hosp-t"));
	tap_ok(ns_record_secret(rec, &keys, out, sizeof(out)) == -1,
	    "the sealed secret under another namespace name: -1");
	json_object_object_add(rec, "name", json_object_new_string("hosp-s"));
	json_object_object_add(rec, "secret", json_object_new_string("AAAA"));
	tap_ok(ns_record_secret(rec, &keys, out, sizeof(out)) == -1,
	    "a secret field of the wrong length: -1");
	json_object_put(rec);
}

static void
test_token_new(void)
{
	char	a[64], b[64];
	size_t	i;
	int	ok = 1;

	tap_ok(ns_token_new(a, sizeof(a)) == 0 && ns_token_new(b, sizeof(b)) ==
	    0 && strcmp(a, b) != 0, "two fresh tokens differ");
	for (i = 0; a[i] != '\0'; i++)
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789-_", a[i]) == NULL)
			ok = 0;
	tap_ok(ok && strlen(a) == 43, "43 characters of base64url, no "
	    "padding (%s)", a);
	tap_ok(ns_token_new(a, 43) == -1, "43 bytes of room: -1");
}

static void
test_origins_ok(void)
{
	json_object	*rec = json_object_new_object(), *list;

	tap_ok(ns_origin_ok(rec, "https://pacs.example") == 0,
	    "no origins: none allowed");
	list = json_object_new_array();
	json_object_array_add(list, json_object_new_string(
	    "https://pacs.example"));
	json_object_object_add(rec, "origins", list);
	tap_ok(ns_origin_ok(rec, "https://pacs.example") == 1,
	    "a listed origin is allowed");
	tap_ok(ns_origin_ok(rec, "https://PACS.example") == 0 &&
	    ns_origin_ok(rec, "https://pacs.example:443") == 0 &&
	    ns_origin_ok(rec, "http://pacs.example") == 0 &&
	    ns_origin_ok(rec, "https://pacs.example.evil") == 0,
	    "others are not (the origin is compared exactly)");
	tap_ok(ns_origin_ok(rec, NULL) == 0 && ns_origin_ok(NULL, "x") == 0,
	    "no origin, no record: not allowed");
	json_object_put(rec);
}

/* A step of test_index, in one transaction. */
static struct {
	const char	*name;
	json_object	*old, *rec;
} ix;

static int
index_body(struct store_txn *t, void *arg)
{
	(void)arg;
	return ns_origins_index(t, ix.name, ix.old, ix.rec);
}

static json_object *
with_origins(const char *a, const char *b)
{
	json_object *rec = json_object_new_object(), *l = json_object_new_array();

	if (a != NULL)
		json_object_array_add(l, json_object_new_string(a));
	if (b != NULL)
		json_object_array_add(l, json_object_new_string(b));
	json_object_object_add(rec, "origins", l);
	return rec;
}

static void
test_index(void)
{
	json_object	*a1 = with_origins("https://a.example", NULL);
	json_object	*a2 = with_origins("https://b.example", NULL);
	json_object	*b1 = with_origins("https://b.example",
			    "https://c.example");

	tap_ok(ns_origin_any(s, "https://a.example") == 0,
	    "an empty index allows no origin");
	ix.name = "hosp-a";
	ix.old = NULL;
	ix.rec = a1;
	tap_ok(store_txn(s, index_body, NULL) == STORE_OK,
	    "index a new namespace's origins");
	tap_ok(ns_origin_any(s, "https://a.example") == 1,
	    "  ... its origin is allowed for some namespace");
	tap_ok(ns_origin_any(s, "https://a.exampl") == 0 &&
	    ns_origin_any(s, "https://a.example.evil") == 0 &&
	    ns_origin_any(s, "https://a.example/") == 0,
	    "  ... and no prefix or extension of it");
	ix.name = "hosp-b";
	ix.old = NULL;
	ix.rec = b1;
	store_txn(s, index_body, NULL);
	ix.name = "hosp-a";
	ix.old = a1;
	ix.rec = a2;
	tap_ok(store_txn(s, index_body, NULL) == STORE_OK &&
	    ns_origin_any(s, "https://a.example") == 0 &&
	    ns_origin_any(s, "https://b.example") == 1,
	    "a changed record: the old origin gone, the new one in");
	ix.name = "hosp-b";
	ix.old = b1;
	ix.rec = NULL;
	tap_ok(store_txn(s, index_body, NULL) == STORE_OK &&
	    ns_origin_any(s, "https://c.example") == 0 &&
	    ns_origin_any(s, "https://b.example") == 1,
	    "a namespace's origins removed: one still listed by another "
	    "stays allowed");
	tap_ok(ns_origin_any(s, "") == 0 && ns_origin_any(s, NULL) == 0,
	    "no origin: not allowed");
	json_object_put(a1);
	json_object_put(a2);
	json_object_put(b1);
}

int
main(void)
{
	unsigned char	 master[CRYPTO_KEYLEN];
	char		 err[256];

	if (tap_tmpdir(dir, sizeof(dir), "t_ns") == -1)
		return 1;
	memset(master, 7, sizeof(master));
	crypto_keys_derive(master, &keys);
	memset(master, 8, sizeof(master));
	crypto_keys_derive(master, &other);
	if (store_open(dir, STORE_CREATE, &s, err, sizeof(err)) == -1) {
		printf("Bail out! store_open: %s\n", err);
		return 1;
	}
	test_names();
	test_precheck();
	test_verify();
	test_secret();
	test_token_new();
	test_origins_ok();
	test_index();
	store_close(s);
	crypto_keys_wipe(&keys);
	crypto_keys_wipe(&other);
	tap_tmpdir_done(dir);
	return tap_done();
}
