"""Swin-T (Liu et al., ICCV 2021) as torchvision's `swin_t`, headless: patch 4, embedding 96, depths 2-2-6-2, heads
3-6-12-24, window 7, shifted windows (shift 3 in every second block) with the attention mask, relative position bias,
MLP ratio 4, LayerNorm eps 1e-5, stochastic depth 0.2 rising linearly over the 12 blocks.

Any input side of at least 32 px builds, as in torchvision: each window attention pads its map with zeros (bottom,
right) to a multiple of the 7x7 window and crops back afterwards, and a map no larger than the window is not shifted;
patch merging pads odd sides. The window stays 7 (not clamped), so the relative-position tables, and the parameter
count, do not depend on the input size. At 224 px the stages are 56, 28, 14 and 7 a side (no padding anywhere); at
64 px they are 16, 8, 4 and 2, all padded up to one or more 7x7 windows. The padded tokens are zeros after `norm1`
and take part in attention unmasked, exactly as torchvision does.

The backbone ends with torchvision's final LayerNorm (`norm`), a (B, S/32, S/32, 768) token grid: Grad-CAM's feature
map, and what both heads pool. No Keras ImageNet weights: `--weights PATH` with a local `.weights.h5`.
"""

import keras
import numpy as np

from sras_keras.models.backbones.torch_style import DropPath, check_no_imagenet

EMBED_DIM = 96
DEPTHS = (2, 2, 6, 2)
HEADS = (3, 6, 12, 24)
WINDOW = 7
MLP_RATIO = 4
LN_EPSILON = 1e-5
STOCHASTIC_DEPTH = 0.2


def relative_position_index(window: int) -> np.ndarray:
    """(window^2 * window^2,) indices into the ((2 window - 1)^2, heads) bias table, torchvision's order."""
    coords = np.stack(np.meshgrid(np.arange(window), np.arange(window), indexing="ij")).reshape(2, -1)
    relative = (coords[:, :, None] - coords[:, None, :]).transpose(1, 2, 0) + (window - 1)
    return (relative[:, :, 0] * (2 * window - 1) + relative[:, :, 1]).reshape(-1)


