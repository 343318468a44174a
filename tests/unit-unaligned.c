/* unit-unaligned: request data at any address and of any length. Pages in
 * a request buffer sit at the request's offset (an 8 KiB write at offset 1
 * carries its whole block at buf + 4095), and a read may be empty. Under
 * `make SAN=1` (UBSan with -fsanitize=alignment) an aligned 64-bit load of
 * such a page aborts; a corrupt rule on an empty read once divided by
 * zero. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "stamp.h"
#include "helpers.h"

static void add_rule(struct profile *p, const char *name, const char *op,
                     const char *action)
{
	char err[256];
	struct rule_spec *r = &p->rules[p->nrules++];
	rule_spec_init(r, name);
	if (rule_spec_set(r, "op", op, err, sizeof err) ||
	    rule_spec_set(r, "action", action, err, sizeof err))
		printf("# rule %s: %s\n", name, err);
}

int main(void)
{
	/* Aligned request buffers, as a front end has them. */
	static uint64_t store[3 * STAMP_WORDS], back[3 * STAMP_WORDS];
	char *buf = (char *)store, *got = (char *)back;
	char err[512];
	struct profile p;
	plan(6);

	static uint64_t page[STAMP_WORDS]; /* stamps are written aligned */
	stamp_fill(page, 42, 7, 3);
	memcpy(buf + 1, page, sizeof page);
	uint64_t run = 0, index = 0, seq = 0;
	ok(stamp_intact(buf + 1, &run, &index, &seq) && run == 42 &&
	       index == 7 && seq == 3 &&
	       stamp_classify(buf + 1, NULL) == STAMP_CLEAN,
	   "a stamp at an odd address is read and classified");

	profile_defaults(&p);
	p.size = 1 << 20;
	p.require = 1;
	p.verify_reads = ON_ERROR_LOG; /* the torn block reads back */
	add_rule(&p, "tear", "write", "tear:1");
	add_rule(&p, "flip", "read", "corrupt:3");
	if (profile_finish(&p, err, sizeof err))
		printf("# profile: %s\n", err);
	struct device *d = device_open(&p, NULL, NULL, err, sizeof err);
	if (!ok(d != NULL, "open a device with a tear and a corrupt rule (%s)",
	        d ? "ok" : err))
		done_testing();

	/* Offset 1: the stamped page (index 9) is the write's one whole
	 * block, at buf + 4095, an odd address; the tear rule marks it damaged
	 * and logs it. */
	memset(buf, 0x5a, 2 * STAMP_PAGE_SIZE);
	stamp_fill(page, 42, 9, 1);
	memcpy(buf + STAMP_PAGE_SIZE - 1, page, sizeof page);
	ok(device_write(d, buf, 2 * STAMP_PAGE_SIZE, 1, NULL) == 0,
	   "an 8 KiB stamped write at offset 1 (torn by a rule)");
	char *ev = NULL;
	size_t evlen = 0;
	FILE *f = open_memstream(&ev, &evlen);
	device_events(d, f);
	fclose(f);
	ok(ev && strstr(ev, "\"pages\":[9]"),
	   "its fault event names the stamped page it carried");
	free(ev);

	ok(device_read(d, got, 2 * STAMP_PAGE_SIZE, 1, NULL) == 0,
	   "an 8 KiB read at offset 1 (corrupted by a rule)");
	ok(device_read(d, got, 0, 4096, NULL) == 0,
	   "an empty read with a corrupt rule in force");
	device_close(d);
	done_testing();
}
