#!/usr/bin/python3
"""torch_peer.py — the PyTorch peer of `segcam bench` (and of bench/train-bench).

    torch_peer.py MODEL --size WxH --runs N --threads T [--channels-last] [--mem-limit-gib G]
    torch_peer.py MODEL --train --batch B --size WxH --steps N --threads T
    torch_peer.py MODEL --export-onnx OUT.onnx --size WxH

Builds the network of a segcam model file (docs/model-format.md) as an nn.Module (nn.Conv2d,
nn.BatchNorm2d, ...) with the file's weights, in float32, and times, like `segcam bench`:

  forward          model.eval(), parameters frozen (requires_grad False), under torch.no_grad():
                   the normalised input -> logits
  forward+explain  Seg-Grad-CAM of docs/seg-grad-cam.md for class 0 with the whole image as ROI, at the
                   model's default layer A: one forward with autograd enabled from A on (A's
                   output is detached and made to require grad, so nothing upstream of A is
                   recorded), S = sum of the class-0 logits, G = dS/dA by torch.autograd.grad,
                   alpha = mean of G over space, L = sum_k alpha_k A_k, bilinear resize to the
                   input size (align_corners False), ReLU, divide by the maximum

Each is the median of N timed runs after one warm-up run.  The input is uniform random pixels in
[0,1] (seed 1), normalised with the model's mean/std.  Prints a `segcam bench`-like report and a
final machine-readable line `RESULT fwd_ms=.. explain_ms=.. peak_mib=..`.  Peak memory is
getrusage's ru_maxrss of this process, which includes Python and libtorch (the `baseline` line
gives the RSS after importing torch and loading the model).

--train times training instead: model.train() (batch norm with batch statistics), Adam (lr 1e-3),
per-pixel softmax cross-entropy on random images and labels, batch B of W x H; prints images/s as
the median over N steps after two warm-up steps.

--export-onnx writes the same network (without the input normalisation) as ONNX for a fixed
W x H input instead, for the ONNX Runtime peer (bench/ort_peer.js).

For its best setting run it with glibc's malloc tuned so freed memory is reused instead of being
returned to the kernel and page-faulted in again (see bench/README.md):
    MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=2147483648 MALLOC_TOP_PAD_=1073741824

--mem-limit-gib caps the address space (RLIMIT_AS) so that a size PyTorch cannot fit ends with
"RESULT oom" instead of waking the kernel's OOM killer on a shared machine.
"""

import argparse
import os
import resource
import statistics
import sys
import time
from typing import Dict, List

