/* scenario_write.c - "write": a page swapped out with MADV_PAGEOUT is
 * written by a plain store (a write fault on the swap pte), then rewritten
 * slowly while it may still be under writeback. The original torture. */
#include "scenario.h"

static void batch(struct harness *h, uint64_t start, unsigned n)
{
	if (!h_page_out(h, start, n))
		return;
	h_rewrite(h, start, n, false);
}

static void run(struct harness *h)
{
	h_region(h, h->o->pages, 0, false);
	/* Limited by --seconds/--swapouts as always; one batch in four waits
	 * for the end of writeback. */
	h_rounds(h, 4, true, batch);
}

const struct scenario scenario_write = {
    .name = "write",
    .summary = "a plain store to a swapped page (write fault), then a "
               "slow rewrite",
    .run = run,
};
