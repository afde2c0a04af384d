/*
 * chain_internal.h - what the three chain modules share, and nothing else.
 *
 *   chain.c         the stage language: parse, free, accessors, run
 *   chain_report.c  the --dry-run table: shapes, parameters, receptive fields
 *   explain.c       --explain: the arithmetic of every output value
 *
 * A parsed chain is a plain array of stages.  Invariants (established by
 * imf_chain_parse and imf_chain_from_conv): at least one stage; every
 * stage's text is non-empty; a conv stage holds either >= 1 kernels or a
 * size-only shape; every whole number is >= 1 where the language requires it.
 */
#ifndef IMF_CHAIN_INTERNAL_H
#define IMF_CHAIN_INTERNAL_H

#include "internal.h"

/* Stage text quoted in messages: longer stages are cut to fit with "...". */
#define IMF_QUOTE_MAX 60

typedef enum imf_stage_kind {
	IMF_STAGE_CONV,
	IMF_STAGE_ACT,
	IMF_STAGE_POOL,
	IMF_STAGE_NORMALIZE
} imf_stage_kind;

typedef struct imf_stage {
	imf_stage_kind kind;
	char *text; /* as written, white space collapsed to single spaces */

	/* conv */
	imf_kernel **kernels;
	size_t nkernels;
	imf_conv_params p;
	int has_bias;      /* bias= given: the bias is a parameter */
	int size_only;     /* "3x3 out=40": shape arithmetic only */
	size_t rows, cols; /* of a size-only kernel */
	size_t out;        /* maps of a size-only kernel */
	int nobias;

	/* activation */
	imf_activation act;
	double slope;

	/* pooling */
	imf_pool_kind pool;
	size_t k, stride, pad;
} imf_stage;

struct imf_chain {
	imf_stage *stages;
	size_t n;
	int single; /* made by imf_chain_from_conv: messages need no stage prefix */
};

/* Planes that hold data: the channels without alpha. */
static inline int imf_chain_planes(const imf_image *img)
{
	return img->channels - (img->has_alpha ? 1 : 0);
}

/*
 * text for a message, in buf: at most IMF_QUOTE_MAX bytes, cut with "..."
 * (never inside a UTF-8 character).
 */
void imf_chain_quote(const char *text, char *buf, size_t len);

/* Set err to "stage N 'text': message" (text quoted) and return code. */
imf_status imf_chain_stage_error(imf_error *err, size_t n, const char *text, imf_status code,
                                 const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 5, 6)))
#endif
	;

/*
 * A number as the shortest decimal that reads back as the same value: a
 * float (image values) needs at most 9 significant digits, a double
 * (weights, bias, slope) at most 17.  Below 1e16 no exponent: "114", not
 * "1.14e+02".
 */
typedef struct imf_numstr {
	char s[40];
} imf_numstr;

imf_numstr imf_chain_num(double v, int is_float);

/* Stage s from in to a new *out, messages without the stage prefix. */
imf_status imf_chain_run_stage(const imf_stage *s, const imf_image *in, imf_image **out,
                               imf_error *err);

/* IMF_EINVAL naming the first size-only stage, if any: such a chain cannot run. */
imf_status imf_chain_check_runnable(const imf_chain *c, imf_error *err);

#endif
