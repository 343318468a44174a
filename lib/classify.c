/* classify.c - stamp_classify() for the device's hot path. Checking a
 * stamped page's body is one 64-bit multiply per word; AVX-512DQ does eight
 * at a time, about three times faster per page than the scalar loop on
 * this machine's EPYC. The clones are chosen once, when the library loads
 * (an ifunc); every other x86-64, and every other architecture, runs the
 * default build. The Makefile compiles this file with -ftree-vectorize. */
#include "classify.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("arch=x86-64-v4", "default"), flatten))
#endif
enum stamp_class
classify_page(const void *page, const struct gentab *tab)
{
	return stamp_classify(page, tab);
}
