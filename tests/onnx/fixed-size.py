#!/usr/bin/python3
"""fixed-size — a network that runs at its export size only, run at other sizes (docs/model-format.md,
`segcam.fixed_size`), against PyTorch doing the same resampling in float64.

The module resizes a feature map to a constant 13 x 7, a size no tensor of the graph has and no
whole scale gives, so `segcam import` keeps its 48x40 export size. At an image of another size
segcam resamples the image to 48x40 (bilinear, half-pixel centres, no antialias: F.interpolate
with align_corners=False), runs the network, and resamples the logits and the map back. This
script checks, at the export size and at two others:
  - what `segcam import` says it did, and `segcam info`;
  - the logits at the image's size (tests/onnx/onnx-logits) against
    F.interpolate (net (F.interpolate (x, 40x48)), image size);
  - the Seg-Grad-CAM map of `segcam explain` against autograd, for the whole image and for a
    rectangle: S = the class's logits over the network's output weighted by the ROI resampled
    to it, L from the target layer, F.interpolate (L, image size), ReLU, divided by the maximum;
  - at the export size, the logits against ONNX Runtime's on the same .onnx file.

    fixed-size.py --segcam SEGCAM --logits ONNX_LOGITS --workdir DIR [--fetch-ort SCRIPT]

Exit status 77 (skipped) when python3-torch, python3-pil or python3-onnx is missing.
"""

import argparse
import os
import subprocess
import sys

try:
    import numpy as np
    import onnx  # noqa: F401  (torch.onnx.export needs it)
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from PIL import Image
except ImportError as e:
    print(f"fixed-size: skipped, {e.name} is not installed (Debian: python3-torch, "
          "python3-pil, python3-onnx)")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crosscheck import ort_logits, run  # noqa: E402

EXPORT = (40, 48)                      # (height, width)
SIZES = [EXPORT, (57, 31), (25, 70)]
MEAN, STD = [0.5, 0.4, 0.3], [0.2, 0.25, 0.3]
CLASS = 1
LAYER = "/relu2/Relu_output_0"         # the ONNX tensor of relu2's output
LOGIT_TOL = 1e-4                       # max |segcam - reference| / max |reference|
MAP_TOL = 1e-4                         # max |segcam - torch| of maps normalised to [0, 1]


