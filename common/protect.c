/* protect.c - see protect.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#include "protect.h"

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif

int protect_memory(const char *who, int flags)
{
	int done = 0;
	if (flags & (PROTECT_LOCK | PROTECT_LOCK_ONFAULT)) {
#if defined(__SANITIZE_ADDRESS__)
		fprintf(stderr,
		        "%s: note: sanitizer build, memory not locked\n", who);
#else
		int how = MCL_CURRENT | MCL_FUTURE;
		if (flags & PROTECT_LOCK_ONFAULT)
			how |= MCL_ONFAULT;
		if (mlockall(how))
			fprintf(stderr,
			        "%s: warning: mlockall failed (%s); its memory "
			        "could be swapped onto the device\n",
			        who, strerror(errno));
		else
			done |= flags & (PROTECT_LOCK | PROTECT_LOCK_ONFAULT);
#endif
	}
	if (flags & PROTECT_OOM) {
		FILE *f = fopen("/proc/self/oom_score_adj", "w");
		int good = f && fputs("-1000", f) >= 0;
		if (f && fclose(f))
			good = 0;
		if (good)
			done |= PROTECT_OOM;
		else
			fprintf(stderr,
			        "%s: note: cannot set oom_score_adj (%s)\n",
			        who, strerror(errno));
	}
	if (flags & PROTECT_IO_FLUSHER) {
		if (prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0))
			fprintf(stderr,
			        "%s: note: PR_SET_IO_FLUSHER unavailable (%s); "
			        "continuing without it\n",
			        who, strerror(errno));
		else
			done |= PROTECT_IO_FLUSHER;
	}
	return done;
}
