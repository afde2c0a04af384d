/*
 * mutate.c - test tool: hostile variants of a file, and a few hand-made
 * PNGs, for tests/hostile.sh.
 *
 *   mutate [-s SEED] [-f FIRST] [-n COUNT] INPUT OUTDIR
 *       write the mutants FIRST .. FIRST+COUNT-1 of INPUT (default 0 and 40)
 *       as OUTDIR/STEM-I-KIND.EXT, e.g. shapes-0007-ihdr-width+crc.png
 *   mutate --png W H COLOUR DEPTH INTERLACE OUT
 *       a valid PNG of a fixed pattern: any colour type (0, 2, 3, 4, 6) and
 *       bit depth libpng accepts, Adam7 when INTERLACE is 1, every filter type
 *   mutate --png-bomb W H ROWS OUT
 *       a gray 8-bit PNG of W x H zeros holding only ROWS rows of data (ROWS =
 *       H for a complete image); its deflate data is a run of length-258
 *       matches, so 20000x20000 takes about 2.5 MB
 *
 * It is independent of the project on purpose: it links nothing from the
 * library and shares no code with tests/corpus/, so its files test imfilter
 * from the outside.  The PNG writer has its own CRC-32, Adler-32 and a
 * fixed-Huffman deflate encoder (RFC 1950, 1951, PNG spec).
 *
 * Mutant I of a file depends only on SEED, I and the file: the choices come
 * from splitmix64 seeded with SEED, I and a hash of the file's bytes, so
 * -f/-n select any range, a larger count extends the set, and one mutant is
 * regenerated alone with -f I -n 1.
 * Each mutant applies one mutation (three times in four) or two or three in
 * a row; KIND names them, joined with '+':
 *   trunc        cut at a random offset, in the header or at a structural
 *                boundary (PNG chunk, JPEG marker, line) as often as anywhere
 *   flip         1-8 random bit flips, half of them in the first 128 bytes
 *   zeros, ones  a run of 1-64 bytes overwritten with 0x00 or 0xFF
 *   dup, cut     a run of up to 4 KiB copied elsewhere, or removed
 *   token        a word or number replaced by a hostile one ("-1", "nan",
 *                "4294967296", "99999999999999999999", "" ...)
 *   pnm-*        a netpbm/PFM header number (width, height, maxval, depth,
 *                scale) replaced by zero, negative, huge or off-by-one values
 *   ihdr-*       a PNG IHDR field (width, height, depth, colour type,
 *                compression, filter, interlace) changed, the CRC fixed three
 *                times in four so that libpng looks at the value
 *   chunk-*      a PNG chunk's length lied about, its type changed, or the
 *                chunk removed or doubled
 *   sof-*        a JPEG frame header's height, width, precision, component
 *                count, sampling factors or table index changed
 *   seglen       a JPEG segment's length lied about
 *   +crc         (PNG) afterwards every chunk's CRC is recomputed, so that
 *                damage inside a chunk reaches the decoder
 * Exit status 0, 1 on an I/O error, 2 on bad arguments; messages on stderr.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUT (64u * 1024 * 1024)
/* A mutant never grows past its input by more than this (dup). */
#define MAX_GROWTH (64u * 1024)
/* Largest bomb: W * H, and each side (a PNG side is below 2^31). */
#define MAX_BOMB_PIXELS ((uint64_t)1 << 34)
#define MAX_PNG_SIDE 0x7fffffffu

static const char *me = "mutate";

/* ---- small helpers ------------------------------------------------------- */

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3), noreturn))
#endif
static void die(int status, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", me);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		die(1, "out of memory");
	return q;
}

/* A growable byte buffer. */
typedef struct buf {
	unsigned char *p;
	size_t len, cap;
} buf;

static void buf_reserve(buf *b, size_t extra)
{
	if (extra > SIZE_MAX / 2 - b->len)
		die(1, "out of memory");
	if (b->len + extra <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra)
		cap *= 2;
	b->p = xrealloc(b->p, cap);
	b->cap = cap;
}

