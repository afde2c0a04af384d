/*
 * jpeg.c - JPEG reader and writer on top of libjpeg(-turbo).
 *
 * The reader decodes baseline and progressive files to 1 channel (gray) or 3
 * (RGB) on the 0..255 scale; with want_gray a YCbCr file yields its Y plane
 * directly (Rec.601 luma).  CMYK and YCCK are refused.  Input comes through
 * our own source manager reading imf_src in 64 KiB chunks; when the data runs
 * out it stops the decoder at once ("truncated file"), where libjpeg's own
 * source would feed a fake EOI, warn, and decode the rest of the frame from
 * nothing (a 3 KB file claiming 16000x16000 would cost seconds and a GB).
 * Damaged compressed data, which libjpeg only warns about ("Corrupt JPEG
 * data: ..."), is an error at the first such warning; other warnings (an
 * unknown JFIF revision, an odd progression sequence) describe files libjpeg
 * decodes as meant and are ignored.  Decoder memory is bounded and a
 * progress monitor stops files with absurd scan counts.
 *
 * Rows stream: each imf_reader_read asks jpeg_read_scanlines for just its
 * rows, and the last one ends with jpeg_finish_decompress (which reads to
 * EOI).  A file of several scans (progressive, or sequential with separate
 * scans) is different: jpeg_start_decompress, at open, reads every scan into
 * libjpeg's whole-image coefficient buffer (2 bytes a coefficient, bounded
 * by the decoder memory limit) before the first row can come out, so such a
 * reader says it does not stream (imf_reader_streams 0), although it still
 * hands out rows without a float copy of the image.
 *
 * With want_gray, a YCbCr file is decoded straight to its Y component
 * (out_color_space JCS_GRAYSCALE): libjpeg then skips the inverse DCT and
 * upsampling of the chroma components and the colour conversion.  Y is the
 * Rec.601 luma 0.299 R + 0.587 G + 0.114 B of the RGB the file encodes; the
 * RGB decode rounds each of R, G, B to an integer and clamps it to 0..255,
 * so luma computed from the RGB decode differs from Y by that rounding only,
 * under 0.5 (measured: at most 0.48, mean 0.16, on photographs), except where
 * a colour falls outside the RGB cube and is clipped (saturated edges; up
 * to 3.5 measured), where the RGB route loses what Y keeps.
 *
 * With header_only (imf_read_info) the reader stops at the layout
 * (jpeg_read_header, the colour-space choice, imf_check_dims).  It then also
 * accepts a file that ends between two markers after the frame header
 * (SOF): the source supplies a minimal SOS segment, so jpeg_read_header
 * completes and the colour space still comes from libjpeg's own rules (JFIF
 * and Adobe markers, component ids), as it does for the reader.
 *
 * The writer emits 8-bit baseline JPEG: gray when the image has one colour
 * plane, else RGB (alpha is dropped); at quality >= 90 chroma is not
 * subsampled (4:4:4), below it libjpeg's default 4:2:0 applies.
 *
 * libjpeg reports errors by calling error_exit, which must not return: ours
 * records "JPEG: <message>" (first letter lowercased) and longjmps.  The
 * reader's and the writer's state is one struct each, and every entry point
 * owns its setjmp in one small function (jpeg_read_guarded,
 * jpeg_write_guarded); libjpeg objects are destroyed by close, whatever
 * state they are in.  Nothing is ever printed.
 */
#include "io.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

#define JPEG_IO_CHUNK 65536
#define JPEG_MAX_MEMORY_MIB 512
#define JPEG_MAX_SCANS 1000

/* Error state shared by reader and writer; first member of both contexts,
 * which client_data points to. */
typedef struct jpeg_errctx {
	struct jpeg_error_mgr mgr;
	jmp_buf jb;
	imf_error *err;
	imf_status status;       /* IMF_OK until something fails */
	imf_status default_code; /* for libjpeg errors without a better code */
} jpeg_errctx;

