/* store_cmd.c -- mias-admin store check|backup|restore|upgrade */
#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "admin.h"
#include "audit.h"
#include "check.h"
#include "conf.h"
#include "crypto.h"
#include "store.h"

/* What a backup holds besides the store's files: written last, so that a
 * directory without it is no backup (one cut short). */
#define BACKUP_MANIFEST	"backup.json"
#define DISPATCHER_LOCK	"dispatcher.lock"

static void __attribute__((format(printf, 2, 3)))
store_warnx(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mias-admin: store %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
}

/* Prefixes of the lines told by the store's checks (say_line's arg). */
static char	pfx_verify[] = "verify: ", pfx_none[] = "";

static void
say_line(void *arg, const char *line)
{
	printf("%s%s\n", (const char *)arg, line);
}

static int
path_in(char *buf, size_t len, const char *dir, const char *name)
{
	if ((size_t)snprintf(buf, len, "%s/%s", dir, name) >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* The files of a store besides its databases: Berkeley DB's log files. */
static int
is_log_file(const char *name)
{
	return strncmp(name, "log.", 4) == 0 && strlen(name) == 14 &&
	    strspn(name + 4, "0123456789") == 10;
}

static int
is_store_db(const char *name)
{
	int i;

	for (i = 0; i < SDB__MAX; i++)
		if (strcmp(name, store_file(i)) == 0)
			return 1;
	return 0;
}

/* Removes a directory of plain files (a snapshot of ours). */
static void
remove_flat_dir(const char *dir)
{
	char		 path[PATH_MAX];
	DIR		*dp;
	struct dirent	*de;

	if ((dp = opendir(dir)) != NULL) {
		while ((de = readdir(dp)) != NULL)
			if (strcmp(de->d_name, ".") != 0 &&
			    strcmp(de->d_name, "..") != 0 &&
			    path_in(path, sizeof(path), dir, de->d_name) == 0)
				unlink(path);
		closedir(dp);
	}
	rmdir(dir);
}

/* Copies name from one directory to another (created exclusively, with
 * mode), up to its last newline when lines, and flushes it.  0 or -1 with
 * errno. */
static int
copy_file(const char *from, const char *to, const char *name, int lines,
    mode_t mode)
{
	char	 src[PATH_MAX], dst[PATH_MAX], buf[65536];
	ssize_t	 n;
	off_t	 keep = 0, total = 0;
	int	 in, out = -1, rc = -1, saved;

	if (path_in(src, sizeof(src), from, name) == -1 ||
	    path_in(dst, sizeof(dst), to, name) == -1)
		return -1;
	if ((in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -1;
	if ((out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, mode)) == -1 || fchmod(out, mode) == -1)
		goto out;	/* fchmod: whatever the umask took */
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if (write(out, buf, (size_t)n) != n)
			goto out;
		total += n;
		if (lines) {
			char *nl = memrchr(buf, '\n', (size_t)n);

			if (nl != NULL)
				keep = total - n + (nl - buf) + 1;
		}
	}
	/* a line being written as we read is left to the next backup */
	if (n == 0 && (!lines || ftruncate(out, keep) == 0) && fsync(out) == 0)
		rc = 0;
out:
	saved = errno;
	close(in);
	if (out != -1)
		close(out);
	errno = saved;
	return rc;
}

/* 1 when dir is missing or empty, 0 when it holds something, -1 */
static int
dir_empty(const char *dir)
{
	DIR		*dp;
	struct dirent	*de;
	int		 empty = 1;

	if ((dp = opendir(dir)) == NULL)
		return errno == ENOENT ? 1 : -1;
	while ((de = readdir(dp)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			empty = 0;
	closedir(dp);
	return empty;
}

/* The keys, in pages kept out of core dumps; NULL (told) on failure. */
static struct crypto_keys *
load_keys(const char *cmd, const struct mias_conf *c)
{
	struct crypto_keys	*k;
	char			 err[512];

	if ((k = crypto_keys_new()) == NULL) {
		store_warnx(cmd, "no memory kept out of core dumps for the keys");
		return NULL;
	}
	if (crypto_keys_load(c->c_key_file, k, err, sizeof(err)) == -1) {
		store_warnx(cmd, "%s", err);
		crypto_keys_free(k);
		return NULL;
	}
	return k;
}

/* As root, the state directory's owner (what we create is theirs); then
 * a user of the store, or refused (told). */
static int
become_user(const char *cmd, const char *dir)
{
	char err[768];

	if (store_become_owner(dir, err, sizeof(err)) == -1 ||
	    store_check_owner(dir, err, sizeof(err)) == -1) {
		store_warnx(cmd, "%s", err);
		return -1;
	}
	return 0;
}

static int
open_store(const char *cmd, const struct mias_conf *c, int flags,
    struct store **s)
{
	char err[768];

	if (become_user(cmd, c->c_state_dir) == -1)
		return -1;
	store_on_stall(admin_stalled);
	if (store_open(c->c_state_dir, flags, s, err, sizeof(err)) == -1) {
		store_warnx(cmd, "%s", err);
		return -1;
	}
	return 0;
}

/*
 * A gateway runs on the state directory when the dispatcher holds its
 * lock, or when any process (a responder, the dispatcher, another
 * mias-admin) has the environment open.  On success the dispatcher's lock
 * is held (its descriptor in *lockfd) so that none starts meanwhile.
 * 0 stopped, -1 running or unknown (told).
 */
static int
gateway_stopped(const char *cmd, const char *dir, int *lockfd)
{
	char	path[PATH_MAX], err[512];
	int	fd, rc;

	*lockfd = -1;
	if (path_in(path, sizeof(path), dir, DISPATCHER_LOCK) == -1 ||
	    (fd = store_file_open(dir, path, O_RDWR | O_CLOEXEC |
	    O_NOFOLLOW)) == -1) {
		store_warnx(cmd, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		store_warnx(cmd, "a mias-dispatcher runs on %s: stop it "
		    "first, and the web server's mias responders", dir);
		close(fd);
		return -1;
	}
	if ((rc = store_in_use(dir, err, sizeof(err))) != 0) {
		if (rc == -1)
			store_warnx(cmd, "%s", err);
		else
			store_warnx(cmd, "processes still have the store in %s "
			    "open (the web server's mias responders?): stop "
			    "them first", dir);
		close(fd);
		return -1;
	}
	*lockfd = fd;
	return 0;
}

/* mias-admin store check [--repair]: 0 clean, 1 problems, 2 not checked */
static int
store_check(const struct mias_conf *c, int repair)
{
	struct check_report	 cr;
	struct store		*s;
	char			 snap[PATH_MAX], err[512];
	int			 bad, rc;

	if (open_store("check", c, 0, &s) == -1)
		return 2;
	/* Berkeley DB's verify takes no locks: it reads a consistent copy
	 * of the store (a backup of it, recovered), never the files the
	 * gateway is writing */
	if (path_in(snap, sizeof(snap), c->c_state_dir, "check.XXXXXX") == -1 ||
	    mkdtemp(snap) == NULL) {
		store_warnx("check", "%s: %s", c->c_state_dir, strerror(errno));
		store_close(s);
		return 2;
	}
	if (store_backup(s, snap) == -1) {
		store_warnx("check", "copy for verify: %s", store_errmsg(s));
		remove_flat_dir(snap);
		store_close(s);
		return 2;
	}
	bad = store_verify(snap, say_line, pfx_verify, err, sizeof(err));
	remove_flat_dir(snap);
	if (bad == -1) {
		store_warnx("check", "verify: %s", err);
		store_close(s);
		return 2;
	}
	memset(&cr, 0, sizeof(cr));
	rc = check_store(s, repair, say_line, pfx_none, &cr);
	if (rc == -1) {
		store_warnx("check", "%s", store_errmsg(s));
		store_close(s);
		return 2;
	}
	printf("databases: %d of %d failed verify; invariants: %lu studies, "
	    "%lu queue items read, %lu problems, %lu repaired\n", bad,
	    SDB__MAX, cr.cr_studies, cr.cr_items, cr.cr_problems,
	    cr.cr_repaired);
	if (bad > 0)
		printf("a database that fails verify: restore the last backup "
		    "('mias-admin store restore DIR')\n");
	store_close(s);
	return bad > 0 || rc == 1 ? 1 : 0;
}

static int
write_manifest(const char *dir, json_object *m)
{
	char		 tmp[PATH_MAX], path[PATH_MAX];
	const char	*txt;
	size_t		 len;
	int		 fd, rc = -1;

	if (path_in(tmp, sizeof(tmp), dir, BACKUP_MANIFEST ".tmp") == -1 ||
	    path_in(path, sizeof(path), dir, BACKUP_MANIFEST) == -1)
		return -1;
	txt = json_object_to_json_string_ext(m, JSON_C_TO_STRING_PRETTY |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	len = strlen(txt);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1)
		return -1;
	if (write(fd, txt, len) == (ssize_t)len && write(fd, "\n", 1) == 1 &&
	    fsync(fd) == 0)
		rc = 0;
	close(fd);
	if (rc == 0 && rename(tmp, path) == -1)
		rc = -1;
	return rc == 0 ? store_fsync_dir(dir) : -1;
}

/* mias-admin store backup DIR */
static int
store_backup_cmd(const struct mias_conf *c, const char *dir)
{
	struct crypto_keys	*k;
	struct store		*s;
	struct stat		 st;
	json_object		*m;
	char			 path[PATH_MAX];
	int			 format, audit = 0, rc = 1;

	switch (dir_empty(dir)) {
	case 1:
		break;
	case 0:
		store_warnx("backup", "%s is not empty: give a new directory",
		    dir);
		return 1;
	default:
		store_warnx("backup", "%s: %s", dir, strerror(errno));
		return 1;
	}
	if ((k = load_keys("backup", c)) == NULL)
		return 1;
	/* as root, made before we become the store's owner, for the owner:
	 * its parent need not be theirs */
	if (geteuid() == 0 && stat(c->c_state_dir, &st) == 0 &&
	    mkdir(dir, 0700) == 0 && chown(dir, st.st_uid, st.st_gid) == -1) {
		store_warnx("backup", "%s: %s", dir, strerror(errno));
		crypto_keys_free(k);
		return 1;
	}
	if (open_store("backup", c, 0, &s) == -1) {
		crypto_keys_free(k);
		return 1;
	}
	if (store_format(s, &format) == -1 || store_backup(s, dir) == -1) {
		store_warnx("backup", "%s", store_errmsg(s));
		goto out;
	}
	/* the audit trail as far as its last whole line */
	if (path_in(path, sizeof(path), c->c_state_dir, AUDIT_FILE) == 0 &&
	    stat(path, &st) == 0) {
		if (copy_file(c->c_state_dir, dir, AUDIT_FILE, 1, 0600) == -1) {
			store_warnx("backup", "%s: %s", path, strerror(errno));
			goto out;
		}
		audit = 1;
	}
	m = json_object_new_object();
	json_object_object_add(m, "v", json_object_new_int(1));
	json_object_object_add(m, "mias", json_object_new_string(
	    PACKAGE_VERSION));
	json_object_object_add(m, "format", json_object_new_int(format));
	json_object_object_add(m, "created",
	    json_object_new_int64(store_now_ms()));
	json_object_object_add(m, "stateDir",
	    json_object_new_string(c->c_state_dir));
	json_object_object_add(m, "keyFingerprint",
	    json_object_new_string(k->ck_print));
	json_object_object_add(m, "auditLog", json_object_new_boolean(audit));
	if (write_manifest(dir, m) == -1) {
		store_warnx("backup", "%s/%s: %s", dir, BACKUP_MANIFEST,
		    strerror(errno));
		json_object_put(m);
		goto out;
	}
	json_object_put(m);
	printf("backup of %s in %s: store format %d, audit log %s\n"
	    "key fingerprint %s (the key file is not in the backup: keep a "
	    "copy of %s apart from it)\n", c->c_state_dir, dir, format,
	    audit ? "included" : "none", k->ck_print, c->c_key_file);
	rc = 0;
out:
	store_close(s);
	crypto_keys_free(k);
	return rc;
}

static json_object *
read_manifest(const char *dir)
{
	char path[PATH_MAX];

	if (path_in(path, sizeof(path), dir, BACKUP_MANIFEST) == -1)
		return NULL;
	return json_object_from_file(path);
}

/* Makes the directory named in buf, or buf with "-2", "-3"... appended
 * when one of that name (a restore in the same second) exists. */
static int
make_aside(char *buf, size_t len)
{
	size_t	base = strlen(buf);
	int	i;

	for (i = 1; i < 100; i++) {
		if (i > 1 && (size_t)snprintf(buf + base, len - base, "-%d",
		    i) >= len - base) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (mkdir(buf, 0700) == 0)
			return 0;
		if (errno != EEXIST)
			return -1;
	}
	return -1;
}

/* Moves what is there of an earlier store into a directory of its own in
 * the state directory; nothing is deleted.  0 or -1 (told). */
static int
move_aside(const char *dir)
{
	char		 aside[PATH_MAX], from[PATH_MAX], to[PATH_MAX];
	char		 stamp[32];
	time_t		 now = time(NULL);
	struct tm	 tm;
	DIR		*dp;
	struct dirent	*de;
	int		 made = 0, rc = 0;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "pre-restore-%Y%m%dT%H%M%SZ", &tm);
	if (path_in(aside, sizeof(aside), dir, stamp) == -1 ||
	    (dp = opendir(dir)) == NULL) {
		store_warnx("restore", "%s: %s", dir, strerror(errno));
		return -1;
	}
	while (rc == 0 && (de = readdir(dp)) != NULL) {
		if (!is_store_db(de->d_name) && !is_log_file(de->d_name) &&
		    strncmp(de->d_name, "__db.", 5) != 0 &&
		    strcmp(de->d_name, AUDIT_FILE) != 0)
			continue;
		if (!made && make_aside(aside, sizeof(aside)) == -1) {
			store_warnx("restore", "%s: %s", aside, strerror(errno));
			rc = -1;
			break;
		}
		made = 1;
		if (path_in(from, sizeof(from), dir, de->d_name) == -1 ||
		    path_in(to, sizeof(to), aside, de->d_name) == -1 ||
		    rename(from, to) == -1) {
			store_warnx("restore", "%s: %s", from, strerror(errno));
			rc = -1;
		}
	}
	closedir(dp);
	if (rc == 0 && made)
		printf("the store that was in %s is now in %s\n", dir, aside);
	return rc;
}

/* Copies the store's files from a backup: databases, log files, the
 * audit trail, with the mode of the store's files (group read-write in a
 * store two users share).  0 or -1 (told). */
static int
copy_backup(const char *bdir, const char *dir)
{
	DIR		*dp;
	struct dirent	*de;
	mode_t		 mode = store_file_mode(dir);
	int		 n = 0, rc = 0;

	if ((dp = opendir(bdir)) == NULL) {
		store_warnx("restore", "%s: %s", bdir, strerror(errno));
		return -1;
	}
	while (rc == 0 && (de = readdir(dp)) != NULL) {
		if (!is_store_db(de->d_name) && !is_log_file(de->d_name) &&
		    strcmp(de->d_name, AUDIT_FILE) != 0)
			continue;
		if (copy_file(bdir, dir, de->d_name, 0, mode) == -1) {
			store_warnx("restore", "%s/%s: %s", bdir, de->d_name,
			    strerror(errno));
			rc = -1;
		}
		n += is_store_db(de->d_name);
	}
	closedir(dp);
	if (rc == 0 && n == 0) {
		store_warnx("restore", "%s holds no database", bdir);
		rc = -1;
	}
	return rc == 0 ? store_fsync_dir(dir) : rc;
}

/* mias-admin store restore DIR [--force] */
static int
store_restore_cmd(const struct mias_conf *c, const char *bdir, int force)
{
	struct crypto_keys	*k;
	struct store		*s;
	struct stat		 st;
	json_object		*m, *v;
	const char		*print = NULL;
	char			 err[768];
	int			 format = 0, lock = -1, rc = 1;

	if ((m = read_manifest(bdir)) == NULL) {
		store_warnx("restore", "%s/%s: missing or unreadable: not a "
		    "backup made by 'mias-admin store backup', or one cut "
		    "short", bdir, BACKUP_MANIFEST);
		return 1;
	}
	if (json_object_object_get_ex(m, "format", &v) &&
	    json_object_is_type(v, json_type_int))
		format = json_object_get_int(v);
	if (json_object_object_get_ex(m, "keyFingerprint", &v))
		print = json_object_get_string(v);
	/* the manifest is read as any outside input: a fingerprint is 64
	 * hex digits, nothing else is printed back */
	if (format < 1 || print == NULL || strlen(print) != 64 ||
	    strspn(print, "0123456789abcdef") != 64) {
		store_warnx("restore", "%s/%s: not a valid manifest", bdir,
		    BACKUP_MANIFEST);
		json_object_put(m);
		return 1;
	}
	if (format > STORE_FORMAT) {
		store_warnx("restore", "the backup holds a store in format %d, "
		    "newer than this program's (%d): restore it with the "
		    "release that made it", format, STORE_FORMAT);
		json_object_put(m);
		return 1;
	}
	if ((k = load_keys("restore", c)) == NULL) {
		json_object_put(m);
		return 1;
	}
	if (strcmp(print, k->ck_print) != 0) {
		if (!force) {
			store_warnx("restore", "the backup was made under "
			    "another key (fingerprint %s; the key file %s has "
			    "%s).  Install the key file of the backup, or "
			    "give --force to restore without it: the OSS "
			    "credentials of queued studies and the "
			    "namespaces' signing secrets would be lost", print,
			    c->c_key_file, k->ck_print);
			goto out;
		}
		printf("restoring under another key (--force): sealed "
		    "credentials and signing secrets of the backup cannot "
		    "be opened\n");
	}
	/* a missing state directory: made as init makes it for one user;
	 * root leaves that to init, which knows whose it must be */
	if (stat(c->c_state_dir, &st) == -1 && errno == ENOENT) {
		if (geteuid() == 0) {
			store_warnx("restore", "no state directory %s: run "
			    "'mias-admin init' first, which makes it for the "
			    "users of the store (restore moves the empty store "
			    "aside)", c->c_state_dir);
			goto out;
		}
		if (mkdir(c->c_state_dir, 0700) == -1 && errno != EEXIST) {
			store_warnx("restore", "%s: %s", c->c_state_dir,
			    strerror(errno));
			goto out;
		}
	}
	if (become_user("restore", c->c_state_dir) == -1 ||
	    gateway_stopped("restore", c->c_state_dir, &lock) == -1)
		goto out;
	if (move_aside(c->c_state_dir) == -1 ||
	    copy_backup(bdir, c->c_state_dir) == -1)
		goto out;
	if (store_recover_copy(c->c_state_dir, err, sizeof(err)) == -1) {
		store_warnx("restore", "%s", err);
		goto out;
	}
	/* an open checks the format, and upgrades where that is automatic */
	store_on_stall(admin_stalled);
	if (store_open(c->c_state_dir, 0, &s, err, sizeof(err)) == -1) {
		store_warnx("restore", "%s", err);
		goto out;
	}
	store_close(s);
	printf("restored %s into %s; start the dispatcher and the web "
	    "server again\n", bdir, c->c_state_dir);
	rc = 0;
out:
	if (lock != -1)
		close(lock);
	crypto_keys_free(k);
	json_object_put(m);
	return rc;
}

/* mias-admin store upgrade */
static int
store_upgrade_cmd(const struct mias_conf *c)
{
	struct store	*s;
	int		 before, after, lock = -1, rc = 1;

	if (become_user("upgrade", c->c_state_dir) == -1 ||
	    gateway_stopped("upgrade", c->c_state_dir, &lock) == -1)
		return 1;
	if (open_store("upgrade", c, STORE_ANYFORMAT, &s) == -1) {
		close(lock);
		return 1;
	}
	if (store_format(s, &before) == -1 ||
	    store_upgrade(s, say_line, pfx_none) == -1 ||
	    store_format(s, &after) == -1) {
		store_warnx("upgrade", "%s", store_errmsg(s));
		goto out;
	}
	if (before == after)
		printf("the store is in format %d, this program's: nothing to "
		    "do\n", after);
	else
		printf("the store was in format %d and is now in format %d\n",
		    before, after);
	rc = 0;
out:
	store_close(s);
	close(lock);
	return rc;
}

static void
store_usage(void)
{
	fprintf(stderr, "usage: mias-admin store check [--repair]\n"
	    "       mias-admin store backup DIR\n"
	    "       mias-admin store restore DIR [--force]\n"
	    "       mias-admin store upgrade\n");
}

int
admin_store(const struct mias_conf *c, int argc, char **argv)
{
	if (argc == 1 && strcmp(argv[0], "check") == 0)
		return store_check(c, 0);
	if (argc == 2 && strcmp(argv[0], "check") == 0 &&
	    strcmp(argv[1], "--repair") == 0)
		return store_check(c, 1);
	if (argc == 2 && strcmp(argv[0], "backup") == 0)
		return store_backup_cmd(c, argv[1]);
	if ((argc == 2 || argc == 3) && strcmp(argv[0], "restore") == 0) {
		if (argc == 3 && strcmp(argv[2], "--force") != 0) {
			store_usage();
			return 2;
		}
		return store_restore_cmd(c, argv[1], argc == 3);
	}
	if (argc == 1 && strcmp(argv[0], "upgrade") == 0)
		return store_upgrade_cmd(c);
	store_usage();
	return 2;
}