static void buf_put(buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void buf_byte(buf *b, unsigned v)
{
	unsigned char c = (unsigned char)v;
	buf_put(b, &c, 1);
}

static void buf_be32(buf *b, uint32_t v)
{
	unsigned char c[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
	                      (unsigned char)(v >> 8), (unsigned char)v};
	buf_put(b, c, 4);
}

/* Insert n bytes at off (off <= len). */
static void buf_insert(buf *b, size_t off, const unsigned char *p, size_t n)
{
	buf_reserve(b, n);
	memmove(b->p + off + n, b->p + off, b->len - off);
	memcpy(b->p + off, p, n);
	b->len += n;
}

/* Remove n bytes at off (off + n <= len). */
static void buf_remove(buf *b, size_t off, size_t n)
{
	memmove(b->p + off, b->p + off + n, b->len - off - n);
	b->len -= n;
}

/* Replace [off, off + n) with the string s. */
static void buf_replace(buf *b, size_t off, size_t n, const char *s)
{
	buf_remove(b, off, n);
	buf_insert(b, off, (const unsigned char *)s, strlen(s));
}

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void set_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void set_be16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void read_file(const char *path, buf *b)
{
	FILE *fp = fopen(path, "rb");
	unsigned char chunk[65536];
	size_t n;

	if (!fp)
		die(1, "%s: %s", path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0) {
		if (b->len + n > MAX_INPUT)
			die(1, "%s: larger than the 64 MiB limit", path);
		buf_put(b, chunk, n);
	}
	if (ferror(fp))
		die(1, "%s: read error: %s", path, strerror(errno));
	fclose(fp);
}

static void write_file(const char *path, const buf *b)
{
	FILE *fp = fopen(path, "wb");
	if (!fp)
		die(1, "%s: %s", path, strerror(errno));
	if ((b->len && fwrite(b->p, 1, b->len, fp) != b->len) || fflush(fp) != 0 || ferror(fp)) {
		fclose(fp);
		die(1, "%s: write error: %s", path, strerror(errno));
	}
	if (fclose(fp) != 0)
		die(1, "%s: write error: %s", path, strerror(errno));
}

/* A whole number in [lo, hi] from an argument. */
static unsigned long long number(const char *what, const char *s, unsigned long long lo,
                                 unsigned long long hi)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (*s < '0' || *s > '9')
		die(2, "bad %s '%s'", what, s);
	v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		die(2, "bad %s '%s'", what, s);
	return v;
}

/* ---- checksums ----------------------------------------------------------- */

/* CRC-32 of PNG chunks (ISO 3309, reflected polynomial 0xEDB88320). */
static uint32_t crc_table[256];

static void crc_init(void)
{
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = n;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		crc_table[n] = c;
	}
}

static uint32_t crc32_of(const unsigned char *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;
	for (size_t i = 0; i < n; i++)
		c = crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
	return c ^ 0xFFFFFFFFu;
}

/* Adler-32 of the zlib stream, fed in runs of one byte value. */
typedef struct adler {
	uint64_t a, b;
} adler;

#define ADLER_MOD 65521u

/* k copies of byte v: a += k v, b += k a + v k (k + 1) / 2 (mod 65521). */
static void adler_run(adler *s, unsigned v, uint64_t k)
{
	while (k > 0) {
		uint64_t n = k > (1u << 30) ? (1u << 30) : k;
		uint64_t tri = (n * (n + 1) / 2) % ADLER_MOD;
		s->b = (s->b + (n % ADLER_MOD) * s->a + v * tri) % ADLER_MOD;
		s->a = (s->a + (n % ADLER_MOD) * v) % ADLER_MOD;
		k -= n;
	}
}

/* ---- deflate, fixed Huffman codes (RFC 1951 3.2.6) ----------------------- */

typedef struct deflater {
	buf out;
	uint32_t bits; /* pending bits, LSB first */
	int nbits;
	adler sum;
	int have_last;    /* the previous byte exists (a match of distance 1 may follow) */
	unsigned last;
} deflater;

static void put_bits(deflater *d, uint32_t v, int n)
{
	d->bits |= v << d->nbits;
	d->nbits += n;
	while (d->nbits >= 8) {
		buf_byte(&d->out, d->bits & 0xFF);
		d->bits >>= 8;
		d->nbits -= 8;
	}
}

/* Huffman codes are sent most significant bit first. */
static void put_code(deflater *d, uint32_t code, int n)
{
	uint32_t r = 0;
	for (int i = 0; i < n; i++)
		r |= ((code >> i) & 1u) << (n - 1 - i);
	put_bits(d, r, n);
}

/* Literal/length symbol s (0..287) with the fixed code. */
static void put_symbol(deflater *d, unsigned s)
{
	if (s < 144)
		put_code(d, 0x30 + s, 8);
	else if (s < 256)
		put_code(d, 0x190 + (s - 144), 9);
	else if (s < 280)
		put_code(d, s - 256, 7);
	else
		put_code(d, 0xC0 + (s - 280), 8);
}

/* A match of length len (3..258) at distance 1. */
static void put_match(deflater *d, unsigned len)
{
	static const unsigned short base[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,
	                                        15, 17, 19, 23, 27, 31, 35, 43, 51,  59,
	                                        67, 83, 99, 115, 131, 163, 195, 227, 258};
	static const unsigned char extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
	                                        2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
	int i = 28;
	while (base[i] > len)
		i--;
	put_symbol(d, 257 + (unsigned)i);
	if (extra[i])
		put_bits(d, len - base[i], extra[i]);
	put_code(d, 0, 5); /* distance code 0: distance 1 */
}

static void deflate_begin(deflater *d)
{
	memset(d, 0, sizeof *d);
	d->sum.a = 1;
	buf_byte(&d->out, 0x78); /* zlib: deflate, 32 KiB window */
	buf_byte(&d->out, 0x01); /* no dictionary; (0x78 * 256 + 0x01) % 31 == 0 */
	put_bits(d, 1, 1);       /* BFINAL: the one block */
	put_bits(d, 1, 2);       /* BTYPE 01: fixed Huffman codes */
}