typedef struct jpeg_reader {
	jpeg_errctx e;
	struct jpeg_decompress_struct cinfo;
	struct jpeg_source_mgr srcmgr;
	struct jpeg_progress_mgr progress;
	imf_src *src;
	JOCTET *buf;
	const imf_read_opts *opts;
	int header_only;   /* imf_read_info: stop once the layout is known */
	int sos_supplied;  /* the input ended after the frame header (header_only) */
	imf_reader *r;
	JSAMPARRAY row;    /* one decoded row, interleaved */
	/* one band's rows, for jpeg_read_guarded */
	imf_image *band;
	size_t first, n;
} jpeg_reader;

typedef struct jpeg_writer {
	jpeg_errctx e;
	struct jpeg_compress_struct cinfo;
	struct jpeg_destination_mgr dest;
	FILE *fp;
	JOCTET *buf;
	imf_writer *w;
	int nch;
	JSAMPARRAY row;
	imf_mapper map;
	int map_ready;
	/* one band's rows, for jpeg_write_guarded */
	const imf_image *band;
	size_t first, n;
} jpeg_writer;

/* ---- errors ------------------------------------------------------------- */

/* Leave the codec.  If nobody recorded an error yet, describe libjpeg's. */
static void jpeg_on_error(j_common_ptr cinfo)
{
	jpeg_errctx *e = cinfo->client_data;
	if (e->status == IMF_OK) {
		char raw[JMSG_LENGTH_MAX], text[JMSG_LENGTH_MAX];
		(*cinfo->err->format_message)(cinfo, raw);
		imf_io_lib_message(text, sizeof text, raw);
		imf_status code;
		switch (cinfo->err->msg_code) {
		case JERR_OUT_OF_MEMORY:
			code = IMF_ENOMEM;
			break;
		case JERR_NO_BACKING_STORE:
			code = IMF_ELIMIT;
			snprintf(text, sizeof text, "image needs more than %d MiB of decoder memory",
			         JPEG_MAX_MEMORY_MIB);
			break;
		case JERR_BAD_PRECISION:
			code = IMF_EUNSUPPORTED;
			break;
		default:
			code = e->default_code;
			break;
		}
		e->status = imf_error_set(e->err, code, "JPEG: %s", text);
	}
	longjmp(e->jb, 1);
}

/* Record an error of our own and leave through error_exit. */
static void jpeg_fail(j_common_ptr cinfo, imf_status code, const char *msg)
{
	jpeg_errctx *e = cinfo->client_data;
	if (e->status == IMF_OK)
		e->status = imf_error_set(e->err, code, "JPEG: %s", msg);
	(*cinfo->err->error_exit)(cinfo);
}

/*
 * Warnings are level -1, trace messages >= 0 (dropped).  libjpeg words each
 * warning about damaged compressed data "Corrupt JPEG data: ..." (bad Huffman
 * or arithmetic code, a marker inside a scan, a missing restart marker, bytes
 * before a marker): the first one stops a decode with IMF_ECORRUPT
 * "JPEG: corrupt data: <the rest, lowercased>".  Other warnings are counted,
 * never shown.
 */
static void jpeg_on_message(j_common_ptr cinfo, int level)
{
	static const char corrupt[] = "Corrupt JPEG data: ";
	char raw[JMSG_LENGTH_MAX], text[JMSG_LENGTH_MAX], msg[JMSG_LENGTH_MAX + 16];

	if (level >= 0)
		return;
	cinfo->err->num_warnings++;
	if (!cinfo->is_decompressor)
		return;
	(*cinfo->err->format_message)(cinfo, raw);
	if (strncmp(raw, corrupt, sizeof corrupt - 1) != 0)
		return;
	imf_io_lib_message(text, sizeof text, raw + sizeof corrupt - 1);
	snprintf(msg, sizeof msg, "corrupt data: %s", text);
	jpeg_fail(cinfo, IMF_ECORRUPT, msg);
}

static void jpeg_no_output(j_common_ptr cinfo)
{
	(void)cinfo;
}

