/*
 * stream.c - the streaming reader and writer: what every format shares.
 *
 * A format provides open, rows and close (and a writer finish); this file
 * checks the caller's arguments, keeps the first error so that every later
 * call repeats it (a codec that failed inside libpng or libjpeg must never
 * be called again), and does the buffering for formats that cannot stream:
 *
 *  - a whole_only reader (interlaced PNG, PFM) decodes every row in one
 *    call.  Asked for the whole image at once (imf_read), it decodes straight
 *    into the caller's image; asked in bands, it decodes into an image of its
 *    own at the first band, within limits.max_memory, and copies bands out;
 *  - a whole_only writer (normalize mapping, PFM, text with several planes)
 *    encodes at finish from an image of exactly height rows: imf_write's own
 *    image, by reference, or a copy of the bands, within opts.max_memory.
 *
 * Invariant: reader and writer count the rows handed over (next), and only
 * whole rows ever pass, so the image's row y is always the y-th row read or
 * written, whatever the band sizes.
 */
#include "io.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const imf_reader_ops *const reader_ops[] = {
	[IMF_FORMAT_PNG] = &imf_png_reader,
	[IMF_FORMAT_JPEG] = &imf_jpeg_reader,
	[IMF_FORMAT_PNM] = &imf_pnm_reader,
	[IMF_FORMAT_PFM] = &imf_pfm_reader,
	[IMF_FORMAT_TEXT] = &imf_text_reader,
};

static const imf_writer_ops *const writer_ops[] = {
	[IMF_FORMAT_PNG] = &imf_png_writer,
	[IMF_FORMAT_JPEG] = &imf_jpeg_writer,
	[IMF_FORMAT_PNM] = &imf_pnm_writer,
	[IMF_FORMAT_PFM] = &imf_pfm_writer,
	[IMF_FORMAT_TEXT] = &imf_text_writer,
};

/* ---- the memory budget -------------------------------------------------------- */

void imf_format_bytes(size_t b, char buf[32])
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	int u = -1;
	size_t unit = 1;

	while (u + 1 < 6 && b / unit >= 1024) {
		unit *= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, 32, "%zu bytes", b);
	else if (b % unit == 0)
		snprintf(buf, 32, "%zu %s", b / unit, units[u]);
	else
		snprintf(buf, 32, "%.1f %s", (double)b / (double)unit, units[u]);
}

imf_status imf_check_memory(size_t width, size_t height, int planes, size_t max_memory,
                            const char *what, imf_error *err)
{
	size_t pixels, values, bytes;
	char need[32], limit[32];

	if (planes < 1 || !imf_size_mul(width, height, &pixels) ||
	    !imf_size_mul(pixels, (size_t)planes, &values) ||
	    !imf_size_mul(values, sizeof(float), &bytes))
		return imf_error_set(err, IMF_ELIMIT, "%s: %zux%zu is too large to address", what,
		                     width, height);
	if (max_memory == 0 || bytes <= max_memory)
		return IMF_OK;
	imf_format_bytes(bytes, need);
	imf_format_bytes(max_memory, limit);
	return imf_error_set(err, IMF_ELIMIT,
	                     "%s: image needs %s as float planes (%zux%zu, %d channel%s), over the "
	                     "--max-memory limit of %s (raise it with --max-memory)",
	                     what, need, width, height, planes, planes == 1 ? "" : "s", limit);
}

/* ---- errors ---------------------------------------------------------------------- */

imf_status imf_io_name_failure(imf_format fmt, imf_status st, imf_error *err)
{
	if (st == IMF_ENOMEM && err && strncmp(err->msg, "out of memory", 13) == 0) {
		char msg[sizeof err->msg];
		snprintf(msg, sizeof msg, "%s", err->msg);
		imf_error_set(err, st, "%s: %s", imf_format_name(fmt), msg);
	}
	return st;
}

/* A failure, named (imf_io_name_failure) and kept for later calls. */
static imf_status keep_failure(imf_status st, imf_format fmt, imf_status *failed,
                               imf_error *failure, imf_error *err)
{
	imf_io_name_failure(fmt, st, err);
	*failed = st;
	if (err)
		*failure = *err;
	else
		imf_error_set(failure, st, "%s: %s", imf_format_name(fmt), imf_status_str(st));
	return st;
}

static imf_status repeat_failure(imf_status failed, const imf_error *failure, imf_error *err)
{
	if (err)
		*err = *failure;
	return failed;
}

