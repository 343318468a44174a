/* harness_run.c - the harness's rounds and the life of a scenario: the
 * rounds, the device's counts, the final check of every page, the kernel
 * findings and the verdict (see harness.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "clock.h"
#include "harness.h"
#include "kmsg.h"
#include "pagemap.h"
#include "scenario.h"

#define IDLE_TIMEOUT_NS (30ull * 1000000000ull)

static void pm_read(const void *addr, size_t n, uint64_t *e)
{
	if (pagemap_read(addr, n, e))
		h_fail_exit("cannot read /proc/self/pagemap: %s",
		            strerror(errno));
}

/* ------------------------------------------------------------ rounds */

static bool time_is_up(struct harness *h)
{
	struct torture_opts *o = h->o;
	if (o->swapouts && h->r->swapouts - h->swapouts0 >= o->swapouts)
		return true;
	return o->seconds && now_ns() - h->t0 >= o->seconds * 1000000000ull;
}

void h_rounds(struct harness *h, unsigned after_every, bool by_time,
              void (*batch)(struct harness *h, uint64_t start, unsigned n))
{
	uint64_t B = h->o->batch < h->n ? h->o->batch : h->n;
	uint64_t per_round = (h->n + B - 1) / B, batches = 0;
	uint64_t want = h->o->rounds < 2 ? 2 : h->o->rounds;
	if (after_every < 1)
		after_every = 1;
	for (uint64_t start = 0;;) {
		/* Alternate within a round, and shift by one each round, so
		 * that every batch has both kinds over the rounds. */
		uint64_t round = batches / per_round;
		uint64_t k =
		    per_round % after_every ? batches : batches + round;
		h->after_wb =
		    after_every > 1 && k % after_every == after_every - 1;
		unsigned n = (unsigned)(h->n - start < B ? h->n - start : B);
		batch(h, start, n);
		batches++;
		h->r->batches++;
		start += n;
		if (start >= h->n)
			start = 0;
		if (*h->stop)
			break;
		if (by_time ? time_is_up(h)
		            : start == 0 && batches / per_round >= want)
			break;
	}
	h->after_wb = false;
	h->sr->rounds += (batches + per_round - 1) / per_round;
	h->r->rounds += (batches + per_round - 1) / per_round;
}

/* ------------------------------------------------------------ run */

static uint64_t vmstat_writeback;

static void read_vmstat(uint64_t *pswpin, uint64_t *pswpout)
{
	*pswpin = *pswpout = 0;
	vmstat_writeback = 0;
	FILE *f = fopen("/proc/vmstat", "re");
	if (!f)
		return;
	char k[64];
	unsigned long long v;
	while (fscanf(f, "%63s %llu", k, &v) == 2) {
		if (!strcmp(k, "pswpin"))
			*pswpin = v;
		else if (!strcmp(k, "pswpout"))
			*pswpout = v;
		else if (!strcmp(k, "nr_writeback"))
			vmstat_writeback = v;
	}
	fclose(f);
}

/* Waits until every swap write so far is done (nothing under writeback
 * in the system, the device idle), so that the device's counters read
 * now are the rounds' alone. */
static bool wait_rounds_done(struct harness *h)
{
	uint64_t deadline = now_ns() + IDLE_TIMEOUT_NS, in, out;
	for (;;) {
		read_vmstat(&in, &out);
		if (!vmstat_writeback)
			break;
		if (now_ns() > deadline || *h->stop)
			return false;
		sleep_ms(20);
	}
	return h->r->dev.present ? target_wait_idle(h->t, deadline, h->stop)
	                         : true;
}

/* Swap-in latency, as the workload sees it: the time of the first read of
 * a page whose fault must read the device. That is a page still swapped
 * out (its PTE a swap entry, pm) and not in the swap cache right before
 * the read (mincore): a page that an earlier fault's readahead brought in
 * is a cache hit and not timed (a readahead still in flight counts as a
 * hit too). Returns whether to time page i's read. */
