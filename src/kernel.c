/*
 * kernel.c - convolution kernels: the type, the parser for kernel files and
 * inline specs, the built-in table, and printing.
 *
 * One parser serves user files and the built-ins (the filters folder,
 * embedded at build time as imf_builtin_sources), so a broken built-in fails
 * the unit tests rather than a user.  The kernel-file format, one kernel per
 * file:
 *
 *   # the first comment line above the data: the one-line description
 *   scale 1/16            optional; the response is scale * sum(w * x)
 *   1 2 1                 one row per line; spaces and/or commas between
 *   2 4 2                 values; a trailing ';' or ',' is allowed; values
 *   1 2 1                 are decimals, scientific, or fractions a/b
 *
 * or, instead of rows, "magnitude NAME NAME...": sqrt of the sum of squares
 * of the responses of the named built-ins, which must be single 2-D matrices
 * of one size.  '#' starts a comment anywhere on a line.  Any rectangle up to
 * the limit per side (imf_limits.max_kernel, 255 by default, never over
 * IMF_KERNEL_SIDE_CEILING), odd or even.  Sizes are written width x height
 * (columns x rows), like image sizes, and width x height x depth for a
 * multi-channel kernel.
 *
 * A multi-channel (3-D) kernel holds one 2-D slice per input channel, the
 * slices separated by one or more blank lines; all slices have one size and
 * the one scale line applies to each:
 *
 *   # channel-summing edge finder
 *   1 0 -1                slice 1: applied to channel 1
 *   2 0 -2
 *                         a blank line (comments may stand around it)
 *   0 1 0                 slice 2: applied to channel 2
 *   1 -4 1
 *
 * Only a blank line that comes after a row of the current slice starts a new
 * one: blank lines among the comments above the data, before the first row
 * or at the end are ignored.  A line of white space is blank; a comment line
 * is not.
 *
 * Invariants of a kernel this module builds: name and description are never
 * NULL; every weight and scale is finite; with IMF_COMBINE_NONE, count >= 1
 * equally sized slices (count is the depth, 1 for a plain 2-D kernel) that
 * share one scale; with IMF_COMBINE_MAGNITUDE, count >= 2 equally sized 2-D
 * matrices and part_names.
 * Messages never name the file or spec (the caller prefixes it), except the
 * file-access errors, which name the path they could not read.
 */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Slices of a multi-channel kernel: one per input plane at most. */
#define KERNEL_MAX_SLICES IMF_MAX_PLANES
#define KERNEL_FILE_MAX (1024 * 1024)
/* Longest name compared for a "did you mean" suggestion, and the distance. */
#define SUGGEST_MAX_LEN 64
#define SUGGEST_MAX_DIST 2
/* How much of a bad token a message quotes. */
#define QUOTE_MAX 40

/* ---- small helpers ------------------------------------------------------- */

static char *dup_range(const char *s, size_t n, imf_error *err)
{
	char *d = malloc(n + 1);
	if (!d) {
		imf_error_set(err, IMF_ENOMEM, "kernel: out of memory");
		return NULL;
	}
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* The first c in [s, e), or NULL. */
static const char *find_char(const char *s, const char *e, char c)
{
	for (; s < e; s++)
		if (*s == c)
			return s;
	return NULL;
}

/* Narrow [*s, *e) to drop surrounding white space. */
static void trim(const char **s, const char **e)
{
	while (*s < *e && is_space(**s))
		(*s)++;
	while (*e > *s && is_space((*e)[-1]))
		(*e)--;
}

/* Does [s, e) hold exactly the word w followed by white space or the end? */
static int starts_with_word(const char *s, const char *e, const char *w, const char **rest)
{
	size_t n = strlen(w);
	if ((size_t)(e - s) < n || strncmp(s, w, n) != 0)
		return 0;
	if (s + n < e && !is_space(s[n]))
		return 0;
	*rest = s + n;
	return 1;
}

void imf_kernel_free(imf_kernel *k)
{
	if (!k)
		return;
	if (k->m) {
		for (size_t i = 0; i < k->count; i++)
			free(k->m[i].w);
		free(k->m);
	}
	if (k->part_names) {
		for (size_t i = 0; i < k->count; i++)
			free(k->part_names[i]);
		free(k->part_names);
	}
	free(k->name);
	free(k->description);
	free(k);
}

/* A kernel of count zeroed matrices (scale 1), with its name and description. */
static imf_kernel *kernel_new(size_t count, const char *name, const char *desc, imf_error *err)
{
	imf_kernel *k = calloc(1, sizeof *k);
	if (!k) {
		imf_error_set(err, IMF_ENOMEM, "kernel: out of memory");
		return NULL;
	}
	k->count = count;
	k->m = calloc(count, sizeof *k->m);
	k->name = dup_range(name, strlen(name), err);
	k->description = dup_range(desc, strlen(desc), err);
	if (!k->m || !k->name || !k->description) {
		imf_kernel_free(k);
		imf_error_set(err, IMF_ENOMEM, "kernel: out of memory");
		return NULL;
	}
	for (size_t i = 0; i < count; i++)
		k->m[i].scale = 1.0;
	return k;
}

/* ---- numbers ------------------------------------------------------------- */

typedef enum num_result { NUM_OK, NUM_BAD, NUM_DIV0, NUM_NONFINITE } num_result;

/*
 * A plain decimal: [+-] digits [. digits] [e [+-] digits], at least one
 * digit in the mantissa.  No hex, no "inf" or "nan": strtod alone would take
 * them.
 */
static int is_decimal(const char *s, const char *e)
{
	const char *p = s;
	size_t digits = 0;
	if (p < e && (*p == '+' || *p == '-'))
		p++;
	while (p < e && isdigit((unsigned char)*p))
		p++, digits++;
	if (p < e && *p == '.') {
		p++;
		while (p < e && isdigit((unsigned char)*p))
			p++, digits++;
	}
	if (digits == 0)
		return 0;
	if (p < e && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < e && (*p == '+' || *p == '-'))
			p++;
		if (p == e || !isdigit((unsigned char)*p))
			return 0;
		while (p < e && isdigit((unsigned char)*p))
			p++;
	}
	return p == e;
}

