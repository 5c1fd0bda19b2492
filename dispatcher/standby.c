/* standby.c -- the dispatcher in a group of hosts ([replication]): only
 * the master's works; the others wait, and take over on promotion */
#include <sys/types.h>

#include <fcntl.h>
#include <unistd.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "crypto.h"
#include "dispatcher.h"
#include "log.h"
#include "repl.h"
#include "store.h"

/* How often the role is looked at: a promotion is noticed this soon. */
#define STANDBY_LOOK_MS	100

struct standby_rec {
	const char	*sr_print;	/* this node's key fingerprint */
	const char	*sr_local;
	const char	*sr_url;	/* internal_url, or NULL */
	int		 sr_master;	/* write what is missing */
	char		 sr_theirs[CRYPTO_HASHHEX];	/* the group's */
};

/*
 * The group's records in meta.db: "repl.key", the fingerprint of the key
 * every node must share (the first master writes it), and "repl.master",
 * who the master is and where its responders are reached (internal_url),
 * which replicas forward writes to (lib/forward.c).
 */
static int
standby_body(struct store_txn *t, void *arg)
{
	struct standby_rec	*sr = arg;
	json_object		*o = NULL;
	char			*v = NULL;
	size_t			 len;
	int			 rc;

	sr->sr_theirs[0] = '\0';
	rc = store_get(t, SDB_META, "repl.key", 8, &v, &len, sr->sr_master ?
	    STORE_RMW : 0);
	if (rc == STORE_OK)
		snprintf(sr->sr_theirs, sizeof(sr->sr_theirs), "%.*s",
		    (int)len, v);
	free(v);
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return rc;
	if (!sr->sr_master)
		return STORE_OK;
	if (sr->sr_theirs[0] != '\0' && strcmp(sr->sr_theirs, sr->sr_print))
		return 1;	/* not ours: refuse, write nothing */
	if (sr->sr_theirs[0] == '\0' && (rc = store_put(t, SDB_META,
	    "repl.key", 8, sr->sr_print, strlen(sr->sr_print))) != STORE_OK)
		return rc;
	if ((o = json_object_new_object()) == NULL)
		return STORE_ERR;
	json_object_object_add(o, "v", json_object_new_int(1));
	json_object_object_add(o, "local", json_object_new_string(
	    sr->sr_local));
	json_object_object_add(o, "url", sr->sr_url != NULL ?
	    json_object_new_string(sr->sr_url) : NULL);
	rc = store_put_json(t, SDB_META, "repl.master", 11, o);
	json_object_put(o);
	return rc;
}

/* The node's key against the group's; on promotion, the records above
 * written.  0, or -1 when the store failed (tried again later); a key
 * that differs stops the program. */
static int
standby_records(struct disp *d, int master)
{
	const struct repl_conf	*rc = repl_conf();
	struct standby_rec	 sr;
	int			 ret;

	memset(&sr, 0, sizeof(sr));
	sr.sr_print = d->d_keys->ck_print;
	sr.sr_local = rc->rc_local;
	sr.sr_url = rc->rc_internal_url;
	sr.sr_master = master;
	ret = store_txn(d->d_store, standby_body, &sr);
	if (ret == 1 || (ret == 0 && sr.sr_theirs[0] != '\0' &&
	    strcmp(sr.sr_theirs, sr.sr_print) != 0))
		fatalx("replication: this node's key_file is not the group's "
		    "(fingerprint %.16s..., the group's %.16s...): it does "
		    "not join; copy the key file of the other nodes here and "
		    "start again", sr.sr_print, sr.sr_theirs);
	if (ret != 0) {
		log_warnx("replication: %s", store_errmsg(d->d_store));
		return -1;
	}
	return 0;
}

struct standby_buf {
	char	sb_text[4096];
	size_t	sb_len;
};

static void
standby_site(void *arg, const char *hostport, int up)
{
	struct standby_buf	*sb = arg;
	int			 n;

	n = snprintf(sb->sb_text + sb->sb_len, sizeof(sb->sb_text) -
	    sb->sb_len, "node=%s state=%s\n", hostport, up ? "up" : "down");
	if (n > 0 && (size_t)n < sizeof(sb->sb_text) - sb->sb_len)
		sb->sb_len += (size_t)n;
}

/* The other members and whether this node's replication process is
 * connected to each, for mias-admin repl status (which, not being the
 * replication process, cannot see the connections): REPL_SITES_FILE in
 * the state directory, rewritten every second (a stale file means the
 * dispatcher is not running). */
static void
standby_sites(struct disp *d)
{
	struct standby_buf	 sb;
	char			 path[4096], tmp[4200];
	const char		*dir = store_dir(d->d_store);
	int			 fd;

	sb.sb_len = 0;
	sb.sb_text[0] = '\0';
	if (store_sites(d->d_store, standby_site, &sb) == -1)
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, REPL_SITES_FILE);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fd = store_file_open(dir, tmp, O_WRONLY | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW)) == -1)
		return;
	if (write(fd, sb.sb_text, sb.sb_len) != (ssize_t)sb.sb_len) {
		close(fd);
		unlink(tmp);
		return;
	}
	close(fd);
	if (rename(tmp, path) == -1)
		unlink(tmp);
}

static int64_t
standby_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum standby
disp_standby(struct disp *d)
{
	static int		 last = -1, checked;
	static int64_t		 next, next_sites;
	char			 master[300];
	int			 role;
	unsigned		 gen;

	if (repl_conf() == NULL)
		return STANDBY_WORK;
	if (standby_ms() < next && last != -1)
		return last == REPL_MASTER && checked ? STANDBY_WORK :
		    STANDBY_WAIT;
	next = standby_ms() + STANDBY_LOOK_MS;
	if (standby_ms() >= next_sites) {
		standby_sites(d);
		next_sites = standby_ms() + 1000;
	}
	gen = store_epoch(d->d_store);
	role = store_role(d->d_store, master, sizeof(master));
	if (role == last && gen == store_epoch(d->d_store)) {
		if (!checked && role != REPL_NONE &&
		    (checked = standby_records(d, role == REPL_MASTER) == 0) &&
		    role == REPL_MASTER)
			return STANDBY_PROMOTED;
		return role == REPL_MASTER && checked ? STANDBY_WORK :
		    STANDBY_WAIT;
	}
	log_info("replication: this node is %s%s%s", repl_role_name(role),
	    *master && role != REPL_MASTER ? ", the master is " : "",
	    role != REPL_MASTER ? master : "");
	/* whatever was read as master before is stale now (store.h) */
	store_new_epoch(d->d_store);
	last = role;
	checked = role != REPL_NONE &&
	    standby_records(d, role == REPL_MASTER) == 0;
	if (role == REPL_MASTER && checked)
		return STANDBY_PROMOTED;
	return STANDBY_WAIT;
}
