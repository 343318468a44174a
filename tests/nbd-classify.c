/* nbd-classify.c - the nbdkit plugin's classification of captured pages over
 * libnbd, with a generation table: clean, torn, modified and unstamped pages,
 * violations as events and in the events= file, and on-violation=eio
 * refusing violating writes whole.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libnbd.h>

#include "ctlclient.h"
#include "helpers.h"
#include "stamp.h"

#define MiB (1024u * 1024u)
#define EXPORT_SIZE (64u * MiB)
#define PAGE STAMP_PAGE_SIZE
#define RUN_ID 0x5eed0001beefcafeull

struct page {
	uint8_t b[PAGE];
};

static void stamp_torn(void *page, uint64_t run, uint64_t index, uint64_t seq)
{
	stamp_fill(page, run, index, seq);
	((uint64_t *)page)[STAMP_W_HEAD] = seq + 1; /* rewrite began */
}

/* Page indexes (within the run) and where they live on the export. */
#define CLASS_BASE (32u * MiB)
static uint64_t page_off(uint64_t index)
{
	return CLASS_BASE + index * PAGE;
}

static void test_classification(struct nbd_handle *h, const char *ctl,
                                struct gentab *tab)
{
	static struct page pages[16];
	/* Publish: page i was at sequence 5 when it was swapped out. */
	for (unsigned i = 0; i < 16; i++)
		atomic_store(&tab->gen[i], 5);
	atomic_store_explicit(&tab->run, RUN_ID, memory_order_release);

	/* Ten clean pages in one request, one at a time for two more. */
	for (unsigned i = 0; i < 10; i++)
		stamp_fill(&pages[i], RUN_ID, i, 5);
	int good = nbd_pwrite(h, pages, 10 * PAGE, page_off(0), 0) == 0;
	stamp_fill(&pages[10], RUN_ID, 10, 4); /* older than published */
	good &= nbd_pwrite(h, &pages[10], PAGE, page_off(10), 0) == 0;
	/* Another run: the table does not describe it, so clean. */
	stamp_fill(&pages[11], RUN_ID + 1, 11, 99);
	good &= nbd_pwrite(h, &pages[11], PAGE, page_off(11), 0) == 0;
	/* Torn: the head says 6, the tail still 5. */
	stamp_torn(&pages[12], RUN_ID, 12, 5);
	good &= nbd_pwrite(h, &pages[12], PAGE, page_off(12), 0) == 0;
	/* Torn body: head and tail agree, one body word is wrong. */
	stamp_fill(&pages[13], RUN_ID, 13, 5);
	((uint64_t *)&pages[13])[100] ^= 1;
	good &= nbd_pwrite(h, &pages[13], PAGE, page_off(13), 0) == 0;
	/* Modified after submission: intact, but sequence 7 > published 5. */
	stamp_fill(&pages[14], RUN_ID, 14, 7);
	good &= nbd_pwrite(h, &pages[14], PAGE, page_off(14), 0) == 0;
	/* Unstamped. */
	memset(&pages[15], 0xa5, PAGE);
	good &= nbd_pwrite(h, &pages[15], PAGE, page_off(15), 0) == 0;
	ok(good, "write stamped, torn, modified and unstamped pages (policy "
	         "log: all succeed)");

	t_check_counters(ctl, "classification", C("capture.clean", 12),
	                 C("capture.torn", 2), C("capture.modified", 1),
	                 C("capture.unstamped", 1), C("violations", 3),
	                 C("write.count", 7), C("write.errors", 0),
	                 C("write.bytes", 16 * PAGE), NULL);

	/* Under on-violation=log the violating pages are stored as sent. */
	uint8_t back[PAGE];
	ok(nbd_pread(h, back, PAGE, page_off(12), 0) == 0 &&
	       !memcmp(back, &pages[12], PAGE),
	   "a torn page is stored as sent under on-violation=log");

	/* Every violation is an event with its offset. */
	char *ev = t_ctl_body(ctl, "events");
	int found = 0;
	for (unsigned i = 12; i <= 14; i++) {
		char want[64];
		snprintf(want, sizeof want, "\"offset\":%" PRIu64 ",",
		         page_off(i));
		for (char *l = ev; l && *l;) {
			char *nl = strchrnul(l, '\n');
			if (strstr(l, "\"event\":\"violation\"") &&
			    memmem(l, (size_t)(nl - l), want, strlen(want))) {
				found++;
				break;
			}
			l = *nl ? nl + 1 : nl;
		}
	}
	ok(found == 3, "events: a violation at each of the 3 offsets (%d)",
	   found);
	free(ev);

	/* The generation table is read at capture time: publishing 7 makes
	 * the same page clean. */
	atomic_store(&tab->gen[14], 7);
	good = nbd_pwrite(h, &pages[14], PAGE, page_off(14), 0) == 0;
	t_check_counters(ctl, "re-published page is clean",
	                 C("capture.clean", 13), C("capture.modified", 1),
	                 NULL);
	(void)good;
}