/* A band must have the image's width and planes and hold rows first .. first+n-1. */
static imf_status check_band(const char *who, const imf_image *band, size_t width, int channels,
                             int has_alpha, size_t first, size_t n, imf_error *err)
{
	size_t end;
	if (!band)
		return imf_error_set(err, IMF_EINVAL, "%s: no band", who);
	if (band->width != width || band->channels != channels || band->has_alpha != has_alpha)
		return imf_error_set(err, IMF_EINVAL,
		                     "%s: band is %zu wide with %d channel%s%s, the image %zu wide with "
		                     "%d%s",
		                     who, band->width, band->channels, band->channels == 1 ? "" : "s",
		                     band->has_alpha ? " (alpha)" : "", width, channels,
		                     has_alpha ? " (alpha)" : "");
	if (!imf_size_add(first, n, &end) || end > band->height)
		return imf_error_set(err, IMF_EINVAL, "%s: rows %zu..%zu are past the band's %zu rows",
		                     who, first, first + n - 1, band->height);
	return IMF_OK;
}

/* Rows [from, from+n) of src to rows [to, to+n) of dst, every plane. */
static void copy_rows(imf_image *dst, size_t to, const imf_image *src, size_t from, size_t n)
{
	for (int c = 0; c < src->channels; c++)
		for (size_t i = 0; i < n; i++)
			memcpy(imf_image_row(dst, c, to + i), imf_image_row_const(src, c, from + i),
			       src->width * sizeof(float));
}

/* ---- readers ------------------------------------------------------------------------ */

imf_status imf_reader_start(FILE *fp, const imf_read_opts *opts, int header_only,
                            imf_reader **out, imf_error *err)
{
	imf_read_opts def;
	imf_format fmt;
	imf_reader *r;
	imf_status st;

	*out = NULL;
	if (!opts) {
		imf_read_opts_default(&def);
		opts = &def;
	}
	r = calloc(1, sizeof *r);
	if (!r)
		return imf_error_set(err, IMF_ENOMEM, "out of memory");
	if ((st = imf_io_detect(fp, &r->src, &fmt, err)) != IMF_OK) {
		free(r);
		return st;
	}
	r->opts = *opts;
	r->header_only = header_only;
	r->ops = reader_ops[fmt];
	st = r->ops->open(r, err);
	if (st != IMF_OK) {
		keep_failure(st, fmt, &r->failed, &r->failure, err);
		imf_reader_free(r);
		return st;
	}
	r->info.format = fmt;
	*out = r;
	return IMF_OK;
}

imf_status imf_reader_open(FILE *fp, const imf_read_opts *opts, imf_reader **out,
                           imf_error *err)
{
	return imf_reader_start(fp, opts, 0, out, err);
}

void imf_reader_info(const imf_reader *r, imf_info *info)
{
	*info = r->info;
}

int imf_reader_streams(const imf_reader *r)
{
	return r->streams;
}

imf_status imf_reader_read(imf_reader *r, imf_image *band, size_t first, size_t n,
                           imf_error *err)
{
	const imf_info *in = &r->info;
	imf_status st;

	if (r->failed != IMF_OK)
		return repeat_failure(r->failed, &r->failure, err);
	if (r->header_only)
		return imf_error_set(err, IMF_EINVAL, "reader: opened for the header only");
	st = check_band("reader", band, in->width, in->channels, in->has_alpha, first, n, err);
	if (st != IMF_OK)
		return st;
	if (n > in->height - r->next)
		return imf_error_set(err, IMF_EINVAL,
		                     "reader: %zu row%s asked after row %zu of %zu: past the last row", n,
		                     n == 1 ? "" : "s", r->next, in->height);
	if (n == 0)
		return IMF_OK;

	if (!r->whole_only) {
		st = r->ops->rows(r, band, first, n, err);
	} else if (!r->whole && r->next == 0 && n == in->height) {
		st = r->ops->rows(r, band, first, n, err); /* straight into the caller's image */
	} else {
		if (!r->whole) {
			st = imf_check_memory(in->width, in->height, in->channels,
			                      r->opts.limits.max_memory, imf_format_name(in->format), err);
			if (st == IMF_OK)
				st = imf_image_new(in->width, in->height, in->channels, in->has_alpha, NULL,
				                   &r->whole, err);
			if (st == IMF_OK)
				st = r->ops->rows(r, r->whole, 0, in->height, err);
		}
		if (st == IMF_OK)
			copy_rows(band, first, r->whole, r->next, n);
	}
	if (st != IMF_OK)
		return keep_failure(st, in->format, &r->failed, &r->failure, err);
	r->next += n;
	if (r->next == in->height) {
		imf_image_free(r->whole); /* every row is out: give the memory back early */
		r->whole = NULL;
	}
	return IMF_OK;
}

