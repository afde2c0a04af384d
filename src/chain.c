/*
 * chain.c - the stage language: parse a chain of CNN-style stages, run it,
 * report its shapes (--dry-run) and explain its arithmetic (--explain).
 *
 * A chain is one string, stages separated by '|' (always a separator: an
 * inline matrix separates its rows with ';'):
 *
 *   conv KERNEL[,KERNEL...] [pad=P|same|valid|full] [stride=S] [dilation=D]
 *        [border=B] [bias=B] [flip]
 *   conv HxW out=N [nobias] [pad=..] [stride=..] [dilation=..]   (--dry-run only)
 *   relu | leaky-relu[=SLOPE] | sigmoid | tanh | abs
 *   maxpool K | minpool K | avgpool K   [stride=S] [pad=P]   (stride defaults to K)
 *   normalize
 *
 * Words are separated by white space, except inside [...], so an inline
 * matrix may be written "[0 -1 0; -1 5 -1; 0 -1 0]" or "1/16 * [1 2 1; ...]".
 * KERNEL is whatever imf_kernel_parse takes (a built-in, a file, an inline
 * matrix); commas outside brackets separate kernels, commas inside belong to
 * the matrix.  "same", "valid" and "full" may be written bare or as pad=.
 * A size-only kernel HxW is H rows by W columns, the order of PyTorch's
 * kernel_size=(kh, kw); everything imfilter prints (shapes, receptive fields,
 * kernel sizes in messages) is width x height, like image sizes.
 *
 * What a stage computes is defined by the module that runs it (conv.c,
 * stages.c, maps.c); this module only strings them together:
 *   conv   one imf_conv_run per kernel, the maps gathered in kernel order
 *          with imf_image_concat; a 2-D kernel on C planes gives C maps
 *          (depthwise), a 3-D kernel of depth C gives one.  A stage with one
 *          2-D kernel keeps the input's alpha (a colour image stays one);
 *          several kernels give feature maps without alpha.
 *   relu.. imf_activate on a copy; maxpool.. imf_pool; normalize imf_normalize.
 *
 * Shape arithmetic (the --dry-run report), per axis:
 *   conv  E = D(F-1)+1, padding from imf_conv_padding(E),
 *         out = floor((M + before + after - E) / S) + 1
 *   pool  out = floor((M + 2P - K) / S) + 1          (needs P < K <= M + 2P)
 *   receptive field r and jump j, starting from r = j = 1:
 *         r' = r + (E - 1) j,  j' = j S          (a pool has E = K)
 *   learnable parameters: size-only (kh kw Cin + 1) Cout, or kh kw Cin Cout
 *   with nobias; a real kernel kh kw depth per matrix (a magnitude kernel
 *   counts its parts), + 1 when bias= was given.
 *
 * Messages quote the stage by number and text, white space collapsed and
 * long stages shortened: "stage 2 'maxpool 0': pool size must be at least 1".
 * Invariants of a parsed chain: at least one stage; every stage's text is
 * non-empty; a conv stage holds either >= 1 kernels or a size-only shape;
 * every whole number is >= 1 where the language requires it.
 */
#include "internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Stage text quoted in messages: longer stages are cut to fit with "...". */
#define QUOTE_MAX 60
/* Values quoted from a bad word ("bad stride '...'"). */
#define WORD_MAX 40
/* --explain: inputs of at most this many pixels per side. */
#define EXPLAIN_MAX_SIDE 16

typedef enum stage_kind { STAGE_CONV, STAGE_ACT, STAGE_POOL, STAGE_NORMALIZE } stage_kind;

typedef struct stage {
	stage_kind kind;
	char *text; /* as written, white space collapsed to single spaces */

	/* conv */
	imf_kernel **kernels;
	size_t nkernels;
	imf_conv_params p;
	int has_bias;     /* bias= given: the bias is a parameter */
	int size_only;    /* "3x3 out=40": shape arithmetic only */
	size_t rows, cols; /* of a size-only kernel */
	size_t out;       /* maps of a size-only kernel */
	int nobias;

	/* activation */
	imf_activation act;
	double slope;

	/* pooling */
	imf_pool_kind pool;
	size_t k, stride, pad;
} stage;

struct imf_chain {
	stage *stages;
	size_t n;
	int single; /* made by imf_chain_from_conv: messages need no stage prefix */
};

typedef struct numstr {
	char s[40];
} numstr;

static numstr dnum(double v);

