/* scenario_pin.c - "pin": swapped (or swap cache) pages reached through
 * GUP instead of a fault in the mapping, one mechanism per page in turn:
 *   vmsplice()            R/O pin: the pipe must show what the mapping does
 *   io_uring fixed buffer long-term R/W pin (liburing): what the ring
 *                         writes out and reads in must match the mapping
 *   O_DIRECT read         the device's data lands in the page (R/W pin)
 *   O_DIRECT write        the page goes to the file (R/O pin)
 *   process_vm_writev()   a remote-style write (R/W pin)
 *   /proc/self/mem        a forced write (FOLL_FORCE)
 * The pinned view and the mapped view must agree afterwards, and no write
 * may land on a page under writeback of a stable-writes target (the
 * device checks that). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>
#ifdef SWAPEMU_HAVE_LIBURING
#include <liburing.h>
#endif

#include "scenario.h"

enum mech {
	M_VMSPLICE,
	M_URING,
	M_ODIRECT_READ,
	M_ODIRECT_WRITE,
	M_VM_WRITEV,
	M_PROC_MEM,
	M_N
};

static const char *const mech_ev[M_N] = {"vmsplice_pins",    "uring_fixed_pins",
                                         "odirect_reads",    "odirect_writes",
                                         "vm_writev_writes", "proc_mem_writes"};

static struct {
	int pipe[2];
	int file;              /* O_DIRECT scratch file, one page per slot */
	int mem;               /* /proc/self/mem */
	uint64_t *io;          /* an aligned page of scratch, locked */
	bool uring_ok, direct; /* direct: the file takes O_DIRECT */
	char uring_why[128];
#ifdef SWAPEMU_HAVE_LIBURING
	struct io_uring ring;
#endif
} P;

static void mismatch(struct harness *h, const char *how, uint64_t i)
{
	(*h_ev(h, "pin_mismatches", false))++;
	h_fail(h, "%s: page %llu differs between the pin and the mapping", how,
	       (unsigned long long)i);
}

/* Does the mapping of page i hold the stamp seq (no fault counted)? */
static bool mapping_is(struct harness *h, uint64_t i, uint64_t seq)
{
	return h_bad_word(h, (const uint64_t *)h_page(h, i), i, seq) < 0;
}

static bool file_page_is(struct harness *h, uint64_t i, off_t off, uint64_t seq)
{
	if (pread(P.file, P.io, PS, off) != PS)
		return false;
	return h_bad_word(h, P.io, i, seq) < 0;
}

/* Each returns true when the mechanism wrote seq+1 into the page (the
 * slot then needs no rewrite); false when it only read it. */
static bool do_vmsplice(struct harness *h, uint64_t i, unsigned j)
{
	struct iovec v = {h_page(h, i), PS};
	bool wb = h_access_begin(h, j);
	ssize_t n = vmsplice(P.pipe[1], &v, 1, 0);
	if (n != PS)
		h_fail_exit("vmsplice: %s", n < 0 ? strerror(errno) : "short");
	h_access_end(h, i, j, wb);
	if (read(P.pipe[0], P.io, PS) != PS)
		h_fail_exit("read from the pipe: %s", strerror(errno));
	uint64_t want = h->seq[i] + (h_break(h, "pin-stale") ? 1 : 0);
	if (h_bad_word(h, P.io, i, want) >= 0)
		mismatch(h, "vmsplice", i);
	return false;
}

