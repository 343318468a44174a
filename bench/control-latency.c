/* control-latency.c - write latency of an NBD export, for
 * bench/control-latency.sh: connects to the Unix socket given, issues
 * COUNT synchronous 4 KiB writes (one in flight, spread over the first
 * 64 MiB) and prints one line:
 *
 *   COUNT P50_US P99_US P999_US MAX_US
 *
 * Usage: control-latency SOCKET COUNT
 * A benchmark, not a test: it fails only if a write fails.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <libnbd.h>

#include "clock.h"

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc != 3 || atoi(argv[2]) <= 0) {
		fprintf(stderr, "usage: control-latency SOCKET COUNT\n");
		return 2;
	}
	int n = atoi(argv[2]);
	struct nbd_handle *h = nbd_create();
	if (!h || nbd_connect_unix(h, argv[1])) {
		fprintf(stderr, "control-latency: %s\n", nbd_get_error());
		return 1;
	}
	static char buf[4096];
	uint64_t *lat = malloc(sizeof *lat * (size_t)n);
	for (int i = 0; i < n; i++) {
		buf[0] = (char)i;
		uint64_t t0 = now_ns();
		if (nbd_pwrite(h, buf, sizeof buf, (uint64_t)(i % 16384) * 4096,
		               0)) {
			fprintf(stderr, "control-latency: write: %s\n",
			        nbd_get_error());
			return 1;
		}
		lat[i] = now_ns() - t0;
	}
	nbd_shutdown(h, 0);
	nbd_close(h);
	qsort(lat, (size_t)n, sizeof *lat, cmp);
	printf("%d %.1f %.1f %.1f %.1f\n", n, lat[n / 2] / 1e3,
	       lat[(size_t)n * 99 / 100] / 1e3,
	       lat[(size_t)n * 999 / 1000] / 1e3, lat[n - 1] / 1e3);
	free(lat);
	return 0;
}