import numpy as np

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "reference"))
from segcam_file import read_graph  # noqa: E402  (the model file, numpy only)


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mib(field: int = 1) -> float:
    """Resident (field 1) or virtual (field 0) size now, from /proc/self/statm."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[field]) * resource.getpagesize() / 1048576.0


def build(graph: dict, tensors: Dict[str, np.ndarray]):
    """An nn.Module evaluating the graph (ops of the U-Net yardstick and the engine's U-Net)."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    nodes = graph["nodes"]
    consumers: Dict[str, int] = {}
    for n in nodes:
        for s in n.get("inputs", []):
            consumers[s] = consumers.get(s, 0) + 1

    def t(name):
        return torch.from_numpy(tensors[name])

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.mods = nn.ModuleDict()
            self.plan = []  # (name, op, inputs, module key or None, attrs)
            for n in nodes:
                op, name = n["op"], n["name"]
                key = name.replace(".", "_")
                if op == "conv2d":
                    w = t(n["weight"])
                    cout, cin, kh, kw = w.shape
                    pad = n.get("padding", [0, 0, 0, 0])
                    if pad == "same" or len(set(pad)) != 1 or n.get("stride", [1, 1]) != [1, 1] \
                            or n.get("dilation", [1, 1]) != [1, 1] or n.get("groups", 1) != 1:
                        raise SystemExit(f"{name}: conv attributes not supported by the peer")
                    m = nn.Conv2d(cin, cout, (kh, kw), padding=pad[0], bias=bool(n.get("bias")))
                    m.weight.data.copy_(w)
                    if n.get("bias"):
                        m.bias.data.copy_(t(n["bias"]))
                    self.mods[key] = m
                elif op == "batchnorm":
                    c = tensors[n["gamma"]].shape[0]
                    m = nn.BatchNorm2d(c, eps=float(n.get("eps", 1e-5)))
                    m.weight.data.copy_(t(n["gamma"]))
                    m.bias.data.copy_(t(n["beta"]))
                    m.running_mean.copy_(t(n["mean"]))
                    m.running_var.copy_(t(n["var"]))
                    self.mods[key] = m
                elif op not in ("input", "relu", "maxpool2d", "upsample", "concat", "add"):
                    raise SystemExit(f"{name}: op {op} not supported by the peer")
                # In-place ReLU where its input has no other consumer (as U-Net code does).
                inplace = op == "relu" and consumers.get(n["inputs"][0], 0) == 1
                self.plan.append((name, op, n.get("inputs", []),
                                  key if key in self.mods else None, n, inplace))
            self.leaf = None

        def forward(self, x):
            values = {}
            for name, op, ins, key, n, inplace in self.plan:
                args = [values[s] for s in ins]
                if op == "input":
                    v = x
                elif key is not None:
                    v = self.mods[key](args[0])
                elif op == "relu":
                    v = F.relu(args[0], inplace=inplace and name != self.leaf)
                elif op == "maxpool2d":
                    k = n.get("kernel", [2, 2])
                    v = F.max_pool2d(args[0], k, n.get("stride", k))
                elif op == "upsample":
                    mode = n.get("mode", "nearest")
                    extra = {"align_corners": False} if mode == "bilinear" else {}
                    v = F.interpolate(args[0], scale_factor=tuple(float(s) for s in n["scale"]),
                                      mode=mode, **extra)
                elif op == "concat":
                    v = torch.cat(args, dim=1)
                elif op == "add":
                    v = args[0] + args[1]
                if name == self.leaf:
                    v = v.detach().requires_grad_(True)
                    self.leaf_value = v
                values[name] = v
                for s in ins:  # drop what no later node needs (autograd keeps its own refs)
                    consumers_left[s] -= 1
                    if consumers_left[s] == 0 and s != self.leaf:
                        del values[s]
            return values[graph["output"]]

    consumers_left: Dict[str, int] = {}

    net = Net()
    orig_forward = net.forward

    def forward(x):
        consumers_left.clear()
        consumers_left.update(consumers)
        return orig_forward(x)

    net.forward = forward
    return net


def main(argv: List[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--size", default="512x512", help="WxH")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--channels-last", action="store_true",
                    help="NHWC (torch.channels_last) model and input")
    ap.add_argument("--mem-limit-gib", type=float, default=0, help="RLIMIT_AS cap (0: none)")
    ap.add_argument("--train", action="store_true", help="time training steps instead")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--export-onnx", metavar="OUT", help="write the network as ONNX instead")
    a = ap.parse_args(argv)
    w, h = (int(v) for v in a.size.lower().split("x"))

    import torch
    import torch.nn.functional as F
    torch.set_num_threads(a.threads)
    graph, tensors = read_graph(a.model)
    net = build(graph, tensors)
    del tensors
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    net = net.to(memory_format=fmt)
    spec = graph["input"]
    c = int(spec["channels"])
    mean = torch.tensor(spec.get("mean", [0.0] * c), dtype=torch.float32).view(1, c, 1, 1)
    std = torch.tensor(spec.get("std", [1.0] * c), dtype=torch.float32).view(1, c, 1, 1)
    baseline = current_rss_mib()
    if a.mem_limit_gib > 0:
        cap = int(a.mem_limit_gib * (1 << 30))
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), oneDNN "
          f"{torch.backends.mkldnn.is_available()}, "
          f"{'channels_last' if a.channels_last else 'NCHW'}, baseline RSS {baseline:.0f} MiB, "
          f"virtual {current_rss_mib(0):.0f} MiB")

    if a.train:
        return train(a, net, graph, mean, std, w, h, fmt, baseline)
    if a.export_onnx:
        net.eval()
        torch.onnx.export(net, torch.rand((1, c, h, w)), a.export_onnx, opset_version=13,
                          input_names=["x"], output_names=["logits"])
        print(f"wrote {a.export_onnx} for {w}x{h}")
        return 0

    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    gen = torch.Generator().manual_seed(1)
    pixels = torch.rand((1, c, h, w), generator=gen)
    def forward():
        net.leaf = None
        with torch.no_grad():
            x = ((pixels - mean) / std).contiguous(memory_format=fmt)
            return net(x)

    def explain():
        net.leaf = graph["default_layer"]
        with torch.enable_grad():
            x = ((pixels - mean) / std).contiguous(memory_format=fmt)
            logits = net(x)
            a_ = net.leaf_value
            score = logits[0, 0].sum()
            (grad,) = torch.autograd.grad(score, a_)
            del logits, score
            with torch.no_grad():
                alpha = grad[0].mean(dim=(1, 2))
                cam = (alpha[:, None, None] * a_[0]).sum(dim=0)
                heat = F.interpolate(cam[None, None], size=(h, w), mode="bilinear",
                                     align_corners=False)[0, 0].clamp_(min=0)
                top = heat.max()
                if top > 0:
                    heat /= top
            net.leaf_value = None
            return heat

    def oom_message(e: BaseException) -> str:
        return str(e).split("\n")[0][:160]

    fwd, exp, explain_oom = [], [], None
    faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for i in range(-1, a.runs):
        if i == 0:
            faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        t0 = time.perf_counter()
        try:
            out = forward()
        except (RuntimeError, MemoryError) as e:
            print(f"forward: out of memory: {oom_message(e)}")
            print(f"RESULT oom peak_mib={rss_mib():.1f} baseline_mib={baseline:.1f}")
            return 3
        t1 = time.perf_counter()
        del out
        t2 = t3 = time.perf_counter()
        if explain_oom is None:
            try:
                heat = explain()
                t3 = time.perf_counter()
                del heat
            except (RuntimeError, MemoryError) as e:
                explain_oom = oom_message(e)
                net.leaf_value = None
                print(f"forward+explain: out of memory: {explain_oom}; timing forward only")
        if i >= 0:
            fwd.append((t1 - t0) * 1e3)
            exp.append((t3 - t2) * 1e3)
        print(f"  run {i:2d}: forward {(t1 - t0) * 1e3:9.1f} ms, forward+explain "
              f"{(t3 - t2) * 1e3 if explain_oom is None else float('nan'):9.1f} ms", flush=True)
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults0) / a.runs
    f_med = statistics.median(fwd)
    e_med = "oom" if explain_oom else f"{statistics.median(exp):.3f}"
    print(f"model {a.model}, {w}x{h}, {a.threads} thread(s)")
    print(f"forward          {f_med:10.2f} ms (median of {a.runs})")
    print(f"forward+explain  {e_med:>10} ms (median of {a.runs})")
    print(f"peak resident    {rss_mib():10.1f} MiB (baseline after import {baseline:.1f})")
    print(f"page faults      {faults:10.0f} per timed run (forward + forward+explain)")
    print(f"RESULT fwd_ms={f_med:.3f} explain_ms={e_med} peak_mib={rss_mib():.1f} "
          f"baseline_mib={baseline:.1f} faults_per_run={faults:.0f}")
    return 0


def train(a, net, graph, mean, std, w, h, fmt, baseline) -> int:
    import torch
    import torch.nn.functional as F
    net.train()
    n_classes = len(graph["classes"])
    c = mean.shape[1]
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(1)
    images = torch.rand((a.batch, c, h, w), generator=gen)
    labels = torch.randint(0, n_classes, (a.batch, h, w), generator=gen)
    times = []
    for i in range(-2, a.steps):
        t0 = time.perf_counter()
        x = ((images - mean) / std).contiguous(memory_format=fmt)
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(x), labels)
        loss.backward()
        opt.step()
        t1 = time.perf_counter()
        if i >= 0:
            times.append(t1 - t0)
        print(f"  step {i:2d}: {(t1 - t0) * 1e3:9.1f} ms, loss {loss.item():.4f}", flush=True)
    med = statistics.median(times)
    print(f"train {w}x{h} batch {a.batch}: {med * 1e3:.1f} ms/step (median of {a.steps}), "
          f"{a.batch / med:.1f} images/s, peak RSS {rss_mib():.1f} MiB")
    print(f"RESULT step_ms={med * 1e3:.3f} images_per_s={a.batch / med:.2f} peak_mib={rss_mib():.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
