"""The SRFBN feedback block: G dense up/down back-projection groups, shared across steps."""

import keras
from keras import ops

from sras_keras.models.srafbn.conv_prelu import ConvPReLU

# Kernel of the strided up/down projections per scale (SRFBN reference). With padding="same"
# each pair maps h x w -> s*h x s*w -> h x w exactly, for any h and w.
PROJECTION_KERNELS = {2: 6, 3: 7, 4: 8, 8: 12}


def _features(channels):
    """Shape of an NHWC feature map for building sub-layers: only the channel count matters."""
    return (None, None, None, channels)


@keras.saving.register_keras_serializable(package="sras_keras")
class FeedbackBlock(keras.layers.Layer):
    """One SRFBN feedback block (FB), called once per recurrent step with the same weights.

    `call(l0, hidden)` fuses the shallow LR features `l0` with the previous step's output
    `hidden`, runs G projection groups with dense links (every up-projection sees all earlier
    LR maps, every down-projection all earlier HR maps, each squeezed back to m channels by a
    1x1 conv), and compresses the G down-projected maps (not the fused input) to m channels.
    The block keeps no state: the caller owns the hidden state.

    Args:
        num_features: m, the width of every feature map.
        num_groups: G, the number of projection groups.
        scale: upscaling factor of the projections, one of `PROJECTION_KERNELS`.
    """

    def __init__(self, num_features, num_groups, scale, **kwargs):
        super().__init__(**kwargs)
        if scale not in PROJECTION_KERNELS:
            raise ValueError(f"scale must be one of {sorted(PROJECTION_KERNELS)}, got {scale!r}")
        if num_groups < 1:
            raise ValueError(f"num_groups must be >= 1, got {num_groups!r}")
        self.num_features = num_features
        self.num_groups = num_groups
        self.scale = scale

        def conv(kernel_size, name, **conv_kwargs):
            return ConvPReLU(num_features, kernel_size, name=name, dtype=self.dtype_policy, **conv_kwargs)

        kernel_size = PROJECTION_KERNELS[scale]
        groups = range(1, num_groups + 1)
        self.compress_in = conv(1, "compress_in")
        self.up_projections = [conv(kernel_size, f"up_{g}", strides=scale, transpose=True) for g in groups]
        self.down_projections = [conv(kernel_size, f"down_{g}", strides=scale) for g in groups]
        # Groups 2..G first squeeze the concatenation of all earlier maps back to m channels.
        self.up_compressions = [conv(1, f"uptran_{g}") for g in groups[1:]]
        self.down_compressions = [conv(1, f"downtran_{g}") for g in groups[1:]]
        self.compress_out = conv(1, "compress_out")

    def build(self, l0_shape, hidden_shape):
        m = self.num_features
        self.compress_in.build(_features(l0_shape[-1] + hidden_shape[-1]))
        for g, (up, down) in enumerate(zip(self.up_projections, self.down_projections)):
            up.build(_features(m))
            down.build(_features(m))
            if g > 0:
                self.up_compressions[g - 1].build(_features((g + 1) * m))
                self.down_compressions[g - 1].build(_features((g + 1) * m))
        self.compress_out.build(_features(self.num_groups * m))

    def call(self, l0, hidden):
        lr_maps = [self.compress_in(ops.concatenate([l0, hidden], axis=-1))]
        hr_maps = []
        for g in range(self.num_groups):
            lr_input = lr_maps[0]
            if g > 0:
                lr_input = self.up_compressions[g - 1](ops.concatenate(lr_maps, axis=-1))
            hr_maps.append(self.up_projections[g](lr_input))

            hr_input = hr_maps[0]
            if g > 0:
                hr_input = self.down_compressions[g - 1](ops.concatenate(hr_maps, axis=-1))
            lr_maps.append(self.down_projections[g](hr_input))
        return self.compress_out(ops.concatenate(lr_maps[1:], axis=-1))

    def compute_output_shape(self, l0_shape, hidden_shape):
        return (*l0_shape[:-1], self.num_features)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_features": self.num_features,
                "num_groups": self.num_groups,
                "scale": self.scale,
            }
        )
        return config
