/* harness.h - what every scenario stands on: a region of stamped pages,
 * swap-out with MADV_PAGEOUT, pagemap/kpageflags, the generation table,
 * guarded accesses, the slow rewrite, the final check and the verdict.
 *
 * A scenario (scenario.h) runs rounds over its region: in some rounds it
 * touches each page right after the swap-out, while the page may still be
 * under writeback; in the others it first waits until writeback has ended.
 * The harness counts which it was at each page's first access. */
#ifndef SWAPEMU_HARNESS_H
#define SWAPEMU_HARNESS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgroup.h"
#include "result.h"
#include "stamp.h"
#include "target.h"

#define PS STAMP_PAGE_SIZE

struct harness {
	struct torture_opts *o;
	struct torture_result *r; /* the run's totals */
	struct scen_result *sr;   /* the scenario running */
	struct target *t;         /* NULL: no device */
	struct memcg *cg;         /* to drop the swap cache */
	volatile sig_atomic_t *stop;
	uint64_t run; /* the run id of this scenario's stamps */
	/* The region: n pages at mem. */
	uint8_t *mem;
	size_t map_len;
	uint64_t n;
	uint64_t *seq; /* the sequence page i must hold */
	uint64_t *idx; /* the index stamped in page i (i, except for KSM) */
	uint8_t *dead; /* unreadable: a swap-in failed (SIGBUS) */
	/* Per batch (slot j is page start + j). */
	unsigned cap;
	uint64_t *pm, *pfn, *key;
	uint8_t *swapped, *bad;
	bool after_wb;          /* this batch waits for the end of writeback */
	uint64_t t0, swapouts0; /* the scenario's start */
	char *c0;               /* the device's counters at the start */
	bool dev_done;          /* h_device_mark() was called */
	bool idle;              /* the device was idle at the mark */
};

/* Setup and teardown of the whole run (torture.c). */
void h_init(struct harness *h, struct torture_opts *o, struct torture_result *r,
            struct target *t, struct memcg *cg, volatile sig_atomic_t *stop);

/* Maps a region of n pages (private anonymous; aligned to align bytes,
 * 0 for a page) and stamps page i with (run, i, 1). thp: MADV_HUGEPAGE
 * instead of MADV_NOHUGEPAGE. Dies when out of memory. */
void h_region(struct harness *h, uint64_t n, size_t align, bool thp);
void h_region_free(struct harness *h);

/* Errors: setup (exit 2), internal (exit 1), warning. */
void h_die(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));
void h_fail_exit(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));
void h_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static inline uint8_t *h_page(struct harness *h, uint64_t i)
{
	return h->mem + i * PS;
}

/* Pages [start, start+n) are made present, their generations published,
 * and swapped out with one MADV_PAGEOUT; with h->after_wb the harness
 * then waits until their writeback has ended. Afterwards h->swapped[j]
 * tells which were swapped out and h->pfn[j] the PFN each had. Returns the
 * number swapped out. */
unsigned h_page_out(struct harness *h, uint64_t start, unsigned n);

/* Waits (at most until deadline, ns) until none of the n PFNs is under
 * writeback; false on timeout or stop. */
bool h_wait_writeback(struct harness *h, const uint64_t *pfns, uint64_t n,
                      uint64_t deadline);

/* Is the folio at pfn under writeback? */
bool h_pfn_writeback(uint64_t pfn);

/* Around the first access to slot j after the swap-out: begin returns
 * whether the page was under writeback just before; end reads the PFN
 * after the access, counts the access as under writeback, after it, or a
 * race, and whether the kernel gave a copy. Returns the new PFN. */
bool h_access_begin(struct harness *h, unsigned j);
uint64_t h_access_end(struct harness *h, uint64_t i, unsigned j, bool wb);

/* Guarded accesses to a page that may have to be swapped in: -1 on
 * SIGBUS (the page is then written off as unreadable). */
int h_read_page(struct harness *h, uint64_t i, void *dst);
/* A read fault on slot j (page i) as an access (h_access_begin/end around
 * h_read_page), its data checked with h_check_copy. False if the page
 * could not be read: the slot is then dropped from the batch. The PFN
 * after the read goes to *pfn when pfn is not NULL. */
bool h_read_fault(struct harness *h, uint64_t i, unsigned j, void *buf,
                  uint64_t *pfn);
int h_xchg(struct harness *h, volatile uint64_t *w, uint64_t v, uint64_t *old);

/* The first word of w that differs from the stamp of page i at seq, or
 * -1 when the page is exactly that stamp. */
int h_bad_word(struct harness *h, const uint64_t *w, uint64_t i, uint64_t seq);
/* Checks a copy of page i against what it must hold (seq[i]); records
 * lost or corrupt. Returns true when right. */
bool h_check_copy(struct harness *h, uint64_t i, const uint64_t *w);
void h_record(struct harness *h, uint64_t page, unsigned word,
              enum damage_kind kind);

/* The slow rewrite of the swapped slots of a batch to seq+1, over
 * modify_ms: heads (the first write: a write fault), 8 body slices,
 * tails. With first_done, the scenario already made the first access
 * (h_access_begin/end) and the head write is a plain write. */
void h_rewrite(struct harness *h, uint64_t start, unsigned n, bool first_done);

/* Writes the whole stamp seq[i]+1 to page i at once (and counts it). */
void h_stamp_next(struct harness *h, uint64_t i);

/* Runs batch(h, start, n) over the region, round after round, until the
 * scenario's limit: rounds where round % after_every == after_every - 1
 * wait for the end of writeback (h->after_wb), the others do not. With
 * by_time, the limit is --seconds/--swapouts (the write scenario);
 * otherwise --rounds, at least 2. */
void h_rounds(struct harness *h, unsigned after_every, bool by_time,
              void (*batch)(struct harness *h, uint64_t start, unsigned n));

/* Ends the part of the scenario the device's figures cover: waits until
 * every swap write so far is done and reads the device's counters. Called
 * by the harness after the scenario if the scenario did not. */
void h_device_mark(struct harness *h);

/* Evidence: the counter named name (created at 0 on first use). */
uint64_t *h_ev(struct harness *h, const char *name, bool required);

/* The scenario failed a check of its own (appends to the reason). */
void h_fail(struct harness *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The final check's failures: always named, after the scenario's own;
 * h_fail_count_rest() first adds "and N more like these" for the
 * scenario's failures beyond the first few. */
void h_fail_count_rest(struct harness *h);
void h_fail_final(struct harness *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The scenario cannot run here: skip with the reason. */
void h_skip(struct harness *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Adds a note to the reason (a finding, not a failure). */
void h_note(struct harness *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

bool h_stopped(struct harness *h);

/* Reads /sys or /proc value files; write returns 0 or -1 (errno). */
int h_read_file(const char *path, char *buf, size_t len);
int h_write_file(const char *path, const char *val);

/* Is the named deliberate breakage (--test-break) asked for? */
bool h_break(struct harness *h, const char *what);

/* One scenario, start to end (torture.c calls it for each). */
struct scenario;
void h_run_scenario(struct harness *h, const struct scenario *s,
                    unsigned index);
/* The run's end: restores what scenarios changed. Idempotent. */
void h_cleanup(void);
/* Registers an undo for h_cleanup (at most 32; e.g. a sysfs value). */
void h_restore_file_later(const char *path);
/* Restores them now (the end of each scenario). */
void h_restore_files(void);

/* Is any swap area active (true when /proc/swaps cannot be read)? */
bool h_any_swap_active(void);

#endif
