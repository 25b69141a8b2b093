"""SRAFBN model tests: shapes, the hidden-state rule, step weighting, loss, training, saving, sizes."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from sras_keras.models import PRESETS, SRAFBN


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


@pytest.fixture(params=["float16", "bfloat16"])  # GPU and CPU mixed precision (training/distribute.py)
def mixed_precision(request):
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(f"mixed_{request.param}")
    try:
        yield request.param
    finally:
        keras.mixed_precision.set_global_policy(previous)


def _tiny(**overrides):
    return SRAFBN.from_preset("tiny", **{"mean": 0.5, **overrides})


def _blocky_pair(batch=4, lr_size=12, scale=2):
    """HR of 2x2 random blocks (hard for bicubic) and its area-downscaled LR, in [0.2, 0.8]."""
    rng = np.random.default_rng(0)
    blocks = (rng.random((batch, lr_size, lr_size, 1)) > 0.5).astype("float32")
    hr = 0.2 + 0.6 * np.repeat(np.repeat(blocks, scale, axis=1), scale, axis=2)
    lr = hr.reshape(batch, lr_size, scale, lr_size, scale, 1).mean(axis=(2, 4))
    return lr, hr


def _built(**kwargs):
    model = SRAFBN(**kwargs)
    model.build((None, None, None, kwargs.get("channels", 1)))
    return model


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_output_shapes_on_odd_sizes(scale):
    model = _tiny(scale=scale)
    x = np.random.rand(2, 13, 17, 1).astype("float32")
    expected = (2, 13 * scale, 17 * scale, 1)

    assert tuple(model(x).shape) == expected
    outputs, weights = model.steps(x)
    assert [tuple(sr.shape) for sr in outputs] == [expected] * model.num_steps
    assert tuple(weights.shape) == (2, model.num_steps)
    assert model.compute_output_shape((2, 13, 17, 1)) == expected


def test_call_returns_last_step():
    model = _tiny()
    x = np.random.rand(2, 9, 11, 1).astype("float32")
    outputs, _ = model.steps(x)
    np.testing.assert_allclose(model(x), outputs[-1], atol=1e-6)


def test_first_step_sees_l0_twice_and_later_steps_the_previous_output(monkeypatch):
    model = _tiny()
    x = np.random.rand(2, 9, 11, 1).astype("float32")
    model(x)  # build before spying

    calls = []
    original_call = model.feedback.call

    def spy(l0, hidden):
        output = original_call(l0, hidden)
        calls.append((l0.numpy(), hidden.numpy(), output.numpy()))
        return output

    monkeypatch.setattr(model.feedback, "call", spy)
    outputs, _ = model.steps(x)
    monkeypatch.undo()

    assert len(calls) == model.num_steps
    l0, hidden, _ = calls[0]
    np.testing.assert_array_equal(hidden, l0)
    for previous, current in zip(calls, calls[1:]):
        np.testing.assert_array_equal(current[0], l0)
        np.testing.assert_array_equal(current[1], previous[2])

    # Rebuild SR_1 from the public sub-layers with hidden = L0; a zero hidden state must differ.
    shifted = x - model.mean_shift
    l0 = model.feat_in(model.conv_in(shifted))
    base = tf.image.resize(shifted, (18, 22), method="bicubic") + model.mean_shift

    def first_step(hidden):
        residual = model.conv_out(model.recon_mid(model.recon_up(model.feedback(l0, hidden))))
        return (residual + base).numpy()

    np.testing.assert_allclose(outputs[0], first_step(l0), atol=1e-5)
    assert np.abs(outputs[0] - first_step(tf.zeros_like(l0))).max() > 1e-3


@pytest.mark.parametrize("mode", ["self_attention", "softmax", "equal"])
def test_step_weights_start_at_one_over_t(mode):
    model = _tiny(step_weighting=mode)
    _, weights = model.steps(np.random.rand(3, 8, 8, 1).astype("float32"))
    np.testing.assert_allclose(weights, np.full((3, model.num_steps), 1 / model.num_steps), atol=1e-7)


def test_attention_weights_sum_to_one_and_respect_the_floor():
    model = SRAFBN.from_preset("tiny", num_steps=4, attn_floor=0.4)
    x = np.random.rand(5, 8, 8, 1).astype("float32")
    model(x)
    score = model.step_weighting.score
    score.kernel.assign(np.random.default_rng(1).normal(0, 50, score.kernel.shape))

    _, weights = model.steps(x)
    weights = weights.numpy()
    floor = 0.4 / 4
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-6)
    assert weights.min() >= floor - 1e-7
    assert weights.max() > 0.5  # the scores really moved the weights toward a floored one-hot


def test_softmax_weights_follow_the_logits_with_the_floor():
    model = _tiny(step_weighting="softmax", attn_floor=0.5)
    x = np.random.rand(2, 8, 8, 1).astype("float32")
    model(x)
    model.step_weighting.logits.assign([30.0, -30.0])
    _, weights = model.steps(x)
    np.testing.assert_allclose(weights, [[0.75, 0.25], [0.75, 0.25]], atol=1e-6)


def test_attention_descriptors_stop_the_gradient():
    model = _tiny()
    x = tf.constant(np.random.rand(2, 8, 8, 1).astype("float32"))
    model(x)
    score = model.step_weighting.score
    score.kernel.assign(np.random.default_rng(1).normal(0, 1, score.kernel.shape))
    with tf.GradientTape() as tape:
        _, weights = model.steps(x)
        target = weights[:, 0]
    gradients = tape.gradient(target, model.feedback.trainable_variables)
    assert all(g is None or np.all(g.numpy() == 0) for g in gradients)


def test_equal_weighting_loss_is_the_sum_of_per_step_l1():
    model = _tiny(step_weighting="equal")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), run_eagerly=True)  # skip tracing; fit covers graphs
    lr, hr = _blocky_pair(batch=3, lr_size=7)
    outputs, _ = model.steps(lr)
    step_l1 = [np.mean(np.abs(sr.numpy() - hr)) for sr in outputs]

    logs = model.train_on_batch(lr, hr, return_dict=True)

    np.testing.assert_allclose(logs["loss"], sum(step_l1), rtol=1e-5)
    for t, expected in enumerate(step_l1, start=1):
        np.testing.assert_allclose(logs[f"l1_step{t}"], expected, rtol=1e-5)
        np.testing.assert_allclose(logs[f"w_step{t}"], 1 / model.num_steps, rtol=1e-6)
    last = np.clip(outputs[-1].numpy(), 0, 1)
    psnr = np.mean(10 * np.log10(1 / np.mean((last - hr) ** 2, axis=(1, 2, 3))))
    np.testing.assert_allclose(logs["psnr"], psnr, rtol=1e-4)


def test_tiny_preset_overfits_one_batch():
    model = _tiny()
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    lr, hr = _blocky_pair()
    bicubic_l1 = np.mean(np.abs(tf.image.resize(lr, hr.shape[1:3], method="bicubic") - hr))

    losses = [model.train_on_batch(lr, hr, return_dict=True)["loss"] for _ in range(60)]

    assert np.all(np.isfinite(losses))
    assert losses[-1] <= 0.5 * losses[0]
    # Beats "residual = 0" (every step equal to bicubic): the network learned something.
    assert losses[-1] < 0.5 * model.num_steps * bicubic_l1


def test_fit_and_evaluate_with_dynamic_spatial_sizes():
    model = _tiny()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))

    def pairs():
        for size in (6, 7, 9):
            lr, hr = _blocky_pair(batch=2, lr_size=size)
            yield lr, hr

    spec = tf.TensorSpec((None, None, None, 1), tf.float32)
    dataset = tf.data.Dataset.from_generator(pairs, output_signature=(spec, spec))
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(3))
    history = model.fit(dataset, epochs=2, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"]).all()
    assert {"loss", "l1", "psnr", "l1_step1", "l1_step2", "w_step1", "w_step2"} <= set(history.history)

    results = model.evaluate(dataset, verbose=0, return_dict=True)
    assert set(results) == {"loss", "l1", "psnr", "l1_step1", "l1_step2"}
    assert results["l1"] == pytest.approx(results["l1_step2"])


def test_save_and_load_keras_file_gives_identical_outputs(tmp_path):
    model = _tiny(scale=3, upsample="bilinear")
    x = np.random.rand(2, 10, 13, 1).astype("float32")
    model(x)
    for variable in model.trainable_variables:  # make every weight matter, incl. zero-init ones
        variable.assign(variable + np.random.normal(0, 0.05, variable.shape))
    path = tmp_path / "srafbn.keras"

    model.save(path)
    restored = keras.saving.load_model(path)

    assert isinstance(restored, SRAFBN)
    np.testing.assert_array_equal(restored(x), model(x))
    (outputs, weights), (restored_outputs, restored_weights) = model.steps(x), restored.steps(x)
    np.testing.assert_array_equal(restored_weights, weights)
    for expected, actual in zip(outputs, restored_outputs):
        np.testing.assert_array_equal(actual, expected)


def test_config_round_trip():
    model = _tiny(scale=4, step_weighting="softmax", recon_1x1=False, pixel_range=255.0, mean=200.0)
    config = model.get_config()
    expected_fields = {
        "channels",
        "num_features",
        "num_groups",
        "num_steps",
        "scale",
        "mean",
        "pixel_range",
        "upsample",
        "recon_1x1",
        "step_weighting",
        "attn_dim",
        "attn_floor",
    }
    assert expected_fields <= set(config)
    clone = SRAFBN.from_config(config)
    assert clone.get_config() == config


def test_presets_and_argument_checks():
    assert set(PRESETS) == {"full", "light", "tiny"}
    assert SRAFBN.from_preset("light", scale=3).get_config()["num_features"] == 32
    with pytest.raises(ValueError):
        SRAFBN.from_preset("huge")
    with pytest.raises(ValueError):
        _tiny(scale=5)
    with pytest.raises(ValueError):
        _tiny(step_weighting="max")
    with pytest.raises(ValueError):
        _tiny(mean=200.0)  # pixel units: > pixel_range=1.0
    with pytest.raises(ValueError):
        _tiny()(np.zeros((1, 8, 8, 3), "float32"))


# Design notes §7 (gray unless stated; attention counted separately).
@pytest.mark.parametrize(
    "kwargs, backbone, attention",
    [
        (dict(num_features=64, num_groups=6, scale=2), 2_138_909, 6_273),
        (dict(num_features=64, num_groups=6, scale=3), 2_831_133, 6_273),
        (dict(num_features=32, num_groups=3, scale=2), 280_593, 3_201),
        (dict(num_features=32, num_groups=3, scale=4), 481_297, 3_201),
        (dict(num_features=64, num_groups=6, scale=2, recon_1x1=False, step_weighting="equal"), 2_134_748, 0),
        (dict(num_features=64, num_groups=6, scale=4, recon_1x1=False, step_weighting="equal"), 3_625_692, 0),
        (dict(num_features=32, num_groups=3, scale=2, recon_1x1=False, step_weighting="equal"), 279_536, 0),
        (
            dict(channels=3, num_features=64, num_groups=6, scale=4, recon_1x1=False, step_weighting="equal"),
            3_631_454,
            0,
        ),
        (
            dict(channels=3, num_features=32, num_groups=3, scale=4, recon_1x1=False, step_weighting="equal"),
            483_122,
            0,
        ),
    ],
)
def test_parameter_counts_match_the_notes(kwargs, backbone, attention):
    model = _built(num_steps=4, **kwargs)
    assert model.step_weighting.count_params() == attention
    assert model.count_params() == backbone + attention
    assert len(model.non_trainable_weights) == 0


def test_mixed_precision_builds_and_trains(mixed_precision):
    model = _tiny()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    lr, hr = _blocky_pair(batch=2, lr_size=8)

    output = model(lr)
    outputs, weights = model.steps(lr)
    logs = model.train_on_batch(lr, hr, return_dict=True)

    assert model.feedback.compute_dtype == mixed_precision
    assert output.dtype == "float32" and weights.dtype == "float32"
    assert all(sr.dtype == "float32" for sr in outputs)
    assert np.isfinite(logs["loss"])
