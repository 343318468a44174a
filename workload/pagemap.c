/* pagemap.c - /proc/self/pagemap and /proc/kpageflags. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pagemap.h"
#include "stamp.h"

static int pagemap_fd = -1, kpageflags_fd = -1;

int pagemap_open(char *err, size_t errlen)
{
	pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pagemap_fd < 0) {
		snprintf(err, errlen, "cannot open /proc/self/pagemap: %s",
		         strerror(errno));
		return -1;
	}
	kpageflags_fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	if (kpageflags_fd < 0) {
		snprintf(err, errlen, "cannot open /proc/kpageflags: %s",
		         strerror(errno));
		close(pagemap_fd);
		pagemap_fd = -1;
		return -1;
	}
	return 0;
}

void pagemap_close(void)
{
	if (pagemap_fd >= 0)
		close(pagemap_fd);
	if (kpageflags_fd >= 0)
		close(kpageflags_fd);
	pagemap_fd = kpageflags_fd = -1;
}

static int pread_full(int fd, void *buf, size_t len, off_t off)
{
	char *p = buf;
	while (len) {
		ssize_t n = pread(fd, p, len, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

int pagemap_read(const void *addr, size_t n, uint64_t *entries)
{
	off_t off = (off_t)((uintptr_t)addr / STAMP_PAGE_SIZE * 8);
	return pread_full(pagemap_fd, entries, n * 8, off);
}

int kpageflags_read(uint64_t pfn, uint64_t *flags)
{
	return pread_full(kpageflags_fd, flags, 8, (off_t)(pfn * 8));
}
