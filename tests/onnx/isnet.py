#!/usr/bin/python3
"""isnet — the real, shipped ISNet "medium" and "small" and PP-OCRv4's text detector
(tools/fetch-models.sh) imported and run by segcam on real photos, against ONNX Runtime.

Both files are static exports (1 x 3 x 1024 x 1024, every Resize to a fixed size). Medium's
arithmetic is fp16 (fp16 weights, Casts around each Resize); small is dynamically quantized
(DynamicQuantizeLinear + ConvInteger). segcam computes in F32 with the weights widened or
dequantized, so it is compared with ONNX Runtime on
  - the shipped file itself at 1024 x 1024 (reported only: the difference is ONNX Runtime's fp16
    rounding, or its 8-bit rounding of activations), and
  - an F32 copy of it that computes what segcam's import says (weights widened, Casts to fp16
    made Casts to float, ConvInteger a Conv by the dequantized weights), in which each Resize
    takes the size of the tensor `segcam import` said it follows: ONNX Runtime then runs it at
    any size, and it checks segcam at 1024 x 1024 and at a photo's own size (limit LIMIT on
    the probabilities, the outputs' Sigmoid).
Then `segcam explain` runs on the second photo. PP-OCRv4's detector is an F32 export of
dynamic size: ONNX Runtime runs the shipped file itself, on skimage's "page" (a book page) and
"text" (handwriting) at multiples of 32, and segcam explains the text class on "page" over the
pixels it detects as text.
Exit status 77 (skipped) when the models cannot be fetched or python3-skimage's photos,
python3-onnx or ONNX Runtime are missing.

    isnet.py --segcam SEGCAM --logits ONNX_LOGITS --workdir DIR --fetch-models SCRIPT
             --fetch-ort SCRIPT
"""

import argparse
import os
import re
import subprocess
import sys
import time

try:
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper, TensorProto
    from PIL import Image
except ImportError as e:
    print(f"isnet: skipped, {e.name} is not installed (Debian: python3-onnx, python3-pil)")
    sys.exit(77)

PHOTOS = "/usr/lib/python3/dist-packages/skimage/data"
ISNET_NORM = ([0.5] * 3, [1.0] * 3)    # what @imgly/background-removal feeds the network
# PaddleOCR's detector normalisation (it applies it to BGR images; segcam feeds RGB)
PPOCR_NORM = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
LIMIT = 1e-4


def run(cmd, **kw):
    result = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {(result.stdout + result.stderr).strip()}")
    return result.stdout


def fetched(script):
    """The folder or node_modules a fetch script prints, or None when it cannot fetch."""
    result = subprocess.run(["sh", script], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def dequantize(g):
    """DynamicQuantizeLinear + ConvInteger as segcam imports them: the activation stays float
    (scale 1), ConvInteger is a Conv by the weights less their zero point."""
    init = {t.name: t for t in g.initializer}
    nodes = []
    for n in g.node:
        if n.op_type == "DynamicQuantizeLinear":
            nodes += [helper.make_node("Identity", [n.input[0]], [n.output[0]]),
                      helper.make_node("Constant", [], [n.output[1]],
                                       value=numpy_helper.from_array(np.array(1, np.float32)))]
        elif n.op_type == "ConvInteger":
            w = numpy_helper.to_array(init[n.input[1]]).astype(np.float32)
            z = numpy_helper.to_array(init[n.input[3]]).astype(np.float32)
            name = n.input[1] + "#dequantized"
            g.initializer.append(numpy_helper.from_array(w - z.reshape(-1, 1, 1, 1), name))
            conv = helper.make_node("Conv", [n.input[0], name], list(n.output))
            conv.attribute.extend(a for a in n.attribute if a.type != onnx.AttributeProto.UNDEFINED)
            nodes.append(conv)
        else:
            copy = onnx.NodeProto()
            copy.CopyFrom(n)
            nodes.append(copy)
    del g.node[:]
    g.node.extend(nodes)


def f32_follow_sizes(src, dst, follows):
    """The F32 copy of src (dequantized when it is quantized) whose Resizes take the size of the
    tensors in follows (Resize output -> tensor), with its input's height and width left free."""
    m = onnx.load(src)
    g = m.graph
    dequantize(g)
    for i, t in enumerate(g.initializer):
        if t.data_type == TensorProto.FLOAT16:
            g.initializer[i].CopyFrom(numpy_helper.from_array(
                numpy_helper.to_array(t).astype(np.float32), t.name))
    for n in g.node:
        for a in n.attribute:
            if n.op_type == "Cast" and a.name == "to" and a.i == TensorProto.FLOAT16:
                a.i = TensorProto.FLOAT
            if n.op_type == "Constant" and a.name == "value" and a.t.data_type == TensorProto.FLOAT16:
                a.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(a.t).astype(np.float32)))
    for v in list(g.input) + list(g.output):
        v.type.tensor_type.elem_type = TensorProto.FLOAT
        for d in v.type.tensor_type.shape.dim[2:]:
            d.dim_param = "size"
    del g.value_info[:]
    g.initializer.extend([numpy_helper.from_array(np.array(v, np.int64), name) for name, v in
                          [("isnet#0", [0]), ("isnet#2", [2]), ("isnet#4", [4])]])
    extra = []
    for n in g.node:
        if n.op_type == "Resize" and n.output[0] in follows:
            x, like, out = n.input[0], follows[n.output[0]], n.output[0]
            extra += [helper.make_node("Shape", [x], [out + "#xs"]),
                      helper.make_node("Shape", [like], [out + "#ls"]),
                      helper.make_node("Slice", [out + "#xs", "isnet#0", "isnet#2"], [out + "#nc"]),
                      helper.make_node("Slice", [out + "#ls", "isnet#2", "isnet#4"], [out + "#hw"]),
                      helper.make_node("Concat", [out + "#nc", out + "#hw"], [out + "#size"], axis=0)]
            del n.input[1:]
            n.input.extend(["", "", out + "#size"])
    g.node.extend(extra)
    onnx.save(m, dst)


