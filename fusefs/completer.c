/* completer.c - delayed and stalled replies. Delayed ones wait in a binary
 * heap ordered by due time, served by one thread; stalled ones wait in a
 * list until the device's release moves them to the heap. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "fusefs.h"
#include "clock.h"

struct pending {
	uint64_t due_ns;
	struct reply r;
};

struct queue {
	struct pending *v;
	size_t n, cap;
};

struct completer {
	struct device *dev;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	struct queue heap, stalled;
	int stopping;
};

static void send_reply(struct completer *c, struct reply *r)
{
	if (r->result < 0)
		fuse_reply_err(r->req, -r->result);
	else if (r->op == OP_WRITE)
		fuse_reply_write(r->req, r->size);
	else if (r->op == OP_READ)
		fuse_reply_buf(r->req, r->buf, r->size);
	else
		fuse_reply_err(r->req, 0);
	device_end(c->dev, r->op, r->start_ns, r->size, r->result);
	free(r->buf);
}

static int grow(struct queue *q)
{
	if (q->n < q->cap)
		return 0;
	size_t cap = q->cap ? 2 * q->cap : 256;
	struct pending *v = realloc(q->v, cap * sizeof *v);
	if (!v)
		return -1;
	q->v = v, q->cap = cap;
	return 0;
}

static void heap_push(struct queue *h, struct pending p)
{
	size_t i = h->n++;
	while (i) {
		size_t parent = (i - 1) / 2;
		if (h->v[parent].due_ns <= p.due_ns)
			break;
		h->v[i] = h->v[parent];
		i = parent;
	}
	h->v[i] = p;
}

static struct pending heap_pop(struct queue *h)
{
	struct pending top = h->v[0], last = h->v[--h->n];
	size_t i = 0;
	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= h->n)
			break;
		if (child + 1 < h->n &&
		    h->v[child + 1].due_ns < h->v[child].due_ns)
			child++;
		if (last.due_ns <= h->v[child].due_ns)
			break;
		h->v[i] = h->v[child];
		i = child;
	}
	if (h->n)
		h->v[i] = last;
	return top;
}

static void *completer_loop(void *arg)
{
	struct completer *c = arg;
	pthread_mutex_lock(&c->lock);
	for (;;) {
		if (!c->heap.n) {
			if (c->stopping)
				break;
			pthread_cond_wait(&c->cond, &c->lock);
			continue;
		}
		uint64_t due = c->heap.v[0].due_ns;
		if (!c->stopping && due > now_ns()) {
			struct timespec ts = ns_to_timespec(due);
			pthread_cond_timedwait(&c->cond, &c->lock, &ts);
			continue;
		}
		struct pending p = heap_pop(&c->heap);
		pthread_mutex_unlock(&c->lock);
		send_reply(c, &p.r);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* The device's release: every stalled reply becomes due now. */
static void on_release(void *opaque)
{
	struct completer *c = opaque;
	pthread_mutex_lock(&c->lock);
	uint64_t now = now_ns();
	while (c->stalled.n && !grow(&c->heap)) {
		struct pending p = c->stalled.v[--c->stalled.n];
		p.due_ns = now;
		heap_push(&c->heap, p);
	}
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

struct completer *completer_start(struct device *dev)
{
	struct completer *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->dev = dev;
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &attr);
	pthread_condattr_destroy(&attr);
	if (pthread_create(&c->thread, NULL, completer_loop, c)) {
		free(c);
		return NULL;
	}
	device_on_release(dev, on_release, c);
	return c;
}

void completer_add(struct completer *c, const struct reply *r,
                   const struct dev_io *io)
{
	struct pending p = {now_ns() + io->delay_ns, *r};
	if (!io->delay_ns && !io->stall) {
		send_reply(c, &p.r);
		return;
	}
	pthread_mutex_lock(&c->lock);
	struct queue *q = io->stall ? &c->stalled : &c->heap;
	/* Stopped (shutdown), or cannot hold it: reply now instead. */
	if (c->stopping || grow(q)) {
		pthread_mutex_unlock(&c->lock);
		send_reply(c, &p.r);
		return;
	}
	if (io->stall) {
		q->v[q->n++] = p;
		device_stall_note(c->dev);
	} else {
		heap_push(q, p);
		pthread_cond_signal(&c->cond);
	}
	pthread_mutex_unlock(&c->lock);
}

void completer_stop(struct completer *c)
{
	if (!c)
		return;
	device_on_release(c->dev, NULL, NULL);
	on_release(c); /* nothing stays stalled past the end */
	pthread_mutex_lock(&c->lock);
	c->stopping = 1;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
}

void completer_free(struct completer *c)
{
	if (!c)
		return;
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c->heap.v);
	free(c->stalled.v);
	free(c);
}
