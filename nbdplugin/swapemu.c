/* swapemu.c - nbdkit-swapemu-plugin: the swapemu device model (lib/device.h)
 * served over NBD by nbdkit.
 *
 * The model is the same one the FUSE front end serves: a block store with a
 * checksum per 4 KiB block, classification of every captured page, the
 * stable-writes policy, counters, histograms, the event log and the
 * control socket. Only the moment of capture differs: here it is the call
 * of .pwrite, when nbdkit has already read the payload from the socket
 * (see nbdkit-swapemu-plugin.pod, "Choosing a front end").
 *
 * Life cycle: .config collects the parameters, .config_complete builds the
 * profile (file first, then the overrides in command-line order),
 * .get_ready opens the device (before nbdkit forks: nothing here starts a
 * thread), .after_fork starts the control socket's thread, .cleanup stops
 * it and .unload closes the device.
 */
#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "clock.h"
#include "control.h"
#include "device.h"
#include "profile.h"

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

#define MAX_OVERRIDES 1024      /* rules take several keys each */
#define MAX_REQUEST (32u << 20) /* advertised maximum request size */

struct override {
	const char *key; /* "size", "seed" or "section.key" */
	const char *value;
};

static struct {
	char *profile_path; /* absolute (nbdkit changes directory) */
	char *control_path;
	char *gentab_path;
	char *events_path;
	struct override overrides[MAX_OVERRIDES];
	int noverrides;
	int mlock; /* lock nbdkit's memory: needed when serving host swap */
} cfg;

static struct profile prof;
static struct device *dev;
static struct control *ctl;

/* Stalls: each request holds its own worker thread until the control
 * socket's "release". Polled, not a blocking wait, so that a stalled
 * request cannot keep nbdkit from shutting down. */
static _Atomic uint64_t release_gen;

static void on_release(void *opaque)
{
	(void)opaque;
	atomic_fetch_add(&release_gen, 1);
}

/* nbdkit_disconnect (nbdkit >= 1.34) drops one client; older servers can
 * only shut down altogether. Looked up at run time. */
static void (*disconnect_fn)(int force);

static void swapemu_unload(void)
{
	control_stop(ctl);
	ctl = NULL;
	if (dev)
		device_on_release(dev, NULL, NULL);
	device_close(dev);
	dev = NULL;
	free(cfg.profile_path);
	free(cfg.control_path);
	free(cfg.gentab_path);
	free(cfg.events_path);
	memset(&cfg, 0, sizeof cfg);
}

/* A path parameter, given once, made absolute. */
static int config_path(char **slot, const char *key, const char *value)
{
	if (*slot) {
		nbdkit_error("swapemu: %s= given twice", key);
		return -1;
	}
	if (!*value) {
		nbdkit_error("swapemu: %s= needs a path", key);
		return -1;
	}
	*slot = nbdkit_absolute_path(value);
	return *slot ? 0 : -1; /* nbdkit_absolute_path reported the error */
}

static int swapemu_config(const char *key, const char *value)
{
	if (!strcmp(key, "profile"))
		return config_path(&cfg.profile_path, key, value);
	if (!strcmp(key, "control"))
		return config_path(&cfg.control_path, key, value);
	if (!strcmp(key, "gentab"))
		return config_path(&cfg.gentab_path, key, value);
	if (!strcmp(key, "events"))
		return config_path(&cfg.events_path, key, value);
	if (!strcmp(key, "mlock")) {
		int b = nbdkit_parse_bool(value);
		if (b < 0)
			return -1; /* nbdkit_parse_bool reported it */
		cfg.mlock = b;
		return 0;
	}
	if (strcmp(key, "size") && strcmp(key, "seed") && !strchr(key, '.')) {
		nbdkit_error("swapemu: unknown parameter '%s' (nbdkit "
		             "PLUGIN --help lists them)",
		             key);
		return -1;
	}
	if (cfg.noverrides == MAX_OVERRIDES) {
		nbdkit_error("swapemu: too many settings (at most %d)",
		             MAX_OVERRIDES);
		return -1;
	}
	/* nbdkit keeps key and value alive for the plugin's lifetime. */
	cfg.overrides[cfg.noverrides++] = (struct override){key, value};
	return 0;
}