/* k copies of byte v: one literal, then matches of distance 1. */
static void deflate_run(deflater *d, unsigned v, uint64_t k)
{
	adler_run(&d->sum, v, k);
	if (k && !(d->have_last && d->last == v)) {
		put_symbol(d, v);
		k--;
	}
	d->have_last = 1;
	d->last = v;
	while (k >= 3) {
		unsigned n = k > 258 ? 258 : (unsigned)k;
		if (k - n > 0 && k - n < 3)
			n -= 3; /* leave a remainder that is a match too */
		put_match(d, n);
		k -= n;
	}
	while (k-- > 0)
		put_symbol(d, v);
}

static void deflate_bytes(deflater *d, const unsigned char *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		size_t j = i + 1;
		while (j < n && p[j] == p[i])
			j++;
		deflate_run(d, p[i], j - i);
		i = j;
	}
}

/* End the block and the zlib stream; the data is d->out. */
static void deflate_end(deflater *d)
{
	put_symbol(d, 256);
	if (d->nbits > 0)
		put_bits(d, 0, 8 - d->nbits);
	buf_be32(&d->out, (uint32_t)(d->sum.b << 16 | d->sum.a));
}

/* ---- writing PNGs ---------------------------------------------------------- */

static void png_chunk(buf *png, const char *type, const unsigned char *data, size_t n)
{
	size_t start;
	if (n > MAX_PNG_SIDE)
		die(1, "chunk too long");
	buf_be32(png, (uint32_t)n);
	start = png->len;
	buf_put(png, type, 4);
	buf_put(png, data, n);
	buf_be32(png, crc32_of(png->p + start, n + 4));
}

static void png_start(buf *png, uint32_t w, uint32_t h, int depth, int colour, int interlace)
{
	unsigned char ihdr[13];
	static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
	buf_put(png, sig, 8);
	set_be32(ihdr, w);
	set_be32(ihdr + 4, h);
	ihdr[8] = (unsigned char)depth;
	ihdr[9] = (unsigned char)colour;
	ihdr[10] = 0;
	ihdr[11] = 0;
	ihdr[12] = (unsigned char)interlace;
	png_chunk(png, "IHDR", ihdr, sizeof ihdr);
}

/* The zlib data in IDAT chunks of at most 256 KiB, then IEND. */
static void png_finish(buf *png, const buf *z)
{
	const size_t most = 256 * 1024;
	for (size_t off = 0; off < z->len; off += most)
		png_chunk(png, "IDAT", z->p + off, z->len - off < most ? z->len - off : most);
	png_chunk(png, "IEND", NULL, 0);
}

static int make_bomb(int argc, char **argv)
{
	buf png = {0};
	deflater d;
	uint64_t w, h, rows;

	if (argc != 6)
		die(2, "usage: mutate --png-bomb W H ROWS OUT");
	w = number("width", argv[2], 1, MAX_PNG_SIDE);
	h = number("height", argv[3], 1, MAX_PNG_SIDE);
	rows = number("rows", argv[4], 0, h);
	if (w * h > MAX_BOMB_PIXELS)
		die(2, "a bomb of %s x %s is too large", argv[2], argv[3]);
	png_start(&png, (uint32_t)w, (uint32_t)h, 8, 0, 0);
	deflate_begin(&d);
	/* Each row: filter byte 0 and w zero samples; all of it one run of zeros. */
	deflate_run(&d, 0, rows * (w + 1));
	deflate_end(&d);
	png_finish(&png, &d.out);
	write_file(argv[5], &png);
	free(png.p);
	free(d.out.p);
	return 0;
}

/* Paeth predictor (PNG spec, filter type 4). */
static unsigned paeth(unsigned a, unsigned b, unsigned c)
{
	int p = (int)a + (int)b - (int)c;
	int pa = abs(p - (int)a), pb = abs(p - (int)b), pc = abs(p - (int)c);
	if (pa <= pb && pa <= pc)
		return a;
	return pb <= pc ? b : c;
}

/*
 * Filter one packed row (n bytes, bpp bytes per pixel rounded up) with
 * filter type t against prev (NULL for the first row of a pass) into out
 * (n + 1 bytes, the filter byte first).
 */
static void filter_row(int t, const unsigned char *row, const unsigned char *prev, size_t n,
                       size_t bpp, unsigned char *out)
{
	out[0] = (unsigned char)t;
	for (size_t i = 0; i < n; i++) {
		unsigned a = i >= bpp ? row[i - bpp] : 0;
		unsigned b = prev ? prev[i] : 0;
		unsigned c = prev && i >= bpp ? prev[i - bpp] : 0;
		unsigned pred = t == 1 ? a : t == 2 ? b : t == 3 ? (a + b) / 2 : t == 4 ? paeth(a, b, c) : 0;
		out[i + 1] = (unsigned char)(row[i] - pred);
	}
}

