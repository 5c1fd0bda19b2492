/* window.c -- requests counted per key and time window, in shared memory */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "window.h"

#define WIN_MAGIC	UINT64_C(0x316e69777361696d)	/* "miaswin1" */
#define WIN_PROBES	16	/* slots looked at from a key's hash */
#define WIN_STALE	120	/* s: a slot unused for longer is free */

/* s_key: a key's 64-bit hash (never 0), 0 for a free slot.  s_wc: the
 * start of the slot's window (s since the epoch) << 32 | its count. */
struct win_slot {
	_Atomic uint64_t	s_key;
	_Atomic uint64_t	s_wc;
};

struct win_file {
	_Atomic uint64_t	f_magic;
	uint64_t		f_slots;
	struct win_slot		f_slot[];
};

struct windows {
	struct win_file		*w_file;
	size_t			 w_size;
	unsigned		 w_slots;
};

int
windows_open(const char *dir, struct windows **out, char *err, size_t errlen)
{
	return windows_open_slots(dir, WINDOWS_SLOTS, out, err, errlen);
}

int
windows_open_slots(const char *dir, unsigned nslots, struct windows **out,
    char *err, size_t errlen)
{
	struct windows	*w;
	struct stat	 st;
	char		 path[4096];
	uint64_t	 magic = 0;
	size_t		 size = sizeof(struct win_file) +
			    (size_t)nslots * sizeof(struct win_slot);
	void		*p;
	int		 fd;

	*out = NULL;
	if (nslots < WIN_PROBES) {
		snprintf(err, errlen, "%u counter slots: too few", nslots);
		return -1;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
	    WINDOWS_FILE) >= sizeof(path)) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -1;
	}
	if ((fd = store_file_open(dir, path, O_RDWR | O_CLOEXEC |
	    O_NOFOLLOW)) == -1 || fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	/* a new file, or one of another size: zeros, then the magic */
	if ((size_t)st.st_size != size &&
	    (ftruncate(fd, 0) == -1 || ftruncate(fd, (off_t)size) == -1)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "%s: mmap: %s", path, strerror(errno));
		return -1;
	}
	if (!atomic_compare_exchange_strong(&((struct win_file *)p)->f_magic,
	    &magic, WIN_MAGIC) && magic != WIN_MAGIC) {
		snprintf(err, errlen, "%s: not a counter file of this mias "
		    "(remove it: counting starts again)", path);
		munmap(p, size);
		return -1;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		snprintf(err, errlen, "out of memory");
		munmap(p, size);
		return -1;
	}
	w->w_file = p;
	w->w_size = size;
	w->w_slots = nslots;
	*out = w;
	return 0;
}

void
windows_close(struct windows *w)
{
	if (w == NULL)
		return;
	munmap(w->w_file, w->w_size);
	free(w);
}

/* FNV-1a of kind NUL a NUL b; never 0 */
static uint64_t
win_hash(const char *kind, const char *a, const char *b)
{
	const char	*parts[3] = { kind, a, b };
	uint64_t	 h = UINT64_C(0xcbf29ce484222325);
	int		 i;

	for (i = 0; i < 3; i++) {
		const unsigned char *p = (const unsigned char *)(parts[i] ?
		    parts[i] : "");

		do {
			h ^= *p;
			h *= UINT64_C(0x100000001b3);
		} while (*p++ != '\0');
	}
	return h | 1;
}

/* The count in start's window before this call; add counts one more.  A
 * slot already in a later window (a request that began in the previous
 * second ends after one of the next) counts in that window. */
static long long
win_slot_count(struct win_slot *s, uint32_t start, int add)
{
	uint64_t	old = atomic_load(&s->s_wc), new;
	uint32_t	ws, n;

	do {
		ws = (uint32_t)(old >> 32);
		n = ws >= start ? (uint32_t)old : 0;
		if (!add)
			return ws == start ? n : 0;
		if (n == UINT32_MAX)
			return n;
		new = (uint64_t)(ws >= start ? ws : start) << 32 | (n + 1);
	} while (!atomic_compare_exchange_weak(&s->s_wc, &old, new));
	return n;
}

long long
windows_count(struct windows *w, const char *kind, const char *a,
    const char *b, time_t now, unsigned period, int add)
{
	struct win_slot	*s, *take, *victim;
	uint64_t	 h = win_hash(kind, a, b), key;
	uint32_t	 start, ws, oldest;
	unsigned	 i, k, tries;

	if (period == 0)
		period = 1;
	start = (uint32_t)(now - now % (time_t)period);
	for (tries = 0; tries < 4; tries++) {
		take = victim = NULL;
		oldest = UINT32_MAX;
		i = (unsigned)(h % w->w_slots);
		for (k = 0; k < WIN_PROBES; k++, i = (i + 1) % w->w_slots) {
			s = &w->w_file->f_slot[i];
			key = atomic_load(&s->s_key);
			if (key == h)
				return win_slot_count(s, start, add);
			if (key == 0) {
				/* slots are never emptied: the key is not
				 * further on */
				if (take == NULL)
					take = s;
				break;
			}
			ws = (uint32_t)(atomic_load(&s->s_wc) >> 32);
			if ((int64_t)ws + WIN_STALE < (int64_t)now) {
				/* its key has been quiet for two minutes:
				 * the slot may be taken */
				if (take == NULL)
					take = s;
			} else if (ws < oldest) {
				oldest = ws;
				victim = s;
			}
		}
		if (!add)
			return 0;	/* nothing counted for this key */
		if (take == NULL) {
			/* crowded: the key quiet for longest gives up its
			 * slot and its count */
			if ((take = victim) == NULL)
				return 0;
			key = atomic_load(&take->s_key);
			if (atomic_compare_exchange_strong(&take->s_key, &key,
			    h)) {
				atomic_store(&take->s_wc, 0);
				return win_slot_count(take, start, add);
			}
			continue;
		}
		key = atomic_load(&take->s_key);
		if (key != h &&
		    (key == 0 || (int64_t)(atomic_load(&take->s_wc) >> 32) +
		    WIN_STALE < (int64_t)now) &&
		    atomic_compare_exchange_strong(&take->s_key, &key, h))
			return win_slot_count(take, start, add);
		/* another process took the slot meanwhile: look again */
	}
	return 0;
}