/* ---- rows read at their place ------------------------------------------------------ */

/* The largest off_t (64 bits with _FILE_OFFSET_BITS=64, but not everywhere). */
#define OFF_T_MAX ((((uintmax_t)1 << (sizeof(off_t) * CHAR_BIT - 2)) - 1) * 2 + 1)

/* Raw rows a read_at reads per system call: about 256 KiB, at least one. */
#define PLACE_CHUNK_BYTES (1u << 18)

void imf_reader_place(imf_reader *r, size_t rowbytes)
{
	struct stat sb;
	size_t raster;
	off_t at;
	int fd;

	if (r->header_only || !r->ops->convert || rowbytes == 0)
		return;
	fd = fileno(r->src.fp);
	if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
		return;
	/* Where the raster starts: stdio's position less what detection peeked. */
	at = ftello(r->src.fp);
	if (at < 0 || (uintmax_t)at < r->src.len - r->src.pos)
		return;
	at -= (off_t)(r->src.len - r->src.pos);
	/* A file cut short keeps the in-order path, which reports where it ends. */
	if (!imf_size_mul(rowbytes, r->info.height, &raster) || sb.st_size < at ||
	    (uintmax_t)(sb.st_size - at) < raster)
		return;
	r->placed = 1;
	r->place_base = (long long)at;
	r->place_row = rowbytes;
}

int imf_reader_random_access(const imf_reader *r)
{
	return r->placed && r->failed == IMF_OK;
}

/* n bytes at offset at into buf: 0, -1 at the end of the file, or the errno of a failure. */
static int pread_all(int fd, unsigned char *buf, size_t n, off_t at)
{
	while (n > 0) {
		ssize_t got = pread(fd, buf, n, at);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return errno ? errno : EIO;
		if (got == 0)
			return -1;
		buf += got;
		n -= (size_t)got;
		at += got;
	}
	return 0;
}

imf_status imf_reader_read_at(const imf_reader *r, imf_image *band, size_t first, size_t y,
                              size_t n, imf_error *err)
{
	const imf_info *in = &r->info;
	const char *fmt = imf_format_name(in->format);
	unsigned char *buf;
	size_t chunk;
	imf_status st;

	if (!imf_reader_random_access(r))
		return imf_error_set(err, IMF_EINVAL, "reader: rows cannot be read at their place");
	st = check_band("reader", band, in->width, in->channels, in->has_alpha, first, n, err);
	if (st != IMF_OK)
		return st;
	if (y > in->height || n > in->height - y)
		return imf_error_set(err, IMF_EINVAL,
		                     "reader: rows from %zu, %zu of them, are not in the image (%zu rows)",
		                     y, n, in->height);
	if (n == 0)
		return IMF_OK;
	chunk = PLACE_CHUNK_BYTES / r->place_row;
	chunk = chunk < 1 ? 1 : chunk > n ? n : chunk;
	/* chunk * place_row <= max(PLACE_CHUNK_BYTES, place_row): no overflow. */
	if (!(buf = malloc(chunk * r->place_row)))
		return imf_error_set(err, IMF_ENOMEM, "%s: out of memory", fmt);
	for (size_t done = 0; done < n && st == IMF_OK; done += chunk) {
		size_t m = n - done < chunk ? n - done : chunk;
		/* y + done < height, so the offset is inside the raster imf_reader_place found. */
		off_t at = (off_t)r->place_base + (off_t)(y + done) * (off_t)r->place_row;
		int e = pread_all(fileno(r->src.fp), buf, m * r->place_row, at);
		if (e < 0)
			st = imf_error_set(err, IMF_ECORRUPT, "%s: truncated pixel data", fmt);
		else if (e > 0)
			st = imf_io_read_error(err, fmt, e);
		else
			st = r->ops->convert(r, buf, band, first + done, m, err);
	}
	free(buf);
	return st;
}

void imf_reader_free(imf_reader *r)
{
	if (!r)
		return;
	if (r->ops)
		r->ops->close(r);
	imf_image_free(r->whole);
	free(r);
}

/* ---- writers ------------------------------------------------------------------------ */

