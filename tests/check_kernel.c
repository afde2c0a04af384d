/*
 * check_kernel.c - the kernel module: built-ins, kernel files, inline specs,
 * printing, and every error message.
 *
 * Most tests are tables (spec -> expected matrix, spec -> expected message),
 * so the tables double as the specification of what a spec may say.
 */
#include "testutil.h"

#include "internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXW 25

static imf_kernel *must_parse(const char *spec)
{
	imf_kernel *k = NULL;
	imf_error err = {0};
	imf_status st = imf_kernel_parse(spec, &k, &err);
	ck_assert_msg(st == IMF_OK, "'%s': %s", spec, err.msg);
	ck_assert_ptr_nonnull(k);
	return k;
}

static imf_kernel *must_builtin(const char *name)
{
	imf_kernel *k = NULL;
	imf_error err = {0};
	imf_status st = imf_kernel_builtin(name, &k, &err);
	ck_assert_msg(st == IMF_OK, "built-in '%s': %s", name, err.msg);
	ck_assert_ptr_nonnull(k);
	return k;
}

static void check_matrix(const char *what, const imf_matrix *m, size_t rows, size_t cols,
                         double scale, const double *w)
{
	ck_assert_msg(m->rows == rows && m->cols == cols, "%s: %zu rows x %zu cols, want %zu x %zu",
	              what, m->rows, m->cols, rows, cols);
	ck_assert_msg(m->scale == scale, "%s: scale %.17g, want %.17g", what, m->scale, scale);
	for (size_t i = 0; i < rows * cols; i++)
		ck_assert_msg(m->w[i] == w[i], "%s: weight %zu is %.17g, want %.17g", what, i, m->w[i],
		              w[i]);
}

/* Identical weights, bit for bit (so -0 and 0 differ). */
static void check_same_kernel(const char *what, const imf_kernel *a, const imf_kernel *b)
{
	ck_assert_msg(a->combine == b->combine && a->count == b->count, "%s: structure differs",
	              what);
	ck_assert_str_eq(a->description, b->description);
	for (size_t i = 0; i < a->count; i++) {
		const imf_matrix *ma = &a->m[i], *mb = &b->m[i];
		ck_assert_msg(ma->rows == mb->rows && ma->cols == mb->cols, "%s: size differs", what);
		ck_assert_msg(memcmp(&ma->scale, &mb->scale, sizeof ma->scale) == 0,
		              "%s: scale %.17g became %.17g", what, ma->scale, mb->scale);
		ck_assert_msg(memcmp(ma->w, mb->w, ma->rows * ma->cols * sizeof *ma->w) == 0,
		              "%s: weights differ", what);
		if (a->part_names)
			ck_assert_str_eq(a->part_names[i], b->part_names[i]);
	}
}

/* What imf_kernel_print writes, as a malloc'd string. */
static char *print_to_string(const imf_kernel *k)
{
	FILE *fp = tmpfile();
	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(imf_kernel_print(k, fp), 0);
	long size = ftell(fp);
	ck_assert_int_ge(size, 0);
	rewind(fp);
	char *buf = malloc((size_t)size + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)size, fp), (size_t)size);
	buf[size] = '\0';
	fclose(fp);
	return buf;
}

/* ---- built-ins ----------------------------------------------------------- */

START_TEST(test_builtins_parse)
{
	size_t n = imf_kernel_builtin_count();
	ck_assert_uint_ge(n, 24);
	ck_assert_ptr_null(imf_kernel_builtin_name(n));
	for (size_t i = 0; i < n; i++) {
		const char *name = imf_kernel_builtin_name(i);
		ck_assert_ptr_nonnull(name);
		ck_assert_msg(strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") == strlen(name),
		              "bad built-in name '%s'", name);
		for (size_t j = 0; j < i; j++)
			ck_assert_msg(strcmp(imf_kernel_builtin_name(j), name) != 0,
			              "built-in '%s' twice", name);
		imf_kernel *k = must_builtin(name);
		ck_assert_str_eq(imf_kernel_name(k), name);
		ck_assert_msg(strlen(imf_kernel_description(k)) > 10, "'%s' has no description", name);
		ck_assert_uint_ge(k->count, 1);
		for (size_t j = 0; j < k->count; j++) {
			ck_assert_uint_ge(k->m[j].rows, 1);
			ck_assert_uint_ge(k->m[j].cols, 1);
			ck_assert(isfinite(k->m[j].scale));
		}
		imf_kernel_free(k);
	}
}
END_TEST