static bool do_uring(struct harness *h, uint64_t i, unsigned j, off_t off)
{
#ifdef SWAPEMU_HAVE_LIBURING
	struct iovec v = {h_page(h, i), PS};
	bool wb = h_access_begin(h, j);
	int e = io_uring_register_buffers(&P.ring, &v, 1);
	if (e) {
		h_fail(h, "io_uring_register_buffers: %s", strerror(-e));
		return false;
	}
	h_access_end(h, i, j, wb);
	/* The mapping writes seq+1; the ring writes the buffer out. */
	h_stamp_next(h, i);
	struct io_uring_sqe *sqe = io_uring_get_sqe(&P.ring);
	io_uring_prep_write_fixed(sqe, P.file, h_page(h, i), PS, off, 0);
	struct io_uring_cqe *cqe;
	if (io_uring_submit(&P.ring) != 1 || io_uring_wait_cqe(&P.ring, &cqe))
		h_fail_exit("io_uring write: cannot submit");
	int res = cqe->res;
	io_uring_cqe_seen(&P.ring, cqe);
	if (res != PS || !file_page_is(h, i, off, h->seq[i]))
		mismatch(h, "io_uring write_fixed", i);
	/* The file gets seq+2; the ring reads it into the buffer. */
	stamp_fill(P.io, h->run, i, h->seq[i] + 1);
	if (pwrite(P.file, P.io, PS, off) != PS)
		h_fail_exit("write to the scratch file: %s", strerror(errno));
	sqe = io_uring_get_sqe(&P.ring);
	io_uring_prep_read_fixed(sqe, P.file, h_page(h, i), PS, off, 0);
	if (io_uring_submit(&P.ring) != 1 || io_uring_wait_cqe(&P.ring, &cqe))
		h_fail_exit("io_uring read: cannot submit");
	res = cqe->res;
	io_uring_cqe_seen(&P.ring, cqe);
	io_uring_unregister_buffers(&P.ring);
	h->seq[i]++;
	if (res != PS || !mapping_is(h, i, h->seq[i]))
		mismatch(h, "io_uring read_fixed", i);
	return true;
#else
	(void)h, (void)i, (void)j, (void)off;
	return false;
#endif
}

static bool do_odirect_read(struct harness *h, uint64_t i, unsigned j,
                            off_t off)
{
	stamp_fill(P.io, h->run, i, h->seq[i] + 1);
	if (pwrite(P.file, P.io, PS, off) != PS)
		h_fail_exit("write to the scratch file: %s", strerror(errno));
	bool wb = h_access_begin(h, j);
	ssize_t n = pread(P.file, h_page(h, i), PS, off);
	h_access_end(h, i, j, wb);
	h->seq[i]++;
	if (n != PS || !mapping_is(h, i, h->seq[i]))
		mismatch(h, "O_DIRECT read", i);
	return true;
}

static bool do_odirect_write(struct harness *h, uint64_t i, unsigned j,
                             off_t off)
{
	bool wb = h_access_begin(h, j);
	ssize_t n = pwrite(P.file, h_page(h, i), PS, off);
	h_access_end(h, i, j, wb);
	if (n != PS || !file_page_is(h, i, off, h->seq[i]))
		mismatch(h, "O_DIRECT write", i);
	return false;
}

static bool do_vm_writev(struct harness *h, uint64_t i, unsigned j)
{
	stamp_fill(P.io, h->run, i, h->seq[i] + 1);
	struct iovec l = {P.io, PS}, r = {h_page(h, i), PS};
	bool wb = h_access_begin(h, j);
	ssize_t n = process_vm_writev(getpid(), &l, 1, &r, 1, 0);
	h_access_end(h, i, j, wb);
	h->seq[i]++;
	if (n != PS || !mapping_is(h, i, h->seq[i]))
		mismatch(h, "process_vm_writev", i);
	return true;
}

static bool do_proc_mem(struct harness *h, uint64_t i, unsigned j)
{
	stamp_fill(P.io, h->run, i, h->seq[i] + 1);
	bool wb = h_access_begin(h, j);
	ssize_t n = pwrite(P.mem, P.io, PS, (off_t)(uintptr_t)h_page(h, i));
	h_access_end(h, i, j, wb);
	h->seq[i]++;
	if (n != PS || !mapping_is(h, i, h->seq[i]))
		mismatch(h, "/proc/self/mem", i);
	return true;
}