static void jpeg_errctx_init(jpeg_errctx *e, imf_error *err, imf_status default_code)
{
	jpeg_std_error(&e->mgr);
	e->mgr.error_exit = jpeg_on_error;
	e->mgr.emit_message = jpeg_on_message;
	e->mgr.output_message = jpeg_no_output;
	e->err = err;
	e->status = IMF_OK;
	e->default_code = default_code;
}

/* ---- reading ------------------------------------------------------------ */

static void src_init(j_decompress_ptr cinfo)
{
	(void)cinfo;
}

/*
 * For header_only, at the end of the input: if it ended between two markers
 * (unread_marker 0: none half read) after SOF (the only marker that sets the
 * image's size), put a scan header for the first component there: 0xFF 0xDA,
 * length 8, one component (its id, tables 0/0), spectral selection 0..63, no
 * approximation.  jpeg_read_header stops at it; nothing reads past it.
 */
static size_t src_supply_sos(jpeg_reader *r)
{
	j_decompress_ptr ci = &r->cinfo;
	if (!r->header_only || r->sos_supplied || ci->image_width == 0 || ci->unread_marker != 0 ||
	    ci->comp_info == NULL)
		return 0;
	const JOCTET sos[] = { 0xFF, 0xDA, 0, 8, 1, (JOCTET)ci->comp_info[0].component_id,
		               0, 0, 63, 0 };
	memcpy(r->buf, sos, sizeof sos);
	r->sos_supplied = 1;
	return sizeof sos;
}

/* libjpeg wants more data: at the end of the input, stop the decode. */
static boolean src_fill(j_decompress_ptr cinfo)
{
	jpeg_reader *r = cinfo->client_data;
	int e;
	size_t n = imf_io_read(r->src, r->buf, JPEG_IO_CHUNK, &e);
	if (n == 0 && !e)
		n = src_supply_sos(r);
	if (n == 0) {
		if (e)
			r->e.status = imf_error_set(r->e.err, IMF_EIO, "JPEG: read failed: %s",
			                            strerror(e));
		/* A read error recorded above stays the error. */
		jpeg_fail((j_common_ptr)cinfo, IMF_ECORRUPT, "truncated file");
	}
	r->srcmgr.next_input_byte = r->buf;
	r->srcmgr.bytes_in_buffer = n;
	return TRUE;
}

static void src_skip(j_decompress_ptr cinfo, long num_bytes)
{
	jpeg_reader *r = cinfo->client_data;
	if (num_bytes <= 0)
		return;
	while ((size_t)num_bytes > r->srcmgr.bytes_in_buffer) {
		num_bytes -= (long)r->srcmgr.bytes_in_buffer;
		src_fill(cinfo); /* returns only with data */
	}
	r->srcmgr.next_input_byte += num_bytes;
	r->srcmgr.bytes_in_buffer -= (size_t)num_bytes;
}

static void src_term(j_decompress_ptr cinfo)
{
	(void)cinfo;
}

/* Called per iMCU row and per scan while a multi-scan file is consumed. */
static void jpeg_on_progress(j_common_ptr cinfo)
{
	if (cinfo->is_decompressor &&
	    ((j_decompress_ptr)cinfo)->input_scan_number > JPEG_MAX_SCANS)
		jpeg_fail(cinfo, IMF_ELIMIT, "more than 1000 progressive scans");
}

/*
 * Read the header up to the first scan, choose the output colour space and
 * check the layout against the limits: into r->r->info, or 0 with
 * r->e.status set.
 */