static int is_nonfinite_word(const char *s, const char *e)
{
	static const char *const words[] = {"inf", "infinity", "nan"};
	if (s < e && (*s == '+' || *s == '-'))
		s++;
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
		size_t n = strlen(words[i]);
		if ((size_t)(e - s) != n)
			continue;
		size_t j = 0;
		while (j < n && tolower((unsigned char)s[j]) == words[i][j])
			j++;
		if (j == n)
			return 1;
	}
	return 0;
}

/*
 * The value of a token that is_decimal accepted.  Tokens end at a character
 * strtod cannot take (white space, ',', ';', '/', ']', '*', '#', NUL), so
 * strtod stops exactly at e; *ok says it did (it would not if a locale
 * changed the decimal point).
 */
static double decimal_value(const char *s, const char *e, int *ok)
{
	char *end;
	double v = strtod(s, &end);
	if (end != e)
		*ok = 0;
	return v;
}

/* One value token [s, e): a decimal or a fraction a/b. */
static num_result scan_number(const char *s, const char *e, double *out)
{
	const char *slash = find_char(s, e, '/');
	double v;
	int ok = 1;
	if (is_nonfinite_word(s, e))
		return NUM_NONFINITE;
	if (slash) {
		if (!is_decimal(s, slash) || !is_decimal(slash + 1, e))
			return NUM_BAD;
		double a = decimal_value(s, slash, &ok), b = decimal_value(slash + 1, e, &ok);
		if (!ok)
			return NUM_BAD;
		if (b == 0)
			return NUM_DIV0;
		if (!isfinite(a) || !isfinite(b))
			return NUM_NONFINITE;
		v = a / b;
	} else {
		if (!is_decimal(s, e))
			return NUM_BAD;
		v = decimal_value(s, e, &ok);
		if (!ok)
			return NUM_BAD;
	}
	if (!isfinite(v))
		return NUM_NONFINITE;
	*out = v;
	return NUM_OK;
}

static imf_status parse_number(const char *s, const char *e, double *out, imf_error *err)
{
	int n = (int)(e - s > QUOTE_MAX ? QUOTE_MAX : e - s);
	const char *more = e - s > QUOTE_MAX ? "..." : "";
	switch (scan_number(s, e, out)) {
	case NUM_OK:
		return IMF_OK;
	case NUM_DIV0:
		return imf_error_set(err, IMF_EINVAL, "kernel: division by zero in '%.*s%s'", n, s,
		                     more);
	case NUM_NONFINITE:
		return imf_error_set(err, IMF_EINVAL, "kernel: '%.*s%s' is not a finite number", n, s,
		                     more);
	case NUM_BAD:
		break;
	}
	return imf_error_set(err, IMF_EINVAL, "kernel: bad number '%.*s%s'", n, s, more);
}

/* ---- matrix rows --------------------------------------------------------- */

/*
 * The side limit of a parse: lim's max_kernel (the default limits' when lim
 * is NULL), with 0 and anything over the ceiling meaning the ceiling.
 */
static size_t side_limit(const imf_limits *lim)
{
	imf_limits def;
	if (!lim) {
		imf_limits_default(&def);
		lim = &def;
	}
	if (lim->max_kernel == 0 || lim->max_kernel > IMF_KERNEL_SIDE_CEILING)
		return IMF_KERNEL_SIDE_CEILING;
	return lim->max_kernel;
}

/*
 * A matrix being read row by row.  Past max in either direction the values
 * are still checked and counted but no longer stored, so the message can
 * give the full size and memory stays bounded (by max^2 values, and by the
 * text, which holds at least two bytes per value).
 */
typedef struct mbuild {
	double *w;
	size_t len, cap;
	size_t rows, cols;
	size_t max;   /* per side: side_limit() */
	int over;
	size_t slice; /* 1-based slice number for messages from slice 2 on; 0 or 1: none */
} mbuild;

/* " of slice N" for the messages about a row of slice 2 or later, else "". */
static const char *slice_suffix(const mbuild *b, char *buf, size_t len)
{
	if (b->slice < 2)
		return "";
	snprintf(buf, len, " of slice %zu", b->slice);
	return buf;
}

