/* scenario_large_folio.c - "large-folio": a region whose pages are in a
 * PMD-sized THP (2 MiB, MADV_HUGEPAGE) and in smaller mTHP folios (64 KiB,
 * where /sys/kernel/mm/transparent_hugepage/hugepages-64kB exists), each
 * swapped out with one MADV_PAGEOUT over the whole folio, then rewritten
 * while under writeback and after; the device classifies every 4 KiB
 * block. The THP settings are saved and put back.
 *
 * Kernels before 6.8 have no per-size directories (hugepages-*kB): there
 * only the PMD-sized THP is tried, under the global THP/enabled, counted
 * by /proc/vmstat's thp_swpout and thp_swpout_fallback.
 *
 * The kernel swaps a large folio out whole only to a non-rotational swap
 * device (decided at swapon); on a rotational one it splits every folio
 * (swpout_fallback), and the scenario skips with that reason. */
#include <errno.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pagemap.h"
#include "scenario.h"

#define THP "/sys/kernel/mm/transparent_hugepage"
#define KPF_COMPOUND_HEAD 15
#define KPF_COMPOUND_TAIL 16

static const unsigned sizes_kb[] = {2048, 64};

static bool have_size(unsigned kb)
{
	char p[128], v[64];
	snprintf(p, sizeof p, THP "/hugepages-%ukB/enabled", kb);
	return !h_read_file(p, v, sizeof v);
}

/* No per-size directories: only the PMD size, with the global knobs. */
static bool legacy;

/* /proc/vmstat's counter name, or 0. */
static uint64_t vmstat_of(const char *name)
{
	FILE *f = fopen("/proc/vmstat", "re");
	char k[64];
	unsigned long long v, r = 0;
	if (!f)
		return 0;
	while (fscanf(f, "%63s %llu", k, &v) == 2)
		if (!strcmp(k, name))
			r = v;
	fclose(f);
	return r;
}

/* The size's swap-out counter; /proc/vmstat's thp_NAME for the PMD size
 * where there is no per-size one (before 6.10). */
static uint64_t stat_of(unsigned kb, const char *name)
{
	char p[160], v[64];
	snprintf(p, sizeof p, THP "/hugepages-%ukB/stats/%s", kb, name);
	if (!legacy && !h_read_file(p, v, sizeof v))
		return strtoull(v, NULL, 10);
	snprintf(p, sizeof p, "thp_%s", name);
	return kb == 2048 ? vmstat_of(p) : 0;
}

/* The global knob at least "madvise" (a guest under 512 MiB boots with
 * THP off), and direct compaction for MADV_HUGEPAGE regions. */
static int configure_legacy(void)
{
	static const char *const knobs[] = {THP "/enabled", THP "/defrag"};
	for (int k = 0; k < 2; k++) {
		char v[128];
		if (h_read_file(knobs[k], v, sizeof v))
			return -1;
		if (!strstr(v, "[never]"))
			continue;
		h_restore_file_later(knobs[k]);
		if (h_write_file(knobs[k], "madvise"))
			return -1;
	}
	return 0;
}

/* Every mTHP size off except the ones we use, set to always. */
static int configure(void)
{
	if (legacy)
		return configure_legacy();
	DIR *d = opendir(THP);
	if (!d)
		return -1;
	struct dirent *e;
	while ((e = readdir(d))) {
		unsigned kb;
		if (sscanf(e->d_name, "hugepages-%ukB", &kb) != 1)
			continue;
		char p[300], v[64];
		snprintf(p, sizeof p, THP "/%s/enabled", e->d_name);
		/* Some sizes are for shmem only (no enabled file). */
		if (h_read_file(p, v, sizeof v))
			continue;
		h_restore_file_later(p);
		bool use = kb == sizes_kb[0] || kb == sizes_kb[1];
		if (h_write_file(p, use ? "always" : "never")) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

/* Pages of the region in large folios now. */
static uint64_t in_large_folios(struct harness *h)
{
	uint64_t *pm = calloc(h->n, sizeof *pm), n = 0;
	if (!pm || pagemap_read(h->mem, h->n, pm))
		h_fail_exit("cannot read /proc/self/pagemap");
	for (uint64_t i = 0; i < h->n; i++) {
		uint64_t f;
		if (pm_pfn(pm[i]) && !kpageflags_read(pm_pfn(pm[i]), &f))
			n += (f >> KPF_COMPOUND_HEAD & 1) ||
			     (f >> KPF_COMPOUND_TAIL & 1);
	}
	free(pm);
	return n;
}

static void run(struct harness *h)
{
	char v[64];
	if (h_read_file(THP "/enabled", v, sizeof v)) {
		h_skip(h, "no transparent huge pages in this kernel");
		return;
	}
	legacy = false;
	if (!have_size(2048) && !have_size(64)) {
		/* Before 6.8: the PMD size only, if it is 2 MiB. */
		if (h_read_file(THP "/hpage_pmd_size", v, sizeof v) ||
		    strtoull(v, NULL, 10) != 2u << 20) {
			h_skip(h,
			       "neither a 2048 kB nor a 64 kB folio size is "
			       "offered (%s/hugepages-*kB, hpage_pmd_size)",
			       THP);
			return;
		}
		legacy = true;
	}
	if (configure()) {
		h_skip(h, "cannot change %s/%s: %s", THP,
		       legacy ? "enabled or defrag" : "hugepages-*kB/enabled",
		       strerror(errno));
		return;
	}
	/* 2 MiB for the THP, then 512 KiB that only smaller folios fit. */
	const uint64_t thp = 512, tail = 128;
	h_region(h, thp + tail, 2u << 20, true);
	uint64_t *large = h_ev(h, "pages_in_large_folios", true);
	uint64_t *whole = h_ev(h, "folios_swapped_whole", true);
	uint64_t *split = h_ev(h, "folios_split_at_swapout", false);
	uint64_t out0[2], fb0[2];
	for (int k = 0; k < 2; k++) {
		out0[k] = stat_of(sizes_kb[k], "swpout");
		fb0[k] = stat_of(sizes_kb[k], "swpout_fallback");
	}
	uint64_t rounds = h->o->rounds < 2 ? 2 : h->o->rounds;
	for (uint64_t r = 0; r < rounds && !h_stopped(h); r++) {
		*large += in_large_folios(h);
		h->after_wb = r % 2 == 1;
		/* The THP in one call, then each 64 KiB folio in one. */
		if (h_page_out(h, 0, thp))
			h_rewrite(h, 0, thp, false);
		for (uint64_t s = thp; s < thp + tail; s += 16)
			if (h_page_out(h, s, 16))
				h_rewrite(h, s, 16, false);
		h->sr->rounds++;
		h->r->rounds++;
	}
	h->after_wb = false;
	for (int k = 0; k < 2; k++) {
		*whole += stat_of(sizes_kb[k], "swpout") - out0[k];
		*split += stat_of(sizes_kb[k], "swpout_fallback") - fb0[k];
	}
	if (*large && !*whole)
		h_skip(h,
		       "no large folio was swapped out whole (%llu split at "
		       "swap-out): the kernel swaps large folios out whole "
		       "only to a non-rotational swap device",
		       (unsigned long long)*split);
}

const struct scenario scenario_large_folio = {
    .name = "large-folio",
    .summary = "a 2 MiB THP and 64 KiB mTHP folios swapped out whole and "
               "rewritten",
    .run = run,
};
