/*
 * text.c - matrices of numbers as plain text, in and out.
 *
 * Input: numbers separated by white space and/or commas (a trailing comma is
 * allowed, an empty field between two commas is not), one row per line, '#'
 * to the end of a line is a comment, CRLF works.  Any finite real values.
 * Rows of a matrix have equal lengths.  Matrices separated by one or more
 * blank lines are planes: 1 = gray, 2 = gray+alpha, 3 = RGB, 4 = RGBA, all of
 * one size.  A line holding only a comment is ignored and separates nothing.
 *
 * The input is parsed as a stream, chunk by chunk, so lines may be of any
 * length; values are collected into one growing array (planes one after the
 * other) whose size is bounded by the limits as it grows: a first row longer
 * than max_side, or a matrix over max_side rows or max_pixels values, stops
 * the read before the memory is spent, and the array never grows past
 * max_memory bytes.  Numbers are parsed with strtof, the
 * correctly rounded conversion to float, so what the writer prints reads
 * back bit for bit.
 *
 * Output: every plane (alpha included) as a matrix, one blank line between
 * planes, one space between values, each value the shortest "%g" form that
 * reads back to the same float (integers as "114").
 *
 * As a stream, the reader parses the whole input when opened (the size is
 * known only at the end) and copies rows out; the writer streams one plane
 * and holds the image for several (they go out plane after plane).
 */
#include "io.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_MAX 256     /* characters in one number */
#define CHUNK_BYTES 16384 /* the input is read this much at a time */

typedef struct parser {
	const imf_limits *lim;
	imf_error *err;
	size_t line;      /* 1-based, for messages */

	/* the number being read */
	char tok[TOKEN_MAX + 1];
	size_t toklen;

	/* the current line */
	size_t nline;     /* values on it */
	int blank;        /* nothing but white space so far */
	int after_value;  /* a value since the line began or since the last comma */
	int in_comment;

	/* the current matrix (block) and the first one */
	size_t bcols, brows;
	size_t cols, rows;
	int nblocks;      /* finished blocks */

	/* every stored value, block after block, row-major */
	float *vals;
	size_t nvals, cap;
} parser;

static imf_status store(parser *p, float v)
{
	if (p->nvals == p->cap) {
		size_t cap = p->cap ? p->cap : 1024, bytes;
		size_t most = p->lim->max_memory ? p->lim->max_memory / sizeof(float) : SIZE_MAX;
		float *nv;
		if (p->nvals >= most) {
			char limit[32];
			imf_format_bytes(p->lim->max_memory, limit);
			return imf_error_set(p->err, IMF_ELIMIT,
			                     "text: more than %zu values, over the --max-memory limit of "
			                     "%s as floats (raise it with --max-memory)",
			                     most, limit);
		}
		if ((p->cap && !imf_size_mul(cap, 2, &cap)) || !imf_size_mul(cap, sizeof *nv, &bytes))
			return imf_error_set(p->err, IMF_ELIMIT, "text: too many values");
		if (cap > most) { /* grow up to the limit, not past it */
			cap = most;
			bytes = cap * sizeof *nv;
		}
		nv = realloc(p->vals, bytes);
		if (!nv)
			return imf_error_set(p->err, IMF_ENOMEM, "out of memory (%zu bytes)", bytes);
		p->vals = nv;
		p->cap = cap;
	}
	p->vals[p->nvals++] = v;
	return IMF_OK;
}

/* The token just ended: a finite number, one more value on this line. */
static imf_status end_token(parser *p)
{
	char *end;
	float v;

	p->tok[p->toklen] = '\0';
	p->toklen = 0;
	v = strtof(p->tok, &end);
	if (end == p->tok || *end != '\0')
		return imf_error_set(p->err, IMF_ECORRUPT, "text: line %zu: not a number '%s'",
		                     p->line, p->tok);
	/* Overflow gives HUGE_VALF; underflow to 0 or a subnormal is accepted. */
	if (!isfinite(v))
		return imf_error_set(p->err, IMF_ECORRUPT, "text: line %zu: not a finite number '%s'",
		                     p->line, p->tok);
	if (p->brows == 0 && p->nline == 0 && p->nblocks == IMF_MAX_CHANNELS)
		return imf_error_set(p->err, IMF_ECORRUPT,
		                     "text: line %zu starts block %d, at most %d are allowed", p->line,
		                     IMF_MAX_CHANNELS + 1, IMF_MAX_CHANNELS);
	p->nline++;
	p->after_value = 1;
	if (p->brows == 0) {
		/* The block's first row sets its width: bound it as it grows. */
		if (p->nline > p->lim->max_side)
			return imf_error_set(p->err, IMF_ELIMIT,
			                     "text: line %zu has more values than the --max-side limit "
			                     "of %zu (raise it with --max-side)",
			                     p->line, p->lim->max_side);
	} else if (p->nline > p->bcols) {
		return IMF_OK; /* too long: counted, not stored, reported at its end */
	}
	return store(p, v);
}