/* size=: NUMBER[SUFFIX], suffixes b K M G T P E (powers of 1024), the
 * forms nbdkit_parse_size reads. Checked here first because
 * nbdkit_parse_size reports a failure itself, without naming the key, and
 * a second line would follow it. */
static int64_t parse_size_param(const char *v, char *err, size_t errlen)
{
	static const char suffixes[] = "bkmgtpe";
	size_t digits = strspn(v, "0123456789");
	const char *suf = v[digits] ? strchr(suffixes, v[digits] | 0x20) : NULL;
	if (!digits || (v[digits] && (!suf || v[digits + 1]))) {
		snprintf(err, errlen,
		         "bad size '%s' (use a number with an optional "
		         "suffix K, M, G, T, P or E, e.g. 64M)",
		         v);
		return -1;
	}
	/* Overflow: the number times 1024^shift must fit in int64_t. */
	unsigned shift = suf ? (unsigned)(suf - suffixes) : 0;
	uint64_t x = 0;
	for (size_t i = 0; i < digits; i++)
		if (__builtin_mul_overflow(x, 10, &x) ||
		    __builtin_add_overflow(x, (uint64_t)(v[i] - '0'), &x))
			x = UINT64_MAX;
	if (x > (uint64_t)INT64_MAX >> (10 * shift)) {
		snprintf(err, errlen,
		         "size '%s' is larger than NBD allows (2^63 - 1 bytes)",
		         v);
		return -1;
	}
	int64_t n = nbdkit_parse_size(v);
	if (n < 0)
		snprintf(err, errlen, "bad size '%s'", v);
	return n;
}

static int apply_override(const struct override *o, char *err, size_t errlen)
{
	if (!strcmp(o->key, "size")) {
		int64_t n = parse_size_param(o->value, err, errlen);
		if (n < 0)
			return -1;
		if (n == 0 || n % DEVICE_BLOCK) {
			snprintf(err, errlen,
			         "size '%s' must be a positive multiple of "
			         "4096",
			         o->value);
			return -1;
		}
		prof.size = (uint64_t)n;
		return 0;
	}
	/* KEY is SECTION.KEY, rule.NAME.KEY (nbdkit keys cannot hold the
	 * space of the profile's "[rule NAME]") or seed (device.seed). */
	char *section = NULL;
	const char *key = o->key, *dot;
	if (!strcmp(o->key, "seed")) {
		section = strdup("device");
	} else if (!strncmp(o->key, "rule.", 5)) {
		const char *name = o->key + 5;
		dot = strchr(name, '.');
		if (!dot || dot == name || !dot[1]) {
			snprintf(err, errlen,
			         "bad rule setting '%s' (use "
			         "rule.NAME.KEY=VALUE, e.g. "
			         "rule.slow.action=delay:5ms)",
			         o->key);
			return -1;
		}
		if (asprintf(&section, "rule %.*s", (int)(dot - name), name) <
		    0)
			section = NULL;
		key = dot + 1;
	} else {
		dot = strchr(o->key, '.'); /* swapemu_config saw one */
		section = strndup(o->key, (size_t)(dot - o->key));
		key = dot + 1;
	}
	char why[512] = "out of memory";
	int r = section ? profile_set_key(&prof, section, key, o->value, why,
	                                  sizeof why)
	                : -1;
	free(section);
	if (r)
		snprintf(err, errlen, "%.200s=%.200s: %s", o->key, o->value,
		         why);
	return r;
}

