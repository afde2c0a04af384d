/*
 * check_chain.c - the stage language (chain.c): parsing, running, the
 * --dry-run report and --explain.
 *
 * Expected values are worked out here, never taken from the code under
 * test: naive loops for correlation with zero padding, activations and
 * pooling over the real cells of each window; the shape, parameter and
 * receptive-field numbers from the formulas (and the worked example of
 * issue 4), out = floor((M + 2P - E) / S) + 1, E = D(F-1)+1,
 * params = (kh kw Cin + 1) Cout, r' = r + (E - 1) j, j' = j S.
 */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ---------------------------------------------------------------- */

static imf_chain *parse_ok(const char *text)
{
	imf_chain *c = NULL;
	imf_error err = { 0 };
	imf_status st = imf_chain_parse(text, &c, &err);
	ck_assert_msg(st == IMF_OK, "'%s': %s", text, err.msg);
	ck_assert_ptr_nonnull(c);
	return c;
}

/* A random w x h image of planes planes, values in [lo, hi). */
static imf_image *random_image(size_t w, size_t h, int planes, double lo, double hi,
                               unsigned long long seed)
{
	imf_image *img = NULL;
	imf_error err = { 0 };
	ck_assert_int_eq(imf_image_new(w, h, planes, 0, NULL, &img, &err), IMF_OK);
	for (int c = 0; c < planes; c++)
		for (size_t y = 0; y < h; y++)
			for (size_t x = 0; x < w; x++)
				imf_image_row(img, c, y)[x] = (float)(lo + (hi - lo) * tu_rand(&seed));
	return img;
}

static float px(const imf_image *img, int c, long y, long x)
{
	return imf_image_row_const(img, c, (size_t)y)[x];
}

/*
 * Naive cross-correlation of plane c with a rows x cols kernel w, 'same'
 * zero padding (top = floor((E-1)/2)), stride s, dilation d:
 *   out(y, x) = scale * sum w(i, j) in(y s - top + i d, x s - left + j d)
 */
static double naive_corr(const imf_image *in, int c, const double *w, size_t rows, size_t cols,
                         double scale, size_t s, size_t d, long oy, long ox)
{
	long top = (long)(d * (rows - 1)) / 2, left = (long)(d * (cols - 1)) / 2;
	long h = (long)imf_image_height(in), wd = (long)imf_image_width(in);
	double sum = 0;
	for (size_t i = 0; i < rows; i++)
		for (size_t j = 0; j < cols; j++) {
			long y = oy * (long)s - top + (long)(i * d), x = ox * (long)s - left + (long)(j * d);
			if (y >= 0 && y < h && x >= 0 && x < wd)
				sum += w[i * cols + j] * px(in, c, y, x);
		}
	return scale * sum;
}

/* Naive pooling over the real cells of each window: kind 0 max, 1 min, 2 average. */
static double naive_pool(const imf_image *in, int c, int kind, long k, long s, long pad, long oy,
                         long ox)
{
	long h = (long)imf_image_height(in), w = (long)imf_image_width(in);
	double acc = kind == 0 ? -INFINITY : kind == 1 ? INFINITY : 0;
	long n = 0;
	for (long i = 0; i < k; i++)
		for (long j = 0; j < k; j++) {
			long y = oy * s - pad + i, x = ox * s - pad + j;
			if (y < 0 || y >= h || x < 0 || x >= w)
				continue;
			double v = px(in, c, y, x);
			acc = kind == 0 ? fmax(acc, v) : kind == 1 ? fmin(acc, v) : acc + v;
			n++;
		}
	return kind == 2 ? acc / (double)n : acc;
}

static void assert_close(double got, double want, double tol, const char *what)
{
	ck_assert_msg(fabs(got - want) <= tol * (1 + fabs(want)), "%s: got %.9g, want %.9g", what,
	              got, want);
}

/* ---- capturing the report ----------------------------------------------------- */

#define MAX_ROWS 24
#define MAX_COLS 8

/* The report split into lines, each line into columns at runs of two or more spaces. */
typedef struct table {
	char *text;
	size_t nlines;
	char *line[MAX_ROWS];
	size_t ncol[MAX_ROWS];
	char col[MAX_ROWS][MAX_COLS][128];
} table;

static imf_status report(const char *chain, size_t w, size_t h, size_t c, table *t,
                         imf_error *err)
{
	imf_chain *ch = parse_ok(chain);
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(fp);
	imf_status st = imf_chain_report(ch, w, h, c, fp, err);
	ck_assert_int_eq(fclose(fp), 0);
	imf_chain_free(ch);

	memset(t, 0, sizeof *t);
	t->text = buf;
	for (char *p = buf, *nl; *p && t->nlines < MAX_ROWS; p = nl + 1) {
		size_t i = t->nlines++;
		nl = strchr(p, '\n');
		ck_assert_ptr_nonnull(nl);
		*nl = '\0';
		t->line[i] = p;
		for (const char *q = p; *q;) {
			while (*q == ' ')
				q++;
			if (!*q)
				break;
			const char *e = q;
			while (*e && !(e[0] == ' ' && e[1] == ' '))
				e++;
			const char *end = e;
			while (end > q && end[-1] == ' ')
				end--;
			ck_assert_uint_lt(t->ncol[i], MAX_COLS);
			snprintf(t->col[i][t->ncol[i]++], 128, "%.*s", (int)(end - q), q);
			q = e;
		}
	}
	return st;
}

/* Row for stage n (line n + 1: the header, then the input row 0). */
static void expect_row(const table *t, size_t n, const char *stage, const char *out,
                       const char *params, const char *rf, const char *jump)
{
	char num[16];
	size_t l = n + 1;
	ck_assert_uint_lt(l, t->nlines);
	snprintf(num, sizeof num, "%zu", n);
	ck_assert_msg(t->ncol[l] == 6, "row %zu has %zu columns: '%s'", n, t->ncol[l], t->line[l]);
	ck_assert_str_eq(t->col[l][0], num);
	ck_assert_str_eq(t->col[l][1], stage);
	ck_assert_str_eq(t->col[l][2], out);
	ck_assert_str_eq(t->col[l][3], params);
	ck_assert_str_eq(t->col[l][4], rf);
	ck_assert_str_eq(t->col[l][5], jump);
}

/* 10860 -> "10,860" (buf of 32), written independently of the code under test. */
static void commas(unsigned long v, char *buf)
{
	char digits[32];
	size_t n = (size_t)snprintf(digits, sizeof digits, "%lu", v), o = 0;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
}

/* ---- parsing ------------------------------------------------------------------- */

