/* cgroup.c - the run's memory cgroup (see cgroup.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "clock.h"

#define CG2_ROOT "/sys/fs/cgroup"
#define CG1_MEMORY "/sys/fs/cgroup/memory"
#define CG_PREFIX "swapemu-torture-"

/* Writes s to path; returns 0 or -errno. */
static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t len = strlen(s);
	ssize_t n;
	do
		n = write(fd, s, len);
	while (n < 0 && errno == EINTR);
	int e = n < 0 ? errno : (size_t)n != len ? EIO : 0;
	close(fd);
	return -e;
}

static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* Is word a whitespace-separated token of s? */
static bool has_word(const char *s, const char *word)
{
	size_t wl = strlen(word);
	for (const char *p = s; (p = strstr(p, word)); p += wl) {
		bool start = p == s || p[-1] == ' ' || p[-1] == '\n' ||
		             p[-1] == ',' || p[-1] == '\t';
		char c = p[wl];
		if (start && (c == '\0' || c == ' ' || c == '\n' || c == ',' ||
		              c == '\t'))
			return true;
	}
	return false;
}

/* The process's cgroup path in the v2 hierarchy ("0::PATH") or in the v1
 * hierarchy whose controllers include memory. */
static int own_cgroup(int version, char *path, size_t len)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return -1;
	char line[4096];
	int found = -1;
	while (found && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		/* "ID:CONTROLLERS:PATH": cut both fields off at their ':'
		 * ("0::/" is the v2 line: ID "0", no controllers). */
		*c1 = '\0';
		*c2 = '\0';
		const char *ctrls = c1 + 1;
		bool match = version == 2 ? !strcmp(line, "0") && !*ctrls
		                          : has_word(ctrls, "memory");
		if (match && (size_t)snprintf(path, len, "%s", c2 + 1) < len)
			found = 0;
	}
	fclose(f);
	return found;
}

/* Removes the cgroups of earlier runs that were killed (SIGKILL leaves
 * them behind). rmdir fails on a cgroup that still has processes. */
static void remove_stale(const char *parent)
{
	DIR *d = opendir(parent);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, CG_PREFIX, strlen(CG_PREFIX)))
			continue;
		char *end;
		long pid = strtol(e->d_name + strlen(CG_PREFIX), &end, 10);
		if (*end || pid <= 0 || pid == getpid())
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		char p[PATH_MAX];
		if ((size_t)snprintf(p, sizeof p, "%s/%s", parent, e->d_name) <
		    sizeof p)
			rmdir(p);
	}
	closedir(d);
}

/* v2: a parent whose children get the memory controller. The process's
 * own cgroup qualifies only if it is the root or has no processes (the
 * "no internal processes" rule); otherwise the root is used. */
static int v2_parent(const char *own, char *parent, size_t len)
{
	const char *cands[2] = {own, ""};
	for (int i = 0; i < 2; i++) {
		char dir[PATH_MAX], f[PATH_MAX + 32], buf[1024];
		if ((size_t)snprintf(dir, sizeof dir, "%s%s", CG2_ROOT,
		                     strcmp(cands[i], "/") ? cands[i] : "") >=
		    sizeof dir)
			continue;
		snprintf(f, sizeof f, "%s/cgroup.subtree_control", dir);
		if (read_file(f, buf, sizeof buf))
			continue;
		if (!has_word(buf, "memory") && write_file(f, "+memory"))
			continue;
		snprintf(parent, len, "%s", dir);
		return 0;
	}
	return -1;
}

