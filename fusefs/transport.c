/* transport.c - how requests reach swapemu-fuse: reads of /dev/fuse
 * (capture.c), or FUSE over io_uring (uring.c). Here: the choice, the
 * kernel's switch for it, and the session's custom I/O that turns it on.
 *
 * libfuse 3.14 knows nothing of io_uring, so for that transport the
 * session reads and writes /dev/fuse through our hooks: the read hook
 * notes the kernel's INIT request (does it offer FUSE_OVER_IO_URING?);
 * the writev hook adds the flag to libfuse's INIT reply, starts the ring
 * queues once the kernel has the reply, and from then on sends each reply
 * to the ring entry holding its request (or to /dev/fuse for the few
 * requests that still come that way: FORGET, INTERRUPT). The /dev/fuse
 * transport installs no hooks: libfuse reads and writes as it always did.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <liburing.h>

#include "fusefs.h"
#include "uring-abi.h"

#define ENABLE_URING "/sys/module/fuse/parameters/enable_uring"

/* Whether auto picks io_uring where the kernel has it switched on (and
 * the capture delay is 0). Not yet: on this project's 2-CPU machine
 * (bench/fuse-bench.sh, bench/swap-bench.sh, 2026-11-30) it was faster
 * than /dev/fuse only at 4 KiB random I/O with 32 or more in flight,
 * even at depth 1 and 8 and at the swap level, and slower at 128 KiB
 * writes (0.83-0.91), the size swap-out mostly sends. A profile there
 * shows the daemon spending less CPU per request over io_uring (fewer
 * context switches; the same crc32c, copy and page pinning), so the likely
 * cost is that the kernel binds a request to a ring entry, and so to one
 * thread, when it dispatches it: a thread busy with a 128 KiB write holds
 * back the requests given to its other entries while another may idle,
 * where /dev/fuse's readers each take whatever comes next. */
#define AUTO_PREFERS_URING 0

static const char no_capture_delay[] =
    "the kernel copies a write into a ring entry when it dispatches it, "
    "before the daemon can wait (use --transport=dev)";

int transport_parse(const char *s, enum transport *t)
{
	static const char *names[] = {"auto", "dev", "uring"};
	for (int i = 0; i < 3; i++)
		if (!strcmp(s, names[i])) {
			*t = (enum transport)i;
			return 0;
		}
	return -1;
}

const char *transport_name(enum transport t)
{
	return t == TRANSPORT_URING ? "uring" : "dev";
}

/* enable_uring: 'Y', 'N', or 0 where this kernel has no FUSE io_uring. */
static char enable_uring(void)
{
	FILE *f = fopen(ENABLE_URING, "re");
	int c = f ? fgetc(f) : 0;
	if (f)
		fclose(f);
	return c == 'Y' || c == 'N' ? (char)c : 0;
}

static int set_enable_uring(char v)
{
	FILE *f = fopen(ENABLE_URING, "we");
	int ok = f && fputc(v, f) != EOF;
	if (f && fclose(f))
		ok = 0;
	return ok && enable_uring() == v ? 0 : -1;
}

/* Can this process set up an io_uring with 128-byte SQEs? (Not where
 * kernel.io_uring_disabled or a seccomp filter forbids it.) */
static int uring_works(char *why, size_t len)
{
	struct io_uring ring;
	int r = io_uring_queue_init(4, &ring, IORING_SETUP_SQE128);
	if (r) {
		snprintf(why, len, "io_uring_setup: %s", strerror(-r));
		return 0;
	}
	io_uring_queue_exit(&ring);
	return 1;
}

static void set_uring(struct fusefs *fs)
{
	fs->transport = TRANSPORT_URING;
	device_set_transport(fs->dev, transport_name(TRANSPORT_URING),
	                     no_capture_delay);
}

int transport_choose(struct fusefs *fs, enum transport want,
                     const struct profile *p, char *err, size_t errlen)
{
	char en = enable_uring(), why[128] = "";
	int delay0 = dist_is_zero(&p->capture);
	fs->transport = TRANSPORT_DEV;
	fs->transport_explicit = want == TRANSPORT_URING;
	device_set_transport(fs->dev, transport_name(TRANSPORT_DEV), NULL);
	if (want == TRANSPORT_DEV)
		return 0;
	if (want == TRANSPORT_AUTO) {
		if (AUTO_PREFERS_URING && en == 'Y' && delay0 &&
		    uring_works(why, sizeof why))
			set_uring(fs);
		return 0;
	}
	if (!en) {
		snprintf(
		    err, errlen,
		    "--transport=uring: this kernel has no FUSE over "
		    "io_uring (%s is missing; it needs Linux 6.14 or later "
		    "with CONFIG_FUSE_IO_URING)",
		    ENABLE_URING);
		return -1;
	}
	if (!delay0) {
		snprintf(err, errlen,
		         "--transport=uring needs delay.capture=0: %s",
		         no_capture_delay);
		return -1;
	}
	if (!uring_works(why, sizeof why)) {
		snprintf(err, errlen, "--transport=uring: %s", why);
		return -1;
	}
	if (en == 'N') {
		/* The switch is read when the kernel sends INIT and when it
		 * takes the reply; the connection keeps io_uring after it. */
		if (set_enable_uring('Y')) {
			snprintf(err, errlen,
			         "--transport=uring: %s is N and cannot be set "
			         "(%s)",
			         ENABLE_URING,
			         geteuid() ? "needs root" : strerror(errno));
			return -1;
		}
		fs->restore_enable_uring = 1;
		fprintf(stderr,
		        "swapemu-fuse: --transport=uring: set %s to Y for this "
		        "mount; it goes back to N once the mount is up\n",
		        ENABLE_URING);
	}
	set_uring(fs);
	return 0;
}

