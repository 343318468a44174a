/* nbd-plugin.c - the nbdkit plugin (build/nbdkit-swapemu-plugin.so) served
 * by a real nbdkit and driven by libnbd: data path, FUA, bounds, the
 * control socket's counters and events, capture classification with a
 * generation table, the stable-writes policy and the delays.
 *
 * Each server is "nbdkit -s --exit-with-parent PLUGIN ..." started by
 * nbd_connect_command, with control= and gentab= in a private temporary
 * directory, so the test reaches the control socket by path and no server
 * outlives it. TAP on stdout; exit 0 when every test passed, 1 otherwise,
 * 77 (after "1..0 # SKIP") when nbdkit or the plugin is missing.
 *
 * Environment: SWAPEMU_NBDKIT (default "nbdkit"), SWAPEMU_NBD_PLUGIN
 * (default: nbdkit-swapemu-plugin.so in the directory above this
 * program's, i.e. build/ for build/tests/nbd-plugin.t).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libnbd.h>

#include "ctlclient.h"
#include "stamp.h"

#define MiB (1024u * 1024u)
#define EXPORT_SIZE (64u * MiB)
#define PAGE STAMP_PAGE_SIZE
#define RUN_ID 0x5eed0001beefcafeull

/* ---- TAP ---------------------------------------------------------------- */

static int tests_run, tests_failed;

static int ok(int cond, const char *fmt, ...)
{
	va_list ap;
	tests_run++;
	if (!cond)
		tests_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tests_run);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	return cond;
}

static void diag(const char *fmt, ...)
{
	va_list ap;
	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* ---- temporary directory, removed on every exit path ----------------------
 */

#define MAX_TMP 16
static char tmpdir[64];
static char tmpfiles[MAX_TMP][128];
static int ntmp;

static const char *tmp_path(const char *name)
{
	if (ntmp == MAX_TMP) {
		fprintf(stderr, "nbd-plugin: too many temporary files\n");
		exit(1);
	}
	snprintf(tmpfiles[ntmp], sizeof tmpfiles[ntmp], "%s/%s", tmpdir, name);
	return tmpfiles[ntmp++];
}

/* Async-signal-safe: unlink and rmdir only. */
static void remove_tmp(void)
{
	for (int i = 0; i < ntmp; i++)
		unlink(tmpfiles[i]);
	if (tmpdir[0])
		rmdir(tmpdir);
}

/* The server being talked to: a watchdog kills it if it hangs (a server
 * stuck on its way out ignores the SIGTERM --exit-with-parent sends). */
static struct nbd_handle *volatile current;
static volatile sig_atomic_t timed_out;

static void kill_current(void)
{
	if (current)
		nbd_kill_subprocess(current, SIGKILL);
}

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
	kill_current();
}

static void on_signal(int sig)
{
	kill_current();
	remove_tmp();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* ---- servers ---------------------------------------------------------- */

static const char *nbdkit_bin;
static char plugin[PATH_MAX];

/* Is prog runnable (as a path, or somewhere in PATH)? */
static int have_program(const char *prog)
{
	if (strchr(prog, '/'))
		return access(prog, X_OK) == 0;
	const char *path = getenv("PATH");
	char dir[PATH_MAX];
	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		size_t n = strcspn(p, ":");
		snprintf(dir, sizeof dir, "%.*s/%s", (int)n, p, prog);
		if (n && access(dir, X_OK) == 0)
			return 1;
		p += n + (p[n] == ':');
	}
	return 0;
}

/* A sanitized plugin can only be loaded with the ASan runtime first:
 * preload the one this (sanitized) test runs with. */
static void preload_asan(void)
{
#if defined(__SANITIZE_ADDRESS__)
	FILE *f = fopen("/proc/self/maps", "r");
	char line[1024];
	while (f && fgets(line, sizeof line, f)) {
		char *lib = strchr(line, '/');
		if (lib && strstr(lib, "/libasan.so")) {
			lib[strcspn(lib, "\n")] = 0;
			setenv("LD_PRELOAD", lib, 1);
			/* nbdkit's own exit-time leaks are not ours. */
			setenv("ASAN_OPTIONS", "detect_leaks=0", 0);
			break;
		}
	}
	if (f)
		fclose(f);
#endif
}

/* Starts nbdkit on the plugin with size=64M, control=ctl and the extra
 * parameters (NULL-terminated), and connects to it. */
static struct nbd_handle *start_server(const char *ctl, ...)
{
	char *argv[32];
	int n = 0;
	char ctlarg[256];
	argv[n++] = (char *)nbdkit_bin;
	argv[n++] = "-s";
	argv[n++] = "--exit-with-parent";
	argv[n++] = plugin;
	argv[n++] = "size=64M";
	snprintf(ctlarg, sizeof ctlarg, "control=%s", ctl);
	argv[n++] = ctlarg;
	va_list ap;
	va_start(ap, ctl);
	for (char *a; (a = va_arg(ap, char *)) && n < 31;)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;

