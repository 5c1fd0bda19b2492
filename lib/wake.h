/* wake.h -- responders wake the dispatcher when they queue work */
#ifndef MIAS_WAKE_H
#define MIAS_WAKE_H

/*
 * A datagram to the unix socket "dispatcher.sock" in the state directory.
 * The dispatcher would find the work on its next look at the queue
 * anyway; the datagram only makes that look happen now.  Never blocks and
 * never fails the request: with no dispatcher listening it is dropped.
 */
void	wake_dispatcher(const char *state_dir);

/* The dispatcher's end: a non-blocking datagram socket bound in
 * state_dir, or -1 with errno. */
int	wake_listen(const char *state_dir);
/* Read and drop every pending datagram. */
void	wake_drain(int fd);

#endif /* MIAS_WAKE_H */
