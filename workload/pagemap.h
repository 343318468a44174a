/* pagemap.h - reading /proc/self/pagemap and /proc/kpageflags (both need
 * CAP_SYS_ADMIN to show PFNs and flags). */
#ifndef SWAPEMU_PAGEMAP_H
#define SWAPEMU_PAGEMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PM_PRESENT (1ull << 63)
#define PM_SWAPPED (1ull << 62)
#define PM_PFN_MASK ((1ull << 55) - 1)
#define KPF_WRITEBACK_BIT 8

static inline bool pm_present(uint64_t e)
{
	return e & PM_PRESENT;
}

/* Not present, and the PTE holds a swap entry. */
static inline bool pm_swapped(uint64_t e)
{
	return !(e & PM_PRESENT) && (e & PM_SWAPPED);
}

static inline uint64_t pm_pfn(uint64_t e)
{
	return pm_present(e) ? e & PM_PFN_MASK : 0;
}

/* Opens both files; returns 0 or -1 with a reason in err. */
int pagemap_open(char *err, size_t errlen);
void pagemap_close(void);

/* The pagemap entries of the n pages starting at addr (page aligned).
 * Returns 0 or -1 (errno set). */
int pagemap_read(const void *addr, size_t n, uint64_t *entries);

/* The /proc/kpageflags word of pfn. Returns 0 or -1 (errno set). */
int kpageflags_read(uint64_t pfn, uint64_t *flags);

#endif
