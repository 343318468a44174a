/* unit-device-report: the device's two report formats, "stats" (one JSON
 * object) and "counters" ("key value" lines), keep their keys, nesting and
 * value types: scripts and the workload parse both. Numbers are masked as
 * N; the values themselves are checked by the other device tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "helpers.h"

/* Replaces each run of digits with N: 12 reads N, 3.25 reads N.N. */
static char *mask_numbers(char *s)
{
	char *w = s;
	for (const char *r = s; *r;) {
		if (*r >= '0' && *r <= '9') {
			while (*r >= '0' && *r <= '9')
				r++;
			*w++ = 'N';
		} else {
			*w++ = *r++;
		}
	}
	*w = 0;
	return s;
}

/* Where got and expected part, as two diagnostic lines (a newline shown
 * as |). */
static void show_difference(const char *got, const char *expected)
{
	size_t at = 0;
	while (got[at] && got[at] == expected[at])
		at++;
	if (!got[at] && !expected[at])
		return;
	size_t from = at > 30 ? at - 30 : 0;
	const char *which[2] = {got, expected};
	for (int i = 0; i < 2; i++) {
		char view[61];
		snprintf(view, sizeof view, "%s", which[i] + from);
		for (char *c = view; *c; c++)
			if (*c == '\n')
				*c = '|';
		diag("%s ...%s", i ? "expected" : "got     ", view);
	}
}

#define OP_JSON(op)                                                            \
	"\"" op "\":{\"count\":N,\"bytes\":N,\"errors\":N,\"inflight\":N,"     \
	"\"inflight_max\":N,\"latency_us\":{\"pN\":N.N,\"pN\":N.N,\"max\":N."  \
	"N}}"
#define OP_LINES(op)                                                           \
	op ".count N\n" op ".bytes N\n" op ".errors N\n" op ".inflight N\n" op \
	   ".inflight_max N\n" op ".pN_us N\n" op ".pN_us N\n" op              \
	   ".max_us N\n"

static const char stats_expected[] =
    "{\"profile\":\"a \\\"quoted\\\" name\",\"seed\":N,\"size\":N,"
    "\"uptime\":N.N,\"advertise\":true,\"require\":true,"
    "\"on_violation\":\"log\",\"checksum\":\"crcNc\","
    "\"capture_delay\":\"N\",\"completion_delay\":\"N\",\"store_used\":N,"
    "\"store\":\"memory\","
    "\"inflight\":N,\"ops\":{" OP_JSON("read") "," OP_JSON("write") "," OP_JSON(
        "flush") "," OP_JSON("trim") "," OP_JSON("zero") "},"
                                                         "\"capture\":{"
                                                         "\"unstamped\":N,"
                                                         "\"clean\":N,\"torn\":"
                                                         "N,\"modified\":N},"
                                                         "\"violations\":N,"
                                                         "\"checksum_errors\":"
                                                         "N,\"faults\":N,"
                                                         "\"stalled\":N,"
                                                         "\"events\":N}\n";

static const char counters_expected[] =
    "profile a \"quoted\" name\nseed N\nsize N\nadvertise N\nrequire N\n"
    "store_used N\ninflight N\n" OP_LINES("read") OP_LINES("write")
        OP_LINES("flush") OP_LINES("trim") OP_LINES(
            "zero") "capture.unstamped N\ncapture.clean N\ncapture.torn N\n"
                    "capture.modified N\nviolations N\nchecksum_errors "
                    "N\nfaults N\n"
                    "stalled N\nevents N\n";

int main(void)
{
	char err[512];
	struct profile p;
	static char page[4096];
	plan(4);
	profile_defaults(&p);
	p.size = 1 << 20;
	p.advertise = p.require = 1;
	snprintf(p.name, sizeof p.name, "a \"quoted\" name");
	if (profile_finish(&p, err, sizeof err))
		bail_out("profile: %s", err);
	struct device *d = device_open(&p, NULL, NULL, err, sizeof err);
	if (!d)
		bail_out("device_open: %s", err);
	uint64_t t = device_begin(d, OP_WRITE);
	device_end(d, OP_WRITE, t, 4096,
	           device_write(d, page, sizeof page, 0, NULL));

	char *stats = mask_numbers(device_text(d, device_stats_json));
	ok(!strcmp(stats, stats_expected), "stats: the same keys and nesting");
	show_difference(stats, stats_expected);
	char *counters = device_text(d, device_counters);
	ok(strstr(counters, "profile a \"quoted\" name\n") == counters,
	   "counters: the profile name as it is");
	mask_numbers(counters);
	ok(!strcmp(counters, counters_expected),
	   "counters: the same keys and whole numbers");
	show_difference(counters, counters_expected);
	free(stats);
	free(counters);

	/* One write went through: both formats say so. */
	stats = device_text(d, device_stats_json);
	counters = device_text(d, device_counters);
	ok(strstr(stats, "\"write\":{\"count\":1,\"bytes\":4096,") &&
	       strstr(counters, "\nwrite.count 1\nwrite.bytes 4096\n") &&
	       strstr(stats, "\"clean\":0,\"torn\":0") &&
	       strstr(counters, "\ncapture.unstamped 1\n"),
	   "both formats count the write");
	free(stats);
	free(counters);
	device_close(d);
	done_testing();
}
