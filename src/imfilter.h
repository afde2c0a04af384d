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
 * never prints or exits; objects are read-only while used, so one kernel or
 * chain may be run from several threads at once.
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

/* Planes an image may hold: colour channels, or a CNN stage's feature maps. */
#define IMF_MAX_PLANES 4096

/*
 * A new zero-filled image of channels planes (1..IMF_MAX_PLANES).  has_alpha says the last
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
/* Planes other than alpha: colour channels or feature maps. */
int imf_image_data_planes(const imf_image *img);
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

/* What a file's header says, for --dry-run. */
typedef struct imf_info {
	size_t width, height;
	int channels;  /* as imf_read would give them (want_gray honoured) */
	int has_alpha;
	imf_format format;
	int depth;     /* 8, 16 or 32 */
} imf_info;

/*
 * Read only as much of fp as it takes to know the image's size and channels
 * (the header; a text matrix has none and is parsed whole), with the same
 * detection, limits and errors as imf_read.
 */
imf_status imf_read_info(FILE *fp, const imf_read_opts *opts, imf_info *info, imf_error *err);

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
/* "3x3", "3x3x2" for two slices, or "3x3 magnitude of sobel-x, sobel-y". */
void imf_kernel_size_str(const imf_kernel *k, char *buf, size_t len);
/* Rows and columns of the kernel's matrices (every slice/part has the same). */
void imf_kernel_dims(const imf_kernel *k, size_t *rows, size_t *cols);
/*
 * Slices of a multi-channel kernel: a kernel file may hold one 2-D slice per
 * input channel, separated by a blank line.  1 for a plain 2-D kernel.
 */
size_t imf_kernel_depth(const imf_kernel *k);

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
	size_t dilation; /* >= 1: taps D apart; extent D(F-1)+1 */
	double bias;     /* added to every output value */
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
 * With dilation D the kernel's extent is E = D(F-1)+1 and every size and
 * padding rule above uses E for F: out = floor((M + 2P - D(F-1) - 1)/S) + 1.
 *
 * Cross-correlate every non-alpha plane of in with k:
 *   out(y, x) = scale * sum_ij w(i, j) in(y*S - top + i, x*S - left + j)
 * with out-of-range samples supplied by the border mode.  A compound kernel
 * (sobel) combines its parts' responses as sqrt(a^2 + b^2).  Alpha is carried
 * through: each output takes the alpha under the kernel's anchor pixel.
 * Dilation spaces the taps: in(y*S - top + i*D, x*S - left + j*D).  bias is
 * added to every output (after the scale; after the magnitude for compound
 * kernels).
 * A multi-channel kernel (depth C > 1) needs exactly C non-alpha input
 * planes and gives ONE plane, as a CNN layer does:
 *   out = sum_c scale * corr(in_c, slice_c) + bias        (alpha dropped)
 * otherwise IMF_EINVAL "kernel has 3 slices but the input has 1 channel".
 */
imf_status imf_conv_run(const imf_image *in, const imf_kernel *k, const imf_conv_params *p,
                        imf_image **out, imf_error *err);

/* ---- CNN stages: activations, pooling, normalize ------------------------- */
/*
 * Stages work on every non-alpha plane ("feature map") of an image; an image
 * may hold up to IMF_MAX_PLANES planes.  Alpha, when present, is pooled like
 * the other planes and untouched by activations and normalize.
 */

typedef enum imf_activation {
	IMF_ACT_RELU = 0,   /* max(0, v) */
	IMF_ACT_LEAKY_RELU, /* v >= 0 ? v : slope * v */
	IMF_ACT_SIGMOID,    /* 1 / (1 + exp(-v)) */
	IMF_ACT_TANH,       /* tanh(v) */
	IMF_ACT_ABS         /* |v| */
} imf_activation;

/* Apply an activation in place; slope is used by IMF_ACT_LEAKY_RELU only. */
void imf_activate(imf_image *img, imf_activation act, double slope);

typedef enum imf_pool_kind { IMF_POOL_MAX = 0, IMF_POOL_MIN, IMF_POOL_AVG } imf_pool_kind;

/*
 * Pool each plane with a k x k window, stride s (>= 1) and pad cells on each
 * side: out = floor((M - K + 2P) / S) + 1.  Padded cells never win a max or a
 * min and are not counted in an average (each output averages only the real
 * cells of its window).  IMF_EINVAL when k is 0, s is 0, the window is
 * larger than the padded input, or pad >= k (a window of padding only).
 */
