"""Per-sample weights over the recurrent steps for SRAFBN's training loss (notes §4.2)."""

import math

import keras
from keras import ops

STEP_WEIGHTING_MODES = ("self_attention", "softmax", "equal")


@keras.saving.register_keras_serializable(package="sras_keras")
class StepAttention(keras.layers.Layer):
    """Weights w (B, T) for the T per-step losses; each row sums to 1.

    `call(features)` takes the list of the T feedback-block outputs, each (B, h, w, m).

    Modes:
        "self_attention": GAP descriptors of the step features (gradient stopped, so the
            backbone is not reshaped just to move the weights) attend over the T steps,
            Z = softmax(Q K^T / sqrt(d)) V + V, and a Dense(1) scores each step.
        "softmax": T global learnable logits, shared by all samples.
        "equal": w = 1/T, SRFBN's summed loss; no weights.

    The first two give w = floor/T + (1 - floor) * softmax_T(scores). The floor keeps every
    step supervised (w_t >= floor/T) instead of letting the weighting collapse onto the
    lowest-loss step. Scores start at zero (zero-initialised score kernel, bias and logits),
    so every mode starts at w = 1/T, i.e. exactly SRFBN.

    Args:
        num_steps: T.
        mode: one of `STEP_WEIGHTING_MODES`.
        attn_dim: d, width of the queries, keys and values ("self_attention" only).
        floor: share of the weight spread evenly over the steps, in [0, 1].
    """

    def __init__(self, num_steps, mode="self_attention", attn_dim=32, floor=0.5, **kwargs):
        super().__init__(**kwargs)
        if mode not in STEP_WEIGHTING_MODES:
            raise ValueError(f"mode must be one of {STEP_WEIGHTING_MODES}, got {mode!r}")
        if not 0.0 <= floor <= 1.0:
            raise ValueError(f"floor must be in [0, 1], got {floor!r}")
        self.num_steps = num_steps
        self.mode = mode
        self.attn_dim = attn_dim
        self.floor = floor
        if mode == "self_attention":

            def dense(units, name, **dense_kwargs):
                return keras.layers.Dense(units, name=name, dtype=self.dtype_policy, **dense_kwargs)

            self.query = dense(attn_dim, "query")
            self.key = dense(attn_dim, "key")
            self.value = dense(attn_dim, "value")
            self.score = dense(1, "score", kernel_initializer="zeros", bias_initializer="zeros")

    def build(self, features_shape):
        if self.mode == "self_attention":
            descriptors_shape = (None, self.num_steps, features_shape[0][-1])
            for projection in (self.query, self.key, self.value):
                projection.build(descriptors_shape)
            self.score.build((None, self.num_steps, self.attn_dim))
        elif self.mode == "softmax":
            self.logits = self.add_weight(shape=(self.num_steps,), initializer="zeros", name="logits")

    def call(self, features):
        if len(features) != self.num_steps:
            raise ValueError(f"expected {self.num_steps} step features, got {len(features)}")
        batch_size = ops.shape(features[0])[0]
        if self.mode == "equal":
            return ops.ones((batch_size, self.num_steps), dtype=self.compute_dtype) / self.num_steps
        if self.mode == "softmax":
            scores = ops.broadcast_to(self.logits[None, :], (batch_size, self.num_steps))
        else:
            scores = self._attention_scores(features)
        return self.floor / self.num_steps + (1.0 - self.floor) * ops.softmax(scores, axis=-1)

    def _attention_scores(self, features):
        """Scores (B, T) from self-attention across the steps' pooled features."""
        descriptors = ops.stack([ops.mean(step, axis=(1, 2)) for step in features], axis=1)
        descriptors = ops.stop_gradient(descriptors)
        queries, keys, values = self.query(descriptors), self.key(descriptors), self.value(descriptors)
        logits = ops.matmul(queries, ops.transpose(keys, (0, 2, 1))) / math.sqrt(self.attn_dim)
        context = ops.matmul(ops.softmax(logits, axis=-1), values) + values
        return ops.squeeze(self.score(context), axis=-1)

    def compute_output_shape(self, features_shape):
        return (features_shape[0][0], self.num_steps)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_steps": self.num_steps,
                "mode": self.mode,
                "attn_dim": self.attn_dim,
                "floor": self.floor,
            }
        )
        return config
