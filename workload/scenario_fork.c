/* scenario_fork.c - "fork": pages are swapped out, then the process
 * forks (the swap entries become shared, and the kernel must forget that
 * they were exclusive). Parent and child then write and read their pages
 * in both orders: whatever one writes must never be seen by the other, in
 * either direction, also when the write hits a page under writeback. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pagemap.h"
#include "scenario.h"

#define CHILD_RUN_MASK 0x6368696c64000000ull /* "child" */

/* What the child reports through the pipe. */
struct child_report {
	uint64_t writes, checks, leaks, under_writeback, errors;
};

static bool xread(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static bool xwrite(int fd, const void *buf, size_t len)
{
	return write(fd, buf, len) == (ssize_t)len;
}

/* Test only (--test-break fork-leak): copies page i of this process into
 * the other one, as a kernel that let the two share the page would. */
static void leak_into(struct harness *h, pid_t pid, uint64_t i)
{
	struct iovec l = {h_page(h, i), PS}, r = {h_page(h, i), PS};
	process_vm_writev(pid, &l, 1, &r, 1, 0);
}

/* The child's part: it writes its own stamps (another run id) and checks
 * its pages: before its writes they hold the parent's sequence at the
 * fork, after them its own stamps. */
static void child(struct harness *h, uint64_t start, unsigned n,
                  bool child_first, int rd, int wr)
{
	struct child_report rep = {0};
	uint64_t crun = h->run ^ CHILD_RUN_MASK, buf[STAMP_WORDS];
	char c = 0;
	if (!child_first && !xread(rd, &c, 1))
		_exit(3);
	for (unsigned j = 0; j < n; j++) {
		if (!h->swapped[j])
			continue;
		uint64_t i = start + j;
		if (!child_first) {
			/* The parent has written seq+1: the child must
			 * still see seq. */
			memcpy(buf, h_page(h, i), PS);
			rep.checks++;
			if (h_bad_word(h, buf, i, h->seq[i]) >= 0)
				rep.leaks++;
		}
		rep.under_writeback += h_pfn_writeback(h->pfn[j]);
		stamp_fill(h_page(h, i), crun, i, h->seq[i]);
		rep.writes++;
	}
	if (child_first) {
		if (h_break(h, "fork-leak"))
			for (unsigned j = 0; j < n; j++)
				if (h->swapped[j]) {
					leak_into(h, getppid(), start + j);
					break;
				}
		if (!xwrite(wr, &c, 1) || !xread(rd, &c, 1))
			_exit(3);
		/* The parent has written seq+1 meanwhile: the child must
		 * still see its own stamps. */
		for (unsigned j = 0; j < n; j++) {
			if (!h->swapped[j])
				continue;
			uint64_t i = start + j, r, x, s;
			memcpy(buf, h_page(h, i), PS);
			rep.checks++;
			if (!stamp_intact(buf, &r, &x, &s) || r != crun ||
			    x != i)
				rep.leaks++;
		}
	}
	if (!xwrite(wr, &rep, sizeof rep))
		_exit(3);
	_exit(0);
}

static void batch(struct harness *h, uint64_t start, unsigned n)
{
	static uint64_t nbatch;
	if (!h_page_out(h, start, n))
		return;
	bool child_first = nbatch++ % 2 == 0;
	uint64_t *forks = h_ev(h, "forks", true);
	uint64_t *pchecks = h_ev(h, "parent_checks", true);
	uint64_t *cchecks = h_ev(h, "child_checks", true);
	uint64_t *cwrites = h_ev(h, "child_writes", true);
	uint64_t *cwb = h_ev(h, "child_writes_under_writeback", false);
	uint64_t *leaks = h_ev(h, "leaks", false);
	int p2c[2], c2p[2];
	if (pipe2(p2c, O_CLOEXEC) || pipe2(c2p, O_CLOEXEC))
		h_fail_exit("pipe: %s", strerror(errno));
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		h_fail_exit("fork: %s", strerror(errno));
	if (pid == 0) {
		close(p2c[1]);
		close(c2p[0]);
		child(h, start, n, child_first, p2c[0], c2p[1]);
	}
	close(p2c[0]);
	close(c2p[1]);
	(*forks)++;
	char c = 0;
	uint64_t buf[STAMP_WORDS], parent_leaks = 0;
	bool ok = true;
	if (child_first) {
		/* The child wrote its stamps: the parent must see its own,
		 * with the read as the first access. */
		ok = xread(c2p[0], &c, 1);
		for (unsigned j = 0; ok && j < n; j++) {
			if (!h->swapped[j])
				continue;
			uint64_t i = start + j;
			bool wb = h_access_begin(h, j);
			if (h_read_page(h, i, buf)) {
				h->swapped[j] = 0;
				continue;
			}
			h_access_end(h, i, j, wb);
			(*pchecks)++;
			if (h_bad_word(h, buf, i, h->seq[i]) >= 0) {
				uint64_t r, x, s;
				if (stamp_intact(buf, &r, &x, &s) &&
				    r == (h->run ^ CHILD_RUN_MASK))
					parent_leaks++;
				else
					h_check_copy(h, i, buf);
			}
		}
		h_rewrite(h, start, n, true);
		ok = ok && xwrite(p2c[1], &c, 1);
	} else {
		/* The parent writes first (the write fault on the shared
		 * swap entry), then the child checks and writes. */
		h_rewrite(h, start, n, false);
		if (h_break(h, "fork-leak"))
			for (unsigned j = 0; j < n; j++)
				if (h->swapped[j]) {
					leak_into(h, pid, start + j);
					break;
				}
		ok = xwrite(p2c[1], &c, 1);
	}
	struct child_report rep = {0};
	ok = ok && xread(c2p[0], &rep, sizeof rep);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	close(p2c[1]);
	close(c2p[0]);
	if (!ok || !WIFEXITED(st) || WEXITSTATUS(st))
		h_fail(h, "the child of batch %llu failed (status %#x)",
		       (unsigned long long)start, st);
	if (!child_first) {
		/* The child wrote after the parent: the parent keeps seq. */
		for (unsigned j = 0; j < n; j++) {
			if (!h->swapped[j])
				continue;
			uint64_t i = start + j, r, x, s;
			if (h_read_page(h, i, buf))
				continue;
			(*pchecks)++;
			if (h_bad_word(h, buf, i, h->seq[i]) >= 0) {
				if (stamp_intact(buf, &r, &x, &s) &&
				    r == (h->run ^ CHILD_RUN_MASK))
					parent_leaks++;
				else
					h_check_copy(h, i, buf);
			}
		}
	}
	*cchecks += rep.checks;
	*cwrites += rep.writes;
	*cwb += rep.under_writeback;
	/* The first leak of each direction in the reason; all in leaks. */
	static bool told_p, told_c;
	if (parent_leaks && !told_p) {
		told_p = true;
		h_fail(h,
		       "batch at page %llu: the parent saw %llu pages the "
		       "child wrote (leak child to parent; more in leaks)",
		       (unsigned long long)start,
		       (unsigned long long)parent_leaks);
	}
	if (rep.leaks && !told_c) {
		told_c = true;
		h_fail(h,
		       "batch at page %llu: the child saw %llu pages the "
		       "parent wrote after the fork (leak parent to child; "
		       "more in leaks)",
		       (unsigned long long)start,
		       (unsigned long long)rep.leaks);
	}
	*leaks += parent_leaks + rep.leaks;
}

static void run(struct harness *h)
{
	h_region(h, h->o->pages, 0, false);
	h_rounds(h, 2, false, batch);
}

const struct scenario scenario_fork = {
    .name = "fork",
    .summary = "swap out, fork(); parent and child write and read in both "
               "orders: no leak",
    .run = run,
};
