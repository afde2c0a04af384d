#!/usr/bin/env python3
"""Cross-check imfilter against NumPy/SciPy (make crosscheck).

Not part of `make check`: the project does not depend on NumPy.  This script
runs build/imfilter on random matrices with random kernels, every border
mode, padding and stride, and compares its text output with

  * an np.pad + sliding-window correlation (NumPy's own border modes), and
  * scipy.ndimage.correlate / scipy.signal.correlate2d where they apply,

to 1e-3.  It also checks the 8-bit mapping of a real image against
round-to-nearest of the float result (within 1), and the CNN stages of
--chain (issue 4) against NumPy written here from the definitions:

  * conv sobel-x | relu | maxpool 2 on a real photograph (ImageMagick's
    wizard: and rose:) against scipy.ndimage.correlate, np.maximum and a
    2x2 max pool;
  * max, min and avg pooling with stride and padding on random matrices,
    padded cells never winning and never counted in an average;
  * a 3-slice kernel file with bias= on the photo's RGB planes against the
    sum over channels of the correlations plus the bias;
  * relu, leaky-relu=0.2, sigmoid, tanh and abs on a random matrix;
  * dilation 2 and 3 (every padding mode, stride, border) against a NumPy
    dilated correlation.

Every stage runs through `-f txt`; several maps come out as blocks separated
by a blank line.  Prints "crosscheck: N passed, N failed" last and exits 1
if anything failed; without NumPy it skips, without SciPy or ImageMagick it
skips the parts that need them.
"""
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    from numpy.lib.stride_tricks import sliding_window_view
except ImportError:
    print("crosscheck: NumPy (1.20 or later) is not installed; skipped")
    sys.exit(0)

IMF = os.environ.get("IMFILTER", "build/imfilter")
NP_MODE = {"zero": "constant", "replicate": "edge", "reflect": "reflect",
           "symmetric": "symmetric", "wrap": "wrap"}
passed = failed = 0


def imfilter(args, stdin=None):
    r = subprocess.run([IMF] + args, input=stdin, capture_output=True)
    if r.returncode != 0:
        raise RuntimeError(f"imfilter {' '.join(args)}: exit {r.returncode}: "
                           f"{r.stderr.decode().strip()}")
    return r.stdout


def mat_text(a):
    return "\n".join(" ".join(repr(float(v)) for v in row) for row in a) + "\n"


def write_matrix(d, a):
    path = os.path.join(d, "m.txt")
    with open(path, "w") as f:
        f.write(mat_text(a))
    return path


def parse(out):
    return np.array([[float(v) for v in line.split()] for line in out.decode().splitlines()
                     if line.strip()])


def blocks(out):
    """The maps of a -f txt output: blocks of rows separated by a blank line."""
    return [parse(b.encode()) for b in out.decode().strip().split("\n\n")]


def fail(name, why):
    global failed
    failed += 1
    print(f"FAIL {name}: {why}")


def check(name, got, want, tol=1e-3):
    global passed
    if got.shape != want.shape:
        fail(name, f"shapes {got.shape} vs {want.shape}")
    elif not np.allclose(got, want, atol=tol, rtol=1e-6):
        err = np.abs(got - want)
        at = np.unravel_index(np.argmax(err), err.shape)
        fail(name, f"max error {err[at]:.6g} at {at}: {got[at]!r} vs {want[at]!r}")
    else:
        passed += 1


def correlate_np(img, k, pads, stride=1, dilation=1, border="zero"):
    """out(y, x) = sum_ij k(i, j) p(y S + i D, x S + j D), p the padded image."""
    top, bottom, left, right = pads
    p = np.pad(img, ((top, bottom), (left, right)), mode=NP_MODE[border])
    fr, fc = k.shape
    win = sliding_window_view(p, (dilation * (fr - 1) + 1, dilation * (fc - 1) + 1))
    return np.einsum("yxij,ij->yx", win[::stride, ::stride, ::dilation, ::dilation], k)


def pool_np(img, kind, k, stride, pad):
    """Pooling over the real cells only: padding is NaN, which nanmax & co. skip."""
    p = np.pad(img, pad, mode="constant", constant_values=np.nan)
    win = sliding_window_view(p, (k, k))[::stride, ::stride]
    return {"max": np.nanmax, "min": np.nanmin, "avg": np.nanmean}[kind](win, axis=(2, 3))


