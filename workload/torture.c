/* torture.c - swapemu-torture: swaps stamped pages out and rewrites them
 * slowly while they may still be under writeback, then checks that every
 * page comes back with what was last written. See workload/USAGE.md.
 *
 * Only libc and libswapemu.a: the program may be linked statically for a
 * VM guest.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cgroup.h"
#include "pagemap.h"
#include "stamp.h"
#include "target.h"
#include "torture.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define PS STAMP_PAGE_SIZE
#define IDLE_TIMEOUT_NS (30ull * 1000000000ull)

volatile sig_atomic_t torture_stop;

/* A swap-in that fails (a device returning EIO) raises SIGBUS at the
 * faulting access; the accesses that may fault such a page in are
 * guarded, and the page is then written off as unreadable. */
static sigjmp_buf bus_jb;
static volatile sig_atomic_t bus_armed;

static void on_sigbus(int sig)
{
	if (bus_armed) {
		bus_armed = 0;
		siglongjmp(bus_jb, 1);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Copies a page that may have to be swapped in; -1 on SIGBUS. */
static int guarded_copy(void *dst, const void *src)
{
	if (sigsetjmp(bus_jb, 1))
		return -1;
	bus_armed = 1;
	memcpy(dst, src, STAMP_PAGE_SIZE);
	__asm__ __volatile__("" ::: "memory");
	bus_armed = 0;
	return 0;
}

/* Stores v into *w, the first access to a page that may have to be
 * swapped in; -1 on SIGBUS. */
/* Stores v at w and returns the old value through old. An exchange is a
 * write access, so the fault is a write fault (as a plain store's), yet the
 * old head is seen too and checked like every other word. */
static int guarded_xchg(volatile uint64_t *w, uint64_t v, uint64_t *old)
{
	if (sigsetjmp(bus_jb, 1))
		return -1;
	bus_armed = 1;
	*old = __atomic_exchange_n(w, v, __ATOMIC_SEQ_CST);
	bus_armed = 0;
	return 0;
}

/* Everything cleanup() may have to undo. */
static struct {
	struct torture_opts o;
	struct torture_result r;
	struct target tgt;
	struct target *t; /* &tgt when a device is present */
	struct memcg cg;
	uint8_t *pages;
	uint64_t *seq;
	uint8_t *dead; /* unreadable: a swap-in failed (SIGBUS) */
	bool show_progress, progress_shown;
	uint64_t t_start, t_progress;
	/* per batch */
	uint64_t *pm, *pfn;
	uint8_t *swapped, *bad;
	uint64_t *key;
} S;

static void cleanup(void)
{
	if (S.pages) {
		munmap(S.pages, S.o.pages * PS);
		S.pages = NULL;
	}
	memcg_leave(&S.cg);
	target_unpublish(S.t);
	pagemap_close();
}

static void msg(const char *prefix, const char *fmt, va_list ap)
{
	if (S.progress_shown) {
		fputc('\n', stderr);
		S.progress_shown = false;
	}
	fprintf(stderr, "swapemu-torture: %s", prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

/* Usage or setup error: exit 2. */
static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	msg("", fmt, ap);
	va_end(ap);
	exit(2);
}

/* Internal failure: exit 1. */
static void __attribute__((noreturn, format(printf, 1, 2)))
fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	msg("", fmt, ap);
	va_end(ap);
	exit(1);
}

static void __attribute__((format(printf, 1, 2))) warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	msg("warning: ", fmt, ap);
	va_end(ap);
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: swapemu-torture [--target NAME] [--pages N] "
	        "[--seconds S] [--swapouts K]\n"
	        "                       [--modify-ms M] [--batch B] "
	        "[--seed X] [--json] [--quiet]\n"
	        "                       [--gentab PATH|ivshmem] "
	        "[--control SOCKET|shm]\n"
	        "\n"
	        "Swaps stamped pages out with MADV_PAGEOUT and rewrites them "
	        "slowly right\n"
	        "away, while they may still be under writeback; then swaps "
	        "everything out,\n"
	        "drops the swap cache and checks every page. A swapemu "
	        "target's device\n"
	        "classifies each captured page as clean, torn or modified.\n"
	        "\n"
	        "  --target NAME   the target (default: the only one "
	        "attached, or none)\n"
	        "  --pages N       stamped pages (default 512)\n"
	        "  --seconds S     stop after S seconds, 0 = no limit "
	        "(default 10)\n"
	        "  --swapouts K    stop after K swap-outs, 0 = no limit "
	        "(default 0)\n"
	        "  --modify-ms M   each rewrite takes M ms (default 10)\n"
	        "  --batch B       pages per MADV_PAGEOUT call (default 32)\n"
	        "  --seed X        seed of the run id (default: from time "
	        "and pid)\n"
	        "  --gentab PATH   publish generations in this table "
	        "instead of the target's:\n"
	        "                  a device's gentab file, a PCI BAR's "
	        "resourceN file, or\n"
	        "                  'ivshmem' for the guest's QEMU ivshmem "
	        "device (swapemu vm)\n"
	        "  --control C     read the device's counters from socket C, "
	        "or 'shm' for the\n"
	        "                  mailbox after the table (swapemu vm); "
	        "without it, a run\n"
	        "                  with --gentab only publishes "
	        "generations\n"
	        "                  (with --gentab or --control, --target "
	        "NAME is only a label)\n"
	        "  --json          one JSON object on stdout instead of a "
	        "table\n"
	        "  --quiet         no progress line on stderr\n"
	        "  --help          this text\n"
	        "\n"
	        "Needs root. Exit status: 0 when the run completed (whatever "
	        "it found),\n"
	        "1 on an internal failure, 2 on a usage or setup error, "
	        "128+N when\n"
	        "stopped by signal N (the report is still printed).\n");
}

