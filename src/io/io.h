/*
 * io.h - the codecs' common ground in src/io/ (nothing here is public).
 *
 *  - the streaming reader and writer (struct imf_reader, struct imf_writer)
 *    and what each format provides them: an ops table of open, rows,
 *    finish and close (stream.c holds the generic part: argument checks,
 *    buffering for formats that cannot stream, the first error kept);
 *  - errno, captured where a read or write fails: imf_src cannot carry it,
 *    and by the time a caller looks, strtof or any other call may have
 *    changed errno;
 *  - a byte scanner for the netpbm family's headers (PNM, PFM): tokens
 *    bounded in length, the whole header bounded in bytes;
 *  - raw rasters read in chunks of whole rows (PNM, PFM);
 *  - interleaved 8/16-bit samples to float planes (PNG, JPEG) and float
 *    planes to mapped 8-bit or 16-bit big-endian rows (PNG, PNM);
 *  - library messages brought to our case rule (PNG, JPEG).
 *
 * Readers and writers always get options (the public entry points supply
 * the defaults).
 */
#ifndef IMF_IO_H
#define IMF_IO_H

#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

static inline int imf_is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* ---- errno -------------------------------------------------------------- */

/*
 * After reading from s with errno cleared first: 0 if the stream reports no
 * error, else the errno the failed read left (EIO when it left none).
 */
static inline int imf_io_errno(const imf_src *s)
{
	if (!imf_src_error(s))
		return 0;
	return errno ? errno : EIO;
}

/* imf_src_read; *e is 0, or the errno of a failed read (imf_io_errno). */
size_t imf_io_read(imf_src *s, void *out, size_t n, int *e);
/* imf_src_getc; *e as above (an EOF with *e == 0 is the end of the input). */
int imf_io_getc(imf_src *s, int *e);
/* IMF_EIO "<fmt>: read error: <strerror(e)>", or without "<fmt>: " if fmt is NULL. */
imf_status imf_io_read_error(imf_error *err, const char *fmt, int e);

/* fwrite all n bytes: 0, or the errno of the failure (EIO when none was set). */
int imf_io_write(FILE *fp, const void *buf, size_t n);
/* IMF_EIO "<fmt>: write failed: <strerror(e)>". */
imf_status imf_io_write_error(imf_error *err, const char *fmt, int e);

/* ---- netpbm-style headers ------------------------------------------------ */

#define IMF_SCAN_TOKEN_MAX 32             /* characters in one header token */
#define IMF_SCAN_NUMBER_MAX 2147483647UL  /* largest number a header may hold */

/*
 * A byte reader over a header (capped) or a plain raster (cap SIZE_MAX).
 * Messages start with fmt ("PNM: truncated header").  Passing the cap is
 * IMF_ELIMIT "<fmt>: header is longer than N bytes" where a real header may
 * be that long (PNM's comments), IMF_ECORRUPT "<fmt>: bad header: longer than
 * N bytes" where none can (PFM): over_code says which.
 */
typedef struct imf_scanner {
	imf_src *src;
	imf_error *err;
	const char *fmt;
	size_t used, cap;      /* bytes read, and the most allowed */
	imf_status over_code;  /* IMF_ELIMIT or IMF_ECORRUPT */
	int comments;          /* '#' starts a comment that runs to the end of the line */
	int end;               /* the byte that ended the last token, or EOF */
} imf_scanner;

/* Next byte into *c, or EOF at the end of the input. */
imf_status imf_scan_getc(imf_scanner *s, int *c);
/* Skip the rest of a comment, through its end of line. */
imf_status imf_scan_comment(imf_scanner *s);
/* Skip white space (and comments, if on); *c is the first other byte, or EOF. */
imf_status imf_scan_skip(imf_scanner *s, int *c);
/*
 * One token: printable bytes up to white space, a comment (if on) or the end.
 * The byte that ends it is consumed (a comment with its end of line) and left
 * in s->end, so after the last header token exactly one white-space byte has
 * been read, as netpbm requires before raw data.  No token before the end of
 * the input is "<fmt>: truncated header".
 */
imf_status imf_scan_token(imf_scanner *s, char tok[IMF_SCAN_TOKEN_MAX + 1]);
/* A decimal token, at most IMF_SCAN_NUMBER_MAX; what names it in messages. */
imf_status imf_scan_number(imf_scanner *s, const char *what, unsigned long *out);

/* ---- raw rasters --------------------------------------------------------- */

/*
 * Raw rows of rowbytes bytes read from an imf_src about 64 KiB of whole rows
 * at a time (one row when a row is larger), handed out one by one.  Chunk
 * boundaries depend only on the file, never on how many rows a caller asks
 * for at once, so every band split meets an error at the same place.
 */
typedef struct imf_rowbuf {
	unsigned char *buf;
	size_t rowbytes;
	size_t per_chunk; /* rows a chunk holds */
	size_t have, used; /* rows in buf, rows of them handed out */
	size_t left;       /* rows not yet read from the file */
} imf_rowbuf;

