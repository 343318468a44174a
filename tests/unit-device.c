/* unit-device: the device model without a front end: storage, checksums,
 * classification, the stable-writes policy and the counters. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "device.h"
#include "stamp.h"
#include "helpers.h"

static uint64_t counter(struct device *d, const char *key)
{
	char *buf = device_text(d, device_counters);
	uint64_t v = (uint64_t)-1;
	size_t klen = strlen(key);
	for (char *l = buf; l && *l;
	     l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, key, klen) && l[klen] == ' ')
			v = strtoull(l + klen + 1, NULL, 10);
	free(buf);
	return v;
}

static struct device *open_dev(struct profile *p, const char *gentab)
{
	char err[512];
	struct device *d = device_open(p, gentab, NULL, err, sizeof err);
	if (!d)
		printf("# device_open: %s\n", err);
	return d;
}

int main(void)
{
	char err[512], tmp[] = "/tmp/unit-device.XXXXXX";
	static char a[3 * 4096], b[3 * 4096], page[4096];
	struct profile p;
	plan(25);
	if (!mkdtemp(tmp))
		skip_all("cannot make a temporary directory");

	profile_defaults(&p);
	p.size = 1 << 20;
	profile_finish(&p, err, sizeof err);
	struct device *d = open_dev(&p, NULL);
	ok(d != NULL, "open a 1 MiB memory device");
	for (size_t i = 0; i < sizeof a; i++)
		a[i] = (char)(i * 7 + 3);
	ok(device_write(d, a, sizeof a, 8192, NULL) == 0, "write 3 blocks");
	ok(device_read(d, b, sizeof b, 8192, NULL) == 0 &&
	       !memcmp(a, b, sizeof a),
	   "read them back");
	ok(device_write(d, a, 100, 8192 + 4000, NULL) == 0 &&
	       device_read(d, b, 100, 8192 + 4000, NULL) == 0 &&
	       !memcmp(a, b, 100),
	   "unaligned write across a block boundary");
	ok(device_read(d, b, 4096, 0, NULL) == 0 && b[0] == 0 && b[4095] == 0,
	   "unwritten blocks read as zeros");
	ok(device_trim(d, 4096, 8192, NULL) == 0 &&
	       device_read(d, b, 4096, 8192, NULL) == 0 &&
	       !memchr(b, 1, 4096) && b[7] == 0,
	   "a trimmed block reads as zeros");
	ok(device_zero(d, 10, 12288 + 5, NULL) == 0 &&
	       device_read(d, b, 4096, 12288, NULL) == 0 &&
	       b[4] == a[4096 + 4] && b[5] == 0 && b[14] == 0 &&
	       b[15] == a[4096 + 15],
	   "zeroing part of a block keeps the rest");
	ok(device_write(d, a, 4096, (1 << 20) - 2048, NULL) == -EINVAL,
	   "a write past the end is refused");
	ok(device_read(d, b, 1, 1 << 20, NULL) == -EINVAL,
	   "a read past the end too");
	ok(device_write(d, a, 4096, UINT64_MAX - 100, NULL) == -EINVAL,
	   "an offset that would overflow too");

	/* Classification without a generation table. */
	uint64_t *w = (uint64_t *)page;
	stamp_fill(page, 42, 3, 5);
	device_write(d, page, 4096, 0, NULL);
	w[STAMP_W_HEAD] = 6;
	device_write(d, page, 4096, 4096, NULL);
	ok(counter(d, "capture.clean") == 1 && counter(d, "capture.torn") == 1,
	   "stamped pages classified clean and torn");
	ok(counter(d, "capture.unstamped") == 3 &&
	       counter(d, "violations") == 0,
	   "plain blocks unstamped; nothing required, no violation");
	device_reset(d);
	ok(counter(d, "capture.clean") == 0 && counter(d, "write.count") == 0,
	   "reset zeroes the counters");
	uint64_t t0 = device_begin(d, OP_WRITE);
	ok(counter(d, "inflight") == 1 && counter(d, "write.inflight_max") == 1,
	   "begin counts a request in flight");
	device_end(d, OP_WRITE, t0, 4096, 0);
	ok(counter(d, "inflight") == 0 && counter(d, "write.count") == 1 &&
	       counter(d, "write.bytes") == 4096,
	   "end counts it done");
	device_close(d);

	/* require + eio with a generation table: torn and modified writes are
	 * refused and leave the old contents. */
	char gpath[600];
	snprintf(gpath, sizeof gpath, "%s/gentab", tmp);
	p.require = 1;
	p.on_violation = ON_ERROR_EIO;
	d = open_dev(&p, gpath);
	struct gentab *g = t_map_gentab(gpath);
	ok(g && g->magic == GENTAB_MAGIC,
	   "the device creates the generation table");
	atomic_store(&g->run, 42);
	atomic_store(&g->gen[3], 5);
	stamp_fill(page, 42, 3, 5);
	ok(device_write(d, page, 4096, 0, NULL) == 0,
	   "seq == published: clean, stored");
	stamp_fill(page, 42, 3, 6);
	ok(device_write(d, page, 4096, 0, NULL) == -EIO,
	   "seq > published: modified, refused with EIO");
	ok(device_read(d, b, 4096, 0, NULL) == 0 &&
	       ((uint64_t *)b)[STAMP_W_HEAD] == 5,
	   "the refused write stored nothing");
	ok(counter(d, "capture.modified") == 1 && counter(d, "violations") == 1,
	   "counted as modified and as a violation");
	char *ev = device_text(d, device_events);
	ok(ev && strstr(ev, "\"event\":\"violation\"") &&
	       strstr(ev, "\"offset\":0") &&
	       strstr(ev, "\"class\":\"modified\""),
	   "the event log has the violation with its offset");
	free(ev);
	device_close(d);
	gentab_close(g, GENTAB_SIZE);

	/* File store: checksums catch a block changed behind the device. */
	profile_defaults(&p);
	p.size = 1 << 20;
	p.store = STORE_FILE;
	snprintf(p.store_path, sizeof p.store_path, "%s/store", tmp);
	profile_finish(&p, err, sizeof err);
	d = open_dev(&p, NULL);
	device_write(d, a, 4096, 4096, NULL);
	int fd = open(p.store_path, O_RDWR);
	ok(pwrite(fd, "X", 1, 4096 + 100) == 1, "corrupt the store file");
	close(fd);
	ok(device_read(d, b, 4096, 4096, NULL) == -EIO &&
	       counter(d, "checksum_errors") == 1,
	   "the read fails its checksum with EIO");
	device_close(d);
	p.size = 2 << 20;
	ok(device_open(&p, NULL, NULL, err, sizeof err) == NULL &&
	       strstr(err, "refusing to resize"),
	   "an existing store of another size is refused: %s", err);
	p.size = 1 << 20;
	d = open_dev(&p, NULL);
	ok(d && device_read(d, b, 4096, 4096, NULL) == 0 && b[100] == 'X' &&
	       b[101] == a[101],
	   "reopening keeps what was stored");
	device_close(d);
	snprintf(gpath, sizeof gpath, "rm -rf %s", tmp);
	if (system(gpath))
		printf("# could not remove %s\n", tmp);
	done_testing();
}