static uint64_t parse_num(const char *opt, const char *v, uint64_t min,
                          uint64_t max)
{
	char *end;
	errno = 0;
	if (!*v || *v == '-')
		die("%s: '%s' is not a number (see --help)", opt, v);
	unsigned long long x = strtoull(v, &end, 0);
	if (errno || *end)
		die("%s: '%s' is not a number (see --help)", opt, v);
	if (x < min || x > max)
		die("%s: %llu is out of range (%llu to %llu)", opt, x,
		    (unsigned long long)min, (unsigned long long)max);
	return x;
}

static void parse_args(int argc, char **argv, const char **target,
                       const char **gentab, const char **control,
                       bool *have_seed)
{
	enum {
		O_TARGET = 256,
		O_PAGES,
		O_SECONDS,
		O_SWAPOUTS,
		O_MODIFY,
		O_GENTAB,
		O_CONTROL
	};
	static const struct option lo[] = {
	    {"target", required_argument, NULL, O_TARGET},
	    {"pages", required_argument, NULL, O_PAGES},
	    {"seconds", required_argument, NULL, O_SECONDS},
	    {"swapouts", required_argument, NULL, O_SWAPOUTS},
	    {"modify-ms", required_argument, NULL, O_MODIFY},
	    {"batch", required_argument, NULL, 'b'},
	    {"seed", required_argument, NULL, 's'},
	    {"gentab", required_argument, NULL, O_GENTAB},
	    {"control", required_argument, NULL, O_CONTROL},
	    {"json", no_argument, NULL, 'j'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {0}};
	struct torture_opts *o = &S.o;
	o->pages = 512;
	o->seconds = 10;
	o->modify_ms = 10;
	o->batch = 32;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "+:hqj", lo, NULL)) != -1) {
		switch (c) {
		case O_TARGET:
			*target = optarg;
			break;
		case O_GENTAB:
			*gentab = optarg;
			break;
		case O_CONTROL:
			*control = optarg;
			break;
		case O_PAGES:
			o->pages =
			    parse_num("--pages", optarg, 1, GENTAB_CAPACITY);
			break;
		case O_SECONDS:
			o->seconds = parse_num("--seconds", optarg, 0,
			                       100ull * 365 * 86400);
			break;
		case O_SWAPOUTS:
			o->swapouts =
			    parse_num("--swapouts", optarg, 0, UINT64_MAX);
			break;
		case O_MODIFY:
			o->modify_ms =
			    parse_num("--modify-ms", optarg, 0, 3600000);
			break;
		case 'b':
			o->batch =
			    parse_num("--batch", optarg, 1, GENTAB_CAPACITY);
			break;
		case 's':
			o->seed = parse_num("--seed", optarg, 0, UINT64_MAX);
			*have_seed = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case ':':
			die("%s needs a value (see --help)", argv[optind - 1]);
		default:
			if (optopt)
				die("unknown option '-%c' (see --help)",
				    optopt);
			die("unknown option '%s' (see --help)",
			    argv[optind - 1]);
		}
	}
	if (optind < argc)
		die("unexpected argument '%s' (see --help)", argv[optind]);
	if (o->batch > o->pages)
		o->batch = o->pages;
}

