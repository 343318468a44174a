/* model-bench.c - what the device model costs per 4 KiB page, without any
 * front end: the checksum alone, checksum + classify (stamp_intact and
 * (stamp_classify), and a whole device_write() into the memory
 * store, for each checksum kind, on stamped and unstamped pages. Prints ns
 * per page (the best of a few rounds). A benchmark, not a test.
 *
 * usage: model-bench [PAGES]   (default 16384 pages = 64 MiB per round)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "checksum.h"
#include "device.h"
#include "stamp.h"
#include "classify.h"
#include "clock.h"

static volatile uint64_t sink;

/* Best of 5 rounds, in ns per page. */
#define BEST(expr, n)                                                          \
	({                                                                     \
		double best_ = 1e18;                                           \
		for (int r_ = 0; r_ < 5; r_++) {                               \
			uint64_t t_ = now_ns();                                \
			for (size_t i = 0; i < (n); i++)                       \
				expr;                                          \
			double ns_ = (double)(now_ns() - t_) / (double)(n);    \
			if (ns_ < best_)                                       \
				best_ = ns_;                                   \
		}                                                              \
		best_;                                                         \
	})

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 0) : 16384;
	if (n < 16 || n > GENTAB_CAPACITY) {
		fprintf(stderr, "model-bench: PAGES must be 16..%u\n",
		        GENTAB_CAPACITY);
		return 2;
	}
	char *stamped = aligned_alloc(4096, n * 4096);
	char *plain = aligned_alloc(4096, n * 4096);
	if (!stamped || !plain)
		return 1;
	for (size_t i = 0; i < n; i++) {
		stamp_fill(stamped + i * 4096, 42, i, 7);
		for (size_t k = 0; k < 4096; k++)
			plain[i * 4096 + k] = (char)(i * 31 + k * 7);
	}
	char gpath[] = "/tmp/swapemu-model-bench.XXXXXX";
	int gfd = mkstemp(gpath);
	if (gfd < 0)
		return 1;
	close(gfd);
	unlink(gpath); /* the device creates it */

	printf("model-bench: ns per 4 KiB page, best of 5 rounds of %zu "
	       "pages\n",
	       n);
	printf("%-8s %-9s %9s %14s %13s\n", "checksum", "page", "checksum",
	       "csum+classify", "device_write");
	enum csum_kind kinds[] = {CSUM_NONE, CSUM_CRC32C, CSUM_XXH3};
	for (int k = 0; k < 3; k++) {
		struct profile p;
		profile_defaults(&p);
		p.size = (uint64_t)n * 4096;
		p.checksum = kinds[k];
		char err[512];
		struct device *d =
		    device_open(&p, gpath, NULL, err, sizeof err);
		if (!d) {
			fprintf(stderr, "model-bench: %s\n", err);
			return 1;
		}
		for (int s = 0; s < 2; s++) {
			char *pages = s ? stamped : plain;
			double c = BEST(
			    sink += checksum(kinds[k], pages + i * 4096, 4096),
			    n);
			double cc = BEST(
			    sink += checksum(kinds[k], pages + i * 4096, 4096) +
			            classify_page(pages + i * 4096, NULL),
			    n);
			double w = BEST(device_write(d, pages + i * 4096, 4096,
			                             (uint64_t)i * 4096, NULL),
			                n);
			printf("%-8s %-9s %9.0f %14.0f %13.0f\n",
			       csum_kind_name(kinds[k]),
			       s ? "stamped" : "unstamped", c, cc, w);
		}
		device_close(d);
	}
	unlink(gpath);
	free(stamped);
	free(plain);
	return 0;
}
