#!/usr/bin/python3
"""train_crosscheck.py --train-step PATH --workdir DIR — the engine's training against PyTorch.

For the test models unet-bn, unet-convt (make_models.py; softmax cross-entropy) and sigmoid
(one output channel: binary cross-entropy with logits), on a random batch of 3 images of 24x20
with random labels, it runs the engine's trainer (tests/train-step.c) for 1, 2 and 3 Adam steps,
on its default path (3x3 convs forward and backward-data as Winograd where it pays: here the
first level's, 90 tiles) and on its exact path (TRAIN_STEP_EXACT=1: every conv direct, tables
headed "MODEL exact"), and the same training in PyTorch, float64:

  - the graph in train mode: segcam_torch.py's ops, except batch norm with batch statistics
    (F.batch_norm training=True, momentum 0.1, the file's eps: biased variance to normalise,
    unbiased for running_var);
  - the loss F.cross_entropy (mean over N*H*W pixels) on NCHW logits, or
    F.binary_cross_entropy_with_logits for one-channel models;
  - torch.optim.Adam(lr) with default betas and eps on every conv weight and bias and every
    batch-norm gamma and beta.

Compared (worst error per tensor in the table):
  loss        every step, |C - ref| / |ref| <= 1e-5
  grad        every gradient after step 1, max|C - ref| / max|ref| <= 1e-4
  adam        the engine's own step 1 redone in float64 from its own gradient g: w0 - lr g/(|g|+eps),
              m = 0.1 g, v = 0.001 g^2; error in units of the float32 rounding of each value
              (<= 4: Adam as torch.optim.Adam computes it, independent of any gradient error)
  dw1, dw3    the change of every trainable tensor after 1 and 3 steps, max|C - ref| / max|ref|
  m1 v1 m3 v3 Adam's moments after 1 and 3 steps, same measure, <= 1e-4 (as the gradients)
  run1 run3   the change of the batch norms' running mean and var after 1 and 3 steps, <= 1e-4
  dw is held to 1e-3 only: see CONDITIONING below.

A conv bias whose output only feeds batch norms has a gradient that is exactly zero in train mode
(the batch mean absorbs it); the engine's is float32 rounding noise, which Adam, dividing by
|g| + 1e-8, turns into steps of up to lr (PyTorch in float32 does the same). For those tensors
only "gradient ~ 0" is checked (|g| <= 1e-4 max|grad| of the conv's weight, marked "bias->bn"),
and the reference takes the engine's values for them after each step: the network's output does
not depend on them, but the following batch norm's running mean does.

It also checks determinism: two runs of train-step with the same inputs write byte-identical
files and print identical losses, and runs with TRAIN_STEP_THREADS=1, 2 and 3 agree byte for byte
(on a larger batch, so that the thread pool actually splits the work); and that the two paths'
first gradients differ, so that the default one did run Winograd.

Exit status 0 when nothing failed, 1 otherwise, 77 when python3-torch (or python3-pil, needed to
make the models) is missing. The last line is "N passed, M failed".

CONDITIONING: Adam's first step is lr * g / (|g| + eps), nearly sign(g); a weight whose gradient
is within float32 noise (~1e-6 of the largest) of zero moves by an amount no float32
implementation can reproduce, so a weight whose float64 gradient at step 1 is below 1e-4 of its
tensor's largest is left out of dw1 and dw3 (counted as "ill-cond." in the notes; a handful per
model). The 1e-3 for dw is set by float32 storage: rounding a weight of magnitude 1 alone moves
it by 6e-8, 6e-5 of a 1e-3 step (the moments have no such floor).

The left-out weights still move, by up to lr in either direction, and on these small networks
that changes the later steps' gradients; so, as for bias->bn, the reference takes the engine's
values for them after each step, and the later steps compare what float32 can reproduce. At
this size that holds on both paths with room (worst m3 1.0e-5 Winograd, 1.8e-6 exact; dw3 2.1e-4
and 1.0e-4). It is still a property of the batch rather than of float32: at 3x48x40, where
more weights sit near the threshold, PyTorch's own float32 training (pinned the same way) is
off its float64 by 2e-2 and 1.3e-1 in m3 on unet-bn and unet-convt, the engine's Winograd path
by 4e-2 (unet-bn) and 3e-4 (sigmoid), and only the direct path stays within 4e-6. Step one,
where nothing has moved yet, agrees at any size.
"""

