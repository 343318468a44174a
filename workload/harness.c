/* harness.c - the shared part of every scenario (see harness.h): messages
 * and verdict notes, sysfs values to restore, guarded accesses and the
 * page checks, the stamped region, swap-out, writeback and copy
 * accounting, and the slow rewrite. The rounds, the final check and the
 * verdict are in harness_run.c. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "clock.h"
#include "harness.h"
#include "kmsg.h"
#include "pagemap.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define IDLE_TIMEOUT_NS (30ull * 1000000000ull)

static struct harness *H; /* for the signal handler and the cleanup */

/* ------------------------------------------------------------ messages */

static void vmsg(const char *prefix, const char *fmt, va_list ap)
{
	fprintf(stderr, "swapemu-torture: %s", prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void h_die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
	exit(2);
}

void h_fail_exit(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
	exit(1);
}

void h_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg("warning: ", fmt, ap);
	va_end(ap);
}

static void add_reason(struct scen_result *sr, const char *fmt, va_list ap)
{
	size_t l = strlen(sr->reason);
	if (l && l + 2 < sizeof sr->reason) {
		strcpy(sr->reason + l, "; ");
		l += 2;
	}
	if (l < sizeof sr->reason)
		vsnprintf(sr->reason + l, sizeof sr->reason - l, fmt, ap);
}

/* A scenario names its first few failures (one per bad page would fill the
 * reason and push out the final check's verdict); the rest are counted. */
#define H_FAILS_NAMED 3

static void vfail(struct harness *h, int capped, const char *fmt, va_list ap)
{
	struct scen_result *sr = h->sr;
	if (sr->verdict == VERDICT_SKIP)
		sr->reason[0] = '\0';
	sr->verdict = VERDICT_FAIL;
	if (capped && sr->nfails++ >= H_FAILS_NAMED) {
		sr->fails_more++;
		return;
	}
	add_reason(sr, fmt, ap);
}

void h_fail(struct harness *h, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(h, 1, fmt, ap);
	va_end(ap);
}

void h_fail_count_rest(struct harness *h)
{
	if (h->sr->fails_more) {
		unsigned n = h->sr->fails_more;
		h->sr->fails_more = 0;
		h_fail_final(h, "and %u more like these", n);
	}
}

void h_fail_final(struct harness *h, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(h, 0, fmt, ap);
	va_end(ap);
}

void h_skip(struct harness *h, const char *fmt, ...)
{
	va_list ap;
	if (h->sr->verdict == VERDICT_FAIL)
		return;
	h->sr->verdict = VERDICT_SKIP;
	h->sr->reason[0] = '\0';
	va_start(ap, fmt);
	add_reason(h->sr, fmt, ap);
	va_end(ap);
}

void h_note(struct harness *h, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	add_reason(h->sr, fmt, ap);
	va_end(ap);
}

uint64_t *h_ev(struct harness *h, const char *name, bool required)
{
	struct scen_result *sr = h->sr;
	for (unsigned k = 0; k < sr->nev; k++)
		if (!strcmp(sr->ev[k].name, name))
			return &sr->ev[k].v;
	if (sr->nev == SCEN_MAX_EVIDENCE)
		h_fail_exit("scenario %s: too many evidence counters",
		            sr->name);
	sr->ev[sr->nev] =
	    (struct evidence){.name = name, .v = 0, .required = required};
	return &sr->ev[sr->nev++].v;
}

bool h_stopped(struct harness *h)
{
	return *h->stop != 0;
}

bool h_break(struct harness *h, const char *what)
{
	const char *b = h->o->test_break;
	size_t l = strlen(what);
	while (b && *b) {
		if (!strncmp(b, what, l) && (b[l] == ',' || !b[l]))
			return true;
		b = strchr(b, ',');
		b = b ? b + 1 : NULL;
	}
	return false;
}

/* ------------------------------------------------------------ files */

int h_read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, len - 1);
	int e = errno;
	close(fd);
	if (n < 0) {
		errno = e;
		return -1;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

int h_write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, val, strlen(val));
	int e = errno;
	close(fd);
	errno = e;
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

/* Values to put back at the end: sysfs knobs a scenario changed. */
static struct {
	char path[256], val[128];
} undo[32];
static unsigned nundo;