/* ---- text helpers ---------------------------------------------------------- */

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static char *dup_range(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* [s, e) trimmed, every run of white space made one space. */
static char *collapse_space(const char *s, const char *e)
{
	char *d = malloc((size_t)(e - s) + 1), *p = d;
	int gap = 0;

	if (!d)
		return NULL;
	for (; s < e; s++) {
		if (is_space(*s)) {
			gap = p != d;
			continue;
		}
		if (gap)
			*p++ = ' ';
		gap = 0;
		*p++ = *s;
	}
	*p = '\0';
	return d;
}

/* text for a message: at most QUOTE_MAX bytes, cut with "..." (never inside a UTF-8 character). */
static void quote_text(const char *text, char *buf, size_t len)
{
	size_t n = strlen(text);
	if (n <= QUOTE_MAX) {
		snprintf(buf, len, "%s", text);
		return;
	}
	n = QUOTE_MAX - 3;
	while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
		n--;
	snprintf(buf, len, "%.*s...", (int)n, text);
}

/* "stage N 'text': message" */
#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
static imf_status stage_error(imf_error *err, size_t n, const char *text, imf_status code,
                              const char *fmt, ...)
{
	char msg[sizeof err->msg], q[QUOTE_MAX + 8];
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof msg, fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	quote_text(text, q, sizeof q);
	return imf_error_set(err, code, "stage %zu '%s': %s", n, q, msg);
}

/* ---- numbers ------------------------------------------------------------------ */

typedef enum whole_result { WHOLE_OK, WHOLE_BAD, WHOLE_BIG } whole_result;

/* A whole number: decimal digits only (no sign, no space, no suffix), at most SIZE_MAX. */
static whole_result parse_whole(const char *s, size_t *out)
{
	size_t v = 0;

	if (!*s)
		return WHOLE_BAD;
	for (const char *p = s; *p; p++)
		if (*p < '0' || *p > '9')
			return WHOLE_BAD;
	for (; *s; s++) {
		size_t d = (size_t)(*s - '0');
		if (v > (SIZE_MAX - d) / 10)
			return WHOLE_BIG;
		v = v * 10 + d;
	}
	*out = v;
	return WHOLE_OK;
}

/* A finite decimal number ("0.2", "-1.5e-3"); no hex, inf or nan. */
static int parse_real(const char *s, double *out)
{
	char *end;
	double v;

	if (!*s || strspn(s, "0123456789+-.eE") != strlen(s))
		return 0;
	v = strtod(s, &end);
	if (*end != '\0' || !isfinite(v))
		return 0;
	*out = v;
	return 1;
}

/* ---- words -------------------------------------------------------------------- */

/* The words of one stage: split at white space outside brackets. */
typedef struct words {
	char **w;
	size_t n;
} words;

static void words_free(words *ws)
{
	for (size_t i = 0; i < ws->n; i++)
		free(ws->w[i]);
	free(ws->w);
	ws->w = NULL;
	ws->n = 0;
}

/*
 * Split [s, e) into words.  Brackets must balance and not nest (a matrix is
 * one level of [ ]); the message is left in msg for the caller to prefix.
 */
static imf_status split_words(const char *s, const char *e, words *ws, char *msg, size_t len)
{
	size_t cap = 0;
	int depth = 0;

	ws->w = NULL;
	ws->n = 0;
	for (const char *p = s; p < e; p++) {
		if (*p == '[' && depth++ > 0) {
			snprintf(msg, len, "nested '[' (a matrix is one [ ] with ';' between rows)");
			return IMF_EINVAL;
		}
		if (*p == ']' && --depth < 0) {
			snprintf(msg, len, "unbalanced ']'");
			return IMF_EINVAL;
		}
	}
	if (depth > 0) {
		snprintf(msg, len, "unbalanced '['");
		return IMF_EINVAL;
	}
	while (s < e) {
		const char *t;
		while (s < e && is_space(*s))
			s++;
		if (s == e)
			break;
		t = s;
		for (depth = 0; s < e && (depth > 0 || !is_space(*s)); s++)
			depth += *s == '[' ? 1 : *s == ']' ? -1 : 0;
		if (ws->n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			char **nw = realloc(ws->w, nc * sizeof *nw);
			if (!nw)
				goto nomem;
			ws->w = nw;
			cap = nc;
		}
		if (!(ws->w[ws->n] = dup_range(t, (size_t)(s - t))))
			goto nomem;
		ws->n++;
	}
	return IMF_OK;

nomem:
	words_free(ws);
	snprintf(msg, len, "out of memory");
	return IMF_ENOMEM;
}

/* ---- parsing a stage -------------------------------------------------------------- */

static const char *const stage_names =
	"conv, relu, leaky-relu, sigmoid, tanh, abs, maxpool, minpool, avgpool, normalize";

/* Options a conv stage takes, so that "conv stride=2" is a missing kernel, not a file. */
static int is_conv_option(const char *w)
{
	static const char *const keys[] = {"pad=", "stride=", "dilation=", "border=", "bias=",
	                                   "out="};
	static const char *const flags[] = {"flip", "nobias", "same", "valid", "full"};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (strncmp(w, keys[i], strlen(keys[i])) == 0)
			return 1;
	for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
		if (strcmp(w, flags[i]) == 0)
			return 1;
	return 0;
}

/* Parse context: the stage being filled and where its message goes. */
typedef struct pctx {
	stage *s;
	size_t num; /* 1-based stage number */
	imf_error *err;
	unsigned seen; /* options given so far (OPT_*) */
} pctx;

enum {
	OPT_PAD = 1u << 0,
	OPT_STRIDE = 1u << 1,
	OPT_DILATION = 1u << 2,
	OPT_BORDER = 1u << 3,
	OPT_BIAS = 1u << 4,
	OPT_FLIP = 1u << 5,
	OPT_OUT = 1u << 6,
	OPT_NOBIAS = 1u << 7
};

#define FAIL(ctx, ...) stage_error((ctx)->err, (ctx)->num, (ctx)->s->text, IMF_EINVAL, __VA_ARGS__)

static imf_status once(pctx *ctx, unsigned opt, const char *name)
{
	if (ctx->seen & opt)
		return FAIL(ctx, "option '%s' given twice", name);
	ctx->seen |= opt;
	return IMF_OK;
}

/* A whole number >= 1 for the option called name. */
static imf_status positive(pctx *ctx, const char *name, const char *v, size_t *out)
{
	switch (parse_whole(v, out)) {
	case WHOLE_OK:
		break;
	case WHOLE_BAD:
		return FAIL(ctx, "bad %s '%.*s' (a whole number)", name, WORD_MAX, v);
	case WHOLE_BIG:
		return FAIL(ctx, "%s '%.*s' is too large", name, WORD_MAX, v);
	}
	if (*out == 0)
		return FAIL(ctx, "%s must be at least 1", name);
	return IMF_OK;
}

/* pad=VALUE of a pool (whole numbers only) or a conv (also same, valid, full). */
static imf_status parse_pad(pctx *ctx, const char *v, int conv, imf_pad_mode *mode, size_t *pad)
{
	static const struct {
		const char *name;
		imf_pad_mode mode;
	} modes[] = {{"same", IMF_PAD_SAME}, {"valid", IMF_PAD_VALID}, {"full", IMF_PAD_FULL}};
	imf_status st = once(ctx, OPT_PAD, "pad");

	if (st != IMF_OK)
		return st;
	for (size_t i = 0; conv && i < sizeof modes / sizeof modes[0]; i++) {
		if (strcmp(v, modes[i].name) == 0) {
			*mode = modes[i].mode;
			return IMF_OK;
		}
	}
	switch (parse_whole(v, pad)) {
	case WHOLE_OK:
		if (mode)
			*mode = IMF_PAD_EXPLICIT;
		return IMF_OK;
	case WHOLE_BIG:
		return FAIL(ctx, "padding '%.*s' is too large", WORD_MAX, v);
	case WHOLE_BAD:
		break;
	}
	return FAIL(ctx, "bad padding '%.*s' (%s)", WORD_MAX, v,
	            conv ? "same, valid, full or a whole number" : "a whole number");
}

/*
 * w as a size-only kernel "HxW" (H rows, W columns, as PyTorch's
 * kernel_size=(kh, kw)): *is_size says whether w has that shape at all.
 */
static imf_status parse_size_only(pctx *ctx, const char *w, int *is_size)
{
	const char *x = strchr(w, 'x');
	char *a;
	size_t r, c;
	whole_result ra, rc;

	*is_size = 0;
	if (!x || x == w || !x[1])
		return IMF_OK;
	if (!(a = dup_range(w, (size_t)(x - w))))
		return stage_error(ctx->err, ctx->num, ctx->s->text, IMF_ENOMEM, "out of memory");
	ra = parse_whole(a, &r);
	free(a);
	rc = parse_whole(x + 1, &c);
	if (ra == WHOLE_BAD || rc == WHOLE_BAD)
		return IMF_OK; /* not a size: a kernel name such as "box3x3" */
	*is_size = 1;
	if (ra == WHOLE_BIG || rc == WHOLE_BIG)
		return FAIL(ctx, "kernel size '%.*s' is too large", WORD_MAX, w);
	if (r == 0 || c == 0)
		return FAIL(ctx, "kernel size %s must be at least 1x1", w);
	ctx->s->size_only = 1;
	ctx->s->rows = r;
	ctx->s->cols = c;
	return IMF_OK;
}

/*
 * The kernel list starting at word *i: words are joined while a ',' or '*'
 * ends one or starts the next ("sobel-x, sobel-y", "1/16 * [1 2 1; ...]").
 */
static char *kernel_list(const words *ws, size_t *i)
{
	size_t len = 0, j;
	char *list;

	for (j = *i; j < ws->n; j++) {
		len += strlen(ws->w[j]) + 1;
		if (j + 1 >= ws->n)
			break;
		const char *cur = ws->w[j], *next = ws->w[j + 1];
		char last = cur[strlen(cur) - 1];
		if ((last != ',' && last != '*' && next[0] != ',' && next[0] != '*') ||
		    is_conv_option(next))
			break;
	}
	if (!(list = malloc(len + 1)))
		return NULL;
	list[0] = '\0';
	for (size_t t = *i; t <= j; t++) {
		if (t > *i)
			strcat(list, " ");
		strcat(list, ws->w[t]);
	}
	*i = j + 1;
	return list;
}

/* Load each comma-separated kernel of list (commas inside [ ] belong to a matrix). */
static imf_status load_kernels(pctx *ctx, const char *list)
{
	stage *s = ctx->s;
	size_t count = 1;
	int depth = 0;
	imf_status st = IMF_OK;
	char *piece = NULL;

	for (const char *p = list; *p; p++) {
		depth += *p == '[' ? 1 : *p == ']' ? -1 : 0;
		count += *p == ',' && depth == 0;
	}
	if (!(s->kernels = calloc(count, sizeof *s->kernels)))
		return stage_error(ctx->err, ctx->num, s->text, IMF_ENOMEM, "out of memory");

	const char *start = list;
	depth = 0;
	for (const char *p = list;; p++) {
		if (*p && !(*p == ',' && depth == 0)) {
			depth += *p == '[' ? 1 : *p == ']' ? -1 : 0;
			continue;
		}
		const char *a = start, *b = p;
		while (a < b && is_space(*a))
			a++;
		while (b > a && is_space(b[-1]))
			b--;
		if (a == b) {
			st = FAIL(ctx, "empty kernel in the list '%.*s'", WORD_MAX, list);
			goto cleanup;
		}
		if (!(piece = dup_range(a, (size_t)(b - a)))) {
			st = stage_error(ctx->err, ctx->num, s->text, IMF_ENOMEM, "out of memory");
			goto cleanup;
		}
		int so;
		if ((st = parse_size_only(ctx, piece, &so)) != IMF_OK)
			goto cleanup;
		if (so && count > 1) {
			st = FAIL(ctx, "a size-only kernel (%s) cannot be mixed with other kernels",
			          piece);
			goto cleanup;
		}
		if (!so) {
			imf_error kerr = {0};
			st = imf_kernel_parse(piece, &s->kernels[s->nkernels], &kerr);
			if (st != IMF_OK) {
				stage_error(ctx->err, ctx->num, s->text, st, "%s", kerr.msg);
				goto cleanup;
			}
			s->nkernels++;
		}
		free(piece);
		piece = NULL;
		if (!*p)
			break;
		start = p + 1;
	}

cleanup:
	free(piece);
	return st;
}

static imf_status parse_conv(pctx *ctx, const words *ws)
{
	stage *s = ctx->s;
	size_t i = 1;
	char *list = NULL;
	imf_status st = IMF_OK;

	s->kind = STAGE_CONV;
	imf_conv_params_default(&s->p);
	if (ws->n < 2 || is_conv_option(ws->w[1]))
		return FAIL(ctx, "missing kernel");
	if (!(list = kernel_list(ws, &i)))
		return stage_error(ctx->err, ctx->num, s->text, IMF_ENOMEM, "out of memory");

	for (; i < ws->n; i++) {
		const char *w = ws->w[i], *eq = strchr(w, '='), *v = eq ? eq + 1 : NULL;
		size_t klen = eq ? (size_t)(eq - w) : strlen(w);

		if (strcmp(w, "flip") == 0) {
			st = once(ctx, OPT_FLIP, "flip");
			s->p.flip = 1;
		} else if (strcmp(w, "nobias") == 0) {
			st = once(ctx, OPT_NOBIAS, "nobias");
			s->nobias = 1;
		} else if (strcmp(w, "same") == 0 || strcmp(w, "valid") == 0 ||
		           strcmp(w, "full") == 0) {
			st = parse_pad(ctx, w, 1, &s->p.pad_mode, &s->p.pad);
		} else if (eq && klen == 3 && strncmp(w, "pad", 3) == 0) {
			st = parse_pad(ctx, v, 1, &s->p.pad_mode, &s->p.pad);
		} else if (eq && klen == 6 && strncmp(w, "stride", 6) == 0) {
			if ((st = once(ctx, OPT_STRIDE, "stride")) == IMF_OK)
				st = positive(ctx, "stride", v, &s->p.stride);
		} else if (eq && klen == 8 && strncmp(w, "dilation", 8) == 0) {
			if ((st = once(ctx, OPT_DILATION, "dilation")) == IMF_OK)
				st = positive(ctx, "dilation", v, &s->p.dilation);
		} else if (eq && klen == 3 && strncmp(w, "out", 3) == 0) {
			if ((st = once(ctx, OPT_OUT, "out")) == IMF_OK)
				st = positive(ctx, "out", v, &s->out);
		} else if (eq && klen == 6 && strncmp(w, "border", 6) == 0) {
			imf_error berr = {0};
			if ((st = once(ctx, OPT_BORDER, "border")) == IMF_OK &&
			    imf_border_parse(v, &s->p.border, &berr) != IMF_OK)
				st = FAIL(ctx, "%s", berr.msg);
		} else if (eq && klen == 4 && strncmp(w, "bias", 4) == 0) {
			if ((st = once(ctx, OPT_BIAS, "bias")) == IMF_OK && !parse_real(v, &s->p.bias))
				st = FAIL(ctx, "bad bias '%.*s' (a number)", WORD_MAX, v);
			s->has_bias = 1;
		} else {
			st = FAIL(ctx, "unknown option '%.*s'", WORD_MAX, w);
		}
		if (st != IMF_OK)
			goto cleanup;
	}

	/* The kernels last: option errors are cheaper to find than a file. */
	if ((st = load_kernels(ctx, list)) != IMF_OK)
		goto cleanup;
	if (s->size_only && !(ctx->seen & OPT_OUT))
		st = FAIL(ctx, "a size-only kernel needs out=N, the number of maps (conv %zux%zu out=16)",
		          s->rows, s->cols);
	else if (!s->size_only && (ctx->seen & OPT_OUT))
		st = FAIL(ctx, "out=N goes with a size-only kernel such as 3x3 (real kernels give one "
		               "map each)");
	else if (!s->size_only && s->nobias)
		st = FAIL(ctx, "nobias goes with a size-only kernel such as 3x3 (a real kernel has a "
		               "bias only when bias= is given)");
	else if (s->size_only && s->has_bias)
		st = FAIL(ctx, "bias= needs a real kernel (a size-only kernel's bias is learned; nobias "
		               "drops it)");

cleanup:
	free(list);
	return st;
}

static imf_status parse_pool(pctx *ctx, const words *ws, imf_pool_kind kind)
{
	stage *s = ctx->s;
	imf_status st;
	int stride_given = 0;

	s->kind = STAGE_POOL;
	s->pool = kind;
	if (ws->n < 2 || strchr(ws->w[1], '='))
		return FAIL(ctx, "missing pool size (%s K)", ws->w[0]);
	if ((st = positive(ctx, "pool size", ws->w[1], &s->k)) != IMF_OK)
		return st;
	for (size_t i = 2; i < ws->n; i++) {
		const char *w = ws->w[i];
		if (strncmp(w, "stride=", 7) == 0) {
			if ((st = once(ctx, OPT_STRIDE, "stride")) != IMF_OK ||
			    (st = positive(ctx, "stride", w + 7, &s->stride)) != IMF_OK)
				return st;
			stride_given = 1;
		} else if (strncmp(w, "pad=", 4) == 0) {
			if ((st = parse_pad(ctx, w + 4, 0, NULL, &s->pad)) != IMF_OK)
				return st;
		} else {
			return FAIL(ctx, "unknown option '%.*s'", WORD_MAX, w);
		}
	}
	if (!stride_given)
		s->stride = s->k;
	return IMF_OK;
}

/* The stage in [b, e) (its text already in ctx->s->text). */
static imf_status parse_stage(pctx *ctx, const char *b, const char *e)
{
	static const struct {
		const char *name;
		imf_activation act;
	} acts[] = {{"relu", IMF_ACT_RELU},       {"leaky-relu", IMF_ACT_LEAKY_RELU},
	            {"sigmoid", IMF_ACT_SIGMOID}, {"tanh", IMF_ACT_TANH},
	            {"abs", IMF_ACT_ABS}};
	static const struct {
		const char *name;
		imf_pool_kind kind;
	} pools[] = {{"maxpool", IMF_POOL_MAX}, {"minpool", IMF_POOL_MIN}, {"avgpool", IMF_POOL_AVG}};
	stage *s = ctx->s;
	words ws;
	char msg[128];
	imf_status st;
	const char *name;

	if ((st = split_words(b, e, &ws, msg, sizeof msg)) != IMF_OK)
		return stage_error(ctx->err, ctx->num, s->text, st, "%s", msg);
	name = ws.w[0];

	if (strcmp(name, "conv") == 0) {
		st = parse_conv(ctx, &ws);
		goto done;
	}
	for (size_t i = 0; i < sizeof pools / sizeof pools[0]; i++) {
		if (strcmp(name, pools[i].name) == 0) {
			st = parse_pool(ctx, &ws, pools[i].kind);
			goto done;
		}
	}
	if (strcmp(name, "normalize") == 0) {
		s->kind = STAGE_NORMALIZE;
	} else {
		const char *eq = strchr(name, '=');
		size_t n = eq ? (size_t)(eq - name) : strlen(name);
		size_t i;
		for (i = 0; i < sizeof acts / sizeof acts[0]; i++)
			if (strlen(acts[i].name) == n && strncmp(name, acts[i].name, n) == 0)
				break;
		if (i == sizeof acts / sizeof acts[0]) {
			st = FAIL(ctx, "unknown stage (%s)", stage_names);
			goto done;
		}
		s->kind = STAGE_ACT;
		s->act = acts[i].act;
		s->slope = 0.01;
		if (eq && s->act != IMF_ACT_LEAKY_RELU) {
			st = FAIL(ctx, "%s takes no value", acts[i].name);
			goto done;
		}
		if (eq && !parse_real(eq + 1, &s->slope)) {
			st = FAIL(ctx, "bad slope '%.*s' (a number, as in leaky-relu=0.2)", WORD_MAX,
			          eq + 1);
			goto done;
		}
	}
	/* Activations and normalize take no options. */
	if (ws.n > 1)
		st = FAIL(ctx, "unknown option '%.*s'", WORD_MAX, ws.w[1]);

done:
	words_free(&ws);
	return st;
}

/* ---- the chain object ------------------------------------------------------------- */

static void stage_clear(stage *s)
{
	for (size_t i = 0; i < s->nkernels; i++)
		imf_kernel_free(s->kernels[i]);
	free(s->kernels);
	free(s->text);
}

void imf_chain_free(imf_chain *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		stage_clear(&c->stages[i]);
	free(c->stages);
	free(c);
}

size_t imf_chain_length(const imf_chain *c)
{
	return c ? c->n : 0;
}

int imf_chain_shape_only(const imf_chain *c)
{
	for (size_t i = 0; c && i < c->n; i++)
		if (c->stages[i].kind == STAGE_CONV && c->stages[i].size_only)
			return 1;
	return 0;
}

void imf_chain_set_limits(imf_chain *c, const imf_limits *lim)
{
	/* Only a convolution can grow an image (padding); pools and activations cannot. */
	for (size_t i = 0; c && lim && i < c->n; i++)
		if (c->stages[i].kind == STAGE_CONV)
			c->stages[i].p.limits = *lim;
}

/* Why stage n (1-based) of count, found empty, is empty. */
static const char *empty_hint(size_t n, size_t count)
{
	if (n == count)
		return "text after the last '|'?";
	if (n == 1)
		return "a '|' before the first stage?";
	return "two '|' in a row?";
}

imf_status imf_chain_parse(const char *text, imf_chain **out, imf_error *err)
{
	imf_chain *c = NULL;
	size_t count = 1, n = 0;
	const char *p, *start;
	imf_status st = IMF_OK;

	if (!out)
		return imf_error_set(err, IMF_EINVAL, "chain: no output given");
	*out = NULL;
	if (!text)
		text = "";
	for (p = text; *p; p++)
		count += *p == '|';
	for (p = text; *p && is_space(*p); p++)
		;
	if (!*p && count == 1)
		return imf_error_set(err, IMF_EINVAL, "empty chain (give stages such as 'conv sobel-x "
		                                      "| relu')");

	if (!(c = calloc(1, sizeof *c)) || !(c->stages = calloc(count, sizeof *c->stages))) {
		st = imf_error_set(err, IMF_ENOMEM, "out of memory");
		goto cleanup;
	}
	for (start = text;; start = p + 1) {
		stage *s = &c->stages[n];
		pctx ctx = {s, n + 1, err, 0};

		for (p = start; *p && *p != '|'; p++)
			;
		if (!(s->text = collapse_space(start, p))) {
			st = imf_error_set(err, IMF_ENOMEM, "out of memory");
			goto cleanup;
		}
		c->n = ++n;
		if (!s->text[0]) {
			st = stage_error(err, n, "", IMF_EINVAL, "empty stage (%s)", empty_hint(n, count));
			goto cleanup;
		}
		if ((st = parse_stage(&ctx, start, p)) != IMF_OK)
			goto cleanup;
		if (!*p)
			break;
	}
	*out = c;
	c = NULL;

cleanup:
	imf_chain_free(c);
	return st;
}

imf_status imf_chain_from_conv(imf_kernel *k, const imf_conv_params *p, imf_chain **out,
                               imf_error *err)
{
	imf_chain *c = NULL;
	stage *s;
	char text[256], num[64];
	size_t len;

	if (!out) {
		imf_kernel_free(k);
		return imf_error_set(err, IMF_EINVAL, "chain: no output given");
	}
	*out = NULL;
	if (!k || !p) {
		imf_kernel_free(k);
		return imf_error_set(err, IMF_EINVAL, "chain: missing kernel or parameters");
	}
	if (!(c = calloc(1, sizeof *c)) || !(c->stages = calloc(1, sizeof *c->stages)) ||
	    !(c->stages[0].kernels = calloc(1, sizeof *c->stages[0].kernels))) {
		imf_kernel_free(k);
		imf_chain_free(c);
		return imf_error_set(err, IMF_ENOMEM, "out of memory");
	}
	c->n = 1;
	s = &c->stages[0];
	s->kind = STAGE_CONV;
	s->kernels[0] = k;
	s->nkernels = 1;
	s->p = *p;
	s->has_bias = p->bias != 0;

	/* The stage as the language would write it, for messages and reports. */
	snprintf(text, sizeof text, "conv %s", imf_kernel_name(k)[0] ? imf_kernel_name(k) : "kernel");
	switch (p->pad_mode) {
	case IMF_PAD_SAME:
		num[0] = '\0';
		break;
	case IMF_PAD_VALID:
		snprintf(num, sizeof num, " pad=valid");
		break;
	case IMF_PAD_FULL:
		snprintf(num, sizeof num, " pad=full");
		break;
	case IMF_PAD_EXPLICIT:
	default:
		snprintf(num, sizeof num, " pad=%zu", p->pad);
		break;
	}
	len = strlen(text);
	snprintf(text + len, sizeof text - len, "%s", num);
	len = strlen(text);
	if (p->stride != 1)
		snprintf(text + len, sizeof text - len, " stride=%zu", p->stride);
	len = strlen(text);
	if (p->dilation != 1)
		snprintf(text + len, sizeof text - len, " dilation=%zu", p->dilation);
	len = strlen(text);
	if (p->border != IMF_BORDER_ZERO)
		snprintf(text + len, sizeof text - len, " border=%s", imf_border_name(p->border));
	len = strlen(text);
	if (p->bias != 0)
		snprintf(text + len, sizeof text - len, " bias=%s", dnum(p->bias).s);
	len = strlen(text);
	if (p->flip)
		snprintf(text + len, sizeof text - len, " flip");
	if (!(s->text = collapse_space(text, text + strlen(text)))) {
		imf_chain_free(c);
		return imf_error_set(err, IMF_ENOMEM, "out of memory");
	}
	c->single = 1;
	*out = c;
	return IMF_OK;
}

/* ---- running ----------------------------------------------------------------------- */

static int map_planes(const imf_image *img)
{
	return img->channels - (img->has_alpha ? 1 : 0);
}

/* A deep copy (source and maps flag included). */
static imf_status image_copy(const imf_image *in, imf_image **out, imf_error *err)
{
	imf_status st = imf_image_new(in->width, in->height, in->channels, in->has_alpha, NULL, out,
	                              err);
	if (st != IMF_OK)
		return st;
	imf_image_set_source(*out, in->src_format, in->src_depth);
	imf_image_set_maps(*out, imf_image_is_maps(in));
	for (int c = 0; c < in->channels; c++)
		for (size_t y = 0; y < in->height; y++)
			memcpy(imf_image_row(*out, c, y), imf_image_row_const(in, c, y),
			       in->width * sizeof(float));
	return IMF_OK;
}

/* One conv stage: each kernel's maps, gathered in kernel order. */
static imf_status run_conv(const stage *s, const imf_image *in, imf_image **out, imf_error *err)
{
	imf_image *acc = NULL, *one = NULL, *joined = NULL;
	imf_status st = IMF_OK;

	for (size_t i = 0; i < s->nkernels; i++) {
		if ((st = imf_conv_run(in, s->kernels[i], &s->p, &one, err)) != IMF_OK)
			goto cleanup;
		if (!acc) {
			acc = one;
			one = NULL;
			continue;
		}
		if ((st = imf_image_concat(acc, one, &joined, err)) != IMF_OK)
			goto cleanup;
		imf_image_free(acc);
		imf_image_free(one);
		acc = joined;
		one = joined = NULL;
	}
	/* Several planes stay what they were (colour or maps), unless several kernels made them. */
	imf_image_set_maps(acc, map_planes(acc) > 1 && (s->nkernels > 1 || imf_image_is_maps(in)));
	*out = acc;
	acc = NULL;

cleanup:
	imf_image_free(acc);
	imf_image_free(one);
	return st;
}

/* One stage from in to a new *out; messages without the stage prefix. */
static imf_status run_stage(const stage *s, const imf_image *in, imf_image **out, imf_error *err)
{
	imf_status st;

	*out = NULL;
	switch (s->kind) {
	case STAGE_CONV:
		return run_conv(s, in, out, err);
	case STAGE_ACT:
		if ((st = image_copy(in, out, err)) == IMF_OK)
			imf_activate(*out, s->act, s->slope);
		return st;
	case STAGE_POOL:
		if ((st = imf_pool(in, s->pool, s->k, s->stride, s->pad, out, err)) == IMF_OK)
			imf_image_set_maps(*out, imf_image_is_maps(in));
		return st;
	case STAGE_NORMALIZE:
		if ((st = image_copy(in, out, err)) == IMF_OK)
			imf_normalize(*out);
		return st;
	}
	return imf_error_set(err, IMF_EINVAL, "unknown stage kind %d", (int)s->kind);
}

/* IMF_EINVAL naming the first size-only stage, if any. */
static imf_status check_runnable(const imf_chain *c, imf_error *err)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->stages[i].kind == STAGE_CONV && c->stages[i].size_only)
			return stage_error(err, i + 1, c->stages[i].text, IMF_EINVAL,
			                   "a size-only kernel needs --dry-run");
	return IMF_OK;
}