static imf_status mbuild_push(mbuild *b, double v, imf_error *err)
{
	if (b->over)
		return IMF_OK;
	if (b->len == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		double *w = b->cap > SIZE_MAX / 2 / sizeof *w ? NULL : realloc(b->w, cap * sizeof *w);
		if (!w)
			return imf_error_set(err, IMF_ENOMEM, "kernel: out of memory");
		b->w = w;
		b->cap = cap;
	}
	b->w[b->len++] = v;
	return IMF_OK;
}

/*
 * One row from [s, e): values separated by white space and/or single commas
 * (a trailing comma is allowed).  A row of only white space adds nothing.
 */
static imf_status parse_row(mbuild *b, const char *s, const char *e, imf_error *err)
{
	size_t n = 0;
	int need_value = 0; /* after a comma */
	const char *p = s;
	char sfx[40];
	imf_status st;

	trim(&p, &e);
	if (p == e)
		return IMF_OK;
	if (b->rows >= b->max)
		b->over = 1;
	while (p < e) {
		if (*p == ',') {
			if (n == 0 || need_value)
				return imf_error_set(err, IMF_EINVAL,
				                     "kernel: empty value in row %zu%s",
				                     b->rows + 1, slice_suffix(b, sfx, sizeof sfx));
			need_value = 1;
			p++;
		} else if (is_space(*p)) {
			p++;
		} else {
			const char *t = p;
			double v;
			while (p < e && *p != ',' && !is_space(*p))
				p++;
			if ((st = parse_number(t, p, &v, err)) != IMF_OK)
				return st;
			if (++n > b->max)
				b->over = 1;
			if ((st = mbuild_push(b, v, err)) != IMF_OK)
				return st;
			need_value = 0;
		}
	}
	if (b->rows > 0 && n != b->cols)
		return imf_error_set(err, IMF_EINVAL,
		                     "kernel: row %zu%s has %zu value%s, expected %zu", b->rows + 1,
		                     slice_suffix(b, sfx, sizeof sfx), n, n == 1 ? "" : "s",
		                     b->cols);
	b->cols = n;
	b->rows++;
	return IMF_OK;
}

/* Does [s, e) hold anything but row separators and white space? */
static int holds_value(const char *s, const char *e)
{
	for (; s < e; s++)
		if (*s != ';' && !is_space(*s))
			return 1;
	return 0;
}

/* Rows separated by ';' or newlines (empty pieces are skipped). */
static imf_status parse_rows(mbuild *b, const char *s, const char *e, imf_error *err)
{
	while (s < e) {
		const char *p = s;
		while (p < e && *p != ';' && *p != '\n')
			p++;
		imf_status st = parse_row(b, s, p, err);
		if (st != IMF_OK)
			return st;
		s = p < e ? p + 1 : p;
	}
	return IMF_OK;
}

/* Move the finished matrix into m; checks emptiness and the size limit. */
static imf_status mbuild_finish(mbuild *b, double scale, imf_matrix *m, imf_error *err)
{
	if (b->rows == 0)
		return imf_error_set(err, IMF_EINVAL, "kernel: no values");
	if (b->over && b->max >= IMF_KERNEL_SIDE_CEILING)
		return imf_error_set(err, IMF_EINVAL,
		                     "kernel: %zux%zu is over the limit of %d per side", b->cols,
		                     b->rows, IMF_KERNEL_SIDE_CEILING);
	if (b->over)
		return imf_error_set(err, IMF_EINVAL,
		                     "kernel: %zux%zu is over the --max-kernel limit of %zu per side "
		                     "(raise it with --max-kernel)",
		                     b->cols, b->rows, b->max);
	m->w = b->w;
	m->rows = b->rows;
	m->cols = b->cols;
	m->scale = scale;
	b->w = NULL;
	b->len = b->cap = 0;
	b->rows = b->cols = 0;
	return IMF_OK;
}

/* The slices of a kernel file, finished one by one. */
typedef struct slices {
	imf_matrix *m;
	size_t n, cap;
} slices;

static void slices_free(slices *sl)
{
	for (size_t i = 0; i < sl->n; i++)
		free(sl->m[i].w);
	free(sl->m);
	sl->m = NULL;
	sl->n = sl->cap = 0;
}

/*
 * Finish the slice being built in b and append it; every slice must have
 * the first one's size.  b is ready for the next slice afterwards.
 */
static imf_status slices_push(slices *sl, mbuild *b, imf_error *err)
{
	imf_matrix m;
	imf_status st;

	if (sl->n == KERNEL_MAX_SLICES)
		return imf_error_set(err, IMF_EINVAL, "kernel: more than %d slices",
		                     KERNEL_MAX_SLICES);
	if ((st = mbuild_finish(b, 1.0, &m, err)) != IMF_OK)
		return st;
	if (sl->n > 0 && (m.rows != sl->m[0].rows || m.cols != sl->m[0].cols)) {
		free(m.w);
		return imf_error_set(err, IMF_EINVAL,
		                     "kernel: slice %zu is %zux%zu, expected %zux%zu", sl->n + 1,
		                     m.cols, m.rows, sl->m[0].cols, sl->m[0].rows);
	}
	if (sl->n == sl->cap) {
		size_t cap = sl->cap ? sl->cap * 2 : 4;
		imf_matrix *nm = realloc(sl->m, cap * sizeof *nm);
		if (!nm) {
			free(m.w);
			return imf_error_set(err, IMF_ENOMEM, "kernel: out of memory");
		}
		sl->m = nm;
		sl->cap = cap;
	}
	sl->m[sl->n++] = m;
	b->over = 0;
	b->slice = sl->n + 1;
	return IMF_OK;
}

