/* scenario_mprotect.c - "mprotect": swapped pages are read back (a read
 * fault), made read-only and read-write again with mprotect(), then
 * written. mprotect() may map a page writable at once when it knows the
 * page exclusive; a page still under writeback of a stable-writes device
 * must not become writable that way. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "scenario.h"

static void batch(struct harness *h, uint64_t start, unsigned n)
{
	if (!h_page_out(h, start, n))
		return;
	uint64_t *reads = h_ev(h, "read_faults", true);
	uint64_t *calls = h_ev(h, "mprotect_cycles", true);
	uint64_t buf[STAMP_WORDS];
	for (unsigned j = 0; j < n; j++) {
		if (!h->swapped[j])
			continue;
		if (h_read_fault(h, start + j, j, buf, NULL))
			(*reads)++;
	}
	void *a = h_page(h, start);
	if (mprotect(a, (size_t)n * PS, PROT_READ) ||
	    mprotect(a, (size_t)n * PS, PROT_READ | PROT_WRITE))
		h_fail_exit("mprotect: %s", strerror(errno));
	(*calls)++;
	h_rewrite(h, start, n, true);
}

static void run(struct harness *h)
{
	h_region(h, h->o->pages, 0, false);
	h_rounds(h, 2, false, batch);
}

const struct scenario scenario_mprotect = {
    .name = "mprotect",
    .summary = "a read fault, mprotect() read-only and back, then a write",
    .run = run,
};