START_TEST(parse_valid_stage_counts)
{
	static const struct {
		const char *text;
		size_t stages;
		int shape_only;
	} cases[] = {
		{ "conv sobel-x", 1, 0 },
		{ "conv sobel-x | relu | maxpool 2", 3, 0 },
		{ "  conv   sobel-x\t|relu|  maxpool 2  ", 3, 0 },
		{ "relu | leaky-relu | leaky-relu=0.2 | sigmoid | tanh | abs | normalize", 7, 0 },
		{ "conv [0 -1 0; -1 5 -1; 0 -1 0] pad=1", 1, 0 },
		{ "conv 1/16*[1 2 1; 2 4 2; 1 2 1]", 1, 0 },
		{ "conv 1/16 * [1 2 1; 2 4 2; 1 2 1] stride=2", 1, 0 },
		{ "conv sobel-x,sobel-y,[0 1 0; 1 -4 1; 0 1 0]", 1, 0 },
		{ "conv sobel-x, sobel-y valid", 1, 0 },
		{ "conv [1, 2, 1; 2, 4, 2; 1, 2, 1] full", 1, 0 },
		{ "conv sobel same border=reflect flip bias=-2.5 dilation=2", 1, 0 },
		{ "maxpool 2 stride=1 pad=1 | minpool 3 | avgpool 2 pad=1", 3, 0 },
		{ "conv 3x3 out=40 stride=1 pad=1 | relu | maxpool 3 stride=1 pad=1", 3, 1 },
		{ "conv sobel-x | conv 5x3 out=4 nobias", 2, 1 },
	};
	for (size_t i = 0; i < COUNT(cases); i++) {
		imf_chain *c = parse_ok(cases[i].text);
		ck_assert_msg(imf_chain_length(c) == cases[i].stages, "'%s': %zu stages",
		              cases[i].text, imf_chain_length(c));
		ck_assert_int_eq(imf_chain_shape_only(c) != 0, cases[i].shape_only);
		imf_chain_free(c);
	}
	imf_chain_free(NULL);
	ck_assert_uint_eq(imf_chain_length(NULL), 0);
}
END_TEST

/*
 * Parsed parameters, seen through the report: one stage on an 8x8 input of
 * C planes.  Expected shapes by hand: out = floor((8 + before + after - E)/S) + 1.
 */
START_TEST(parse_valid_parameters)
{
	static const struct {
		const char *text;
		size_t c;
		const char *out, *params, *rf, *jump;
	} cases[] = {
		/* same padding keeps 8; valid 8-3+1 = 6; full 8+4-3+1 = 10 */
		{ "conv sobel-x", 1, "8x8x1", "9", "3", "1" },
		{ "conv sobel-x valid", 1, "6x6x1", "9", "3", "1" },
		{ "conv sobel-x pad=valid", 1, "6x6x1", "9", "3", "1" },
		{ "conv sobel-x pad=full", 1, "10x10x1", "9", "3", "1" },
		{ "conv sobel-x full", 1, "10x10x1", "9", "3", "1" },
		/* floor((8 - 3)/2) + 1 = 3 */
		{ "conv sobel-x pad=valid stride=2", 1, "3x3x1", "9", "3", "2" },
		/* floor((8 + 4 - 3)/3) + 1 = 4 */
		{ "conv sobel-x pad=2 stride=3", 1, "4x4x1", "9", "3", "3" },
		/* E = 2*2 + 1 = 5: same keeps 8, pad=0 gives 8 - 5 + 1 = 4 */
		{ "conv sobel-x dilation=2", 1, "8x8x1", "9", "5", "1" },
		{ "conv sobel-x dilation=2 pad=0", 1, "4x4x1", "9", "5", "1" },
		/* bias= makes the bias a parameter */
		{ "conv sobel-x bias=0.5", 1, "8x8x1", "10", "3", "1" },
		/* three 2-D kernels depthwise on 2 planes: 3 * 2 maps, 3 * 9 weights */
		{ "conv sobel-x,sobel-y,[0 1 0; 1 -4 1; 0 1 0]", 2, "8x8x6", "27", "3", "1" },
		{ "conv sobel-x, sobel-y bias=1", 1, "8x8x2", "20", "3", "1" },
		/* a magnitude kernel counts both parts */
		{ "conv sobel", 1, "8x8x1", "18", "3", "1" },
		{ "conv 1/16 * [1 2 1; 2 4 2; 1 2 1] pad=0", 3, "6x6x3", "9", "3", "1" },
		/* a 5x5 inline kernel */
		{ "conv [1 1 1 1 1; 1 1 1 1 1; 1 1 1 1 1; 1 1 1 1 1; 1 1 1 1 1] valid", 1, "4x4x1",
		  "25", "5", "1" },
		/* size only: (3*3*2 + 1) * 4 = 76, nobias 72 */
		{ "conv 3x3 out=4", 2, "8x8x4", "76", "3", "1" },
		{ "conv 3x3 out=4 nobias", 2, "8x8x4", "72", "3", "1" },
		/* pools: stride defaults to K */
		{ "maxpool 2", 3, "4x4x3", "0", "2", "2" },
		{ "minpool 3 stride=2", 1, "3x3x1", "0", "3", "2" },         /* floor(5/2)+1 */
		{ "avgpool 3 stride=1 pad=1", 1, "8x8x1", "0", "3", "1" },   /* floor(7/1)+1 */
		{ "maxpool 2 pad=1", 1, "5x5x1", "0", "2", "2" },            /* floor(8/2)+1 */
		{ "relu", 5, "8x8x5", "0", "1", "1" },
		{ "leaky-relu=0.2", 1, "8x8x1", "0", "1", "1" },
		{ "normalize", 1, "8x8x1", "0", "1", "1" },
	};
	for (size_t i = 0; i < COUNT(cases); i++) {
		table t;
		imf_error err = { 0 };
		ck_assert_msg(report(cases[i].text, 8, 8, cases[i].c, &t, &err) == IMF_OK, "%s: %s",
		              cases[i].text, err.msg);
		/* the report quotes a stage of more than 60 characters by its first 57 and "..." */
		char quoted[80];
		if (strlen(cases[i].text) > 60)
			snprintf(quoted, sizeof quoted, "%.57s...", cases[i].text);
		else
			snprintf(quoted, sizeof quoted, "%s", cases[i].text);
		expect_row(&t, 1, quoted, cases[i].out, cases[i].params, cases[i].rf, cases[i].jump);
		free(t.text);
	}
}
END_TEST