/* The weights the issue gives, written out. */
static const struct {
	const char *name;
	size_t rows, cols;
	double scale;
	double w[MAXW];
} builtin_cases[] = {
	{"identity", 3, 3, 1, {0, 0, 0, 0, 1, 0, 0, 0, 0}},
	{"sobel-x", 3, 3, 1, {1, 0, -1, 2, 0, -2, 1, 0, -1}},
	{"sobel-y", 3, 3, 1, {1, 2, 1, 0, 0, 0, -1, -2, -1}},
	{"prewitt-x", 3, 3, 1, {1, 0, -1, 1, 0, -1, 1, 0, -1}},
	{"prewitt-y", 3, 3, 1, {1, 1, 1, 0, 0, 0, -1, -1, -1}},
	{"scharr-x", 3, 3, 1, {3, 0, -3, 10, 0, -10, 3, 0, -3}},
	{"scharr-y", 3, 3, 1, {3, 10, 3, 0, 0, 0, -3, -10, -3}},
	{"laplacian", 3, 3, 1, {-1, -1, -1, -1, 8, -1, -1, -1, -1}},
	{"laplacian-4", 3, 3, 1, {0, -1, 0, -1, 4, -1, 0, -1, 0}},
	{"sharpen", 3, 3, 1, {0, -1, 0, -1, 5, -1, 0, -1, 0}},
	{"sharpen-strong", 3, 3, 1, {-1, -1, -1, -1, 9, -1, -1, -1, -1}},
	{"box-3", 3, 3, 1.0 / 9, {1, 1, 1, 1, 1, 1, 1, 1, 1}},
	{"box-5", 5, 5, 1.0 / 25, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	                          1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
	{"gaussian-3", 3, 3, 1.0 / 16, {1, 2, 1, 2, 4, 2, 1, 2, 1}},
	{"gaussian-5", 5, 5, 1.0 / 256, {1, 4, 6, 4, 1, 4, 16, 24, 16, 4, 6, 24, 36,
	                                24, 6, 4, 16, 24, 16, 4, 1, 4, 6, 4, 1}},
	{"emboss", 3, 3, 1, {-2, -1, 0, -1, 1, 1, 0, 1, 2}},
	{"roberts-x", 2, 2, 1, {1, 0, 0, -1}},
	{"roberts-y", 2, 2, 1, {0, 1, -1, 0}},
	{"unsharp-5", 5, 5, -1.0 / 256, {1, 4, 6, 4, 1, 4, 16, 24, 16, 4, 6, 24, -476,
	                                24, 6, 4, 16, 24, 16, 4, 1, 4, 6, 4, 1}},
	{"log-5", 5, 5, 1, {0, 0, -1, 0, 0, 0, -1, -2, -1, 0, -1, -2, 16,
	                    -2, -1, 0, -1, -2, -1, 0, 0, 0, -1, 0, 0}},
	{"motion-blur-5", 5, 5, 1.0 / 5, {1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1,
	                                 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1}},
};

START_TEST(test_builtin_weights)
{
	for (size_t i = 0; i < sizeof builtin_cases / sizeof builtin_cases[0]; i++) {
		imf_kernel *k = must_builtin(builtin_cases[i].name);
		ck_assert_int_eq(k->combine, IMF_COMBINE_NONE);
		ck_assert_uint_eq(k->count, 1);
		ck_assert_ptr_null(k->part_names);
		check_matrix(builtin_cases[i].name, &k->m[0], builtin_cases[i].rows,
		             builtin_cases[i].cols, builtin_cases[i].scale, builtin_cases[i].w);
		imf_kernel_free(k);
	}
}
END_TEST

START_TEST(test_gaussian5_sum)
{
	imf_kernel *k = must_builtin("gaussian-5");
	static const double row[5] = {1, 4, 6, 4, 1};
	double sum = 0;
	for (size_t y = 0; y < 5; y++)
		for (size_t x = 0; x < 5; x++) {
			ck_assert(k->m[0].w[y * 5 + x] == row[y] * row[x]);
			sum += k->m[0].w[y * 5 + x];
		}
	ck_assert(sum == 256);
	ck_assert(k->m[0].scale == 1.0 / 256);
	imf_kernel_free(k);
}
END_TEST

static const struct {
	const char *name, *a, *b;
} compound_cases[] = {
	{"sobel", "sobel-x", "sobel-y"},
	{"prewitt", "prewitt-x", "prewitt-y"},
	{"scharr", "scharr-x", "scharr-y"},
};

START_TEST(test_builtin_compound)
{
	for (size_t i = 0; i < sizeof compound_cases / sizeof compound_cases[0]; i++) {
		imf_kernel *k = must_builtin(compound_cases[i].name);
		imf_kernel *a = must_builtin(compound_cases[i].a);
		imf_kernel *b = must_builtin(compound_cases[i].b);
		ck_assert_int_eq(k->combine, IMF_COMBINE_MAGNITUDE);
		ck_assert_uint_eq(k->count, 2);
		ck_assert_ptr_nonnull(k->part_names);
		ck_assert_str_eq(k->part_names[0], compound_cases[i].a);
		ck_assert_str_eq(k->part_names[1], compound_cases[i].b);
		check_matrix(compound_cases[i].a, &k->m[0], 3, 3, 1, a->m[0].w);
		check_matrix(compound_cases[i].b, &k->m[1], 3, 3, 1, b->m[0].w);
		imf_kernel_free(k);
		imf_kernel_free(a);
		imf_kernel_free(b);
	}
}
END_TEST

/* Built-in names also match case-insensitively and with '_' for '-'. */
START_TEST(test_builtin_name_forms)
{
	static const char *const forms[] = {"sobel-x", "sobel_x", "SOBEL-X", "Sobel_X", " sobel-x "};
	for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
		imf_kernel *k = must_parse(forms[i]);
		ck_assert_str_eq(imf_kernel_name(k), "sobel-x");
		imf_kernel_free(k);
	}
	imf_kernel *k = must_builtin("MOTION_BLUR_5");
	ck_assert_str_eq(imf_kernel_name(k), "motion-blur-5");
	imf_kernel_free(k);

	imf_error err = {0};
	k = (imf_kernel *)&err; /* must be reset to NULL on failure */
	ck_assert_int_eq(imf_kernel_builtin("sobelx", &k, &err), IMF_EINVAL);
	ck_assert_ptr_null(k);
	ck_assert_str_eq(err.msg,
	                 "kernel: unknown kernel 'sobelx' (see --list-kernels); did you mean 'sobel-x'?");
}
END_TEST

/* ---- inline specs -------------------------------------------------------- */

static const struct {
	const char *spec;
	size_t rows, cols;
	double scale;
	double w[MAXW];
} inline_cases[] = {
	{"0 -1 0; -1 5 -1; 0 -1 0", 3, 3, 1, {0, -1, 0, -1, 5, -1, 0, -1, 0}},
	{"1/16 * 1 2 1; 2 4 2; 1 2 1", 3, 3, 1.0 / 16, {1, 2, 1, 2, 4, 2, 1, 2, 1}},
	{"1/16*[1 2 1; 2 4 2; 1 2 1]", 3, 3, 1.0 / 16, {1, 2, 1, 2, 4, 2, 1, 2, 1}},
	{"[1 2 1; 2 4 2; 1 2 1]", 3, 3, 1, {1, 2, 1, 2, 4, 2, 1, 2, 1}},
	{"[1, 2, 1; 2, 4, 2; 1, 2, 1]", 3, 3, 1, {1, 2, 1, 2, 4, 2, 1, 2, 1}},
	{"1,2,1;2,4,2;1,2,1;", 3, 3, 1, {1, 2, 1, 2, 4, 2, 1, 2, 1}},
	{"1 2 1,; 2 4 2, ;1 2 1,", 3, 3, 1, {1, 2, 1, 2, 4, 2, 1, 2, 1}},
	{"  0.0625 *  [ 1 2 1 ;2 4 2; 1 2 1 ]  ", 3, 3, 0.0625, {1, 2, 1, 2, 4, 2, 1, 2, 1}},
	{"-1/256 * [1]", 1, 1, -1.0 / 256, {1}},
	{"1 2\n3 4", 2, 2, 1, {1, 2, 3, 4}},
	/* even sizes, rows and columns */
	{"1 0; 0 -1", 2, 2, 1, {1, 0, 0, -1}},
	{"1 -1", 1, 2, 1, {1, -1}},
	{"1 2 3 4 5", 1, 5, 1, {1, 2, 3, 4, 5}},
	{"1; 2; 3", 3, 1, 1, {1, 2, 3}},
	{"1 2 3 4; 5 6 7 8", 2, 4, 1, {1, 2, 3, 4, 5, 6, 7, 8}},
	{"7", 1, 1, 1, {7}},
	{"1/9", 1, 1, 1, {1.0 / 9}},
	/* fractions, decimals, scientific */
	{"1/2 -3/4 +1/4 0.5/2", 1, 4, 1, {0.5, -0.75, 0.25, 0.25}},
	{"1e-3, -2.5E+2, .5, 5., +7, -0", 1, 6, 1, {1e-3, -250, 0.5, 5, 7, -0.0}},
	{"1e2/-4e1", 1, 1, 1, {-2.5}},
	{"2.5e-1 * 4 8", 1, 2, 0.25, {4, 8}},
	{"3/2*1", 1, 1, 1.5, {1}},
};

START_TEST(test_inline_specs)
{
	for (size_t i = 0; i < sizeof inline_cases / sizeof inline_cases[0]; i++) {
		imf_kernel *k = must_parse(inline_cases[i].spec);
		ck_assert_str_eq(imf_kernel_name(k), "inline");
		ck_assert_str_eq(imf_kernel_description(k), "");
		ck_assert_uint_eq(k->count, 1);
		check_matrix(inline_cases[i].spec, &k->m[0], inline_cases[i].rows, inline_cases[i].cols,
		             inline_cases[i].scale, inline_cases[i].w);
		imf_kernel_free(k);
	}
	imf_kernel *k = must_parse("-0");
	ck_assert(signbit(k->m[0].w[0])); /* written as -0, kept as -0 */
	imf_kernel_free(k);
}
END_TEST

