#!/usr/bin/python3
"""crosscheck — ONNX models exported from PyTorch, run by segcam, against PyTorch itself.

For each architecture of models.py (random weights: nothing is downloaded) the script exports
the network with torch.onnx.export (height and width dynamic; for the "/static" cases with
torch.onnx.export's defaults, every shape fixed), then at the export size and two input sizes
that differ from it compares
  - the logits segcam computes from the .onnx file (tests/onnx/onnx-logits) with the original
    module's, and
  - the Seg-Grad-CAM map of `segcam explain` (command line, whole-image ROI, logits score, at a
    given layer) with the same map computed by PyTorch autograd on the original module
    (docs/seg-grad-cam.md, 'Definition': S = sum of the class's logits, alpha = spatial mean of dS/dA,
    L = sum_k alpha_k A_k, bilinear resize, ReLU, divided by the maximum).
Half of the architectures are loaded as .onnx directly, the other half through
`segcam import` (with ImageNet mean and std, so that the normalisation is checked too).
With --fetch-ort (tools/fetch-onnxruntime.sh) segcam's outputs are also compared with ONNX
Runtime's on the same .onnx file (ort-logits.js; where the importer took a final Softmax or
Sigmoid off, segcam's logits go through it first); a static export only at its export size,
the one size ONNX Runtime runs it at.

    crosscheck.py --segcam SEGCAM --logits ONNX_LOGITS --workdir DIR [--fetch-ort SCRIPT]
                  [--arch NAME...] [--bench]

--bench also times forward and forward+explain at 512x512 in segcam (segcam bench) and PyTorch.
Exit status 77 (skipped) when python3-torch, python3-torchvision, python3-pil or python3-onnx is
missing.
"""

import argparse
import os
import subprocess
import sys
import time

try:
    import numpy as np
    import onnx
    import torch
    import torch.nn.functional as F
    import torchvision  # noqa: F401  (models.py imports its segmentation models)
    from PIL import Image
except ImportError as e:
    print(f"crosscheck: skipped, {e.name} is not installed (Debian: python3-torch, "
          "python3-torchvision, python3-pil, python3-onnx)")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]

# architecture: (opset, module whose output is explained, the ONNX tensor it produces,
#                two (height, width) sizes, class explained, through `segcam import`)
CASES = {
    "fcn_resnet50": (13, "model.backbone.layer4",
                     "/model/backbone/layer4/layer4.2/relu_2/Relu_output_0",
                     [(75, 101), (130, 66)], 1, False),
    "deeplabv3_resnet50": (13, "model.backbone.layer4",
                           "/model/backbone/layer4/layer4.2/relu_2/Relu_output_0",
                           [(97, 83), (64, 120)], 2, True),
    # opset 17 exports hardswish as HardSwish, opset 13 as x * HardSigmoid(x)
    "deeplabv3_mobilenet_v3_large": (17, "model.backbone.16",
                                     "/model/backbone/backbone.16/backbone.16.2/HardSwish_output_0",
                                     [(100, 77), (131, 149)], 3, False),
    "lraspp_mobilenet_v3_large": (13, "model.backbone.16",
                                  "/model/backbone/backbone.16/backbone.16.2/Mul_output_0",
                                  [(77, 100), (149, 131)], 4, True),
    "unet": (13, "enc1", "/enc1/body/body.4/Relu_output_0", [(68, 100), (92, 60)], 1, False),
    "u2net": (13, "stage2", "/stage2/Add_output_0", [(75, 101), (66, 130)], 0, True),
    "unet_resnet18": (13, "encoder.3", "/encoder.3/encoder.3.1/relu_1/Relu_output_0",
                      [(70, 90), (101, 77)], 2, True),
    "nnunet": (13, "mid", "/mid/body/body.5/LeakyRelu_output_0", [(68, 100), (92, 60)], 1, True),
    # Static exports: torch.onnx.export (model, x, path) with its defaults (opset 14, every
    # shape fixed at STATIC_SIZE), which the importer generalises to any size.
    "fcn_resnet50/static": (None, "model.backbone.layer4",
                            "/model/backbone/layer4/layer4.2/relu_2/Relu_output_0",
                            [(75, 101), (130, 66)], 1, True),
    "deeplabv3_resnet50/static": (None, "model.backbone.layer4",
                                  "/model/backbone/layer4/layer4.2/relu_2/Relu_output_0",
                                  [(97, 83), (64, 120)], 2, False),
    "lraspp_mobilenet_v3_large/static": (None, "model.backbone.16",
                                         "/model/backbone/backbone.16/backbone.16.2/HardSwish_output_0",
                                         [(77, 100), (149, 131)], 4, False),
    "unet_resnet18/static": (None, "encoder.3", "/encoder.3/encoder.3.1/relu_1/Relu_output_0",
                             [(70, 90), (101, 77)], 2, False),
    "nnunet/static": (None, "mid", "/mid/body/body.5/LeakyRelu_output_0", [(68, 100), (92, 60)], 0,
                      False),
}
EXPORT_SIZE = (160, 160)
STATIC_SIZE = (96, 128)
LOGIT_TOL = 1e-4   # max |segcam - torch| / max |torch|, and likewise against ONNX Runtime
MAP_TOL = 2e-3     # max |segcam - torch| of maps normalised to [0, 1]


