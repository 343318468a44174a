/* nbd-reconnect.c - the NBD server dies and comes back: with a file store
 * (store = file) nothing acknowledged is lost.
 *
 * A libnbd client writes stamped 4 KiB blocks to the swapemu plugin served
 * by nbdkit, with 16 writes in flight, and nbdkit is killed with SIGKILL in
 * the middle. The client then does what QEMU's reconnect-delay does: it
 * retries the connection until a server answers (the test restarts nbdkit
 * with the same profile, hence the same store file, after the first
 * refused attempts), sends again every write that was not acknowledged,
 * writes more, and finally reads every block back. Each block must hold
 * the last generation written to it, and the restarted device must report
 * no checksum error.
 *
 * The same run with store = memory must lose the blocks (a restarted
 * memory store is empty): that shows the check can fail.
 *
 * TAP on stdout; 77 (after "1..0 # SKIP") without nbdkit or the plugin.
 * Environment: SWAPEMU_NBDKIT (default "nbdkit"), SWAPEMU_NBD_PLUGIN
 * (default: build/nbdkit-swapemu-plugin.so next to build/tests/).
 */
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libnbd.h>

#include "ctlclient.h"

#define BLK 4096u
#define NBLOCKS 4096u /* 16 MiB of the 64 MiB export */
#define INFLIGHT 16
#define WRITES_BEFORE_KILL 3000
#define WRITES_AFTER 3000

static int tests_run, tests_failed;
static char dir[64], plugin[PATH_MAX], sock[128], ctl[128], prof[128];
static const char *nbdkit_bin;
static pid_t server = -1;
static uint32_t gen[NBLOCKS]; /* the generation each block must hold */
static uint32_t next_gen;     /* every write carries a new one */

