#!/usr/bin/python3
"""make_models.py OUTDIR — test models in segcam format and test images, deterministically.

Models (random, He-like weights; batch-norm running statistics calibrated on the test images,
then perturbed, so that activations are well scaled and batch norm still matters):

  unet-bn.safetensors      RGB U-Net, 3 classes, depth 2, 8 base filters, conv3x3+BN+ReLU x2
                           per level, max-pool 2x2, bilinear upsampling x2, concat skips, 1x1 head
  unet-convt.safetensors   the same with conv_transpose2d upsampling, gray input, 4 classes
  resnet-ish.safetensors   residual adds, strided conv, dilated "same" conv, asymmetric padding,
                           ceil-mode padded max-pool, nearest upsampling to a second input's size,
                           an internal sigmoid; F16 and BF16 tensors (one at an unaligned offset)
  sigmoid.safetensors      one-channel sigmoid output (classes background, foreground)

Images: shapes-37x29.png (RGB), shapes-64x48.png (RGB), gray-31x23.png (gray),
rgba-45x33.png (RGBA, alpha varies), each with a mask <name>-mask.png (gray, fractional
weights) of the same size.

Node names follow PyTorch module paths and tensor names state_dict keys, so the hand-built
nn.Modules in selftest.py load the same weights with load_state_dict.
"""

import json
import os
import sys
from typing import Dict, List

import numpy as np

sys.dont_write_bytecode = True  # keep the source tree clean when run from meson
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import segcam_torch as st  # noqa: E402
from segcam_file import GraphBuilder  # noqa: E402
import segcam_file  # noqa: E402

SEED = 20240611
MEAN_RGB, STD_RGB = [0.4, 0.5, 0.6], [0.2, 0.25, 0.3]
MEAN_GRAY, STD_GRAY = [0.45], [0.22]


def build_unet(rng, in_channels: int, n_classes: int, transposed: bool) -> GraphBuilder:
    """Depth-2 U-Net with 8 base filters; bilinear or transposed-convolution upsampling."""
    g = GraphBuilder(rng, in_channels)
    e1 = g.double_conv("enc1", "input", 8, first_bias=True)
    p1 = g.simple("pool1", "maxpool2d", [e1], kernel=[2, 2])
    e2 = g.double_conv("enc2", p1, 16, padding="same")
    p2 = g.simple("pool2", "maxpool2d", [e2], kernel=[2, 2], stride=[2, 2], padding=[0, 0],
                  ceil_mode=False)
    b = g.double_conv("bottleneck", p2, 32)
    if transposed:
        u2 = g.conv_transpose("up2", b, 16, kernel=2, stride=2)
    else:
        u2 = g.simple("up2", "upsample", [b], scale=[2, 2], mode="bilinear")
    d2 = g.double_conv("dec2", g.simple("cat2", "concat", [u2, e2],
                                        g.channels[u2] + g.channels[e2]), 16)
    if transposed:
        u1 = g.conv_transpose("up1", d2, 8, kernel=3, stride=2, padding=1, output_padding=1)
    else:
        u1 = g.simple("up1", "upsample", [d2], scale=[2, 2], mode="bilinear")
    d1 = g.double_conv("dec1", g.simple("cat1", "concat", [u1, e1],
                                        g.channels[u1] + g.channels[e1]), 8)
    g.conv("head", d1, n_classes, kernel=1, padding=[0, 0, 0, 0], bias=True)
    return g


