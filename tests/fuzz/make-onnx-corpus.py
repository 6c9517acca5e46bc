#!/usr/bin/python3
"""make-onnx-corpus — writes the seed corpus of fuzz-onnx and the cases test-onnx checks: small
ONNX models (python3-onnx's helper API, a few weights each) covering the imported ops, and
broken ones whose errors are named. Run from anywhere; writes into corpus-onnx/ beside it.

valid-*: import and load; bad-*: fail with the one-line error test-onnx.c expects."""

import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus-onnx")
rng = np.random.default_rng(1)


def weight(name, *shape, dtype=np.float32):
    return numpy_helper.from_array((rng.standard_normal(shape) * 0.5).astype(dtype), name)


def ints(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def save(name, nodes, inits, out_channels, opset=13, output="logits", meta=None):
    graph = helper.make_graph(
        nodes, "corpus",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, "h", "w"])],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, [1, out_channels, "h", "w"])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="make-onnx-corpus")
    for k, v in (meta or {}).items():
        model.metadata_props.add(key=k, value=v)
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(model.SerializeToString())


def main():
    os.makedirs(HERE, exist_ok=True)
    # conv, batch norm, relu, a final softmax; class names in the metadata
    save("valid-conv-softmax", [
        helper.make_node("Conv", ["image", "w", "b"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "g", "be", "m", "v"], ["bn"]),
        helper.make_node("Relu", ["bn"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
    ], [weight("w", 2, 3, 3, 3), weight("b", 2), weight("g", 2), weight("be", 2), weight("m", 2),
        numpy_helper.from_array(np.array([0.5, 2.0], np.float32), "v")], 2, output="probs",
        meta={"segcam.classes": "sky,ground", "segcam.mean": "0.5", "segcam.std": "0.25"})
    # stride-2 depthwise conv, resized back to the size of the image (Shape/Slice/Concat), nodes
    # listed out of order, fp16 weights
    save("valid-resize-to-shape", [
        helper.make_node("Resize", ["d", "", "", "sizes"], ["up"], mode="linear",
                         coordinate_transformation_mode="pytorch_half_pixel"),
        helper.make_node("Conv", ["image", "w"], ["d"], kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                         strides=[2, 2], group=3),
        helper.make_node("Shape", ["image"], ["shape"]),
        helper.make_node("Slice", ["shape", "s0", "s1", "s2"], ["hw"]),
        helper.make_node("Concat", ["nc", "hw"], ["sizes"], axis=0),
        helper.make_node("Conv", ["up", "w2"], ["logits"], kernel_shape=[1, 1]),
    ], [weight("w", 3, 1, 3, 3, dtype=np.float16), weight("w2", 4, 3, 1, 1, dtype=np.float16),
        ints("s0", [2]), ints("s1", [4]), ints("s2", [0]), ints("nc", [1, 3])], 4)
    # squeeze-and-excitation gate, hard activations (hardswish also as opset 13 exports it),
    # an affine by constants
    save("valid-gate", [
        helper.make_node("GlobalAveragePool", ["image"], ["p"]),
        helper.make_node("Conv", ["p", "w"], ["f"], kernel_shape=[1, 1]),
        helper.make_node("HardSigmoid", ["f"], ["s"], alpha=1 / 6, beta=0.5),
        helper.make_node("Mul", ["s", "image"], ["x"]),
        helper.make_node("HardSwish", ["x"], ["hx1"]),
        helper.make_node("HardSigmoid", ["hx1"], ["hs"], alpha=1 / 6, beta=0.5),
        helper.make_node("Mul", ["hx1", "hs"], ["hx"]),
        helper.make_node("Mul", ["hx", "k"], ["hk"]),
        helper.make_node("Add", ["hk", "k"], ["logits"]),
    ], [weight("w", 3, 3, 1, 1), numpy_helper.from_array(np.float32(0.5).reshape(()), "k")], 3,
        opset=14)
    # reflect padding, ceil-mode pools, a transposed conv, skip concat, leaky relu, clip, sigmoid
    save("valid-unet", [
        helper.make_node("Pad", ["image", "pads"], ["pad"], mode="reflect"),
        helper.make_node("Conv", ["pad", "w1"], ["c1"], kernel_shape=[3, 3]),
        helper.make_node("LeakyRelu", ["c1"], ["a1"], alpha=0.2),
        helper.make_node("MaxPool", ["a1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
        helper.make_node("AveragePool", ["p1"], ["p2"], kernel_shape=[3, 3], strides=[1, 1],
                         pads=[1, 1, 1, 1], count_include_pad=0),
        helper.make_node("Clip", ["p2", "lo", "hi"], ["a2"]),
        helper.make_node("ConvTranspose", ["a2", "wt"], ["u"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Concat", ["u", "a1"], ["cat"], axis=1),
        helper.make_node("Conv", ["cat", "w2"], ["logits"], kernel_shape=[1, 1]),
        helper.make_node("Sigmoid", ["logits"], ["prob"]),
    ], [ints("pads", [0, 0, 1, 1, 0, 0, 1, 1]), weight("w1", 4, 3, 3, 3), weight("wt", 4, 4, 2, 2),
        weight("w2", 1, 8, 1, 1), numpy_helper.from_array(np.float32(0), "lo"),
        numpy_helper.from_array(np.float32(6), "hi")], 1, output="prob")

    conv = helper.make_node("Conv", ["image", "w"], ["c"], kernel_shape=[1, 1])
    w = weight("w", 2, 3, 1, 1)
    save("bad-unsupported-op", [conv, helper.make_node("Tanh", ["c"], ["logits"])], [w], 2)
    save("bad-fixed-resize", [conv, helper.make_node("Resize", ["c", "", "", "sizes"], ["logits"],
                                                     mode="nearest", nearest_mode="floor",
                                                     coordinate_transformation_mode="asymmetric")],
         [w, ints("sizes", [1, 2, 64, 64])], 2)
    external = weight("w", 2, 3, 1, 1)
    external.ClearField("raw_data")
    external.data_location = TensorProto.EXTERNAL
    external.external_data.add(key="location", value="../../etc/passwd")
    save("bad-external-data", [conv, helper.make_node("Relu", ["c"], ["logits"])], [external], 2)
    save("bad-cycle", [helper.make_node("Add", ["image", "logits"], ["a"]),
                       helper.make_node("Relu", ["a"], ["logits"])], [], 3)
    short = weight("w", 2, 3, 1, 1)
    short.raw_data = short.raw_data[:-4]
    save("bad-short-tensor", [conv, helper.make_node("Relu", ["c"], ["logits"])], [short], 2)

    # a NaN scale: named at the Resize, not left to surface as graph JSON that is not valid
    save("bad-nan-scale", [conv, helper.make_node("Resize", ["c", "", "sc"], ["logits"],
                                                  mode="nearest", nearest_mode="floor",
                                                  coordinate_transformation_mode="asymmetric")],
         [weight("w", 2, 3, 1, 1),
          numpy_helper.from_array(np.array([1, 1, np.nan, 2], np.float32), "sc")], 2)

    # metadata lists nested 200,000 deep: json-glib would recurse until the stack ran out
    for key in ("segcam.classes", "segcam.mean"):
        save("bad-nested-" + key.split(".")[1], [conv, helper.make_node("Relu", ["c"], ["logits"])],
             [weight("w", 2, 3, 1, 1)], 2, meta={key: "[" * 200000})

    # graphs nested in node attributes, deeper than any model: protobuf-c would recurse
    graph = helper.make_graph([], "leaf", [], [])
    for _ in range(200):
        graph = helper.make_graph([helper.make_node("If", ["c"], ["o"], then_branch=graph,
                                                    else_branch=helper.make_graph([], "e", [], []))],
                                  "nest", [], [])
    with open(os.path.join(HERE, "bad-deep-nesting"), "wb") as f:
        f.write(helper.make_model(graph).SerializeToString())
    with open(os.path.join(HERE, "valid-resize-to-shape"), "rb") as f:
        data = f.read()
    with open(os.path.join(HERE, "bad-truncated"), "wb") as f:
        f.write(data[:len(data) * 2 // 3])

    # TensorFlow 1's bilinear and SAME pooling whose padding follows the image's size: format 3
    save("valid-tf-same", [
        helper.make_node("Conv", ["image", "w"], ["c"], kernel_shape=[1, 1]),
        helper.make_node("MaxPool", ["c"], ["p1"], kernel_shape=[3, 3], strides=[2, 2],
                         auto_pad="SAME_LOWER"),
        helper.make_node("AveragePool", ["p1"], ["p2"], kernel_shape=[2, 2], auto_pad="SAME_UPPER",
                         strides=[1, 1], count_include_pad=1),
        helper.make_node("Resize", ["p2", "", "sc"], ["logits"], mode="linear",
                         coordinate_transformation_mode="asymmetric"),
    ], [weight("w", 2, 3, 1, 1), numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "sc")],
        2)


if __name__ == "__main__":
    main()
