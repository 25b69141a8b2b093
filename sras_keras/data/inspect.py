"""``sras data inspect`` and ``sras data verify``: what a source tree or a converted dataset holds, and whether
a converted dataset is intact."""

from __future__ import annotations

import collections
import dataclasses
import sys
from pathlib import Path

import tensorflow as tf

from sras_keras.core.io import sha256_of
from sras_keras.core.progress import progress as progress_bar
from sras_keras.core.run_files import MANIFEST, SPLITS
from sras_keras.data.labels import CLASS_NAMES
from sras_keras.data.pipeline import check_shards as check_shards  # re-exported: sras train checks with it
from sras_keras.data.pipeline import edited_splits, load_manifest, oversized, record_decoder, scan_shard
from sras_keras.data.readers import cell_pattern, scan_source
from sras_keras.data.tfrecord import parse_shard_name


def inspect_path(path: str | Path, layout: str = "auto", label_coding="standard", cell_regex=None) -> dict:
    """A summary of a converted dataset (it has manifest.json) or of a source tree (anything else)."""
    path = Path(path)
    cell_pattern(cell_regex)  # a bad one is an error even where it would not be used
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


def verify(data_dir: str | Path, progress: bool = False) -> list[str]:
    """Problems found in a converted dataset (empty when intact): a missing or edited splits.json, missing, extra
    or altered shards, record counts that differ from the manifest, and records whose CRC or content does not
    parse."""
    data_dir = Path(data_dir)
    manifest = load_manifest(data_dir)
    decode_record = record_decoder(manifest)
    problems = []
    splits = data_dir / SPLITS
    if not splits.is_file():
        problems.append(f"{splits}: missing (every converted dataset has one); convert the dataset again")
    elif manifest.splits_sha256 is not None and sha256_of(splits) != manifest.splits_sha256:
        problems.append(edited_splits(splits))
    listed = {shard.file for shard in manifest.shards}
    for path in sorted(data_dir.iterdir()):
        if parse_shard_name(path.name) and path.name not in listed:
            problems.append(f"{path}: shard not listed in manifest.json")
    for shard in progress_bar(manifest.shards, desc="verifying shards", disable=not progress, file=sys.stderr):
        path = data_dir / shard.file
        if not path.exists():
            problems.append(f"{path}: missing")
            continue
        sha256, largest = scan_shard(path)
        if path.stat().st_size != shard.bytes or sha256 != shard.sha256:
            problems.append(f"{path}: content differs from manifest.json (sha256 mismatch)")
        if max(largest) > manifest.image_size:  # decoding it would take their memory
            problems.append(f"{path}: {oversized(largest, manifest.image_size)}")
            continue
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
