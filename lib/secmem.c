/* secmem.c -- memory for secrets that must stay in a process: kept out of its core dumps */
#include <sys/mman.h>

#include <string.h>
#include <unistd.h>

#include "secmem.h"

static size_t
secmem_len(size_t n)
{
	long	pg = sysconf(_SC_PAGESIZE);
	size_t	p = pg > 0 ? (size_t)pg : 4096;

	if (n == 0 || n > (size_t)-1 - p)
		return 0;
	return (n + p - 1) / p * p;
}

void *
secmem_alloc(size_t n)
{
	size_t	 len = secmem_len(n);
	void	*p;

	if (len == 0)
		return NULL;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	/* without it the secret would be in every core: refuse instead */
	if (madvise(p, len, MADV_DONTDUMP) == -1) {
		munmap(p, len);
		return NULL;
	}
	/* out of swap where the limit allows; a secret swapped out is no
	 * worse than one in any other page, so a refusal is not an error */
	(void)mlock(p, len);
	return p;		/* anonymous pages are zeroed */
}

void
secmem_free(void *p, size_t n)
{
	size_t len = secmem_len(n);

	if (p == NULL || len == 0)
		return;
	explicit_bzero(p, len);
	(void)munlock(p, len);
	munmap(p, len);
}

/*
 * The vector registers: glibc's memcpy, strlen and the like move strings
 * through them, so a thread that last handled a request keeps the tail of
 * its body or headers there, and a core dump writes every thread's
 * registers.  Zeroing them is allowed anywhere, as the x86-64 calling
 * convention preserves none of them across a call; the AVX-512 registers
 * 16-31, which glibc's EVEX string functions use, need one more step.
 * Elsewhere than on x86-64 this does nothing.
 */
#if defined(__x86_64__)
__attribute__((target("avx512f"), noinline)) static void
secmem_zero_evex(void)
{
	__asm__ volatile(
	    "vpxord %%xmm16, %%xmm16, %%xmm16\n"
	    "vpxord %%xmm17, %%xmm17, %%xmm17\n"
	    "vpxord %%xmm18, %%xmm18, %%xmm18\n"
	    "vpxord %%xmm19, %%xmm19, %%xmm19\n"
	    "vpxord %%xmm20, %%xmm20, %%xmm20\n"
	    "vpxord %%xmm21, %%xmm21, %%xmm21\n"
	    "vpxord %%xmm22, %%xmm22, %%xmm22\n"
	    "vpxord %%xmm23, %%xmm23, %%xmm23\n"
	    "vpxord %%xmm24, %%xmm24, %%xmm24\n"
	    "vpxord %%xmm25, %%xmm25, %%xmm25\n"
	    "vpxord %%xmm26, %%xmm26, %%xmm26\n"
	    "vpxord %%xmm27, %%xmm27, %%xmm27\n"
	    "vpxord %%xmm28, %%xmm28, %%xmm28\n"
	    "vpxord %%xmm29, %%xmm29, %%xmm29\n"
	    "vpxord %%xmm30, %%xmm30, %%xmm30\n"
	    "vpxord %%xmm31, %%xmm31, %%xmm31\n"
	    :::
	    "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22",
	    "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29",
	    "xmm30", "xmm31");
}

__attribute__((target("avx"), noinline)) static void
secmem_zero_avx(void)
{
	__asm__ volatile("vzeroall" :::
	    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
	    "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
	    "xmm15");
}

__attribute__((noinline)) static void
secmem_zero_sse(void)
{
	__asm__ volatile(
	    "pxor %%xmm0, %%xmm0\n"
	    "pxor %%xmm1, %%xmm1\n"
	    "pxor %%xmm2, %%xmm2\n"
	    "pxor %%xmm3, %%xmm3\n"
	    "pxor %%xmm4, %%xmm4\n"
	    "pxor %%xmm5, %%xmm5\n"
	    "pxor %%xmm6, %%xmm6\n"
	    "pxor %%xmm7, %%xmm7\n"
	    "pxor %%xmm8, %%xmm8\n"
	    "pxor %%xmm9, %%xmm9\n"
	    "pxor %%xmm10, %%xmm10\n"
	    "pxor %%xmm11, %%xmm11\n"
	    "pxor %%xmm12, %%xmm12\n"
	    "pxor %%xmm13, %%xmm13\n"
	    "pxor %%xmm14, %%xmm14\n"
	    "pxor %%xmm15, %%xmm15\n"
	    :::
	    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
	    "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
	    "xmm15");
}
#endif

void
secmem_scrub_registers(void)
{
#if defined(__x86_64__)
	if (__builtin_cpu_supports("avx512f"))
		secmem_zero_evex();
	if (__builtin_cpu_supports("avx"))
		secmem_zero_avx();
	else
		secmem_zero_sse();
#endif
}