def pad_amounts(mode, er, ec):
    """Before/after padding per axis for a kernel extent er x ec, as imfilter pads."""
    if mode == "same":
        t, l = (er - 1) // 2, (ec - 1) // 2
        return (t, er - 1 - t, l, ec - 1 - l)
    if mode == "valid":
        return (0, 0, 0, 0)
    if mode == "full":
        return (er - 1, er - 1, ec - 1, ec - 1)
    return (int(mode),) * 4


SOBEL_X = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], float)


def photo_checks(rng, d):
    """A real photograph (ImageMagick's built-in wizard: and rose:), when
    ImageMagick is installed: decoded luma and Sobel against NumPy/SciPy."""
    import shutil
    if not shutil.which("convert"):
        print("crosscheck: ImageMagick is not installed; photo checks skipped")
        return
    try:
        from scipy import ndimage
    except ImportError:
        return
    for name in ["wizard:", "rose:"]:
        png = os.path.join(d, "photo.png")
        jpg = os.path.join(d, "photo.jpg")
        subprocess.run(["convert", name, "-depth", "8", "-strip", png], check=True)
        subprocess.run(["convert", name, "-quality", "92", jpg], check=True)
        rgb = subprocess.run(["convert", png, "-depth", "8", "rgb:-"], check=True,
                             capture_output=True).stdout
        w, h = map(int, subprocess.run(["identify", "-format", "%w %h", png], check=True,
                                       capture_output=True).stdout.split())
        a = np.frombuffer(rgb, np.uint8).reshape(h, w, 3).astype(float)
        luma = 0.299 * a[..., 0] + 0.587 * a[..., 1] + 0.114 * a[..., 2]
        got = parse(imfilter(["-k", "identity", "-f", "txt", png, "-"]))
        check(f"{name} PNG luma", got, luma)
        gx = ndimage.correlate(luma, SOBEL_X, mode="constant")
        gy = ndimage.correlate(luma, np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], float),
                               mode="constant")
        got = parse(imfilter(["-k", "sobel", "-f", "txt", png, "-"]))
        check(f"{name} PNG sobel", got, np.hypot(gx, gy))
        # JPEG: imfilter decodes straight to libjpeg's luma; djpeg -grayscale is the reference.
        if shutil.which("djpeg"):
            pgm = subprocess.run(["djpeg", "-grayscale", "-pnm", jpg], check=True,
                                 capture_output=True).stdout
            y = np.frombuffer(pgm[-w * h:], np.uint8).reshape(h, w).astype(float)
            got = parse(imfilter(["-k", "identity", "-f", "txt", jpg, "-"]))
            check(f"{name} JPEG luma", got, y)
        # --channels rgb filters every channel on its own.
        got = imfilter(["-k", "sharpen", "--channels", "rgb", "-f", "txt", png, "-"]).decode()
        blocks = [parse(b.encode()) for b in got.strip().split("\n\n")]
        k = np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], float)
        for c in range(3):
            check(f"{name} rgb sharpen channel {c}", blocks[c],
                  ndimage.correlate(a[..., c], k, mode="constant"))
        chain_photo_checks(name, d, png, a, luma, ndimage)