def build_resnet_ish(rng) -> GraphBuilder:
    """A small residual network exercising the less common conv/pool/upsample attributes."""
    g = GraphBuilder(rng, 3)
    stem = g.conv_bn_relu("stem", "input", 8)
    x = g.conv_bn_relu("block1", stem, 8, "1", padding="same")
    x = g.batchnorm("block1.bn2", g.conv("block1.conv2", x, 8))
    block1 = g.simple("block1.relu", "relu", [g.simple("block1.add", "add", [x, stem])])
    down = g.conv_bn_relu("down", block1, 16, stride=2, padding=[1, 1, 1, 1])
    x = g.conv_bn_relu("block2", down, 16, "1", padding="same", dilation=2)
    x = g.batchnorm("block2.bn2", g.conv("block2.conv2", x, 16, padding=[0, 1, 2, 1]))
    block2 = g.simple("block2.relu", "relu", [g.simple("block2.add", "add", [x, down])])
    ctx = g.simple("ctx.pool", "maxpool2d", [block2], kernel=[2, 2], stride=[2, 2],
                   padding=[1, 1], ceil_mode=True)
    ctx = g.simple("ctx.sigmoid", "sigmoid", [g.conv("ctx.conv", ctx, 16, kernel=1,
                                                     padding=None, bias=True)])
    ctx = g.simple("ctx.up", "upsample", [ctx, block2], mode="nearest")
    fused = g.simple("fuse.cat", "concat", [block2, ctx], 32)
    up = g.simple("up", "upsample", [fused], scale=[2, 2], mode="bilinear")
    x = g.simple("skip.cat", "concat", [up, block1], 40)
    x = g.conv_bn_relu("fuse", x, 16)
    g.conv("head", x, 3, kernel=1, padding=None, bias=True)
    return g


def build_sigmoid(rng) -> GraphBuilder:
    """A small network with one output channel for a sigmoid (background / foreground)."""
    g = GraphBuilder(rng, 3)
    e = g.conv_bn_relu("enc", "input", 8, "1")
    p = g.simple("pool", "maxpool2d", [e], kernel=[2, 2])
    m = g.conv_bn_relu("mid", p, 16, "1")
    u = g.simple("mid.up", "upsample", [m], scale=[2, 2], mode="nearest")
    d = g.conv_bn_relu("dec", g.simple("cat", "concat", [u, e], 24), 8, "1")
    g.conv("head", d, 1, kernel=1, padding=[0, 0, 0, 0], bias=True)
    return g


# ------------------------------------------------------------------------------------------------
# Calibration: running statistics and head scale from the test images.

def _node_stats(model: st.SegcamModel, images: List[np.ndarray], node: str):
    """Per-channel mean and variance of a node's output over all images' pixels."""
    samples = []
    for image in images:
        value = model.forward(model.preprocess(image))[node][0]
        samples.append(value.reshape(value.shape[0], -1).numpy())
    values = np.concatenate(samples, axis=1)
    return values.mean(axis=1), values.var(axis=1)


def calibrate(graph: dict, tensors: Dict[str, np.ndarray], images: List[np.ndarray],
              rng: np.random.RandomState) -> None:
    """segcam_file.calibrate with the statistics of the reference's forward pass over images."""
    def stats(node: str):
        return _node_stats(st.SegcamModel(graph, tensors), images, node)
    segcam_file.calibrate(st.topological_order(graph["nodes"]), graph["output"], tensors, stats,
                          rng)


# ------------------------------------------------------------------------------------------------
# Test images.