START_TEST(test_inline_magnitude)
{
	imf_kernel *k = must_parse("magnitude sobel-x, scharr-y");
	ck_assert_int_eq(k->combine, IMF_COMBINE_MAGNITUDE);
	ck_assert_uint_eq(k->count, 2);
	ck_assert_str_eq(k->part_names[0], "sobel-x");
	ck_assert_str_eq(k->part_names[1], "scharr-y");
	ck_assert_str_eq(imf_kernel_name(k), "inline");
	imf_kernel_free(k);
}
END_TEST

/* Every side up to 255 is accepted; one more is refused with the full size. */
static char *ones_spec(size_t rows, size_t cols, const char *row_sep)
{
	size_t len = rows * (cols * 2 + strlen(row_sep)) + 1;
	char *s = malloc(len), *p = s;
	ck_assert_ptr_nonnull(s);
	for (size_t y = 0; y < rows; y++) {
		for (size_t x = 0; x < cols; x++) {
			*p++ = '1';
			*p++ = ' ';
		}
		strcpy(p, row_sep);
		p += strlen(row_sep);
	}
	*p = '\0';
	return s;
}

START_TEST(test_size_limit)
{
	static const struct {
		size_t rows, cols;
		const char *msg;
	} cases[] = {
		{255, 255, NULL},
		{1, 255, NULL},
		{255, 1, NULL},
		{3, 300, "kernel: 300x3 is over the --max-kernel limit of 255 per side (raise it with "
		         "--max-kernel)"},
		{256, 2, "kernel: 2x256 is over the --max-kernel limit of 255 per side (raise it with "
		         "--max-kernel)"},
		{256, 256, "kernel: 256x256 is over the --max-kernel limit of 255 per side (raise it "
		           "with --max-kernel)"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		for (int file = 0; file < 2; file++) {
			char *spec = ones_spec(cases[i].rows, cases[i].cols, file ? "\n" : ";");
			imf_kernel *k = NULL;
			imf_error err = {0};
			imf_status st = file ? imf_kernel_from_text(spec, "big", &k, &err)
			                     : imf_kernel_parse(spec, &k, &err);
			if (cases[i].msg) {
				ck_assert_int_eq(st, IMF_EINVAL);
				ck_assert_ptr_null(k);
				ck_assert_str_eq(err.msg, cases[i].msg);
			} else {
				ck_assert_msg(st == IMF_OK, "%zux%zu: %s", cases[i].cols, cases[i].rows,
				              err.msg);
				ck_assert_uint_eq(k->m[0].rows, cases[i].rows);
				ck_assert_uint_eq(k->m[0].cols, cases[i].cols);
			}
			imf_kernel_free(k);
			free(spec);
		}
	}
}
END_TEST

/*
 * imf_kernel_parse_limited: the side limit comes from imf_limits.max_kernel
 * for every source (inline, file, built-in, magnitude parts); NULL is the
 * default 255; 0 and anything over IMF_KERNEL_SIDE_CEILING are the ceiling,
 * whose message names no option (nothing raises it).
 */
START_TEST(test_max_kernel)
{
	enum { INLINE, FILE_, NAME };
	static const struct {
		size_t max; /* lim.max_kernel; (size_t)-1: lim is NULL */
		int how;
		size_t rows, cols; /* of a ones_spec(), or 0 for name */
		const char *name;
		const char *msg; /* NULL: parses, rows x cols */
	} cases[] = {
		{5, INLINE, 5, 5, NULL, NULL},
		{5, INLINE, 6, 5, NULL,
		 "kernel: 5x6 is over the --max-kernel limit of 5 per side (raise it with --max-kernel)"},
		{5, FILE_, 1, 6, NULL,
		 "kernel: 6x1 is over the --max-kernel limit of 5 per side (raise it with --max-kernel)"},
		{1000, INLINE, 3, 1000, NULL, NULL},
		{1000, FILE_, 1001, 1, NULL,
		 "kernel: 1x1001 is over the --max-kernel limit of 1000 per side (raise it with "
		 "--max-kernel)"},
		{(size_t)-1, INLINE, 255, 1, NULL, NULL},
		{(size_t)-1, INLINE, 1, 256, NULL,
		 "kernel: 256x1 is over the --max-kernel limit of 255 per side (raise it with "
		 "--max-kernel)"},
		{0, INLINE, 1, 300, NULL, NULL},
		{0, INLINE, 1, IMF_KERNEL_SIDE_CEILING + 1, NULL,
		 "kernel: 65536x1 is over the limit of 65535 per side"},
		{70000, FILE_, IMF_KERNEL_SIDE_CEILING + 1, 1, NULL,
		 "kernel: 1x65536 is over the limit of 65535 per side"},
		{2, NAME, 2, 2, "roberts-x", NULL},
		{2, NAME, 0, 0, "sobel-x",
		 "kernel: 3x3 is over the --max-kernel limit of 2 per side (raise it with --max-kernel)"},
		/* The parts of a magnitude kernel are held to the limit too. */
		{2, NAME, 0, 0, "sobel",
		 "kernel: 3x3 is over the --max-kernel limit of 2 per side (raise it with --max-kernel)"},
		{2, INLINE, 0, 0, "magnitude roberts-x roberts-y", NULL},
		{1, INLINE, 0, 0, "magnitude roberts-x roberts-y",
		 "kernel: 2x2 is over the --max-kernel limit of 1 per side (raise it with --max-kernel)"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		imf_limits lim;
		imf_kernel *k = NULL;
		imf_error err = {0};
		char *text = NULL;
		const char *spec = cases[i].name;
		imf_status st;

		imf_limits_default(&lim);
		lim.max_kernel = cases[i].max;
		if (!spec) {
			text = ones_spec(cases[i].rows, cases[i].cols, cases[i].how == FILE_ ? "\n" : ";");
			spec = text;
			if (cases[i].how == FILE_) {
				tu_write_file(tu_path("limited.txt"), text, strlen(text));
				spec = tu_path("limited.txt");
			}
		}
		st = imf_kernel_parse_limited(spec, cases[i].max == (size_t)-1 ? NULL : &lim, &k,
		                              &err);
		if (cases[i].msg) {
			ck_assert_msg(st == IMF_EINVAL, "case %zu: status %d (%s)", i, (int)st, err.msg);
			ck_assert_ptr_null(k);
			ck_assert_str_eq(err.msg, cases[i].msg);
		} else {
			ck_assert_msg(st == IMF_OK, "case %zu: %s", i, err.msg);
			if (cases[i].rows) {
				ck_assert_uint_eq(k->m[0].rows, cases[i].rows);
				ck_assert_uint_eq(k->m[0].cols, cases[i].cols);
			}
		}
		imf_kernel_free(k);
		free(text);
	}
}
END_TEST

/* The limit holds in every slice of a kernel file, not only the first. */
START_TEST(test_max_kernel_slices)
{
	imf_limits lim;
	imf_kernel *k = NULL;
	imf_error err = {0};
	const char *path = tu_path("slices-limited.txt");
	const char *text = "1 2\n3 4\n\n1 2 3\n";

	imf_limits_default(&lim);
	lim.max_kernel = 2;
	tu_write_file(path, text, strlen(text));
	ck_assert_int_eq(imf_kernel_parse_limited(path, &lim, &k, &err), IMF_EINVAL);
	ck_assert_ptr_null(k);
	ck_assert_str_eq(err.msg, "kernel: 3x1 is over the --max-kernel limit of 2 per side (raise "
	                          "it with --max-kernel)");
	lim.max_kernel = 3;
	ck_assert_int_eq(imf_kernel_parse_limited(path, &lim, &k, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "kernel: slice 2 is 3x1, expected 2x2");
}
END_TEST

/*
 * imf_chain_parse_limited: every kernel of a conv stage, and a size-only
 * kernel (HxW, printed width x height), meets max_kernel; the image limits
 * go to each stage's output.
 */
START_TEST(test_max_kernel_chain)
{
	static const struct {
		size_t max;
		const char *chain;
		const char *msg;
	} cases[] = {
		{3, "conv [1 1 1], sobel-x | relu", NULL},
		{2, "conv [1 1], sobel-x | relu",
		 "stage 1 'conv [1 1], sobel-x': kernel: 3x3 is over the --max-kernel limit of 2 per "
		 "side (raise it with --max-kernel)"},
		{4, "relu | conv 4x5 out=2",
		 "stage 2 'conv 4x5 out=2': kernel 5x4 is over the --max-kernel limit of 4 per side "
		 "(raise it with --max-kernel)"},
		{5, "relu | conv 4x5 out=2", NULL},
		{0, "conv 70000x1 out=2",
		 "stage 1 'conv 70000x1 out=2': kernel 1x70000 is over the limit of 65535 per side"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		imf_limits lim;
		imf_chain *c = NULL;
		imf_error err = {0};
		imf_status st;

		imf_limits_default(&lim);
		lim.max_kernel = cases[i].max;
		st = imf_chain_parse_limited(cases[i].chain, &lim, &c, &err);
		if (cases[i].msg) {
			ck_assert_msg(st == IMF_EINVAL, "case %zu: status %d (%s)", i, (int)st, err.msg);
			ck_assert_ptr_null(c);
			ck_assert_str_eq(err.msg, cases[i].msg);
		} else {
			ck_assert_msg(st == IMF_OK, "case %zu: %s", i, err.msg);
		}
		imf_chain_free(c);
	}
}
END_TEST

/* The image limits given to imf_chain_parse_limited hold for each stage's output. */
START_TEST(test_chain_limits_outputs)
{
	static const double v[16] = {0};
	imf_image *in = tu_image_from(v, 4, 4), *out = NULL;
	imf_limits lim;
	imf_chain *c = NULL;
	imf_error err = {0};

	imf_limits_default(&lim);
	lim.max_pixels = 20;
	ck_assert_int_eq(imf_chain_parse_limited("conv identity | relu", &lim, &c, &err), IMF_OK);
	ck_assert_int_eq(imf_chain_run(c, in, &out, &err), IMF_OK);
	imf_image_free(out);
	out = NULL;
	imf_chain_free(c);
	ck_assert_int_eq(imf_chain_parse_limited("conv identity pad=2", &lim, &c, &err), IMF_OK);
	ck_assert_int_eq(imf_chain_run(c, in, &out, &err), IMF_ELIMIT);
	ck_assert_ptr_null(out);
	ck_assert_str_eq(err.msg, "stage 1 'conv identity pad=2': output: 6x6 is 36 pixels, over "
	                          "the --max-pixels limit of 20 (raise it with --max-pixels)");
	imf_chain_free(c);
	imf_image_free(in);
}
END_TEST

/* ---- kernel files -------------------------------------------------------- */

static const struct {
	const char *text;
	const char *desc;
	size_t rows, cols;
	double scale;
	double w[MAXW];
} text_cases[] = {
	{"# Edge\n1 0 -1\n2 0 -2\n1 0 -1\n", "Edge", 3, 3, 1, {1, 0, -1, 2, 0, -2, 1, 0, -1}},
	{"#\n#   Spaced out  \n# more\nscale 1/2\n1 2;\n3 4,\n", "Spaced out", 2, 2, 0.5, {1, 2, 3, 4}},
	{"#No space\n1,2\n3,4", "No space", 2, 2, 1, {1, 2, 3, 4}},
	{"1 2  # a trailing comment\n# a comment line is not a blank one\n3 4 # another\n\n\n", "",
	 2, 2, 1, {1, 2, 3, 4}},
	{"\n\n# Blank lines above\n\n\nscale 2\n\n1 2\n3 4\n   \n", "Blank lines above", 2, 2, 2,
	 {1, 2, 3, 4}},
	{"1 2\r\n3 4\r\n", "", 2, 2, 1, {1, 2, 3, 4}},
	{"1 2; 3 4\n", "", 2, 2, 1, {1, 2, 3, 4}},
	{"1 2\nscale -1/256\n3 4\n", "", 2, 2, -1.0 / 256, {1, 2, 3, 4}},
	{"scale 0.25 # quarter\n\t1\t2\t\n", "", 1, 2, 0.25, {1, 2}},
	{"1\n# not the description: it is below the data\n", "", 1, 1, 1, {1}},
};

/*
 * Multi-channel kernels: slices separated by blank lines.  w holds the
 * slices one after another.
 */
static const struct {
	const char *text;
	const char *desc;
	size_t depth, rows, cols;
	double scale;
	double w[MAXW];
} slice_cases[] = {
	{"1 2\n3 4\n\n5 6\n7 8\n", "", 2, 2, 2, 1, {1, 2, 3, 4, 5, 6, 7, 8}},
	/* blank lines among the header comments and before the first row start nothing;
	 * several blank lines are one separator; trailing ones are fine */
	{"# RGB edges\n\n# (one slice per channel)\n\n1 -1\n\n\n\n2 -2\n\n3 -3\n\n\n", "RGB edges",
	 3, 1, 2, 1, {1, -1, 2, -2, 3, -3}},
	/* comments around the separator; a comment between slices is not the description */
	{"# Two\n1 2\n# end of slice 1\n\n# slice 2\n3 4\n", "Two", 2, 1, 2, 1, {1, 2, 3, 4}},
	{"1 2\n\n# red\n3 4\n# green\n\n5 6\n", "", 3, 1, 2, 1, {1, 2, 3, 4, 5, 6}},
	/* a line of white space is blank, as is a bare CR */
	{"1 2  # a trailing comment\n\n   \n3 4 # another\n", "", 2, 1, 2, 1, {1, 2, 3, 4}},
	{"1 2\r\n3 4\r\n\r\n5 6\r\n7 8\r\n", "", 2, 2, 2, 1, {1, 2, 3, 4, 5, 6, 7, 8}},
	{"\t1 2\n \t \n1 0\n", "", 2, 1, 2, 1, {1, 2, 1, 0}},
	/* one scale, anywhere, for every slice */
	{"scale 1/2\n\n1 2\n\n3 4\n", "", 2, 1, 2, 0.5, {1, 2, 3, 4}},
	{"1 2\n\nscale -3\n3 4\n", "", 2, 1, 2, -3, {1, 2, 3, 4}},
	{"1 2\n3 4\n\n5 6\n7 8\nscale 0.25\n", "", 2, 2, 2, 0.25, {1, 2, 3, 4, 5, 6, 7, 8}},
	/* rows with ';' inside a slice; a line of bare separators is no row */
	{"1 2; 3 4\n\n5 6; 7 8;\n", "", 2, 2, 2, 1, {1, 2, 3, 4, 5, 6, 7, 8}},
	{"1\n\n;\n2\n", "", 2, 1, 1, 1, {1, 2}},
	/* 1x1 slices: a 1x1 convolution across channels */
	{"# luma\n0.299\n\n0.587\n\n0.114\n", "luma", 3, 1, 1, 1, {0.299, 0.587, 0.114}},
};

START_TEST(test_slices)
{
	for (size_t i = 0; i < sizeof slice_cases / sizeof slice_cases[0]; i++) {
		imf_kernel *k = NULL;
		imf_error err = {0};
		size_t rows = 0, cols = 0;
		const size_t n = slice_cases[i].rows * slice_cases[i].cols;
		imf_status st = imf_kernel_from_text(slice_cases[i].text, "mine", &k, &err);

		ck_assert_msg(st == IMF_OK, "case %zu: %s", i, err.msg);
		ck_assert_str_eq(imf_kernel_description(k), slice_cases[i].desc);
		ck_assert_int_eq(k->combine, IMF_COMBINE_NONE);
		ck_assert_ptr_null(k->part_names);
		ck_assert_msg(k->count == slice_cases[i].depth, "case %zu: %zu slices, want %zu", i,
		              k->count, slice_cases[i].depth);
		ck_assert_uint_eq(imf_kernel_depth(k), slice_cases[i].depth);
		imf_kernel_dims(k, &rows, &cols);
		ck_assert_uint_eq(rows, slice_cases[i].rows);
		ck_assert_uint_eq(cols, slice_cases[i].cols);
		for (size_t q = 0; q < k->count; q++)
			check_matrix(slice_cases[i].text, &k->m[q], slice_cases[i].rows,
			             slice_cases[i].cols, slice_cases[i].scale,
			             slice_cases[i].w + q * n);
		imf_kernel_free(k);
	}
}
END_TEST

/* The same through a file, as -k FILE and the chain's conv stage read it. */
START_TEST(test_slices_file)
{
	static const char text[] = "# A 3x3x3 kernel, one slice per RGB channel\n"
	                           "scale 1/3\n"
	                           "\n"
	                           "# red\n"
	                           "1 0 -1\n2 0 -2\n1 0 -1\n"
	                           "\n"
	                           "# green\n"
	                           "0 0 0\n0 1 0\n0 0 0\n"
	                           "\n"
	                           "# blue\n"
	                           "-1 -2 -1\n0 0 0\n1 2 1\n"
	                           "\n";
	static const double w[3][9] = {{1, 0, -1, 2, 0, -2, 1, 0, -1},
	                               {0, 0, 0, 0, 1, 0, 0, 0, 0},
	                               {-1, -2, -1, 0, 0, 0, 1, 2, 1}};
	const char *path = tu_path("rgb-edges.txt");
	char size[32];

	tu_write_file(path, text, strlen(text));
	imf_kernel *k = must_parse(path);
	ck_assert_str_eq(imf_kernel_name(k), "rgb-edges.txt");
	ck_assert_str_eq(imf_kernel_description(k), "A 3x3x3 kernel, one slice per RGB channel");
	ck_assert_uint_eq(imf_kernel_depth(k), 3);
	for (size_t q = 0; q < 3; q++)
		check_matrix("rgb-edges.txt", &k->m[q], 3, 3, 1.0 / 3, w[q]);
	imf_kernel_size_str(k, size, sizeof size);
	ck_assert_str_eq(size, "3x3x3");
	imf_kernel_free(k);
}
END_TEST

/* Slice errors, and the limits that apply per slice. */
START_TEST(test_slice_limits)
{
	imf_kernel *k = NULL;
	imf_error err = {0};
	char want[128];
	/* 4096 slices "1\n\n" are allowed, one more is refused. */
	size_t n = IMF_MAX_PLANES + 1;
	char *text = malloc(n * 3 + 1);
	ck_assert_ptr_nonnull(text);
	for (size_t i = 0; i < n; i++)
		memcpy(text + 3 * i, "1\n\n", 3);
	text[3 * (n - 1)] = '\0';
	ck_assert_int_eq(imf_kernel_from_text(text, "deep", &k, &err), IMF_OK);
	ck_assert_uint_eq(imf_kernel_depth(k), IMF_MAX_PLANES);
	imf_kernel_free(k);
	text[3 * (n - 1)] = '1';
	text[3 * n - 2] = '\0';
	k = NULL;
	ck_assert_int_eq(imf_kernel_from_text(text, "deep", &k, &err), IMF_EINVAL);
	ck_assert_ptr_null(k);
	snprintf(want, sizeof want, "kernel: more than %d slices", IMF_MAX_PLANES);
	ck_assert_str_eq(err.msg, want);
	free(text);

	/* The 255-per-side limit holds in every slice. */
	text = malloc(3 + 256 * 2 + 1);
	ck_assert_ptr_nonnull(text);
	strcpy(text, "1\n\n");
	for (size_t i = 0; i < 256; i++)
		strcat(text, "1 ");
	ck_assert_int_eq(imf_kernel_from_text(text, "wide", &k, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "kernel: 256x1 is over the --max-kernel limit of 255 per side "
	                          "(raise it with --max-kernel)");
	free(text);
}
END_TEST

START_TEST(test_text_forms)
{
	for (size_t i = 0; i < sizeof text_cases / sizeof text_cases[0]; i++) {
		imf_kernel *k = NULL;
		imf_error err = {0};
		imf_status st = imf_kernel_from_text(text_cases[i].text, "mine", &k, &err);
		ck_assert_msg(st == IMF_OK, "case %zu: %s", i, err.msg);
		ck_assert_str_eq(imf_kernel_name(k), "mine");
		ck_assert_str_eq(imf_kernel_description(k), text_cases[i].desc);
		check_matrix(text_cases[i].text, &k->m[0], text_cases[i].rows, text_cases[i].cols,
		             text_cases[i].scale, text_cases[i].w);
		imf_kernel_free(k);
	}
}
END_TEST

START_TEST(test_user_file)
{
	static const char text[] = "# My edge finder\n"
	                           "# (a second comment line)\n"
	                           "scale 1/2\n"
	                           "1, 0, -1;\n"
	                           "2, 0, -2;  # middle\n"
	                           "1  0  -1\n";
	static const double w[] = {1, 0, -1, 2, 0, -2, 1, 0, -1};
	const char *path = tu_path("edge.txt");
	tu_write_file(path, text, strlen(text));
	imf_kernel *k = must_parse(path);
	ck_assert_str_eq(imf_kernel_name(k), "edge.txt");
	ck_assert_str_eq(imf_kernel_description(k), "My edge finder");
	check_matrix(path, &k->m[0], 3, 3, 0.5, w);
	imf_kernel_free(k);

	static const char mag[] = "# both ways\nmagnitude sobel-x scharr-y\n";
	path = tu_path("mag.txt");
	tu_write_file(path, mag, strlen(mag));
	k = must_parse(path);
	ck_assert_str_eq(imf_kernel_name(k), "mag.txt");
	ck_assert_int_eq(k->combine, IMF_COMBINE_MAGNITUDE);
	ck_assert_str_eq(k->part_names[1], "scharr-y");
	imf_kernel_free(k);

	/* A file whose name is also an inline matrix: the file wins. */
	static const char one[] = "5\n";
	char cwd[4096];
	tu_write_file(tu_path("7"), one, strlen(one));
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
	ck_assert_int_eq(chdir(tu_tmpdir()), 0);
	k = must_parse("7");
	ck_assert_int_eq(chdir(cwd), 0);
	ck_assert_str_eq(imf_kernel_name(k), "7");
	ck_assert(k->m[0].w[0] == 5);
	imf_kernel_free(k);
}
END_TEST

START_TEST(test_file_errors)
{
	char expect[512];
	imf_kernel *k = NULL;
	imf_error err = {0};

	/* A path that does not exist. */
	ck_assert_int_eq(imf_kernel_parse("no/such/dir/k.txt", &k, &err), IMF_EIO);
	ck_assert_ptr_null(k);
	snprintf(expect, sizeof expect, "kernel: cannot read no/such/dir/k.txt: %s",
	         strerror(ENOENT));
	ck_assert_str_eq(err.msg, expect);
	ck_assert_int_eq(imf_kernel_parse("missing.txt", &k, &err), IMF_EIO);
	snprintf(expect, sizeof expect, "kernel: cannot read missing.txt: %s", strerror(ENOENT));
	ck_assert_str_eq(err.msg, expect);

	/* A directory. */
	ck_assert_int_eq(imf_kernel_parse(tu_tmpdir(), &k, &err), IMF_EIO);
	snprintf(expect, sizeof expect, "kernel: cannot read %s: %s", tu_tmpdir(), strerror(EISDIR));
	ck_assert_str_eq(err.msg, expect);

	/* Over 1 MiB. */
	size_t big = 1024 * 1024 + 1;
	char *text = malloc(big);
	ck_assert_ptr_nonnull(text);
	memset(text, ' ', big);
	text[0] = '1';
	const char *path = tu_path("big.txt");
	tu_write_file(path, text, big);
	free(text);
	ck_assert_int_eq(imf_kernel_parse(path, &k, &err), IMF_ELIMIT);
	ck_assert_ptr_null(k);
	snprintf(expect, sizeof expect,
	         "kernel: %s is larger than the limit of 1 MiB for kernel files", path);
	ck_assert_str_eq(err.msg, expect);

	/* Exactly 1 MiB is fine. */
	text = malloc(big - 1);
	ck_assert_ptr_nonnull(text);
	memset(text, ' ', big - 1);
	text[0] = '1';
	tu_write_file(path, text, big - 1);
	free(text);
	k = must_parse(path);
	imf_kernel_free(k);

	/* A NUL byte. */
	path = tu_path("nul.txt");
	tu_write_file(path, "1 2\0 3", 6);
	ck_assert_int_eq(imf_kernel_parse(path, &k, &err), IMF_EINVAL);
	snprintf(expect, sizeof expect, "kernel: %s is not a text file (it holds a NUL byte)", path);
	ck_assert_str_eq(err.msg, expect);

	/* A file with a bad kernel gives the parser's message. */
	path = tu_path("ragged.txt");
	tu_write_file(path, "1 2\n3\n", 6);
	ck_assert_int_eq(imf_kernel_parse(path, &k, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "kernel: row 2 has 1 value, expected 2");
}
END_TEST

/* ---- errors -------------------------------------------------------------- */

static const struct {
	const char *spec, *msg;
} spec_errors[] = {
	{"1 2 3; 4 5", "kernel: row 2 has 2 values, expected 3"},
	{"1 2 3; 4 5 6 7", "kernel: row 2 has 4 values, expected 3"},
	{"1; 2 3", "kernel: row 2 has 2 values, expected 1"},
	{"", "kernel: no values"},
	{"   ", "kernel: no values"},
	{";;", "kernel: no values"},
	{"[ ]", "kernel: no values"},
	{"1/16 *", "kernel: no values"},
	{"1 x1 2", "kernel: bad number 'x1'"},
	{"1 0x10", "kernel: bad number '0x10'"},
	{"1 2 1 e5", "kernel: bad number 'e5'"},
	{"1 1e", "kernel: bad number '1e'"},
	{"1 . 2", "kernel: bad number '.'"},
	{"1 1/2/3", "kernel: bad number '1/2/3'"},
	{"1 2 * 1", "kernel: bad number '1 2'"},
	{"x * 1", "kernel: bad number 'x'"},
	{"1 2 1; 2 4 2]", "kernel: unbalanced [ ]"},
	{"[1 2", "kernel: unbalanced [ ]"},
	{"[", "kernel: unbalanced [ ]"},
	{"1/0", "kernel: division by zero in '1/0'"},
	{"1 2/0.0", "kernel: division by zero in '2/0.0'"},
	{"0/0 * 1", "kernel: division by zero in '0/0'"},
	{"nan", "kernel: 'nan' is not a finite number"},
	{"1 -inf", "kernel: '-inf' is not a finite number"},
	{"1 Infinity", "kernel: 'Infinity' is not a finite number"},
	{"1e999", "kernel: '1e999' is not a finite number"},
	{"1e300/1e-300", "kernel: '1e300/1e-300' is not a finite number"},
	{"1 2,,3", "kernel: empty value in row 1"},
	{"1; ,1", "kernel: empty value in row 2"},
	{"* 1 2", "kernel: missing scale before '*'"},
	{"2 * 3 * 1", "kernel: more than one '*'"},
	{"sobelx", "kernel: unknown kernel 'sobelx' (see --list-kernels); did you mean 'sobel-x'?"},
	{"SOBLE_Y", "kernel: unknown kernel 'SOBLE_Y' (see --list-kernels); did you mean 'sobel-y'?"},
	{"gausian-3",
	 "kernel: unknown kernel 'gausian-3' (see --list-kernels); did you mean 'gaussian-3'?"},
	{"box", "kernel: unknown kernel 'box' (see --list-kernels); did you mean 'box-3'?"},
	{"nonsense", "kernel: unknown kernel 'nonsense' (see --list-kernels)"},
	{"my_kernel-2", "kernel: unknown kernel 'my_kernel-2' (see --list-kernels)"},
	{"magnitude sobel-x", "kernel: magnitude needs at least two kernels"},
	{"magnitude sobel-x sobel",
	 "kernel: 'sobel' is a magnitude kernel and cannot be a part of another"},
	{"magnitude sobel-x sobelx",
	 "kernel: unknown kernel 'sobelx' (see --list-kernels); did you mean 'sobel-x'?"},
	{"magnitude sobel-x roberts-y",
	 "kernel: magnitude parts differ in size: sobel-x is 3x3, roberts-y is 2x2"},
};

START_TEST(test_spec_errors)
{
	for (size_t i = 0; i < sizeof spec_errors / sizeof spec_errors[0]; i++) {
		imf_kernel *k = NULL;
		imf_error err = {0};
		imf_status st = imf_kernel_parse(spec_errors[i].spec, &k, &err);
		ck_assert_msg(st == IMF_EINVAL, "'%s': status %d (%s)", spec_errors[i].spec, (int)st,
		              err.msg);
		ck_assert_int_eq(err.code, IMF_EINVAL);
		ck_assert_ptr_null(k);
		ck_assert_msg(strcmp(err.msg, spec_errors[i].msg) == 0, "'%s': got \"%s\", want \"%s\"",
		              spec_errors[i].spec, err.msg, spec_errors[i].msg);
	}
}
END_TEST

static const struct {
	const char *text, *msg;
} text_errors[] = {
	{"1 2\n3\n", "kernel: row 2 has 1 value, expected 2"},
	{"1 2; 3\n", "kernel: row 2 has 1 value, expected 2"},
	{"", "kernel: no values"},
	{"# just a comment\n", "kernel: no values"},
	{"scale 2\n", "kernel: no values"},
	{"1 x1 2\n", "kernel: bad number 'x1'"},
	{"[1 2]\n", "kernel: bad number '[1'"},
	{"Scale 2\n1\n", "kernel: bad number 'Scale'"},
	{"scale 1/2\nscale 2\n1\n", "kernel: scale given twice"},
	{"scale\n1\n", "kernel: scale takes one number"},
	{"scale 1 2\n1\n", "kernel: scale takes one number"},
	{"scale x\n1\n", "kernel: bad number 'x'"},
	{"scale 1/0\n1\n", "kernel: division by zero in '1/0'"},
	{"scale inf\n1\n", "kernel: 'inf' is not a finite number"},
	{"1 2\nmagnitude sobel-x sobel-y\n", "kernel: a magnitude kernel has no matrix rows"},
	{"magnitude sobel-x sobel-y\n1 2\n", "kernel: a magnitude kernel has no matrix rows"},
	{"magnitude sobel-x sobel-y\nmagnitude sobel-x sobel-y\n", "kernel: magnitude given twice"},
	{"scale 2\nmagnitude sobel-x sobel-y\n", "kernel: a magnitude kernel takes no scale"},
	{"magnitude\n", "kernel: magnitude needs at least two kernels"},
	{"magnitude sobel-x prewitt\n",
	 "kernel: 'prewitt' is a magnitude kernel and cannot be a part of another"},
	{"magnitude sobel-x my-file.txt\n",
	 "kernel: unknown kernel 'my-file.txt' (see --list-kernels)"},
	/* multi-channel kernels: every slice the size of the first (width x height) */
	{"1 2 3\n4 5 6\n7 8 9\n\n1 2\n3 4\n5 6\n", "kernel: slice 2 is 2x3, expected 3x3"},
	{"1 2\n\n1 2\n3 4\n", "kernel: slice 2 is 2x2, expected 2x1"},
	{"1 2\n\n3 4\n\n1 2 3\n", "kernel: slice 3 is 3x1, expected 2x1"},
	{"1 2\n3 4\n\n5 6\n7\n", "kernel: row 2 of slice 2 has 1 value, expected 2"},
	{"1 2\n3\n\n5 6\n", "kernel: row 2 has 1 value, expected 2"},
	{"1 2\n\n3 4\n\n5,,6\n", "kernel: empty value in row 1 of slice 3"},
	{"1 2\n\n3 x\n", "kernel: bad number 'x'"},
	{"1\n\n1\n\nmagnitude sobel-x sobel-y\n", "kernel: a magnitude kernel has no matrix rows"},
	{"1\n\nscale 2\n\n2\nscale 3\n", "kernel: scale given twice"},
};

START_TEST(test_text_errors)
{
	for (size_t i = 0; i < sizeof text_errors / sizeof text_errors[0]; i++) {
		imf_kernel *k = NULL;
		imf_error err = {0};
		imf_status st = imf_kernel_from_text(text_errors[i].text, "t", &k, &err);
		ck_assert_msg(st == IMF_EINVAL, "case %zu: status %d (%s)", i, (int)st, err.msg);
		ck_assert_ptr_null(k);
		ck_assert_msg(strcmp(err.msg, text_errors[i].msg) == 0,
		              "case %zu: got \"%s\", want \"%s\"", i, err.msg, text_errors[i].msg);
	}
}
END_TEST

/* ---- printing ------------------------------------------------------------ */

START_TEST(test_print_round_trip)
{
	for (size_t i = 0; i < imf_kernel_builtin_count(); i++) {
		const char *name = imf_kernel_builtin_name(i);
		imf_kernel *k = must_builtin(name), *again = NULL;
		imf_error err = {0};
		char *text = print_to_string(k);
		imf_status st = imf_kernel_from_text(text, name, &again, &err);
		ck_assert_msg(st == IMF_OK, "%s: %s\n%s", name, err.msg, text);
		check_same_kernel(name, k, again);
		char *text2 = print_to_string(again);
		ck_assert_str_eq(text, text2);
		free(text);
		free(text2);
		imf_kernel_free(k);
		imf_kernel_free(again);
	}
}
END_TEST

/* Values whose shortest decimal form is long, tiny or huge. */
START_TEST(test_print_round_trip_values)
{
	static const char *const specs[] = {
		"0.1 0.2 0.3; 1e-7 -1e22 3.141592653589793",
		"1/3 * 1 2; 3 -0",
		"1/7 2/3 5e-324 1.7976931348623157e308",
		"0.3 * 1",
		"-2 * 1",
		"1/1000000 * 1",
		"0 * 1",
	};
	for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
		imf_kernel *k = must_parse(specs[i]), *again = NULL;
		imf_error err = {0};
		char *text = print_to_string(k);
		ck_assert_msg(imf_kernel_from_text(text, "x", &again, &err) == IMF_OK, "%s: %s\n%s",
		              specs[i], err.msg, text);
		check_same_kernel(specs[i], k, again);
		free(text);
		imf_kernel_free(k);
		imf_kernel_free(again);
	}
}
END_TEST

/* A multi-channel kernel prints as it parses: slices, a blank line between them. */
START_TEST(test_print_slices)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		/* columns aligned over every slice; one scale for all */
		{"# two slices\nscale 0.5\n1 -2\n10 0\n\n\n0 1\n3 4\n",
		 "# two slices\nscale 1/2\n 1 -2\n10  0\n\n 0  1\n 3  4\n"},
		{"1\n\n2\n\n-3\n", " 1\n\n 2\n\n-3\n"},
		{"0.1 1/3\n\n1e-7 -0\n", "  0.1 0.3333333333333333\n\n1e-07                 -0\n"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		imf_kernel *k = NULL, *again = NULL;
		imf_error err = {0};
		ck_assert_msg(imf_kernel_from_text(cases[i].in, "s", &k, &err) == IMF_OK, "%s",
		              err.msg);
		char *text = print_to_string(k);
		ck_assert_str_eq(text, cases[i].out);
		ck_assert_msg(imf_kernel_from_text(text, "s", &again, &err) == IMF_OK, "%s\n%s",
		              err.msg, text);
		check_same_kernel(cases[i].in, k, again);
		char *text2 = print_to_string(again);
		ck_assert_str_eq(text, text2);
		free(text);
		free(text2);
		imf_kernel_free(k);
		imf_kernel_free(again);
	}
}
END_TEST

static const struct {
	const char *spec, *text;
} print_cases[] = {
	{"laplacian", "# %s\n-1 -1 -1\n-1  8 -1\n-1 -1 -1\n"},
	{"gaussian-3", "# %s\nscale 1/16\n1 2 1\n2 4 2\n1 2 1\n"},
	{"unsharp-5", "# %s\nscale -1/256\n1  4    6  4 1\n4 16   24 16 4\n6 24 -476 24 6\n"
	              "4 16   24 16 4\n1  4    6  4 1\n"},
	{"sobel", "# %s\nmagnitude sobel-x sobel-y\n#\n# sobel-x (3x3):\n#   1 0 -1\n#   2 0 -2\n"
	          "#   1 0 -1\n#\n# sobel-y (3x3):\n#    1  2  1\n#    0  0  0\n#   -1 -2 -1\n"},
	{"0.5 -0.25; 10 1", "0.5 -0.25\n 10     1\n"},
	{"0.1 * 1 2 3", "scale 1/10\n1 2 3\n"},
	{"0.3 * 1 2 3", "scale 0.3\n1 2 3\n"},
	{"-2.5 * 1", "scale -2.5\n1\n"},
	{"100 1e15 1e16 1e-4 1e-5 123456789012345678", "100 1000000000000000 1e+16 0.0001 1e-05 "
	                                                "1.2345678901234568e+17\n"},
	{"1/3 * 1e-10", "scale 1/3\n1e-10\n"},
};

START_TEST(test_print_format)
{
	for (size_t i = 0; i < sizeof print_cases / sizeof print_cases[0]; i++) {
		imf_kernel *k = must_parse(print_cases[i].spec);
		char want[1024];
		snprintf(want, sizeof want, print_cases[i].text, imf_kernel_description(k));
		char *got = print_to_string(k);
		ck_assert_str_eq(got, want);
		free(got);
		imf_kernel_free(k);
	}
}
END_TEST

START_TEST(test_size_str)
{
	static const struct {
		const char *spec, *want;
	} cases[] = {
		{"sobel", "3x3 magnitude of sobel-x, sobel-y"},
		{"gaussian-5", "5x5"},
		{"roberts-x", "2x2"},
		{"1 2 3", "3x1"},
		{"1; 2", "1x2"},
		{"magnitude box-3 sobel-x gaussian-3", "3x3 magnitude of box-3, sobel-x, gaussian-3"},
		/* width x height x depth */
		{"1 2 3\n4 5 6\n7 8 9\n\n1 2 3\n4 5 6\n7 8 9\n", "3x3x2"},
		{"1 2\n\n3 4\n\n5 6\n", "2x1x3"},
		{"1\n2\n3\n\n4\n5\n6\n", "1x3x2"},
	};
	char buf[128];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		imf_kernel *k = NULL;
		imf_error err = {0};
		ck_assert_msg(imf_kernel_from_text(cases[i].spec, "x", &k, &err) == IMF_OK ||
		                      imf_kernel_parse(cases[i].spec, &k, &err) == IMF_OK,
		              "%s: %s", cases[i].spec, err.msg);
		imf_kernel_size_str(k, buf, sizeof buf);
		ck_assert_str_eq(buf, cases[i].want);
		imf_kernel_free(k);
	}

	imf_kernel *k = must_parse("sobel");
	imf_kernel_size_str(k, buf, 4);
	ck_assert_str_eq(buf, "3x3");
	imf_kernel_size_str(k, buf, 20);
	ck_assert_str_eq(buf, "3x3 magnitude of so");
	buf[0] = 'z';
	imf_kernel_size_str(k, buf, 0);
	ck_assert_int_eq(buf[0], 'z');
	imf_kernel_free(k);
}
END_TEST

/* Depth and dimensions of 2-D, compound and multi-channel kernels. */
START_TEST(test_depth_and_dims)
{
	static const struct {
		const char *spec;
		size_t depth, rows, cols;
	} cases[] = {
		{"sobel-x", 1, 3, 3},
		{"sobel", 1, 3, 3}, /* a compound kernel's parts are not slices */
		{"roberts-x", 1, 2, 2},
		{"1 2 3; 4 5 6", 1, 2, 3},
		{"magnitude roberts-x roberts-y", 1, 2, 2},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		imf_kernel *k = must_parse(cases[i].spec);
		size_t rows = 0, cols = 0;
		ck_assert_uint_eq(imf_kernel_depth(k), cases[i].depth);
		imf_kernel_dims(k, &rows, &cols);
		ck_assert_uint_eq(rows, cases[i].rows);
		ck_assert_uint_eq(cols, cases[i].cols);
		imf_kernel_free(k);
	}

	imf_kernel *k = NULL;
	imf_error err = {0};
	size_t rows = 9, cols = 9;
	ck_assert_int_eq(imf_kernel_from_text("1 2 3\n4 5 6\n\n1 2 3\n4 5 6\n", "x", &k, &err),
	                 IMF_OK);
	ck_assert_uint_eq(imf_kernel_depth(k), 2);
	imf_kernel_dims(k, &rows, &cols);
	ck_assert_uint_eq(rows, 2);
	ck_assert_uint_eq(cols, 3);
	imf_kernel_dims(k, NULL, &cols); /* either output may be left out */
	imf_kernel_dims(k, &rows, NULL);
	imf_kernel_free(k);

	ck_assert_uint_eq(imf_kernel_depth(NULL), 0);
	imf_kernel_dims(NULL, &rows, &cols);
	ck_assert_uint_eq(rows, 0);
	ck_assert_uint_eq(cols, 0);
}
END_TEST

START_TEST(test_free_and_accessors)
{
	imf_kernel_free(NULL);
	ck_assert_str_eq(imf_kernel_name(NULL), "");
	ck_assert_str_eq(imf_kernel_description(NULL), "");

	imf_kernel *k = NULL;
	imf_error err = {0};
	ck_assert_int_eq(imf_kernel_from_text("1", NULL, &k, &err), IMF_OK);
	ck_assert_str_eq(imf_kernel_name(k), "");
	imf_kernel_free(k);
	ck_assert_int_eq(imf_kernel_parse(NULL, &k, &err), IMF_EINVAL);
	ck_assert_ptr_null(k);
	ck_assert_int_eq(imf_kernel_parse("1", NULL, NULL), IMF_EINVAL);
}
END_TEST

static Suite *kernel_suite(void)
{
	Suite *s = suite_create("kernel");
	TCase *tc = tcase_create("builtins");
	tcase_add_test(tc, test_builtins_parse);
	tcase_add_test(tc, test_builtin_weights);
	tcase_add_test(tc, test_gaussian5_sum);
	tcase_add_test(tc, test_builtin_compound);
	tcase_add_test(tc, test_builtin_name_forms);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_test(tc, test_inline_specs);
	tcase_add_test(tc, test_inline_magnitude);
	tcase_add_test(tc, test_size_limit);
	tcase_add_test(tc, test_max_kernel);
	tcase_add_test(tc, test_max_kernel_slices);
	tcase_add_test(tc, test_max_kernel_chain);
	tcase_add_test(tc, test_chain_limits_outputs);
	tcase_add_test(tc, test_text_forms);
	tcase_add_test(tc, test_slices);
	tcase_add_test(tc, test_slices_file);
	tcase_add_test(tc, test_slice_limits);
	tcase_add_test(tc, test_user_file);
	tcase_add_test(tc, test_file_errors);
	tcase_add_test(tc, test_spec_errors);
	tcase_add_test(tc, test_text_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("print");
	tcase_add_test(tc, test_print_round_trip);
	tcase_add_test(tc, test_print_round_trip_values);
	tcase_add_test(tc, test_print_format);
	tcase_add_test(tc, test_print_slices);
	tcase_add_test(tc, test_size_str);
	tcase_add_test(tc, test_depth_and_dims);
	tcase_add_test(tc, test_free_and_accessors);
	suite_add_tcase(s, tc);
	return s;
}

IMF_TEST_MAIN(kernel_suite)