static void on_signal(int sig)
{
	torture_stop = sig;
}

static uint64_t vmstat_writeback;

static void read_vmstat(uint64_t *pswpin, uint64_t *pswpout)
{
	*pswpin = *pswpout = 0;
	vmstat_writeback = 0;
	FILE *f = fopen("/proc/vmstat", "re");
	if (!f)
		return;
	char k[64];
	unsigned long long v;
	while (fscanf(f, "%63s %llu", k, &v) == 2) {
		if (!strcmp(k, "pswpin"))
			*pswpin = v;
		else if (!strcmp(k, "pswpout"))
			*pswpout = v;
		else if (!strcmp(k, "nr_writeback"))
			vmstat_writeback = v;
	}
	fclose(f);
}

static bool any_swap_active(void)
{
	FILE *f = fopen("/proc/swaps", "re");
	if (!f)
		return true; /* cannot tell */
	char line[512];
	int n = 0;
	while (fgets(line, sizeof line, f))
		n++;
	fclose(f);
	return n > 1;
}

static bool zswap_enabled(void)
{
	FILE *f = fopen("/sys/module/zswap/parameters/enabled", "re");
	if (!f)
		return false;
	int c = fgetc(f);
	fclose(f);
	return c == 'Y' || c == 'y' || c == '1';
}

static inline uint8_t *page_at(uint64_t i)
{
	return S.pages + i * PS;
}

static void record(uint64_t page, unsigned word, enum damage_kind kind)
{
	struct torture_result *r = &S.r;
	if (kind == DAMAGE_LOST)
		r->lost++;
	else
		r->corrupt++;
	r->damaged_total++;
	if (r->ndamaged < TORTURE_MAX_DAMAGED)
		r->damaged[r->ndamaged++] =
		    (struct damage){.page = page, .word = word, .kind = kind};
}

/* The first word of w that differs from the stamp (run, index, seq), or
 * -1 if the page is exactly that stamp. */
static int first_bad_word(const uint64_t *w, uint64_t index, uint64_t seq)
{
	if (w[STAMP_W_MAGIC] != STAMP_MAGIC)
		return STAMP_W_MAGIC;
	if (w[STAMP_W_RUN] != S.r.run)
		return STAMP_W_RUN;
	if (w[STAMP_W_INDEX] != index)
		return STAMP_W_INDEX;
	if (w[STAMP_W_HEAD] != seq)
		return STAMP_W_HEAD;
	uint64_t key = stamp_body_key(S.r.run, index, seq);
	for (unsigned k = STAMP_W_BODY; k < STAMP_W_TAIL; k++)
		if (w[k] != stamp_body_at(key, k))
			return (int)k;
	if (w[STAMP_W_TAIL] != seq)
		return STAMP_W_TAIL;
	return -1;
}

