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

/*
 * v as the shortest decimal that reads back as the same double (or, with
 * is_float, the same float): "0.1", "114" (no exponent below 1e16), "nan",
 * "inf", "-0".  40 bytes always suffice.  Returns buf.
 */
char *imf_number_str(char *buf, size_t len, double v, int is_float);

/* ---- limits ------------------------------------------------------------ */

/* Checked from a file's header before any allocation it could influence. */
typedef struct imf_limits {
	size_t max_pixels; /* width * height, default 2^28 */
	size_t max_side;   /* width or height, default 1,000,000 */
	size_t max_kernel; /* a kernel's rows or columns, default 255 (0: the ceiling below) */
	size_t max_memory; /* bytes a whole decoded image may take as float planes
	                      (width * height * planes * sizeof(float)) where one is
	                      held whole; default 1 GiB, 0: no limit.  Streamed
	                      reads (imf_reader_read in bands) never need it. */
} imf_limits;

/*
 * No limit lets a kernel be larger than this per side, whatever max_kernel
 * says: it bounds the memory a kernel takes and keeps the size arithmetic
 * of the stages far from overflow.
 */
#define IMF_KERNEL_SIDE_CEILING 65535

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
/*
 * The same with the samples left unset, for a buffer that is written before
 * it is read: nothing is zeroed, so its memory is first touched by whoever
 * first writes it (a band's worker thread, say), not by the allocating one.
 */
