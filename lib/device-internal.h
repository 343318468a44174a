/* device-internal.h - the device model's state, shared by its files only:
 * device.c (opening, closing and the request path), device-live.c (live
 * rule and profile changes, stalls) and device-report.c (statistics and
 * the event log). Nothing outside lib/device*.c includes it. */
#ifndef SWAPEMU_DEVICE_INTERNAL_H
#define SWAPEMU_DEVICE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "clock.h"
#include "device.h"
#include "histogram.h"
#include "stamp.h"

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
	/* device_set_transport(): */
	const char *_Atomic transport, *_Atomic no_capture_delay;
};

#endif
