/* unit-store: the block stores on their own. Memory and each file path
 * (io_uring, O_DIRECT pread/pwrite, buffered) under reads, writes and trims
 * at random blocks from several threads, checked against a model; a file
 * store keeps its data across close and reopen, read back through every
 * path; auto is O_DIRECT pread and says why; io_uring forbidden (seccomp)
 * refuses uring with the reason; a file system without O_DIRECT (ramfs)
 * makes auto buffered, saying why, and refuses uring; and a full file
 * system (a tiny tmpfs) makes writes fail with ENOSPC on every path, while
 * every write that succeeded reads back. */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store.h"
#include "helpers.h"

#define BLK 4096u
#define NBLK 256 /* a 1 MiB store */
#define NTHR 4
#define OPS 1500

/* The model: each block's version; 0 reads as zeros. */
static uint32_t model[NBLK];
static uint32_t next_ver[NTHR];

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static void fill(void *buf, uint64_t blk, uint32_t ver)
{
	uint64_t *w = buf;
	for (size_t i = 0; i < BLK / 8; i++)
		w[i] = ver ? mix(blk << 40 ^ (uint64_t)ver << 12 ^ i) : 0;
}

static int matches(const void *buf, uint64_t blk, uint32_t ver)
{
	char want[BLK];
	fill(want, blk, ver);
	return !memcmp(buf, want, BLK);
}

static struct store *open_with(const char *io, const char *path, uint64_t size,
                               char *err, size_t errlen)
{
	struct profile p;
	profile_defaults(&p);
	p.size = size;
	if (path) {
		p.store = STORE_FILE;
		snprintf(p.store_path, sizeof p.store_path, "%s", path);
	}
	if (profile_finish(&p, err, errlen))
		return NULL;
	if (io)
		setenv("SWAPEMU_STORE_IO", io, 1);
	else
		unsetenv("SWAPEMU_STORE_IO");
	struct store *s = store_open(&p, err, errlen);
	unsetenv("SWAPEMU_STORE_IO");
	return s;
}

struct worker {
	struct store *s;
	int id;
	int errors, mismatches;
};

/* Random ops on the blocks this thread owns (blk % NTHR == id: the store
 * wants callers to serialise access to a block), through a buffer that is
 * page aligned for even threads and not for odd ones. */
static void *work(void *arg)
{
	struct worker *w = arg;
	static __thread char area[2 * BLK] __attribute__((aligned(BLK)));
	char *buf = area + (w->id % 2 ? 520 : 0);
	uint64_t rnd = mix((uint64_t)w->id + 1);
	for (int i = 0; i < OPS; i++) {
		rnd = mix(rnd + i);
		uint64_t blk = (rnd >> 8) % (NBLK / NTHR) * NTHR + w->id;
		int r = 0;
		switch (rnd % 10) {
		case 0:
		case 1:
			r = store_trim(w->s, blk);
			model[blk] = 0;
			break;
		case 2:
		case 3:
		case 4:
		case 5:
			model[blk] = ++next_ver[w->id] * NTHR + w->id;
			fill(buf, blk, model[blk]);
			r = store_write(w->s, blk, buf);
			break;
		default:
			memset(buf, 0xa5, BLK);
			r = store_read(w->s, blk, buf);
			if (!r && !matches(buf, blk, model[blk]))
				w->mismatches++;
		}
		if (r)
			w->errors++;
	}
	return NULL;
}

/* NTHR threads at once, then every block as the model: how many errors
 * and mismatches. */
static int threads_run(struct store *s, const char *what)
{
	struct worker w[NTHR];
	pthread_t t[NTHR];
	for (int i = 0; i < NTHR; i++) {
		w[i] = (struct worker){.s = s, .id = i};
		pthread_create(&t[i], NULL, work, &w[i]);
	}
	int errors = 0, mismatches = 0;
	for (int i = 0; i < NTHR; i++) {
		pthread_join(t[i], NULL);
		errors += w[i].errors;
		mismatches += w[i].mismatches;
	}
	static char buf[BLK];
	for (uint64_t b = 0; b < NBLK; b++)
		if (store_read(s, b, buf) || !matches(buf, b, model[b]))
			mismatches++;
	diag("%s: %d threads x %d random ops: %d errors, %d mismatches", what,
	     NTHR, OPS, errors, mismatches);
	return errors + mismatches;
}

