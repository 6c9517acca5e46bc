#!/usr/bin/python3
"""ort-ops — single ONNX ops whose import depends on attributes segcam maps by hand, run by segcam
(tests/onnx/onnx-logits) and by ONNX Runtime (ort-logits.js) on the same small graphs, at even
and odd input sizes, or refused with the message that names what would make them work.

Each graph is  image -> Conv 3x3 -> OP -> [Resize to the image's size] -> Conv 1x1 -> logits,
with height and width dynamic, so that the op sees sizes of every parity.

    ort-ops.py --logits ONNX_LOGITS --workdir DIR --fetch-ort SCRIPT

Exit status 77 (skipped) when python3-onnx is missing or ONNX Runtime cannot be fetched.
"""

import argparse
import os
import subprocess
import sys

try:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError as e:
    print(f"ort-ops: skipped, {e.name} is not installed (Debian: python3-onnx)")
    sys.exit(77)

TOLERANCE = 1e-4
SIZES = [(16, 20), (15, 21), (17, 9)]  # (height, width)


def pool(op, kernel, strides, auto_pad, **extra):
    return [helper.make_node(op, ["a"], ["b"], kernel_shape=kernel, strides=strides,
                             auto_pad=auto_pad, **extra)]


def const(name, values, dtype=np.float32):
    return helper.make_node("Constant", [], [name],
                            value=numpy_helper.from_array(np.array(values, dtype), name))


def rand(*shape):
    return np.random.default_rng(len(shape) + shape[0]).uniform(0.5, 1.5, shape)


# torch.onnx.export's GroupNorm before opset 18: grouped by a Reshape, InstanceNormalization
# with unit scale, back by a Reshape to the input's shape, then the per-channel affine.
GROUPNORM_EXPORT = [
    const("groups", [0, 2, -1], np.int64), helper.make_node("Reshape", ["a", "groups"], ["g"]),
    const("ones", [1, 1]), const("zeros", [0, 0]),
    helper.make_node("InstanceNormalization", ["g", "ones", "zeros"], ["gn"], epsilon=1e-5),
    helper.make_node("Shape", ["a"], ["sa"]), helper.make_node("Reshape", ["gn", "sa"], ["r"]),
    const("gamma", rand(4, 1, 1)), const("beta", rand(4, 1, 1) - 1),
    helper.make_node("Mul", ["r", "gamma"], ["m"]), helper.make_node("Add", ["m", "beta"], ["b"])]

# ShuffleNet's channel shuffle: [N, 2, 2, H, W], the two splits swapped, back to N x 4 x H x W.
SHUFFLE = [
    helper.make_node("Shape", ["a"], ["sa"]), const("from2", [2], np.int64),
    const("to4", [4], np.int64), helper.make_node("Slice", ["sa", "from2", "to4"], ["hw"]),
    const("split", [1, 2, 2], np.int64), helper.make_node("Concat", ["split", "hw"], ["s5"], axis=0),
    helper.make_node("Reshape", ["a", "s5"], ["v"]),
    helper.make_node("Transpose", ["v"], ["t"], perm=[0, 2, 1, 3, 4]),
    helper.make_node("Reshape", ["t", "sa"], ["b"])]

def resize(mode, ctm, scale, nearest_mode="floor"):
    """A Resize of a by a constant scale, or (height, width) scales (then resized back to the
    image's size)."""
    extra = dict(nearest_mode=nearest_mode) if mode == "nearest" else {}
    sh, sw = scale if isinstance(scale, tuple) else (scale, scale)
    return [const("sc", [1, 1, sh, sw]),
            helper.make_node("Resize", ["a", "", "sc"], ["b"], mode=mode,
                             coordinate_transformation_mode=ctm, **extra)]


