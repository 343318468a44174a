/* scenario_uffd_wp.c - "uffd-wp": anonymous pages write-protected with
 * userfaultfd (UFFDIO_WRITEPROTECT), swapped out (the swap pte keeps the
 * uffd-wp bit), then written: every such write must raise a write-protect
 * fault before it lands (the handler thread checks the page still holds
 * the old data, then unprotects it). Pages unprotected before the swap-out
 * are written without a fault. */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "scenario.h"

static struct {
	int uffd, quit[2];
	pthread_t thread;
	struct harness *h;
	_Atomic uint64_t *faults; /* per page */
	_Atomic uint64_t landed_early, total;
	bool protect; /* this round protects its pages */
} U;

static int wp(uint64_t addr, uint64_t len, bool on)
{
	struct uffdio_writeprotect w = {.range = {.start = addr, .len = len},
	                                .mode = on ? UFFDIO_WRITEPROTECT_MODE_WP
	                                           : 0};
	return ioctl(U.uffd, UFFDIO_WRITEPROTECT, &w);
}

/* The fault handler: note the fault, check that the write has not landed
 * (the head still holds the sequence before the write), unprotect. */
static void *handler(void *arg)
{
	(void)arg;
	struct harness *h = U.h;
	for (;;) {
		struct pollfd p[2] = {{U.uffd, POLLIN, 0},
		                      {U.quit[0], POLLIN, 0}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		struct uffd_msg m;
		ssize_t n = read(U.uffd, &m, sizeof m);
		if (n != sizeof m)
			continue;
		if (m.event != UFFD_EVENT_PAGEFAULT)
			continue;
		uint64_t a = m.arg.pagefault.address & ~(uint64_t)(PS - 1);
		uint64_t i = (a - (uint64_t)(uintptr_t)h->mem) / PS;
		if (i < h->n &&
		    (m.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP)) {
			atomic_fetch_add(&U.faults[i], 1);
			atomic_fetch_add(&U.total, 1);
			const volatile uint64_t *w =
			    (const volatile uint64_t *)(uintptr_t)a;
			if (w[STAMP_W_HEAD] != h->seq[i])
				atomic_fetch_add(&U.landed_early, 1);
		}
		if (wp(a, PS, false))
			h_fail_exit("UFFDIO_WRITEPROTECT (off): %s",
			            strerror(errno));
	}
	return NULL;
}

static void batch(struct harness *h, uint64_t start, unsigned n)
{
	uint64_t addr = (uint64_t)(uintptr_t)h_page(h, start);
	bool prot = U.protect && !h_break(h, "uffd-no-wp");
	/* Make the pages present, then protect (or unprotect) them. */
	uint64_t buf[STAMP_WORDS];
	for (unsigned j = 0; j < n; j++)
		h_read_page(h, start + j, buf);
	if (wp(addr, (uint64_t)n * PS, prot))
		h_fail_exit("UFFDIO_WRITEPROTECT: %s", strerror(errno));
	if (!h_page_out(h, start, n))
		return;
	uint64_t *wprot = h_ev(h, "writes_protected", true);
	uint64_t *wfree = h_ev(h, "writes_unprotected", true);
	uint64_t *missing = h_ev(h, "missing_wp_faults", false);
	uint64_t *extra = h_ev(h, "unexpected_wp_faults", false);
	for (unsigned j = 0; j < n; j++) {
		if (!h->swapped[j])
			continue;
		uint64_t i = start + j, old;
		uint64_t before = atomic_load(&U.faults[i]);
		bool wb = h_access_begin(h, j);
		volatile uint64_t *w = (volatile uint64_t *)h_page(h, i);
		if (h_xchg(h, &w[STAMP_W_HEAD], h->seq[i] + 1, &old)) {
			h->swapped[j] = 0;
			continue;
		}
		h_access_end(h, i, j, wb);
		bool faulted = atomic_load(&U.faults[i]) != before;
		if (U.protect) {
			(*wprot)++;
			if (!faulted)
				(*missing)++;
		} else {
			(*wfree)++;
			if (faulted)
				(*extra)++;
		}
		if (old != h->seq[i])
			h_check_copy(h, i, (const uint64_t *)w);
		w[STAMP_W_HEAD] = h->seq[i];
	}
	h_rewrite(h, start, n, true);
}

static void run(struct harness *h)
{
	U.h = h;
	U.uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (U.uffd < 0) {
		h_skip(h, "userfaultfd: %s", strerror(errno));
		return;
	}
	struct uffdio_api api = {.api = UFFD_API,
	                         .features = UFFD_FEATURE_PAGEFAULT_FLAG_WP};
	if (ioctl(U.uffd, UFFDIO_API, &api) ||
	    !(api.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP)) {
		h_skip(h, "userfaultfd has no write-protect mode here (%s)",
		       strerror(errno));
		close(U.uffd);
		return;
	}
	h_region(h, h->o->pages, 0, false);
	struct uffdio_register reg = {
	    .range = {.start = (uint64_t)(uintptr_t)h->mem, .len = h->n * PS},
	    .mode = UFFDIO_REGISTER_MODE_WP};
	if (ioctl(U.uffd, UFFDIO_REGISTER, &reg)) {
		h_skip(h, "UFFDIO_REGISTER_MODE_WP on anonymous memory: %s",
		       strerror(errno));
		close(U.uffd);
		return;
	}
	U.faults = calloc(h->n, sizeof *U.faults);
	if (!U.faults || pipe2(U.quit, O_CLOEXEC))
		h_fail_exit("out of memory");
	atomic_store(&U.total, 0);
	atomic_store(&U.landed_early, 0);
	if (pthread_create(&U.thread, NULL, handler, NULL))
		h_fail_exit("cannot start the fault handler thread");
	/* Protected rounds, then unprotected ones: each kind both under
	 * writeback and after it. */
	U.protect = true;
	h_rounds(h, 2, false, batch);
	U.protect = false;
	h_rounds(h, 2, false, batch);
	char c = 0;
	if (write(U.quit[1], &c, 1) != 1)
		h_fail_exit("cannot stop the fault handler");
	pthread_join(U.thread, NULL);
	close(U.quit[0]);
	close(U.quit[1]);
	close(U.uffd); /* unregisters the region */
	*h_ev(h, "wp_faults", true) = atomic_load(&U.total);
	uint64_t early = atomic_load(&U.landed_early);
	*h_ev(h, "writes_landed_before_fault", false) = early;
	uint64_t missing = *h_ev(h, "missing_wp_faults", false);
	uint64_t extra = *h_ev(h, "unexpected_wp_faults", false);
	if (missing)
		h_fail(h,
		       "%llu writes to write-protected swapped pages raised "
		       "no write-protect fault",
		       (unsigned long long)missing);
	if (early)
		h_fail(h, "%llu writes landed before their write-protect fault",
		       (unsigned long long)early);
	if (extra)
		h_fail(h,
		       "%llu writes to unprotected pages raised a "
		       "write-protect fault",
		       (unsigned long long)extra);
	free(U.faults);
	U.faults = NULL;
}

const struct scenario scenario_uffd_wp = {
    .name = "uffd-wp",
    .summary = "userfaultfd write-protect: a write to a protected swapped "
               "page faults first",
    .run = run,
};
