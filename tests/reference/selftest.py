#!/usr/bin/python3
"""selftest.py — checks that the PyTorch reference (segcam_torch.py) can be trusted.

  (a) the graph interpreter against hand-built nn.Modules loaded with the same weights
      (load_state_dict: tensor names are state_dict keys), for all four test models, and the
      input preprocessing against a NumPy version;
  (b) Seg-Grad-CAM against a manual computation: dS/dA by central finite differences (perturbing
      A through the interpreter's overrides), alpha, L, a NumPy half-pixel bilinear resize, crop,
      ReLU and normalisation; on a conv-only model (S linear in A) for every score and weights
      mode, and alpha on the U-Net with batch norm, ReLU and max-pool;
  (c) properties: the pre-ReLU map is linear in the ROI weights; a one-channel sigmoid model's
      class 0 map is minus its class 1 map; probability-mode maps of all classes sum to zero;
      the CAM methods (docs/methods.md) against their limits and NumPy versions of their formulas;
  (d) ROI helpers (8-connectivity, tie-breaking, clipping), babl's Y' conversion, safetensors
      round trips with F16/BF16 at unaligned offsets.

Exit status 0 when everything passes (77 when python3-torch is missing); the last line is
"N passed, M failed".
"""

import os
import sys
import tempfile
import traceback

sys.dont_write_bytecode = True  # keep the source tree clean when run from meson
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import needs  # noqa: E402

