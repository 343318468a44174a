/* classify.h - stamp_classify() as the device's hot path runs it. */
#ifndef SWAPEMU_CLASSIFY_H
#define SWAPEMU_CLASSIFY_H

#include "stamp.h"

/* The same answer as stamp_classify(page, tab), picked at load time from a
 * build for the CPU at hand (AVX-512 where there is one). */
enum stamp_class classify_page(const void *page, const struct gentab *tab);

#endif
