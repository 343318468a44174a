/* device.c - the device model: store + checksums + capture classification
 * + stable-writes policy + statistics. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "checksum.h"
#include "device.h"
#include "eventlog.h"
#include "histogram.h"
#include "stamp.h"
#include "store.h"

#define BLK DEVICE_BLOCK
#define NLOCKS 1024 /* striped per-block locks */

struct op_stats {
	_Atomic uint64_t count, bytes, errors, inflight, inflight_max;
	struct histogram latency;
};

struct device {
	struct profile prof;
	struct store *store;
	struct eventlog *log;
	struct gentab *gentab;
	uint64_t nblocks;
	uint64_t *csum;    /* per block, valid where has_csum[blk] */
	uint8_t *has_csum; /* written under the block's lock */
	pthread_mutex_t locks[NLOCKS];
	uint64_t start_ns;
	struct op_stats ops[OP_COUNT];
	_Atomic uint64_t inflight;
	_Atomic uint64_t classes[STAMP_NCLASSES];
	_Atomic uint64_t violations, checksum_errors;
	_Atomic uint64_t capture_n, completion_n; /* delay sample numbers */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const char *dev_op_name(enum dev_op op)
{
	static const char *const names[OP_COUNT + 1] = {
	    "read", "write", "flush", "trim", "zero", "none"};
	return (unsigned)op <= OP_COUNT ? names[op] : "?";
}

static struct gentab *gentab_map(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot create generation table: %m",
		         path);
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) || ((uint64_t)st.st_size != GENTAB_SIZE &&
	                       ftruncate(fd, (off_t)GENTAB_SIZE))) {
		snprintf(err, errlen, "%s: cannot size generation table: %m",
		         path);
		close(fd);
		return NULL;
	}
	struct gentab *t =
	    mmap(NULL, GENTAB_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (t == MAP_FAILED) {
		snprintf(err, errlen, "%s: cannot map generation table: %m",
		         path);
		return NULL;
	}
	if (t->magic != GENTAB_MAGIC) {
		atomic_store(&t->run, 0);
		t->capacity = GENTAB_CAPACITY;
		t->magic = GENTAB_MAGIC;
	}
	return t;
}

struct device *device_open(const struct profile *p, const char *gentab_path,
                           const char *events_path, char *err, size_t errlen)
{
	struct device *d = calloc(1, sizeof *d);
	if (!d) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->prof = *p;
	d->nblocks = p->size / BLK;
	d->start_ns = now_ns();
	for (int i = 0; i < NLOCKS; i++)
		pthread_mutex_init(&d->locks[i], NULL);
	d->csum = calloc(d->nblocks, sizeof *d->csum);
	d->has_csum = calloc(d->nblocks, 1);
	if (!d->csum || !d->has_csum) {
		snprintf(err, errlen,
		         "cannot allocate checksums for %" PRIu64 " blocks",
		         d->nblocks);
		goto fail;
	}
	d->store = store_open(p, err, errlen);
	if (!d->store)
		goto fail;
	d->log = eventlog_open(events_path, err, errlen);
	if (!d->log)
		goto fail;
	if (gentab_path) {
		d->gentab = gentab_map(gentab_path, err, errlen);
		if (!d->gentab)
			goto fail;
	}
	return d;
fail:
	device_close(d);
	return NULL;
}

void device_close(struct device *d)
{
	if (!d)
		return;
	if (d->gentab)
		munmap(d->gentab, GENTAB_SIZE);
	eventlog_close(d->log);
	store_close(d->store);
	free(d->csum);
	free(d->has_csum);
	for (int i = 0; i < NLOCKS; i++)
		pthread_mutex_destroy(&d->locks[i]);
	free(d);
}

const struct profile *device_profile(const struct device *d)
{
	return &d->prof;
}

uint64_t device_size(const struct device *d)
{
	return d->prof.size;
}

uint64_t device_begin(struct device *d, enum dev_op op)
{
	struct op_stats *s = &d->ops[op];
	uint64_t in = atomic_fetch_add(&s->inflight, 1) + 1;
	uint64_t max = atomic_load(&s->inflight_max);
	while (in > max &&
	       !atomic_compare_exchange_weak(&s->inflight_max, &max, in))
		;
	atomic_fetch_add(&d->inflight, 1);
	return now_ns();
}