void h_restore_file_later(const char *path)
{
	char v[128];
	for (unsigned k = 0; k < nundo; k++)
		if (!strcmp(undo[k].path, path))
			return; /* the first value is the one to restore */
	if (nundo == 32 || h_read_file(path, v, sizeof v))
		return;
	/* "always [madvise] never" files show the choice in brackets. */
	char *b = strchr(v, '[');
	if (b) {
		char *e = strchr(b, ']');
		if (e) {
			*e = '\0';
			memmove(v, b + 1, strlen(b + 1) + 1);
		}
	}
	snprintf(undo[nundo].path, sizeof undo[nundo].path, "%s", path);
	snprintf(undo[nundo].val, sizeof undo[nundo].val, "%s", v);
	nundo++;
}

void h_restore_files(void)
{
	while (nundo) {
		nundo--;
		if (h_write_file(undo[nundo].path, undo[nundo].val))
			h_warn("cannot restore %s to '%s': %s",
			       undo[nundo].path, undo[nundo].val,
			       strerror(errno));
	}
}

/* ------------------------------------------------------------ guards */

/* A swap-in that fails (a device returning EIO) raises SIGBUS at the
 * faulting access; such accesses are guarded, and the page is then
 * written off as unreadable. */
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

static int guarded_copy(void *dst, const void *src)
{
	if (sigsetjmp(bus_jb, 1))
		return -1;
	bus_armed = 1;
	memcpy(dst, src, PS);
	__asm__ __volatile__("" ::: "memory");
	bus_armed = 0;
	return 0;
}

/* Stores v at w and returns the old value through old. An exchange is a
 * write access, so the fault is a write fault (as a plain store's), yet the
 * old word is seen too and checked like every other word. */
static int guarded_xchg(volatile uint64_t *w, uint64_t v, uint64_t *old)
{
	if (sigsetjmp(bus_jb, 1))
		return -1;
	bus_armed = 1;
	*old = __atomic_exchange_n(w, v, __ATOMIC_SEQ_CST);
	bus_armed = 0;
	return 0;
}

void h_record(struct harness *h, uint64_t page, unsigned word,
              enum damage_kind kind)
{
	struct torture_result *r = h->r;
	if (kind == DAMAGE_LOST)
		r->lost++;
	else
		r->corrupt++;
	r->damaged_total++;
	if (r->ndamaged < TORTURE_MAX_DAMAGED)
		r->damaged[r->ndamaged++] =
		    (struct damage){.page = page,
		                    .word = word,
		                    .kind = kind,
		                    .scenario = h->sr ? h->sr->name : NULL};
}

static void unreadable(struct harness *h, uint64_t i)
{
	h->dead[i] = 1;
	h->r->unreadable++;
	h_record(h, i, 0, DAMAGE_CORRUPT);
}

int h_read_page(struct harness *h, uint64_t i, void *dst)
{
	if (h->dead[i] || guarded_copy(dst, h_page(h, i))) {
		if (!h->dead[i])
			unreadable(h, i);
		return -1;
	}
	return 0;
}

bool h_read_fault(struct harness *h, uint64_t i, unsigned j, void *buf,
                  uint64_t *pfn)
{
	bool wb = h_access_begin(h, j);
	if (h_read_page(h, i, buf)) {
		h->swapped[j] = 0;
		return false;
	}
	uint64_t p = h_access_end(h, i, j, wb);
	if (pfn)
		*pfn = p;
	h_check_copy(h, i, buf);
	return true;
}

int h_xchg(struct harness *h, volatile uint64_t *w, uint64_t v, uint64_t *old)
{
	uint64_t i = (uint64_t)((uint8_t *)w - h->mem) / PS;
	if (h->dead[i] || guarded_xchg(w, v, old)) {
		if (!h->dead[i])
			unreadable(h, i);
		return -1;
	}
	return 0;
}

int h_bad_word(struct harness *h, const uint64_t *w, uint64_t i, uint64_t seq)
{
	uint64_t idx = h->idx[i];
	if (w[STAMP_W_MAGIC] != STAMP_MAGIC)
		return STAMP_W_MAGIC;
	if (w[STAMP_W_RUN] != h->run)
		return STAMP_W_RUN;
	if (w[STAMP_W_INDEX] != idx)
		return STAMP_W_INDEX;
	if (w[STAMP_W_HEAD] != seq)
		return STAMP_W_HEAD;
	uint64_t key = stamp_body_key(h->run, idx, seq);
	for (unsigned k = STAMP_W_BODY; k < STAMP_W_TAIL; k++)
		if (w[k] != stamp_body_at(key, k))
			return (int)k;
	if (w[STAMP_W_TAIL] != seq)
		return STAMP_W_TAIL;
	return -1;
}

