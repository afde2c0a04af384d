/*
 * conv_internal.h - what conv.c (geometry, reference, entry points) and
 * the fast row engine (conv_plan.c, conv_rows.c) share.  Not installed.
 */
#ifndef IMF_CONV_INTERNAL_H
#define IMF_CONV_INTERNAL_H

#include "internal.h"

#include <stddef.h>

/* Everything every path needs, worked out and checked once by conv_setup(). */
typedef struct conv_geom {
	size_t iw, ih;                   /* input width and height */
	int ich;                         /* input planes, alpha included */
	size_t fr, fc;                   /* kernel rows and columns (taps per axis) */
	size_t dil;                      /* dilation D: taps D apart */
	size_t er, ec;                   /* extents D(F-1)+1: rows and columns spanned */
	size_t top, bottom, left, right; /* padding */
	size_t oh, ow;                   /* output height and width */
	size_t stride;
	imf_border border;
	int flip;
	double bias;
	int float_sums; /* IMF_PRECISION_FLOAT asked for */
	size_t depth; /* slices: C for a multi-channel kernel, else 1 */
	int nfilt;    /* input planes filtered: all but alpha */
	int nout;     /* output planes besides alpha: nfilt, or 1 when depth > 1 */
	int alpha;    /* the output carries the input's alpha */
} conv_geom;

imf_status conv_setup(size_t width, size_t height, int channels, int has_alpha,
                      const imf_kernel *k, const imf_conv_params *p, conv_geom *g,
                      imf_error *err);

/* The input index supplying padded sample i of an axis of n samples, or -1 for a zero. */
ptrdiff_t conv_border_index(imf_border b, ptrdiff_t i, size_t n);

/* The input index under the kernel's anchor for output o, clamped into 0..n-1. */
size_t conv_anchor_index(size_t o, size_t stride, size_t before, size_t e, size_t n);

/*
 * The row engine (conv_plan.c makes plans and workers, conv_rows.c runs
 * them).  A plan is made once per (kernel, geometry) and only read
 * afterwards; a worker holds one thread's buffers.  Input rows
 * come through a fetch function, so the same engine serves a whole image and
 * a band window of a streamed one: fetch(ctx, c, y) returns row y (0-based in
 * the whole input) of plane c, width g->iw floats.
 */
typedef const float *(*conv_fetch)(const void *ctx, int plane, size_t y);

typedef struct conv_plan conv_plan;
typedef struct conv_worker conv_worker;

/* Which inner loops a plan uses, for --verbose. */
typedef enum conv_method {
	CONV_METHOD_DIRECT = 0, /* 2-D taps, double accumulation */
	CONV_METHOD_SEPARABLE   /* rank-1 matrix: a row pass, then a column pass */
} conv_method;

imf_status conv_plan_new(const imf_kernel *k, const conv_geom *g, conv_plan **out,
                         imf_error *err);
void conv_plan_free(conv_plan *p);
conv_method conv_plan_method(const conv_plan *p);
/* Integer kernel: rows of integers this small run in exact float arithmetic (0: never). */
float conv_plan_exact_limit(const conv_plan *p);
/* Direct: sums in float (IMF_PRECISION_FLOAT where it applies). */
int conv_plan_float_sums(const conv_plan *p);
/* Separable: rows whose result need not be exact may run both passes in float. */
int conv_plan_float_passes(const conv_plan *p);
/* Separable: the most output rows the column pass makes at once (1, 2 or 4). */
size_t conv_plan_group(const conv_plan *p);
/* Separable, float passes: a symmetric pass folds its mirrored taps (row 1, column 2). */
int conv_plan_folded(const conv_plan *p);

imf_status conv_worker_new(const conv_plan *p, conv_worker **out, imf_error *err);
void conv_worker_free(conv_worker *w);

/*
 * Output rows oy0 .. oy1-1 into rows oy0-first .. oy1-1-first of o (every
 * output plane, alpha included).
 */
void conv_worker_run(conv_worker *w, conv_fetch fetch, const void *ctx, imf_image *o,
                     size_t first, size_t oy0, size_t oy1);
/* Output rows the worker has made k (2 or 4) at a time (separable_group), for the tests. */
size_t conv_worker_group_rows(const conv_worker *w, size_t k);
/* The same summed over a stream's workers. */
size_t conv_stream_group_rows(const imf_conv_stream *s, size_t k);
/* Output rows the worker, and a stream's workers, stored by streaming (CONV_STREAM_BYTES). */
size_t conv_worker_streamed_rows(const conv_worker *w);
size_t conv_stream_streamed_rows(const imf_conv_stream *s);

#endif
