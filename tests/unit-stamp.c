/* unit-stamp - page stamps and their classification (common/stamp.h), and
 * the device's build of it (lib/classify.c, AVX-512 where there is one),
 * which must give the same answer every time. TAP output. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "stamp.h"
#include "helpers.h"

static void is_class(const void *page, const struct gentab *tab,
                     enum stamp_class want, const char *what)
{
	enum stamp_class got = stamp_classify(page, tab);
	enum stamp_class fast = classify_page(page, tab);

	ok(got == want && fast == want, "%s is %s (got %s, device's build %s)",
	   what, stamp_class_name(want), stamp_class_name(got),
	   stamp_class_name(fast));
}

int main(void)
{
	const uint64_t run = 0xfeedface12345678ull, index = 77, seq = 5;
	uint64_t *page = aligned_alloc(STAMP_PAGE_SIZE, STAMP_PAGE_SIZE);
	uint64_t *copy = malloc(STAMP_PAGE_SIZE);
	struct gentab *tab = calloc(1, sizeof(struct gentab));
	uint64_t r, i, s;
	int bad;

	if (!page || !copy || !tab)
		return 1;

	ok(sizeof(struct gentab) == 64 + 8ull * GENTAB_CAPACITY,
	   "gentab is a 64-byte header and the generations");
	ok(!strcmp(stamp_class_name(STAMP_UNSTAMPED), "unstamped") &&
	       !strcmp(stamp_class_name(STAMP_CLEAN), "clean") &&
	       !strcmp(stamp_class_name(STAMP_TORN), "torn") &&
	       !strcmp(stamp_class_name(STAMP_MODIFIED), "modified") &&
	       !strcmp(stamp_class_name(STAMP_NCLASSES), "?"),
	   "class names");

	memset(page, 0, STAMP_PAGE_SIZE);
	is_class(page, NULL, STAMP_UNSTAMPED, "a zero page");
	is_class(page, tab, STAMP_UNSTAMPED, "a zero page with a table");
	memset(page, 0xa5, STAMP_PAGE_SIZE);
	is_class(page, NULL, STAMP_UNSTAMPED, "a patterned page");

	stamp_fill(page, run, index, seq);
	ok(page[STAMP_W_MAGIC] == STAMP_MAGIC && page[STAMP_W_RUN] == run &&
	       page[STAMP_W_INDEX] == index && page[STAMP_W_HEAD] == seq &&
	       page[STAMP_W_TAIL] == seq,
	   "stamp_fill lays out magic, run, index, head and tail");
	ok(stamp_is_stamped(page) && stamp_intact(page, &r, &i, &s) &&
	       r == run && i == index && s == seq,
	   "stamp_intact returns run, index and sequence");
	is_class(page, NULL, STAMP_CLEAN, "a fresh stamp without a table");
	memcpy(copy, page, STAMP_PAGE_SIZE);

	/* Rewrites interrupted at each stage of head, body, tail. */
	stamp_write_head(page, run, index, seq + 1);
	is_class(page, NULL, STAMP_TORN, "a page with a new head only");
	stamp_write_body(page, run, index, seq + 1, STAMP_W_BODY, 200);
	is_class(page, NULL, STAMP_TORN, "a page with half a new body");
	stamp_write_body(page, run, index, seq + 1, 200, STAMP_W_TAIL);
	is_class(page, NULL, STAMP_TORN, "a page with a new body, old tail");
	stamp_write_tail(page, seq + 1);
	is_class(page, NULL, STAMP_CLEAN, "a completed rewrite");

	memcpy(page, copy, STAMP_PAGE_SIZE);
	page[STAMP_W_TAIL] = seq + 1;
	is_class(page, NULL, STAMP_TORN, "a page with the tail changed");
	memcpy(page, copy, STAMP_PAGE_SIZE);
	page[STAMP_W_RUN] ^= 1;
	is_class(page, NULL, STAMP_TORN, "a page with the run id changed");
	memcpy(page, copy, STAMP_PAGE_SIZE);
	page[STAMP_W_INDEX]++;
	is_class(page, NULL, STAMP_TORN, "a page with the index changed");

	/* One body word changed, at every position. */
	bad = 0;
	for (unsigned k = STAMP_W_BODY; k < STAMP_W_TAIL; k++) {
		memcpy(page, copy, STAMP_PAGE_SIZE);
		page[k] ^= 1ull << (k % 64);
		if (stamp_classify(page, NULL) != STAMP_TORN ||
		    classify_page(page, NULL) != STAMP_TORN)
			bad++;
	}
	ok(bad == 0, "any single flipped body bit is torn (%d missed)", bad);
	memcpy(page, copy, STAMP_PAGE_SIZE);
	((unsigned char *)page)[STAMP_PAGE_SIZE / 2] ^= 0x80;
	is_class(page, NULL, STAMP_TORN, "a page with one body byte changed");
	memcpy(page, copy, STAMP_PAGE_SIZE);
	page[STAMP_W_MAGIC] ^= 1;
	is_class(page, NULL, STAMP_UNSTAMPED, "a page with a damaged magic");

	/* A body from another sequence, with head and tail agreeing. */
	stamp_fill(page, run, index, seq);
	stamp_write_body(page, run, index, seq + 1, STAMP_W_BODY, STAMP_W_TAIL);
	is_class(page, NULL, STAMP_TORN, "a body from another sequence");

	/* With a published generation table. */
	tab->magic = GENTAB_MAGIC;
	tab->capacity = GENTAB_CAPACITY;
	memcpy(page, copy, STAMP_PAGE_SIZE);
	is_class(page, tab, STAMP_CLEAN, "a stamp while no run is published");
	atomic_store(&tab->run, run);
	atomic_store(&tab->gen[index], seq - 1);
	is_class(page, tab, STAMP_MODIFIED, "seq > published");
	atomic_store(&tab->gen[index], seq);
	is_class(page, tab, STAMP_CLEAN, "seq == published");
	atomic_store(&tab->gen[index], seq + 3);
	is_class(page, tab, STAMP_CLEAN, "seq < published");
	atomic_store(&tab->gen[index], seq - 1);
	page[STAMP_W_HEAD] = seq + 1;
	is_class(page, tab, STAMP_TORN, "a torn page with a table");

	atomic_store(&tab->run, run + 1);
	memcpy(page, copy, STAMP_PAGE_SIZE);
	is_class(page, tab, STAMP_CLEAN, "seq > published of another run");
	atomic_store(&tab->run, run);

	stamp_fill(page, run, GENTAB_CAPACITY, seq);
	is_class(page, tab, STAMP_CLEAN, "index == capacity");
	stamp_fill(page, run, UINT64_MAX, seq);
	is_class(page, tab, STAMP_CLEAN, "index UINT64_MAX");
	stamp_fill(page, run, GENTAB_CAPACITY - 1, seq);
	is_class(page, tab, STAMP_MODIFIED, "the last index, seq > 0");

	/* Distinct pages and sequences give distinct bodies. */
	ok(stamp_body_key(run, index, seq) !=
	           stamp_body_key(run, index, seq + 1) &&
	       stamp_body_key(run, index, seq) !=
	           stamp_body_key(run, index + 1, seq) &&
	       stamp_body_key(run, index, seq) !=
	           stamp_body_key(run + 1, index, seq),
	   "body keys depend on run, index and sequence");
	ok(mix64(0) == 0xe220a8397b1dcdafull,
	   "stamp_mix is splitmix64 (first output from state 0)");

	free(tab);
	free(copy);
	free(page);
	done_testing();
}