# a pooled to a third of its size (floor ((in - 3) / 2) + 1), then resized back to a's size by
# TensorFlow 1's bilinear: the index ratio is in / out, not a whole number.
RESIZE_TO_SIZE = [
    helper.make_node("AveragePool", ["a"], ["p"], kernel_shape=[3, 3], strides=[2, 2]),
    helper.make_node("Shape", ["a"], ["sa"]),
    helper.make_node("Resize", ["p", "", "", "sa"], ["b"], mode="linear",
                     coordinate_transformation_mode="asymmetric")]


# A squeeze-and-excitation gate of Linear layers: pooled, flattened, Gemm (and MatMul), back to
# N x C x 1 x 1 by a Reshape, multiplied in.
SE_LINEAR = [
    helper.make_node("GlobalAveragePool", ["a"], ["p"]),
    helper.make_node("Flatten", ["p"], ["f"], axis=1),
    const("fc1", rand(2, 4) - 1), const("fc1b", rand(2) - 1),
    helper.make_node("Gemm", ["f", "fc1", "fc1b"], ["h"], transB=1, alpha=0.5),
    helper.make_node("Relu", ["h"], ["r"]),
    const("fc2", rand(2, 4) - 1),
    helper.make_node("MatMul", ["r", "fc2"], ["m"]),
    helper.make_node("Sigmoid", ["m"], ["g"]),
    const("shape", [1, 4, 1, 1], np.int64), helper.make_node("Reshape", ["g", "shape"], ["gate"]),
    helper.make_node("Mul", ["a", "gate"], ["b"])]

# auto_pad SAME at every parity: both modes, kernels 2, 3, 5, strides 1, 2; AveragePool with and
# without count_include_pad (ONNX counts SAME's padding, which then is every window's whole kernel).
SAME_POOLS = {
    f"{'max' if op == 'MaxPool' else 'avg'}pool-k{k}s{s}-{mode.lower().replace('_', '-')}{suffix}":
        (pool(op, [k, k], [s, s], mode, **extra), True, None)
    for op, suffix, extra in [("MaxPool", "", {}), ("AveragePool", "", {}),
                              ("AveragePool", "-include-pad", dict(count_include_pad=1))]
    for mode in ("SAME_UPPER", "SAME_LOWER") for k in (2, 3, 5) for s in (1, 2)}

