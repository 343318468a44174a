/* report.c - the run's report: one JSON object, or a table for people. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "result.h"

static const char *verdict_name(enum verdict v)
{
	return v == VERDICT_PASS ? "pass" : v == VERDICT_FAIL ? "fail" : "skip";
}

static void json_str(FILE *f, const char *s)
{
	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void json_opt(FILE *f, const char *key, const struct opt_u64 *v)
{
	fprintf(f, ",\"%s\":", key);
	if (v->known)
		fprintf(f, "%" PRIu64, v->v);
	else
		fputs("null", f);
}

static void json_u64(FILE *f, const char *key, uint64_t v)
{
	fprintf(f, ",\"%s\":%" PRIu64, key, v);
}

/* "swapin_latency_us":{"p50":..,"p99":..,"max":..,"count":..}: null
 * figures when no read had to wait for the device. */
static void json_swapin(FILE *f, const struct swapin_latency *l)
{
	fputs(",\"swapin_latency_us\":{", f);
	if (l->count)
		fprintf(f, "\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f",
		        l->p50 / 1e3, l->p99 / 1e3, l->max / 1e3);
	else
		fputs("\"p50\":null,\"p99\":null,\"max\":null", f);
	fprintf(f, ",\"count\":%" PRIu64 ",\"cache_hits\":%" PRIu64 "}",
	        l->count, l->cache_hits);
}

/* Swap-out bytes (4 KiB a swap-out) over the rounds' time, MiB/s. */
static void json_mib_s(FILE *f, uint64_t swapouts, double main_seconds)
{
	fprintf(f, ",\"main_seconds\":%.3f", main_seconds);
	if (main_seconds > 0)
		fprintf(f, ",\"swapout_mib_s\":%.3f",
		        swapouts * 4096.0 / (1 << 20) / main_seconds);
	else
		fputs(",\"swapout_mib_s\":null", f);
}

static void json_bool(FILE *f, const char *key, bool v)
{
	fprintf(f, ",\"%s\":%s", key, v ? "true" : "false");
}

void report_json(const struct torture_opts *o, const struct torture_result *r,
                 FILE *f)
{
	const struct device_side *d = &r->dev;
	const struct opt_u64 none = {0};
	bool dev = d->present;

	fprintf(f, "{\"swapouts\":%" PRIu64, r->swapouts);
	json_opt(f, "clean", dev ? &d->clean : &none);
	json_opt(f, "torn", dev ? &d->torn : &none);
	json_opt(f, "modified", dev ? &d->modified : &none);
	json_opt(f, "unstamped", dev ? &d->unstamped : &none);
	json_opt(f, "violations", dev ? &d->violations : &none);
	json_u64(f, "copied", r->copied);
	json_u64(f, "lost", r->lost);
	json_u64(f, "corrupt", r->corrupt);
	fputs(",\"kernel\":", f);
	json_str(f, r->kernel);
	fputs(",\"profile\":", f);
	json_str(f, dev && d->profile_known ? d->profile : NULL);
	json_u64(f, "seed", o->seed);
	fputs(",\"target\":", f);
	json_str(f, o->target);
	json_u64(f, "pages", o->pages);
	json_u64(f, "batch", o->batch);
	json_u64(f, "modify_ms", o->modify_ms);
	json_u64(f, "write_after_us", o->write_after_us);
	json_u64(f, "rounds", r->rounds);
	fprintf(f, ",\"seconds\":%.3f", r->seconds);
	json_u64(f, "not_swapped", r->not_swapped);
	json_u64(f, "under_writeback", r->under_writeback);
	json_u64(f, "copied_under_writeback", r->copied_under_writeback);
	json_u64(f, "swapins", r->swapins);
	json_u64(f, "kernel_pswpout", r->kernel_pswpout);
	json_bool(f, "swap_cache_dropped", r->swap_cache_dropped);
	fputs(",\"device_idle\":", f);
	fputs(!dev ? "null" : d->idle ? "true" : "false", f);
	json_opt(f, "write_errors", dev ? &d->write_errors : &none);
	json_opt(f, "checksum_errors", dev ? &d->checksum_errors : &none);
	json_opt(f, "device_seed", dev ? &d->seed : &none);
	fputs(",\"damaged\":[", f);
	for (unsigned k = 0; k < r->ndamaged; k++) {
		fprintf(f,
		        "%s{\"page\":%" PRIu64 ",\"word\":%u,\"kind\":\"%s\"",
		        k ? "," : "", r->damaged[k].page, r->damaged[k].word,
		        r->damaged[k].kind == DAMAGE_LOST ? "lost" : "corrupt");
		fputs(",\"scenario\":", f);
		json_str(f, r->damaged[k].scenario);
		fputc('}', f);
	}
	fputc(']', f);
	/* Beyond the documented core keys. */
	json_u64(f, "damaged_total", r->damaged_total);
	json_u64(f, "writeback_race", r->writeback_race);
	json_u64(f, "final_swapouts", r->final_swapouts);
	json_u64(f, "verified", r->verified);
	json_u64(f, "unreadable", r->unreadable);
	fprintf(f, ",\"run\":\"%#" PRIx64 "\"", r->run);
	fputs(",\"cgroup\":", f);
	json_str(f, r->cgroup);
	json_opt(f, "swap_cache_left", &r->swap_cache_left);
	json_bool(f, "interrupted", r->interrupted);
	json_u64(f, "failed", r->failed);
	fputs(",\"kernel_findings\":[", f);
	for (unsigned k = 0; k < r->nfindings; k++) {
		if (k)
			fputc(',', f);
		json_str(f, r->findings[k]);
	}
	fputc(']', f);
	json_u64(f, "kernel_findings_total", r->findings_total);
	json_mib_s(f, r->swapouts, r->main_seconds);
	json_swapin(f, &r->swapin);
	fputs(",\"scenarios\":[", f);
	for (unsigned k = 0; k < r->nscen; k++) {
		const struct scen_result *sr = &r->scen[k];
		const struct device_side *sd = &sr->dev;
		fputs(k ? ",{\"name\":" : "{\"name\":", f);
		json_str(f, sr->name);
		fputs(",\"verdict\":", f);
		json_str(f, verdict_name(sr->verdict));
		fputs(",\"reason\":", f);
		json_str(f, sr->reason);
		json_u64(f, "swapouts", sr->swapouts);
		json_opt(f, "torn", dev ? &sd->torn : &none);
		json_opt(f, "modified", dev ? &sd->modified : &none);
		json_opt(f, "violations", dev ? &sd->violations : &none);
		json_opt(f, "clean", dev ? &sd->clean : &none);
		json_u64(f, "lost", sr->lost);
		json_u64(f, "corrupt", sr->corrupt);
		json_u64(f, "copied", sr->copied);
		json_u64(f, "rounds", sr->rounds);
		fprintf(f, ",\"seconds\":%.3f", sr->seconds);
		json_mib_s(f, sr->swapouts, sr->main_seconds);
		json_swapin(f, &sr->swapin);
		json_u64(f, "kernel_findings", sr->kernel_findings);
		for (unsigned e = 0; e < sr->nev; e++)
			json_u64(f, sr->ev[e].name, sr->ev[e].v);
		fputc('}', f);
	}
	fputs("]}\n", f);
}

