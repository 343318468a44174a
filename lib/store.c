/* store.c - sparse memory and file-backed block stores. A file store does
 * its I/O with pread/pwrite on an O_DIRECT file, or through io_uring on it
 * (store_uring.c) when SWAPEMU_STORE_IO=uring asks, or buffered where the
 * file system refuses O_DIRECT. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "store_uring.h"

#define BLK 4096u

/* How a file store reaches its file. */
enum file_io { IO_AUTO, IO_URING, IO_PREAD, IO_BUFFERED };
static const char *const io_names[] = {"auto", "uring", "pread", "buffered"};
static const char *const io_kinds[] = {"", "file-uring", "file-pread",
                                       "file-buffered"};

struct store {
	enum store_kind kind;
	uint64_t nblocks;
	/* memory: one reserved mapping; only written blocks get pages, and a
	 * block never written (or trimmed) is not read, it is zeros */
	char *mem;
	uint8_t *present;
	int fd; /* file */
	enum file_io io;
	struct uring_io *uring;
	char why[160]; /* why a file store does not use io_uring */
	_Atomic uint64_t used;
};

/* Aligned bounce buffers for O_DIRECT pread/pwrite of unaligned buffers. */
static __thread char bounce[BLK] __attribute__((aligned(BLK)));
static const char zeros[BLK] __attribute__((aligned(BLK)));

static int open_memory(struct store *s, const struct profile *p, char *err,
                       size_t errlen)
{
	s->mem = mmap(NULL, p->size, PROT_READ | PROT_WRITE,
	              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	s->present = calloc(s->nblocks, 1);
	if (s->mem == MAP_FAILED || !s->present) {
		snprintf(err, errlen,
		         "cannot reserve memory for a %llu byte store",
		         (unsigned long long)p->size);
		if (s->mem != MAP_FAILED)
			munmap(s->mem, p->size);
		free(s->present);
		return -1;
	}
	madvise(s->mem, p->size, MADV_NOHUGEPAGE); /* 4 KiB granules */
	return 0;
}

/* The I/O path asked for in SWAPEMU_STORE_IO (default auto). */
static int wanted_io(enum file_io *io, char *err, size_t errlen)
{
	const char *v = getenv("SWAPEMU_STORE_IO");
	*io = IO_AUTO;
	if (!v || !*v)
		return 0;
	for (size_t i = 0; i < sizeof io_names / sizeof *io_names; i++)
		if (!strcmp(v, io_names[i])) {
			*io = (enum file_io)i;
			return 0;
		}
	snprintf(err, errlen,
	         "SWAPEMU_STORE_IO='%s': not auto, uring, pread or buffered",
	         v);
	return -1;
}

/* Turns on O_DIRECT and reads block 0 with it; -errno if the file system
 * refuses (ramfs; tmpfs before Linux 6.6; some FUSE file systems). */
static int try_direct(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_DIRECT))
		return -errno;
	if (pread(fd, bounce, BLK, 0) >= 0)
		return 0;
	int e = -errno;
	fcntl(fd, F_SETFL, fl);
	return e;
}

/* Chooses the file's I/O path: auto is O_DIRECT pread/pwrite, else (no
 * O_DIRECT) buffered; io_uring only when asked for. A path asked for
 * explicitly that cannot work is an error. */
