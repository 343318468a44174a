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
#include "json.h"
#include "stamp.h"
#include "store.h"

#define BLK DEVICE_BLOCK
#define NLOCKS 1024 /* striped per-block locks */

struct op_stats {
	_Atomic uint64_t count, bytes, errors, inflight, inflight_max;
	struct histogram latency;
};

struct device {
	struct profile prof; /* as started: immutable keys only */
	/* What a running target may change, under cfg_lock: */
	pthread_rwlock_t cfg_lock;
	struct profile live;
	struct ruleset *rules;
	/* Stalls */
	pthread_mutex_t stall_lock;
	uint64_t stalled;
	void (*on_release)(void *);
	void *on_release_opaque;
	struct store *store;
	struct eventlog *log;
	struct gentab *gentab;
	uint64_t nblocks;
	/* Per block, together so that a request touches one cache line:
	 * its checksum, whether it has one, and 1 + the stamped page whose
	 * write the device lost or tore there (UINT64_MAX for an unstamped
	 * one) until a write replaces it; a read of such a block is logged
	 * as "damaged-read". */
	struct block_meta {
		uint64_t csum;
		_Atomic uint64_t damaged;
		uint8_t has_csum; /* written under the block's lock */
	} * meta;
	_Atomic unsigned nrules; /* rules in force: 0 skips their lock */
	pthread_mutex_t locks[NLOCKS];
	uint64_t start_ns;
	struct op_stats ops[OP_COUNT];
	_Atomic uint64_t inflight;
	_Atomic uint64_t classes[STAMP_NCLASSES];
	_Atomic uint64_t violations, checksum_errors;
	_Atomic uint64_t capture_n, completion_n; /* delay sample numbers */
	_Atomic uint64_t faults;
};