# name: (the op's nodes from "a" (4 channels) to "b", whether b must be resized back to the
#        image's size, None when segcam must match ONNX Runtime, else a part of the error it
#        must give[, opset])
CASES = {
    "maxpool-k4s2-same-upper": (pool("MaxPool", [4, 4], [2, 2], "SAME_UPPER"), True, None),
    "maxpool-k3x2-s1x2-same-upper": (pool("MaxPool", [3, 2], [1, 2], "SAME_UPPER"), True, None),
    "avgpool-k4s2-same-upper": (pool("AveragePool", [4, 4], [2, 2], "SAME_UPPER"), True, None),
    "maxpool-k3x2-s2x1-same-lower": (pool("MaxPool", [3, 2], [2, 1], "SAME_LOWER"), True, None),
    "maxpool-k2-pads-0011": ([helper.make_node("MaxPool", ["a"], ["b"], kernel_shape=[2, 2],
                                               pads=[0, 0, 1, 1])], True,
                             "asymmetric pads are not supported for pooling"),
    "instancenorm": ([const("s", rand(4)), const("bb", rand(4) - 1),
                      helper.make_node("InstanceNormalization", ["a", "s", "bb"], ["b"],
                                       epsilon=1e-3)], False, None),
    "groupnorm-export-opset13": (GROUPNORM_EXPORT, False, None),
    "groupnormalization-opset18": (
        [const("s", rand(2)), const("bb", rand(2) - 1),
         helper.make_node("GroupNormalization", ["a", "s", "bb"], ["b"], num_groups=2)],
        False, None, 18),
    "groupnormalization-opset21": (
        [const("s", rand(4)), const("bb", rand(4) - 1),
         helper.make_node("GroupNormalization", ["a", "s", "bb"], ["b"], num_groups=2)],
        False, None, 21),
    "channel-shuffle": (SHUFFLE, False, None),
    "resize-nearest-asymmetric-floor-x3": (resize("nearest", "asymmetric", 3), True, None),
    "resize-nearest-half-pixel-round-floor-x2": (
        resize("nearest", "half_pixel", 2, "round_prefer_floor"), True, None),
    "resize-nearest-half-pixel-round-ceil-x3": (
        resize("nearest", "half_pixel", 3, "round_prefer_ceil"), True, None),
    "resize-nearest-pytorch-half-pixel-round-floor-x3": (
        resize("nearest", "pytorch_half_pixel", 3, "round_prefer_floor"), True, None),
    "resize-nearest-tf-half-pixel-floor-x3": (
        resize("nearest", "tf_half_pixel_for_nn", 3), True, None),
    "resize-nearest-asymmetric-round-floor-x2": (
        resize("nearest", "asymmetric", 2, "round_prefer_floor"), True, None),
    "resize-linear-pytorch-half-pixel-x2": (resize("linear", "pytorch_half_pixel", 2), True, None),
    "resize-linear-align-corners-x3": (resize("linear", "align_corners", 3), True, None),
    "resize-nearest-asymmetric-round-floor-x3": (
        resize("nearest", "asymmetric", 3, "round_prefer_floor"), True,
        "nearest_mode round_prefer_floor is PyTorch's nearest only for 1 or 2 scales"),
    "resize-nearest-half-pixel-round-floor-x1.5": (
        resize("nearest", "half_pixel", 1.5, "round_prefer_floor"), True,
        "is PyTorch's nearest only for whole scales given as constants"),
    "resize-nearest-asymmetric-ceil-x2": (
        resize("nearest", "asymmetric", 2, "ceil"), True,
        "mode nearest with coordinate_transformation_mode asymmetric and nearest_mode ceil is not "
        "supported; export with PyTorch's interpolate"),
    # TensorFlow 1's bilinear: by whole and fractional scales; by factors that leave the height
    # (x1.04) or both sides (17 x 9) as they are, which ONNX Runtime divides by the factor unless
    # the whole image keeps its size; shrinking; and to another tensor's size (16 / 7, 21 / 10...)
    "resize-linear-asymmetric-x2": (resize("linear", "asymmetric", 2), True, None),
    "resize-linear-asymmetric-x2.5": (resize("linear", "asymmetric", 2.5), True, None),
    "resize-linear-asymmetric-x(1.04,1.1)": (resize("linear", "asymmetric", (1.04, 1.1)), True, None),
    "resize-linear-asymmetric-x0.6": (resize("linear", "asymmetric", 0.6), True, None),
    # 20 x 1.05 is 21 in PyTorch and ONNX Runtime, but 20 x float (1.05) = 20.999999 in double
    "resize-linear-asymmetric-x1.05": (resize("linear", "asymmetric", 1.05), True, None),
    "resize-linear-asymmetric-to-size": (RESIZE_TO_SIZE, False, None),
    **SAME_POOLS,
    # PaddlePaddle's hardsigmoid (PP-OCR): slope 0.2, not PyTorch's 1/6
    "hardsigmoid-alpha-0.2": ([helper.make_node("HardSigmoid", ["a"], ["b"], alpha=0.2, beta=0.5)],
                              False, None),
    "squeeze-excite-linear": (SE_LINEAR, False, None),
    "conv-of-grouped-view": ([const("groups", [0, 2, -1], np.int64),
                              helper.make_node("Reshape", ["a", "groups"], ["b"])], False,
                             "input 0 is an activation whose channels a Reshape split"),
}