/* For height rows; allocates the chunk buffer. */
imf_status imf_rowbuf_init(imf_rowbuf *rb, size_t rowbytes, size_t height, imf_error *err);
/*
 * The next row into *row (valid until the next call).  Running out of data is
 * IMF_ECORRUPT "<fmt>: truncated pixel data", a failed read "<fmt>: read
 * error: ...", asking past the last row IMF_EINVAL.
 */
imf_status imf_rowbuf_next(imf_rowbuf *rb, imf_src *s, const char *fmt,
                           const unsigned char **row, imf_error *err);
void imf_rowbuf_free(imf_rowbuf *rb);

/* ---- samples in: interleaved to planes ------------------------------------- */

/*
 * n pixels of nch (1..4) interleaved samples into planes out[0..nch-1]:
 * 8-bit v becomes v, 16-bit big-endian v becomes v / 257 (0..255 exactly
 * as 8-bit, nothing lost).
 */
void imf_io_unpack8(const unsigned char *in, size_t n, int nch, float *const *out);
void imf_io_unpack16(const unsigned char *in, size_t n, int nch, float *const *out);

/* ---- integer rows out ----------------------------------------------------- */

/*
 * Row y of the first nch planes, mapped and interleaved: depth 8 gives one
 * byte a sample, depth 16 two, big-endian.  row must be aligned for uint16_t
 * and hold width * nch 16-bit values at either depth (malloc'd memory is).
 */
void imf_io_map_row(const imf_mapper *m, const imf_image *img, size_t y, int nch, int depth,
                    unsigned char *row);

/* ---- streaming readers -------------------------------------------------------- */

typedef struct imf_reader_ops imf_reader_ops;

struct imf_reader {
	imf_src src;
	imf_read_opts opts;
	int header_only;  /* imf_read_info: the header only, never rows */
	imf_info info;    /* set by ops->open */
	int streams;      /* set by ops->open: imf_reader_streams */
	int whole_only;   /* set by ops->open: ops->rows decodes all rows in one call */
	size_t next;      /* rows handed out so far */
	imf_image *whole; /* a whole_only image decoded for a band-by-band caller */
	imf_status failed;  /* the first error, returned by every later call */
	imf_error failure;
	const imf_reader_ops *ops;
	void *state;      /* the format's own */
	/* Set by imf_reader_place (a raw raster in a regular file): row y is
	 * bytes place_row at file offset place_base + y * place_row. */
	int placed;
	long long place_base;
	size_t place_row;
};

struct imf_reader_ops {
	/*
	 * Read the header and fill r->info (channels as the reader gives them,
	 * format, depth), r->streams and r->whole_only, checking the limits.
	 * With r->header_only, read no further than imf_read_info must (a PNG or
	 * JPEG cut where the image data begins is then accepted).
	 */
	imf_status (*open)(imf_reader *r, imf_error *err);
	/*
	 * Decode image rows r->next .. r->next+n-1 into rows first.. of band
	 * (already checked against the image).  A whole_only reader is asked
	 * once, for every row.  After the last row, check the file's end as
	 * the format requires (PNG's IEND, JPEG's EOI).
	 */
	imf_status (*rows)(imf_reader *r, imf_image *band, size_t first, size_t n, imf_error *err);
	/* Release r->state, whatever state it is in (also after a failed open). */
	void (*close)(imf_reader *r);
	/*
	 * Optional, for a reader that called imf_reader_place: convert n raw
	 * rows (n * place_row bytes at raw) into rows first.. of band.  Reads
	 * only what open fixed: any thread may call it.
	 */
	imf_status (*convert)(const imf_reader *r, const unsigned char *raw, imf_image *band,
	                      size_t first, size_t n, imf_error *err);
};

/*
 * For a format's open, when the input stands at a raster of height rows of
 * rowbytes bytes, each row converted on its own (ops->convert): if the input
 * is a regular file that holds the whole raster, rows can be read at any
 * place by several threads at once (imf_reader_read_at).  Otherwise nothing
 * changes and the rows are read in order.
 */
void imf_reader_place(imf_reader *r, size_t rowbytes);

extern const imf_reader_ops imf_png_reader, imf_jpeg_reader, imf_pnm_reader, imf_pfm_reader,
	imf_text_reader;

/* imf_reader_open; header_only for imf_read_info. */
imf_status imf_reader_start(FILE *fp, const imf_read_opts *opts, int header_only,
                            imf_reader **out, imf_error *err);

/* ---- streaming writers -------------------------------------------------------- */

typedef struct imf_writer_ops imf_writer_ops;

struct imf_writer {
	FILE *fp;
	imf_format fmt;
	size_t width, height;
	int channels, has_alpha;
	imf_format src_format;
	int src_depth;
	imf_write_opts opts;
	int whole_only;   /* set by imf_writer_hold: ops->rows takes the whole image, at finish */
	int whole_given;  /* imf_write: its one write is the whole image, kept by reference */
	size_t next;      /* rows given so far */
	imf_image *whole; /* a whole_only writer's copy of the rows */
	const imf_image *given; /* with whole_given: the caller's image */
	int finished;
	imf_status failed;
	imf_error failure;
	const imf_writer_ops *ops;
	void *state;
	/* Set by imf_writer_place: image row y's bytes (place_row of them) go
	 * at file offset place_base + y * place_row.  Under place_mu: which rows
	 * were taken (a bit a row) and how many. */
	int placed;
	long long place_base;
	size_t place_row;
	pthread_mutex_t place_mu;
	unsigned char *place_taken;
	size_t place_done;
};