bool h_check_copy(struct harness *h, uint64_t i, const uint64_t *w)
{
	int bad = h_bad_word(h, w, i, h->seq[i]);
	if (bad < 0)
		return true;
	uint64_t run, index, seq;
	if (stamp_intact(w, &run, &index, &seq) && run == h->run &&
	    index == h->idx[i] && seq < h->seq[i])
		h_record(h, i, STAMP_W_HEAD, DAMAGE_LOST);
	else
		h_record(h, i, (unsigned)bad, DAMAGE_CORRUPT);
	return false;
}

/* ------------------------------------------------------------ region */

void h_region(struct harness *h, uint64_t n, size_t align, bool thp)
{
	size_t len = n * PS, extra = align > PS ? align : 0;
	uint8_t *m = mmap(NULL, len + extra, PROT_READ | PROT_WRITE,
	                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		h_die("cannot map %llu pages: %s", (unsigned long long)n,
		      strerror(errno));
	if (extra) {
		uintptr_t a =
		    ((uintptr_t)m + align - 1) & ~(uintptr_t)(align - 1);
		if (a > (uintptr_t)m)
			munmap(m, a - (uintptr_t)m);
		if ((uintptr_t)m + len + extra > a + len)
			munmap((void *)(a + len),
			       (uintptr_t)m + len + extra - (a + len));
		m = (uint8_t *)a;
	}
	/* The program's own memory is locked (mlockall); these pages must
	 * be swappable. */
	munlock(m, len);
	/* EINVAL: a kernel without transparent huge pages. */
	if (madvise(m, len, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) &&
	    errno != EINVAL)
		h_warn("madvise(%s): %s",
		       thp ? "MADV_HUGEPAGE" : "MADV_NOHUGEPAGE",
		       strerror(errno));
	h->mem = m;
	h->map_len = len;
	h->n = n;
	h->seq = calloc(n, sizeof *h->seq);
	h->idx = calloc(n, sizeof *h->idx);
	h->dead = calloc(n, 1);
	if (!h->seq || !h->idx || !h->dead)
		h_fail_exit("out of memory");
	for (uint64_t i = 0; i < n; i++) {
		h->seq[i] = 1;
		h->idx[i] = i;
		stamp_fill(h_page(h, i), h->run, i, 1);
	}
}

void h_region_free(struct harness *h)
{
	if (h->mem)
		munmap(h->mem, h->map_len);
	h->mem = NULL;
	free(h->seq);
	free(h->idx);
	free(h->dead);
	h->seq = h->idx = NULL;
	h->dead = NULL;
	h->n = 0;
}

/* ------------------------------------------------------------ swap-out */

static void pm_read(const void *addr, size_t n, uint64_t *e)
{
	if (pagemap_read(addr, n, e))
		h_fail_exit("cannot read /proc/self/pagemap: %s",
		            strerror(errno));
}

bool h_pfn_writeback(uint64_t pfn)
{
	uint64_t f;
	if (!pfn)
		return false;
	if (kpageflags_read(pfn, &f))
		h_fail_exit("cannot read /proc/kpageflags: %s",
		            strerror(errno));
	return (f >> KPF_WRITEBACK_BIT) & 1;
}

/* Waits until none of the n PFNs is under writeback. */
bool h_wait_writeback(struct harness *h, const uint64_t *pfns, uint64_t n,
                      uint64_t deadline)
{
	for (;;) {
		bool busy = false;
		for (uint64_t k = 0; k < n && !busy; k++)
			busy = h_pfn_writeback(pfns[k]);
		if (!busy)
			return true;
		if (*h->stop || now_ns() + 1000000ull > deadline)
			return false;
		sleep_ms(1);
	}
}

unsigned h_page_out(struct harness *h, uint64_t start, unsigned n)
{
	uint8_t *addr = h_page(h, start);
	pm_read(addr, n, h->pm);
	for (unsigned j = 0; j < n; j++) {
		uint64_t i = start + j;
		if (!pm_present(h->pm[j]) && !h->dead[i]) {
			/* Reclaimed behind our back (or never touched):
			 * bring it back with a read, so that what follows
			 * starts from a page in memory. */
			uint64_t tmp[STAMP_WORDS];
			if (!h_read_page(h, i, tmp))
				pm_read(h_page(h, i), 1, &h->pm[j]);
		}
		h->pfn[j] = h->dead[i] ? 0 : pm_pfn(h->pm[j]);
		if (pm_present(h->pm[j]) && !h->pfn[j])
			h_die("/proc/self/pagemap shows no page frame numbers "
			      "(CAP_SYS_ADMIN is needed)");
	}
	for (unsigned j = 0; j < n; j++)
		target_set_gen(h->t, h->idx[start + j], h->seq[start + j]);
	if (madvise(addr, (size_t)n * PS, MADV_PAGEOUT)) {
		if (errno == EINVAL)
			h_die("madvise(MADV_PAGEOUT) failed with EINVAL: this "
			      "kernel lacks MADV_PAGEOUT (Linux 5.4 or later "
			      "is needed)");
		h_fail_exit("madvise(MADV_PAGEOUT): %s", strerror(errno));
	}
	pm_read(addr, n, h->pm);
	unsigned swapped = 0;
	for (unsigned j = 0; j < n; j++) {
		h->swapped[j] = h->pfn[j] && pm_swapped(h->pm[j]);
		if (h->swapped[j]) {
			h->r->swapouts++;
			swapped++;
		} else if (!h->dead[start + j]) {
			h->r->not_swapped++;
		}
	}
	if (h->after_wb && swapped)
		h_wait_writeback(h, h->pfn, n, now_ns() + IDLE_TIMEOUT_NS);
	return swapped;
}

bool h_access_begin(struct harness *h, unsigned j)
{
	return h_pfn_writeback(h->pfn[j]);
}

/* The page was faulted under writeback if its folio's writeback flag was
 * set just before the access and, unless the kernel copied the page, is
 * still set just after it. Set before, clear after and not copied: the
 * writeback ended around the fault and nobody can tell which came first
 * (a writeback race, counted neither way). */
uint64_t h_access_end(struct harness *h, uint64_t i, unsigned j, bool wb)
{
	struct torture_result *r = h->r;
	uint64_t e;
	pm_read(h_page(h, i), 1, &e);
	uint64_t pfn = pm_pfn(e);
	bool copied = pfn != h->pfn[j];
	r->copied += copied;
	if (!wb) {
		h->sr->after_writeback++;
	} else if (copied) {
		r->under_writeback++;
		r->copied_under_writeback++;
	} else if (h_pfn_writeback(h->pfn[j])) {
		r->under_writeback++;
	} else {
		r->writeback_race++;
	}
	return pfn;
}

/* ------------------------------------------------------------ rewrite */

/* The head step of the rewrite of page i (slot j). Unless the scenario
 * already made the first access, the write to the head word is the first
 * access after the swap-out: the write fault that decides whether the
 * kernel copies the page. */
static void rewrite_head(struct harness *h, uint64_t i, unsigned j,
                         bool first_done)
{
	volatile uint64_t *w = (volatile uint64_t *)h_page(h, i);
	uint64_t seq = h->seq[i], idx = h->idx[i];
	h->bad[j] = 0;
	bool wb = first_done ? false : h_access_begin(h, j);
	uint64_t old_head;
	if (h_xchg(h, &w[STAMP_W_HEAD], seq + 1, &old_head)) {
		h->swapped[j] = 0; /* no more rewriting */
		return;
	}
	if (!first_done)
		h_access_end(h, i, j, wb);

	/* The words the head write did not touch must be as left. */
	int bad = -1;
	if (w[STAMP_W_MAGIC] != STAMP_MAGIC)
		bad = STAMP_W_MAGIC;
	else if (w[STAMP_W_RUN] != h->run)
		bad = STAMP_W_RUN;
	else if (w[STAMP_W_INDEX] != idx)
		bad = STAMP_W_INDEX;
	else if (old_head != seq)
		bad = STAMP_W_HEAD;
	else if (w[STAMP_W_TAIL] != seq)
		bad = STAMP_W_TAIL;
	h->bad[j] = bad >= 0;
	if (bad < 0)
		return;

	/* An older generation, whole (apart from the head just written)? */
	uint64_t old = w[STAMP_W_TAIL];
	enum damage_kind kind = DAMAGE_CORRUPT;
	if (bad == STAMP_W_TAIL && old < seq && old_head == old) {
		uint64_t key = stamp_body_key(h->run, idx, old);
		kind = DAMAGE_LOST;
		for (unsigned k = STAMP_W_BODY; k < STAMP_W_TAIL; k++)
			if (w[k] != stamp_body_at(key, k)) {
				kind = DAMAGE_CORRUPT;
				break;
			}
	}
	h_record(h, i, (unsigned)bad, kind);
	/* Repair the fixed words so the page ends up a whole new stamp. */
	stamp_write_head((uint64_t *)w, h->run, idx, seq + 1);
}

void h_rewrite(struct harness *h, uint64_t start, unsigned n, bool first_done)
{
	const unsigned body = STAMP_W_TAIL - STAMP_W_BODY;
	uint64_t t0 = now_ns();
	uint64_t step = h->o->modify_ms * 1000000ull / 9;

	for (unsigned j = 0; j < n; j++)
		if (h->swapped[j]) {
			uint64_t i = start + j;
			h->key[j] =
			    stamp_body_key(h->run, h->idx[i], h->seq[i]);
			rewrite_head(h, i, j, first_done);
		}
	for (unsigned s = 0; s < 8; s++) {
		sleep_until_ns(t0 + (s + 1) * step);
		unsigned from = STAMP_W_BODY + body * s / 8;
		unsigned to = STAMP_W_BODY + body * (s + 1) / 8;
		for (unsigned j = 0; j < n; j++) {
			if (!h->swapped[j])
				continue;
			uint64_t i = start + j;
			uint64_t *w = (uint64_t *)h_page(h, i);
			if (!h->bad[j]) {
				for (unsigned k = from; k < to; k++)
					if (w[k] !=
					    stamp_body_at(h->key[j], k)) {
						h_record(h, i, k,
						         DAMAGE_CORRUPT);
						h->bad[j] = 1;
						break;
					}
			}
			stamp_write_body(w, h->run, h->idx[i], h->seq[i] + 1,
			                 from, to);
			__asm__ __volatile__("" ::: "memory");
		}
	}
	sleep_until_ns(t0 + 9 * step);
	for (unsigned j = 0; j < n; j++)
		if (h->swapped[j]) {
			uint64_t i = start + j;
			stamp_write_tail((uint64_t *)h_page(h, i),
			                 h->seq[i] + 1);
			h->seq[i]++;
		}
	__asm__ __volatile__("" ::: "memory");
}

void h_stamp_next(struct harness *h, uint64_t i)
{
	h->idx[i] = i;
	stamp_fill(h_page(h, i), h->run, i, h->seq[i] + 1);
	h->seq[i]++;
}

/* ------------------------------------------------------------ setup */

static void on_sig_bus_install(void)
{
	struct sigaction sa = {.sa_handler = on_sigbus, .sa_flags = SA_NODEFER};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
}

void h_init(struct harness *h, struct torture_opts *o, struct torture_result *r,
            struct target *t, struct memcg *cg, volatile sig_atomic_t *stop)
{
	memset(h, 0, sizeof *h);
	h->o = o;
	h->r = r;
	h->t = t;
	h->cg = cg;
	h->stop = stop;
	/* Room for a 2 MiB folio's pages in one batch (large-folio). */
	h->cap = o->batch > 512 ? (unsigned)o->batch : 512;
	h->pm = calloc(h->cap, sizeof *h->pm);
	h->pfn = calloc(h->cap, sizeof *h->pfn);
	h->key = calloc(h->cap, sizeof *h->key);
	h->swapped = calloc(h->cap, 1);
	h->bad = calloc(h->cap, 1);
	if (!h->pm || !h->pfn || !h->key || !h->swapped || !h->bad)
		h_fail_exit("out of memory");
	H = h;
	on_sig_bus_install();
}

void h_cleanup(void)
{
	if (H && H->mem)
		h_region_free(H);
	h_restore_files();
}

bool h_any_swap_active(void)
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