needs.modules(("numpy", "python3-torch"), ("torch", "python3-torch"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import make_models as mm  # noqa: E402
import segcam_torch as st  # noqa: E402
from segcam_file import GraphBuilder, read_safetensors, write_safetensors  # noqa: E402

CHECKS = []


def check(function):
    """Registers a check: a function that raises AssertionError on failure and may return a
    short detail string."""
    CHECKS.append(function)
    return function


def assert_close(actual, expected, rtol: float, what: str) -> str:
    """Asserts max|actual - expected| <= rtol * max|expected|; returns the relative error."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    scale = max(float(np.abs(expected).max()), 1e-300)
    rel = float(np.abs(actual - expected).max()) / scale
    assert rel <= rtol, f"{what}: relative error {rel:.2e} > {rtol:.0e}"
    return f"{rel:.1e}"


# ------------------------------------------------------------------------------------------------
# (a) hand-built modules

class Holder(nn.Module):
    """A module whose children are given as keyword arguments (names become state_dict
    prefixes)."""

    def __init__(self, **children):
        super().__init__()
        for name, child in children.items():
            setattr(self, name, child)


def conv_bn(cin, cout, suffix="", **conv) -> Holder:
    """conv{suffix} + bn{suffix} without bias, as GraphBuilder.conv_bn_relu writes them."""
    conv.setdefault("padding", 1)
    bias = conv.pop("bias", False)
    return Holder(**{f"conv{suffix}": nn.Conv2d(cin, cout, 3, bias=bias, **conv),
                     f"bn{suffix}": nn.BatchNorm2d(cout)})


def double_conv(cin, cout, first_bias=False, padding=1) -> Holder:
    """Two conv+BN pairs (conv1/bn1, conv2/bn2)."""
    return Holder(conv1=nn.Conv2d(cin, cout, 3, padding=padding, bias=first_bias),
                  bn1=nn.BatchNorm2d(cout),
                  conv2=nn.Conv2d(cout, cout, 3, padding=padding, bias=False),
                  bn2=nn.BatchNorm2d(cout))


def run_double(m: Holder, x):
    """relu(bn2(conv2(relu(bn1(conv1 x)))))."""
    return F.relu(m.bn2(m.conv2(F.relu(m.bn1(m.conv1(x))))))


class UNet(nn.Module):
    """make_models.build_unet written as an ordinary PyTorch module."""

    def __init__(self, cin, n_classes, transposed):
        super().__init__()
        self.transposed = transposed
        self.enc1 = double_conv(cin, 8, first_bias=True)
        self.enc2 = double_conv(8, 16, padding="same")
        self.bottleneck = double_conv(16, 32)
        if transposed:
            self.up2 = nn.ConvTranspose2d(32, 16, 2, stride=2)
            self.up1 = nn.ConvTranspose2d(16, 8, 3, stride=2, padding=1, output_padding=1)
        self.dec2 = double_conv(32 if transposed else 48, 16)
        self.dec1 = double_conv(16 if transposed else 24, 8)
        self.head = nn.Conv2d(8, n_classes, 1)

    def upsample(self, name, x):
        if self.transposed:
            return getattr(self, name)(x)
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)

    def forward(self, x):
        e1 = run_double(self.enc1, x)
        e2 = run_double(self.enc2, F.max_pool2d(e1, 2))
        b = run_double(self.bottleneck, F.max_pool2d(e2, 2, 2))
        d2 = run_double(self.dec2, torch.cat([self.upsample("up2", b), e2], 1))
        d1 = run_double(self.dec1, torch.cat([self.upsample("up1", d2), e1], 1))
        return self.head(d1)


class ResNetIsh(nn.Module):
    """make_models.build_resnet_ish written as an ordinary PyTorch module."""

    def __init__(self):
        super().__init__()
        self.stem = conv_bn(3, 8)
        self.block1 = Holder(conv1=nn.Conv2d(8, 8, 3, padding="same", bias=False),
                             bn1=nn.BatchNorm2d(8),
                             conv2=nn.Conv2d(8, 8, 3, padding=1, bias=False),
                             bn2=nn.BatchNorm2d(8))
        self.down = conv_bn(8, 16, stride=2)
        self.block2 = Holder(conv1=nn.Conv2d(16, 16, 3, padding="same", dilation=2, bias=False),
                             bn1=nn.BatchNorm2d(16),
                             conv2=nn.Conv2d(16, 16, 3, bias=False),
                             bn2=nn.BatchNorm2d(16))
        self.pad = nn.ZeroPad2d((1, 1, 0, 2))  # left, right, top, bottom = [t=0,l=1,b=2,r=1]
        self.pool = nn.MaxPool2d(2, 2, padding=1, ceil_mode=True)
        self.ctx = Holder(conv=nn.Conv2d(16, 16, 1))
        self.fuse = conv_bn(40, 16)
        self.head = nn.Conv2d(16, 3, 1)

    def forward(self, x):
        stem = F.relu(self.stem.bn(self.stem.conv(x)))
        b1 = self.block1
        block1 = F.relu(b1.bn2(b1.conv2(F.relu(b1.bn1(b1.conv1(stem))))) + stem)
        down = F.relu(self.down.bn(self.down.conv(block1)))
        b2 = self.block2
        y = F.relu(b2.bn1(b2.conv1(down)))
        block2 = F.relu(b2.bn2(b2.conv2(self.pad(y))) + down)
        ctx = torch.sigmoid(self.ctx.conv(self.pool(block2)))
        ctx = F.interpolate(ctx, size=block2.shape[-2:], mode="nearest")
        up = F.interpolate(torch.cat([block2, ctx], 1), scale_factor=2, mode="bilinear",
                           align_corners=False)
        fused = torch.cat([up, block1], 1)
        return self.head(F.relu(self.fuse.bn(self.fuse.conv(fused))))


class SigmoidNet(nn.Module):
    """make_models.build_sigmoid written as an ordinary PyTorch module."""

    def __init__(self):
        super().__init__()
        self.enc = conv_bn(3, 8, "1")
        self.mid = conv_bn(8, 16, "1")
        self.dec = conv_bn(24, 8, "1")
        self.head = nn.Conv2d(8, 1, 1)

    def forward(self, x):
        e = F.relu(self.enc.bn1(self.enc.conv1(x)))
        m = F.relu(self.mid.bn1(self.mid.conv1(F.max_pool2d(e, 2))))
        u = F.interpolate(m, scale_factor=2, mode="nearest")
        return self.head(F.relu(self.dec.bn1(self.dec.conv1(torch.cat([u, e], 1)))))


HAND_BUILT = {
    "unet-bn": lambda: UNet(3, 3, transposed=False),
    "unet-convt": lambda: UNet(1, 4, transposed=True),
    "resnet-ish": ResNetIsh,
    "sigmoid": SigmoidNet,
}

_DATA = {}


def test_data() -> dict:
    """Models and images written once into a temporary folder."""
    if not _DATA:
        folder = tempfile.mkdtemp(prefix="segcam-selftest-")
        _DATA.update(mm.make_all(folder))
    return _DATA


def hand_built_module(name: str, path: str) -> nn.Module:
    """The hand-built module for a test model, with the model file's weights."""
    tensors, _ = read_safetensors(path)
    module = HAND_BUILT[name]()
    result = module.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()},
                                    strict=False)
    assert not result.unexpected_keys, f"unexpected keys {result.unexpected_keys}"
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    assert not missing, f"missing keys {missing}"
    return module.double().eval()