START_TEST(parse_errors)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
		{ "conv sobel-x | relu | frobnicate",
		  "stage 3 'frobnicate': unknown stage (conv, relu, leaky-relu, sigmoid, tanh, abs, "
		  "maxpool, minpool, avgpool, normalize)" },
		{ "conv", "stage 1 'conv': missing kernel" },
		{ "conv stride=2", "stage 1 'conv stride=2': missing kernel" },
		{ "conv sobel-x stride=0", "stage 1 'conv sobel-x stride=0': stride must be at least 1" },
		{ "conv sobel pad=-1",
		  "stage 1 'conv sobel pad=-1': bad padding '-1' (same, valid, full or a whole number)" },
		{ "conv sobel pad=3x",
		  "stage 1 'conv sobel pad=3x': bad padding '3x' (same, valid, full or a whole number)" },
		{ "conv sobel-x |", "stage 2 '': empty stage (text after the last '|'?)" },
		{ "conv sobel-x |  ", "stage 2 '': empty stage (text after the last '|'?)" },
		{ "| relu", "stage 1 '': empty stage (a '|' before the first stage?)" },
		{ "relu || relu", "stage 2 '': empty stage (two '|' in a row?)" },
		{ "conv [1 2; 3 4", "stage 1 'conv [1 2; 3 4': unbalanced '['" },
		{ "conv [1 2; 3 4]]", "stage 1 'conv [1 2; 3 4]]': unbalanced ']'" },
		{ "conv [1 2 | 3 4]", "stage 1 'conv [1 2': unbalanced '['" },
		{ "conv sobel-x foo=3", "stage 1 'conv sobel-x foo=3': unknown option 'foo=3'" },
		{ "relu | maxpool 0", "stage 2 'maxpool 0': pool size must be at least 1" },
		{ "maxpool", "stage 1 'maxpool': missing pool size (maxpool K)" },
		{ "avgpool stride=2", "stage 1 'avgpool stride=2': missing pool size (avgpool K)" },
		{ "maxpool 3x", "stage 1 'maxpool 3x': bad pool size '3x' (a whole number)" },
		{ "maxpool -2", "stage 1 'maxpool -2': bad pool size '-2' (a whole number)" },
		{ "maxpool +2", "stage 1 'maxpool +2': bad pool size '+2' (a whole number)" },
		{ "maxpool 2 stride=-1", "stage 1 'maxpool 2 stride=-1': bad stride '-1' (a whole number)" },
		{ "maxpool 2 stride=0", "stage 1 'maxpool 2 stride=0': stride must be at least 1" },
		{ "maxpool 2 stride=99999999999999999999999",
		  "stage 1 'maxpool 2 stride=99999999999999999999999': stride "
		  "'99999999999999999999999' is too large" },
		{ "maxpool 2 pad=same", "stage 1 'maxpool 2 pad=same': bad padding 'same' (a whole number)" },
		{ "maxpool 2 foo", "stage 1 'maxpool 2 foo': unknown option 'foo'" },
		{ "conv sobel-x stride=2 stride=3",
		  "stage 1 'conv sobel-x stride=2 stride=3': option 'stride' given twice" },
		{ "conv sobel-x pad=1 valid", "stage 1 'conv sobel-x pad=1 valid': option 'pad' given twice" },
		{ "conv sobel-x dilation=0", "stage 1 'conv sobel-x dilation=0': dilation must be at least 1" },
		{ "conv sobel-x border=foo",
		  "stage 1 'conv sobel-x border=foo': unknown border 'foo' (zero, replicate, reflect, "
		  "symmetric, wrap)" },
		{ "conv sobel-x bias=abc", "stage 1 'conv sobel-x bias=abc': bad bias 'abc' (a number)" },
		{ "conv sobel-x bias=nan", "stage 1 'conv sobel-x bias=nan': bad bias 'nan' (a number)" },
		{ "leaky-relu=x", "stage 1 'leaky-relu=x': bad slope 'x' (a number, as in leaky-relu=0.2)" },
		{ "relu 3", "stage 1 'relu 3': unknown option '3'" },
		{ "relu=1", "stage 1 'relu=1': relu takes no value" },
		{ "normalize now", "stage 1 'normalize now': unknown option 'now'" },
		{ "conv 3x3", "stage 1 'conv 3x3': a size-only kernel needs out=N, the number of maps "
		              "(conv 3x3 out=16)" },
		{ "conv 3x3 out=0", "stage 1 'conv 3x3 out=0': out must be at least 1" },
		{ "conv 0x3 out=1", "stage 1 'conv 0x3 out=1': kernel size 0x3 must be at least 1x1" },
		{ "conv 3x3,sobel-x out=2",
		  "stage 1 'conv 3x3,sobel-x out=2': a size-only kernel (3x3) cannot be mixed with other "
		  "kernels" },
		{ "conv 3x3 out=2 bias=1",
		  "stage 1 'conv 3x3 out=2 bias=1': bias= needs a real kernel (a size-only kernel's bias "
		  "is learned; nobias drops it)" },
		{ "conv sobel-x out=4",
		  "stage 1 'conv sobel-x out=4': out=N goes with a size-only kernel such as 3x3 (real "
		  "kernels give one map each)" },
		{ "conv sobel-x nobias",
		  "stage 1 'conv sobel-x nobias': nobias goes with a size-only kernel such as 3x3 (a real "
		  "kernel has a bias only when bias= is given)" },
		{ "conv sobel-x,,sobel-y",
		  "stage 1 'conv sobel-x,,sobel-y': empty kernel in the list 'sobel-x,,sobel-y'" },
		{ "conv [[1]]", "stage 1 'conv [[1]]': nested '[' (a matrix is one [ ] with ';' between rows)" },
		{ "conv [1 2; 3]",
		  "stage 1 'conv [1 2; 3]': kernel: row 2 has 1 value, expected 2" },
		{ "", "empty chain (give stages such as 'conv sobel-x | relu')" },
		{ "   ", "empty chain (give stages such as 'conv sobel-x | relu')" },
	};
	for (size_t i = 0; i < COUNT(cases); i++) {
		imf_chain *c = (imf_chain *)1;
		imf_error err = { 0 };
		ck_assert_msg(imf_chain_parse(cases[i].text, &c, &err) == IMF_EINVAL, "'%s' parsed",
		              cases[i].text);
		ck_assert_ptr_null(c);
		ck_assert_int_eq(err.code, IMF_EINVAL);
		ck_assert_str_eq(err.msg, cases[i].msg);
	}
}
END_TEST

