/* nbd-rules.c - fault-injection rules given to the nbdkit plugin as
 * rule.NAME.KEY parameters, over libnbd: a delay, an error that stores
 * nothing, a stall released through the control socket, and a disconnect
 * rule added at run time, which must not keep nbdkit from exiting with a
 * request still stalled.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <libnbd.h>

#include "ctlclient.h"
#include "helpers.h"
#include "stamp.h"

#define MiB (1024u * 1024u)
#define EXPORT_SIZE (64u * MiB)
#define PAGE STAMP_PAGE_SIZE

struct page {
	uint8_t b[PAGE];
};

static char *stats(const char *ctl)
{
	return t_ctl_body(ctl, "stats");
}

static void test_rules(struct nbd_handle *h, const char *ctl,
                       const char *events)
{
	char *rules = t_ctl_body(ctl, "rules");
	ok(rules && strstr(rules, "hold ") && strstr(rules, "slow ") &&
	       strstr(rules, "nospace "),
	   "rule.NAME.KEY parameters became rules");
	free(rules);

	static struct page buf[2];
	memset(buf, 0x3c, sizeof buf);
	double t0 = t_now_ms();
	int good = nbd_pread(h, buf, PAGE, 0, 0) == 0;
	double slow = t_now_ms() - t0;
	ok(good && slow >= 60.0, "a delay rule holds a read's reply (%.1f ms)",
	   slow);

	int r = nbd_pwrite(h, buf, PAGE, 1 * MiB, 0);
	int e = nbd_get_errno();
	ok(r == -1 && e == ENOSPC,
	   "an error rule fails a write with ENOSPC (%s)",
	   r ? strerror(e) : "succeeded");
	uint8_t back[PAGE];
	ok(nbd_pread(h, back, PAGE, 1 * MiB, 0) == 0 && t_all_zero(back, PAGE),
	   "the failed write stored nothing");

	/* A rule's error:EINVAL reaches the client as EINVAL, as over FUSE
	 * (tests/fuse-daemon.t). */
	char aerr[512];
	int inval = ctl_request(ctl,
	                        "add inval op=write range=4M-5M "
	                        "action=error:EINVAL",
	                        NULL, NULL, aerr, sizeof aerr) == 0;
	r = nbd_pwrite(h, buf, PAGE, 4 * MiB, 0);
	e = nbd_get_errno();
	ok(inval && r == -1 && e == EINVAL,
	   "an error:EINVAL rule fails a write with EINVAL (%s)",
	   r ? strerror(e) : "succeeded");
	free(t_ctl_body(ctl, "remove inval"));

	/* A stalled write holds its worker thread until "release"; the
	 * others go on. */
	int64_t cookie =
	    nbd_aio_pwrite(h, buf, PAGE, 2 * MiB, NBD_NULL_COMPLETION, 0);
	t0 = t_now_ms();
	while (cookie > 0 && t_now_ms() - t0 < 300.0)
		nbd_poll(h, 50);
	int pending =
	    cookie > 0 && nbd_aio_command_completed(h, (uint64_t)cookie) == 0;
	char *st = stats(ctl);
	ok(pending && st && strstr(st, "\"stalled\":1"),
	   "a stall rule holds the write (stats: stalled 1)");
	free(st);
	ok(nbd_pread(h, back, PAGE, 8 * MiB, 0) == 0,
	   "other requests are served meanwhile");
	free(t_ctl_body(ctl, "release"));
	t0 = t_now_ms();
	int done = 0;
	while (cookie > 0 && !done && t_now_ms() - t0 < 5000.0) {
		nbd_poll(h, 100);
		done = nbd_aio_command_completed(h, (uint64_t)cookie);
	}
	ok(done == 1 && nbd_pread(h, back, PAGE, 2 * MiB, 0) == 0 &&
	       !memcmp(back, buf, PAGE),
	   "after 'release' the write completes and is stored (%.1f ms)",
	   t_now_ms() - t0);

	/* A stalled request must not keep nbdkit from exiting. */
	cookie = nbd_aio_pwrite(h, buf, PAGE, 2 * MiB + PAGE,
	                        NBD_NULL_COMPLETION, 0);
	t0 = t_now_ms();
	while (cookie > 0 && t_now_ms() - t0 < 100.0)
		nbd_poll(h, 20);

	/* A disconnect rule added at run time drops the connection. */
	char err[512];
	int added = ctl_request(ctl, "add cut op=flush action=disconnect", NULL,
	                        NULL, err, sizeof err) == 0;
	if (!added)
		diag("add: %s", err);
	r = nbd_flush(h, 0);
	ok(added && r == -1, "a disconnect rule fails the flush (%s)",
	   r ? nbd_get_error() : "succeeded");
	r = nbd_pread(h, back, PAGE, 0, 0);
	ok(r == -1, "the connection is gone afterwards");
	t0 = t_now_ms();
	t_nbd_close(h);
	diag("nbdkit exited %.0f ms after the disconnect, with a request "
	     "still stalled",
	     t_now_ms() - t0);
	FILE *f = fopen(events, "r");
	char line[1024];
	int disc = 0, stall_fault = 0;
	while (f && fgets(line, sizeof line, f)) {
		disc += strstr(line, "\"event\":\"disconnect\"") != NULL;
		stall_fault += strstr(line, "\"rule\":\"hold\"") != NULL;
	}
	if (f)
		fclose(f);
	ok(disc == 1 && stall_fault == 2,
	   "events: 2 stall faults and the disconnect (%d, %d)", stall_fault,
	   disc);
}

int main(void)
{
	t_nbd_require();
	const char *ctl = t_tmp_path("ctl"), *events = t_tmp_path("events");
	char a_events[300];
	snprintf(a_events, sizeof a_events, "events=%s", events);
	struct nbd_handle *h = t_nbd_start(
	    ctl, a_events, "rule.slow.op=read", "rule.slow.range=0-4096",
	    "rule.slow.action=delay:60ms", "rule.nospace.op=write",
	    "rule.nospace.range=1M-2M", "rule.nospace.action=error:ENOSPC",
	    "rule.hold.op=write", "rule.hold.range=2M-3M",
	    "rule.hold.action=stall", NULL);
	if (ok(h != NULL, "nbdkit starts with fault-injection rules"))
		test_rules(h, ctl, events);
	done_testing();
}
