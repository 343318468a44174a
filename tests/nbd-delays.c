/* nbd-delays.c - the nbdkit plugin's capture and completion delays over
 * libnbd: one write waits both; concurrent delayed writes overlap, each in
 * its own worker thread; the latency histogram shows it.
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

static void test_delays(struct nbd_handle *h, const char *ctl)
{
	static struct page buf[8];
	memset(buf, 0x11, sizeof buf);
	double t0 = t_now_ms();
	int good = nbd_pwrite(h, buf, PAGE, 0, 0) == 0;
	double one = t_now_ms() - t0;
	ok(good && one >= 120.0,
	   "a write waits capture 40ms + completion 80ms (%.1f ms)", one);

	/* Eight writes in flight: each waits in its own worker thread. */
	int64_t cookies[8];
	t0 = t_now_ms();
	for (int i = 0; i < 8; i++)
		cookies[i] =
		    nbd_aio_pwrite(h, &buf[i], PAGE, (uint64_t)i * PAGE,
		                   NBD_NULL_COMPLETION, 0);
	while (nbd_aio_in_flight(h) > 0)
		if (nbd_poll(h, -1) == -1)
			break;
	double eight = t_now_ms() - t0;
	good = 1;
	for (int i = 0; i < 8; i++)
		good &= cookies[i] > 0 &&
		        nbd_aio_command_completed(h, (uint64_t)cookies[i]) == 1;
	ok(good && eight >= 120.0 && eight < 4 * 120.0,
	   "8 concurrent delayed writes overlap (%.1f ms, serial would be "
	   "960)",
	   eight);

	char *body = t_ctl_body(ctl, "counters");
	uint64_t p50 = t_counter(body, "write.p50_us");
	uint64_t maxin = t_counter(body, "write.inflight_max");
	ok(p50 >= 100000 && p50 < 1000000 && maxin >= 4,
	   "write latency p50 %" PRIu64 " us, inflight_max %" PRIu64, p50,
	   maxin);
	free(body);
}

int main(void)
{
	t_nbd_require();
	const char *ctl = t_tmp_path("ctl");
	struct nbd_handle *h = t_nbd_start(ctl, "delay.capture=40ms",
	                                   "delay.completion=80ms", NULL);
	if (ok(h != NULL, "nbdkit starts with capture and completion delays")) {
		test_delays(h, ctl);
		t_nbd_close(h);
	}
	done_testing();
}