int memcg_enter(struct memcg *cg, char *note, size_t notelen)
{
	char buf[1024], own[PATH_MAX], parent[PATH_MAX];
	memset(cg, 0, sizeof *cg);

	if (!read_file(CG2_ROOT "/cgroup.controllers", buf, sizeof buf) &&
	    has_word(buf, "memory")) {
		cg->version = 2;
		if (own_cgroup(2, own, sizeof own)) {
			snprintf(note, notelen,
			         "cannot find the process's cgroup v2 path");
			goto none;
		}
		if ((size_t)snprintf(cg->home, sizeof cg->home, "%s%s",
		                     CG2_ROOT, strcmp(own, "/") ? own : "") >=
		    sizeof cg->home)
			goto toolong;
		if (v2_parent(own, parent, sizeof parent)) {
			snprintf(note, notelen,
			         "cannot enable the memory controller for a "
			         "child of %s or of the root",
			         cg->home);
			goto none;
		}
	} else if (!access(CG1_MEMORY "/cgroup.procs", F_OK)) {
		cg->version = 1;
		if (own_cgroup(1, own, sizeof own)) {
			snprintf(note, notelen,
			         "cannot find the process's memory cgroup "
			         "(v1) in /proc/self/cgroup");
			goto none;
		}
		if ((size_t)snprintf(cg->home, sizeof cg->home, "%s%s",
		                     CG1_MEMORY, strcmp(own, "/") ? own : "") >=
		    sizeof cg->home)
			goto toolong;
		snprintf(parent, sizeof parent, "%s", cg->home);
	} else {
		snprintf(note, notelen,
		         "no memory controller (neither cgroup v2 at " CG2_ROOT
		         " nor v1 at " CG1_MEMORY ")");
		goto none;
	}

	remove_stale(parent);
	if ((size_t)snprintf(cg->dir, sizeof cg->dir, "%s/" CG_PREFIX "%d",
	                     parent, (int)getpid()) >= sizeof cg->dir)
		goto toolong;
	if (mkdir(cg->dir, 0755) && errno != EEXIST) {
		snprintf(note, notelen, "cannot create %s: %s", cg->dir,
		         strerror(errno));
		goto none;
	}
	char f[PATH_MAX + 32];
	snprintf(f, sizeof f, "%s/%s", cg->dir,
	         cg->version == 2 ? "memory.reclaim" : "memory.force_empty");
	if (access(f, W_OK)) {
		snprintf(note, notelen, "%s is missing: %s", f,
		         strerror(errno));
		rmdir(cg->dir);
		goto none;
	}
	snprintf(f, sizeof f, "%s/cgroup.procs", cg->dir);
	snprintf(buf, sizeof buf, "%d\n", (int)getpid());
	int e = write_file(f, buf);
	if (e) {
		snprintf(note, notelen, "cannot move into %s: %s", cg->dir,
		         strerror(-e));
		rmdir(cg->dir);
		goto none;
	}
	cg->entered = true;
	return 0;

toolong:
	snprintf(note, notelen, "cgroup path too long");
none:
	cg->version = 0;
	cg->dir[0] = '\0';
	return -1;
}

bool memcg_drop(struct memcg *cg, uint64_t bytes)
{
	if (!cg->entered)
		return false;
	char f[PATH_MAX + 32], v[64];
	int e;
	if (cg->version == 2) {
		snprintf(f, sizeof f, "%s/memory.reclaim", cg->dir);
		if (bytes < (1ull << 30))
			bytes = 1ull << 30;
		snprintf(v, sizeof v, "%llu\n", (unsigned long long)bytes);
		e = write_file(f, v);
		/* EAGAIN: less than asked for could be reclaimed, which is
		 * expected when asking for more than the cgroup holds. */
		return !e || e == -EAGAIN;
	}
	snprintf(f, sizeof f, "%s/memory.force_empty", cg->dir);
	e = write_file(f, "0\n");
	return !e;
}

void memcg_leave(struct memcg *cg)
{
	if (!cg->dir[0])
		return;
	if (cg->entered) {
		char f[PATH_MAX + 32], buf[32];
		snprintf(f, sizeof f, "%s/cgroup.procs", cg->home);
		snprintf(buf, sizeof buf, "%d\n", (int)getpid());
		int e = write_file(f, buf);
		if (e)
			fprintf(stderr,
			        "swapemu-torture: warning: cannot move back "
			        "to %s: %s\n",
			        cg->home, strerror(-e));
		cg->entered = false;
	}
	/* The kernel may take a moment to notice the cgroup is empty. */
	int r, e = 0;
	for (int i = 0; (r = rmdir(cg->dir)) && (e = errno) == EBUSY && i < 100;
	     i++)
		sleep_ms(10);
	if (r && e != ENOENT)
		fprintf(stderr,
		        "swapemu-torture: warning: cannot remove %s: %s\n",
		        cg->dir, strerror(e));
	cg->dir[0] = '\0';
}
