#!/usr/bin/python3
"""node-tests — ONNX's own operator tests (Debian's libonnx-testdata: one node, its inputs and the
expected outputs) whose every op the importer translates, run by segcam (tests/onnx/onnx-logits)
and compared with the expected outputs.

segcam runs a test when it can express it: a float 1 x C x H x W first input with C 1 or 3 (an
image), whose other inputs become constants (weights, scales, pads), and an output of the
image's height and width (what segcam explains). The tests of element-wise ops, which do not
depend on the layout, are run on their values laid out as such an image (a [3, 4, 5] tensor as
1 x 3 x 4 x 5, a [3, 4] one as 1 x 1 x 3 x 4). Every other test of those ops is listed as
skipped with the reason, and so is a test the importer refuses with its one-line message (the
message is the reason); a wrong value or a crash fails.

    node-tests.py --logits ONNX_LOGITS --workdir DIR [--data DIR] [--verbose]

Exit status 77 (skipped) when python3-onnx or the test data is missing.
"""

import argparse
import collections
import glob
import os
import subprocess
import sys

try:
    import numpy as np
    import onnx
    from onnx import numpy_helper
except ImportError as e:
    print(f"node-tests: skipped, {e.name} is not installed (Debian: python3-onnx)")
    sys.exit(77)

DATA = "/usr/share/libonnx-testdata/data/node"
TOLERANCE = 1e-4  # max |segcam - expected| / max (1, max |expected|)

# The ONNX ops onnx-nodes.c translates (docs/model-format.md, "ONNX import").
SUPPORTED = {
    "Conv", "ConvTranspose", "ConvInteger", "DynamicQuantizeLinear", "BatchNormalization",
    "InstanceNormalization", "GroupNormalization", "Relu", "Sigmoid", "HardSwish", "HardSigmoid",
    "LeakyRelu", "Clip", "Add", "Sub", "Mul", "Div", "MaxPool", "AveragePool",
    "GlobalAveragePool", "ReduceMean", "Pad", "Resize", "Upsample", "Identity", "Dropout", "Cast",
    "Constant", "ConstantOfShape", "Shape", "Gather", "Unsqueeze", "Squeeze", "Reshape", "Slice",
    "Transpose", "Concat", "Softmax", "LogSoftmax", "Flatten", "Gemm", "MatMul",
}


# Ops whose every output element depends on the same element of the input alone (with constant
# operands broadcast): their tests keep their meaning in any layout of the values.
ELEMENTWISE = {"Relu", "Sigmoid", "LeakyRelu", "Clip", "HardSigmoid", "HardSwish", "Identity",
               "Dropout", "Cast", "Add", "Sub", "Mul", "Div"}


def as_image(shape):
    """A 1 x C x H x W shape (C 1 or 3) for an element-wise test's tensor of this shape."""
    shape = list(shape)
    if len(shape) == 4 and shape[0] == 1 and shape[1] in (1, 3):
        return shape
    if len(shape) == 3 and shape[0] in (1, 3):
        return [1] + shape
    last = shape[-1] if shape else 1
    return [1, 1, int(np.prod(shape[:-1], dtype=np.int64)) if len(shape) > 1 else 1, last]


