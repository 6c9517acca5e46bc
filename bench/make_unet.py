#!/usr/bin/python3
"""make_unet.py OUT.safetensors [--channels 3] [--classes 8] [--depth 4] [--filters 32] [--flops WxH]

Writes the benchmark yardstick in segcam format (docs/model-format.md) with numpy alone: the U-Net size of
the Seg-Grad-CAM paper's Cityscapes experiment.

  depth 4 (4 max-pools), 32 base filters doubling per level (32, 64, 128, 256; bottleneck 512);
  per level two conv3x3 (no bias) + batch norm + ReLU; 2x2 max-pool; decoder: bilinear upsampling
  x2, concat [upsampled, skip], two conv3x3 + BN + ReLU with the level's filters; 1x1 head with bias
  to 8 classes; RGB input; size_multiple 16.  7.85 M parameters.
  default_layer = bottleneck.relu2 (the bottleneck's last ReLU).

Weights are random (He normal, fixed seed).  Batch-norm running statistics are calibrated by a
numpy forward pass on a 64x64 picture of uniform random pixels (the benchmark's input) and then
perturbed (mean off by ~0.3 sd, variance scaled by 0.5..2), so activations stay well scaled at
every depth (no denormals, no blow-up) and batch norm is not an identity.  The head is scaled so
logits have a standard deviation of ~2.5.

--flops WxH prints the FLOP counts bench/run.sh uses (see bench/README.md) instead of writing a
file; OUT is then the model file to read the architecture from.
"""

import argparse
import json
import os
import sys
from typing import Dict, List

import numpy as np

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "reference"))
# numpy only (no torch): the safetensors reader/writer, GraphBuilder and calibrate
import segcam_file  # noqa: E402
from segcam_file import GraphBuilder  # noqa: E402

SEED = 20240917
CITYSCAPES_CATEGORIES = [  # the 8 Cityscapes categories and their official colours
    ("void", "#000000"), ("flat", "#804080"), ("construction", "#464646"),
    ("object", "#999999"), ("nature", "#6b8e23"), ("sky", "#4682b4"),
    ("human", "#dc143c"), ("vehicle", "#00008e"),
]


# ------------------------------------------------------------------------------------------------
# The graph.

def build_unet(rng, in_channels: int, n_classes: int, depth: int, filters: int) -> GraphBuilder:
    g = GraphBuilder(rng, in_channels)
    x, skips = "input", []
    for level in range(1, depth + 1):
        x = g.double_conv(f"enc{level}", x, filters << (level - 1))
        skips.append(x)
        x = g.simple(f"pool{level}", "maxpool2d", [x], kernel=[2, 2])
    x = g.double_conv("bottleneck", x, filters << depth)
    for level in range(depth, 0, -1):
        up = g.simple(f"up{level}", "upsample", [x], scale=[2, 2], mode="bilinear")
        skip = skips[level - 1]
        cat = g.simple(f"cat{level}", "concat", [up, skip], g.channels[up] + g.channels[skip])
        x = g.double_conv(f"dec{level}", cat, filters << (level - 1))
    g.conv("head", x, n_classes, kernel=1, bias=True)
    return g


# ------------------------------------------------------------------------------------------------
# A small numpy forward pass (NCHW, batch 1), for calibration only.

def np_conv(x: np.ndarray, w: np.ndarray, b=None) -> np.ndarray:
    cin, h, wd = x.shape
    cout, _, k, _ = w.shape
    p = k // 2
    xp = np.pad(x, ((0, 0), (p, p), (p, p)))
    cols = np.empty((cin, k, k, h, wd), dtype=np.float32)
    for dy in range(k):
        for dx in range(k):
            cols[:, dy, dx] = xp[:, dy:dy + h, dx:dx + wd]
    y = (w.reshape(cout, -1) @ cols.reshape(cin * k * k, h * wd)).reshape(cout, h, wd)
    return y if b is None else y + b[:, None, None]


