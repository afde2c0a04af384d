#!/usr/bin/env python3
"""make-corpus.py - generate the hostile-file corpus in tests/corpus/.

    python3 tests/corpus/make-corpus.py            rewrite tests/corpus/* and MANIFEST
    python3 tests/corpus/make-corpus.py --valid D  write small VALID files into D
                                                   (seeds for tests/fuzz/make-seeds.sh)

Python 3 standard library only (zlib, struct), so anyone can regenerate the
files; the generated files are committed too.  Every file is built from the
formats' own rules (PNG chunks with their CRCs, a tiny baseline JPEG encoder,
netpbm headers), then broken in one precise way.  Each entry states the
outcome the formats' rules call for, not what imfilter happens to print:

    FILE <TAB> MODE <TAB> STATUS <TAB> KEYWORDS

MODE is 'input' (imfilter -k sobel FILE OUT.png) or 'kernel' (imfilter -k FILE
samples/shapes.png OUT.png); STATUS the exit status (1 bad input, 2 usage, 0
for a hostile but valid file); KEYWORDS substrings separated by '|' that the
one stderr line must all contain (case-sensitive), or must not contain when
written '!TEXT', or '-' for status 0.
tests/corpus.sh runs them.

Random bytes come from a fixed xorshift generator, so the files are the same
on every run and every Python version.
"""

import os
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- helpers -----------------------------------------------------------------


class Rng:
    """xorshift64: deterministic bytes, independent of Python's random module."""

    def __init__(self, seed):
        self.s = seed & 0xFFFFFFFFFFFFFFFF or 1

    def next(self):
        s = self.s
        s ^= (s << 13) & 0xFFFFFFFFFFFFFFFF
        s ^= s >> 7
        s ^= (s << 17) & 0xFFFFFFFFFFFFFFFF
        self.s = s
        return s

    def bytes(self, n):
        return bytes(self.next() >> 24 & 0xFF for _ in range(n))


# ---- PNG -----------------------------------------------------------------------

PNG_SIG = b"\x89PNG\r\n\x1a\n"


def chunk(ctype, data, crc=None):
    """One chunk: length, type, data, CRC over type and data (or the given CRC)."""
    if crc is None:
        crc = zlib.crc32(ctype + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", crc)


def ihdr(w, h, depth=8, ctype=0, comp=0, filt=0, interlace=0):
    return chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, comp, filt, interlace))


CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def filter_rows(rows, bpp, cycle=True):
    """Filter each row (bytes) with types 0..4 in turn (or 0 only)."""
    out = bytearray()
    prev = bytes(len(rows[0])) if rows else b""
    for i, row in enumerate(rows):
        ft = i % 5 if cycle else 0
        f = bytearray()
        for x, v in enumerate(row):
            a = row[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            pred = (0, a, b, (a + b) // 2, paeth(a, b, c))[ft]
            f.append((v - pred) & 0xFF)
        out.append(ft)
        out += f
        prev = row
    return bytes(out)


def pack_row(samples, depth):
    """Samples of one row into bytes at depth 1, 2, 4, 8 or 16."""
    if depth == 16:
        return b"".join(struct.pack(">H", s) for s in samples)
    if depth == 8:
        return bytes(samples)
    out = bytearray()
    per = 8 // depth
    for i in range(0, len(samples), per):
        byte = 0
        for j in range(per):
            s = samples[i + j] if i + j < len(samples) else 0
            byte |= s << (8 - depth * (j + 1))
        out.append(byte)
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png_raw(w, h, depth, ctype, pixel, interlace=0):
    """Filtered scanlines of an image whose sample (x, y, channel) is pixel(x, y, c)."""
    nch = CHANNELS[ctype]
    bpp = max(1, nch * depth // 8)

    def rows_of(xs, ys):
        return [pack_row([pixel(x, y, c) for x in xs for c in range(nch)], depth) for y in ys]

    if not interlace:
        return filter_rows(rows_of(range(w), range(h)), bpp)
    out = b""
    for x0, y0, dx, dy in ADAM7:
        xs, ys = range(x0, w, dx), range(y0, h, dy)
        if len(xs) and len(ys):
            out += filter_rows(rows_of(xs, ys), bpp)
    return out


def png(w, h, depth=8, ctype=0, pixel=None, interlace=0, before_idat=b"", after_idat=b"",
        level=9):
    maxv = (1 << depth) - 1
    if pixel is None:
        pixel = lambda x, y, c: (x * 7 + y * 13 + c * 50) % (maxv + 1)
    idat = zlib.compress(png_raw(w, h, depth, ctype, pixel, interlace), level)
    return (PNG_SIG + ihdr(w, h, depth, ctype, interlace=interlace) + before_idat +
            chunk(b"IDAT", idat) + after_idat + chunk(b"IEND", b""))


def plte(n):
    return chunk(b"PLTE", bytes((i * 37 + k * 80) & 0xFF for i in range(n) for k in range(3)))


# ---- JPEG: a tiny baseline/progressive encoder (DC only) ---------------------------

# The standard luminance DC table (ITU T.81 K.3), enough for any difference.
DC_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
DC_VALS = list(range(12))
# An AC table with one symbol, EOB (0x00), code '0': every block is DC only.
AC_BITS = [1] + [0] * 15
AC_VALS = [0]


def huff_codes(bits, vals):
    """Canonical Huffman codes (T.81 Annex C): symbol -> (code, length)."""
    codes, code, k = {}, 0, 0
    for length in range(1, 17):
        for _ in range(bits[length - 1]):
            codes[vals[k]] = (code, length)
            code += 1
            k += 1
        code <<= 1
    return codes


DC_CODES = huff_codes(DC_BITS, DC_VALS)
AC_CODES = huff_codes(AC_BITS, AC_VALS)


class Bits:
    def __init__(self):
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def put(self, code, length):
        for i in range(length - 1, -1, -1):
            self.acc = self.acc << 1 | (code >> i & 1)
            self.n += 1
            if self.n == 8:
                self.out.append(self.acc)
                if self.acc == 0xFF:
                    self.out.append(0)  # byte stuffing
                self.acc = self.n = 0

    def flush(self):
        while self.n:
            self.put(1, 1)  # pad with 1-bits
        return bytes(self.out)


def put_dc(bits, diff):
    mag = abs(diff)
    cat = mag.bit_length()
    bits.put(*DC_CODES[cat])
    if cat:
        bits.put(diff if diff > 0 else diff - 1 + (1 << cat), cat)


def seg(marker, payload):
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def dqt(table=0, value=1):
    return seg(0xDB, bytes([table]) + bytes([value]) * 64)


def dht(cls, ident, bits, vals):
    return seg(0xC4, bytes([cls << 4 | ident]) + bytes(bits) + bytes(vals))


def sof(w, h, comps, marker=0xC0, precision=8):
    """comps: (id, h_samp, v_samp, qtable) per component."""
    p = struct.pack(">BHHB", precision, h, w, len(comps))
    for cid, hs, vs, q in comps:
        p += bytes([cid, hs << 4 | vs, q])
    return seg(marker, p)


def sos(comps, ss=0, se=63, ah=0, al=0):
    """comps: (id, dc_table, ac_table)."""
    p = bytes([len(comps)])
    for cid, td, ta in comps:
        p += bytes([cid, td << 4 | ta])
    return seg(0xDA, p + bytes([ss, se, ah << 4 | al]))


JFIF = seg(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0")
SOI, EOI = b"\xff\xd8", b"\xff\xd9"


def jpeg_scan(w, h, ncomp, block_dc, samp=None, restart=0, ac=True):
    """Entropy-coded data of an interleaved scan (or one component when ncomp = 1).

    block_dc(c, bx, by) is the DC coefficient of block (bx, by) of component c;
    samp[c] = (h, v) sampling factors.  ac=False for a progressive DC scan."""
    samp = samp or [(1, 1)] * ncomp
    hmax = max(s[0] for s in samp)
    vmax = max(s[1] for s in samp)
    mcux = -(-w // (8 * hmax))
    mcuy = -(-h // (8 * vmax))
    bits = Bits()
    out = b""
    pred = [0] * ncomp
    n = 0
    for my in range(mcuy):
        for mx in range(mcux):
            if restart and n and n % restart == 0:
                out += bits.flush() + bytes([0xFF, 0xD0 + (n // restart - 1) % 8])
                bits = Bits()
                pred = [0] * ncomp
            for c in range(ncomp):
                hs, vs = samp[c] if ncomp > 1 else (1, 1)
                for by in range(vs):
                    for bx in range(hs):
                        dc = block_dc(c, mx * hs + bx, my * vs + by)
                        put_dc(bits, dc - pred[c])
                        pred[c] = dc
                        if ac:
                            bits.put(*AC_CODES[0])  # EOB
            n += 1
    return out + bits.flush()


def gradient_dc(c, bx, by):
    return ((bx * 40 + by * 25 + c * 30) % 256 - 128) * 8 if c == 0 else ((bx + by) % 3 - 1) * 64


def jpeg(w=16, h=16, ncomp=1, samp=None, restart=0, adobe=None, precision=8, sof_marker=0xC0,
         data=None, eoi=True, block_dc=gradient_dc):
    """A baseline JPEG of DC-only blocks (ids 1..n, all tables 0)."""
    samp = samp or [(1, 1)] * ncomp
    comps = [(i + 1, samp[i][0], samp[i][1], 0) for i in range(ncomp)]
    head = SOI + (JFIF if adobe is None else seg(0xEE, b"Adobe\0\x64\0\0\0\0" + bytes([adobe])))
    head += dqt() + sof(w, h, comps, sof_marker, precision)
    head += dht(0, 0, DC_BITS, DC_VALS) + dht(1, 0, AC_BITS, AC_VALS)
    if restart:
        head += seg(0xDD, struct.pack(">H", restart))
    head += sos([(i + 1, 0, 0) for i in range(ncomp)])
    if data is None:
        data = jpeg_scan(w, h, ncomp, block_dc, samp, restart)
    return head + data + (EOI if eoi else b"")


def jpeg_progressive(w=8, h=8, ncomp=1, scans=1, data=None):
    """Progressive (SOF2) with DC-first scans only, repeated scans times."""
    comps = [(i + 1, 1, 1, 0) for i in range(ncomp)]
    out = SOI + JFIF + dqt() + sof(w, h, comps, 0xC2) + dht(0, 0, DC_BITS, DC_VALS)
    one = sos([(i + 1, 0, 0) for i in range(ncomp)], 0, 0, 0, 0)
    if data is None:
        data = jpeg_scan(w, h, ncomp, gradient_dc, ac=False)
    for _ in range(scans):
        out += one + data
    return out + EOI


# ---- netpbm, PFM -------------------------------------------------------------------


def pnm(magic, w, h, maxval, body):
    head = b"%s\n%d %d\n" % (magic, w, h)
    if maxval is not None:
        head += b"%d\n" % maxval
    return head + body


def pam(w, h, depth, maxval, tupltype, body):
    head = b"P7\nWIDTH %d\nHEIGHT %d\nDEPTH %d\nMAXVAL %d\n" % (w, h, depth, maxval)
    if tupltype:
        head += b"TUPLTYPE " + tupltype + b"\n"
    return head + b"ENDHDR\n" + body


def pfm(w, h, nch=1, scale=b"-1.0", values=None, le=True):
    n = w * h * nch
    if values is None:
        values = [float(i % 251) / 7.0 for i in range(n)]
    fmt = ("<" if le else ">") + "f" * len(values)
    return b"%s\n%d %d\n%s\n" % (b"PF" if nch == 3 else b"Pf", w, h, scale) + struct.pack(fmt, *values)


# ---- the corpus ------------------------------------------------------------------------


def corpus():
    """[(name, bytes, mode, status, keywords)] - every hostile file and its outcome."""
    C = []

    def add(name, data, status, keywords, mode="input"):
        C.append((name, data, mode, status, keywords))

    rng = Rng(0x1F2E3D4C5B6A7988)

    # -- PNG: truncated at every structural boundary
    good = png(8, 8)
    sig_end = 8
    ihdr_end = sig_end + 25
    idat_start = ihdr_end
    idat_len = struct.unpack(">I", good[idat_start:idat_start + 4])[0]
    idat_end = idat_start + 12 + idat_len
    add("png-trunc-in-signature.png", good[:5], 1, "PNG: truncated")
    add("png-trunc-after-signature.png", good[:sig_end], 1, "PNG: truncated")
    add("png-trunc-in-ihdr-header.png", good[:sig_end + 6], 1, "PNG: truncated")
    add("png-trunc-in-ihdr-data.png", good[:sig_end + 8 + 7], 1, "PNG: truncated")
    add("png-trunc-before-ihdr-crc.png", good[:ihdr_end - 4], 1, "PNG: truncated")
    add("png-trunc-in-ihdr-crc.png", good[:ihdr_end - 2], 1, "PNG: truncated")
    add("png-trunc-before-idat.png", good[:idat_start], 1, "PNG: truncated")
    add("png-trunc-in-idat-header.png", good[:idat_start + 6], 1, "PNG: truncated")
    add("png-trunc-in-idat-data.png", good[:idat_start + 8 + idat_len // 2], 1, "PNG: truncated")
    add("png-trunc-before-idat-crc.png", good[:idat_end - 4], 1, "PNG: truncated")
    add("png-trunc-before-iend.png", good[:idat_end], 1, "PNG: truncated")
    add("png-trunc-in-iend.png", good[:idat_end + 8], 1, "PNG: truncated")
    inter = png(16, 16, 8, 2, interlace=1)
    add("png-trunc-interlaced-in-idat.png", inter[:len(inter) - 12 - 40], 1, "PNG: truncated")

    # -- PNG: bad CRCs.  A critical chunk's CRC error is fatal; an ancillary
    # chunk's is not (PNG spec 13.2: the decoder may ignore it), so the image
    # decodes.
    bad_ihdr = bytearray(good)
    bad_ihdr[ihdr_end - 1] ^= 0x55
    add("png-crc-ihdr.png", bytes(bad_ihdr), 1, "PNG: |CRC error")
    bad_idat = bytearray(good)
    bad_idat[idat_end - 1] ^= 0x55
    add("png-crc-idat.png", bytes(bad_idat), 1, "PNG: |CRC error")
    pal = png(8, 8, 8, 3, pixel=lambda x, y, c: (x + y) % 4, before_idat=plte(4))
    p0 = ihdr_end
    plen = struct.unpack(">I", pal[p0:p0 + 4])[0]
    bad_plte = bytearray(pal)
    bad_plte[p0 + 12 + plen - 1] ^= 0x55
    add("png-crc-plte.png", bytes(bad_plte), 1, "PNG: |CRC error")
    text = chunk(b"tEXt", b"Comment\0hostile", crc=0x12345678)
    add("png-crc-ancillary-text.png", png(8, 8, before_idat=text), 0, "-")
    add("png-crc-ancillary-after-idat.png", png(8, 8, after_idat=chunk(b"zzZz", b"x", crc=1)), 0, "-")

    # -- PNG: dimensions
    add("png-width-0.png", PNG_SIG + ihdr(0, 8) + good[idat_start:], 1, "PNG: |width")
    add("png-height-0.png", PNG_SIG + ihdr(8, 0) + good[idat_start:], 1, "PNG: |height")
    small_idat = chunk(b"IDAT", zlib.compress(b"\0" * 20001 * 4, 9))
    add("png-bomb-20000x20000.png", PNG_SIG + ihdr(20000, 20000) + small_idat + chunk(b"IEND", b""),
        1, "PNG: |20000x20000|--max-pixels")
    add("png-bomb-30000x30000-rgba16.png",
        PNG_SIG + ihdr(30000, 30000, 16, 6) + small_idat + chunk(b"IEND", b""), 1, "PNG: |--max-pixels")
    # Within the pixel limit (16384^2 = 2^28) but with almost no data: must fail
    # fast and within the 2 GiB address-space cap.
    add("png-bomb-16384x16384-little-data.png",
        PNG_SIG + ihdr(16384, 16384) + small_idat + chunk(b"IEND", b""), 1, "PNG: ")
    # At the default --max-pixels (2^28) an RGB(A) image needs 3-4 GiB of float
    # planes: a 100-byte header must not be able to push imfilter past the
    # 2 GiB address-space cap (issue 7), whatever limit message it gives.
    add("png-rgba-16384x16384-little-data.png",
        PNG_SIG + ihdr(16384, 16384, 8, 6) + small_idat + chunk(b"IEND", b""), 1,
        "PNG: |!out of memory")
    add("png-width-2147483647.png", PNG_SIG + ihdr(0x7FFFFFFF, 1) + small_idat + chunk(b"IEND", b""),
        1, "PNG: |--max-side")
    add("png-height-2147483647.png", PNG_SIG + ihdr(1, 0x7FFFFFFF) + small_idat + chunk(b"IEND", b""),
        1, "PNG: |--max-side")
    add("png-width-2147483648.png", PNG_SIG + ihdr(0x80000000, 1) + small_idat + chunk(b"IEND", b""),
        1, "PNG: ")
    # A real zlib bomb inside the limits: 4096x4096 of zeros in ~17 KB.  Valid.
    zeros = zlib.compress(b"\0" * (4097 * 4096), 9)
    add("png-zlib-bomb-4096x4096.png", PNG_SIG + ihdr(4096, 4096) + chunk(b"IDAT", zeros) +
        chunk(b"IEND", b""), 0, "-")

    # -- PNG: bad IHDR fields (PNG spec 11.2.2)
    def bad_ihdr_png(name, depth, ctype, keyword, comp=0, filt=0, inter=0):
        add(name, PNG_SIG + ihdr(8, 8, depth, ctype, comp, filt, inter) + good[idat_start:], 1,
            "PNG: |" + keyword)

    bad_ihdr_png("png-gray-depth-3.png", 3, 0, "bit depth")
    bad_ihdr_png("png-gray-depth-32.png", 32, 0, "bit depth")
    bad_ihdr_png("png-rgb-depth-4.png", 4, 2, "bit depth")
    bad_ihdr_png("png-palette-depth-16.png", 16, 3, "bit depth")
    bad_ihdr_png("png-gray-alpha-depth-2.png", 2, 4, "bit depth")
    bad_ihdr_png("png-color-type-5.png", 8, 5, "color type")
    bad_ihdr_png("png-color-type-7.png", 8, 7, "color type")
    bad_ihdr_png("png-compression-method-1.png", 8, 0, "compression method", comp=1)
    bad_ihdr_png("png-filter-method-1.png", 8, 0, "filter method", filt=1)
    bad_ihdr_png("png-interlace-method-2.png", 8, 0, "interlace method", inter=2)
    add("png-ihdr-length-12.png", PNG_SIG + chunk(b"IHDR", struct.pack(">IIBBBB", 8, 8, 8, 0, 0, 0)) +
        good[idat_start:], 1, "PNG: |IHDR")

    # -- PNG: structure
    add("png-no-ihdr.png", PNG_SIG + good[idat_start:], 1, "PNG: |IHDR")
    add("png-two-ihdr.png", PNG_SIG + ihdr(8, 8) + ihdr(8, 8) + good[idat_start:], 1, "PNG: |IHDR")
    add("png-no-idat.png", PNG_SIG + ihdr(8, 8) + chunk(b"IEND", b""), 1, "PNG: ")
    add("png-unknown-critical-chunk.png", png(8, 8, before_idat=chunk(b"HOST", b"ile")), 1, "PNG: |HOST")
    add("png-chunk-length-1m-cut.png", png(8, 8)[:ihdr_end] +
        struct.pack(">I", 1 << 20) + b"tEXtComment\0" + b"x" * 64, 1, "PNG: truncated")
    add("png-chunk-length-2147483647.png", png(8, 8)[:ihdr_end] +
        struct.pack(">I", 0x7FFFFFFF) + b"tEXtComment\0" + b"x" * 64, 1, "PNG: ")
    add("png-chunk-length-over-2pow31.png", png(8, 8)[:ihdr_end] +
        struct.pack(">I", 0x80000000) + b"tEXt" + b"x" * 64, 1, "PNG: ")
    add("png-idat-length-huge.png", good[:idat_start] + struct.pack(">I", 0x7FFFFF00) + b"IDAT" +
        good[idat_start + 8:idat_end - 4], 1, "PNG: ")
    add("png-many-ancillary-chunks.png",
        png(8, 8, before_idat=b"".join(chunk(b"zzZz", b"") for _ in range(4000))), 0, "-")
    add("png-trailing-garbage.png", good + rng.bytes(300), 0, "-")

    # -- PNG: compressed data
    garbage = rng.bytes(200)
    add("png-idat-garbage-zlib.png", PNG_SIG + ihdr(8, 8) + chunk(b"IDAT", garbage) +
        chunk(b"IEND", b""), 1, "PNG: ")
    raw = png_raw(8, 8, 8, 0, lambda x, y, c: x * y)
    stored = zlib.compress(raw, 0)
    add("png-idat-bad-zlib-header.png", PNG_SIG + ihdr(8, 8) + chunk(b"IDAT", b"\x78\x5f" + stored[2:]) +
        chunk(b"IEND", b""), 1, "PNG: ")
    add("png-idat-short-data.png", PNG_SIG + ihdr(8, 8) + chunk(b"IDAT", zlib.compress(raw[:30])) +
        chunk(b"IEND", b""), 1, "PNG: ")
    bad_filter = bytearray(raw)
    bad_filter[9] = 7  # row 1's filter type
    add("png-bad-filter-type.png", PNG_SIG + ihdr(8, 8) + chunk(b"IDAT", zlib.compress(bytes(bad_filter))) +
        chunk(b"IEND", b""), 1, "PNG: ")

    # -- PNG: palettes (PNG spec 11.2.3: an index past the palette is an error;
    # a palette image needs PLTE before IDAT)
    add("png-palette-index-out-of-range.png",
        png(8, 8, 8, 3, pixel=lambda x, y, c: 200 if x == 3 else x % 2, before_idat=plte(2)),
        1, "PNG: |palette")
    add("png-palette-missing-plte.png", png(8, 8, 8, 3, pixel=lambda x, y, c: 0), 1, "PNG: |PLTE")
    add("png-palette-plte-257-entries.png", png(8, 8, 8, 3, pixel=lambda x, y, c: 0, before_idat=plte(257)),
        1, "PNG: |PLTE")
    add("png-palette-plte-length-10.png",
        png(8, 8, 8, 3, pixel=lambda x, y, c: 0, before_idat=chunk(b"PLTE", bytes(10))), 1, "PNG: |PLTE")
    add("png-palette-plte-after-idat.png",
        png(8, 8, 8, 3, pixel=lambda x, y, c: 0, after_idat=plte(4)), 1, "PNG: |PLTE")

    # -- JPEG
    gj = jpeg(16, 16, 1)
    sos_at = gj.index(b"\xff\xda")
    sof_at = gj.index(b"\xff\xc0")
    dht_at = gj.index(b"\xff\xc4")
    add("jpeg-trunc-at-soi.jpg", SOI, 1, "unknown format")
    add("jpeg-trunc-after-soi.jpg", SOI + b"\xff", 1, "JPEG: truncated")
    add("jpeg-trunc-in-sof.jpg", gj[:sof_at + 9], 1, "JPEG: truncated")
    add("jpeg-trunc-after-sof.jpg", gj[:dht_at], 1, "JPEG: truncated")
    add("jpeg-trunc-in-sos-header.jpg", gj[:sos_at + 6], 1, "JPEG: truncated")
    add("jpeg-trunc-in-scan.jpg", gj[:sos_at + 10 + 3], 1, "JPEG: truncated")
    add("jpeg-trunc-before-eoi.jpg", gj[:-2], 1, "JPEG: truncated")
    big = jpeg(16384, 16384, 1, data=b"\x00" * 64)
    add("jpeg-trunc-16384x16384-in-scan.jpg", big[:-2], 1, "JPEG: truncated")
    add("jpeg-bad-marker-0x4c.jpg", SOI + b"\xff\x4c\x00\x04ab" + gj[2:], 1, "JPEG: ")
    add("jpeg-sof-length-short.jpg", gj[:sof_at] + b"\xff\xc0\x00\x05\x08\x00" + gj[dht_at:], 1, "JPEG: ")
    add("jpeg-65535x65535.jpg", jpeg(65535, 65535, 1, data=b"\x00" * 64), 1, "JPEG: ")
    add("jpeg-60000x60000.jpg", jpeg(60000, 60000, 1, data=b"\x00" * 64), 1, "JPEG: |--max-pixels")
    add("jpeg-width-65535.jpg", jpeg(65535, 1, 1, data=b"\x00" * 64), 1, "JPEG: ")
    add("jpeg-width-0.jpg", jpeg(0, 16, 1, data=b"\x00" * 8), 1, "JPEG: ")
    add("jpeg-height-0.jpg", jpeg(16, 0, 1, data=b"\x00" * 8), 1, "JPEG: ")
    # Entropy data: all 1-bits are no code of the DC table (T.81 F.1.2.1: no
    # code is all ones); a marker inside the scan ends it early.
    add("jpeg-entropy-bad-huffman-code.jpg", jpeg(16, 16, 1, data=b"\xff\x00" * 16), 1, "JPEG: |corrupt")
    add("jpeg-entropy-marker-inside.jpg", jpeg(16, 16, 1, data=gj[sos_at + 10:sos_at + 11] + b"\xff\xc4\x00\x02"),
        1, "JPEG: ")
    add("jpeg-entropy-random.jpg", jpeg(64, 64, 3, data=rng.bytes(600).replace(b"\xff", b"\xfe")), 1, "JPEG: ")
    add("jpeg-cmyk-adobe.jpg", jpeg(16, 16, 4, adobe=0), 1, "JPEG: |CMYK")
    add("jpeg-ycck-adobe.jpg", jpeg(16, 16, 4, adobe=2), 1, "JPEG: |CMYK")
    add("jpeg-cmyk-no-adobe.jpg", jpeg(16, 16, 4), 1, "JPEG: |CMYK")
    add("jpeg-12bit.jpg", jpeg(16, 16, 1, precision=12, sof_marker=0xC1), 1, "JPEG: |precision")
    add("jpeg-2-components.jpg", jpeg(16, 16, 2), 1, "JPEG: |not supported")
    add("jpeg-lossless-sof3.jpg", jpeg(16, 16, 1, sof_marker=0xC3), 1, "JPEG: ")
    add("jpeg-two-sof.jpg", gj[:dht_at] + gj[sof_at:dht_at] + gj[dht_at:], 1, "JPEG: ")
    add("jpeg-sos-before-sof.jpg", gj[:sof_at] + gj[dht_at:], 1, "JPEG: ")
    add("jpeg-dht-bogus-counts.jpg", gj[:dht_at] + dht(0, 0, [255] * 16, [0] * 200) + gj[dht_at:], 1, "JPEG: ")
    # libjpeg-turbo supplies the standard tables 0 and 1 for Motion-JPEG; 3 has none.
    add("jpeg-huffman-table-3-undefined.jpg",
        gj[:sos_at] + sos([(1, 3, 0)]) + gj[sos_at + 10:], 1, "JPEG: |table")
    add("jpeg-dqt-missing.jpg", gj.replace(dqt(), b""), 1, "JPEG: |table")
    add("jpeg-dqt-index-5.jpg", gj.replace(dqt(), dqt(5)), 1, "JPEG: ")
    add("jpeg-sampling-factor-5.jpg", jpeg(16, 16, 3, samp=[(5, 1), (1, 1), (1, 1)], data=b"\x00" * 32),
        1, "JPEG: ")
    add("jpeg-sos-unknown-component.jpg",
        gj[:sos_at] + sos([(9, 0, 0)]) + gj[sos_at + 10:], 1, "JPEG: |component")
    # Decoder-memory and scan-count limits (issue 7): a progressive frame
    # buffers every coefficient (16384^2 x 3 x 2 bytes = 1.5 GiB), and a file
    # may hold any number of scans.
    add("jpeg-progressive-16384x16384-rgb.jpg", jpeg_progressive(16384, 16384, 3, data=b"\x00" * 64)[:-2],
        1, "JPEG: |decoder memory")
    add("jpeg-progressive-2000-scans.jpg", jpeg_progressive(8, 8, 1, scans=2000), 1,
        "JPEG: |progressive scans")
    add("jpeg-garbage-after-soi.jpg", SOI + b"\xff" + rng.bytes(2000), 1, "JPEG: ")

    # -- netpbm: every type truncated in the header and in the pixel data
    bodies = {
        b"P1": (None, b"0 1 0 1\n1 0 1 0\n0 1 0 1\n1 0 1 0\n"),
        b"P2": (255, b"0 10 20 30\n40 50 60 70\n80 90 100 110\n120 130 140 150\n"),
        b"P3": (255, b" ".join(b"%d" % (i * 5) for i in range(48)) + b"\n"),
        b"P4": (None, bytes([0x50, 0xA0, 0x50, 0xA0])),
        b"P5": (255, bytes(range(0, 160, 10))),
        b"P6": (255, bytes(range(0, 240, 5))),
    }
    for magic, (maxval, body) in bodies.items():
        full = pnm(magic, 4, 4, maxval, body)
        t = magic.decode().lower()
        ext = {"p1": "pbm", "p4": "pbm", "p2": "pgm", "p5": "pgm"}.get(t, "ppm")
        # "P1\n4 " ends before the height.
        add("pnm-%s-trunc-in-header.%s" % (t, ext), full[:5], 1, "PNM: truncated header")
        add("pnm-%s-trunc-in-data.%s" % (t, ext), full[:len(full) - len(body) // 2], 1, "PNM: truncated")
    p7 = pam(4, 4, 1, 255, b"GRAYSCALE", bytes(range(16)))
    add("pnm-p7-trunc-in-header.pam", p7[:p7.index(b"MAXVAL")], 1, "PNM: truncated header")
    # Cut inside a keyword: the header ended, whatever the last word would have been.
    add("pnm-p7-trunc-in-keyword.pam", p7[:p7.index(b"MAXVAL") + 2], 1, "PNM: truncated header")
    add("pnm-p7-trunc-in-value.pam", p7[:p7.index(b"MAXVAL") + 8], 1, "PNM: truncated header")
    add("pnm-p5-trunc-in-maxval.pgm", b"P5\n4 4\n25", 1, "PNM: truncated")
    add("pnm-p7-trunc-in-data.pam", p7[:-5], 1, "PNM: truncated")
    add("pnm-p7-no-endhdr.pam", p7.replace(b"ENDHDR\n", b""), 1, "PNM: ")

    # -- netpbm: lying headers, maxval, samples, dimensions
    add("pnm-p5-less-data-than-claimed.pgm", pnm(b"P5", 64, 64, 255, bytes(100)), 1, "PNM: truncated")
    add("pnm-p6-16bit-less-data.ppm", pnm(b"P6", 8, 8, 65535, bytes(8 * 8 * 6 - 1)), 1, "PNM: truncated")
    add("pnm-p5-more-data-than-claimed.pgm", pnm(b"P5", 2, 2, 255, bytes(range(200))), 0, "-")
    add("pnm-p2-more-samples-than-claimed.pgm", pnm(b"P2", 2, 2, 255, b"1 2 3 4 5 6 7 8\n"), 0, "-")
    add("pnm-p5-maxval-0.pgm", pnm(b"P5", 4, 4, 0, bytes(16)), 1, "PNM: |maxval")
    add("pnm-p5-maxval-65536.pgm", pnm(b"P5", 4, 4, 65536, bytes(32)), 1, "PNM: |maxval")
    add("pnm-p2-maxval-99999999999.pgm", pnm(b"P2", 2, 1, 99999999999, b"1 2\n"), 1, "PNM: |maxval")
    add("pnm-p7-maxval-0.pam", pam(2, 2, 1, 0, b"GRAYSCALE", bytes(4)), 1, "PNM: |maxval")
    add("pnm-p2-sample-over-maxval.pgm", pnm(b"P2", 2, 1, 100, b"50 101\n"), 1, "PNM: |exceeds maxval")
    add("pnm-p3-sample-huge.ppm", pnm(b"P3", 1, 1, 255, b"1 2 99999999999999999999\n"), 1,
        "PNM: |exceeds maxval")
    add("pnm-p5-sample-over-maxval.pgm", pnm(b"P5", 2, 2, 100, bytes([1, 2, 200, 3])), 1,
        "PNM: |exceeds maxval")
    add("pnm-p6-16bit-sample-over-maxval.ppm", pnm(b"P6", 1, 1, 1000, b"\x00\x01\x03\xe9\x00\x00"), 1,
        "PNM: |exceeds maxval")
    add("pnm-p7-sample-over-maxval.pam", pam(2, 1, 1, 15, b"GRAYSCALE", bytes([3, 16])), 1,
        "PNM: |exceeds maxval")
    add("pnm-p5-width-negative.pgm", b"P5\n-4 4\n255\n" + bytes(16), 1, "PNM: |width")
    add("pnm-p5-width-2pow32.pgm", b"P5\n4294967296 1\n255\n" + bytes(16), 1, "PNM: |width")
    add("pnm-p5-width-2pow31.pgm", b"P5\n2147483648 1\n255\n" + bytes(16), 1, "PNM: |width")
    add("pnm-p5-width-0.pgm", b"P5\n0 4\n255\n", 1, "PNM: |width")
    add("pnm-p5-1000000x1000000.pgm", b"P5\n1000000 1000000\n255\n" + bytes(64), 1, "PNM: |--max-pixels")
    add("pnm-p6-2000000x1.ppm", b"P6\n2000000 1\n255\n" + bytes(64), 1, "PNM: |--max-side")
    add("pnm-p6-16384x16384-no-data.ppm", b"P6\n16384 16384\n255\n" + bytes(64), 1,
        "PNM: |!out of memory")
    add("pnm-p4-16384x16384-no-data.pbm", b"P4\n16384 16384\n" + bytes(64), 1, "PNM: truncated")
    add("pnm-p1-bad-bit.pbm", b"P1\n2 1\n0 2\n", 1, "PNM: ")
    add("pnm-p2-garbage-sample.pgm", b"P2\n2 1\n255\n12 x4\n", 1, "PNM: ")
    add("pnm-p5-magic-digit.pgm", b"P55\n4 4\n255\n" + bytes(16), 1, "PNM: ")
    add("pnm-p5-nul-in-header.pgm", b"P5\n4\x00 4\n255\n" + bytes(16), 1, "PNM: ")
    add("pnm-p5-token-too-long.pgm", b"P5\n" + b"0" * 40 + b"4 4\n255\n" + bytes(16), 1, "PNM: ")
    add("pnm-p8.pnm", b"P8\n4 4\n255\n" + bytes(16), 1, "unknown format")
    # Comment floods: the header cap is 65536 bytes, so this file is just over it.
    add("pnm-p5-comment-flood-header.pgm",
        b"P5\n" + (b"#" + b"c" * 62 + b"\n") * 1026 + b"4 4\n255\n" + bytes(16), 1,
        "PNM: |header is longer than")
    add("pnm-p2-comment-flood-small.pgm",
        b"P2\n" + (b"# flood\n") * 2000 + b"2 1\n255\n1 2\n", 0, "-")
    # PAM headers (netpbm's PAM spec)
    add("pnm-p7-depth-0.pam", pam(2, 2, 0, 255, None, bytes(4)), 1, "PNM: |depth")
    add("pnm-p7-depth-5.pam", pam(2, 2, 5, 255, None, bytes(20)), 1, "PNM: |depth")
    add("pnm-p7-depth-huge.pam", pam(2, 2, 4000000000, 255, None, bytes(20)), 1, "PNM: |depth")
    add("pnm-p7-depth-mismatch.pam", pam(2, 2, 1, 255, b"RGB", bytes(12)), 1, "PNM: |depth")
    add("pnm-p7-tupltype-cmyk.pam", pam(2, 2, 4, 255, b"CMYK", bytes(16)), 1, "PNM: |CMYK")
    add("pnm-p7-blackandwhite-maxval-255.pam", pam(2, 2, 1, 255, b"BLACKANDWHITE", bytes(4)), 1,
        "PNM: |maxval")
    add("pnm-p7-no-width.pam", b"P7\nHEIGHT 2\nDEPTH 1\nMAXVAL 255\nENDHDR\n" + bytes(4), 1,
        "PNM: |WIDTH")
    add("pnm-p7-unknown-keyword.pam", b"P7\nWIDTH 2\nHEIGHT 2\nDEPTH 1\nMAXVAL 255\nCOLOR red\nENDHDR\n" +
        bytes(4), 1, "PNM: |COLOR")

    # -- PFM
    add("pfm-scale-0.pfm", pfm(2, 2, scale=b"0.0"), 1, "PFM: |scale")
    add("pfm-scale-minus-0.pfm", pfm(2, 2, scale=b"-0.0"), 1, "PFM: |scale")
    add("pfm-scale-nan.pfm", pfm(2, 2, scale=b"nan"), 1, "PFM: |scale")
    add("pfm-scale-inf.pfm", pfm(2, 2, scale=b"-inf"), 1, "PFM: |scale")
    add("pfm-scale-garbage.pfm", pfm(2, 2, scale=b"-1.0x"), 1, "PFM: |scale")
    add("pfm-sample-nan.pfm", pfm(2, 2, values=[1.0, float("nan"), 2.0, 3.0]), 1, "PFM: |non-finite")
    add("pfm-sample-inf.pfm", pfm(2, 2, 3, values=[1.0] * 11 + [float("-inf")]), 1, "PFM: |non-finite")
    add("pfm-trunc-in-header.pfm", b"Pf\n2 2\n", 1, "PFM: truncated header")
    add("pfm-trunc-after-scale.pfm", b"Pf\n2 2\n-1.0", 1, "PFM: truncated header")
    add("pfm-trunc-in-data.pfm", pfm(4, 4)[:-7], 1, "PFM: truncated")
    add("pfm-100000x100000.pfm", b"Pf\n100000 100000\n-1.0\n" + bytes(64), 1, "PFM: |--max-pixels")
    add("pfm-width-2pow32.pfm", b"PF\n4294967296 1\n-1.0\n" + bytes(64), 1, "PFM: |width")
    add("pfm-width-0.pfm", b"Pf\n0 2\n-1.0\n", 1, "PFM: |width")
    add("pfm-header-spaces.pfm", b"Pf" + b" " * 2000 + b"2 2\n-1.0\n" + bytes(16), 1, "PFM: ")
    add("pfm-bad-magic-PF4.pfm", b"PF4\n2 2\n-1.0\n" + bytes(48), 1, "PFM: ")

    # -- text matrices
    add("text-nan.txt", b"1 2\nnan 4\n", 1, "text: |line 2|nan")
    add("text-inf.txt", b"1 inf\n2 3\n", 1, "text: |inf")
    add("text-minus-infinity.txt", b"1 2\n3 -Infinity\n", 1, "text: |Infinity")
    add("text-1e999.txt", b"1 2 3\n4 1e999 6\n", 1, "text: |1e999")
    add("text-ragged-rows.txt", b"1 2 3\n4 5\n6 7 8\n", 1, "text: |line 2")
    add("text-empty-field.txt", b"1,,2\n", 1, "text: |empty field")
    add("text-blank-only.txt", b"\n \n\t\n", 1, "text: ")
    add("text-only-comments.txt", b"# just a comment\n# and another\n", 1, "text: ")
    add("text-5-blocks.txt", b"1 2\n\n3 4\n\n5 6\n\n7 8\n\n9 10\n", 1, "text: |block 5")
    add("text-blocks-differ.txt", b"1 2\n3 4\n\n5 6\n", 1, "text: |block 2")
    add("text-binary-garbage.txt", b"1 2 3\n" + rng.bytes(200).replace(b"\n", b"\x01"), 1, "text: ")
    add("text-number-300-digits.txt", b"1 " + b"7" * 300 + b"\n", 1, "text: ")
    add("text-100000-values-one-line.txt", b" ".join([b"1"] * 100000) + b"\n", 0, "-")

    # -- kernel files (imfilter -k FILE): a bad kernel is a usage error
    def kern(name, text, keywords, status=2):
        add(name, text, status, keywords, mode="kernel")

    kern("kernel-nan.txt", b"1 2 1\n0 nan 0\n-1 -2 -1\n", "kernel: |nan")
    kern("kernel-inf.txt", b"1 2 1\n0 inf 0\n-1 -2 -1\n", "kernel: |inf")
    kern("kernel-minus-infinity.txt", b"-Infinity 1\n1 1\n", "kernel: |Infinity")
    kern("kernel-1e999.txt", b"1 1e999\n1 1\n", "kernel: |1e999")
    kern("kernel-scale-nan.txt", b"scale nan\n1 2\n3 4\n", "kernel: |nan")
    kern("kernel-scale-1e400.txt", b"scale 1e400\n1 2\n3 4\n", "kernel: |1e400")
    kern("kernel-ragged.txt", b"1 2 3\n4 5\n6 7 8\n", "kernel: |row 2")
    kern("kernel-empty.txt", b"", "kernel: |no values")
    kern("kernel-only-comments.txt", b"# nothing\n\n# here\n", "kernel: |no values")
    kern("kernel-300x3.txt", (b" ".join([b"1"] * 300) + b"\n") * 3, "kernel: |300x3|255")
    kern("kernel-3x300.txt", b"1 2 3\n" * 300, "kernel: |3x300|255")
    kern("kernel-divide-by-zero.txt", b"1/0 1\n1 1\n", "kernel: |division by zero")
    kern("kernel-scale-divide-by-zero.txt", b"scale 1/0\n1 1\n", "kernel: |division by zero")
    kern("kernel-garbage-binary.txt", rng.bytes(300), "kernel: ")
    kern("kernel-garbage-words.txt", b"edge detect please\n", "kernel: |edge")
    kern("kernel-hex.txt", b"0x10 1\n1 1\n", "kernel: |0x10")
    kern("kernel-slices-differ.txt", b"1 2\n3 4\n\n1 2 3\n", "kernel: |slice 2")
    kern("kernel-4097-slices.txt", b"1\n\n" * 4097, "kernel: |4096 slices")
    kern("kernel-magnitude-unknown-part.txt", b"magnitude sobel-x no-such-kernel\n", "kernel: |no-such-kernel")
    kern("kernel-magnitude-self.txt", b"magnitude sobel sobel-x\n", "kernel: |sobel")
    kern("kernel-long-number.txt", b"1 " + b"9" * 5000 + b"\n", "kernel: ")
    # A hostile kernel file must not write terminal control sequences to
    # stderr: the message quotes the bad word with its bytes escaped.
    kern("kernel-escape-sequence.txt", b"1 2 3\n4 \x1b[2J\x1b[31m 6\n", "kernel: ")

    # -- anything
    add("empty", b"", 1, "input is empty")
    add("random-bytes.bin", b"\xa7" + rng.bytes(4095), 1, "unknown format")
    add("gif-header.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", 1, "unknown format")
    kern("kernel-random-bytes.bin", b"\xa7" + rng.bytes(1023), "kernel: ")
    return C


# ---- valid files (fuzz seeds) --------------------------------------------------------------


def valid_files():
    """[(name, bytes)]: small valid inputs of every variant the readers take."""
    V = []
    for depth in (1, 2, 4, 8, 16):
        V.append(("gray%d.png" % depth, png(9, 7, depth, 0)))
    for depth in (1, 2, 4, 8):
        n = 1 << depth
        V.append(("palette%d.png" % depth, png(9, 7, depth, 3, pixel=lambda x, y, c, n=n: (x + y) % n,
                                               before_idat=plte(n) + chunk(b"tRNS", bytes([0, 128])))))
    for ctype in (2, 4, 6):
        for depth in (8, 16):
            V.append(("ct%d-%d.png" % (ctype, depth), png(9, 7, depth, ctype)))
    V.append(("gray-trns.png", png(9, 7, 8, 0, before_idat=chunk(b"tRNS", b"\x00\x07"))))
    V.append(("rgb-trns.png", png(9, 7, 8, 2, before_idat=chunk(b"tRNS", b"\x00\x07\x00\x39\x00\x64"))))
    V.append(("adam7-rgba.png", png(13, 11, 8, 6, interlace=1)))
    V.append(("adam7-gray2.png", png(13, 11, 2, 0, interlace=1)))
    V.append(("text-chunks.png", png(9, 7, before_idat=chunk(b"tEXt", b"Title\0seed") +
                                     chunk(b"gAMA", struct.pack(">I", 45455)))))
    V.append(("gray.jpg", jpeg(16, 16, 1)))
    V.append(("ycc444.jpg", jpeg(24, 16, 3)))
    V.append(("ycc420.jpg", jpeg(32, 32, 3, samp=[(2, 2), (1, 1), (1, 1)])))
    V.append(("restart.jpg", jpeg(32, 16, 1, restart=1)))
    V.append(("progressive.jpg", jpeg_progressive(16, 16, 1, scans=2)))
    V.append(("adobe-rgb.jpg", jpeg(16, 16, 3, adobe=0)))
    V.append(("p1.pbm", pnm(b"P1", 5, 3, None, b"0 1 0 1 1\n1 0 1 0 0\n0 0 1 1 0\n")))
    V.append(("p2.pgm", pnm(b"P2", 3, 2, 1000, b"0 500 1000\n# c\n250 750 999\n")))
    V.append(("p3.ppm", pnm(b"P3", 2, 2, 15, b"0 1 2 3 4 5\n6 7 8 9 10 15\n")))
    V.append(("p4.pbm", pnm(b"P4", 11, 3, None, bytes([0xA5, 0x40, 0x5A, 0x20, 0xFF, 0xE0]))))
    V.append(("p5.pgm", pnm(b"P5", 5, 3, 255, bytes(range(0, 150, 10)))))
    V.append(("p5-16.pgm", pnm(b"P5", 3, 2, 65535, bytes(range(12)))))
    V.append(("p6.ppm", pnm(b"P6", 3, 2, 255, bytes(range(0, 180, 10)))))
    V.append(("p6-16.ppm", pnm(b"P6", 2, 2, 4095, bytes(24))))
    V.append(("p7-ga.pam", pam(3, 2, 2, 255, b"GRAYSCALE_ALPHA", bytes(range(12)))))
    V.append(("p7-rgba.pam", pam(2, 2, 4, 65535, b"RGB_ALPHA", bytes(32))))
    V.append(("p7-bw.pam", pam(3, 1, 1, 1, b"BLACKANDWHITE", bytes([0, 1, 0]))))
    V.append(("p7-notype.pam", pam(2, 1, 3, 255, None, bytes(6))))
    V.append(("le.pfm", pfm(3, 2)))
    V.append(("be-rgb.pfm", pfm(2, 2, 3, scale=b"1.0", le=False)))
    V.append(("gray.txt", b"1 2 3\n4 5 6\n"))
    V.append(("blocks.txt", b"# two planes\n1, 2\n3, 4,\n\n\n5 6\r\n7 8\r\n"))
    V.append(("rgba.txt", b"1 2\n\n3 4\n\n5 6\n\n7 8\n"))
    V.append(("floats.txt", b"-1.5e3 0.25 +7\n.5 1e-40 -0\n"))
    V.append(("k-scale.kernel", b"# blur\nscale 1/16\n1 2 1\n2 4 2\n1 2 1\n"))
    V.append(("k-slices.kernel", b"# two slices\n1 0 -1\n2 0 -2\n\n0 1 0\n1 -4 1\n"))
    V.append(("k-fractions.kernel", b"1/3, -2/3, 0.5;\n1e-3 2.5e2 -7\n"))
    V.append(("k-magnitude.kernel", b"# mag\nmagnitude prewitt-x prewitt-y\n"))
    return V


# ---- main ------------------------------------------------------------------------------------


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--valid":
        os.makedirs(sys.argv[2], exist_ok=True)
        for name, data in valid_files():
            with open(os.path.join(sys.argv[2], name), "wb") as f:
                f.write(data)
        return 0
    if len(sys.argv) != 1:
        sys.stderr.write("usage: make-corpus.py [--valid DIR]\n")
        return 2
    entries = corpus()
    names = [e[0] for e in entries]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        sys.stderr.write("make-corpus.py: duplicate names: %s\n" % ", ".join(sorted(dup)))
        return 1
    keep = {"make-corpus.py", "MANIFEST"}
    for old in os.listdir(HERE):
        if old not in keep and old not in names:
            os.remove(os.path.join(HERE, old))
    lines = [
        "# tests/corpus/MANIFEST - written by make-corpus.py; edit that, not this.",
        "# FILE<TAB>MODE<TAB>STATUS<TAB>KEYWORDS",
        "#   MODE input: imfilter -k sobel FILE OUT.png; kernel: imfilter -k FILE samples/shapes.png OUT.png",
        "#   STATUS: expected exit status; KEYWORDS: '|'-separated substrings of the one stderr line",
        "#   ('!TEXT': must not appear), '-' for none",
    ]
    for name, data, mode, status, keywords in entries:
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)
        lines.append("%s\t%s\t%d\t%s" % (name, mode, status, keywords))
    with open(os.path.join(HERE, "MANIFEST"), "w") as f:
        f.write("\n".join(lines) + "\n")
    total = sum(len(e[1]) for e in entries)
    print("make-corpus.py: %d files, %d bytes" % (len(entries), total))
    return 0


if __name__ == "__main__":
    sys.exit(main())