static int swapemu_config_complete(void)
{
	char err[1024];
	profile_defaults(&prof);
	if (cfg.profile_path &&
	    profile_load(&prof, cfg.profile_path, err, sizeof err)) {
		nbdkit_error("swapemu: %s", err);
		return -1;
	}
	for (int i = 0; i < cfg.noverrides; i++) {
		if (apply_override(&cfg.overrides[i], err, sizeof err)) {
			nbdkit_error("swapemu: %s", err);
			return -1;
		}
	}
	if (prof.size > INT64_MAX) {
		nbdkit_error("swapemu: size %" PRIu64 " is larger than NBD "
		             "allows (2^63 - 1)",
		             prof.size);
		return -1;
	}
	if (profile_finish(&prof, err, sizeof err)) {
		nbdkit_error("swapemu: %s", err);
		return -1;
	}
	/* The socket is served only after nbdkit has forked into the
	 * background, where errors go to syslog: whatever can be checked
	 * is checked now, while they still reach stderr and stop nbdkit. */
	if (cfg.control_path &&
	    control_check_path(cfg.control_path, err, sizeof err)) {
		nbdkit_error("swapemu: %s", err);
		return -1;
	}
	return 0;
}

static int swapemu_get_ready(void)
{
	char err[1024];
	dev = device_open(&prof, cfg.gentab_path, cfg.events_path, err,
	                  sizeof err);
	if (!dev) {
		nbdkit_error("swapemu: %s", err);
		return -1;
	}
	device_on_release(dev, on_release, NULL);
	disconnect_fn = (void (*)(int))dlsym(RTLD_DEFAULT, "nbdkit_disconnect");
	return 0;
}

/* Threads die with fork: the control socket is served from here. */
static int swapemu_after_fork(void)
{
	char err[1024];
	/* Serving the host's own swap, nbdkit must never be swapped onto
	 * itself; pages are locked as they are first touched. */
	if (cfg.mlock && mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)) {
		nbdkit_error("swapemu: mlock=yes: mlockall failed (errno %d)",
		             errno);
		return -1;
	}
	if (cfg.control_path &&
	    !(ctl = control_start(cfg.control_path, dev, err, sizeof err))) {
		nbdkit_error("swapemu: %s", err);
		return -1;
	}
	device_event_start(dev, "nbd");
	return 0;
}

static void swapemu_cleanup(void)
{
	control_stop(ctl);
	ctl = NULL;
}

static void swapemu_dump_plugin(void)
{
	printf("swapemu_front_end=nbd\n");
	printf("swapemu_block=%u\n", DEVICE_BLOCK);
}

static void *swapemu_open(int readonly)
{
	(void)readonly;
	return NBDKIT_HANDLE_NOT_NEEDED;
}

static int64_t swapemu_get_size(void *handle)
{
	(void)handle;
	return (int64_t)device_size(dev);
}

/* The device does read-modify-write for partial blocks, so any alignment
 * works; 4 KiB is where no RMW happens and pages are classified. */
static int swapemu_block_size(void *handle, uint32_t *minimum,
                              uint32_t *preferred, uint32_t *maximum)
{
	(void)handle;
	*minimum = 1;
	*preferred = DEVICE_BLOCK;
	*maximum = MAX_REQUEST;
	return 0;
}

static int swapemu_can_true(void *handle)
{
	(void)handle;
	return 1;
}

static int swapemu_can_fua(void *handle)
{
	(void)handle;
	return NBDKIT_FUA_NATIVE;
}

/* Zeroing drops blocks: fast in memory; a file store punches holes but
 * may fall back to writing zeros, which is not fast. */
static int swapemu_can_fast_zero(void *handle)
{
	(void)handle;
	return device_profile(dev)->store == STORE_MEMORY;
}

/* Sleeps in this request's worker thread only, to an absolute deadline.
 * 0, or -1 if nbdkit is shutting down or the client has gone (then
 * nbdkit_nanosleep says so). Not one long nbdkit_nanosleep: that polls
 * the connection's socket, and every thread asleep on it makes each
 * packet's wake-up walk one more waiter (10,000 writes in flight cost
 * seconds of CPU and made replies late). Slices of at most SLEEP_SLICE
 * with a zero-timeout check between them (a poll that registers no
 * waiter) stop within a slice instead. */
#define SLEEP_SLICE 1000000000ull /* 1 s */

