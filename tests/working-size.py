#!/usr/bin/env python3
"""The command line's working size (--max-size) against its definition (standard library only).

  working-size.py images SMALL.png LARGE.png
      SMALL: a W x H RGB image of random values; LARGE: the same at 2W x 2H, each pixel repeated
      in a 2 x 2 block. Bilinear resampling with half-pixel centres from 2W x 2H to W x H averages
      each block, so LARGE at the working size W x H is SMALL exactly, with no rounding to 8 bits:
      explaining LARGE at --max-size max(W, H) must give SMALL's map, upscaled.
  working-size.py compare GOT.npy SMALL.npy [TOL]
      GOT (planes x 2H x 2W, or 2H x 2W) against SMALL (planes x H x W) resampled up by this
      file's own bilinear rule, PyTorch's F.interpolate (align_corners=False): exit 1 with the
      largest difference when it exceeds TOL (default 1e-5).
"""
import random
import struct
import sys
import zlib


def write_png(path, width, height, rows):
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    raw = b"".join(b"\0" + bytes(row) for row in rows)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n"
                + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def read_npy(path):
    data = open(path, "rb").read()
    assert data[:6] == b"\x93NUMPY", path
    n = struct.unpack("<H", data[8:10])[0]
    header = eval(data[10:10 + n].decode())  # the .npy header is a Python literal
    assert header["descr"] == "<f4" and not header["fortran_order"], header
    shape = header["shape"]
    count = 1
    for s in shape:
        count *= s
    return shape, struct.unpack("<%df" % count, data[10 + n:10 + n + 4 * count])


def taps(dst, src):
    """Source indices and weights of each destination sample on one axis."""
    out = []
    for i in range(dst):
        x = max((i + 0.5) * src / dst - 0.5, 0.0)
        x0 = min(int(x), src - 1)
        x1 = min(x0 + 1, src - 1)
        out.append((x0, x1, x - x0))
    return out


def upsample(plane, w, h, dw, dh):
    tx, ty = taps(dw, w), taps(dh, h)
    res = []
    for y0, y1, fy in ty:
        for x0, x1, fx in tx:
            top = plane[y0 * w + x0] * (1 - fx) + plane[y0 * w + x1] * fx
            bottom = plane[y1 * w + x0] * (1 - fx) + plane[y1 * w + x1] * fx
            res.append(top * (1 - fy) + bottom * fy)
    return res


def main():
    if sys.argv[1] == "images":
        w, h = 32, 24
        rng = random.Random(5)
        small = [[rng.randrange(256) for _ in range(3 * w)] for _ in range(h)]
        write_png(sys.argv[2], w, h, small)
        large = []
        for row in small:
            wide = [v for x in range(w) for v in row[3 * x:3 * x + 3] * 2]
            large += [wide, wide]
        write_png(sys.argv[3], 2 * w, 2 * h, large)
        return 0
    (got_shape, got), (small_shape, small) = read_npy(sys.argv[2]), read_npy(sys.argv[3])
    tol = float(sys.argv[4]) if len(sys.argv) > 4 else 1e-5
    h, w = small_shape[-2:]
    dh, dw = got_shape[-2:]
    planes = len(small) // (w * h)
    if len(got) != planes * dw * dh or (dw, dh) != (2 * w, 2 * h):
        print("shapes %s and %s do not match" % (got_shape, small_shape))
        return 1
    worst = 0.0
    for p in range(planes):
        want = upsample(small[p * w * h:(p + 1) * w * h], w, h, dw, dh)
        worst = max(worst, max(abs(a - b) for a, b in zip(got[p * dw * dh:(p + 1) * dw * dh], want)))
    if worst > tol:
        print("largest difference %.3g > %.3g" % (worst, tol))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
