"""Cross-entropy on integer labels with label smoothing, which Keras offers for one-hot labels only."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="sras_keras")
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Categorical cross-entropy of probabilities against integer labels smoothed towards uniform:
    the target is ``1 - smoothing`` on the label plus ``smoothing / classes`` everywhere, which keeps a
    from-scratch model that already fits its training set from driving its logits ever further apart.

    Args:
        smoothing: the share of the target spread over all classes, in [0, 1).
    """

    def __init__(self, smoothing=0.1, name="smoothed_sparse_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        if not 0.0 <= smoothing < 1.0:
            raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
        self.smoothing = smoothing

    def call(self, y_true, y_pred):
        labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        one_hot = ops.one_hot(labels, ops.shape(y_pred)[-1], dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(one_hot, y_pred, label_smoothing=self.smoothing)

    def get_config(self):
        return {**super().get_config(), "smoothing": self.smoothing}