def make_interpreter_check(name: str):
    """(a) for one model: interpreter logits == hand-built module logits on every image."""
    def interpreter_matches_module():
        data = test_data()
        model = st.SegcamModel.load(data["models"][name])
        module = hand_built_module(name, data["models"][name])
        details = []
        for image_path in data["images"].values():
            x = model.preprocess(st.load_image(image_path, model.channels))
            with torch.no_grad():
                details.append(assert_close(model.forward(x)[model.output], module(x), 1e-12,
                                            os.path.basename(image_path)))
        return "max rel. error " + max(details)
    interpreter_matches_module.__name__ = f"a: interpreter == nn.Module ({name})"
    return interpreter_matches_module


for _name in HAND_BUILT:
    check(make_interpreter_check(_name))


@check
def preprocessing_matches_numpy():
    """(a) (x - mean) / std, then edge replication at the bottom and right."""
    model = st.SegcamModel.load(test_data()["models"]["unet-bn"])
    image = np.random.RandomState(1).uniform(0, 1, (13, 10, 3))
    expected = (image - np.array(model.mean)) / np.array(model.std)
    expected = np.pad(expected, ((0, 3), (0, 2), (0, 0)), mode="edge").transpose(2, 0, 1)
    return assert_close(model.preprocess(image)[0], expected, 1e-15, "preprocess")


# ------------------------------------------------------------------------------------------------
# (b) Seg-Grad-CAM against finite differences

