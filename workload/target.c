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
	snprintf(t->gentab, sizeof t->gentab, "%s/gentab", t->dir);
	t->ctl = TARGET_CTL_SOCKET;
}

static int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	int ok = fgets(buf, (int)len, f) != NULL;
	fclose(f);
	if (!ok)
		return -1;
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* BAR 2 (the shared memory) of the first QEMU ivshmem device. */
static int find_ivshmem(char *path, size_t len, char *err, size_t errlen)
{
	const char *base = "/sys/bus/pci/devices";
	DIR *d = opendir(base);
	if (!d) {
		snprintf(err, errlen, "cannot list %s: %s", base,
		         strerror(errno));
		return -1;
	}
	struct dirent *e;
	char best[256] = "";
	while ((e = readdir(d))) {
		char p[600], v[64], dv[64];
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof p, "%s/%s/vendor", base, e->d_name);
		if (read_line(p, v, sizeof v) || strcmp(v, "0x1af4"))
			continue;
		snprintf(p, sizeof p, "%s/%s/device", base, e->d_name);
		if (read_line(p, dv, sizeof dv) || strcmp(dv, "0x1110"))
			continue;
		/* The lowest address, so that the choice is stable. */
		if (!*best || strcmp(e->d_name, best) < 0)
			snprintf(best, sizeof best, "%s", e->d_name);
	}
	closedir(d);
	if (!*best) {
		snprintf(err, errlen,
		         "no ivshmem device (PCI 1af4:1110) in %s: is this a "
		         "guest started by 'swapemu vm'?",
		         base);
		return -1;
	}
	/* Memory decoding must be on for the BAR to reach the memory; the
	 * firmware normally turns it on, and no driver claims the device. */
	char p[600], v[16];
	snprintf(p, sizeof p, "%s/%s/enable", base, best);
	if (!read_line(p, v, sizeof v) && !strcmp(v, "0")) {
		FILE *f = fopen(p, "we");
		if (f) {
			fputs("1", f);
			fclose(f);
		}
	}
	snprintf(path, len, "%s/%s/resource2", base, best);
	return 0;
}

int target_from_parts(const char *label, const char *gentab,
                      const char *control, struct target *t, char *err,
                      size_t errlen)
{
	memset(t, 0, sizeof *t);
	if (label)
		snprintf(t->name, sizeof t->name, "%s", label);
	if (gentab && !strcmp(gentab, "ivshmem")) {
		if (find_ivshmem(t->gentab, sizeof t->gentab, err, errlen))
			return -1;
	} else if (gentab) {
		if (!*gentab) {
			snprintf(err, errlen, "--gentab needs a path");
			return -1;
		}
		snprintf(t->gentab, sizeof t->gentab, "%s", gentab);
	}
	if (!control) {
		t->ctl = TARGET_CTL_NONE;
	} else if (!strcmp(control, "shm")) {
		if (!*t->gentab) {
			snprintf(err, errlen,
			         "--control shm needs --gentab: the mailbox "
			         "follows the generation table");
			return -1;
		}
		t->ctl = TARGET_CTL_SHM;
	} else {
		struct stat st;
		if (stat(control, &st) || !S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "--control %s: not a socket",
			         control);
			return -1;
		}
		snprintf(t->sock, sizeof t->sock, "%s", control);
		t->ctl = TARGET_CTL_SOCKET;
	}
	return 0;
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

