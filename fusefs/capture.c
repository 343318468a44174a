/* capture.c - the threads that read requests from /dev/fuse.
 *
 * With direct I/O the kernel copies a write's payload into our buffer
 * during the read of /dev/fuse (splice is off), so the moment of that read
 * is the capture. A thread that sees a request pending waits the capture
 * delay before reading it. The descriptor is non-blocking: when several
 * threads wake for one request, the losers get EAGAIN and go back to
 * polling instead of blocking and reading a later request early.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fusefs.h"

struct capture_ctx {
	struct fuse_session *se;
	struct device *dev;
};

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000ull),
	                      (long)(ns % 1000000000ull)};
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void *capture_loop(void *arg)
{
	struct capture_ctx *ctx = arg;
	struct fuse_session *se = ctx->se;
	struct fuse_buf buf = {0};
	struct pollfd pfd = {.fd = fuse_session_fd(se), .events = POLLIN};
	while (!fuse_session_exited(se)) {
		int n = poll(&pfd, 1, 100);
		if (n <= 0)
			continue; /* timeout (check for exit) or EINTR */
		if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) {
			fuse_session_exit(se); /* unmounted */
			break;
		}
		uint64_t delay = device_capture_delay(ctx->dev);
		if (delay)
			sleep_ns(delay);
		int r = fuse_session_receive_buf(se, &buf);
		if (r == -EAGAIN || r == -EINTR)
			continue;
		if (r <= 0) {
			if (r < 0)
				fprintf(stderr,
				        "swapemu-fuse: reading "
				        "/dev/fuse: %s\n",
				        strerror(-r));
			fuse_session_exit(se);
			break;
		}
		fuse_session_process_buf(se, &buf);
	}
	free(buf.mem);
	return NULL;
}

int capture_run(struct fuse_session *se, struct device *dev, int nthreads)
{
	int fd = fuse_session_fd(se);
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)) {
		perror("swapemu-fuse: /dev/fuse");
		return -1;
	}
	struct capture_ctx ctx = {se, dev};
	pthread_t *t = calloc((size_t)nthreads, sizeof *t);
	int started = 0;
	for (; t && started < nthreads; started++)
		if (pthread_create(&t[started], NULL, capture_loop, &ctx))
			break;
	if (!started) {
		fprintf(stderr, "swapemu-fuse: cannot start capture threads\n");
		free(t);
		return -1;
	}
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	free(t);
	return 0;
}
