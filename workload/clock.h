/* clock.h - monotonic time and sleeping, for the workload's files. */
#ifndef SWAPEMU_WORKLOAD_CLOCK_H
#define SWAPEMU_WORKLOAD_CLOCK_H

#include <errno.h>
#include <stdint.h>
#include <time.h>

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Sleeps until the CLOCK_MONOTONIC time t (ns), whatever signals arrive. */
static inline void sleep_until_ns(uint64_t t)
{
	struct timespec ts = {.tv_sec = (time_t)(t / 1000000000ull),
	                      .tv_nsec = (long)(t % 1000000000ull)};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

static inline void sleep_ms(uint64_t ms)
{
	sleep_until_ns(now_ns() + ms * 1000000ull);
}

#endif
