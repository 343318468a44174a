/* scenario_write.c - "write": a page swapped out with MADV_PAGEOUT is
 * written by a plain store (a write fault on the swap pte), then rewritten
 * slowly while it may still be under writeback. The original torture.
 *
 * The main rounds (limited by --seconds/--swapouts) write right after the
 * swap-out, as the torture always did, and are what the report's
 * top-level figures and the device's counts cover. One more round then
 * waits for the end of writeback before each batch's writes; its
 * swap-outs are counted apart (swapouts_after_writeback), so that the
 * original figures keep their meaning. */
#include "scenario.h"

static void batch(struct harness *h, uint64_t start, unsigned n)
{
	if (!h_page_out(h, start, n))
		return;
	/* --write-after-us: a rewrite that comes late, so that a device's
	 * capture delay has to outlast it to see the change. */
	if (h->o->write_after_us && !h->after_wb)
		sleep_until_ns(now_ns() + h->o->write_after_us * 1000);
	h_rewrite(h, start, n, false);
}

static void run(struct harness *h)
{
	h_region(h, h->o->pages, 0, false);
	h_rounds(h, 1, true, batch);
	h_device_mark(h);
	/* The round after writeback: swap-outs kept out of the totals. */
	uint64_t *after = h_ev(h, "swapouts_after_writeback", true);
	uint64_t before = h->r->swapouts;
	uint64_t B = h->o->batch < h->n ? h->o->batch : h->n;
	h->after_wb = true;
	for (uint64_t s = 0; s < h->n && !h_stopped(h); s += B)
		batch(h, s, (unsigned)(h->n - s < B ? h->n - s : B));
	h->after_wb = false;
	*after = h->r->swapouts - before;
	h->r->swapouts = before;
}

const struct scenario scenario_write = {
    .name = "write",
    .summary = "a plain store to a swapped page (write fault), then a "
               "slow rewrite",
    .run = run,
};
