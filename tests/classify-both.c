/* classify-both: the same captured pages, written through the FUSE front
 * end (O_DIRECT on the target file) and the NBD front end (libnbd against
 * nbdkit with the swapemu plugin), are classified the same: one shared
 * classification, proven on both. */
#include <errno.h>
#include <fcntl.h>
#include <libnbd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctlclient.h"
#include "stamp.h"
#include "helpers.h"

#define NPAGES 12
#define RUN 0x1234567

static char dir[] = "/tmp/classify-both.XXXXXX";
static pid_t fuse_pid;

static void cleanup(void)
{
	char cmd[256];
	if (fuse_pid > 0) {
		kill(fuse_pid, SIGTERM);
		waitpid(fuse_pid, NULL, 0);
	}
	snprintf(cmd, sizeof cmd, "umount -l %s/mnt 2>/dev/null; rm -rf %s",
	         dir, dir);
	if (system(cmd))
		printf("# cleanup of %s failed\n", dir);
}

static struct gentab *map_gentab(const char *path)
{
	for (int i = 0; i < 100 && access(path, F_OK); i++)
		usleep(20000);
	return t_map_gentab(path);
}

/* Page i of the set, and what it must be classified as. */
static enum stamp_class make_page(int i, uint64_t *w)
{
	switch (i % 6) {
	case 0: /* as published */
		stamp_fill(w, RUN, i, 5);
		return STAMP_CLEAN;
	case 1: /* rewritten completely after the swap-out */
		stamp_fill(w, RUN, i, 6);
		return STAMP_MODIFIED;
	case 2: /* head rewritten, tail not yet */
		stamp_fill(w, RUN, i, 5);
		w[STAMP_W_HEAD] = 6;
		return STAMP_TORN;
	case 3: /* one body word changed */
		stamp_fill(w, RUN, i, 5);
		w[200] ^= 1;
		return STAMP_TORN;
	case 4: /* another run's page: nothing published for it */
		stamp_fill(w, RUN + 1, i, 9);
		return STAMP_CLEAN;
	default:
		for (unsigned k = 0; k < STAMP_WORDS; k++)
			w[k] = mix64(i * 1000 + k);
		return STAMP_UNSTAMPED;
	}
}

static int counts(const char *sock, uint64_t out[STAMP_NCLASSES])
{
	char *body, err[512], key[64];
	if (ctl_request(sock, "counters", &body, NULL, err, sizeof err)) {
		printf("# %s: %s\n", sock, err);
		return -1;
	}
	for (int c = 0; c < STAMP_NCLASSES; c++) {
		snprintf(key, sizeof key, "capture.%s", stamp_class_name(c));
		out[c] = 0;
		ctl_counter(body, key, &out[c]);
	}
	free(body);
	return 0;
}

int main(void)
{
	char path[512], fctl[512], nctl[512], fgen[512], ngen[512], err[512];
	char plugin[512];
	if (geteuid() != 0)
		skip_all("needs root (FUSE mount)");
	if (access("/dev/fuse", R_OK | W_OK))
		skip_all("no /dev/fuse");
	if (system("command -v nbdkit >/dev/null"))
		skip_all("no nbdkit");
	const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
	snprintf(plugin, sizeof plugin, "%s/nbdkit-swapemu-plugin.so", build);
	if (access(plugin, R_OK))
		skip_all("the nbdkit plugin is not built");
	if (!mkdtemp(dir))
		skip_all("cannot make a temporary directory");
	atexit(cleanup);
	plan(6);

	snprintf(path, sizeof path, "%s/mnt", dir);
	mkdir(path, 0700);
	snprintf(fctl, sizeof fctl, "%s/fctl", dir);
	snprintf(nctl, sizeof nctl, "%s/nctl", dir);
	snprintf(fgen, sizeof fgen, "%s/fgen", dir);
	snprintf(ngen, sizeof ngen, "%s/ngen", dir);
	char fuse_bin[512];
	snprintf(fuse_bin, sizeof fuse_bin, "%s/swapemu-fuse", build);
	fuse_pid = fork();
	if (fuse_pid == 0) {
		execl(fuse_bin, fuse_bin, "--foreground", "--set",
		      "device.size=16M", "--name", "disk", "--control", fctl,
		      "--gentab", fgen, path, (char *)NULL);
		_exit(127);
	}
	int up = 0;
	for (int i = 0; i < 200 && !up; i++, usleep(20000))
		up = !ctl_request(fctl, "help", NULL, NULL, err, sizeof err);
	ok(up, "the FUSE front end is up");

	char ctlarg[600], genarg[600];
	snprintf(ctlarg, sizeof ctlarg, "control=%s", nctl);
	snprintf(genarg, sizeof genarg, "gentab=%s", ngen);
	struct nbd_handle *nbd = nbd_create();
	char *argv[] = {"nbdkit", "-s",       "--exit-with-parent",
	                plugin,   "size=16M", ctlarg,
	                genarg,   NULL};
	ok(nbd && nbd_connect_command(nbd, argv) == 0,
	   "the NBD front end is up%s%s", nbd ? "" : " (no handle)",
	   nbd && nbd_get_error() ? "" : "");
	struct gentab *gf = map_gentab(fgen), *gn = map_gentab(ngen);
	if (!up || !gf || !gn) {
		printf("# setup failed\n");
		done_testing();
	}
	for (int i = 0; i < NPAGES; i++)
		atomic_store(&gf->gen[i], 5), atomic_store(&gn->gen[i], 5);
	atomic_store(&gf->run, RUN);
	atomic_store(&gn->run, RUN);

	uint64_t want[STAMP_NCLASSES] = {0}, f[STAMP_NCLASSES],
	         n[STAMP_NCLASSES];
	void *page;
	if (posix_memalign(&page, 4096, 4096))
		return 1;
	snprintf(path, sizeof path, "%s/mnt/disk", dir);
	int fd = open(path, O_WRONLY | O_DIRECT);
	int wrote = fd >= 0;
	for (int i = 0; i < NPAGES && wrote; i++) {
		want[make_page(i, page)]++;
		wrote = pwrite(fd, page, 4096, (off_t)i * 4096) == 4096 &&
		        nbd_pwrite(nbd, page, 4096, (uint64_t)i * 4096, 0) == 0;
	}
	if (fd >= 0)
		close(fd);
	ok(wrote, "%d pages written through both", NPAGES);
	ok(counts(fctl, f) == 0 && counts(nctl, n) == 0, "counters from both");
	ok(!memcmp(f, n, sizeof f),
	   "both classified them alike: unstamped %llu/%llu clean %llu/%llu "
	   "torn %llu/%llu modified %llu/%llu",
	   (unsigned long long)f[0], (unsigned long long)n[0],
	   (unsigned long long)f[1], (unsigned long long)n[1],
	   (unsigned long long)f[2], (unsigned long long)n[2],
	   (unsigned long long)f[3], (unsigned long long)n[3]);
	ok(!memcmp(f, want, sizeof f),
	   "as the pages were made (%llu %llu %llu %llu)",
	   (unsigned long long)want[0], (unsigned long long)want[1],
	   (unsigned long long)want[2], (unsigned long long)want[3]);
	free(page);
	nbd_close(nbd);
	gentab_close(gf, GENTAB_SIZE);
	gentab_close(gn, GENTAB_SIZE);
	done_testing();
}