def np_upsample2_bilinear(x: np.ndarray) -> np.ndarray:
    """x2 bilinear, half-pixel centres (align_corners false), edge clamped."""
    def axis(n):
        src = (np.arange(2 * n) + 0.5) / 2 - 0.5
        src = np.clip(src, 0, None)
        i0 = np.minimum(np.floor(src).astype(int), n - 1)
        i1 = np.minimum(i0 + 1, n - 1)
        return i0, i1, (src - i0).astype(np.float32)
    _, h, w = x.shape
    y0, y1, fy = axis(h)
    x0, x1, fx = axis(w)
    rows = x[:, y0] * (1 - fy)[None, :, None] + x[:, y1] * fy[None, :, None]
    return rows[:, :, x0] * (1 - fx) + rows[:, :, x1] * fx


def np_forward(g: GraphBuilder, image: np.ndarray, upto: str = None) -> Dict[str, np.ndarray]:
    values = {}
    t = g.tensors
    for node in g.nodes:
        name, op = node["name"], node["op"]
        args = [values[s] for s in node.get("inputs", [])]
        if op == "input":
            v = image
        elif op == "conv2d":
            v = np_conv(args[0], t[node["weight"]], t[node["bias"]] if "bias" in node else None)
        elif op == "batchnorm":
            s = t[node["gamma"]] / np.sqrt(t[node["var"]] + node["eps"])
            v = (args[0] - t[node["mean"]][:, None, None]) * s[:, None, None] \
                + t[node["beta"]][:, None, None]
        elif op == "relu":
            v = np.maximum(args[0], 0)
        elif op == "maxpool2d":
            c, h, w = args[0].shape
            v = args[0][:, :h // 2 * 2, :w // 2 * 2].reshape(c, h // 2, 2, w // 2, 2).max((2, 4))
        elif op == "upsample":
            v = np_upsample2_bilinear(args[0])
        elif op == "concat":
            v = np.concatenate(args, axis=0)
        else:
            raise ValueError(op)
        values[name] = v.astype(np.float32)
        if name == upto:
            break
    return values


def calibration_image(channels: int, size: int, mean, std) -> np.ndarray:
    """Uniform random pixels in [0,1] (what `segcam bench` and bench/torch_peer.py feed),
    normalised as the engine does."""
    img = np.random.RandomState(7).uniform(0, 1, (channels, size, size))
    return ((img - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]).astype(np.float32)


def calibrate(g: GraphBuilder, image: np.ndarray, output: str, rng) -> None:
    """segcam_file.calibrate with the statistics of np_forward on one image."""
    def stats(node: str):
        v = np_forward(g, image, upto=node)[node]
        v = v.reshape(v.shape[0], -1)
        return v.mean(axis=1), v.var(axis=1)
    segcam_file.calibrate(g.nodes, output, g.tensors, stats, rng)


# ------------------------------------------------------------------------------------------------
# FLOP counts (2 x multiply-adds of the convolutions; BN, ReLU, pooling, upsampling not counted).

def flops(graph: dict, shapes: Dict[str, list], width: int, height: int) -> Dict[str, float]:
    """forward: every conv, 2*Cout*Cin*kh*kw*Hout*Wout.
    explain_backward: the backward-data work a minimal Seg-Grad-CAM needs: for each conv on a path
    from the default layer to the output, 2*Cout*Cin'*kh*kw*Hout*Wout, where Cin' counts only the
    input channels that lie on such a path (a decoder conv after concat [up, skip] needs the
    gradient of the upsampled half only).  The 1x1 head is counted for the one class scored.
    explain = forward + explain_backward."""
    nodes = {n["name"]: n for n in graph["nodes"]}
    size = {"input": (height, width)}
    chans = {"input": graph["input"]["channels"]}
    order = [n["name"] for n in graph["nodes"]]
    fwd = 0.0
    per_conv = {}
    for name in order:
        n = nodes[name]
        if n["op"] == "input":
            continue
        src = n["inputs"][0]
        h, w = size[src]
        if n["op"] == "conv2d":
            cout, cin, kh, kw = shapes[n["weight"]]
            per_conv[name] = 2.0 * cout * kh * kw * h * w  # times Cin
            fwd += per_conv[name] * cin
            chans[name] = cout
        elif n["op"] == "maxpool2d":
            h, w = h // 2, w // 2
            chans[name] = chans[src]
        elif n["op"] == "upsample":
            h, w = h * 2, w * 2
            chans[name] = chans[src]
        elif n["op"] == "concat":
            chans[name] = sum(chans[s] for s in n["inputs"])
        else:
            chans[name] = chans[src]
        size[name] = (h, w)
    # channels of each node that depend on the default layer
    live_ch = {}
    for name in order:
        n = nodes[name]
        ins = n.get("inputs", [])
        if name == graph["default_layer"]:
            live_ch[name] = chans[name]
            continue
        if not any(s in live_ch for s in ins):
            continue
        if n["op"] == "concat":
            live_ch[name] = sum(live_ch.get(s, 0) for s in ins)
        elif n["op"] == "conv2d":
            live_ch[name] = chans[name]
        else:
            live_ch[name] = live_ch[ins[0]]
    bwd = 0.0
    for name in order:
        n = nodes[name]
        if n["op"] == "conv2d" and n["inputs"][0] in live_ch:
            cin_needed = live_ch[n["inputs"][0]]
            if name == graph["output"]:
                bwd += per_conv[name] / chans[name] * cin_needed  # one class
            else:
                bwd += per_conv[name] * cin_needed
    return {"forward": fwd, "explain_backward": bwd, "explain": fwd + bwd}


def main(argv: List[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--channels", type=int, default=3, choices=(1, 3))
    ap.add_argument("--classes", type=int, default=8)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--filters", type=int, default=32)
    ap.add_argument("--flops", metavar="WxH", help="print FLOP counts of OUT at this size")
    a = ap.parse_args(argv)
    if a.flops:
        w, h = (int(v) for v in a.flops.lower().split("x"))
        graph, tensors = segcam_file.read_graph(a.out)
        shapes = {name: list(t.shape) for name, t in tensors.items()}
        f = flops(graph, shapes, w, h)
        print(f"forward_gflop {f['forward'] / 1e9:.3f} explain_gflop {f['explain'] / 1e9:.3f} "
              f"explain_backward_gflop {f['explain_backward'] / 1e9:.3f}")
        return 0
    rng = np.random.RandomState(SEED)
    g = build_unet(rng, a.channels, a.classes, a.depth, a.filters)
    if a.channels == 3:
        mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    else:
        mean, std = [0.45], [0.22]
    calibrate(g, calibration_image(a.channels, 64, mean, std), "head", rng)
    if a.classes == 8:
        classes = CITYSCAPES_CATEGORIES
    else:
        classes = [(f"class {i}", "#%06x" % (rng.randint(0, 1 << 24) if i else 0))
                   for i in range(a.classes)]
    graph = {
        "input": {"channels": a.channels, "colorspace": "rgb" if a.channels == 3 else "gray",
                  "mean": mean, "std": std, "size_multiple": 1 << a.depth},
        "classes": [{"name": n, "color": c} for n, c in classes],
        "output": "head",
        "output_activation": "softmax",
        "default_layer": "bottleneck.relu2",
        "nodes": g.nodes,
    }
    n_params = sum(v.size for k, v in g.tensors.items() if "running_" not in k)
    metadata = {"segcam.format": "1", "segcam.graph": json.dumps(graph),
                "segcam.name": f"benchmark U-Net (depth {a.depth}, {a.filters} filters)",
                "segcam.description": "random weights; the Seg-Grad-CAM paper's Cityscapes U-Net "
                                      "size, for bench/ (bench/make_unet.py)"}
    segcam_file.write_safetensors(a.out, g.tensors, metadata)
    print(f"{a.out}: {n_params} trainable parameters ({n_params / 1e6:.2f} M)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
