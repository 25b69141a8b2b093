"""The tf.distribute strategy a run uses: mirrored over several local GPUs, the default one otherwise."""

import tensorflow as tf


def distribution_strategy() -> tf.distribute.Strategy:
    gpus = tf.config.list_physical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()
