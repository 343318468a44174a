/* helpers.c - the C tests' helper layer (see helpers.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <sys/mman.h>
#include <time.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libnbd.h>

#include "clock.h"
#include "ctlclient.h"
#include "helpers.h"
#include "gentab.h"

/* ---- TAP ---------------------------------------------------------------- */

static int tap_n, tap_failed, tap_planned;

void plan(int n)
{
	tap_planned = 1;
	printf("1..%d\n", n);
	fflush(stdout);
}

static void vline(const char *prefix, const char *fmt, va_list ap,
                  const char *suffix)
{
	fputs(prefix, stdout);
	vprintf(fmt, ap);
	fputs(suffix, stdout);
	putchar('\n');
	fflush(stdout);
}

int t_ok(int cond, const char *fmt, ...)
{
	char prefix[32];
	cond = !!cond;
	snprintf(prefix, sizeof prefix, "%sok %d - ", cond ? "" : "not ",
	         ++tap_n);
	va_list ap;
	va_start(ap, fmt);
	vline(prefix, fmt, ap, "");
	va_end(ap);
	if (!cond) {
		/* prove shows stderr, not TAP comments: a failure names
		 * itself in a CI log without -v. */
		tap_failed++;
		fprintf(stderr, "%s: %s", program_invocation_short_name,
		        prefix);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	return cond;
}

void skip(const char *why, const char *fmt, ...)
{
	char prefix[32], suffix[512];
	snprintf(prefix, sizeof prefix, "ok %d - ", ++tap_n);
	snprintf(suffix, sizeof suffix, " # SKIP %s", why);
	va_list ap;
	va_start(ap, fmt);
	vline(prefix, fmt, ap, suffix);
	va_end(ap);
}

void diag(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline("# ", fmt, ap, "");
	va_end(ap);
}

void skip_all(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline("1..0 # SKIP ", fmt, ap, "");
	va_end(ap);
	exit(T_EXIT_SKIP);
}

void bail_out(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline("Bail out! ", fmt, ap, "");
	va_end(ap);
	exit(T_EXIT_FAIL);
}

int t_finish(void)
{
	if (!tap_planned)
		printf("1..%d\n", tap_n);
	fflush(stdout);
	return tap_failed ? T_EXIT_FAIL : T_EXIT_PASS;
}

int t_failures(void)
{
	return tap_failed;
}

/* ---- temporary files ---------------------------------------------------- */

#define MAX_TMP_NAMES 64
static char tmpdir[64];
static char tmpnames[MAX_TMP_NAMES][PATH_MAX];
static int ntmpnames;

static int remove_one(const char *path, const struct stat *st, int flag,
                      struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

static void remove_tmpdir(void)
{
	if (tmpdir[0])
		nftw(tmpdir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	tmpdir[0] = 0;
}

/* Servers to kill on a signal or a hang (see t_nbd_start). */
static struct nbd_handle *volatile current;
static volatile sig_atomic_t timed_out;

static void kill_current(void)
{
	if (current)
		nbd_kill_subprocess(current, SIGKILL);
}

static void on_signal(int sig)
{
	kill_current();
	remove_tmpdir();
	signal(sig, SIG_DFL);
	raise(sig);
}

const char *t_tmpdir(void)
{
	if (tmpdir[0])
		return tmpdir;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/swapemu-test.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		tmpdir[0] = 0;
		bail_out("cannot make a temporary directory: %s",
		         strerror(errno));
	}
	atexit(remove_tmpdir);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	return tmpdir;
}

const char *t_tmp_path(const char *name)
{
	if (ntmpnames == MAX_TMP_NAMES)
		bail_out("more than %d temporary names", MAX_TMP_NAMES);
	char *p = tmpnames[ntmpnames++];
	snprintf(p, PATH_MAX, "%s/%s", t_tmpdir(), name);
	return p;
}

int t_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f)) {
		diag("%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- programs ----------------------------------------------------------- */

int t_have_program(const char *prog)
{
	if (strchr(prog, '/'))
		return access(prog, X_OK) == 0;
	const char *path = getenv("PATH");
	char cand[PATH_MAX];
	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		size_t n = strcspn(p, ":");
		snprintf(cand, sizeof cand, "%.*s/%s", (int)n, p, prog);
		if (n && access(cand, X_OK) == 0)
			return 1;
		p += n + (p[n] == ':');
	}
	return 0;
}

const char *t_self_dir(void)
{
	static char dir[PATH_MAX];
	if (!dir[0]) {
		char self[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
		self[n < 0 ? 0 : n] = 0;
		snprintf(dir, sizeof dir, "%s", dirname(self));
	}
	return dir;
}

/* ---- an nbdkit server on the swapemu plugin ------------------------------ */

static const char *nbdkit_bin;
static char plugin[PATH_MAX];

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

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
	kill_current();
}

void t_nbd_require(void)
{
	nbdkit_bin = getenv("SWAPEMU_NBDKIT");
	if (!nbdkit_bin || !*nbdkit_bin)
		nbdkit_bin = "nbdkit";
	const char *env = getenv("SWAPEMU_NBD_PLUGIN");
	if (env && *env)
		snprintf(plugin, sizeof plugin, "%s", env);
	else /* build/tests/x.t -> build/nbdkit-swapemu-plugin.so */
		snprintf(plugin, sizeof plugin,
		         "%s/../nbdkit-swapemu-plugin.so", t_self_dir());
	if (!t_have_program(nbdkit_bin))
		skip_all("%s not found (apt-get install nbdkit)", nbdkit_bin);
	if (access(plugin, R_OK))
		skip_all("%s not found (make build/nbdkit-swapemu-plugin.so)",
		         plugin);
	preload_asan();
	t_tmpdir(); /* signal handlers that also kill the server */
	signal(SIGALRM, on_alarm);
}

struct nbd_handle *t_nbd_start(const char *ctl, ...)
{
	char *argv[40];
	int n = 0;
	char ctlarg[PATH_MAX + 16];
	argv[n++] = (char *)nbdkit_bin;
	argv[n++] = "-s";
	argv[n++] = "--exit-with-parent";
	argv[n++] = plugin;
	argv[n++] = "size=64M";
	snprintf(ctlarg, sizeof ctlarg, "control=%s", ctl);
	argv[n++] = ctlarg;
	va_list ap;
	va_start(ap, ctl);
	for (char *a; (a = va_arg(ap, char *));) {
		if (n == 39)
			bail_out("t_nbd_start: too many arguments");
		argv[n++] = a;
	}
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

void t_nbd_close(struct nbd_handle *h)
{
	alarm(20);
	nbd_close(h);
	alarm(0);
	current = NULL;
	ok(!timed_out, "nbdkit exited when the client disconnected");
}

/* ---- the device model -----------------------------------------------------
 */

char *device_text(struct device *d, void (*report)(struct device *, FILE *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	report(d, f);
	fclose(f);
	return buf;
}

/* ---- the control socket ---------------------------------------------------
 */

char *t_ctl_body(const char *sock, const char *cmd)
{
	char err[512], *body = NULL;
	if (ctl_request(sock, cmd, &body, NULL, err, sizeof err)) {
		diag("control '%s': %s", cmd, err);
		return NULL;
	}
	return body;
}

uint64_t t_counter(const char *body, const char *key)
{
	uint64_t v;
	if (!body || ctl_counter(body, key, &v))
		return UINT64_MAX;
	return v;
}

void t_check_counters(const char *sock, const char *what, ...)
{
	char *body = t_ctl_body(sock, "counters");
	int good = body != NULL;
	va_list ap;
	va_start(ap, what);
	for (const char *key; (key = va_arg(ap, const char *));) {
		uint64_t want = va_arg(ap, uint64_t);
		uint64_t got = t_counter(body, key);
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

/* ---- small things ------------------------------------------------------- */

double t_now_ms(void)
{
	return (double)now_ns() / 1e6;
}

int t_all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		if (c[i])
			return 0;
	return 1;
}

struct gentab *t_map_gentab(const char *path)
{
	char err[512];
	struct gentab *t =
	    gentab_open(path, GENTAB_ATTACH, GENTAB_SIZE, err, sizeof err);
	if (!t)
		diag("%s", err);
	return t;
}
