/* torture.c - swapemu-torture: runs the scenario suite (scenario.h)
 * against a swapemu target: each scenario swaps stamped pages out and
 * reaches them by one of the kernel's paths (a write fault, a read then a
 * write, fork, pins, KSM, userfaultfd-wp, mprotect, large folios) while
 * they may still be under writeback; then every page is checked. See
 * workload/USAGE.md.
 *
 * Only libc, libswapemu.a and optionally liburing (SWAPEMU_HAVE_LIBURING):
 * the program may be linked statically for a VM guest.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cgroup.h"
#include "clock.h"
#include "protect.h"
#include "harness.h"
#include "kmsg.h"
#include "pagemap.h"
#include "scenario.h"
#include "stamp.h"
#include "target.h"

/* Set by SIGINT/SIGTERM: the run stops at the next batch. */
static volatile sig_atomic_t stop_signal;

static struct {
	struct torture_opts o;
	struct torture_result r;
	struct target tgt;
	struct target *t; /* &tgt when a device is present */
	struct memcg cg;
	struct harness h;
	const struct scenario *sel[TORTURE_MAX_SCENARIOS];
	unsigned nsel;
} S;

#define die h_die

static void cleanup(void)
{
	h_cleanup();
	memcg_leave(&S.cg);
	target_unpublish(S.t);
	pagemap_close();
	kmsg_close();
}