static void unreadable(uint64_t i)
{
	S.dead[i] = 1;
	S.r.unreadable++;
	record(i, 0, DAMAGE_CORRUPT);
}

static void progress(bool force)
{
	if (!S.show_progress)
		return;
	uint64_t now = now_ns();
	if (!force && now - S.t_progress < 1000000000ull)
		return;
	S.t_progress = now;
	fprintf(stderr,
	        "\rswapemu-torture: %6.1fs  swapouts %-10" PRIu64
	        "  copied %-10" PRIu64,
	        (double)(now - S.t_start) / 1e9, S.r.swapouts, S.r.copied);
	fflush(stderr);
	S.progress_shown = true;
}

/* Steps a-c of a batch: pages [start, start+n) are made present, their
 * generations published, and MADV_PAGEOUT asked to swap them out.
 * Afterwards S.swapped[j] tells which were swapped out, S.pfn[j] the PFN
 * each had before. Returns the number swapped out. */
static unsigned page_out(uint64_t start, unsigned n)
{
	uint8_t *addr = page_at(start);
	if (pagemap_read(addr, n, S.pm))
		fail("cannot read /proc/self/pagemap: %s", strerror(errno));
	for (unsigned j = 0; j < n; j++) {
		if (!pm_present(S.pm[j]) && !S.dead[start + j]) {
			/* Reclaimed behind our back: bring it back with a
			 * read, so that what follows starts from a page in
			 * memory. */
			uint64_t tmp[STAMP_WORDS];
			if (guarded_copy(tmp, page_at(start + j)))
				unreadable(start + j);
			else if (pagemap_read(page_at(start + j), 1, &S.pm[j]))
				fail("cannot read /proc/self/pagemap: %s",
				     strerror(errno));
		}
		S.pfn[j] = S.dead[start + j] ? 0 : pm_pfn(S.pm[j]);
		if (pm_present(S.pm[j]) && !S.pfn[j])
			die("/proc/self/pagemap shows no page frame numbers "
			    "(CAP_SYS_ADMIN is needed)");
	}

	for (unsigned j = 0; j < n; j++)
		target_set_gen(S.t, start + j, S.seq[start + j]);
	if (madvise(addr, (size_t)n * PS, MADV_PAGEOUT)) {
		if (errno == EINVAL)
			die("madvise(MADV_PAGEOUT) failed with EINVAL: this "
			    "kernel lacks MADV_PAGEOUT (Linux 5.4 or later "
			    "is needed)");
		fail("madvise(MADV_PAGEOUT): %s", strerror(errno));
	}

	if (pagemap_read(addr, n, S.pm))
		fail("cannot read /proc/self/pagemap: %s", strerror(errno));
	unsigned swapped = 0;
	for (unsigned j = 0; j < n; j++) {
		S.swapped[j] = S.pfn[j] && pm_swapped(S.pm[j]);
		if (S.swapped[j]) {
			S.r.swapouts++;
			swapped++;
		} else if (!S.dead[start + j]) {
			S.r.not_swapped++;
		}
	}
	return swapped;
}

static bool under_writeback(uint64_t pfn)
{
	uint64_t f;
	if (kpageflags_read(pfn, &f))
		fail("cannot read /proc/kpageflags: %s", strerror(errno));
	return (f >> KPF_WRITEBACK_BIT) & 1;
}

/* The head step of the rewrite for page i (slot j): the write to the head
 * word is the first access after the swap-out, so it is the write fault
 * that decides whether the kernel copies the page.
 *
 * The page was faulted under writeback if its folio's writeback flag was
 * set just before the fault and, unless the kernel copied the page, is
 * still set just after it. Set before, clear after and not copied: the
 * writeback ended around the fault and nobody can tell which came first
 * (counted as a writeback race, neither under writeback nor not). */
