/*
 * io.h - helpers shared by the codecs in src/io/ (nothing here is public).
 *
 *  - errno, captured where a read or write fails: imf_src cannot carry it,
 *    and by the time a caller looks, strtof or any other call may have
 *    changed errno;
 *  - a byte scanner for the netpbm family's headers (PNM, PFM): tokens
 *    bounded in length, the whole header bounded in bytes;
 *  - raw rasters read in chunks of whole rows (PNM, PFM);
 *  - rows mapped to 8-bit or 16-bit big-endian samples (PNG, PNM);
 *  - library messages brought to our case rule (PNG, JPEG);
 *  - each reader's header-only entry point, for imf_read_info.
 *
 * Readers take non-NULL options (imf_read supplies defaults); imf_write
 * flushes and checks the stream after every writer, so writers check only
 * their own writes.
 */
#ifndef IMF_IO_H
#define IMF_IO_H

#include "internal.h"

#include <errno.h>
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

/* Called for each raw row in file order (r = 0, 1, ...); non-OK stops the read. */
typedef imf_status (*imf_row_fn)(void *ctx, const unsigned char *row, size_t r);

/*
 * Read height rows of rowbytes bytes from s, about 64 KiB of whole rows at a
 * time, and pass each to fn.  Running out of data is IMF_ECORRUPT
 * "<fmt>: truncated pixel data", a failed read "<fmt>: read error: ...".
 */
imf_status imf_io_read_rows(imf_src *s, size_t rowbytes, size_t height, imf_row_fn fn,
                            void *ctx, const char *fmt, imf_error *err);

/* ---- integer rows out ----------------------------------------------------- */

/*
 * Row y of the first nch planes, mapped and interleaved: depth 8 gives one
 * byte a sample, depth 16 two, big-endian.  row must be aligned for uint16_t
 * and hold width * nch 16-bit values at either depth (malloc'd memory is).
 */
void imf_io_map_row(const imf_mapper *m, const imf_image *img, size_t y, int nch, int depth,
                    unsigned char *row);

/* ---- header-only readers ---------------------------------------------------- */

/*
 * What imf_<fmt>_read would give for the same input and options (size,
 * channels, alpha, source depth; format), read from the header alone where
 * the format has one, with the same limits and the same messages for a
 * broken header.  A text matrix has no header and is parsed whole.
 */
imf_status imf_png_read_info(imf_src *src, const imf_read_opts *opts, imf_info *info,
                             imf_error *err);
imf_status imf_jpeg_read_info(imf_src *src, const imf_read_opts *opts, imf_info *info,
                              imf_error *err);
imf_status imf_pnm_read_info(imf_src *src, const imf_read_opts *opts, imf_info *info,
                             imf_error *err);
imf_status imf_pfm_read_info(imf_src *src, const imf_read_opts *opts, imf_info *info,
                             imf_error *err);
imf_status imf_text_read_info(imf_src *src, const imf_read_opts *opts, imf_info *info,
                              imf_error *err);

/* ---- library messages ------------------------------------------------------ */

/*
 * Copy a libpng/libjpeg message into buf (size > 0) with its first letter
 * lowercased when a lowercase letter follows it ("Not enough image data" ->
 * "not enough image data"; "IHDR: CRC error" stays): our messages are
 * lowercase after the "PNG: "/"JPEG: " prefix.  Returns buf.
 */
char *imf_io_lib_message(char *buf, size_t size, const char *msg);

#endif
