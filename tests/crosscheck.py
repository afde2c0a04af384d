#!/usr/bin/env python3
"""Cross-check imfilter against NumPy/SciPy (make crosscheck).

Not part of `make check`: the project does not depend on NumPy.  This script
runs build/imfilter on random matrices with random kernels, every border
mode, padding and stride, and compares its text output with

  * an np.pad + sliding-window correlation (NumPy's own border modes), and
  * scipy.ndimage.correlate / scipy.signal.correlate2d where they apply,

to 1e-3.  It also checks the 8-bit mapping of a real image against
round-to-nearest of the float result (within 1).  Prints "N passed, N failed".
"""
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    print("crosscheck: NumPy is not installed; skipped")
    sys.exit(0)

IMF = os.environ.get("IMFILTER", "build/imfilter")
NP_MODE = {"zero": "constant", "replicate": "edge", "reflect": "reflect",
           "symmetric": "symmetric", "wrap": "wrap"}
passed = failed = 0


def imfilter(args, stdin=None):
    r = subprocess.run([IMF] + args, input=stdin, capture_output=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.decode())
    return r.stdout


def mat_text(a):
    return "\n".join(" ".join(repr(float(v)) for v in row) for row in a) + "\n"


def parse(out):
    return np.array([[float(v) for v in line.split()] for line in out.decode().splitlines()
                     if line.strip()])


def reference(img, k, top, bottom, left, right, stride, border):
    p = np.pad(img, ((top, bottom), (left, right)), mode=NP_MODE[border])
    fr, fc = k.shape
    oh = (p.shape[0] - fr) // stride + 1
    ow = (p.shape[1] - fc) // stride + 1
    out = np.zeros((oh, ow))
    for y in range(oh):
        for x in range(ow):
            out[y, x] = np.sum(p[y * stride:y * stride + fr, x * stride:x * stride + fc] * k)
    return out


def check(name, got, want, tol=1e-3):
    global passed, failed
    if got.shape == want.shape and np.allclose(got, want, atol=tol, rtol=1e-6):
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name}: shapes {got.shape} vs {want.shape}")


def photo_checks(d):
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
        gx = ndimage.correlate(luma, np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], float),
                               mode="constant")
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


def main():
    rng = np.random.default_rng(20261125)
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "m.txt")
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
            if mode == "same":
                t, l = (fr - 1) // 2, (fc - 1) // 2
                pads = (t, fr - 1 - t, l, fc - 1 - l)
            elif mode == "valid":
                pads = (0, 0, 0, 0)
            elif mode == "full":
                pads = (fr - 1, fr - 1, fc - 1, fc - 1)
            else:
                pads = (pad, pad, pad, pad)
            if h + pads[0] + pads[1] < fr or w + pads[2] + pads[3] < fc:
                continue
            if border == "reflect" and (h == 1 and pads[0] + pads[1] or w == 1 and pads[2] + pads[3]):
                continue
            with open(src, "w") as f:
                f.write(mat_text(img))
            spec = "; ".join(" ".join(repr(float(v)) for v in row) for row in k)
            out = imfilter(["-k", spec, "-p", mode, "-b", border, "-s", str(stride), src, "-"])
            check(f"case {case} {h}x{w} k{fr}x{fc} {mode} {border} s{stride}",
                  parse(out), reference(img, k, *pads, stride, border))

        try:
            from scipy import ndimage
            img = rng.uniform(0, 255, size=(20, 17)).round(2)
            with open(src, "w") as f:
                f.write(mat_text(img))
            for name, k in [("sobel-x", [[1, 0, -1], [2, 0, -2], [1, 0, -1]]),
                            ("laplacian", [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]),
                            ("sharpen", [[0, -1, 0], [-1, 5, -1], [0, -1, 0]])]:
                for border, smode in [("zero", "constant"), ("replicate", "nearest"),
                                      ("reflect", "mirror"), ("symmetric", "reflect"),
                                      ("wrap", "wrap")]:
                    out = imfilter(["-k", name, "-b", border, src, "-"])
                    want = ndimage.correlate(img, np.array(k, float), mode=smode, cval=0.0)
                    check(f"scipy {name} {border}", parse(out), want)
        except ImportError:
            print("crosscheck: SciPy is not installed; its comparisons skipped")

        # 8-bit output: within 1 of round-to-nearest of the float result.
        for kern in ["sobel-x", "sharpen", "gaussian-5", "sobel"]:
            raw = parse(imfilter(["-k", kern, "-f", "txt", "samples/shapes.png", "-"]))
            pgm = imfilter(["-k", kern, "-f", "pnm", "samples/shapes.png", "-"])
            body = np.frombuffer(pgm[-raw.size:], dtype=np.uint8).reshape(raw.shape)
            want = np.clip(np.floor(raw + 0.5), 0, 255)
            check(f"8-bit {kern}", body.astype(float), want, tol=1.0)

        photo_checks(d)

    print(f"crosscheck: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
