/* repl_cmd.c -- mias-admin in a group of hosts ([replication]): repl
 * status, and write commands refused on a replica */
#include <sys/stat.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "conf.h"
#include "repl.h"
#include "store.h"

/* The other members' lines the dispatcher wrote (repl.h); all down when
 * it has not written them lately (it is not running: no connection). */
static int
repl_sites(const struct mias_conf *c)
{
	char		 path[4096], line[512];
	struct stat	 st;
	FILE		*f;
	size_t		 i;
	int		 fresh = 0;

	snprintf(path, sizeof(path), "%s/%s", c->c_state_dir,
	    REPL_SITES_FILE);
	if ((f = fopen(path, "r")) != NULL && fstat(fileno(f), &st) == 0 &&
	    time(NULL) - st.st_mtime <= REPL_SITES_FRESH) {
		while (fgets(line, sizeof(line), f) != NULL)
			if (strncmp(line, "node=", 5) == 0 &&
			    strchr(line, '\n') != NULL)
				fputs(line, stdout);
		fresh = 1;
	}
	if (f != NULL)
		fclose(f);
	if (!fresh)
		for (i = 0; i < c->c_repl.rc_peers_n; i++)
			printf("node=%s state=down\n", c->c_repl.rc_peers[i]);
	return 0;
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
	return repl_sites(c);
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
