/* torture.h - definitions shared by the files of swapemu-torture (private
 * to workload/). */
#ifndef SWAPEMU_TORTURE_H
#define SWAPEMU_TORTURE_H

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define TORTURE_MAX_DAMAGED 1024

/* Set by SIGINT/SIGTERM: the run stops at the next batch. */
extern volatile sig_atomic_t torture_stop;

/* A value that may be unknown (null in JSON, "n/a" in the table). */
struct opt_u64 {
	bool known;
	uint64_t v;
};

enum damage_kind { DAMAGE_LOST, DAMAGE_CORRUPT };

struct damage {
	uint64_t page;
	unsigned word; /* where the damage was first noticed, 0..511 */
	enum damage_kind kind;
};

struct torture_opts {
	const char *target; /* NULL: run without a device */
	uint64_t pages;
	uint64_t seconds;  /* 0: no time limit */
	uint64_t swapouts; /* 0: no limit */
	uint64_t modify_ms;
	uint64_t batch;
	uint64_t seed;
	bool json, quiet;
};

/* What the device reported (deltas over the run, except seed/profile). */
struct device_side {
	bool present;
	struct opt_u64 clean, torn, modified, unstamped, violations;
	struct opt_u64 write_errors, checksum_errors, seed;
	bool profile_known;
	char profile[512];
	bool idle;
};

struct torture_result {
	char kernel[256];
	uint64_t run;
	uint64_t rounds, batches;
	double seconds;
	uint64_t swapouts, not_swapped, under_writeback, final_swapouts;
	uint64_t copied, copied_under_writeback, writeback_race;
	uint64_t lost, corrupt, verified, unreadable;
	uint64_t swapins, kernel_pswpout;
	bool swap_cache_dropped;
	const char *cgroup; /* "v1", "v2" or NULL */
	struct opt_u64 swap_cache_left;
	bool interrupted;
	struct device_side dev;
	unsigned ndamaged;
	uint64_t damaged_total;
	struct damage damaged[TORTURE_MAX_DAMAGED];
};

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

/* report.c */
void report_json(const struct torture_opts *o, const struct torture_result *r,
                 FILE *out);
void report_human(const struct torture_opts *o, const struct torture_result *r,
                  FILE *out);

#endif