/*
 * Run stage i on *cur, replacing it by the stage's output (freeing it when
 * owned); the message prefixed with the stage.
 */
static imf_status step(const imf_chain *c, size_t i, const imf_image **cur, imf_image **owned,
                       imf_error *err)
{
	imf_error sub = {0};
	imf_image *next = NULL;
	imf_status st = run_stage(&c->stages[i], *cur, &next, &sub);

	if (st != IMF_OK && c->single)
		return imf_error_set(err, st, "%s", sub.msg); /* -k: no stage to name */
	if (st != IMF_OK)
		return stage_error(err, i + 1, c->stages[i].text, st, "%s", sub.msg);
	imf_image_free(*owned);
	*owned = next;
	*cur = next;
	return IMF_OK;
}

imf_status imf_chain_run(const imf_chain *c, const imf_image *in, imf_image **out,
                         imf_error *err)
{
	const imf_image *cur = in;
	imf_image *owned = NULL;
	imf_status st;

	if (!out)
		return imf_error_set(err, IMF_EINVAL, "chain: no output given");
	*out = NULL;
	if (!c || !in)
		return imf_error_set(err, IMF_EINVAL, "chain: missing chain or image");
	if ((st = check_runnable(c, err)) != IMF_OK)
		return st;
	for (size_t i = 0; i < c->n; i++) {
		if ((st = step(c, i, &cur, &owned, err)) != IMF_OK) {
			imf_image_free(owned);
			return st;
		}
	}
	*out = owned;
	return IMF_OK;
}

