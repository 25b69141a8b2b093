"""``sras data convert``: a source tree of chromosome images -> sharded TFRecords + splits.json + manifest.json.

The conversion reads and checks every source image before it writes anything, so bad input fails fast and
leaves nothing behind. Shards are written under temporary names and renamed when complete, and their content
depends only on the config and the source files; so re-running an interrupted conversion skips the shards that
exist, writes the rest, and ends with the same bytes as an uninterrupted run. ``manifest.json`` is written last:
its presence means the dataset is complete.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import math
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

from sras_keras.configs.convert import ConvertConfig
from sras_keras.configs.records import DataSource, Manifest, Shard, read_record, write_record
from sras_keras.core.errors import SrasError
from sras_keras.core.io import display_path, exclusive, fingerprint, make_folder, sha256_of, write_json_atomic
from sras_keras.core.progress import progress as progress_bar
from sras_keras.core.provenance import environment
from sras_keras.core.run_files import CONVERT_STATE, MANIFEST
from sras_keras.data import iam as iam_lib
from sras_keras.data.labels import CLASS_NAMES
from sras_keras.data.readers import SourceImage, read_source, scan_source
from sras_keras.data.rotation import rotate_expanded, rotation_angles
from sras_keras.data.smote import smote_images
from sras_keras.data.splits import assign_parts, duplicates_across_parts, parts_from_file, splits_record
from sras_keras.data.tfrecord import SCHEMA_VERSION, RecordMeta, serialize_example, shard_name, write_shard

_BACKGROUNDS = {"black": 0, "white": 255}


@dataclasses.dataclass
class ScannedSource:
    """A source tree, read and checked."""

    root: Path
    layout: str
    images: list[SourceImage]
    md5s: list[str]
    sizes: list[tuple[int, int]]
    background: int
    background_votes: dict[str, int]

    @property
    def checksum(self) -> str:
        """One hash of every (path, md5): two trees with the same checksum hold the same images."""
        lines = "".join(f"{image.path}\t{md5}\n" for image, md5 in zip(self.images, self.md5s))
        return hashlib.sha256(lines.encode()).hexdigest()


def scan_and_check(source: str | Path, config: ConvertConfig, progress: bool = False) -> ScannedSource:
    """Read every image once: md5, decodability, background polarity and a non-empty foreground."""
    root = Path(source)
    layout, images = scan_source(root, config.layout, config.label_coding, config.cell_regex)
    md5s, sizes, votes, has_foreground = [], [], collections.Counter(), []
    for image in progress_bar(images, desc="checking images", unit="img", disable=not progress, file=sys.stderr):
        array, md5 = read_source(root / image.path, config.invert)
        md5s.append(md5)
        sizes.append(array.shape)
        votes[iam_lib.background_of(array)] += 1
        has_foreground.append({bg: iam_lib.has_foreground(array, bg, config.threshold) for bg in (0, 255)})
    if config.background == "auto":
        background = max(votes, key=lambda value: (votes[value], -value))
    else:
        background = _BACKGROUNDS[config.background]
    for image, foreground in zip(images, has_foreground):
        if not foreground[background]:
            raise SrasError(
                f"{root / image.path}: no foreground (no pixel differs from the {_polarity(background)} "
                f"background by more than {config.threshold})"
            )
    return ScannedSource(
        root=root,
        layout=layout,
        images=images,
        md5s=md5s,
        sizes=sizes,
        background=background,
        background_votes={_polarity(value): count for value, count in sorted(votes.items())},
    )


def _polarity(background: int) -> str:
    return "white" if background == 255 else "black"


@dataclasses.dataclass(frozen=True)
class ShardPlan:
    name: str
    part: str
    kind: str  # "original", "rot" or "smote" (see tfrecord.SHARD_KINDS)
    image_indices: tuple[int, ...]  # into the conversion's image list
    angles: tuple[float, ...]


@dataclasses.dataclass(frozen=True)
class SyntheticImage:
    """A SMOTE image: ``parents[0] + step * (parents[1] - parents[0])`` of two IAM canvases."""

    canvas: np.ndarray  # (S, S) uint8
    parents: tuple[str, str]
    step: float


def rotated_parts(config: ConvertConfig, parts: list[str], always: bool = False) -> set[str]:
    """Parts that training reads, hence the only ones that get rotated copies (or, ``always``, SMOTE images)."""
    if config.rotations <= 1 and not always:
        return set()
    return {part for part in parts if part == "train" or part.startswith("fold")}


def plan_shards(parts: list[str], config: ConvertConfig, part_names: list[str], separate: set[int]) -> list[ShardPlan]:
    """Which images go to which shard: a seeded permutation per part, so every shard mixes classes. Images in
    ``separate`` (SMOTE images of a training part) go, with all their angles, to the part's smote shards."""
    rng = np.random.default_rng(config.split.seed)
    angles = rotation_angles(config.rotations)
    training_parts = rotated_parts(config, part_names)
    plans = []
    for part in part_names:
        members = [i for i, p in enumerate(parts) if p == part]
        members = [members[i] for i in rng.permutation(len(members))]
        regular = [i for i in members if i not in separate]
        plans += _chunk(part, "original", regular, config.records_per_shard, (0.0,))
        if part in training_parts:
            per_shard = max(1, config.records_per_shard // (len(angles) - 1))
            plans += _chunk(part, "rot", regular, per_shard, tuple(angles[1:]))
        synthetic = [i for i in members if i in separate]
        plans += _chunk(part, "smote", synthetic, max(1, config.records_per_shard // len(angles)), tuple(angles))
    return plans


def _chunk(part, kind, members, per_shard, angles) -> list[ShardPlan]:
    count = max(1, math.ceil(len(members) / per_shard)) if members else 0
    return [
        ShardPlan(shard_name(part, kind, k, count), part, kind, tuple(members[k::count]), angles) for k in range(count)
    ]


def synthesise(
    scanned: ScannedSource, members: list[int], config: ConvertConfig, prefix: str
) -> list[tuple[SourceImage, str, SyntheticImage]]:
    """SMOTE X and Y up to the largest class of ``members`` (real images), on their preprocessed (same-shape)
    images; SMOTE runs before the rotated copies are made, which then include the synthetic images."""
    final = iam_lib.final_image(
        config.preprocess, config.image_size, scanned.background, config.threshold, config.placement, config.magnify
    )
    fit = tf.function(final, input_signature=[tf.TensorSpec([None, None], tf.uint8)])
    canvases = np.stack(
        [fit(read_source(scanned.root / scanned.images[i].path, config.invert)[0]).numpy()[..., 0] for i in members]
    )
    labels = np.array([scanned.images[i].label for i in members])
    result = smote_images(canvases, labels, seed=config.split.seed)
    made = []
    for k, (canvas, label, (a, b), step) in enumerate(zip(result.images, result.labels, result.parents, result.steps)):
        image = SourceImage(f"{prefix}{CLASS_NAMES[label]}-{k:05d}", int(label), "")
        parents = (scanned.images[members[a]].path, scanned.images[members[b]].path)
        made.append((image, hashlib.md5(canvas.tobytes()).hexdigest(), SyntheticImage(canvas, parents, float(step))))
    return made


def _record_encoder(config: ConvertConfig, background: int):
    """A compiled function: (H, W) uint8 -> (PNG bytes, stored shape) of what a record stores.

    For IAM that is the fitted crop (at most image_size on its long side); the pipeline pads it onto the canvas,
    which costs far less than decoding a mostly empty 224 x 224 PNG. Other preprocessings store the final image.
    """
    if config.preprocess == "iam":
        prepare = lambda image: iam_lib.fit_to_canvas(  # noqa: E731
            image, config.image_size, background, config.threshold, config.magnify
        )
    else:
        prepare = iam_lib.final_image(config.preprocess, config.image_size, background, config.threshold)

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.uint8)])
    def encode(image):
        stored = prepare(image)
        return tf.io.encode_png(stored), tf.shape(stored)[:2]

    return encode


