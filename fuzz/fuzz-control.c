/* fuzz-control.c - libFuzzer harness for the control protocol (lib/control.h
 * with every command of lib/commands.c) against a device with a
 * memory store (lib/device.h).
 *
 * Each input is a list of command lines. Every line goes over the control
 * socket on its own connection, as swapemu-ctl sends it; then the harness
 * does I/O through the device model. It checks what the protocol and the
 * model promise:
 *  - every non-empty command line gets a reply whose last line is "ok" or
 *    "error: REASON", within 5 s;
 *  - with no fault rule left in force, what was written reads back intact;
 *  - no request outside the device succeeds;
 *  - empty, unaligned and misaligned requests are handled (the sanitizers
 *    check them).
 * A violated promise aborts, which libFuzzer reports as a crash.
 *
 * Left out on purpose: "events --follow" (streams until the client hangs
 * up) and "load" of anything but the profiles the harness writes into
 * PROFILE_DIR at start (from $SWAPEMU_FUZZ_CONFIGS, default configs/): a
 * fuzzer must not read /dev/zero or the rest of the machine.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "control.h"
#include "device.h"

#define PROFILE_DIR "/tmp/swapemu-fuzz-profiles"
#define DEV_SIZE (16u << 20)
#define MAX_LINE 4000 /* the server reads at most 4095 bytes */
#define MAX_REPLY (1u << 22)

static struct device *dev;
static char sock_path[108];
static int nprofiles;

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz-control: %s: %s\n", what, detail);
	abort();
}

/* Copies the shipped profiles to PROFILE_DIR/N.conf, so that seeds can say
 * "load /tmp/swapemu-fuzz-profiles/3.conf". */
static void copy_profiles(void)
{
	const char *src = getenv("SWAPEMU_FUZZ_CONFIGS");
	if (!src)
		src = "configs";
	mkdir(PROFILE_DIR, 0700);
	struct dirent **ents;
	int n = scandir(src, &ents, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		const char *nm = ents[i]->d_name;
		size_t l = strlen(nm);
		char from[4096], to[256], buf[65536];
		if (l > 5 && !strcmp(nm + l - 5, ".conf")) {
			snprintf(from, sizeof from, "%s/%s", src, nm);
			snprintf(to, sizeof to, PROFILE_DIR "/%d.conf",
			         nprofiles++);
			FILE *in = fopen(from, "r"), *out = fopen(to, "w");
			size_t got = in ? fread(buf, 1, sizeof buf, in) : 0;
			if (out)
				fwrite(buf, 1, got, out);
			if (in)
				fclose(in);
			if (out)
				fclose(out);
		}
		free(ents[i]);
	}
	if (n >= 0)
		free(ents);
}

static void stop(void)
{
	char p[64];
	unlink(sock_path);
	for (int i = 0; i < nprofiles; i++) {
		snprintf(p, sizeof p, PROFILE_DIR "/%d.conf", i);
		unlink(p);
	}
	rmdir(PROFILE_DIR);
}

/* Removes /tmp/PREFIXPID files whose process is gone: a crashing or
 * killed harness cannot clean up after itself. */
static void remove_stale(const char *prefix)
{
	DIR *dir = opendir("/tmp");
	struct dirent *e;
	size_t pl = strlen(prefix);
	while (dir && (e = readdir(dir))) {
		char p[300], proc[64];
		if (strncmp(e->d_name, prefix, pl))
			continue;
		snprintf(proc, sizeof proc, "/proc/%ld",
		         strtol(e->d_name + pl, NULL, 10));
		snprintf(p, sizeof p, "/tmp/%s", e->d_name);
		if (access(proc, F_OK))
			unlink(p);
	}
	if (dir)
		closedir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	char err[512];
	remove_stale("swapemu-fuzz-ctl.");
	struct profile p;
	profile_defaults(&p);
	p.size = DEV_SIZE;
	p.seed = 1;
	if (profile_finish(&p, err, sizeof err))
		die("profile", err);
	if (!(dev = device_open(&p, NULL, NULL, err, sizeof err)))
		die("device_open", err);
	snprintf(sock_path, sizeof sock_path, "/tmp/swapemu-fuzz-ctl.%d",
	         (int)getpid());
	struct control *c = control_start(sock_path, dev, err, sizeof err);
	if (!c)
		die("control_start", err);
	copy_profiles();
	atexit(stop);
	return 0;
}