/* A matrix ended (blank line or end of input): it must match the first. */
static imf_status end_block(parser *p)
{
	if (p->brows == 0)
		return IMF_OK;
	p->nblocks++;
	if (p->nblocks == 1) {
		p->cols = p->bcols;
		p->rows = p->brows;
	} else if (p->bcols != p->cols || p->brows != p->rows) {
		return imf_error_set(p->err, IMF_ECORRUPT, "text: block %d is %zux%zu, expected %zux%zu",
		                     p->nblocks, p->bcols, p->brows, p->cols, p->rows);
	}
	p->bcols = p->brows = 0;
	return IMF_OK;
}

static imf_status end_line(parser *p)
{
	imf_status st = IMF_OK;

	if (p->toklen && (st = end_token(p)) != IMF_OK)
		return st;
	if (p->nline > 0) {
		if (p->brows == 0)
			p->bcols = p->nline;
		else if (p->nline != p->bcols)
			return imf_error_set(p->err, IMF_ECORRUPT,
			                     "text: line %zu has %zu value%s, expected %zu", p->line,
			                     p->nline, p->nline == 1 ? "" : "s", p->bcols);
		p->brows++;
		st = imf_check_dims(p->bcols, p->brows, 1, p->lim, "text", p->err);
	} else if (p->blank) {
		st = end_block(p);
	}
	p->line++;
	p->nline = 0;
	p->blank = 1;
	p->after_value = 0;
	p->in_comment = 0;
	return st;
}

static imf_status feed(parser *p, const unsigned char *buf, size_t n)
{
	imf_status st;

	for (size_t i = 0; i < n; i++) {
		int c = buf[i];
		if (c == '\n') {
			if ((st = end_line(p)) != IMF_OK)
				return st;
			continue;
		}
		if (p->in_comment)
			continue;
		if (c != ',' && c != '#' && !imf_is_space(c)) {
			if (c < 0x21 || c > 0x7E) /* keeps messages printable */
				return imf_error_set(p->err, IMF_ECORRUPT,
				                     "text: line %zu: unexpected byte 0x%02x", p->line,
				                     (unsigned)c);
			if (p->toklen == TOKEN_MAX)
				return imf_error_set(p->err, IMF_ECORRUPT,
				                     "text: line %zu: a number longer than %d characters",
				                     p->line, TOKEN_MAX);
			p->tok[p->toklen++] = (char)c;
			p->blank = 0;
			continue;
		}
		if (p->toklen && (st = end_token(p)) != IMF_OK)
			return st;
		if (c == ',') {
			if (!p->after_value)
				return imf_error_set(p->err, IMF_ECORRUPT, "text: line %zu: empty field",
				                     p->line);
			p->after_value = 0;
			p->blank = 0;
		} else if (c == '#') {
			p->in_comment = 1;
			p->blank = 0;
		}
	}
	return IMF_OK;
}

/*
 * The reader: the whole matrix is parsed at open (its size is known only at
 * its end); rows are then copied out of the parser's values, which are
 * stored plane after plane, row-major, as an image's planes are.
 */
static imf_status text_reader_open(imf_reader *r, imf_error *err)
{
	parser *p = calloc(1, sizeof *p);
	unsigned char buf[CHUNK_BYTES];
	imf_status st;
	size_t n;
	int e;

	if (!p)
		return imf_error_set(err, IMF_ENOMEM, "text: out of memory");
	r->state = p;
	p->lim = &r->opts.limits;
	p->err = err;
	p->line = 1;
	p->blank = 1;

	do {
		/* e is taken here: feed's strtof may set errno (ERANGE) afterwards. */
		n = imf_io_read(&r->src, buf, sizeof buf, &e);
		if ((st = feed(p, buf, n)) != IMF_OK)
			return st;
	} while (n == sizeof buf);
	if (e)
		return imf_io_read_error(err, "text", e);
	/* A last line without its newline. */
	if ((p->toklen || p->nline) && (st = end_line(p)) != IMF_OK)
		return st;
	if ((st = end_block(p)) != IMF_OK)
		return st;
	if (p->nblocks == 0)
		return imf_error_set(err, IMF_ECORRUPT, "text: no numbers");
	st = imf_check_dims(p->cols, p->rows, p->nblocks, &r->opts.limits, "text", err);
	if (st != IMF_OK)
		return st;
	r->info.width = p->cols;
	r->info.height = p->rows;
	r->info.channels = p->nblocks;
	r->info.has_alpha = p->nblocks == 2 || p->nblocks == 4;
	r->info.format = IMF_FORMAT_TEXT;
	r->info.depth = 32;
	r->streams = 0;
	return IMF_OK;
}

