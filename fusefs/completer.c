/* completer.c - delayed write completions, ordered by deadline in a
 * binary heap served by one thread. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "fusefs.h"

struct pending {
	uint64_t due_ns, start_ns;
	fuse_req_t req;
	size_t size;
	int result;
};

struct completer {
	struct device *dev;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	struct pending *heap;
	size_t n, cap;
	int stopping;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void reply(struct completer *c, const struct pending *p)
{
	if (p->result < 0)
		fuse_reply_err(p->req, -p->result);
	else
		fuse_reply_write(p->req, p->size);
	device_end(c->dev, OP_WRITE, p->start_ns, p->size, p->result);
}

static void heap_push(struct completer *c, struct pending p)
{
	size_t i = c->n++;
	while (i) {
		size_t parent = (i - 1) / 2;
		if (c->heap[parent].due_ns <= p.due_ns)
			break;
		c->heap[i] = c->heap[parent];
		i = parent;
	}
	c->heap[i] = p;
}

static struct pending heap_pop(struct completer *c)
{
	struct pending top = c->heap[0], last = c->heap[--c->n];
	size_t i = 0;
	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= c->n)
			break;
		if (child + 1 < c->n &&
		    c->heap[child + 1].due_ns < c->heap[child].due_ns)
			child++;
		if (last.due_ns <= c->heap[child].due_ns)
			break;
		c->heap[i] = c->heap[child];
		i = child;
	}
	if (c->n)
		c->heap[i] = last;
	return top;
}

static void *completer_loop(void *arg)
{
	struct completer *c = arg;
	pthread_mutex_lock(&c->lock);
	for (;;) {
		if (!c->n) {
			if (c->stopping)
				break;
			pthread_cond_wait(&c->cond, &c->lock);
			continue;
		}
		uint64_t due = c->heap[0].due_ns;
		if (!c->stopping && due > now_ns()) {
			struct timespec ts = {(time_t)(due / 1000000000ull),
			                      (long)(due % 1000000000ull)};
			pthread_cond_timedwait(&c->cond, &c->lock, &ts);
			continue;
		}
		struct pending p = heap_pop(c);
		pthread_mutex_unlock(&c->lock);
		reply(c, &p);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
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
	return c;
}

void completer_add(struct completer *c, fuse_req_t req, size_t size, int result,
                   uint64_t start_ns, uint64_t delay_ns)
{
	struct pending p = {now_ns() + delay_ns, start_ns, req, size, result};
	if (!delay_ns) {
		reply(c, &p);
		return;
	}
	pthread_mutex_lock(&c->lock);
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 256;
		struct pending *h = realloc(c->heap, cap * sizeof *h);
		if (!h) { /* cannot queue it: complete it now instead */
			pthread_mutex_unlock(&c->lock);
			reply(c, &p);
			return;
		}
		c->heap = h, c->cap = cap;
	}
	heap_push(c, p);
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

void completer_stop(struct completer *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stopping = 1;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c->heap);
	free(c);
}
