/* device-text.h - the device's reports as strings, for the C tests
 * (header-only). */
#ifndef SWAPEMU_DEVICE_TEXT_H
#define SWAPEMU_DEVICE_TEXT_H

#include <stdio.h>

#include "device.h"

/* What report (device_events, device_counters, ...) writes, malloc'd. */
static inline char *device_text(struct device *d,
                                void (*report)(struct device *, FILE *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	report(d, f);
	fclose(f);
	return buf;
}

#endif
