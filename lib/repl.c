/* repl.c -- a group of mias hosts on Berkeley DB's replication manager
 * (doc/REPLICATION.md has the measurements behind these choices) */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <db.h>

#include "repl.h"

/* Defaults of [replication] (mias.conf(5)). */
#define REPL_PRIORITY		100
#define REPL_ACK_TIMEOUT_MS	2000
#define REPL_HEARTBEAT_MS	1000
#define REPL_FORWARD_TIMEOUT	10
/* How often a node retries a lost connection and a failed election. */
#define REPL_RETRY_US		500000
/* Replication manager threads of the replication process: one per
 * peer's messages is plenty for mias's write rate. */
#define REPL_THREADS		3

static const struct repl_conf	*repl_cf;
static _Atomic unsigned		 repl_perm_failed;
static _Atomic int		 repl_panic;

static const char *const repl_roles[REPL_ROLE__MAX] = {
	"none", "master", "replica"
};

const char *
repl_role_name(enum repl_role r)
{
	return r < REPL_ROLE__MAX ? repl_roles[r] : "none";
}

/* HOST:PORT, the host a name or an IPv4 address, the port 1-65535. */
static const char *
repl_hostport_check(const char *v)
{
	const char	*c = strrchr(v, ':');
	char		*end;
	long		 port;
	size_t		 i;

	if (c == NULL || c == v || c - v > 253)
		return "must be HOST:PORT";
	for (i = 0; v + i < c; i++)
		if (!isalnum((unsigned char)v[i]) && v[i] != '.' &&
		    v[i] != '-')
			return "must be HOST:PORT (a host name or an IPv4 "
			    "address)";
	errno = 0;
	port = strtol(c + 1, &end, 10);
	if (c[1] == '\0' || *end != '\0' || errno || port < 1 ||
	    port > 65535)
		return "must be HOST:PORT with a port from 1 to 65535";
	return NULL;
}

static const char *
repl_set(char **to, const char *v)
{
	free(*to);
	if ((*to = strdup(v)) == NULL)
		return "cannot be kept: out of memory";
	return NULL;
}

static const char *
repl_peers(struct repl_conf *rc, const char *value)
{
	char		*list, *p, *save = NULL, *e;
	const char	*why = NULL;

	if ((list = strdup(value)) == NULL)
		return "cannot be kept: out of memory";
	for (p = strtok_r(list, ",", &save); p != NULL && why == NULL;
	    p = strtok_r(NULL, ",", &save)) {
		while (isspace((unsigned char)*p))
			p++;
		for (e = p + strlen(p); e > p && isspace((unsigned char)e[-1]);)
			*--e = '\0';
		if ((why = repl_hostport_check(p)) != NULL)
			break;
		if (rc->rc_peers_n == REPL_PEERS_MAX)
			why = "lists too many hosts (at most 16)";
		else if ((rc->rc_peers[rc->rc_peers_n] = strdup(p)) == NULL)
			why = "cannot be kept: out of memory";
		else
			rc->rc_peers_n++;
	}
	free(list);
	if (why == NULL && rc->rc_peers_n == 0)
		why = "must list at least one HOST:PORT";
	return why;
}

static const char *
repl_ms(const char *value, unsigned *ms, unsigned max_ms)
{
	char		*end;
	double		 d;

	errno = 0;
	d = strtod(value, &end);
	if (end == value || errno || d <= 0)
		return "must be a duration such as 500ms or 2s";
	if (strcmp(end, "ms") == 0)
		;
	else if (strcmp(end, "s") == 0 || *end == '\0')
		d *= 1000;
	else
		return "must be a duration such as 500ms or 2s";
	if (d < 10 || d > max_ms)
		return "is out of range";
	*ms = (unsigned)d;
	return NULL;
}