static void threads_point(struct store *s, const char *what)
{
	ok(!threads_run(s, what),
	   "%s: %d threads x %d random reads/writes/trims match the model",
	   what, NTHR, OPS);
}

/* Every block as the model; the number that differ (or -1). */
static int verify(struct store *s)
{
	static char buf[BLK];
	int bad = 0;
	for (uint64_t b = 0; b < NBLK; b++)
		if (store_read(s, b, buf) || !matches(buf, b, model[b]))
			bad++;
	return bad;
}

static const char *const ios[] = {"uring", "pread", "buffered"};
static const char *const kinds[] = {"file-uring", "file-pread",
                                    "file-buffered"};

/* The threads on a file store through one path, then a restart: the data
 * read back through every path. */
static void file_path_points(int i, const char *path)
{
	char err[512], what[64];
	memset(model, 0, sizeof model);
	unlink(path);
	struct store *s = open_with(ios[i], path, NBLK * BLK, err, sizeof err);
	if (!s) {
		diag("%s", err);
		skip(err, "%s: open", ios[i]);
		skip(err, "%s: threads", ios[i]);
		skip(err, "%s: restart", ios[i]);
		return;
	}
	ok(!strcmp(store_kind(s), kinds[i]), "SWAPEMU_STORE_IO=%s: store is %s",
	   ios[i], store_kind(s));
	snprintf(what, sizeof what, "%s", kinds[i]);
	threads_point(s, what);
	ok(store_sync(s) == 0, "%s: sync", kinds[i]);
	store_close(s);
	int bad = 0;
	for (int j = 0; j < 3; j++) {
		s = open_with(ios[j], path, NBLK * BLK, err, sizeof err);
		int b = s ? verify(s) : NBLK;
		if (b)
			diag("reopened with %s: %d blocks differ %s", ios[j], b,
			     s ? "" : err);
		bad += b;
		store_close(s);
	}
	ok(!bad, "%s: after close, every block reads back through all paths",
	   kinds[i]);
}

/* Runs fn in a child (its own mount namespace when ns); the child's exit
 * code: 0 pass, 77 skip, else fail. The child leaves with _exit so that the
 * parent's temporary directory is not removed. */
static int in_child(int (*fn)(const char *), const char *arg, int ns)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		if (ns && (unshare(CLONE_NEWNS) ||
		           mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))) {
			printf("# no private mount namespace: %m\n");
			fflush(stdout);
			_exit(77);
		}
		int r = fn(arg);
		fflush(stdout);
		_exit(r);
	}
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static void child_point(int r, const char *what)
{
	if (r == 77)
		skip("not possible here", "%s", what);
	else
		ok(r == 0, "%s", what);
}

/* io_uring_setup fails with EPERM (a seccomp filter): uring is refused
 * with the reason; auto (O_DIRECT pread) works and reads the data. */
static int no_uring(const char *path)
{
	struct sock_filter f[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	             offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = 4, .filter = f};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
		return 77;
	char err[512];
	int fail = 0;
	struct store *s = open_with("uring", path, NBLK * BLK, err, sizeof err);
	if (s || !strstr(err, "io_uring: Operation not permitted")) {
		printf("# uring without io_uring: %s\n", s ? "opened" : err);
		fail++;
	}
	store_close(s);
	printf("# SWAPEMU_STORE_IO=uring says: %s\n", err);
	s = open_with(NULL, path, NBLK * BLK, err, sizeof err);
	if (!s || strcmp(store_kind(s), "file-pread")) {
		printf("# auto without io_uring: %s (%s)\n",
		       s ? store_kind(s) : err, s ? store_kind_why(s) : "");
		fail++;
	} else {
		printf("# auto: %s because %s\n", store_kind(s),
		       store_kind_why(s));
		if (verify(s)) /* the data the parent wrote */
			fail++;
	}
	store_close(s);
	return fail ? 1 : 0;
}

/* ramfs has no O_DIRECT: auto is buffered and says why; uring is refused;
 * the buffered store passes the threads test. */