/* The pattern: sample c of pixel (x, y), 0..maxval. */
static unsigned pattern(uint32_t x, uint32_t y, int c, unsigned maxval)
{
	uint32_t v = (x * 7u + y * 13u + (uint32_t)c * 61u) ^ (x * y * 3u);
	if (maxval > 255)
		v = v * 257u + x;
	return v % (maxval + 1u);
}

static int make_png(int argc, char **argv)
{
	/* Adam7: x0, y0, dx, dy of each pass; one pass for a plain image. */
	static const unsigned char adam7[7][4] = {{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8},
	                                          {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2},
	                                          {0, 1, 1, 2}};
	static const unsigned char plain[1][4] = {{0, 0, 1, 1}};
	buf png = {0};
	deflater d;
	uint32_t w, h;
	int colour, depth, interlace, nch, ok;
	unsigned maxval;

	if (argc != 8)
		die(2, "usage: mutate --png W H COLOUR DEPTH INTERLACE OUT");
	w = (uint32_t)number("width", argv[2], 1, 4096);
	h = (uint32_t)number("height", argv[3], 1, 4096);
	colour = (int)number("colour type", argv[4], 0, 6);
	depth = (int)number("depth", argv[5], 1, 16);
	interlace = (int)number("interlace", argv[6], 0, 1);
	switch (colour) {
	case 0: nch = 1; ok = depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16; break;
	case 2: nch = 3; ok = depth == 8 || depth == 16; break;
	case 3: nch = 1; ok = depth == 1 || depth == 2 || depth == 4 || depth == 8; break;
	case 4: nch = 2; ok = depth == 8 || depth == 16; break;
	case 6: nch = 4; ok = depth == 8 || depth == 16; break;
	default: nch = 0; ok = 0; break;
	}
	if (!ok)
		die(2, "colour type %s does not take depth %s", argv[4], argv[5]);
	maxval = (1u << depth) - 1;
	png_start(&png, w, h, depth, colour, interlace);
	if (colour == 3) {
		/* A palette of every index the depth allows, and alpha for some. */
		unsigned char plte[3 * 256], trns[256];
		unsigned n = maxval + 1;
		for (unsigned i = 0; i < n; i++) {
			plte[3 * i] = (unsigned char)(i * 37);
			plte[3 * i + 1] = (unsigned char)(255 - i);
			plte[3 * i + 2] = (unsigned char)(i * 11);
			trns[i] = (unsigned char)(255 - i * 5);
		}
		png_chunk(&png, "PLTE", plte, 3 * n);
		png_chunk(&png, "tRNS", trns, n > 4 ? n / 2 : n);
	}

	size_t bits = (size_t)nch * (size_t)depth, bpp = (bits + 7) / 8;
	size_t rowmax = ((size_t)w * bits + 7) / 8;
	unsigned char *row = xrealloc(NULL, rowmax), *prev = xrealloc(NULL, rowmax);
	unsigned char *out = xrealloc(NULL, rowmax + 1);
	const unsigned char(*passes)[4] = interlace ? adam7 : plain;
	int npass = interlace ? 7 : 1, t = 0;

	deflate_begin(&d);
	for (int p = 0; p < npass; p++) {
		uint32_t x0 = passes[p][0], y0 = passes[p][1], dx = passes[p][2], dy = passes[p][3];
		uint32_t pw = w > x0 ? (w - x0 + dx - 1) / dx : 0;
		uint32_t ph = h > y0 ? (h - y0 + dy - 1) / dy : 0;
		size_t n = ((size_t)pw * bits + 7) / 8;
		int first = 1;
		if (pw == 0 || ph == 0)
			continue; /* an empty pass has no rows, not even filter bytes */
		for (uint32_t j = 0; j < ph; j++) {
			uint32_t y = y0 + j * dy;
			memset(row, 0, n);
			for (uint32_t i = 0; i < pw; i++) {
				uint32_t x = x0 + i * dx;
				for (int c = 0; c < nch; c++) {
					unsigned v = pattern(x, y, c, maxval);
					size_t bit = ((size_t)i * (size_t)nch + (size_t)c) * (size_t)depth;
					if (depth == 16) {
						row[bit / 8] = (unsigned char)(v >> 8);
						row[bit / 8 + 1] = (unsigned char)v;
					} else if (depth == 8) {
						row[bit / 8] = (unsigned char)v;
					} else {
						row[bit / 8] |= (unsigned char)(v << (8 - depth - bit % 8));
					}
				}
			}
			filter_row(t, row, first ? NULL : prev, n, bpp, out);
			t = (t + 1) % 5;
			deflate_bytes(&d, out, n + 1);
			memcpy(prev, row, n);
			first = 0;
		}
	}
	deflate_end(&d);
	png_finish(&png, &d.out);
	write_file(argv[7], &png);
	free(row);
	free(prev);
	free(out);
	free(png.p);
	free(d.out.p);
	return 0;
}

/* ---- the random source ----------------------------------------------------- */

typedef struct rng {
	uint64_t s;
} rng;