static void row(FILE *f, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void row(FILE *f, const char *name, const char *fmt, ...)
{
	va_list ap;
	fprintf(f, "  %-24s ", name);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
}

static void row_opt(FILE *f, const char *name, const struct opt_u64 *v,
                    bool dev)
{
	if (dev && v->known)
		row(f, name, "%" PRIu64, v->v);
	else
		row(f, name, "n/a");
}

void report_human(const struct torture_opts *o, const struct torture_result *r,
                  FILE *f)
{
	const struct device_side *d = &r->dev;
	bool dev = d->present;

	fprintf(f,
	        "swapemu-torture: kernel %s, target %s, seed %" PRIu64 "%s\n",
	        r->kernel, o->target ? o->target : "(none)", o->seed,
	        r->interrupted ? " (interrupted)" : "");
	row(f, "pages",
	    "%" PRIu64 " (batch %" PRIu64 ", modify %" PRIu64 " ms)", o->pages,
	    o->batch, o->modify_ms);
	row(f, "rounds", "%" PRIu64 " in %.1f s", r->rounds, r->seconds);
	row(f, "swapouts", "%" PRIu64, r->swapouts);
	row(f, "not swapped", "%" PRIu64, r->not_swapped);
	row(f, "under writeback", "%" PRIu64, r->under_writeback);
	row(f, "copied", "%" PRIu64, r->copied);
	row(f, "copied under writeback", "%" PRIu64, r->copied_under_writeback);
	row(f, "writeback ended at fault", "%" PRIu64, r->writeback_race);
	row_opt(f, "device: clean", &d->clean, dev);
	row_opt(f, "device: torn", &d->torn, dev);
	row_opt(f, "device: modified", &d->modified, dev);
	row_opt(f, "device: unstamped", &d->unstamped, dev);
	row_opt(f, "device: violations", &d->violations, dev);
	row_opt(f, "device: write errors", &d->write_errors, dev);
	row_opt(f, "device: checksum errors", &d->checksum_errors, dev);
	row(f, "device: profile", "%s",
	    dev && d->profile_known ? d->profile : "n/a");
	row(f, "device: idle at the end", "%s",
	    !dev      ? "n/a"
	    : d->idle ? "yes"
	              : "NO (timed out)");
	row(f, "swap cache dropped", "%s%s",
	    r->swap_cache_dropped ? "yes" : "no",
	    r->cgroup ? (r->cgroup[1] == '2' ? " (cgroup v2)" : " (cgroup v1)")
	              : " (no memory cgroup)");
	row(f, "final swap-outs", "%" PRIu64, r->final_swapouts);
	row(f, "swap-ins (pswpin)", "%" PRIu64, r->swapins);
	row(f, "kernel pswpout", "%" PRIu64, r->kernel_pswpout);
	if (r->main_seconds > 0)
		row(f, "swap-out rate", "%.1f MiB/s (rounds: %.1f s)",
		    r->swapouts * 4096.0 / (1 << 20) / r->main_seconds,
		    r->main_seconds);
	if (r->swapin.count)
		row(f, "swap-in latency",
		    "p50 %.1f us, p99 %.1f us, max %.1f us (%" PRIu64
		    " device reads, %" PRIu64 " cache hits)",
		    r->swapin.p50 / 1e3, r->swapin.p99 / 1e3,
		    r->swapin.max / 1e3, r->swapin.count, r->swapin.cache_hits);
	else
		row(f, "swap-in latency",
		    "n/a (no read waited for the device)");
	if (r->nscen == 1 && !strcmp(r->scen[0].name, "write"))
		row(f, "verified", "%" PRIu64 " of %" PRIu64, r->verified,
		    o->pages);
	else
		row(f, "verified", "%" PRIu64 " (pages, over the scenarios)",
		    r->verified);
	row(f, "lost", "%" PRIu64, r->lost);
	row(f, "corrupt", "%" PRIu64 "%s", r->corrupt,
	    r->unreadable ? " (some unreadable: swap-in failed)" : "");
	for (unsigned k = 0; k < r->ndamaged && k < 10; k++)
		fprintf(f, "    page %" PRIu64 " word %u: %s\n",
		        r->damaged[k].page, r->damaged[k].word,
		        r->damaged[k].kind == DAMAGE_LOST ? "lost" : "corrupt");
	if (r->damaged_total > 10)
		fprintf(f, "    ... %" PRIu64 " more (see --json)\n",
		        r->damaged_total - 10);
	for (unsigned k = 0; k < r->nfindings; k++)
		fprintf(f, "  kernel: %s\n", r->findings[k]);
	fprintf(f, "scenarios: %u run, %u failed\n", r->nscen, r->failed);
	for (unsigned k = 0; k < r->nscen; k++) {
		const struct scen_result *sr = &r->scen[k];
		fprintf(f, "  %-12s %-4s %s\n", sr->name,
		        verdict_name(sr->verdict),
		        sr->reason[0] ? sr->reason : "");
		fprintf(f, "               swapouts %" PRIu64, sr->swapouts);
		if (dev && sr->dev.torn.known)
			fprintf(f,
			        " torn %" PRIu64 " modified %" PRIu64
			        " violations %" PRIu64,
			        sr->dev.torn.v, sr->dev.modified.v,
			        sr->dev.violations.v);
		fprintf(f, " lost %" PRIu64 " corrupt %" PRIu64, sr->lost,
		        sr->corrupt);
		for (unsigned e = 0; e < sr->nev; e++)
			fprintf(f, " %s %" PRIu64, sr->ev[e].name, sr->ev[e].v);
		fputc('\n', f);
	}
}

/* KTAP (Documentation/dev-tools/ktap.rst): one test per scenario, the
 * evidence as diagnostic lines before each result. */
void report_ktap(const struct torture_opts *o, const struct torture_result *r,
                 FILE *f)
{
	fprintf(f, "KTAP version 1\n");
	fprintf(f,
	        "# swapemu-torture: kernel %s, target %s, seed %" PRIu64 "\n",
	        r->kernel, o->target ? o->target : "(none)", o->seed);
	fprintf(f, "1..%u\n", r->nscen);
	for (unsigned k = 0; k < r->nscen; k++) {
		const struct scen_result *sr = &r->scen[k];
		fprintf(f,
		        "# %s: swapouts %" PRIu64 " lost %" PRIu64
		        " corrupt %" PRIu64,
		        sr->name, sr->swapouts, sr->lost, sr->corrupt);
		if (sr->dev.present && sr->dev.torn.known)
			fprintf(f,
			        " torn %" PRIu64 " modified %" PRIu64
			        " violations %" PRIu64,
			        sr->dev.torn.v, sr->dev.modified.v,
			        sr->dev.violations.v);
		for (unsigned e = 0; e < sr->nev; e++)
			fprintf(f, " %s %" PRIu64, sr->ev[e].name, sr->ev[e].v);
		fputc('\n', f);
		if (sr->reason[0] && sr->verdict != VERDICT_SKIP)
			fprintf(f, "# %s: %s\n", sr->name, sr->reason);
		if (sr->verdict == VERDICT_SKIP)
			fprintf(f, "ok %u %s # SKIP %s\n", k + 1, sr->name,
			        sr->reason);
		else
			fprintf(f, "%s %u %s\n",
			        sr->verdict == VERDICT_PASS ? "ok" : "not ok",
			        k + 1, sr->name);
	}
	for (unsigned k = 0; k < r->nfindings; k++)
		fprintf(f, "# kernel: %s\n", r->findings[k]);
}