static imf_status text_reader_rows(imf_reader *r, imf_image *band, size_t first, size_t n,
                                   imf_error *err)
{
	const parser *p = r->state;
	(void)err;
	for (int c = 0; c < p->nblocks; c++)
		for (size_t i = 0; i < n; i++)
			memcpy(imf_image_row(band, c, first + i),
			       p->vals + ((size_t)c * p->rows + r->next + i) * p->cols,
			       p->cols * sizeof(float));
	return IMF_OK;
}

static void text_reader_close(imf_reader *r)
{
	parser *p = r->state;
	if (!p)
		return;
	free(p->vals);
	free(p);
	r->state = NULL;
}

const imf_reader_ops imf_text_reader = { .open = text_reader_open, .rows = text_reader_rows,
	                                 .close = text_reader_close };

/* ---- writing ------------------------------------------------------------- */

/* "%.<prec>g" of v; 0 if it did not fit (it always does for prec <= 9). */
static int print_g(char buf[32], int prec, float v)
{
	int n = snprintf(buf, 32, "%.*g", prec, (double)v);
	return n > 0 && n < 32;
}

/* An integer below 2^24 in decimal, without printf's cost. */
static void print_int(char buf[32], long n)
{
	char tmp[16];
	size_t len = 0, k = 0;
	unsigned long u = n < 0 ? 0UL - (unsigned long)n : (unsigned long)n;

	do {
		tmp[len++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (n < 0)
		buf[k++] = '-';
	while (len)
		buf[k++] = tmp[--len];
	buf[k] = '\0';
}

/*
 * The shortest text that strtof reads back as v: integers below 2^24 (all
 * exact) in plain digits, others as "%.Ng" with the least N in 1..9 that
 * round-trips (9 always does).  Round-tripping is monotonic in N, since the
 * N-digit decimals are among the N+1-digit ones, so N is found by bisection.
 * -0 prints as 0; non-finite values print as nan, inf, -inf.
 */
static void format_value(float v, char buf[32])
{
	char probe[32];
	int lo = 1, hi = 9, have = 0; /* have: buf holds "%.<hi>g" */

	if (isnan(v)) {
		strcpy(buf, "nan");
		return;
	}
	if (isinf(v)) {
		strcpy(buf, v > 0 ? "inf" : "-inf");
		return;
	}
	if (fabsf(v) < 16777216.0f && v == truncf(v)) {
		print_int(buf, (long)v); /* -0 becomes 0 */
		return;
	}
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (print_g(probe, mid, v) && strtof(probe, NULL) == v) {
			hi = mid;
			have = 1;
			memcpy(buf, probe, sizeof probe);
		} else {
			lo = mid + 1;
		}
	}
	if (!have && !print_g(buf, hi, v))
		snprintf(buf, 32, "%.9g", (double)v);
}

/*
 * Plane after plane: one plane streams (rows go out as they come), several
 * need the whole image (whole_only: the rows come once, at finish).
 */
static imf_status text_writer_open(imf_writer *w, imf_error *err)
{
	return w->channels > 1 ? imf_writer_hold(w, err) : IMF_OK;
}

static imf_status text_writer_rows(imf_writer *w, const imf_image *band, size_t first, size_t n,
                                   imf_error *err)
{
	char buf[33]; /* a separator and a value */
	int e = 0;

	for (int c = 0; c < w->channels && !e; c++) {
		if (c > 0)
			e = imf_io_write(w->fp, "\n", 1);
		for (size_t y = first; y < first + n && !e; y++) {
			const float *row = imf_image_row_const(band, c, y);
			for (size_t x = 0; x < w->width && !e; x++) {
				const char *v = x > 0 ? buf : buf + 1;
				buf[0] = ' ';
				format_value(row[x], buf + 1);
				e = imf_io_write(w->fp, v, strlen(v));
			}
			if (!e)
				e = imf_io_write(w->fp, "\n", 1);
		}
	}
	return e ? imf_io_write_error(err, "text", e) : IMF_OK;
}

static void text_writer_close(imf_writer *w)
{
	(void)w;
}

const imf_writer_ops imf_text_writer = { .open = text_writer_open, .rows = text_writer_rows,
	                                 .close = text_writer_close };
