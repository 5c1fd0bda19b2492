/* t_perm.c -- the store's permission model: one user, or two sharing a group */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "wake.h"
#include "tap.h"

static char	top[256];

/* Every entry of dir whose mode (permission bits) is not want, named in
 * bad; the number of entries looked at, or -1. */
static int
modes_all(const char *dir, mode_t want, char *bad, size_t badlen)
{
	char		 path[512];
	struct stat	 st;
	struct dirent	*de;
	DIR		*dp;
	int		 n = 0;

	bad[0] = '\0';
	if ((dp = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.' || strcmp(de->d_name, "tmp") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &st) == -1)
			continue;
		n++;
		if ((st.st_mode & 07777) != want) {
			size_t l = strlen(bad);

			snprintf(bad + l, badlen - l, "%s %03o ", de->d_name,
			    (unsigned)(st.st_mode & 07777));
		}
	}
	closedir(dp);
	return n;
}

/* Opens and closes the store in dir, and makes one file of our own and
 * the wake socket in it, all under umask um. */
static int
use_store(const char *dir, mode_t um, char *err, size_t errlen)
{
	struct store	*s;
	char		 path[512];
	mode_t		 old = umask(um);
	int		 fd, rc = -1;

	if (store_open(dir, 0, &s, err, errlen) == -1)
		goto out;
	store_close(s);
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	if ((fd = store_file_open(dir, path, O_WRONLY | O_APPEND)) == -1) {
		snprintf(err, errlen, "audit.log: %s", strerror(errno));
		goto out;
	}
	close(fd);
	if ((fd = wake_listen(dir)) == -1) {
		snprintf(err, errlen, "wake_listen: %s", strerror(errno));
		goto out;
	}
	close(fd);
	rc = 0;
out:
	umask(old);
	return rc;
}

static void
test_one_user(void)
{
	char	dir[300], err[512] = "", bad[2048];
	int	n;

	snprintf(dir, sizeof(dir), "%s/one", top);
	mkdir(dir, 0700);
	tap_ok(store_check_owner(dir, err, sizeof(err)) == 0,
	    "one user: the owner of a 0700 directory may use it");
	tap_ok(store_file_mode(dir) == 0600, "one user: files are 0600");
	tap_ok(use_store(dir, 0, err, sizeof(err)) == 0,
	    "one user: the store opens under umask 002 (%s)", err);
	n = modes_all(dir, 0600, bad, sizeof(bad));
	tap_ok(n > 15 && bad[0] == '\0', "one user: all %d files are 0600 "
	    "whatever the umask (%s)", n, bad);
}

static void
test_shared(void)
{
	char		dir[300], err[512] = "", bad[2048], path[400];
	struct stat	st;
	int		n;

	snprintf(dir, sizeof(dir), "%s/shared", top);
	mkdir(dir, 0700);
	/* our own group: chown to it needs no privilege */
	if (chown(dir, (uid_t)-1, getegid()) == -1 || chmod(dir, 02770) == -1)
		printf("# %s: %s\n", dir, strerror(errno));
	tap_ok(store_check_owner(dir, err, sizeof(err)) == 0,
	    "shared: the owner of a 2770 directory may use it");
	tap_ok(store_file_mode(dir) == 0660, "shared: files are 0660");
	tap_ok(use_store(dir, 022, err, sizeof(err)) == 0,
	    "shared: the store opens under umask 022 (%s)", err);
	n = modes_all(dir, 0660, bad, sizeof(bad));
	tap_ok(n > 15 && bad[0] == '\0', "shared: all %d files (databases, "
	    "regions, registry, log, audit.log, the wake socket) are group "
	    "read-write under umask 022 (%s)", n, bad);
	/* a process that opened the store keeps the group's bits for files
	 * made later (Berkeley DB's next log file) */
	snprintf(path, sizeof(path), "%s/later", dir);
	umask(022);
	{
		struct store *s;

		int fd = -1;

		memset(&st, 0, sizeof(st));
		if (store_open(dir, 0, &s, err, sizeof(err)) == 0) {
			if ((fd = open(path, O_CREAT | O_WRONLY, 0666)) != -1)
				close(fd);
			store_close(s);
		} else
			printf("# store_open: %s\n", err);
		if (fd == -1)
			printf("# %s: %s\n", path, strerror(errno));
	}
	tap_ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0660,
	    "shared: after store_open the umask leaves the group's bits and "
	    "takes the others' (mode %03o)", (unsigned)(st.st_mode & 0777));
	umask(022);
}

/* The checks between users need two: as root, nobody is the other. */
static void
test_other_users(void)
{
	char		 dir[300], err[512];
	struct passwd	*pw = getpwnam("nobody");
	pid_t		 pid;
	int		 status;

	if (geteuid() != 0 || pw == NULL) {
		for (int i = 0; i < 6; i++)
			printf("ok %d - # SKIP not root: one user may not "
			    "play two\n", ++tap_n);
		return;
	}
	snprintf(dir, sizeof(dir), "%s/other", top);
	mkdir(dir, 0700);
	chmod(top, 0755);

	/* nobody's 0700 directory: root (not its owner) is refused */
	(void)!chown(dir, pw->pw_uid, pw->pw_gid);
	chmod(dir, 0700);
	tap_ok(store_check_owner(dir, err, sizeof(err)) == -1 &&
	    strstr(err, "runuser -u nobody -- ") != NULL &&
	    strstr(err, "sudo") == NULL,
	    "a 0700 directory of another user is refused, saying to run as "
	    "that user with runuser (%s)", err);
	/* nobody's, shared with group root (ours) */
	(void)!chown(dir, pw->pw_uid, 0);
	chmod(dir, 02770);
	tap_ok(store_check_owner(dir, err, sizeof(err)) == 0,
	    "a member of the group of a 2770 directory may use it");
	chmod(dir, 0770);
	tap_ok(store_check_owner(dir, err, sizeof(err)) == -1 &&
	    strstr(err, "chmod 2770") != NULL,
	    "a group-writable directory that is not setgid is refused "
	    "(%s)", err);
	(void)!chown(dir, pw->pw_uid, pw->pw_gid);
	chmod(dir, 02770);
	tap_ok(store_check_owner(dir, err, sizeof(err)) == -1 &&
	    strstr(err, "or as a member of") != NULL,
	    "a shared directory of a group we are not in is refused (%s)",
	    err);

	/* store_become_owner: root takes the owner's identity, and what it
	 * creates then is the owner's */
	if ((pid = fork()) == 0) {
		struct store *s;

		if (store_become_owner(dir, err, sizeof(err)) == -1 ||
		    geteuid() != pw->pw_uid || getegid() != pw->pw_gid)
			_exit(1);
		if (store_open(dir, 0, &s, err, sizeof(err)) == -1)
			_exit(2);
		store_close(s);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "root becomes the owner of the state directory and opens the "
	    "store (status %d)", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	{
		char		path[400];
		struct stat	st;

		snprintf(path, sizeof(path), "%s/meta.db", dir);
		tap_ok(stat(path, &st) == 0 && st.st_uid == pw->pw_uid &&
		    st.st_gid == pw->pw_gid,
		    "the databases root's process made are the owner's");
	}
}

int
main(void)
{
	umask(022);
	if (tap_tmpdir(top, sizeof(top), "t_perm") == -1)
		return 1;
	test_one_user();
	test_shared();
	test_other_users();
	tap_tmpdir_done(top);
	return tap_done();
}
