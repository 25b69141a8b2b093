"""The demo: the whole SRAS-net chain (SRAFBN -> IAM -> SMOTE -> classifier, honest protocol) on the embedded
synthetic karyotypes, in a few minutes on a CPU. No download.

    make demo     # = sras data synth demo/data/synthetic, then:
    sras cv run --recipe demo --data-root demo/data --runs demo/runs --tfrecords demo/tfrecords
    sras report table --recipe demo --runs demo/runs --results demo/results

There is no paper number for synthetic data; the demo shows the machinery, not the science. Results:
demo/results/demo.md.
"""

from sras_keras.configs.convert import ConvertConfig
from sras_keras.configs.sr import SRTrainConfig
from sras_keras.configs.train import ModelConfig, OptimizationConfig, RuntimeConfig, TrainConfig
from sras_keras.experiments.registry import register
from sras_keras.experiments.spec import Experiment, Row, protocol_split


@register("demo")
def demo(config: str = "cpu") -> Experiment:
    """The demo (see the module docstring); both configs are the same small CPU run."""
    convert = protocol_split("honest", 0, ConvertConfig(image_size=48, rotations=4, smote=True))
    train = TrainConfig(
        model=ModelConfig(backbone="resnet_small", weights="none"),
        optimization=OptimizationConfig(batch_size=64, epochs=12, learning_rate=2e-3, patience=6),
        runtime=RuntimeConfig(max_minutes=4),
    )
    sr = SRTrainConfig(epochs=2, steps_per_epoch=20, val_batches=2, halve_at=(), max_minutes=2)
    row = Row("sras-honest", "SRAS-net (ResNet-small, synthetic demo)", convert, train, sr=True, protocol="honest")
    return Experiment("demo", config, "synthetic", (row,), sr, __doc__)