imf_status imf_writer_start(FILE *fp, imf_format fmt, size_t width, size_t height,
                            int channels, int has_alpha, imf_format src_format, int src_depth,
                            const imf_write_opts *opts, int whole_given, imf_writer **out,
                            imf_error *err)
{
	imf_write_opts def;
	imf_writer *w;
	imf_status st;

	*out = NULL;
	if (!opts) {
		imf_write_opts_default(&def);
		opts = &def;
	}
	if (opts->quality < 1 || opts->quality > 100)
		return imf_error_set(err, IMF_EINVAL, "JPEG quality %d is out of range 1..100",
		                     opts->quality);
	if (opts->depth != 0 && opts->depth != 8 && opts->depth != 16)
		return imf_error_set(err, IMF_EINVAL, "depth %d is not 8 or 16", opts->depth);
	if (opts->png_level < 0 || opts->png_level > 9)
		return imf_error_set(err, IMF_EINVAL, "PNG compression level %d is out of range 0..9",
		                     opts->png_level);
	if ((int)opts->png_filter < IMF_PNG_FILTER_NONE || opts->png_filter > IMF_PNG_FILTER_ALL)
		return imf_error_set(err, IMF_EINVAL, "PNG filter %d is unknown",
		                     (int)opts->png_filter);
	if (fmt <= IMF_FORMAT_UNKNOWN || fmt > IMF_FORMAT_TEXT)
		return imf_error_set(err, IMF_EINVAL, "no output format");
	if (width == 0 || height == 0 || channels < 1 || channels > IMF_MAX_PLANES ||
	    (has_alpha && channels != 2 && channels != 4))
		return imf_error_set(err, IMF_EINVAL, "%s: cannot write %zux%zu with %d channel%s%s",
		                     imf_format_name(fmt), width, height, channels,
		                     channels == 1 ? "" : "s", has_alpha ? " (alpha)" : "");

	w = calloc(1, sizeof *w);
	if (!w)
		return imf_error_set(err, IMF_ENOMEM, "%s: out of memory", imf_format_name(fmt));
	w->fp = fp;
	w->fmt = fmt;
	w->width = width;
	w->height = height;
	w->channels = channels;
	w->has_alpha = has_alpha ? 1 : 0;
	w->src_format = src_format;
	w->src_depth = src_depth;
	w->opts = *opts;
	w->whole_given = whole_given;
	w->ops = writer_ops[fmt];
	st = w->ops->open(w, err);
	if (st != IMF_OK) {
		keep_failure(st, fmt, &w->failed, &w->failure, err);
		imf_writer_free(w);
		return st;
	}
	*out = w;
	return IMF_OK;
}

imf_status imf_writer_open(FILE *fp, imf_format fmt, size_t width, size_t height, int channels,
                           int has_alpha, imf_format src_format, int src_depth,
                           const imf_write_opts *opts, imf_writer **out, imf_error *err)
{
	return imf_writer_start(fp, fmt, width, height, channels, has_alpha, src_format, src_depth,
	                        opts, 0, out, err);
}

imf_status imf_writer_hold(imf_writer *w, imf_error *err)
{
	w->whole_only = 1;
	if (w->whole_given)
		return IMF_OK;
	return imf_check_memory(w->width, w->height, w->channels, w->opts.max_memory,
	                        imf_format_name(w->fmt), err);
}

int imf_writer_streams(const imf_writer *w)
{
	return !w->whole_only;
}

imf_status imf_writer_write(imf_writer *w, const imf_image *band, size_t first, size_t n,
                            imf_error *err)
{
	imf_status st;

	if (w->failed != IMF_OK)
		return repeat_failure(w->failed, &w->failure, err);
	if (w->finished)
		return imf_error_set(err, IMF_EINVAL, "writer: the image is already finished");
	st = check_band("writer", band, w->width, w->channels, w->has_alpha, first, n, err);
	if (st != IMF_OK)
		return st;
	if (w->place_done > 0)
		return imf_error_set(err, IMF_EINVAL, "writer: rows were written at their place");
	if (n > w->height - w->next)
		return imf_error_set(err, IMF_EINVAL,
		                     "writer: %zu row%s given after row %zu of %zu: past the last row", n,
		                     n == 1 ? "" : "s", w->next, w->height);
	if (n == 0)
		return IMF_OK;

	if (!w->whole_only) {
		st = w->ops->rows(w, band, first, n, err);
	} else if (w->whole_given && w->next == 0 && first == 0 && n == w->height &&
	           band->height == w->height) {
		w->given = band; /* imf_write's image: encoded at finish, never copied */
	} else {
		if (!w->whole) {
			st = imf_check_memory(w->width, w->height, w->channels, w->opts.max_memory,
			                      imf_format_name(w->fmt), err);
			if (st == IMF_OK)
				st = imf_image_new(w->width, w->height, w->channels, w->has_alpha, NULL,
				                   &w->whole, err);
		}
		if (st == IMF_OK)
			copy_rows(w->whole, w->next, band, first, n);
	}
	if (st != IMF_OK)
		return keep_failure(st, w->fmt, &w->failed, &w->failure, err);
	w->next += n;
	return IMF_OK;
}