int target_publish(struct target *t, uint64_t run, uint64_t pages,
                   const volatile sig_atomic_t *stop, char *err, size_t errlen)
{
	const char *p = t->gentab;
	if (!*p)
		return 0;
	/* A device's own table is exactly GENTAB_SIZE; a shared-memory file
	 * or a PCI BAR is larger (a power of two), and must hold the
	 * mailbox too when it carries the counters. */
	size_t len =
	    t->ctl == TARGET_CTL_SHM ? (size_t)SHMCTL_REGION_MIN : GENTAB_SIZE;
	char why[512];
	struct gentab *tab =
	    gentab_open(p, GENTAB_ATTACH, len, why, sizeof why);
	if (!tab) {
		if (t->dir[0])
			snprintf(
			    err, errlen,
			    "target '%s' has no usable generation table: %s",
			    t->name, why);
		else
			snprintf(err, errlen, "%s", why);
		return -1;
	}
	void *m = tab;
	if (pages > tab->capacity) {
		snprintf(err, errlen,
		         "--pages %llu is more than the generation table of "
		         "'%s' holds (%llu)",
		         (unsigned long long)pages, t->name[0] ? t->name : p,
		         (unsigned long long)tab->capacity);
		gentab_close(tab, len);
		return -1;
	}
	if (t->ctl == TARGET_CTL_SHM) {
		struct shmctl *c = (struct shmctl *)((char *)m + SHMCTL_OFFSET);
		uint64_t deadline = now_ns() + 10000000000ull;
		while (atomic_load_explicit(&c->magic, memory_order_acquire) !=
		       SHMCTL_MAGIC) {
			if (*stop || now_ns() > deadline) {
				snprintf(err, errlen,
				         "%s: no control bridge serves the "
				         "mailbox at offset %u (swapemu vm "
				         "runs one on the host)",
				         p, SHMCTL_OFFSET);
				gentab_close(tab, len);
				return -1;
			}
			sleep_ms(10);
		}
		t->shm = c;
	}
	uint64_t old = atomic_load_explicit(&tab->run, memory_order_acquire);
	if (old)
		fprintf(stderr,
		        "swapemu-torture: warning: the generation table of "
		        "'%s' holds run %#llx (a concurrent run, or one that "
		        "was killed); taking it over\n",
		        t->name[0] ? t->name : p, (unsigned long long)old);
	atomic_store_explicit(&tab->run, 0, memory_order_release);
	for (uint64_t i = 0; i < pages; i++)
		atomic_store_explicit(&tab->gen[i], 0, memory_order_relaxed);
	atomic_store_explicit(&tab->run, run, memory_order_release);
	t->tab = tab;
	t->map_len = len;
	/* Keep the part in use resident: the device reads it while it
	 * serves swap writes, and must never wait for a swap-in itself.
	 * (A PCI BAR is not swappable memory; mlock leaves it alone.) */
	size_t used = (size_t)((char *)&tab->gen[pages] - (char *)tab);
	if (!mlock(tab, used))
		t->locked = used;
	return 0;
}

void target_republish(struct target *t, uint64_t run, uint64_t pages)
{
	if (!t || !t->tab)
		return;
	atomic_store_explicit(&t->tab->run, 0, memory_order_release);
	for (uint64_t i = 0; i < pages; i++)
		atomic_store_explicit(&t->tab->gen[i], 0, memory_order_relaxed);
	atomic_store_explicit(&t->tab->run, run, memory_order_release);
}

void target_unpublish(struct target *t)
{
	if (!t || !t->tab)
		return;
	atomic_store_explicit(&t->tab->run, 0, memory_order_release);
	gentab_close(t->tab, t->map_len);
	t->tab = NULL;
	t->shm = NULL;
}

#define SHMCTL_TIMEOUT_NS (10ull * 1000000000ull)

/* One request through the mailbox; like ctl_request(). */
static int shm_request(struct target *t, const char *cmd, char **body,
                       char *err, size_t errlen)
{
	struct shmctl *c = t->shm;
	*body = NULL;
	if (!c) {
		snprintf(err, errlen, "the mailbox is not mapped");
		return -1;
	}
	if (strlen(cmd) >= SHMCTL_CMD_MAX) {
		snprintf(err, errlen, "command too long for the mailbox");
		return -1;
	}
	uint64_t deadline = now_ns() + SHMCTL_TIMEOUT_NS;
	uint64_t n = atomic_load_explicit(&c->req, memory_order_relaxed);
	/* A request that timed out earlier may still be in the works. */
	while (atomic_load_explicit(&c->done, memory_order_acquire) != n) {
		if (now_ns() > deadline)
			goto timeout;
		sleep_ms(1);
	}
	memcpy(c->cmd, cmd, strlen(cmd) + 1);
	atomic_store_explicit(&c->req, ++n, memory_order_release);
	while (atomic_load_explicit(&c->done, memory_order_acquire) != n) {
		if (now_ns() > deadline)
			goto timeout;
		sleep_ms(1);
	}
	size_t len = c->reply_len;
	if (len >= SHMCTL_REPLY_MAX)
		len = SHMCTL_REPLY_MAX - 1;
	if (c->status) {
		snprintf(err, errlen, "%.*s", (int)len, c->reply);
		return -1;
	}
	char *b = malloc(len + 1);
	if (!b) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memcpy(b, c->reply, len);
	b[len] = '\0';
	*body = b;
	return 0;
timeout:
	snprintf(err, errlen,
	         "the host's control bridge did not answer '%s' in %llu s", cmd,
	         SHMCTL_TIMEOUT_NS / 1000000000ull);
	return -1;
}

char *target_counters(struct target *t, char *err, size_t errlen)
{
	char *body = NULL;
	switch (t->ctl) {
	case TARGET_CTL_SOCKET:
		if (ctl_request(t->sock, "counters", &body, NULL, err, errlen))
			return NULL;
		return body;
	case TARGET_CTL_SHM:
		if (shm_request(t, "counters", &body, err, errlen))
			return NULL;
		return body;
	default:
		snprintf(err, errlen, "no control channel");
		return NULL;
	}
}

bool target_wait_idle(struct target *t, uint64_t deadline_ns,
                      const volatile sig_atomic_t *stop)
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
		if (*stop || now_ns() + 50000000ull > deadline_ns)
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