const char *
repl_conf_key(struct repl_conf *rc, const char *name, const char *value)
{
	const char	*why;
	char		*end;
	unsigned long	 n;

	rc->rc_on = 1;
	if (strcmp(name, "local") == 0) {
		if ((why = repl_hostport_check(value)) != NULL)
			return why;
		return repl_set(&rc->rc_local, value);
	}
	if (strcmp(name, "peers") == 0)
		return repl_peers(rc, value);
	if (strcmp(name, "priority") == 0) {
		errno = 0;
		n = strtoul(value, &end, 10);
		if (*value == '\0' || *end != '\0' || errno || n > 1000000 ||
		    *value == '-')
			return "must be a number from 0 to 1000000";
		rc->rc_priority = (unsigned)n;
		return NULL;
	}
	if (strcmp(name, "internal_url") == 0) {
		if ((strncmp(value, "http://", 7) != 0 &&
		    strncmp(value, "https://", 8) != 0) ||
		    strpbrk(value, " \t\"<>\\") != NULL)
			return "must be an http:// or https:// URL";
		if ((why = repl_set(&rc->rc_internal_url, value)) == NULL) {
			size_t l = strlen(rc->rc_internal_url);

			while (l > 0 && rc->rc_internal_url[l - 1] == '/')
				rc->rc_internal_url[--l] = '\0';
		}
		return why;
	}
	if (strcmp(name, "ack_policy") == 0) {
		if (strcmp(value, "quorum") == 0)
			rc->rc_ack = REPL_ACK_QUORUM;
		else if (strcmp(value, "all") == 0)
			rc->rc_ack = REPL_ACK_ALL;
		else
			return "must be quorum or all";
		return NULL;
	}
	if (strcmp(name, "ack_timeout") == 0)
		return repl_ms(value, &rc->rc_ack_timeout_ms, 60000);
	if (strcmp(name, "heartbeat") == 0)
		return repl_ms(value, &rc->rc_heartbeat_ms, 60000);
	if (strcmp(name, "forward_timeout") == 0) {
		unsigned ms;

		if ((why = repl_ms(value, &ms, 300000)) != NULL)
			return why;
		rc->rc_forward_timeout = (ms + 999) / 1000;
		return NULL;
	}
	return "is not a key of this section";
}

const char *
repl_conf_finish(struct repl_conf *rc)
{
	size_t i;

	if (!rc->rc_on)
		return NULL;
	if (rc->rc_local == NULL)
		return "missing required key [replication] local";
	if (rc->rc_peers_n == 0)
		return "missing required key [replication] peers";
	for (i = 0; i < rc->rc_peers_n; i++)
		if (strcmp(rc->rc_peers[i], rc->rc_local) == 0)
			return "[replication] peers lists this host's own "
			    "address (local): list only the others";
	return NULL;
}

void
repl_conf_defaults(struct repl_conf *rc)
{
	memset(rc, 0, sizeof(*rc));
	rc->rc_priority = REPL_PRIORITY;
	rc->rc_ack = REPL_ACK_QUORUM;
	rc->rc_ack_timeout_ms = REPL_ACK_TIMEOUT_MS;
	rc->rc_heartbeat_ms = REPL_HEARTBEAT_MS;
	rc->rc_forward_timeout = REPL_FORWARD_TIMEOUT;
}

void
repl_conf_free(struct repl_conf *rc)
{
	size_t i;

	free(rc->rc_local);
	free(rc->rc_internal_url);
	for (i = 0; i < rc->rc_peers_n; i++)
		free(rc->rc_peers[i]);
	rc->rc_local = rc->rc_internal_url = NULL;
	rc->rc_peers_n = 0;
}

/* A copy, so that a configuration reloaded later (the dispatcher's
 * SIGHUP) may free its own: the group changes only at a restart. */
void
repl_use(const struct repl_conf *rc)
{
	static struct repl_conf	 copy;
	size_t			 i;
	int			 ok = 1;

	if (repl_cf != NULL || rc == NULL || !rc->rc_on)
		return;
	copy = *rc;
	copy.rc_local = strdup(rc->rc_local);
	copy.rc_internal_url = rc->rc_internal_url != NULL ?
	    strdup(rc->rc_internal_url) : NULL;
	ok = copy.rc_local != NULL && (rc->rc_internal_url == NULL ||
	    copy.rc_internal_url != NULL);
	for (i = 0; i < rc->rc_peers_n; i++)
		if ((copy.rc_peers[i] = strdup(rc->rc_peers[i])) == NULL)
			ok = 0;
	if (ok)
		repl_cf = &copy;
}

const struct repl_conf *
repl_conf(void)
{
	return repl_cf;
}

unsigned
repl_perm_failures(void)
{
	return atomic_load(&repl_perm_failed);
}

int
repl_panicked(void)
{
	return atomic_exchange(&repl_panic, 0);
}

/* Berkeley DB calls this from whichever thread saw the event: a
 * committing thread for PERM_FAILED (measured: it comes in the process
 * that committed), a replication thread for the others. */