def shifted_window_mask(padded_h: int, padded_w: int, window: int, shift_h: int, shift_w: int) -> np.ndarray:
    """(windows, window^2, window^2): 0 within a region, -100 across regions of the cyclically shifted map
    (torchvision's slices, kept literally: a zero shift on one axis gives one region there)."""
    mask = np.zeros((padded_h, padded_w), dtype=np.float32)
    h_slices = ((0, -window), (-window, -shift_h), (-shift_h, None))
    w_slices = ((0, -window), (-window, -shift_w), (-shift_w, None))
    count = 0
    for h in h_slices:
        for w in w_slices:
            mask[h[0] : h[1], w[0] : w[1]] = count
            count += 1
    mask = mask.reshape(padded_h // window, window, padded_w // window, window).transpose(0, 2, 1, 3)
    mask = mask.reshape(-1, window * window)
    difference = mask[:, None, :] - mask[:, :, None]
    return np.where(difference != 0, -100.0, 0.0).astype(np.float32)


@keras.saving.register_keras_serializable(package="sras_keras")
class ShiftedWindowAttention(keras.layers.Layer):
    """torchvision's `ShiftedWindowAttention` on a (B, H, W, C) map: pad to whole windows, cyclic shift, multi-head
    self-attention within each window with a learned relative position bias (and the mask across shifted regions),
    reverse shift, crop.

    Args:
        dim: channels C.
        num_heads: attention heads (C must divide).
        window: window side.
        shift: cyclic shift (0 or window // 2); dropped on an axis whose padded size is at most the window.
    """

    def __init__(self, dim: int, num_heads: int, window: int = WINDOW, shift: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.dim = int(dim)
        self.num_heads = int(num_heads)
        self.window = int(window)
        self.shift = int(shift)
        self.qkv = keras.layers.Dense(3 * self.dim, name="qkv")
        self.proj = keras.layers.Dense(self.dim, name="proj")
        self.index = relative_position_index(self.window)

    def build(self, input_shape):
        self.qkv.build((None, self.dim))
        self.proj.build((None, self.dim))
        self.relative_position_bias_table = self.add_weight(
            name="relative_position_bias_table",
            shape=((2 * self.window - 1) ** 2, self.num_heads),
            initializer=keras.initializers.TruncatedNormal(stddev=0.02),
        )

    def call(self, inputs):
        ops = keras.ops
        height, width = inputs.shape[1], inputs.shape[2]
        ws, heads, channels = self.window, self.num_heads, self.dim
        pad_b, pad_r = (ws - height % ws) % ws, (ws - width % ws) % ws
        x = ops.pad(inputs, [[0, 0], [0, pad_b], [0, pad_r], [0, 0]]) if pad_b or pad_r else inputs
        padded_h, padded_w = height + pad_b, width + pad_r
        shift_h = 0 if ws >= padded_h else self.shift
        shift_w = 0 if ws >= padded_w else self.shift
        shifted = shift_h + shift_w > 0
        if shifted:
            x = ops.roll(x, shift=(-shift_h, -shift_w), axis=(1, 2))
        rows, cols, tokens = padded_h // ws, padded_w // ws, ws * ws
        windows = rows * cols
        x = ops.reshape(x, (-1, rows, ws, cols, ws, channels))
        x = ops.reshape(ops.transpose(x, (0, 1, 3, 2, 4, 5)), (-1, tokens, channels))  # (B * windows, N, C)

        qkv = ops.reshape(self.qkv(x), (-1, tokens, 3, heads, channels // heads))
        qkv = ops.transpose(qkv, (2, 0, 3, 1, 4))
        q, k, v = qkv[0], qkv[1], qkv[2]
        q = q * ops.cast((channels // heads) ** -0.5, q.dtype)
        attention = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2)))  # (B * windows, heads, N, N)
        bias = ops.take(self.relative_position_bias_table, self.index, axis=0)
        bias = ops.transpose(ops.reshape(bias, (tokens, tokens, heads)), (2, 0, 1))
        attention = attention + ops.cast(bias, attention.dtype)[None]
        if shifted:
            mask = shifted_window_mask(padded_h, padded_w, ws, shift_h, shift_w)
            attention = ops.reshape(attention, (-1, windows, heads, tokens, tokens))
            attention = attention + ops.cast(mask, attention.dtype)[None, :, None]
            attention = ops.reshape(attention, (-1, heads, tokens, tokens))
        attention = ops.softmax(attention, axis=-1)
        x = ops.reshape(ops.transpose(ops.matmul(attention, v), (0, 2, 1, 3)), (-1, tokens, channels))
        x = self.proj(x)

        x = ops.reshape(x, (-1, rows, cols, ws, ws, channels))
        x = ops.reshape(ops.transpose(x, (0, 1, 3, 2, 4, 5)), (-1, padded_h, padded_w, channels))
        if shifted:
            x = ops.roll(x, shift=(shift_h, shift_w), axis=(1, 2))
        return x[:, :height, :width, :] if pad_b or pad_r else x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"dim": self.dim, "num_heads": self.num_heads, "window": self.window, "shift": self.shift})
        return config


@keras.saving.register_keras_serializable(package="sras_keras")
class PatchMergingGather(keras.layers.Layer):
    """The weightless half of torchvision's `PatchMerging`: pad odd sides, then (B, H, W, C) -> (B, H/2, W/2, 4C)
    as `cat([x[0::2, 0::2], x[1::2, 0::2], x[0::2, 1::2], x[1::2, 1::2]])`; a LayerNorm and a bias-free
    Linear(4C, 2C) follow as ordinary layers."""

    def call(self, inputs):
        height, width = inputs.shape[1], inputs.shape[2]
        if height % 2 or width % 2:
            inputs = keras.ops.pad(inputs, [[0, 0], [0, height % 2], [0, width % 2], [0, 0]])
        parts = [inputs[:, 0::2, 0::2], inputs[:, 1::2, 0::2], inputs[:, 0::2, 1::2], inputs[:, 1::2, 1::2]]
        return keras.ops.concatenate(parts, axis=-1)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        return (batch, (height + 1) // 2, (width + 1) // 2, 4 * channels)


def _layer_norm(name: str):
    return keras.layers.LayerNormalization(epsilon=LN_EPSILON, name=name)


def _block(x, dim: int, heads: int, shift: int, drop_path: float, name: str):
    y = ShiftedWindowAttention(dim, heads, WINDOW, shift, name=f"{name}_attn")(_layer_norm(f"{name}_norm1")(x))
    x = keras.layers.Add(name=f"{name}_add1")([x, DropPath(drop_path, name=f"{name}_drop_path1")(y)])
    y = keras.layers.Dense(MLP_RATIO * dim, activation="gelu", name=f"{name}_mlp_fc1")(_layer_norm(f"{name}_norm2")(x))
    y = keras.layers.Dense(dim, name=f"{name}_mlp_fc2")(y)
    return keras.layers.Add(name=f"{name}_add2")([x, DropPath(drop_path, name=f"{name}_drop_path2")(y)])


def swin_t(input_shape, weights=None, stochastic_depth: float = STOCHASTIC_DEPTH) -> keras.Model:
    """(S, S, 3) RGB, torchvision-normalised -> (B, ceil(S/32), ceil(S/32), 768) after the final LayerNorm `norm`;
    `weights` must be None."""
    check_no_imagenet("swin_t", weights)
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(EMBED_DIM, 4, strides=4, name="patch_embed_conv")(inputs)
    x = _layer_norm("patch_embed_norm")(x)
    total, index = sum(DEPTHS), 0
    for stage, (depth, heads) in enumerate(zip(DEPTHS, HEADS), start=1):
        dim = EMBED_DIM * 2 ** (stage - 1)
        for block in range(depth):
            rate = stochastic_depth * index / (total - 1)
            shift = 0 if block % 2 == 0 else WINDOW // 2
            x = _block(x, dim, heads, shift, rate, name=f"stage{stage}_block{block + 1}")
            index += 1
        if stage < len(DEPTHS):
            x = PatchMergingGather(name=f"stage{stage}_merge_gather")(x)
            x = _layer_norm(f"stage{stage}_merge_norm")(x)
            x = keras.layers.Dense(2 * dim, use_bias=False, name=f"stage{stage}_merge_reduction")(x)
    x = _layer_norm("norm")(x)
    return keras.Model(inputs, x, name="swin_t")