static void rewrite_head(uint64_t i, unsigned j)
{
	volatile uint64_t *w = (volatile uint64_t *)page_at(i);
	uint64_t seq = S.seq[i];
	S.bad[j] = 0;
	bool wb_before = under_writeback(S.pfn[j]);
	uint64_t old_head;
	if (guarded_xchg(&w[STAMP_W_HEAD], seq + 1, &old_head)) {
		unreadable(i);
		S.swapped[j] = 0; /* no more rewriting */
		return;
	}

	uint64_t e;
	if (pagemap_read((const void *)w, 1, &e))
		fail("cannot read /proc/self/pagemap: %s", strerror(errno));
	bool copied = pm_pfn(e) != S.pfn[j];
	S.r.copied += copied;
	if (wb_before) {
		if (copied) {
			S.r.under_writeback++;
			S.r.copied_under_writeback++;
		} else if (under_writeback(S.pfn[j])) {
			S.r.under_writeback++;
		} else {
			S.r.writeback_race++;
		}
	}

	/* The words the head write did not touch must be as left. */
	int bad = -1;
	if (w[STAMP_W_MAGIC] != STAMP_MAGIC)
		bad = STAMP_W_MAGIC;
	else if (w[STAMP_W_RUN] != S.r.run)
		bad = STAMP_W_RUN;
	else if (w[STAMP_W_INDEX] != i)
		bad = STAMP_W_INDEX;
	else if (old_head != seq)
		bad = STAMP_W_HEAD;
	else if (w[STAMP_W_TAIL] != seq)
		bad = STAMP_W_TAIL;
	S.bad[j] = bad >= 0;
	if (bad < 0)
		return;

	/* An older generation, whole (apart from the head just written)? */
	uint64_t old = w[STAMP_W_TAIL];
	enum damage_kind kind = DAMAGE_CORRUPT;
	if (bad == STAMP_W_TAIL && old < seq && old_head == old) {
		uint64_t key = stamp_body_key(S.r.run, i, old);
		kind = DAMAGE_LOST;
		for (unsigned k = STAMP_W_BODY; k < STAMP_W_TAIL; k++)
			if (w[k] != stamp_body_at(key, k)) {
				kind = DAMAGE_CORRUPT;
				break;
			}
	}
	record(i, (unsigned)bad, kind);
	/* Repair the fixed words so the page ends up a whole new stamp. */
	stamp_write_head((uint64_t *)w, S.r.run, i, seq + 1);
}

/* Step e: rewrite the swapped pages of the batch, interleaved, over
 * modify_ms: heads, 8 body slices, tails, evenly spaced in time. */
static void rewrite(uint64_t start, unsigned n)
{
	const unsigned body = STAMP_W_TAIL - STAMP_W_BODY;
	uint64_t t0 = now_ns();
	uint64_t step = S.o.modify_ms * 1000000ull / 9;

	for (unsigned j = 0; j < n; j++)
		if (S.swapped[j]) {
			S.key[j] = stamp_body_key(S.r.run, start + j,
			                          S.seq[start + j]);
			rewrite_head(start + j, j);
		}
	for (unsigned s = 0; s < 8; s++) {
		sleep_until_ns(t0 + (s + 1) * step);
		unsigned from = STAMP_W_BODY + body * s / 8;
		unsigned to = STAMP_W_BODY + body * (s + 1) / 8;
		for (unsigned j = 0; j < n; j++) {
			if (!S.swapped[j])
				continue;
			uint64_t i = start + j;
			uint64_t *w = (uint64_t *)page_at(i);
			if (!S.bad[j]) {
				for (unsigned k = from; k < to; k++)
					if (w[k] !=
					    stamp_body_at(S.key[j], k)) {
						record(i, k, DAMAGE_CORRUPT);
						S.bad[j] = 1;
						break;
					}
			}
			stamp_write_body(w, S.r.run, i, S.seq[i] + 1, from, to);
			__asm__ __volatile__("" ::: "memory");
		}
	}
	sleep_until_ns(t0 + 9 * step);
	for (unsigned j = 0; j < n; j++)
		if (S.swapped[j]) {
			uint64_t i = start + j;
			stamp_write_tail((uint64_t *)page_at(i), S.seq[i] + 1);
			S.seq[i]++;
		}
	__asm__ __volatile__("" ::: "memory");
}