static int sleep_ns(uint64_t ns)
{
	if (!ns)
		return 0;
	uint64_t due = now_ns() + ns;
	for (;;) {
		uint64_t now = now_ns();
		if (now >= due)
			return nbdkit_nanosleep(0, 0);
		uint64_t until =
		    due - now > SLEEP_SLICE ? now + SLEEP_SLICE : due;
		sleep_until_ns(until);
		if (until < due && nbdkit_nanosleep(0, 0))
			return -1;
	}
}

static int stall(void)
{
	uint64_t gen = atomic_load(&release_gen);
	device_stall_note(dev);
	while (atomic_load(&release_gen) == gen)
		if (nbdkit_nanosleep(0, 10 * 1000 * 1000))
			return -1;
	return 0;
}

static void disconnect(void)
{
	device_event(dev, "disconnect", OP_COUNT, 0, 0,
	             disconnect_fn ? "\"how\":\"nbdkit_disconnect\""
	                           : "\"how\":\"nbdkit_shutdown\"");
	if (disconnect_fn)
		disconnect_fn(1);
	else
		nbdkit_shutdown();
}

/* Adds what a second device call (the flush of a FUA request) asks. */
static void merge_io(struct dev_io *io, const struct dev_io *more)
{
	io->delay_ns += more->delay_ns;
	io->stall |= more->stall;
	io->disconnect |= more->disconnect;
}

/* FUA: the data must be stable before the reply. */
static int fua(uint32_t flags, int r, struct dev_io *io)
{
	if (!r && (flags & NBDKIT_FLAG_FUA)) {
		struct dev_io more;
		r = device_flush(dev, &more);
		merge_io(io, &more);
	}
	return r;
}

/* Ends a request: holds the reply as the device asked (delay, stall),
 * drops the connection if a rule said so, records the request, and turns
 * a negative errno into nbdkit's convention. Failures are in the event
 * log (violations, faults, store and checksum errors), so they go to
 * nbdkit's debug output (-v), not its error log: a torture run must not
 * flood it. */
static int finish(enum dev_op op, uint64_t start, uint64_t bytes, int r,
                  const struct dev_io *io, uint64_t off, uint32_t count)
{
	if (sleep_ns(io->delay_ns) || (io->stall && stall()))
		r = r ? r : -ESHUTDOWN;
	if (io->disconnect) {
		disconnect();
		r = -ESHUTDOWN;
	}
	device_end(dev, op, start, bytes, r);
	if (!r)
		return 0;
	/* strerrordesc_np, not strerror: no gettext, no locale (strerror in
	 * a worker thread left glibc's locale lock broken at exit when
	 * nbdkit ran with ASan preloaded). */
	nbdkit_debug("swapemu: %s at %" PRIu64 " length %" PRIu32 " failed: %s",
	             dev_op_name(op), off, count, strerrordesc_np(-r));
	nbdkit_set_error(-r);
	return -1;
}

static int swapemu_pread(void *handle, void *buf, uint32_t count,
                         uint64_t offset, uint32_t flags)
{
	(void)handle, (void)flags;
	struct dev_io io = {0};
	uint64_t start = device_begin(dev, OP_READ);
	int r = device_read(dev, buf, count, offset, &io);
	return finish(OP_READ, start, count, r, &io, offset, count);
}

static int swapemu_pwrite(void *handle, const void *buf, uint32_t count,
                          uint64_t offset, uint32_t flags)
{
	(void)handle;
	struct dev_io io = {0};
	uint64_t start = device_begin(dev, OP_WRITE);
	int r = 0;
	/* nbdkit has read the payload from the socket already: delaying
	 * the capture cannot make the client's later changes visible. */
	if (sleep_ns(device_capture_delay(dev)))
		r = -ESHUTDOWN;
	/* The capture. The reply then waits io.delay_ns (the completion
	 * delay plus any rule's), and the client's page stays under
	 * writeback until it comes. */
	if (!r)
		r = fua(flags, device_write(dev, buf, count, offset, &io), &io);
	return finish(OP_WRITE, start, count, r, &io, offset, count);
}