def torch_map(model, module_path, x, cls, one_channel):
    """Seg-Grad-CAM of docs/seg-grad-cam.md by autograd on the original module."""
    saved = {}
    hook = model.get_submodule(module_path).register_forward_hook(
        lambda m, i, o: saved.__setitem__("a", o))
    try:
        z = model.logits(x)
    finally:
        hook.remove()
    a = saved["a"]
    score = (-z[0, 0] if cls == 0 else z[0, 0]) if one_channel else z[0, cls]
    (g,) = torch.autograd.grad(score.sum(), a)
    alpha = g.mean(dim=(2, 3), keepdim=True)
    cam = (alpha * a).sum(dim=1, keepdim=True)
    cam = F.interpolate(cam, size=x.shape[2:], mode="bilinear", align_corners=False)
    cam = F.relu(cam)[0, 0]
    peak = cam.max()
    return (cam / peak if peak > 0 else cam).detach().numpy(), z.detach()


def run(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {result.stderr.strip()}")
    return result.stdout


def final_activation(onnx_path):
    """'Sigmoid' or 'Softmax' when the graph's output comes out of one, else None: segcam takes
    that activation off and computes the logits before it, ONNX Runtime computes the output."""
    graph = onnx.load(onnx_path).graph
    last = [n for n in graph.node if graph.output[0].name in n.output]
    return last[0].op_type if last and last[0].op_type in ("Sigmoid", "Softmax") else None


def ort_logits(args, onnx_path, raw, w, h, mean, std):
    """The .onnx file's first output computed by ONNX Runtime on the same pixels."""
    out = raw[:-4] + "-ort.f32"
    dims = subprocess.run(
        ["node", os.path.join(os.path.dirname(os.path.abspath(__file__)), "ort-logits.js"),
         onnx_path, raw, str(w), str(h), ",".join(map(str, mean)), ",".join(map(str, std)), out],
        capture_output=True, text=True, env=dict(os.environ, NODE_PATH=args.ort))
    if dims.returncode != 0:
        raise RuntimeError(f"ort-logits.js: {dims.stderr.strip()}")
    shape = [int(d) for d in dims.stdout.split("x")]
    return np.fromfile(out, dtype=np.float32).reshape(shape[1:])


def check(args, case, failures):
    opset, module_path, tensor, sizes, cls, via_import = CASES[case]
    arch, static = case.split("/")[0], case.endswith("/static")
    name = case.replace("/", "-")
    model = models.build(arch)
    onnx_path = os.path.join(args.workdir, name + ".onnx")
    export_size = STATIC_SIZE if static else EXPORT_SIZE
    models.export(model, onnx_path, export_size, opset, dynamic=not static)
    mean, std = (IMAGENET_MEAN, IMAGENET_STD) if via_import else ([0.0] * 3, [1.0] * 3)
    model_path = onnx_path
    if via_import:
        model_path = os.path.join(args.workdir, name + ".safetensors")
        run([args.segcam, "import", onnx_path, "-o", model_path,
             "--mean", ",".join(map(str, mean)), "--std", ",".join(map(str, std))])
    one_channel = arch == "u2net"
    rng = np.random.default_rng(len(name))
    worst = [0.0, 0.0, 0.0]
    # What ONNX Runtime computes from segcam's logits: read once from the file, not per size.
    through_activation = {"Sigmoid": lambda z: torch.sigmoid(torch.from_numpy(z)).numpy(),
                          "Softmax": lambda z: torch.softmax(torch.from_numpy(z), 0).numpy(),
                          None: lambda z: z}[final_activation(onnx_path) if args.ort else None]
    # The export size first: it is the size ONNX Runtime's own shape inference saw, and the only
    # one at which it runs a static export.
    for h, w in [export_size] + sizes:
        png = os.path.join(args.workdir, f"{name}-{w}x{h}.png")
        pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(png)
        rgb = pixels.astype(np.float32) / 255
        raw = os.path.join(args.workdir, f"{name}-{w}x{h}.f32")
        rgb.tofile(raw)
        x = (torch.from_numpy(rgb).permute(2, 0, 1)[None] - torch.tensor(mean)[:, None, None]) \
            / torch.tensor(std)[:, None, None]

        want_map, want_z = torch_map(model, module_path, x, cls, one_channel)
        if not want_map.max() > 0:
            raise RuntimeError(f"the PyTorch map is zero at {w}x{h}: pick another class or layer")
        out = os.path.join(args.workdir, f"{name}-{w}x{h}-logits.f32")
        run([args.logits, model_path, raw, str(w), str(h), out])
        got_z = np.fromfile(out, dtype=np.float32).reshape(want_z.shape[1:])
        logit_err = float(np.abs(got_z - want_z[0].numpy()).max() / np.abs(want_z.numpy()).max())
        ort_err = None
        if args.ort and (not static or (h, w) == export_size):
            ort_z = ort_logits(args, onnx_path, raw, w, h, mean, std)
            ort_err = float(np.abs(through_activation(got_z) - ort_z).max() / np.abs(ort_z).max())

        npy = os.path.join(args.workdir, f"{name}-{w}x{h}-map.npy")
        run([args.segcam, "explain", "--model", model_path, "--class", str(cls), "--layer", tensor,
             png, "-o", os.path.join(args.workdir, f"{name}-{w}x{h}-heat.png"), "--map-npy", npy])
        map_err = float(np.abs(np.load(npy) - want_map).max())
        print(f"  {name:36s} {w:4d}x{h:<4d} logits {logit_err:.2e}  map {map_err:.2e}"
              + (f"  ONNX Runtime output {ort_err:.2e}" if ort_err is not None else "")
              + ("  (imported)" if via_import else ""))
        worst = [max(worst[0], logit_err), max(worst[1], map_err), max(worst[2], ort_err or 0)]
    if worst[0] > LOGIT_TOL or worst[1] > MAP_TOL or worst[2] > LOGIT_TOL:
        failures.append(f"{name}: logits {worst[0]:.2e} (limit {LOGIT_TOL}), "
                        f"map {worst[1]:.2e} (limit {MAP_TOL}), "
                        f"ONNX Runtime output {worst[2]:.2e} (limit {LOGIT_TOL})")
    return model, model_path


def bench(args, name, model, model_path):
    """Median times at 512x512: segcam bench, and PyTorch forward and forward + autograd."""
    text = run([args.segcam, "bench", "--model", model_path, "--size", "512x512", "--runs", "3",
                "--layer", CASES[name][2]])
    fields = {line.split()[0]: line.split()[1] for line in text.splitlines()
              if line.startswith("forward")}
    x = torch.rand(1, 3, 512, 512)
    times = []
    for _ in range(4):
        t0 = time.perf_counter()
        torch_map(model, CASES[name][1], x, CASES[name][4], name.startswith("u2net"))
        times.append(time.perf_counter() - t0)
    forward = []
    with torch.no_grad():
        for _ in range(3):
            t0 = time.perf_counter()
            model.logits(x)
            forward.append(time.perf_counter() - t0)
    print(f"  {name:36s} segcam forward {float(fields['forward']):8.1f} ms, "
          f"forward+explain {float(fields['forward+explain']):8.1f} ms | PyTorch forward "
          f"{sorted(forward)[1] * 1e3:8.1f} ms, forward+autograd "
          f"{sorted(times)[len(times) // 2] * 1e3:8.1f} ms")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--segcam", required=True)
    parser.add_argument("--logits", required=True, help="the onnx-logits test program")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--fetch-ort", help="tools/fetch-onnxruntime.sh, which prints the "
                        "node_modules folder holding onnxruntime-node (fetching it once)")
    parser.add_argument("--arch", action="append", choices=sorted(CASES))
    parser.add_argument("--bench", action="store_true")
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    torch.set_num_threads(2)
    args.ort = None
    if args.fetch_ort:
        fetched = subprocess.run(["sh", args.fetch_ort], capture_output=True, text=True)
        if fetched.returncode != 0:
            print(f"crosscheck: {fetched.stderr.strip()}")
            return 1
        args.ort = fetched.stdout.strip()
    failures = []
    print("largest differences to PyTorch (logits: relative to the largest logit; maps: absolute, "
          "maps in [0, 1])" + (" and ONNX Runtime" if args.ort else
                               "; ONNX Runtime not compared (no --fetch-ort)"))
    for name in args.arch or list(CASES):
        try:
            model, path = check(args, name, failures)
            if args.bench:
                bench(args, name, model, path)
        except RuntimeError as e:
            failures.append(f"{name}: {e}")
    for f in failures:
        print("FAIL", f)
    print(f"{len(args.arch or CASES) - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
