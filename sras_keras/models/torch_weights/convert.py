"""``sras weights convert``: a PyTorch ImageNet checkpoint (torchvision / timm, as `.safetensors`) -> the
`.weights.h5` that ``--weights PATH`` takes, for the architectures Keras has no ImageNet weights for.

Safetensors only, read here with NumPy (a JSON header, then raw little-endian arrays): a `.pth` file is a pickle,
which this package never loads (the command's help gives the one-line conversion where PyTorch is installed). Not the
`safetensors` package's NumPy API: NumPy has no bfloat16, so it refuses BF16 checkpoints (safetensors 0.8:
"data type 'bfloat16' not understood"), which this reader widens to float32; and it would be one more dependency.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from sras_keras.core.errors import SrasError
from sras_keras.core.io import atomic_path
from sras_keras.models.registry import build_backbone
from sras_keras.models.torch_weights.mapping import load_torch_state

_DTYPES = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U8": np.uint8,
    "BOOL": np.bool_,
}
_MAX_HEADER = 100 << 20  # the format's own limit on the JSON header


def read_safetensors(path: str | Path) -> dict[str, np.ndarray]:
    """Every tensor of a `.safetensors` file (BF16 widened to float32)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SrasError(f"{path}: cannot be read ({error.strerror or error})") from None
    if len(data) < 8:
        raise SrasError(f"{path}: not a safetensors file (too short)")
    (length,) = struct.unpack("<Q", data[:8])
    if length > min(_MAX_HEADER, len(data) - 8):
        raise SrasError(f"{path}: not a safetensors file (header length {length} does not fit the file)")
    try:
        header = json.loads(data[8 : 8 + length])
    except (UnicodeDecodeError, ValueError):
        raise SrasError(f"{path}: not a safetensors file (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise SrasError(f"{path}: not a safetensors file (its header is not a JSON object)")
    body = memoryview(data)[8 + length :]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        tensors[name] = _tensor(path, name, entry, body)
    if not tensors:
        raise SrasError(f"{path}: holds no tensors")
    return tensors


def _tensor(path: Path, name: str, entry, body: memoryview) -> np.ndarray:
    try:
        dtype, shape, (begin, end) = entry["dtype"], [int(side) for side in entry["shape"]], entry["data_offsets"]
    except (KeyError, TypeError, ValueError):
        raise SrasError(f"{path}: tensor {name!r} has a malformed header entry") from None
    if dtype != "BF16" and dtype not in _DTYPES:
        raise SrasError(f"{path}: tensor {name!r} has dtype {dtype}, which is not supported")
    itemsize = 2 if dtype == "BF16" else np.dtype(_DTYPES[dtype]).itemsize
    if not 0 <= begin <= end <= len(body) or end - begin != itemsize * int(np.prod(shape)):
        raise SrasError(f"{path}: tensor {name!r} lies outside the file or has the wrong byte count (truncated?)")
    raw = body[begin:end]
    if dtype == "BF16":  # the top half of a float32
        widened = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        return widened.view(np.float32).reshape(shape)
    return np.frombuffer(raw, dtype=np.dtype(_DTYPES[dtype]).newbyteorder("<")).reshape(shape).copy()


def convert_torch_checkpoint(source: str | Path, backbone: str, out: str | Path, image_size: int) -> Path:
    """Build the headless ``backbone`` at ``image_size``, set it from ``source`` and save its weights to ``out``
    (written under a temporary name, renamed when complete). Only ViT's weights depend on the size (its
    position embedding); the other files fit the backbone at any size."""
    out = Path(out)
    if not out.name.endswith(".weights.h5"):
        raise SrasError(f"{out}: the output must end in .weights.h5 (what --weights PATH reads)")
    state = read_safetensors(source)
    model = build_backbone(backbone, image_size)
    try:
        load_torch_state(model, backbone, state)
    except SrasError as error:
        raise SrasError(f"{source}: {error}") from None
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as temporary:
        model.save_weights(temporary)
    return out
