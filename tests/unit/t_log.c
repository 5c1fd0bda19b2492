/* t_log.c -- log lines: what callers send (uids, engines' messages) is escaped */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "tap.h"

static char	dir[256];

static void
esc(const char *in, const char *want, const char *name)
{
	char	out[256];
	size_t	n = log_escape(out, sizeof(out), in);

	TAP_STREQ(out, want, name);
	tap_ok(n == strlen(out), "%s: the length returned", name);
}

static void
test_escape(void)
{
	char	out[64], big[600];
	size_t	i;
	int	ascii;

	esc("study 1.2.3: 4 images", "study 1.2.3: 4 images",
	    "printable ASCII is kept");
	esc("a\nb\r\tc\x7f", "a\\x0ab\\x0d\\x09c\\x7f",
	    "newline, CR, tab, DEL: \\xNN (one line, no forged ones)");
	esc("uid\xe2\x80\xa8x\xe2\x80\xa9", "uid\\u{2028}x\\u{2029}",
	    "U+2028 and U+2029 (line breaks to JavaScript)");
	esc("\xf0\x9f\x98\x80 \xc3\xa9 \xe3\x80\x82", "\\u{1f600} \\u{e9} "
	    "\\u{3002}", "emoji, accented letter, ideographic full stop");
	esc("\xff\xc0\xaf\xed\xa0\x80", "\\xff\\xc0\\xaf\\xed\\xa0\\x80",
	    "invalid UTF-8 (stray byte, overlong, surrogate): byte by byte");
	esc("\xe2\x80", "\\xe2\\x80", "a sequence cut short: byte by byte");
	esc("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80",
	    "above U+10FFFF: byte by byte");
	esc("C:\\x0a", "C:\\\\x0a",
	    "a backslash is doubled, so text cannot pass for an escape");
	esc("", "", "empty");

	/* cut: never half an escape, and says so */
	memset(big, 0, sizeof(big));
	for (i = 0; i + 3 < sizeof(big) - 1; i += 3)
		memcpy(big + i, "\xe2\x80\xa8", 3);
	log_escape(out, sizeof(out), big);
	tap_ok(strlen(out) < sizeof(out) && strlen(out) >= 3 &&
	    strcmp(out + strlen(out) - 3, "...") == 0,
	    "a long line is cut and ends in ... (%s)", out);
	tap_ok(strncmp(out, "\\u{2028}\\u{2028}", 16) == 0 &&
	    (strlen(out) - 3) % 8 == 0,
	    "after whole escapes only");
	log_escape(out, 3, "abcdef");
	TAP_STREQ(out, "", "too small for anything but ...: empty");
	log_escape(out, 8, "abcdefgh");
	TAP_STREQ(out, "abcd...", "cut to fit with ...");
	log_escape(out, 9, "abcdefgh");
	TAP_STREQ(out, "abcdefgh", "exactly fitting: not cut");

	/* every byte value */
	for (i = 1; i < 256; i++)
		big[i - 1] = (char)i;
	big[255] = '\0';
	{
		char	all[4 * 256];

		log_escape(all, sizeof(all), big);
		ascii = 1;
		for (i = 0; all[i] != '\0'; i++)
			if ((unsigned char)all[i] < 0x20 ||
			    (unsigned char)all[i] >= 0x7f)
				ascii = 0;
		tap_ok(ascii && strlen(all) < sizeof(all),
		    "bytes 1..255: printable ASCII out, within 4 a byte");
	}
}

/* The line as written: log_warnx to standard error, read back. */
static void
test_line(void)
{
	char	path[300], buf[4096];
	FILE	*f;
	size_t	n, i;
	int	fd, saved, ascii = 1, lines = 0;

	snprintf(path, sizeof(path), "%s/stderr", dir);
	fflush(stderr);
	saved = dup(2);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    dup2(fd, 2) == -1) {
		tap_ok(0, "redirect stderr to %s", path);
		return;
	}
	close(fd);
	log_init("t_log", 1);
	log_warnx("study %s: listing", "1.2\xe2\x80\xa8" "forged: line\n"
	    "\xf0\x9f\x98\x80");
	fflush(stderr);
	dup2(saved, 2);
	close(saved);

	if ((f = fopen(path, "r")) == NULL) {
		tap_ok(0, "open %s", path);
		return;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (i = 0; i < n; i++) {
		if (buf[i] == '\n')
			lines++;
		else if ((unsigned char)buf[i] < 0x20 ||
		    (unsigned char)buf[i] >= 0x7f)
			ascii = 0;
	}
	tap_ok(ascii, "the written line holds printable ASCII only: %s", buf);
	tap_ok(lines == 1 && n > 0 && buf[n - 1] == '\n',
	    "one line, ended by its newline");
	tap_ok(strstr(buf, "t_log: study 1.2\\u{2028}forged: line\\x0a"
	    "\\u{1f600}: listing") != NULL, "the uid escaped in place");
}

int
main(void)
{
	if (tap_tmpdir(dir, sizeof(dir), "t_log") == -1)
		return 1;
	test_escape();
	test_line();
	tap_tmpdir_done(dir);
	return tap_done();
}
