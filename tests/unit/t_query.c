/* t_query.c -- strict decoding of URL query strings (query_get) */
#include <stdio.h>
#include <string.h>

#include "query.h"
#include "tap.h"

static char		 val[256];
static const char	*why;

/* query_get into val (64 bytes unless outlen says otherwise). */
static int
get(const char *qs, const char *name, size_t outlen)
{
	memset(val, 'X', sizeof(val));
	why = NULL;
	return query_get(qs, name, val, outlen ? outlen : 64, &why);
}

static void
found(const char *qs, const char *name, const char *want)
{
	int	rc = get(qs, name, 0);

	tap_ok(rc == 1 && strcmp(val, want) == 0,
	    "'%s': %s is '%s'", qs, name, want);
	if (rc != 1 || strcmp(val, want) != 0)
		printf("#   rc %d, value '%.64s', why %s\n", rc,
		    rc == 1 ? val : "", why ? why : "(null)");
}

static void
absent(const char *qs, const char *name)
{
	int	rc = get(qs, name, 0);

	tap_ok(rc == 0, "'%s': no %s", qs, name);
	if (rc != 0)
		printf("#   rc %d, why %s\n", rc, why ? why : "(null)");
}

static void
refused(const char *qs, const char *name, size_t outlen, const char *want)
{
	int	rc = get(qs, name, outlen);

	tap_ok(rc == -1 && why != NULL && strstr(why, want) != NULL,
	    "'%s': refused (%s)", qs, want);
	if (rc != -1 || why == NULL || strstr(why, want) == NULL)
		printf("#   rc %d, why %s\n", rc, why ? why : "(null)");
}

static void
test_found(void)
{
	found("a=1&b=2", "a", "1");
	found("a=1&b=2", "b", "2");
	found("studyInstanceUid=1.2.840%2C5&studyType=4",
	    "studyInstanceUid", "1.2.840,5");
	found("q=a+b%20c", "q", "a b c");
	found("q=%2B%25%26%3D", "q", "+%&=");
	found("q=%e5%9b%be", "q", "\xe5\x9b\xbe");		/* U+56FE */
	found("q=%22quoted%22%5Cback%c3%a9", "q", "\"quoted\"\\back\xc3\xa9");
	found("a=1&&b=2", "b", "2");			/* empty piece */
	found("&a=1&", "a", "1");
	found("a", "a", "");				/* no '=' */
	found("a=", "a", "");
	found("a=x=y", "a", "x=y");			/* first '=' splits */
	found("st%75dyType=4", "studyType", "4");	/* the name decoded */
	found("A=1&a=2", "a", "2");			/* names are exact */
	/* a value that just fits: outlen - 1 bytes */
	tap_ok(get("q=abcdefg", "q", 8) == 1 && strcmp(val, "abcdefg") == 0,
	    "a value of outlen - 1 bytes fits");
}

static void
test_absent(void)
{
	absent("", "a");
	absent("b=1", "a");
	absent("ab=1&ba=2", "a");
	absent("a%00=1", "a");	/* "a\0" is not "a" */
	tap_ok(get("b=1", "a", 0) == 0 && val[0] == 'X',
	    "an absent name leaves out alone");
}

static void
test_refused(void)
{
	refused("a=1&a=2", "a", 0, "twice");
	refused("a=1&b=2&a=1", "a", 0, "twice");
	refused("a=%4", "a", 0, "malformed");
	refused("a=%zz", "a", 0, "malformed");
	refused("a=%", "a", 0, "malformed");
	refused("a=abcdefgh", "a", 8, "too long");
	refused("a=%00", "a", 0, "NUL");
	refused("a=x%00y", "a", 0, "NUL");
	refused("a=%0a", "a", 0, "control");
	refused("a=%7f", "a", 0, "control");
	refused("a=%ff", "a", 0, "UTF-8");
	refused("a=%c3", "a", 0, "UTF-8");		/* cut short */
	refused("a=%c0%af", "a", 0, "UTF-8");		/* overlong '/' */
	refused("a=%ed%a0%80", "a", 0, "UTF-8");	/* a surrogate */
	/* a malformed name anywhere spoils the query, even another's */
	refused("b%zz=1&a=1", "a", 0, "malformed");
}

int
main(void)
{
	test_found();
	test_absent();
	test_refused();
	return tap_done();
}