static void batch(uint64_t start, unsigned n)
{
	if (!page_out(start, n))
		return;
	rewrite(start, n);
}

static bool should_stop(void)
{
	if (torture_stop)
		return true;
	if (S.o.swapouts && S.r.swapouts >= S.o.swapouts)
		return true;
	return S.o.seconds &&
	       now_ns() - S.t_start >= S.o.seconds * 1000000000ull;
}

/* Waits until none of the n PFNs is under writeback (the kernel side of
 * "idle"). */
static bool wait_writeback(const uint64_t *pfns, uint64_t n, uint64_t deadline)
{
	for (;;) {
		bool busy = false;
		for (uint64_t k = 0; k < n && !busy; k++) {
			uint64_t f;
			if (!kpageflags_read(pfns[k], &f) &&
			    ((f >> KPF_WRITEBACK_BIT) & 1))
				busy = true;
		}
		if (!busy)
			return true;
		if (torture_stop || now_ns() + 50000000ull > deadline)
			return false;
		sleep_ms(50);
	}
}

/* Waits until the main loop's swap writes are all done (nothing under
 * writeback in the system, the device idle), so that the device's counters
 * read now are the loop's alone. */
static bool wait_loop_done(void)
{
	uint64_t deadline = now_ns() + IDLE_TIMEOUT_NS, in, out;
	for (;;) {
		read_vmstat(&in, &out);
		if (!vmstat_writeback)
			break;
		if (now_ns() > deadline)
			return false;
		sleep_ms(20);
	}
	return S.r.dev.present ? target_wait_idle(S.t, deadline) : true;
}

/* The final verification phase. Returns the device's idleness. */
static bool verify(void)
{
	struct torture_result *r = &S.r;
	uint64_t N = S.o.pages, B = S.o.batch;
	uint64_t in0, in1, out;
	read_vmstat(&in0, &out);

	/* Everything out, without rewriting; remember the old PFNs. */
	uint64_t *old = calloc(N, sizeof *old);
	uint64_t *pm = calloc(N, sizeof *pm);
	unsigned char *vec = calloc(N, 1);
	if (!old || !pm || !vec)
		fail("out of memory");
	uint64_t nold = 0;
	/* The main loop's counts stay the loop's: the final swap-outs are
	 * counted apart (the device captures them too, as clean pages). */
	uint64_t loop_swapouts = r->swapouts, loop_not_swapped = r->not_swapped;
	for (uint64_t s = 0; s < N; s += B) {
		unsigned n = (unsigned)(N - s < B ? N - s : B);
		page_out(s, n);
		for (unsigned j = 0; j < n; j++)
			if (S.swapped[j])
				old[nold++] = S.pfn[j];
	}
	r->final_swapouts = r->swapouts - loop_swapouts;
	r->swapouts = loop_swapouts;
	r->not_swapped = loop_not_swapped;

	uint64_t deadline = now_ns() + IDLE_TIMEOUT_NS;
	bool idle = wait_writeback(old, nold, deadline);
	if (S.r.dev.present)
		idle = target_wait_idle(S.t, deadline) && idle;
	else
		sleep_ms(1000);

	/* Drop the swap cache, so the reads below come from the device.
	 * Pages the drop itself swaps out count as swap-outs too. */
	if (pagemap_read(S.pages, N, pm))
		fail("cannot read /proc/self/pagemap: %s", strerror(errno));
	for (uint64_t i = 0; i < N; i++)
		old[i] = pm_present(pm[i]);
	r->swap_cache_dropped = memcg_drop(&S.cg, N * PS);
	if (pagemap_read(S.pages, N, pm))
		fail("cannot read /proc/self/pagemap: %s", strerror(errno));
	for (uint64_t i = 0; i < N; i++)
		r->final_swapouts += old[i] && pm_swapped(pm[i]);
	/* mincore() reports whether a swapped-out page is in the swap cache. */
	if (!mincore(S.pages, N * PS, vec)) {
		r->swap_cache_left.known = true;
		for (uint64_t i = 0; i < N; i++)
			r->swap_cache_left.v +=
			    pm_swapped(pm[i]) && (vec[i] & 1);
	}

	/* Read back and check every page. */
	uint64_t buf[STAMP_WORDS];
	for (uint64_t i = 0; i < N; i++) {
		if (S.dead[i])
			continue; /* already counted */
		if (guarded_copy(buf, page_at(i))) {
			unreadable(i);
			continue;
		}
		uint64_t run, index, seq;
		int bad = first_bad_word(buf, i, S.seq[i]);
		if (bad < 0) {
			r->verified++;
		} else if (stamp_intact(buf, &run, &index, &seq) &&
		           run == r->run && index == i && seq < S.seq[i]) {
			record(i, STAMP_W_HEAD, DAMAGE_LOST);
		} else {
			record(i, (unsigned)bad, DAMAGE_CORRUPT);
		}
	}
	read_vmstat(&in1, &out);
	r->swapins = in1 - in0;
	if (S.r.dev.present)
		idle =
		    target_wait_idle(S.t, now_ns() + IDLE_TIMEOUT_NS) && idle;
	free(old);
	free(pm);
	free(vec);
	return idle;
}

