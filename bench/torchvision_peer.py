#!/usr/bin/python3
"""torchvision_peer.py — the PyTorch peer of `segcam bench` on torchvision's segmentation nets.

    torchvision_peer.py NAME --export OUT.onnx     prints the ONNX tensor to explain at
    torchvision_peer.py NAME --size WxH --runs N --threads T

NAME is one of the torchvision architectures of tests/onnx/models.py (fcn_resnet50,
deeplabv3_resnet50, lraspp_mobilenet_v3_large, ...), built with random weights and batch-norm
statistics from a fixed seed, so that the export and the timing see the same network. --export
writes it as ONNX (height and width dynamic, the opset tests/onnx/crosscheck.py uses) for
`segcam import` and ONNX Runtime, and prints the ONNX tensor of the layer crosscheck.py explains
(for `segcam import --default-layer`).

Timing follows torch_peer.py, on the module itself: float32, model.eval(), parameters frozen,
torch.set_num_threads(T), uniform random pixels normalised with ImageNet's mean and std (what
`segcam import --mean --std` is given);
  forward          under torch.no_grad()
  forward+explain  Seg-Grad-CAM for class 0, whole image: a forward hook makes the layer's output
                   a leaf that requires grad (nothing upstream is recorded), S = sum of the
                   class-0 logits, G = autograd.grad (S, A), alpha = mean of G, L = sum alpha A,
                   bilinear resize, ReLU, divide by the maximum
each the median of N runs after a warm-up. Prints `RESULT fwd_ms=.. explain_ms=.. peak_mib=..`.
Run it with the tuned malloc of bench/README.md.
"""

import argparse
import os
import resource
import statistics
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "onnx"))

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("name")
    ap.add_argument("--export", metavar="OUT")
    ap.add_argument("--size", default="512x512", help="WxH")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    import torch
    import torch.nn.functional as F
    import models
    from crosscheck import CASES
    opset, module_path, tensor = CASES[a.name][:3]
    torch.set_num_threads(a.threads)
    model = models.build(a.name)
    if a.export:
        models.export(model, a.export, opset=opset)
        print(tensor)
        return 0

    w, h = (int(v) for v in a.size.lower().split("x"))
    for p in model.parameters():
        p.requires_grad_(False)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    pixels = torch.rand((1, 3, h, w), generator=torch.Generator().manual_seed(1))
    saved = {}

    def leaf(module, inputs, output):
        if "explain" in saved:
            saved["a"] = output.detach().requires_grad_(True)
            return saved["a"]
        return None

    model.get_submodule(module_path).register_forward_hook(leaf)

    def forward():
        saved.clear()
        with torch.no_grad():
            return model.logits((pixels - mean) / std)

    def explain():
        saved.clear()
        saved["explain"] = True
        with torch.enable_grad():
            z = model.logits((pixels - mean) / std)
            (g,) = torch.autograd.grad(z[0, 0].sum(), saved["a"])
            del z
            with torch.no_grad():
                alpha = g[0].mean(dim=(1, 2))
                cam = (alpha[:, None, None] * saved["a"][0]).sum(dim=0)
                heat = F.interpolate(cam[None, None], size=(h, w), mode="bilinear",
                                     align_corners=False)[0, 0].clamp_(min=0)
                top = heat.max()
                if top > 0:
                    heat /= top
        saved.clear()
        return heat

    fwd, exp = [], []
    for i in range(-1, a.runs):
        t0 = time.perf_counter()
        forward()
        t1 = time.perf_counter()
        explain()
        t2 = time.perf_counter()
        if i >= 0:
            fwd.append((t1 - t0) * 1e3)
            exp.append((t2 - t1) * 1e3)
        print(f"  run {i:2d}: forward {(t1 - t0) * 1e3:9.1f} ms, forward+explain "
              f"{(t2 - t1) * 1e3:9.1f} ms", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"{a.name}, {w}x{h}, {a.threads} thread(s), torch {torch.__version__}: forward "
          f"{statistics.median(fwd):.1f} ms, forward+explain {statistics.median(exp):.1f} ms "
          f"(medians of {a.runs}), peak RSS {peak:.1f} MiB")
    print(f"RESULT fwd_ms={statistics.median(fwd):.3f} explain_ms={statistics.median(exp):.3f} "
          f"peak_mib={peak:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