/* ---- built-in lookup ----------------------------------------------------- */

/* Names compare case-insensitively, with '_' standing for '-'. */
static char norm_char(char c)
{
	return c == '_' ? '-' : (char)tolower((unsigned char)c);
}

static int name_equal(const char *s, const char *e, const char *name)
{
	for (; s < e && *name; s++, name++)
		if (norm_char(*s) != *name)
			return 0;
	return s == e && *name == '\0';
}

/* Index of the built-in named [s, e), or -1. */
static long find_builtin(const char *s, const char *e)
{
	for (size_t i = 0; i < imf_builtin_source_count; i++)
		if (name_equal(s, e, imf_builtin_sources[i].name))
			return (long)i;
	return -1;
}

/* Optimal string alignment distance (Levenshtein plus adjacent swaps). */
static size_t edit_distance(const char *a, size_t na, const char *b, size_t nb)
{
	size_t rows[3][SUGGEST_MAX_LEN + 1];
	size_t *pp = rows[0], *prev = rows[1], *cur = rows[2];

	for (size_t j = 0; j <= nb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= na; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= nb; j++) {
			size_t cost = norm_char(a[i - 1]) == b[j - 1] ? 0 : 1;
			size_t d = prev[j - 1] + cost;
			if (prev[j] + 1 < d)
				d = prev[j] + 1;
			if (cur[j - 1] + 1 < d)
				d = cur[j - 1] + 1;
			if (i > 1 && j > 1 && norm_char(a[i - 1]) == b[j - 2] &&
			    norm_char(a[i - 2]) == b[j - 1] && pp[j - 2] + 1 < d)
				d = pp[j - 2] + 1;
			cur[j] = d;
		}
		size_t *t = pp;
		pp = prev;
		prev = cur;
		cur = t;
	}
	return prev[nb];
}

/* Equal once '-' and '_' are dropped from both (name is a built-in name). */
static int same_but_hyphens(const char *s, const char *e, const char *name)
{
	for (;;) {
		while (s < e && (*s == '-' || *s == '_'))
			s++;
		while (*name == '-')
			name++;
		if (s == e || !*name)
			return s == e && !*name;
		if (norm_char(*s++) != *name++)
			return 0;
	}
}

/*
 * "kernel: unknown kernel 'NAME' (see --list-kernels)", plus the closest
 * built-in: one equal but for hyphens, else the first within edit distance
 * SUGGEST_MAX_DIST.
 */
static imf_status unknown_kernel(const char *s, const char *e, imf_error *err)
{
	size_t n = (size_t)(e - s), best_d = SUGGEST_MAX_DIST + 1;
	const char *best = NULL;
	int q = (int)(n > QUOTE_MAX ? QUOTE_MAX : n);
	const char *more = n > QUOTE_MAX ? "..." : "";

	/* A name that differs only in its hyphens ("sobelx") is the best guess. */
	for (size_t i = 0; i < imf_builtin_source_count && !best; i++)
		if (same_but_hyphens(s, e, imf_builtin_sources[i].name)) {
			best = imf_builtin_sources[i].name;
			best_d = 0;
		}
	for (size_t i = 0; i < imf_builtin_source_count && n <= SUGGEST_MAX_LEN; i++) {
		if (best_d == 0)
			break;
		const char *name = imf_builtin_sources[i].name;
		size_t len = strlen(name);
		if (len > SUGGEST_MAX_LEN || (len > n ? len - n : n - len) > SUGGEST_MAX_DIST)
			continue;
		size_t d = edit_distance(s, n, name, len);
		if (d < best_d) {
			best_d = d;
			best = name;
		}
	}
	if (best)
		return imf_error_set(err, IMF_EINVAL,
		                     "kernel: unknown kernel '%.*s%s' (see --list-kernels); did you "
		                     "mean '%s'?",
		                     q, s, more, best);
	return imf_error_set(err, IMF_EINVAL, "kernel: unknown kernel '%.*s%s' (see --list-kernels)",
	                     q, s, more);
}

/* ---- kernel files -------------------------------------------------------- */

static imf_status parse_text(const char *text, const char *name, int allow_compound,
                             size_t max, imf_kernel **out, imf_error *err);

/*
 * The part names of a magnitude line: built-ins that are single matrices of
 * one size, each at most max per side.
 */
