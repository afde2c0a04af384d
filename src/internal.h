/*
 * internal.h - structures and helpers shared by the library's modules.
 *
 * Nothing here is part of the public API (imfilter.h).  Invariants:
 *  - an imf_image's planes are contiguous: plane c, row y starts at
 *    data + (c * height + y) * stride, and stride >= width;
 *  - every size an input can influence is computed with imf_size_mul /
 *    imf_check_dims, never with a bare '*';
 *  - readers take an imf_src (a FILE with a small push-back buffer, so the
 *    format can be detected from the first bytes of a pipe).
 */
#ifndef IMF_INTERNAL_H
#define IMF_INTERNAL_H

#include "imfilter.h"

#include <stddef.h>
#include <stdint.h>

struct imf_image {
	size_t width, height;
	int channels;  /* 1..4 */
	int has_alpha; /* the last plane is alpha */
	size_t stride; /* floats per row */
	float *data;
	imf_format src_format;
	int src_depth; /* 8, 16 or 32 */
	int maps;      /* planes are feature maps, not colour channels */
};

/* Channels an image file can have (gray, gray+alpha, RGB, RGBA); feature maps may have up to IMF_MAX_PLANES. */
#define IMF_MAX_CHANNELS 4

/* ---- sizes ------------------------------------------------------------- */

/* *out = a * b; IMF_ELIMIT-free plain check: returns 0 on overflow, 1 on success. */
int imf_size_mul(size_t a, size_t b, size_t *out);
/* *out = a + b; 0 on overflow. */
int imf_size_add(size_t a, size_t b, size_t *out);

/*
 * Check an image's dimensions from a header before allocating: width and
 * height >= 1, each <= max_side, width * height <= max_pixels and
 * width * height * channels * sizeof(float) fits in size_t.  fmt names the
 * format in the message ("PNG: image is 0x10", "PNG: 30000x30000 is
 * 900000000 pixels, over the --max-pixels limit of 268435456 (raise it with
 * --max-pixels)").  Every limit message names the limit, the value found
 * and the option that raises it.
 */
imf_status imf_check_dims(size_t width, size_t height, int channels, const imf_limits *lim,
                          const char *fmt, imf_error *err);

/* malloc(n * size) with the multiplication checked; NULL sets IMF_ENOMEM. */
void *imf_alloc_array(size_t n, size_t size, imf_error *err);

/*
 * Bytes the engine aligns its row buffers to: a cache line, so that a
 * vector load of a row never straddles two lines more often than the
 * row's own offsets make it.  (Image planes keep calloc's alignment:
 * moved to a line, the direct path's 3x3 kernels ran 5-7% slower on the
 * bench's 4096-wide planes, in interleaved runs.)
 */
#define IMF_ALIGN 64

/* imf_alloc_array, IMF_ALIGN-aligned (C11 aligned_alloc); freed with free(). */
void *imf_alloc_aligned(size_t n, size_t size, imf_error *err);

/* ---- input stream with push-back ---------------------------------------- */

typedef struct imf_src {
	FILE *fp;
	unsigned char buf[16]; /* bytes read ahead for format detection */
	size_t len, pos;
} imf_src;

void imf_src_init(imf_src *s, FILE *fp);
/* Look at up to n (<= 16) bytes without consuming them; returns how many. */
size_t imf_src_peek(imf_src *s, unsigned char *out, size_t n);
/* Read up to n bytes; fewer means end of file or an error (imf_src_error). */
size_t imf_src_read(imf_src *s, void *out, size_t n);
/* One byte, or EOF. */
int imf_src_getc(imf_src *s);
/* Non-zero if the underlying stream reported a read error. */
int imf_src_error(const imf_src *s);

/* ---- per-format readers and writers ------------------------------------ */
/*
 * Each format is a streaming reader and writer (the imf_reader_ops and
 * imf_writer_ops tables of src/io/io.h); imf_read and imf_write run them
 * over the whole image.  Messages start with the format name: "PNG: ...",
 * "JPEG: ...", "PNM: ...", "PFM: ...", "text: ...".
 */

/*
 * Hot loops written for the vectorizer are compiled twice on x86-64, for
 * AVX2 and the baseline, and the CPU picks one when the program starts.
 */
#if defined(__x86_64__) && !defined(IMF_NO_CLONES) && \
        ((defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 6) || \
         (defined(__clang__) && __clang_major__ >= 14))
#define IMF_SIMD __attribute__((target_clones("avx2", "default")))
#else
#define IMF_SIMD
#endif

/* ---- value mapping for integer formats ---------------------------------- */

typedef struct imf_mapper {
	imf_map_mode mode;
	double lo, gain;  /* normalize: (v - lo) * gain */
	unsigned maxval;  /* 255 or 65535 */
} imf_mapper;

/* Finite min and max over img's non-alpha planes; 0, 0 when there are none. */
void imf_finite_range(const imf_image *img, double *lo, double *hi);
/* Prepare a mapping of img's colour planes to 0..maxval (scans for normalize). */
void imf_mapper_init(imf_mapper *m, const imf_image *img, imf_map_mode mode, unsigned maxval);
/* One colour value: mode's transform, scale to maxval / 255, round, clamp. NaN -> 0. */
unsigned imf_mapper_value(const imf_mapper *m, float v);
/* One alpha value: scale, round, clamp (never transformed). */
unsigned imf_mapper_alpha(const imf_mapper *m, float v);
/*
 * Interleave row y of the first nch planes of img into out (nch values per
 * pixel); a plane that is img's alpha plane maps with imf_mapper_alpha.
 */
void imf_mapper_row8(const imf_mapper *m, const imf_image *img, size_t y, int nch,
                     unsigned char *out);
void imf_mapper_row16(const imf_mapper *m, const imf_image *img, size_t y, int nch,
                      uint16_t *out);
/* 8 or 16: the integer depth a writer should use (opts->depth, or the source's). */
int imf_output_depth(const imf_image *img, const imf_write_opts *opts);
/* Planes an integer writer without alpha support writes: 1 or 3. */
int imf_color_planes(const imf_image *img);

/* ---- kernels ------------------------------------------------------------ */

typedef enum imf_combine {
	IMF_COMBINE_NONE = 0, /* one matrix */
	IMF_COMBINE_MAGNITUDE /* sqrt(sum of squared responses of every matrix) */
} imf_combine;

typedef struct imf_matrix {
	size_t rows, cols;
	double *w;    /* rows * cols weights, row-major, as written */
	double scale; /* applied to the sum: out = scale * sum(w x); 1 when not given */
} imf_matrix;

struct imf_kernel {
	char *name;        /* built-in name or the spec's file name; never NULL */
	char *description; /* one line; never NULL */
	imf_combine combine;
	size_t count;      /* matrices: the slices of a (3-D) kernel with NONE, the parts with MAGNITUDE */
	imf_matrix *m;
	char **part_names; /* count names for a compound kernel, else NULL */
};

/* ---- convolution -------------------------------------------------------- */

/*
 * The plain reference implementation: one output pixel at a time, every
 * sample fetched through the border rule, double accumulation.  Same contract
 * as imf_conv_run; the tests compare every fast path with it.
 */
imf_status imf_conv_reference(const imf_image *in, const imf_kernel *k, const imf_conv_params *p,
                              imf_image **out, imf_error *err);

/* The embedded filters/ directory, generated at build time. */
typedef struct imf_builtin_source {
	const char *name; /* file name without .txt */
	const char *text; /* file contents */
} imf_builtin_source;

extern const imf_builtin_source imf_builtin_sources[];
extern const size_t imf_builtin_source_count;

#endif
