/* device-report.c - what the device tells: its event log (written by
 * device_event() in device.c) and its statistics, in both formats ("stats"
 * JSON, "counters" lines) generated from one list of fields, and the
 * reset of both. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "checksum.h"
#include "device-internal.h"
#include "eventlog.h"
#include "json.h"
#include "store.h"

void device_follow_events(struct device *d, FILE *out)
{
	eventlog_follow(d->log, out, fileno(out));
}

void device_events(struct device *d, FILE *out)
{
	eventlog_dump(d->log, out);
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

/* Statistics: stats_read() below lists every field once, and both formats
 * are written from that list. How a field's value reads in each: */
enum field_kind {
	FIELD_COUNT,   /* a number, the same in both */
	FIELD_BOOL,    /* counters: 0 or 1; JSON: false or true */
	FIELD_TEXT,    /* counters: as it is; JSON: a string */
	FIELD_LATENCY, /* ns; counters: whole us; JSON: us, one decimal */
	FIELD_UPTIME,  /* ns; JSON: seconds, three decimals */
};

#define FIELD_NAME 40
#define JSON_DEPTH 4 /* levels of a JSON path: ops.read.latency_us.p50 */
#define STATS_MAX 80

struct field {
	char json[FIELD_NAME];    /* path in the JSON object, '.' per level */
	char counter[FIELD_NAME]; /* key of its line; "" for JSON only */
	enum field_kind kind;
	uint64_t n;
	const char *text;
};

/* One reading of the statistics: the fields and the text they point to. */
struct stats {
	struct profile live;
	char capture[64], completion[64];
	unsigned n;
	struct field f[STATS_MAX];
};

static void add_field(struct stats *s, enum field_kind kind, const char *json,
                      const char *counter, uint64_t n, const char *text)
{
	if (s->n == STATS_MAX)
		return; /* cannot happen: the list below is fixed */
	struct field *f = &s->f[s->n++];
	snprintf(f->json, sizeof f->json, "%s", json);
	snprintf(f->counter, sizeof f->counter, "%s", counter ? counter : "");
	f->kind = kind;
	f->n = n;
	f->text = text;
}

static void add_op_field(struct stats *s, enum dev_op op, enum field_kind kind,
                         const char *json, const char *counter, uint64_t n)
{
	char j[FIELD_NAME], c[FIELD_NAME];
	snprintf(j, sizeof j, "ops.%s.%s", dev_op_name(op), json);
	snprintf(c, sizeof c, "%s.%s", dev_op_name(op), counter);
	add_field(s, kind, j, c, n, NULL);
}

/* The one list of the device's statistics, in the order both formats give
 * them: a field's JSON path, then its counter key (NULL: JSON only). */
static void stats_read(struct device *d, struct stats *s)
{
	device_get_profile(d, &s->live);
	const struct profile *p = &s->live;
	dist_format(&p->capture, s->capture, sizeof s->capture);
	dist_format(&p->completion, s->completion, sizeof s->completion);
	s->n = 0;
	add_field(s, FIELD_TEXT, "profile", "profile", 0, p->name);
	add_field(s, FIELD_COUNT, "seed", "seed", p->seed, NULL);
	add_field(s, FIELD_COUNT, "size", "size", p->size, NULL);
	add_field(s, FIELD_UPTIME, "uptime", NULL, now_ns() - d->start_ns,
	          NULL);
	add_field(s, FIELD_BOOL, "advertise", "advertise",
	          (uint64_t)p->advertise, NULL);
	add_field(s, FIELD_BOOL, "require", "require", (uint64_t)p->require,
	          NULL);
	add_field(s, FIELD_TEXT, "on_violation", NULL, 0,
	          p->on_violation == ON_ERROR_EIO ? "eio" : "log");
	add_field(s, FIELD_TEXT, "checksum", NULL, 0,
	          csum_kind_name(p->checksum));
	add_field(s, FIELD_TEXT, "capture_delay", NULL, 0, s->capture);
	add_field(s, FIELD_TEXT, "completion_delay", NULL, 0, s->completion);
	add_field(s, FIELD_COUNT, "store_used", "store_used",
	          store_used(d->store), NULL);
	add_field(s, FIELD_TEXT, "store", NULL, 0, store_kind(d->store));
	const char *transport = atomic_load(&d->transport);
	if (transport) /* a front end that names it */
		add_field(s, FIELD_TEXT, "transport", "transport", 0,
		          transport);
	add_field(s, FIELD_COUNT, "inflight", "inflight",
	          atomic_load(&d->inflight), NULL);
	for (int i = 0; i < OP_COUNT; i++) {
		struct op_stats *o = &d->ops[i];
		add_op_field(s, i, FIELD_COUNT, "count", "count",
		             atomic_load(&o->count));
		add_op_field(s, i, FIELD_COUNT, "bytes", "bytes",
		             atomic_load(&o->bytes));
		add_op_field(s, i, FIELD_COUNT, "errors", "errors",
		             atomic_load(&o->errors));
		add_op_field(s, i, FIELD_COUNT, "inflight", "inflight",
		             atomic_load(&o->inflight));
		add_op_field(s, i, FIELD_COUNT, "inflight_max", "inflight_max",
		             atomic_load(&o->inflight_max));
		add_op_field(s, i, FIELD_LATENCY, "latency_us.p50", "p50_us",
		             hist_percentile(&o->latency, 50));
		add_op_field(s, i, FIELD_LATENCY, "latency_us.p99", "p99_us",
		             hist_percentile(&o->latency, 99));
		add_op_field(s, i, FIELD_LATENCY, "latency_us.max", "max_us",
		             atomic_load(&o->latency.max));
	}
	for (int c = 0; c < STAMP_NCLASSES; c++) {
		char key[FIELD_NAME];
		snprintf(key, sizeof key, "capture.%s", stamp_class_name(c));
		add_field(s, FIELD_COUNT, key, key, atomic_load(&d->classes[c]),
		          NULL);
	}
	add_field(s, FIELD_COUNT, "violations", "violations",
	          atomic_load(&d->violations), NULL);
	add_field(s, FIELD_COUNT, "checksum_errors", "checksum_errors",
	          atomic_load(&d->checksum_errors), NULL);
	add_field(s, FIELD_COUNT, "faults", "faults", atomic_load(&d->faults),
	          NULL);
	add_field(s, FIELD_COUNT, "stalled", "stalled", device_stalled(d),
	          NULL);
	add_field(s, FIELD_COUNT, "events", "events", eventlog_count(d->log),
	          NULL);
}

