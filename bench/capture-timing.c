/* capture-timing.c - when does the device see a write's data? A measurement
 * for bench/capture-timing.sh, not a test.
 *
 * For each of N pages: stamp the page with sequence 1 and publish 1 in the
 * generation table (as the torture workload does at swap-out), then submit
 * a synchronous write of it; a second thread, woken at submission, waits
 * START microseconds and rewrites the page to sequence 2 the way the
 * workload does (head, pause, body, pause, tail: REWRITE microseconds in
 * all) while the write is still in flight. The device classifies what it
 * captured: clean (taken before the rewrite began), torn (during it) or
 * modified (after it). The counts come from the control socket.
 *
 *   capture-timing [-n N] [-s START_US] [-r REWRITE_US] -c CONTROL -g GENTAB
 *                  (-f FILE | -- NBD-SERVER-COMMAND...)
 *
 * -f FILE writes with pwrite(O_DIRECT) to FILE (a swapemu-fuse target);
 * otherwise the server command is started with libnbd's
 * nbd_connect_command and written with nbd_pwrite.
 *
 * Output, one line: clean N torn N modified N unstamped N head_us P50
 * where head_us is the median time from submission to the rewrite's first
 * store.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <libnbd.h>

#include "ctlclient.h"
#include "stamp.h"
#include "clock.h"

#define RUN 0x7e57c0de00000001ull

static uint64_t *page; /* the page being written, 4 KiB aligned */
static uint64_t index_, start_us, rewrite_us;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int go, done, quit;
static uint64_t t_submit, t_head;

static void sleep_us(uint64_t us)
{
	struct timespec ts = {(time_t)(us / 1000000),
	                      (long)(us % 1000000) * 1000};
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* The process modifying its page while the write is in flight. */
static void *rewriter(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	for (;;) {
		while (!go && !quit)
			pthread_cond_wait(&cond, &lock);
		if (quit)
			break;
		go = 0;
		pthread_mutex_unlock(&lock);
		if (start_us)
			sleep_us(start_us);
		volatile uint64_t *w = page;
		w[STAMP_W_HEAD] = 2;
		t_head = now_ns();
		sleep_us(rewrite_us / 2);
		stamp_write_body((uint64_t *)page, RUN, index_, 2, STAMP_W_BODY,
		                 STAMP_W_TAIL);
		atomic_thread_fence(memory_order_seq_cst);
		sleep_us(rewrite_us / 2);
		w[STAMP_W_TAIL] = 2;
		pthread_mutex_lock(&lock);
		done = 1;
		pthread_cond_broadcast(&cond);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void die(const char *what, const char *why)
{
	fprintf(stderr, "capture-timing: %s: %s\n", what, why);
	exit(1);
}

int main(int argc, char **argv)
{
	unsigned n = 200;
	const char *ctl = NULL, *gentab = NULL, *file = NULL;
	int c;
	rewrite_us = 2000;
	while ((c = getopt(argc, argv, "n:s:r:c:g:f:")) != -1) {
		switch (c) {
		case 'n':
			n = (unsigned)atoi(optarg);
			break;
		case 's':
			start_us = strtoull(optarg, NULL, 0);
			break;
		case 'r':
			rewrite_us = strtoull(optarg, NULL, 0);
			break;
		case 'c':
			ctl = optarg;
			break;
		case 'g':
			gentab = optarg;
			break;
		case 'f':
			file = optarg;
			break;
		default:
			return 2;
		}
	}
	if (!ctl || !gentab || !n || n > 4096 || (!file && optind >= argc)) {
		fprintf(stderr, "usage: capture-timing [-n N] [-s START_US] "
		                "[-r REWRITE_US] -c CONTROL -g GENTAB (-f FILE "
		                "| -- SERVER...)\n");
		return 2;
	}

	struct nbd_handle *h = NULL;
	int fd = -1;
	if (file) {
		fd = open(file, O_RDWR | O_DIRECT | O_CLOEXEC);
		if (fd < 0)
			die(file, strerror(errno));
	} else {
		h = nbd_create();
		if (!h || nbd_connect_command(h, argv + optind) == -1)
			die("cannot start the NBD server", nbd_get_error());
	}
	int gfd = open(gentab, O_RDWR | O_CLOEXEC);
	if (gfd < 0)
		die(gentab, strerror(errno));
	struct gentab *tab =
	    mmap(NULL, GENTAB_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, gfd, 0);
	close(gfd);
	if (tab == MAP_FAILED)
		die(gentab, strerror(errno));

	char err[512], *body = NULL;
	if (ctl_request(ctl, "reset", NULL, NULL, err, sizeof err))
		die("control reset", err);
	atomic_store(&tab->run, RUN);

	page = aligned_alloc(4096, 4096);
	uint64_t *lat = calloc(n, sizeof *lat);
	pthread_t t;
	if (!page || !lat || pthread_create(&t, NULL, rewriter, NULL))
		die("setup", "out of memory");

	for (unsigned i = 0; i < n; i++) {
		index_ = i;
		stamp_fill(page, RUN, i, 1);
		atomic_store_explicit(&tab->gen[i], 1, memory_order_release);
		pthread_mutex_lock(&lock);
		done = 0;
		go = 1;
		t_submit = now_ns();
		pthread_cond_signal(&cond);
		pthread_mutex_unlock(&lock);
		int r;
		if (file)
			r = pwrite(fd, page, 4096, (off_t)i * 4096) == 4096
			        ? 0
			        : -1;
		else
			r = nbd_pwrite(h, page, 4096, (uint64_t)i * 4096, 0);
		if (r)
			die("write", file ? strerror(errno) : nbd_get_error());
		pthread_mutex_lock(&lock);
		while (!done)
			pthread_cond_wait(&cond, &lock);
		pthread_mutex_unlock(&lock);
		lat[i] = t_head > t_submit ? (t_head - t_submit) / 1000 : 0;
	}
	pthread_mutex_lock(&lock);
	quit = 1;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
	pthread_join(t, NULL);
	atomic_store(&tab->run, 0);

	if (ctl_request(ctl, "counters", &body, NULL, err, sizeof err))
		die("control counters", err);
	uint64_t v[4] = {0};
	const char *keys[4] = {"capture.clean", "capture.torn",
	                       "capture.modified", "capture.unstamped"};
	for (int k = 0; k < 4; k++)
		ctl_counter(body, keys[k], &v[k]);
	qsort(lat, n, sizeof *lat, cmp_u64);
	printf("clean %" PRIu64 " torn %" PRIu64 " modified %" PRIu64
	       " unstamped %" PRIu64 " head_us %" PRIu64 "\n",
	       v[0], v[1], v[2], v[3], lat[n / 2]);
	free(body);
	free(lat);
	free(page);
	munmap(tab, GENTAB_SIZE);
	if (h) {
		nbd_shutdown(h, 0);
		nbd_close(h);
	}
	if (fd >= 0)
		close(fd);
	return 0;
}
