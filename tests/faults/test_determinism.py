"""Two runs of the `demo` recipe (the whole chain: SRAFBN -> IAM -> SMOTE -> classifier), shrunk with --set, with the
same seed, in separate processes (so separate hash seeds), on CPU: identical splits.json, identical SMOTE records
(the smote shards, byte for byte) and identical metrics.json.

Fields excluded from the comparison: none of metrics.json (it holds no timing); row.json's ``wall_seconds`` and
the run folders' ``env.json`` (``created``) are timing and are not compared; manifest.json is compared without
``env.created`` and ``source.root``, splits.json without ``source.root`` (the two runs' upscaled source trees lie
in different folders; every image entry, md5 and part is compared).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SHRINK = [
    "--set",
    "convert.image_size=32",
    "--set",
    "convert.rotations=2",
    "--set",
    "train.epochs=2",
    "--set",
    "train.batch_size=32",
    "--set",
    "train.max_minutes=null",
    "--set",
    "sr_train.preset=tiny",
    "--set",
    "sr_train.patch_size=16",
    "--set",
    "sr_train.batch_size=4",
    "--set",
    "sr_train.epochs=1",
    "--set",
    "sr_train.steps_per_epoch=2",
    "--set",
    "sr_train.val_batches=1",
    "--set",
    "sr_train.max_minutes=null",
]


def run_demo(root, name):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}
    command = [
        sys.executable,
        "-m",
        "sras_keras.cli",
        "cv",
        "run",
        "--recipe",
        "demo",
        *SHRINK,
        "--data-root",
        str(root / "data"),
        "--runs",
        str(root / name / "runs"),
        "--tfrecords",
        str(root / name / "tfrecords"),
    ]
    result = subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    datasets = [p.parent for p in (root / name / "tfrecords" / "converted").glob("sr-*/manifest.json")]
    assert len(datasets) == 1, datasets
    [row] = list((root / name / "runs" / "demo").glob("*/sras-honest"))
    return datasets[0], row


@pytest.mark.slow  # about 100 s on 2 shared cores: two whole demo chains
def test_same_seed_same_splits_smote_and_metrics(tmp_path):
    from sras_keras.data.synthetic import write_synthetic_dataset

    write_synthetic_dataset(tmp_path / "data" / "synthetic", n_cells=8, seed=3, male_fraction=0.5)
    (data_a, run_a), (data_b, run_b) = run_demo(tmp_path, "a"), run_demo(tmp_path, "b")
    splits = [json.loads((d / "splits.json").read_text()) for d in (data_a, data_b)]
    for document in splits:  # the upscaled source tree's folder: a/tfrecords/... vs b/tfrecords/...
        assert Path(document["source"].pop("root")).parent.name == "sr-source"
    assert splits[0] == splits[1] and len(splits[0]["images"]) > 300
    smote = sorted(p.name for p in data_a.glob("train-smote-*.tfrecord"))
    assert smote and smote == sorted(p.name for p in data_b.glob("train-smote-*.tfrecord"))
    for name in smote:
        assert (data_a / name).read_bytes() == (data_b / name).read_bytes(), name
    manifests = [json.loads((d / "manifest.json").read_text()) for d in (data_a, data_b)]
    for manifest in manifests:
        # splits.json names the source root too, so its checksum differs with it (the files compare above)
        del manifest["env"]["created"], manifest["source"]["root"], manifest["splits_sha256"]
    assert manifests[0] == manifests[1]
    assert manifests[0]["counts"]["synthetic"]["train"] > 0
    metrics = [json.loads((r / "metrics.json").read_text()) for r in (run_a, run_b)]
    assert metrics[0] == metrics[1]
    assert (run_a / "history.csv").read_text() == (run_b / "history.csv").read_text()


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