static void restore_enable_uring(struct fusefs *fs)
{
	if (!fs->restore_enable_uring)
		return;
	fs->restore_enable_uring = 0;
	if (set_enable_uring('N'))
		fprintf(stderr, "swapemu-fuse: cannot set %s back to N\n",
		        ENABLE_URING);
}

/* No ring after all: /dev/fuse serves (the kernel falls back by itself
 * when a registration fails), unless io_uring was asked for. */
static void fall_back(struct fusefs *fs, const char *why)
{
	if (fs->transport_explicit) {
		fprintf(stderr,
		        "swapemu-fuse: --transport=uring: %s; "
		        "exiting\n",
		        why);
		fuse_session_exit(fs->se);
		return;
	}
	fprintf(stderr, "swapemu-fuse: %s; using /dev/fuse\n", why);
	device_event(
	    fs->dev, "transport", OP_COUNT, 0, 0,
	    "\"transport\":\"dev\",\"reason\":\"io_uring could not start\"");
	device_set_transport(fs->dev, transport_name(TRANSPORT_DEV), NULL);
}

static void on_ring_failure(void *arg)
{
	fall_back(arg, "FUSE over io_uring could not start");
}

static ssize_t hook_read(int fd, void *buf, size_t len, void *userdata)
{
	struct fusefs *fs = userdata;
	ssize_t n = read(fd, buf, len);
	const struct fuse_in_header *in = buf;
	if (n >= (ssize_t)(sizeof *in + sizeof(struct fuse_init_in)) &&
	    in->opcode == FUSE_INIT && !fs->init_unique) {
		const struct fuse_init_in *arg = (const void *)(in + 1);
		fs->init_offered = (arg->flags & FUSE_INIT_EXT) &&
		                   (arg->flags2 & (FUSE_OVER_IO_URING >> 32));
		fs->init_unique = in->unique;
	}
	return n;
}

/* The INIT reply: ask for io_uring where the kernel offers it; once the
 * kernel has taken the reply, the connection is initialised and the ring
 * entries may register. */
static ssize_t init_reply(struct fusefs *fs, int fd, struct iovec *iov,
                          int count)
{
	const struct fuse_out_header *out = iov[0].iov_base;
	struct fuse_init_out *arg = count == 2 && iov[1].iov_len >= sizeof *arg
	                                ? iov[1].iov_base
	                                : NULL;
	int ask = fs->init_offered && arg && !out->error;
	if (ask) {
		arg->flags |= FUSE_INIT_EXT;
		arg->flags2 |= (uint32_t)(FUSE_OVER_IO_URING >> 32);
	}
	ssize_t n = writev(fd, iov, count);
	int saved = errno;
	restore_enable_uring(fs);
	if (n < 0 || !arg || out->error) {
		errno = saved;
		return n;
	}
	if (!ask) {
		fall_back(fs, "the kernel did not offer FUSE over io_uring");
		return n;
	}
	/* The kernel's payload buffers: the largest request or reply. */
	size_t pages = arg->flags & FUSE_MAX_PAGES ? arg->max_pages : 32;
	size_t page = (size_t)sysconf(_SC_PAGESIZE); /* the kernel's unit */
	size_t payload = pages * page;
	if (payload < arg->max_write)
		payload = arg->max_write;
	if (payload < 8192)
		payload = 8192;
	if (uring_go(fs->uring, fd, (payload + page - 1) / page * page))
		on_ring_failure(fs);
	return n;
}

static ssize_t hook_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct fusefs *fs = userdata;
	const struct fuse_out_header *out = iov[0].iov_base;
	ssize_t n = uring_reply(fs->uring, iov, count);
	if (n != -2)
		return n;
	if (fs->init_unique && out->unique == fs->init_unique &&
	    !fs->init_done) {
		fs->init_done = 1;
		return init_reply(fs, fd, iov, count);
	}
	return writev(fd, iov, count);
}

int transport_install(struct fusefs *fs, struct fuse_session *se)
{
	fs->se = se;
	if (fs->transport != TRANSPORT_URING)
		return 0;
	static const struct fuse_custom_io io = {.read = hook_read,
	                                         .writev = hook_writev};
	fs->uring = uring_new(se);
	if (!fs->uring || uring_start(fs->uring, on_ring_failure, fs) ||
	    fuse_session_custom_io(se, &io, fuse_session_fd(se))) {
		fprintf(stderr, "swapemu-fuse: cannot start the io_uring "
		                "transport\n");
		return -1;
	}
	return 0;
}

void transport_stop(struct fusefs *fs)
{
	restore_enable_uring(fs);
	uring_stop(fs->uring); /* and frees it */
	fs->uring = NULL;
}