static imf_status build_magnitude(const char *s, const char *e, const char *name,
                                  const char *desc, size_t max, imf_kernel **out,
                                  imf_error *err)
{
	imf_status st = IMF_OK;
	imf_kernel *k = NULL, *part = NULL;
	size_t count = 0;
	const char *p;

	for (p = s; p < e;) {
		while (p < e && (is_space(*p) || *p == ','))
			p++;
		if (p == e)
			break;
		count++;
		while (p < e && !is_space(*p) && *p != ',')
			p++;
	}
	if (count < 2)
		return imf_error_set(err, IMF_EINVAL, "kernel: magnitude needs at least two kernels");

	if (!(k = kernel_new(count, name, desc, err)))
		return IMF_ENOMEM;
	k->combine = IMF_COMBINE_MAGNITUDE;
	k->part_names = calloc(count, sizeof *k->part_names);
	if (!k->part_names) {
		st = imf_error_set(err, IMF_ENOMEM, "kernel: out of memory");
		goto cleanup;
	}

	size_t i = 0;
	for (p = s; p < e;) {
		while (p < e && (is_space(*p) || *p == ','))
			p++;
		if (p == e)
			break;
		const char *t = p;
		while (p < e && !is_space(*p) && *p != ',')
			p++;
		long idx = find_builtin(t, p);
		if (idx < 0) {
			st = unknown_kernel(t, p, err);
			goto cleanup;
		}
		const imf_builtin_source *src = &imf_builtin_sources[idx];
		if ((st = parse_text(src->text, src->name, 0, max, &part, err)) != IMF_OK)
			goto cleanup;
		if (part->count != 1) {
			st = imf_error_set(err, IMF_EINVAL,
			                   "kernel: '%s' has %zu slices and cannot be a part of a "
			                   "magnitude kernel",
			                   src->name, part->count);
			goto cleanup;
		}
		if (i > 0 && (part->m[0].rows != k->m[0].rows || part->m[0].cols != k->m[0].cols)) {
			st = imf_error_set(err, IMF_EINVAL,
			                   "kernel: magnitude parts differ in size: %s is %zux%zu, %s is "
			                   "%zux%zu",
			                   k->part_names[0], k->m[0].cols, k->m[0].rows, src->name,
			                   part->m[0].cols, part->m[0].rows);
			goto cleanup;
		}
		/* Take over the part's matrix and name. */
		k->m[i] = part->m[0];
		part->m[0].w = NULL;
		k->part_names[i] = part->name;
		part->name = NULL;
		imf_kernel_free(part);
		part = NULL;
		i++;
	}
	*out = k;
	k = NULL;

cleanup:
	imf_kernel_free(part);
	imf_kernel_free(k);
	return st;
}

/*
 * Parse kernel-file text, every matrix at most max per side.  allow_compound
 * is 0 for the parts of a magnitude kernel, which keeps the recursion one
 * level deep (a file naming itself cannot loop).
 */
static imf_status parse_text(const char *text, const char *name, int allow_compound,
                             size_t max, imf_kernel **out, imf_error *err)
{
	imf_status st = IMF_OK;
	mbuild b = {0};
	slices sl = {0};
	imf_kernel *k = NULL;
	char *desc = NULL;
	double scale = 1.0;
	int have_scale = 0;
	const char *mag_s = NULL, *mag_e = NULL;
	const char *line = text;
	int seen_data = 0; /* the description comes from the comments above the data */
	int blank = 0;     /* a blank line since a row of the current slice */

	b.max = max;
	while (*line) {
		const char *eol = strchr(line, '\n');
		const char *next = eol ? eol + 1 : line + strlen(line);
		const char *s = line, *e = eol ? eol : next, *hash, *rest;
		line = next;

		trim(&s, &e);
		if (s == e) {
			/* Ends the slice, if it has rows and more rows follow. */
			blank = b.rows > 0;
			continue;
		}
		if (*s == '#') {
			const char *ds = s + 1, *de = e;
			trim(&ds, &de);
			if (!desc && !seen_data && ds < de &&
			    !(desc = dup_range(ds, (size_t)(de - ds), err))) {
				st = IMF_ENOMEM;
				goto cleanup;
			}
			continue;
		}
		if ((hash = find_char(s, e, '#')) != NULL) {
			e = hash;
			trim(&s, &e);
		}
		if (s == e)
			continue;

		seen_data = 1;
		if (starts_with_word(s, e, "scale", &rest)) {
			trim(&rest, &e);
			if (have_scale) {
				st = imf_error_set(err, IMF_EINVAL, "kernel: scale given twice");
				goto cleanup;
			}
			const char *t = rest;
			while (t < e && !is_space(*t))
				t++;
			if (rest == e || t != e) {
				st = imf_error_set(err, IMF_EINVAL, "kernel: scale takes one number");
				goto cleanup;
			}
			if ((st = parse_number(rest, e, &scale, err)) != IMF_OK)
				goto cleanup;
			have_scale = 1;
		} else if (starts_with_word(s, e, "magnitude", &rest)) {
			if (!allow_compound) {
				st = imf_error_set(err, IMF_EINVAL,
				                   "kernel: '%s' is a magnitude kernel and cannot be a part "
				                   "of another",
				                   name);
				goto cleanup;
			}
			if (mag_s) {
				st = imf_error_set(err, IMF_EINVAL, "kernel: magnitude given twice");
				goto cleanup;
			}
			if (b.rows > 0) {
				st = imf_error_set(err, IMF_EINVAL,
				                   "kernel: a magnitude kernel has no matrix rows");
				goto cleanup;
			}
			mag_s = rest;
			mag_e = e;
		} else {
			if (mag_s) {
				st = imf_error_set(err, IMF_EINVAL,
				                   "kernel: a magnitude kernel has no matrix rows");
				goto cleanup;
			}
			if (blank && holds_value(s, e)) {
				if ((st = slices_push(&sl, &b, err)) != IMF_OK)
					goto cleanup;
				blank = 0;
			}
			if ((st = parse_rows(&b, s, e, err)) != IMF_OK)
				goto cleanup;
		}
	}

	if (mag_s) {
		if (have_scale) {
			st = imf_error_set(err, IMF_EINVAL, "kernel: a magnitude kernel takes no scale");
			goto cleanup;
		}
		st = build_magnitude(mag_s, mag_e, name, desc ? desc : "", max, out, err);
		goto cleanup;
	}
	/* The last (or only) slice; an empty one is "no values". */
	if ((st = slices_push(&sl, &b, err)) != IMF_OK)
		goto cleanup;
	if (!(k = kernel_new(sl.n, name, desc ? desc : "", err))) {
		st = IMF_ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < sl.n; i++) {
		k->m[i] = sl.m[i];
		k->m[i].scale = scale;
	}
	sl.n = 0; /* the weights belong to k now */
	*out = k;
	k = NULL;

cleanup:
	free(b.w);
	slices_free(&sl);
	free(desc);
	imf_kernel_free(k);
	return st;
}