static int pick_io(struct store *s, const char *path, enum file_io want,
                   char *err, size_t errlen)
{
	if (want == IO_BUFFERED) {
		s->io = IO_BUFFERED;
		snprintf(s->why, sizeof s->why, "SWAPEMU_STORE_IO=buffered");
		return 0;
	}
	int e = try_direct(s->fd);
	if (e) {
		if (want != IO_AUTO) {
			snprintf(err, errlen,
			         "%s: the file system refuses O_DIRECT (%s), "
			         "needed for SWAPEMU_STORE_IO=%s",
			         path, strerror(-e), io_names[want]);
			return -1;
		}
		s->io = IO_BUFFERED;
		snprintf(s->why, sizeof s->why,
		         "the file system refuses O_DIRECT: %s", strerror(-e));
		return 0;
	}
	if (want != IO_URING) {
		/* Measured (README, "File store through io_uring"): ext4
		 * completes an io_uring O_DIRECT write through a kernel
		 * workqueue, a synchronous pwrite in the caller; one block
		 * per call, pwrite is faster and reads are even. */
		s->io = IO_PREAD;
		snprintf(s->why, sizeof s->why, "%s",
		         want == IO_PREAD
		             ? "SWAPEMU_STORE_IO=pread"
		             : "auto: O_DIRECT pread/pwrite measured "
		               "faster than io_uring");
		return 0;
	}
	char why[128];
	s->uring = uring_io_open(s->fd, why, sizeof why);
	if (!s->uring) {
		snprintf(err, errlen, "%s: %s (SWAPEMU_STORE_IO=uring)", path,
		         why);
		return -1;
	}
	s->io = IO_URING;
	return 0;
}

static int open_file(struct store *s, const struct profile *p, char *err,
                     size_t errlen)
{
	enum file_io want;
	if (wanted_io(&want, err, errlen))
		return -1;
	s->fd = open(p->store_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	struct stat st;
	if (s->fd < 0 || fstat(s->fd, &st)) {
		snprintf(err, errlen, "%s: cannot open store file: %m",
		         p->store_path);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: store is not a regular file",
		         p->store_path);
		return -1;
	}
	if (st.st_size == 0) {
		if (ftruncate(s->fd, (off_t)p->size)) {
			snprintf(err, errlen, "%s: cannot size store file: %m",
			         p->store_path);
			return -1;
		}
	} else if ((uint64_t)st.st_size != p->size) {
		/* Never truncate or grow what somebody stored. */
		snprintf(err, errlen,
		         "%s: store file holds %lld bytes but the profile "
		         "says %llu; refusing to resize it",
		         p->store_path, (long long)st.st_size,
		         (unsigned long long)p->size);
		return -1;
	}
	return pick_io(s, p->store_path, want, err, errlen);
}

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
	int r = s->kind == STORE_MEMORY ? open_memory(s, p, err, errlen)
	                                : open_file(s, p, err, errlen);
	if (r) {
		if (s->fd >= 0)
			close(s->fd);
		free(s);
		return NULL;
	}
	return s;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->kind == STORE_MEMORY) {
		munmap(s->mem, s->nblocks * BLK);
		free(s->present);
	}
	uring_io_close(s->uring);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

const char *store_kind(const struct store *s)
{
	return s->kind == STORE_MEMORY ? "memory" : io_kinds[s->io];
}

const char *store_kind_why(const struct store *s)
{
	return s->why;
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

static int aligned(const void *p)
{
	return ((uintptr_t)p & (BLK - 1)) == 0;
}

static int file_read(struct store *s, uint64_t blk, void *buf)
{
	if (s->io == IO_URING)
		return uring_io_read(s->uring, buf, blk * BLK);
	if (s->io == IO_BUFFERED || aligned(buf))
		return full_pread(s->fd, buf, blk * BLK);
	int r = full_pread(s->fd, bounce, blk * BLK);
	if (!r)
		memcpy(buf, bounce, BLK);
	return r;
}

static int file_write(struct store *s, uint64_t blk, const void *buf)
{
	if (s->io == IO_URING)
		return uring_io_write(s->uring, buf, blk * BLK);
	if (s->io == IO_BUFFERED || aligned(buf))
		return full_pwrite(s->fd, buf, blk * BLK);
	memcpy(bounce, buf, BLK);
	return full_pwrite(s->fd, bounce, blk * BLK);
}

int store_read(struct store *s, uint64_t blk, void *buf)
{
	if (s->kind == STORE_FILE)
		return file_read(s, blk, buf);
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
		return file_write(s, blk, buf);
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
		return file_write(s, blk, zeros);
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
	struct stat st;
	if (s->kind == STORE_FILE && !fstat(s->fd, &st))
		return (uint64_t)st.st_blocks * 512;
	return s->used;
}
