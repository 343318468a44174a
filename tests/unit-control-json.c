/* unit-control-json: every event-log line, and the stats object, is valid
 * JSON whatever the names and sizes in it (issue 8, finding 6): rule and
 * profile names with quotes, backslashes, control characters and bytes
 * that are not ASCII; a write of 64 and one of 1024 stamped pages with a
 * firing rule (each event lists every page); a corrupted read of many
 * pages. The lines from the control socket ("events", "stats") and from
 * the event-log file are checked by Python's json module, which must also
 * find the names unchanged (bytes that are not ASCII come back as the
 * code points of the same value) and the page lists complete. Before the
 * fix, lines were cut at 512 bytes and names went in unescaped. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "ctlclient.h"
#include "stamp.h"
#include "helpers.h"

#define SIZE (8u << 20)

/* A name every JSON writer must escape (shorter than RULE_NAME_MAX). */
static const char rule_name[] = "q\"uo\\te\x01\x1f\ttab\r\n\x7f\xc3\xa9\xff/";

static char *hex(const char *s, char *out)
{
	char *o = out;
	for (; *s; s++)
		o += sprintf(o, "%02x", (unsigned char)*s);
	*o = 0;
	return out;
}

/* Runs the checker on file: 0 if it found every line valid and what was
 * wanted there, with its one-line report in line. */
static int check(const char *file, int want_pages, const char *rule_hex,
                 const char *profile_hex, char *line, size_t linelen)
{
	char cmd[4096];
	snprintf(cmd, sizeof cmd,
	         "python3 -c '\n"
	         "import json, sys\n"
	         "f, want, rule, prof = sys.argv[1], int(sys.argv[2]), "
	         "bytes.fromhex(sys.argv[3]).decode(\"latin-1\"), "
	         "bytes.fromhex(sys.argv[4]).decode(\"latin-1\")\n"
	         "n = maxp = rules = profs = 0\n"
	         "for i, l in enumerate(open(f, encoding=\"utf-8\")):\n"
	         "    try: e = json.loads(l)\n"
	         "    except ValueError as x:\n"
	         "        print(\"line %%d: %%s: %%.80r\" %% (i + 1, x, l)); "
	         "sys.exit(1)\n"
	         "    n += 1\n"
	         "    maxp = max(maxp, len(e.get(\"pages\", [])))\n"
	         "    rules += e.get(\"rule\") == rule\n"
	         "    profs += e.get(\"profile\") == prof\n"
	         "ok = n > 0 and maxp == want and (rule == \"\" or rules > 0) "
	         "and (prof == \"\" or profs > 0)\n"
	         "print(\"%%s %%d lines, longest page list %%d, rule name "
	         "found %%d times, profile name %%d times\" %% (\"ok\" if ok "
	         "else \"bad\", n, maxp, rules, profs))\n"
	         "' %s %d '%s' '%s' 2>&1",
	         file, want_pages, rule_hex, profile_hex);
	FILE *p = popen(cmd, "r");
	if (!p || !fgets(line, (int)linelen, p))
		snprintf(line, linelen, "no output from python3");
	int rc = p ? pclose(p) : -1;
	line[strcspn(line, "\n")] = 0;
	return rc == 0 && !strncmp(line, "ok ", 3) ? 0 : -1;
}

static int save(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

int main(void)
{
	char dir[] = "/tmp/unit-control-json.XXXXXX", sock[128], events[128];
	char tmp[128], err[512], rh[128], ph[600], rep[1024], *body;
	if (system("python3 -c 'import json' >/dev/null 2>&1"))
		skip_all("python3 is needed to check the JSON");
	plan(6);
	if (!mkdtemp(dir))
		skip_all("cannot make a temporary directory");
	snprintf(sock, sizeof sock, "%s/ctl", dir);
	snprintf(events, sizeof events, "%s/events.jsonl", dir);
	snprintf(tmp, sizeof tmp, "%s/reply", dir);
	struct profile p;
	profile_defaults(&p);
	p.size = SIZE;
	profile_finish(&p, err, sizeof err);
	struct device *d = device_open(&p, NULL, events, err, sizeof err);
	struct control *c = d ? control_start(sock, d, err, sizeof err) : NULL;
	if (!c)
		skip_all("cannot serve a control socket: %s", err);

	/* A profile whose name needs escaping, with a rule whose name does,
	 * firing on every write and corrupting every read. */
	static struct profile np;
	device_get_profile(d, &np);
	snprintf(np.name, sizeof np.name, "%s", "/tmp/a \"profile\"\\x\b.conf");
	struct rule_spec r;
	rule_spec_init(&np.rules[0], rule_name);
	ok(!rule_spec_set(&np.rules[0], "op", "write", err, sizeof err) &&
	       !rule_spec_set(&np.rules[0], "action", "delay:1us", err,
	                      sizeof err) &&
	       (np.nrules = 1, !device_load_profile(d, &np, err, sizeof err)),
	   "load a profile and rule with awkward names (%s)", err);
	rule_spec_init(&r, "flip\"\\");
	ok(!rule_spec_set(&r, "op", "read", err, sizeof err) &&
	       !rule_spec_set(&r, "action", "corrupt:8", err, sizeof err) &&
	       !device_add_rule(d, &r, err, sizeof err),
	   "add a corrupting read rule (%s)", err);

	/* Writes of 64 and 1024 stamped pages, a read of 1024. */
	size_t len = 1024 * 4096;
	char *buf = aligned_alloc(4096, len);
	for (size_t i = 0; i < len / 4096; i++)
		stamp_fill(buf + i * 4096, 7, i, 1);
	device_write(d, buf, 64 * 4096, 0, NULL);
	device_write(d, buf, len, 0, NULL);
	device_read(d, buf, len, 0, NULL);
	free(buf);

	hex(rule_name, rh);
	hex(np.name, ph);
	if (ctl_request(sock, "events", &body, NULL, err, sizeof err) ||
	    save(tmp, body))
		body = NULL;
	ok(body && !check(tmp, 1024, rh, ph, rep, sizeof rep),
	   "\"events\" lines: %s", body ? rep : err);
	free(body);
	if (ctl_request(sock, "stats", &body, NULL, err, sizeof err) ||
	    save(tmp, body))
		body = NULL;
	ok(body && !check(tmp, 0, "", ph, rep, sizeof rep), "\"stats\": %s",
	   body ? rep : err);
	free(body);
	control_stop(c);
	device_close(d); /* the file is complete once the log is closed */
	ok(!check(events, 1024, rh, ph, rep, sizeof rep),
	   "the event-log file: %s", rep);

	/* And the checker itself rejects a line that is not JSON. */
	save(tmp, "{\"rule\":\"a\"b\"}\n");
	ok(check(tmp, 0, "", "", rep, sizeof rep) == -1 &&
	       strstr(rep, "line 1:"),
	   "the checker rejects invalid JSON: %s", rep);
	unlink(tmp);
	unlink(events);
	rmdir(dir);
	done_testing();
}
