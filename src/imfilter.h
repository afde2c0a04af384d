/*
 * imfilter.h - the public API of the imfilter library.
 *
 * The data path is  read -> float planes -> convolution -> map -> write.
 * Images are planar float matrices on the 0..255 scale (a 16-bit sample v
 * becomes v / 257, so nothing is lost); text and PFM inputs carry any real
 * values.  Every fallible function returns an imf_status and fills a
 * caller-owned imf_error with a one-line, lowercase message without the file
 * name (the caller prefixes it: "photo.png: PNG: truncated in IDAT chunk").
 * Objects are opaque; each module that allocates provides the free, and
 * freeing NULL is a no-op.  The library keeps no global mutable state and
 * never prints or exits.
 */
#ifndef IMFILTER_H
#define IMFILTER_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IMF_VERSION "0.1.0"

/* ---- errors ------------------------------------------------------------ */

typedef enum imf_status {
	IMF_OK = 0,
	IMF_ENOMEM,       /* an allocation failed */
	IMF_EIO,          /* reading or writing failed (includes early EOF on a stream) */
	IMF_EFORMAT,      /* the content is not a format imfilter knows */
	IMF_ECORRUPT,     /* a known format, but malformed or truncated */
	IMF_EUNSUPPORTED, /* well-formed, but a variant imfilter refuses (e.g. CMYK) */
	IMF_ELIMIT,       /* exceeds a resource limit (see imf_limits) */
	IMF_EINVAL        /* a bad argument: kernel spec, option value, geometry */
} imf_status;

typedef struct imf_error {
	imf_status code;
	char msg[256];
} imf_error;

/* Record an error (printf-style) and return code.  A NULL err is allowed. */
imf_status imf_error_set(imf_error *err, imf_status code, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 3, 4)))
#endif
	;

/* A short name for a status code ("out of memory", "bad input", ...). */
const char *imf_status_str(imf_status code);

/* ---- limits ------------------------------------------------------------ */

/* Checked from a file's header before any allocation it could influence. */
typedef struct imf_limits {
	size_t max_pixels; /* width * height, default 2^28 */
	size_t max_side;   /* width or height, default 1,000,000 */
} imf_limits;

void imf_limits_default(imf_limits *lim);

/* ---- images ------------------------------------------------------------ */

typedef struct imf_image imf_image;

typedef enum imf_format {
	IMF_FORMAT_UNKNOWN = 0,
	IMF_FORMAT_PNG,
	IMF_FORMAT_JPEG,
	IMF_FORMAT_PNM, /* P1-P6 and P7 PAM on input; P5/P6 on output */
	IMF_FORMAT_PFM,
	IMF_FORMAT_TEXT
} imf_format;

/*
 * A new zero-filled image of channels planes (1..4).  has_alpha says the last
 * plane is alpha (carried through filtering, never filtered).  Sizes are
 * overflow-checked; lim may be NULL for no limits beyond size_t.
 */
imf_status imf_image_new(size_t width, size_t height, int channels, int has_alpha,
                         const imf_limits *lim, imf_image **out, imf_error *err);
void imf_image_free(imf_image *img);

size_t imf_image_width(const imf_image *img);
size_t imf_image_height(const imf_image *img);
int imf_image_channels(const imf_image *img);
int imf_image_has_alpha(const imf_image *img);
/* Row y of plane c: width floats. */
float *imf_image_row(imf_image *img, int c, size_t y);
const float *imf_image_row_const(const imf_image *img, int c, size_t y);

/* Where the image came from, so writers can match it (16-bit in, 16-bit out). */
imf_format imf_image_source_format(const imf_image *img);
int imf_image_source_depth(const imf_image *img); /* 8, 16 or 32 (float) */
void imf_image_set_source(imf_image *img, imf_format fmt, int depth);

/*
 * One intensity plane from an image: gray stays, RGB becomes Rec.601 luma
 * 0.299 R + 0.587 G + 0.114 B; alpha is dropped.  The source information is
 * copied.
 */
imf_status imf_image_to_luma(const imf_image *img, imf_image **out, imf_error *err);

/* ---- reading ----------------------------------------------------------- */

typedef struct imf_read_opts {
	imf_limits limits;
	int want_gray; /* a hint: JPEG may decode straight to luma */
} imf_read_opts;

void imf_read_opts_default(imf_read_opts *opts);

/* Guess a format from the first bytes of a stream (len may be short). */
imf_format imf_format_detect(const unsigned char *magic, size_t len);
/* Format from a name ("png", "jpg", "pgm", "pfm", "txt", ...), or UNKNOWN. */
imf_format imf_format_from_name(const char *name);
/* Format from a path's extension, or UNKNOWN. */
imf_format imf_format_from_path(const char *path);
const char *imf_format_name(imf_format fmt);

/*
 * Read one image from fp, detecting the format from its content.  The image
 * holds the file's own channels (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA) on the
 * 0..255 scale, except that want_gray may yield 1 channel directly.
 */
imf_status imf_read(FILE *fp, const imf_read_opts *opts, imf_image **out, imf_error *err);

/* ---- kernels ----------------------------------------------------------- */

typedef struct imf_kernel imf_kernel;

/*
 * A kernel from a spec: a built-in name ("sobel-x"), a path to a kernel file,
 * or an inline matrix ("0 -1 0; -1 5 -1; 0 -1 0", "1/16 * 1 2 1; 2 4 2; 1 2 1").
 */
imf_status imf_kernel_parse(const char *spec, imf_kernel **out, imf_error *err);
/* A kernel from kernel-file text; origin names it in messages. */
imf_status imf_kernel_from_text(const char *text, const char *origin, imf_kernel **out,
                                imf_error *err);
