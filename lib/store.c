/* store.c - sparse memory and file-backed block stores. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

#define BLK 4096u

struct store {
	enum store_kind kind;
	uint64_t nblocks;
	/* memory: one reserved mapping; only written blocks get pages, and a
	 * block never written (or trimmed) is not read, it is zeros */
	char *mem;
	uint8_t *present;
	int fd; /* file */
	_Atomic uint64_t used;
};

struct store *store_open(const struct profile *p, char *err, size_t errlen)
{
	struct store *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->kind = p->store;
	s->nblocks = p->size / BLK;
	s->fd = -1;
	if (s->kind == STORE_MEMORY) {
		s->mem = mmap(NULL, p->size, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
			      0);
		s->present = calloc(s->nblocks, 1);
		if (s->mem == MAP_FAILED || !s->present) {
			snprintf(err, errlen,
				 "cannot reserve memory for a %llu byte store",
				 (unsigned long long)p->size);
			if (s->mem != MAP_FAILED)
				munmap(s->mem, p->size);
			free(s->present);
			free(s);
			return NULL;
		}
		madvise(s->mem, p->size, MADV_NOHUGEPAGE); /* 4 KiB granules */
	return s;
	}
	s->fd = open(p->store_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	struct stat st;
	if (s->fd < 0 || fstat(s->fd, &st)) {
		snprintf(err, errlen, "%s: cannot open store file: %m",
		         p->store_path);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: store is not a regular file",
		         p->store_path);
		goto fail;
	}
	if (st.st_size == 0) {
		if (ftruncate(s->fd, (off_t)p->size)) {
			snprintf(err, errlen, "%s: cannot size store file: %m",
			         p->store_path);
			goto fail;
		}
	} else if ((uint64_t)st.st_size != p->size) {
		/* Never truncate or grow what somebody stored. */
		snprintf(err, errlen,
		         "%s: store file holds %lld bytes but the profile "
		         "says %llu; refusing to resize it",
		         p->store_path, (long long)st.st_size,
		         (unsigned long long)p->size);
		goto fail;
	}
	s->used = (uint64_t)st.st_blocks * 512;
	return s;
fail:
	if (s->fd >= 0)
		close(s->fd);
	free(s);
	return NULL;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->kind == STORE_MEMORY) {
		munmap(s->mem, s->nblocks * BLK);
		free(s->present);
	}
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

static int full_pread(int fd, void *buf, uint64_t off)
{
	size_t done = 0;
	while (done < BLK) {
		ssize_t n = pread(fd, (char *)buf + done, BLK - done,
		                  (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) { /* past the end of a sparse file: zeros */
			memset((char *)buf + done, 0, BLK - done);
			break;
		}
		done += (size_t)n;
	}
	return 0;
}

static int full_pwrite(int fd, const void *buf, uint64_t off)
{
	size_t done = 0;
	while (done < BLK) {
		ssize_t n = pwrite(fd, (const char *)buf + done, BLK - done,
		                   (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return 0;
}

int store_read(struct store *s, uint64_t blk, void *buf)
{
	if (s->kind == STORE_FILE)
		return full_pread(s->fd, buf, blk * BLK);
	if (s->present[blk])
		memcpy(buf, s->mem + blk * BLK, BLK);
	else
		memset(buf, 0, BLK);
	return 0;
}

const void *store_peek(struct store *s, uint64_t blk)
{
	static const char zeros[BLK];
	if (s->kind != STORE_MEMORY)
		return NULL;
	return s->present[blk] ? s->mem + blk * BLK : zeros;
}

int store_write(struct store *s, uint64_t blk, const void *buf)
{
	if (s->kind == STORE_FILE)
		return full_pwrite(s->fd, buf, blk * BLK);
	memcpy(s->mem + blk * BLK, buf, BLK);
	if (!s->present[blk]) {
		s->present[blk] = 1;
		s->used += BLK;
	}
	return 0;
}

int store_trim(struct store *s, uint64_t blk)
{
	if (s->kind == STORE_FILE) {
		if (fallocate(s->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		              (off_t)(blk * BLK), BLK) == 0)
			return 0;
		/* No hole punching here: write zeros instead. */
		static const char zeros[BLK];
		return full_pwrite(s->fd, zeros, blk * BLK);
	}
	if (s->present[blk]) {
		s->present[blk] = 0;
		s->used -= BLK;
		/* Give the page back; locked memory refuses, then zero it. */
		if (madvise(s->mem + blk * BLK, BLK, MADV_DONTNEED))
			memset(s->mem + blk * BLK, 0, BLK);
	}
	return 0;
}

int store_sync(struct store *s)
{
	if (s->kind == STORE_FILE && fdatasync(s->fd))
		return -errno;
	return 0;
}

uint64_t store_used(const struct store *s)
{
	return s->used;
}
