/* hash.h - the project's one hash: splitmix64. Cheap, well mixed and the
 * same everywhere, so the page stamp, the delay distributions and the
 * fault-injection rules derive identical values from one seed on every
 * machine and in every guest. Header-only. */
#ifndef SWAPEMU_HASH_H
#define SWAPEMU_HASH_H

#include <stdint.h>

static inline uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

#endif