/* Sends one command line and checks the reply's last line. */
static void command(const char *line, size_t len)
{
	static char reply[MAX_REPLY + 1];
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	memcpy(a.sun_path, sock_path, strlen(sock_path));
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a))
		die("connect", strerror(errno));
	if (write(fd, line, len) != (ssize_t)len || write(fd, "\n", 1) != 1)
		die("send", strerror(errno));
	shutdown(fd, SHUT_WR);
	size_t n = 0;
	uint64_t deadline = now_ms() + 5000;
	for (;;) {
		struct pollfd pf = {fd, POLLIN, 0};
		uint64_t t = now_ms();
		if (t >= deadline || poll(&pf, 1, (int)(deadline - t)) == 0)
			die("no reply within 5 s to", line);
		ssize_t r = read(fd, reply + n, MAX_REPLY - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("read", strerror(errno));
		if (r == 0)
			break;
		n += r;
		if (n == MAX_REPLY) /* a long event log: only its end matters */
			n = 0;
	}
	close(fd);
	reply[n] = 0;
	/* The last line. */
	while (n && reply[n - 1] == '\n')
		reply[--n] = 0;
	char *last = strrchr(reply, '\n');
	last = last ? last + 1 : reply;
	if (strcmp(last, "ok") && strncmp(last, "error: ", 7))
		die("a reply without a final ok or error line, to", line);
}

/* Is this line one the harness leaves out (see the top)? */
static int skipped(const char *line)
{
	if (strstr(line, "follow"))
		return 1;
	const char *l = line + strspn(line, " \t");
	if (strncmp(l, "load", 4))
		return 0;
	const char *arg = l + 4 + strspn(l + 4, " \t");
	return strncmp(arg, PROFILE_DIR "/", sizeof PROFILE_DIR) ||
	       strstr(arg, "..");
}

static int rules_in_force(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	device_list_rules(dev, f);
	fclose(f);
	free(buf);
	return len > 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char line[MAX_LINE + 1];
	static uint8_t wbuf[4 * DEVICE_BLOCK], rbuf[4 * DEVICE_BLOCK];
	uint64_t h = 1469598103934665603ull; /* FNV-1a of the input */

	device_clear_rules(dev);
	device_release(dev);
	for (size_t i = 0; i < size;) {
		size_t n = 0;
		while (i < size && data[i] != '\n' && n < MAX_LINE)
			line[n++] = (char)data[i++];
		while (i < size &&
		       data[i] != '\n') /* the rest of a long line */
			i++;
		i++;
		line[n] = 0;
		if (n && !memchr(line, 0, n) && !skipped(line))
			command(line, n);
	}
	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 1099511628211ull;

	/* I/O: four blocks somewhere, read back; trim, zero, flush; and
	 * requests past the end, which must fail. */
	uint64_t off = (h % (DEV_SIZE / DEVICE_BLOCK - 4)) * DEVICE_BLOCK;
	for (size_t i = 0; i < sizeof wbuf; i++)
		wbuf[i] = (uint8_t)(h >> (8 * (i % 8))) ^ (uint8_t)i;
	struct dev_io io;
	int clean = !rules_in_force();
	int w = device_write(dev, wbuf, sizeof wbuf, off, &io);
	int r = device_read(dev, rbuf, sizeof rbuf, off, &io);
	if (clean && (w || r || memcmp(wbuf, rbuf, sizeof wbuf)))
		die("with no rule in force, a write did not read back",
		    "intact");
	device_flush(dev, &io);
	device_trim(dev, DEVICE_BLOCK, off, &io);
	device_zero(dev, DEVICE_BLOCK, off + DEVICE_BLOCK, &io);
	device_read(dev, rbuf, sizeof rbuf, off, &io);
	/* Shapes a front end may send: the input's last byte picks one. */
	switch (size ? data[size - 1] % 4 : 0) {
	case 1: /* empty requests */
		device_read(dev, rbuf, 0, off, &io);
		device_write(dev, wbuf, 0, off, &io);
		break;
	case 2: /* not block-aligned (512-byte sectors, or worse) */
		device_write(dev, wbuf, 2 * DEVICE_BLOCK, off + 1, &io);
		device_read(dev, rbuf, 512, off + 512, &io);
		break;
	case 3: /* data not 8-byte aligned in memory */
		device_write(dev, wbuf + 1, 2 * DEVICE_BLOCK, off, &io);
		device_read(dev, rbuf + 3, 2 * DEVICE_BLOCK, off, &io);
		break;
	}
	if (!device_write(dev, wbuf, DEVICE_BLOCK, DEV_SIZE, &io) ||
	    !device_read(dev, rbuf, DEVICE_BLOCK, DEV_SIZE - DEVICE_BLOCK / 2,
	                 &io))
		die("a request past the end succeeded", "");
	return 0;
}