void device_end(struct device *d, enum dev_op op, uint64_t start_ns,
                uint64_t bytes, int err)
{
	struct op_stats *s = &d->ops[op];
	hist_record(&s->latency, now_ns() - start_ns);
	atomic_fetch_add(&s->count, 1);
	if (err)
		atomic_fetch_add(&s->errors, 1);
	else
		atomic_fetch_add(&s->bytes, bytes);
	atomic_fetch_sub(&s->inflight, 1);
	atomic_fetch_sub(&d->inflight, 1);
}

void device_event(struct device *d, const char *event, enum dev_op op,
                  uint64_t off, uint64_t len, const char *detail)
{
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	char line[512];
	snprintf(line, sizeof line,
	         "{\"time\":%lld.%06ld,\"elapsed\":%.6f,\"event\":\"%s\","
	         "\"op\":\"%s\",\"offset\":%" PRIu64 ",\"length\":%" PRIu64
	         "%s%s}",
	         (long long)rt.tv_sec, rt.tv_nsec / 1000,
	         (double)(now_ns() - d->start_ns) / 1e9, event, dev_op_name(op),
	         off, len, detail && *detail ? "," : "", detail ? detail : "");
	eventlog_add(d->log, line);
}

static int out_of_range(const struct device *d, uint64_t len, uint64_t off)
{
	return off > d->prof.size || len > d->prof.size - off;
}

static pthread_mutex_t *block_lock(struct device *d, uint64_t blk)
{
	return &d->locks[blk % NLOCKS];
}

/* Classifies the whole blocks of a captured write; returns the number of
 * violations it found. */
static unsigned classify_capture(struct device *d, const char *buf, size_t len,
                                 uint64_t off)
{
	unsigned violations = 0;
	uint64_t first = (off + BLK - 1) / BLK * BLK - off;
	for (uint64_t at = first; at + BLK <= len; at += BLK) {
		const void *page = buf + at;
		enum stamp_class c = stamp_classify(page, d->gentab);
		atomic_fetch_add(&d->classes[c], 1);
		if (!d->prof.require ||
		    (c != STAMP_TORN && c != STAMP_MODIFIED))
			continue;
		violations++;
		atomic_fetch_add(&d->violations, 1);
		const uint64_t *w = page;
		char detail[160];
		snprintf(detail, sizeof detail,
		         "\"class\":\"%s\",\"page\":%" PRIu64
		         ",\"head\":%" PRIu64 ",\"tail\":%" PRIu64,
		         stamp_class_name(c), w[STAMP_W_INDEX], w[STAMP_W_HEAD],
		         w[STAMP_W_TAIL]);
		device_event(d, "violation", OP_WRITE, off + at, BLK, detail);
	}
	return violations;
}

/* Stores one block's worth of data (whole or partial) under its lock. */
static int store_block(struct device *d, uint64_t blk, const char *src,
                       size_t in_off, size_t n)
{
	char bounce[BLK];
	const char *data = src;
	int r = 0;
	pthread_mutex_t *lk = block_lock(d, blk);
	pthread_mutex_lock(lk);
	if (n != BLK) {
		r = store_read(d->store, blk, bounce);
		if (r)
			goto out;
		memcpy(bounce + in_off, src, n);
		data = bounce;
	}
	r = store_write(d->store, blk, data);
	if (r)
		goto out;
	if (d->prof.checksum != CSUM_NONE) {
		d->csum[blk] = checksum(d->prof.checksum, data, BLK);
		d->has_csum[blk] = 1;
	}
out:
	pthread_mutex_unlock(lk);
	return r;
}

int device_write(struct device *d, const void *buf, size_t len, uint64_t off)
{
	if (out_of_range(d, len, off))
		return -EINVAL;
	unsigned violations = classify_capture(d, buf, len, off);
	if (violations && d->prof.on_violation == ON_ERROR_EIO)
		return -EIO; /* a checksumming device refuses the write whole */
	const char *p = buf;
	while (len) {
		uint64_t blk = off / BLK;
		size_t in_off = off % BLK;
		size_t n = BLK - in_off < len ? BLK - in_off : len;
		int r = store_block(d, blk, p, in_off, n);
		if (r) {
			device_event(d, "store-error", OP_WRITE, off, n,
			             "\"reason\":\"store write failed\"");
			return r;
		}
		p += n, off += n, len -= n;
	}
	return 0;
}