imf_status imf_kernel_from_text(const char *text, const char *origin, imf_kernel **out,
                                imf_error *err)
{
	if (!out)
		return imf_error_set(err, IMF_EINVAL, "kernel: no output given");
	*out = NULL;
	if (!text)
		return imf_error_set(err, IMF_EINVAL, "kernel: no values");
	return parse_text(text, origin ? origin : "", 1, side_limit(NULL), out, err);
}

/* ---- built-ins ----------------------------------------------------------- */

size_t imf_kernel_builtin_count(void)
{
	return imf_builtin_source_count;
}

const char *imf_kernel_builtin_name(size_t i)
{
	return i < imf_builtin_source_count ? imf_builtin_sources[i].name : NULL;
}

imf_status imf_kernel_builtin(const char *name, imf_kernel **out, imf_error *err)
{
	if (!out)
		return imf_error_set(err, IMF_EINVAL, "kernel: no output given");
	*out = NULL;
	if (!name)
		name = "";
	long idx = find_builtin(name, name + strlen(name));
	if (idx < 0)
		return unknown_kernel(name, name + strlen(name), err);
	return parse_text(imf_builtin_sources[idx].text, imf_builtin_sources[idx].name, 1,
	                  side_limit(NULL), out, err);
}

/* ---- specs --------------------------------------------------------------- */

/*
 * Read a kernel file of at most KERNEL_FILE_MAX bytes into a new string.
 * On an error opening, *open_errno gets errno and nothing is set in err, so
 * the caller can still try the spec as an inline matrix.
 */
static imf_status read_kernel_file(const char *path, char **out, int *open_errno,
                                   imf_error *err)
{
	imf_status st = IMF_OK;
	FILE *fp = NULL;
	char *buf = NULL;
	size_t len = 0, cap = 4096;

	*out = NULL;
	*open_errno = 0;
	errno = 0;
	if (!(fp = fopen(path, "rb"))) {
		*open_errno = errno ? errno : ENOENT;
		return IMF_EIO;
	}
	for (;;) {
		char *nb = realloc(buf, cap + 1);
		if (!nb) {
			st = imf_error_set(err, IMF_ENOMEM, "kernel: out of memory");
			goto cleanup;
		}
		buf = nb;
		len += fread(buf + len, 1, cap - len, fp);
		if (ferror(fp)) {
			st = imf_error_set(err, IMF_EIO, "kernel: cannot read %s: %s", path,
			                   strerror(errno));
			goto cleanup;
		}
		if (len < cap)
			break; /* end of file */
		if (len > KERNEL_FILE_MAX) {
			st = imf_error_set(err, IMF_ELIMIT,
			                   "kernel: %s is larger than the limit of 1 MiB for kernel files",
			                   path);
			goto cleanup;
		}
		cap = cap * 2 > KERNEL_FILE_MAX ? KERNEL_FILE_MAX + 1 : cap * 2;
	}
	if (memchr(buf, '\0', len)) {
		st = imf_error_set(err, IMF_EINVAL, "kernel: %s is not a text file (it holds a NUL byte)",
		                   path);
		goto cleanup;
	}
	buf[len] = '\0';
	*out = buf;
	buf = NULL;

cleanup:
	if (fp && fclose(fp) != 0 && st == IMF_OK) {
		st = imf_error_set(err, IMF_EIO, "kernel: cannot read %s: %s", path, strerror(errno));
		free(*out);
		*out = NULL;
	}
	free(buf);
	return st;
}