static int jpeg_read_layout(jpeg_reader *r)
{
	j_decompress_ptr ci = &r->cinfo;
	j_common_ptr cc = (j_common_ptr)ci;

	jpeg_create_decompress(ci);
	ci->mem->max_memory_to_use = (long)JPEG_MAX_MEMORY_MIB << 20;
	r->progress.progress_monitor = jpeg_on_progress;
	ci->progress = &r->progress;

	r->buf = (*ci->mem->alloc_small)(cc, JPOOL_PERMANENT, JPEG_IO_CHUNK);
	r->srcmgr.init_source = src_init;
	r->srcmgr.fill_input_buffer = src_fill;
	r->srcmgr.skip_input_data = src_skip;
	r->srcmgr.resync_to_restart = jpeg_resync_to_restart;
	r->srcmgr.term_source = src_term;
	r->srcmgr.next_input_byte = NULL;
	r->srcmgr.bytes_in_buffer = 0;
	ci->src = &r->srcmgr;

	if (jpeg_read_header(ci, TRUE) != JPEG_HEADER_OK)
		jpeg_fail(cc, IMF_ECORRUPT, "no image in the file");

	int nch;
	switch (ci->jpeg_color_space) {
	case JCS_GRAYSCALE:
		ci->out_color_space = JCS_GRAYSCALE;
		nch = 1;
		break;
	case JCS_YCbCr:
		/* Y is Rec.601 luma: asking for gray skips the colour conversion. */
		nch = r->opts->want_gray ? 1 : 3;
		ci->out_color_space = nch == 1 ? JCS_GRAYSCALE : JCS_RGB;
		break;
	case JCS_RGB:
		ci->out_color_space = JCS_RGB;
		nch = 3;
		break;
	case JCS_CMYK:
	case JCS_YCCK:
		jpeg_fail(cc, IMF_EUNSUPPORTED,
		          "CMYK colour is not supported; convert the file to RGB first");
		return 0;
	default:
		r->e.status = imf_error_set(r->e.err, IMF_EUNSUPPORTED,
		                            "JPEG: colour space with %d components is not supported",
		                            ci->num_components);
		return 0;
	}

	size_t width = ci->image_width, height = ci->image_height;
	r->e.status = imf_check_dims(width, height, nch, &r->opts->limits, "JPEG", r->e.err);
	if (r->e.status != IMF_OK)
		return 0;
	imf_info *info = &r->r->info;
	info->width = width;
	info->height = height;
	info->channels = nch;
	info->has_alpha = 0;
	info->format = IMF_FORMAT_JPEG;
	info->depth = 8;
	/* Several scans: all of them are read into the coefficient buffer first. */
	r->r->streams = !jpeg_has_multiple_scans(ci);
	return 1;
}

/* The header, then (unless header_only) the decoder's start. */
static void jpeg_open_body(jpeg_reader *r)
{
	j_decompress_ptr ci = &r->cinfo;
	j_common_ptr cc = (j_common_ptr)ci;
	const imf_info *info = &r->r->info;

	if (!jpeg_read_layout(r) || r->header_only)
		return;
	jpeg_start_decompress(ci);
	if (ci->output_components != info->channels || ci->output_width != info->width ||
	    ci->output_height != info->height)
		jpeg_fail(cc, IMF_ECORRUPT, "decoder output does not match the header");
	r->row = (*ci->mem->alloc_sarray)(cc, JPOOL_IMAGE,
	                                   ci->output_width * (JDIMENSION)info->channels, 1);
}

/* The band's rows; after the image's last row, the rest of the file up to EOI. */
static void jpeg_rows_body(jpeg_reader *r)
{
	j_decompress_ptr ci = &r->cinfo;
	const int nch = r->r->info.channels;
	float *out[3];

	for (size_t i = 0; i < r->n; i++) {
		if (jpeg_read_scanlines(ci, r->row, 1) != 1)
			jpeg_fail((j_common_ptr)ci, IMF_ECORRUPT, "decoder returned no scanline");
		for (int c = 0; c < nch; c++)
			out[c] = imf_image_row(r->band, c, r->first + i);
		imf_io_unpack8(r->row[0], r->r->info.width, nch, out);
	}
	if (ci->output_scanline == ci->output_height)
		jpeg_finish_decompress(ci);
}

/* One entry point's work (open: band == NULL) under its own setjmp. */
static imf_status jpeg_read_guarded(jpeg_reader *r, imf_error *err)
{
	r->e.err = err;
	if (setjmp(r->e.jb))
		return r->e.status;
	if (r->band)
		jpeg_rows_body(r);
	else
		jpeg_open_body(r);
	return r->e.status;
}