/* Reads one block and checks it against its checksum. */
static int load_block(struct device *d, uint64_t blk, char *dst)
{
	pthread_mutex_t *lk = block_lock(d, blk);
	pthread_mutex_lock(lk);
	int r = store_read(d->store, blk, dst);
	int bad = !r && d->has_csum[blk] &&
	          checksum(d->prof.checksum, dst, BLK) != d->csum[blk];
	pthread_mutex_unlock(lk);
	if (r)
		return r;
	if (bad) {
		atomic_fetch_add(&d->checksum_errors, 1);
		device_event(d, "checksum-error", OP_READ, blk * BLK, BLK,
		             "\"reason\":\"stored block does not match its "
		             "checksum\"");
		if (d->prof.verify_reads == ON_ERROR_EIO)
			return -EIO;
	}
	return 0;
}

int device_read(struct device *d, void *buf, size_t len, uint64_t off)
{
	if (out_of_range(d, len, off))
		return -EINVAL;
	char bounce[BLK];
	char *p = buf;
	while (len) {
		uint64_t blk = off / BLK;
		size_t in_off = off % BLK;
		size_t n = BLK - in_off < len ? BLK - in_off : len;
		char *dst = n == BLK ? p : bounce;
		int r = load_block(d, blk, dst);
		if (r)
			return r;
		if (dst == bounce)
			memcpy(p, bounce + in_off, n);
		p += n, off += n, len -= n;
	}
	return 0;
}

int device_flush(struct device *d)
{
	return store_sync(d->store);
}

/* Trim and zero: whole blocks are dropped (they read back as zeros and
 * lose their checksum); the ends of an unaligned range are zeroed in
 * place. */
int device_trim(struct device *d, uint64_t len, uint64_t off)
{
	static const char zeros[BLK];
	if (out_of_range(d, len, off))
		return -EINVAL;
	while (len) {
		uint64_t blk = off / BLK;
		size_t in_off = off % BLK;
		size_t n = BLK - in_off < len ? BLK - in_off : len;
		int r;
		if (n == BLK) {
			pthread_mutex_t *lk = block_lock(d, blk);
			pthread_mutex_lock(lk);
			r = store_trim(d->store, blk);
			d->has_csum[blk] = 0;
			pthread_mutex_unlock(lk);
		} else {
			r = store_block(d, blk, zeros, in_off, n);
		}
		if (r)
			return r;
		off += n, len -= n;
	}
	return 0;
}

int device_zero(struct device *d, uint64_t len, uint64_t off)
{
	return device_trim(d, len, off);
}

uint64_t device_completion_delay(struct device *d)
{
	if (dist_is_zero(&d->prof.completion))
		return 0;
	return dist_sample(&d->prof.completion, d->prof.seed ^ 0xc0,
	                   atomic_fetch_add(&d->completion_n, 1));
}

uint64_t device_capture_delay(struct device *d)
{
	if (dist_is_zero(&d->prof.capture))
		return 0;
	return dist_sample(&d->prof.capture, d->prof.seed ^ 0xca,
	                   atomic_fetch_add(&d->capture_n, 1));
}

void device_reset(struct device *d)
{
	for (int i = 0; i < OP_COUNT; i++) {
		struct op_stats *s = &d->ops[i];
		atomic_store(&s->count, 0);
		atomic_store(&s->bytes, 0);
		atomic_store(&s->errors, 0);
		atomic_store(&s->inflight_max, atomic_load(&s->inflight));
		hist_reset(&s->latency);
	}
	for (int c = 0; c < STAMP_NCLASSES; c++)
		atomic_store(&d->classes[c], 0);
	atomic_store(&d->violations, 0);
	atomic_store(&d->checksum_errors, 0);
	eventlog_reset(d->log);
}

void device_events(struct device *d, FILE *out)
{
	eventlog_dump(d->log, out);
}

