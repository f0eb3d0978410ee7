/* Internal declarations shared by the library's C files (not part of the API). */
#ifndef FLASHLM_INTERNAL_H
#define FLASHLM_INTERNAL_H

#include <stddef.h>
#include "flashlm.h"

#define FL_QUANT_EPS 1e-5f

/* SIMD tables, defined only when the build contains them (see Makefile). */
const fl_kernels *fl_kernels_avx2(void);
const fl_kernels *fl_kernels_neon(void);

/* 64-byte aligned allocation (zeroed); NULL on failure. Free with fl_free. */
void *fl_alloc(size_t bytes);
void fl_free(void *p);

#endif
