"""The tf.data input pipeline over a converted dataset's shards.

Shards are read in parallel (interleave), records parsed in batches, shuffled, decoded in parallel, placed on
their canvas while batching, then an optional per-backbone preprocessing hook runs per batch before prefetching.
``deterministic=True`` fixes the order for a given seed (reproducible metrics); ``False`` lets parallel stages
emit out of order for speed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import tensorflow as tf

from sras_keras.configs.train import FLIPS
from sras_keras.core.errors import SrasError
from sras_keras.core.provenance import usable_cpus
from sras_keras.data.augment import random_contrast, random_gaussian_blur, random_scale
from sras_keras.data.iam import center_batch, place_on_canvas
from sras_keras.data.tfrecord import parse_example

AUTOTUNE = tf.data.AUTOTUNE
PARSE_BATCH = 256


def load_manifest(data_dir: str | Path) -> dict:
    path = Path(data_dir) / "manifest.json"
    if not path.exists():
        raise SrasError(f"{data_dir}: no manifest.json (not a converted dataset, or its conversion did not finish)")
    try:
        return json.loads(path.read_text())
    except ValueError as error:
        raise SrasError(f"{path}: unreadable ({error})") from None


def background_level(manifest: dict) -> int:
    """The grey level of a converted dataset's background: 0 (BioImLab's black) or 255 (G-band's white)."""
    return 255 if manifest["background"] == "white" else 0


def _selected_shards(manifest: dict, data_dir, parts: list[str], rotations: bool, synthetic: bool) -> list[dict]:
    unknown = sorted(set(parts) - set(manifest["parts"]))
    if unknown:
        raise SrasError(f"{data_dir}: no part {', '.join(unknown)} (it has {', '.join(manifest['parts'])})")
    return [
        shard
        for shard in manifest["shards"]
        if shard["part"] in parts and {"original": True, "rot": rotations, "smote": synthetic}[shard["kind"]]
    ]


def shard_files(
    data_dir: str | Path, parts: list[str], rotations: bool, manifest: dict | None = None, synthetic: bool = False
) -> list[str]:
    """The shard paths of ``parts``: the original images, plus the rotated copies (``rotations``) and SMOTE's
    synthetic images (``synthetic``) where the part has them. Training wants all three; evaluation only the first."""
    manifest = manifest or load_manifest(data_dir)
    return [
        str(Path(data_dir) / shard["file"])
        for shard in _selected_shards(manifest, data_dir, parts, rotations, synthetic)
    ]


def record_count(
    data_dir: str | Path, parts: list[str], rotations: bool, synthetic: bool = False, max_rotation: float | None = None
) -> int:
    """About how many records ``make_dataset`` will read from ``parts`` (from the manifest, without a pass;
    exact without ``max_rotation``, whose share of each image's copies is the same for every image)."""
    manifest = load_manifest(data_dir)
    total = 0.0
    share = kept_rotation_fraction(manifest["rotations"], max_rotation)
    for shard in _selected_shards(manifest, data_dir, parts, rotations, synthetic):
        if shard["kind"] == "original":
            total += shard["records"]
        elif shard["kind"] == "rot":  # angles 15, 30, ...: every stored angle but 0
            total += shard["records"] * (share * manifest["rotations"] - 1) / max(manifest["rotations"] - 1, 1)
        else:  # SMOTE images, all angles
            total += shard["records"] * share
    return round(total)


def record_decoder(manifest: dict):
    """serialized record -> dict with ``image`` (S, S, 1) uint8 and every metadata field.

    Records of an IAM dataset hold the fitted crop; it is placed on the manifest's canvas here.
    """
    canvas = manifest.get("canvas")

    def decode(serialized):
        features = parse_example(serialized)
        image = tf.io.decode_png(features["image"], channels=1)
        image = tf.reshape(image, tf.stack([features["height"], features["width"], 1]))
        if canvas:
            image = place_on_canvas(image, canvas["size"], canvas["background"], canvas["placement"])
        features["image"] = tf.ensure_shape(image, [manifest["image_size"], manifest["image_size"], 1])
        return features

    return decode


def make_dataset(
    data_dir: str | Path,
    parts: list[str] | str,
    *,
    batch_size: int = 32,
    rotations: bool = True,
    synthetic: bool = True,
    shuffle: bool = False,
    repeat: bool = False,
    seed: int = 0,
    preprocess: Callable[[tf.Tensor], tf.Tensor] | None = None,
    deterministic: bool = True,
    shuffle_buffer: int = 4096,
    with_metadata: bool = False,
    autotune: bool = True,
    flip: str = "none",
    max_rotation: float | None = None,
    blur: float = 0.0,
    contrast: float = 0.0,
    scale: float = 0.0,
    mirror: bool = False,
    cell_batches: bool = False,
) -> tf.data.Dataset:
    """Batches of ``(image, label)`` (or ``(image, label, metadata)``) from the shards of ``parts``.

    ``preprocess`` maps a float32 batch (B, S, S, 1) in [0, 255] to the model's input (a backbone's
    ``preprocess_input`` after channel replication, say). ``autotune=False`` fixes parallelism to the core count:
    short-lived pipelines then do not stall at their end while autotuning winds down. ``flip`` mirrors each
    chromosome at random, left-right (``horizontal``) or also up-down (``both``); seeded, and before canvas
    placement so IAM's layout holds. Augmentation: for training parts only. ``max_rotation`` keeps only the stored
    copies rotated by at most that many degrees either way (upright karyogram crops need no upside-down copies).
    ``blur`` > 0 blurs half the images by a random Gaussian of sigma up to ``blur`` (seeded; training parts only).
    ``contrast`` > 0 scales each image's contrast about the background by up to 1 + ``contrast`` either way (seeded).
    ``scale`` > 0 zooms each canvas about its anchor by up to 1 + ``scale`` either way (seeded).
    ``mirror`` flips every chromosome left-right before placement: the second view of test-time augmentation.
    ``cell_batches`` fills each batch from one cell (a SMOTE image goes with its first parent's cell), so BatchNorm
    trains on one cell's statistics, as `sras predict --cell-bn` normalises each cell at test time.
    """
    if flip not in FLIPS:
        raise SrasError(f"unknown flip {flip!r}; choose one of {', '.join(FLIPS)}")
    parts = [parts] if isinstance(parts, str) else list(parts)
    manifest = load_manifest(data_dir)
    files = shard_files(data_dir, parts, rotations, manifest, synthetic)
    if not files:
        raise SrasError(f"{data_dir}: no shards for part(s) {', '.join(parts)}")
    parallel = AUTOTUNE if autotune else usable_cpus()
    options = tf.data.Options()
    options.deterministic = deterministic
    if not autotune:
        options.autotune.enabled = False

    dataset = tf.data.Dataset.from_tensor_slices(files)
    if shuffle:
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    cycle_length = min(len(files), 8)
    dataset = dataset.interleave(
        tf.data.TFRecordDataset,
        cycle_length=cycle_length,
        num_parallel_calls=parallel if autotune else min(parallel, cycle_length),
        deterministic=deterministic,
    )
    keys = (
        None
        if with_metadata
        else (
            "image",
            "label",
            *(("rotation",) if max_rotation is not None else ()),
            *(("source_path",) if cell_batches else ()),
        )
    )
    # Parsed in batches, then handed on one record at a time: ~25% more images/s than parsing each record alone in
    # an ad-hoc comparison here (not a recorded run); the records, and so the shuffle's input, keep their order.
    dataset = (
        dataset.batch(PARSE_BATCH)
        .map(lambda batch: parse_example(batch, keys), num_parallel_calls=parallel, deterministic=deterministic)
        .unbatch()
    )
    if max_rotation is not None:
        dataset = dataset.filter(lambda record: _tilt(record["rotation"]) <= max_rotation + 1e-3)
    if shuffle:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()

    canvas = manifest.get("canvas")
    centred = bool(canvas) and canvas["placement"] == "center"
    cells = home_cells(data_dir) if cell_batches else None

    def to_example(record):
        record = dict(record)
        cell = () if cells is None else (cells.lookup(record["source_path"]),)  # rides last until batching
        if not with_metadata:
            record.pop("rotation", None)
            record.pop("source_path", None)
        image = tf.io.decode_png(record.pop("image"), channels=1)
        if not canvas:
            image = tf.ensure_shape(image, [manifest["image_size"], manifest["image_size"], 1])
        if mirror:
            image = tf.image.flip_left_right(image)
        label = record.pop("label")
        return ((image, label, record) if with_metadata else (image, label)) + cell

    def flipped(element, coin):
        image, *rest = element
        image = tf.image.stateless_random_flip_left_right(image, coin[0])
        if flip == "both":
            image = tf.image.stateless_random_flip_up_down(image, coin[1])
        return (image, *rest)

    def with_crop_shape(image, *rest):  # centring needs each crop's size after batching
        return (image, *rest, tf.shape(image)[:2])

    background = float(background_level(manifest))

    def to_model_input(image, *rest):  # per batch: centring, cast, scale, contrast, blur and hook
        if augmented:
            *rest, batch_seed = rest
        if centred:
            *rest, shapes = rest
            image = center_batch(image, shapes[:, 0], shapes[:, 1], canvas["background"])
        if cell_batches:
            rest = rest[:-1]
        image = tf.cast(image, tf.float32)
        if scale > 0:
            scale_seed = tf.random.experimental.stateless_fold_in(batch_seed, 2)
            image = random_scale(image, scale, background, scale_seed, centred)
        if contrast > 0:
            contrast_seed = tf.random.experimental.stateless_fold_in(batch_seed, 1)  # blur keeps batch_seed itself
            image = random_contrast(image, contrast, background, contrast_seed)
        if blur > 0:
            image = random_gaussian_blur(image, blur, batch_seed)
        return (preprocess(image) if preprocess is not None else image, *rest)

    dataset = dataset.map(to_example, num_parallel_calls=parallel, deterministic=deterministic)
    if flip != "none":  # per-element seeds from a seeded stream: deterministic, different every epoch
        coins = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(4)
        coins = coins.map(lambda bits: tf.reshape(bits, [2, 2]))
        dataset = tf.data.Dataset.zip((dataset, coins)).map(
            flipped, num_parallel_calls=parallel, deterministic=deterministic
        )
    if canvas and centred:
        dataset = dataset.map(with_crop_shape, num_parallel_calls=parallel, deterministic=deterministic)

    def batched(elements):
        if not canvas:
            return elements.batch(batch_size)
        # padded_batch copies each crop into the top-left of a background canvas in C++: ~1.5x the images/s of
        # ragged_batch followed by a vectorised pad, measured here (benchmarks/pipeline_bench.py).
        return elements.padded_batch(
            batch_size,
            padded_shapes=_canvas_shapes(elements.element_spec, canvas["size"]),
            padding_values=_canvas_padding(elements.element_spec, canvas["background"]),
        )

    if cell_batches:
        cell_at = len(dataset.element_spec) - (2 if centred else 1)
        dataset = dataset.group_by_window(
            lambda *element: element[cell_at], lambda _, window: batched(window), window_size=batch_size
        )
    else:
        dataset = batched(dataset)
    augmented = blur > 0 or contrast > 0 or scale > 0
    if augmented:
        seeds = tf.data.Dataset.random(seed=seed + 1, rerandomize_each_iteration=True).batch(2)
        dataset = tf.data.Dataset.zip((dataset, seeds)).map(lambda batch, batch_seed: (*batch, batch_seed))
    dataset = dataset.map(to_model_input, num_parallel_calls=parallel, deterministic=deterministic)
    dataset = dataset.prefetch(AUTOTUNE if autotune else 2)
    return dataset.with_options(options)


def home_cells(data_dir: str | Path) -> tf.lookup.StaticHashTable:
    """source path -> index of the image's cell, for every image of a converted dataset; a SMOTE image's home is its
    first parent's cell (its parents may come from two cells; it needs one to share batches with)."""
    images = json.loads((Path(data_dir) / "splits.json").read_text())["images"]
    cell_of = {image["path"]: image["cell_id"] for image in images}
    if not any(cell_of.values()):
        raise SrasError(f"{data_dir}: its images carry no cell ids, so batches cannot be filled by cell")
    home = {
        image["path"]: cell_of[image["parents"][0]] if image.get("synthetic") else image["cell_id"] for image in images
    }
    if "" in home.values():
        missing = next(path for path, cell in home.items() if not cell)
        raise SrasError(f"{data_dir}: {missing} has no cell id, so batches cannot be filled by cell")
    index = {cell: k for k, cell in enumerate(sorted(set(home.values())))}
    return tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(list(home), tf.constant([index[cell] for cell in home.values()], tf.int64)),
        default_value=-1,
    )


def _canvas_shapes(element_spec, size: int):
    """``padded_batch`` shapes: the image (first component) padded to the canvas, everything else as it is."""
    image, *rest = element_spec
    return (tf.TensorShape([size, size, 1]), *tf.nest.map_structure(lambda spec: spec.shape, rest))


def _canvas_padding(element_spec, background: int):
    image, *rest = element_spec
    return (tf.constant(background, tf.uint8), *tf.nest.map_structure(lambda spec: tf.zeros([], spec.dtype), rest))


def _tilt(angle):
    """Degrees away from upright, 0..180."""
    angle = tf.math.floormod(angle, 360.0)
    return tf.minimum(angle, 360.0 - angle)


def kept_rotation_fraction(rotations: int, max_rotation: float | None) -> float:
    """Share of a dataset's ``rotations`` stored angles (0 included) within ``max_rotation`` of upright."""
    if max_rotation is None:
        return 1.0
    angles = [k * 360 / rotations for k in range(rotations)]
    return sum(min(a, 360 - a) <= max_rotation + 1e-3 for a in angles) / rotations