/*
 * A band encoded ahead of time (imf_writer_encode), waiting for its turn
 * (imf_writer_put): the file's bytes for image rows y0 .. y0 + rows - 1,
 * and what the format must carry across bands (PNG: the Adler-32 of the
 * filtered data and its length).
 */
struct imf_encoded {
	unsigned char *bytes;
	size_t len;
	size_t y0, rows;
	uint32_t adler;
	size_t raw_len;
};

struct imf_writer_ops {
	/*
	 * Check the geometry for the format, call imf_writer_hold first if the
	 * image must be held, then maybe write the header.
	 */
	imf_status (*open)(imf_writer *w, imf_error *err);
	/*
	 * Encode rows first .. first+n-1 of band as the next n rows.  A
	 * whole_only writer gets, once, an image of exactly height rows.
	 */
	imf_status (*rows)(imf_writer *w, const imf_image *band, size_t first, size_t n,
	                   imf_error *err);
	/* After the last row: the trailer (NULL: none). */
	imf_status (*finish)(imf_writer *w, imf_error *err);
	/* Release w->state, whatever state it is in. */
	void (*close)(imf_writer *w);
	/*
	 * Optional, for formats that can encode bands on several threads:
	 * block_rows (encode takes whole blocks of this many rows, the last
	 * may end with the image), encode (reads only what open fixed), put
	 * (appends an encoded band, in order).
	 */
	size_t (*block_rows)(const imf_writer *w);
	imf_status (*encode)(const imf_writer *w, const imf_image *band, size_t first, size_t n,
	                     size_t y0, imf_encoded *out, imf_error *err);
	imf_status (*put)(imf_writer *w, const imf_encoded *e, imf_error *err);
};

extern const imf_writer_ops imf_png_writer, imf_jpeg_writer, imf_pnm_writer, imf_pfm_writer,
	imf_text_writer;

/*
 * For a format's open, before it writes anything: the writer will hold the
 * whole image (whole_only), which must fit in opts.max_memory unless the
 * caller gives it whole (imf_write).
 */
imf_status imf_writer_hold(imf_writer *w, imf_error *err);

/*
 * For a format's open, after writing its header, when every row encodes to
 * rowbytes bytes and nothing follows the last: if the output is a regular
 * file (not opened for appending), encoded bands may be written at their
 * place by several threads at once (imf_writer_put_at).  The header is
 * flushed first.  Otherwise nothing changes.
 */
void imf_writer_place(imf_writer *w, size_t rowbytes);

/* imf_writer_open; whole_given for imf_write (no copy, no memory budget). */
imf_status imf_writer_start(FILE *fp, imf_format fmt, size_t width, size_t height,
                            int channels, int has_alpha, imf_format src_format, int src_depth,
                            const imf_write_opts *opts, int whole_given, imf_writer **out,
                            imf_error *err);

/* PNG output defaults, chosen by measurement (README, Formats). */
#define IMF_PNG_DEFAULT_LEVEL 1
#define IMF_PNG_DEFAULT_FILTER IMF_PNG_FILTER_UP

/* Planes an integer writer without alpha support writes: 1 or 3. */
static inline int imf_writer_color_planes(const imf_writer *w)
{
	return w->channels - (w->has_alpha ? 1 : 0) >= 3 ? 3 : 1;
}

/* 8 or 16: the integer depth to write (opts.depth, or the source's). */
static inline int imf_writer_depth(const imf_writer *w)
{
	if (w->opts.depth == 16 || w->opts.depth == 8)
		return w->opts.depth;
	return w->src_depth == 16 ? 16 : 8;
}

/* "1 GiB", "1.5 GiB", "640 MiB", "12 KiB", "100 bytes": whole numbers when exact. */
void imf_format_bytes(size_t b, char buf[32]);

/*
 * Allocation failures reported by shared code ("out of memory ...") get the
 * format's name, like every other message.  Returns st.
 */
imf_status imf_io_name_failure(imf_format fmt, imf_status st, imf_error *err);

/* ---- format detection ------------------------------------------------------------ */

/*
 * Wrap fp in src and pick the format from the content (the detector's bytes
 * stay buffered for the reader).  An empty input, a read error before any
 * byte, or content of no known format is an error.
 */
imf_status imf_io_detect(FILE *fp, imf_src *src, imf_format *fmt, imf_error *err);

/* ---- library messages ------------------------------------------------------ */

/*
 * Copy a libpng/libjpeg message into buf (size > 0) with its first letter
 * lowercased when a lowercase letter follows it ("Not enough image data" ->
 * "not enough image data"; "IHDR: CRC error" stays): our messages are
 * lowercase after the "PNG: "/"JPEG: " prefix.  Returns buf.
 */
char *imf_io_lib_message(char *buf, size_t size, const char *msg);

#endif
