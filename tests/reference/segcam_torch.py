#!/usr/bin/python3
"""segcam_torch — an independent PyTorch reference implementation of segcam.

It reads a segcam model file (safetensors with a ``segcam.graph`` in ``__metadata__``,
docs/model-format.md), runs the graph with ``torch.nn.functional`` and computes Seg-Grad-CAM maps
(docs/seg-grad-cam.md) and the other CAM methods' (docs/methods.md) with autograd.  Its command line mirrors ``segcam predict`` and ``segcam explain``
(tools/segcam.c) closely enough for cross-checks and for standing in for the C program:

    segcam_torch.py [--dtype float32|float64] predict --model M IMAGE [-o SEG.png]
                    [--probabilities P.npy]
    segcam_torch.py [--dtype float32|float64] explain --model M --class NAME|INDEX [--layer NODE]
                    [ROI] [--score logits|probabilities] [--weights mean|abs|relu]
                    [--method NAME] [--pool S] [--pool-mode max|mean]
                    [--no-normalize] IMAGE [-o MAP.png] [--map-npy MAP.npy]
    segcam_torch.py info MODEL

It is written from docs/model-format.md, docs/seg-grad-cam.md and docs/methods.md alone, without reading the C engine, so that the two can check each
other.  It needs Debian's python3-torch, python3-numpy and python3-pil (image files).
"""

import argparse
import collections
import dataclasses
import os
import sys
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # keep the source tree clean when run from meson
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The torch-free half: the error classes (st.InputError to the scripts too) and the model file.
from segcam_file import InputError, SegcamError, UsageError, read_graph  # noqa: E402

DTYPES = {"float32": torch.float32, "float64": torch.float64}
SCORES = ("logits", "probabilities")
WEIGHTS = ("mean", "abs", "relu")
METHODS = ("seg-grad-cam", "hires", "xres", "gradcam++", "xgrad", "layer", "eigen", "score",
           "ablation")
RERUN_METHODS = ("score", "ablation")
POOL_MODES = ("max", "mean")
GRADCAM_PP_EPS = 1e-6   # docs/methods.md: pytorch-grad-cam's guards, kept
XGRAD_EPS = 1e-7


# ------------------------------------------------------------------------------------------------
# The graph interpreter.

def _pair(value, default: int) -> Tuple[int, int]:
    """Returns an attribute given as an int or [a, b] as a pair; default when absent."""
    if value is None:
        return (default, default)
    if isinstance(value, (int, float)):
        return (int(value), int(value))
    if len(value) != 2:
        raise InputError(f"expected two values, got {value!r}")
    return (int(value[0]), int(value[1]))