static int no_direct(const char *dir)
{
	if (mount("swapemu-test", dir, "ramfs", 0, NULL)) {
		printf("# cannot mount ramfs: %m\n");
		return 77;
	}
	char path[4200], err[512];
	snprintf(path, sizeof path, "%s/store", dir);
	int fail = 0;
	struct store *s = open_with("uring", path, NBLK * BLK, err, sizeof err);
	if (s || !strstr(err, "O_DIRECT")) {
		printf("# uring on ramfs: %s\n", s ? "opened" : err);
		fail++;
	}
	store_close(s);
	printf("# SWAPEMU_STORE_IO=uring on ramfs says: %s\n", err);
	s = open_with(NULL, path, NBLK * BLK, err, sizeof err);
	if (!s || strcmp(store_kind(s), "file-buffered") ||
	    !strstr(store_kind_why(s), "O_DIRECT")) {
		printf("# auto on ramfs: %s\n", s ? store_kind(s) : err);
		store_close(s);
		return 1;
	}
	printf("# auto on ramfs: %s because %s\n", store_kind(s),
	       store_kind_why(s));
	memset(model, 0, sizeof model);
	fail += threads_run(s, "file-buffered on ramfs") != 0;
	store_close(s);
	return fail ? 1 : 0;
}

/* A 128 KiB tmpfs under a 1 MiB store: writing every block must fail with
 * ENOSPC once it is full, on every path; what was acknowledged reads back. */
static int full_fs(const char *dir)
{
	if (mount("swapemu-test", dir, "tmpfs", 0, "size=128k")) {
		printf("# cannot mount tmpfs: %m\n");
		return 77;
	}
	char path[4200], err[512], buf[BLK];
	snprintf(path, sizeof path, "%s/store", dir);
	int fail = 0;
	for (int i = 0; i < 3; i++) {
		unlink(path);
		struct store *s =
		    open_with(ios[i], path, NBLK * BLK, err, sizeof err);
		if (!s) {
			printf("# %s on tmpfs: %s\n", ios[i], err);
			fail++;
			continue;
		}
		int stored = 0, r = 0;
		while (stored < NBLK) {
			fill(buf, stored, 7);
			if ((r = store_write(s, stored, buf)))
				break;
			stored++;
		}
		int bad = 0;
		for (int b = 0; b < stored; b++)
			if (store_read(s, b, buf) || !matches(buf, b, 7))
				bad++;
		printf("# %s: %d blocks stored, then %s; %d of them differ\n",
		       store_kind(s), stored, strerror(-r), bad);
		if (r != -ENOSPC || stored == 0 || bad)
			fail++;
		store_close(s);
	}
	return fail ? 1 : 0;
}

int main(void)
{
	char err[512];
	plan(19);

	struct store *s = open_with(NULL, NULL, NBLK * BLK, err, sizeof err);
	ok(s && !strcmp(store_kind(s), "memory"), "memory store: kind memory");
	if (!s)
		bail_out("%s", err);
	threads_point(s, "memory");
	store_close(s);

	s = open_with("bogus", t_tmp_path("bogus"), NBLK * BLK, err,
	              sizeof err);
	ok(!s && strstr(err, "SWAPEMU_STORE_IO='bogus'"),
	   "an unknown SWAPEMU_STORE_IO is refused: %s", err);
	store_close(s);

	const char *path = t_tmp_path("store");
	for (int i = 0; i < 3; i++)
		file_path_points(i, path);

	s = open_with(NULL, path, NBLK * BLK, err, sizeof err);
	ok(s && !strcmp(store_kind(s), "file-pread") &&
	       strstr(store_kind_why(s), "io_uring"),
	   "auto on %s: %s (%s)", t_tmpdir(), s ? store_kind(s) : err,
	   s ? store_kind_why(s) : "");
	store_close(s);

	child_point(in_child(no_uring, path, 0),
	            "io_uring forbidden: uring is refused with the reason, "
	            "auto (file-pread) reads the data back");
	const char *mnt = t_tmp_path("mnt");
	mkdir(mnt, 0700);
	child_point(in_child(no_direct, mnt, 1),
	            "ramfs (no O_DIRECT): auto falls back to file-buffered, "
	            "uring is refused; the threads test passes");
	child_point(in_child(full_fs, mnt, 1),
	            "full file system: every path fails a write with ENOSPC "
	            "and keeps what it acknowledged");
	done_testing();
}