def resize_bilinear(image: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Bilinear resize with half-pixel centres (cv2 INTER_LINEAR, align_corners=False)."""
    def taps(n_out, n_in):
        src = np.maximum((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0.0)
        i0 = np.minimum(np.floor(src).astype(int), n_in - 1)
        return i0, np.minimum(i0 + 1, n_in - 1), src - i0
    y0, y1, fy = taps(out_h, image.shape[0])
    x0, x1, fx = taps(out_w, image.shape[1])
    rows0, rows1 = image[y0], image[y1]
    top = rows0[:, x0] * (1 - fx) + rows0[:, x1] * fx
    bottom = rows1[:, x0] * (1 - fx) + rows1[:, x1] * fx
    return top * (1 - fy)[:, None] + bottom * fy[:, None]


def numpy_score(logits: np.ndarray, class_index: int, score: str, weights: np.ndarray) -> float:
    """S computed with NumPy from (C,H,W) logits of a softmax model."""
    z = logits[class_index]
    if score == "probabilities":
        e = np.exp(logits - logits.max(axis=0))
        z = e[class_index] / e.sum(axis=0)
    return float((weights * z).sum())


def finite_difference_gradient(model, x, layer, class_index, score, weights, eps, elements=None):
    """dS/dA by central differences, perturbing A through forward(overrides=...).  elements:
    flat indices to perturb (all when None); returns (A, G) with G zero elsewhere."""
    with torch.no_grad():
        activation = model.forward(x)[layer]
        grad = torch.zeros_like(activation)
        flat_a, flat_g = activation.reshape(-1), grad.reshape(-1)
        indices = range(flat_a.numel()) if elements is None else elements
        for i in indices:
            values = []
            for sign in (1, -1):
                perturbed = flat_a.clone()
                perturbed[i] += sign * eps
                logits = model.forward(x, overrides={layer: perturbed.view_as(activation)})
                values.append(numpy_score(logits[model.output][0].numpy(), class_index, score,
                                          weights))
            flat_g[i] = (values[0] - values[1]) / (2 * eps)
    return activation[0].numpy(), grad[0].numpy()


def manual_map(activation, grad, weights_mode, height, width, padded):
    """Steps 2-4 of docs/seg-grad-cam.md, 'Definition', with NumPy: returns (alpha, signed map, final map, raw max)."""
    alpha = grad.mean(axis=(1, 2))
    alpha = {"mean": alpha, "abs": np.abs(alpha), "relu": np.maximum(alpha, 0)}[weights_mode]
    cam = np.einsum("k,khw->hw", alpha, activation)
    signed = resize_bilinear(cam, *padded)[:height, :width]
    heat = np.maximum(signed, 0)
    raw_max = heat.max()
    return alpha, signed, heat / raw_max if raw_max > 0 else heat, raw_max


def conv_only_model() -> st.SegcamModel:
    """input -> conv -> strided conv (the target) -> conv -> bilinear x2 -> 1x1 head; S is
    linear in the target's activations."""
    g = GraphBuilder(np.random.RandomState(7), 3)
    x = g.conv("c1", "input", 4, bias=True)
    target = g.conv("c2", x, 5, stride=2, padding=[1, 1, 1, 1])
    x = g.conv("c3", target, 6, padding="same", bias=True)
    x = g.simple("up", "upsample", [x], scale=[2, 2], mode="bilinear")
    g.conv("head", x, 3, kernel=1, padding=None, bias=True)
    graph = {"input": {"channels": 3, "colorspace": "rgb", "mean": [0.4, 0.5, 0.6],
                       "std": [0.2, 0.25, 0.3], "size_multiple": 4},
             "classes": [{"name": n, "color": "#000000"} for n in ("a", "b", "c")],
             "output": "head", "output_activation": "softmax", "default_layer": "c2",
             "nodes": g.nodes}
    return st.SegcamModel(graph, g.tensors)


@check
def conv_only_map_matches_finite_differences():
    """(b) every score and weights mode, with a fractional ROI that is zero in places."""
    model = conv_only_model()
    rng = np.random.RandomState(3)
    height, width = 15, 18                      # padded to 16 x 20: the padding matters
    image = rng.uniform(0, 1, (height, width, 3))
    roi = np.clip(rng.uniform(-0.5, 1.2, (height, width)), 0, 1)
    x = model.preprocess(image)
    padded = tuple(x.shape[-2:])
    roi_padded = np.zeros(padded)
    roi_padded[:height, :width] = roi
    worst = []
    for score, eps in (("logits", 1e-2), ("probabilities", 1e-5)):
        activation, grad = finite_difference_gradient(model, x, "c2", 1, score, roi_padded, eps)
        for weights in st.WEIGHTS:
            alpha, signed, heat, raw_max = manual_map(activation, grad, weights, height, width,
                                                      padded)
            result = st.explain(model, image, 1, "c2", roi, score, weights)
            what = f"{score}/{weights}"
            worst.append(assert_close(result.alpha, alpha, 1e-7, what + " alpha"))
            worst.append(assert_close(result.signed_map, signed, 1e-7, what + " signed map"))
            worst.append(assert_close(result.map, heat, 1e-7, what + " map"))
            assert abs(result.raw_max - raw_max) <= 1e-7 * raw_max, what + " raw max"
    return "max rel. error " + max(worst)


@check
def unet_alpha_matches_finite_differences():
    """(b) alpha through batch norm, ReLU, max-pool, bilinear upsampling and concat."""
    model = st.SegcamModel.load(test_data()["models"]["unet-bn"])
    image = np.random.RandomState(4).uniform(0, 1, (15, 13, 3))
    x = model.preprocess(image)
    roi_padded = np.zeros(tuple(x.shape[-2:]))
    roi_padded[:15, :13] = 1
    worst = []
    for score in st.SCORES:
        _, grad = finite_difference_gradient(model, x, "bottleneck.relu2", 2, score, roi_padded,
                                             1e-6)
        result = st.explain(model, image, 2, "bottleneck.relu2", None, score, "mean")
        worst.append(assert_close(result.alpha, grad.mean(axis=(1, 2)), 1e-6, score))
    return "max rel. error " + max(worst)


@check
def resize_matches_known_values():
    """(b) the NumPy resize itself: 2 -> 4 samples at half-pixel centres."""
    out = resize_bilinear(np.array([[0.0, 1.0]]), 1, 4)
    return assert_close(out, [[0.0, 0.25, 0.75, 1.0]], 1e-15, "resize")


@check
def asymmetric_upsample_matches_known_values():
    """(b) bilinear_asymmetric, worked by hand: source i / scale, the last pixel repeated past
    the end, the size ratio without a factor, and a whole image of unchanged size as it is."""
    def up(values, **attrs):
        x = torch.tensor([[[values]]], dtype=torch.float64)
        node = dict(name="up", op="upsample", mode="bilinear_asymmetric", **attrs)
        return st.op_upsample(None, node, [x])[0, 0].numpy()
    row = [0.0, 1.0, 4.0]
    cases = [(up(row, scale=[1, 2]), [[0, 0.5, 1, 2.5, 4, 4]]),
             (up([0.0, 1.0], scale=[1, 2.5]), [[0, 0.4, 0.8, 1, 1]]),
             (up(row, size=[1, 2]), [[0, 2.5]]),
             (up(row, scale=[1.1, 1.1]), [row])]
    for i, (actual, expected) in enumerate(cases):
        assert_close(actual, expected, 1e-15, f"case {i}")
    return f"{len(cases)} cases"


@check
def same_pooling_matches_known_values():
    """(b) auto_pad on the row 1 3 2, window 1 x 2, stride 1: the padding pixel after it
    (same_upper) or before it (same_lower), counted in the mean only with count_include_pad."""
    def pool(op, mode, **attrs):
        x = torch.tensor([[[[1.0, 3.0, 2.0]]]], dtype=torch.float64)
        node = dict(name="p", op=op, kernel=[1, 2], stride=[1, 1], auto_pad=mode, **attrs)
        return st.OPS[op](None, node, [x])[0, 0].numpy()
    cases = [(pool("maxpool2d", "same_upper"), [[3, 3, 2]]),
             (pool("maxpool2d", "same_lower"), [[1, 3, 3]]),
             (pool("avgpool2d", "same_upper"), [[2, 2.5, 1]]),
             (pool("avgpool2d", "same_upper", count_include_pad=False), [[2, 2.5, 2]]),
             (pool("avgpool2d", "same_lower", count_include_pad=False), [[1, 2, 2.5]])]
    for i, (actual, expected) in enumerate(cases):
        assert_close(actual, expected, 1e-15, f"case {i}")
    return f"{len(cases)} cases"


# ------------------------------------------------------------------------------------------------
# (c) properties

@check
def map_is_linear_in_roi_weights():
    """(c) L(0.3 M1 + 0.6 M2) = 0.3 L(M1) + 0.6 L(M2), before the ReLU, for both scores."""
    data = test_data()
    model = st.SegcamModel.load(data["models"]["unet-bn"])
    image = st.load_image(data["images"]["shapes-37x29"], 3)
    rng = np.random.RandomState(5)
    m1, m2 = rng.uniform(0, 1, (2,) + image.shape[:2])
    m2[:, :10] = 0
    worst = []
    for score in st.SCORES:
        def run(roi):
            return st.explain(model, image, 1, "enc2.relu2", roi, score, "mean")
        a, b, ab = run(m1), run(m2), run(0.3 * m1 + 0.6 * m2)
        worst.append(assert_close(ab.signed_map, 0.3 * a.signed_map + 0.6 * b.signed_map,
                                  1e-10, score + " map"))
        worst.append(assert_close(ab.cam, 0.3 * a.cam + 0.6 * b.cam, 1e-10, score + " cam"))
        worst.append(assert_close(ab.score, 0.3 * a.score + 0.6 * b.score, 1e-10,
                                  score + " S"))
    return "max rel. error " + max(worst)


@check
def methods_match_their_limits_and_numpy():
    """(c) CAM methods: xres with one mean block is Seg-Grad-CAM and with 1x1 blocks HiResCAM;
    on random A and G, Grad-CAM++, XGrad-CAM and Layer-CAM against NumPy, element by element,
    and EigenCAM's axis against the covariance's eigh."""
    data = test_data()
    model = st.SegcamModel.load(data["models"]["unet-bn"])
    image = st.load_image(data["images"]["shapes-37x29"], 3)
    worst = []

    def run(method, **kw):
        return st.explain(model, image, 1, "enc2.relu2", None, "logits", "mean", True, method, **kw)
    grad_cam, hires = run("seg-grad-cam"), run("hires")
    side = max(hires.cam.shape)
    worst.append(assert_close(run("xres", pool=side, pool_mode="mean").cam, grad_cam.cam, 1e-12,
                              "xres whole"))
    worst.append(assert_close(run("xres", pool=1).cam, hires.cam, 0, "xres 1x1"))
    rng = np.random.RandomState(8)
    a, g = rng.uniform(0, 2, (5, 6, 7)), rng.normal(size=(5, 6, 7))
    sum_a = a.sum(axis=(1, 2))
    alpha_pp = np.zeros(5)
    for k, v, u in np.ndindex(a.shape):
        if g[k, v, u] > 0:
            x = g[k, v, u]
            alpha_pp[k] += x * x / (2 * x * x + sum_a[k] * x ** 3 + 1e-6) * x
    alpha_x = (g * a).sum(axis=(1, 2)) / (sum_a + 1e-7)
    expected = {"gradcam++": np.einsum("k,kvu->vu", alpha_pp, a),
                "xgrad": np.einsum("k,kvu->vu", alpha_x, a),
                "layer": (np.maximum(g, 0) * a).sum(axis=0)}
    for method, want in expected.items():
        cam, _ = st.method_cam(method, torch.tensor(a), torch.tensor(g), "mean", 2, "max")
        worst.append(assert_close(cam.numpy(), want, 1e-12, method))
    x = a.reshape(5, -1).T - a.reshape(5, -1).T.mean(axis=0)
    v = np.linalg.eigh(x.T @ x)[1][:, -1]
    v = v if v.sum() >= 0 else -v
    cam, _ = st.method_cam("eigen", torch.tensor(a), torch.tensor(g), "mean", 2, "max")
    worst.append(assert_close(cam.numpy(), (x @ v).reshape(6, 7), 1e-10, "eigen"))
    return "max rel. error " + max(worst)


@check
def sigmoid_background_is_negated_foreground():
    """(c) one-channel sigmoid: class 0 (-z, or 1 - sigmoid z) gives minus class 1's map."""
    data = test_data()
    model = st.SegcamModel.load(data["models"]["sigmoid"])
    image = st.load_image(data["images"]["shapes-37x29"], 3)
    roi = st.roi_rect(29, 37, 5, 4, 20, 12)
    worst = []
    for score in st.SCORES:
        fg = st.explain(model, image, 1, None, roi, score, "mean")
        bg = st.explain(model, image, 0, None, roi, score, "mean")
        worst.append(assert_close(bg.signed_map, -fg.signed_map, 1e-12, score))
        assert fg.raw_max > 0 and bg.raw_max > 0, "both maps are zero"
    probs, labels = st.predict(model, image)
    worst.append(assert_close(probs.sum(axis=0), np.ones(probs.shape[1:]), 1e-12, "p sum"))
    assert ((probs[1] > 0.5) == (labels == 1)).all(), "labels disagree with probabilities"
    return "max rel. error " + max(worst)


@check
def probability_maps_sum_to_zero():
    """(c) softmax probabilities sum to 1, so the classes' signed probability maps sum to 0."""
    data = test_data()
    model = st.SegcamModel.load(data["models"]["resnet-ish"])
    image = st.load_image(data["images"]["rgba-45x33"], 3)
    maps = [st.explain(model, image, c, "down.relu", None, "probabilities").signed_map
            for c in range(len(model.classes))]
    scale = max(np.abs(m).max() for m in maps)
    rel = np.abs(np.sum(maps, axis=0)).max() / scale
    assert rel < 1e-10, f"sum is {rel:.1e} of the largest map"
    return f"sum {rel:.1e} of the largest map"


# ------------------------------------------------------------------------------------------------
# (d) helpers

@check
def components_and_ties():
    """(d) 8-connectivity, size by pixel count, ties to the first component in row-major
    order, weights kept."""
    roi = np.zeros((5, 7))               # components in row-major order of first pixels:
    roi[0, 0] = roi[0, 1] = 1            # first, size 2
    roi[0, 5] = roi[1, 6] = 0.5          # second, size 2, joined only diagonally
    roi[3, 0] = roi[4, 1] = 0.25         # third, size 2, joined only diagonally
    roi[3, 3:6] = 1                      # fourth, size 3
    largest = st.keep_component(roi, True)
    assert (largest > 0).sum() == 3 and largest[3, 3:6].all(), "largest"
    smallest = st.keep_component(roi, False)
    assert (smallest > 0).sum() == 2 and smallest[0, 0] == 1 and smallest[0, 1] == 1, \
        "smallest: the first of three size-2 components is the one at (0,0)"
    roi[0, 0] = roi[0, 1] = 0
    smallest = st.keep_component(roi, False)
    assert smallest[0, 5] == 0.5 and smallest[1, 6] == 0.5 and (smallest > 0).sum() == 2, \
        "diagonal neighbours form one component and keep their weights"
    assert not st.keep_component(np.zeros((3, 3)), True).any(), "empty"
    return "ok"


@check
def rect_and_pixel_rois():
    """(d) rectangles are clipped to the image; a pixel outside is an error."""
    assert st.roi_rect(4, 5, 3, 2, 10, 10).sum() == 4, "clipped at the bottom right"
    assert st.roi_rect(4, 5, -2, -1, 3, 2).sum() == 1, "clipped at the top left"
    assert st.roi_rect(4, 5, 6, 0, 2, 2).sum() == 0, "outside"
    try:
        st.roi_pixel(4, 5, 5, 0)
    except st.InputError:
        return "ok"
    raise AssertionError("pixel outside accepted")


@check
def babl_y_prime():
    """(d) R'G'B' -> Y' as babl 0.1.98 converts "R'G'B' u8" to "Y' float" (values printed by
    a C program calling babl_process)."""
    rgb = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [128, 64, 32], [10, 200, 100],
                    [77, 153, 230], [50, 50, 50]]) / 255.0
    babl = [0.509023, 0.863392, 0.273076, 0.323940, 0.681773, 0.57743251, 0.196079]
    return assert_close(st.rgb_to_babl_y(rgb[None])[0], babl, 2e-6, "Y'")