	struct nbd_handle *h = nbd_create();
	if (!h) {
		diag("nbd_create: %s", nbd_get_error());
		return NULL;
	}
	if (nbd_connect_command(h, argv) == -1) {
		diag("cannot start nbdkit: %s", nbd_get_error());
		nbd_close(h);
		return NULL;
	}
	timed_out = 0;
	current = h;
	alarm(120); /* for everything done with this server */
	return h;
}

/* Disconnects and waits for nbdkit to exit: it must, within 20 s. */
static void close_server(struct nbd_handle *h)
{
	alarm(20);
	nbd_close(h);
	alarm(0);
	current = NULL;
	ok(!timed_out, "nbdkit exited when the client disconnected");
}

/* ---- control socket ----------------------------------------------------- */

static char *ctl_body(const char *sock, const char *cmd)
{
	char err[512], *body = NULL;
	if (ctl_request(sock, cmd, &body, NULL, err, sizeof err)) {
		diag("control '%s': %s", cmd, err);
		return NULL;
	}
	return body;
}

static uint64_t counter(const char *body, const char *key)
{
	uint64_t v;
	if (!body || ctl_counter(body, key, &v))
		return UINT64_MAX;
	return v;
}

/* Checks "key value" for each (key, expected) pair, one TAP line. */
static void check_counters(const char *sock, const char *what, ...)
{
	char *body = ctl_body(sock, "counters");
	int good = body != NULL;
	va_list ap;
	va_start(ap, what);
	for (const char *key; (key = va_arg(ap, const char *));) {
		uint64_t want = va_arg(ap, uint64_t);
		uint64_t got = counter(body, key);
		if (got != want) {
			diag("%s: %s is %" PRIu64 ", expected %" PRIu64, what,
			     key, got, want);
			good = 0;
		}
	}
	va_end(ap);
	ok(good, "counters: %s", what);
	free(body);
}

#define C(key, val) key, (uint64_t)(val)

/* ---- data helpers ------------------------------------------------------- */

static uint8_t *model; /* what the export should contain */