START_TEST(parse_kernel_errors_and_quoting)
{
	imf_chain *c = NULL;
	imf_error err = { 0 };
	const char *prefix = "stage 1 'conv sobelx': kernel: unknown kernel 'sobelx'";

	ck_assert_int_eq(imf_chain_parse("conv sobelx", &c, &err), IMF_EINVAL);
	ck_assert_msg(strncmp(err.msg, prefix, strlen(prefix)) == 0, "%s", err.msg);

	/* A long stage is quoted by its first 57 characters and "...". */
	char text[200], want[300];
	snprintf(text, sizeof text, "conv sobel-x border=zero stride=1 dilation=1 flip pad=same bias=0 "
	                            "nonsense=1");
	ck_assert_uint_gt(strlen(text), 60);
	ck_assert_int_eq(imf_chain_parse(text, &c, &err), IMF_EINVAL);
	snprintf(want, sizeof want, "stage 1 '%.57s...': unknown option 'nonsense=1'", text);
	ck_assert_str_eq(err.msg, want);

	/* White space in a stage is collapsed in the quote; messages stay on one line. */
	ck_assert_int_eq(imf_chain_parse("relu |\n  maxpool\t\t0 ", &c, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "stage 2 'maxpool 0': pool size must be at least 1");

	ck_assert_int_eq(imf_chain_parse(NULL, &c, &err), IMF_EINVAL);
	ck_assert_ptr_null(c);
}
END_TEST

/* ---- the dry-run report ------------------------------------------------------------- */

/* The worked example of issue 4, with the parameters from the formula. */
START_TEST(report_issue_example)
{
	const char *chain = "conv 3x3 out=40 stride=1 pad=1 | relu | maxpool 3 stride=1 pad=1 | "
	                    "conv 3x3 out=20 stride=1 pad=1 | relu | maxpool 2 stride=2 pad=1";
	unsigned long p1 = (3 * 3 * 10 + 1) * 40, p4 = (3 * 3 * 40 + 1) * 20;
	char s1[32], s4[32], tot[32];
	table t;
	imf_error err = { 0 };

	commas(p1, s1);
	commas(p4, s4);
	commas(p1 + p4, tot);
	ck_assert_str_eq(tot, "10,860");
	ck_assert_int_eq(report(chain, 10, 10, 10, &t, &err), IMF_OK);
	ck_assert_uint_eq(t.nlines, 9); /* header, input, 6 stages, total */
	ck_assert_uint_eq(t.ncol[0], 6);
	ck_assert_str_eq(t.col[0][0], "#");
	ck_assert_str_eq(t.col[0][1], "stage");
	ck_assert_str_eq(t.col[0][2], "output");
	ck_assert_str_eq(t.col[0][3], "params");
	ck_assert_str_eq(t.col[0][4], "receptive field");
	ck_assert_str_eq(t.col[0][5], "jump");
	expect_row(&t, 0, "input", "10x10x10", "-", "1", "1");
	/* r: 1 + 2 = 3; relu; + 2 = 5; + 2 = 7; relu; + 1*1 = 8, j = 2 */
	expect_row(&t, 1, "conv 3x3 out=40 stride=1 pad=1", "10x10x40", s1, "3", "1");
	expect_row(&t, 2, "relu", "10x10x40", "0", "3", "1");
	expect_row(&t, 3, "maxpool 3 stride=1 pad=1", "10x10x40", "0", "5", "1");
	expect_row(&t, 4, "conv 3x3 out=20 stride=1 pad=1", "10x10x20", s4, "7", "1");
	expect_row(&t, 5, "relu", "10x10x20", "0", "7", "1");
	/* floor((10 + 2 - 2) / 2) + 1 = 6 */
	expect_row(&t, 6, "maxpool 2 stride=2 pad=1", "6x6x20", "0", "8", "2");
	ck_assert_uint_eq(t.ncol[8], 2);
	ck_assert_str_eq(t.col[8][0], "total");
	ck_assert_str_eq(t.col[8][1], "10,860");
	free(t.text);

	/* One more conv on 6x6x20: (3*3*20 + 1) * 10 = 1810. */
	char longer[512], add[32];
	snprintf(longer, sizeof longer, "%s | conv 3x3 out=10 pad=1", chain);
	commas((3 * 3 * 20 + 1) * 10, add);
	ck_assert_str_eq(add, "1,810");
	ck_assert_int_eq(report(longer, 10, 10, 10, &t, &err), IMF_OK);
	expect_row(&t, 7, "conv 3x3 out=10 pad=1", "6x6x10", "1,810", "12", "2");
	ck_assert_str_eq(t.col[9][0], "total");
	ck_assert_str_eq(t.col[9][1], "12,670");
	free(t.text);
}
END_TEST

START_TEST(report_receptive_fields)
{
	/* n stacked 3x3 convolutions: r = 1 + 2n */
	for (int n = 1; n <= 4; n++) {
		char chain[256] = "", rf[16];
		table t;
		imf_error err = { 0 };
		for (int i = 0; i < n; i++)
			strcat(chain, i ? " | conv 3x3 out=8" : "conv 3x3 out=8");
		ck_assert_int_eq(report(chain, 32, 32, 3, &t, &err), IMF_OK);
		for (int i = 1; i <= n; i++) {
			snprintf(rf, sizeof rf, "%d", 1 + 2 * i);
			ck_assert_str_eq(t.col[i + 1][4], rf);
			ck_assert_str_eq(t.col[i + 1][5], "1");
		}
		free(t.text);
	}

	/* conv 3x3 -> 3; maxpool 2: 3 + 1*1 = 4, j = 2; conv 3x3: 4 + 2*2 = 8 */
	table t;
	imf_error err = { 0 };
	ck_assert_int_eq(report("conv 3x3 out=4 | maxpool 2 | conv 3x3 out=4", 16, 16, 1, &t, &err),
	                 IMF_OK);
	expect_row(&t, 1, "conv 3x3 out=4", "16x16x4", "40", "3", "1");
	expect_row(&t, 2, "maxpool 2", "8x8x4", "0", "4", "2");
	expect_row(&t, 3, "conv 3x3 out=4", "8x8x4", "148", "8", "2"); /* (9*4+1)*4 */
	free(t.text);

	/* dilation 2: E = 5 */
	ck_assert_int_eq(report("conv 3x3 out=1 dilation=2", 16, 16, 1, &t, &err), IMF_OK);
	expect_row(&t, 1, "conv 3x3 out=1 dilation=2", "16x16x1", "10", "5", "1");
	free(t.text);

	/* A 5x3 kernel is 5 rows by 3 columns: extent 3 wide, 5 high, printed WxH. */
	ck_assert_int_eq(report("conv 5x3 out=2 pad=0", 10, 10, 1, &t, &err), IMF_OK);
	expect_row(&t, 1, "conv 5x3 out=2 pad=0", "8x6x2", "32", "3x5", "1");
	const char *note = "note: shapes and receptive fields are width x height";
	ck_assert_msg(strncmp(t.line[t.nlines - 1], note, strlen(note)) == 0, "%s",
	              t.line[t.nlines - 1]);
	free(t.text);
}
END_TEST

START_TEST(report_stage_that_does_not_fit)
{
	table t;
	imf_error err = { 0 };

	ck_assert_int_eq(report("relu | conv 3x3 out=1 pad=0 | relu", 2, 2, 1, &t, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg,
	                 "stage 2 'conv 3x3 out=1 pad=0': kernel 3x3 is larger than the padded input 2x2");
	expect_row(&t, 1, "relu", "2x2x1", "0", "1", "1");
	ck_assert_uint_eq(t.ncol[3], 3);
	ck_assert_str_eq(t.col[3][0], "2");
	ck_assert_str_eq(t.col[3][1], "conv 3x3 out=1 pad=0");
	ck_assert_str_eq(t.col[3][2], "error: kernel 3x3 is larger than the padded input 2x2");
	ck_assert_str_eq(t.col[4][1], "relu");
	ck_assert_str_eq(t.col[4][2], "(not computed)");
	ck_assert_uint_eq(t.nlines, 5); /* no total after an error */
	free(t.text);

	ck_assert_int_eq(report("maxpool 2 pad=2", 8, 8, 1, &t, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg,
	                 "stage 1 'maxpool 2 pad=2': pool padding 2 must be smaller than the window 2");
	free(t.text);
	ck_assert_int_eq(report("maxpool 5 pad=1", 8, 2, 1, &t, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg,
	                 "stage 1 'maxpool 5 pad=1': pool window 5x5 is larger than the padded input 10x4");
	free(t.text);
	ck_assert_int_eq(report("conv 3x3 out=1 dilation=3 valid", 6, 6, 1, &t, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "stage 1 'conv 3x3 out=1 dilation=3 valid': kernel 3x3 with "
	                          "dilation 3 (extent 7x7) is larger than the padded input 6x6");
	free(t.text);

	/* A 3-D kernel whose depth is not the input's planes. */
	const char *path = tu_path("two-slices.txt");
	const char *k = "1 2\n3 4\n\n5 6\n7 8\n";
	char chain[600];
	tu_write_file(path, k, strlen(k));
	snprintf(chain, sizeof chain, "conv %s", path);
	ck_assert_int_eq(report(chain, 4, 4, 3, &t, &err), IMF_EINVAL);
	ck_assert_msg(strstr(err.msg, "kernel has 2 slices but the input has 3 channels") != NULL,
	              "%s", err.msg);
	free(t.text);
	/* ... and on 2 planes: one map, 2*2*2 weights */
	ck_assert_int_eq(report(chain, 4, 4, 2, &t, &err), IMF_OK);
	ck_assert_str_eq(t.col[2][2], "4x4x1");
	ck_assert_str_eq(t.col[2][3], "8");
	free(t.text);
}
END_TEST

/* ---- running ----------------------------------------------------------------------- */

static imf_image *run_ok(const char *chain, const imf_image *in)
{
	imf_chain *c = parse_ok(chain);
	imf_image *out = NULL;
	imf_error err = { 0 };
	imf_status st = imf_chain_run(c, in, &out, &err);
	ck_assert_msg(st == IMF_OK, "'%s': %s", chain, err.msg);
	imf_chain_free(c);
	return out;
}

START_TEST(run_sobel_relu_maxpool)
{
	static const double sobel_x[9] = { 1, 0, -1, 2, 0, -2, 1, 0, -1 };
	static const size_t sizes[][2] = { { 9, 7 }, { 8, 8 }, { 5, 11 }, { 2, 2 } };

	for (size_t t = 0; t < COUNT(sizes); t++) {
		size_t w = sizes[t][0], h = sizes[t][1];
		imf_image *in = random_image(w, h, 1, 0, 255, 42 + t);
		imf_image *out = run_ok("conv sobel-x | relu | maxpool 2", in);
		ck_assert_uint_eq(imf_image_width(out), w / 2); /* floor((M - 2)/2) + 1 */
		ck_assert_uint_eq(imf_image_height(out), h / 2);
		ck_assert_int_eq(imf_image_channels(out), 1);
		for (size_t oy = 0; oy < h / 2; oy++)
			for (size_t ox = 0; ox < w / 2; ox++) {
				double m = -INFINITY;
				for (long i = 0; i < 2; i++)
					for (long j = 0; j < 2; j++) {
						double v = naive_corr(in, 0, sobel_x, 3, 3, 1, 1, 1, (long)(2 * oy) + i,
						                      (long)(2 * ox) + j);
						m = fmax(m, fmax(0, v));
					}
				assert_close(px(out, 0, (long)oy, (long)ox), m, 1e-6, "sobel|relu|maxpool");
			}
		imf_image_free(out);
		imf_image_free(in);
	}
}
END_TEST

START_TEST(run_pools_with_stride_and_padding)
{
	static const struct {
		const char *kind;
		int id;
	} kinds[] = { { "maxpool", 0 }, { "minpool", 1 }, { "avgpool", 2 } };
	static const long geo[][3] = { /* K, S, P */
		{ 2, 2, 0 }, { 3, 2, 1 }, { 3, 1, 1 }, { 2, 1, 1 }, { 4, 3, 2 }, { 3, 3, 0 },
	};
	imf_image *in = random_image(7, 6, 2, -50, 50, 7);

	for (size_t k = 0; k < COUNT(kinds); k++) {
		for (size_t g = 0; g < COUNT(geo); g++) {
			char chain[96];
			long K = geo[g][0], S = geo[g][1], P = geo[g][2];
			snprintf(chain, sizeof chain, "%s %ld stride=%ld pad=%ld", kinds[k].kind, K, S, P);
			imf_image *out = run_ok(chain, in);
			long ow = (7 + 2 * P - K) / S + 1, oh = (6 + 2 * P - K) / S + 1;
			ck_assert_uint_eq(imf_image_width(out), (size_t)ow);
			ck_assert_uint_eq(imf_image_height(out), (size_t)oh);
			ck_assert_int_eq(imf_image_channels(out), 2);
			for (int c = 0; c < 2; c++)
				for (long y = 0; y < oh; y++)
					for (long x = 0; x < ow; x++)
						assert_close(px(out, c, y, x),
						             naive_pool(in, c, kinds[k].id, K, S, P, y, x), 1e-6, chain);
			imf_image_free(out);
		}
	}
	/* stride defaults to K */
	imf_image *a = run_ok("avgpool 3", in);
	ck_assert_uint_eq(imf_image_width(a), 2);
	ck_assert_uint_eq(imf_image_height(a), 2);
	assert_close(px(a, 1, 1, 1), naive_pool(in, 1, 2, 3, 3, 0, 1, 1), 1e-6, "avgpool 3");
	imf_image_free(a);
	imf_image_free(in);
}
END_TEST

START_TEST(run_multichannel_kernel_with_bias)
{
	/* slice 1 on plane 1, slice 2 on plane 2, summed, plus the bias */
	static const double s1[9] = { 1, 0, -1, 2, 0, -2, 1, 0, -1 };
	static const double s2[9] = { 0, 1, 0, 1, -4, 1, 0, 1, 0 };
	const char *file = "# two slices\n1 0 -1\n2 0 -2\n1 0 -1\n\n0 1 0\n1 -4 1\n0 1 0\n";
	const char *path = tu_path("slices.txt");
	char chain[600];
	imf_image *in = random_image(6, 5, 2, 0, 255, 99);

	tu_write_file(path, file, strlen(file));
	snprintf(chain, sizeof chain, "conv %s bias=1.5", path);
	imf_image *out = run_ok(chain, in);
	ck_assert_int_eq(imf_image_channels(out), 1);
	ck_assert_uint_eq(imf_image_width(out), 6);
	for (long y = 0; y < 5; y++)
		for (long x = 0; x < 6; x++) {
			double want = naive_corr(in, 0, s1, 3, 3, 1, 1, 1, y, x) +
			              naive_corr(in, 1, s2, 3, 3, 1, 1, 1, y, x) + 1.5;
			assert_close(px(out, 0, y, x), want, 1e-6, "3-D kernel");
		}
	imf_image_free(out);

	/* On one plane it does not fit: the stage is named. */
	imf_image *one = random_image(6, 5, 1, 0, 255, 3);
	imf_chain *c = parse_ok(chain);
	imf_error err = { 0 };
	ck_assert_int_eq(imf_chain_run(c, one, &out, &err), IMF_EINVAL);
	ck_assert_ptr_null(out);
	ck_assert_msg(strstr(err.msg, "stage 1 'conv ") == err.msg &&
	              strstr(err.msg, "': kernel has 2 slices but the input has 1 channel") != NULL,
	              "%s", err.msg);
	imf_chain_free(c);
	imf_image_free(one);
	imf_image_free(in);
}
END_TEST

START_TEST(run_every_activation)
{
	static const struct {
		const char *chain;
		int kind;
		double slope;
	} cases[] = {
		{ "relu", 0, 0 },     { "leaky-relu", 1, 0.01 }, { "leaky-relu=0.2", 1, 0.2 },
		{ "sigmoid", 2, 0 },  { "tanh", 3, 0 },          { "abs", 4, 0 },
	};
	imf_image *in = random_image(5, 4, 2, -6, 6, 5);
	imf_image_row(in, 0, 0)[0] = 0;
	imf_image_row(in, 0, 0)[1] = -0.0f;

	for (size_t i = 0; i < COUNT(cases); i++) {
		imf_image *out = run_ok(cases[i].chain, in);
		for (int c = 0; c < 2; c++)
			for (long y = 0; y < 4; y++)
				for (long x = 0; x < 5; x++) {
					double v = px(in, c, y, x), want = 0;
					switch (cases[i].kind) {
					case 0: want = v > 0 ? v : 0; break;
					case 1: want = v >= 0 ? v : cases[i].slope * v; break;
					case 2: want = 1 / (1 + exp(-v)); break;
					case 3: want = tanh(v); break;
					case 4: want = fabs(v); break;
					}
					assert_close(px(out, c, y, x), want, 1e-6, cases[i].chain);
				}
		imf_image_free(out);
	}
	/* The input is left alone. */
	ck_assert(imf_image_row(in, 0, 0)[1] == 0.0f);
	imf_image_free(in);
}
END_TEST

START_TEST(run_several_kernels_in_order)
{
	static const double k[3][9] = {
		{ 1, 0, -1, 2, 0, -2, 1, 0, -1 }, /* sobel-x */
		{ 1, 2, 1, 0, 0, 0, -1, -2, -1 }, /* sobel-y */
		{ 0, 1, 0, 1, -4, 1, 0, 1, 0 },   /* the inline Laplacian */
	};
	imf_image *in = random_image(7, 5, 1, 0, 255, 11);
	imf_image *out = run_ok("conv sobel-x,sobel-y,[0 1 0; 1 -4 1; 0 1 0]", in);

	ck_assert_int_eq(imf_image_channels(out), 3);
	ck_assert_int_eq(imf_image_has_alpha(out), 0);
	for (int m = 0; m < 3; m++)
		for (long y = 0; y < 5; y++)
			for (long x = 0; x < 7; x++)
				assert_close(px(out, m, y, x), naive_corr(in, 0, k[m], 3, 3, 1, 1, 1, y, x), 1e-6,
				             "map");
	imf_image_free(out);
	imf_image_free(in);

	/* On 2 planes, each 2-D kernel is depthwise: maps kernel by kernel, plane by plane. */
	in = random_image(6, 6, 2, 0, 255, 12);
	out = run_ok("conv sobel-x, sobel-y stride=2", in);
	ck_assert_int_eq(imf_image_channels(out), 4);
	ck_assert_uint_eq(imf_image_width(out), 3); /* floor((6 - 1)/2) + 1 */
	for (int m = 0; m < 4; m++)
		for (long y = 0; y < 3; y++)
			for (long x = 0; x < 3; x++)
				assert_close(px(out, m, y, x), naive_corr(in, m % 2, k[m / 2], 3, 3, 1, 2, 1, y, x),
				             1e-6, "depthwise map");
	imf_image_free(out);
	imf_image_free(in);
}
END_TEST

START_TEST(run_alpha_scale_dilation_normalize)
{
	/* One 2-D kernel keeps a colour image with alpha as one; several give maps only. */
	imf_image *rgba = NULL, *out;
	imf_error err = { 0 };
	ck_assert_int_eq(imf_image_new(4, 4, 4, 1, NULL, &rgba, &err), IMF_OK);
	unsigned long long seed = 5;
	for (int c = 0; c < 4; c++)
		for (size_t y = 0; y < 4; y++)
			for (size_t x = 0; x < 4; x++)
				imf_image_row(rgba, c, y)[x] = (float)(255 * tu_rand(&seed));
	out = run_ok("conv box-3 | relu", rgba);
	ck_assert_int_eq(imf_image_channels(out), 4);
	ck_assert_int_eq(imf_image_has_alpha(out), 1);
	ck_assert(px(out, 3, 2, 2) == px(rgba, 3, 2, 2)); /* alpha under the anchor */
	imf_image_free(out);
	out = run_ok("conv box-3,identity", rgba);
	ck_assert_int_eq(imf_image_channels(out), 6);
	ck_assert_int_eq(imf_image_has_alpha(out), 0);
	ck_assert(px(out, 5, 1, 2) == px(rgba, 2, 1, 2)); /* identity on the blue plane */
	imf_image_free(out);
	imf_image_free(rgba);

	/* scale and dilation: 1/16 Gaussian with taps 2 apart, 'same' padding of 2 */
	static const double g[9] = { 1, 2, 1, 2, 4, 2, 1, 2, 1 };
	imf_image *in = random_image(9, 8, 1, 0, 255, 21);
	out = run_ok("conv 1/16 * [1 2 1; 2 4 2; 1 2 1] dilation=2", in);
	for (long y = 0; y < 8; y++)
		for (long x = 0; x < 9; x++)
			assert_close(px(out, 0, y, x), naive_corr(in, 0, g, 3, 3, 1.0 / 16, 1, 2, y, x), 1e-6,
			             "dilated gaussian");
	imf_image_free(out);

	/* normalize: (v - min) * 255 / (max - min) */
	out = run_ok("normalize", in);
	double lo = INFINITY, hi = -INFINITY;
	for (long y = 0; y < 8; y++)
		for (long x = 0; x < 9; x++) {
			lo = fmin(lo, px(in, 0, y, x));
			hi = fmax(hi, px(in, 0, y, x));
		}
	for (long y = 0; y < 8; y++)
		for (long x = 0; x < 9; x++)
			assert_close(px(out, 0, y, x), (px(in, 0, y, x) - lo) * 255 / (hi - lo), 1e-5,
			             "normalize");
	imf_image_free(out);
	imf_image_free(in);
}
END_TEST

START_TEST(run_border_and_flip_options)
{
	/* replicate border: indices clamped into the image; flip: the kernel rotated 180 degrees */
	static const double w[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	imf_image *in = random_image(5, 4, 1, 0, 255, 31);
	imf_image *out = run_ok("conv [1 2 3; 4 5 6; 7 8 9] border=replicate flip", in);
	for (long y = 0; y < 4; y++)
		for (long x = 0; x < 5; x++) {
			double want = 0;
			for (long i = 0; i < 3; i++)
				for (long j = 0; j < 3; j++) {
					long yy = y - 1 + i, xx = x - 1 + j;
					yy = yy < 0 ? 0 : yy > 3 ? 3 : yy;
					xx = xx < 0 ? 0 : xx > 4 ? 4 : xx;
					want += w[(2 - i) * 3 + (2 - j)] * px(in, 0, yy, xx);
				}
			assert_close(px(out, 0, y, x), want, 1e-6, "replicate+flip");
		}
	imf_image_free(out);
	imf_image_free(in);
}
END_TEST

START_TEST(run_refusals_and_limits)
{
	imf_image *in = random_image(8, 8, 1, 0, 255, 1), *out = (imf_image *)1;
	imf_error err = { 0 };
	imf_chain *c = parse_ok("conv sobel-x | conv 3x3 out=40");

	ck_assert_int_eq(imf_chain_run(c, in, &out, &err), IMF_EINVAL);
	ck_assert_ptr_null(out);
	ck_assert_str_eq(err.msg, "stage 2 'conv 3x3 out=40': a size-only kernel needs --dry-run");
	ck_assert_int_eq(imf_chain_explain(c, in, stdout, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "stage 2 'conv 3x3 out=40': a size-only kernel needs --dry-run");
	imf_chain_free(c);

	/* A stage that fails at run time is named. */
	c = parse_ok("relu | maxpool 9");
	ck_assert_int_eq(imf_chain_run(c, in, &out, &err), IMF_EINVAL);
	ck_assert_ptr_null(out);
	ck_assert_msg(strncmp(err.msg, "stage 2 'maxpool 9': ", 21) == 0, "%s", err.msg);
	imf_chain_free(c);

	/* Limits reach every conv stage: full padding grows 8 to 10 > max_side 9. */
	imf_limits lim;
	imf_limits_default(&lim);
	lim.max_side = 9;
	c = parse_ok("relu | conv sobel-x pad=full");
	imf_chain_set_limits(c, &lim);
	ck_assert_int_eq(imf_chain_run(c, in, &out, &err), IMF_ELIMIT);
	ck_assert_ptr_null(out);
	ck_assert_msg(strncmp(err.msg, "stage 2 'conv sobel-x pad=full': ", 33) == 0, "%s", err.msg);
	imf_chain_free(c);
	imf_image_free(in);
}
END_TEST

START_TEST(chain_from_conv)
{
	imf_kernel *k = NULL;
	imf_conv_params p;
	imf_chain *c = NULL;
	imf_error err = { 0 };
	imf_image *in = random_image(9, 7, 1, 0, 255, 8), *out = NULL, *direct = NULL;

	ck_assert_int_eq(imf_kernel_parse("sobel-x", &k, &err), IMF_OK);
	imf_conv_params_default(&p);
	p.pad_mode = IMF_PAD_VALID;
	p.stride = 2;
	ck_assert_int_eq(imf_conv_run(in, k, &p, &direct, &err), IMF_OK);
	ck_assert_int_eq(imf_chain_from_conv(k, &p, &c, &err), IMF_OK);
	ck_assert_uint_eq(imf_chain_length(c), 1);
	ck_assert_int_eq(imf_chain_shape_only(c), 0);
	ck_assert_int_eq(imf_chain_run(c, in, &out, &err), IMF_OK);
	ck_assert_uint_eq(imf_image_width(out), imf_image_width(direct));
	ck_assert_uint_eq(imf_image_height(out), imf_image_height(direct));
	for (long y = 0; y < (long)imf_image_height(out); y++)
		for (long x = 0; x < (long)imf_image_width(out); x++)
			ck_assert(px(out, 0, y, x) == px(direct, 0, y, x));

	/* Its stage is written as the language would write it. */
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	ck_assert_int_eq(imf_chain_report(c, 9, 7, 1, fp, &err), IMF_OK);
	fclose(fp);
	ck_assert_msg(strstr(buf, "conv sobel-x pad=valid stride=2") != NULL, "%s", buf);
	free(buf);
	imf_chain_free(c);
	imf_image_free(out);
	imf_image_free(direct);
	imf_image_free(in);

	/* A NULL kernel is refused (and a kernel is freed even on failure: ASan checks). */
	ck_assert_int_eq(imf_chain_from_conv(NULL, &p, &c, &err), IMF_EINVAL);
	ck_assert_int_eq(imf_kernel_parse("box-3", &k, &err), IMF_OK);
	ck_assert_int_eq(imf_chain_from_conv(k, NULL, &c, &err), IMF_EINVAL);
	ck_assert_ptr_null(c);
}
END_TEST

/* ---- --explain ---------------------------------------------------------------------- */

static const double worked[25] = {
	60, 113, 56, 139, 85, 73, 121, 54, 84, 128, 131, 99, 70, 129, 127,
	80, 57, 115, 69, 134, 104, 126, 123, 95, 130,
};

static char *explain(const char *chain, const imf_image *in, imf_status want, imf_error *err)
{
	imf_chain *c = parse_ok(chain);
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(fp);
	imf_status st = imf_chain_explain(c, in, fp, err);
	ck_assert_msg(st == want, "'%s': %d %s", chain, st, err->msg);
	fclose(fp);
	imf_chain_free(c);
	return buf;
}

/* The line that starts (after indentation) with start, or NULL. */
static const char *find_line(const char *text, const char *start, char *line, size_t len)
{
	for (const char *p = text; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		const char *q = p;
		while (*q == ' ')
			q++;
		if (strncmp(q, start, strlen(start)) == 0) {
			snprintf(line, len, "%.*s", (int)(n - (size_t)(q - p)), q);
			return line;
		}
		p = nl ? nl + 1 : NULL;
	}
	return NULL;
}

static int ends_with(const char *s, const char *end)
{
	size_t a = strlen(s), b = strlen(end);
	return a >= b && strcmp(s + a - b, end) == 0;
}

START_TEST(explain_conv_worked_example)
{
	imf_image *in = tu_image_from(worked, 5, 5);
	imf_error err = { 0 };
	char line[1024];
	char *out = explain("conv sharpen pad=1", in, IMF_OK, &err);

	ck_assert_msg(strstr(out, "stage 1: conv sharpen pad=1 (5x5 -> 5x5)\n") == out, "%s", out);
	ck_assert_ptr_nonnull(find_line(out, "y_11 = ", line, sizeof line));
	/* 5*60 - 113 - 73 = 114, the padding (row 0, column 0) zero */
	ck_assert_msg(ends_with(line, "= 114"), "%s", line);
	ck_assert_ptr_nonnull(strstr(line, "5*60"));
	ck_assert_str_eq(line, "y_11 = 0*x_00 + -1*x_01 + 0*x_02 + -1*x_10 + 5*x_11 + -1*x_12 + "
	                       "0*x_20 + -1*x_21 + 0*x_22 = 0*0 + -1*0 + 0*0 + -1*0 + 5*60 + -1*113 "
	                       "+ 0*0 + -1*73 + 0*121 = 114");
	/* y_33 = 5*70 - 54 - 99 - 129 - 115 = -47 */
	ck_assert_ptr_nonnull(find_line(out, "y_33 = ", line, sizeof line));
	ck_assert_msg(ends_with(line, "= -47"), "%s", line);
	/* the bottom-right corner reads padding row and column 6 */
	ck_assert_ptr_nonnull(find_line(out, "y_55 = ", line, sizeof line));
	ck_assert_ptr_nonnull(strstr(line, "-1*x_65"));
	ck_assert_msg(ends_with(line, "= 421"), "%s", line); /* 650 - 95 - 134 */
	free(out);

	/* A replicate border shows the value it supplied, a scale and a bias are written. */
	out = explain("conv 1/16*[1 2 1; 2 4 2; 1 2 1] border=replicate bias=2", in, IMF_OK, &err);
	ck_assert_ptr_nonnull(find_line(out, "y_11 = ", line, sizeof line));
	ck_assert_msg(strstr(line, "y_11 = 1/16 * (1*x_00 + 2*x_01 + ") == line, "%s", line);
	ck_assert_ptr_nonnull(strstr(line, ") + 2 = 1/16 * (1*60 + 2*60 + 1*113 + 2*60 + 4*60"));
	/* (60+120+113+120+240+226+73+146+121)/16 + 2 = 1219/16 + 2 = 78.1875 */
	ck_assert_msg(ends_with(line, "= 78.1875"), "%s", line);
	free(out);

	/*
	 * sobel (magnitude) at (1,1), stride 2, bias 1: sobel-x = -2*113 - 121 = -347,
	 * sobel-y = -2*73 - 121 = -267, y = sqrt(347^2 + 267^2) + 1.
	 */
	out = explain("conv sobel stride=2 bias=1", in, IMF_OK, &err);
	ck_assert_ptr_nonnull(strstr(out, "stage 1: conv sobel stride=2 bias=1 (5x5 -> 3x3)\n"));
	ck_assert_ptr_nonnull(find_line(out, "sobel-x_11 = ", line, sizeof line));
	ck_assert_msg(ends_with(line, "= -347"), "%s", line);
	ck_assert_ptr_nonnull(find_line(out, "sobel-y_11 = ", line, sizeof line));
	ck_assert_msg(ends_with(line, "= -267"), "%s", line);
	ck_assert_ptr_nonnull(find_line(out, "y_11 = ", line, sizeof line));
	const char *mag = "y_11 = sqrt(sobel-x_11^2 + sobel-y_11^2) + 1 = sqrt((-347)^2 + (-267)^2) + 1 = ";
	ck_assert_msg(strncmp(line, mag, strlen(mag)) == 0, "%s", line);
	assert_close(strtod(line + strlen(mag), NULL), sqrt(347.0 * 347 + 267.0 * 267) + 1, 1e-7,
	             "magnitude");
	free(out);
	imf_image_free(in);

	/* A 3-D kernel sums over the planes: x1_.. and x2_.., plus the bias. */
	static const double p2[8] = { 1, 2, 3, 4, 10, 20, 30, 40 };
	imf_image *two = NULL;
	ck_assert_int_eq(imf_image_new(2, 2, 2, 0, NULL, &two, &err), IMF_OK);
	for (int c = 0; c < 2; c++)
		for (size_t y = 0; y < 2; y++)
			for (size_t x = 0; x < 2; x++)
				imf_image_row(two, c, y)[x] = (float)p2[c * 4 + y * 2 + x];
	const char *path = tu_path("k3.txt");
	const char *k3 = "1 0\n0 1\n\n0.5 0.5\n0.5 0.5\n";
	char chain[600];
	tu_write_file(path, k3, strlen(k3));
	snprintf(chain, sizeof chain, "conv %s valid bias=-1", path);
	out = explain(chain, two, IMF_OK, &err);
	ck_assert_ptr_nonnull(find_line(out, "y_11 = ", line, sizeof line));
	/* 1 + 4 + 0.5 * (10 + 20 + 30 + 40) - 1 = 54 */
	ck_assert_str_eq(line, "y_11 = 1*x1_11 + 0*x1_12 + 0*x1_21 + 1*x1_22 + 0.5*x2_11 + 0.5*x2_12 + "
	                       "0.5*x2_21 + 0.5*x2_22 + -1 = 1*1 + 0*2 + 0*3 + 1*4 + 0.5*10 + 0.5*20 + "
	                       "0.5*30 + 0.5*40 + -1 = 54");
	free(out);
	imf_image_free(two);
}
END_TEST

START_TEST(explain_pool_relu_and_planes)
{
	imf_image *in = tu_image_from(worked, 5, 5);
	imf_error err = { 0 };
	char line[1024];
	char *out = explain("maxpool 2 | avgpool 2 pad=1", in, IMF_OK, &err);

	ck_assert_ptr_nonnull(strstr(out, "stage 1: maxpool 2 (5x5 -> 2x2)\n"));
	ck_assert_ptr_nonnull(find_line(out, "y_11 = max(", line, sizeof line));
	ck_assert_str_eq(line, "y_11 = max(x_11, x_12, x_21, x_22) = max(60, 113, 73, 121) = 121");
	ck_assert_ptr_nonnull(find_line(out, "y_22 = max(", line, sizeof line));
	ck_assert_str_eq(line, "y_22 = max(x_33, x_34, x_43, x_44) = max(70, 129, 115, 69) = 129");
	/* stage 2 on [121 139; 131 129] with padding 1: the corner window holds one real cell */
	ck_assert_ptr_nonnull(strstr(out, "stage 2: avgpool 2 pad=1 (2x2 -> 2x2)\n"));
	ck_assert_ptr_nonnull(find_line(out, "y_11 = avg(", line, sizeof line));
	ck_assert_str_eq(line, "y_11 = avg(x_11) = (121) / 1 = 121");
	free(out);

	static const double neg[4] = { -3, 2, 0.5, -0.25 };
	imf_image *small = tu_image_from(neg, 2, 2);
	out = explain("relu | leaky-relu=0.5", small, IMF_OK, &err);
	ck_assert_ptr_nonnull(find_line(out, "y_11 = relu(", line, sizeof line));
	ck_assert_str_eq(line, "y_11 = relu(-3) = 0");
	ck_assert_ptr_nonnull(find_line(out, "y_21 = relu(", line, sizeof line));
	ck_assert_str_eq(line, "y_21 = relu(0.5) = 0.5");
	free(out);
	out = explain("leaky-relu=0.5", small, IMF_OK, &err);
	ck_assert_ptr_nonnull(find_line(out, "y_22 = ", line, sizeof line));
	ck_assert_str_eq(line, "y_22 = leaky-relu(-0.25) = 0.5*-0.25 = -0.125");
	free(out);

	imf_image_free(small);

	/*
	 * Several maps are numbered: y1 is identity's map, y2 sobel-y's.  At (1,1)
	 * (input (2,2), no padding): sobel-y = 60 + 2*113 + 56 - 131 - 2*99 - 70 = -57.
	 */
	out = explain("conv identity,sobel-y pad=valid | normalize", in, IMF_OK, &err);
	ck_assert_ptr_nonnull(strstr(out, "stage 1: conv identity,sobel-y pad=valid (5x5 -> 3x3x2)\n"));
	ck_assert_ptr_nonnull(find_line(out, "y1_11 = ", line, sizeof line));
	ck_assert_msg(ends_with(line, "= 121"), "%s", line);
	ck_assert_ptr_nonnull(find_line(out, "y2_11 = ", line, sizeof line));
	ck_assert_msg(strstr(line, "y2_11 = 1*x_11 + 2*x_12 + 1*x_13 + 0*x_21") == line, "%s", line);
	ck_assert_msg(ends_with(line, "= -57"), "%s", line);
	ck_assert_ptr_nonnull(strstr(out, "stage 2: normalize (3x3x2 -> 3x3x2)\n"));
	free(out);

	/* On two input planes the variables are numbered too: x2_11. */
	imf_image *two = random_image(3, 3, 2, 0, 10, 4);
	out = explain("conv identity", two, IMF_OK, &err);
	ck_assert_ptr_nonnull(find_line(out, "y2_11 = ", line, sizeof line));
	ck_assert_ptr_nonnull(strstr(line, " + 1*x2_11 + "));
	free(out);
	imf_image_free(two);
	imf_image_free(in);
}
END_TEST

START_TEST(explain_limits)
{
	imf_image *big = random_image(20, 20, 1, 0, 1, 3), *ok = random_image(16, 16, 1, 0, 1, 3);
	imf_error err = { 0 };
	char *out = explain("relu", big, IMF_EINVAL, &err);
	ck_assert_str_eq(err.msg, "--explain needs an input of at most 16x16, not 20x20");
	free(out);
	out = explain("relu", ok, IMF_OK, &err);
	free(out);
	imf_image_free(big);
	imf_image_free(ok);
}
END_TEST

static Suite *chain_suite(void)
{
	Suite *s = suite_create("chain");
	TCase *tc = tcase_create("chain");
	tcase_add_test(tc, parse_valid_stage_counts);
	tcase_add_test(tc, parse_valid_parameters);
	tcase_add_test(tc, parse_errors);
	tcase_add_test(tc, parse_kernel_errors_and_quoting);
	tcase_add_test(tc, report_issue_example);
	tcase_add_test(tc, report_receptive_fields);
	tcase_add_test(tc, report_stage_that_does_not_fit);
	tcase_add_test(tc, run_sobel_relu_maxpool);
	tcase_add_test(tc, run_pools_with_stride_and_padding);
	tcase_add_test(tc, run_multichannel_kernel_with_bias);
	tcase_add_test(tc, run_every_activation);
	tcase_add_test(tc, run_several_kernels_in_order);
	tcase_add_test(tc, run_alpha_scale_dilation_normalize);
	tcase_add_test(tc, run_border_and_flip_options);
	tcase_add_test(tc, run_refusals_and_limits);
	tcase_add_test(tc, chain_from_conv);
	tcase_add_test(tc, explain_conv_worked_example);
	tcase_add_test(tc, explain_pool_relu_and_planes);
	tcase_add_test(tc, explain_limits);
	suite_add_tcase(s, tc);
	return s;
}

IMF_TEST_MAIN(chain_suite)