def make_model(path, nodes, resize_back, rng, opset=13):
    def weight(name, *shape):
        return numpy_helper.from_array(rng.uniform(-1, 1, shape).astype(np.float32), name)

    graph_nodes = [helper.make_node("Conv", ["image", "w1"], ["a"], kernel_shape=[3, 3],
                                    pads=[1, 1, 1, 1])] + nodes
    last = "b"
    if resize_back:
        # [1, 4] and the image's height and width, as torch.onnx.export writes interpolate (size=)
        graph_nodes += [helper.make_node("Shape", ["image"], ["size"]),
                        helper.make_node("Slice", ["size", "two", "four"], ["hw"]),
                        helper.make_node("Concat", ["nc", "hw"], ["size4"], axis=0),
                        helper.make_node("Resize", ["b", "", "", "size4"], ["c"], mode="linear",
                                         coordinate_transformation_mode="half_pixel")]
        last = "c"
    graph_nodes.append(helper.make_node("Conv", [last, "w2"], ["logits"], kernel_shape=[1, 1]))
    inits = [weight("w1", 4, 3, 3, 3), weight("w2", 2, 4, 1, 1),
             numpy_helper.from_array(np.array([2], np.int64), "two"),
             numpy_helper.from_array(np.array([4], np.int64), "four"),
             numpy_helper.from_array(np.array([1, 4], np.int64), "nc")]
    graph = helper.make_graph(
        graph_nodes, "ort-ops",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, "h", "w"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 2, "h", "w"])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    if opset <= onnx.defs.onnx_opset_version():  # Debian's onnx may predate the opset
        onnx.checker.check_model(model)
    onnx.save(model, path)


def run(cmd, env=None):
    return subprocess.run(cmd, capture_output=True, text=True, env=env)


def check(args, name, case, rng):
    nodes, resize_back, refusal = case[:3]
    path = os.path.join(args.workdir, name + ".onnx")
    make_model(path, nodes, resize_back, rng, *case[3:])
    worst = 0.0
    for h, w in SIZES:
        raw = os.path.join(args.workdir, f"{name}-{w}x{h}.f32")
        rng.uniform(0, 1, (h, w, 3)).astype(np.float32).tofile(raw)
        ours = run([args.logits, path, raw, str(w), str(h), raw + ".segcam"])
        if refusal is not None:
            if ours.returncode != 2 or refusal not in ours.stderr or ours.stderr.count("\n") != 1:
                return f"{name}: expected a one-line refusal with '{refusal}', got exit " \
                       f"{ours.returncode}: {ours.stderr.strip()}"
            return None
        if ours.returncode != 0:
            return f"{name} at {w}x{h}: {ours.stderr.strip()}"
        ort = run(["node", os.path.join(os.path.dirname(os.path.abspath(__file__)), "ort-logits.js"),
                   path, raw, str(w), str(h), "0,0,0", "1,1,1", raw + ".ort"],
                  env=dict(os.environ, NODE_PATH=args.ort))
        if ort.returncode != 0:
            return f"{name} at {w}x{h}: ort-logits.js: {ort.stderr.strip()}"
        a = np.fromfile(raw + ".segcam", np.float32)
        b = np.fromfile(raw + ".ort", np.float32)
        if a.shape != b.shape:
            return f"{name} at {w}x{h}: {a.size} logits, ONNX Runtime {b.size}"
        worst = max(worst, float(np.abs(a - b).max()))
    print(f"{name}: max |logit - ORT| = {worst:.2e} at {len(SIZES)} sizes")
    return f"{name}: max |logit - ORT| {worst:.2e} > {TOLERANCE}" if worst > TOLERANCE else None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--logits", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--fetch-ort", required=True)
    args = p.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    fetched = run(["sh", args.fetch_ort])
    if fetched.returncode != 0:
        print(f"ort-ops: skipped, ONNX Runtime unavailable: {fetched.stderr.strip()}")
        return 77
    args.ort = fetched.stdout.strip()
    rng = np.random.default_rng(13)
    failures = [f for f in (check(args, name, case, rng) for name, case in CASES.items()) if f]
    for f in failures:
        print("FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