/* ---- the --dry-run report ------------------------------------------------------------ */

/* 10860 -> "10,860" */
static void thousands(size_t v, char *buf, size_t len)
{
	char digits[32], *p = buf;
	size_t n = (size_t)snprintf(digits, sizeof digits, "%zu", v);

	if (len < n + n / 3 + 1) {
		snprintf(buf, len, "%s", digits);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			*p++ = ',';
		*p++ = digits[i];
	}
	*p = '\0';
}

/* "3" for a square extent, else "WxH". */
static void axes(size_t w, size_t h, char *buf, size_t len)
{
	if (w == h)
		snprintf(buf, len, "%zu", w);
	else
		snprintf(buf, len, "%zux%zu", w, h);
}

/* What the report knows after a stage. */
typedef struct shape {
	size_t w, h, c;
	size_t rfw, rfh, jump;
} shape;

/* r' = r + (E - 1) j per axis, j' = j S; 0 on overflow. */
static int grow_field(shape *sh, size_t ew, size_t eh, size_t stride)
{
	size_t t;
	return imf_size_mul(ew - 1, sh->jump, &t) && imf_size_add(sh->rfw, t, &sh->rfw) &&
	       imf_size_mul(eh - 1, sh->jump, &t) && imf_size_add(sh->rfh, t, &sh->rfh) &&
	       imf_size_mul(sh->jump, stride, &sh->jump);
}

