"""The two-step study's 11 architectures: builds, native heads, parameter counts against the published ones, no
ImageNet download for the package-written ones, and serialisation of the custom layers (random weights throughout)."""

import keras
import numpy as np
import pytest

from sras_keras.core.errors import SrasError
from sras_keras.evaluation.gradcam import grad_cam
from sras_keras.models import heads
from sras_keras.models.backbones import swin_t, torch_style, vit_s16
from sras_keras.models.classifier import build_classifier, classifier_backbone, feature_model
from sras_keras.models.registry import backbone_names, build_backbone, get_backbone
from sras_keras.models.tl_architectures import TL_ARCHITECTURES, TL_REFERENCE_SIZE

STUDY = list(TL_ARCHITECTURES.values())
NAMES = [architecture.registry for architecture in STUDY]
PACKAGE_WRITTEN = ["vgg16_bn", "vgg19_bn", "resnet34", "resnext50_32x4d", "resnext101_32x8d", "swin_t", "vit_s16"]
TRANSFORMERS = ["swin_t", "vit_s16"]
# Keras' Caffe-style ResNets carry conv biases torchvision's do not; every other count is exact.
NOT_EXACT = {"resnet50", "resnet101"}


@pytest.fixture(scope="module")
def classifiers():
    """(name, head, size) -> a classifier, built once: the 11 native classifiers alone take ~25 s on 2 cores."""
    built = {}

    def get(name, head="native", size=None):
        key = (name, head, size or get_backbone(name).min_size)
        if key not in built:
            keras.utils.set_random_seed(0)
            built[key] = build_classifier(name, key[2], head=head)
        return built[key]

    return get


def trainable_count(model):
    return sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)


def gray_batch(size, count=2, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (count, size, size, 1)).astype("float32")


def test_the_11_study_architectures_are_registered():
    assert len(STUDY) == 11
    assert set(NAMES) <= set(backbone_names())
    assert TL_ARCHITECTURES["VGG-16"].expected_params == 134_367_320
    assert TL_ARCHITECTURES["MobileNetV3-L"].expected_params == 4_232_776


@pytest.mark.parametrize("name", NAMES)
def test_native_classifier_gives_24_probabilities_at_the_minimum_size(classifiers, name):
    size = get_backbone(name).min_size
    model = classifiers(name)
    probabilities = model(gray_batch(size), training=False).numpy()

    assert model.name == f"sras_{name}_native"
    assert probabilities.shape == (2, 24)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert model.get_layer("probabilities").dtype_policy.compute_dtype == "float32"
    assert feature_model(model)(gray_batch(size), training=False).shape[0] == 2


@pytest.mark.parametrize("architecture", STUDY, ids=[a.registry for a in STUDY])
def test_native_parameter_count_matches_the_published_one(classifiers, architecture):
    """Trainable weights only: Keras' BatchNorm moving statistics are buffers in PyTorch. ViT's position embeddings
    depend on the input size, so it is counted at 224 px (a 22M-parameter build of ~2 s); the others do not."""
    size = TL_REFERENCE_SIZE if architecture.registry == "vit_s16" else None
    count = trainable_count(classifiers(architecture.registry, size=size))
    assert abs(count / architecture.expected_params - 1) < 0.01, (count, architecture.expected_params)
    if architecture.registry not in NOT_EXACT:
        assert count == architecture.expected_params


def test_paper_text_counts_within_the_documented_discrepancies():
    assert round(TL_ARCHITECTURES["VGG-16"].expected_params / 1e6, 2) == TL_ARCHITECTURES["VGG-16"].paper_params_text
    mobilenet = TL_ARCHITECTURES["MobileNetV3-L"]
    assert abs(mobilenet.expected_params / (mobilenet.paper_params_text * 1e6) - 1) < 0.013


@pytest.mark.parametrize("name", NAMES)
def test_feature_layer_is_the_backbones_last_4d_layer(classifiers, name):
    head = "sras" if name == "vit_s16" else "native"  # the native ViT nests a view ending at the token sequence
    backbone = classifier_backbone(classifiers(name, head=head))
    layer = backbone.get_layer(get_backbone(name).feature_layer)
    four_d = [candidate.name for candidate in backbone.layers if len(candidate.output.shape) == 4]
    assert len(layer.output.shape) == 4
    assert layer.name == four_d[-1]


@pytest.mark.parametrize("name", TRANSFORMERS)
def test_transformer_sras_head_pools_the_token_grid(classifiers, name):
    model = classifiers(name, head="sras")
    backbone = classifier_backbone(model)
    assert len(backbone.output.shape) == 4
    assert backbone.output.shape[-1] == {"swin_t": 768, "vit_s16": 384}[name]
    probabilities = model(gray_batch(32), training=False).numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("size, grid", [(64, 2), (96, 3), (100, 4)])
