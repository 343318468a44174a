/* kmsg.c - kernel problem messages from /dev/kmsg (see kmsg.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kmsg.h"

static int kmsg_fd = -1;

bool kmsg_open(char *err, size_t errlen)
{
	kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg_fd < 0) {
		snprintf(err, errlen, "cannot open /dev/kmsg: %s",
		         strerror(errno));
		return false;
	}
	/* Only what is logged from now on. */
	lseek(kmsg_fd, 0, SEEK_END);
	return true;
}

void kmsg_close(void)
{
	if (kmsg_fd >= 0)
		close(kmsg_fd);
	kmsg_fd = -1;
}

bool kmsg_is_problem(const char *m)
{
	static const char *const kinds[] = {
	    "kernel BUG",
	    "BUG:",
	    "Oops",
	    "WARNING:",
	    "general protection fault",
	    "soft lockup",
	    "blocked for more than",
	    "Kernel panic",
	    "hung_task",
	};
	for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++)
		if (strstr(m, kinds[k]))
			return true;
	return false;
}

unsigned kmsg_collect(void (*found)(const char *msg, void *arg), void *arg)
{
	if (kmsg_fd < 0)
		return 0;
	unsigned n = 0;
	char rec[8192];
	for (;;) {
		ssize_t len = read(kmsg_fd, rec, sizeof rec - 1);
		if (len < 0 && errno == EPIPE)
			continue; /* overwritten records: go on */
		if (len <= 0)
			break;
		rec[len] = '\0';
		/* "prio,seq,usec,flags;text\n" then continuation lines. */
		char *text = strchr(rec, ';');
		if (!text)
			continue;
		text++;
		text[strcspn(text, "\n")] = '\0';
		if (kmsg_is_problem(text)) {
			found(text, arg);
			n++;
		}
	}
	return n;
}