static void ok(int cond, const char *fmt, ...)
{
	va_list ap;
	tests_run++;
	tests_failed += !cond;
	printf("%sok %d - ", cond ? "" : "not ", tests_run);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void diag(const char *fmt, ...)
{
	va_list ap;
	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void cleanup(void)
{
	char p[200];
	if (server > 0) {
		kill(server, SIGKILL);
		waitpid(server, NULL, 0);
	}
	const char *names[] = {"nbd.sock", "control.sock", "profile.conf",
	                       "store.img"};
	for (unsigned i = 0; i < sizeof names / sizeof *names; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
}

/* The block's content for a generation: a pattern no other block or
 * generation has, so that a stale, misplaced or zero block shows. */
static void fill(uint8_t *buf, uint32_t blk, uint32_t g)
{
	uint64_t x = ((uint64_t)blk << 32 | g) * 0x9e3779b97f4a7c15ull + 1;
	for (unsigned i = 0; i < BLK; i += 8) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		memcpy(buf + i, &x, 8);
	}
	memcpy(buf, &blk, 4);
	memcpy(buf + 4, &g, 4);
}

static void start_server(void)
{
	unlink(sock);
	server = fork();
	if (server == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		char pa[200], ca[200];
		snprintf(pa, sizeof pa, "profile=%s", prof);
		snprintf(ca, sizeof ca, "control=%s", ctl);
		execlp(nbdkit_bin, nbdkit_bin, "--foreground", "--unix", sock,
		       "--threads", "16", plugin, pa, ca, (char *)NULL);
		_exit(127);
	}
}

static void kill_server(void)
{
	kill(server, SIGKILL);
	waitpid(server, NULL, 0);
	server = -1;
}

/* Connects, retrying every 50 ms for up to 20 s; after `restart_after`
 * refused attempts (if >= 0), starts the server again. */
static struct nbd_handle *connect_retry(int restart_after, int *attempts)
{
	*attempts = 0;
	for (int i = 0; i < 400; i++) {
		struct nbd_handle *h = nbd_create();
		if (h && nbd_connect_unix(h, sock) == 0)
			return h;
		nbd_close(h);
		if (++*attempts == restart_after)
			start_server();
		usleep(50000);
	}
	return NULL;
}

struct pending {
	int64_t cookie;
	uint32_t blk, g;
	uint8_t buf[BLK];
};

/* Writes n random blocks, INFLIGHT at a time. A write is "acknowledged"
 * when libnbd reports it completed without error; only then does gen[]
 * take its generation. With kill_at >= 0 the server is killed right after
 * the kill_at-th write is issued; the writes then unacknowledged are
 * returned in *lost (to be sent again). Returns the writes acknowledged. */
static unsigned write_blocks(struct nbd_handle *h, unsigned n, int kill_at,
                             struct pending *lost, unsigned *nlost,
                             uint64_t *rng)
{
	static struct pending q[INFLIGHT];
	unsigned acked = 0, issued = 0, busy = 0;
	int dead = 0;
	*nlost = 0;
	for (int i = 0; i < INFLIGHT; i++)
		q[i].cookie = 0;
	while (issued < n || busy) {
		for (int i = 0; i < INFLIGHT && issued < n && !dead; i++) {
			if (q[i].cookie)
				continue;
			/* Never two writes to one block in flight: their
			 * order would be undefined. */
			int clash;
			do {
				*rng ^= *rng << 13, *rng ^= *rng >> 7,
				    *rng ^= *rng << 17;
				q[i].blk = *rng % NBLOCKS;
				clash = 0;
				for (int j = 0; j < INFLIGHT; j++)
					clash |= j != i && q[j].cookie &&
					         q[j].blk == q[i].blk;
			} while (clash);
			q[i].g = ++next_gen;
			fill(q[i].buf, q[i].blk, q[i].g);
			q[i].cookie = nbd_aio_pwrite(h, q[i].buf, BLK,
			                             (uint64_t)q[i].blk * BLK,
			                             NBD_NULL_COMPLETION, 0);
			if (q[i].cookie == -1) {
				q[i].cookie = 0;
				dead = 1;
				break;
			}
			busy++;
			if ((int)++issued == kill_at)
				kill_server();
		}
		if (!dead && nbd_poll(h, -1) == -1)
			dead = 1;
		for (int i = 0; i < INFLIGHT; i++) {
			if (!q[i].cookie)
				continue;
			int r = nbd_aio_command_completed(h, q[i].cookie);
			if (r == 0 && !dead)
				continue;
			if (r == 1)
				gen[q[i].blk] = q[i].g, acked++;
			else /* failed, or never answered */
				lost[(*nlost)++] = q[i];
			q[i].cookie = 0;
			busy--;
		}
		if (dead && issued < n)
			break;
	}
	return acked;
}

/* Reads every block back; returns how many do not hold their generation. */
static unsigned verify(struct nbd_handle *h)
{
	static uint8_t got[BLK], want[BLK];
	unsigned bad = 0;
	for (uint32_t b = 0; b < NBLOCKS; b++) {
		fill(want, b, gen[b]);
		if (nbd_pread(h, got, BLK, (uint64_t)b * BLK, 0) ||
		    memcmp(got, want, BLK)) {
			if (bad++ < 3)
				diag("block %u: expected generation %u", b,
				     gen[b]);
		}
	}
	return bad;
}

/* One run: returns the number of blocks that did not read back. */
static unsigned run(const char *store)
{
	static struct pending lost[INFLIGHT];
	FILE *f = fopen(prof, "w");
	char img[200];
	snprintf(img, sizeof img, "%s/store.img", dir);
	unlink(img);
	fprintf(f,
	        "[device]\nsize = 64M\nstore = %s\n%s%s\nchecksum = crc32c\n",
	        store, strcmp(store, "file") ? "" : "path = ",
	        strcmp(store, "file") ? "" : img);
	fclose(f);
	memset(gen, 0, sizeof gen);
	next_gen = 1;
	uint64_t rng = 88172645463325252ull;
	unsigned nlost;
	int attempts;

	start_server();
	struct nbd_handle *h = connect_retry(-1, &attempts);
	if (!h) {
		ok(0, "%s: connect to nbdkit", store);
		return NBLOCKS;
	}
	/* Every block once, then random rewrites; the kill comes mid-way. */
	for (uint32_t b = 0; b < NBLOCKS; b++) {
		uint8_t buf[BLK];
		fill(buf, b, 1);
		if (nbd_pwrite(h, buf, BLK, (uint64_t)b * BLK, 0) == 0)
			gen[b] = 1;
	}
	unsigned acked = write_blocks(h, WRITES_BEFORE_KILL * 2,
	                              WRITES_BEFORE_KILL, lost, &nlost, &rng);
	nbd_close(h);
	diag("%s: %u writes acknowledged before and around the SIGKILL, %u "
	     "in flight unacknowledged",
	     store, NBLOCKS + acked, nlost);
	h = connect_retry(3, &attempts);
	ok(h != NULL, "%s: the client reconnected after %d refused attempts",
	   store, attempts);
	if (!h)
		return NBLOCKS;
	/* Send again what was not acknowledged, as QEMU's reconnect does. */
	unsigned resent = 0;
	for (unsigned i = 0; i < nlost; i++)
		if (nbd_pwrite(h, lost[i].buf, BLK, (uint64_t)lost[i].blk * BLK,
		               0) == 0 &&
		    ++resent)
			gen[lost[i].blk] = lost[i].g;
	acked = write_blocks(h, WRITES_AFTER, -1, lost, &nlost, &rng);
	ok(nlost == 0,
	   "%s: %u unacknowledged writes sent again, %u more "
	   "written, none failed",
	   store, resent, acked);
	unsigned bad = verify(h);
	char err[256], *body = NULL;
	uint64_t csum = UINT64_MAX;
	if (ctl_request(ctl, "counters", &body, NULL, err, sizeof err) == 0)
		ctl_counter(body, "checksum_errors", &csum);
	free(body);
	ok(csum == 0,
	   "%s: the restarted device reports no checksum error "
	   "(%" PRIu64 ")",
	   store, csum);
	nbd_close(h);
	kill_server();
	return bad;
}

int main(int argc, char **argv)
{
	(void)argc;
	nbdkit_bin = getenv("SWAPEMU_NBDKIT");
	if (!nbdkit_bin)
		nbdkit_bin = "nbdkit";
	const char *pl = getenv("SWAPEMU_NBD_PLUGIN");
	char self[PATH_MAX];
	if (pl)
		snprintf(plugin, sizeof plugin, "%s", pl);
	else if (realpath(argv[0], self))
		snprintf(plugin, sizeof plugin, "%s/nbdkit-swapemu-plugin.so",
		         dirname(dirname(self)));
	if (access(plugin, R_OK) ||
	    system("command -v nbdkit >/dev/null 2>&1") != 0) {
		printf("1..0 # SKIP no nbdkit or no plugin at '%s'\n", plugin);
		return 77;
	}
	snprintf(dir, sizeof dir, "/tmp/swapemu-reconnect.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	atexit(cleanup);
	signal(SIGPIPE, SIG_IGN);
	snprintf(sock, sizeof sock, "%s/nbd.sock", dir);
	snprintf(ctl, sizeof ctl, "%s/control.sock", dir);
	snprintf(prof, sizeof prof, "%s/profile.conf", dir);
	alarm(300);

	printf("1..8\n");
	unsigned bad = run("file");
	ok(bad == 0,
	   "file store: all %u blocks read back with their last "
	   "acknowledged generation after kill -9 and restart "
	   "(%u wrong)",
	   NBLOCKS, bad);
	bad = run("memory");
	ok(bad > NBLOCKS / 4,
	   "memory store (the control): the restart lost the data, so the "
	   "check sees it (%u of %u wrong)",
	   bad, NBLOCKS);
	return tests_failed ? 1 : 0;
}
