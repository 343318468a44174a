/* eventlog.c - bounded in-memory ring of JSON lines, mirrored to a file by
 * a thread of its own (see eventlog.h for why). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eventlog.h"

/* One line, shared by the ring and the readers writing it out. */
struct entry {
	_Atomic unsigned refs;
	char line[];
};

/* Readers take at most this many lines per trip to the lock, so the lock
 * is held for a bounded time whatever the ring holds. */
#define BATCH 256

struct eventlog {
	pthread_mutex_t lock;
	pthread_cond_t added;
	struct entry *ring[EVENTLOG_KEEP]; /* by sequence number % KEEP */
	uint64_t seq;  /* events since open; the ring holds the last KEEP */
	uint64_t base; /* seq at the last reset */
	FILE *file;
	/* The file writer: started by the first event of each process (a
	 * thread started before fork would not exist in the child). */
	pthread_t writer;
	unsigned writer_gen;  /* fork_gen when it was started; 0 = none */
	uint64_t writer_next; /* the first line it writes */
	int stopping;
};

static _Atomic unsigned fork_gen = 1;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void after_fork_child(void)
{
	atomic_fetch_add(&fork_gen, 1);
}

static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, after_fork_child);
}

static void unref(struct entry *e)
{
	if (e && atomic_fetch_sub(&e->refs, 1) == 1)
		free(e);
}

struct eventlog *eventlog_open(const char *path, char *err, size_t errlen)
{
	struct eventlog *l = calloc(1, sizeof *l);
	if (!l) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_once(&atfork_once, register_atfork);
	pthread_mutex_init(&l->lock, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&l->added, &attr);
	pthread_condattr_destroy(&attr);
	if (path) {
		l->file = fopen(path, "ae");
		if (!l->file) {
			snprintf(err, errlen, "%s: cannot open event log: %m",
			         path);
			pthread_mutex_destroy(&l->lock);
			pthread_cond_destroy(&l->added);
			free(l);
			return NULL;
		}
	}
	return l;
}

/* Under the lock: references to up to max lines from *next to end,
 * advancing *next; *dropped counts lines that left the ring before being
 * taken. */
static size_t take(struct eventlog *l, uint64_t *next, uint64_t end,
                   struct entry **out, size_t max, uint64_t *dropped)
{
	uint64_t oldest = l->seq > EVENTLOG_KEEP ? l->seq - EVENTLOG_KEEP : 0;
	if (*next < oldest) {
		*dropped += oldest - *next;
		*next = oldest;
	}
	size_t n = 0;
	while (n < max && *next < end) {
		struct entry *e = l->ring[(*next)++ % EVENTLOG_KEEP];
		if (e) {
			atomic_fetch_add(&e->refs, 1);
			out[n++] = e;
		}
	}
	return n;
}

/* Writes and releases n lines. Returns 0, or -1 if writing failed. */
static int put(struct entry **es, size_t n, FILE *out)
{
	int r = 0;
	for (size_t i = 0; i < n; i++) {
		if (!r && fprintf(out, "%s\n", es[i]->line) < 0)
			r = -1;
		unref(es[i]);
	}
	return r;
}

static void *file_writer(void *arg)
{
	struct eventlog *l = arg;
	struct entry *es[BATCH];
	uint64_t dropped = 0;
	pthread_mutex_lock(&l->lock);
	uint64_t next = l->writer_next;
	for (;;) {
		size_t n = take(l, &next, l->seq, es, BATCH, &dropped);
		if (!n) {
			if (l->stopping)
				break;
			pthread_cond_wait(&l->added, &l->lock);
			continue;
		}
		pthread_mutex_unlock(&l->lock);
		if (dropped) {
			fprintf(l->file,
			        "{\"event\":\"events-dropped\",\"count\":%llu,"
			        "\"reason\":\"the event log file fell more "
			        "than %u events behind\"}\n",
			        (unsigned long long)dropped, EVENTLOG_KEEP);
			dropped = 0;
		}
		put(es, n, l->file);
		fflush(l->file);
		pthread_mutex_lock(&l->lock);
	}
	pthread_mutex_unlock(&l->lock);
	fflush(l->file);
	return NULL;
}

void eventlog_close(struct eventlog *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	int joinable = l->writer_gen == atomic_load(&fork_gen);
	l->stopping = 1;
	pthread_cond_broadcast(&l->added);
	pthread_mutex_unlock(&l->lock);
	if (joinable) /* it writes what is left, then ends */
		pthread_join(l->writer, NULL);
	for (unsigned i = 0; i < EVENTLOG_KEEP; i++)
		unref(l->ring[i]);
	if (l->file)
		fclose(l->file);
	pthread_mutex_destroy(&l->lock);
	pthread_cond_destroy(&l->added);
	free(l);
}

void eventlog_add(struct eventlog *l, const char *line)
{
	size_t len = strlen(line);
	struct entry *e = malloc(sizeof *e + len + 1);
	if (e) {
		atomic_init(&e->refs, 1);
		memcpy(e->line, line, len + 1);
	}
	pthread_mutex_lock(&l->lock);
	unsigned gen = atomic_load(&fork_gen);
	if (l->file && l->writer_gen != gen && !l->stopping) {
		/* The first event of this process: start the file writer,
		 * from this event on (a parent wrote what came before). */
		l->writer_next = l->seq;
		if (!pthread_create(&l->writer, NULL, file_writer, l))
			l->writer_gen = gen;
	}
	struct entry **slot = &l->ring[l->seq % EVENTLOG_KEEP];
	struct entry *old = *slot;
	*slot = e;
	l->seq++;
	pthread_cond_broadcast(&l->added);
	pthread_mutex_unlock(&l->lock);
	unref(old);
}

void eventlog_dump(struct eventlog *l, FILE *out)
{
	struct entry *es[BATCH];
	uint64_t next, end, dropped = 0;
	pthread_mutex_lock(&l->lock);
	next = l->base;
	end = l->seq; /* what the log held when asked */
	for (;;) {
		/* Lines logged since the dump began are not part of it. */
		size_t n = take(l, &next, end, es, BATCH, &dropped);
		pthread_mutex_unlock(&l->lock);
		if (!n || put(es, n, out))
			return;
		pthread_mutex_lock(&l->lock);
	}
}

uint64_t eventlog_count(struct eventlog *l)
{
	pthread_mutex_lock(&l->lock);
	uint64_t n = l->seq - l->base;
	pthread_mutex_unlock(&l->lock);
	return n;
}

void eventlog_reset(struct eventlog *l)
{
	pthread_mutex_lock(&l->lock);
	l->base = l->seq;
	pthread_mutex_unlock(&l->lock);
}

/* Has the peer of socket fd gone? */
static int peer_gone(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLRDHUP};
	return poll(&p, 1, 0) > 0 &&
	       (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

void eventlog_follow(struct eventlog *l, FILE *out, int fd)
{
	struct entry *es[BATCH];
	uint64_t next, dropped = 0;
	pthread_mutex_lock(&l->lock);
	next = l->base;
	for (;;) {
		if (next < l->base) /* reset meanwhile: from the reset on */
			next = l->base;
		size_t n = take(l, &next, l->seq, es, BATCH, &dropped);
		if (!n) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&l->added, &l->lock, &ts);
			n = take(l, &next, l->seq, es, BATCH, &dropped);
		}
		pthread_mutex_unlock(&l->lock);
		if (put(es, n, out) || fflush(out) || ferror(out) ||
		    peer_gone(fd))
			return;
		pthread_mutex_lock(&l->lock);
	}
}