/*
 * An inline matrix: optional "S *" scale, optional [ ], rows separated by
 * ';' (or newlines), values by spaces or commas; at most max per side.  A
 * spec starting with the word "magnitude" is read as kernel-file text.
 */
static imf_status parse_inline(const char *spec, size_t max, imf_kernel **out, imf_error *err)
{
	imf_status st = IMF_OK;
	mbuild b = {0};
	imf_kernel *k = NULL;
	double scale = 1.0;
	const char *s = spec, *e = spec + strlen(spec), *rest;
	const char *star;

	b.max = max;
	trim(&s, &e);
	if (starts_with_word(s, e, "magnitude", &rest))
		return parse_text(spec, "inline", 1, max, out, err);

	if ((star = find_char(s, e, '*')) != NULL) {
		const char *ss = s, *se = star;
		trim(&ss, &se);
		if (find_char(star + 1, e, '*'))
			return imf_error_set(err, IMF_EINVAL, "kernel: more than one '*'");
		if (ss == se)
			return imf_error_set(err, IMF_EINVAL, "kernel: missing scale before '*'");
		if ((st = parse_number(ss, se, &scale, err)) != IMF_OK)
			return st;
		s = star + 1;
		trim(&s, &e);
	}
	if (s < e && (*s == '[' || e[-1] == ']')) {
		if (*s != '[' || e[-1] != ']' || e - s < 2)
			return imf_error_set(err, IMF_EINVAL, "kernel: unbalanced [ ]");
		s++;
		e--;
	}
	if ((st = parse_rows(&b, s, e, err)) != IMF_OK)
		goto cleanup;
	if (!(k = kernel_new(1, "inline", "", err))) {
		st = IMF_ENOMEM;
		goto cleanup;
	}
	if ((st = mbuild_finish(&b, scale, &k->m[0], err)) != IMF_OK)
		goto cleanup;
	*out = k;
	k = NULL;

cleanup:
	free(b.w);
	imf_kernel_free(k);
	return st;
}

/* One token (no white space or separators) that is not a number at all? */
static int is_bad_word(const char *s, const char *e)
{
	double v;
	if (s == e)
		return 0;
	for (const char *p = s; p < e; p++)
		if (is_space(*p) || strchr(";,*[]", *p))
			return 0;
	return scan_number(s, e, &v) == NUM_BAD;
}

/* Letters, digits, '-' and '_', with at least one letter. */
static int looks_like_name(const char *s, const char *e)
{
	int letter = 0;
	for (const char *p = s; p < e; p++) {
		if (isalpha((unsigned char)*p))
			letter = 1;
		else if (!isdigit((unsigned char)*p) && *p != '-' && *p != '_')
			return 0;
	}
	return letter;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash && slash[1] ? slash + 1 : path;
}

imf_status imf_kernel_parse(const char *spec, imf_kernel **out, imf_error *err)
{
	return imf_kernel_parse_limited(spec, NULL, out, err);
}

/*
 * In order: a built-in name, an existing file, an inline matrix.  When all
 * fail, a single word that is no number gets the most useful message: the
 * file error if it looks like a path, else "unknown kernel".
 */
imf_status imf_kernel_parse_limited(const char *spec, const imf_limits *lim, imf_kernel **out,
                                    imf_error *err)
{
	imf_status st;
	char *text = NULL;
	int open_errno = 0;
	const char *s, *e;
	size_t max = side_limit(lim);

	if (!out)
		return imf_error_set(err, IMF_EINVAL, "kernel: no output given");
	*out = NULL;
	if (!spec)
		return imf_error_set(err, IMF_EINVAL, "kernel: no values");
	s = spec;
	e = spec + strlen(spec);
	trim(&s, &e);

	long idx = find_builtin(s, e);
	if (idx >= 0)
		return parse_text(imf_builtin_sources[idx].text, imf_builtin_sources[idx].name, 1, max,
		                  out, err);

	st = read_kernel_file(spec, &text, &open_errno, err);
	if (st == IMF_OK) {
		st = parse_text(text, base_name(spec), 1, max, out, err);
		free(text);
		return st;
	}
	if (!open_errno)
		return st; /* the file exists but reading it failed */
	if (open_errno != ENOENT && open_errno != ENOTDIR && open_errno != ENAMETOOLONG)
		return imf_error_set(err, IMF_EIO, "kernel: cannot read %s: %s", spec,
		                     strerror(open_errno));

	st = parse_inline(spec, max, out, err);
	if (st == IMF_OK || st == IMF_ENOMEM || !is_bad_word(s, e))
		return st;
	if (find_char(s, e, '/') ||
	    (e - s > 4 && strncmp(e - 4, ".txt", 4) == 0))
		return imf_error_set(err, IMF_EIO, "kernel: cannot read %s: %s", spec,
		                     strerror(open_errno));
	if (looks_like_name(s, e))
		return unknown_kernel(s, e, err);
	return st;
}

/* ---- printing ------------------------------------------------------------ */

/* The fewest significant digits that read back as exactly v (numstr.c). */
static void format_double(char *buf, size_t len, double v)
{
	imf_number_str(buf, len, v, 0);
}

