#!/usr/bin/python3
"""crosscheck.py --segcam PATH --workdir DIR — the segcam CLI against the PyTorch reference.

Generates the test models and images (make_models.py), then for every model runs
`segcam predict` and many `segcam explain` cases (classes by name and index, both score modes,
all weights modes, several layers including "input", every ROI kind, --no-normalize, every CAM
method of docs/methods.md at two layers and both pool modes, and cases that must fail with exit
status 2) and compares the .npy outputs with segcam_torch.py computed
in-process in float64.

A map case passes when max|map - ref| / max|ref| <= --tolerance (1e-4).  Each case is also
computed by the reference in float32; when that differs from float64 by more than a tenth of the
tolerance, the case is ill-conditioned (a ReLU or max-pool decision, a predicted label or a tiny
normalising maximum sits within rounding of a tie) and a miss is reported as SKIP, not FAIL.

Exit status 0 when nothing failed, 1 otherwise, 77 when python3-torch (or python3-pil) is
missing.  The last line is "N passed, M failed[, K skipped]".
"""

import argparse
import concurrent.futures
import dataclasses
import os
import subprocess
import sys
from typing import List, Optional

sys.dont_write_bytecode = True  # keep the source tree clean when run from meson
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import needs  # noqa: E402

needs.modules(("numpy", "python3-torch"), ("torch", "python3-torch"), ("PIL", "python3-pil"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import make_models  # noqa: E402
import segcam_torch as st  # noqa: E402

# Which images each model is explained on: one in its own colour model, one converted.
MODEL_IMAGES = {
    "unet-bn": ["shapes-37x29", "gray-31x23"],
    "unet-convt": ["gray-31x23", "shapes-64x48"],
    "resnet-ish": ["shapes-64x48", "rgba-45x33"],
    "sigmoid": ["shapes-37x29", "gray-31x23"],
}


@dataclasses.dataclass
class Case:
    """One invocation of the CLI and what it is compared with."""

    model: str
    image: str
    kind: str                    # "explain" or "predict"
    argv: List[str]              # arguments after the program name, without output options
    label: str                   # class column
    layer: str = "default"
    roi: str = "whole"
    score: str = "logits"
    weights: str = "mean"
    normalize: bool = True
    method: str = "seg-grad-cam"  # with its pool options, as the table shows it
    npy: str = ""                # where the CLI writes its array
    # filled in by run():
    status: str = ""
    rel: Optional[float] = None
    rel32: Optional[float] = None
    note: str = ""


def relative_difference(actual: np.ndarray, reference: np.ndarray) -> float:
    """max |actual - reference| / max |reference| (absolute when the reference is all zero)."""
    scale = float(np.max(np.abs(reference))) if reference.size else 0.0
    diff = float(np.max(np.abs(actual.astype(np.float64) - reference))) if reference.size else 0.0
    return diff / scale if scale > 0 else diff


def pick_layers(model: st.SegcamModel) -> List[str]:
    """Layers to explain at besides the default: the first and last ReLU (encoder, decoder), a
    convolution in the middle (signed activations), the first upsampling node, the first
    concat/add, and the input itself."""
    nodes = [n for n in model.nodes if n["name"] not in (model.output, model.default_layer)]
    relus = [n["name"] for n in nodes if n["op"] == "relu"]
    convs = [n["name"] for n in nodes if n["op"] == "conv2d"]
    ups = [n["name"] for n in nodes if n["op"] in ("upsample", "conv_transpose2d")]
    joins = [n["name"] for n in nodes if n["op"] in ("concat", "add")]
    chosen = [relus[0], relus[-1], convs[len(convs) // 2]] + ups[:1] + joins[:1] + ["input"]
    return list(dict.fromkeys(chosen))


def class_order(model: st.SegcamModel, image: np.ndarray):
    """(classes by how many pixels are predicted as them, most first; the pixel counts)."""
    _, labels = st.predict(model, image)
    counts = np.bincount(labels.ravel(), minlength=len(model.classes))
    return sorted(range(len(model.classes)), key=lambda c: -counts[c]), counts


def make_cases(name: str, model_path: str, image_name: str, image_path: str,
               first_image: bool) -> List[Case]:
    """The explain and predict cases for one model and image."""
    model = st.load_model_cached(model_path, "float64")
    image = st.load_image(image_path, model.channels)
    height, width = image.shape[:2]
    order, counts = class_order(model, image)
    c0, c1 = order[0], order[1]
    mask = image_path[:-len(".png")] + "-mask.png"
    cases = [Case(name, image_name, "predict", ["predict", "--model", model_path, image_path],
                  "-", roi="-", score="-", weights="-")]

    def explain(cls: int, by_name: bool = False, layer: Optional[str] = None,
                roi: Optional[List[str]] = None, score: str = "logits", weights: str = "mean",
                normalize: bool = True, roi_label: str = "whole", cls_text=None,
                method: List[str] = ()) -> None:
        text = cls_text if cls_text is not None else (
            model.classes[cls]["name"] if by_name else str(cls))
        argv = ["explain", "--model", model_path, "--class", text]
        argv += ["--layer", layer] if layer else []
        argv += roi or []
        argv += ["--score", score, "--weights", weights]
        argv += [] if normalize else ["--no-normalize"]
        argv += ["--method", *method] if method else []
        cases.append(Case(name, image_name, "explain", argv + [image_path], text,
                          layer or "default", roi_label, score, weights, normalize,
                          " ".join(method) or "seg-grad-cam"))

    # every class, alternately by name and by index
    for i, cls in enumerate(order):
        explain(cls, by_name=i % 2 == 0)
    # score x weights
    for score in st.SCORES:
        for weights in st.WEIGHTS:
            if (score, weights) != ("logits", "mean"):
                explain(c1, score=score, weights=weights)
    # layers
    for layer in pick_layers(model):
        explain(c1, layer=layer)
        if first_image:
            explain(c0, layer=layer, score="probabilities", weights="abs")
    # ROI kinds
    rect = ["--roi-rect", f"{width // 4},{height // 5},{width // 2},{height // 3}"]
    rois = [
        (rect, "rect"),
        (["--roi-rect", f"{width - 6},{height - 5},20,20"], "rect clipped"),
        (["--roi-pixel", f"{width // 3},{height // 2}"], "pixel"),
        (["--roi-mask", mask], "mask"),
        (["--roi-class"], "class"),
        (["--roi-component", "largest"], "comp largest"),
        (["--roi-component", "smallest"], "comp smallest"),
        (rect + ["--roi-class"], "rect+class"),
        (["--roi-mask", mask, "--roi-component", "largest"], "mask+comp largest"),
    ]
    for roi, label in rois:
        explain(c0, roi=roi, roi_label=label)
        if first_image:
            explain(c1, roi=roi, roi_label=label, score="probabilities", weights="relu")
    # --no-normalize
    explain(c0, normalize=False)
    explain(c1, roi=rect, roi_label="rect", score="probabilities", normalize=False)
    explain(c0, layer=pick_layers(model)[1], roi=["--roi-class"], roi_label="class",
            weights="abs", normalize=False)
    # CAM methods: each at the default layer; on the first image also at the decoder's last ReLU
    # with probabilities and a rectangle, at the input (signed activations) for the methods that
    # stay well-conditioned there (docs/methods.md), and xres's pool options
    methods = [[m] for m in st.METHODS if m != "seg-grad-cam"]
    for method in methods:
        explain(c1, method=method)
        if first_image:
            explain(c0, layer=pick_layers(model)[1], roi=rect, roi_label="rect",
                    score="probabilities", method=method)
    if first_image:
        for method in (["hires"], ["layer"], ["eigen"], ["xres", "--pool", "4"]):
            explain(c1, layer="input", method=method)
        explain(c1, method=["xres", "--pool", "3", "--pool-mode", "mean"])
        explain(c1, layer="input", method=["ablation"])
        explain(c0, method=["score", "--max-channels", "3"])
        explain(c1, roi=rect, roi_label="rect", method=["ablation", "--max-channels", "2"])
        explain(c0, roi=["--roi-class"], roi_label="class", normalize=False,
                method=["xres", "--pool", "1"])
    # cases that must be rejected with exit status 2
    if first_image:
        explain(c0, roi=["--roi-rect", f"{width + 3},0,5,5"], roi_label="rect outside")
        explain(c0, roi=["--roi-pixel", f"0,{height}"], roi_label="pixel outside")
        explain(c0, cls_text="no such class")
        explain(c0, layer="no.such.layer")
        for cls in order:
            if counts[cls] == 0:  # an empty ROI
                explain(cls, roi=["--roi-class"], roi_label="class")
    return cases


def run_cli(segcam: str, case: Case, outdir: str, index: int) -> subprocess.CompletedProcess:
    """Runs the CLI for a case, writing its array to outdir."""
    case.npy = os.path.join(outdir, f"case{index:04d}.npy")
    png = os.path.join(outdir, f"case{index:04d}.png")
    if case.kind == "predict":
        extra = ["-o", png, "--probabilities", case.npy]
    else:
        extra = ["-o", png, "--map-npy", case.npy]
    if os.path.exists(case.npy):
        os.unlink(case.npy)
    argv = case.argv[:-1] + extra + case.argv[-1:]
    return subprocess.run([segcam] + argv, capture_output=True, text=True, timeout=600)


def reference(case: Case, dtype: str):
    """The reference output for a case: an array, or the InputError it raises."""
    args = st.make_parser().parse_args(case.argv)
    try:
        if case.kind == "predict":
            return st.run_predict(args, dtype)[0]
        return st.run_explain(args, dtype).map
    except st.InputError as e:
        return e


def judge(case: Case, proc: subprocess.CompletedProcess, tolerance: float) -> None:
    """Compares the CLI's result with the reference; sets case.status, rel, rel32, note."""
    ref64, ref32 = reference(case, "float64"), reference(case, "float32")
    stderr = (proc.stderr.strip().splitlines() or [""])[-1][:70]
    if isinstance(ref64, st.InputError):
        ok = proc.returncode == 2
        case.status = "PASS" if ok else "FAIL"
        case.note = (f"rejected as expected: {stderr}" if ok else
                     f"expected exit 2 ({ref64}), got {proc.returncode}")
        return
    if proc.returncode != 0 or not os.path.exists(case.npy):
        case.status, case.note = "FAIL", f"exit {proc.returncode}: {stderr}"
        return
    actual = np.load(case.npy)
    if actual.shape != ref64.shape:
        case.status, case.note = "FAIL", f"shape {actual.shape}, expected {ref64.shape}"
        return
    case.rel = relative_difference(actual, ref64)
    case.rel32 = relative_difference(ref32, ref64)
    if case.kind == "predict":
        margin = np.diff(np.sort(ref64, axis=0)[-2:], axis=0)[0]
        flips = (np.argmax(actual, axis=0) != np.argmax(ref64, axis=0)) & (margin > 1e-5)
        case.note = f"{int(flips.sum())} label(s) differ" if flips.any() else ""
        if flips.any():
            case.status = "FAIL"
            return
    if case.rel <= tolerance:
        case.status = "PASS"
    elif case.rel32 > tolerance / 10:
        case.status = "SKIP"
        case.note = f"ill-conditioned: float32 reference is off by {case.rel32:.1e}"
    else:
        case.status = "FAIL"


def print_table(cases: List[Case]) -> None:
    """One line per case, then one per model."""
    head = (f"{'#':>4} {'model':10} {'image':13} {'kind':7} {'class':14} {'layer':17} "
            f"{'roi':17} {'score':13} {'weights':7} {'norm':4} {'method':24} {'rel.diff':>9} "
            f"{'f32 ref':>9} status")
    print(head)
    print("-" * len(head))
    for i, c in enumerate(cases):
        rel = "-" if c.rel is None else f"{c.rel:.2e}"
        rel32 = "-" if c.rel32 is None else f"{c.rel32:.2e}"
        print(f"{i:>4} {c.model:10} {c.image:13} {c.kind:7} {c.label[:14]:14} {c.layer[:17]:17} "
              f"{c.roi[:17]:17} {c.score:13} {c.weights:7} {'-' if c.kind == 'predict' else 'yes' if c.normalize else 'no':4} "
              f"{'-' if c.kind == 'predict' else c.method[:24]:24} {rel:>9} {rel32:>9} {c.status}  {c.note}")
    print()
    print(f"{'model':12} {'cases':>5} {'passed':>6} {'failed':>6} {'skipped':>7} "
          f"{'max rel.diff (maps)':>20} {'max abs.diff (probabilities)':>29}")
    for model in dict.fromkeys(c.model for c in cases):
        mine = [c for c in cases if c.model == model]
        maps = [c.rel for c in mine if c.kind == "explain" and c.rel is not None]
        probs = [c.rel for c in mine if c.kind == "predict" and c.rel is not None]
        count = {s: sum(c.status == s for c in mine) for s in ("PASS", "FAIL", "SKIP")}
        print(f"{model:12} {len(mine):>5} {count['PASS']:>6} {count['FAIL']:>6} "
              f"{count['SKIP']:>7} {max(maps, default=0):>20.2e} {max(probs, default=0):>29.2e}")
    print()
    print(f"{'method':24} {'cases':>5} {'passed':>6} {'failed':>6} {'skipped':>7} {'max rel.diff':>12}")
    explained = [c for c in cases if c.kind == "explain"]
    for method in dict.fromkeys(c.method.split()[0] for c in explained):
        mine = [c for c in explained if c.method.split()[0] == method]
        diffs = [c.rel for c in mine if c.rel is not None and c.status == "PASS"]
        count = {s: sum(c.status == s for c in mine) for s in ("PASS", "FAIL", "SKIP")}
        print(f"{method:24} {len(mine):>5} {count['PASS']:>6} {count['FAIL']:>6} "
              f"{count['SKIP']:>7} {max(diffs, default=0):>12.2e}")
    print()


def main(argv: List[str]) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--segcam", required=True, help="the segcam program to check")
    parser.add_argument("--workdir", required=True, help="where models, images and outputs go")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--models", default=",".join(MODEL_IMAGES),
                        help="comma-separated subset of " + ",".join(MODEL_IMAGES))
    parser.add_argument("--jobs", type=int, default=2, help="CLI processes run at once")
    args = parser.parse_args(argv)

    if not (os.path.isfile(args.segcam) and os.access(args.segcam, os.X_OK)):
        print(f"crosscheck: {args.segcam} is not an executable program", file=sys.stderr)
        return 1
    torch.set_num_threads(1)
    data = os.path.join(args.workdir, "data")
    outdir = os.path.join(args.workdir, "out")
    os.makedirs(outdir, exist_ok=True)
    written = make_models.make_all(data)
    cases: List[Case] = []
    for name in args.models.split(","):
        for i, image in enumerate(MODEL_IMAGES[name]):
            cases += make_cases(name, written["models"][name], image, written["images"][image],
                                first_image=i == 0)
    print(f"{len(cases)} cases, {args.segcam}", flush=True)

    with concurrent.futures.ThreadPoolExecutor(max(args.jobs, 1)) as pool:
        futures = [pool.submit(run_cli, args.segcam, c, outdir, i) for i, c in enumerate(cases)]
        for case, future in zip(cases, futures):
            judge(case, future.result(), args.tolerance)

    print_table(cases)
    passed = sum(c.status == "PASS" for c in cases)
    failed = sum(c.status == "FAIL" for c in cases)
    skipped = sum(c.status == "SKIP" for c in cases)
    print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
