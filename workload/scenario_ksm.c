/* scenario_ksm.c - "ksm": groups of identical pages merged by KSM
 * (MADV_MERGEABLE, ksmd started through /sys/kernel/mm/ksm/run and put
 * back as it was afterwards): one page of each pair is written (the COW
 * of a KSM page: the other keeps the shared content), the other, now
 * mapping the KSM page alone, is swapped out and written while under
 * writeback and after: no page may change under the device.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "clock.h"
#include "pagemap.h"
#include "scenario.h"

#define KSM "/sys/kernel/mm/ksm/"
#define GROUP 2 /* pages per group of identical pages */

/* Stamps every group with the shared content (the index of the group's
 * first page, sequence seq) and waits until KSM has merged them. Returns
 * the pages found sharing their group leader's frame. */
static uint64_t merge(struct harness *h, uint64_t seq)
{
	for (uint64_t i = 0; i < h->n; i++) {
		h->idx[i] = i - i % GROUP;
		h->seq[i] = seq;
		stamp_fill(h_page(h, i), h->run, h->idx[i], seq);
	}
	uint64_t *pm = calloc(h->n, sizeof *pm), merged = 0, want;
	if (!pm)
		h_fail_exit("out of memory");
	want = h->n - (h->n + GROUP - 1) / GROUP;
	uint64_t deadline = now_ns() + 20000000000ull;
	while (!h_stopped(h) && now_ns() < deadline) {
		if (pagemap_read(h->mem, h->n, pm))
			h_fail_exit("cannot read /proc/self/pagemap: %s",
			            strerror(errno));
		merged = 0;
		for (uint64_t i = 0; i < h->n; i++)
			merged += i % GROUP && pm_pfn(pm[i]) &&
			          pm_pfn(pm[i]) == pm_pfn(pm[i - i % GROUP]);
		if (merged >= want)
			break;
		/* ksmd merges within a few scans (tens of ms here): none
		 * after 3 s means it will not. */
		if (!merged && now_ns() + 17000000000ull > deadline)
			break;
		sleep_ms(50);
	}
	free(pm);
	return merged;
}

/* Each group's second page is written first: it gets a private copy
 * (the COW of a KSM page), and the first page must keep the shared
 * content. The first page then maps the KSM page alone, so that
 * MADV_PAGEOUT (which leaves pages mapped more than once alone) swaps it
 * out; it is written while under writeback or after. */
static void batch(struct harness *h, uint64_t start, unsigned n)
{
	uint64_t *cows = h_ev(h, "ksm_cow_breaks", true);
	uint64_t *checked = h_ev(h, "sibling_checks", true);
	uint64_t *ksm_out = h_ev(h, "ksm_pages_swapped", true);
	uint64_t buf[STAMP_WORDS], pm[2];
	uint8_t *was_ksm = calloc(n, 1);
	if (!was_ksm)
		h_fail_exit("out of memory");
	for (unsigned j = 0; j + 1 < n; j += GROUP) {
		uint64_t i = start + j;
		if (pagemap_read(h_page(h, i), 2, pm))
			h_fail_exit("cannot read /proc/self/pagemap");
		bool merged = pm_pfn(pm[0]) && pm_pfn(pm[0]) == pm_pfn(pm[1]);
		h_stamp_next(h, i + 1);
		*cows += merged;
		if (h_read_page(h, i, buf))
			continue;
		(*checked)++;
		if (!h_check_copy(h, i, buf))
			h_fail(h,
			       "a write to page %llu showed in page %llu of "
			       "its KSM pair",
			       (unsigned long long)(i + 1),
			       (unsigned long long)i);
		was_ksm[j] = merged;
	}
	h_page_out(h, start, n);
	for (unsigned j = 0; j < n; j++)
		*ksm_out += h->swapped[j] && was_ksm[j];
	free(was_ksm);
	h_rewrite(h, start, n, false);
}

static void run(struct harness *h)
{
	char v[64];
	if (h_read_file(KSM "run", v, sizeof v)) {
		h_skip(h, "no KSM in this kernel (%s: %s)", KSM "run",
		       strerror(errno));
		return;
	}
	h_region(h, h->o->pages, 0, false);
	if (!h_break(h, "ksm-unmergeable") &&
	    madvise(h->mem, h->map_len, MADV_MERGEABLE)) {
		h_skip(h, "madvise(MADV_MERGEABLE): %s", strerror(errno));
		return;
	}
	h_restore_file_later(KSM "run");
	h_restore_file_later(KSM "pages_to_scan");
	h_restore_file_later(KSM "sleep_millisecs");
	char scan[32];
	snprintf(scan, sizeof scan, "%llu", (unsigned long long)h->n * 4);
	if (h_write_file(KSM "pages_to_scan", scan) ||
	    h_write_file(KSM "sleep_millisecs", "10") ||
	    h_write_file(KSM "run", "1")) {
		h_skip(h, "cannot start ksmd: %s", strerror(errno));
		return;
	}
	uint64_t *merged = h_ev(h, "pages_merged", true);
	uint64_t B =
	    h->o->batch < GROUP ? GROUP : h->o->batch - h->o->batch % GROUP;
	uint64_t rounds = h->o->rounds < 2 ? 2 : h->o->rounds;
	for (uint64_t r = 0; r < rounds && !h_stopped(h); r++) {
		/* Sequences only grow: 1, 3, 5, ... for the shared
		 * content, one more for each page's own write. */
		*merged += merge(h, 2 * r + 1);
		h->after_wb = r % 2 == 1;
		for (uint64_t s = 0; s < h->n; s += B)
			batch(h, s, (unsigned)(h->n - s < B ? h->n - s : B));
		h->sr->rounds++;
		h->r->rounds++;
	}
	h->after_wb = false;
}

const struct scenario scenario_ksm = {
    .name = "ksm",
    .summary = "pages merged by KSM, swapped out, written: private "
               "copies, no change under writeback",
    .run = run,
};
