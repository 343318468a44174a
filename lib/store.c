/* store.c - sparse memory and file-backed block stores. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

#define BLK 4096u

struct store {
	enum store_kind kind;
	uint64_t nblocks;
	void **blocks; /* memory: one pointer per block, NULL = zeros */
	int fd;        /* file */
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
		s->blocks = calloc(s->nblocks, sizeof *s->blocks);
		if (!s->blocks) {
			snprintf(err, errlen,
			         "cannot allocate the block table for a %llu "
			         "byte store",
			         (unsigned long long)p->size);
			free(s);
			return NULL;
		}
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
	if (s->blocks) {
		for (uint64_t i = 0; i < s->nblocks; i++)
			free(s->blocks[i]);
		free(s->blocks);
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
	void *b = s->blocks[blk];
	if (b)
		memcpy(buf, b, BLK);
	else
		memset(buf, 0, BLK);
	return 0;
}

int store_write(struct store *s, uint64_t blk, const void *buf)
{
	if (s->kind == STORE_FILE)
		return full_pwrite(s->fd, buf, blk * BLK);
	void *b = s->blocks[blk];
	if (!b) {
		b = aligned_alloc(BLK, BLK);
		if (!b)
			return -ENOSPC;
		s->blocks[blk] = b;
		s->used += BLK;
	}
	memcpy(b, buf, BLK);
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
	void *b = s->blocks[blk];
	if (b) {
		s->blocks[blk] = NULL;
		s->used -= BLK;
		free(b);
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
