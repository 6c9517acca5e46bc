#!/usr/bin/python3
"""make-static — the small static-shape ONNX models test-onnx.c imports (written next to this
script; run it again after changing it). Like torch.onnx.export's defaults, the graph input has a
fixed size and every Resize a fixed output size:

  static-decoder.onnx   a stride-2 conv, resized back to 16 x 20 and concatenated with the input
                        (the size follows the input: "the tensor it is combined with"), then a
                        stride-2 conv resized x2 to 8 x 10 and added to the first conv (a whole
                        scale would do, but the Add partner comes first);
  static-scale.onnx     a stride-4 conv resized to 8 x 10, a size no tensor has: twice its input's;
  static-stuck.onnx     a resize to 13 x 7, which no tensor has and no whole scale gives: refused.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(13)


def tensor(name, *shape):
    return numpy_helper.from_array(rng.uniform(-1, 1, shape).astype(np.float32), name)


def sizes(name, *v):
    return numpy_helper.from_array(np.array(v, np.int64), name)


def resize(x, size, out):
    return helper.make_node("Resize", [x, "", "", size], [out], mode="linear",
                            coordinate_transformation_mode="half_pixel")


def save(name, nodes, inits, out_channels=2):
    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 16, 20])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, out_channels, 16, 20])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(HERE, name + ".onnx"))


conv = dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2])
save("static-decoder", [
    helper.make_node("Conv", ["image", "w1"], ["down"], **conv),
    helper.make_node("Conv", ["down", "w2"], ["down2"], **conv),
    resize("down2", "s8x10", "up2"),
    helper.make_node("Add", ["up2", "down"], ["sum"]),
    resize("sum", "s16x20", "up"),
    helper.make_node("Concat", ["up", "image"], ["cat"], axis=1),
    helper.make_node("Conv", ["cat", "w3"], ["logits"], kernel_shape=[1, 1]),
], [tensor("w1", 4, 3, 3, 3), tensor("w2", 4, 4, 3, 3), tensor("w3", 2, 7, 1, 1),
    sizes("s8x10", 1, 4, 8, 10), sizes("s16x20", 1, 4, 16, 20)])
save("static-scale", [
    helper.make_node("Conv", ["image", "w1"], ["down4"], kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                     strides=[4, 4]),
    resize("down4", "s8x10", "up2"),
    resize("up2", "s16x20", "up"),
    helper.make_node("Conv", ["up", "w3"], ["logits"], kernel_shape=[1, 1]),
], [tensor("w1", 4, 3, 3, 3), tensor("w3", 2, 4, 1, 1), sizes("s8x10", 1, 4, 8, 10),
    sizes("s16x20", 1, 4, 16, 20)])
save("static-stuck", [
    helper.make_node("Conv", ["image", "w1"], ["down"], **conv),
    resize("down", "s13x7", "odd"),
    resize("odd", "s16x20", "up"),
    helper.make_node("Conv", ["up", "w3"], ["logits"], kernel_shape=[1, 1]),
], [tensor("w1", 4, 3, 3, 3), tensor("w3", 2, 4, 1, 1), sizes("s13x7", 1, 4, 13, 7),
    sizes("s16x20", 1, 4, 16, 20)])
