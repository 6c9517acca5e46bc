#!/usr/bin/python3
"""make-model-corpus — writes the reproducers of issue 12 into corpus-model/ beside it: small
segcam model files (plain Python, no numpy) that fuzz-model starts from and test-cli.sh checks
the command line's one-line errors on. Run from anywhere.

valid-small: a conv, a ReLU and a 1x1 head, 3 -> 4 -> 2 channels, which loads and explains;
bad-*: each breaks one rule of docs/model-format.md, named after the class it reproduces."""

import json
import math
import os
import struct

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus-model")


def tensor_values(n, first=None):
    values = [0.1 * ((7 * i) % 11 - 5) for i in range(n)]
    if first is not None:
        values[0] = first
    return values


def graph(nodes, output="head"):
    return {
        "input": {"channels": 3, "colorspace": "rgb", "size_multiple": 2},
        "classes": [{"name": "bg", "color": "#000000"}, {"name": "fg", "color": "#ff0000"}],
        "output": output, "output_activation": "softmax", "default_layer": "relu",
        "nodes": [{"name": "input", "op": "input"},
                  {"name": "conv", "op": "conv2d", "inputs": ["input"], "kernel": [3, 3],
                   "padding": [1, 1, 1, 1], "weight": "conv.w", "bias": "conv.b"},
                  {"name": "relu", "op": "relu", "inputs": ["conv"]}] + nodes,
    }


def head(inputs="relu", **attrs):
    return dict({"name": "head", "op": "conv2d", "inputs": [inputs], "weight": "head.w",
                 "bias": "head.b"}, **attrs)


def write(name, graph_text, poison=None):
    """graph_text: the segcam.graph string; poison: (tensor, value) for element 0."""
    shapes = {"conv.w": [4, 3, 3, 3], "conv.b": [4], "head.w": [2, 4, 1, 1], "head.b": [2]}
    header, data = {"__metadata__": {"segcam.format": "1", "segcam.graph": graph_text}}, b""
    for tname, shape in shapes.items():
        n = math.prod(shape)
        first = poison[1] if poison and poison[0] == tname else None
        blob = struct.pack("<%df" % n, *tensor_values(n, first))
        header[tname] = {"dtype": "F32", "shape": shape,
                         "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def main():
    valid = json.dumps(graph([head()]))
    write("valid-small", valid)
    # Deep nesting: json-glib overflowed its stack on the graph string.
    write("bad-graph-nesting", "[" * 100000)
    # One strictness for the graph and the header: no comments, no hex, no duplicate keys.
    write("bad-graph-comment", "/* c */" + valid)
    write("bad-graph-hex", valid.replace('"kernel": [3, 3]', '"kernel": [0x3, 3]'))
    write("bad-graph-duplicate", valid.replace('"op": "relu"', '"op": "sigmoid", "op": "relu"'))
    # Logits of another size than the padded input: read past (or beside) by the predictions.
    write("bad-output-pooled", json.dumps(graph([
        {"name": "pool", "op": "maxpool2d", "inputs": ["relu"], "kernel": [2, 2]}, head("pool")])))
    write("bad-output-upsampled", json.dumps(graph([
        {"name": "up", "op": "upsample", "inputs": ["relu"], "scale": [2, 2], "mode": "nearest"},
        head("up")])))
    write("bad-output-stride4", json.dumps(graph([head(stride=[4, 4])])))
    # Non-finite weights: an all-zero map with exit 0 before.
    write("bad-weight-nan", valid, ("conv.w", float("nan")))
    write("bad-weight-inf", valid, ("head.b", float("-inf")))


if __name__ == "__main__":
    main()
