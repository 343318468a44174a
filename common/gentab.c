/* gentab.c - opening and mapping the generation table (see gentab.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gentab.h"

struct gentab *gentab_open(const char *path, enum gentab_mode mode, size_t len,
                           char *err, size_t errlen)
{
	if (len < GENTAB_SIZE)
		len = GENTAB_SIZE;
	int create = mode == GENTAB_CREATE;
	int fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot %s generation table: %s",
		         path, create ? "create" : "open", strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	if ((uint64_t)st.st_size < len) {
		if (!create) {
			snprintf(err, errlen,
			         "%s: not a generation table (%lld bytes, "
			         "expected at least %zu)",
			         path, (long long)st.st_size, len);
			close(fd);
			return NULL;
		}
		if (ftruncate(fd, (off_t)len)) {
			snprintf(err, errlen,
			         "%s: cannot size generation table: %s", path,
			         strerror(errno));
			close(fd);
			return NULL;
		}
	}
	struct gentab *t =
	    mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (t == MAP_FAILED) {
		snprintf(err, errlen, "%s: cannot map generation table: %s",
		         path, strerror(errno));
		return NULL;
	}
	if (create && t->magic != GENTAB_MAGIC) {
		atomic_store(&t->run, 0);
		t->capacity = GENTAB_CAPACITY;
		t->magic = GENTAB_MAGIC;
	} else if (t->magic != GENTAB_MAGIC || t->capacity > GENTAB_CAPACITY) {
		snprintf(err, errlen,
		         "%s: bad magic or capacity (not written by a swapemu "
		         "device?)",
		         path);
		munmap(t, len);
		return NULL;
	}
	return t;
}

void gentab_close(struct gentab *t, size_t len)
{
	if (t)
		munmap(t, len < GENTAB_SIZE ? GENTAB_SIZE : len);
}
