/* store_uring.c - the file store's io_uring path: a pool of rings, one per
 * concurrent caller (see store_uring.h). Each request is one fixed-buffer
 * read or write on the registered file, submitted and waited for in one
 * io_uring_enter. A pool rather than thread-local rings: the front ends'
 * threads come and go, and a ring must outlive none of them. */
#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "store_uring.h"

#define BLK 4096u
#define RING_DEPTH 2 /* one request at a time; 2 leaves room */

struct ring {
	struct io_uring io;
	char *buf; /* BLK bytes, page aligned, registered as buffer 0 */
	struct ring *next;
};

struct uring_io {
	int fd;
	unsigned flags; /* io_uring_setup flags that worked */
	pthread_mutex_t lock;
	struct ring *idle; /* rings no caller holds */
};

static void ring_free(struct ring *r)
{
	/* The ring's teardown is asynchronous and would hold the file open a
	 * while longer; unregistering it is not. */
	io_uring_unregister_files(&r->io);
	io_uring_queue_exit(&r->io);
	free(r->buf);
	free(r);
}

/* A new ring for u->fd; NULL with -errno in *err. */
static struct ring *ring_new(struct uring_io *u, int *err)
{
	struct ring *r = calloc(1, sizeof *r);
	if (!r || posix_memalign((void **)&r->buf, BLK, BLK)) {
		free(r);
		*err = -ENOMEM;
		return NULL;
	}
	int e = io_uring_queue_init(RING_DEPTH, &r->io, u->flags);
	if (e == -EINVAL && u->flags) {
		/* older kernel: no COOP_TASKRUN */
		u->flags = 0;
		e = io_uring_queue_init(RING_DEPTH, &r->io, 0);
	}
	if (e) {
		free(r->buf);
		free(r);
		*err = e;
		return NULL;
	}
	struct iovec iov = {.iov_base = r->buf, .iov_len = BLK};
	if ((e = io_uring_register_buffers(&r->io, &iov, 1)) ||
	    (e = io_uring_register_files(&r->io, &u->fd, 1))) {
		ring_free(r);
		*err = e;
		return NULL;
	}
	return r;
}

static struct ring *ring_get(struct uring_io *u, int *err)
{
	pthread_mutex_lock(&u->lock);
	struct ring *r = u->idle;
	if (r)
		u->idle = r->next;
	pthread_mutex_unlock(&u->lock);
	return r ? r : ring_new(u, err);
}

static void ring_put(struct uring_io *u, struct ring *r)
{
	pthread_mutex_lock(&u->lock);
	r->next = u->idle;
	u->idle = r;
	pthread_mutex_unlock(&u->lock);
}

/* One request on the ring's buffer; its result (bytes or -errno), or a
 * ring error in *broken (the ring is then not reused). */
static int ring_rw(struct ring *r, int write, size_t at, uint64_t off,
                   int *broken)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->io);
	if (!sqe) {
		*broken = -EBUSY;
		return 0;
	}
	if (write)
		io_uring_prep_write_fixed(sqe, 0, r->buf + at, BLK - at,
		                          off + at, 0);
	else
		io_uring_prep_read_fixed(sqe, 0, r->buf + at, BLK - at,
		                         off + at, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	int n;
	/* A signal before the submission leaves the entry queued: retry. */
	while ((n = io_uring_submit_and_wait(&r->io, 1)) == -EINTR)
		;
	struct io_uring_cqe *cqe;
	if (n >= 0)
		while ((n = io_uring_wait_cqe(&r->io, &cqe)) == -EINTR)
			;
	if (n < 0) {
		*broken = n;
		return 0;
	}
	int res = cqe->res;
	io_uring_cqe_seen(&r->io, cqe);
	return res;
}

static int uring_io_rw(struct uring_io *u, int write, void *buf, uint64_t off)
{
	int err = 0, broken = 0;
	struct ring *r = ring_get(u, &err);
	if (!r)
		return err;
	if (write)
		memcpy(r->buf, buf, BLK);
	size_t done = 0;
	while (done < BLK && !err && !broken) {
		int n = ring_rw(r, write, done, off, &broken);
		if (n < 0)
			err = n;
		else if (n == 0 && !write) /* past the end: zeros */
			memset(r->buf + done, 0, BLK - done), done = BLK;
		else if (n == 0)
			err = -EIO;
		else
			done += (size_t)n;
	}
	if (broken) {
		ring_free(r);
		return broken;
	}
	if (!write && !err)
		memcpy(buf, r->buf, BLK);
	ring_put(u, r);
	return err;
}

int uring_io_read(struct uring_io *u, void *buf, uint64_t off)
{
	return uring_io_rw(u, 0, buf, off);
}

int uring_io_write(struct uring_io *u, const void *buf, uint64_t off)
{
	return uring_io_rw(u, 1, (void *)buf, off);
}

struct uring_io *uring_io_open(int fd, char *err, size_t errlen)
{
	struct uring_io *u = calloc(1, sizeof *u);
	if (!u) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	u->fd = fd;
	u->flags = IORING_SETUP_COOP_TASKRUN;
	pthread_mutex_init(&u->lock, NULL);
	int e = 0;
	struct ring *r = ring_new(u, &e);
	if (!r) {
		snprintf(err, errlen, "io_uring: %s", strerror(-e));
		goto fail;
	}
	ring_put(u, r);
	char probe[BLK];
	if ((e = uring_io_read(u, probe, 0))) {
		snprintf(err, errlen, "io_uring read: %s", strerror(-e));
		goto fail;
	}
	return u;
fail:
	uring_io_close(u);
	return NULL;
}

void uring_io_close(struct uring_io *u)
{
	if (!u)
		return;
	while (u->idle) {
		struct ring *r = u->idle;
		u->idle = r->next;
		ring_free(r);
	}
	pthread_mutex_destroy(&u->lock);
	free(u);
}
