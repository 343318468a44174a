/* uring.c - FUSE over io_uring: the ring queues and their entries.
 *
 * The kernel keeps one queue per possible CPU and hands a request to an
 * entry of the queue of the CPU that made it, whichever of the queue's
 * entries waits. Each queue here is served by URING_THREADS threads, each
 * with its own io_uring (128-byte SQEs, which the command needs) and
 * URING_DEPTH entries registered on that queue, so that the threads of a
 * queue share its load as the /dev/fuse threads share theirs (one thread
 * per queue lost to /dev/fuse at 128 KiB writes). An entry is a header
 * buffer and, right after a page of room, a payload buffer as large as the
 * largest request.
 *
 * When an entry's command completes, it holds a request: the thread writes
 * the request's fuse_in_header and fixed argument into the room just
 * before the payload, so that header, argument and payload lie as a read
 * of /dev/fuse would have left them, and hands that to libfuse
 * (fuse_session_process_buf), whose ops (ops.c) run unchanged. Their
 * replies come back through the session's custom writev (transport.c):
 * uring_reply() finds the entry by the request's unique, copies the reply
 * into it and commits it with COMMIT_AND_FETCH, which also makes the entry
 * wait for the next request. A reply made on the queue's own thread is
 * queued on its ring at once and submitted with the next wait; one made
 * elsewhere (the completer's delayed replies) is handed to the thread
 * through a list and an eventfd, as only that thread uses its ring.
 *
 * Capture: the kernel copies a write's payload into the entry when it
 * dispatches the request, before the daemon can see it, so there is no
 * capture delay over io_uring (device_set_transport refuses one).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <liburing.h>

#include "fusefs.h"
#include "uring-abi.h"

#define URING_THREADS 2 /* threads (each with a ring) per kernel queue */
#define URING_DEPTH 32  /* entries per thread */
#define ROOM 4096       /* header buffer, then room for in header + arg */
#define EVENTFD_TAG 1   /* user_data of the eventfd read (entries: pointers) */

struct uqueue;

struct ent {
	struct fuse_uring_req_header *hdr;
	char *payload;
	struct iovec iov[2];
	struct uqueue *q;
	_Atomic uint64_t unique; /* request held in userspace; 0: none */
};

struct uqueue {
	struct uring *u;
	unsigned qid; /* the kernel's queue */
	unsigned idx; /* in struct uring's q[] */
	pthread_t thread;
	int started;
	struct io_uring ring;
	int efd;
	uint64_t efd_val;
	struct ent *ents;
	unsigned live;        /* entries the kernel has not torn down */
	int serving;          /* has had a request: registration worked */
	pthread_mutex_t lock; /* the hand-over list: */
	struct ent **pending;
	unsigned npending;
};

enum { WAITING, RUNNING, STOPPING };

struct uring {
	struct fuse_session *se;
	int fd;
	unsigned nq, nw; /* the kernel's queues; threads (nq * URING_THREADS) */
	size_t payload_sz;
	struct uqueue *q;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	_Atomic int state;
	_Atomic int failed; /* a queue could not start */
	void (*on_fail)(void *), *on_fail_arg;
};

static __thread struct uqueue *self; /* the queue this thread serves */
static __thread struct ent *cur;     /* the entry it is processing */

/* Number of possible CPUs, the kernel's number of queues. */
static unsigned possible_cpus(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "re");
	unsigned last = 0;
	char line[256];
	if (f && fgets(line, sizeof line, f)) {
		/* "0-7", "0", "0-3,8-11": the last number is the highest. */
		char *p = line + strcspn(line, "\n");
		while (p > line && (p[-1] >= '0' && p[-1] <= '9'))
			p--;
		last = (unsigned)strtoul(p, NULL, 10);
	}
	if (f)
		fclose(f);
	return last + 1;
}

struct uring *uring_new(struct fuse_session *se)
{
	struct uring *u = calloc(1, sizeof *u);
	if (!u)
		return NULL;
	u->se = se;
	u->nq = possible_cpus();
	u->nw = u->nq * URING_THREADS;
	pthread_mutex_init(&u->lock, NULL);
	pthread_cond_init(&u->cond, NULL);
	return u;
}

