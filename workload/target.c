/* target.c - finding the target, its generation table and its counters. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctlclient.h"
#include "target.h"

static int has_socket(const char *dir, const char *name)
{
	char p[4600];
	struct stat st;
	snprintf(p, sizeof p, "%s/%s/control.sock", dir, name);
	return !stat(p, &st) && S_ISSOCK(st.st_mode);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void fill(struct target *t, const char *name)
{
	snprintf(t->name, sizeof t->name, "%s", name);
	ctl_target_dir(name, t->dir, sizeof t->dir);
	snprintf(t->sock, sizeof t->sock, "%s/control.sock", t->dir);
}

int target_find(const char *name, struct target *t, char *err, size_t errlen)
{
	memset(t, 0, sizeof *t);
	char base[4096];
	ctl_target_dir("", base, sizeof base);
	size_t bl = strlen(base);
	if (bl > 1 && base[bl - 1] == '/')
		base[bl - 1] = '\0';

	if (name) {
		if (!*name || strchr(name, '/') || !strcmp(name, ".") ||
		    !strcmp(name, "..")) {
			snprintf(err, errlen, "bad target name '%s'", name);
			return -1;
		}
		fill(t, name);
		if (!has_socket(base, name)) {
			snprintf(err, errlen, "no target '%s' (no %s)", name,
			         t->sock);
			return -1;
		}
		return 1;
	}

	DIR *d = opendir(base);
	if (!d)
		return 0;
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || !has_socket(base, e->d_name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			char **nn = realloc(names, cap * sizeof *names);
			if (!nn)
				break;
			names = nn;
		}
		if (!(names[n] = strdup(e->d_name)))
			break;
		n++;
	}
	closedir(d);
	int ret = 0;
	if (n == 1) {
		fill(t, names[0]);
		ret = 1;
	} else if (n > 1) {
		qsort(names, n, sizeof *names, cmp_str);
		size_t off = 0;
		off += (size_t)snprintf(err, errlen,
		                        "several targets are attached (");
		for (size_t i = 0; i < n && off < errlen; i++)
			off += (size_t)snprintf(err + off, errlen - off, "%s%s",
			                        i ? ", " : "", names[i]);
		if (off < errlen)
			snprintf(err + off, errlen - off,
			         "): choose one with --target");
		ret = -1;
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return ret;
}

int target_publish(struct target *t, uint64_t run, uint64_t pages, char *err,
                   size_t errlen)
{
	char p[4200];
	snprintf(p, sizeof p, "%s/gentab", t->dir);
	int fd = open(p, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen,
		         "target '%s' has no generation table: cannot open "
		         "%s: %s",
		         t->name, p, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) || (uint64_t)st.st_size != GENTAB_SIZE) {
		snprintf(err, errlen,
		         "%s: not a generation table (%lld bytes, expected "
		         "%zu)",
		         p, (long long)st.st_size, GENTAB_SIZE);
		close(fd);
		return -1;
	}
	void *m =
	    mmap(NULL, GENTAB_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		snprintf(err, errlen, "cannot map %s: %s", p, strerror(errno));
		return -1;
	}
	struct gentab *tab = m;
	if (tab->magic != GENTAB_MAGIC || tab->capacity > GENTAB_CAPACITY) {
		snprintf(err, errlen,
		         "%s: bad magic or capacity (not written by a "
		         "swapemu device?)",
		         p);
		munmap(m, GENTAB_SIZE);
		return -1;
	}
	if (pages > tab->capacity) {
		snprintf(err, errlen,
		         "--pages %llu is more than the generation table of "
		         "'%s' holds (%llu)",
		         (unsigned long long)pages, t->name,
		         (unsigned long long)tab->capacity);
		munmap(m, GENTAB_SIZE);
		return -1;
	}
	uint64_t old = atomic_load_explicit(&tab->run, memory_order_acquire);
	if (old)
		fprintf(stderr,
		        "swapemu-torture: warning: the generation table of "
		        "'%s' holds run %#llx (a concurrent run, or one that "
		        "was killed); taking it over\n",
		        t->name, (unsigned long long)old);
	atomic_store_explicit(&tab->run, 0, memory_order_release);
	for (uint64_t i = 0; i < pages; i++)
		atomic_store_explicit(&tab->gen[i], 0, memory_order_relaxed);
	atomic_store_explicit(&tab->run, run, memory_order_release);
	t->tab = tab;
	/* Keep the part in use resident: the device reads it while it
	 * serves swap writes, and must never wait for a swap-in itself. */
	size_t used = (size_t)((char *)&tab->gen[pages] - (char *)tab);
	if (!mlock(tab, used))
		t->locked = used;
	return 0;
}

void target_unpublish(struct target *t)
{
	if (!t || !t->tab)
		return;
	atomic_store_explicit(&t->tab->run, 0, memory_order_release);
	munmap(t->tab, GENTAB_SIZE);
	t->tab = NULL;
}

char *target_counters(struct target *t, char *err, size_t errlen)
{
	char *body;
	if (ctl_request(t->sock, "counters", &body, NULL, err, errlen))
		return NULL;
	return body;
}

bool target_wait_idle(struct target *t, uint64_t deadline_ns)
{
	int zeros = 0;
	for (;;) {
		char err[256];
		char *body = target_counters(t, err, sizeof err);
		uint64_t v;
		if (!body || ctl_counter(body, "inflight", &v)) {
			free(body);
			return false;
		}
		free(body);
		zeros = v ? 0 : zeros + 1;
		if (zeros >= 3)
			return true;
		if (torture_stop || now_ns() + 50000000ull > deadline_ns)
			return false;
		sleep_ms(50);
	}
}

static void delta(const char *start, const char *end, const char *key,
                  struct opt_u64 *out)
{
	uint64_t a, b;
	out->known = start && end && !ctl_counter(start, key, &a) &&
	             !ctl_counter(end, key, &b);
	/* A reset during the run makes the end smaller: count from zero. */
	out->v = out->known ? (b >= a ? b - a : b) : 0;
}

void target_delta(const char *start, const char *end, struct device_side *d)
{
	delta(start, end, "capture.clean", &d->clean);
	delta(start, end, "capture.torn", &d->torn);
	delta(start, end, "capture.modified", &d->modified);
	delta(start, end, "capture.unstamped", &d->unstamped);
	delta(start, end, "violations", &d->violations);
	delta(start, end, "write.errors", &d->write_errors);
	delta(start, end, "checksum_errors", &d->checksum_errors);
	const char *last = end ? end : start;
	d->seed.known = last && !ctl_counter(last, "seed", &d->seed.v);
	d->profile_known = false;
	for (const char *l = last; l && *l;) {
		const char *e = strchr(l, '\n');
		size_t len = e ? (size_t)(e - l) : strlen(l);
		if (len > 8 && !strncmp(l, "profile ", 8)) {
			size_t vl = len - 8;
			while (vl && l[8 + vl - 1] == '\r')
				vl--;
			snprintf(d->profile, sizeof d->profile, "%.*s", (int)vl,
			         l + 8);
			d->profile_known = true;
			break;
		}
		l = e ? e + 1 : l + len;
	}
}