imf_status imf_pool(const imf_image *in, imf_pool_kind kind, size_t k, size_t s, size_t pad,
                    imf_image **out, imf_error *err);

/* Stretch the finite min..max of all non-alpha planes to 0..255 in place (constant -> 0). */
void imf_normalize(imf_image *img);

/*
 * A new image whose planes are a's non-alpha planes followed by b's (same
 * width and height, no alpha): how several kernels' maps are gathered.
 */
imf_status imf_image_concat(const imf_image *a, const imf_image *b, imf_image **out,
                            imf_error *err);
/*
 * The planes of maps tiled into one plane: cols x rows cells, left to right
 * then top to bottom, with a sep-pixel separator of value sep_value between
 * cells (cols = 0 picks ceil(sqrt(n)), rows = 0 picks ceil(n / cols)).
 * IMF_EINVAL when cols * rows < n.
 */
imf_status imf_image_tile(const imf_image *maps, size_t cols, size_t rows, size_t sep,
                          float sep_value, imf_image **out, imf_error *err);
/*
 * Non-zero when img's planes are feature maps (gathered from several
 * kernels) rather than colour channels, so writers should tile them.
 */
int imf_image_is_maps(const imf_image *img);
void imf_image_set_maps(imf_image *img, int maps);
/* A new image holding plane c of img alone (source information copied). */
imf_status imf_image_plane(const imf_image *img, int c, imf_image **out, imf_error *err);

/* ---- chains: the stage language ---------------------------------------- */
/*
 * One string, stages separated by '|':
 *   conv KERNEL[,KERNEL...] [pad=P|same|valid|full] [stride=S] [dilation=D]
 *        [border=B] [bias=B] [flip]
 *   conv HxW out=N [nobias] ...      (size only, for --dry-run: H rows, W columns,
 *                                     as PyTorch's kernel_size; sums over all inputs)
 *   relu | leaky-relu[=SLOPE] | sigmoid | tanh | abs
 *   maxpool K | minpool K | avgpool K   [stride=S] [pad=P]  (stride defaults to K)
 *   normalize
 * KERNEL is a built-in name, a kernel file or an inline matrix in brackets.
 */
typedef struct imf_chain imf_chain;

/*
 * Parse a chain.  Syntax errors are IMF_EINVAL with a one-line message that
 * quotes the stage and says where: "stage 2 'maxpool 0': pool size must be
 * at least 1".
 */
imf_status imf_chain_parse(const char *text, imf_chain **out, imf_error *err);
/* A one-stage chain from a kernel (ownership passes to the chain) and params. */
imf_status imf_chain_from_conv(imf_kernel *k, const imf_conv_params *p, imf_chain **out,
                               imf_error *err);
void imf_chain_free(imf_chain *c);
size_t imf_chain_length(const imf_chain *c);
/* Non-zero when a stage has a size-only kernel ("3x3 out=40"): dry runs only. */
int imf_chain_shape_only(const imf_chain *c);
/* Apply every limit in lim to each stage's output. */
void imf_chain_set_limits(imf_chain *c, const imf_limits *lim);

/*
 * Run the chain.  Several kernels in one conv stage give one plane per
 * kernel (a 2-D kernel applied depthwise gives one per input plane).
 */
imf_status imf_chain_run(const imf_chain *c, const imf_image *in, imf_image **out,
                         imf_error *err);

/*
 * The --dry-run report for an input of w x h x ch (ch: planes without alpha),
 * printed to fp: one row
 * per stage with the output shape, learnable parameters, receptive field
 * and jump, then the totals.  A stage that does not fit is reported on its
 * row with the reason, and the function returns IMF_EINVAL (err says which).
 */
imf_status imf_chain_report(const imf_chain *c, size_t w, size_t h, size_t ch, FILE *fp,
                            imf_error *err);

/*
 * --explain: print, for each stage and each output value, its computation
 * the way a textbook does ("y_11 = 0*x_00 + -1*x_01 + ... = 0*0 + -1*0 + ...
 * = 114"); for inputs of at most 16x16 (IMF_EINVAL otherwise).
 */
imf_status imf_chain_explain(const imf_chain *c, const imf_image *in, FILE *fp,
                             imf_error *err);

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
