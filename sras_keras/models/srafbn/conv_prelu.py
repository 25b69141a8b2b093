"""Convolution followed by a single-slope PReLU: the unit SRFBN repeats everywhere."""

import keras


@keras.saving.register_keras_serializable(package="sras_keras")
class ConvPReLU(keras.layers.Layer):
    """A k x k conv (or transposed conv) with "same" padding, then one shared PReLU slope.

    He-normal kernels, zero biases and a single slope initialised to 0.2 reproduce the
    SRFBN reference (`nn.PReLU(num_parameters=1, init=0.2)`), which the parameter counts
    of SRFBN assume.

    Args:
        filters: output channels.
        kernel_size: square kernel size.
        strides: stride; with `transpose=True` it is the upsampling factor.
        transpose: use `Conv2DTranspose` (up-projection) instead of `Conv2D`.
    """

    def __init__(self, filters, kernel_size, strides=1, transpose=False, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.transpose = transpose
        conv_class = keras.layers.Conv2DTranspose if transpose else keras.layers.Conv2D
        self.conv = conv_class(
            filters,
            kernel_size,
            strides=strides,
            padding="same",
            kernel_initializer="he_normal",
            bias_initializer="zeros",
            dtype=self.dtype_policy,
            name="conv",
        )
        self.prelu = keras.layers.PReLU(
            alpha_initializer=keras.initializers.Constant(0.2),
            shared_axes=[1, 2, 3],
            dtype=self.dtype_policy,
            name="prelu",
        )

    def build(self, input_shape):
        self.conv.build(input_shape)
        self.prelu.build(self.conv.compute_output_shape(input_shape))

    def call(self, inputs):
        return self.prelu(self.conv(inputs))

    def compute_output_shape(self, input_shape):
        return self.conv.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "strides": self.strides,
                "transpose": self.transpose,
            }
        )
        return config