static void
repl_event(DB_ENV *env, u_int32_t event, void *info)
{
	(void)env;
	(void)info;
	switch (event) {
	case DB_EVENT_REP_PERM_FAILED:
		atomic_fetch_add(&repl_perm_failed, 1);
		break;
	case DB_EVENT_PANIC:
	case DB_EVENT_REG_PANIC:
		atomic_store(&repl_panic, 1);
		break;
	default:
		break;
	}
}

/* MIAS_REPL_VERBOSE=1 in the environment: Berkeley DB's own account of
 * elections and connections on standard error (a diagnosis aid). */
static void
repl_msg(const DB_ENV *env, const char *msg)
{
	struct timespec ts;

	(void)env;
	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(stderr, "%lld.%03ld [%ld] bdb: %s\n", (long long)ts.tv_sec,
	    ts.tv_nsec / 1000000, (long)getpid(), msg);
}

static void
repl_err(const DB_ENV *env, const char *pfx, const char *msg)
{
	(void)pfx;
	repl_msg(env, msg);
}

static int
repl_site(DB_ENV *env, const char *hostport, int local)
{
	char	 host[256], *c;
	DB_SITE	*site;
	int	 ret;

	snprintf(host, sizeof(host), "%s", hostport);
	if ((c = strrchr(host, ':')) == NULL)
		return EINVAL;
	*c++ = '\0';
	if ((ret = env->repmgr_site(env, host, (u_int)atoi(c), &site, 0)) != 0)
		return ret;
	/* DB_LEGACY: static membership, every node lists every other, no
	 * group database to join through (peers is the list of members) */
	if ((local && (ret = site->set_config(site, DB_LOCAL_SITE, 1)) != 0) ||
	    (ret = site->set_config(site, DB_LEGACY, 1)) != 0) {
		site->close(site);
		return ret;
	}
	return site->close(site);
}

int
repl_env_config(void *dbenv, char *err, size_t errlen)
{
	const struct repl_conf	*rc = repl_cf;
	DB_ENV			*env = dbenv;
	size_t			 i;
	int			 ret;
	u_int32_t		 hb;

	if (rc == NULL)
		return 0;
	if (getenv("MIAS_REPL_VERBOSE") != NULL) {
		env->set_msgcall(env, repl_msg);
		env->set_errcall(env, repl_err);
		env->set_verbose(env, DB_VERB_REP_ELECT, 1);
		env->set_verbose(env, DB_VERB_REPMGR_CONNFAIL, 1);
		env->set_verbose(env, DB_VERB_REPMGR_MISC, 1);
		env->set_verbose(env, DB_VERB_REP_SYNC, 1);
	}
	hb = rc->rc_heartbeat_ms * 1000U;
	if ((ret = env->set_event_notify(env, repl_event)) != 0 ||
	    (ret = repl_site(env, rc->rc_local, 1)) != 0)
		goto fail;
	for (i = 0; i < rc->rc_peers_n; i++)
		if ((ret = repl_site(env, rc->rc_peers[i], 0)) != 0)
			goto fail;
	/* a group of two: a quorum is both (no write on a lone survivor),
	 * set here whatever the library's default */
	if ((ret = env->rep_set_config(env, DB_REPMGR_CONF_2SITE_STRICT,
	    1)) != 0 ||
	    (ret = env->rep_set_priority(env, rc->rc_priority)) != 0 ||
	    (ret = env->repmgr_set_ack_policy(env, rc->rc_ack == REPL_ACK_ALL ?
	    DB_REPMGR_ACKS_ALL : DB_REPMGR_ACKS_QUORUM)) != 0 ||
	    (ret = env->rep_set_timeout(env, DB_REP_ACK_TIMEOUT,
	    rc->rc_ack_timeout_ms * 1000U)) != 0 ||
	    (ret = env->rep_set_timeout(env, DB_REP_HEARTBEAT_SEND, hb)) != 0 ||
	    (ret = env->rep_set_timeout(env, DB_REP_HEARTBEAT_MONITOR,
	    3 * hb)) != 0 ||
	    (ret = env->rep_set_timeout(env, DB_REP_CONNECTION_RETRY,
	    REPL_RETRY_US)) != 0 ||
	    (ret = env->rep_set_timeout(env, DB_REP_ELECTION_RETRY,
	    REPL_RETRY_US)) != 0 ||
	    /* a checkpoint on a client waits this long after a sync (30 s
	     * by default) holding an API operation, while a promotion to
	     * master waits for every operation to end: the dispatcher's
	     * periodic checkpoint held a new master for 30 s (seen with
	     * gdb).  The checkpoint need not wait. */
	    (ret = env->rep_set_timeout(env, DB_REP_CHECKPOINT_DELAY, 0)) != 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "replication settings: %s", db_strerror(ret));
	return -1;
}

