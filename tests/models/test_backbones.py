"""Tests of the backbone registry and the SRAS classifier built on it (random weights, except offline ImageNet)."""

import io
import os
import resource
import subprocess
import sys
import textwrap
import zipfile

import h5py
import keras
import numpy as np
import pytest

from sras_keras.core.errors import SrasError
from sras_keras.models import registry
from sras_keras.models.classifier import (
    build_classifier,
    check_compatible,
    classifier_backbone,
    classifier_backbone_name,
    feature_model,
)
from sras_keras.models.registry import (
    BackboneSpec,
    backbone_names,
    build_backbone,
    get_backbone,
    keras_application,
    load_weights_file,
    register_backbone,
)
from sras_keras.models.saving import load_classifier

PAPER_BACKBONES = ["inception_resnet_v2", "resnet50", "vgg19", "xception"]


@pytest.fixture(scope="module")
def classifier_at_min_size():
    """One classifier per backbone at its minimum size, shared: inception_resnet_v2 alone takes seconds to build."""
    built = {}

    def get(name):
        if name not in built:
            keras.utils.set_random_seed(0)
            built[name] = build_classifier(name, get_backbone(name).min_size)
        return built[name]

    return get


def gray_batch(size, count=2, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (count, size, size, 1)).astype("float32")


def test_the_paper_backbones_are_registered():
    assert set(PAPER_BACKBONES) <= set(backbone_names())


@pytest.mark.parametrize("name", PAPER_BACKBONES)
def test_classifier_gives_24_probabilities_at_the_minimum_size(classifier_at_min_size, name):
    model = classifier_at_min_size(name)
    size = get_backbone(name).min_size
    probabilities = model(gray_batch(size), training=False).numpy()

    assert model.name == f"sras_{name}"
    assert model.input_shape == (None, size, size, 1)
    assert probabilities.shape == (2, 24)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert classifier_backbone_name(model) == name


@pytest.mark.parametrize("name", PAPER_BACKBONES)
def test_feature_layer_is_the_last_4d_layer(classifier_at_min_size, name):
    backbone = classifier_backbone(classifier_at_min_size(name))
    four_d = [layer.name for layer in backbone.layers if len(layer.output.shape) == 4]
    assert get_backbone(name).feature_layer == four_d[-1]


def test_feature_model_outputs_the_pooled_vector(classifier_at_min_size):
    features = feature_model(classifier_at_min_size("vgg19"))(gray_batch(32), training=False)
    assert tuple(features.shape) == (2, 512)


@pytest.mark.parametrize("name", PAPER_BACKBONES)
def test_below_the_minimum_size_names_backbone_minimum_and_size(name):
    minimum = get_backbone(name).min_size
    with pytest.raises(SrasError, match=rf"{name}.*{minimum}x{minimum}.*{minimum - 1}x{minimum - 1}"):
        build_classifier(name, minimum - 1)


def test_unknown_backbone_lists_the_known_names():
    with pytest.raises(SrasError, match="alexnet") as error:
        build_classifier("alexnet", 224)
    for name in PAPER_BACKBONES:
        assert name in str(error.value)


def test_unknown_pooling_is_refused():
    with pytest.raises(SrasError, match="pooling"):
        build_classifier("vgg19", 32, pooling="median")


