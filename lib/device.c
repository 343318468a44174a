/* device.c - the device model: opening and closing it, and the request
 * path, top to bottom in the order a request meets it: device_begin, the
 * rules and the reads, the writes (capture classification, stores, torn
 * and lost writes), flush, trim and zero, device_end. Live changes are in
 * device-live.c, statistics and reading the event log in device-report.c;
 * every event line is written here, by device_event(). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "classify.h"
#include "checksum.h"
#include "device-internal.h"
#include "eventlog.h"
#include "json.h"
#include "store.h"

/* The live settings one request needs, read once under the lock. */
struct live_cfg {
	int require;
	enum on_error on_violation, verify_reads;
	struct dist completion;
	uint64_t seed;
};

const char *dev_op_name(enum dev_op op)
{
	static const char *const names[OP_COUNT + 1] = {
	    "read", "write", "flush", "trim", "zero", "none"};
	return (unsigned)op <= OP_COUNT ? names[op] : "?";
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
		d->gentab = gentab_open(gentab_path, GENTAB_CREATE, GENTAB_SIZE,
		                        err, errlen);
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
		gentab_close(d->gentab, GENTAB_SIZE);
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

/* Writes every line of the event log: the request path's, the live
 * changes' and the front ends'. Lines are built to whatever length they
 * need: a write of many stamped pages lists them all. */
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

/* The request path. Every request: device_begin, then its operation, then
 * device_end when the front end replies. */

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

static struct live_cfg live_cfg(struct device *d)
{
	pthread_rwlock_rdlock(&d->cfg_lock);
	struct live_cfg c = {d->live.require, d->live.on_violation,
	                     d->live.verify_reads, d->live.completion,
	                     d->live.seed};
	pthread_rwlock_unlock(&d->cfg_lock);
	return c;
}

static int out_of_range(const struct device *d, uint64_t len, uint64_t off)
{
	return off > d->prof.size || len > d->prof.size - off;
}

static pthread_mutex_t *block_lock(struct device *d, uint64_t blk)
{
	return &d->locks[blk % NLOCKS];
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

/* Reads (before writes: a torn write reads back what it keeps). */

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

/* The direct read. Its blocks are contiguous, so their striped locks are
 * consecutive modulo NLOCKS; they are taken in ascending lock order (the
 * wrapped ones first), and this is the only place that holds more than
 * one, so it cannot deadlock. The locks cover the checksum check and the
 * reply's copy: a write cannot change a block in between. */
#define DIRECT_BLOCKS (DEVICE_DIRECT_MAX / BLK)

static void lock_span(struct device *d, uint64_t blk, unsigned n, int lock)
{
	unsigned first = (unsigned)(blk % NLOCKS);
	unsigned wrap = first + n > NLOCKS ? first + n - NLOCKS : 0;
	for (unsigned i = 0; i < wrap; i++)
		(lock ? pthread_mutex_lock
		      : pthread_mutex_unlock)(&d->locks[i]);
	for (unsigned i = first; i < first + n - wrap; i++)
		(lock ? pthread_mutex_lock
		      : pthread_mutex_unlock)(&d->locks[i]);
}

int device_read_direct(struct device *d, size_t len, uint64_t off,
                       void (*reply)(void *arg, const struct iovec *iov, int n),
                       void *arg)
{
	if (!len || len > DEVICE_DIRECT_MAX || len % BLK || off % BLK ||
	    out_of_range(d, len, off) ||
	    atomic_load_explicit(&d->nrules, memory_order_acquire))
		return -EAGAIN;
	uint64_t blk = off / BLK;
	unsigned n = (unsigned)(len / BLK);
	for (unsigned i = 0; i < n; i++)
		if (atomic_load_explicit(&d->meta[blk + i].damaged,
		                         memory_order_relaxed))
			return -EAGAIN; /* device_read logs its read */
	struct iovec iov[DIRECT_BLOCKS] = {0};
	int ok = 1;
	lock_span(d, blk, n, 1);
	for (unsigned i = 0; i < n && ok; i++) {
		const struct block_meta *m = &d->meta[blk + i];
		const void *p = store_peek(d->store, blk + i);
		iov[i] = (struct iovec){(void *)p, BLK};
		ok = p && (!m->has_csum ||
		           checksum(d->prof.checksum, p, BLK) == m->csum);
	}
	if (ok)
		reply(arg, iov, (int)n);
	lock_span(d, blk, n, 0);
	return ok ? 0 : -EAGAIN; /* a bad checksum: device_read reports it */
}

/* Writes: the capture delay a front end waits before device_write, the
 * classification of what it captured, then the store. */

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
		enum stamp_class c = classify_page(page, d->gentab);
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
