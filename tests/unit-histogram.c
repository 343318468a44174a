/* unit-histogram - bucket accuracy, percentiles, max, reset, and
 * concurrent recording. TAP output. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "histogram.h"
#include "helpers.h"

/* got is a bucket's upper bound: never below the truth, at most 1/16
 * above it. */
static int close_to(uint64_t got, uint64_t want)
{
	return got >= want && (double)got <= (double)want * 1.0625;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* The exact pct-th value of sorted v: rank ceil(pct/100 * n). */
static uint64_t exact(const uint64_t *v, size_t n, double pct)
{
	size_t rank = (size_t)(pct / 100 * (double)n * (1 - 1e-12));
	if ((double)rank < pct / 100 * (double)n * (1 - 1e-12))
		rank++;
	return v[(rank ? rank : 1) - 1];
}

static const double pcts[] = {1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100};

/* Records v[0..n), then checks every percentile against the sorted
 * truth. */
static void check_dist(struct histogram *h, uint64_t *v, size_t n,
                       const char *what)
{
	int bad = 0;

	hist_reset(h);
	for (size_t i = 0; i < n; i++)
		hist_record(h, v[i]);
	qsort(v, n, sizeof *v, cmp_u64);
	for (size_t i = 0; i < sizeof pcts / sizeof pcts[0]; i++) {
		uint64_t got = hist_percentile(h, pcts[i]),
		         want = exact(v, n, pcts[i]);
		if (!close_to(got, want)) {
			printf("# %s p%g: got %llu, want %llu\n", what, pcts[i],
			       (unsigned long long)got,
			       (unsigned long long)want);
			bad++;
		}
	}
	ok(bad == 0 && h->count == n,
	   "%s: percentiles within 6.25%% over %zu values", what, n);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

#define PER_THREAD 1000000

static void *writer(void *arg)
{
	struct histogram *h = arg;

	for (uint64_t i = 0; i < PER_THREAD; i++)
		hist_record(h, i * 37 % 5000000);
	return NULL;
}

int main(void)
{
	struct histogram *h = calloc(1, sizeof *h);
	const size_t n = 200000;
	uint64_t *v = malloc(n * sizeof *v);
	int bad;

	if (!h || !v)
		return 1;

	ok(hist_percentile(h, 50) == 0 && hist_percentile(h, 100) == 0,
	   "empty histogram gives 0");

	/* Small values have exact buckets. */
	bad = 0;
	for (uint64_t x = 0; x < 32; x++) {
		hist_reset(h);
		hist_record(h, x);
		if (hist_percentile(h, 50) != x || hist_percentile(h, 100) != x)
			bad++;
	}
	ok(bad == 0, "values 0..31 are reported exactly");

	hist_reset(h);
	for (uint64_t x = 1; x <= 10; x++)
		hist_record(h, x);
	ok(hist_percentile(h, 10) == 1 && hist_percentile(h, 50) == 5 &&
	       hist_percentile(h, 51) == 6 && hist_percentile(h, 90) == 9 &&
	       hist_percentile(h, 100) == 10 && hist_percentile(h, 0.1) == 1,
	   "rank is ceil(pct/100 * count) on 1..10");

	/* 99.9 has no exact binary form: 99.9 / 100 * 1000 is
	 * 999.0000000000001, which must still be rank 999. */
	hist_reset(h);
	for (int i = 0; i < 999; i++)
		hist_record(h, 5);
	hist_record(h, 1000);
	ok(hist_percentile(h, 99.9) == 5 && hist_percentile(h, 99.95) == 1000,
	   "p99.9 of 999 x 5 and one 1000 is 5, p99.95 is 1000");

	/* Every value lands in a bucket whose bound is within 1/16. */
	bad = 0;
	for (int i = 0; i < 100000; i++) {
		uint64_t x = next() >> (next() % 64);
		hist_reset(h);
		hist_record(h, x);
		hist_record(h, UINT64_MAX);
		if (!close_to(hist_percentile(h, 50), x))
			bad++;
	}
	ok(bad == 0, "single values over the whole 64-bit range within 6.25%%");

	hist_reset(h);
	hist_record(h, 1000003);
	ok(hist_percentile(h, 50) == 1000003 &&
	       hist_percentile(h, 100) == 1000003,
	   "percentiles are clamped to the maximum");
	hist_record(h, UINT64_MAX);
	ok(h->max == UINT64_MAX && hist_percentile(h, 100) == UINT64_MAX,
	   "UINT64_MAX is recorded");

	for (size_t i = 0; i < n; i++)
		v[i] = 1000 + next() % 9000000;
	check_dist(h, v, n, "uniform 1us..9ms");
	for (size_t i = 0; i < n; i++) {
		/* Roughly log-uniform: 1ns to ~1s. */
		v[i] = (next() >> (34 + next() % 30)) + 1;
	}
	check_dist(h, v, n, "log-uniform 1ns..1s");
	for (size_t i = 0; i < n; i++)
		v[i] = i % 10 == 0 ? 50000000 : 100000 + i % 1000;
	check_dist(h, v, n, "bimodal 100us/50ms");
	for (size_t i = 0; i < n; i++)
		v[i] = 4096;
	check_dist(h, v, n, "constant");

	hist_reset(h);
	ok(h->count == 0 && h->max == 0 && hist_percentile(h, 50) == 0,
	   "reset empties the histogram");

	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, writer, h);
	/* Read while they write: answers need not be exact, only sane. */
	uint64_t p = hist_percentile(h, 99);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	uint64_t total = 0;
	for (int i = 0; i < HIST_BUCKETS; i++)
		total += h->bucket[i];
	ok(h->count == 2 * PER_THREAD && total == 2 * PER_THREAD,
	   "two threads x %d records: count %llu, buckets %llu", PER_THREAD,
	   (unsigned long long)h->count, (unsigned long long)total);
	uint64_t want_max = 0;
	for (uint64_t i = 0; i < PER_THREAD; i++)
		if (i * 37 % 5000000 > want_max)
			want_max = i * 37 % 5000000;
	ok(h->max == want_max && p <= want_max &&
	       close_to(hist_percentile(h, 100), want_max),
	   "max after concurrent records is %llu", (unsigned long long)h->max);

	free(v);
	free(h);
	done_testing();
}
