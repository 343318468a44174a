/* store_uring.h - 4 KiB block reads and writes of one O_DIRECT file through
 * io_uring: a pool of small rings, each with a registered 4 KiB bounce
 * buffer and the file registered, taken by one caller at a time (so any
 * number of threads may call at once; there are as many rings as callers
 * ever were at the same time). Used by the file store (store.c). */
#ifndef SWAPEMU_STORE_URING_H
#define SWAPEMU_STORE_URING_H

#include <stddef.h>
#include <stdint.h>

struct uring_io;

/* Sets up the first ring for fd (opened with O_DIRECT) and reads block 0
 * through it, so that a kernel without io_uring (ENOSYS), one that forbids
 * it (EPERM: kernel.io_uring_disabled, seccomp) or a file io_uring cannot
 * read is found here. NULL with the reason in err. */
struct uring_io *uring_io_open(int fd, char *err, size_t errlen);
void uring_io_close(struct uring_io *u);

/* One 4 KiB block at byte offset off (a multiple of 4096); buf may have
 * any alignment. 0 or -errno; a write returns once the file system has
 * completed it (for O_DIRECT: the device has it). */
int uring_io_read(struct uring_io *u, void *buf, uint64_t off);
int uring_io_write(struct uring_io *u, const void *buf, uint64_t off);

#endif