def canvas_of(config: ConvertConfig, background: int) -> dict | None:
    """How the pipeline completes a stored record: the IAM canvas, or None when records are final."""
    if config.preprocess != "iam":
        return None
    return {"size": config.image_size, "background": background, "placement": config.placement}


def _check(config: ConvertConfig) -> None:
    """What a conversion needs beyond each field's own check (``ConvertConfig`` makes those when it is built)."""
    if config.magnify != 1.0 and config.preprocess != "iam":
        raise SrasError(f"--magnify applies to --preprocess iam only, not {config.preprocess}")
    if config.smote and config.smote_scope == "all" and config.split.resolved().group_by != "image":
        raise SrasError("--smote-scope all makes images without a cell, so the split cannot be grouped by cell")


def _shard_records(plan: ShardPlan, scanned: ScannedSource, images, parts, synthetic, config, encode, tick, out):
    for index in plan.image_indices:
        image = images[index]
        made = synthetic.get(index)
        if made is not None:
            array, md5 = made.canvas, hashlib.md5(made.canvas.tobytes()).hexdigest()
        else:
            array, md5 = read_source(scanned.root / image.path, config.invert)
            if md5 != scanned.md5s[index]:
                raise SrasError(
                    f"{display_path(scanned.root / image.path)}: changed while being converted, so {display_path(out)} "
                    "no longer matches its source; delete that folder (or choose a new one) and convert again"
                )
        crop = iam_lib.crop_to_foreground(array, scanned.background, config.threshold).numpy()[..., 0]
        part = parts[index]
        for angle in plan.angles:
            rotated = rotate_expanded(crop, angle, scanned.background) if angle else array
            meta = RecordMeta(
                label=image.label,
                class_name=image.class_name,
                cell_id=image.cell_id,
                source_path=image.path,
                source_md5=md5,
                part=part,
                fold=int(part[4:]) if part.startswith("fold") else -1,
                rotation=float(angle),
                orig_height=array.shape[0],
                orig_width=array.shape[1],
                synthetic=made is not None,
                parents="|".join(made.parents) if made else "",
                smote_step=made.step if made else 0.0,
            )
            png, (height, width) = (value.numpy() for value in encode(rotated))
            yield serialize_example(png, int(height), int(width), meta)
            tick()


