/* stamp.h - the page stamp written by the torture workload and recognised
 * by the device (the generation table they share is gentab.h).
 *
 * Header-only so that the workload (which may be built statically for a
 * guest) and both device front ends include exactly the same definition.
 *
 * A stamped 4 KiB page is 512 little-endian 64-bit words:
 *   w[0]        STAMP_MAGIC
 *   w[1]        run id (random per torture run)
 *   w[2]        page index within the run
 *   w[3]        head sequence
 *   w[4..510]   body, stamp_body_at(stamp_body_key(run, index, seq), k)
 *   w[511]      tail sequence
 * The workload rewrites a page head first, body next, tail last, so a
 * capture taken during a rewrite has head != tail or a body that belongs to
 * neither sequence: it is torn. An intact page whose sequence is newer than
 * the one the workload published in the generation table just before it
 * swapped the page out was modified after the write was submitted.
 */
#ifndef SWAPEMU_STAMP_H
#define SWAPEMU_STAMP_H

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "gentab.h"
#include "hash.h"

#define STAMP_PAGE_SIZE 4096u
#define STAMP_WORDS (STAMP_PAGE_SIZE / 8u)
#define STAMP_MAGIC 0x53574150454d5531ull /* "SWAPEMU1" */
#define STAMP_W_MAGIC 0
#define STAMP_W_RUN 1
#define STAMP_W_INDEX 2
#define STAMP_W_HEAD 3
#define STAMP_W_BODY 4
#define STAMP_W_TAIL (STAMP_WORDS - 1)

enum stamp_class {
	STAMP_UNSTAMPED = 0,
	STAMP_CLEAN,
	STAMP_TORN,
	STAMP_MODIFIED,
	STAMP_NCLASSES
};

static inline const char *stamp_class_name(enum stamp_class c)
{
	static const char *const names[] = {"unstamped", "clean", "torn",
	                                    "modified"};
	return (unsigned)c < STAMP_NCLASSES ? names[c] : "?";
}

/* The body word at position k when run/index/seq are known. The body is
 * derived from a per-page key so that the inner loop is one multiply-add
 * per word: classification runs on every captured page. */
static inline uint64_t stamp_body_key(uint64_t run, uint64_t index,
                                      uint64_t seq)
{
	return mix64(run ^ mix64(index ^ mix64(seq)));
}

static inline uint64_t stamp_body_at(uint64_t key, unsigned k)
{
	return (key ^ k) * 0x9e3779b97f4a7c15ull + k;
}

static inline void stamp_write_head(uint64_t *w, uint64_t run, uint64_t index,
                                    uint64_t seq)
{
	w[STAMP_W_MAGIC] = STAMP_MAGIC;
	w[STAMP_W_RUN] = run;
	w[STAMP_W_INDEX] = index;
	w[STAMP_W_HEAD] = seq;
}

/* Writes body words [from, to) for seq. */
static inline void stamp_write_body(uint64_t *w, uint64_t run, uint64_t index,
                                    uint64_t seq, unsigned from, unsigned to)
{
	uint64_t key = stamp_body_key(run, index, seq);
	for (unsigned k = from; k < to; k++)
		w[k] = stamp_body_at(key, k);
}

static inline void stamp_write_tail(uint64_t *w, uint64_t seq)
{
	w[STAMP_W_TAIL] = seq;
}

/* A whole, consistent stamp at once. */
static inline void stamp_fill(void *page, uint64_t run, uint64_t index,
                              uint64_t seq)
{
	uint64_t *w = page;
	stamp_write_head(w, run, index, seq);
	stamp_write_body(w, run, index, seq, STAMP_W_BODY, STAMP_W_TAIL);
	stamp_write_tail(w, seq);
}

/* Word k of a page that may sit at any address: request buffers carry
 * pages at the request's offset, so an 8 KiB write at offset 1 holds its
 * whole block at buf + 4095. memcpy is one unaligned load on x86. */
static inline uint64_t stamp_word(const void *page, unsigned k)
{
	uint64_t v;
	memcpy(&v, (const char *)page + 8 * (size_t)k, sizeof v);
	return v;
}

static inline int stamp_is_stamped(const void *page)
{
	return stamp_word(page, STAMP_W_MAGIC) == STAMP_MAGIC;
}

/* Is the page (at any address) a complete, self-consistent stamp? On success
 * the sequence, run and index are returned through the pointers. */
static inline int stamp_intact(const void *page, uint64_t *run, uint64_t *index,
                               uint64_t *seq)
{
	if (!stamp_is_stamped(page))
		return 0;
	*run = stamp_word(page, STAMP_W_RUN);
	*index = stamp_word(page, STAMP_W_INDEX);
	*seq = stamp_word(page, STAMP_W_HEAD);
	if (stamp_word(page, STAMP_W_TAIL) != *seq)
		return 0;
	/* No early exit: a loop without branches vectorises (lib/classify.c
	 * builds it for AVX-512, which multiplies eight words at a time). */
	uint64_t key = stamp_body_key(*run, *index, *seq), diff = 0;
	for (unsigned k = STAMP_W_BODY; k < STAMP_W_TAIL; k++)
		diff |= stamp_word(page, k) ^ stamp_body_at(key, k);
	return diff == 0;
}

/* Classify one captured 4 KiB block. tab may be NULL (no workload is
 * publishing): intact stamps are then clean, since "modified" cannot be
 * known. The table is read with acquire so that a generation published
 * before MADV_PAGEOUT is seen by a capture that follows it. */
static inline enum stamp_class stamp_classify(const void *page,
                                              const struct gentab *tab)
{
	uint64_t run, index, seq;
	if (!stamp_is_stamped(page))
		return STAMP_UNSTAMPED;
	if (!stamp_intact(page, &run, &index, &seq))
		return STAMP_TORN;
	if (!tab || index >= GENTAB_CAPACITY ||
	    atomic_load_explicit(&tab->run, memory_order_acquire) != run)
		return STAMP_CLEAN;
	uint64_t published =
	    atomic_load_explicit(&tab->gen[index], memory_order_acquire);
	return seq > published ? STAMP_MODIFIED : STAMP_CLEAN;
}

#endif