size_t imf_writer_block_rows(const imf_writer *w)
{
	if (!w || w->whole_only || !w->ops->encode || !w->ops->put || !w->ops->block_rows)
		return 0;
	return w->ops->block_rows(w);
}

void imf_encoded_free(imf_encoded *e)
{
	if (!e)
		return;
	free(e->bytes);
	free(e);
}

imf_status imf_writer_encode(const imf_writer *w, const imf_image *band, size_t first, size_t n,
                             size_t y0, imf_encoded **out, imf_error *err)
{
	imf_encoded *e;
	imf_status st;
	size_t block = imf_writer_block_rows(w);

	*out = NULL;
	if (block == 0)
		return imf_error_set(err, IMF_EINVAL, "writer: %s cannot encode bands apart",
		                     imf_format_name(w->fmt));
	st = check_band("writer", band, w->width, w->channels, w->has_alpha, first, n, err);
	if (st != IMF_OK)
		return st;
	if (y0 > w->height || n > w->height - y0 || n == 0)
		return imf_error_set(err, IMF_EINVAL, "writer: rows %zu..%zu are not in the image", y0,
		                     y0 + n);
	if (!(e = calloc(1, sizeof *e)))
		return imf_error_set(err, IMF_ENOMEM, "%s: out of memory", imf_format_name(w->fmt));
	st = w->ops->encode(w, band, first, n, y0, e, err);
	if (st != IMF_OK) {
		free(e);
		return st;
	}
	e->y0 = y0;
	*out = e;
	return IMF_OK;
}

imf_status imf_writer_put(imf_writer *w, imf_encoded *e, imf_error *err)
{
	imf_status st;

	if (!e)
		return imf_error_set(err, IMF_EINVAL, "writer: nothing to put");
	if (w->failed != IMF_OK) {
		imf_encoded_free(e);
		return repeat_failure(w->failed, &w->failure, err);
	}
	if (w->finished || e->y0 != w->next || e->rows > w->height - w->next ||
	    w->place_done > 0 ||
	    imf_writer_block_rows(w) == 0) {
		imf_encoded_free(e);
		return imf_error_set(err, IMF_EINVAL, "writer: encoded rows out of order");
	}
	st = w->ops->put(w, e, err);
	if (st == IMF_OK)
		w->next += e->rows;
	imf_encoded_free(e);
	if (st != IMF_OK)
		return keep_failure(st, w->fmt, &w->failed, &w->failure, err);
	return IMF_OK;
}

void imf_writer_place(imf_writer *w, size_t rowbytes)
{
	struct stat sb;
	size_t raster;
	off_t at;
	int fd, fl;

	if (w->whole_only || rowbytes == 0 || !w->ops->encode)
		return;
	fd = fileno(w->fp);
	if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
		return;
	/* O_APPEND would put every pwrite at the end. */
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_APPEND) || fflush(w->fp) != 0 || (at = ftello(w->fp)) < 0)
		return;
	if (!imf_size_mul(rowbytes, w->height, &raster) || raster > OFF_T_MAX - (uintmax_t)at)
		return;
	/* A bit a row (height was checked against the limits): each is put once. */
	if (!(w->place_taken = calloc(w->height / 8 + 1, 1)))
		return;
	if (pthread_mutex_init(&w->place_mu, NULL) != 0) {
		free(w->place_taken);
		w->place_taken = NULL;
		return;
	}
	w->placed = 1;
	w->place_base = (long long)at;
	w->place_row = rowbytes;
}

int imf_writer_random_access(const imf_writer *w)
{
	return w->placed && w->next == 0 && w->failed == IMF_OK && !w->finished;
}