/* splitmix64 (Steele, Lea and Flood). */
static uint64_t next(rng *r)
{
	uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* Uniform in [0, n); 0 when n is 0. */
static size_t below(rng *r, size_t n)
{
	return n ? (size_t)(next(r) % n) : 0;
}

static const char *pick(rng *r, const char *const *v, size_t n)
{
	return v[below(r, n)];
}

/* ---- what the file is ------------------------------------------------------ */

typedef enum kind { K_OTHER, K_PNG, K_JPEG, K_PNM, K_PAM, K_PFM } kind;

static kind detect(const buf *b)
{
	static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
	if (b->len >= 8 && memcmp(b->p, sig, 8) == 0)
		return K_PNG;
	if (b->len >= 3 && b->p[0] == 0xFF && b->p[1] == 0xD8 && b->p[2] == 0xFF)
		return K_JPEG;
	if (b->len >= 2 && b->p[0] == 'P' && b->p[1] >= '1' && b->p[1] <= '6')
		return K_PNM;
	if (b->len >= 2 && b->p[0] == 'P' && b->p[1] == '7')
		return K_PAM;
	if (b->len >= 2 && b->p[0] == 'P' && (b->p[1] == 'F' || b->p[1] == 'f'))
		return K_PFM;
	return K_OTHER;
}

/* PNG chunks: offsets of the length fields of those that fit in the file. */
#define MAX_CHUNKS 4096
static size_t png_chunks(const buf *b, size_t *off)
{
	size_t n = 0, p = 8;
	while (n < MAX_CHUNKS && p + 12 <= b->len) {
		uint32_t len = get_be32(b->p + p);
		if (len > b->len - p - 12)
			break;
		off[n++] = p;
		p += 12 + (size_t)len;
	}
	return n;
}

/* Recompute the CRC of every chunk that fits. */
static void png_fix_crcs(buf *b)
{
	static size_t off[MAX_CHUNKS];
	size_t n = png_chunks(b, off);
	for (size_t i = 0; i < n; i++) {
		uint32_t len = get_be32(b->p + off[i]);
		set_be32(b->p + off[i] + 8 + len, crc32_of(b->p + off[i] + 4, (size_t)len + 4));
	}
}

/* JPEG segments before the first SOS: offsets of their 0xFF marker bytes. */
#define MAX_SEGMENTS 256
static size_t jpeg_segments(const buf *b, size_t *off)
{
	size_t n = 0, p = 2;
	while (n < MAX_SEGMENTS && p + 4 <= b->len && b->p[p] == 0xFF) {
		unsigned m = b->p[p + 1];
		if (m == 0xFF) {
			p++; /* fill byte */
			continue;
		}
		if (m == 0xD8 || (m >= 0xD0 && m <= 0xD7) || m == 0x01) {
			p += 2; /* no length */
			continue;
		}
		off[n++] = p;
		if (m == 0xDA || m == 0xD9)
			break;
		p += 2 + ((size_t)b->p[p + 2] << 8 | b->p[p + 3]);
	}
	return n;
}

static int is_sof(unsigned m)
{
	return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

/* ---- the mutations ----------------------------------------------------------- */

/* Where to cut: a structural boundary, near the start, or anywhere. */
static size_t cut_point(rng *r, const buf *b, kind k)
{
	static size_t off[MAX_CHUNKS];
	size_t n = 0;

	switch (below(r, 3)) {
	case 0:
		return below(r, b->len < 64 ? b->len : 64);
	case 1:
		if (k == K_PNG) {
			n = png_chunks(b, off);
			if (n) {
				size_t c = off[below(r, n)];
				static const size_t delta[] = {0, 4, 8, 9};
				size_t at = c + delta[below(r, 4)];
				return at < b->len ? at : c;
			}
		} else if (k == K_JPEG) {
			n = jpeg_segments(b, off);
			if (n)
				return off[below(r, n)] + below(r, 4);
		} else {
			/* After a line: a header line, a row of a matrix. */
			size_t lines = 0;
			for (size_t i = 0; i < b->len && lines < MAX_CHUNKS; i++)
				if (b->p[i] == '\n')
					off[lines++] = i + 1;
			if (lines)
				return off[below(r, lines)] % b->len;
		}
		break;
	default:
		break;
	}
	return below(r, b->len);
}

static const char *m_trunc(rng *r, buf *b, kind k)
{
	if (b->len == 0)
		return NULL;
	b->len = cut_point(r, b, k);
	return "trunc";
}

static const char *m_flip(rng *r, buf *b)
{
	size_t n = 1 + below(r, 8);
	if (b->len == 0)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		size_t at = below(r, 2) ? below(r, b->len < 128 ? b->len : 128) : below(r, b->len);
		b->p[at] ^= (unsigned char)(1u << below(r, 8));
	}
	return "flip";
}

static const char *m_run(rng *r, buf *b)
{
	size_t at, n;
	int ones = (int)below(r, 2);
	if (b->len == 0)
		return NULL;
	at = below(r, b->len);
	n = 1 + below(r, 64);
	if (n > b->len - at)
		n = b->len - at;
	memset(b->p + at, ones ? 0xFF : 0x00, n);
	return ones ? "ones" : "zeros";
}

static const char *m_dup(rng *r, buf *b, size_t limit)
{
	size_t a, n, to;
	unsigned char *copy;
	if (b->len == 0 || b->len >= limit)
		return NULL;
	a = below(r, b->len);
	n = 1 + below(r, b->len - a < 4096 ? b->len - a : 4096);
	if (n > limit - b->len)
		n = limit - b->len;
	to = below(r, b->len + 1);
	copy = xrealloc(NULL, n);
	memcpy(copy, b->p + a, n);
	buf_insert(b, to, copy, n);
	free(copy);
	return "dup";
}

static const char *m_cut(rng *r, buf *b)
{
	size_t a, n;
	if (b->len == 0)
		return NULL;
	a = below(r, b->len);
	n = 1 + below(r, b->len - a < 4096 ? b->len - a : 4096);
	buf_remove(b, a, n);
	return "cut";
}

static const char *const hostile_numbers[] = {
	"0", "-1", "-0", "1", "+1", "2147483647", "2147483648", "-2147483648", "4294967295",
	"4294967296", "9223372036854775807", "18446744073709551615", "18446744073709551616",
	"99999999999999999999999999", "65535", "65536", "1000000", "1000001", "16384", "16385",
	"1e3", "0x10", "nan", "-inf", "1e999", "1/0", "",
};
#define NUM_HOSTILE (sizeof hostile_numbers / sizeof hostile_numbers[0])

static int token_char(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       c == '+' || c == '-' || c == '.' || c == '/';
}

/* A word or number among the first 4 KiB, replaced by a hostile one. */
static const char *m_token(rng *r, buf *b)
{
	size_t start[512], end[512], n = 0, lim = b->len < 4096 ? b->len : 4096;
	for (size_t i = 0; i < lim && n < 512;) {
		if (!token_char(b->p[i])) {
			i++;
			continue;
		}
		start[n] = i;
		while (i < b->len && token_char(b->p[i]))
			i++;
		end[n++] = i;
	}
	if (n == 0)
		return NULL;
	size_t t = below(r, n);
	buf_replace(b, start[t], end[t] - start[t], pick(r, hostile_numbers, NUM_HOSTILE));
	return "token";
}

/* A lie about the number at [s, e): hostile, or off by a little. */
static void lie_number(rng *r, buf *b, size_t s, size_t e)
{
	char tmp[32];
	unsigned long long v = 0;
	for (size_t i = s; i < e && i < s + 18; i++)
		if (b->p[i] >= '0' && b->p[i] <= '9')
			v = v * 10 + (unsigned)(b->p[i] - '0');
	switch (below(r, 4)) {
	case 0: snprintf(tmp, sizeof tmp, "%llu", v + 1); break;
	case 1: snprintf(tmp, sizeof tmp, "%llu", v ? v - 1 : 0); break;
	case 2: snprintf(tmp, sizeof tmp, "%llu", v * 256 + 1); break;
	default: snprintf(tmp, sizeof tmp, "%s", pick(r, hostile_numbers, NUM_HOSTILE)); break;
	}
	buf_replace(b, s, e - s, tmp);
}

/* P1-P6 and PFM: the numbers after the magic (comments skipped). */
static const char *m_pnm(rng *r, buf *b, kind k)
{
	static const char *const names[2][3] = {{"pnm-width", "pnm-height", "pnm-maxval"},
	                                        {"pfm-width", "pfm-height", "pfm-scale"}};
	size_t s[3], e[3], n = 0, p = 2;
	size_t want = k == K_PFM ? 3 : (b->p[1] == '1' || b->p[1] == '4') ? 2 : 3;
	while (n < want && p < b->len) {
		unsigned char c = b->p[p];
		if (c == '#') {
			while (p < b->len && b->p[p] != '\n')
				p++;
		} else if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
			p++;
		} else {
			s[n] = p;
			while (p < b->len && !(b->p[p] == ' ' || b->p[p] == '\t' || b->p[p] == '\n' ||
			                      b->p[p] == '\r' || b->p[p] == '#'))
				p++;
			e[n++] = p;
		}
	}
	if (n == 0)
		return NULL;
	size_t t = below(r, n);
	lie_number(r, b, s[t], e[t]);
	return names[k == K_PFM][t];
}