/* The live settings one request needs, read once under the lock. */
struct live_cfg {
	int require;
	enum on_error on_violation, verify_reads;
	struct dist completion;
	uint64_t seed;
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
	if (fstat(fd, &st) || ((uint64_t)st.st_size < GENTAB_SIZE &&
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
	d->live = *p;
	d->nblocks = p->size / BLK;
	pthread_rwlock_init(&d->cfg_lock, NULL);
	pthread_mutex_init(&d->stall_lock, NULL);
	d->rules = ruleset_new(p->rules, p->nrules, p->seed);
	d->nrules = p->nrules;
	if (!d->rules) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	d->start_ns = now_ns();
	for (int i = 0; i < NLOCKS; i++)
		pthread_mutex_init(&d->locks[i], NULL);
	d->meta = calloc(d->nblocks, sizeof *d->meta);
	if (!d->meta) {
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
	free(d->meta);
	for (int i = 0; i < NLOCKS; i++)
		pthread_mutex_destroy(&d->locks[i]);
	free(d->rules);
	pthread_rwlock_destroy(&d->cfg_lock);
	pthread_mutex_destroy(&d->stall_lock);
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

/* Lines are built to whatever length they need: a write of many stamped
 * pages lists them all. */
void device_event(struct device *d, const char *event, enum dev_op op,
                  uint64_t off, uint64_t len, const char *detail)
{
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	struct jbuf b = {0};
	jbuf_printf(&b, "{\"time\":%lld.%06ld,\"elapsed\":%.6f,\"event\":",
	            (long long)rt.tv_sec, rt.tv_nsec / 1000,
	            (double)(now_ns() - d->start_ns) / 1e9);
	jbuf_str(&b, event);
	jbuf_printf(&b,
	            ",\"op\":\"%s\",\"offset\":%" PRIu64 ",\"length\":%" PRIu64
	            "%s%s}",
	            dev_op_name(op), off, len, detail && *detail ? "," : "",
	            detail ? detail : "");
	if (!b.failed)
		eventlog_add(d->log, b.p);
	free(b.p);
}

void device_event_start(struct device *d, const char *front_end)
{
	struct jbuf b = {0};
	pthread_rwlock_rdlock(&d->cfg_lock);
	jbuf_printf(&b, "\"profile\":");
	jbuf_str(&b, d->live.name);
	jbuf_printf(&b, ",\"seed\":%" PRIu64 ",\"front_end\":", d->live.seed);
	pthread_rwlock_unlock(&d->cfg_lock);
	jbuf_str(&b, front_end);
	device_event(d, "start", OP_COUNT, 0, 0, jbuf_text(&b));
	free(b.p);
}

static int out_of_range(const struct device *d, uint64_t len, uint64_t off)
{
	return off > d->prof.size || len > d->prof.size - off;
}

static pthread_mutex_t *block_lock(struct device *d, uint64_t blk)
{
	return &d->locks[blk % NLOCKS];
}

static int read_range(struct device *d, char *p, size_t len, uint64_t off,
                      enum on_error verify, int host_read);

static struct live_cfg live_cfg(struct device *d)
{
	pthread_rwlock_rdlock(&d->cfg_lock);
	struct live_cfg c = {d->live.require, d->live.on_violation,
	                     d->live.verify_reads, d->live.completion,
	                     d->live.seed};
	pthread_rwlock_unlock(&d->cfg_lock);
	return c;
}

/* Builds a JSON member ,"pages":[...] from the stamped blocks of a buffer,
 * one page at a time, into b (nothing if there are none). */
struct page_list {
	struct jbuf *b;
	int n;
};

static void page_list_add(struct page_list *l, const char *block)
{
	if (!stamp_is_stamped(block))
		return;
	jbuf_printf(l->b, "%s%" PRIu64, l->n++ ? "," : ",\"pages\":[",
	            stamp_word(block, STAMP_W_INDEX));
}

static void page_list_end(struct page_list *l)
{
	if (l->n)
		jbuf_printf(l->b, "]");
}

/* The stamped pages a buffer carries. */
static void pages_json(const char *buf, size_t len, uint64_t off,
                       struct jbuf *b)
{
	struct page_list l = {b, 0};
	for (uint64_t at = (off + BLK - 1) / BLK * BLK - off; at + BLK <= len;
	     at += BLK)
		page_list_add(&l, buf + at);
	page_list_end(&l);
}

/* The stamped pages that the corruption of verdict v hits in a read. */
static void corrupt_pages_json(const struct rule_verdict *v, const char *buf,
                               size_t len, uint64_t off, struct jbuf *b)
{
	struct page_list l = {b, 0};
	for (uint64_t i = 0; i < v->corrupt_bits; i++) {
		uint64_t at = rules_corrupt_bit(v, i, len) / 8;
		uint64_t start = at - (off + at) % BLK; /* its block in buf */
		if (start <= len && len - start >= BLK) /* whole blocks only */
			page_list_add(&l, buf + start);
	}
	page_list_end(&l);
}

/* Marks the whole blocks of a write the device did not store (from
 * buf + keep on) as damaged, or clears the mark of blocks it stored. */
static void mark_damaged(struct device *d, const char *buf, size_t len,
                         uint64_t off, size_t keep)
{
	uint64_t first = (off + BLK - 1) / BLK * BLK - off;
	for (uint64_t at = first; at + BLK <= len; at += BLK) {
		uint64_t mark = at + BLK <= keep ? 0
		                : stamp_is_stamped(buf + at)
		                    ? stamp_word(buf + at, STAMP_W_INDEX) + 1
		                    : UINT64_MAX;
		_Atomic uint64_t *m = &d->meta[(off + at) / BLK].damaged;
		if (atomic_load_explicit(m, memory_order_relaxed) != mark)
			atomic_store(m, mark);
	}
}

/* Logs the read of a block whose last write the device lost or tore. */
static void note_damaged_read(struct device *d, uint64_t blk)
{
	uint64_t mark = atomic_load(&d->meta[blk].damaged);
	if (mark) {
		char detail[64] = "";
		if (mark != UINT64_MAX)
			snprintf(detail, sizeof detail,
			         "\"pages\":[%" PRIu64 "]", mark - 1);
		device_event(d, "damaged-read", OP_READ, blk * BLK, BLK,
		             detail);
	}
}

/* Classifies the whole blocks of a captured write: counts them, logs the
 * violations, and returns the classes seen (a bit per class) and the
 * number of violations. */
static unsigned classify_capture(struct device *d, const char *buf, size_t len,
                                 uint64_t off, int require, unsigned *classes)
{
	unsigned violations = 0;
	uint64_t first = (off + BLK - 1) / BLK * BLK - off;
	*classes = 0;
	for (uint64_t at = first; at + BLK <= len; at += BLK) {
		const void *page = buf + at;
		enum stamp_class c = stamp_classify(page, d->gentab);
		*classes |= 1u << c;
		atomic_fetch_add(&d->classes[c], 1);
		if (!require || (c != STAMP_TORN && c != STAMP_MODIFIED))
			continue;
		violations++;
		atomic_fetch_add(&d->violations, 1);
		char detail[160];
		snprintf(detail, sizeof detail,
		         "\"class\":\"%s\",\"page\":%" PRIu64
		         ",\"head\":%" PRIu64 ",\"tail\":%" PRIu64,
		         stamp_class_name(c), stamp_word(page, STAMP_W_INDEX),
		         stamp_word(page, STAMP_W_HEAD),
		         stamp_word(page, STAMP_W_TAIL));
		device_event(d, "violation", OP_WRITE, off + at, BLK, detail);
	}
	return violations;
}

/* Evaluates the fault rules for one request, logs what fired and fills
 * io. Returns the verdict's exclusive action. */
static enum rule_action apply_rules(struct device *d, enum dev_op op,
                                    uint64_t off, uint64_t len,
                                    unsigned classes, const char *data,
                                    struct rule_verdict *v, struct dev_io *io)
{
	if (!atomic_load_explicit(&d->nrules, memory_order_acquire)) {
		memset(v, 0, sizeof *v); /* the common case: no rules */
		return ACT_NONE;
	}
	struct rule_req q = {op, off, len, classes, now_ns() - d->start_ns};
	char names[8][RULE_NAME_MAX];
	enum rule_action acts[8];
	int errs[8];
	pthread_rwlock_rdlock(&d->cfg_lock);
	ruleset_eval(d->rules, &q, v);
	for (unsigned i = 0; i < v->nfired; i++) {
		const struct rule_spec *r = &d->rules->rule[v->fired[i]].spec;
		memcpy(names[i], r->name, RULE_NAME_MAX);
		acts[i] = r->action;
		errs[i] = r->err;
	}
	pthread_rwlock_unlock(&d->cfg_lock);
	if (!v->nfired)
		return ACT_NONE;
	struct jbuf pages = {0};
	if (data && v->corrupt_bits)
		corrupt_pages_json(v, data, len, off, &pages);
	else if (data)
		pages_json(data, len, off, &pages);
	for (unsigned i = 0; i < v->nfired; i++) {
		struct jbuf detail = {0};
		atomic_fetch_add(&d->faults, 1);
		jbuf_printf(&detail, "\"rule\":");
		jbuf_str(&detail, names[i]);
		jbuf_printf(&detail, ",\"action\":\"%s\"",
		            rule_action_name(acts[i]));
		if (acts[i] == ACT_ERROR)
			jbuf_printf(&detail, ",\"errno\":\"%s\"",
			            errno_name(errs[i]));
		jbuf_printf(&detail, "%s", jbuf_text(&pages));
		device_event(d, "fault", op, off, len, jbuf_text(&detail));
		free(detail.p);
	}
	free(pages.p);
	if (io) {
		io->delay_ns += v->delay_ns;
		io->stall = v->action == ACT_STALL;
		io->disconnect = v->action == ACT_DISCONNECT;
	}
	return v->action;
}

/* Stores one block's worth of data (whole or partial) under its lock. The
 * checksum is taken over csum_src when given (a torn write keeps the
 * checksum of what should have been written). */
static int store_block(struct device *d, uint64_t blk, const char *src,
                       size_t in_off, size_t n, const char *csum_src)
{
	char bounce[BLK], intended[BLK];
	const char *data = src;
	int r = 0;
	pthread_mutex_t *lk = block_lock(d, blk);
	pthread_mutex_lock(lk);
	if (n != BLK) {
		r = store_read(d->store, blk, bounce);
		if (r)
			goto out;
		if (csum_src) {
			memcpy(intended, bounce, BLK);
			memcpy(intended + in_off, csum_src, n);
			csum_src = intended;
		}
		memcpy(bounce + in_off, src, n);
		data = bounce;
	}
	r = store_write(d->store, blk, data);
	if (r)
		goto out;
	if (d->prof.checksum != CSUM_NONE) {
		d->meta[blk].csum =
		    checksum(d->prof.checksum, csum_src ? csum_src : data, BLK);
		d->meta[blk].has_csum = 1;
	}
out:
	pthread_mutex_unlock(lk);
	return r;
}

/* Stores [off, off+len) from buf; with keep < len only the first keep
 * bytes reach the store (a torn write), the checksums still cover all. */
static int store_range(struct device *d, const char *buf, size_t len,
                       uint64_t off, size_t keep)
{
	size_t done = 0;
	while (done < len) {
		uint64_t at = off + done;
		uint64_t blk = at / BLK;
		size_t in_off = at % BLK;
		size_t n =
		    BLK - in_off < len - done ? BLK - in_off : len - done;
		const char *src = buf + done;
		int r;
		if (done + n <= keep) {
			r = store_block(d, blk, src, in_off, n, NULL);
		} else {
			/* Part or none of this block arrives: keep what the
			 * block held beyond the torn point. */
			char part[BLK];
			size_t got = keep > done ? keep - done : 0;
			uint64_t start = blk * BLK + in_off;
			r = read_range(d, part, n, start, ON_ERROR_LOG, 0);
			if (!r) {
				memcpy(part, src, got);
				r = store_block(d, blk, part, in_off, n, src);
			}
		}
		if (r) {
			device_event(d, "store-error", OP_WRITE, at, n,
			             "\"reason\":\"store write failed\"");
			return r;
		}
		done += n;
	}
	return 0;
}

int device_write(struct device *d, const void *buf, size_t len, uint64_t off,
                 struct dev_io *io)
{
	struct live_cfg cfg = live_cfg(d);
	if (io) {
		*io = (struct dev_io){0};
		if (!dist_is_zero(&cfg.completion))
			io->delay_ns =
			    dist_sample(&cfg.completion, cfg.seed ^ 0xc0,
			                atomic_fetch_add(&d->completion_n, 1));
	}
	if (out_of_range(d, len, off))
		return -EINVAL;
	unsigned classes;
	unsigned violations =
	    classify_capture(d, buf, len, off, cfg.require, &classes);
	struct rule_verdict v;
	enum rule_action act =
	    apply_rules(d, OP_WRITE, off, len, classes, buf, &v, io);
	if (violations && cfg.on_violation == ON_ERROR_EIO)
		return -EIO; /* a checksumming device refuses the write whole */
	size_t keep = len;
	switch (act) {
	case ACT_ERROR:
		return -v.err;
	case ACT_DISCONNECT:
		return -ESHUTDOWN;
	case ACT_LOSE:
		keep = 0; /* acknowledged, never stored */
		break;
	case ACT_TEAR:
		keep = v.tear_bytes < len ? v.tear_bytes : len;
		break;
	default:
		break;
	}
	int r = keep ? store_range(d, buf, len, off, keep) : 0;
	if (!r)
		mark_damaged(d, buf, len, off, keep);
	return r;
}

/* Reads one block and checks it against its checksum. */
static int load_block(struct device *d, uint64_t blk, char *dst,
                      enum on_error verify, int host_read)
{
	if (host_read)
		note_damaged_read(d, blk);
	pthread_mutex_t *lk = block_lock(d, blk);
	pthread_mutex_lock(lk);
	int r = store_read(d->store, blk, dst);
	int bad = !r && d->meta[blk].has_csum &&
	          checksum(d->prof.checksum, dst, BLK) != d->meta[blk].csum;
	pthread_mutex_unlock(lk);
	if (r)
		return r;
	if (bad) {
		atomic_fetch_add(&d->checksum_errors, 1);
		struct jbuf detail = {0};
		jbuf_printf(&detail, "\"reason\":\"stored block does not "
		                     "match its checksum\"");
		pages_json(dst, BLK, blk * BLK, &detail);
		device_event(d, "checksum-error", OP_READ, blk * BLK, BLK,
		             jbuf_text(&detail));
		free(detail.p);
		if (verify == ON_ERROR_EIO)
			return -EIO;
	}
	return 0;
}

/* Reads a range without rules or statistics, checking checksums as
 * configured. host_read: a read the front end asked for (not the device's
 * own read-modify-write), so reads of damaged blocks are logged. */
static int read_range(struct device *d, char *p, size_t len, uint64_t off,
                      enum on_error verify, int host_read)
{
	char bounce[BLK];
	while (len) {
		uint64_t blk = off / BLK;
		size_t in_off = off % BLK;
		size_t n = BLK - in_off < len ? BLK - in_off : len;
		char *dst = n == BLK ? p : bounce;
		int r = load_block(d, blk, dst, verify, host_read);
		if (r)
			return r;
		if (dst == bounce)
			memcpy(p, bounce + in_off, n);
		p += n, off += n, len -= n;
	}
	return 0;
}

int device_read(struct device *d, void *buf, size_t len, uint64_t off,
                struct dev_io *io)
{
	if (io)
		*io = (struct dev_io){0};
	if (out_of_range(d, len, off))
		return -EINVAL;
	struct live_cfg cfg = live_cfg(d);
	int r = read_range(d, buf, len, off, cfg.verify_reads, 1);
	if (r)
		return r;
	struct rule_verdict v;
	enum rule_action act =
	    apply_rules(d, OP_READ, off, len, 0, buf, &v, io);
	if (act == ACT_ERROR)
		return -v.err;
	if (act == ACT_DISCONNECT)
		return -ESHUTDOWN;
	if (v.corrupt_bits)
		rules_corrupt(&v, buf, len);
	return 0;
}

/* Flush, trim and zero share the rules' error, stall and delay. */
static int simple_rules(struct device *d, enum dev_op op, uint64_t len,
                        uint64_t off, struct dev_io *io)
{
	struct rule_verdict v;
	if (io)
		*io = (struct dev_io){0};
	enum rule_action act = apply_rules(d, op, off, len, 0, NULL, &v, io);
	if (act == ACT_ERROR)
		return -v.err;
	if (act == ACT_DISCONNECT)
		return -ESHUTDOWN;
	return 0;
}

int device_flush(struct device *d, struct dev_io *io)
{
	int r = simple_rules(d, OP_FLUSH, 0, 0, io);
	return r ? r : store_sync(d->store);
}

/* Trim and zero: whole blocks are dropped (they read back as zeros and
 * lose their checksum); the ends of an unaligned range are zeroed in
 * place. */
static int drop_range(struct device *d, uint64_t len, uint64_t off)
{
	static const char zeros[BLK];
	while (len) {
		uint64_t blk = off / BLK;
		size_t in_off = off % BLK;
		size_t n = BLK - in_off < len ? BLK - in_off : len;
		int r;
		if (n == BLK) {
			pthread_mutex_t *lk = block_lock(d, blk);
			pthread_mutex_lock(lk);
			r = store_trim(d->store, blk);
			d->meta[blk].has_csum = 0;
			atomic_store(&d->meta[blk].damaged, 0);
			pthread_mutex_unlock(lk);
		} else {
			r = store_block(d, blk, zeros, in_off, n, NULL);
		}
		if (r)
			return r;
		off += n, len -= n;
	}
	return 0;
}

int device_trim(struct device *d, uint64_t len, uint64_t off, struct dev_io *io)
{
	if (out_of_range(d, len, off))
		return -EINVAL;
	int r = simple_rules(d, OP_TRIM, len, off, io);
	return r ? r : drop_range(d, len, off);
}

int device_zero(struct device *d, uint64_t len, uint64_t off, struct dev_io *io)
{
	if (out_of_range(d, len, off))
		return -EINVAL;
	int r = simple_rules(d, OP_ZERO, len, off, io);
	return r ? r : drop_range(d, len, off);
}

uint64_t device_capture_delay(struct device *d)
{
	pthread_rwlock_rdlock(&d->cfg_lock);
	struct dist dist = d->live.capture;
	uint64_t seed = d->live.seed;
	pthread_rwlock_unlock(&d->cfg_lock);
	if (dist_is_zero(&dist))
		return 0;
	return dist_sample(&dist, seed ^ 0xca,
	                   atomic_fetch_add(&d->capture_n, 1));
}

void device_release(struct device *d)
{
	pthread_mutex_lock(&d->stall_lock);
	d->stalled = 0;
	void (*fn)(void *) = d->on_release;
	void *opaque = d->on_release_opaque;
	pthread_mutex_unlock(&d->stall_lock);
	device_event(d, "release", OP_COUNT, 0, 0, NULL);
	if (fn)
		fn(opaque);
}

void device_on_release(struct device *d, void (*fn)(void *), void *opaque)
{
	pthread_mutex_lock(&d->stall_lock);
	d->on_release = fn;
	d->on_release_opaque = opaque;
	pthread_mutex_unlock(&d->stall_lock);
}

uint64_t device_stalled(struct device *d)
{
	pthread_mutex_lock(&d->stall_lock);
	uint64_t n = d->stalled;
	pthread_mutex_unlock(&d->stall_lock);
	return n;
}

/* Counts a request a front end holds itself until the next release. */
void device_stall_note(struct device *d)
{
	pthread_mutex_lock(&d->stall_lock);
	d->stalled++;
	pthread_mutex_unlock(&d->stall_lock);
}

int device_load_profile(struct device *d, const struct profile *np, char *err,
                        size_t errlen)
{
	if (profile_same_fixed(&d->prof, np, err, errlen))
		return -1;
	struct ruleset *s = ruleset_new(np->rules, np->nrules, np->seed);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pthread_rwlock_wrlock(&d->cfg_lock);
	struct ruleset *old = d->rules;
	d->live = *np;
	d->rules = s;
	atomic_store(&d->nrules, s->n);
	pthread_rwlock_unlock(&d->cfg_lock);
	free(old);
	struct jbuf detail = {0};
	jbuf_printf(&detail, "\"profile\":");
	jbuf_str(&detail, np->name);
	jbuf_printf(&detail, ",\"seed\":%" PRIu64 ",\"rules\":%u", np->seed,
	            np->nrules);
	device_event(d, "load", OP_COUNT, 0, 0, jbuf_text(&detail));
	free(detail.p);
	return 0;
}

/* Adds or removes one rule: a copy of the current rules (with their
 * counters) replaces them. The copy is made and swapped in under one hold
 * of the write lock, so that concurrent edits never work from the same old
 * set and lose each other's change; the new set is allocated before, so
 * the data path waits only for the copy. */
static int edit_rules(struct device *d, const struct rule_spec *add,
                      const char *remove, char *err, size_t errlen)
{
	const char *name = add ? add->name : remove;
	struct ruleset *s =
	    calloc(1, sizeof *s + RULES_MAX * sizeof s->rule[0]);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pthread_rwlock_wrlock(&d->cfg_lock);
	struct ruleset *cur = d->rules;
	unsigned n = cur->n, found = n;
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(cur->rule[i].spec.name, name))
			found = i;
	int bad = add ? found < n || n == RULES_MAX : found == n;
	if (bad) {
		pthread_rwlock_unlock(&d->cfg_lock);
		free(s);
		if (add && n == RULES_MAX && found == n)
			snprintf(err, errlen, "too many rules (at most %d)",
			         RULES_MAX);
		else
			snprintf(err, errlen,
			         add ? "rule '%s' exists; remove it first"
			             : "no rule '%s'",
			         name);
		return -1;
	}
	s->seed = cur->seed;
	for (unsigned i = 0; i < n; i++) {
		if (i == found)
			continue;
		struct rule_state *t = &s->rule[s->n++];
		t->spec = cur->rule[i].spec;
		t->matches = atomic_load(&cur->rule[i].matches);
		t->fired = atomic_load(&cur->rule[i].fired);
	}
	if (add)
		s->rule[s->n++].spec = *add;
	d->rules = s;
	atomic_store(&d->nrules, s->n);
	/* Keep the live profile's rule list in step, for "profile". */
	d->live.nrules = s->n;
	for (unsigned i = 0; i < s->n; i++)
		d->live.rules[i] = s->rule[i].spec;
	pthread_rwlock_unlock(&d->cfg_lock);
	free(cur);
	struct jbuf detail = {0};
	jbuf_printf(&detail, "\"rule\":");
	jbuf_str(&detail, name);
	device_event(d, add ? "rule-added" : "rule-removed", OP_COUNT, 0, 0,
	             jbuf_text(&detail));
	free(detail.p);
	return 0;
}

int device_add_rule(struct device *d, const struct rule_spec *r, char *err,
                    size_t errlen)
{
	if (rule_spec_check(r, d->prof.size, err, errlen))
		return -1;
	return edit_rules(d, r, NULL, err, errlen);
}

int device_remove_rule(struct device *d, const char *name, char *err,
                       size_t errlen)
{
	return edit_rules(d, NULL, name, err, errlen);
}

void device_clear_rules(struct device *d)
{
	struct ruleset *s = ruleset_new(NULL, 0, d->prof.seed);
	if (!s)
		return;
	pthread_rwlock_wrlock(&d->cfg_lock);
	struct ruleset *old = d->rules;
	s->seed = old->seed;
	d->rules = s;
	atomic_store(&d->nrules, 0);
	d->live.nrules = 0;
	pthread_rwlock_unlock(&d->cfg_lock);
	free(old);
	device_event(d, "rules-cleared", OP_COUNT, 0, 0, NULL);
}

/* Listed into memory under the lock, written out without it: a client
 * that does not read must not hold the rules' lock. */
void device_list_rules(struct device *d, FILE *out)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	if (!mem)
		return;
	pthread_rwlock_rdlock(&d->cfg_lock);
	ruleset_list(d->rules, mem);
	pthread_rwlock_unlock(&d->cfg_lock);
	if (!fclose(mem))
		fwrite(text, 1, len, out);
	free(text);
}

void device_get_profile(struct device *d, struct profile *out)
{
	pthread_rwlock_rdlock(&d->cfg_lock);
	*out = d->live;
	pthread_rwlock_unlock(&d->cfg_lock);
}

void device_follow_events(struct device *d, FILE *out)
{
	eventlog_follow(d->log, out, fileno(out));
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
	atomic_store(&d->faults, 0);
	eventlog_reset(d->log);
}

void device_events(struct device *d, FILE *out)
{
	eventlog_dump(d->log, out);
}

void device_counters(struct device *d, FILE *out)
{
	static __thread struct profile live;
	device_get_profile(d, &live);
	const struct profile *p = &live;
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
	fprintf(out, "faults %" PRIu64 "\nstalled %" PRIu64 "\n",
	        atomic_load(&d->faults), device_stalled(d));
	fprintf(out,
	        "violations %" PRIu64 "\nchecksum_errors %" PRIu64
	        "\nevents %" PRIu64 "\nstore_used %" PRIu64 "\n",
	        atomic_load(&d->violations), atomic_load(&d->checksum_errors),
	        eventlog_count(d->log), store_used(d->store));
}

void device_stats_json(struct device *d, FILE *out)
{
	static __thread struct profile live;
	device_get_profile(d, &live);
	const struct profile *p = &live;
	char cap[64], comp[64];
	dist_format(&p->capture, cap, sizeof cap);
	dist_format(&p->completion, comp, sizeof comp);
	fprintf(out, "{\"profile\":");
	json_fputs(p->name, out);
	fprintf(out,
	        ",\"seed\":%" PRIu64 ",\"size\":%" PRIu64
	        ",\"uptime\":%.3f,\"advertise\":%s,\"require\":%s,"
	        "\"on_violation\":\"%s\",\"checksum\":\"%s\","
	        "\"capture_delay\":\"%s\",\"completion_delay\":\"%s\","
	        "\"store_used\":%" PRIu64 ",\"inflight\":%" PRIu64 ",\"ops\":{",
	        p->seed, p->size, (double)(now_ns() - d->start_ns) / 1e9,
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
	        ",\"faults\":%" PRIu64 ",\"stalled\":%" PRIu64
	        ",\"events\":%" PRIu64 "}\n",
	        atomic_load(&d->violations), atomic_load(&d->checksum_errors),
	        atomic_load(&d->faults), device_stalled(d),
	        eventlog_count(d->log));
}