def test_registry_is_open(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    register_backbone(
        BackboneSpec(
            name="vgg16_open_registry_example",  # "vgg16" itself is registered for the two-step study
            builder=keras_application(keras.applications.VGG16),
            preprocess=keras.applications.vgg16.preprocess_input,
            min_size=32,
            default_size=224,
            feature_layer="block5_pool",
            paper="Simonyan & Zisserman, ICLR 2015",
        )
    )
    assert build_classifier("vgg16_open_registry_example", 32, num_classes=3).output_shape == (None, 3)
    with pytest.raises(SrasError, match="already registered"):
        register_backbone(get_backbone("vgg16_open_registry_example"))


OFFLINE_IMAGENET = textwrap.dedent(
    """
    import time
    from sras_keras.core.errors import SrasError
    from sras_keras.models.registry import build_backbone
    start = time.monotonic()
    try:
        build_backbone("vgg19", 32, "imagenet")
        print("DOWNLOADED")
    except SrasError as error:
        print(f"SRASERROR {time.monotonic() - start:.1f}s {error}")
    """
)


def test_imagenet_weights_offline_give_a_clear_error(tmp_path):
    """Keras reads KERAS_HOME once at import, so an empty cache needs a fresh interpreter."""
    env = {**os.environ, "KERAS_HOME": str(tmp_path / "keras_home"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    run = subprocess.run([sys.executable, "-c", OFFLINE_IMAGENET], env=env, capture_output=True, text=True, timeout=120)
    if "DOWNLOADED" in run.stdout:
        pytest.skip("this machine can download the ImageNet weights")
    assert "SRASERROR" in run.stdout, run.stdout + run.stderr
    message = run.stdout.split("SRASERROR", 1)[1]
    assert "could not be fetched" in message
    assert "~/.keras/models" in message
    assert "--weights PATH" in message


def test_local_weights_file_round_trip(classifier_at_min_size, tmp_path):
    source = classifier_at_min_size("vgg19")
    path = tmp_path / "vgg19_backbone.weights.h5"
    classifier_backbone(source).save_weights(path)

    rebuilt = build_classifier("vgg19", 32, weights=path)
    images = gray_batch(32)
    np.testing.assert_allclose(
        feature_model(rebuilt)(images, training=False), feature_model(source)(images, training=False), rtol=1e-6
    )


def save_legacy_h5(model, path):
    """The layout Keras publishes its ImageNet files in, which users pass with --weights PATH."""
    from keras.src.legacy.saving.legacy_h5_format import save_weights_to_hdf5_group

    with h5py.File(path, "w") as file:
        save_weights_to_hdf5_group(file, model)


def test_legacy_h5_weights_file_loads(classifier_at_min_size, tmp_path):
    source = classifier_backbone(classifier_at_min_size("vgg19"))
    path = tmp_path / "vgg19_notop.h5"
    save_legacy_h5(source, path)

    rebuilt = build_backbone("vgg19", 32, weights=str(path))
    for expected, loaded in zip(source.weights, rebuilt.weights):
        np.testing.assert_array_equal(loaded.numpy(), expected.numpy())


@pytest.mark.parametrize("suffix", [".weights.h5", ".h5"])
def test_weights_file_of_another_backbone_is_refused(classifier_at_min_size, tmp_path, suffix):
    path = tmp_path / f"resnet50_backbone{suffix}"
    resnet = classifier_backbone(classifier_at_min_size("resnet50"))
    if suffix == ".h5":
        save_legacy_h5(resnet, path)
    else:
        resnet.save_weights(path)
    with pytest.raises(SrasError, match=rf"{path.name} does not fit model 'vgg19'") as error:
        build_backbone("vgg19", 32, weights=path)
    assert "\n" not in str(error.value)


def test_classifier_weights_for_another_class_count_are_refused(classifier_at_min_size, tmp_path):
    path = tmp_path / "sras_vgg19.weights.h5"
    classifier_at_min_size("vgg19").save_weights(path)
    with pytest.raises(SrasError, match=r"expects \(512, 10\) where the file has \(512, 24\)"):
        load_weights_file(build_classifier("vgg19", 32, num_classes=10), path)


def test_missing_weights_file_is_refused(tmp_path):
    with pytest.raises(SrasError, match="missing.weights.h5 does not exist"):
        build_backbone("vgg19", 32, weights=tmp_path / "missing.weights.h5")


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda good: b"not hdf5 at all" * 10, "junk.weights.h5 is not an HDF5 file; expected weights saved by"),
        (lambda good: good[: len(good) // 3], r"junk.weights.h5: damaged \(.*truncated file"),
        (lambda good: good[:8] + b"\xff" * 200, r"junk.weights.h5: damaged \(.*superblock"),
        (lambda good: zipfile_bytes({"model.weights.h5": good}), "junk.weights.h5 is a zip archive"),
    ],
    ids=["not-hdf5", "truncated", "broken-header", "zip"],
)
def test_a_malformed_weights_file_is_one_error_naming_it(tmp_path, damage, message):
    """Before, these read "does not fit model (another architecture ...?)", or were a RuntimeError traceback."""
    good = tmp_path / "good.weights.h5"
    build_backbone("resnet_small", 32).save_weights(good)
    path = tmp_path / "junk.weights.h5"
    path.write_bytes(damage(good.read_bytes()))
    with pytest.raises(SrasError, match=message) as error:
        build_backbone("resnet_small", 32, weights=path)
    assert "\n" not in str(error.value) and "does not fit" not in str(error.value)


def test_any_failure_inside_a_damaged_weights_file_is_one_error(tmp_path, monkeypatch):
    """h5py raises RuntimeError for some damaged files (found by flipping bytes of a real one)."""
    path = tmp_path / "good.weights.h5"
    build_backbone("resnet_small", 32).save_weights(path)

    def damaged(self, filepath, *args, **kwargs):
        raise RuntimeError("Unable to synchronously check link existence (message type not found)")

    monkeypatch.setattr(keras.Model, "load_weights", damaged)
    with pytest.raises(SrasError, match=r"good.weights.h5: damaged \(Unable to synchronously check link existence"):
        build_backbone("resnet_small", 32, weights=path)


def zipfile_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_zip_bomb_given_as_a_model_is_refused_before_keras_inflates_it(tmp_path):
    """300 MiB of zeros deflate to 300 KB: Keras's own guard lets a member claim up to 4 GiB and reads it whole."""
    path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", "{}")
        with archive.open("model.weights.h5", "w", force_zip64=True) as member:
            for _ in range(300):
                member.write(bytes(1 << 20))
    assert path.stat().st_size < 1 << 20
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(SrasError, match=r"bomb.keras: its members would inflate to 314,572,802 bytes from .* bomb"):
        load_classifier(path)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB: nothing was inflated


def test_a_keras_file_with_a_broken_zip_header_is_one_error(tmp_path, classifier_at_min_size):
    path = tmp_path / "model.keras"
    classifier_at_min_size("vgg19").save(path)
    data = path.read_bytes()
    end = data.rfind(b"PK\x05\x06")  # the end-of-central-directory record, where a zip reader starts
    path.write_bytes(data[:end] + b"PK\x00\x00" + data[end + 4 :])
    with pytest.raises(
        SrasError, match=r"model.keras: not a readable .keras archive \(BadZipFile: File is not"
    ) as error:
        load_classifier(path)
    assert "\n" not in str(error.value)


def test_classifier_round_trips_through_a_keras_file(classifier_at_min_size, tmp_path):
    """inception_resnet_v2 also checks Keras' own unregistered CustomScaleLayer loads in safe mode."""
    model = classifier_at_min_size("inception_resnet_v2")
    path = tmp_path / "classifier.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)

    images = gray_batch(75)
    np.testing.assert_allclose(loaded(images, training=False), model(images, training=False), rtol=1e-5, atol=1e-7)
    check_compatible(loaded, "inception_resnet_v2", 24, input_size=75, source=path)


def test_check_compatible_names_the_file_and_the_mismatch(classifier_at_min_size):
    model = classifier_at_min_size("vgg19")
    check_compatible(model, "vgg19", 24)
    for backbone, classes, size in [("resnet50", 24, None), ("vgg19", 10, None), ("vgg19", 24, 64)]:
        with pytest.raises(SrasError, match=r"run.keras: .*vgg19 classifier with 24 classes at 32x32"):
            check_compatible(model, backbone, classes, input_size=size, source="run.keras")


def test_mixed_precision_keeps_float32_probabilities():
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = build_classifier("vgg19", 32)
        probabilities = model(gray_batch(32), training=False)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    assert classifier_backbone(model).layers[1].compute_dtype == "float16"
    assert model.output.dtype == "float32"
    assert probabilities.dtype == "float32"
    np.testing.assert_allclose(keras.ops.sum(probabilities, axis=1), 1.0, atol=1e-5)


def test_batchnorm_momentum_reaches_every_nested_layer_and_is_saved(tmp_path):
    model = build_classifier("mobilenet_v3_large", 32, batchnorm_momentum=0.9)
    backbone = classifier_backbone(model)
    norms = [layer for layer in backbone.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(norms) > 30 and {layer.momentum for layer in norms} == {0.9}

    first = norms[0]
    images = gray_batch(32, count=4)
    # the first BatchNorm's input, through the classifier's own gray->RGB preprocessing
    rgb = model.get_layer("gray_to_rgb")(images)
    batch_mean = np.mean(keras.Model(backbone.input, first.input)(rgb), axis=(0, 1, 2))
    model(images, training=True)
    np.testing.assert_allclose(first.moving_mean.numpy(), 0.1 * batch_mean, rtol=1e-4, atol=1e-6)

    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    assert {
        layer.momentum
        for layer in classifier_backbone(loaded).layers
        if isinstance(layer, keras.layers.BatchNormalization)
    } == {0.9}