/* "key value" lines. */
static void stats_write_counters(const struct stats *s, FILE *out)
{
	for (unsigned i = 0; i < s->n; i++) {
		const struct field *f = &s->f[i];
		if (!*f->counter)
			continue;
		if (f->kind == FIELD_TEXT)
			fprintf(out, "%s %s\n", f->counter, f->text);
		else if (f->kind == FIELD_LATENCY)
			fprintf(out, "%s %" PRIu64 "\n", f->counter,
			        f->n / 1000);
		else
			fprintf(out, "%s %" PRIu64 "\n", f->counter, f->n);
	}
}

static void json_value(const struct field *f, FILE *out)
{
	switch (f->kind) {
	case FIELD_COUNT:
		fprintf(out, "%" PRIu64, f->n);
		break;
	case FIELD_BOOL:
		fputs(f->n ? "true" : "false", out);
		break;
	case FIELD_TEXT:
		json_fputs(f->text, out);
		break;
	case FIELD_LATENCY:
		fprintf(out, "%.1f", f->n / 1e3);
		break;
	case FIELD_UPTIME:
		fprintf(out, "%.3f", f->n / 1e9);
		break;
	}
}

/* One JSON object: a field's path names the objects it sits in, and
 * consecutive fields with a common prefix share them. */
static void stats_write_json(const struct stats *s, FILE *out)
{
	char open[JSON_DEPTH]
	         [FIELD_NAME];         /* the objects open, outermost first */
	int started[JSON_DEPTH] = {0}; /* per level: has a member */
	unsigned depth = 0;
	fputc('{', out);
	for (unsigned i = 0; i < s->n; i++) {
		char path[FIELD_NAME];
		const char *seg[JSON_DEPTH];
		unsigned n = 1;
		snprintf(path, sizeof path, "%s", s->f[i].json);
		seg[0] = path;
		for (char *c = path; *c && n < JSON_DEPTH; c++)
			if (*c == '.') {
				*c = 0;
				seg[n++] = c + 1;
			}
		unsigned same = 0;
		while (same < depth && same < n - 1 &&
		       !strcmp(open[same], seg[same]))
			same++;
		for (; depth > same; depth--)
			fputc('}', out);
		for (; depth < n - 1; depth++) {
			fprintf(out, "%s\"%s\":{", started[depth] ? "," : "",
			        seg[depth]);
			started[depth] = 1;
			snprintf(open[depth], sizeof open[depth], "%s",
			         seg[depth]);
			started[depth + 1] = 0;
		}
		fprintf(out, "%s\"%s\":", started[depth] ? "," : "",
		        seg[depth]);
		started[depth] = 1;
		json_value(&s->f[i], out);
	}
	for (; depth > 0; depth--)
		fputc('}', out);
	fputs("}\n", out);
}

/* A reading is large (the live profile holds every rule): one per thread,
 * as the control threads have no need for two at once. */
static __thread struct stats reading;

void device_counters(struct device *d, FILE *out)
{
	stats_read(d, &reading);
	stats_write_counters(&reading, out);
}

void device_stats_json(struct device *d, FILE *out)
{
	stats_read(d, &reading);
	stats_write_json(&reading, out);
}