/*
 * A conv stage's output shape, receptive field and parameters from the
 * input shape in sh; the reason in msg when it does not fit.  Each kernel
 * has its own geometry; their maps must come out the same size (same
 * padding always does: floor((M - 1) / S) + 1 whatever E), and the
 * receptive field grows by the largest extent.
 */
static int report_conv(const stage *s, shape *sh, size_t *params, char *msg, size_t len)
{
	size_t count = s->size_only ? 1 : s->nkernels;
	size_t ow = 0, oh = 0, ewmax = 1, ehmax = 1, cout = 0, n = 0;
	char who[48] = "";

	for (size_t i = 0; i < count; i++) {
		size_t rows, cols, er, ec, top, bottom, left, right, ph, pw, kw, kh, t;

		if (count > 1)
			snprintf(who, sizeof who, "kernel %zu: ", i + 1);
		if (s->size_only) {
			rows = s->rows;
			cols = s->cols;
		} else {
			imf_kernel_dims(s->kernels[i], &rows, &cols);
		}
		/* E = D(F-1)+1 */
		if (!imf_size_mul(rows - 1, s->p.dilation, &er) || !imf_size_add(er, 1, &er) ||
		    !imf_size_mul(cols - 1, s->p.dilation, &ec) || !imf_size_add(ec, 1, &ec)) {
			snprintf(msg, len, "%sdilation %zu is too large for a %zux%zu kernel", who,
			         s->p.dilation, cols, rows);
			return 0;
		}
		imf_conv_padding(&s->p, er, &top, &bottom);
		imf_conv_padding(&s->p, ec, &left, &right);
		if (!imf_size_add(sh->h, top, &t) || !imf_size_add(t, bottom, &ph) ||
		    !imf_size_add(sh->w, left, &t) || !imf_size_add(t, right, &pw)) {
			snprintf(msg, len, "%spadding is too large", who);
			return 0;
		}
		if (ph < er || pw < ec) {
			if (s->p.dilation == 1)
				snprintf(msg, len, "%skernel %zux%zu is larger than the padded input %zux%zu",
				         who, cols, rows, pw, ph);
			else
				snprintf(msg, len, "%skernel %zux%zu with dilation %zu (extent %zux%zu) is "
				         "larger than the padded input %zux%zu",
				         who, cols, rows, s->p.dilation, ec, er, pw, ph);
			return 0;
		}
		/* out = floor((M + before + after - E) / S) + 1 */
		kh = (ph - er) / s->p.stride + 1;
		kw = (pw - ec) / s->p.stride + 1;
		if (i > 0 && (kh != oh || kw != ow)) {
			snprintf(msg, len, "kernel %zu gives %zux%zu maps but kernel 1 gives %zux%zu "
			         "(pad=same keeps them equal)", i + 1, kw, kh, ow, oh);
			return 0;
		}
		oh = kh;
		ow = kw;
		ehmax = er > ehmax ? er : ehmax;
		ewmax = ec > ewmax ? ec : ewmax;

		if (s->size_only) {
			/* (kh kw Cin + 1) Cout, or kh kw Cin Cout without a bias */
			cout = s->out;
			if (!imf_size_mul(rows, cols, &t) || !imf_size_mul(t, sh->c, &t) ||
			    !imf_size_add(t, s->nobias ? 0 : 1, &t) || !imf_size_mul(t, cout, &n)) {
				snprintf(msg, len, "the parameter count overflows");
				return 0;
			}
		} else {
			const imf_kernel *k = s->kernels[i];
			size_t depth = imf_kernel_depth(k), w;
			if (depth > 1 && depth != sh->c) {
				snprintf(msg, len, "%skernel has %zu slices but the input has %zu channel%s",
				         who, depth, sh->c, sh->c == 1 ? "" : "s");
				return 0;
			}
			/* depthwise: one map per input plane; 3-D: one map */
			if (!imf_size_add(cout, depth > 1 ? 1 : sh->c, &cout)) {
				snprintf(msg, len, "the number of maps overflows");
				return 0;
			}
			/* kh kw per matrix: the slices of a 3-D kernel, the parts of a magnitude one */
			w = rows * cols * k->count + (s->has_bias ? 1 : 0);
			if (!imf_size_add(n, w, &n)) {
				snprintf(msg, len, "the parameter count overflows");
				return 0;
			}
		}
	}
	if (!s->size_only && cout > IMF_MAX_PLANES) {
		snprintf(msg, len, "%zu maps, more than the limit of %d", cout, IMF_MAX_PLANES);
		return 0;
	}
	sh->h = oh;
	sh->w = ow;
	sh->c = cout;
	*params = n;
	if (!grow_field(sh, ewmax, ehmax, s->p.stride)) {
		snprintf(msg, len, "the receptive field overflows");
		return 0;
	}
	return 1;
}

static int report_pool(const stage *s, shape *sh, char *msg, size_t len)
{
	size_t ph, pw, t;

	if (s->pad >= s->k) {
		snprintf(msg, len, "pool padding %zu must be smaller than the window %zu", s->pad, s->k);
		return 0;
	}
	if (!imf_size_add(s->pad, s->pad, &t) || !imf_size_add(sh->h, t, &ph) ||
	    !imf_size_add(sh->w, t, &pw)) {
		snprintf(msg, len, "padding is too large");
		return 0;
	}
	if (s->k > ph || s->k > pw) {
		snprintf(msg, len, "pool window %zux%zu is larger than the padded input %zux%zu", s->k,
		         s->k, pw, ph);
		return 0;
	}
	sh->h = (ph - s->k) / s->stride + 1; /* floor((M + 2P - K) / S) + 1 */
	sh->w = (pw - s->k) / s->stride + 1;
	if (!grow_field(sh, s->k, s->k, s->stride)) {
		snprintf(msg, len, "the receptive field overflows");
		return 0;
	}
	return 1;
}

/* One row of the table; note (an error or "(not computed)") spans the columns after stage. */
typedef struct report_row {
	char num[24], text[QUOTE_MAX + 8], shape[72], params[32], rf[48], jump[24];
	char note[256];
} report_row;

static size_t maxlen(size_t a, const char *s)
{
	size_t n = strlen(s);
	return n > a ? n : a;
}

