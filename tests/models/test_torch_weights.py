"""`sras weights convert`: safetensors reading, the PyTorch -> Keras mapping's checks, the CLI. Numerical parity
with torchvision / timm themselves is `scripts/torch_parity.py` (it needs PyTorch, which the suite does not)."""

import json
import struct

import numpy as np
import pytest
from click.testing import CliRunner

from sras_keras.cli import main
from sras_keras.core.errors import SrasError
from sras_keras.models.registry import build_backbone
from sras_keras.models.torch_weights.convert import read_safetensors
from sras_keras.models.torch_weights.mapping import load_torch_state

RESNET34_BLOCKS = (3, 4, 6, 3)
NAMES = {"float64": "F64", "float32": "F32", "float16": "F16", "int64": "I64"}


def write_safetensors(path, tensors, dtypes=None):
    """A safetensors file as the format's spec lays it out (what the `safetensors` package writes)."""
    dtypes = dtypes or {}
    header, chunks, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, array in tensors.items():
        dtype = dtypes.get(name) or NAMES[np.asarray(array).dtype.name]
        raw = (
            (np.asarray(array, np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
            if dtype == "BF16"
            else np.ascontiguousarray(array).tobytes()
        )
        header[name] = {"dtype": dtype, "shape": list(np.shape(array)), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(chunks))
    return path


def resnet34_state(seed=0):
    """Random tensors under torchvision resnet34's names and shapes (classifier included, as a checkpoint has it)."""
    rng = np.random.default_rng(seed)
    state = {}

    def conv(name, out, inp, k):
        state[f"{name}.weight"] = rng.normal(size=(out, inp, k, k)).astype(np.float32)

    def bn(name, channels):
        for key in ("weight", "bias", "running_mean", "running_var"):
            state[f"{name}.{key}"] = rng.uniform(0.5, 1.5, channels).astype(np.float32)
        state[f"{name}.num_batches_tracked"] = np.array(7, np.int64)

    conv("conv1", 64, 3, 7)
    bn("bn1", 64)
    inputs = 64
    for stage, (blocks, width) in enumerate(zip(RESNET34_BLOCKS, (64, 128, 256, 512)), start=1):
        for block in range(blocks):
            prefix = f"layer{stage}.{block}"
            conv(f"{prefix}.conv1", width, inputs, 3)
            bn(f"{prefix}.bn1", width)
            conv(f"{prefix}.conv2", width, width, 3)
            bn(f"{prefix}.bn2", width)
            if block == 0 and stage > 1:
                conv(f"{prefix}.downsample.0", width, inputs, 1)
                bn(f"{prefix}.downsample.1", width)
            inputs = width
    state["fc.weight"], state["fc.bias"] = rng.normal(size=(1000, 512)), rng.normal(size=1000)
    return state


@pytest.fixture(scope="module")
def resnet34():
    return build_backbone("resnet34", 32)


def test_safetensors_round_trip_including_bf16_and_f16(tmp_path):
    tensors = {
        "a": np.arange(6, dtype=np.float32).reshape(2, 3),
        "b": np.array([1.5, -2.0], np.float16),
        "c": np.array([0.5, 3.0, -1.25], np.float32),
    }
    path = write_safetensors(tmp_path / "t.safetensors", tensors, {"c": "BF16"})
    read = read_safetensors(path)
    np.testing.assert_array_equal(read["a"], tensors["a"])
    assert read["b"].dtype == np.float16 and np.array_equal(read["b"], tensors["b"])
    np.testing.assert_array_equal(read["c"], tensors["c"])  # exactly representable in bfloat16


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda data: data[:5], "too short"),
        (lambda data: struct.pack("<Q", 10**9) + data[8:], "header length"),
        (lambda data: data[:8] + b"\xff" * 4 + data[12:], "not JSON"),
        (lambda data: data[:-3], "wrong byte count"),
    ],
)
def test_damaged_safetensors_files_name_the_file_and_the_problem(tmp_path, damage, message):
    path = write_safetensors(tmp_path / "t.safetensors", {"a": np.ones((4, 4), np.float32)})
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(SrasError, match=rf"t\.safetensors.*{message}"):
        read_safetensors(path)


def test_resnet34_state_maps_layer_by_layer(resnet34):
    state = resnet34_state()
    load_torch_state(resnet34, "resnet34", state)
    np.testing.assert_array_equal(
        resnet34.get_layer("layer2_block1_conv1").kernel.numpy(), state["layer2.0.conv1.weight"].transpose(2, 3, 1, 0)
    )
    norm = resnet34.get_layer("layer3_block1_downsample_bn")
    np.testing.assert_array_equal(norm.moving_variance.numpy(), state["layer3.0.downsample.1.running_var"])


def test_a_checkpoint_that_does_not_fit_is_refused_whole(resnet34):
    before = [weight.numpy().copy() for weight in resnet34.weights]
    state = resnet34_state(seed=1)
    extra = {**state, "layer5.0.conv1.weight": np.zeros((8, 8, 3, 3), np.float32)}
    with pytest.raises(SrasError, match=r"1 checkpoint tensors fit no layer of resnet34 \(layer5\.0\.conv1\.weight\)"):
        load_torch_state(resnet34, "resnet34", extra)
    missing = {key: value for key, value in state.items() if key != "layer4.2.bn2.running_mean"}
    with pytest.raises(SrasError, match="no tensor 'layer4.2.bn2.running_mean' for layer 'layer4_block3_bn2'"):
        load_torch_state(resnet34, "resnet34", missing)
    reshaped = {**state, "layer1.0.conv1.weight": np.zeros((64, 64, 1, 1), np.float32)}
    with pytest.raises(SrasError, match="layer 'layer1_block1_conv1' of resnet34 needs"):
        load_torch_state(resnet34, "resnet34", reshaped)
    for weight, old in zip(resnet34.weights, before):  # nothing was set by the refused loads
        np.testing.assert_array_equal(weight.numpy(), old)
    with pytest.raises(SrasError, match="no PyTorch mapping for backbone 'xception'"):
        load_torch_state(resnet34, "xception", state)


def test_cli_converts_into_a_file_that_weights_path_loads(tmp_path):
    state = resnet34_state(seed=2)
    source = write_safetensors(tmp_path / "resnet34.safetensors", state)
    out = tmp_path / "resnet34.weights.h5"
    result = CliRunner().invoke(
        main, ["weights", "convert", str(source), str(out), "--backbone", "resnet34", "--image-size", "32"]
    )
    assert result.exit_code == 0, result.output
    loaded = build_backbone("resnet34", 64, str(out))  # any input size: only ViT's weights depend on it
    np.testing.assert_array_equal(loaded.get_layer("conv1").kernel.numpy(), state["conv1.weight"].transpose(2, 3, 1, 0))

    wrong = CliRunner().invoke(
        main,
        [
            "weights",
            "convert",
            str(source),
            str(tmp_path / "x.weights.h5"),
            "--backbone",
            "resnext50_32x4d",
            "--image-size",
            "32",
        ],
    )
    assert wrong.exit_code == 1 and "resnet34.safetensors:" in wrong.output
    assert not (tmp_path / "x.weights.h5").exists() and not list(tmp_path.glob(".x*"))
