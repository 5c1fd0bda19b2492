/* admin.h -- the commands of mias-admin that live outside mias-admin.c */
#ifndef MIAS_ADMIN_H
#define MIAS_ADMIN_H

struct mias_conf;

/*
 * mias-admin oss ls|head|get: try an endpoint and a set of credentials
 * from the command line.  argv[0] is the word after "oss".  Results go to
 * standard output, errors to standard error as
 * "mias-admin: oss ls: OSS_NO_SUCH_BUCKET: message (request id X)".
 * Returns the exit status: 0 done, 1 failed, 2 bad usage.
 */
int	admin_oss(const struct mias_conf *, int argc, char **argv);

#endif /* MIAS_ADMIN_H */