static imf_status jpeg_reader_open(imf_reader *rd, imf_error *err)
{
	jpeg_reader *r = calloc(1, sizeof *r); /* cinfo.mem == NULL: destroy is safe at any point */
	if (!r)
		return imf_error_set(err, IMF_ENOMEM, "JPEG: out of memory");
	rd->state = r;
	jpeg_errctx_init(&r->e, err, IMF_ECORRUPT);
	r->cinfo.err = &r->e.mgr;
	r->cinfo.client_data = r;
	r->r = rd;
	r->src = &rd->src;
	r->opts = &rd->opts;
	r->header_only = rd->header_only;
	return jpeg_read_guarded(r, err);
}

static imf_status jpeg_reader_rows(imf_reader *rd, imf_image *band, size_t first, size_t n,
                                   imf_error *err)
{
	jpeg_reader *r = rd->state;
	r->band = band;
	r->first = first;
	r->n = n;
	return jpeg_read_guarded(r, err);
}

static void jpeg_reader_close(imf_reader *rd)
{
	jpeg_reader *r = rd->state;
	if (!r)
		return;
	jpeg_destroy_decompress(&r->cinfo);
	free(r);
	rd->state = NULL;
}

const imf_reader_ops imf_jpeg_reader = { .open = jpeg_reader_open, .rows = jpeg_reader_rows,
	                                 .close = jpeg_reader_close };

/* ---- writing ------------------------------------------------------------ */

static void dest_write(j_compress_ptr cinfo, size_t n)
{
	jpeg_writer *w = cinfo->client_data;
	int e = imf_io_write(w->fp, w->buf, n);
	if (e) {
		w->e.status = imf_io_write_error(w->e.err, "JPEG", e);
		(*cinfo->err->error_exit)((j_common_ptr)cinfo);
	}
	w->dest.next_output_byte = w->buf;
	w->dest.free_in_buffer = JPEG_IO_CHUNK;
}

static void dest_init(j_compress_ptr cinfo)
{
	jpeg_writer *w = cinfo->client_data;
	w->dest.next_output_byte = w->buf;
	w->dest.free_in_buffer = JPEG_IO_CHUNK;
}

/* The buffer is full: libjpeg ignores next_output_byte/free_in_buffer here. */
static boolean dest_empty(j_compress_ptr cinfo)
{
	dest_write(cinfo, JPEG_IO_CHUNK);
	return TRUE;
}

static void dest_term(j_compress_ptr cinfo)
{
	jpeg_writer *w = cinfo->client_data;
	dest_write(cinfo, JPEG_IO_CHUNK - w->dest.free_in_buffer);
}

/* The compressor's parameters and the header. */
static void jpeg_start_body(jpeg_writer *jw)
{
	j_compress_ptr ci = &jw->cinfo;
	j_common_ptr cc = (j_common_ptr)ci;
	const imf_writer *w = jw->w;
	const int nch = jw->nch, quality = w->opts.quality;

	jpeg_create_compress(ci);
	jw->buf = (*ci->mem->alloc_small)(cc, JPOOL_PERMANENT, JPEG_IO_CHUNK);
	jw->dest.init_destination = dest_init;
	jw->dest.empty_output_buffer = dest_empty;
	jw->dest.term_destination = dest_term;
	ci->dest = &jw->dest;

	ci->image_width = (JDIMENSION)w->width;
	ci->image_height = (JDIMENSION)w->height;
	ci->input_components = nch;
	ci->in_color_space = nch == 1 ? JCS_GRAYSCALE : JCS_RGB;
	jpeg_set_defaults(ci);
	jpeg_set_quality(ci, quality, TRUE);
	if (nch == 3 && quality >= 90) {
		/* Subsampled chroma would cost more than the quantizer saves. */
		for (int c = 0; c < ci->num_components; c++) {
			ci->comp_info[c].h_samp_factor = 1;
			ci->comp_info[c].v_samp_factor = 1;
		}
	}
	jpeg_start_compress(ci, TRUE);
	jw->row = (*ci->mem->alloc_sarray)(cc, JPOOL_PERMANENT, ci->image_width * (JDIMENSION)nch,
	                                    1);
}