def scene(width: int, height: int, seed: int, channels: int) -> np.ndarray:
    """A structured test picture: gradient background, a disk, a rectangle, a striped band and
    mild noise; (H,W,channels) uint8."""
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    u, v = x / max(width - 1, 1), y / max(height - 1, 1)
    img = np.stack([0.2 + 0.5 * u, 0.3 + 0.4 * v, 0.6 - 0.3 * u * v], axis=2)
    cx, cy, r = width * rng.uniform(0.3, 0.5), height * rng.uniform(0.3, 0.6), 0.25 * height
    img[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.uniform(0.6, 1.0, 3)
    x0, y0 = int(width * 0.6), int(height * 0.15)
    img[y0:y0 + height // 3, x0:x0 + width // 4] = rng.uniform(0.0, 0.3, 3)
    band = (v > 0.7) & (v < 0.9)
    img[band] *= (0.6 + 0.4 * np.sin(x[band] * 1.3))[:, None]
    img = np.clip(img + rng.normal(0, 0.03, img.shape), 0, 1)
    if channels == 1:
        img = img.mean(axis=2, keepdims=True)
    return np.round(255 * img).astype(np.uint8)


def mask_for(width: int, height: int) -> np.ndarray:
    """A fractional ROI mask: a radial falloff off-centre, zero elsewhere; (H,W) uint8."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = np.hypot(x - 0.4 * width, y - 0.55 * height) / (0.35 * min(width, height))
    return np.round(255 * np.clip(1.2 - r, 0, 1)).astype(np.uint8)


IMAGES = {  # name: (width, height, channels written, seed)
    "shapes-37x29": (37, 29, 3, 1),
    "shapes-64x48": (64, 48, 3, 2),
    "gray-31x23": (31, 23, 1, 3),
    "rgba-45x33": (45, 33, 4, 4),
}


def write_images(outdir: str) -> Dict[str, str]:
    """Writes the test images and their masks; returns {name: path}."""
    from PIL import Image
    paths = {}
    for name, (width, height, channels, seed) in IMAGES.items():
        pixels = scene(width, height, seed, 1 if channels == 1 else 3)
        if channels == 1:
            pil = Image.fromarray(pixels[:, :, 0], "L")
        elif channels == 3:
            pil = Image.fromarray(pixels, "RGB")
        else:
            alpha = np.round(255 * np.linspace(0.2, 1.0, width))[None, :].repeat(height, 0)
            pil = Image.fromarray(np.dstack([pixels, alpha.astype(np.uint8)]), "RGBA")
        paths[name] = os.path.join(outdir, f"{name}.png")
        pil.save(paths[name])
        Image.fromarray(mask_for(width, height), "L").save(
            os.path.join(outdir, f"{name}-mask.png"))
    return paths


# ------------------------------------------------------------------------------------------------
# Models.

MODELS = {
    # name: (builder, channels, classes, size_multiple, default_layer, activation, f16, bf16)
    "unet-bn": (lambda rng: build_unet(rng, 3, 3, transposed=False), 3,
                [("background", "#000000"), ("cell", "#ff0000"), ("cell membrane", "#00ff00")],
                4, "bottleneck.relu2", "softmax", [], []),
    "unet-convt": (lambda rng: build_unet(rng, 1, 4, transposed=True), 1,
                   [("background", "#000000"), ("road", "#808080"), ("car", "#0000ff"),
                    ("tree", "#00a000")],
                   4, "bottleneck.relu2", "softmax", [], []),
    "resnet-ish": (build_resnet_ish, 3,
                   [("sky", "#80c0ff"), ("ground", "#806040"), ("object", "#ff8000")],
                   2, "block2.relu", "softmax", ["head.bias"], ["stem.bn.weight"]),
    "sigmoid": (build_sigmoid, 3, [("background", "#000000"), ("foreground", "#ffffff")],
                2, "mid.relu1", "sigmoid", [], []),
}


def make_model(name: str, path: str, calibration_images: Dict[str, str], seed: int) -> None:
    """Builds, calibrates and writes one model of MODELS."""
    builder, channels, classes, multiple, default_layer, activation, f16, bf16 = MODELS[name]
    rng = np.random.RandomState(seed)
    g = builder(rng)
    graph = {
        "input": {"channels": channels, "colorspace": "rgb" if channels == 3 else "gray",
                  "mean": MEAN_RGB if channels == 3 else MEAN_GRAY,
                  "std": STD_RGB if channels == 3 else STD_GRAY, "size_multiple": multiple},
        "classes": [{"name": n, "color": c} for n, c in classes],
        "output": "head",
        "output_activation": activation,
        "default_layer": default_layer,
        "nodes": g.nodes,
    }
    images = [st.load_image(p, channels) for p in calibration_images.values()]
    calibrate(graph, g.tensors, images, rng)
    dtypes = {t: "F16" for t in f16}
    dtypes.update({t: "BF16" for t in bf16})
    metadata = {"segcam.format": "1", "segcam.graph": json.dumps(graph),
                "segcam.name": f"test model {name}",
                "segcam.description": "random weights for cross-checks (tests/reference)"}
    segcam_file.write_safetensors(path, g.tensors, metadata, dtypes)


def make_all(outdir: str) -> Dict[str, Dict[str, str]]:
    """Writes all images and models into outdir; returns {"models": {...}, "images": {...}}."""
    os.makedirs(outdir, exist_ok=True)
    images = write_images(outdir)
    models = {}
    for index, name in enumerate(MODELS):
        models[name] = os.path.join(outdir, f"{name}.safetensors")
        make_model(name, models[name], images, SEED + index)
    return {"models": models, "images": images}


def main(argv: List[str]) -> int:
    """Command-line entry point."""
    if len(argv) != 1:
        print("usage: make_models.py OUTDIR", file=sys.stderr)
        return 1
    written = make_all(argv[0])
    for kind in ("models", "images"):
        for path in written[kind].values():
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
