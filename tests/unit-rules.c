/* unit-rules: fault rules: parsing, triggers, determinism, and each
 * action as the device applies it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "stamp.h"
#include "helpers.h"

static char err[512];

static int set(struct rule_spec *r, const char *k, const char *v)
{
	return rule_spec_set(r, k, v, err, sizeof err);
}

/* The fired pattern of rule 0 over n writes of 4 KiB at offset 0. */
static void pattern(struct ruleset *s, int n, char *out)
{
	struct rule_req q = {1, 0, 4096, 0, 0};
	struct rule_verdict v;
	for (int i = 0; i < n; i++) {
		ruleset_eval(s, &q, &v);
		out[i] = v.nfired ? 'x' : '.';
	}
	out[n] = 0;
}

int main(void)
{
	struct rule_spec r;
	char pat[64], pat2[64];
	plan(41);

	rule_spec_init(&r, "t");
	ok(set(&r, "op", "read,write") == 0 && r.ops == 3, "op list");
	/* Issue 8, finding 9: lists were cut at 255 characters. */
	char list[400] = "";
	for (int i = 0; i < 60; i++)
		strcat(list, "read,");
	strcat(list, "flush");
	ok(set(&r, "op", list) == 0 && r.ops == (1u | 1u << 2),
	   "a 305-character op list is read whole (ops %#x)", r.ops);
	char words[8192] = "long op=write";
	while (strlen(words) < sizeof words - 200)
		strcat(words, " probability=1");
	strcat(words, " count=100 action=error:ENOSPC");
	struct rule_spec w;
	ok(rule_spec_parse(&w, words, err, sizeof err) == 0 &&
	       !strcmp(w.name, "long") && w.count == 100 &&
	       w.action == ACT_ERROR && w.err == ENOSPC,
	   "add arguments of %zu characters are read whole", strlen(words));
	ok(rule_spec_parse(&w,
	                   "x23456789012345678901234567890123456789012345 "
	                   "action=stall",
	                   err, sizeof err) == -1 &&
	       strstr(err, "rule name too long (45 characters, at most 44)"),
	   "a rule name too long for a profile is refused: %s", err);
	ok(rule_spec_parse(&w, "a]b action=stall", err, sizeof err) == -1 &&
	       strstr(err, "bad rule name 'a]b'"),
	   "a rule name that cannot be a section is refused: %s", err);
	ok(rule_spec_parse(&w, "n op=write count", err, sizeof err) == -1 &&
	       strstr(err, "bad 'count' (use KEY=VALUE)"),
	   "a word without = is refused: %s", err);
	ok(set(&r, "op", "reed") == -1 && strstr(err, "bad op 'reed'"),
	   "bad op: %s", err);
	ok(set(&r, "range", "64M-65M") == 0 && r.lo == 64 << 20 &&
	       r.hi == 65 << 20,
	   "range");
	ok(set(&r, "range", "0-") == 0 && r.lo == 0 && r.hi == UINT64_MAX,
	   "open range");
	ok(set(&r, "range", "2M-1M") == -1 && strstr(err, "impossible range"),
	   "impossible range: %s", err);
	ok(set(&r, "window", "10s..30s") == 0 && r.win_lo_ns == 10000000000ull,
	   "window");
	ok(set(&r, "window", "3s..1s") == -1, "impossible window: %s", err);
	ok(set(&r, "action", "error:ENOSPC") == 0 && r.err == ENOSPC,
	   "error action");
	ok(set(&r, "action", "error:EWHAT") == -1 &&
	       strstr(err, "unknown errno 'EWHAT'"),
	   "unknown errno: %s", err);
	ok(set(&r, "action", "explode") == -1 &&
	       strstr(err, "unknown action 'explode'"),
	   "unknown action: %s", err);
	ok(set(&r, "probability", "1.5") == -1, "probability above 1");
	ok(set(&r, "colour", "red") == -1 &&
	       strstr(err, "unknown key 'colour' in [rule t]"),
	   "unknown key: %s", err);
	rule_spec_init(&r, "t");
	ok(rule_spec_check(&r, 1 << 20, err, sizeof err) == -1 &&
	       strstr(err, "no action"),
	   "a rule needs an action: %s", err);
	set(&r, "action", "lose");
	ok(rule_spec_check(&r, 1 << 20, err, sizeof err) == -1 &&
	       strstr(err, "writes only"),
	   "lose needs op = write: %s", err);
	set(&r, "op", "write");
	set(&r, "range", "2M-3M");
	ok(rule_spec_check(&r, 1 << 20, err, sizeof err) == -1 &&
	       strstr(err, "beyond the device"),
	   "a range past the device: %s", err);

	/* Triggers. */
	rule_spec_init(&r, "t");
	set(&r, "action", "error:EIO");
	set(&r, "after", "2");
	set(&r, "every", "3");
	set(&r, "count", "2");
	struct ruleset *s = ruleset_new(&r, 1, 1);
	pattern(s, 12, pat);
	ok(!strcmp(pat, "....x..x...."), "after 2, every 3, count 2: %s", pat);
	ok(s->rule[0].matches == 12 && s->rule[0].fired == 2,
	   "matches and firings counted");
	free(s);
	rule_spec_init(&r, "p");
	set(&r, "action", "error:EIO");
	set(&r, "probability", "0.3");
	s = ruleset_new(&r, 1, 42);
	pattern(s, 60, pat);
	free(s);
	s = ruleset_new(&r, 1, 42);
	pattern(s, 60, pat2);
	free(s);
	ok(!strcmp(pat, pat2), "same seed, same faults: %s", pat);
	s = ruleset_new(&r, 1, 43);
	pattern(s, 60, pat2);
	free(s);
	ok(strcmp(pat, pat2), "another seed, other faults: %s", pat2);
	int fired = 0;
	for (int i = 0; pat[i]; i++)
		fired += pat[i] == 'x';
	ok(fired > 8 && fired < 30, "probability 0.3 fired %d of 60", fired);

	/* Actions on a device. */
	struct profile p;
	profile_defaults(&p);
	p.size = 1 << 20;
	p.seed = 5;
	struct device *d = device_open(&p, NULL, NULL, err, sizeof err);
	static char page[4096], back[4096], old[4096];
	struct dev_io io;
	stamp_fill(old, 9, 7, 1);
	device_write(d, old, 4096, 8192, NULL);
	stamp_fill(page, 9, 7, 2);

	rule_spec_init(&r, "lost");
	set(&r, "op", "write");
	set(&r, "action", "lose");
	ok(device_add_rule(d, &r, err, sizeof err) == 0, "add a rule live");
	ok(device_add_rule(d, &r, err, sizeof err) == -1 &&
	       strstr(err, "exists"),
	   "a rule name is unique: %s", err);
	ok(device_write(d, page, 4096, 8192, &io) == 0,
	   "a lost write succeeds");
	ok(device_read(d, back, 4096, 8192, &io) == 0 &&
	       !memcmp(back, old, 4096),
	   "but the old data stays");
	char *ev = device_text(d, device_events);
	ok(strstr(ev, "\"event\":\"fault\",\"op\":\"write\",\"offset\":8192,"
	              "\"length\":4096,\"rule\":\"lost\",\"action\":\"lose\","
	              "\"pages\":[7]") &&
	       strstr(ev, "\"event\":\"damaged-read\",\"op\":\"read\","
	                  "\"offset\":8192,\"length\":4096,\"pages\":[7]"),
	   "the loss and the read of the lost block are logged with the page");
	free(ev);
	ok(device_remove_rule(d, "lost", err, sizeof err) == 0 &&
	       device_remove_rule(d, "lost", err, sizeof err) == -1,
	   "remove a rule, once");

	rule_spec_init(&r, "tear");
	set(&r, "op", "write");
	set(&r, "action", "tear:1000");
	device_add_rule(d, &r, err, sizeof err);
	device_write(d, page, 4096, 8192, &io);
	device_clear_rules(d);
	ok(device_read(d, back, 4096, 8192, &io) == -EIO,
	   "a torn write fails its checksum on read");

	rule_spec_init(&r, "rot");
	set(&r, "op", "read");
	set(&r, "action", "corrupt:3");
	device_write(d, page, 4096, 8192, NULL);
	device_add_rule(d, &r, err, sizeof err);
	device_read(d, back, 4096, 8192, &io);
	int diff = 0;
	for (int i = 0; i < 4096; i++)
		diff += __builtin_popcount((unsigned char)(back[i] ^ page[i]));
	ok(diff == 3, "corrupt:3 flips 3 bits of what the read returns (%d)",
	   diff);
	device_clear_rules(d);
	ok(device_read(d, back, 4096, 8192, &io) == 0 &&
	       !memcmp(back, page, 4096),
	   "the stored data is intact");

	rule_spec_init(&r, "slow");
	set(&r, "action", "delay:7ms");
	device_add_rule(d, &r, err, sizeof err);
	rule_spec_init(&r, "hold");
	set(&r, "op", "flush");
	set(&r, "action", "stall");
	device_add_rule(d, &r, err, sizeof err);
	device_flush(d, &io);
	ok(io.stall && io.delay_ns == 7000000,
	   "stall and delay reach the front end");
	device_read(d, back, 4096, 0, &io);
	ok(!io.stall && io.delay_ns == 7000000, "the delay applies to reads");
	device_clear_rules(d);

	rule_spec_init(&r, "e");
	set(&r, "op", "read");
	set(&r, "range", "0-4096");
	set(&r, "action", "error:ENODATA");
	device_add_rule(d, &r, err, sizeof err);
	ok(device_read(d, back, 512, 4000, &io) == -ENODATA &&
	       device_read(d, back, 512, 4096, &io) == 0,
	   "a range matches overlapping requests only");

	struct profile np;
	device_get_profile(d, &np);
	np.size = 2 << 20;
	ok(device_load_profile(d, &np, err, sizeof err) == -1 &&
	       strstr(err, "cannot change device.size"),
	   "load refuses to change the size: %s", err);
	device_get_profile(d, &np);
	np.nrules = 0;
	np.require = 1;
	ok(device_load_profile(d, &np, err, sizeof err) == 0 &&
	       device_read(d, back, 512, 4000, &io) == 0,
	   "load replaces the rules");
	stamp_fill(page, 9, 7, 3);
	page[100] ^= 1;
	device_write(d, page, 4096, 8192, NULL);
	char *c = device_text(d, device_counters);
	ok(strstr(c, "\nviolations 1\n") != NULL,
	   "and the live require setting");
	free(c);
	ok(strstr((ev = device_text(d, device_events)), "\"event\":\"load\"") !=
	       NULL,
	   "the load is logged");
	free(ev);
	device_close(d);
	done_testing();
}