/* "1/16" or "-1/256" when the scale is exactly 1/n, else the shortest decimal. */
static void format_scale(char *buf, size_t len, double s)
{
	if (s != 0 && isfinite(s)) {
		double n = round(1.0 / s);
		if (fabs(n) >= 2 && fabs(n) <= 1e15 && 1.0 / n == s) {
			snprintf(buf, len, "%s1/%.0f", n < 0 ? "-" : "", fabs(n));
			return;
		}
	}
	format_double(buf, len, s);
}

/*
 * The n slices of m (n = 1 for a 2-D kernel) with the first one's scale:
 * rows with each column right-aligned to its widest value over every slice,
 * a blank line between slices; prefix starts each line.
 */
static int print_matrices(const imf_matrix *m, size_t n, const char *prefix, FILE *fp)
{
	char buf[40];
	const size_t cols = m[0].cols;
	size_t *width = calloc(cols ? cols : 1, sizeof *width);
	int rc = 0;

	if (!width)
		return -1;
	if (m[0].scale != 1.0) {
		format_scale(buf, sizeof buf, m[0].scale);
		if (fprintf(fp, "%sscale %s\n", prefix, buf) < 0)
			rc = -1;
	}
	for (size_t q = 0; q < n; q++)
		for (size_t y = 0; y < m[q].rows; y++)
			for (size_t x = 0; x < cols; x++) {
				format_double(buf, sizeof buf, m[q].w[y * cols + x]);
				if (strlen(buf) > width[x])
					width[x] = strlen(buf);
			}
	for (size_t q = 0; q < n && rc == 0; q++) {
		if (q > 0 && fputc('\n', fp) == EOF)
			rc = -1;
		for (size_t y = 0; y < m[q].rows && rc == 0; y++) {
			if (fputs(prefix, fp) < 0)
				rc = -1;
			for (size_t x = 0; x < cols; x++) {
				format_double(buf, sizeof buf, m[q].w[y * cols + x]);
				if (fprintf(fp, "%s%*s", x ? " " : "", (int)width[x], buf) < 0)
					rc = -1;
			}
			if (fputc('\n', fp) == EOF)
				rc = -1;
		}
	}
	free(width);
	return rc;
}

int imf_kernel_print(const imf_kernel *k, FILE *fp)
{
	int rc = 0;
	if (!k || !fp)
		return -1;
	if (k->description[0] && fprintf(fp, "# %s\n", k->description) < 0)
		rc = -1;
	if (k->combine == IMF_COMBINE_MAGNITUDE) {
		char size[32];
		if (fputs("magnitude", fp) < 0)
			rc = -1;
		for (size_t i = 0; i < k->count; i++)
			if (fprintf(fp, " %s", k->part_names[i]) < 0)
				rc = -1;
		if (fputc('\n', fp) == EOF)
			rc = -1;
		for (size_t i = 0; i < k->count && rc == 0; i++) {
			snprintf(size, sizeof size, "%zux%zu", k->m[i].cols, k->m[i].rows);
			if (fprintf(fp, "#\n# %s (%s):\n", k->part_names[i], size) < 0 ||
			    print_matrices(&k->m[i], 1, "#   ", fp) != 0)
				rc = -1;
		}
	} else if (print_matrices(k->m, k->count, "", fp) != 0) {
		rc = -1;
	}
	if (ferror(fp))
		rc = -1;
	return rc;
}

/* ---- accessors ----------------------------------------------------------- */

const char *imf_kernel_name(const imf_kernel *k)
{
	return k && k->name ? k->name : "";
}

const char *imf_kernel_description(const imf_kernel *k)
{
	return k && k->description ? k->description : "";
}

void imf_kernel_size_str(const imf_kernel *k, char *buf, size_t len)
{
	size_t used;
	int n;

	if (!buf || len == 0)
		return;
	buf[0] = '\0';
	if (!k || k->count == 0)
		return;
	if (k->combine == IMF_COMBINE_NONE && k->count > 1) {
		snprintf(buf, len, "%zux%zux%zu", k->m[0].cols, k->m[0].rows, k->count);
		return;
	}
	n = snprintf(buf, len, "%zux%zu", k->m[0].cols, k->m[0].rows);
	if (k->combine != IMF_COMBINE_MAGNITUDE || n < 0 || (size_t)n >= len)
		return;
	used = (size_t)n;
	for (size_t i = 0; i < k->count && used < len; i++) {
		n = snprintf(buf + used, len - used, "%s%s", i ? ", " : " magnitude of ",
		             k->part_names[i]);
		if (n < 0)
			return;
		used += (size_t)n;
	}
}

void imf_kernel_dims(const imf_kernel *k, size_t *rows, size_t *cols)
{
	int have = k && k->count > 0 && k->m;
	if (rows)
		*rows = have ? k->m[0].rows : 0;
	if (cols)
		*cols = have ? k->m[0].cols : 0;
}

size_t imf_kernel_depth(const imf_kernel *k)
{
	if (!k || k->count == 0)
		return 0;
	return k->combine == IMF_COMBINE_NONE ? k->count : 1;
}