static struct io_uring_sqe *get_sqe(struct uqueue *q)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);
	if (!sqe) { /* full: send what is queued */
		io_uring_submit(&q->ring);
		sqe = io_uring_get_sqe(&q->ring);
	}
	if (sqe)
		memset(sqe, 0, 2 * sizeof *sqe); /* 128 bytes */
	return sqe;
}

static int prep_cmd(struct uqueue *q, struct ent *e, unsigned cmd,
                    uint64_t commit_id)
{
	struct io_uring_sqe *sqe = get_sqe(q);
	if (!sqe)
		return -1;
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = q->u->fd;
	sqe->cmd_op = cmd;
	if (cmd == FUSE_IO_URING_CMD_REGISTER) {
		sqe->addr = (uintptr_t)e->iov;
		sqe->len = 2;
	}
	struct fuse_uring_cmd_req *req = (void *)sqe->cmd;
	req->qid = (uint16_t)q->qid;
	req->commit_id = commit_id;
	io_uring_sqe_set_data(sqe, e);
	return 0;
}

static void arm_eventfd(struct uqueue *q)
{
	struct io_uring_sqe *sqe = get_sqe(q);
	if (!sqe)
		return;
	io_uring_prep_read(sqe, q->efd, &q->efd_val, sizeof q->efd_val, 0);
	io_uring_sqe_set_data64(sqe, EVENTFD_TAG);
}

/* Hands a request to libfuse, laid out as /dev/fuse would give it: the
 * in header and the opcode's argument go just before the payload. */
static void process(struct uqueue *q, struct ent *e)
{
	struct fuse_in_header in;
	memcpy(&in, e->hdr->in_out, sizeof in);
	size_t payload = e->hdr->ring_ent_in_out.payload_sz;
	size_t arg = in.len - sizeof in - payload;
	if (in.len < sizeof in + payload || arg > FUSE_URING_OP_IN_OUT_SZ ||
	    payload > q->u->payload_sz) {
		/* Cannot happen with a kernel that keeps the protocol; answer
		 * so that the entry is not lost. */
		fprintf(stderr,
		        "swapemu-fuse: io_uring: malformed request "
		        "(opcode %u, len %u, payload %zu)\n",
		        in.opcode, in.len, payload);
		atomic_store(&e->unique, in.unique);
		struct fuse_out_header out = {sizeof out, -EIO, in.unique};
		struct iovec iov = {&out, sizeof out};
		uring_reply(q->u, &iov, 1);
		return;
	}
	char *start = e->payload - arg - sizeof in;
	memcpy(start, &in, sizeof in);
	memcpy(start + sizeof in, e->hdr->op_in, arg);
	atomic_store_explicit(&e->unique, in.unique, memory_order_release);
	struct fuse_buf buf = {.size = in.len, .mem = start};
	cur = e; /* a reply made right here finds its entry without a scan */
	fuse_session_process_buf(q->u->se, &buf);
	cur = NULL;
}

/* Replies handed over by other threads: commit them from here. */
static void take_pending(struct uqueue *q)
{
	pthread_mutex_lock(&q->lock);
	for (unsigned i = 0; i < q->npending; i++) {
		struct ent *e = q->pending[i];
		prep_cmd(q, e, FUSE_IO_URING_CMD_COMMIT_AND_FETCH,
		         e->hdr->ring_ent_in_out.commit_id);
	}
	q->npending = 0;
	pthread_mutex_unlock(&q->lock);
}

static void complete(struct uqueue *q, struct io_uring_cqe *cqe)
{
	struct uring *u = q->u;
	if (cqe->user_data == EVENTFD_TAG) {
		take_pending(q);
		if (cqe->res > 0)
			arm_eventfd(q);
		return;
	}
	struct ent *e = io_uring_cqe_get_data(cqe);
	if (cqe->res == -EAGAIN) { /* the connection is not initialised yet */
		usleep(1000);
		prep_cmd(q, e, FUSE_IO_URING_CMD_REGISTER, 0);
		return;
	}
	if (cqe->res < 0) {
		/* Torn down (unmount, abort: -ENOTCONN, -ECONNABORTED), or
		 * refused at registration. */
		int teardown = cqe->res == -ENOTCONN ||
		               cqe->res == -ECONNABORTED ||
		               cqe->res == -ECANCELED;
		if (!q->serving && !teardown &&
		    !atomic_exchange(&u->failed, 1)) {
			fprintf(stderr,
			        "swapemu-fuse: io_uring: cannot register ring "
			        "entries on queue %u: %s\n",
			        q->qid, strerror(-cqe->res));
			if (u->on_fail)
				u->on_fail(u->on_fail_arg);
		}
		q->live--;
		return;
	}
	q->serving = 1;
	process(q, e);
}