/* P7: the number after WIDTH, HEIGHT, DEPTH or MAXVAL. */
static const char *m_pam(rng *r, buf *b)
{
	static const char *const keys[] = {"WIDTH", "HEIGHT", "DEPTH", "MAXVAL"};
	static const char *const names[] = {"pam-width", "pam-height", "pam-depth", "pam-maxval"};
	size_t key = below(r, 4), klen = strlen(keys[key]);
	size_t lim = b->len < 4096 ? b->len : 4096;
	for (size_t i = 0; i + klen < lim; i++) {
		if ((i > 0 && b->p[i - 1] != '\n') || memcmp(b->p + i, keys[key], klen) != 0)
			continue;
		size_t s = i + klen;
		while (s < b->len && (b->p[s] == ' ' || b->p[s] == '\t'))
			s++;
		size_t e = s;
		while (e < b->len && b->p[e] != '\n' && b->p[e] != ' ' && b->p[e] != '\t')
			e++;
		lie_number(r, b, s, e);
		return names[key];
	}
	return NULL;
}

static uint32_t lie32(rng *r, uint32_t orig)
{
	static const uint32_t v[] = {0,     1,      2,       0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFFu,
	                             16384, 16385,  46341,   65535,       65536,       1000001,
	                             100000, 30000, 0x10001u};
	switch (below(r, 4)) {
	case 0: return orig + 1;
	case 1: return orig * 2;
	case 2: return orig * 256;
	default: return v[below(r, sizeof v / sizeof v[0])];
	}
}