def _prepare_out(out: Path, identity: str) -> bool:
    """Check OUT may receive this dataset; True when it is already complete. Clears stale temporary files."""
    if not out.exists():
        make_folder(out)
        return False
    if not out.is_dir():
        raise SrasError(f"{out}: exists and is not a folder")
    for marker in (MANIFEST, CONVERT_STATE):
        if (out / marker).exists():
            existing = _identity(out / marker)
            if existing != identity:
                raise SrasError(
                    f"{out}: already holds a different dataset ({marker} does not match this source and config); "
                    "choose another output folder or delete it"
                )
            if marker == MANIFEST:
                return True
            for stale in out.glob(".*.tmp*"):
                stale.unlink()
            return False
    if any(out.iterdir()):
        raise SrasError(f"{out}: exists, is not empty and is not a converted dataset; choose an empty folder")
    return False


def _identity(path: Path) -> str | None:
    """The identity of the dataset a manifest or a conversion's state file describes (None: unreadable)."""
    try:
        if path.name == MANIFEST:
            return read_record(Manifest, path.parent).identity
        return json.loads(path.read_text()).get("identity")
    except (SrasError, ValueError):
        return None


def convert(source: str | Path, out: str | Path, config: ConvertConfig, progress: bool = False, log=print) -> Manifest:
    """Convert ``source`` into ``out`` (see the module docstring); returns the manifest. A second job converting
    into the same ``out`` waits for the first and then finds the conversion done."""
    out = Path(out)
    _check_apart(Path(source), out)
    with exclusive(out, log):
        return _convert(source, out, config, progress, log)


def _check_apart(source: Path, out: Path) -> None:
    """OUT inside SOURCE would be read as source images by every later conversion of SOURCE; SOURCE inside OUT
    would be mixed with the dataset's files (and OUT must be empty or a dataset)."""
    source, target = source.resolve(), out.resolve()
    if target == source or source in target.parents:
        raise SrasError(f"{display_path(out)}: is inside the source folder {display_path(source)}; choose one outside")
    if target in source.parents:
        raise SrasError(
            f"{display_path(out)}: holds the source folder {display_path(source)}; choose an output folder outside it"
        )


