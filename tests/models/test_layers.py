"""Tests of SRAFBN's building blocks on their own: shapes, structure, configs."""

import keras
import numpy as np
import pytest

from sras_keras.models import ConvPReLU, FeedbackBlock, StepAttention


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


@pytest.mark.parametrize("scale", [2, 3, 4, 8])
def test_feedback_block_keeps_the_lr_shape(scale):
    block = FeedbackBlock(num_features=4, num_groups=3, scale=scale)
    l0 = np.random.rand(2, 5, 7, 4).astype("float32")
    assert tuple(block(l0, l0).shape) == (2, 5, 7, 4)


def test_feedback_block_layout():
    m, groups = 4, 3
    block = FeedbackBlock(num_features=m, num_groups=groups, scale=2)
    block.build((None, None, None, m), (None, None, None, m))

    assert len(block.up_projections) == len(block.down_projections) == groups
    assert len(block.up_compressions) == len(block.down_compressions) == groups - 1
    # Dense links: compressor g sees g * m channels; compress_out sees l_1..l_G only.
    assert [c.conv.kernel.shape[2] for c in block.up_compressions] == [2 * m, 3 * m]
    assert [c.conv.kernel.shape[2] for c in block.down_compressions] == [2 * m, 3 * m]
    assert block.compress_in.conv.kernel.shape[2] == 2 * m
    assert block.compress_out.conv.kernel.shape[2] == groups * m
    assert block.up_projections[0].conv.kernel.shape[:2] == (6, 6)


def test_feedback_block_dense_links(monkeypatch):
    """Each sub-layer gets exactly the concatenation the notes (§2.4) prescribe."""
    block = FeedbackBlock(num_features=3, num_groups=3, scale=2)
    l0, hidden = (np.random.rand(1, 5, 4, 3).astype("float32") for _ in range(2))
    block(l0, hidden)

    seen = {}  # layer name -> (input, output)

    def record(layer):
        original_call = layer.call

        def call(inputs):
            output = original_call(inputs)
            seen[layer.name] = (inputs.numpy(), output.numpy())
            return output

        monkeypatch.setattr(layer, "call", call)

    sublayers = [block.compress_in, block.compress_out, *block.up_projections, *block.down_projections]
    for layer in sublayers + block.up_compressions + block.down_compressions:
        record(layer)
    block(l0, hidden)

    def inputs(name):
        return seen[name][0]

    def concat_outputs(names):
        return np.concatenate([seen[name][1] for name in names], axis=-1)

    lows = ["compress_in", "down_1", "down_2", "down_3"]
    highs = ["up_1", "up_2", "up_3"]
    np.testing.assert_array_equal(inputs("compress_in"), np.concatenate([l0, hidden], axis=-1))
    np.testing.assert_array_equal(inputs("up_1"), concat_outputs(["compress_in"]))
    np.testing.assert_array_equal(inputs("down_1"), concat_outputs(["up_1"]))
    for g in (2, 3):
        np.testing.assert_array_equal(inputs(f"uptran_{g}"), concat_outputs(lows[:g]))
        np.testing.assert_array_equal(inputs(f"up_{g}"), concat_outputs([f"uptran_{g}"]))
        np.testing.assert_array_equal(inputs(f"downtran_{g}"), concat_outputs(highs[:g]))
        np.testing.assert_array_equal(inputs(f"down_{g}"), concat_outputs([f"downtran_{g}"]))
    np.testing.assert_array_equal(inputs("compress_out"), concat_outputs(lows[1:]))


def test_feedback_block_depends_on_the_hidden_state():
    block = FeedbackBlock(num_features=4, num_groups=2, scale=2)
    l0 = np.random.rand(1, 6, 6, 4).astype("float32")
    assert np.abs(block(l0, l0) - block(l0, np.zeros_like(l0))).max() > 1e-4


def test_conv_prelu_has_one_shared_slope():
    layer = ConvPReLU(5, 3)
    out = layer(np.random.rand(1, 4, 4, 2).astype("float32"))
    assert tuple(out.shape) == (1, 4, 4, 5)
    assert layer.prelu.alpha.shape == (1, 1, 1)
    np.testing.assert_allclose(layer.prelu.alpha.numpy(), 0.2)
    np.testing.assert_array_equal(layer.conv.bias.numpy(), 0.0)

    up = ConvPReLU(5, 7, strides=3, transpose=True)
    assert tuple(up(np.random.rand(1, 4, 5, 2).astype("float32")).shape) == (1, 12, 15, 5)


@pytest.mark.parametrize(
    "layer",
    [
        ConvPReLU(5, 6, strides=2, transpose=True),
        FeedbackBlock(num_features=4, num_groups=2, scale=3),
        StepAttention(num_steps=3, mode="softmax", attn_dim=4, floor=0.25),
    ],
)
def test_layer_config_round_trip(layer):
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config


def test_step_attention_rejects_bad_arguments():
    with pytest.raises(ValueError):
        StepAttention(num_steps=2, mode="max")
    with pytest.raises(ValueError):
        StepAttention(num_steps=2, floor=1.5)
    with pytest.raises(ValueError):
        StepAttention(num_steps=2)([np.zeros((1, 2, 2, 3), "float32")])
