/* main.c - swapemu-fuse: serve one swapemu target as a file on FUSE. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control.h"
#include "fusefs.h"
#include "protect.h"

static const char usage[] =
    "usage: swapemu-fuse [OPTIONS] MOUNTPOINT\n"
    "Serve one swapemu target as the file MOUNTPOINT/NAME, for losetup\n"
    "--direct-io=on and swapon. Normally started by 'swapemu attach'.\n"
    "\n"
    "  -p, --profile FILE      target profile (INI; see configs/)\n"
    "  -s, --set S.KEY=VALUE   override one profile setting (repeatable),\n"
    "                          e.g. --set delay.capture=5ms\n"
    "  -n, --name NAME         name of the file (default: target)\n"
    "  -c, --control PATH      serve the control socket at PATH\n"
    "  -g, --gentab PATH       generation table shared with the torture\n"
    "                          workload (created if missing)\n"
    "  -e, --events PATH       append the event log (JSON lines) to PATH\n"
    "  -t, --capture-threads N threads reading /dev/fuse (default 4; each\n"
    "                          request waits its capture delay exactly,\n"
    "                          counted from when it became visible, for\n"
    "                          any number of threads)\n"
    "  -T, --transport MODE    how requests arrive: dev (reads of\n"
    "                          /dev/fuse), uring (FUSE over io_uring;\n"
    "                          needs delay.capture=0; sets the kernel's\n"
    "                          enable_uring for this mount if it is off)\n"
    "                          or auto (default; dev for now: uring was\n"
    "                          not faster for 128 KiB writes)\n"
    "  -P, --pidfile PATH      write the daemon's pid to PATH\n"
    "  -f, --foreground        stay in the foreground\n"
    "      --print-profile     check the profile, print it, and exit\n"
    "  -h, --help              this help\n"
    "\n"
    "SIGTERM or SIGINT unmounts and exits. Detach swap first: requests\n"
    "that arrive after exit fail.\n";

struct options {
	const char *profile, *name, *control, *gentab, *events, *pidfile;
	const char *mountpoint;
	int threads, foreground, print_profile;
	enum transport transport;
};

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "swapemu-fuse: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(2);
}

static void parse_options(int argc, char **argv, struct options *o,
                          struct profile *p)
{
	static const struct option longs[] = {
	    {"profile", required_argument, 0, 'p'},
	    {"set", required_argument, 0, 's'},
	    {"name", required_argument, 0, 'n'},
	    {"control", required_argument, 0, 'c'},
	    {"gentab", required_argument, 0, 'g'},
	    {"events", required_argument, 0, 'e'},
	    {"capture-threads", required_argument, 0, 't'},
	    {"pidfile", required_argument, 0, 'P'},
	    {"transport", required_argument, 0, 'T'},
	    {"foreground", no_argument, 0, 'f'},
	    {"print-profile", no_argument, 0, 1},
	    {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0}};
	/* Settings apply after the profile, whatever their order. */
	const char *sets[64];
	int nsets = 0, c;
	char err[1024];
	*o = (struct options){.name = "target", .threads = 4};
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:s:n:c:g:e:t:P:T:fh", longs,
	                        NULL)) != -1) {
		switch (c) {
		case 'p':
			o->profile = optarg;
			break;
		case 's':
			if (nsets == 64)
				die("too many --set options%s", "");
			sets[nsets++] = optarg;
			break;
		case 'n':
			if (!*optarg || strchr(optarg, '/') ||
			    !strcmp(optarg, ".") || !strcmp(optarg, ".."))
				die("bad file name '%s'", optarg);
			o->name = optarg;
			break;
		case 'c':
			o->control = optarg;
			break;
		case 'g':
			o->gentab = optarg;
			break;
		case 'e':
			o->events = optarg;
			break;
		case 't': {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*end || n < 1 || n > 256)
				die("bad --capture-threads '%s' (use 1 to 256)",
				    optarg);
			o->threads = (int)n;
			break;
		}
		case 'P':
			o->pidfile = optarg;
			break;
		case 'T':
			if (transport_parse(optarg, &o->transport))
				die("bad --transport '%s' (use auto, dev or "
				    "uring)",
				    optarg);
			break;
		case 'f':
			o->foreground = 1;
			break;
		case 1:
			o->print_profile = 1;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		case ':':
			die("option '%s' needs a value", argv[optind - 1]);
			break;
		default:
			die("unknown option '%s' (see --help)",
			    argv[optind - 1]);
		}
	}
	profile_defaults(p);
	if (o->profile && profile_load(p, o->profile, err, sizeof err))
		die("%s", err);
	for (int i = 0; i < nsets; i++)
		if (profile_set(p, sets[i], err, sizeof err))
			die("%s", err);
	if (profile_finish(p, err, sizeof err))
		die("%s", err);
	if (o->print_profile) {
		profile_write(p, stdout);
		exit(0);
	}
	if (optind != argc - 1)
		die("%s", optind == argc ? "missing MOUNTPOINT (see --help)"
		                         : "too many arguments (see --help)");
	o->mountpoint = argv[optind];
	struct stat st;
	if (stat(o->mountpoint, &st))
		die("mount point %s does not exist", o->mountpoint);
	if (!S_ISDIR(st.st_mode))
		die("mount point %s is not a directory", o->mountpoint);
}