imf_status imf_chain_report(const imf_chain *c, size_t w, size_t h, size_t ch, FILE *fp,
                            imf_error *err)
{
	report_row *rows = NULL;
	shape sh = {w, h, ch, 1, 1, 1};
	size_t nrows, total = 0, bad = 0; /* bad: 1-based failing stage, 0 if none */
	size_t wn = 1, wt = 5, ws = 6, wp = 6, wr = 15, wj = 4;
	int nonsquare = 0;
	imf_status st = IMF_OK;

	if (!c || !fp)
		return imf_error_set(err, IMF_EINVAL, "chain: missing chain or stream");
	if (w == 0 || h == 0 || ch == 0)
		return imf_error_set(err, IMF_EINVAL, "input shape %zux%zux%zu is empty", w, h, ch);
	nrows = c->n + 2; /* input, stages, total */
	if (!(rows = calloc(nrows, sizeof *rows)))
		return imf_error_set(err, IMF_ENOMEM, "out of memory");

	snprintf(rows[0].num, sizeof rows[0].num, "0");
	snprintf(rows[0].text, sizeof rows[0].text, "input");
	snprintf(rows[0].shape, sizeof rows[0].shape, "%zux%zux%zu", w, h, ch);
	snprintf(rows[0].params, sizeof rows[0].params, "-");
	snprintf(rows[0].rf, sizeof rows[0].rf, "1");
	snprintf(rows[0].jump, sizeof rows[0].jump, "1");

	for (size_t i = 0; i < c->n; i++) {
		const stage *s = &c->stages[i];
		report_row *r = &rows[i + 1];
		size_t params = 0;
		char msg[sizeof r->note - 8];
		int ok = 1;

		snprintf(r->num, sizeof r->num, "%zu", i + 1);
		quote_text(s->text, r->text, sizeof r->text);
		if (bad) {
			snprintf(r->note, sizeof r->note, "(not computed)");
			continue;
		}
		if (s->kind == STAGE_CONV)
			ok = report_conv(s, &sh, &params, msg, sizeof msg);
		else if (s->kind == STAGE_POOL)
			ok = report_pool(s, &sh, msg, sizeof msg);
		if (ok && !imf_size_add(total, params, &total)) {
			snprintf(msg, sizeof msg, "the parameter count overflows");
			ok = 0;
		}
		if (!ok) {
			bad = i + 1;
			snprintf(r->note, sizeof r->note, "error: %s", msg);
			st = stage_error(err, i + 1, s->text, IMF_EINVAL, "%s", msg);
			continue;
		}
		snprintf(r->shape, sizeof r->shape, "%zux%zux%zu", sh.w, sh.h, sh.c);
		thousands(params, r->params, sizeof r->params);
		axes(sh.rfw, sh.rfh, r->rf, sizeof r->rf);
		snprintf(r->jump, sizeof r->jump, "%zu", sh.jump);
		nonsquare |= sh.rfw != sh.rfh;
	}
	if (!bad) {
		snprintf(rows[nrows - 1].text, sizeof rows[nrows - 1].text, "total");
		thousands(total, rows[nrows - 1].params, sizeof rows[nrows - 1].params);
	}

	for (size_t i = 0; i < nrows; i++) {
		wn = maxlen(wn, rows[i].num);
		wt = maxlen(wt, rows[i].text);
		ws = maxlen(ws, rows[i].shape);
		wp = maxlen(wp, rows[i].params);
		wr = maxlen(wr, rows[i].rf);
		wj = maxlen(wj, rows[i].jump);
	}
	fprintf(fp, "%*s  %-*s  %-*s  %*s  %*s  %*s\n", (int)wn, "#", (int)wt, "stage", (int)ws,
	        "output", (int)wp, "params", (int)wr, "receptive field", (int)wj, "jump");
	for (size_t i = 0; i < nrows; i++) {
		const report_row *r = &rows[i];
		if (i == nrows - 1 && bad)
			break;
		if (r->note[0]) {
			fprintf(fp, "%*s  %-*s  %s\n", (int)wn, r->num, (int)wt, r->text, r->note);
			continue;
		}
		/* Trailing blanks trimmed: the total row ends at its count. */
		if (i == nrows - 1)
			fprintf(fp, "%*s  %-*s  %-*s  %*s\n", (int)wn, "", (int)wt, r->text, (int)ws, "",
			        (int)wp, r->params);
		else
			fprintf(fp, "%*s  %-*s  %-*s  %*s  %*s  %*s\n", (int)wn, r->num, (int)wt, r->text,
			        (int)ws, r->shape, (int)wp, r->params, (int)wr, r->rf, (int)wj, r->jump);
	}
	if (nonsquare)
		fprintf(fp, "note: shapes and receptive fields are width x height; a size-only kernel "
		            "HxW is rows x columns, as PyTorch's kernel_size=(kh, kw)\n");
	if (ferror(fp) && st == IMF_OK)
		st = imf_error_set(err, IMF_EIO, "cannot write the report");
	free(rows);
	return st;
}

/* ---- --explain ------------------------------------------------------------------------ */

/*
 * Numbers as the shortest decimal that reads back as the same value: a float
 * (image values) needs at most 9 significant digits, a double (weights,
 * bias) at most 17.  Below 1e16 no exponent: "114", not "1.14e+02".
 */