def chain_photo_checks(name, d, png, rgb, luma, ndimage):
    """Issue 4 on a real photo: the classic chain, and a 3-D kernel over RGB."""
    got = parse(imfilter(["-e", "conv sobel-x | relu | maxpool 2", "-f", "txt", png, "-"]))
    r = np.maximum(ndimage.correlate(luma, SOBEL_X, mode="constant"), 0)
    h, w = r.shape[0] // 2 * 2, r.shape[1] // 2 * 2   # floor((M - 2) / 2) + 1 windows
    want = r[:h, :w].reshape(h // 2, 2, w // 2, 2).max(axis=(1, 3))
    check(f"{name} chain 'conv sobel-x | relu | maxpool 2'", got, want)

    # One output plane: out = sum_c corr(in_c, slice_c) + bias, zero padding.  Its own
    # generator, so that the sections after it draw the same with or without ImageMagick.
    rng = np.random.default_rng(4)
    for fr, fc, bias in [(3, 3, 7.25), (5, 3, -12.5)]:
        k = rng.uniform(-2, 2, size=(3, fr, fc)).round(3)
        kfile = os.path.join(d, "k3.txt")
        with open(kfile, "w") as f:
            f.write("\n".join(mat_text(k[c]) for c in range(3)))
        got = blocks(imfilter(["--channels", "rgb", "-e", f"conv {kfile} bias={bias}",
                               "-f", "txt", png, "-"]))
        want = sum(ndimage.correlate(rgb[..., c], k[c], mode="constant") for c in range(3))
        check(f"{name} 3-slice {fr}x{fc} kernel bias={bias} (one map)", got[0], want + bias)
        if len(got) != 1:
            fail(f"{name} 3-slice kernel", f"{len(got)} maps, expected 1")


def pool_checks(rng, d):
    """maxpool/minpool/avgpool K stride=S pad=P on random matrices.  The values
    are all negative, all positive or mixed, so that a zero-padded max (or min)
    would show: padded cells must never win, nor count in an average."""
    n = 0
    while n < 90:
        h, w = (int(v) for v in rng.integers(1, 13, size=2))
        k = int(rng.integers(1, 6))
        stride = int(rng.integers(1, 4))
        pad = int(rng.integers(0, k))
        if k > h + 2 * pad or k > w + 2 * pad:
            continue
        kind = ["max", "min", "avg"][n % 3]
        lo, hi = [(-100, -1), (1, 100), (-100, 100)][(n // 3) % 3]
        img = rng.uniform(lo, hi, size=(h, w)).round(3)
        src = write_matrix(d, img)
        stage = f"{kind}pool {k} stride={stride} pad={pad}"
        got = parse(imfilter(["-e", stage, "-f", "txt", src, "-"]))
        check(f"pool {n}: '{stage}' on {w}x{h} in [{lo}, {hi}]", got,
              pool_np(img, kind, k, stride, pad))
        n += 1
    # The default stride is the window.
    img = rng.uniform(-50, -1, size=(7, 9)).round(3)
    got = parse(imfilter(["-e", "maxpool 3", "-f", "txt", write_matrix(d, img), "-"]))
    check("pool: 'maxpool 3' strides by 3", got, pool_np(img, "max", 3, 3, 0))


def activation_checks(rng, d):
    img = rng.uniform(-8, 8, size=(9, 11)).round(4)
    img[0, :4] = [0, -0.0, 1e-4, -1e-4]
    src = write_matrix(d, img)
    for stage, want in [("relu", np.maximum(img, 0)),
                        ("leaky-relu=0.2", np.where(img >= 0, img, 0.2 * img)),
                        ("sigmoid", 1 / (1 + np.exp(-img))),
                        ("tanh", np.tanh(img)),
                        ("abs", np.abs(img))]:
        check(f"activation {stage}", parse(imfilter(["-e", stage, "-f", "txt", src, "-"])), want)
    # leaky-relu without a value: slope 0.01
    check("activation leaky-relu (0.01)",
          parse(imfilter(["-e", "leaky-relu", "-f", "txt", src, "-"])),
          np.where(img >= 0, img, 0.01 * img))


def dilation_checks(rng, d):
    """conv ... dilation=D: taps D apart, extent E = D(F-1)+1, every size and
    padding rule with E for F: out = floor((M + before + after - E) / S) + 1."""
    n = 0
    while n < 80:
        dil = 2 + n % 2
        h, w = (int(v) for v in rng.integers(1, 15, size=2))
        fr, fc = (int(v) for v in rng.integers(1, 5, size=2))
        er, ec = dil * (fr - 1) + 1, dil * (fc - 1) + 1
        stride = int(rng.integers(1, 3))
        mode = ["same", "valid", "full", str(int(rng.integers(0, 5)))][(n // 2) % 4]
        border = list(NP_MODE)[(n // 8) % 5]
        pads = pad_amounts(mode, er, ec)
        if h + pads[0] + pads[1] < er or w + pads[2] + pads[3] < ec:
            continue
        if border == "reflect" and (h == 1 and pads[0] + pads[1] or w == 1 and pads[2] + pads[3]):
            continue  # np.pad cannot reflect a length-1 axis
        img = rng.uniform(-50, 300, size=(h, w)).round(3)
        k = rng.uniform(-3, 3, size=(fr, fc)).round(4)
        spec = "[" + "; ".join(" ".join(repr(float(v)) for v in row) for row in k) + "]"
        stage = f"conv {spec} dilation={dil} pad={mode} stride={stride} border={border}"
        got = parse(imfilter(["-e", stage, "-f", "txt", write_matrix(d, img), "-"]))
        check(f"dilation {n}: {w}x{h} k{fc}x{fr} dilation={dil} pad={mode} stride={stride} "
              f"border={border}", got, correlate_np(img, k, pads, stride, dil, border))
        n += 1


def random_cases(rng, d):
    """Random images and kernels, every border, padding mode and stride, via -k."""
    for case in range(300):
        h, w = rng.integers(1, 12, size=2)
        fr, fc = rng.integers(1, 6, size=2)
        img = rng.uniform(-50, 300, size=(h, w)).round(3)
        k = rng.uniform(-3, 3, size=(fr, fc)).round(4)
        border = list(NP_MODE)[case % 5]
        stride = int(rng.integers(1, 4))
        pad = int(rng.integers(0, 4))
        if border == "reflect" and (pad >= h or pad >= w) and min(h, w) == 1:
            pad = 0  # np.pad cannot reflect a length-1 axis
        mode = ["same", "valid", "full", str(pad)][case % 4]
        pads = pad_amounts(mode, fr, fc)
        if h + pads[0] + pads[1] < fr or w + pads[2] + pads[3] < fc:
            continue
        if border == "reflect" and (h == 1 and pads[0] + pads[1] or w == 1 and pads[2] + pads[3]):
            continue
        spec = "; ".join(" ".join(repr(float(v)) for v in row) for row in k)
        out = imfilter(["-k", spec, "-p", mode, "-b", border, "-s", str(stride),
                        write_matrix(d, img), "-"])
        check(f"case {case} {h}x{w} k{fr}x{fc} {mode} {border} s{stride}",
              parse(out), correlate_np(img, k, pads, stride, 1, border))


def scipy_cases(rng, d):
    """Built-in kernels against scipy.ndimage.correlate under SciPy's border names."""
    try:
        from scipy import ndimage
    except ImportError:
        print("crosscheck: SciPy is not installed; its comparisons skipped")
        return
    img = rng.uniform(0, 255, size=(20, 17)).round(2)
    src = write_matrix(d, img)
    for name, k in [("sobel-x", SOBEL_X),
                    ("laplacian", [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]),
                    ("sharpen", [[0, -1, 0], [-1, 5, -1], [0, -1, 0]])]:
        for border, smode in [("zero", "constant"), ("replicate", "nearest"),
                              ("reflect", "mirror"), ("symmetric", "reflect"),
                              ("wrap", "wrap")]:
            out = imfilter(["-k", name, "-b", border, src, "-"])
            want = ndimage.correlate(img, np.array(k, float), mode=smode, cval=0.0)
            check(f"scipy {name} {border}", parse(out), want)


def eight_bit_cases(rng, d):
    """8-bit output: within 1 of round-to-nearest of the float result."""
    for kern in ["sobel-x", "sharpen", "gaussian-5", "sobel"]:
        raw = parse(imfilter(["-k", kern, "-f", "txt", "samples/shapes.png", "-"]))
        pgm = imfilter(["-k", kern, "-f", "pnm", "samples/shapes.png", "-"])
        body = np.frombuffer(pgm[-raw.size:], dtype=np.uint8).reshape(raw.shape)
        want = np.clip(np.floor(raw + 0.5), 0, 255)
        check(f"8-bit {kern}", body.astype(float), want, tol=1.0)


def main():
    rng = np.random.default_rng(20261125)
    with tempfile.TemporaryDirectory() as d:
        for section in [random_cases, scipy_cases, eight_bit_cases, photo_checks, pool_checks,
                        activation_checks, dilation_checks]:
            try:
                section(rng, d)
            except Exception as e:  # a crash or a refused run is a failure, not an abort
                fail(section.__name__, f"{type(e).__name__}: {str(e).strip()}")

    print(f"crosscheck: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
