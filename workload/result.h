/* result.h - the run's options and results: what the harness, the
 * scenarios, the target code and the reports share. */
#ifndef SWAPEMU_RESULT_H
#define SWAPEMU_RESULT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define TORTURE_MAX_DAMAGED 1024
#define TORTURE_MAX_FINDINGS 32
#define TORTURE_MAX_SCENARIOS 16
#define SCEN_MAX_EVIDENCE 12

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
	const char *scenario;
};

struct torture_opts {
	const char *target; /* NULL: run without a device */
	uint64_t pages;
	uint64_t seconds;  /* 0: no time limit */
	uint64_t swapouts; /* 0: no limit */
	uint64_t modify_ms;
	uint64_t write_after_us; /* write: wait after the swap-out */
	uint64_t batch;
	uint64_t seed;
	uint64_t rounds;      /* rounds of the scenarios other than write */
	uint64_t table_pages; /* generations published: room for all */
	bool json, quiet, ktap;
	const char *test_break; /* deliberate damage, for the tests only */
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

/* Swap-in latency as the workload saw it: the first reads of the final
 * check that had to wait for the device (see verify() in harness_run.c). */
struct swapin_latency {
	uint64_t count;         /* reads timed: each one a device read */
	uint64_t cache_hits;    /* swapped out, but in the swap cache already */
	uint64_t p50, p99, max; /* ns */
};

enum verdict { VERDICT_PASS, VERDICT_FAIL, VERDICT_SKIP };

/* One count a scenario gives as evidence of what it did. A required one
 * that stays 0 fails the scenario: it did not exercise its path. */
struct evidence {
	const char *name;
	uint64_t v;
	bool required;
};

struct scen_result {
	const char *name;
	enum verdict verdict;
	char reason[1024];
	unsigned nfails;     /* the scenario's own failures (h_fail) */
	unsigned fails_more; /* ... beyond the first few, counted only */
	double seconds;
	double main_seconds; /* the rounds alone, without the final check */
	struct swapin_latency swapin;
	uint64_t rounds, swapouts, lost, corrupt, copied;
	uint64_t under_writeback, after_writeback;
	struct device_side dev; /* over the scenario's rounds */
	unsigned kernel_findings;
	unsigned nev;
	struct evidence ev[SCEN_MAX_EVIDENCE];
};

struct torture_result {
	char kernel[256];
	uint64_t run;
	uint64_t rounds, batches;
	double seconds;
	double main_seconds; /* the scenarios' rounds alone (swapout_mib_s) */
	/* Every timed swap-in of the run, ns (swapin: their summary). */
	uint64_t *swapin_ns;
	uint64_t nswapin_ns;
	struct swapin_latency swapin;
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
	unsigned nscen, failed;
	struct scen_result scen[TORTURE_MAX_SCENARIOS];
	unsigned nfindings; /* kernel messages (BUG, WARNING, ...) */
	uint64_t findings_total;
	char findings[TORTURE_MAX_FINDINGS][256];
};

/* report.c */
void report_json(const struct torture_opts *o, const struct torture_result *r,
                 FILE *out);
void report_human(const struct torture_opts *o, const struct torture_result *r,
                  FILE *out);
void report_ktap(const struct torture_opts *o, const struct torture_result *r,
                 FILE *out);

#endif
