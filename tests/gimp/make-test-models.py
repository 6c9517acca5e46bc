#!/usr/bin/env python3
"""Writes the small models the plug-in tests run on (standard library only).

tiny-rgb.safetensors: a 3-channel U-Net-like net (encoder conv, max-pool, bottleneck
"mid.relu1", upsample, skip concat, 1x1 head) with 4 softmax classes. Its random path is added to
a fixed colour path, so that the predicted class is known from the colour: black is
"background", red "digit 1", green "digit 2", blue "digit 3". The Seg-Grad-CAM target
"mid.relu1" only sees the random path, so the maps are not trivial.

tiny-gray.safetensors: a 1-channel net with a one-channel sigmoid output (classes background,
foreground); bright pixels are foreground.

usage: make-test-models.py OUT_DIR
"""
import json
import os
import random
import struct
import sys


def conv(name, inp, kernel, padding):
    return {"name": name, "op": "conv2d", "inputs": [inp], "weight": name + ".weight",
            "bias": name + ".bias", "kernel": kernel, "padding": padding}


def randn(rng, n, scale):
    return [rng.gauss(0.0, scale) for _ in range(n)]


def save(path, graph, tensors, name):
    header, blob = {}, b""
    for key, (shape, values) in tensors.items():
        data = struct.pack("<%df" % len(values), *values)
        header[key] = {"dtype": "F32", "shape": shape,
                       "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    header["__metadata__"] = {"segcam.format": "1", "segcam.graph": json.dumps(graph),
                              "segcam.name": name,
                              "segcam.description": "random test model for the plug-in tests"}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + blob)


def rgb_model(path):
    rng = random.Random(7)
    t = {}
    t["enc.conv1.weight"] = ([6, 3, 3, 3], randn(rng, 6 * 3 * 9, 0.4))
    t["enc.conv1.bias"] = ([6], randn(rng, 6, 0.1))
    t["mid.conv1.weight"] = ([8, 6, 3, 3], randn(rng, 8 * 6 * 9, 0.3))
    t["mid.conv1.bias"] = ([8], randn(rng, 8, 0.1))
    t["dec.conv1.weight"] = ([4, 14, 1, 1], randn(rng, 4 * 14, 0.15))
    t["dec.conv1.bias"] = ([4], [0.0] * 4)
    # Colour path: logits from the pixel's own colour, strong enough to decide the class.
    colour = [[-4, -4, -4], [4, -2, -2], [-2, 4, -2], [-2, -2, 4]]
    t["colour.weight"] = ([4, 3, 1, 1], [v for row in colour for v in row])
    t["colour.bias"] = ([4], [2.0, -1.0, -1.0, -1.0])
    nodes = [
        {"name": "input", "op": "input"},
        conv("enc.conv1", "input", [3, 3], "same"),
        {"name": "enc.relu1", "op": "relu", "inputs": ["enc.conv1"]},
        {"name": "pool1", "op": "maxpool2d", "inputs": ["enc.relu1"], "kernel": [2, 2]},
        conv("mid.conv1", "pool1", [3, 3], "same"),
        {"name": "mid.relu1", "op": "relu", "inputs": ["mid.conv1"]},
        {"name": "up1", "op": "upsample", "inputs": ["mid.relu1"], "scale": [2, 2],
         "mode": "bilinear"},
        {"name": "cat1", "op": "concat", "inputs": ["up1", "enc.relu1"]},
        conv("dec.conv1", "cat1", [1, 1], [0, 0, 0, 0]),
        conv("colour", "input", [1, 1], [0, 0, 0, 0]),
        {"name": "logits", "op": "add", "inputs": ["dec.conv1", "colour"]},
    ]
    graph = {"input": {"channels": 3, "colorspace": "rgb", "size_multiple": 2},
             "classes": [{"name": "background", "color": "#000000"},
                         {"name": "digit 1", "color": "#ff0000"},
                         {"name": "digit 2", "color": "#00ff00"},
                         {"name": "digit 3", "color": "#0000ff"}],
             "output": "logits", "output_activation": "softmax", "default_layer": "mid.relu1",
             "nodes": nodes}
    save(path, graph, t, "tiny rgb")


def gray_model(path):
    rng = random.Random(11)
    t = {}
    t["enc.conv1.weight"] = ([4, 1, 3, 3], randn(rng, 4 * 9, 0.5))
    t["enc.conv1.bias"] = ([4], randn(rng, 4, 0.1))
    t["head.weight"] = ([1, 4, 1, 1], randn(rng, 4, 0.3))
    t["head.bias"] = ([1], [0.0])
    t["colour.weight"] = ([1, 1, 1, 1], [8.0])
    t["colour.bias"] = ([1], [-4.0])
    nodes = [
        {"name": "input", "op": "input"},
        conv("enc.conv1", "input", [3, 3], "same"),
        {"name": "enc.relu1", "op": "relu", "inputs": ["enc.conv1"]},
        conv("head", "enc.relu1", [1, 1], [0, 0, 0, 0]),
        conv("colour", "input", [1, 1], [0, 0, 0, 0]),
        {"name": "logits", "op": "add", "inputs": ["head", "colour"]},
    ]
    graph = {"input": {"channels": 1, "colorspace": "gray", "size_multiple": 1},
             "classes": [{"name": "background", "color": "#000000"},
                         # Not gray: a gray image's segmentation must keep its colours.
                         {"name": "foreground", "color": "#ff8000"}],
             "output": "logits", "output_activation": "sigmoid", "default_layer": "enc.relu1",
             "nodes": nodes}
    save(path, graph, t, "tiny gray")


if __name__ == "__main__":
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rgb_model(os.path.join(out, "tiny-rgb.safetensors"))
    gray_model(os.path.join(out, "tiny-gray.safetensors"))