static void shortest(char *buf, size_t len, double v, int is_float)
{
	int prec, maxp = is_float ? 9 : 17;
	const char *e;

	if (!isfinite(v)) {
		snprintf(buf, len, "%s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
		return;
	}
	for (prec = 1; prec < maxp; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		double back = strtod(buf, NULL);
		if (is_float ? (float)back == (float)v : back == v)
			break;
	}
	snprintf(buf, len, "%.*g", prec, v);
	if ((e = strchr(buf, 'e')) != NULL) {
		long x = strtol(e + 1, NULL, 10);
		if (x >= prec && x < 16)
			snprintf(buf, len, "%.*g", (int)x + 1, v);
	}
}

static numstr fnum(double v) /* a float value */
{
	numstr n;
	shortest(n.s, sizeof n.s, v, 1);
	return n;
}

static numstr dnum(double v) /* a double: weight, bias, slope */
{
	numstr n;
	shortest(n.s, sizeof n.s, v, 0);
	return n;
}

/* "1/16" when the scale is exactly 1/n, else the shortest decimal. */
static numstr scale_str(double s)
{
	numstr n;
	if (s != 0 && isfinite(s)) {
		double q = round(1.0 / s);
		if (fabs(q) >= 2 && fabs(q) <= 1e15 && 1.0 / q == s) {
			snprintf(n.s, sizeof n.s, "%s1/%.0f", q < 0 ? "-" : "", fabs(q));
			return n;
		}
	}
	return dnum(s);
}

/* How --explain names values: y_11, y2_11, x_00, x2_-1,3. */
typedef struct names {
	int xplanes, yplanes; /* non-alpha planes of the stage's input and output */
	int compact;          /* every index is one digit 0..9: "x_12", else "x_1,12" */
} names;

static void put_var(FILE *fp, const char *var, int planes, int plane, long r, long c, int compact)
{
	if (planes > 1)
		fprintf(fp, "%s%d_", var, plane + 1);
	else
		fprintf(fp, "%s_", var);
	fprintf(fp, compact ? "%ld%ld" : "%ld,%ld", r, c);
}

/* Geometry of one kernel on the stage's input, in padded coordinates. */
typedef struct kgeom {
	size_t fr, fc, top, left, dil, stride;
	size_t pad; /* padding of the padded copy on every side: >= top, bottom, left, right */
	int flip;
} kgeom;

static void kernel_geom(const stage *s, const imf_kernel *k, kgeom *g)
{
	size_t er, ec, bottom, right;
	imf_kernel_dims(k, &g->fr, &g->fc);
	g->dil = s->p.dilation;
	g->stride = s->p.stride;
	g->flip = s->p.flip != 0;
	er = g->dil * (g->fr - 1) + 1; /* the run succeeded, so nothing overflows */
	ec = g->dil * (g->fc - 1) + 1;
	imf_conv_padding(&s->p, er, &g->top, &bottom);
	imf_conv_padding(&s->p, ec, &g->left, &right);
	g->pad = g->top;
	if (bottom > g->pad)
		g->pad = bottom;
	if (g->left > g->pad)
		g->pad = g->left;
	if (right > g->pad)
		g->pad = right;
}

/*
 * The input extended by pad cells on every side with the stage's border,
 * made by the engine itself (a 1x1 identity kernel with explicit padding),
 * so the values shown are exactly the ones the convolution read.
 */
static imf_status padded_copy(const stage *s, const imf_image *in, size_t pad, imf_image **out,
                              imf_error *err)
{
	imf_kernel *one = NULL;
	imf_conv_params pp;
	imf_status st;

	imf_conv_params_default(&pp);
	pp.pad_mode = IMF_PAD_EXPLICIT;
	pp.pad = pad;
	pp.border = s->p.border;
	pp.limits = s->p.limits;
	if ((st = imf_kernel_from_text("1", "identity", &one, err)) != IMF_OK)
		return st;
	st = imf_conv_run(in, one, &pp, out, err);
	imf_kernel_free(one);
	return st;
}

/*
 * The taps of matrix m on plane (input plane) at output (oy, ox):
 * "w*x_ij + ..." (numeric: "w*v + ...").  Returns scale-less sum in double,
 * zero weights skipped as the engine skips them.
 */
static double put_taps(FILE *fp, const imf_matrix *m, const kgeom *g, const imf_image *pad,
                       int plane, size_t oy, size_t ox, const names *nm, int numeric, int first)
{
	double sum = 0;
	for (size_t i = 0; i < g->fr; i++) {
		for (size_t j = 0; j < g->fc; j++) {
			size_t wi = g->flip ? g->fr - 1 - i : i, wj = g->flip ? g->fc - 1 - j : j;
			double w = m->w[wi * g->fc + wj];
			size_t py = oy * g->stride + i * g->dil, px = ox * g->stride + j * g->dil;
			float v = imf_image_row_const(pad, plane, py + g->pad - g->top)[px + g->pad - g->left];

			if (!first)
				fputs(" + ", fp);
			first = 0;
			fprintf(fp, "%s*", dnum(w).s);
			if (numeric)
				fputs(fnum(v).s, fp);
			else
				put_var(fp, "x", nm->xplanes, plane, (long)py - (long)g->top + 1,
				        (long)px - (long)g->left + 1, nm->compact);
			if (w != 0)
				sum += w * v;
		}
	}
	return sum;
}

/*
 * The sum of a plain or multi-channel kernel, symbolic or numeric:
 * "s * (taps of slice 1 + taps of slice 2 ...)" when the slices share one
 * scale (omitted when 1), else "s1 * (slice 1) + s2 * (slice 2)".
 */
static void put_sum(FILE *fp, const imf_kernel *k, const kgeom *g, const imf_image *pad,
                    int plane, size_t oy, size_t ox, const names *nm, int numeric)
{
	int shared = 1;
	for (size_t q = 1; q < k->count; q++)
		shared &= k->m[q].scale == k->m[0].scale;
	if (shared) {
		int scaled = k->m[0].scale != 1.0;
		if (scaled)
			fprintf(fp, "%s * (", scale_str(k->m[0].scale).s);
		for (size_t q = 0; q < k->count; q++)
			put_taps(fp, &k->m[q], g, pad, k->count > 1 ? (int)q : plane, oy, ox, nm, numeric,
			         q == 0);
		if (scaled)
			fputc(')', fp);
		return;
	}
	for (size_t q = 0; q < k->count; q++) {
		fprintf(fp, "%s%s * (", q ? " + " : "", scale_str(k->m[q].scale).s);
		put_taps(fp, &k->m[q], g, pad, (int)q, oy, ox, nm, numeric, 1);
		fputc(')', fp);
	}
}

/* One output value of a conv stage: its line(s) of arithmetic. */
static imf_status explain_conv_value(FILE *fp, const stage *s, const imf_kernel *k, const kgeom *g,
                               const imf_image *pad, int plane, int map, size_t oy, size_t ox,
                               float y, const names *nm, imf_error *err)
{
	int bias = s->has_bias || s->p.bias != 0;
	long r = (long)oy + 1, c = (long)ox + 1;

	if (k->combine == IMF_COMBINE_MAGNITUDE) {
		double *part = calloc(k->count, sizeof *part);
		if (!part)
			return imf_error_set(err, IMF_ENOMEM, "out of memory");
		/* each part's response, then sqrt of the sum of their squares */
		for (size_t q = 0; q < k->count; q++) {
			const imf_matrix *m = &k->m[q];
			const char *pn = k->part_names ? k->part_names[q] : "part";
			int scaled = m->scale != 1.0;
			double sum;
			fprintf(fp, "  %s_", pn);
			fprintf(fp, nm->compact ? "%ld%ld = " : "%ld,%ld = ", r, c);
			for (int numeric = 0; numeric < 2; numeric++) {
				if (numeric)
					fputs(" = ", fp);
				if (scaled)
					fprintf(fp, "%s * (", scale_str(m->scale).s);
				sum = put_taps(fp, m, g, pad, plane, oy, ox, nm, numeric, 1);
				if (scaled)
					fputc(')', fp);
			}
			sum *= m->scale;
			part[q] = sum;
			fprintf(fp, " = %s\n", fnum(sum).s);
		}
		fputs("  ", fp);
		put_var(fp, "y", nm->yplanes, map, r, c, nm->compact);
		fputs(" = sqrt(", fp);
		for (size_t q = 0; q < k->count; q++) {
			fprintf(fp, "%s%s_", q ? " + " : "", k->part_names ? k->part_names[q] : "part");
			fprintf(fp, nm->compact ? "%ld%ld^2" : "%ld,%ld^2", r, c);
		}
		fputc(')', fp);
		if (bias)
			fprintf(fp, " + %s", dnum(s->p.bias).s);
		fputs(" = sqrt(", fp);
		for (size_t q = 0; q < k->count; q++) {
			double v = part[q];
			fprintf(fp, v < 0 ? "%s(%s)^2" : "%s%s^2", q ? " + " : "", fnum(v).s);
		}
		fputc(')', fp);
		if (bias)
			fprintf(fp, " + %s", dnum(s->p.bias).s);
		fprintf(fp, " = %s\n", fnum(y).s);
		free(part);
		return IMF_OK;
	}
	fputs("  ", fp);
	put_var(fp, "y", nm->yplanes, map, r, c, nm->compact);
	for (int numeric = 0; numeric < 2; numeric++) {
		fputs(" = ", fp);
		put_sum(fp, k, g, pad, plane, oy, ox, nm, numeric);
		if (bias)
			fprintf(fp, " + %s", dnum(s->p.bias).s);
	}
	fprintf(fp, " = %s\n", fnum(y).s);
	return IMF_OK;
}

static imf_status explain_conv(FILE *fp, const stage *s, const imf_image *in,
                               const imf_image *out, imf_error *err)
{
	names nm = {map_planes(in), map_planes(out), 1};
	int map = 0;
	size_t maxpad = 0;
	imf_status st = IMF_OK;

	/* One digit per index unless some index (padding included) leaves 0..9. */
	for (size_t i = 0; i < s->nkernels; i++) {
		kgeom g;
		kernel_geom(s, s->kernels[i], &g);
		maxpad = g.pad > maxpad ? g.pad : maxpad;
	}
	nm.compact = maxpad <= 1 && in->height + maxpad <= 9 && in->width + maxpad <= 9 &&
	             out->height <= 9 && out->width <= 9;

	if (maxpad > 0)
		fprintf(fp, "  x_ij with i outside 1..%zu or j outside 1..%zu is padding, from the %s "
		            "border; ", in->height, in->width, imf_border_name(s->p.border));
	else
		fputs("  ", fp);
	fprintf(fp, "stride %zu", s->p.stride);
	if (s->p.dilation != 1)
		fprintf(fp, ", dilation %zu (taps %zu apart)", s->p.dilation, s->p.dilation);
	if (s->p.flip)
		fputs(", kernel flipped (true convolution)", fp);
	fputc('\n', fp);

	for (size_t i = 0; i < s->nkernels && st == IMF_OK; i++) {
		const imf_kernel *k = s->kernels[i];
		imf_image *pad = NULL;
		const imf_image *src = in;
		int multi = imf_kernel_depth(k) > 1;
		kgeom g;

		kernel_geom(s, k, &g);
		if (g.pad > 0) {
			if ((st = padded_copy(s, in, g.pad, &pad, err)) != IMF_OK)
				break;
			src = pad;
		}
		for (int c = 0; c < (multi ? 1 : nm.xplanes); c++, map++) {
			if (nm.yplanes > 1) {
				fprintf(fp, "  map %d: kernel %zu (%s)", map + 1, i + 1, imf_kernel_name(k));
				if (multi)
					fprintf(fp, ", its %zu slices over the %d input planes\n",
					        imf_kernel_depth(k), nm.xplanes);
				else if (nm.xplanes > 1)
					fprintf(fp, " on input plane %d\n", c + 1);
				else
					fputc('\n', fp);
			}
			for (size_t oy = 0; oy < out->height && st == IMF_OK; oy++)
				for (size_t ox = 0; ox < out->width && st == IMF_OK; ox++)
					st = explain_conv_value(fp, s, k, &g, src, c, map, oy, ox,
					                        imf_image_row_const(out, map, oy)[ox], &nm, err);
		}
		imf_image_free(pad);
	}
	if (st == IMF_OK && out->has_alpha)
		fputs("  alpha: carried, each output takes the alpha under the kernel's anchor\n", fp);
	return st;
}

static void explain_pool(FILE *fp, const stage *s, const imf_image *in, const imf_image *out)
{
	static const char *const fn[] = {"max", "min", "avg"};
	names nm = {map_planes(in), map_planes(out), 1};
	const char *f = fn[s->pool];

	nm.compact = in->height <= 9 && in->width <= 9 && out->height <= 9 && out->width <= 9;
	fprintf(fp, "  window %zux%zu, stride %zu, padding %zu%s\n", s->k, s->k, s->stride, s->pad,
	        s->pad ? " (padded cells are left out)" : "");
	for (int c = 0; c < nm.yplanes; c++) {
		for (size_t oy = 0; oy < out->height; oy++) {
			for (size_t ox = 0; ox < out->width; ox++) {
				/* the real cells of the window: rows ylo..yhi-1, columns xlo..xhi-1 */
				size_t y0 = oy * s->stride, x0 = ox * s->stride;
				size_t ylo = y0 < s->pad ? 0 : y0 - s->pad, xlo = x0 < s->pad ? 0 : x0 - s->pad;
				size_t yhi = y0 + s->k - s->pad, xhi = x0 + s->k - s->pad;
				if (yhi > in->height)
					yhi = in->height;
				if (xhi > in->width)
					xhi = in->width;

				fputs("  ", fp);
				put_var(fp, "y", nm.yplanes, c, (long)oy + 1, (long)ox + 1, nm.compact);
				fprintf(fp, " = %s(", f);
				for (size_t y = ylo; y < yhi; y++)
					for (size_t x = xlo; x < xhi; x++) {
						if (y != ylo || x != xlo)
							fputs(", ", fp);
						put_var(fp, "x", nm.xplanes, c, (long)y + 1, (long)x + 1, nm.compact);
					}
				/* numeric: max(1, 2, 5, 6), or (1 + 2 + 5 + 6) / 4 for an average */
				if (s->pool == IMF_POOL_AVG)
					fputs(") = (", fp);
				else
					fprintf(fp, ") = %s(", f);
				for (size_t y = ylo; y < yhi; y++)
					for (size_t x = xlo; x < xhi; x++) {
						const char *sep = s->pool == IMF_POOL_AVG ? " + " : ", ";
						if (y != ylo || x != xlo)
							fputs(sep, fp);
						fputs(fnum(imf_image_row_const(in, c, y)[x]).s, fp);
					}
				if (s->pool == IMF_POOL_AVG)
					fprintf(fp, ") / %zu", (yhi - ylo) * (xhi - xlo));
				else
					fputc(')', fp);
				fprintf(fp, " = %s\n", fnum(imf_image_row_const(out, c, oy)[ox]).s);
			}
		}
	}
	if (out->has_alpha)
		fprintf(fp, "  alpha: pooled with %s like the other planes\n", f);
}

static void explain_act(FILE *fp, const stage *s, const imf_image *in, const imf_image *out)
{
	static const char *const name[] = {"relu", "leaky-relu", "sigmoid", "tanh", "abs"};
	names nm = {map_planes(in), map_planes(out), 1};

	nm.compact = out->height <= 9 && out->width <= 9;
	switch (s->act) {
	case IMF_ACT_RELU:
		fputs("  relu(v) = max(0, v)\n", fp);
		break;
	case IMF_ACT_LEAKY_RELU:
		fprintf(fp, "  leaky-relu(v) = v if v >= 0, else %s*v\n", dnum(s->slope).s);
		break;
	case IMF_ACT_SIGMOID:
		fputs("  sigmoid(v) = 1 / (1 + exp(-v))\n", fp);
		break;
	case IMF_ACT_TANH:
		fputs("  tanh(v) = (exp(v) - exp(-v)) / (exp(v) + exp(-v))\n", fp);
		break;
	case IMF_ACT_ABS:
		fputs("  abs(v) = |v|\n", fp);
		break;
	}
	for (int c = 0; c < nm.yplanes; c++) {
		for (size_t y = 0; y < out->height; y++) {
			for (size_t x = 0; x < out->width; x++) {
				float v = imf_image_row_const(in, c, y)[x];
				fputs("  ", fp);
				put_var(fp, "y", nm.yplanes, c, (long)y + 1, (long)x + 1, nm.compact);
				fprintf(fp, " = %s(%s)", name[s->act], fnum(v).s);
				if (s->act == IMF_ACT_LEAKY_RELU && v < 0)
					fprintf(fp, " = %s*%s", dnum(s->slope).s, fnum(v).s);
				fprintf(fp, " = %s\n", fnum(imf_image_row_const(out, c, y)[x]).s);
			}
		}
	}
	if (out->has_alpha)
		fputs("  alpha: unchanged\n", fp);
}

/* The finite min and max of the non-alpha planes, as imf_normalize finds them. */
static void explain_normalize(FILE *fp, const imf_image *in)
{
	double lo = INFINITY, hi = -INFINITY;

	for (int c = 0; c < map_planes(in); c++)
		for (size_t y = 0; y < in->height; y++)
			for (size_t x = 0; x < in->width; x++) {
				double v = imf_image_row_const(in, c, y)[x];
				if (!isfinite(v))
					continue;
				lo = v < lo ? v : lo;
				hi = v > hi ? v : hi;
			}
	if (hi > lo)
		fprintf(fp, "  y = (x - min) * 255 / (max - min) = (x - %s) * 255 / %s for every value, "
		            "with min = %s and max = %s over all maps\n",
		        fnum(lo).s, dnum(hi - lo).s, fnum(lo).s, fnum(hi).s);
	else if (hi == lo)
		fprintf(fp, "  every finite value is %s (no range to stretch): y = 0\n", fnum(lo).s);
	else
		fputs("  no finite values (no range to stretch)\n", fp);
}

/* "5x5", or "5x5x3" for several planes (alpha not counted). */
static void dims(const imf_image *img, char *buf, size_t len)
{
	if (map_planes(img) == 1)
		snprintf(buf, len, "%zux%zu", img->width, img->height);
	else
		snprintf(buf, len, "%zux%zux%d", img->width, img->height, map_planes(img));
}

imf_status imf_chain_explain(const imf_chain *c, const imf_image *in, FILE *fp,
                             imf_error *err)
{
	const imf_image *cur = in;
	imf_image *owned = NULL;
	imf_status st = IMF_OK;

	if (!c || !in || !fp)
		return imf_error_set(err, IMF_EINVAL, "chain: missing chain, image or stream");
	if ((st = check_runnable(c, err)) != IMF_OK)
		return st;
	if (in->width > EXPLAIN_MAX_SIDE || in->height > EXPLAIN_MAX_SIDE)
		return imf_error_set(err, IMF_EINVAL, "--explain needs an input of at most %dx%d, not "
		                     "%zux%zu", EXPLAIN_MAX_SIDE, EXPLAIN_MAX_SIDE, in->width,
		                     in->height);

	for (size_t i = 0; i < c->n; i++) {
		const stage *s = &c->stages[i];
		imf_error sub = {0};
		imf_image *next = NULL;
		char from[48], to[48];

		if ((st = run_stage(s, cur, &next, &sub)) != IMF_OK) {
			st = stage_error(err, i + 1, s->text, st, "%s", sub.msg);
			break;
		}
		dims(cur, from, sizeof from);
		dims(next, to, sizeof to);
		fprintf(fp, "%sstage %zu: %s (%s -> %s)\n", i ? "\n" : "", i + 1, s->text, from, to);
		switch (s->kind) {
		case STAGE_CONV:
			st = explain_conv(fp, s, cur, next, &sub);
			if (st != IMF_OK)
				st = stage_error(err, i + 1, s->text, st, "%s", sub.msg);
			break;
		case STAGE_ACT:
			explain_act(fp, s, cur, next);
			break;
		case STAGE_POOL:
			explain_pool(fp, s, cur, next);
			break;
		case STAGE_NORMALIZE:
			explain_normalize(fp, cur);
			break;
		}
		imf_image_free(owned);
		owned = next;
		cur = next;
		if (st != IMF_OK)
			break;
	}
	imf_image_free(owned);
	if (st == IMF_OK && ferror(fp))
		st = imf_error_set(err, IMF_EIO, "cannot write the explanation");
	return st;
}