static void batch(struct harness *h, uint64_t start, unsigned n)
{
	static unsigned turn;
	if (!h_page_out(h, start, n))
		return;
	for (unsigned j = 0; j < n; j++) {
		if (!h->swapped[j])
			continue;
		uint64_t i = start + j;
		off_t off = (off_t)(j * PS);
		enum mech m = (enum mech)(turn++ % M_N);
		if (m == M_URING && !P.uring_ok)
			m = M_VMSPLICE;
		if ((m == M_ODIRECT_READ || m == M_ODIRECT_WRITE) && !P.direct)
			m = M_VM_WRITEV;
		bool wrote = false;
		switch (m) {
		case M_VMSPLICE:
			wrote = do_vmsplice(h, i, j);
			break;
		case M_URING:
			wrote = do_uring(h, i, j, off);
			break;
		case M_ODIRECT_READ:
			wrote = do_odirect_read(h, i, j, off);
			break;
		case M_ODIRECT_WRITE:
			wrote = do_odirect_write(h, i, j, off);
			break;
		case M_VM_WRITEV:
			wrote = do_vm_writev(h, i, j);
			break;
		default:
			wrote = do_proc_mem(h, i, j);
			break;
		}
		(*h_ev(h, mech_ev[m], true))++;
		if (wrote)
			h->swapped[j] = 0; /* no rewrite */
	}
	/* The R/O-pinned pages are now written in the mapping. */
	h_rewrite(h, start, n, true);
}

/* An O_DIRECT scratch file in a directory on a real file system (tmpfs
 * may not take O_DIRECT). */
static int scratch_file(char *why, size_t len)
{
	static const char *const dirs[] = {"/var/tmp", "/tmp", "/root", "/"};
	for (size_t k = 0; k < sizeof dirs / sizeof *dirs; k++) {
		int fd = open(dirs[k],
		              O_TMPFILE | O_RDWR | O_DIRECT | O_CLOEXEC, 0600);
		if (fd >= 0)
			return fd;
		snprintf(why, len, "%s: %s", dirs[k], strerror(errno));
	}
	return -1;
}

static void run(struct harness *h)
{
	char why[256];
	h_region(h, h->o->pages, 0, false);
	P.file = scratch_file(why, sizeof why);
	P.direct = P.file >= 0;
	if (!P.direct) {
		/* No O_DIRECT here (e.g. a guest's initramfs): the other
		 * mechanisms still run, on a memfd for io_uring. */
		h_note(h, "O_DIRECT not tried: no file system takes it (%s)",
		       why);
		P.file = memfd_create("swapemu-pin", MFD_CLOEXEC);
		if (P.file < 0)
			h_fail_exit("memfd_create: %s", strerror(errno));
	}
	P.mem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	if (P.mem < 0)
		h_fail_exit("cannot open /proc/self/mem: %s", strerror(errno));
	if (pipe2(P.pipe, O_CLOEXEC))
		h_fail_exit("pipe: %s", strerror(errno));
	if (posix_memalign((void **)&P.io, PS, PS))
		h_fail_exit("out of memory");
	P.uring_ok = false;
#ifdef SWAPEMU_HAVE_LIBURING
	int e = io_uring_queue_init(4, &P.ring, 0);
	if (e)
		snprintf(P.uring_why, sizeof P.uring_why,
		         "io_uring unavailable (%s)", strerror(-e));
	else
		P.uring_ok = true;
#else
	snprintf(P.uring_why, sizeof P.uring_why,
	         "built without liburing (SWAPEMU_HAVE_LIBURING)");
#endif
	if (!P.uring_ok)
		h_note(h, "io_uring fixed buffers not tried: %s", P.uring_why);
	for (unsigned m = 0; m < M_N; m++)
		h_ev(h, mech_ev[m],
		     (m != M_URING || P.uring_ok) &&
		         ((m != M_ODIRECT_READ && m != M_ODIRECT_WRITE) ||
		          P.direct));
	h_ev(h, "pin_mismatches", false);
	h_rounds(h, 2, false, batch);
#ifdef SWAPEMU_HAVE_LIBURING
	if (P.uring_ok)
		io_uring_queue_exit(&P.ring);
#endif
	close(P.pipe[0]);
	close(P.pipe[1]);
	close(P.mem);
	close(P.file);
	free(P.io);
	P.io = NULL;
}

const struct scenario scenario_pin = {
    .name = "pin",
    .summary = "vmsplice, io_uring fixed buffers, O_DIRECT, "
               "process_vm_writev, /proc/self/mem",
    .run = run,
};
