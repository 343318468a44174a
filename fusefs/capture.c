/* capture.c - the threads that read requests from /dev/fuse.
 *
 * With direct I/O the kernel copies a write's payload into our buffer
 * during the read of /dev/fuse (splice is off), so the moment of that read
 * is the capture. Two ways to read, chosen per request by the live
 * profile:
 *
 * - Capture delay 0: every thread sits in a blocking read. The kernel
 *   wakes one reader per request (an exclusive wait), so no thread wakes
 *   for nothing and there is no poll() before each read.
 * - A capture delay: the threads take turns. The thread holding the turn
 *   polls, notes when a request became visible, sleeps the request's
 *   delay, reads it (non-blocking), hands the turn on and only then
 *   processes the request. Each request therefore waits exactly its delay
 *   counted from the moment the daemon could first see it (the request
 *   behind it becomes visible only once this one is read: /dev/fuse is a
 *   FIFO that cannot be peeked), however many threads there are; the
 *   other threads process and reply meanwhile.
 *
 * A change of the capture delay from 0 applies to each thread from its
 * next read: a thread already blocked in read() takes the next request
 * without delay. Threads blocked in read() are woken for exit by a signal.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fusefs.h"
#include "clock.h"

struct capture_ctx {
	struct fuse_session *se;
	struct device *dev;
	int fd;
	pthread_mutex_t turn;      /* held while waiting for a delayed read */
	pthread_mutex_t mode_lock; /* serialises O_NONBLOCK changes */
	int nonblock;              /* the fd's O_NONBLOCK, under mode_lock */
	atomic_int running;        /* threads still in capture_loop */
};

#define WAKE_SIGNAL (SIGRTMIN + 1)

/* Blocking for delay-0 reads, non-blocking for polled (delayed) ones; the
 * flag belongs to the shared open file, so change it only when the mode
 * changes. */
static void set_nonblock(struct capture_ctx *ctx, int on)
{
	pthread_mutex_lock(&ctx->mode_lock);
	if (ctx->nonblock != on) {
		int fl = fcntl(ctx->fd, F_GETFL);
		if (fl >= 0 &&
		    fcntl(ctx->fd, F_SETFL,
		          on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK) == 0)
			ctx->nonblock = on;
	}
	pthread_mutex_unlock(&ctx->mode_lock);
}

/* Waits until a request is pending; returns its visibility time, or 0 on
 * exit or when the connection went away. */
static uint64_t wait_pending(struct capture_ctx *ctx)
{
	struct pollfd pfd = {.fd = ctx->fd, .events = POLLIN};
	while (!fuse_session_exited(ctx->se)) {
		int n = poll(&pfd, 1, 100);
		if (n <= 0)
			continue; /* timeout (check for exit) or EINTR */
		if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) {
			fuse_session_exit(ctx->se); /* unmounted */
			return 0;
		}
		return now_ns();
	}
	return 0;
}

/* Reads one request into buf: 1 got one, 0 nothing (retry), -1 stop. */
static int receive(struct capture_ctx *ctx, struct fuse_buf *buf)
{
	int r = fuse_session_receive_buf(ctx->se, buf);
	if (r > 0)
		return 1;
	if (r == -EAGAIN || r == -EINTR)
		return 0;
	if (r < 0 && r != -ENODEV)
		fprintf(stderr, "swapemu-fuse: reading /dev/fuse: %s\n",
		        strerror(-r));
	fuse_session_exit(ctx->se);
	return -1;
}

static void *capture_loop(void *arg)
{
	struct capture_ctx *ctx = arg;
	struct fuse_session *se = ctx->se;
	struct fuse_buf buf = {0};
	while (!fuse_session_exited(se)) {
		uint64_t delay = device_capture_delay(ctx->dev);
		int got;
		if (!delay) {
			set_nonblock(ctx, 0);
			got = receive(ctx, &buf);
		} else {
			pthread_mutex_lock(&ctx->turn);
			set_nonblock(ctx, 1);
			uint64_t seen = wait_pending(ctx);
			got = 0;
			if (seen) {
				sleep_until_ns(seen + delay);
				got = receive(ctx, &buf);
			}
			pthread_mutex_unlock(&ctx->turn);
		}
		if (got < 0)
			break;
		if (got > 0)
			fuse_session_process_buf(se, &buf);
	}
	free(buf.mem);
	atomic_fetch_sub(&ctx->running, 1);
	return NULL;
}

static void on_wake(int sig)
{
	(void)sig; /* only interrupts a blocking read() */
}

int capture_run(struct fuse_session *se, struct device *dev, int nthreads)
{
	struct capture_ctx ctx = {.se = se, .dev = dev};
	ctx.fd = fuse_session_fd(se);
	int fl = fcntl(ctx.fd, F_GETFL);
	if (fl < 0) {
		perror("swapemu-fuse: /dev/fuse");
		return -1;
	}
	ctx.nonblock = !!(fl & O_NONBLOCK);
	pthread_mutex_init(&ctx.turn, NULL);
	pthread_mutex_init(&ctx.mode_lock, NULL);
	/* No SA_RESTART: the signal must end a blocked read with EINTR. */
	struct sigaction sa = {.sa_handler = on_wake};
	sigemptyset(&sa.sa_mask);
	sigaction(WAKE_SIGNAL, &sa, NULL);

	pthread_t *t = calloc((size_t)nthreads, sizeof *t);
	int started = 0;
	atomic_store(&ctx.running, nthreads);
	for (; t && started < nthreads; started++)
		if (pthread_create(&t[started], NULL, capture_loop, &ctx))
			break;
	atomic_fetch_sub(&ctx.running, nthreads - started);
	if (!started) {
		fprintf(stderr, "swapemu-fuse: cannot start capture threads\n");
		free(t);
		return -1;
	}
	/* Once the session ends (a signal, an unmount seen by one thread),
	 * wake the threads still blocked in read(). */
	while (atomic_load(&ctx.running) > 0) {
		if (fuse_session_exited(se))
			for (int i = 0; i < started; i++)
				pthread_kill(t[i], WAKE_SIGNAL);
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	free(t);
	pthread_mutex_destroy(&ctx.turn);
	pthread_mutex_destroy(&ctx.mode_lock);
	return 0;
}