int
repl_env_start(void *dbenv, char *err, size_t errlen)
{
	DB_ENV	*env = dbenv;
	int	 ret;

	if (repl_cf == NULL)
		return 0;
	ret = env->repmgr_start(env, REPL_THREADS, DB_REP_ELECTION);
	if (ret != 0 && ret != DB_REP_IGNORE) {
		snprintf(err, errlen, "replication on %s: %s",
		    repl_cf->rc_local, db_strerror(ret));
		return -1;
	}
	return 0;
}

static void
repl_addr(DB_ENV *env, int eid, char *buf, size_t len)
{
	DB_SITE		*site;
	const char	*host;
	u_int		 port;

	buf[0] = '\0';
	if (eid == DB_EID_INVALID ||
	    env->repmgr_site_by_eid(env, eid, &site) != 0)
		return;
	if (site->get_address(site, &host, &port) == 0)
		snprintf(buf, len, "%s:%u", host, port);
	site->close(site);
}

int
repl_env_role(void *dbenv, enum repl_role *role, char *master,
    size_t masterlen, unsigned *gen)
{
	DB_ENV		*env = dbenv;
	DB_REP_STAT	*sp;
	int		 ret;

	*role = REPL_NONE;
	if (master != NULL && masterlen > 0)
		master[0] = '\0';
	if (gen != NULL)
		*gen = 0;
	if ((ret = env->rep_stat(env, &sp, 0)) != 0)
		return ret;
	if (sp->st_status == DB_REP_MASTER)
		*role = REPL_MASTER;
	else if (sp->st_status == DB_REP_CLIENT &&
	    sp->st_master != DB_EID_INVALID)
		*role = REPL_REPLICA;
	if (gen != NULL)
		*gen = sp->st_gen;
	if (master != NULL && *role != REPL_NONE) {
		if (*role == REPL_MASTER)
			snprintf(master, masterlen, "%s", repl_cf != NULL ?
			    repl_cf->rc_local : "");
		else
			repl_addr(env, sp->st_master, master, masterlen);
	}
	free(sp);
	return 0;
}

int
repl_env_sites(void *dbenv, void (*fn)(void *, const char *, int),
    void *arg)
{
	DB_ENV		*env = dbenv;
	DB_REPMGR_SITE	*list;
	u_int		 n, i;
	char		 hp[300];
	int		 ret;

	if ((ret = env->repmgr_site_list(env, &n, &list)) != 0)
		return ret;
	for (i = 0; i < n; i++) {
		snprintf(hp, sizeof(hp), "%s:%u", list[i].host, list[i].port);
		fn(arg, hp, list[i].status == DB_REPMGR_CONNECTED);
	}
	free(list);
	return 0;
}

/* ---- TCP_NODELAY on the replication connections ---------------------- */

typedef int (*setsockopt_fn)(int, int, int, const void *, socklen_t);

/*
 * Berkeley DB 5.3's replication manager sets SO_KEEPALIVE on each of its
 * connections and never TCP_NODELAY, so every acknowledgement waits for
 * Nagle's algorithm and the peer's delayed ACK: about 44 ms a quorum
 * commit (doc/REPLICATION.md).  mias's programs define setsockopt, which
 * libdb's calls resolve to (an executable's definition comes first), and
 * add TCP_NODELAY where a socket gets SO_KEEPALIVE (on a socket other
 * than TCP that second call fails, and is ignored).  libcurl sets
 * TCP_NODELAY itself.
 */
int
setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	static setsockopt_fn	 real;
	setsockopt_fn		 fn;
	int			 one = 1, rc;

	if ((fn = __atomic_load_n(&real, __ATOMIC_ACQUIRE)) == NULL) {
		*(void **)&fn = dlsym(RTLD_NEXT, "setsockopt");
		if (fn == NULL) {
			errno = ENOSYS;
			return -1;
		}
		__atomic_store_n(&real, fn, __ATOMIC_RELEASE);
	}
	rc = fn(fd, level, name, val, len);
	if (rc == 0 && level == SOL_SOCKET && name == SO_KEEPALIVE)
		(void)fn(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return rc;
}
