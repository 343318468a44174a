/* histogram.h - a lock-free latency histogram with log-linear buckets:
 * 16 sub-buckets per power of two of nanoseconds, so any percentile is
 * reported within 1/16 (6.25%) of the true value. Recording is one atomic
 * increment; reading is approximate while writers run, which is fine for
 * statistics. */
#ifndef SWAPEMU_HISTOGRAM_H
#define SWAPEMU_HISTOGRAM_H

#include <stdatomic.h>
#include <stdint.h>

#define HIST_SUB_BITS 4
#define HIST_BUCKETS (64 << HIST_SUB_BITS)

struct histogram {
	_Atomic uint64_t bucket[HIST_BUCKETS];
	_Atomic uint64_t count;
	_Atomic uint64_t max;
};

void hist_record(struct histogram *h, uint64_t ns);
/* The value at percentile pct (0 < pct <= 100): the upper bound of the
 * bucket holding it, never above the recorded maximum. 0 when empty. */
uint64_t hist_percentile(const struct histogram *h, double pct);
void hist_reset(struct histogram *h);

#endif