int main(int argc, char **argv)
{
	struct options o;
	struct profile p;
	char err[1024];
	/* Every file the daemon creates (gentab, event log, control socket,
	 * pid file) holds or reaches swapped memory: owner only. */
	umask(077);
	parse_options(argc, argv, &o, &p);

	struct device *dev =
	    device_open(&p, o.gentab, o.events, err, sizeof err);
	if (!dev)
		die("%s", err);
	struct fusefs fs = {.dev = dev, .file_name = o.name};
	if (transport_choose(&fs, o.transport, &p, err, sizeof err))
		die("%s", err);
	/* Resolved before mounting: afterwards the path is ours to serve. */
	if (!realpath(o.mountpoint, fs.mountpoint))
		snprintf(fs.mountpoint, sizeof fs.mountpoint, "%s",
		         o.mountpoint);
	/* allow_other lets root's loop device and QEMU reach a file that
	 * another root process mounted; default_permissions makes the kernel
	 * enforce the file's mode (0600, root) so nobody else can open it. */
	char *fargv[] = {argv[0], "-o", "allow_other,default_permissions",
	                 NULL};
	struct fuse_args args = FUSE_ARGS_INIT(geteuid() == 0 ? 3 : 1, fargv);
	struct fuse_session *se =
	    fuse_session_new(&args, &fusefs_ops, sizeof fusefs_ops, &fs);
	fuse_opt_free_args(&args);
	if (!se) {
		transport_stop(&fs); /* enable_uring as it was */
		die("cannot create the FUSE session%s", "");
	}
	if (fuse_session_mount(se, o.mountpoint)) {
		fuse_session_destroy(se);
		transport_stop(&fs);
		die("cannot mount on %s (is /dev/fuse available?)",
		    o.mountpoint);
	}
	struct control *ctl = NULL;
	int rc = 1;
	if (fuse_daemonize(o.foreground))
		goto unmount;
	/* Everything below runs in the daemon. */
	if (o.pidfile) {
		FILE *f = fopen(o.pidfile, "w");
		if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f)) {
			fprintf(stderr, "swapemu-fuse: %s: %s\n", o.pidfile,
			        strerror(errno));
			goto unmount;
		}
	}
	if (o.control &&
	    !(ctl = control_start(o.control, dev, err, sizeof err))) {
		fprintf(stderr, "swapemu-fuse: %s\n", err);
		goto unmount;
	}
	fs.completer = completer_start(dev);
	if (!fs.completer || fuse_set_signal_handlers(se) ||
	    transport_install(&fs, se))
		goto unmount;
	/* Never wait on memory the daemon itself serves as swap: locked (on
	 * fault: the store's reserved map gets pages as it is written), away
	 * from the OOM killer, an I/O flusher where the kernel lets it. */
	protect_memory("swapemu-fuse",
	               PROTECT_LOCK_ONFAULT | PROTECT_OOM | PROTECT_IO_FLUSHER);
	device_event_start(dev, "fuse");
	rc = capture_run(se, dev, o.threads) ? 1 : 0;
	fuse_remove_signal_handlers(se);
unmount:
	/* The completer sends what it holds while the rings still run; the
	 * ring threads (which may still be in a request and reply at once
	 * once the completer stopped) are joined before the completer goes. */
	completer_stop(fs.completer);
	transport_stop(&fs);
	completer_free(fs.completer);
	control_stop(ctl);
	fuse_session_unmount(se);
	fuse_session_destroy(se);
	device_close(dev);
	if (o.pidfile)
		unlink(o.pidfile);
	return rc;
}
