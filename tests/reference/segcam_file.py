"""segcam_file — segcam model files (docs/model-format.md) with numpy alone, no torch.

  - safetensors by hand: read_safetensors / write_safetensors (F32, F16, BF16);
  - GraphBuilder: segcam graph nodes and their He-like random tensors;
  - calibrate: batch-norm running statistics and head scale from a caller's forward pass;
  - the error classes of the reference's command line (InputError for a bad file).

segcam_torch.py and make_models.py (tests/reference) use it, and so does bench/make_unet.py,
which must run where python3-torch is not installed.
"""

import json
import struct
from typing import Callable, Dict, Iterable, List, Optional, Tuple

import numpy as np


class SegcamError(Exception):
    """A failure the command line reports in one line; exit_code follows the command line's (tools/cli.h)."""

    exit_code = 2


class UsageError(SegcamError):
    """Bad command-line usage (exit status 1)."""

    exit_code = 1


class InputError(SegcamError):
    """Bad input: unreadable file, unknown class or layer, empty ROI (exit status 2)."""

    exit_code = 2


# ------------------------------------------------------------------------------------------------
# safetensors, by hand: u64 LE header length, JSON header, raw little-endian tensor bytes.

_DTYPE_SIZE = {"F32": 4, "F16": 2, "BF16": 2}


def _decode_tensor(raw: bytes, dtype: str, shape: List[int]) -> np.ndarray:
    """Decodes raw little-endian bytes of one tensor into a float32 array (F16/BF16 widened)."""
    if dtype == "F32":
        values = np.frombuffer(raw, dtype="<f4")
    elif dtype == "F16":
        values = np.frombuffer(raw, dtype="<f2")
    elif dtype == "BF16":
        values = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
    else:
        raise InputError(f"unsupported tensor dtype {dtype!r}")
    return values.astype(np.float32).reshape(shape)


def _encode_tensor(array: np.ndarray, dtype: str) -> bytes:
    """Encodes an array as raw little-endian bytes of the given safetensors dtype."""
    array = np.ascontiguousarray(array, dtype=np.float32)
    if dtype == "F32":
        return array.astype("<f4").tobytes()
    if dtype == "F16":
        return array.astype("<f2").tobytes()
    if dtype == "BF16":  # round to nearest even on the upper 16 bits of the float32 pattern
        bits = array.view(np.uint32).astype(np.uint64)
        bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
        return bits.astype("<u2").tobytes()
    raise ValueError(f"unsupported dtype {dtype}")