def conv_padding(node: dict, kernel: Tuple[int, int], stride: Tuple[int, int],
                 dilation: Tuple[int, int]) -> Tuple[int, int, int, int]:
    """Resolves a conv2d `padding` attribute into (top, left, bottom, right).

    "same" follows PyTorch (stride 1 only): total = dilation * (kernel - 1), the smaller half
    before, the larger half (the odd pixel, for even kernels) after.
    """
    padding = node.get("padding", [0, 0, 0, 0])
    if padding == "same":
        if stride != (1, 1):
            raise InputError(f"node {node['name']!r}: padding \"same\" needs stride 1")
        total_h = dilation[0] * (kernel[0] - 1)
        total_w = dilation[1] * (kernel[1] - 1)
        return (total_h // 2, total_w // 2, total_h - total_h // 2, total_w - total_w // 2)
    if isinstance(padding, int):
        return (padding,) * 4
    if len(padding) != 4 or min(padding) < 0:
        raise InputError(f"node {node['name']!r}: padding must be [t,l,b,r] or \"same\"")
    return tuple(int(p) for p in padding)


def op_input(model, node, args):
    """The graph input; its value is supplied by SegcamModel.forward."""
    raise AssertionError("the input node is handled by forward()")


def op_conv2d(model, node, args):
    """conv2d: explicit zero padding [t,l,b,r] (or "same"), then an unpadded convolution."""
    (x,) = args
    weight = model.param(node, "weight")
    bias = model.param(node, "bias") if node.get("bias") else None
    kernel = tuple(weight.shape[2:])
    if "kernel" in node and _pair(node["kernel"], 1) != kernel:
        raise InputError(f"node {node['name']!r}: kernel does not match the weight shape")
    stride = _pair(node.get("stride"), 1)
    dilation = _pair(node.get("dilation"), 1)
    top, left, bottom, right = conv_padding(node, kernel, stride, dilation)
    x = F.pad(x, (left, right, top, bottom))
    return F.conv2d(x, weight, bias, stride=stride, dilation=dilation,
                    groups=int(node.get("groups", 1)))


def op_conv_transpose2d(model, node, args):
    """conv_transpose2d with PyTorch's padding / output_padding; weight is [Cin,Cout,kh,kw]."""
    (x,) = args
    weight = model.param(node, "weight")
    bias = model.param(node, "bias") if node.get("bias") else None
    return F.conv_transpose2d(x, weight, bias, stride=_pair(node.get("stride"), 1),
                              padding=_pair(node.get("padding"), 0),
                              output_padding=_pair(node.get("output_padding"), 0),
                              groups=int(node.get("groups", 1)))


def op_batchnorm(model, node, args):
    """Inference batch norm: (x - mean) / sqrt(var + eps) * gamma + beta."""
    (x,) = args
    return F.batch_norm(x, model.param(node, "mean"), model.param(node, "var"),
                        weight=model.param(node, "gamma"), bias=model.param(node, "beta"),
                        training=False, eps=float(node.get("eps", 1e-5)))


def op_relu(model, node, args):
    """ReLU (its gradient at exactly 0 is 0, as in PyTorch)."""
    return F.relu(args[0])


def op_sigmoid(model, node, args):
    """Logistic sigmoid."""
    return torch.sigmoid(args[0])


def _same_pads(node, x, kernel, stride) -> List[int]:
    """auto_pad's F.pad amounts [left, right, top, bottom]: out = ceil(in / s), padded by
    max((out - 1) s + k - in, 0), the odd pixel after (same_upper) or before (same_lower)."""
    mode = node["auto_pad"]
    if mode not in ("same_upper", "same_lower"):
        raise InputError(f"node {node['name']!r}: unknown auto_pad {mode!r}")
    pads = []
    for size, k, s in reversed(list(zip(x.shape[-2:], kernel, stride))):
        total = max((-(-size // s) - 1) * s + k - size, 0)
        before = total // 2 if mode == "same_upper" else total - total // 2
        pads += [before, total - before]
    return pads


def op_maxpool2d(model, node, args):
    """Max pooling: stride defaults to the kernel, padding [ph,pw] to 0, ceil_mode to false;
    auto_pad pads with -inf, then pools without padding."""
    (x,) = args
    kernel = _pair(node.get("kernel"), 1)
    stride = kernel if node.get("stride") is None else _pair(node["stride"], 1)
    if node.get("auto_pad") is not None:
        return F.max_pool2d(F.pad(x, _same_pads(node, x, kernel, stride), value=-float("inf")),
                            kernel, stride)
    return F.max_pool2d(x, kernel, stride, _pair(node.get("padding"), 0),
                        ceil_mode=bool(node.get("ceil_mode", False)))


def _asymmetric_axis(x, dim: int, out: int, scale: Optional[float]):
    """TensorFlow 1's bilinear along one axis: output index i samples r = i / scale (i * in / out
    without a factor), at most in - 1, between floor(r) and the next pixel."""
    size = x.shape[dim]
    i = torch.arange(out, dtype=torch.float64)
    r = (i / scale if scale else i * size / out).clamp(max=size - 1)
    i0 = r.floor().long()
    i1 = (i0 + 1).clamp(max=size - 1)
    lam = (r - i0).to(x.dtype).reshape([-1 if d == dim else 1 for d in range(x.dim())])
    return (1 - lam) * x.index_select(dim, i0) + lam * x.index_select(dim, i1)


def _asymmetric(x, out_hw, scales):
    """bilinear_asymmetric; an image whose height and width both stay is returned as it is."""
    if tuple(x.shape[-2:]) == tuple(out_hw):
        return x
    x = _asymmetric_axis(x, 2, out_hw[0], scales[0])
    return _asymmetric_axis(x, 3, out_hw[1], scales[1])


def op_upsample(model, node, args):
    """Upsampling by `scale`, to a fixed `size` or to the size of a second input; nearest,
    bilinear or bilinear_asymmetric.

    Bilinear uses half-pixel centres (align_corners=False); nearest is PyTorch's legacy
    "nearest" (source index floor(dst * in / out)).  With `scale`, PyTorch uses the given
    factor itself (not in/out) for the index mapping, as nn.Upsample(scale_factor=...) does.
    bilinear_asymmetric has no interpolate mode and is computed by _asymmetric.
    """
    mode = node.get("mode", "nearest")
    if mode not in ("nearest", "bilinear", "bilinear_asymmetric"):
        raise InputError(f"node {node['name']!r}: unknown upsample mode {mode!r}")
    if mode == "bilinear_asymmetric":
        x = args[0]
        if len(args) == 2 or node.get("size") is not None:
            size = args[1].shape[-2:] if len(args) == 2 else node["size"]
            return _asymmetric(x, [int(v) for v in size], [None, None])
        scale = node.get("scale")
        scale = scale if isinstance(scale, list) else [scale, scale]
        out = [int(np.floor(n * float(s))) for n, s in zip(x.shape[-2:], scale)]
        return _asymmetric(x, out, [float(s) for s in scale])
    extra = {"align_corners": bool(node.get("align_corners", False))} if mode == "bilinear" else {}
    if len(args) == 2:
        return F.interpolate(args[0], size=tuple(args[1].shape[-2:]), mode=mode, **extra)
    if node.get("size") is not None:
        return F.interpolate(args[0], size=tuple(int(s) for s in node["size"]), mode=mode, **extra)
    scale = node.get("scale")
    if scale is None:
        raise InputError(f"node {node['name']!r}: upsample needs scale, size or a second input")
    scale = scale if isinstance(scale, list) else [scale, scale]
    return F.interpolate(args[0], scale_factor=tuple(float(s) for s in scale), mode=mode,
                         **extra)


def op_concat(model, node, args):
    """Concatenation along channels, in input order."""
    return torch.cat(args, dim=1)


def op_add(model, node, args):
    """Element-wise sum of all inputs."""
    total = args[0]
    for other in args[1:]:
        total = total + other
    return total


# ---- version 2 ops (docs/model-format.md, 'Ops') ----


def op_avgpool2d(model, node, args):
    """Average pooling with PyTorch's defaults (stride = kernel, count_include_pad true);
    auto_pad pads with zeros, and without count_include_pad divides by the pooled real-pixel mask."""
    (x,) = args
    kernel = _pair(node.get("kernel"), 1)
    stride = _pair(node.get("stride"), 0) if node.get("stride") is not None else kernel
    if node.get("auto_pad") is not None:
        pads = _same_pads(node, x, kernel, stride)
        mean = F.avg_pool2d(F.pad(x, pads), kernel, stride)
        if bool(node.get("count_include_pad", True)):
            return mean
        return mean / F.avg_pool2d(F.pad(torch.ones_like(x[:, :1]), pads), kernel, stride)
    return F.avg_pool2d(x, kernel, stride, _pair(node.get("padding"), 0),
                        ceil_mode=bool(node.get("ceil_mode", False)),
                        count_include_pad=bool(node.get("count_include_pad", True)))


def op_global_avgpool(model, node, args):
    """Mean over height and width, kept as 1 x 1."""
    return args[0].mean(dim=(2, 3), keepdim=True)


def op_mul(model, node, args):
    """Product; a [N,C,1,1] second factor broadcasts."""
    return args[0] * args[1]


def op_hardswish(model, node, args):
    return F.hardswish(args[0])


def op_hardsigmoid(model, node, args):
    return F.hardsigmoid(args[0])


def op_leaky_relu(model, node, args):
    return F.leaky_relu(args[0], float(node.get("alpha", 0.01)))


def op_clip(model, node, args):
    """Clip as hardtanh (ReLU6's gradient convention at the bounds)."""
    lo, hi = float(node.get("min", -3.4e38)), float(node.get("max", 3.4e38))
    return F.hardtanh(args[0], lo, hi)


def op_pad(model, node, args):
    """pads [t,l,b,r]; constant (value), reflect or replicate."""
    top, left, bottom, right = (int(p) for p in node["pads"])
    mode = node.get("mode", "constant")
    if mode == "constant":
        return F.pad(args[0], (left, right, top, bottom), value=float(node.get("value", 0)))
    return F.pad(args[0], (left, right, top, bottom), mode=mode)


def op_group_norm(model, node, args):
    """GroupNorm: each group of channels by its own mean and biased variance, then per channel."""
    return F.group_norm(args[0], int(node["groups"]), weight=model.param(node, "weight"),
                        bias=model.param(node, "bias"), eps=float(node.get("eps", 1e-5)))


OPS = {
    "group_norm": op_group_norm,
    "avgpool2d": op_avgpool2d,
    "global_avgpool": op_global_avgpool,
    "mul": op_mul,
    "hardswish": op_hardswish,
    "hardsigmoid": op_hardsigmoid,
    "leaky_relu": op_leaky_relu,
    "clip": op_clip,
    "pad": op_pad,
    "input": op_input,
    "conv2d": op_conv2d,
    "conv_transpose2d": op_conv_transpose2d,
    "batchnorm": op_batchnorm,
    "relu": op_relu,
    "sigmoid": op_sigmoid,
    "maxpool2d": op_maxpool2d,
    "upsample": op_upsample,
    "concat": op_concat,
    "add": op_add,
}


def topological_order(nodes: List[dict]) -> List[dict]:
    """Orders nodes so that every node follows its inputs (stable: listing order otherwise)."""
    by_name = {}
    for node in nodes:
        if node.get("op") not in OPS:
            raise InputError(f"node {node.get('name')!r}: unsupported op {node.get('op')!r}")
        if node["name"] in by_name:
            raise InputError(f"duplicate node name {node['name']!r}")
        by_name[node["name"]] = node
    for node in nodes:
        for source in node.get("inputs", []):
            if source not in by_name:
                raise InputError(f"node {node['name']!r}: unknown input {source!r}")
    done, order = set(), []
    while len(order) < len(nodes):
        progressed = False
        for node in nodes:
            if node["name"] not in done and all(s in done for s in node.get("inputs", [])):
                done.add(node["name"])
                order.append(node)
                progressed = True
        if not progressed:
            raise InputError("the graph has a cycle")
    return order


class SegcamModel:
    """A segcam graph with its tensors, evaluated in float32 or float64."""

    def __init__(self, graph: dict, tensors: Dict[str, np.ndarray], dtype=torch.float64):
        self.graph = graph
        self.dtype = dtype
        self.tensors = {name: torch.from_numpy(np.asarray(value, dtype=np.float32)).to(dtype)
                        for name, value in tensors.items()}
        self.nodes = topological_order(graph["nodes"])
        self.by_name = {node["name"]: node for node in self.nodes}
        if "input" not in self.by_name or self.by_name["input"]["op"] != "input":
            raise InputError("the graph has no node named \"input\" of op \"input\"")
        spec = graph["input"]
        self.channels = int(spec["channels"])
        self.mean = [float(v) for v in spec.get("mean", [0.0] * self.channels)]
        self.std = [float(v) for v in spec.get("std", [1.0] * self.channels)]
        self.size_multiple = int(spec.get("size_multiple", 1))
        self.classes = graph["classes"]
        self.output = graph["output"]
        self.activation = graph.get("output_activation", "softmax")
        self.default_layer = graph.get("default_layer", self.output)
        for name in (self.output, self.default_layer):
            if name not in self.by_name:
                raise InputError(f"the graph names an unknown node {name!r}")

    @classmethod
    def load(cls, path: str, dtype=torch.float64) -> "SegcamModel":
        """Loads a model file."""
        graph, tensors = read_graph(path)
        return cls(graph, tensors, dtype)

    def param(self, node: dict, attribute: str) -> torch.Tensor:
        """The tensor a node attribute names."""
        name = node.get(attribute)
        if name not in self.tensors:
            raise InputError(f"node {node['name']!r}: unknown tensor {name!r} for {attribute}")
        return self.tensors[name]

    def class_index(self, name_or_index: str) -> int:
        """A class by exact name, else by decimal index (segcam explain --class NAME|INDEX)."""
        for index, cls in enumerate(self.classes):
            if cls["name"] == name_or_index:
                return index
        if name_or_index.isdigit() and int(name_or_index) < len(self.classes):
            return int(name_or_index)
        raise InputError(f"unknown class {name_or_index!r}")

    def padded_size(self, height: int, width: int) -> Tuple[int, int]:
        """The image size rounded up to the size multiple."""
        m = self.size_multiple
        return (-(-height // m) * m, -(-width // m) * m)

    def preprocess(self, image: np.ndarray) -> torch.Tensor:
        """(H,W,C) floats in [0,1] -> (1,C,Hp,Wp): (x - mean) / std, then edge-replicate padding
        at the bottom and right up to the size multiple."""
        height, width = image.shape[:2]
        x = torch.as_tensor(np.ascontiguousarray(image), dtype=self.dtype).permute(2, 0, 1)[None]
        mean = torch.tensor(self.mean, dtype=self.dtype).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=self.dtype).view(1, -1, 1, 1)
        x = (x - mean) / std
        padded_h, padded_w = self.padded_size(height, width)
        if (padded_h, padded_w) != (height, width):
            x = F.pad(x, (0, padded_w - width, 0, padded_h - height), mode="replicate")
        return x

    def forward(self, x: torch.Tensor, leaf: Optional[str] = None,
                overrides: Optional[Dict[str, torch.Tensor]] = None) -> Dict[str, torch.Tensor]:
        """Evaluates every node; returns {node name: (1,C,h,w) tensor}.

        leaf: a node whose output is detached and made to require grad, so that autograd
        differentiates with respect to it and nothing else.  overrides: node outputs to use
        instead of computing them (finite-difference tests).
        """
        values = {}
        for node in self.nodes:
            name = node["name"]
            if overrides and name in overrides:
                value = overrides[name]
            elif node["op"] == "input":
                value = x
            else:
                value = OPS[node["op"]](self, node, [values[s] for s in node.get("inputs", [])])
            if name == leaf:
                value = value.detach().requires_grad_(True)
            values[name] = value
        return values

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """(1,C,H,W) logits -> (n_classes,H,W) probabilities: softmax, or per-channel sigmoid
        (a one-channel sigmoid model gives background = 1 - sigmoid, foreground = sigmoid)."""
        z = logits[0]
        if self.activation == "sigmoid":
            p = torch.sigmoid(z)
            return torch.cat([1 - p, p]) if z.shape[0] == 1 else p
        return torch.softmax(z, dim=0)

    def class_score_map(self, logits: torch.Tensor, class_index: int, score: str) -> torch.Tensor:
        """The (H,W) per-pixel score whose ROI-weighted sum is S (docs/seg-grad-cam.md, 'Definition', step 1).

        One-channel sigmoid models: class 1 is z (probabilities: sigmoid z), class 0 is -z
        (probabilities: 1 - sigmoid z)."""
        z = logits[0]
        if self.activation == "sigmoid" and z.shape[0] == 1:
            if score == "logits":
                return z[0] if class_index == 1 else -z[0]
            p = torch.sigmoid(z[0])
            return p if class_index == 1 else 1 - p
        if score == "logits":
            return z[class_index]
        return self.probabilities(logits)[class_index]


# ------------------------------------------------------------------------------------------------
# Images (PIL, Debian's python3-pil) and regions of interest.

# babl's luminance weights for its sRGB space (D50-adapted primaries), measured with
# babl 0.1.98: "RGB double" -> "Y double" of (1,0,0), (0,1,0), (0,0,1).
BABL_LUMINANCE = (0.2224879400, 0.7169038389, 0.0606082572)


def srgb_to_linear(v: np.ndarray) -> np.ndarray:
    """The sRGB transfer function, decoding."""
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(v: np.ndarray) -> np.ndarray:
    """The sRGB transfer function, encoding."""
    return np.where(v <= 0.0031308, v * 12.92, 1.055 * np.power(np.maximum(v, 0), 1 / 2.4) - 0.055)


def rgb_to_babl_y(rgb: np.ndarray) -> np.ndarray:
    """R'G'B' (H,W,3) -> Y' (H,W) as babl converts "R'G'B'" to "Y'": linearise, weight with
    babl's luminance, re-encode with the sRGB curve.  (Not the Rec.709 luma 0.2126 R' + ... on
    non-linear values: babl's Y' is non-linear *luminance*.)"""
    linear = srgb_to_linear(rgb.astype(np.float64))
    return linear_to_srgb(linear @ np.asarray(BABL_LUMINANCE))


def to_channels(pixels: np.ndarray, channels: int) -> np.ndarray:
    """(H,W,1|3) floats -> (H,W,channels): gray replicated to RGB, RGB to babl's Y'."""
    if pixels.shape[2] == channels:
        return pixels
    if channels == 3:
        return np.repeat(pixels, 3, axis=2)
    return rgb_to_babl_y(pixels)[:, :, None]


def load_image(path: str, channels: int) -> np.ndarray:
    """Reads an 8-bit image file as (H,W,channels) float64 v/255; alpha is dropped (not
    composited), gray is replicated for RGB, RGB is converted to babl's Y' for gray."""
    from PIL import Image  # python3-pil
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in ("1", "L", "LA"):
                pixels = np.asarray(img.convert("L"), dtype=np.float64)[:, :, None]
            elif img.mode in ("RGB", "RGBA", "P", "PA"):
                pixels = np.asarray(img.convert("RGB"), dtype=np.float64)
            else:
                raise InputError(f"{path}: only 8-bit gray, RGB and palette images are read "
                                 f"(mode {img.mode})")
    except OSError as e:
        raise InputError(f"cannot read image {path}: {e}") from e
    return to_channels(pixels / 255.0, channels)


def roi_rect(height: int, width: int, x: int, y: int, w: int, h: int) -> np.ndarray:
    """1 inside the rectangle clipped to the image, else 0."""
    roi = np.zeros((height, width))
    roi[max(y, 0):max(min(y + h, height), 0), max(x, 0):max(min(x + w, width), 0)] = 1
    return roi


def roi_pixel(height: int, width: int, x: int, y: int) -> np.ndarray:
    """1 at one pixel; an InputError when it lies outside the image."""
    if not (0 <= x < width and 0 <= y < height):
        raise InputError(f"ROI pixel {x},{y} lies outside the {width}x{height} image")
    roi = np.zeros((height, width))
    roi[y, x] = 1
    return roi


def roi_mask(path: str, height: int, width: int) -> np.ndarray:
    """Weights from a mask image: its Y' in [0,1] (gray v/255); sizes must match."""
    mask = load_image(path, 1)[:, :, 0]
    if mask.shape != (height, width):
        raise InputError(f"ROI mask {path} is {mask.shape[1]}x{mask.shape[0]}, "
                         f"the image {width}x{height}")
    return mask


def connected_components(active: np.ndarray) -> Tuple[np.ndarray, List[int]]:
    """8-connected components of a boolean map.  Returns (ids, sizes): ids[y,x] is -1 or the
    component index, components numbered in row-major order of their first pixel."""
    height, width = active.shape
    ids = np.full(active.shape, -1, dtype=np.int64)
    sizes = []
    for y0 in range(height):
        for x0 in range(width):
            if not active[y0, x0] or ids[y0, x0] >= 0:
                continue
            label, size = len(sizes), 0
            ids[y0, x0] = label
            queue = collections.deque([(y0, x0)])
            while queue:
                y, x = queue.popleft()
                size += 1
                for dy in (-1, 0, 1):
                    for dx in (-1, 0, 1):
                        ny, nx = y + dy, x + dx
                        if (0 <= ny < height and 0 <= nx < width and active[ny, nx]
                                and ids[ny, nx] < 0):
                            ids[ny, nx] = label
                            queue.append((ny, nx))
            sizes.append(size)
    return ids, sizes


def keep_component(roi: np.ndarray, largest: bool) -> np.ndarray:
    """Keeps the weights of the largest (or smallest) 8-connected component of roi > 0, by
    pixel count; equal sizes go to the component whose first pixel comes first in row-major
    order."""
    ids, sizes = connected_components(roi > 0)
    if not sizes:
        return np.zeros_like(roi)
    chosen = 0
    for label, size in enumerate(sizes):
        if (size > sizes[chosen]) if largest else (size < sizes[chosen]):
            chosen = label
    return np.where(ids == chosen, roi, 0.0)


# ------------------------------------------------------------------------------------------------
# Prediction and Seg-Grad-CAM.

def predict(model: SegcamModel, image: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Returns (probabilities (n_classes,H,W), labels (H,W) uint8, first maximum wins)."""
    height, width = image.shape[:2]
    with torch.no_grad():
        logits = model.forward(model.preprocess(image))[model.output]
        probs = model.probabilities(logits)[:, :height, :width].numpy()
    return probs, np.argmax(probs, axis=0).astype(np.uint8)


@dataclasses.dataclass
class Explanation:
    """The result of explain(); map is what --map-npy writes."""

    map: np.ndarray          # (H,W) after resize, crop, ReLU and (optionally) normalisation
    signed_map: np.ndarray   # (H,W) resized and cropped L, before ReLU
    cam: np.ndarray          # (h,w) L of docs/seg-grad-cam.md, 'Definition', step 3
    alpha: Optional[np.ndarray]  # (K,) channel weights after the weights option; None for the
                                 # methods without (hires, xres, layer, eigen)
    raw_max: float           # maximum after ReLU, before normalising
    score: float             # S
    roi_weight: float        # sum of the ROI weights


def block_pool(grad: torch.Tensor, pool: int, mode: str) -> torch.Tensor:
    """Seg-XRes-CAM's gradient: each channel's max or mean over pool x pool blocks (cut short at
    the right and bottom edges), written back over its block (nearest-neighbour upsampling)."""
    out = torch.empty_like(grad)
    h, w = grad.shape[1:]
    for y in range(0, h, pool):
        for x in range(0, w, pool):
            block = grad[:, y:y + pool, x:x + pool]
            value = block.amax(dim=(1, 2)) if mode == "max" else block.mean(dim=(1, 2))
            out[:, y:y + pool, x:x + pool] = value[:, None, None]
    return out


def method_cam(method: str, act: torch.Tensor, grad: torch.Tensor, weights: str, pool: int,
               pool_mode: str) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """(L (h,w), the channel weights alpha (K,) or None) of docs/methods.md from A and G (K,h,w)."""
    sum_a = act.sum(dim=(1, 2))
    if method == "seg-grad-cam":
        alpha = grad.mean(dim=(1, 2))
        alpha = alpha.abs() if weights == "abs" else alpha.clamp(min=0) if weights == "relu" else alpha
    elif method == "gradcam++":
        g2, g3 = grad ** 2, grad ** 3
        a_uv = g2 / (2 * g2 + sum_a[:, None, None] * g3 + GRADCAM_PP_EPS)
        a_uv = torch.where(grad != 0, a_uv, torch.zeros_like(a_uv))
        alpha = (a_uv * grad.clamp(min=0)).sum(dim=(1, 2))
    elif method == "xgrad":
        alpha = (grad * act / (sum_a[:, None, None] + XGRAD_EPS)).sum(dim=(1, 2))
    elif method == "eigen":
        x = act.reshape(act.shape[0], -1).T           # pixels x channels
        x = x - x.mean(dim=0)
        _, _, vt = torch.linalg.svd(x, full_matrices=False)
        v = vt[0] if vt[0].sum() >= 0 else -vt[0]
        return (x @ v).reshape(act.shape[1:]), None
    else:
        elementwise = {"hires": grad, "layer": grad.clamp(min=0)}
        w_uv = block_pool(grad, pool, pool_mode) if method == "xres" else elementwise[method]
        return (w_uv * act).sum(dim=0), None
    return (alpha[:, None, None] * act).sum(dim=0), alpha


SCORE_CAM_EPS = 1e-8  # pytorch-grad-cam's guard in Score-CAM's min-max normalisation


def rerun_cam(model: SegcamModel, image: np.ndarray, layer: str, act: torch.Tensor,
              roi_score, s: float, method: str, max_channels: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Score-CAM or Ablation-CAM (docs/methods.md): (L (h,w), the channel weights (K,)).

    act is the target's (1,K,h,w) activation; roi_score(logits) gives S.  Channels: all, or the
    max_channels of highest mean activation (ties: lower index), the others weighing 0."""
    height, width = image.shape[:2]
    k_all = act.shape[1]
    means = act[0].mean(dim=(1, 2)).tolist()
    channels = sorted(range(k_all), key=lambda k: (-means[k], k))
    channels = channels[:max_channels] if max_channels > 0 else channels
    scores = []
    with torch.no_grad():
        for k in channels:
            if method == "ablation":
                ablated = act.clone()
                ablated[0, k] = 0
                logits = model.forward(model.preprocess(image), overrides={layer: ablated})[model.output]
            else:
                padded = model.preprocess(image).shape[-2:]
                up = F.interpolate(act[:, k:k + 1], size=padded, mode="bilinear",
                                   align_corners=False)[0, 0, :height, :width]
                h = ((up - up.min()) / (up.max() - up.min() + SCORE_CAM_EPS)).numpy()[:, :, None]
                mean = np.asarray(model.mean)
                logits = model.forward(model.preprocess(mean + (image - mean) * h))[model.output]
            scores.append(float(roi_score(logits)))
    weights = torch.zeros(k_all, dtype=act.dtype)
    scores_t = torch.tensor(scores, dtype=act.dtype)
    if method == "ablation":
        weights[channels] = (s - scores_t) / s if s != 0 else s - scores_t
    else:
        weights[channels] = torch.softmax(scores_t, dim=0)
    return (weights[:, None, None] * act[0]).sum(dim=0), weights


def explain(model: SegcamModel, image: np.ndarray, class_index: int, layer: Optional[str] = None,
            roi: Optional[np.ndarray] = None, score: str = "logits", weights: str = "mean",
            normalize: bool = True, method: str = "seg-grad-cam", pool: int = 2,
            pool_mode: str = "max", max_channels: int = 0) -> Explanation:
    """Seg-Grad-CAM exactly as docs/seg-grad-cam.md, 'Definition', or another method of
    docs/methods.md.  image is (H,W,C) in [0,1]; roi (H,W) weights or None for the whole image."""
    height, width = image.shape[:2]
    layer = layer or model.default_layer
    if layer not in model.by_name:
        raise InputError(f"unknown layer {layer!r}")
    if not 0 <= class_index < len(model.classes):
        raise InputError(f"class index {class_index} out of range")
    if score not in SCORES or weights not in WEIGHTS or method not in METHODS:
        raise UsageError(f"bad score {score!r}, weights {weights!r} or method {method!r}")
    if pool < 1 or pool_mode not in POOL_MODES:
        raise UsageError(f"bad pool {pool} or pool mode {pool_mode!r}")
    roi = np.ones((height, width)) if roi is None else roi
    if roi.sum() <= 0:
        raise InputError("empty ROI")

    values = model.forward(model.preprocess(image), leaf=layer)
    activation, logits = values[layer], values[model.output]
    padded_h, padded_w = logits.shape[-2:]
    weight_map = torch.zeros((padded_h, padded_w), dtype=model.dtype)
    weight_map[:height, :width] = torch.as_tensor(roi, dtype=model.dtype)
    s = (weight_map * model.class_score_map(logits, class_index, score)).sum()
    (grad,) = torch.autograd.grad(s, activation, allow_unused=True)
    if grad is None:
        grad = torch.zeros_like(activation)

    if method in RERUN_METHODS:
        def roi_score(z: torch.Tensor) -> torch.Tensor:
            return (weight_map * model.class_score_map(z, class_index, score)).sum()
        cam, alpha = rerun_cam(model, image, layer, activation.detach(), roi_score, float(s),
                               method, max_channels)
    else:
        cam, alpha = method_cam(method, activation[0].detach(), grad[0], weights, pool, pool_mode)
    resized = F.interpolate(cam[None, None], size=(padded_h, padded_w), mode="bilinear",
                            align_corners=False)[0, 0]
    signed = resized[:height, :width]
    heat = signed.clamp(min=0)
    raw_max = float(heat.max())
    if normalize and raw_max > 0:
        heat = heat / raw_max
    return Explanation(map=heat.numpy(), signed_map=signed.numpy(), cam=cam.numpy(),
                       alpha=None if alpha is None else alpha.numpy(), raw_max=raw_max, score=float(s),
                       roi_weight=float(roi.sum()))


# ------------------------------------------------------------------------------------------------
# Command line.

_MODEL_CACHE: Dict[Tuple[str, str], SegcamModel] = {}


def load_model_cached(path: str, dtype_name: str) -> SegcamModel:
    """Loads a model once per (path, dtype) within this process."""
    key = (path, dtype_name)
    if key not in _MODEL_CACHE:
        _MODEL_CACHE[key] = SegcamModel.load(path, DTYPES[dtype_name])
    return _MODEL_CACHE[key]


def _ints(text: str, count: int, what: str) -> List[int]:
    """Parses 'a,b[,c,d]' for an option."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != count:
        raise UsageError(f"{what} needs {count} comma-separated integers, got {text!r}")
    return values


def build_roi(args, model: SegcamModel, image: np.ndarray, class_index: int) -> np.ndarray:
    """The ROI weights the explain options describe.

    A base region (--roi-mask, --roi-rect or --roi-pixel; whole image without one), then
    --roi-class multiplies by pixels predicted as the class and --roi-component keeps the
    largest/smallest 8-connected component of those predicted pixels within the base region.
    """
    height, width = image.shape[:2]
    bases = [o for o in ("roi_mask", "roi_rect", "roi_pixel") if getattr(args, o) is not None]
    if len(bases) > 1:
        raise UsageError("give at most one of --roi-mask, --roi-rect, --roi-pixel")
    if args.roi_mask is not None:
        roi = roi_mask(args.roi_mask, height, width)
    elif args.roi_rect is not None:
        roi = roi_rect(height, width, *_ints(args.roi_rect, 4, "--roi-rect"))
    elif args.roi_pixel is not None:
        roi = roi_pixel(height, width, *_ints(args.roi_pixel, 2, "--roi-pixel"))
    else:
        roi = np.ones((height, width))
    if args.roi_class or args.roi_component:
        _, labels = predict(model, image)
        roi = roi * (labels == class_index)
    if args.roi_component:
        roi = keep_component(roi, args.roi_component == "largest")
    return roi


def run_explain(args, dtype_name: Optional[str] = None) -> Explanation:
    """Runs `explain` for parsed arguments (no files written)."""
    model = load_model_cached(args.model, dtype_name or args.dtype)
    image = load_image(args.image, model.channels)
    class_index = model.class_index(args.class_)
    roi = build_roi(args, model, image, class_index)
    return explain(model, image, class_index, args.layer, roi, args.score, args.weights,
                   not args.no_normalize, args.method, args.pool, args.pool_mode,
                   args.max_channels)


def run_predict(args, dtype_name: Optional[str] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Runs `predict` for parsed arguments; returns (probabilities, labels)."""
    model = load_model_cached(args.model, dtype_name or args.dtype)
    return predict(model, load_image(args.image, model.channels))


def _save_png(path: str, pixels: np.ndarray) -> None:
    """Saves (H,W) or (H,W,3) uint8 pixels."""
    from PIL import Image
    Image.fromarray(np.ascontiguousarray(pixels)).save(path)


def _hex_color(text: str) -> List[int]:
    """'#rrggbb' -> [r, g, b]."""
    return [int(text[i:i + 2], 16) for i in (1, 3, 5)]


class _Parser(argparse.ArgumentParser):
    """argparse with the command line's exit status 1 for usage errors (tools/cli.h)."""

    def error(self, message):
        raise UsageError(message)


def make_parser() -> argparse.ArgumentParser:
    """The command-line parser (shared with crosscheck.py)."""
    parser = _Parser(prog="segcam_torch.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="float64")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    info = sub.add_parser("info", help="list nodes and their shapes for a 64x64 image")
    info.add_argument("model")

    pred = sub.add_parser("predict", help="segment an image")
    pred.add_argument("--model", required=True)
    pred.add_argument("-o", "--output", help="segmentation PNG (class colours)")
    pred.add_argument("--probabilities", help="probabilities .npy, float32 (C,H,W)")
    pred.add_argument("image")

    exp = sub.add_parser("explain", help="Seg-Grad-CAM map for a class")
    exp.add_argument("--model", required=True)
    exp.add_argument("--class", dest="class_", required=True)
    exp.add_argument("--layer")
    exp.add_argument("--roi-mask")
    exp.add_argument("--roi-rect")
    exp.add_argument("--roi-pixel")
    exp.add_argument("--roi-class", action="store_true")
    exp.add_argument("--roi-component", choices=("largest", "smallest"))
    exp.add_argument("--score", choices=SCORES, default="logits")
    exp.add_argument("--weights", choices=WEIGHTS, default="mean")
    exp.add_argument("--method", choices=METHODS, default="seg-grad-cam")
    exp.add_argument("--pool", type=int, default=2)
    exp.add_argument("--pool-mode", choices=POOL_MODES, default="max")
    exp.add_argument("--max-channels", type=int, default=0)
    exp.add_argument("--no-normalize", action="store_true")
    exp.add_argument("--colormap", help="accepted for compatibility; -o is always grayscale")
    exp.add_argument("-o", "--output", help="map as a grayscale PNG, round(255 v)")
    exp.add_argument("--overlay", help="accepted for compatibility; not written")
    exp.add_argument("--map-npy", help="map .npy, float32 (H,W)")
    exp.add_argument("image")
    return parser


def main(argv: List[str]) -> int:
    """Command-line entry point; returns the exit status."""
    try:
        args = make_parser().parse_args(argv)
        if args.command == "info":
            model = SegcamModel.load(args.model, DTYPES[args.dtype])
            values = model.forward(model.preprocess(np.zeros((64, 64, model.channels))))
            for node in model.nodes:
                print(f"{node['name']:24s} {node['op']:18s} {tuple(values[node['name']].shape)}")
        elif args.command == "predict":
            probs, labels = run_predict(args)
            if args.probabilities:
                np.save(args.probabilities, probs.astype(np.float32))
            if args.output:
                model = load_model_cached(args.model, args.dtype)
                palette = np.array([_hex_color(c.get("color", "#000000")) for c in model.classes],
                                   dtype=np.uint8)
                _save_png(args.output, palette[labels])
        elif args.command == "explain":
            result = run_explain(args)
            if args.map_npy:
                np.save(args.map_npy, result.map.astype(np.float32))
            if args.output:
                _save_png(args.output,
                          np.round(255 * np.clip(result.map, 0, 1)).astype(np.uint8))
            print(f"raw max {result.raw_max:.9g}, score {result.score:.9g}, "
                  f"ROI weight {result.roi_weight:.9g}")
        else:
            raise UsageError("a command is required: info, predict or explain")
    except SegcamError as e:
        print(f"segcam_torch: {e}", file=sys.stderr)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