static const char *m_ihdr(rng *r, buf *b)
{
	static const unsigned char depths[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 32, 255};
	static const unsigned char colours[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 255};
	static const unsigned char small[] = {0, 1, 2, 7, 255};
	const char *name;
	if (b->len < 33 || memcmp(b->p + 12, "IHDR", 4) != 0)
		return NULL;
	switch (below(r, 9)) {
	case 0: case 1: case 2:
		set_be32(b->p + 16, lie32(r, get_be32(b->p + 16)));
		name = "ihdr-width";
		break;
	case 3: case 4: case 5:
		set_be32(b->p + 20, lie32(r, get_be32(b->p + 20)));
		name = "ihdr-height";
		break;
	case 6:
		b->p[24] = depths[below(r, sizeof depths)];
		name = "ihdr-depth";
		break;
	case 7:
		b->p[25] = colours[below(r, sizeof colours)];
		name = "ihdr-colour";
		break;
	default: {
		size_t field = 26 + below(r, 3);
		b->p[field] = small[below(r, sizeof small)];
		name = field == 26 ? "ihdr-compression" : field == 27 ? "ihdr-filter" : "ihdr-interlace";
		break;
	}
	}
	/* Three times in four libpng should see the value, not a CRC error. */
	if (below(r, 4))
		set_be32(b->p + 29, crc32_of(b->p + 12, 17));
	return name;
}

static const char *m_chunk(rng *r, buf *b)
{
	static size_t off[MAX_CHUNKS];
	size_t n = png_chunks(b, off), c, len;
	if (n == 0)
		return NULL;
	c = off[below(r, n)];
	len = get_be32(b->p + c);
	switch (below(r, 4)) {
	case 0:
		set_be32(b->p + c, lie32(r, (uint32_t)len));
		return "chunk-length";
	case 1:
		/* Flip the ancillary bit, or make up a type. */
		if (below(r, 2))
			b->p[c + 4] ^= 0x20;
		else
			for (int i = 0; i < 4; i++)
				b->p[c + 4 + i] = (unsigned char)('A' + below(r, 26) + (below(r, 2) ? 32 : 0));
		set_be32(b->p + c + 8 + len, crc32_of(b->p + c + 4, len + 4));
		return "chunk-type";
	case 2:
		buf_remove(b, c, len + 12);
		return "chunk-drop";
	default: {
		unsigned char *copy = xrealloc(NULL, len + 12);
		memcpy(copy, b->p + c, len + 12);
		buf_insert(b, c, copy, len + 12);
		free(copy);
		return "chunk-twice";
	}
	}
}

static const char *m_sof(rng *r, buf *b)
{
	static size_t off[MAX_SEGMENTS];
	size_t n = jpeg_segments(b, off), s = 0;
	static const unsigned v16[] = {0, 1, 2, 8, 16384, 32768, 65500, 65535};
	int found = 0;
	for (size_t i = 0; i < n; i++)
		if (is_sof(b->p[off[i] + 1]) && off[i] + 13 <= b->len) {
			s = off[i];
			found = 1;
		}
	if (!found)
		return NULL;
	switch (below(r, 8)) {
	case 0: case 1: case 2: {
		unsigned h = (unsigned)b->p[s + 5] << 8 | b->p[s + 6];
		set_be16(b->p + s + 5, below(r, 2) ? v16[below(r, 8)] : (h * 2 + 1) & 0xFFFF);
		return "sof-height";
	}
	case 3: case 4: case 5: {
		unsigned w = (unsigned)b->p[s + 7] << 8 | b->p[s + 8];
		set_be16(b->p + s + 7, below(r, 2) ? v16[below(r, 8)] : (w * 2 + 1) & 0xFFFF);
		return "sof-width";
	}
	case 6: {
		static const unsigned char v[] = {0, 2, 4, 5, 255, 12, 16};
		size_t field = below(r, 2) ? 4 : 9;
		b->p[s + field] = v[below(r, sizeof v)];
		return field == 4 ? "sof-precision" : "sof-components";
	}
	default: {
		static const unsigned char v[] = {0x00, 0x44, 0xFF, 0x41, 0x14, 0x05, 0x50};
		size_t field = below(r, 2) ? 11 : 12;
		b->p[s + field] = field == 11 ? v[below(r, sizeof v)] : (unsigned char)(3 + below(r, 253));
		return field == 11 ? "sof-sampling" : "sof-table";
	}
	}
}