def test_swin_builds_at_cpu_scale_sizes(size, grid):
    backbone = build_backbone("swin_t", size)
    features = backbone(np.zeros((1, size, size, 3), "float32"), training=False)
    assert tuple(features.shape) == (1, grid, grid, 768)


def test_grad_cam_through_native_heads(classifiers):
    for name in ("swin_t", "vgg16_bn", "vit_s16"):
        maps = grad_cam(classifiers(name), gray_batch(32), [0, 5])
        assert maps.shape == (2, 32, 32)
        assert np.isfinite(maps).all()
    # ViT's class-token head: the map comes from the last block's patch tokens, which do reach the class token
    # (the final block's outputs would give zero gradients, so all-zero maps); at random weights a class's map may
    # still be all negative before the ReLU, so one non-empty map is what can be asked
    assert maps.max() == 1.0


@pytest.mark.parametrize("name", PACKAGE_WRITTEN)
def test_imagenet_weights_for_package_written_architectures_are_refused_without_network(monkeypatch, name):
    def no_download(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(keras.utils, "get_file", no_download)
    monkeypatch.setattr("keras.src.utils.file_utils.get_file", no_download)
    with pytest.raises(SrasError, match=rf"{name}.*no Keras ImageNet weights.*--weights PATH"):
        build_classifier(name, 32, weights="imagenet")


def test_native_head_is_refused_where_none_is_registered():
    with pytest.raises(SrasError, match="no native head"):
        build_classifier("xception", 71, head="native")
    with pytest.raises(SrasError, match="unknown head"):
        build_classifier("resnet34", 32, head="torchvision")


def test_dropout_defaults_to_the_heads_own_rate(classifiers):
    assert classifiers("mobilenet_v3_large").get_layer("dropout").rate == 0.2
    assert classifiers("vgg16_bn").get_layer("dropout").rate == 0.5
    assert classifiers("swin_t").get_layer("dropout").rate == 0.0
    assert classifiers("swin_t", head="sras").get_layer("dropout").rate == 0.5


@pytest.mark.parametrize("name, head", [("swin_t", "native"), ("vit_s16", "native"), ("vit_s16", "sras")])
def test_transformer_classifier_round_trips_through_a_keras_file(classifiers, tmp_path, name, head):
    model = classifiers(name, head=head)
    path = tmp_path / f"{name}_{head}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    images = gray_batch(32)
    np.testing.assert_array_equal(loaded(images, training=False), model(images, training=False))


def test_vit_weights_files_fit_either_view(classifiers, tmp_path):
    """The native ViT nests a re-wired view of the headless model; its weights file loads as a backbone file."""
    native = classifiers("vit_s16")
    path = tmp_path / "vit_view.weights.h5"
    classifier_backbone(native).save_weights(path)
    rebuilt = build_classifier("vit_s16", 32, weights=path, head="sras")
    for expected, loaded in zip(classifier_backbone(native).weights, classifier_backbone(rebuilt).weights):
        np.testing.assert_array_equal(loaded.numpy(), expected.numpy())


CUSTOM_LAYERS = [
    torch_style.DropPath(0.1, seed=3),
    swin_t.ShiftedWindowAttention(96, 3, 7, 3),
    swin_t.PatchMergingGather(),
    vit_s16.ClassTokenPositionEmbedding(),
    vit_s16.PatchTokensToGrid((2, 3)),
    heads.AdaptiveAveragePooling2D((7, 7)),
    heads.VGGClassifierFeatures(64, 0.5, 7),
    heads.PooledDense(32, "hard_swish"),
    heads.ClassTokenPool(),
]


@pytest.mark.parametrize("layer", CUSTOM_LAYERS, ids=lambda layer: type(layer).__name__)
def test_custom_layer_config_round_trips(layer):
    config = keras.saving.serialize_keras_object(layer)
    rebuilt = keras.saving.deserialize_keras_object(config, safe_mode=True)
    assert type(rebuilt) is type(layer)
    assert rebuilt.get_config() == layer.get_config()


def test_adaptive_pool_bins_are_pytorchs():
    np.testing.assert_array_equal(heads.adaptive_pool_matrix(7, 7), np.eye(7))
    np.testing.assert_array_equal(heads.adaptive_pool_matrix(1, 7), np.ones((7, 1)))
    # PyTorch, 10 -> 7: bin i spans [floor(10 i / 7), ceil(10 (i + 1) / 7))
    starts_ends = [(0, 2), (1, 3), (2, 5), (4, 6), (5, 8), (7, 9), (8, 10)]
    matrix = heads.adaptive_pool_matrix(10, 7)
    for row, (start, end) in zip(matrix, starts_ends):
        np.testing.assert_allclose(row[start:end], 1 / (end - start))
        assert row.sum() == pytest.approx(1.0)


def test_shifted_window_mask_separates_the_rolled_regions():
    mask = swin_t.shifted_window_mask(14, 14, 7, 3, 3)
    assert mask.shape == (4, 49, 49)
    assert not mask[0].any()  # the top-left window holds one region
    region = np.zeros((7, 7), int)
    region[4:, :] += 1
    region[:, 4:] += 2  # the bottom-right window holds four
    expected = np.where(region.reshape(-1)[:, None] != region.reshape(-1)[None, :], -100.0, 0.0)
    np.testing.assert_array_equal(mask[3], expected)


def test_relative_position_index_is_torchvisions():
    index = swin_t.relative_position_index(7)
    assert index.shape == (49 * 49,)
    assert index.min() == 0 and index.max() == 13 * 13 - 1
    assert index[0] == 6 * 13 + 6  # a token and itself: zero offset, the table's centre


def test_swin_under_mixed_precision_keeps_float32_probabilities():
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = build_classifier("swin_t", 32, head="native")
        probabilities = model(gray_batch(32), training=False)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    assert probabilities.dtype == "float32"
    np.testing.assert_allclose(keras.ops.sum(probabilities, axis=1), 1.0, atol=1e-3)


def torchvision_shifted_window_attention(x, qkv_kernel, qkv_bias, proj_kernel, proj_bias, table, window, heads, shift):
    """torchvision.models.swin_transformer.shifted_window_attention, transcribed line by line into NumPy."""
    batch, height, width, channels = x.shape
    pad_r, pad_b = (window - width % window) % window, (window - height % window) % window
    x = np.pad(x, ((0, 0), (0, pad_b), (0, pad_r), (0, 0)))
    _, pad_h, pad_w, _ = x.shape
    shift = [0 if window >= pad_h else shift, 0 if window >= pad_w else shift]
    if sum(shift) > 0:
        x = np.roll(x, (-shift[0], -shift[1]), axis=(1, 2))
    num_windows = (pad_h // window) * (pad_w // window)
    x = x.reshape(batch, pad_h // window, window, pad_w // window, window, channels)
    x = x.transpose(0, 1, 3, 2, 4, 5).reshape(batch * num_windows, window * window, channels)
    qkv = (x @ qkv_kernel + qkv_bias).reshape(x.shape[0], x.shape[1], 3, heads, channels // heads)
    q, k, v = qkv.transpose(2, 0, 3, 1, 4)
    q = q * (channels // heads) ** -0.5
    attn = q @ k.transpose(0, 1, 3, 2)
    n = window * window
    bias = table[swin_t.relative_position_index(window)].reshape(n, n, -1).transpose(2, 0, 1)
    attn = attn + bias[None]
    if sum(shift) > 0:
        mask = np.zeros((pad_h, pad_w))
        h_slices = ((0, -window), (-window, -shift[0]), (-shift[0], None))
        w_slices = ((0, -window), (-window, -shift[1]), (-shift[1], None))
        count = 0
        for h in h_slices:
            for w in w_slices:
                mask[h[0] : h[1], w[0] : w[1]] = count
                count += 1
        mask = mask.reshape(pad_h // window, window, pad_w // window, window).transpose(0, 2, 1, 3)
        mask = mask.reshape(num_windows, n)
        mask = mask[:, None, :] - mask[:, :, None]
        mask = np.where(mask != 0, -100.0, 0.0)
        attn = attn.reshape(x.shape[0] // num_windows, num_windows, heads, n, n) + mask[None, :, None]
        attn = attn.reshape(-1, heads, n, n)
    attn = np.exp(attn - attn.max(-1, keepdims=True))
    attn = attn / attn.sum(-1, keepdims=True)
    x = (attn @ v).transpose(0, 2, 1, 3).reshape(x.shape[0], x.shape[1], channels)
    x = x @ proj_kernel + proj_bias
    x = x.reshape(batch, pad_h // window, pad_w // window, window, window, channels)
    x = x.transpose(0, 1, 3, 2, 4, 5).reshape(batch, pad_h, pad_w, channels)
    if sum(shift) > 0:
        x = np.roll(x, (shift[0], shift[1]), axis=(1, 2))
    return x[:, :height, :width, :]


@pytest.mark.parametrize("side, shift", [(14, 3), (10, 3), (8, 3), (5, 3), (14, 0)])
def test_shifted_window_attention_matches_torchvision(side, shift):
    """Whole windows, padded maps, a shift dropped on a map no larger than the window, no shift."""
    keras.utils.set_random_seed(1)
    layer = swin_t.ShiftedWindowAttention(12, 3, 7, shift)
    x = np.random.default_rng(0).normal(size=(2, side, side, 12)).astype("float32")
    layer(x)  # builds the weights
    table = np.random.default_rng(1).normal(size=(169, 3)).astype("float32")
    layer.relative_position_bias_table.assign(table)
    got = keras.ops.convert_to_numpy(layer(x))
    qkv = [weight.numpy().astype("float64") for weight in layer.qkv.weights]
    proj = [weight.numpy().astype("float64") for weight in layer.proj.weights]
    expected = torchvision_shifted_window_attention(
        x.astype("float64"), *qkv, *proj, table.astype("float64"), 7, 3, shift
    )
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
