/* eventlog.c - bounded in-memory ring of JSON lines, mirrored to a file. */
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include "eventlog.h"

struct eventlog {
	pthread_mutex_t lock;
	pthread_cond_t added;
	char *ring[EVENTLOG_KEEP];
	uint64_t total; /* events since reset; ring holds the last KEEP */
	FILE *file;
};

struct eventlog *eventlog_open(const char *path, char *err, size_t errlen)
{
	struct eventlog *l = calloc(1, sizeof *l);
	if (!l) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
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
			free(l);
			return NULL;
		}
		setvbuf(l->file, NULL, _IOLBF, 0);
	}
	return l;
}

void eventlog_close(struct eventlog *l)
{
	if (!l)
		return;
	for (unsigned i = 0; i < EVENTLOG_KEEP; i++)
		free(l->ring[i]);
	if (l->file)
		fclose(l->file);
	pthread_mutex_destroy(&l->lock);
	pthread_cond_destroy(&l->added);
	free(l);
}

void eventlog_add(struct eventlog *l, const char *line)
{
	char *copy = strdup(line);
	pthread_mutex_lock(&l->lock);
	unsigned slot = (unsigned)(l->total % EVENTLOG_KEEP);
	free(l->ring[slot]);
	l->ring[slot] = copy;
	l->total++;
	if (l->file)
		fprintf(l->file, "%s\n", line);
	pthread_cond_broadcast(&l->added);
	pthread_mutex_unlock(&l->lock);
}

void eventlog_dump(struct eventlog *l, FILE *out)
{
	pthread_mutex_lock(&l->lock);
	uint64_t first =
	    l->total > EVENTLOG_KEEP ? l->total - EVENTLOG_KEEP : 0;
	for (uint64_t i = first; i < l->total; i++) {
		const char *e = l->ring[i % EVENTLOG_KEEP];
		if (e)
			fprintf(out, "%s\n", e);
	}
	pthread_mutex_unlock(&l->lock);
}

uint64_t eventlog_count(struct eventlog *l)
{
	pthread_mutex_lock(&l->lock);
	uint64_t n = l->total;
	pthread_mutex_unlock(&l->lock);
	return n;
}

void eventlog_reset(struct eventlog *l)
{
	pthread_mutex_lock(&l->lock);
	for (unsigned i = 0; i < EVENTLOG_KEEP; i++) {
		free(l->ring[i]);
		l->ring[i] = NULL;
	}
	l->total = 0;
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
	pthread_mutex_lock(&l->lock);
	uint64_t next = l->total > EVENTLOG_KEEP ? l->total - EVENTLOG_KEEP : 0;
	for (;;) {
		if (next > l->total) /* reset meanwhile */
			next = 0;
		if (l->total > EVENTLOG_KEEP && next < l->total - EVENTLOG_KEEP)
			next = l->total - EVENTLOG_KEEP; /* dropped */
		while (next < l->total) {
			const char *slot = l->ring[next++ % EVENTLOG_KEEP];
			char *e = slot ? strdup(slot) : NULL;
			pthread_mutex_unlock(&l->lock);
			if (e)
				fprintf(out, "%s\n", e);
			free(e);
			pthread_mutex_lock(&l->lock);
		}
		pthread_mutex_unlock(&l->lock);
		if (fflush(out) || ferror(out) || peer_gone(fd))
			return;
		pthread_mutex_lock(&l->lock);
		if (next == l->total) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&l->added, &l->lock, &ts);
		}
	}
}