static void test_eio(struct nbd_handle *h, const char *ctl, struct gentab *tab)
{
	static struct page p[3];
	const uint64_t off = 5 * MiB;
	atomic_store(&tab->gen[3], 1);
	atomic_store(&tab->gen[4], 1);
	atomic_store(&tab->gen[5], 1);
	atomic_store_explicit(&tab->run, RUN_ID, memory_order_release);

	stamp_fill(&p[0], RUN_ID, 3, 1);
	ok(nbd_pwrite(h, &p[0], PAGE, off, 0) == 0,
	   "eio: a clean page is written");

	stamp_torn(&p[1], RUN_ID, 3, 1);
	int r = nbd_pwrite(h, &p[1], PAGE, off, 0);
	int e = nbd_get_errno();
	ok(r == -1 && e == EIO, "eio: a torn page fails with EIO (%s)",
	   r ? strerror(e) : "succeeded");
	stamp_fill(&p[2], RUN_ID, 3, 2);
	r = nbd_pwrite(h, &p[2], PAGE, off, 0);
	e = nbd_get_errno();
	ok(r == -1 && e == EIO,
	   "eio: a page modified after submission fails with EIO (%s)",
	   r ? strerror(e) : "succeeded");
	uint8_t back[2 * PAGE];
	ok(nbd_pread(h, back, PAGE, off, 0) == 0 && !memcmp(back, &p[0], PAGE),
	   "eio: the block keeps its old contents");

	/* One violating page refuses the whole request. */
	static struct page two[2];
	stamp_fill(&two[0], RUN_ID, 4, 1);
	stamp_torn(&two[1], RUN_ID, 5, 1);
	r = nbd_pwrite(h, two, 2 * PAGE, off + PAGE, LIBNBD_CMD_FLAG_FUA);
	e = nbd_get_errno();
	ok(r == -1 && e == EIO &&
	       nbd_pread(h, back, 2 * PAGE, off + PAGE, 0) == 0 &&
	       t_all_zero(back, 2 * PAGE),
	   "eio: a request with one torn page is refused whole");

	t_check_counters(ctl, "eio", C("violations", 3), C("capture.torn", 2),
	                 C("capture.modified", 1), C("capture.clean", 2),
	                 C("write.count", 4), C("write.errors", 3),
	                 C("write.bytes", PAGE), NULL);

	char *ev = t_ctl_body(ctl, "events");
	unsigned at_off = 0, at_next = 0;
	char want0[64], want1[64];
	snprintf(want0, sizeof want0, "\"offset\":%" PRIu64 ",", off);
	snprintf(want1, sizeof want1, "\"offset\":%" PRIu64 ",",
	         off + 2 * PAGE);
	for (char *l = ev; l && *l;) {
		char *nl = strchrnul(l, '\n');
		size_t n = (size_t)(nl - l);
		if (memmem(l, n, "\"event\":\"violation\"", 19)) {
			at_off += memmem(l, n, want0, strlen(want0)) != NULL;
			at_next += memmem(l, n, want1, strlen(want1)) != NULL;
		}
		l = *nl ? nl + 1 : nl;
	}
	ok(at_off == 2 && at_next == 1,
	   "eio: events show the violations at offsets %" PRIu64
	   " (x2) and %" PRIu64 " (the torn page of the pair)",
	   off, off + 2 * PAGE);
	if (!(at_off == 2 && at_next == 1))
		diag("events:\n%s", ev ? ev : "(none)");
	free(ev);
	ok(nbd_pwrite(h, &p[0], PAGE, off + 8 * PAGE, 0) == 0,
	   "eio: the connection still works");
}

int main(void)
{
	t_nbd_require();
	const char *conf = t_tmp_path("nbd-test.conf");
	const char *ctl1 = t_tmp_path("ctl1"), *ctl2 = t_tmp_path("ctl2");
	const char *gen1 = t_tmp_path("gentab1"), *gen2 = t_tmp_path("gentab2");
	const char *events = t_tmp_path("events.jsonl");
	char a_profile[300], a_gentab1[300], a_gentab2[300], a_events[300];
	snprintf(a_profile, sizeof a_profile, "profile=%s", conf);
	snprintf(a_gentab1, sizeof a_gentab1, "gentab=%s", gen1);
	snprintf(a_gentab2, sizeof a_gentab2, "gentab=%s", gen2);
	snprintf(a_events, sizeof a_events, "events=%s", events);
	if (t_write_file(conf, "[device]\nsize = 256M\nchecksum = crc32c\n"
	                       "[stable-writes]\nrequire = yes\n"
	                       "on-violation = log\n"))
		bail_out("cannot write %s", conf);

	/* Violations are logged: every page is stored as sent. */
	struct nbd_handle *h =
	    t_nbd_start(ctl1, a_profile, a_gentab1, a_events, NULL);
	if (ok(h != NULL, "nbdkit starts with require=yes, on-violation=log")) {
		struct gentab *tab = t_map_gentab(gen1);
		if (ok(tab && tab->magic == GENTAB_MAGIC,
		       "the plugin created the generation table")) {
			test_classification(h, ctl1, tab);
			gentab_close(tab, GENTAB_SIZE);
		}
		t_nbd_close(h);
		/* The event log file got the same violations. */
		FILE *f = fopen(events, "r");
		char line[4096];
		int violations = 0, start = 0;
		while (f && fgets(line, sizeof line, f)) {
			violations += strstr(line, "\"violation\"") != NULL;
			start += strstr(line, "\"front_end\":\"nbd\"") != NULL;
		}
		if (f)
			fclose(f);
		ok(violations == 3 && start == 1,
		   "events= file has the start event and 3 violations");
		ok(access(ctl1, F_OK) == -1 && errno == ENOENT,
		   "the control socket is removed when nbdkit exits");
	}

	/* Stable writes required, violations refused. */
	h = t_nbd_start(ctl2, "stable-writes.require=yes",
	                "stable-writes.on-violation=eio", a_gentab2, NULL);
	if (ok(h != NULL, "nbdkit starts with on-violation=eio")) {
		struct gentab *tab = t_map_gentab(gen2);
		if (tab) {
			test_eio(h, ctl2, tab);
			gentab_close(tab, GENTAB_SIZE);
		}
		t_nbd_close(h);
	}
	done_testing();
}
