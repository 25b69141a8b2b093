"""``sras data inspect`` and ``sras data verify``: what a source tree or a converted dataset holds, and whether
a converted dataset is intact."""

from __future__ import annotations

import collections
import dataclasses
import sys
from pathlib import Path

import tensorflow as tf
from tqdm import tqdm

from sras_keras.configs.records import Manifest
from sras_keras.core.errors import SrasError
from sras_keras.core.io import sha256_of
from sras_keras.core.run_files import MANIFEST
from sras_keras.data.labels import CLASS_NAMES
from sras_keras.data.pipeline import load_manifest, record_decoder
from sras_keras.data.readers import scan_source
from sras_keras.data.tfrecord import parse_shard_name


def inspect_path(path: str | Path, layout: str = "auto", label_coding="standard", cell_regex=None) -> dict:
    """A summary of a converted dataset (it has manifest.json) or of a source tree (anything else)."""
    path = Path(path)
    if (path / MANIFEST).exists():
        manifest = load_manifest(path)
        return {
            "kind": "converted",
            "path": str(path),
            "parts": manifest.parts,
            "images": manifest.counts["images"],
            "records": manifest.counts["records"],
            "background": manifest.background,
            "image_size": manifest.image_size,
            "rotations": manifest.rotations,
            "synthetic": manifest.counts.get("synthetic", {}),
            "split": dataclasses.asdict(manifest.config.split),
        }
    layout, images = scan_source(path, layout, label_coding, cell_regex)
    counts = collections.Counter(image.class_name for image in images)
    return {
        "kind": "source",
        "path": str(path),
        "layout": layout,
        "parts": ["all"],
        "images": {"all": {name: counts.get(name, 0) for name in CLASS_NAMES}},
        "cells": len({image.cell_id for image in images if image.cell_id}),
    }


def format_table(summary: dict) -> str:
    """Class x part table, one row per class, with totals."""
    parts = summary["parts"]
    width = max(7, *(len(part) + 1 for part in parts))
    lines = ["class".ljust(6) + "".join(part.rjust(width) for part in parts) + "total".rjust(width)]
    for name in CLASS_NAMES:
        row = [summary["images"][part].get(name, 0) for part in parts]
        lines.append(name.ljust(6) + "".join(str(n).rjust(width) for n in row) + str(sum(row)).rjust(width))
    totals = [sum(summary["images"][part].values()) for part in parts]
    lines.append("total".ljust(6) + "".join(str(n).rjust(width) for n in totals) + str(sum(totals)).rjust(width))
    if summary["kind"] == "converted":
        records = summary["records"]
        lines.append("records".ljust(6) + "".join(str(records[p]).rjust(width) for p in parts))
        if any(summary["synthetic"].values()):
            synthetic = summary["synthetic"]
            lines.append("smote".ljust(6) + "".join(str(synthetic.get(p, 0)).rjust(width) for p in parts))
        split = summary["split"]
        lines.append(
            f"split={split['scheme']} group_by={split['group_by']} seed={split['seed']} "
            f"rotations={summary['rotations']} size={summary['image_size']} background={summary['background']}"
        )
    else:
        lines.append(f"layout={summary['layout']} cells={summary['cells']}")
    return "\n".join(lines)


def check_shards(data_dir: str | Path, files=None, manifest: Manifest | None = None) -> None:
    """Raise SrasError naming the first shard of ``files`` (paths or names; default: every shard) that is missing or
    whose size or sha256 differs from ``manifest.json``: the fast part of ``verify`` (hashing runs at about disk
    speed, no record is parsed), for commands to run before they read a dataset."""
    data_dir = Path(data_dir)
    manifest = manifest or load_manifest(data_dir)
    wanted = None if files is None else {Path(file).name for file in files}
    for shard in manifest.shards:
        if wanted is not None and shard.file not in wanted:
            continue
        path = data_dir / shard.file
        try:
            size = path.stat().st_size
        except OSError:
            raise SrasError(f"{path}: shard missing (listed in manifest.json); convert the dataset again") from None
        if size != shard.bytes or sha256_of(path) != shard.sha256:
            raise SrasError(
                f"{path}: shard is corrupted (its sha256 differs from manifest.json); run "
                f"`sras data verify {data_dir}` and convert the dataset again"
            )


def verify(data_dir: str | Path, progress: bool = False) -> list[str]:
    """Problems found in a converted dataset (empty when intact): missing, extra or altered shards, record
    counts that differ from the manifest, and records whose CRC or content does not parse."""
    data_dir = Path(data_dir)
    manifest = load_manifest(data_dir)
    decode_record = record_decoder(manifest)
    problems = []
    listed = {shard.file for shard in manifest.shards}
    for path in sorted(data_dir.iterdir()):
        if parse_shard_name(path.name) and path.name not in listed:
            problems.append(f"{path}: shard not listed in manifest.json")
    for shard in tqdm(manifest.shards, desc="verifying shards", disable=not progress, file=sys.stderr):
        path = data_dir / shard.file
        if not path.exists():
            problems.append(f"{path}: missing")
            continue
        if path.stat().st_size != shard.bytes or sha256_of(path) != shard.sha256:
            problems.append(f"{path}: content differs from manifest.json (sha256 mismatch)")
        count = 0
        try:
            for serialized in tf.data.TFRecordDataset(str(path)):
                decode_record(serialized)
                count += 1
        except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as error:
            problems.append(f"{path}: corrupt record after {count} good ones ({error.message.splitlines()[0]})")
            continue
        if count != shard.records:
            problems.append(f"{path}: {count} records, manifest.json says {shard.records}")
    return problems
