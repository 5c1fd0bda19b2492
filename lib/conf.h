/* conf.h -- the INI configuration file of CONTRACT.md, read with inih */
#ifndef MIAS_CONF_H
#define MIAS_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "egress.h"
#include "repl.h"

#define CONF_STUDY_TYPES	4	/* studyType 1..4, [engine.1]..[engine.4] */
#define CONF_ENGINES		16	/* engine slots: 1..4 serve executeAnalysis
					 * for that studyType, 5.. the named
					 * sections that serve triggers only */
#define CONF_ENGINE_NAME_MAX	64
#define CONF_RETRY_MAX		32

/*
 * An engine section.  [engine.N] (N = 1..4) is slot N; [engine.NAME] takes
 * the next slot from 5 in the order of the file, or slot N when it says
 * studyType = N and there is no [engine.N] -- then it serves executeAnalysis
 * for studyType N as well.  A slot number is what queue items and the
 * dispatcher's counters of an engine's work carry (see lib/queue.h); a push
 * job names its engine by ce_name, which does not change when sections are
 * added or moved.
 */
struct conf_engine {
	int		 ce_configured;	/* the section exists */
	char		 ce_name[CONF_ENGINE_NAME_MAX + 1];	/* "4", "retina" */
	int		 ce_type;	/* studyType of its findings (1..4) */
	char		*ce_url;	/* remote engine, or NULL */
	char		*ce_command;	/* local command, or NULL */
	char		*ce_analysis;	/* the first analysis it lists ("OA"):
					 * what executeAnalysis runs */
	char		**ce_analyses;	/* every analysis it lists */
	size_t		 ce_analyses_n;
	unsigned	 ce_timeout;	/* seconds for one image */
	unsigned	 ce_concurrency;
	char		*ce_namespace;	/* optional header/body namespace */
	char		*ce_token;	/* optional tokenId header (a secret) */
};

struct mias_conf {
	char		*c_path;	/* the file read */

	/* [server] */
	char		*c_state_dir;
	char		*c_key_file;
	char		*c_public_url;	/* may be NULL: no remote engines then */
	size_t		 c_max_body_bytes;

	/* [dispatcher] */
	unsigned	 c_concurrency;
	unsigned	 c_callback_timeout;	/* seconds */
	unsigned	 c_retry[CONF_RETRY_MAX];	/* seconds after each try */
	size_t		 c_retry_n;

	/* [egress] */
	struct egress_policy c_egress;

	/* [oss] */
	int		 c_oss_sigver;	/* 1 or 4 */

	/* [limits], per namespace unless said otherwise */
	unsigned	 c_limit_queued;	/* studies QUEUED or RUNNING */
	unsigned	 c_limit_rps;		/* requests/s per endpoint */
	unsigned	 c_limit_authfail;	/* failed auths/min per address */

	/* [retention] */
	unsigned	 c_retention_finished;	/* seconds a study is kept
					 * after it ended; 0: for ever */
	/* [metrics] */
	char		*c_metrics_token_file;	/* NULL: no metrics to anyone */
	/* [replication]: rc_on 0 when absent (one host) */
	struct repl_conf c_repl;

	/* engine sections by slot, index slot - 1 (see struct conf_engine) */
	struct conf_engine c_engine[CONF_ENGINES];

	/* what did not stop the file: conf_warning() */
	char		**c_warn;
	size_t		 c_warn_n;
};

/*
 * A key an earlier release read and this one no longer does.  So that a
 * configuration written for the release before keeps working, such a key
 * is a warning ("file:line: [section] key is no longer used; remove it"),
 * not an error, for one release; the next takes it out of the table, and
 * it is an unknown key like any other.  Section "engine" stands for every
 * [engine.N].
 */
struct conf_removed {
	const char	*cr_section;
	const char	*cr_name;
	const char	*cr_release;	/* the first release without it */
};
/* The table, ended by an entry of NULLs; a unit test may point it at a
 * table of its own. */
extern const struct conf_removed *conf_removed_keys;

/* The i-th warning about the file read (one line, no newline), NULL past
 * the last.  Every program prints or logs them all after conf_load. */
const char	*conf_warning(const struct mias_conf *, size_t i);

/* Default path when neither -c nor MIAS_CONF names one. */
const char	*conf_default_path(void);

/*
 * Read and check the whole file.  On error returns NULL and writes
 * "file:line: what is wrong" (or "file: ..." for a missing key) to err.
 * Nothing is half-read: either every key is valid or nothing is returned.
 */
struct mias_conf *conf_load(const char *path, char *err, size_t errlen);
void		  conf_free(struct mias_conf *);

/*
 * The slot (1..CONF_ENGINES) of the configured engine that lists analysis,
 * or of the configured section named name; 0 when there is none.
 */
int		  conf_engine_for_analysis(const struct mias_conf *,
		    const char *analysis);
int		  conf_engine_by_name(const struct mias_conf *, const char *name);

/*
 * The slot of the engine that runs a job of a study of studyType type
 * whose record names engine (a push job's section name), or NULL for a
 * study (executeAnalysis: slot type).  0 when that engine is not
 * configured (any more).
 */
int		  conf_engine_of(const struct mias_conf *, int type,
		    const char *engine);

/* "5s", "30m", "2h", "10" (seconds): 0 and *secs on success, -1 if bad. */
int		  conf_duration(const char *, unsigned *secs);

#endif /* MIAS_CONF_H */
