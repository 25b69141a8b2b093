"""SRAFBN: SRFBN's recurrent feedback super-resolution network with attention-weighted step losses."""

import keras
import tensorflow as tf
from keras import ops

from sras_keras.models.srafbn.conv_prelu import ConvPReLU
from sras_keras.models.srafbn.feedback_block import PROJECTION_KERNELS, FeedbackBlock
from sras_keras.models.srafbn.step_attention import StepAttention

# Named sizes (notes §1 and §7): "full" is the SRFBN paper model, "light" SRFBN-S (the CPU
# default), "tiny" is for tests.
PRESETS = {
    "full": {"num_features": 64, "num_groups": 6, "num_steps": 4},
    "light": {"num_features": 32, "num_groups": 3, "num_steps": 4},
    "tiny": {"num_features": 8, "num_groups": 2, "num_steps": 2, "attn_dim": 8},
}

UPSAMPLE_METHODS = ("bicubic", "bilinear")

# Luma of the DIV2K RGB mean (0.4488, 0.4371, 0.4040), as a fraction of full scale.
DIV2K_LUMA_MEAN = 0.437


def _features(channels):
    """Shape of an NHWC feature map for building sub-layers: only the channel count matters."""
    return (None, None, None, channels)


@keras.saving.register_keras_serializable(package="sras_keras")
class SRAFBN(keras.Model):
    """Super-resolution feedback network whose per-step losses are weighted by `StepAttention`.

    Forward pass: subtract `mean`, extract L0 = Conv1x1(Conv3x3(x)), then T times
    F_t = FB(L0, F_{t-1}) with F_0 = L0 (so step 1 sees concat(L0, L0), as the reference's
    `should_reset` does) and SR_t = Rec(F_t) + Upsample_s(x - mean) + mean.
    `call` returns SR_T (what inference uses); `steps` returns all SR_t and the loss weights.
    Training (`fit` on (lr, hr) pairs) minimises T * mean_b sum_t w_bt * L1_bt.

    Args:
        channels: image channels C, in and out.
        num_features: m, width of the feature maps.
        num_groups: G, projection groups in the feedback block.
        num_steps: T, recurrent steps.
        scale: upscaling factor (2, 3, 4 or 8).
        mean: constant subtracted before the first conv and added back to every output, in
            the same units as the pixels; None means the DIV2K luma mean, 0.437 * pixel_range.
        pixel_range: full-scale pixel value (1.0 for [0, 1] floats, 255 for the reference);
            also the peak value of the PSNR metric and the upper clip of its input.
        upsample: interpolation of the image-space skip, "bicubic" (SRAS-net) or "bilinear"
            (SRFBN reference).
        recon_1x1: add SRAS-net's 1x1 conv to the reconstruction block; False gives SRFBN.
        step_weighting: "self_attention", "softmax" or "equal" (see `StepAttention`).
        attn_dim: width of the step self-attention.
        attn_floor: share of the step weight spread evenly over the steps.
    """

    def __init__(
        self,
        channels=1,
        num_features=64,
        num_groups=6,
        num_steps=4,
        scale=2,
        mean=None,
        pixel_range=1.0,
        upsample="bicubic",
        recon_1x1=True,
        step_weighting="self_attention",
        attn_dim=32,
        attn_floor=0.5,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if scale not in PROJECTION_KERNELS:
            raise ValueError(f"scale must be one of {sorted(PROJECTION_KERNELS)}, got {scale!r}")
        if upsample not in UPSAMPLE_METHODS:
            raise ValueError(f"upsample must be one of {UPSAMPLE_METHODS}, got {upsample!r}")
        if num_steps < 1:
            raise ValueError(f"num_steps must be >= 1, got {num_steps!r}")
        if mean is not None and not 0.0 <= mean <= pixel_range:
            raise ValueError(f"mean is in pixel units and must lie in [0, pixel_range={pixel_range}], got {mean!r}")
        self.channels = channels
        self.num_features = num_features
        self.num_groups = num_groups
        self.num_steps = num_steps
        self.scale = scale
        self.mean = mean
        self.pixel_range = pixel_range
        self.upsample = upsample
        self.recon_1x1 = recon_1x1
        self.step_weighting_mode = step_weighting
        self.attn_dim = attn_dim
        self.attn_floor = attn_floor
        self.mean_shift = DIV2K_LUMA_MEAN * pixel_range if mean is None else mean
        # XLA has no ResizeBicubic kernel; this keeps compile(jit_compile="auto") off XLA.
        self.supports_jit = upsample != "bicubic"

        # The image path (input, output layer, loss weights) stays in the variable dtype, i.e.
        # float32 under mixed precision: the skip and the residual are added at pixel precision.
        precise_dtype = self.dtype_policy.variable_dtype
        policy = self.dtype_policy
        m = num_features
        self.conv_in = ConvPReLU(4 * m, 3, name="conv_in", dtype=policy)
        self.feat_in = ConvPReLU(m, 1, name="feat_in", dtype=policy)
        self.feedback = FeedbackBlock(m, num_groups, scale, name="feedback", dtype=policy)
        self.recon_up = ConvPReLU(
            m, PROJECTION_KERNELS[scale], strides=scale, transpose=True, name="recon_up", dtype=policy
        )
        self.recon_mid = ConvPReLU(m, 1, name="recon_mid", dtype=policy) if recon_1x1 else None
        self.conv_out = keras.layers.Conv2D(
            channels,
            3,
            padding="same",
            kernel_initializer="he_normal",
            bias_initializer="zeros",
            name="conv_out",
            dtype=precise_dtype,
        )
        self.step_weighting = StepAttention(
            num_steps,
            mode=step_weighting,
            attn_dim=attn_dim,
            floor=attn_floor,
            name="step_weighting",
            dtype=precise_dtype,
        )

        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.l1_tracker = keras.metrics.Mean(name="l1")
        self.psnr_tracker = keras.metrics.Mean(name="psnr")
        steps = range(1, num_steps + 1)
        self.step_l1_trackers = [keras.metrics.Mean(name=f"l1_step{t}") for t in steps]
        self.step_weight_trackers = [keras.metrics.Mean(name=f"w_step{t}") for t in steps]

    @classmethod
    def from_preset(cls, name, scale=2, **overrides):
        """Build a model from a `PRESETS` entry; `overrides` replace any constructor argument."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
        return cls(**{**PRESETS[name], "scale": scale, **overrides})

    @property
    def input_dtype(self):
        """Keep the LR image at full precision: it feeds the image-space skip."""
        return self.dtype_policy.variable_dtype

    def build(self, input_shape):
        if input_shape[-1] != self.channels:
            raise ValueError(f"expected {self.channels} input channels, got shape {input_shape}")
        m = self.num_features
        self.conv_in.build(input_shape)
        self.feat_in.build(_features(4 * m))
        self.feedback.build(_features(m), _features(m))
        self.recon_up.build(_features(m))
        if self.recon_mid is not None:
            self.recon_mid.build(_features(m))
        self.conv_out.build(_features(m))
        self.step_weighting.build([_features(m)] * self.num_steps)

    def call(self, x, training=False, return_steps=False):
        """SR_T, or with `return_steps=True` the pair (list of all SR_t, step weights (B, T))."""
        shifted = x - self.mean_shift
        height, width = ops.shape(x)[1], ops.shape(x)[2]
        # tf.image.resize is what keras.ops.image.resize calls on the TF backend; the keras op
        # itself rejects the tensor-valued size that dynamic spatial dims give inside tf.function.
        base = tf.image.resize(shifted, (height * self.scale, width * self.scale), method=self.upsample)
        l0 = self.feat_in(self.conv_in(shifted))
        hidden = l0
        features, outputs = [], []
        for _ in range(self.num_steps):
            hidden = self.feedback(l0, hidden)
            features.append(hidden)
            outputs.append(self._reconstruct(hidden) + base + self.mean_shift)
        if not return_steps:
            return outputs[-1]
        return outputs, self.step_weighting(features, training=training)

    def steps(self, x, training=False):
        """All T step outputs and their loss weights: (list of T (B, sH, sW, C), (B, T))."""
        return self(x, training=training, return_steps=True)

    def _reconstruct(self, features):
        """Residual image Res_t from the step's feedback features."""
        upsampled = self.recon_up(features)
        if self.recon_mid is not None:
            upsampled = self.recon_mid(upsampled)
        return self.conv_out(upsampled)

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape
        scaled = [None if size is None else size * self.scale for size in (height, width)]
        return (batch, *scaled, self.channels)

    # --- training -----------------------------------------------------------------------

    @property
    def metrics(self):
        return [
            self.loss_tracker,
            self.l1_tracker,
            self.psnr_tracker,
            *self.step_l1_trackers,
            *self.step_weight_trackers,
        ]

    def train_step(self, data):
        lr, hr = self._unpack(data)
        with tf.GradientTape() as tape:
            outputs, weights = self.steps(lr, training=True)
            step_l1 = self._per_sample_step_l1(outputs, hr)
            loss = self._weighted_loss(step_l1, weights)
            scaled_loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)

        self._update_metrics(loss, step_l1, outputs[-1], hr)
        step_weights = ops.mean(weights, axis=0)
        for t, tracker in enumerate(self.step_weight_trackers):
            tracker.update_state(step_weights[t], sample_weight=ops.shape(lr)[0])
        return {metric.name: metric.result() for metric in self.metrics}

    def test_step(self, data):
        lr, hr = self._unpack(data)
        outputs, weights = self.steps(lr, training=False)
        step_l1 = self._per_sample_step_l1(outputs, hr)
        self._update_metrics(self._weighted_loss(step_l1, weights), step_l1, outputs[-1], hr)
        trackers = [self.loss_tracker, self.l1_tracker, self.psnr_tracker, *self.step_l1_trackers]
        return {metric.name: metric.result() for metric in trackers}

    @staticmethod
    def _unpack(data):
        lr, hr, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if hr is None or sample_weight is not None:
            raise ValueError("SRAFBN trains on (lr, hr) pairs without sample weights")
        return lr, hr

    def _per_sample_step_l1(self, outputs, hr):
        """L1_{b,t}: mean |SR_t - HR| over the pixels of sample b, shape (B, T), in float32."""
        hr = ops.cast(hr, "float32")
        return ops.stack(
            [ops.mean(ops.abs(ops.cast(sr, "float32") - hr), axis=(1, 2, 3)) for sr in outputs],
            axis=1,
        )

    def _weighted_loss(self, step_l1, weights):
        """T * mean_b sum_t w_bt * L1_bt: with equal weights, SRFBN's sum of per-step L1s."""
        per_sample = ops.sum(ops.cast(weights, "float32") * step_l1, axis=1)
        return self.num_steps * ops.mean(per_sample)

    def _update_metrics(self, loss, step_l1, last_output, hr):
        batch_size = ops.shape(step_l1)[0]
        self.loss_tracker.update_state(loss, sample_weight=batch_size)
        self.l1_tracker.update_state(step_l1[:, -1])
        for t, tracker in enumerate(self.step_l1_trackers):
            tracker.update_state(step_l1[:, t])
        self.psnr_tracker.update_state(self._psnr(last_output, hr))

    def _psnr(self, output, hr):
        """Per-sample PSNR of the output clipped to [0, pixel_range] (capped at 100 dB)."""
        output = ops.clip(ops.cast(output, "float32"), 0.0, self.pixel_range)
        mse = ops.mean(ops.square(output - ops.cast(hr, "float32")), axis=(1, 2, 3))
        peak = float(self.pixel_range) ** 2
        return 10.0 * ops.log10(peak / ops.maximum(mse, 1e-10 * peak))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "channels": self.channels,
                "num_features": self.num_features,
                "num_groups": self.num_groups,
                "num_steps": self.num_steps,
                "scale": self.scale,
                "mean": self.mean,
                "pixel_range": self.pixel_range,
                "upsample": self.upsample,
                "recon_1x1": self.recon_1x1,
                "step_weighting": self.step_weighting_mode,
                "attn_dim": self.attn_dim,
                "attn_floor": self.attn_floor,
            }
        )
        return config