static int swapemu_flush(void *handle, uint32_t flags)
{
	(void)handle, (void)flags;
	struct dev_io io = {0};
	uint64_t start = device_begin(dev, OP_FLUSH);
	int r = device_flush(dev, &io);
	return finish(OP_FLUSH, start, 0, r, &io, 0, 0);
}

static int swapemu_trim(void *handle, uint32_t count, uint64_t offset,
                        uint32_t flags)
{
	(void)handle;
	struct dev_io io = {0};
	uint64_t start = device_begin(dev, OP_TRIM);
	int r = fua(flags, device_trim(dev, count, offset, &io), &io);
	return finish(OP_TRIM, start, count, r, &io, offset, count);
}

/* Zeroed blocks are dropped whether or not NBDKIT_FLAG_MAY_TRIM is set:
 * the store has no notion of allocation a client could observe, and they
 * read back as zeros either way. */
static int swapemu_zero(void *handle, uint32_t count, uint64_t offset,
                        uint32_t flags)
{
	(void)handle;
	if ((flags & NBDKIT_FLAG_FAST_ZERO) &&
	    device_profile(dev)->store != STORE_MEMORY) {
		nbdkit_set_error(ENOTSUP);
		return -1;
	}
	struct dev_io io = {0};
	uint64_t start = device_begin(dev, OP_ZERO);
	int r = fua(flags, device_zero(dev, count, offset, &io), &io);
	return finish(OP_ZERO, start, count, r, &io, offset, count);
}

static struct nbdkit_plugin plugin = {
    .name = "swapemu",
    .longname = "swapemu device model (swap pages under writeback)",
    .version = "1.0",
    .description =
        "Serves the swapemu device model: stamped-page classification,\n"
        "stable-writes policy, capture and completion delays, statistics\n"
        "and a control socket. See nbdkit-swapemu-plugin(1).",
    .unload = swapemu_unload,
    .config = swapemu_config,
    .config_complete = swapemu_config_complete,
    .config_help =
        "profile=FILE           Target profile (INI, see configs/).\n"
        "[size=]SIZE            Export size (overrides [device] size;\n"
        "                       a multiple of 4096, e.g. 64M).\n"
        "control=SOCKET         Serve the control socket at SOCKET.\n"
        "gentab=PATH            Generation table shared with the torture\n"
        "                       workload (created if missing).\n"
        "events=PATH            Append the event log (JSON lines) to PATH.\n"
        "mlock=yes              Lock nbdkit's memory (for host swap).\n"
        "seed=N                 Seed for the delay samplers (0 picks one).\n"
        "SECTION.KEY=VALUE      Any profile setting, applied after profile=,\n"
        "                       e.g. delay.capture=5ms delay.completion=\n"
        "                       exp:3ms stable-writes.require=yes\n"
        "                       stable-writes.on-violation=eio\n"
        "                       device.checksum=xxh3 device.store=file\n"
        "                       device.path=FILE.\n"
        "rule.NAME.KEY=VALUE    A fault-injection rule ([rule NAME] in a\n"
        "                       profile), e.g. rule.slow.op=write\n"
        "                       rule.slow.action=delay:5ms.",
    .magic_config_key = "size",
    .get_ready = swapemu_get_ready,
    .after_fork = swapemu_after_fork,
    .cleanup = swapemu_cleanup,
    .dump_plugin = swapemu_dump_plugin,
    .open = swapemu_open,
    .get_size = swapemu_get_size,
    .block_size = swapemu_block_size,
    .can_write = swapemu_can_true,
    .can_flush = swapemu_can_true,
    .can_trim = swapemu_can_true,
    .can_zero = swapemu_can_true,
    .can_fast_zero = swapemu_can_fast_zero,
    .can_fua = swapemu_can_fua,
    .can_multi_conn = swapemu_can_true,
    .pread = swapemu_pread,
    .pwrite = swapemu_pwrite,
    .flush = swapemu_flush,
    .trim = swapemu_trim,
    .zero = swapemu_zero,
    .errno_is_preserved = 0,
};

NBDKIT_REGISTER_PLUGIN(plugin)
