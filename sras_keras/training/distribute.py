"""The tf.distribute strategy a run uses (``sras train --strategy``) and which process writes the run folder.

- ``auto``: ``MirroredStrategy`` over several local GPUs, the default (one-device) strategy otherwise.
- ``mirrored``: ``MirroredStrategy`` over every local GPU (the CPU when there is none).
- ``multiworker``: ``MultiWorkerMirroredStrategy`` over the machines listed in ``TF_CONFIG`` (each machine runs the
  same command with its own ``task``); it must be created before any other TensorFlow op, so the trainer makes it
  first thing.

Batch sizes are global: ``--batch-size 40`` on 2 workers x 2 GPUs is 10 images per replica and step, so the
steps per epoch, the learning rate and the result do not depend on the strategy. Input is auto-sharded by DATA:
every worker reads every shard and keeps its slice of each global batch (a dataset may have fewer shard files
than workers, which FILE sharding cannot serve, and DATA keeps each step's images those of a one-worker run).
The chief (``chief``, or ``worker`` 0 when there is no chief) writes the run folder; the other workers write
their checkpoints to a temporary folder, deleted at the end (the usual Keras pattern: every worker runs the same
saves, so no collective op waits for a missing peer).
"""

from __future__ import annotations

import json
import os

import keras
import tensorflow as tf
from keras.src.backend.tensorflow import trainer

from sras_keras.core.errors import SrasError

STRATEGIES = ("auto", "mirrored", "multiworker")


def set_precision_policy(mixed_precision: bool) -> None:
    """Every run sets the Keras dtype policy, so a float32 run after a mixed one in the same process is float32
    again: float32, or with mixed precision float16 on GPUs (their tensor cores) and bfloat16 on CPUs, where
    TensorFlow's oneDNN kernels are fast in bfloat16 (AVX512_BF16, AMX), not in float16. ``env.json`` records the
    policy (``core.provenance.environment``)."""
    if not mixed_precision:
        policy = "float32"
    else:
        policy = "mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"
    keras.mixed_precision.set_global_policy(policy)


def distribution_strategy(kind: str = "auto") -> tf.distribute.Strategy:
    if kind == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=_cluster_resolver())
    if kind == "mirrored":
        return tf.distribute.MirroredStrategy()
    if kind != "auto":
        raise SrasError(f"unknown strategy {kind!r}; choose one of {', '.join(STRATEGIES)}")
    gpus = tf.config.list_physical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def _cluster_resolver():
    text = os.environ.get("TF_CONFIG")
    if not text:
        raise SrasError(
            "--strategy multiworker needs TF_CONFIG, e.g. "
            '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
            '"task": {"type": "worker", "index": 0}}'
        )
    try:
        document = json.loads(text)
        workers = document["cluster"]["worker"]
        document["task"]["type"], document["task"]["index"]
    except (ValueError, KeyError, TypeError) as error:
        raise SrasError(f"TF_CONFIG is not a valid cluster description ({type(error).__name__}: {error})") from None
    if not workers:
        raise SrasError("TF_CONFIG lists no worker")
    return tf.distribute.cluster_resolver.TFConfigClusterResolver()


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True for the process that writes the run folder: any single-machine run, else the chief of TF_CONFIG."""
    resolver = getattr(strategy, "cluster_resolver", None)
    cluster = resolver.cluster_spec().as_dict() if resolver is not None else {}
    if not cluster:
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type in (None, "chief") or (task_type == "worker" and task_id == 0 and "chief" not in cluster)


def shard_by_data(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """``dataset`` auto-sharded by DATA under a multi-worker strategy (no effect on one worker)."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def keras_distribute_fixes(model, strategy: tf.distribute.Strategy, element_spec) -> None:
    """Work around Keras 3.15's ``fit`` under an explicit strategy (keras-team/keras#20585); a no-op under the
    default one. ``element_spec``: the training dataset's (images, labels) batch spec.

    - ``fit`` first builds the model on one batch, read from a first iterator over the data: that shifts the seeded
      shuffle order of every later epoch away from a one-device run's (and under ``MultiWorkerMirroredStrategy`` the
      batch is then reduced with ``strategy.reduce('MEAN', ...)``, which fails: "Attempt to convert a value
      (PerReplica...) to a Tensor"). Build on a zero batch of the same spec instead: only the shapes matter.
    - Multi-worker: each step's logs (scalar metric results) are reduced with ``MEAN`` over ``axis=0``, which a
      scalar does not have ("Invalid reduction dimension 0"): reduce scalars over replicas only. The results are
      already global (metric variables sync on write), so the mean over replicas returns them unchanged.
    """
    if getattr(model, "_distribute_strategy", None) is None:
        return
    if strategy.extended._in_multi_worker_mode() and not getattr(trainer.reduce_per_replica, "_sras_patched", False):
        original_reduce = trainer.reduce_per_replica

        def reduce_per_replica(values, strategy, reduction):
            if reduction not in ("auto", "mean") or not trainer._collective_all_reduce_multi_worker(strategy):
                return original_reduce(values, strategy, reduction)

            def reduce_one(value):
                local = (
                    strategy.experimental_local_results(value)[0]
                    if isinstance(value, tf.distribute.DistributedValues)
                    else value
                )
                if local.shape.rank == 0:
                    return strategy.reduce("MEAN", value, axis=None)
                return original_reduce(value, strategy, reduction)

            return keras.tree.map_structure(reduce_one, values)

        reduce_per_replica._sras_patched = True
        trainer.reduce_per_replica = reduce_per_replica

    original_build = model._maybe_symbolic_build
    zeros = tf.nest.map_structure(
        lambda spec: tf.zeros([1 if d is None else d for d in spec.shape], spec.dtype), element_spec
    )

    def build(iterator=None, data_batch=None):
        return original_build(iterator=None, data_batch=zeros if data_batch is None else data_batch)

    model._maybe_symbolic_build = build
