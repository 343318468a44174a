/* crc32c-bench.c - ns per 4 KiB page of each crc32c() path this CPU has
 * (table, sse4.2 crc32 in three lanes, pclmulqdq and vpclmulqdq folding),
 * over a cache-resident set of pages and over one far larger than the
 * caches. The paths take turns in every round, so that a shared machine's
 * load falls on all of them alike; prints the min, median and max of the
 * rounds. A benchmark, not a test.
 *
 * usage: crc32c-bench [ROUNDS]   (default 15)
 */
#include <stdio.h>
#include <stdlib.h>

#include "checksum.h"
#include "clock.h"
#include "crc32c_fold.h"

static volatile uint32_t sink;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 15;
	/* 32 pages (128 KiB, in L2), 16384 pages (64 MiB, from memory). */
	static const size_t sets[] = {32, 16384};
	const size_t total = 16384 * 4096;
	unsigned char *buf = aligned_alloc(4096, total);
	double *ns = calloc((size_t)rounds * CRC32C_NPATHS, sizeof *ns);

	if (rounds < 1 || rounds > 1000 || !buf || !ns)
		return 2;
	for (size_t i = 0; i < total; i++)
		buf[i] = (unsigned char)(i * 31 + (i >> 12) * 7);
	printf("crc32c-bench: ns per 4 KiB page, %d interleaved rounds; "
	       "crc32c() uses %s\n",
	       rounds, crc32c_impl());
	printf("%-18s %8s %8s %8s %8s\n", "path", "pages", "min", "median",
	       "max");
	for (size_t s = 0; s < sizeof sets / sizeof sets[0]; s++) {
		size_t pages = sets[s];
		/* At least 16384 pages a measurement. */
		size_t reps = 16384 / pages;
		for (int r = 0; r < rounds; r++) {
			for (int p = 0; p < CRC32C_NPATHS; p++) {
				if (!crc32c_path_available(p))
					continue;
				uint64_t t = now_ns();
				for (size_t k = 0; k < reps; k++)
					for (size_t i = 0; i < pages; i++)
						sink += crc32c_path(
						    p, buf + i * 4096, 4096);
				ns[p * rounds + r] = (double)(now_ns() - t) /
				                     (double)(reps * pages);
			}
		}
		for (int p = 0; p < CRC32C_NPATHS; p++) {
			double *v = ns + p * rounds;
			if (!crc32c_path_available(p))
				continue;
			qsort(v, (size_t)rounds, sizeof *v, cmp_double);
			printf("%-18s %8zu %8.0f %8.0f %8.0f\n",
			       crc32c_path_name(p), pages, v[0], v[rounds / 2],
			       v[rounds - 1]);
		}
	}
	free(ns);
	free(buf);
	return 0;
}
