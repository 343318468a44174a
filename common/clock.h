/* clock.h - the project's one clock: CLOCK_MONOTONIC, as nanoseconds (for
 * timing requests, delays and deadlines) or milliseconds (for reports).
 * Header-only: the static guest workload uses it too. Sleeping helpers
 * restart after signals. */
#ifndef SWAPEMU_CLOCK_H
#define SWAPEMU_CLOCK_H

#include <errno.h>
#include <stdint.h>
#include <time.h>

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t now_ms(void)
{
	return now_ns() / 1000000ull;
}

/* The absolute CLOCK_MONOTONIC time ns, for timed waits. */
static inline struct timespec ns_to_timespec(uint64_t ns)
{
	return (struct timespec){(time_t)(ns / 1000000000ull),
	                         (long)(ns % 1000000000ull)};
}

/* Sleeps until the CLOCK_MONOTONIC time t (ns), whatever signals arrive. */
static inline void sleep_until_ns(uint64_t t)
{
	struct timespec ts = ns_to_timespec(t);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

static inline void sleep_ms(uint64_t ms)
{
	sleep_until_ns(now_ns() + ms * 1000000ull);
}

#endif
