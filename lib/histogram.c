/* histogram.c - log-linear latency histogram.
 *
 * Values below 16 have a bucket each. Above, a value with its top bit at
 * position e (e >= 4) falls in row e - 3 of 16 buckets, selected by the four
 * bits below the top one, so a bucket spans 2^(e-4) values: 1/16 of the
 * smallest value it holds. Row 1 (16..31) still has width 1; the last row
 * (e = 63) ends at index 975, inside HIST_BUCKETS.
 */
#include "histogram.h"

#define SUB (1u << HIST_SUB_BITS)

static unsigned bucket_of(uint64_t v)
{
	if (v < SUB)
		return (unsigned)v;
	unsigned e = 63 - (unsigned)__builtin_clzll(v);
	unsigned sub = (unsigned)(v >> (e - HIST_SUB_BITS)) & (SUB - 1);
	return (e - HIST_SUB_BITS + 1) * SUB + sub;
}

/* The largest value that lands in bucket i. */
static uint64_t bucket_upper(unsigned i)
{
	if (i < SUB)
		return i;
	unsigned e = i / SUB + HIST_SUB_BITS - 1;
	uint64_t width = 1ull << (e - HIST_SUB_BITS);
	uint64_t lower = (uint64_t)(SUB + i % SUB) << (e - HIST_SUB_BITS);
	return lower + (width - 1); /* the last bucket ends at UINT64_MAX */
}

void hist_record(struct histogram *h, uint64_t ns)
{
	uint64_t max = atomic_load_explicit(&h->max, memory_order_relaxed);

	/* max first, and the bucket with release: a reader that sees the
	 * bucket (acquire) then sees a max at least this large. */
	while (ns > max && !atomic_compare_exchange_weak_explicit(
	                       &h->max, &max, ns, memory_order_relaxed,
	                       memory_order_relaxed))
		;
	atomic_fetch_add_explicit(&h->bucket[bucket_of(ns)], 1,
	                          memory_order_release);
	atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

uint64_t hist_percentile(const struct histogram *h, double pct)
{
	uint64_t snap[HIST_BUCKETS], total = 0, rank, seen = 0, max;
	double x;

	/* Rank against the buckets themselves rather than h->count, so that
	 * a snapshot taken while writers run is still self-consistent. */
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		snap[i] =
		    atomic_load_explicit(&h->bucket[i], memory_order_acquire);
		total += snap[i];
	}
	max = atomic_load_explicit(&h->max, memory_order_relaxed);
	if (!total)
		return 0;
	if (!(pct > 0))
		pct = 0;
	if (pct > 100)
		pct = 100;
	/* rank = ceil(pct% of total), shaved by a relative 1e-12 so that
	 * 99.9% of 1000 is 999 despite 99.9 having no exact binary form. */
	x = pct / 100 * (double)total * (1 - 1e-12);
	rank = (uint64_t)x;
	if ((double)rank < x)
		rank++;
	if (rank < 1)
		rank = 1;
	if (rank > total)
		rank = total;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += snap[i];
		if (seen >= rank) {
			uint64_t v = bucket_upper(i);
			return v < max ? v : max;
		}
	}
	return max; /* not reached */
}

void hist_reset(struct histogram *h)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		atomic_store_explicit(&h->bucket[i], 0, memory_order_relaxed);
	atomic_store_explicit(&h->count, 0, memory_order_relaxed);
	atomic_store_explicit(&h->max, 0, memory_order_relaxed);
}