void imf_kernel_free(imf_kernel *k);

size_t imf_kernel_builtin_count(void);
/* Name of built-in i, or NULL past the end. */
const char *imf_kernel_builtin_name(size_t i);
/* The built-in named name, freshly parsed; IMF_EINVAL if there is none. */
imf_status imf_kernel_builtin(const char *name, imf_kernel **out, imf_error *err);

const char *imf_kernel_name(const imf_kernel *k);        /* may be "" */
const char *imf_kernel_description(const imf_kernel *k); /* may be "" */
/* Print the kernel in kernel-file format (loadable again). */
int imf_kernel_print(const imf_kernel *k, FILE *fp);
/* "3x3", or "3x3 magnitude of sobel-x, sobel-y" for a compound kernel. */
void imf_kernel_size_str(const imf_kernel *k, char *buf, size_t len);

/* ---- convolution ------------------------------------------------------- */

typedef enum imf_border {
	IMF_BORDER_ZERO = 0, /* constant 0 (MATLAB default, CNN zero padding) */
	IMF_BORDER_REPLICATE,/* repeat the edge pixel: aaa|abc|ccc */
	IMF_BORDER_REFLECT,  /* mirror without the edge: cb|abc|ba (PyTorch/NumPy reflect) */
	IMF_BORDER_SYMMETRIC,/* mirror with the edge: ba|abc|cb (SciPy reflect, MATLAB symmetric) */
	IMF_BORDER_WRAP      /* periodic: bc|abc|ab */
} imf_border;

/* Parse a border name or an alias from SciPy, OpenCV, PyTorch or MATLAB. */
imf_status imf_border_parse(const char *name, imf_border *out, imf_error *err);
const char *imf_border_name(imf_border b);

typedef enum imf_pad_mode {
	IMF_PAD_SAME = 0, /* output the input's size at stride 1 */
	IMF_PAD_VALID,    /* no padding */
	IMF_PAD_FULL,     /* F - 1 on each side */
	IMF_PAD_EXPLICIT  /* pad cells on each side */
} imf_pad_mode;

typedef struct imf_conv_params {
	imf_pad_mode pad_mode;
	size_t pad;    /* with IMF_PAD_EXPLICIT */
	size_t stride; /* >= 1 */
	imf_border border;
	int flip;      /* true convolution: rotate the kernel by 180 degrees */
	imf_limits limits; /* on the output's size (large padding can grow it) */
} imf_conv_params;

void imf_conv_params_default(imf_conv_params *p);

/*
 * Padding before and after along one axis for a kernel extent f.
 * same: before = floor((f - 1) / 2), after = f - 1 - before.
 */
void imf_conv_padding(const imf_conv_params *p, size_t f, size_t *before, size_t *after);

/*
 * Output extent along one axis: out = floor((m + before + after - f) / s) + 1,
 * i.e. floor((M - F + 2P) / S) + 1 for symmetric padding.  IMF_EINVAL if the
 * kernel is larger than the padded input or the stride is 0.
 */
imf_status imf_conv_output_size(size_t m, size_t f, size_t before, size_t after, size_t stride,
                                 size_t *out, imf_error *err);

/*
 * Cross-correlate every non-alpha plane of in with k:
 *   out(y, x) = scale * sum_ij w(i, j) in(y*S - top + i, x*S - left + j)
 * with out-of-range samples supplied by the border mode.  A compound kernel
 * (sobel) combines its parts' responses as sqrt(a^2 + b^2).  Alpha is carried
 * through: each output takes the alpha under the kernel's anchor pixel.
 */
imf_status imf_conv_run(const imf_image *in, const imf_kernel *k, const imf_conv_params *p,
                        imf_image **out, imf_error *err);

/* ---- mapping and writing ----------------------------------------------- */

typedef enum imf_map_mode {
	IMF_MAP_CLAMP = 0, /* round to nearest, clamp to 0..max */
	IMF_MAP_ABS,       /* |v|, then clamp */
	IMF_MAP_OFFSET,    /* v + 128, then clamp (negative edges stay visible) */
	IMF_MAP_NORMALIZE  /* stretch min..max to 0..255 */
} imf_map_mode;

imf_status imf_map_parse(const char *name, imf_map_mode *out, imf_error *err);
const char *imf_map_name(imf_map_mode m);

/* Statistics of the raw values (alpha excluded) and of what a mapping clips. */
typedef struct imf_stats {
	double min, max, mean;
	size_t count;        /* values looked at */
	size_t clipped_low;  /* mapped below 0 before clamping */
	size_t clipped_high; /* mapped above 255 before clamping */
	size_t nonfinite;    /* NaN or infinite values */
} imf_stats;

imf_status imf_stats_compute(const imf_image *img, imf_map_mode mode, imf_stats *st,
                             imf_error *err);

typedef struct imf_write_opts {
	imf_map_mode map;
	int quality; /* JPEG, 1..100, default 90 */
	int depth;   /* 8 or 16 for PNG and PNM; 0 = follow the source (16 if it was 16) */
} imf_write_opts;

void imf_write_opts_default(imf_write_opts *opts);

/*
 * Write img to fp as fmt.  Integer formats map values with opts->map; PFM and
 * text write the raw floats.  fp is flushed and checked but not closed.
 */
imf_status imf_write(FILE *fp, const imf_image *img, imf_format fmt, const imf_write_opts *opts,
                     imf_error *err);

#ifdef __cplusplus
}
#endif

#endif
