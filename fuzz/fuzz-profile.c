/* fuzz-profile.c - libFuzzer harness for the profile parser (lib/profile.h).
 *
 * Each input is a profile file. The harness checks what the header
 * promises:
 *  - a refused profile leaves the struct unchanged and gives a reason,
 *    "FILE:LINE: reason" with a line the file has;
 *  - an accepted one, written back with profile_write() and read again,
 *    is accepted and writes back to the same text (rules and delays
 *    included: nothing is lost or changed by a round trip);
 *  - a --set override built from the input's first line either applies
 *    or is refused with the struct unchanged.
 * A violated promise aborts, which libFuzzer reports as a crash.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profile.h"

static char path[64];

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz-profile: %s: %s\n", what, detail);
	abort();
}

static void write_file(const void *data, size_t len)
{
	FILE *f = fopen(path, "w");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f))
		die("cannot write", path);
}

/* The profile as profile_write() gives it, malloc'd. */
static char *text_of(const struct profile *p, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	if (!f)
		die("open_memstream", "failed");
	profile_write(p, f);
	fclose(f);
	return buf;
}

static void remove_file(void)
{
	unlink(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	/* Files of harnesses that crashed or were killed. */
	DIR *dir = opendir("/tmp");
	for (struct dirent *e; dir && (e = readdir(dir));) {
		char p[300], proc[64];
		const char *pre = "swapemu-fuzz-profile.";
		if (strncmp(e->d_name, pre, strlen(pre)))
			continue;
		snprintf(proc, sizeof proc, "/proc/%ld",
		         strtol(e->d_name + strlen(pre), NULL, 10));
		snprintf(p, sizeof p, "/tmp/%s", e->d_name);
		if (access(proc, F_OK))
			unlink(p);
	}
	if (dir)
		closedir(dir);
	/* One file per process, reused: the name shows in the written
	 * profile's header, so both loads must use the same one. */
	snprintf(path, sizeof path, "/tmp/swapemu-fuzz-profile.%d.conf",
	         (int)getpid());
	atexit(remove_file);
	return 0;
}

/* A refusal is "FILE:LINE: reason" (or "FILE: reason"), and LINE is a
 * line of the input. */
static void check_line(const char *err, const uint8_t *data, size_t size)
{
	const char *base = strrchr(path, '/') + 1;
	size_t bl = strlen(base);
	if (!strncmp(err, path, strlen(path)))
		bl = strlen(path), base = path;
	if (strncmp(err, base, bl) || err[bl] != ':')
		die("a refusal that does not start with the file name", err);
	if (err[bl + 1] < '0' || err[bl + 1] > '9')
		return;
	unsigned long line = strtoul(err + bl + 1, NULL, 10), lines = 0;
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	if (size && data[size - 1] != '\n')
		lines++;
	if (line < 1 || line > lines)
		die("a refusal names a line the file does not have", err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct profile p, before, q, r;
	char err[512] = "";

	write_file(data, size);
	profile_defaults(&p);
	before = p;
	if (profile_load(&p, path, err, sizeof err)) {
		if (!*err)
			die("refused without a reason", path);
		check_line(err, data, size);
		if (memcmp(&p, &before, sizeof p))
			die("a refused profile changed the struct", err);
		return 0;
	}
	if (profile_finish(&p, err, sizeof err))
		return 0;

	size_t len1, len2;
	char *t1 = text_of(&p, &len1);
	write_file(t1, len1);
	profile_defaults(&q);
	if (profile_load(&q, path, err, sizeof err) ||
	    profile_finish(&q, err, sizeof err)) {
		fprintf(stderr, "--- written profile:\n%s---\n", t1);
		die("the written profile is refused", err);
	}
	char *t2 = text_of(&q, &len2);
	if (len1 != len2 || memcmp(t1, t2, len1)) {
		fprintf(stderr, "--- first:\n%s--- second:\n%s---\n", t1, t2);
		die("a round trip changed the profile", path);
	}
	if (q.nrules != p.nrules)
		die("a round trip changed the number of rules", path);

	/* The first line as a --set override: "section.key=value". */
	size_t n = 0;
	while (n < size && n < 1000 && data[n] != '\n' && data[n])
		n++;
	char set[1024];
	memcpy(set, data, n);
	set[n] = 0;
	r = q;
	if (profile_set(&r, set, err, sizeof err) && memcmp(&r, &q, sizeof r))
		die("a refused --set changed the struct", err);
	free(t1);
	free(t2);
	return 0;
}