static void jpeg_write_body(jpeg_writer *jw)
{
	j_compress_ptr ci = &jw->cinfo;

	/* With normalize, band is the whole image (the writer holds it until finish). */
	if (!jw->map_ready) {
		imf_mapper_init(&jw->map, jw->band, jw->w->opts.map, 255);
		jw->map_ready = 1;
	}
	for (size_t i = 0; i < jw->n; i++) {
		imf_mapper_row8(&jw->map, jw->band, jw->first + i, jw->nch, jw->row[0]);
		if (jpeg_write_scanlines(ci, jw->row, 1) != 1)
			jpeg_fail((j_common_ptr)ci, IMF_EIO, "encoder accepted no scanline");
	}
}

typedef enum jpeg_step { JPEG_START, JPEG_ROWS, JPEG_FINISH } jpeg_step;

static imf_status jpeg_write_guarded(jpeg_writer *jw, jpeg_step step, imf_error *err)
{
	jw->e.err = err;
	if (setjmp(jw->e.jb))
		return jw->e.status;
	switch (step) {
	case JPEG_START: jpeg_start_body(jw); break;
	case JPEG_ROWS: jpeg_write_body(jw); break;
	case JPEG_FINISH: jpeg_finish_compress(&jw->cinfo); break;
	}
	return jw->e.status;
}

static imf_status jpeg_writer_open(imf_writer *w, imf_error *err)
{
	jpeg_writer *jw;
	imf_status st;

	if (w->width > JPEG_MAX_DIMENSION || w->height > JPEG_MAX_DIMENSION)
		return imf_error_set(err, IMF_EINVAL,
		                     "JPEG: %zux%zu is too large for JPEG (at most %ld pixels a side)",
		                     w->width, w->height, (long)JPEG_MAX_DIMENSION);
	jw = calloc(1, sizeof *jw); /* cinfo.mem == NULL: destroy is safe at any point */
	if (!jw)
		return imf_error_set(err, IMF_ENOMEM, "JPEG: out of memory");
	w->state = jw;
	/* libjpeg errors while writing come from our parameters, not from data. */
	jpeg_errctx_init(&jw->e, err, IMF_EINVAL);
	jw->cinfo.err = &jw->e.mgr;
	jw->cinfo.client_data = jw;
	jw->fp = w->fp;
	jw->w = w;
	jw->nch = imf_writer_color_planes(w) == 1 ? 1 : 3;
	/* Normalize needs the whole image's range before the first row. */
	if (w->opts.map == IMF_MAP_NORMALIZE && (st = imf_writer_hold(w, err)) != IMF_OK)
		return st;
	return jpeg_write_guarded(jw, JPEG_START, err);
}

static imf_status jpeg_writer_rows(imf_writer *w, const imf_image *band, size_t first, size_t n,
                                   imf_error *err)
{
	jpeg_writer *jw = w->state;
	jw->band = band;
	jw->first = first;
	jw->n = n;
	return jpeg_write_guarded(jw, JPEG_ROWS, err);
}

static imf_status jpeg_writer_finish(imf_writer *w, imf_error *err)
{
	return jpeg_write_guarded(w->state, JPEG_FINISH, err);
}

static void jpeg_writer_close(imf_writer *w)
{
	jpeg_writer *jw = w->state;
	if (!jw)
		return;
	jpeg_destroy_compress(&jw->cinfo);
	free(jw);
	w->state = NULL;
}

const imf_writer_ops imf_jpeg_writer = { .open = jpeg_writer_open, .rows = jpeg_writer_rows,
	                                 .finish = jpeg_writer_finish,
	                                 .close = jpeg_writer_close };
