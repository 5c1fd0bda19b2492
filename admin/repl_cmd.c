/* repl_cmd.c -- mias-admin in a group of hosts ([replication]): repl
 * status, and write commands refused on a replica */
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "conf.h"
#include "repl.h"
#include "store.h"

static void
repl_site_line(void *arg, const char *hostport, int up)
{
	(void)arg;
	printf("node=%s state=%s\n", hostport, up ? "up" : "down");
}

int
admin_repl(const struct mias_conf *c, struct store *s, int argc,
    char **argv)
{
	char	master[300];
	int	role;

	if (argc != 1 || strcmp(argv[0], "status") != 0)
		return 2;
	if (!c->c_repl.rc_on) {
		printf("role=none\nmaster=\n");
		return 0;
	}
	role = store_role(s, master, sizeof(master));
	printf("role=%s\nmaster=%s\n", repl_role_name(role), master);
	/* this node is up: it answers */
	printf("node=%s state=up\n", c->c_repl.rc_local);
	if (store_sites(s, repl_site_line, NULL) == -1) {
		fprintf(stderr, "mias-admin: repl status: %s\n",
		    store_errmsg(s));
		return 1;
	}
	return 0;
}

int
admin_writes(int argc, char **argv)
{
	if (argc < 2)
		return 0;
	if (strcmp(argv[0], "namespace") == 0)
		return strcmp(argv[1], "list") != 0;
	if (strcmp(argv[0], "deliveries") == 0)
		return strcmp(argv[1], "replay") == 0;
	if (strcmp(argv[0], "store") == 0)
		return strcmp(argv[1], "restore") == 0 ||
		    strcmp(argv[1], "upgrade") == 0 ||
		    (argc > 2 && strcmp(argv[1], "check") == 0 &&
		    strcmp(argv[2], "--repair") == 0);
	return 0;
}

int
admin_replica_refuse(struct store *s)
{
	char	master[300];

	if (store_role(s, master, sizeof(master)) == REPL_MASTER)
		return 0;
	fprintf(stderr, "mias-admin: this node is not the master of its "
	    "group: run write commands on the master\n");
	printf("master=%s\n", master);
	return 3;
}