void device_counters(struct device *d, FILE *out)
{
	const struct profile *p = &d->prof;
	fprintf(out, "profile %s\nseed %" PRIu64 "\nsize %" PRIu64 "\n",
	        p->name, p->seed, p->size);
	fprintf(out, "advertise %d\nrequire %d\n", p->advertise, p->require);
	for (int i = 0; i < OP_COUNT; i++) {
		struct op_stats *s = &d->ops[i];
		const char *n = dev_op_name(i);
		fprintf(out,
		        "%s.count %" PRIu64 "\n%s.bytes %" PRIu64
		        "\n%s.errors %" PRIu64 "\n%s.inflight %" PRIu64
		        "\n%s.inflight_max %" PRIu64 "\n%s.p50_us %" PRIu64
		        "\n%s.p99_us %" PRIu64 "\n%s.max_us %" PRIu64 "\n",
		        n, atomic_load(&s->count), n, atomic_load(&s->bytes), n,
		        atomic_load(&s->errors), n, atomic_load(&s->inflight),
		        n, atomic_load(&s->inflight_max), n,
		        hist_percentile(&s->latency, 50) / 1000, n,
		        hist_percentile(&s->latency, 99) / 1000, n,
		        atomic_load(&s->latency.max) / 1000);
	}
	fprintf(out, "inflight %" PRIu64 "\n", atomic_load(&d->inflight));
	for (int c = 0; c < STAMP_NCLASSES; c++)
		fprintf(out, "capture.%s %" PRIu64 "\n", stamp_class_name(c),
		        atomic_load(&d->classes[c]));
	fprintf(out,
	        "violations %" PRIu64 "\nchecksum_errors %" PRIu64
	        "\nevents %" PRIu64 "\nstore_used %" PRIu64 "\n",
	        atomic_load(&d->violations), atomic_load(&d->checksum_errors),
	        eventlog_count(d->log), store_used(d->store));
}

void device_stats_json(struct device *d, FILE *out)
{
	const struct profile *p = &d->prof;
	char cap[64], comp[64];
	dist_format(&p->capture, cap, sizeof cap);
	dist_format(&p->completion, comp, sizeof comp);
	fprintf(out,
	        "{\"profile\":\"%s\",\"seed\":%" PRIu64 ",\"size\":%" PRIu64
	        ",\"uptime\":%.3f,\"advertise\":%s,\"require\":%s,"
	        "\"on_violation\":\"%s\",\"checksum\":\"%s\","
	        "\"capture_delay\":\"%s\",\"completion_delay\":\"%s\","
	        "\"store_used\":%" PRIu64 ",\"inflight\":%" PRIu64 ",\"ops\":{",
	        p->name, p->seed, p->size,
	        (double)(now_ns() - d->start_ns) / 1e9,
	        p->advertise ? "true" : "false", p->require ? "true" : "false",
	        p->on_violation == ON_ERROR_EIO ? "eio" : "log",
	        csum_kind_name(p->checksum), cap, comp, store_used(d->store),
	        atomic_load(&d->inflight));
	for (int i = 0; i < OP_COUNT; i++) {
		struct op_stats *s = &d->ops[i];
		fprintf(out,
		        "%s\"%s\":{\"count\":%" PRIu64 ",\"bytes\":%" PRIu64
		        ",\"errors\":%" PRIu64 ",\"inflight\":%" PRIu64
		        ",\"inflight_max\":%" PRIu64
		        ",\"latency_us\":{\"p50\":%.1f,\"p99\":%.1f,"
		        "\"max\":%.1f}}",
		        i ? "," : "", dev_op_name(i), atomic_load(&s->count),
		        atomic_load(&s->bytes), atomic_load(&s->errors),
		        atomic_load(&s->inflight),
		        atomic_load(&s->inflight_max),
		        hist_percentile(&s->latency, 50) / 1e3,
		        hist_percentile(&s->latency, 99) / 1e3,
		        atomic_load(&s->latency.max) / 1e3);
	}
	fprintf(out, "},\"capture\":{");
	for (int c = 0; c < STAMP_NCLASSES; c++)
		fprintf(out, "%s\"%s\":%" PRIu64, c ? "," : "",
		        stamp_class_name(c), atomic_load(&d->classes[c]));
	fprintf(out,
	        "},\"violations\":%" PRIu64 ",\"checksum_errors\":%" PRIu64
	        ",\"events\":%" PRIu64 "}\n",
	        atomic_load(&d->violations), atomic_load(&d->checksum_errors),
	        eventlog_count(d->log));
}
