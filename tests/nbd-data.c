/* nbd-data.c - the nbdkit plugin's data path over libnbd: reads and writes
 * of every size and alignment against a model of the export, flush, trim,
 * zero, FUA, bounds checks on both sides, then the control socket's counters,
 * profile and reset. One server, started by nbd_connect_command with
 * --exit-with-parent (tests/helpers.c), so none outlives the test.
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

static uint8_t *model; /* what the export should contain */

static void pattern(void *buf, size_t len, uint64_t off, uint64_t salt)
{
	uint8_t *p = buf;
	for (size_t i = 0; i < len; i++) {
		uint64_t x = mix64((off + i) / 8 ^ salt);
		p[i] = (uint8_t)(x >> (8 * ((off + i) % 8)));
	}
}

/* Expected op counts and bytes, in the device's order of ops. */
enum { R, W, F, T, Z, NOPS };
static const char *const opname[NOPS] = {"read", "write", "flush", "trim",
                                         "zero"};
static uint64_t exp_count[NOPS], exp_bytes[NOPS], exp_unstamped;

static uint64_t whole_blocks(uint64_t len, uint64_t off)
{
	uint64_t first = (off + PAGE - 1) / PAGE * PAGE;
	uint64_t end = (off + len) / PAGE * PAGE;
	return end > first ? (end - first) / PAGE : 0;
}

static int do_write(struct nbd_handle *h, const void *buf, size_t len,
                    uint64_t off, uint32_t flags)
{
	if (nbd_pwrite(h, buf, len, off, flags) == -1) {
		diag("pwrite %zu at %" PRIu64 ": %s", len, off,
		     nbd_get_error());
		return -1;
	}
	memcpy(model + off, buf, len);
	exp_count[W]++, exp_bytes[W] += len;
	exp_unstamped += whole_blocks(len, off);
	return 0;
}

static int do_trim_zero(struct nbd_handle *h, int zero, uint64_t len,
                        uint64_t off, uint32_t flags)
{
	int r =
	    zero ? nbd_zero(h, len, off, flags) : nbd_trim(h, len, off, flags);
	if (r == -1) {
		diag("%s %" PRIu64 " at %" PRIu64 ": %s",
		     zero ? "zero" : "trim", len, off, nbd_get_error());
		return -1;
	}
	memset(model + off, 0, len);
	exp_count[zero ? Z : T]++, exp_bytes[zero ? Z : T] += len;
	return 0;
}

/* Reads [off, off+len) and compares it with the model. */
static int read_matches(struct nbd_handle *h, uint64_t len, uint64_t off)
{
	uint8_t *buf = malloc(len);
	int good = buf && nbd_pread(h, buf, len, off, 0) == 0;
	if (!good)
		diag("pread %" PRIu64 " at %" PRIu64 ": %s", len, off,
		     buf ? nbd_get_error() : "out of memory");
	exp_count[R]++;
	if (good) {
		exp_bytes[R] += len;
		for (uint64_t i = 0; i < len; i++) {
			if (buf[i] != model[off + i]) {
				diag("byte %" PRIu64 " is 0x%02x, expected "
				     "0x%02x",
				     off + i, buf[i], model[off + i]);
				good = 0;
				break;
			}
		}
	}
	free(buf);
	return good;
}