@check
def safetensors_round_trip():
    """(d) F32, F16 and BF16 tensors (an odd-sized F16 leaves the next one unaligned)."""
    rng = np.random.RandomState(6)
    tensors = {"a": rng.normal(size=(3,)), "b": rng.normal(size=(2, 3)),
               "c": rng.normal(size=(4, 1, 1, 2))}
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "t.safetensors")
        write_safetensors(path, tensors, {"k": "v"}, {"a": "F16", "c": "BF16"})
        read, metadata = read_safetensors(path)
        with open(path, "rb") as f:
            header_len = int.from_bytes(f.read(8), "little")
    assert metadata == {"k": "v"} and header_len % 8 == 0, "metadata / header padding"
    assert_close(read["a"], tensors["a"], 1e-3, "F16")
    assert_close(read["b"], tensors["b"], 1e-7, "F32")
    assert_close(read["c"], tensors["c"], 8e-3, "BF16")
    return "ok"


def main() -> int:
    """Runs every check; prints one line each and the totals."""
    torch.set_num_threads(1)
    passed = failed = 0
    for function in CHECKS:
        name = function.__name__.replace("_", " ")
        try:
            detail = function()
            passed += 1
            print(f"PASS {name}" + (f" ({detail})" if detail else ""))
        except Exception as e:  # noqa: BLE001 -- a crashing check is a failed check
            failed += 1
            print(f"FAIL {name}: {e}")
            if not isinstance(e, AssertionError):
                traceback.print_exc()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
