/* inflight-nbd.c - the load generator of bench/inflight-nbd.sh: keeps N
 * writes in flight (default 10000) against the NBD server given after
 * "--" (started with libnbd's nbd_connect_command, so "nbdkit -s ...")
 * whose completion delay is DELAY, and measures each write's timing error:
 * the time from sending it to its reply, minus DELAY. Every reply is
 * answered at once by a new write at a random 4 KiB-aligned offset, so
 * the number in flight stays N. The N writes start evenly spread over one
 * DELAY (the ramp-up); the writes sent after it are timed, IOPS counts
 * the replies in the SECONDS after it. Prints one line:
 *
 *   INFLIGHT DELAY_US SECONDS WRITES IOPS ERR_P50_US ERR_P99_US ERR_MAX_US
 *   MIN_INFLIGHT
 *
 * (MIN_INFLIGHT: the fewest writes in flight at any reply counted.) The
 * error includes the transport both ways, so it bounds the server's own
 * timing error from above. A benchmark, not a test: it fails only if a
 * request fails. Usage:
 *   inflight-nbd -n N -d DELAY_US [-t SECONDS] [-b BYTES]
 *                -- nbdkit -s --exit-with-parent PLUGIN ARGS...
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libnbd.h>

#include "clock.h"

struct slot {
	uint64_t sent_ns;
	int counted; /* sent after the ramp-up */
	int done;
};

static struct slot *slots;
static unsigned *ready; /* slots whose reply came, to send again */
static unsigned nready;
static uint64_t failures;

static int on_complete(void *user_data, int *error)
{
	unsigned i = (unsigned)(uintptr_t)user_data;
	if (*error)
		failures++;
	slots[i].done = 1;
	ready[nready++] = i;
	return 1; /* retire the command */
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: inflight-nbd -n N -d DELAY_US [-t SECONDS] "
	           "[-b BYTES] -- SERVER COMMAND...\n");
}

int main(int argc, char **argv)
{
	unsigned n = 10000, bs = 4096;
	double seconds = 5;
	int64_t delay_us = -1;
	int c;
	while ((c = getopt(argc, argv, "n:d:t:b:h")) != -1) {
		switch (c) {
		case 'n':
			n = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'd':
			delay_us = strtoll(optarg, NULL, 10);
			break;
		case 't':
			seconds = strtod(optarg, NULL);
			break;
		case 'b':
			bs = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc || !n || delay_us < 0 || !bs || seconds <= 0) {
		usage(stderr);
		return 2;
	}
	struct nbd_handle *h = nbd_create();
	if (!h || nbd_connect_command(h, argv + optind)) {
		fprintf(stderr, "inflight-nbd: cannot start the server: %s\n",
		        nbd_get_error());
		return 1;
	}
	int64_t size = nbd_get_size(h);
	char *buf = calloc(1, bs);
	slots = calloc(n, sizeof *slots);
	ready = calloc(n, sizeof *ready);
	size_t cap = (size_t)n * 64 + 1000000, nerr = 0;
	int64_t *err_ns = malloc(cap * sizeof *err_ns);
	if (size < (int64_t)bs || !buf || !slots || !ready || !err_ns) {
		fprintf(stderr, "inflight-nbd: %s\n",
		        size < 0 ? nbd_get_error() : "out of memory");
		return 1;
	}
	uint64_t rng = 0x9e3779b97f4a7c15ull, blocks = (uint64_t)size / bs;
	unsigned inflight = 0, min_inflight = n;
	/* Ramp-up: the N writes start evenly over one delay, so that the
	 * replies come as evenly as in a steady state (started at once, they
	 * would come back in one burst, round after round). Writes sent
	 * from the end of the ramp-up on are counted. */
	uint64_t delay_ns = (uint64_t)delay_us * 1000;
	uint64_t t0 = now_ns(), measure_from = t0 + delay_ns + 1;
	uint64_t end = measure_from + (uint64_t)(seconds * 1e9), writes = 0;
	unsigned started = 0;
	for (;;) {
		uint64_t now = now_ns();
		unsigned due =
		    now >= measure_from
		        ? n
		        : (unsigned)((now - t0) * n / (delay_ns + 1));
		while (started < n && started < due && now < end)
			ready[nready++] = started++;
		while (nready) {
			unsigned i = ready[--nready];
			struct slot *s = &slots[i];
			if (s->done) {
				inflight--;
				if (now >= measure_from && now < end) {
					writes++;
					if (inflight < min_inflight)
						min_inflight = inflight;
				}
				if (s->counted && nerr < cap)
					err_ns[nerr++] =
					    (int64_t)(now - s->sent_ns) -
					    (int64_t)delay_ns;
			}
			if (end && now >= end)
				continue; /* draining */
			s->sent_ns = now;
			s->counted = now >= measure_from;
			s->done = 0;
			nbd_completion_callback cb = {.callback = on_complete,
			                              .user_data =
			                                  (void *)(uintptr_t)i};
			uint64_t off = xorshift(&rng) % blocks * bs;
			if (nbd_aio_pwrite(h, buf, bs, off, cb, 0) < 0) {
				fprintf(stderr, "inflight-nbd: %s\n",
				        nbd_get_error());
				return 1;
			}
			inflight++;
		}
		if (end && now >= end && !inflight)
			break;
		if (nbd_poll(h, started < n ? 1 : 1000) < 0) {
			fprintf(stderr, "inflight-nbd: %s\n", nbd_get_error());
			return 1;
		}
		if (now > end + delay_ns + 120000000000ull) {
			fprintf(stderr, "inflight-nbd: no progress\n");
			return 1;
		}
	}
	double span = (double)(end - measure_from) / 1e9;
	nbd_shutdown(h, 0);
	nbd_close(h);
	if (!nerr) {
		fprintf(stderr, "inflight-nbd: no write was counted\n");
		return 1;
	}
	qsort(err_ns, nerr, sizeof *err_ns, cmp_i64);
	printf("%u %" PRId64 " %.2f %" PRIu64 " %.0f %.1f %.1f %.1f %u\n", n,
	       delay_us, span, writes, (double)writes / span,
	       (double)err_ns[nerr / 2] / 1e3,
	       (double)err_ns[nerr * 99 / 100] / 1e3,
	       (double)err_ns[nerr - 1] / 1e3, min_inflight);
	if (failures) {
		fprintf(stderr, "inflight-nbd: %" PRIu64 " requests failed\n",
		        failures);
		return 1;
	}
	return 0;
}
