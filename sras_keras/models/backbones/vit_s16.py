"""ViT-S/16 (Dosovitskiy et al., ICLR 2021; the small size of Touvron et al. / timm `vit_small_patch16_224`),
headless: 16x16 patches, width 384, 12 pre-norm blocks of 6-head attention (qkv with bias) and a 1536 GELU MLP,
a class token and learned position embeddings, LayerNorm eps 1e-6. torchvision has no ViT-S, so the reference is
timm's (22,050,664 parameters with the 1000-class head).

The position embeddings are sized for the input: 1 + (S // 16)^2 tokens (197 at 224 px, 5 at the 32 px minimum),
so the parameter count, and which weights files fit, depend on the input size; sides that are not multiples of 16
lose their last partial patch row and column, as a stride-16 'valid' conv does. A checkpoint trained at 224 px
needs its position embeddings interpolated before it fits another size (not done here).

The backbone ends with the final LayerNorm over all tokens (`encoder_norm`), then `patch_grid`: the patch tokens
(class token dropped) as a (B, S/16, S/16, 384) grid, the 4-D map the SRAS head pools and Grad-CAM reads. The
paper's own head (class token -> LayerNorm -> Linear) is the native head (`head="native"` in `build_classifier`),
which reads `encoder_norm`'s class token. Preprocessing is timm's for this model: mean = std = 0.5, i.e. [-1, 1].
No Keras ImageNet weights: `--weights PATH` with a local `.weights.h5`.
"""

import keras

from sras_keras.models.backbones.torch_style import check_no_imagenet

PATCH = 16
DIM = 384
DEPTH = 12
HEADS = 6
MLP_DIM = 1536
LN_EPSILON = 1e-6


@keras.saving.register_keras_serializable(package="sras_keras")
class ClassTokenPositionEmbedding(keras.layers.Layer):
    """(B, N, C) patch tokens -> (B, 1 + N, C): a learned class token in front, plus learned position embeddings
    (timm's initialisation: class token N(0, 1e-6), position embeddings truncated N(0, 0.02))."""

    def build(self, input_shape):
        tokens, channels = input_shape[1], input_shape[2]
        self.class_token = self.add_weight(
            name="class_token", shape=(1, 1, channels), initializer=keras.initializers.RandomNormal(stddev=1e-6)
        )
        self.position_embedding = self.add_weight(
            name="position_embedding",
            shape=(1, tokens + 1, channels),
            initializer=keras.initializers.TruncatedNormal(stddev=0.02),
        )

    def call(self, inputs):
        batch = keras.ops.shape(inputs)[0]
        class_token = keras.ops.broadcast_to(
            keras.ops.cast(self.class_token, inputs.dtype), (batch, 1, inputs.shape[-1])
        )
        tokens = keras.ops.concatenate([class_token, inputs], axis=1)
        return tokens + keras.ops.cast(self.position_embedding, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1] + 1, input_shape[2])


@keras.saving.register_keras_serializable(package="sras_keras")
class PatchTokensToGrid(keras.layers.Layer):
    """(B, 1 + h * w, C) tokens -> (B, h, w, C): the patch tokens in row-major order, class token dropped.

    Args:
        grid: (h, w).
    """

    def __init__(self, grid, **kwargs):
        super().__init__(**kwargs)
        self.grid = tuple(int(side) for side in grid)

    def call(self, inputs):
        return keras.ops.reshape(inputs[:, 1:, :], (-1, *self.grid, inputs.shape[-1]))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.grid, input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update({"grid": list(self.grid)})
        return config


def _layer_norm(name: str):
    return keras.layers.LayerNormalization(epsilon=LN_EPSILON, name=name)


def _block(x, name: str):
    y = _layer_norm(f"{name}_norm1")(x)
    y = keras.layers.MultiHeadAttention(HEADS, DIM // HEADS, name=f"{name}_attn")(y, y)
    x = keras.layers.Add(name=f"{name}_add1")([x, y])
    y = keras.layers.Dense(MLP_DIM, activation="gelu", name=f"{name}_mlp_fc1")(_layer_norm(f"{name}_norm2")(x))
    y = keras.layers.Dense(DIM, name=f"{name}_mlp_fc2")(y)
    return keras.layers.Add(name=f"{name}_add2")([x, y])


def vit_s16(input_shape, weights=None) -> keras.Model:
    """(S, S, 3) RGB in [-1, 1] -> (B, S // 16, S // 16, 384) patch-token grid; `weights` must be None."""
    check_no_imagenet("vit_s16", weights)
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(DIM, PATCH, strides=PATCH, name="patch_embed")(inputs)
    grid = (x.shape[1], x.shape[2])
    x = keras.layers.Reshape((grid[0] * grid[1], DIM), name="patch_tokens")(x)
    x = ClassTokenPositionEmbedding(name="class_token_position")(x)
    for block in range(1, DEPTH + 1):
        x = _block(x, f"block{block}")
    x = _layer_norm("encoder_norm")(x)
    x = PatchTokensToGrid(grid, name="patch_grid")(x)
    return keras.Model(inputs, x, name="vit_s16")
