/* secmem.h -- memory for secrets that must stay in a process: kept out of its core dumps */
#ifndef MIAS_SECMEM_H
#define MIAS_SECMEM_H

#include <stddef.h>

/*
 * n zeroed bytes in pages of their own, marked MADV_DONTDUMP (neither a
 * kernel core dump nor gdb's gcore writes them) and, where RLIMIT_MEMLOCK
 * allows, locked out of swap.  For what lives as long as the process or a
 * thread (derived keys, the responders' token cache), not for each
 * request: every call maps whole pages.  NULL when the pages cannot be had
 * or cannot be kept out of dumps.  Release with secmem_free(p, n), which
 * wipes them.
 */
void	*secmem_alloc(size_t n);
void	 secmem_free(void *p, size_t n);

/* Zeroes the calling thread's vector registers, where string functions
 * leave the last bytes they moved: call it when a thread that handled
 * secrets is about to wait. */
void	 secmem_scrub_registers(void);

#endif /* MIAS_SECMEM_H */