static int queue_setup(struct uqueue *q)
{
	/* Only this thread uses the ring: the kernel may defer its work to
	 * our waits (fewer interruptions); older kernels get plain rings. */
	static const unsigned flags[] = {
	    IORING_SETUP_SQE128 | IORING_SETUP_SINGLE_ISSUER |
	        IORING_SETUP_DEFER_TASKRUN,
	    IORING_SETUP_SQE128 | IORING_SETUP_COOP_TASKRUN,
	    IORING_SETUP_SQE128};
	int r = -EINVAL;
	for (unsigned i = 0; i < sizeof flags / sizeof flags[0]; i++)
		if ((r = io_uring_queue_init(URING_DEPTH * 2 + 8, &q->ring,
		                             flags[i])) == 0)
			break;
	if (r) {
		fprintf(stderr,
		        "swapemu-fuse: io_uring: cannot set up a ring: "
		        "%s\n",
		        strerror(-r));
		return -1;
	}
	arm_eventfd(q);
	for (unsigned i = 0; i < URING_DEPTH; i++)
		if (prep_cmd(q, &q->ents[i], FUSE_IO_URING_CMD_REGISTER, 0))
			return -1;
	q->live = URING_DEPTH;
	return 0;
}

static void *queue_loop(void *arg)
{
	struct uqueue *q = arg;
	struct uring *u = q->u;
	self = q;
	pthread_mutex_lock(&u->lock);
	while (u->state == WAITING)
		pthread_cond_wait(&u->cond, &u->lock);
	int run = u->state == RUNNING;
	pthread_mutex_unlock(&u->lock);
	if (!run)
		return NULL;
	if (queue_setup(q)) {
		if (!atomic_exchange(&u->failed, 1) && u->on_fail)
			u->on_fail(u->on_fail_arg);
		return NULL;
	}
	while (q->live > 0 && !fuse_session_exited(u->se) &&
	       atomic_load(&u->state) == RUNNING) {
		int r = io_uring_submit_and_wait(&q->ring, 1);
		if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
			fprintf(stderr, "swapemu-fuse: io_uring: %s\n",
			        strerror(-r));
			break;
		}
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		io_uring_for_each_cqe(&q->ring, head, cqe)
		{
			complete(q, cqe);
			n++;
		}
		io_uring_cq_advance(&q->ring, n);
	}
	/* Replies handed over meanwhile still go out. Closing the ring then
	 * cancels the entries still waiting; the kernel ends the requests of
	 * the others when the connection goes. */
	take_pending(q);
	io_uring_submit(&q->ring);
	io_uring_queue_exit(&q->ring);
	return NULL;
}

/* Entry buffers: a page holding the header buffer, with the room before
 * the payload at its end, then the payload. */