import argparse
import dataclasses
import os
import subprocess
import sys
from typing import Dict, List, Optional, Tuple

sys.dont_write_bytecode = True  # keep the source tree clean when run from meson
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import needs  # noqa: E402

needs.modules(("numpy", "python3-torch"), ("torch", "python3-torch"), ("PIL", "python3-pil"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import make_models  # noqa: E402
import segcam_torch as st  # noqa: E402
from segcam_file import read_safetensors  # noqa: E402

MODELS = ("unet-bn", "unet-convt", "sigmoid")
BATCH, HEIGHT, WIDTH = 3, 24, 20
LR = 1e-3
STEPS = 3
SEED = 20240612

TOL_LOSS = 1e-5
TOL_GRAD = 1e-4
TOL_ADAM = 4.0          # in float32 roundings of the value
TOL_STATE = 1e-3        # weight changes
TOL_MOMENT = 1e-4       # Adam's moments
TOL_RUNNING = 1e-4      # running statistics' changes
ILL_CONDITIONED = 1e-4  # |g| / max|g| below which a weight's Adam step is not reproducible
ADAM_EPS, BETA1, BETA2 = 1e-8, 0.9, 0.999


# ------------------------------------------------------------------------------------------------
# The reference: the model file's graph in train mode, float64.

class TrainGraph:
    """A segcam model as trainable PyTorch tensors: parameters (conv weights and biases, batch
    norm gamma and beta) are leaves with requires_grad; running statistics are buffers that
    F.batch_norm updates in place."""

    def __init__(self, path: str, dtype=torch.float64):
        self.model = st.SegcamModel.load(path, dtype)
        self.dtype = dtype
        self.params: Dict[str, torch.Tensor] = {}
        self.buffers: Dict[str, torch.Tensor] = {}
        for node in self.model.nodes:
            for attribute in trainable_attributes(node):
                name = node[attribute]
                self.params[name] = self.model.tensors[name].clone().requires_grad_(True)
                self.model.tensors[name] = self.params[name]  # what segcam_torch's ops read
            if node["op"] == "batchnorm":
                for attribute in ("mean", "var"):
                    self.buffers[node[attribute]] = self.model.tensors[node[attribute]].clone()

    def forward(self, images: np.ndarray) -> torch.Tensor:
        """(N,H,W,C) floats in [0,1] -> (N,K,H,W) logits, batch norms in train mode."""
        m = self.model
        x = torch.as_tensor(images, dtype=self.dtype).permute(0, 3, 1, 2)
        mean = torch.tensor(m.mean, dtype=self.dtype).view(1, -1, 1, 1)
        std = torch.tensor(m.std, dtype=self.dtype).view(1, -1, 1, 1)
        values = {}
        for node in m.nodes:
            args = [values[s] for s in node.get("inputs", [])]
            if node["op"] == "input":
                values[node["name"]] = (x - mean) / std
            elif node["op"] == "batchnorm":
                values[node["name"]] = F.batch_norm(
                    args[0], self.buffers[node["mean"]], self.buffers[node["var"]],
                    weight=self.params[node["gamma"]], bias=self.params[node["beta"]],
                    training=True, momentum=0.1, eps=float(node.get("eps", 1e-5)))
            else:  # the same in train and eval mode: segcam_torch's interpreter
                values[node["name"]] = st.OPS[node["op"]](m, node, args)
        return values[m.output]


def trainable_attributes(node: dict) -> List[str]:
    """The attributes of a node that name trainable tensors, in the engine's order."""
    if node["op"] in ("conv2d", "conv_transpose2d"):
        return ["weight"] + (["bias"] if node.get("bias") else [])
    if node["op"] == "batchnorm":
        return ["gamma", "beta"]
    return []


def loss_function(logits: torch.Tensor, labels: np.ndarray) -> torch.Tensor:
    """Mean softmax cross-entropy over all pixels, or BCE with logits for one channel."""
    y = torch.as_tensor(labels.astype(np.int64))
    if logits.shape[1] == 1:
        return F.binary_cross_entropy_with_logits(logits[:, 0], y.to(logits.dtype))
    return F.cross_entropy(logits, y)


@dataclasses.dataclass
class State:
    """Everything compared after some steps: parameters, gradients of the last step, Adam's
    moments, running statistics (float64 arrays by tensor name) and the losses so far."""

    params: Dict[str, np.ndarray]
    grads: Dict[str, np.ndarray]
    m: Dict[str, np.ndarray]
    v: Dict[str, np.ndarray]
    running: Dict[str, np.ndarray]
    losses: List[float]


def reference_training(path: str, images: np.ndarray, labels: np.ndarray, lr: float,
                       steps: int, pinned: Dict[str, Tuple[Optional[np.ndarray], List[np.ndarray]]]
                       ) -> List[State]:
    """Trains in float64; returns the state after every step (index 0 = after step 1).
    pinned: {tensor: (mask, values per step)}: after each step the tensor's elements where mask
    (all of them where mask is None) are set to the given values instead of Adam's (see
    bias->bn and CONDITIONING)."""
    g = TrainGraph(path)
    optimizer = torch.optim.Adam(list(g.params.values()), lr=lr)
    states, losses = [], []
    for step in range(steps):
        optimizer.zero_grad()
        loss = loss_function(g.forward(images), labels)
        loss.backward()
        grads = {n: p.grad.detach().numpy().copy() for n, p in g.params.items()}
        optimizer.step()
        with torch.no_grad():
            for name, (mask, values) in pinned.items():
                value = torch.from_numpy(values[step])
                if mask is None:
                    g.params[name].copy_(value)
                else:
                    g.params[name][torch.from_numpy(mask)] = value[torch.from_numpy(mask)]
        losses.append(float(loss))
        moments = {n: optimizer.state[p] for n, p in g.params.items()}
        states.append(State(
            params={n: p.detach().numpy().copy() for n, p in g.params.items()},
            grads=grads,
            m={n: s["exp_avg"].numpy().copy() for n, s in moments.items()},
            v={n: s["exp_avg_sq"].numpy().copy() for n, s in moments.items()},
            running={n: b.numpy().copy() for n, b in g.buffers.items()},
            losses=list(losses)))
    return states


# ------------------------------------------------------------------------------------------------
# The engine, through train-step.

def write_batch(directory: str, channels: int, batch: int, height: int, width: int,
                n_labels: int, seed: int) -> Tuple[str, str, np.ndarray, np.ndarray]:
    """A random batch (uniform pixels in [0,1], uniform labels) as train-step's input files."""
    rng = np.random.RandomState(seed)
    images = rng.uniform(0, 1, (batch, height, width, channels)).astype(np.float32)
    labels = rng.randint(0, n_labels, (batch, height, width)).astype(np.uint8)
    image_path = os.path.join(directory, "images.f32")
    label_path = os.path.join(directory, "labels.u8")
    images.astype("<f4").tofile(image_path)
    labels.tofile(label_path)
    return image_path, label_path, images, labels


def run_train_step(program: str, model: str, image_path: str, label_path: str,
                   shape: Tuple[int, int, int], lr: float, steps: int, out_prefix: str,
                   threads: Optional[int] = None, exact: bool = False) -> Tuple[str, str, str]:
    """Runs train-step; returns (stdout, checkpoint path, gradients path)."""
    out_model, out_grads = out_prefix + "-model.safetensors", out_prefix + "-grads.safetensors"
    env = dict(os.environ)
    if threads is not None:
        env["TRAIN_STEP_THREADS"] = str(threads)
    env["TRAIN_STEP_EXACT"] = "1" if exact else "0"
    proc = subprocess.run([program, model, image_path, label_path, *map(str, shape), repr(lr),
                           str(steps), out_model, out_grads], capture_output=True, text=True,
                          env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"train-step failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout, out_model, out_grads


def engine_state(stdout: str, model_path: str, grads_path: str, names: List[str],
                 running_names: List[str]) -> State:
    """Reads train-step's outputs back as a State."""
    tensors, metadata = read_safetensors(model_path)
    grads, _ = read_safetensors(grads_path)
    losses = [float(line.split()[3]) for line in stdout.splitlines() if line.startswith("step ")]
    if set(grads) != set(names):
        raise RuntimeError(f"gradient file tensors differ: {sorted(set(grads) ^ set(names))}")
    if metadata.get("segcam.adam_steps") != str(len(losses)):
        raise RuntimeError(f"the checkpoint's segcam.adam_steps is "
                           f"{metadata.get('segcam.adam_steps')!r}, not {len(losses)}")
    as64 = lambda a: a.astype(np.float64)  # noqa: E731
    return State(params={n: as64(tensors[n]) for n in names},
                 grads={n: as64(grads[n]) for n in names},
                 m={n: as64(tensors[f"adam.m.{n}"]) for n in names},
                 v={n: as64(tensors[f"adam.v.{n}"]) for n in names},
                 running={n: as64(tensors[n]) for n in running_names},
                 losses=losses)


# ------------------------------------------------------------------------------------------------
# Comparisons.

@dataclasses.dataclass
class Check:
    """One compared quantity of one tensor (or of the whole model)."""

    model: str
    tensor: str
    what: str
    error: float
    tolerance: float
    note: str = ""

    @property
    def passed(self) -> bool:
        return bool(self.error <= self.tolerance)  # NaN fails


def relative(actual: np.ndarray, reference: np.ndarray, mask: Optional[np.ndarray] = None) -> float:
    """max |actual - reference| / max |reference| over mask (absolute when the reference is 0)."""
    if mask is not None:
        actual, reference = actual[mask], reference[mask]
    if reference.size == 0:
        return 0.0
    diff = float(np.max(np.abs(actual - reference)))
    scale = float(np.max(np.abs(reference)))
    return diff / scale if scale > 0 else diff


def adam_step1_error(initial: np.ndarray, engine: State, name: str, lr: float) -> float:
    """Replays Adam's first step in float64 from the engine's own gradient; the error of the
    engine's value, m and v in units of the float32 rounding (half an ulp) of each element."""
    g = engine.grads[name]
    expect = {"value": initial - lr * g / (np.abs(g) + ADAM_EPS),
              "m": (1 - BETA1) * g, "v": (1 - BETA2) * g * g}
    got = {"value": engine.params[name], "m": engine.m[name], "v": engine.v[name]}
    worst = 0.0
    for key, want in expect.items():
        # Half an ulp of the float32 value plus room for the inputs' own rounding: a few ulps
        # over all are what a float32 implementation of torch.optim.Adam can differ by.
        ulp = np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)
        if key == "value":  # the step itself is computed from float32 m and v
            ulp = ulp + lr * 2.0 ** -22
        tiny = np.finfo(np.float32).tiny
        worst = max(worst, float(np.max(np.abs(got[key] - want) / np.maximum(ulp, tiny))))
    return worst


def feeds_only_batchnorm(graph: st.SegcamModel) -> Dict[str, str]:
    """{bias tensor: weight tensor} for conv biases whose node feeds only batch norms."""
    consumers: Dict[str, List[str]] = {}
    for node in graph.nodes:
        for source in node.get("inputs", []):
            consumers.setdefault(source, []).append(node["op"])
    return {node["bias"]: node["weight"] for node in graph.nodes
            if node["op"] in ("conv2d", "conv_transpose2d") and node.get("bias")
            and consumers.get(node["name"]) and set(consumers[node["name"]]) == {"batchnorm"}}


def compare_model(name: str, path: str, program: str, workdir: str,
                  exact: bool) -> List[Check]:
    """Trains one model both ways; returns its checks, under the model's name (with " exact"
    for the trainer's exact path)."""
    graph = st.SegcamModel.load(path)
    channels, multiple = graph.channels, graph.size_multiple
    if HEIGHT % multiple or WIDTH % multiple:
        raise RuntimeError(f"{name}: {HEIGHT}x{WIDTH} is not a multiple of {multiple}")
    n_labels = len(graph.classes)
    directory = os.path.join(workdir, name + ("-exact" if exact else ""))
    os.makedirs(directory, exist_ok=True)
    image_path, label_path, images, labels = write_batch(directory, channels, BATCH, HEIGHT, WIDTH,
                                                         n_labels, SEED)
    names = [node[a] for node in graph.nodes for a in trainable_attributes(node)]
    running_names = [node[a] for node in graph.nodes if node["op"] == "batchnorm"
                     for a in ("mean", "var")]
    initial, _ = read_safetensors(path)
    initial = {n: a.astype(np.float64) for n, a in initial.items()}

    shape = (BATCH, HEIGHT, WIDTH)
    engine = {}
    for steps in range(1, STEPS + 1):
        out = run_train_step(program, path, image_path, label_path, shape, LR, steps,
                             os.path.join(directory, f"steps{steps}"), exact=exact)
        engine[steps] = engine_state(*out, names, running_names)
    # Biases before batch norms take the engine's (noise-driven) values, so that the running
    # means, which see them, stay comparable.
    degenerate = feeds_only_batchnorm(graph)
    # So do the ill-conditioned weights (CONDITIONING), which step 1's float64 gradient finds.
    first = reference_training(path, images, labels, LR, 1, {})[0].grads
    ill_conditioned = {t: np.abs(first[t]) < ILL_CONDITIONED * np.max(np.abs(first[t]))
                       for t in names if t not in degenerate}
    pinned = {t: (None if t in degenerate else ill_conditioned[t],
                  [engine[k].params[t] for k in range(1, STEPS + 1)])
              for t in names if t in degenerate or ill_conditioned[t].any()}
    reference = reference_training(path, images, labels, LR, STEPS, pinned)

    label = name + (" exact" if exact else "")
    checks = []
    for step, (got, want) in enumerate(zip(engine[STEPS].losses, reference[-1].losses), 1):
        checks.append(Check(label, "(loss)", f"step{step}", abs(got - want) / abs(want), TOL_LOSS))
    one, last = reference[0], reference[-1]
    for tensor in names:
        if tensor in degenerate:
            scale = float(np.max(np.abs(one.grads[degenerate[tensor]])))
            error = float(np.max(np.abs(engine[1].grads[tensor]))) / scale
            checks.append(Check(label, tensor, "grad", error, TOL_GRAD, "bias->bn"))
            continue
        g = one.grads[tensor]
        well = ~ill_conditioned[tensor]
        ill = int(np.count_nonzero(ill_conditioned[tensor]))
        checks.append(Check(label, tensor, "grad", relative(engine[1].grads[tensor], g), TOL_GRAD))
        checks.append(Check(label, tensor, "adam", adam_step1_error(initial[tensor], engine[1], tensor,
                                                                   LR), TOL_ADAM))
        for tag, got, want in (("1", engine[1], one), (str(STEPS), engine[STEPS], last)):
            delta = relative(got.params[tensor] - initial[tensor],
                             want.params[tensor] - initial[tensor], well)
            checks.append(Check(label, tensor, "dw" + tag, delta, TOL_STATE,
                                f"{ill} ill-cond." if ill else ""))
            checks.append(Check(label, tensor, "m" + tag, relative(got.m[tensor], want.m[tensor]),
                                TOL_MOMENT))
            checks.append(Check(label, tensor, "v" + tag, relative(got.v[tensor], want.v[tensor]),
                                TOL_MOMENT))
    for tensor in running_names:
        for tag, got, want in (("1", engine[1], one), (str(STEPS), engine[STEPS], last)):
            checks.append(Check(label, tensor, "run" + tag,
                                relative(got.running[tensor] - initial[tensor],
                                         want.running[tensor] - initial[tensor]), TOL_RUNNING))
    return checks


# ------------------------------------------------------------------------------------------------
# Determinism.

def same_bytes(paths: List[str]) -> bool:
    """Whether all files have identical contents."""
    contents = []
    for path in paths:
        with open(path, "rb") as f:
            contents.append(f.read())
    return all(c == contents[0] for c in contents)


def determinism_checks(name: str, path: str, program: str, workdir: str) -> List[Check]:
    """Repeated runs and runs with 1, 2, 3 threads must write the same bytes. A larger batch
    than the comparison's, so that batch norm, conv and weight-gradient work is split into
    several tasks."""
    graph = st.SegcamModel.load(path)
    directory = os.path.join(workdir, name, "determinism")
    os.makedirs(directory, exist_ok=True)
    shape = (4, 64, 48)
    image_path, label_path, _, _ = write_batch(directory, graph.channels, *shape,
                                               len(graph.classes), SEED + 1)
    runs = {}
    for tag, threads in (("a", None), ("b", None), ("t1", 1), ("t2", 2), ("t3", 3)):
        runs[tag] = run_train_step(program, path, image_path, label_path, shape, LR, 2,
                                   os.path.join(directory, tag), threads)
    checks = []
    for what, tags in (("determinism repeat", ("a", "b")), ("determinism threads", ("t1", "t2", "t3"))):
        same = all(runs[t][0] == runs[tags[0]][0] for t in tags)
        for k in (1, 2):
            same = same and same_bytes([runs[t][k] for t in tags])
        checks.append(Check(name, "(files)", what, 0.0 if same else 1.0, 0.0,
                            "byte-identical" if same else "DIFFERENT"))
    return checks


def paths_differ(name: str, workdir: str) -> Check:
    """The default path's first step must not be the exact path's byte for byte: otherwise the
    comparison above never ran Winograd (every model here has 3x3 convs on maps that take it)."""
    files = [os.path.join(workdir, name + suffix, "steps1-grads.safetensors")
             for suffix in ("", "-exact")]
    same = same_bytes(files)
    return Check(name, "(files)", "Winograd path", 1.0 if same else 0.0, 0.0,
                 "SAME as exact: no Winograd ran" if same else "differs from exact")


# ------------------------------------------------------------------------------------------------

def print_table(checks: List[Check]) -> None:
    """One row per tensor, one column per quantity; a failing entry is marked with '*'."""
    columns = ["grad", "adam"] + [f"{q}{s}" for s in ("1", str(STEPS)) for q in ("dw", "m", "v")]
    for model in dict.fromkeys(c.model for c in checks):
        mine = [c for c in checks if c.model == model]
        print(f"\n== {model}: {BATCH}x{HEIGHT}x{WIDTH}, lr {LR}, {STEPS} steps")
        losses = [c for c in mine if c.tensor == "(loss)"]
        if losses:
            print("loss rel. error per step: " + "  ".join(
                f"{c.what} {c.error:.1e}{'' if c.passed else '*'}" for c in losses))
        rows: Dict[str, Dict[str, Check]] = {}
        for c in mine:
            if c.tensor not in ("(loss)", "(files)"):
                rows.setdefault(c.tensor, {})[c.what] = c
        if rows:
            print(f"{'tensor':32s}" + "".join(f"{c:>10s}" for c in columns)
                  + f"{'run1':>10s}{'run' + str(STEPS):>10s}  note")
        for tensor, cells in rows.items():
            line = f"{tensor:32s}"
            for column in columns + ["run1", f"run{STEPS}"]:
                c = cells.get(column)
                line += f"{'-':>10s}" if c is None else f"{c.error:>9.1e}{' ' if c.passed else '*'}"
            notes = {c.note for c in cells.values() if c.note}
            print(line + ("  " + ", ".join(sorted(notes)) if notes else ""))
        worst: Dict[str, Check] = {}
        for c in mine:
            if c.tensor not in ("(loss)", "(files)") and (c.what not in worst or c.error / c.tolerance
                                           > worst[c.what].error / worst[c.what].tolerance):
                worst[c.what] = c
        print("worst: " + "  ".join(f"{w} {c.error:.1e} ({c.tensor})" for w, c in worst.items()))
        for c in mine:
            if c.tensor == "(files)":
                print(f"{c.what}: {c.note}")


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-step", required=True, help="the train-step test program")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--models", default=",".join(MODELS))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # float64 reference: thread count does not matter, keep it quiet
    paths = make_models.make_all(os.path.join(args.workdir, "models"))["models"]
    checks: List[Check] = []
    for name in args.models.split(","):
        for exact in (False, True):
            checks += compare_model(name, paths[name], args.train_step, args.workdir, exact)
        checks += determinism_checks(name, paths[name], args.train_step, args.workdir)
        checks.append(paths_differ(name, args.workdir))
    print_table(checks)
    failed = [c for c in checks if not c.passed]
    for c in failed:
        print(f"FAIL {c.model} {c.tensor} {c.what}: {c.error:.3e} > {c.tolerance:.0e} {c.note}")
    print(f"{len(checks) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