def read_safetensors(path: str) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    """Reads a safetensors file; returns ({name: float32 array}, metadata)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise InputError(f"cannot read model {path}: {e.strerror}") from e
    if len(data) < 8:
        raise InputError(f"{path}: too short for a safetensors file")
    (header_len,) = struct.unpack_from("<Q", data, 0)
    if header_len > len(data) - 8:
        raise InputError(f"{path}: header length {header_len} exceeds the file")
    try:
        header = json.loads(data[8:8 + header_len].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: bad header JSON: {e}") from e
    metadata = header.pop("__metadata__", None) or {}
    base = 8 + header_len
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        expected = _DTYPE_SIZE.get(info["dtype"], 0) * int(np.prod(info["shape"], dtype=np.int64))
        if not 0 <= begin <= end <= len(data) - base or end - begin != expected:
            raise InputError(f"{path}: tensor {name!r} has a bad byte range")
        tensors[name] = _decode_tensor(data[base + begin:base + end], info["dtype"], info["shape"])
    return tensors, metadata


def read_graph(path: str) -> Tuple[dict, Dict[str, np.ndarray]]:
    """Reads a segcam model file; returns (the segcam.graph JSON, {name: float32 array})."""
    tensors, metadata = read_safetensors(path)
    if "segcam.graph" not in metadata:
        raise InputError(f"{path}: no segcam.graph in __metadata__")
    return json.loads(metadata["segcam.graph"]), tensors


def write_safetensors(path: str, tensors: Dict[str, np.ndarray], metadata: Dict[str, str],
                      dtypes: Optional[Dict[str, str]] = None) -> None:
    """Writes tensors (sorted by name, F32 unless dtypes says F16/BF16) and string metadata.

    Tensors are packed back to back with no alignment, so an odd-sized F16 tensor leaves the
    next one unaligned, as the format allows.  The header is padded with spaces to 8 bytes.
    """
    dtypes = dtypes or {}
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        dtype = dtypes.get(name, "F32")
        raw = _encode_tensor(tensors[name], dtype)
        header[name] = {"dtype": dtype, "shape": list(tensors[name].shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    text = json.dumps(header).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


# ------------------------------------------------------------------------------------------------
# Building a graph.

class GraphBuilder:
    """Accumulates segcam graph nodes and their tensors, with He-like random weights."""

    def __init__(self, rng: np.random.RandomState, in_channels: int):
        self.rng = rng
        self.nodes: List[dict] = [{"name": "input", "op": "input"}]
        self.tensors: Dict[str, np.ndarray] = {}
        self.channels = {"input": in_channels}

    def _add(self, node: dict, channels: int) -> str:
        """Appends a node and records its output channels; returns its name."""
        self.nodes.append(node)
        self.channels[node["name"]] = channels
        return node["name"]

    def _tensor(self, name: str, values: np.ndarray) -> str:
        """Stores a float32 tensor; returns its name."""
        self.tensors[name] = np.asarray(values, dtype=np.float32)
        return name

    def conv(self, name: str, src: str, cout: int, kernel: int = 3, stride: Optional[int] = None,
             padding="auto", dilation: Optional[int] = None, bias: bool = False) -> str:
        """conv2d; padding "auto" is [p,p,p,p] with p = kernel // 2 (None: attribute left out,
        i.e. 0).  stride and dilation are written only when given."""
        cin = self.channels[src]
        std = np.sqrt(2.0 / (cin * kernel * kernel))
        node = {"name": name, "op": "conv2d", "inputs": [src], "kernel": [kernel, kernel]}
        if stride is not None:
            node["stride"] = [stride, stride]
        if padding == "auto":
            node["padding"] = [kernel // 2] * 4
        elif padding is not None:
            node["padding"] = padding
        if dilation is not None:
            node["dilation"] = [dilation, dilation]
        node["weight"] = self._tensor(f"{name}.weight",
                                      self.rng.normal(0, std, (cout, cin, kernel, kernel)))
        if bias:
            node["bias"] = self._tensor(f"{name}.bias", self.rng.normal(0, 0.1, cout))
        return self._add(node, cout)

    def conv_transpose(self, name: str, src: str, cout: int, kernel: int, stride: int,
                       padding: int = 0, output_padding: int = 0) -> str:
        """conv_transpose2d with bias; weight [Cin,Cout,kh,kw]."""
        cin = self.channels[src]
        std = np.sqrt(2.0 / (cin * kernel * kernel / (stride * stride)))
        node = {"name": name, "op": "conv_transpose2d", "inputs": [src],
                "kernel": [kernel, kernel], "stride": [stride, stride],
                "padding": [padding, padding], "output_padding": [output_padding] * 2,
                "weight": self._tensor(f"{name}.weight",
                                       self.rng.normal(0, std, (cin, cout, kernel, kernel))),
                "bias": self._tensor(f"{name}.bias", self.rng.normal(0, 0.1, cout))}
        return self._add(node, cout)

    def batchnorm(self, name: str, src: str) -> str:
        """Batch norm with random gamma/beta; running statistics are set by calibrate()."""
        c = self.channels[src]
        node = {"name": name, "op": "batchnorm", "inputs": [src], "eps": 1e-5,
                "gamma": self._tensor(f"{name}.weight", self.rng.uniform(0.6, 1.4, c)),
                "beta": self._tensor(f"{name}.bias", self.rng.normal(0, 0.15, c)),
                "mean": self._tensor(f"{name}.running_mean", np.zeros(c)),
                "var": self._tensor(f"{name}.running_var", np.ones(c))}
        return self._add(node, c)

    def simple(self, name: str, op: str, srcs: List[str], channels: Optional[int] = None,
               **attributes) -> str:
        """A node without tensors (relu, sigmoid, maxpool2d, upsample, concat, add)."""
        node = {"name": name, "op": op, "inputs": srcs}
        node.update(attributes)
        return self._add(node, channels if channels is not None else self.channels[srcs[0]])

    def conv_bn_relu(self, prefix: str, src: str, cout: int, suffix: str = "", **conv) -> str:
        """prefix.conv{suffix} -> prefix.bn{suffix} -> prefix.relu{suffix}."""
        x = self.conv(f"{prefix}.conv{suffix}", src, cout, **conv)
        x = self.batchnorm(f"{prefix}.bn{suffix}", x)
        return self.simple(f"{prefix}.relu{suffix}", "relu", [x])

    def double_conv(self, prefix: str, src: str, cout: int, first_bias: bool = False,
                    padding="auto") -> str:
        """Two conv3x3+BN+ReLU, as a U-Net level."""
        x = self.conv_bn_relu(prefix, src, cout, "1", bias=first_bias, padding=padding)
        return self.conv_bn_relu(prefix, x, cout, "2", padding=padding)


# ------------------------------------------------------------------------------------------------
# Calibration.

Stats = Callable[[str], Tuple[np.ndarray, np.ndarray]]


def calibrate(nodes: Iterable[dict], output: str, tensors: Dict[str, np.ndarray], stats: Stats,
              rng: np.random.RandomState) -> None:
    """Sets running mean/var of every batch norm to the statistics of its input, perturbed
    (mean off by ~0.3 sd, var scaled by 0.5..2), then scales and shifts the output conv so
    logits have a standard deviation of ~2.5 and every class is predicted somewhere.

    nodes in topological order; stats(node name) is the per-channel mean and variance of that
    node's output over the calibration pixels, computed with the tensors as they are now."""
    nodes = list(nodes)
    for node in nodes:
        if node["op"] != "batchnorm":
            continue
        mean, var = stats(node["inputs"][0])
        sd = np.sqrt(var + 1e-8)
        tensors[node["mean"]] = (mean + 0.3 * sd * rng.normal(size=mean.shape)).astype(np.float32)
        tensors[node["var"]] = (var * rng.uniform(0.5, 2.0, var.shape)).astype(np.float32)
    head = next(n for n in nodes if n["name"] == output)
    mean, var = stats(output)
    scale = 2.5 / np.sqrt(var.mean())
    tensors[head["weight"]] = (tensors[head["weight"]] * scale).astype(np.float32)
    bias = (tensors[head["bias"]] - mean) * scale + rng.normal(0, 0.3, mean.shape)
    tensors[head["bias"]] = bias.astype(np.float32)