static bool needs_device_read(struct harness *h, uint64_t i, uint64_t pm)
{
	unsigned char in_cache;
	if (!pm_swapped(pm))
		return false;
	if (mincore(h_page(h, i), PS, &in_cache))
		return false;
	if (in_cache & 1) {
		h->sr->swapin.cache_hits++;
		h->r->swapin.cache_hits++;
		return false;
	}
	return true;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Exact p50, p99 (nearest rank) and max of n samples (sorted here). */
static void swapin_summary(uint64_t *ns, uint64_t n, struct swapin_latency *s)
{
	s->count = n;
	if (!n)
		return;
	qsort(ns, n, sizeof *ns, cmp_u64);
	s->p50 = ns[(n * 50 + 99) / 100 - 1];
	s->p99 = ns[(n * 99 + 99) / 100 - 1];
	s->max = ns[n - 1];
}

/* The final check of the scenario's region: everything out without
 * rewriting, wait for the writeback and the device, drop the swap cache,
 * read every page back. Returns the device's idleness. */
static bool verify(struct harness *h)
{
	struct torture_result *r = h->r;
	/* --batch pages per call, as in the rounds (not h->cap). */
	uint64_t N = h->n, B = h->o->batch < N ? h->o->batch : N;
	uint64_t in0, in1, out;
	read_vmstat(&in0, &out);
	uint64_t *old = calloc(N, sizeof *old);
	uint64_t *pm = calloc(N, sizeof *pm);
	unsigned char *vec = calloc(N, 1);
	if (!old || !pm || !vec)
		h_fail_exit("out of memory");
	uint64_t nold = 0, swapouts = r->swapouts, not_swapped = r->not_swapped;
	for (uint64_t s = 0; s < N; s += B) {
		unsigned n = (unsigned)(N - s < B ? N - s : B);
		h_page_out(h, s, n);
		for (unsigned j = 0; j < n; j++)
			if (h->swapped[j])
				old[nold++] = h->pfn[j];
	}
	/* The rounds' counts stay the rounds': the final swap-outs are
	 * counted apart (the device captures them too, as clean pages). */
	r->final_swapouts += r->swapouts - swapouts;
	r->swapouts = swapouts;
	r->not_swapped = not_swapped;

	uint64_t deadline = now_ns() + IDLE_TIMEOUT_NS;
	bool idle = h_wait_writeback(h, old, nold, deadline);
	if (r->dev.present)
		idle = target_wait_idle(h->t, deadline, h->stop) && idle;
	else
		sleep_ms(1000);

	/* Drop the swap cache, so the reads below come from the device.
	 * Pages the drop itself swaps out count as swap-outs too. */
	pm_read(h->mem, N, pm);
	for (uint64_t i = 0; i < N; i++)
		old[i] = pm_present(pm[i]);
	r->swap_cache_dropped = memcg_drop(h->cg, N * PS);
	pm_read(h->mem, N, pm);
	for (uint64_t i = 0; i < N; i++)
		r->final_swapouts += old[i] && pm_swapped(pm[i]);
	/* mincore() reports whether a swapped-out page is in the swap cache. */
	if (!mincore(h->mem, N * PS, vec)) {
		r->swap_cache_left.known = true;
		for (uint64_t i = 0; i < N; i++)
			r->swap_cache_left.v +=
			    pm_swapped(pm[i]) && (vec[i] & 1);
	}

	if (h_break(h, "corrupt") && N > 1) {
		/* Test only: one word of page 1 changed without a new
		 * sequence, as a device returning a wrong block would. */
		uint64_t *w = (uint64_t *)h_page(h, 1);
		w[STAMP_W_BODY + 7] ^= 1;
	}
	if (h_break(h, "lose") && N > 2 && h->seq[2] > 1) {
		/* Test only: page 2 back to its previous generation, as a
		 * device that dropped the last write would return it. */
		stamp_fill(h_page(h, 2), h->run, h->idx[2], h->seq[2] - 1);
	}

	/* The run's samples grow by at most N; this scenario's are its tail. */
	uint64_t *lat =
	    realloc(r->swapin_ns, (r->nswapin_ns + N + 1) * sizeof *lat);
	if (!lat)
		h_fail_exit("out of memory");
	r->swapin_ns = lat;
	uint64_t *mine = lat + r->nswapin_ns, nmine = 0;
	uint64_t buf[STAMP_WORDS];
	for (uint64_t i = 0; i < N; i++) {
		if (h->dead[i])
			continue; /* already counted */
		bool timed = needs_device_read(h, i, pm[i]);
		uint64_t t = now_ns();
		if (h_read_page(h, i, buf))
			continue;
		if (timed)
			mine[nmine++] = now_ns() - t;
		if (h_check_copy(h, i, buf))
			r->verified++;
	}
	read_vmstat(&in1, &out);
	r->swapins += in1 - in0;
	swapin_summary(mine, nmine, &h->sr->swapin);
	r->nswapin_ns += nmine;
	/* At most a region's pages per scenario: sorting all again is cheap. */
	swapin_summary(r->swapin_ns, r->nswapin_ns, &r->swapin);
	if (r->dev.present)
		idle = target_wait_idle(h->t, now_ns() + IDLE_TIMEOUT_NS,
		                        h->stop) &&
		       idle;
	free(old);
	free(pm);
	free(vec);
	return idle;
}

static void add_opt(struct opt_u64 *sum, const struct opt_u64 *v)
{
	if (!v->known)
		return;
	sum->known = true;
	sum->v += v->v;
}

static void on_finding(const char *msg, void *arg)
{
	struct harness *h = arg;
	struct torture_result *r = h->r;
	r->findings_total++;
	h->sr->kernel_findings++;
	if (r->nfindings < TORTURE_MAX_FINDINGS)
		snprintf(r->findings[r->nfindings++], sizeof r->findings[0],
		         "%s", msg);
	if (h->sr->kernel_findings == 1)
		h_fail_final(h, "kernel problem: %s", msg);
}

/* The verdict, from the counts (see the README: a failure is lost or
 * corrupt data, a violation, a kernel problem or the scenario's own
 * check; a scenario never passes without evidence). */
static void judge(struct harness *h)
{
	struct scen_result *sr = h->sr;
	const struct device_side *d = &sr->dev;
	h_fail_count_rest(h);
	if (sr->lost || sr->corrupt) {
		const struct damage *first = NULL;
		for (unsigned k = 0; k < h->r->ndamaged; k++)
			if (h->r->damaged[k].scenario == sr->name) {
				first = &h->r->damaged[k];
				break;
			}
		char first_s[128] = "";
		if (first)
			snprintf(first_s, sizeof first_s,
			         " (first: page %" PRIu64 " word %u %s)",
			         first->page, first->word,
			         first->kind == DAMAGE_LOST ? "lost"
			                                    : "corrupt");
		h_fail_final(h, "%" PRIu64 " lost, %" PRIu64 " corrupt%s",
		             sr->lost, sr->corrupt, first_s);
	}
	if (d->violations.known && d->violations.v)
		h_fail_final(h,
		             "%" PRIu64 " stable-write violations: the target "
		             "requires stable pages and captured pages changed "
		             "under writeback",
		             d->violations.v);
	if (sr->verdict == VERDICT_SKIP)
		return;
	/* Without a swapemu device (a kernel-native baseline) a swap device
	 * that completes writes synchronously, as zram does, never leaves a
	 * page under writeback: the path cannot be exercised there. With a
	 * device, whose writes are slow by design, zero is a failure. */
	if (sr->swapouts && !sr->under_writeback && !d->torn.known) {
		h_skip(h, "no page was under writeback when written: the swap "
		          "device writes synchronously (zram?)");
		return;
	}
	*h_ev(h, "faults_under_writeback", true) = sr->under_writeback;
	*h_ev(h, "faults_after_writeback", true) = sr->after_writeback;
	if (!sr->swapouts) {
		if (!h_any_swap_active())
			h_skip(h, "no swap area is active");
		else
			h_fail_final(h, "nothing was swapped out");
		return;
	}
	for (unsigned k = 0; k < sr->nev; k++)
		if (sr->ev[k].required && !sr->ev[k].v && !*h->stop)
			h_fail_final(h, "%s is 0: the path was not exercised",
			             sr->ev[k].name);
	uint64_t torn = d->torn.known ? d->torn.v : 0;
	uint64_t mod = d->modified.known ? d->modified.v : 0;
	if ((torn || mod) && !(d->violations.known && d->violations.v))
		h_note(h,
		       "finding: %" PRIu64 " torn and %" PRIu64
		       " modified captures (allowed: the target does not "
		       "require stable pages)",
		       torn, mod);
}

void h_device_mark(struct harness *h)
{
	struct torture_result *r = h->r;
	struct scen_result *sr = h->sr;
	if (h->dev_done)
		return;
	h->dev_done = true;
	h->idle = wait_rounds_done(h);
	if (!r->dev.present)
		return;
	char err[512];
	char *c1 = target_counters(h->t, err, sizeof err);
	if (!c1)
		h_warn("target '%s': cannot read the counters: %s", h->t->name,
		       err);
	sr->dev.present = true;
	target_delta(h->c0, c1, &sr->dev);
	add_opt(&r->dev.clean, &sr->dev.clean);
	add_opt(&r->dev.torn, &sr->dev.torn);
	add_opt(&r->dev.modified, &sr->dev.modified);
	add_opt(&r->dev.unstamped, &sr->dev.unstamped);
	add_opt(&r->dev.violations, &sr->dev.violations);
	add_opt(&r->dev.write_errors, &sr->dev.write_errors);
	add_opt(&r->dev.checksum_errors, &sr->dev.checksum_errors);
	r->dev.seed = sr->dev.seed;
	r->dev.profile_known = sr->dev.profile_known;
	memcpy(r->dev.profile, sr->dev.profile, sizeof r->dev.profile);
	free(h->c0);
	free(c1);
	h->c0 = NULL;
}

void h_run_scenario(struct harness *h, const struct scenario *s, unsigned index)
{
	struct torture_result *r = h->r;
	struct scen_result *sr = &r->scen[r->nscen++];
	memset(sr, 0, sizeof *sr);
	sr->name = s->name;
	sr->verdict = VERDICT_PASS;
	h->sr = sr;
	/* The first scenario's run id is the one the seed always gave. */
	h->run = mix64(h->o->seed + index * 0x9e3779b97f4a7c15ull) | 1;
	if (!index)
		r->run = h->run;
	target_republish(h->t, h->run, h->o->table_pages);

	char err[512];
	h->c0 = NULL;
	h->dev_done = false;
	h->idle = true;
	if (r->dev.present && !(h->c0 = target_counters(h->t, err, sizeof err)))
		h_die("target '%s': %s", h->t->name, err);
	uint64_t swapouts = r->swapouts, lost = r->lost, corrupt = r->corrupt,
	         copied = r->copied, uw = r->under_writeback;
	uint64_t t0 = now_ns();
	h->t0 = t0;
	h->swapouts0 = swapouts;

	s->run(h);
	sr->main_seconds = (double)(now_ns() - t0) / 1e9;
	r->main_seconds += sr->main_seconds;
	h_restore_files(); /* KSM and THP knobs back before the check */
	h_device_mark(h);
	bool idle = h->idle;
	if (h->mem && sr->verdict != VERDICT_SKIP)
		idle = verify(h) && idle;
	r->dev.idle = r->dev.idle && idle;
	h_region_free(h);
	if (h_break(h, "kmsg") && !strcmp(s->name, "write"))
		h_write_file("/dev/kmsg",
		             "swapemu-torture test-break: WARNING: "
		             "a deliberate finding\n");
	kmsg_collect(on_finding, h);

	sr->seconds = (double)(now_ns() - t0) / 1e9;
	sr->swapouts = r->swapouts - swapouts;
	sr->lost = r->lost - lost;
	sr->corrupt = r->corrupt - corrupt;
	sr->copied = r->copied - copied;
	sr->under_writeback = r->under_writeback - uw;
	judge(h);
	if (sr->verdict == VERDICT_FAIL)
		r->failed++;
	h->sr = NULL;
}