class FixedResize(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.head = nn.Conv2d(8, 3, 1)

    def forward(self, x):
        a = F.interpolate(self.relu1(self.conv1(x)), size=(13, 7), mode="bilinear",
                          align_corners=False)
        b = self.relu2(self.conv2(a))
        return self.head(F.interpolate(b, size=EXPORT, mode="bilinear", align_corners=False))


def resample(t, size):
    return F.interpolate(t, size=size, mode="bilinear", align_corners=False, antialias=False)


def reference(model, x, size, roi):
    """Image-size logits and the map, as segcam defines them for a fixed-size network; roi: the
    image's ROI weights (height x width)."""
    saved = {}
    hook = model.relu2.register_forward_hook(lambda m, i, o: saved.__setitem__("a", o))
    try:
        z = model(resample(x, EXPORT))
    finally:
        hook.remove()
    a = saved["a"]
    weights = resample(roi[None, None], EXPORT)[0, 0]
    (g,) = torch.autograd.grad((weights * z[0, CLASS]).sum(), a)
    cam = (g.mean(dim=(2, 3), keepdim=True) * a).sum(dim=1, keepdim=True)
    cam = F.relu(resample(cam, size))[0, 0]
    return resample(z, size)[0].detach().numpy(), (cam / cam.max()).detach().numpy()


def reference_score_cam(model, x, size):
    """Score-CAM over all 8 channels on the whole image (docs/methods.md): each channel's map,
    resized to the image and min-max normalised, masks the normalised input; the ROI scores of the
    masked images, softmaxed, weigh the channels."""
    saved = {}
    hook = model.relu2.register_forward_hook(lambda m, i, o: saved.__setitem__("a", o))
    try:
        model(resample(x, EXPORT))
    finally:
        hook.remove()
    a = saved["a"].detach()
    scores = []
    for k in range(a.shape[1]):
        h = resample(a[:, k:k + 1], size)
        h = (h - h.min()) / (h.max() - h.min() + 1e-8)
        scores.append(float(model(resample(x * h, EXPORT))[0, CLASS].sum()))
    w = torch.softmax(torch.tensor(scores, dtype=torch.float64), 0)
    cam = (w[None, :, None, None] * a).sum(dim=1, keepdim=True)
    cam = F.relu(resample(cam, size))[0, 0]
    return (cam / cam.max()).numpy()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--segcam", required=True)
    p.add_argument("--logits", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--fetch-ort")
    args = p.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    args.ort = None
    if args.fetch_ort:
        fetched = subprocess.run(["sh", args.fetch_ort], capture_output=True, text=True)
        args.ort = fetched.stdout.strip() if fetched.returncode == 0 else None
    torch.manual_seed(13)
    model = FixedResize().double().eval()
    onnx_path = os.path.join(args.workdir, "fixed.onnx")
    torch.onnx.export(model.float(), torch.rand(1, 3, *EXPORT), onnx_path)
    model.double()
    model_path = os.path.join(args.workdir, "fixed.safetensors")
    said = run([args.segcam, "import", onnx_path, "-o", model_path,
                "--mean", ",".join(map(str, MEAN)), "--std", ",".join(map(str, STD))])
    failures = []
    if "kept its fixed input size 48x40, since Resize to" not in said \
            or "input fixed at 48x40" not in said:
        failures.append(f"segcam import does not say it kept the fixed size:\n{said}")
    info = run([args.segcam, "info", model_path])
    if "fixed at 48x40: other images are resampled to it" not in info:
        failures.append(f"segcam info does not say the size is fixed:\n{info}")
    rng = np.random.default_rng(13)
    worst = {"logits": 0.0, "map": 0.0, "ort": 0.0}
    for h, w in SIZES:
        pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        png = os.path.join(args.workdir, f"fixed-{w}x{h}.png")
        Image.fromarray(pixels).save(png)
        rgb = pixels.astype(np.float32) / 255
        raw = png[:-4] + ".f32"
        rgb.tofile(raw)
        x = (torch.from_numpy(rgb).double().permute(2, 0, 1)[None]
             - torch.tensor(MEAN, dtype=torch.float64)[:, None, None]) \
            / torch.tensor(STD, dtype=torch.float64)[:, None, None]
        want_z, want_map = reference(model, x, (h, w), torch.ones(h, w, dtype=torch.float64))
        out = png[:-4] + "-logits.f32"
        run([args.logits, model_path, raw, str(w), str(h), out])
        got_z = np.fromfile(out, dtype=np.float32).reshape(want_z.shape)
        logit_err = float(np.abs(got_z - want_z).max() / np.abs(want_z).max())
        npy = png[:-4] + "-map.npy"
        run([args.segcam, "explain", "--model", model_path, "--class", str(CLASS), "--layer", LAYER,
             png, "-o", png[:-4] + "-heat.png", "--map-npy", npy])
        map_err = float(np.abs(np.load(npy) - want_map).max())
        # A rectangle of the image: its weights resampled to the network's size.
        rect = (w // 5, h // 4, w // 2, h // 3)
        roi = torch.zeros(h, w, dtype=torch.float64)
        roi[rect[1]:rect[1] + rect[3], rect[0]:rect[0] + rect[2]] = 1
        run([args.segcam, "explain", "--model", model_path, "--class", str(CLASS), "--layer", LAYER,
             "--roi-rect", ",".join(map(str, rect)), png, "-o", png[:-4] + "-heat-roi.png",
             "--map-npy", npy])
        map_err = max(map_err, float(np.abs(np.load(npy) - reference(model, x, (h, w), roi)[1]).max()))
        # Score-CAM masks the image with maps resized to the image, not to the network.
        run([args.segcam, "explain", "--model", model_path, "--class", str(CLASS), "--layer", LAYER,
             "--method", "score", "--max-channels", "8", png, "-o", png[:-4] + "-heat-score.png",
             "--map-npy", npy])
        map_err = max(map_err, float(np.abs(np.load(npy) - reference_score_cam(model, x, (h, w))).max()))
        line = f"  fixed {w:3d}x{h:<3d} logits {logit_err:.2e}  map {map_err:.2e}"
        if args.ort and (h, w) == EXPORT:
            ort_z = ort_logits(args, onnx_path, raw, w, h, MEAN, STD)
            worst["ort"] = float(np.abs(got_z - ort_z).max() / np.abs(ort_z).max())
            line += f"  ONNX Runtime {worst['ort']:.2e}"
        print(line)
        worst["logits"] = max(worst["logits"], logit_err)
        worst["map"] = max(worst["map"], map_err)
    if worst["logits"] > LOGIT_TOL or worst["map"] > MAP_TOL or worst["ort"] > LOGIT_TOL:
        failures.append(f"logits {worst['logits']:.2e}, map {worst['map']:.2e}, ONNX Runtime "
                        f"{worst['ort']:.2e} (limits {LOGIT_TOL}, {MAP_TOL}, {LOGIT_TOL})")
    for f in failures:
        print("FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
