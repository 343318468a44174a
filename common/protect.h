/* protect.h - keeping a process that serves or drives swap out of its own
 * way: lock its memory (so it is never swapped onto the device it serves or
 * measures), keep the OOM killer away, and mark it an I/O flusher. */
#ifndef SWAPEMU_PROTECT_H
#define SWAPEMU_PROTECT_H

enum protect_flags {
	PROTECT_LOCK = 1,         /* mlockall(MCL_CURRENT | MCL_FUTURE) */
	PROTECT_LOCK_ONFAULT = 2, /* ... | MCL_ONFAULT: big sparse maps */
	PROTECT_OOM = 4,          /* oom_score_adj -1000 */
	PROTECT_IO_FLUSHER = 8,   /* PR_SET_IO_FLUSHER */
};

/* Does what flags ask, each step best effort: a step that fails is said
 * once on stderr as "who: note/warning: ..." and the rest goes on. Returns
 * the flags that took effect. A sanitizer build does not lock (ASan's
 * shadow memory cannot be locked) and says so. */
int protect_memory(const char *who, int flags);

#endif
