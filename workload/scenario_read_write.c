/* scenario_read_write.c - "read-write": a read fault first (the swapped
 * page is mapped from the swap cache, read-only unless the kernel knows it
 * exclusive), then the write: the COW handler's decision to reuse the swap
 * cache page or copy it (do_wp_page), made while the page may still be
 * under writeback. */
#include <stdlib.h>

#include "pagemap.h"
#include "scenario.h"

static uint64_t *read_pfn; /* per slot: the PFN after the read fault */

static void batch(struct harness *h, uint64_t start, unsigned n)
{
	if (!h_page_out(h, start, n))
		return;
	uint64_t *reads = h_ev(h, "read_faults", true);
	uint64_t *writes = h_ev(h, "writes_after_read", true);
	uint64_t *reused = h_ev(h, "reused_at_write", false);
	uint64_t *copied = h_ev(h, "copied_at_write", false);
	uint64_t buf[STAMP_WORDS];
	for (unsigned j = 0; j < n; j++) {
		if (!h->swapped[j])
			continue;
		if (h_read_fault(h, start + j, j, buf, &read_pfn[j]))
			(*reads)++;
	}
	h_rewrite(h, start, n, true);
	for (unsigned j = 0; j < n; j++) {
		if (!h->swapped[j])
			continue;
		uint64_t e;
		if (pagemap_read(h_page(h, start + j), 1, &e))
			continue;
		(*writes)++;
		if (pm_pfn(e) == read_pfn[j])
			(*reused)++;
		else
			(*copied)++;
	}
}

static void run(struct harness *h)
{
	read_pfn = calloc(h->cap, sizeof *read_pfn);
	if (!read_pfn)
		h_fail_exit("out of memory");
	h_region(h, h->o->pages, 0, false);
	h_rounds(h, 2, false, batch);
	free(read_pfn);
	read_pfn = NULL;
}

const struct scenario scenario_read_write = {
    .name = "read-write",
    .summary = "a read fault (mapped from the swap cache), then a write: "
               "reuse or copy",
    .run = run,
};