int main(int argc, char **argv)
{
	const char *target = NULL, *gentab = NULL, *control = NULL;
	bool have_seed = false;
	char err[4096];
	struct torture_opts *o = &S.o;
	struct torture_result *r = &S.r;

	parse_args(argc, argv, &target, &gentab, &control, &have_seed);
	S.show_progress = !o->quiet && isatty(STDERR_FILENO);
	setvbuf(stderr, NULL, _IOLBF, 0);

	if (geteuid() != 0)
		die("must run as root: page frame numbers in "
		    "/proc/self/pagemap and /proc/kpageflags need "
		    "CAP_SYS_ADMIN");
	if (sysconf(_SC_PAGESIZE) != PS)
		die("the page size is %ld bytes; only %u-byte pages are "
		    "supported",
		    sysconf(_SC_PAGESIZE), PS);
	atexit(cleanup);

	if (!have_seed) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		/* Below 2^53, so that JSON readers keep it exact. */
		o->seed = stamp_mix((uint64_t)ts.tv_sec * 1000000000ull +
		                    (uint64_t)ts.tv_nsec) ^
		          ((uint64_t)getpid() << 16);
		o->seed &= (1ull << 53) - 1;
	}
	r->run = stamp_mix(o->seed) | 1;
	struct utsname u;
	if (!uname(&u))
		snprintf(r->kernel, sizeof r->kernel, "%s", u.release);

	if (gentab || control) {
		/* Given by its parts (a VM guest, or no run directory). */
		if (target_from_parts(target, gentab, control, &S.tgt, err,
		                      sizeof err))
			die("%s", err);
		S.t = &S.tgt;
		o->target = target;
		r->dev.present = S.tgt.ctl != TARGET_CTL_NONE;
		if (!gentab)
			warn(
			    "no generation table (--gentab): the device cannot "
			    "tell modified pages from clean ones");
	} else {
		int found = target_find(target, &S.tgt, err, sizeof err);
		if (found < 0)
			die("%s", err);
		if (found) {
			S.t = &S.tgt;
			o->target = S.tgt.name;
			r->dev.present = true;
		}
	}
	if (pagemap_open(err, sizeof err))
		die("%s", err);
	if (!any_swap_active())
		warn("no swap area is active: nothing will be swapped out");
	if (zswap_enabled())
		warn("zswap is enabled: swap-outs it keeps never reach the "
		     "swap device");

	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_sigbus;
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGBUS, &sa, NULL);

	/* Publish the run before entering the cgroup: the table's pages must
	 * not be charged to (and reclaimed with) the run's cgroup. */
	char *c_start = NULL, *c_end = NULL;
	if (S.t) {
		if (target_publish(S.t, r->run, o->pages, err, sizeof err))
			die("%s", err);
		if (r->dev.present &&
		    !(c_start = target_counters(S.t, err, sizeof err)))
			die("target '%s': %s",
			    S.tgt.name[0] ? S.tgt.name : S.tgt.gentab, err);
	}

	if (memcg_enter(&S.cg, err, sizeof err))
		warn("%s; the swap cache will not be dropped before the "
		     "final check",
		     err);
	r->cgroup = S.cg.version == 2 ? "v2" : S.cg.version == 1 ? "v1" : NULL;

	/* Only the stamped pages may be swapped: the workload's own memory
	 * stays locked, so a device that loses, corrupts or fails a page can
	 * damage the measured pages but never the program measuring them. */
	if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT))
		warn("mlockall: %s; the workload's own memory may be swapped",
		     strerror(errno));
	void *m = mmap(NULL, o->pages * PS, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		die("cannot map %llu pages: %s", (unsigned long long)o->pages,
		    strerror(errno));
	munlock(m, o->pages * PS);
	S.pages = m;
	/* EINVAL: a kernel without transparent huge pages, nothing to
	 * turn off. */
	if (madvise(m, o->pages * PS, MADV_NOHUGEPAGE) && errno != EINVAL)
		warn("madvise(MADV_NOHUGEPAGE): %s", strerror(errno));
	S.seq = calloc(o->pages, sizeof *S.seq);
	S.dead = calloc(o->pages, 1);
	S.pm = calloc(o->batch, sizeof *S.pm);
	S.pfn = calloc(o->batch, sizeof *S.pfn);
	S.key = calloc(o->batch, sizeof *S.key);
	S.swapped = calloc(o->batch, 1);
	S.bad = calloc(o->batch, 1);
	if (!S.seq || !S.dead || !S.pm || !S.pfn || !S.key || !S.swapped ||
	    !S.bad)
		fail("out of memory");
	for (uint64_t i = 0; i < o->pages; i++) {
		S.seq[i] = 1;
		stamp_fill(page_at(i), r->run, i, 1);
	}

	uint64_t in0, out0, in1, out1;
	read_vmstat(&in0, &out0);
	S.t_start = S.t_progress = now_ns();
	uint64_t per_round = (o->pages + o->batch - 1) / o->batch;
	uint64_t start = 0;
	do {
		unsigned n =
		    (unsigned)(o->pages - start < o->batch ? o->pages - start
		                                           : o->batch);
		batch(start, n);
		r->batches++;
		start += n;
		if (start >= o->pages)
			start = 0;
		progress(false);
	} while (!should_stop());
	r->rounds = (r->batches + per_round - 1) / per_round;
	if (S.progress_shown) {
		progress(true);
		fputc('\n', stderr);
		S.progress_shown = false;
	}

	/* The device's counts are the main loop's: the final check's
	 * swap-outs are clean by construction and counted apart. */
	bool loop_idle = wait_loop_done();
	if (r->dev.present && !(c_end = target_counters(S.t, err, sizeof err)))
		warn("target '%s': cannot read the counters: %s",
		     S.tgt.name[0] ? S.tgt.name : S.tgt.gentab, err);
	r->dev.idle = verify() && loop_idle;
	r->seconds = (double)(now_ns() - S.t_start) / 1e9;
	read_vmstat(&in1, &out1);
	r->kernel_pswpout = out1 - out0;
	if (r->dev.present) {
		target_delta(c_start, c_end, &r->dev);
		free(c_start);
		free(c_end);
	}
	r->interrupted = torture_stop != 0;

	if (o->json)
		report_json(o, r, stdout);
	else
		report_human(o, r, stdout);
	if (fflush(stdout))
		fail("cannot write the report: %s", strerror(errno));
	cleanup();
	return torture_stop ? 128 + torture_stop : 0;
}
