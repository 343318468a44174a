/* clock.h - the project's one clock: CLOCK_MONOTONIC, as nanoseconds (for
 * timing requests, delays and deadlines) or milliseconds (for reports).
 * Header-only: the static guest workload uses it too. */
#ifndef SWAPEMU_CLOCK_H
#define SWAPEMU_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline double now_ms(void)
{
	return (double)now_ns() / 1e6;
}

/* The absolute CLOCK_MONOTONIC time ns, for timed waits. */
static inline struct timespec ns_to_timespec(uint64_t ns)
{
	return (struct timespec){(time_t)(ns / 1000000000ull),
	                         (long)(ns % 1000000000ull)};
}

#endif