static void test_data_path(struct nbd_handle *h, const char *ctl)
{
	ok(nbd_get_size(h) == EXPORT_SIZE,
	   "size=64M overrides the profile's 256M (%" PRId64 ")",
	   nbd_get_size(h));
	ok(nbd_can_fua(h) == 1 && nbd_can_flush(h) == 1 &&
	       nbd_can_trim(h) == 1 && nbd_can_zero(h) == 1 &&
	       nbd_can_multi_conn(h) == 1 && nbd_can_fast_zero(h) == 1 &&
	       nbd_is_read_only(h) == 0,
	   "advertises write, flush, FUA, trim, zero, fast zero, multi-conn");
	int64_t bmin = nbd_get_block_size(h, LIBNBD_SIZE_MINIMUM);
	int64_t bpref = nbd_get_block_size(h, LIBNBD_SIZE_PREFERRED);
	int64_t bmax = nbd_get_block_size(h, LIBNBD_SIZE_MAXIMUM);
	ok(bmin == 1 && bpref == 4096 && bmax == 32 * MiB,
	   "block sizes: minimum 1, preferred 4096, maximum 32M (%" PRId64
	   "/%" PRId64 "/%" PRId64 ")",
	   bmin, bpref, bmax);

	/* Fill the whole export in 4 MiB writes, then read it all back. */
	const size_t chunk = 4 * MiB;
	uint8_t *buf = malloc(chunk);
	int good = buf != NULL;
	for (uint64_t off = 0; good && off < EXPORT_SIZE; off += chunk) {
		pattern(buf, chunk, off, 1);
		good = do_write(h, buf, chunk, off, 0) == 0;
	}
	ok(good, "write the whole export in 4 MiB requests");
	good = 1;
	for (uint64_t off = 0; off < EXPORT_SIZE; off += chunk)
		good &= read_matches(h, chunk, off);
	ok(good, "read the whole export back");

	/* Unaligned writes straddling block boundaries (read-modify-write). */
	pattern(buf, 10000, 0, 2);
	good = do_write(h, buf, 100, 8190, 0) == 0 &&
	       do_write(h, buf + 100, 9000, 5 * MiB + 1234, 0) == 0 &&
	       do_write(h, buf + 9100, 1, EXPORT_SIZE - 1, 0) == 0;
	ok(good && read_matches(h, 3 * PAGE, 4096) &&
	       read_matches(h, 4 * PAGE, 5 * MiB) &&
	       read_matches(h, 2 * PAGE, EXPORT_SIZE - 2 * PAGE),
	   "unaligned writes read back, neighbours intact");
	ok(read_matches(h, 777, 8000) && read_matches(h, 1, EXPORT_SIZE - 1),
	   "unaligned reads");

	ok(nbd_flush(h, 0) == 0, "flush");
	exp_count[F]++;

	/* Trim and zero: the range reads back as zeros, the rest survives. */
	good = do_trim_zero(h, 0, 256 * 1024, 1 * MiB, 0) == 0;
	ok(good && read_matches(h, 256 * 1024 + 2 * PAGE, 1 * MiB - PAGE) &&
	       t_all_zero(model + 1 * MiB, 256 * 1024),
	   "trimmed range reads back as zeros");
	good = do_trim_zero(h, 0, 5000, 3 * MiB + 100, 0) == 0;
	ok(good && read_matches(h, 4 * PAGE, 3 * MiB),
	   "unaligned trim zeroes exactly its range");
	good = do_trim_zero(h, 1, 128 * 1024, 7 * MiB, 0) == 0 &&
	       do_trim_zero(h, 1, 64 * 1024, 9 * MiB,
	                    LIBNBD_CMD_FLAG_NO_HOLE) == 0 &&
	       do_trim_zero(h, 1, 3333, 11 * MiB + 7, 0) == 0;
	ok(good && read_matches(h, 160 * 1024, 7 * MiB - 16 * 1024) &&
	       read_matches(h, 96 * 1024, 9 * MiB - 16 * 1024) &&
	       read_matches(h, 3 * PAGE, 11 * MiB),
	   "zero (with and without NO_HOLE, unaligned) reads back as zeros");

	/* FUA on write, trim and zero. */
	pattern(buf, 64 * 1024, 13 * MiB, 3);
	good =
	    do_write(h, buf, 64 * 1024, 13 * MiB, LIBNBD_CMD_FLAG_FUA) == 0 &&
	    do_trim_zero(h, 0, PAGE, 13 * MiB, LIBNBD_CMD_FLAG_FUA) == 0 &&
	    do_trim_zero(h, 1, PAGE, 13 * MiB + PAGE, LIBNBD_CMD_FLAG_FUA) == 0;
	ok(good && read_matches(h, 64 * 1024, 13 * MiB),
	   "FUA write, trim and zero");

	/* Out of range: libnbd refuses locally by default; with its checks
	 * off the server must refuse, and the connection must survive. */
	errno = 0;
	int r = nbd_pread(h, buf, 2 * PAGE, EXPORT_SIZE - PAGE, 0);
	ok(r == -1 && nbd_get_errno() == EINVAL,
	   "out-of-range read refused by libnbd's bounds check (%s)",
	   strerror(nbd_get_errno()));
	uint32_t strict = nbd_get_strict_mode(h);
	nbd_set_strict_mode(h, strict & ~(uint32_t)LIBNBD_STRICT_BOUNDS);
	r = nbd_pread(h, buf, 2 * PAGE, EXPORT_SIZE - PAGE, 0);
	int e = nbd_get_errno();
	ok(r == -1 && e == EINVAL, "server fails an out-of-range read: %s",
	   strerror(e));
	r = nbd_pwrite(h, buf, PAGE, EXPORT_SIZE, 0);
	e = nbd_get_errno();
	ok(r == -1 && (e == ENOSPC || e == EINVAL),
	   "server fails a write past the end: %s", strerror(e));
	r = nbd_zero(h, PAGE, EXPORT_SIZE - 100, 0);
	e = nbd_get_errno();
	ok(r == -1 && (e == ENOSPC || e == EINVAL),
	   "server fails a zero past the end: %s", strerror(e));
	r = nbd_trim(h, 2 * PAGE, UINT64_C(1) << 62, 0);
	e = nbd_get_errno();
	ok(r == -1 && e == EINVAL, "server fails a trim past the end: %s",
	   strerror(e));
	nbd_set_strict_mode(h, strict);
	ok(read_matches(h, PAGE, 0) &&
	       read_matches(h, PAGE, EXPORT_SIZE - PAGE),
	   "the connection still works after the refusals");

	/* A final full comparison. */
	good = 1;
	for (uint64_t off = 0; off < EXPORT_SIZE; off += chunk)
		good &= read_matches(h, chunk, off);
	ok(good, "whole export matches the model at the end");
	free(buf);

	t_check_counters(
	    ctl, "op counts and bytes", C("read.count", exp_count[R]),
	    C("read.bytes", exp_bytes[R]), C("write.count", exp_count[W]),
	    C("write.bytes", exp_bytes[W]), C("flush.count", exp_count[F]),
	    C("trim.count", exp_count[T]), C("trim.bytes", exp_bytes[T]),
	    C("zero.count", exp_count[Z]), C("zero.bytes", exp_bytes[Z]),
	    C("read.errors", 0), C("write.errors", 0), C("flush.errors", 0),
	    C("trim.errors", 0), C("zero.errors", 0), C("inflight", 0),
	    C("capture.unstamped", exp_unstamped), C("capture.clean", 0),
	    C("capture.torn", 0), C("capture.modified", 0), C("violations", 0),
	    C("checksum_errors", 0), C("seed", 42), C("size", EXPORT_SIZE),
	    NULL);
	for (int i = 0; i < NOPS; i++)
		diag("%s: %" PRIu64 " requests, %" PRIu64 " bytes", opname[i],
		     exp_count[i], exp_bytes[i]);

	char *prof = t_ctl_body(ctl, "profile");
	ok(prof && strstr(prof, "size = 64M") && strstr(prof, "seed = 42") &&
	       strstr(prof, "require = yes") &&
	       strstr(prof, "from nbd-test.conf"),
	   "control 'profile': the file, then size= and seed=");
	free(prof);

	char *body = t_ctl_body(ctl, "reset");
	free(body);
	t_check_counters(ctl, "reset zeroes them", C("write.count", 0),
	                 C("read.count", 0), C("capture.unstamped", 0), NULL);
}

int main(void)
{
	t_nbd_require();
	const char *conf = t_tmp_path("nbd-test.conf");
	const char *ctl = t_tmp_path("ctl");
	char a_profile[300];
	snprintf(a_profile, sizeof a_profile, "profile=%s", conf);
	if (t_write_file(conf, "[device]\nsize = 256M\nchecksum = crc32c\n"
	                       "[stable-writes]\nrequire = yes\n"
	                       "on-violation = log\n"))
		bail_out("cannot write %s", conf);
	model = calloc(1, EXPORT_SIZE);
	if (!model)
		bail_out("out of memory");

	/* The overrides come before the profile, which must not matter. */
	struct nbd_handle *h = t_nbd_start(ctl, "seed=42", a_profile, NULL);
	if (ok(h != NULL, "nbdkit starts with the plugin")) {
		test_data_path(h, ctl);
		t_nbd_close(h);
	}
	free(model);
	done_testing();
}
