/* unit-read-direct: device_read_direct, the read FUSE answers from the
 * store's memory in place. It must hand out exactly what device_read
 * returns (written, never written and trimmed blocks, a span whose striped
 * locks wrap around), leave every case it cannot answer exactly
 * (unaligned, partial, too long, past the end, a file store, rules in
 * force, a damaged block) to device_read without calling the reply, and
 * hold the blocks' locks while the reply copies: a block rewritten
 * concurrently is seen whole, old or new, never mixed. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "helpers.h"

#define BLKSZ DEVICE_BLOCK
#define NBLK 2048 /* more blocks than striped locks (1024): spans wrap */

struct got {
	char buf[DEVICE_DIRECT_MAX];
	size_t len;
	int calls;
};

static void gather(void *arg, const struct iovec *iov, int n)
{
	struct got *g = arg;
	g->calls++;
	g->len = 0;
	for (int i = 0; i < n; i++) {
		memcpy(g->buf + g->len, iov[i].iov_base, iov[i].iov_len);
		g->len += iov[i].iov_len;
	}
}

static void fill(char *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (char)(seed * 131 + i * 7 + (i >> 12));
}

/* Direct and ordinary reads of [off, off+len) agree; the direct read's
 * data stays in g. */
static struct got g;

static int same_as_read(struct device *d, size_t len, uint64_t off)
{
	static char want[DEVICE_DIRECT_MAX];
	g.calls = 0;
	int r = device_read_direct(d, len, off, gather, &g);
	int r2 = device_read(d, want, len, off, NULL);
	return r == 0 && r2 == 0 && g.calls == 1 && g.len == len &&
	       !memcmp(g.buf, want, len);
}

static int declines(struct device *d, size_t len, uint64_t off)
{
	struct got *g = calloc(1, sizeof *g);
	int r = device_read_direct(d, len, off, gather, g);
	int calls = g->calls;
	free(g);
	return r == -EAGAIN && calls == 0;
}

static struct device *open_dev(enum store_kind kind, const char *path)
{
	char err[512];
	struct profile p;
	profile_defaults(&p);
	p.size = (uint64_t)NBLK * BLKSZ;
	p.checksum = CSUM_CRC32C;
	p.store = kind;
	if (path)
		snprintf(p.store_path, sizeof p.store_path, "%s", path);
	if (profile_finish(&p, err, sizeof err)) {
		diag("profile: %s", err);
		return NULL;
	}
	struct device *d = device_open(&p, NULL, NULL, err, sizeof err);
	if (!d)
		diag("device_open: %s", err);
	return d;
}

/* The race: one thread rewrites block 7 with all-A or all-B pages. */
static atomic_int stop;

static void *rewriter(void *arg)
{
	struct device *d = arg;
	static char a[BLKSZ], b[BLKSZ];
	memset(a, 'A', sizeof a);
	memset(b, 'B', sizeof b);
	for (unsigned i = 0; !atomic_load(&stop); i++)
		device_write(d, i & 1 ? a : b, BLKSZ, 7 * BLKSZ, NULL);
	return NULL;
}