static void pattern(void *buf, size_t len, uint64_t off, uint64_t salt)
{
	uint8_t *p = buf;
	for (size_t i = 0; i < len; i++) {
		uint64_t x = stamp_mix((off + i) / 8 ^ salt);
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

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- the generation table ------------------------------------------------ */

static struct gentab *map_gentab(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		diag("%s: %s", path, strerror(errno));
		return NULL;
	}
	struct gentab *t =
	    mmap(NULL, GENTAB_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (t == MAP_FAILED) {
		diag("mmap %s: %s", path, strerror(errno));
		return NULL;
	}
	return t;
}

/* ---- part 1: the data path and the counters --------------------------------
 */

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
	       all_zero(model + 1 * MiB, 256 * 1024),
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

	check_counters(
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

	char *prof = ctl_body(ctl, "profile");
	ok(prof && strstr(prof, "size = 64M") && strstr(prof, "seed = 42") &&
	       strstr(prof, "require = yes") &&
	       strstr(prof, "from nbd-test.conf"),
	   "control 'profile': the file, then size= and seed=");
	free(prof);

	char *body = ctl_body(ctl, "reset");
	free(body);
	check_counters(ctl, "reset zeroes them", C("write.count", 0),
	               C("read.count", 0), C("capture.unstamped", 0), NULL);
}

/* ---- part 2: classification ------------------------------------------------
 */

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

	check_counters(ctl, "classification", C("capture.clean", 12),
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
	char *ev = ctl_body(ctl, "events");
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
	check_counters(ctl, "re-published page is clean",
	               C("capture.clean", 13), C("capture.modified", 1), NULL);
	(void)good;
}

/* ---- part 3: on-violation=eio
 * ------------------------------------------------ */

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
	       all_zero(back, 2 * PAGE),
	   "eio: a request with one torn page is refused whole");

	check_counters(ctl, "eio", C("violations", 3), C("capture.torn", 2),
	               C("capture.modified", 1), C("capture.clean", 2),
	               C("write.count", 4), C("write.errors", 3),
	               C("write.bytes", PAGE), NULL);

	char *ev = ctl_body(ctl, "events");
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

/* ---- part 4: delays
 * ---------------------------------------------------------- */

static void test_delays(struct nbd_handle *h, const char *ctl)
{
	static struct page buf[8];
	memset(buf, 0x11, sizeof buf);
	double t0 = now_ms();
	int good = nbd_pwrite(h, buf, PAGE, 0, 0) == 0;
	double one = now_ms() - t0;
	ok(good && one >= 120.0,
	   "a write waits capture 40ms + completion 80ms (%.1f ms)", one);

	/* Eight writes in flight: each waits in its own worker thread. */
	int64_t cookies[8];
	t0 = now_ms();
	for (int i = 0; i < 8; i++)
		cookies[i] =
		    nbd_aio_pwrite(h, &buf[i], PAGE, (uint64_t)i * PAGE,
		                   NBD_NULL_COMPLETION, 0);
	while (nbd_aio_in_flight(h) > 0)
		if (nbd_poll(h, -1) == -1)
			break;
	double eight = now_ms() - t0;
	good = 1;
	for (int i = 0; i < 8; i++)
		good &= cookies[i] > 0 &&
		        nbd_aio_command_completed(h, (uint64_t)cookies[i]) == 1;
	ok(good && eight >= 120.0 && eight < 4 * 120.0,
	   "8 concurrent delayed writes overlap (%.1f ms, serial would be "
	   "960)",
	   eight);

	char *body = ctl_body(ctl, "counters");
	uint64_t p50 = counter(body, "write.p50_us");
	uint64_t maxin = counter(body, "write.inflight_max");
	ok(p50 >= 100000 && p50 < 1000000 && maxin >= 4,
	   "write latency p50 %" PRIu64 " us, inflight_max %" PRIu64, p50,
	   maxin);
	free(body);
}

/* ---- part 5: fault-injection rules
 * -------------------------------------------- */

static char *stats(const char *ctl)
{
	return ctl_body(ctl, "stats");
}

static void test_rules(struct nbd_handle *h, const char *ctl,
                       const char *events)
{
	char *rules = ctl_body(ctl, "rules");
	ok(rules && strstr(rules, "hold ") && strstr(rules, "slow ") &&
	       strstr(rules, "nospace "),
	   "rule.NAME.KEY parameters became rules");
	free(rules);

	static struct page buf[2];
	memset(buf, 0x3c, sizeof buf);
	double t0 = now_ms();
	int good = nbd_pread(h, buf, PAGE, 0, 0) == 0;
	double slow = now_ms() - t0;
	ok(good && slow >= 60.0, "a delay rule holds a read's reply (%.1f ms)",
	   slow);

	int r = nbd_pwrite(h, buf, PAGE, 1 * MiB, 0);
	int e = nbd_get_errno();
	ok(r == -1 && e == ENOSPC,
	   "an error rule fails a write with ENOSPC (%s)",
	   r ? strerror(e) : "succeeded");
	uint8_t back[PAGE];
	ok(nbd_pread(h, back, PAGE, 1 * MiB, 0) == 0 && all_zero(back, PAGE),
	   "the failed write stored nothing");

	/* A stalled write holds its worker thread until "release"; the
	 * others go on. */
	int64_t cookie =
	    nbd_aio_pwrite(h, buf, PAGE, 2 * MiB, NBD_NULL_COMPLETION, 0);
	t0 = now_ms();
	while (cookie > 0 && now_ms() - t0 < 300.0)
		nbd_poll(h, 50);
	int pending =
	    cookie > 0 && nbd_aio_command_completed(h, (uint64_t)cookie) == 0;
	char *st = stats(ctl);
	ok(pending && st && strstr(st, "\"stalled\":1"),
	   "a stall rule holds the write (stats: stalled 1)");
	free(st);
	ok(nbd_pread(h, back, PAGE, 8 * MiB, 0) == 0,
	   "other requests are served meanwhile");
	free(ctl_body(ctl, "release"));
	t0 = now_ms();
	int done = 0;
	while (cookie > 0 && !done && now_ms() - t0 < 5000.0) {
		nbd_poll(h, 100);
		done = nbd_aio_command_completed(h, (uint64_t)cookie);
	}
	ok(done == 1 && nbd_pread(h, back, PAGE, 2 * MiB, 0) == 0 &&
	       !memcmp(back, buf, PAGE),
	   "after 'release' the write completes and is stored (%.1f ms)",
	   now_ms() - t0);

	/* A stalled request must not keep nbdkit from exiting. */
	cookie = nbd_aio_pwrite(h, buf, PAGE, 2 * MiB + PAGE,
	                        NBD_NULL_COMPLETION, 0);
	t0 = now_ms();
	while (cookie > 0 && now_ms() - t0 < 100.0)
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
	t0 = now_ms();
	close_server(h);
	diag("nbdkit exited %.0f ms after the disconnect, with a request "
	     "still stalled",
	     now_ms() - t0);
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

/* ---- main ---------------------------------------------------------------- */

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f)) {
		diag("%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static void find_plugin(void)
{
	const char *env = getenv("SWAPEMU_NBD_PLUGIN");
	if (env && *env) {
		snprintf(plugin, sizeof plugin, "%s", env);
		return;
	}
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n < 0)
		n = 0;
	self[n] = 0;
	/* build/tests/nbd-plugin.t -> build/nbdkit-swapemu-plugin.so */
	char *dir = dirname(dirname(self));
	snprintf(plugin, sizeof plugin, "%s/nbdkit-swapemu-plugin.so", dir);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	nbdkit_bin = getenv("SWAPEMU_NBDKIT");
	if (!nbdkit_bin || !*nbdkit_bin)
		nbdkit_bin = "nbdkit";
	find_plugin();
	if (!have_program(nbdkit_bin)) {
		printf("1..0 # SKIP %s not found (apt-get install nbdkit)\n",
		       nbdkit_bin);
		return 77;
	}
	if (access(plugin, R_OK)) {
		printf("1..0 # SKIP %s not found (make "
		       "build/nbdkit-swapemu-plugin.so)\n",
		       plugin);
		return 77;
	}
	preload_asan();

	snprintf(tmpdir, sizeof tmpdir, "/tmp/swapemu-nbd-test.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		fprintf(stderr,
		        "nbd-plugin: cannot create a temporary "
		        "directory: %s\n",
		        strerror(errno));
		return 1;
	}
	atexit(remove_tmp);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	/* A hung server must not hang the test run (see on_alarm). */
	signal(SIGALRM, on_alarm);

	const char *conf = tmp_path("nbd-test.conf");
	const char *ctl1 = tmp_path("ctl1"), *ctl2 = tmp_path("ctl2"),
	           *ctl3 = tmp_path("ctl3");
	const char *gen1 = tmp_path("gentab1"), *gen2 = tmp_path("gentab2");
	const char *events = tmp_path("events.jsonl");
	char a_profile[256], a_gentab1[256], a_gentab2[256], a_events[256];
	snprintf(a_profile, sizeof a_profile, "profile=%s", conf);
	snprintf(a_gentab1, sizeof a_gentab1, "gentab=%s", gen1);
	snprintf(a_gentab2, sizeof a_gentab2, "gentab=%s", gen2);
	snprintf(a_events, sizeof a_events, "events=%s", events);
	if (write_file(conf, "[device]\nsize = 256M\nchecksum = crc32c\n"
	                     "[stable-writes]\nrequire = yes\n"
	                     "on-violation = log\n"))
		return 1;
	model = calloc(1, EXPORT_SIZE);
	if (!model) {
		fprintf(stderr, "nbd-plugin: out of memory\n");
		return 1;
	}

	/* Server 1: profile + overrides (given before the profile, which
	 * must not matter), data path, counters, classification. */
	struct nbd_handle *h =
	    start_server(ctl1, "seed=42", a_profile, a_gentab1, a_events, NULL);
	if (ok(h != NULL, "nbdkit starts with the plugin")) {
		test_data_path(h, ctl1);
		struct gentab *tab = map_gentab(gen1);
		if (ok(tab && tab->magic == GENTAB_MAGIC,
		       "the plugin created the generation table")) {
			test_classification(h, ctl1, tab);
			munmap(tab, GENTAB_SIZE);
		}
		close_server(h);
		/* The event log file got the same violations. */
		FILE *f = fopen(events, "r");
		char line[1024];
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

	/* Server 2: stable writes required, violations refused. */
	h = start_server(ctl2, "stable-writes.require=yes",
	                 "stable-writes.on-violation=eio", a_gentab2, NULL);
	if (ok(h != NULL, "nbdkit starts with on-violation=eio")) {
		struct gentab *tab = map_gentab(gen2);
		if (tab) {
			test_eio(h, ctl2, tab);
			munmap(tab, GENTAB_SIZE);
		}
		close_server(h);
	}

	/* Server 3: delays in the request's own thread. */
	h = start_server(ctl3, "delay.capture=40ms", "delay.completion=80ms",
	                 NULL);
	if (ok(h != NULL, "nbdkit starts with capture and completion delays")) {
		test_delays(h, ctl3);
		close_server(h);
	}

	/* Server 4: fault-injection rules from the command line. */
	const char *ctl4 = tmp_path("ctl4"), *events4 = tmp_path("events4");
	char a_events4[256];
	snprintf(a_events4, sizeof a_events4, "events=%s", events4);
	h = start_server(
	    ctl4, a_events4, "rule.slow.op=read", "rule.slow.range=0-4096",
	    "rule.slow.action=delay:60ms", "rule.nospace.op=write",
	    "rule.nospace.range=1M-2M", "rule.nospace.action=error:ENOSPC",
	    "rule.hold.op=write", "rule.hold.range=2M-3M",
	    "rule.hold.action=stall", NULL);
	if (ok(h != NULL, "nbdkit starts with fault-injection rules"))
		test_rules(h, ctl4, events4);

	free(model);
	printf("1..%d\n", tests_run);
	return tests_failed ? 1 : 0;
}