imf_status imf_image_new_uninit(size_t width, size_t height, int channels, int has_alpha,
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
/* The same for rows sy .. sy+n-1 of src into rows dy .. dy+n-1 of dst's first plane. */
void imf_image_luma_rows(const imf_image *src, size_t sy, imf_image *dst, size_t dy, size_t n);

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
/*
 * The same with the limits in lim (NULL: the defaults, as imf_kernel_parse):
 * a kernel over lim->max_kernel per side is IMF_EINVAL "kernel: 301x3 is over
 * the --max-kernel limit of 255 per side (raise it with --max-kernel)".
 */
imf_status imf_kernel_parse_limited(const char *spec, const imf_limits *lim, imf_kernel **out,
                                    imf_error *err);
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

/*
 * How the engine sums a direct (not separable) kernel.  EXACT (the default)
 * rounds as the reference does: every product and sum in double, in tap
 * order, so the direct paths give imf_conv_reference's values bit for bit.
 * FLOAT sums in single precision where that is faster (stride 1, weights
 * within 2^-40 .. 2^40, rows of values 0 or 2^-64 .. 2^64): each product
 * and sum rounded to float, as libvips and PyTorch do, so a value may
 * differ from the reference by up to about (taps + 3) * 2^-24 *
 * (|scale| sum |w x| + |bias|).  Either way, an integer kernel on integer
 * samples small enough that every sum stays below 2^24 (8-bit images under
 * the built-in kernels) is exact, and a separable kernel (rank 1, 5x5 and
 * up) runs as two passes, in float where its result cannot be exact, within
 * about (Fr + Fc + 3) * 2^-24 * (|scale| sum|w| max|x| + |bias|).
 */
typedef enum imf_precision {
	IMF_PRECISION_EXACT = 0,
	IMF_PRECISION_FLOAT
} imf_precision;

imf_status imf_precision_parse(const char *name, imf_precision *out, imf_error *err);
const char *imf_precision_name(imf_precision p);

typedef struct imf_conv_params {
	imf_pad_mode pad_mode;
	size_t pad;    /* with IMF_PAD_EXPLICIT */
	size_t stride; /* >= 1 */
	imf_border border;
	int flip;      /* true convolution: rotate the kernel by 180 degrees */
	size_t dilation; /* >= 1: taps D apart; extent D(F-1)+1 */
	double bias;     /* added to every output value */
	imf_limits limits; /* on the output's size (large padding can grow it) */
	size_t threads;    /* rows are split across this many threads (0 or 1: none) */
	imf_precision precision; /* EXACT unless asked */
} imf_conv_params;

/* Most threads one convolution uses. */
#define IMF_MAX_THREADS 64

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

/*
 * The same convolution, band by band, for images streamed from a reader:
 * memory depends on the width and the kernel, not on the height.  Results
 * equal imf_conv_run's for every band split and thread count.
 *
 *   imf_conv_stream_new      checks everything imf_conv_run checks, for an
 *                            input of width x height x channels
 *   imf_conv_stream_output   the output's geometry
 *   imf_conv_stream_bounded  1 when each band of output rows reads a window
 *                            of nearby input rows (0 for a wrap border with
 *                            padding, or padding past the image's height:
 *                            run those on the whole image)
 *   imf_conv_stream_input_rows  input rows [lo, hi) that output rows
 *                            oy0 .. oy0+n-1 read (lo == hi: none)
 *   imf_conv_stream_run      output rows oy0 .. oy0+n-1 into rows 0..n-1 of
 *                            out, reading win, which holds input rows
 *                            first .. first + height(win) - 1 and must cover
 *                            imf_conv_stream_input_rows(oy0, n)
 *   imf_conv_stream_method   which inner loops run, for --verbose (a string
 *                            that lives as long as the stream)
 */
typedef struct imf_conv_stream imf_conv_stream;

imf_status imf_conv_stream_new(const imf_kernel *k, const imf_conv_params *p, size_t width,
                               size_t height, int channels, int has_alpha,
                               imf_conv_stream **out, imf_error *err);
void imf_conv_stream_free(imf_conv_stream *s);
void imf_conv_stream_output(const imf_conv_stream *s, size_t *width, size_t *height,
                            int *channels, int *has_alpha);
int imf_conv_stream_bounded(const imf_conv_stream *s);
void imf_conv_stream_input_rows(const imf_conv_stream *s, size_t oy0, size_t n, size_t *lo,
                                size_t *hi);
imf_status imf_conv_stream_run(imf_conv_stream *s, const imf_image *win, size_t first,
                               imf_image *out, size_t oy0, size_t n, imf_error *err);
/*
 * The same on the calling thread only, with the buffers of slot (0 ..
 * threads-1): calls with different slots may run at the same time, so a
 * caller can keep several bands in flight on its own threads.
 */
imf_status imf_conv_stream_run_part(imf_conv_stream *s, size_t slot, const imf_image *win,
                                    size_t first, imf_image *out, size_t oy0, size_t n,
                                    imf_error *err);
const char *imf_conv_stream_method(const imf_conv_stream *s);

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
/*
 * The same with the limits in lim (NULL: the defaults): every kernel, a
 * size-only one too, is held to lim->max_kernel as imf_kernel_parse_limited
 * does, and every stage's output to the image limits (imf_chain_set_limits).
 */
imf_status imf_chain_parse_limited(const char *text, const imf_limits *lim, imf_chain **out,
                                   imf_error *err);
/* A one-stage chain from a kernel (ownership passes to the chain) and params. */
imf_status imf_chain_from_conv(imf_kernel *k, const imf_conv_params *p, imf_chain **out,
                               imf_error *err);
void imf_chain_free(imf_chain *c);
size_t imf_chain_length(const imf_chain *c);
/* Non-zero when a stage has a size-only kernel ("3x3 out=40"): dry runs only. */
int imf_chain_shape_only(const imf_chain *c);
/* Apply every limit in lim to each stage's output. */
void imf_chain_set_limits(imf_chain *c, const imf_limits *lim);
/* Every conv stage splits its rows across n threads (results do not change). */
void imf_chain_set_threads(imf_chain *c, size_t n);
/* Every conv stage sums with this precision (see imf_precision). */
void imf_chain_set_precision(imf_chain *c, imf_precision p);
/*
 * 1 when c is one convolution with one kernel, made by imf_chain_from_conv
 * (-k), with *k and *p set to it: such a chain can be streamed in bands
 * (imf_conv_stream); 0 otherwise.
 */
int imf_chain_single_conv(const imf_chain *c, const imf_kernel **k, const imf_conv_params **p);

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

/* ---- learning a kernel from an example ---------------------------------- */
/*
 * Given an input X and a target T (say, X after some unknown filter), find
 * the weights w and the bias b of the convolution (imf_conv_run's, with the
 * padding, border, stride, dilation and flip of params.conv) that minimise
 * the mean squared error over the N target values used:
 *
 *   L(w, b) = 1/N sum_(o,r,c) (y_o(r, c) - T_o(r, c))^2
 *   y_o(r, c) = sum_q sum_ij w_q(i, j) X_p(r*S - top + i*D, c*S - left + j*D) + b
 *
 * T must have the output's size.  Planes (alpha is ignored in both):
 *  - T has as many planes as X: one 2-D kernel shared by every plane
 *    (depthwise, as imf_conv_run applies a 2-D kernel), p = o;
 *  - T has one plane and X has C > 1: a C-slice kernel, one output plane,
 *    as a CNN layer (p = q);
 *  - X has one plane and T three (colour): T is compared through its
 *    Rec.601 luma (filtering is linear, so luma(filter(RGB)) is
 *    filter(luma(RGB)) before any clamping).
 * An integer target (8- or 16-bit source) was clamped to 0..255 when it was
 * written, so its values 0 and 255 are left out (IMF_LEARN_MASK_INTEGER, the
 * default; IMF_LEARN_MASK_ALL does the same for raw targets too, such as a
 * PFM that a clamping tool wrote, IMF_LEARN_MASK_NONE never); a pixel of a
 * colour target is left out when any of its channels is 0 or 255.
 *
 * Solvers.  IMF_LEARN_EXACT: L is quadratic in (w, b), so the minimum solves
 * the normal equations (A + ridge * mean(diag A) * I) (w, b) = r, where
 * A = sum phi phi^T and r = sum phi t over the target values used, phi the
 * n input values under the kernel followed by a 1; A is accumulated in one
 * pass and solved by Cholesky (n + 1 unknowns, at most
 * IMF_LEARN_EXACT_MAX_WEIGHTS weights).  IMF_LEARN_GD: full-batch gradient
 * descent from init (zeros when NULL) for epochs epochs, with the gradient
 * of each shared weight computed as in backpropagation, the sum over every
 * position of its per-position terms:
 *
 *   dL/dw_q(i, j) = sum_(o,r,c) dL/dy_o(r, c) * X_p(r*S - top + i*D, c*S - left + j*D),
 *   dL/db = sum_(o,r,c) dL/dy_o(r, c),   dL/dy = 2/N (y - T).
 *
 * gd works on X and T divided by s, the largest |X| (so its values are in
 * -1..1 and one learning rate suits every image): the weights are the same
 * in both units and b = s * b', so a plain step is
 *   w <- w - lr / s^2 * dL/dw,   b <- b - lr * dL/db.
 * The optimizer is plain gd (IMF_LEARN_SGD), heavy-ball momentum
 * (v <- beta v + g, w <- w - lr v) or Adam (beta1 = momentum, beta2 =
 * 0.999, eps = 1e-8, bias-corrected).  A run stops early when every
 * gradient component is below 1e-11 (on the divided data), and fails with
 * IMF_EINVAL when the loss becomes NaN, infinite or grows past 1e12 times
 * its start (a learning rate too large).
 */
typedef enum imf_learn_solver { IMF_LEARN_GD = 0, IMF_LEARN_EXACT } imf_learn_solver;
typedef enum imf_learn_optimizer {
	IMF_LEARN_MOMENTUM = 0, /* the default */
	IMF_LEARN_SGD,
	IMF_LEARN_ADAM
} imf_learn_optimizer;

/* Which target values 0 and 255 are left out as saturated (clipped). */
enum { IMF_LEARN_MASK_NONE = 0, IMF_LEARN_MASK_INTEGER = 1, IMF_LEARN_MASK_ALL = 2 };

/* Most weights the exact solver takes (its matrix is (n+1)^2 doubles). */
#define IMF_LEARN_EXACT_MAX_WEIGHTS 1024

typedef struct imf_learn_params {
	size_t rows, cols;        /* kernel size (H x W): 3 x 3 by default */
	imf_conv_params conv;     /* geometry and limits (conv.bias is not used) */
	imf_learn_solver solver;  /* IMF_LEARN_GD by default */
	imf_learn_optimizer optimizer;
	double lr;                /* gd: 0 = the optimizer's default (imf_learn_default_lr) */
	double momentum;          /* momentum's beta, Adam's beta1, below 1; < 0 (the default):
	                             imf_learn_default_momentum */
	size_t epochs;            /* gd: full passes over the image (default 3000) */
	double ridge;             /* exact: relative ridge, >= 0 (default 1e-9) */
	int mask_saturated;       /* IMF_LEARN_MASK_INTEGER (default), _NONE or _ALL */
	const imf_kernel *init;   /* gd and explain start from it (NULL: all weights 0) */
	double init_bias;
	/* Round the result to this many significant digits of the largest |weight| (and of the
	 * largest |target| for the bias); 0 keeps every digit.  The loss is the rounded kernel's. */
	int digits;
	/* gd: called after every epoch with the loss before its step; non-zero stops the run. */
	int (*progress)(void *user, size_t epoch, size_t epochs, double loss);
	void *progress_user;
} imf_learn_params;

void imf_learn_params_default(imf_learn_params *p);
/*
 * The default learning rate for a kernel of weights weights (on data divided
 * by s, see above): 1/(weights + 1) for sgd and momentum, which is stable on
 * any image (the loss's curvature there is at most 2(weights + 1)), 0.05 for
 * Adam (whose steps are about lr each, whatever the gradient's size).
 */
double imf_learn_default_lr(imf_learn_optimizer opt, size_t weights);
/* The default momentum: 0.99 for heavy ball, 0.9 (beta1) for Adam, 0 for sgd (unused). */
double imf_learn_default_momentum(imf_learn_optimizer opt);
const char *imf_learn_solver_name(imf_learn_solver s);   /* "gd", "exact" */
const char *imf_learn_optimizer_name(imf_learn_optimizer o); /* "sgd", "momentum", "adam" */

typedef struct imf_learn_result {
	imf_kernel *kernel;  /* the weights (rows x cols, one slice per input plane for a
	                        multi-slice kernel), scale 1; free with imf_kernel_free */
	double bias;
	double loss;         /* L at the result, in the image's units */
	double start_loss;   /* gd: L at the start */
	size_t epochs;       /* gd: epochs run (fewer when the gradient vanished) */
	int converged;       /* gd: stopped because the gradient vanished */
	size_t used;         /* N: target values fitted */
	size_t masked;       /* saturated target values left out */
	/*
	 * How much more the loss curves one way than another (the condition
	 * number of the normal equations on the divided data, with the ridge):
	 * the input determines the weights poorly when it is large, as a flat
	 * or ramp-like image does.  NAN past IMF_LEARN_EXACT_MAX_WEIGHTS.
	 */
	double condition;
} imf_learn_result;

/*
 * Fit a kernel to in -> target.  IMF_EINVAL (one line) for parameters out of
 * range, a kernel of 0 rows or columns or larger than the input, a target
 * whose size or planes do not match, NaN or infinite values, a diverging gd
 * run; IMF_EUNSUPPORTED when every target value is saturated.  On success
 * res->kernel is set (the caller frees it); on failure it is NULL.
 */
imf_status imf_learn_run(const imf_image *in, const imf_image *target, const imf_learn_params *p,
                         imf_learn_result *res, imf_error *err);

/*
 * The loss of kernel k (rows x cols x slices as imf_learn_run would learn)
 * with bias on in -> target, and its gradient computed as gd computes it:
 * grad[q * rows * cols + i * cols + j] = dL/dw_q(i, j), *grad_bias = dL/db,
 * in the image's units.  loss, grad and grad_bias may be NULL.
 */
imf_status imf_learn_gradient(const imf_image *in, const imf_image *target,
                              const imf_learn_params *p, const imf_kernel *k, double bias,
                              double *loss, double *grad, double *grad_bias, imf_error *err);

/*
 * --explain: for inputs of at most 8x8, print one gradient step the way a
 * textbook does, from p->init (or zeros): the forward pass, dL/dy at each
 * position, each weight's gradient as the sum of its per-position terms
 * ("dL/dw_11 = dL/dy_11*x_00 + dL/dy_12*x_01 + ... = ..."), the step of
 * p->optimizer with p->lr, and the loss before and after it.
 */
imf_status imf_learn_explain(const imf_image *in, const imf_image *target,
                             const imf_learn_params *p, FILE *fp, imf_error *err);

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

/* PNG row filters (libpng's): one for every row, or ALL = libpng picks per row. */
typedef enum imf_png_filter {
	IMF_PNG_FILTER_NONE = 0,
	IMF_PNG_FILTER_SUB,
	IMF_PNG_FILTER_UP,
	IMF_PNG_FILTER_AVG,
	IMF_PNG_FILTER_PAETH,
	IMF_PNG_FILTER_ALL
} imf_png_filter;

/* A filter by name ("none", "sub", "up", "avg", "paeth", "all"). */
imf_status imf_png_filter_parse(const char *name, imf_png_filter *out, imf_error *err);
const char *imf_png_filter_name(imf_png_filter f);

typedef struct imf_write_opts {
	imf_map_mode map;
	int quality; /* JPEG, 1..100, default 90 */
	int depth;   /* 8 or 16 for PNG and PNM; 0 = follow the source (16 if it was 16) */
	int png_level;            /* zlib level 0..9 (see README, Formats, for the default) */
	imf_png_filter png_filter;
	size_t max_memory; /* what a writer that must hold the whole image may take
	                      (imf_writer_streams 0); as imf_limits.max_memory */
} imf_write_opts;

void imf_write_opts_default(imf_write_opts *opts);

/*
 * Write img to fp as fmt.  Integer formats map values with opts->map; PFM and
 * text write the raw floats.  fp is flushed and checked but not closed.
 */
imf_status imf_write(FILE *fp, const imf_image *img, imf_format fmt, const imf_write_opts *opts,
                     imf_error *err);

/* ---- streaming --------------------------------------------------------- */
/*
 * Readers and writers that move an image a band of rows at a time, so that
 * read -> filter -> write needs memory for a few bands, not for the image.
 * imf_read and imf_write are built from them (one decoder and one encoder
 * per format), so a band-by-band read gives exactly imf_read's planes and
 * a band-by-band write exactly imf_write's bytes, errors included.  A band
 * is an ordinary imf_image of the image's width and channels; rows first ..
 * first + n - 1 of it take part in a call.
 *
 * Some formats cannot stream (imf_reader_streams / imf_writer_streams say
 * so): interlaced PNG and PFM (rows stored bottom-up) are decoded whole at
 * the first imf_reader_read, within limits.max_memory; progressive JPEG is
 * held by libjpeg as coefficients (within its own 512 MiB decoder limit);
 * a text matrix is parsed whole when opened.  Writers hold the image for
 * IMF_MAP_NORMALIZE (the global min/max), PFM (bottom-up) and text with
 * several planes (plane after plane), within opts->max_memory.
 */
typedef struct imf_reader imf_reader;

/* Detects the format, reads the header, applies the limits (same detection,
 * limits and error messages as imf_read). */
imf_status imf_reader_open(FILE *fp, const imf_read_opts *opts, imf_reader **out,
                           imf_error *err);
/* The image's geometry, format and depth: what imf_read_info gives. */
void imf_reader_info(const imf_reader *r, imf_info *info);
/* 1 when rows come from the decoder as they are asked for; 0 when the
 * reader holds the whole image (or libjpeg its coefficients). */
int imf_reader_streams(const imf_reader *r);
/*
 * Decode the next n rows (top to bottom) into rows first .. first+n-1 of
 * every plane of band, which has the image's width, channels and has_alpha
 * and at least first + n rows (else IMF_EINVAL, as is reading past the last
 * row).  Errors as imf_read reports them; after one, every later call
 * returns it again.
 */
imf_status imf_reader_read(imf_reader *r, imf_image *band, size_t first, size_t n,
                           imf_error *err);
void imf_reader_free(imf_reader *r); /* NULL is a no-op; never closes fp */
/*
 * Reading rows at their place, on several threads.  imf_reader_random_access
 * is 1 when the input is a regular file holding a raw raster whose rows can
 * be read at any place and in any order without changing what is found
 * (binary netpbm: bits, maxval 255 or 65535), all of it present.  Then
 * imf_reader_read_at reads image rows y .. y+n-1 into rows first.. of band
 * with pread: any thread may call it, for any rows, in any order, apart from
 * imf_reader_read's order (which it neither uses nor moves), but not while
 * another thread calls imf_reader_read.  Its errors (a file cut short
 * since it was opened, a failed read) are not kept.
 */
int imf_reader_random_access(const imf_reader *r);
imf_status imf_reader_read_at(const imf_reader *r, imf_image *band, size_t first, size_t y,
                              size_t n, imf_error *err);
/*
 * Every row of a reader that has not read any yet, as one new image (the
 * source format and depth set): what imf_read returns, within
 * limits.max_memory and with its messages.
 */
imf_status imf_reader_read_image(imf_reader *r, imf_image **out, imf_error *err);

typedef struct imf_writer imf_writer;

/*
 * Start writing a width x height image of channels planes (has_alpha: the
 * last is alpha) as fmt; src_format/src_depth say what the input was, so
 * depth 0 follows the source as imf_write does.  Arguments are checked as
 * imf_write checks them; the header may be written at once.
 */
imf_status imf_writer_open(FILE *fp, imf_format fmt, size_t width, size_t height, int channels,
                           int has_alpha, imf_format src_format, int src_depth,
                           const imf_write_opts *opts, imf_writer **out, imf_error *err);
/* 1 when rows go out as they are given; 0 when the writer keeps the image until finish. */
int imf_writer_streams(const imf_writer *w);
/*
 * Rows first .. first+n-1 of band (the image's width, channels and
 * has_alpha) are the next n rows of the image.
 */
imf_status imf_writer_write(imf_writer *w, const imf_image *band, size_t first, size_t n,
                            imf_error *err);
/* After exactly height rows: the trailer, then flush and check fp (not closed). */
imf_status imf_writer_finish(imf_writer *w, imf_error *err);
void imf_writer_free(imf_writer *w); /* NULL is a no-op; never closes fp */

/*
 * Encoding on several threads.  imf_writer_block_rows is 0 when the format
 * encodes one row after the other (JPEG, text, and any writer that holds
 * the whole image); otherwise (PNG; PNM, with blocks of 1 row) a band whose
 * image rows start at
 * a multiple of it and hold whole blocks of it (the last may end with the
 * image) can be encoded by imf_writer_encode on any thread, at the same
 * time as other bands (it reads nothing a later call changes), then
 * appended with imf_writer_put in image order.  The file is the same, byte
 * for byte, as imf_writer_write makes from the same rows.
 */
typedef struct imf_encoded imf_encoded;
size_t imf_writer_block_rows(const imf_writer *w);
/* Rows first .. first+n-1 of band are image rows y0 .. y0+n-1. */
imf_status imf_writer_encode(const imf_writer *w, const imf_image *band, size_t first, size_t n,
                             size_t y0, imf_encoded **out, imf_error *err);
/* Appends e (whose rows must come next) and frees it, whatever happens. */
imf_status imf_writer_put(imf_writer *w, imf_encoded *e, imf_error *err);
void imf_encoded_free(imf_encoded *e); /* NULL is a no-op */
/*
 * Writing encoded bands at their place, on several threads.
 * imf_writer_random_access is 1 when every row encodes to the same number of
 * bytes with nothing after the last (PNM), fp is a regular file not opened
 * for appending, and no rows have gone out in order yet.  Then
 * imf_writer_put_at writes e where its rows belong (pwrite), from any
 * thread, in any order, and frees it.  Each row must be put once (a row
 * put again is refused); finish, once every put_at has returned, checks that
 * all were put and moves fp to the end.  Do not mix with imf_writer_write
 * or imf_writer_put.
 */
int imf_writer_random_access(const imf_writer *w);
imf_status imf_writer_put_at(imf_writer *w, imf_encoded *e, imf_error *err);

/*
 * IMF_ELIMIT unless width x height x planes floats fit in max_memory bytes
 * (0: no limit; imf_limits.max_memory): "<what>: image needs 4 GiB as float planes (16384x16384,
 * 4 channels), over the --max-memory limit of 1 GiB (raise it with
 * --max-memory)".  For a stage that must hold a whole image.
 */
imf_status imf_check_memory(size_t width, size_t height, int planes, size_t max_memory,
                            const char *what, imf_error *err);

#ifdef __cplusplus
}
#endif

#endif