def load_tensor(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return t


def prepare(test_dir, workdir):
    """The test as segcam runs it: (model path, image (H x W x C), expected (C' x H x W)), or a
    reason to skip it."""
    model = onnx.load(os.path.join(test_dir, "model.onnx"))
    graph = model.graph
    data = sorted(glob.glob(os.path.join(test_dir, "test_data_set_0", "input_*.pb")))
    inputs = [load_tensor(p) for p in data]
    if not inputs:
        return "the node has no input"
    try:
        x = numpy_helper.to_array(inputs[0])
    except ValueError:
        return "input 0 is not a tensor"
    elementwise = {n.op_type for n in graph.node} <= ELEMENTWISE
    if elementwise and x.dtype == np.float32:
        x = x.reshape(as_image(x.shape))
        inputs[0] = numpy_helper.from_array(x)
        dims = graph.input[0].type.tensor_type.shape.dim
        del dims[:]
        for d in x.shape:
            dims.add().dim_value = d
    if x.dtype != np.float32 or x.ndim != 4 or x.shape[0] != 1 or x.shape[1] not in (1, 3):
        return f"input 0 is {x.dtype} {list(x.shape)}, not a float 1 x (1 or 3) x H x W image"
    outputs = sorted(glob.glob(os.path.join(test_dir, "test_data_set_0", "output_*.pb")))
    want = numpy_helper.to_array(load_tensor(outputs[0]))
    if elementwise and want.dtype == np.float32 and want.size == x.size:
        want = want.reshape(x.shape)
    if want.dtype != np.float32 or want.ndim != 4 or want.shape[0] != 1 \
            or want.shape[2:] != x.shape[2:]:
        return f"output 0 is {want.dtype} {list(want.shape)}, not float logits of the image's size"
    # The image is the graph's first input; the others become constants of the same values.
    names = [i.name for i in graph.input]
    for name, t in zip(names[1:], inputs[1:]):
        t.name = name
        graph.initializer.append(t)
    del graph.input[1:]
    path = os.path.join(workdir, os.path.basename(test_dir) + ".onnx")
    onnx.save(model, path)
    return path, x[0].transpose(1, 2, 0), want[0]


def run(args, name, prepared):
    """None when segcam matches, else a reason it was skipped ('skip: ...') or failed."""
    path, image, want = prepared
    raw = os.path.join(args.workdir, name + ".f32")
    np.ascontiguousarray(image, np.float32).tofile(raw)
    h, w = image.shape[:2]
    got = subprocess.run([args.logits, path, raw, str(w), str(h), raw + ".out"],
                         capture_output=True, text=True)
    if got.returncode == 2 and got.stderr.count("\n") == 1:
        return "skip: " + got.stderr.strip().split(": ", 2)[-1]
    if got.returncode != 0:
        return f"onnx-logits exit {got.returncode}: {got.stderr.strip()}"
    z = np.fromfile(raw + ".out", np.float32)
    if z.size != want.size:
        return f"{z.size} values, expected {want.size}"
    err = float(np.abs(z.reshape(want.shape) - want).max() / max(1.0, np.abs(want).max()))
    return f"max difference {err:.2e} > {TOLERANCE}" if err > TOLERANCE else None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--logits", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--data", default=DATA)
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args()
    tests = sorted(glob.glob(os.path.join(args.data, "test_*")))
    if not tests:
        print(f"node-tests: skipped, no tests in {args.data} (Debian: libonnx-testdata)")
        return 77
    os.makedirs(args.workdir, exist_ok=True)
    passed, failed, skipped = [], [], collections.defaultdict(list)
    others = 0
    for test_dir in tests:
        name = os.path.basename(test_dir)
        ops = {n.op_type for n in onnx.load(os.path.join(test_dir, "model.onnx")).graph.node}
        if not ops <= SUPPORTED:
            others += 1  # a test of ops segcam does not import: counted, not listed
            continue
        prepared = prepare(test_dir, args.workdir)
        outcome = prepared if isinstance(prepared, str) else run(args, name, prepared)
        if isinstance(prepared, str) or (outcome and outcome.startswith("skip: ")):
            skipped[outcome.removeprefix("skip: ")].append(name)
        elif outcome:
            failed.append(f"{name}: {outcome}")
        else:
            passed.append(name)
    print(f"{others} node tests use ops segcam does not import")
    print(f"{len(passed)} node tests of imported ops pass: {' '.join(passed)}")
    print(f"{sum(map(len, skipped.values()))} skipped:")
    for reason, names in sorted(skipped.items(), key=lambda r: -len(r[1])):
        shown = names if args.verbose or len(names) <= 6 else names[:6] + ["..."]
        print(f"  {len(names):3d}  {reason}: {' '.join(shown)}")
    for f in failed:
        print("FAIL", f)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