def _convert(source: str | Path, out: Path, config: ConvertConfig, progress: bool, log) -> Manifest:
    _check(config)
    scanned = scan_and_check(source, config, progress)
    images, md5s, synthetic = list(scanned.images), list(scanned.md5s), {}

    def add_synthetic(made, part=None):
        for image, md5, item in made:
            synthetic[len(images)] = item
            images.append(image)
            md5s.append(md5)
            if part is not None:
                parts.append(part)

    if config.smote and config.smote_scope == "all":  # the paper's order: SMOTE, then the split (a leak)
        add_synthetic(synthesise(scanned, list(range(len(images))), config, "smote/"))
    if config.splits_file:
        split_config, parts = parts_from_file(config.splits_file, images)
        config = dataclasses.replace(config, split=split_config)
    else:
        parts = assign_parts(images, config.split)
    config = dataclasses.replace(config, split=config.split.resolved())
    split = config.split
    part_names = split.parts()
    separate = set()
    if config.smote and config.smote_scope == "train":  # SMOTE inside each training part only
        for part in sorted(rotated_parts(config, part_names, always=True)):
            first = len(images)
            members = [i for i, p in enumerate(parts) if p == part]
            add_synthetic(synthesise(scanned, members, config, f"smote/{part}/"), part)
            separate.update(range(first, len(images)))
    identity = fingerprint({"config": config.to_dict(), "data": scanned.checksum})
    if _prepare_out(out, identity):
        log(f"{out}: already converted (manifest.json matches); nothing to do")
        return read_record(Manifest, out)

    write_json_atomic(out / CONVERT_STATE, {"identity": identity, "config": config.to_dict()})
    source_info = DataSource(
        root=str(scanned.root.resolve()),
        layout=scanned.layout,
        label_coding=config.label_coding,
        cell_regex=config.cell_regex,
        checksum=scanned.checksum,
    )
    splits_sha256 = sha256_of(write_record(out, splits_record(images, md5s, parts, split, source_info, synthetic)))
    duplicates = duplicates_across_parts(scanned.images, scanned.md5s, parts[: len(scanned.images)])
    for group in duplicates:
        log(f"warning: identical images in different parts: {', '.join(group)}")

    plans = plan_shards(parts, config, part_names, separate)
    todo = [plan for plan in plans if not (out / plan.name).exists()]
    if len(todo) < len(plans):
        log(f"resuming: {len(plans) - len(todo)} of {len(plans)} shards already written")
    encode = _record_encoder(config, scanned.background)
    total = sum(len(plan.image_indices) * len(plan.angles) for plan in todo)
    with progress_bar(total=total, desc="writing records", unit="rec", disable=not progress, file=sys.stderr) as bar:
        for plan in todo:
            records = _shard_records(
                plan, scanned, images, parts, synthetic, config, encode, lambda: bar.update(1), out
            )
            write_shard(out / plan.name, records)

    synthetic_counts = {part: sum(1 for index in synthetic if parts[index] == part) for part in part_names}
    manifest = _manifest(out, config, scanned, images, parts, plans, identity, source_info, duplicates)
    manifest = dataclasses.replace(manifest, splits_sha256=splits_sha256)
    manifest.counts["synthetic"] = synthetic_counts
    write_record(out, manifest)
    (out / CONVERT_STATE).unlink(missing_ok=True)
    return manifest


def _manifest(out, config, scanned, images, parts, plans, identity, source_info, duplicates) -> Manifest:
    part_names = config.split.parts()
    images_per_class = {part: collections.Counter() for part in part_names}
    for image, part in zip(images[: len(scanned.images)], parts):
        images_per_class[part][image.class_name] += 1
    records = {part: 0 for part in part_names}
    shards = []
    for plan in plans:
        count = len(plan.image_indices) * len(plan.angles)
        records[plan.part] += count
        path = out / plan.name
        shards.append(
            Shard(
                file=plan.name,
                part=plan.part,
                kind=plan.kind,
                records=count,
                bytes=path.stat().st_size,
                sha256=sha256_of(path),
            )
        )
    return Manifest(
        identity=identity,
        schema_version=SCHEMA_VERSION,
        env=environment(seed=config.split.seed, data_checksum=scanned.checksum),
        config=config,
        source=source_info,
        background=_polarity(scanned.background),
        background_votes=scanned.background_votes,
        image_size=config.image_size,
        canvas=canvas_of(config, scanned.background),
        rotations=config.rotations,
        rotated_parts=sorted(rotated_parts(config, part_names)),
        validation_part=config.split.resolved().validation_part,
        parts=part_names,
        counts={
            "images": {
                part: {name: images_per_class[part].get(name, 0) for name in CLASS_NAMES} for part in part_names
            },
            "records": records,
        },
        source_sizes={
            "min_side": int(min(min(size) for size in scanned.sizes)),
            "max_side": int(max(max(size) for size in scanned.sizes)),
        },
        duplicates_across_parts=duplicates,
        shards=shards,
    )