int main(void)
{
	static char data[DEVICE_DIRECT_MAX];
	char err[512];
	plan(14);
	struct device *d = open_dev(STORE_MEMORY, NULL);
	if (!ok(d != NULL, "open a memory device with crc32c"))
		done_testing();

	fill(data, sizeof data, 1);
	device_write(d, data, BLKSZ, 5 * BLKSZ, NULL);
	ok(same_as_read(d, BLKSZ, 5 * BLKSZ),
	   "a written block reads directly as device_read reads it");
	ok(same_as_read(d, BLKSZ, 9 * BLKSZ) && t_all_zero(g.buf, BLKSZ),
	   "a block never written reads directly as zeros");

	/* Blocks 1010..1041: their locks are 1010..1023 and 0..17. */
	fill(data, sizeof data, 2);
	device_write(d, data, sizeof data, 1010ull * BLKSZ, NULL);
	ok(same_as_read(d, sizeof data, 1010ull * BLKSZ),
	   "128 KiB across the wrap of the striped locks reads directly");
	fill(data, BLKSZ, 3);
	ok(device_write(d, data, BLKSZ, 1020ull * BLKSZ, NULL) == 0 &&
	       device_write(d, data, BLKSZ, 3ull * BLKSZ, NULL) == 0,
	   "and leaves every lock of that span free (writes there go on)");

	device_trim(d, BLKSZ, 1011ull * BLKSZ, NULL);
	ok(same_as_read(d, 4 * BLKSZ, 1010ull * BLKSZ) &&
	       t_all_zero(g.buf + BLKSZ, BLKSZ) && !t_all_zero(g.buf, BLKSZ),
	   "a trimmed block inside a span reads directly as zeros");

	ok(declines(d, BLKSZ, 5 * BLKSZ + 512) && declines(d, 512, 5 * BLKSZ) &&
	       declines(d, DEVICE_DIRECT_MAX + BLKSZ, 0) && declines(d, 0, 0) &&
	       declines(d, 2 * BLKSZ, (uint64_t)(NBLK - 1) * BLKSZ),
	   "unaligned, partial, too long, empty and past-the-end reads are "
	   "left to device_read");

	struct rule_spec r;
	rule_spec_init(&r, "flip");
	if (rule_spec_set(&r, "op", "read", err, sizeof err) ||
	    rule_spec_set(&r, "action", "corrupt:1", err, sizeof err) ||
	    device_add_rule(d, &r, err, sizeof err))
		diag("rule: %s", err);
	ok(declines(d, BLKSZ, 5 * BLKSZ),
	   "with a rule in force the read is left to device_read");
	device_clear_rules(d);
	ok(same_as_read(d, BLKSZ, 5 * BLKSZ),
	   "once the rules are gone it reads directly again");

	rule_spec_init(&r, "lose");
	if (rule_spec_set(&r, "op", "write", err, sizeof err) ||
	    rule_spec_set(&r, "action", "lose", err, sizeof err) ||
	    device_add_rule(d, &r, err, sizeof err))
		diag("rule: %s", err);
	device_write(d, data, BLKSZ, 20 * BLKSZ, NULL);
	device_clear_rules(d);
	ok(declines(d, 2 * BLKSZ, 19 * BLKSZ),
	   "a span holding a block whose write was lost is left to "
	   "device_read (which logs the damaged read)");
	device_write(d, data, BLKSZ, 20 * BLKSZ, NULL);
	ok(same_as_read(d, 2 * BLKSZ, 19 * BLKSZ),
	   "and reads directly once a write has replaced it");

	/* Concurrent rewrites: every direct read sees one whole version. */
	pthread_t th;
	int torn = 0, reads = 0, fails = 0;
	atomic_store(&stop, 0);
	pthread_create(&th, NULL, rewriter, d);
	for (int i = 0; i < 20000; i++) {
		g.calls = 0;
		if (device_read_direct(d, BLKSZ, 7 * BLKSZ, gather, &g)) {
			fails++;
			continue;
		}
		reads++;
		for (size_t j = 1; j < BLKSZ; j++)
			if (g.buf[j] != g.buf[0]) {
				torn++;
				break;
			}
	}
	atomic_store(&stop, 1);
	pthread_join(th, NULL);
	ok(reads > 0 && !torn && !fails,
	   "%d direct reads during rewrites: %d mixed, %d declined", reads,
	   torn, fails);
	device_close(d);

	const char *path = t_tmp_path("store");
	struct device *f = open_dev(STORE_FILE, path);
	if (ok(f != NULL, "open a file-store device")) {
		device_write(f, data, BLKSZ, 0, NULL);
		ok(declines(f, BLKSZ, 0),
		   "a file store's reads are left to device_read");
		device_close(f);
	} else {
		skip("no file store", "a file store's reads");
	}
	done_testing();
}