static const char *m_seglen(rng *r, buf *b)
{
	static size_t off[MAX_SEGMENTS];
	static const unsigned v[] = {0, 1, 2, 3, 0xFFFF, 0x8000};
	size_t n = jpeg_segments(b, off), s;
	unsigned len;
	if (n == 0)
		return NULL;
	s = off[below(r, n)];
	if (s + 4 > b->len)
		return NULL;
	len = (unsigned)b->p[s + 2] << 8 | b->p[s + 3];
	set_be16(b->p + s + 2, below(r, 2) ? v[below(r, 6)] : (len + 1 + (unsigned)below(r, 3)) & 0xFFFF);
	return "seglen";
}

/* One mutation, chosen among those that fit the file; NULL if none did. */
static const char *mutate_once(rng *r, buf *b, kind k, size_t limit)
{
	for (int tries = 0; tries < 8; tries++) {
		const char *name = NULL;
		/* Generic kinds 0-5; the format's own kinds get as many slots again. */
		size_t slot = below(r, k == K_OTHER ? 6 : 12);
		switch (slot) {
		case 0: name = m_trunc(r, b, k); break;
		case 1: name = m_flip(r, b); break;
		case 2: name = m_run(r, b); break;
		case 3: name = m_dup(r, b, limit); break;
		case 4: name = m_cut(r, b); break;
		case 5: name = m_token(r, b); break;
		default:
			switch (k) {
			case K_PNG: name = slot < 9 ? m_ihdr(r, b) : m_chunk(r, b); break;
			case K_JPEG: name = slot < 10 ? m_sof(r, b) : m_seglen(r, b); break;
			case K_PNM: case K_PFM: name = m_pnm(r, b, k); break;
			case K_PAM: name = m_pam(r, b); break;
			case K_OTHER: break;
			}
			break;
		}
		if (name)
			return name;
	}
	return NULL;
}

/* ---- main ----------------------------------------------------------------------- */

static int make_mutants(const char *input, const char *outdir, uint64_t seed, uint64_t first,
                        uint64_t count)
{
	buf orig = {0}, b = {0};
	const char *base = strrchr(input, '/'), *dot;
	char path[4096], kinds[256];
	size_t stem;

	read_file(input, &orig);
	base = base ? base + 1 : input;
	dot = strrchr(base, '.');
	stem = dot && dot != base ? (size_t)(dot - base) : strlen(base);
	/* The file's bytes take part in the seed (FNV-1a), so files differ in their mutations. */
	uint64_t h = 0xCBF29CE484222325ull;
	for (size_t j = 0; j < orig.len; j++)
		h = (h ^ orig.p[j]) * 0x100000001B3ull;
	for (uint64_t i = first; i < first + count; i++) {
		rng r = {(seed * 0xD1B54A32D192ED03ull) ^ ((i + 1) * 0x9E3779B97F4A7C15ull) ^ h};
		int n = below(&r, 4) ? 1 : 2 + (int)below(&r, 2);
		kind k = detect(&orig);

		b.len = 0;
		buf_put(&b, orig.p, orig.len);
		kinds[0] = '\0';
		for (int m = 0; m < n; m++) {
			const char *name = mutate_once(&r, &b, k, orig.len + MAX_GROWTH);
			if (!name)
				continue;
			if (kinds[0])
				strncat(kinds, "+", sizeof kinds - strlen(kinds) - 1);
			strncat(kinds, name, sizeof kinds - strlen(kinds) - 1);
		}
		if (k == K_PNG && below(&r, 2)) {
			png_fix_crcs(&b);
			strncat(kinds, "+crc", sizeof kinds - strlen(kinds) - 1);
		}
		if (!kinds[0])
			strcpy(kinds, "same");
		if (snprintf(path, sizeof path, "%s/%.*s-%04llu-%s%s", outdir, (int)stem, base,
		             (unsigned long long)i, kinds, dot && dot != base ? dot : "") >=
		    (int)sizeof path)
			die(2, "%s: path too long under %s", base, outdir);
		write_file(path, &b);
	}
	free(orig.p);
	free(b.p);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t seed = 1, first = 0, count = 40;
	int i = 1;

	crc_init();
	if (argc >= 2 && strcmp(argv[1], "--png") == 0)
		return make_png(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "--png-bomb") == 0)
		return make_bomb(argc, argv);
	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (strcmp(argv[i], "-s") == 0)
			seed = number("seed", argv[i + 1], 0, UINT64_MAX);
		else if (strcmp(argv[i], "-f") == 0)
			first = number("first", argv[i + 1], 0, UINT32_MAX);
		else if (strcmp(argv[i], "-n") == 0)
			count = number("count", argv[i + 1], 0, UINT32_MAX);
		else
			die(2, "unknown option '%s'", argv[i]);
	}
	if (argc - i != 2)
		die(2, "usage: mutate [-s SEED] [-f FIRST] [-n COUNT] INPUT OUTDIR");
	return make_mutants(argv[i], argv[i + 1], seed, first, count);
}