imf_status imf_writer_put_at(imf_writer *w, imf_encoded *e, imf_error *err)
{
	const char *fmt = imf_format_name(w->fmt);
	const unsigned char *p;
	size_t left;
	off_t at;
	imf_status st = IMF_OK;

	if (!e)
		return imf_error_set(err, IMF_EINVAL, "writer: nothing to put");
	/* placed, next and finished do not change while bands are put; failed may. */
	if (!w->placed || w->next != 0 || w->finished || e->y0 > w->height ||
	    e->rows > w->height - e->y0 || e->len != e->rows * w->place_row) {
		imf_encoded_free(e);
		return imf_error_set(err, IMF_EINVAL, "writer: rows cannot be written at their place");
	}
	/* Take the rows first: a row put twice is refused before it is written. */
	pthread_mutex_lock(&w->place_mu);
	if (w->failed != IMF_OK)
		st = repeat_failure(w->failed, &w->failure, err);
	for (size_t y = e->y0; y < e->y0 + e->rows && st == IMF_OK; y++)
		if (w->place_taken[y / 8] & (1u << (y % 8)))
			st = imf_error_set(err, IMF_EINVAL, "writer: row %zu was already written", y);
	for (size_t y = e->y0; y < e->y0 + e->rows && st == IMF_OK; y++)
		w->place_taken[y / 8] |= (unsigned char)(1u << (y % 8));
	pthread_mutex_unlock(&w->place_mu);
	if (st != IMF_OK) {
		imf_encoded_free(e);
		return st;
	}
	p = e->bytes;
	left = e->len;
	at = (off_t)w->place_base + (off_t)e->y0 * (off_t)w->place_row;
	while (left > 0 && st == IMF_OK) {
		ssize_t put = pwrite(fileno(w->fp), p, left, at);
		if (put < 0 && errno == EINTR)
			continue;
		if (put <= 0) {
			st = imf_io_write_error(err, fmt, put < 0 && errno ? errno : EIO);
			break;
		}
		p += put;
		left -= (size_t)put;
		at += put;
	}
	/* A failed write is kept: every later call, finish included, repeats it. */
	pthread_mutex_lock(&w->place_mu);
	if (st == IMF_OK)
		w->place_done += e->rows;
	else if (w->failed == IMF_OK)
		keep_failure(st, w->fmt, &w->failed, &w->failure, err);
	pthread_mutex_unlock(&w->place_mu);
	imf_encoded_free(e);
	return st;
}

imf_status imf_writer_finish(imf_writer *w, imf_error *err)
{
	imf_status st = IMF_OK;
	int e;

	if (w->failed != IMF_OK)
		return repeat_failure(w->failed, &w->failure, err);
	if (w->finished)
		return imf_error_set(err, IMF_EINVAL, "writer: the image is already finished");
	if (w->placed && w->next == 0 && w->place_done > 0) {
		/* Rows written at their place: stdio's position goes to the end.
		 * (Every put_at has returned: the caller finishes after them.) */
		w->next = w->place_done;
		if (w->next == w->height &&
		    fseeko(w->fp, (off_t)w->place_base + (off_t)(w->height * w->place_row),
		           SEEK_SET) != 0)
			return keep_failure(imf_io_write_error(err, imf_format_name(w->fmt),
			                                       errno ? errno : EIO),
			                    w->fmt, &w->failed, &w->failure, err);
	}
	if (w->next != w->height)
		return imf_error_set(err, IMF_EINVAL, "writer: finished after %zu of %zu rows",
		                     w->next, w->height);
	if (w->whole_only) {
		const imf_image *img = w->given ? w->given : w->whole;
		st = w->ops->rows(w, img, 0, w->height, err);
	}
	if (st == IMF_OK && w->ops->finish)
		st = w->ops->finish(w, err);
	if (st == IMF_OK) {
		/* Small files sit in stdio's buffer until now: the formats checked only
		 * their own writes. */
		errno = 0;
		if (fflush(w->fp) != 0 || ferror(w->fp)) {
			e = errno ? errno : EIO;
			st = imf_io_write_error(err, imf_format_name(w->fmt), e);
		}
	}
	if (st != IMF_OK)
		return keep_failure(st, w->fmt, &w->failed, &w->failure, err);
	w->finished = 1;
	imf_image_free(w->whole);
	w->whole = NULL;
	w->given = NULL;
	return IMF_OK;
}

void imf_writer_free(imf_writer *w)
{
	if (!w)
		return;
	if (w->ops)
		w->ops->close(w);
	imf_image_free(w->whole);
	if (w->placed) {
		pthread_mutex_destroy(&w->place_mu);
		free(w->place_taken);
	}
	free(w);
}
