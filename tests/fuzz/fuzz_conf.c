/* fuzz_conf.c -- configuration files through conf_load() */
#include <sys/mman.h>

#include <unistd.h>

#include "conf.h"
#include "fuzz.h"

/*
 * conf_load() reads a path, so each input is written to an anonymous
 * memory file and read back through /proc/self/fd: the same code as a
 * real file, without touching the disk.
 */
static int	fd = -1;
static char	path[64];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if ((fd = memfd_create("mias.conf", MFD_CLOEXEC)) == -1) {
		perror("memfd_create");
		abort();
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mias_conf	*c;
	char			 err[1024];
	size_t			 i;

	if (fd == -1)
		LLVMFuzzerInitialize(NULL, NULL);
	if (ftruncate(fd, 0) == -1 ||
	    (size > 0 && pwrite(fd, data, size, 0) != (ssize_t)size)) {
		perror("memfd");
		abort();
	}
	err[0] = '\0';
	if ((c = conf_load(path, err, sizeof(err))) == NULL) {
		FUZZ_ASSERT(err[0] != '\0');
		FUZZ_ASSERT(strncmp(err, path, strlen(path)) == 0);
		return 0;
	}
	/* what conf.h promises of a configuration it returns */
	FUZZ_ASSERT(c->c_state_dir != NULL && c->c_key_file != NULL);
	FUZZ_ASSERT(c->c_max_body_bytes > 0);
	FUZZ_ASSERT(c->c_oss_sigver == 1 || c->c_oss_sigver == 4);
	FUZZ_ASSERT(c->c_retry_n <= CONF_RETRY_MAX);
	for (i = 0; i < c->c_egress.ep_allow_hosts_n; i++)
		FUZZ_ASSERT(c->c_egress.ep_allow_hosts[i] != NULL);
	for (i = 0; i < CONF_ENGINES; i++) {
		const struct conf_engine *ce = &c->c_engine[i];

		if (!ce->ce_configured)
			continue;
		FUZZ_ASSERT((ce->ce_url == NULL) != (ce->ce_command == NULL));
		FUZZ_ASSERT(ce->ce_analysis != NULL);
		FUZZ_ASSERT(ce->ce_url == NULL || c->c_public_url != NULL);
	}
	conf_free(c);
	return 0;
}