static void usage(FILE *f)
{
	fprintf(f, "usage: swapemu-torture [--scenario NAME[,NAME...]|all] "
	           "[--target NAME] [--pages N]\n"
	           "                       [--seconds S] [--swapouts K] "
	           "[--rounds R] [--modify-ms M]\n"
	           "                       [--write-after-us U] [--batch B] "
	           "[--seed X]\n"
	           "                       [--json | --ktap] [--quiet]\n"
	           "                       [--gentab PATH|ivshmem] "
	           "[--control SOCKET|shm]\n"
	           "\n"
	           "Runs scenarios that swap stamped pages out with "
	           "MADV_PAGEOUT and reach them\n"
	           "by one kernel path each, both while they may still be "
	           "under writeback and\n"
	           "after writeback ended; then swaps everything out, drops "
	           "the swap cache and\n"
	           "checks every page. A swapemu target's device classifies "
	           "each captured page\n"
	           "as clean, torn or modified. Each scenario passes, fails or "
	           "skips, with the\n"
	           "reason and its evidence counts.\n"
	           "\n"
	           "  --scenario S    scenarios to run, comma-separated, or "
	           "'all' (default write):\n");
	for (unsigned k = 0; k < nscenarios; k++)
		fprintf(f, "                    %-12s %s\n", scenarios[k]->name,
		        scenarios[k]->summary);
	fprintf(f,
	        "  --target NAME   the target (default: the only one "
	        "attached, or none)\n"
	        "  --pages N       stamped pages per scenario (default 512)\n"
	        "  --seconds S     write: stop after S seconds, 0 = no limit "
	        "(default 10)\n"
	        "  --swapouts K    write: stop after K swap-outs, 0 = no "
	        "limit (default 0)\n"
	        "  --rounds R      the other scenarios: rounds over their "
	        "pages (default 2, at least 2)\n"
	        "  --modify-ms M   each rewrite takes M ms (default 10)\n"
	        "  --write-after-us U\n"
	        "                  write: wait U µs after each swap-out before "
	        "the first\n"
	        "                  write (default 0: at once); a device whose "
	        "capture delay\n"
	        "                  is shorter has captured the page by then\n"
	        "  --batch B       pages per MADV_PAGEOUT call (default 32)\n"
	        "  --seed X        seed of the run ids (default: from time "
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
	        "  --ktap          KTAP on stdout: one test per scenario\n"
	        "  --quiet         no progress messages on stderr\n"
	        "  --test-break W  TESTS ONLY: break the run on purpose to "
	        "show a check fails\n"
	        "                  (corrupt, lose, kmsg, fork-shared, "
	        "uffd-no-wp, pin-stale,\n"
	        "                  ksm-unmergeable, mprotect-skip; "
	        "comma-separated)\n"
	        "  --help          this text\n"
	        "\n"
	        "Needs root. Exit status: 0 when every scenario passed or "
	        "skipped and the\n"
	        "kernel logged no problem; 1 when a scenario failed, the "
	        "kernel logged a\n"
	        "problem (BUG, Oops, WARNING, ...) or on an internal "
	        "failure; 2 on a usage\n"
	        "or setup error; 128+N when stopped by signal N (the report "
	        "is still printed).\n");
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

static void select_scenarios(const char *list)
{
	if (!strcmp(list, "all")) {
		for (unsigned k = 0; k < nscenarios; k++)
			S.sel[S.nsel++] = scenarios[k];
		return;
	}
	char buf[512];
	snprintf(buf, sizeof buf, "%s", list);
	for (char *save, *n = strtok_r(buf, ",", &save); n;
	     n = strtok_r(NULL, ",", &save)) {
		unsigned k;
		for (k = 0; k < nscenarios; k++)
			if (!strcmp(scenarios[k]->name, n))
				break;
		if (k == nscenarios) {
			char known[512] = "";
			for (unsigned m = 0; m < nscenarios; m++)
				snprintf(known + strlen(known),
				         sizeof known - strlen(known), "%s%s",
				         m ? ", " : "", scenarios[m]->name);
			die("--scenario: unknown scenario '%s' (known: %s, "
			    "or all)",
			    n, known);
		}
		bool dup = false;
		for (unsigned m = 0; m < S.nsel; m++)
			dup |= S.sel[m] == scenarios[k];
		if (!dup && S.nsel < TORTURE_MAX_SCENARIOS)
			S.sel[S.nsel++] = scenarios[k];
	}
	if (!S.nsel)
		die("--scenario needs at least one name (see --help)");
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
		O_WRITE_AFTER,
		O_GENTAB,
		O_CONTROL,
		O_SCENARIO,
		O_ROUNDS,
		O_KTAP,
		O_BREAK
	};
	static const struct option lo[] = {
	    {"target", required_argument, NULL, O_TARGET},
	    {"pages", required_argument, NULL, O_PAGES},
	    {"seconds", required_argument, NULL, O_SECONDS},
	    {"swapouts", required_argument, NULL, O_SWAPOUTS},
	    {"modify-ms", required_argument, NULL, O_MODIFY},
	    {"write-after-us", required_argument, NULL, O_WRITE_AFTER},
	    {"batch", required_argument, NULL, 'b'},
	    {"seed", required_argument, NULL, 's'},
	    {"gentab", required_argument, NULL, O_GENTAB},
	    {"control", required_argument, NULL, O_CONTROL},
	    {"scenario", required_argument, NULL, O_SCENARIO},
	    {"rounds", required_argument, NULL, O_ROUNDS},
	    {"ktap", no_argument, NULL, O_KTAP},
	    {"test-break", required_argument, NULL, O_BREAK},
	    {"json", no_argument, NULL, 'j'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {0}};
	struct torture_opts *o = &S.o;
	const char *scen = "write";
	o->pages = 512;
	o->seconds = 10;
	o->modify_ms = 10;
	o->batch = 32;
	o->rounds = 2;
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
		case O_SCENARIO:
			scen = optarg;
			break;
		case O_BREAK:
			o->test_break = optarg;
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
		case O_ROUNDS:
			o->rounds = parse_num("--rounds", optarg, 2, 1000000);
			break;
		case O_MODIFY:
			o->modify_ms =
			    parse_num("--modify-ms", optarg, 0, 3600000);
			break;
		case O_WRITE_AFTER:
			o->write_after_us =
			    parse_num("--write-after-us", optarg, 0, 10000000);
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
		case O_KTAP:
			o->ktap = true;
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
	if (o->json && o->ktap)
		die("--json and --ktap exclude each other");
	if (o->batch > o->pages)
		o->batch = o->pages;
	select_scenarios(scen);
}

static void on_signal(int sig)
{
	stop_signal = sig;
}

static bool zswap_enabled(void)
{
	char v[16];
	return !h_read_file("/sys/module/zswap/parameters/enabled", v,
	                    sizeof v) &&
	       (v[0] == 'Y' || v[0] == 'y' || v[0] == '1');
}

static void read_pswp(uint64_t *out)
{
	*out = 0;
	FILE *f = fopen("/proc/vmstat", "re");
	if (!f)
		return;
	char k[64];
	unsigned long long v;
	while (fscanf(f, "%63s %llu", k, &v) == 2)
		if (!strcmp(k, "pswpout"))
			*out = v;
	fclose(f);
}

int main(int argc, char **argv)
{
	const char *target = NULL, *gentab = NULL, *control = NULL;
	bool have_seed = false;
	char err[4096];
	struct torture_opts *o = &S.o;
	struct torture_result *r = &S.r;

	parse_args(argc, argv, &target, &gentab, &control, &have_seed);
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
		o->seed = mix64((uint64_t)ts.tv_sec * 1000000000ull +
		                (uint64_t)ts.tv_nsec) ^
		          ((uint64_t)getpid() << 16);
		o->seed &= (1ull << 53) - 1;
	}
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
			h_warn(
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
	r->dev.idle = true;
	if (pagemap_open(err, sizeof err))
		die("%s", err);
	if (!kmsg_open(err, sizeof err))
		h_warn("%s: kernel problems will not be reported", err);
	if (!h_any_swap_active())
		h_warn("no swap area is active: nothing will be swapped out");
	if (zswap_enabled())
		h_warn("zswap is enabled: swap-outs it keeps never reach the "
		       "swap device");

	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	/* Publish before entering the cgroup: the table's pages must not be
	 * charged to (and reclaimed with) the run's cgroup. */
	/* large-folio maps 640 pages whatever --pages says. */
	o->table_pages = o->pages < 640 ? 640 : o->pages;
	if (S.t && target_publish(S.t, mix64(o->seed) | 1, o->table_pages,
	                          &stop_signal, err, sizeof err))
		die("%s", err);

	if (memcg_enter(&S.cg, err, sizeof err))
		h_warn("%s; the swap cache will not be dropped before the "
		       "final check",
		       err);
	r->cgroup = S.cg.version == 2 ? "v2" : S.cg.version == 1 ? "v1" : NULL;

	/* Only the stamped pages may be swapped: the workload's own memory
	 * stays locked, so a device that loses, corrupts or fails a page can
	 * damage the measured pages but never the program measuring them. */
	protect_memory("swapemu-torture", PROTECT_LOCK_ONFAULT);

	h_init(&S.h, o, r, S.t, &S.cg, &stop_signal);
	uint64_t out0, out1;
	read_pswp(&out0);
	uint64_t t0 = now_ns();
	for (unsigned k = 0; k < S.nsel && !stop_signal; k++) {
		if (!o->quiet && S.nsel > 1)
			fprintf(stderr, "swapemu-torture: scenario %s\n",
			        S.sel[k]->name);
		h_run_scenario(&S.h, S.sel[k], k);
	}
	r->seconds = (double)(now_ns() - t0) / 1e9;
	read_pswp(&out1);
	r->kernel_pswpout = out1 - out0;
	r->interrupted = stop_signal != 0;

	if (o->json)
		report_json(o, r, stdout);
	else if (o->ktap)
		report_ktap(o, r, stdout);
	else
		report_human(o, r, stdout);
	if (fflush(stdout))
		h_fail_exit("cannot write the report: %s", strerror(errno));
	cleanup();
	if (stop_signal)
		return 128 + stop_signal;
	return r->failed || r->findings_total ? 1 : 0;
}