def photo(workdir, name, size=None):
    """A skimage photo as PNG and as the float pixels onnx-logits and ort-logits.js read."""
    im = Image.open(os.path.join(PHOTOS, name + ".png")).convert("RGB")
    if size:
        im = im.resize(size, Image.BILINEAR)
    png, raw = os.path.join(workdir, f"{name}-{im.width}x{im.height}.png"), None
    im.save(png)
    raw = png[:-4] + ".f32"
    (np.asarray(im).astype(np.float32) / 255).tofile(raw)
    return png, raw, im.width, im.height


def check(args, ort, src, norm, photos, explain, static):
    """The largest difference of segcam's probabilities from ONNX Runtime's on two photos (for a
    static export, on its F32 copy whose Resizes follow the sizes segcam's import chose);
    explains the second with the explain arguments."""
    stem = os.path.basename(src)[:-5]
    model = os.path.join(args.workdir, stem + ".safetensors")
    mean, std = (",".join(map(str, v)) for v in norm)
    t0 = time.perf_counter()
    notes = run([args.segcam, "import", src, "-o", model, "--mean", mean, "--std", std])
    print(f"{stem}: import {time.perf_counter() - t0:.1f} s: {notes.splitlines()[0]}")
    copy = src
    if static:
        follows = dict(re.findall(r"^Resize to '([^']+)' .*, '([^']+)'$", notes, re.M))
        copy = os.path.join(args.workdir, stem + "-f32.onnx")
        f32_follow_sizes(src, copy, follows)

    def ort_run(path, raw, w, h):
        out = raw[:-4] + "-ort.f32"
        run(["node", os.path.join(os.path.dirname(os.path.abspath(__file__)), "ort-logits.js"),
             path, raw, str(w), str(h), mean, std, out], env=dict(os.environ, NODE_PATH=ort))
        return np.fromfile(out, dtype=np.float32)

    worst = 0.0
    for name, size in photos:
        png, raw, w, h = photo(args.workdir, name, size)
        out = raw[:-4] + "-segcam.f32"
        t0 = time.perf_counter()
        run([args.logits, model, raw, str(w), str(h), out])
        seconds = time.perf_counter() - t0
        ours = 1 / (1 + np.exp(-np.fromfile(out, dtype=np.float32).astype(np.float64)))
        err = float(np.abs(ours - ort_run(copy, raw, w, h)).max())
        line = f"  {name:10s} {w:4d}x{h:<4d} segcam {seconds:5.1f} s, vs ONNX Runtime (F32) {err:.2e}"
        if static and (w, h) == (1024, 1024):
            line += f", vs the shipped file {float(np.abs(ours - ort_run(src, raw, w, h)).max()):.2e}"
        print(line)
        worst = max(worst, err)
    heat = os.path.join(args.workdir, f"{stem}-{name}-heat.png")
    t0 = time.perf_counter()
    run([args.segcam, "explain", "--model", model, *explain, png, "-o", heat])
    print(f"  explain {w}x{h}: {time.perf_counter() - t0:.1f} s, {heat}")
    return worst


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for arg in ("--segcam", "--logits", "--workdir", "--fetch-models", "--fetch-ort"):
        parser.add_argument(arg, required=True)
    args = parser.parse_args()
    models, ort = fetched(args.fetch_models), fetched(args.fetch_ort)
    if not models or not ort or not os.path.exists(os.path.join(PHOTOS, "astronaut.png")):
        print("isnet: skipped, the models, ONNX Runtime or python3-skimage's photos are missing "
              "(tools/fetch-models.sh, tools/fetch-onnxruntime.sh, apt-get install python3-skimage)")
        return 77
    os.makedirs(args.workdir, exist_ok=True)
    worst = 0.0
    for size in ("medium", "small"):
        worst = max(worst, check(args, ort, os.path.join(models, f"isnet-{size}.onnx"), ISNET_NORM,
                                 [("astronaut", (1024, 1024)), ("coffee", None)],
                                 ["--class", "foreground"], True))
    worst = max(worst, check(args, ort, os.path.join(models, "ppocr-v4-det.onnx"), PPOCR_NORM,
                             [("text", (448, 160)), ("page", (384, 192))],
                             ["--class", "foreground", "--roi-class"], False))
    if worst > LIMIT:
        print(f"FAIL isnet: {worst:.2e} from ONNX Runtime (limit {LIMIT})")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