static int alloc_entries(struct uqueue *q, size_t payload_sz)
{
	q->ents = calloc(URING_DEPTH, sizeof *q->ents);
	q->pending = calloc(URING_DEPTH, sizeof *q->pending);
	if (!q->ents || !q->pending)
		return -1;
	for (unsigned i = 0; i < URING_DEPTH; i++) {
		struct ent *e = &q->ents[i];
		char *m = mmap(NULL, ROOM + payload_sz, PROT_READ | PROT_WRITE,
		               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return -1;
		e->hdr = (void *)m;
		e->payload = m + ROOM;
		e->iov[0] = (struct iovec){e->hdr, sizeof *e->hdr};
		e->iov[1] = (struct iovec){e->payload, payload_sz};
		e->q = q;
	}
	return 0;
}

int uring_start(struct uring *u, void (*on_fail)(void *), void *arg)
{
	u->on_fail = on_fail, u->on_fail_arg = arg;
	u->q = calloc(u->nw, sizeof *u->q);
	if (!u->q)
		return -1;
	for (unsigned i = 0; i < u->nw; i++) {
		struct uqueue *q = &u->q[i];
		q->u = u, q->qid = i % u->nq, q->idx = i;
		pthread_mutex_init(&q->lock, NULL);
		q->efd = eventfd(0, EFD_CLOEXEC);
		if (q->efd < 0 ||
		    pthread_create(&q->thread, NULL, queue_loop, q))
			return -1;
		q->started = 1;
	}
	return 0;
}

int uring_go(struct uring *u, int fd, size_t payload_sz)
{
	u->fd = fd;
	u->payload_sz = payload_sz;
	int r = 0;
	for (unsigned i = 0; i < u->nw && !r; i++)
		r = alloc_entries(&u->q[i], payload_sz);
	pthread_mutex_lock(&u->lock);
	u->state = r ? STOPPING : RUNNING;
	pthread_cond_broadcast(&u->cond);
	pthread_mutex_unlock(&u->lock);
	return r;
}

/* The entry holding request unique, taken from the table of requests in
 * userspace; NULL if none (a /dev/fuse request). The entries are few (a
 * queue per CPU, URING_DEPTH each): a scan, starting with this thread's
 * queue, costs less than a lock. */
static struct ent *take(struct uring *u, uint64_t unique)
{
	if (atomic_load(&u->state) == WAITING)
		return NULL; /* no entry is registered yet */
	uint64_t mine = unique;
	if (cur && atomic_compare_exchange_strong(&cur->unique, &mine, 0))
		return cur;
	unsigned first = self ? self->idx : 0;
	for (unsigned k = 0; k < u->nw; k++) {
		struct uqueue *q = &u->q[(first + k) % u->nw];
		if (!q->ents)
			continue;
		for (unsigned i = 0; i < URING_DEPTH; i++) {
			uint64_t want = unique;
			if (atomic_load_explicit(&q->ents[i].unique,
			                         memory_order_relaxed) ==
			        unique &&
			    atomic_compare_exchange_strong(&q->ents[i].unique,
			                                   &want, 0))
				return &q->ents[i];
		}
	}
	return NULL;
}

ssize_t uring_reply(struct uring *u, struct iovec *iov, int count)
{
	struct fuse_out_header *out = iov[0].iov_base;
	struct ent *e = u ? take(u, out->unique) : NULL;
	if (!e)
		return -2; /* not ours */
	size_t len = 0;
	for (int i = 1; i < count; i++) {
		if (len + iov[i].iov_len > u->payload_sz) {
			out->error = -EIO; /* cannot happen: max_write */
			len = 0;
			break;
		}
		memcpy(e->payload + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	memcpy(e->hdr->in_out, out, sizeof *out);
	e->hdr->ring_ent_in_out.payload_sz = (uint32_t)len;
	e->hdr->ring_ent_in_out.commit_id = out->unique;
	struct uqueue *q = e->q;
	if (self == q) {
		prep_cmd(q, e, FUSE_IO_URING_CMD_COMMIT_AND_FETCH, out->unique);
	} else {
		pthread_mutex_lock(&q->lock);
		int wake = q->npending == 0;
		q->pending[q->npending++] = e;
		pthread_mutex_unlock(&q->lock);
		if (wake)
			eventfd_write(q->efd, 1);
	}
	return (ssize_t)(sizeof *out + len);
}

void uring_stop(struct uring *u)
{
	if (!u)
		return;
	pthread_mutex_lock(&u->lock);
	int was = u->state;
	u->state = STOPPING;
	pthread_cond_broadcast(&u->cond);
	pthread_mutex_unlock(&u->lock);
	for (unsigned i = 0; u->q && i < u->nw; i++) {
		struct uqueue *q = &u->q[i];
		if (!q->started)
			continue;
		if (was == RUNNING)
			eventfd_write(q->efd, 1);
		pthread_join(q->thread, NULL);
	}
	/* Our bookkeeping goes: every thread that could reply has stopped
	 * (main stops the completer first; the capture threads are done). The
	 * entries' buffers stay mapped: the kernel may still be tearing the
	 * closed rings down, and the process is about to exit. */
	for (unsigned i = 0; u->q && i < u->nw; i++) {
		struct uqueue *q = &u->q[i];
		free(q->ents);
		free(q->pending);
		if (q->started && q->efd >= 0)
			close(q->efd);
		pthread_mutex_destroy(&q->lock);
	}
	free(u->q);
	pthread_mutex_destroy(&u->lock);
	pthread_cond_destroy(&u->cond);
	free(u);
}
