"""The tf.data input pipeline over a converted dataset's shards.

Shards are read in parallel (interleave), records parsed in batches, shuffled, decoded in parallel, placed on
their canvas while batching, then an optional per-backbone preprocessing hook runs per batch before prefetching.
``deterministic=True`` fixes the order for a given seed (reproducible metrics); ``False`` lets parallel stages
emit out of order for speed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable

import tensorflow as tf

from sras_keras.configs.records import Manifest, Shard, Splits, read_record
from sras_keras.configs.train import FLIPS
from sras_keras.core.errors import SrasError
from sras_keras.core.io import sha256_of
from sras_keras.core.provenance import usable_cpus
from sras_keras.core.run_files import MANIFEST, SPLITS
from sras_keras.data.augment import random_contrast, random_gaussian_blur, random_zoom
from sras_keras.data.iam import center_batch, place_on_canvas
from sras_keras.data.tfrecord import PNG_HEADER, PNG_HEADER_BYTES, parse_example, png_sizes

AUTOTUNE = tf.data.AUTOTUNE
PARSE_BATCH = 256


def load_manifest(data_dir: str | Path) -> Manifest:
    if not (Path(data_dir) / MANIFEST).exists():
        raise SrasError(f"{data_dir}: no {MANIFEST} (not a converted dataset, or its conversion did not finish)")
    return read_record(Manifest, data_dir)


def load_splits(data_dir: str | Path) -> Splits:
    """The dataset's parts, refused if splits.json was edited since conversion: it says which cells a model may
    train on (SR training picks its images by it), so an edit could move test cells into training unseen."""
    path = Path(data_dir) / SPLITS
    if not path.exists():
        raise SrasError(f"{data_dir}: no {SPLITS} (not a converted dataset)")
    expected = load_manifest(data_dir).splits_sha256
    if expected is not None and sha256_of(path) != expected:
        raise SrasError(edited_splits(path))
    return read_record(Splits, data_dir)


def edited_splits(path: Path) -> str:
    """What is wrong with a splits.json whose checksum differs from its manifest's (load_splits, verify)."""
    return (
        f"{path}: content differs from manifest.json (sha256 mismatch), so it no longer says which part each image "
        "is in; convert the dataset again"
    )


# Shards that passed ``check_shards`` in this process, by (path, device, inode, size, mtime): a command that reads a
# part twice (training, then its evaluation; the mirror view of test-time augmentation) hashes it once.
_CHECKED: set[tuple] = set()


def check_shards(data_dir: str | Path, files=None, manifest: Manifest | None = None) -> None:
    """Raise SrasError naming the first shard of ``files`` (paths or names; default: every shard) that is missing,
    whose size or sha256 differs from ``manifest.json``, or that holds a PNG larger than the dataset's images (a
    hostile shard, its manifest rewritten to match): the fast part of ``verify`` (one read at about disk speed, no
    record is parsed), run before a dataset is read, so a bad shard is one clear error line rather than a
    TensorFlow traceback mid-epoch."""
    data_dir = Path(data_dir)
    manifest = manifest or load_manifest(data_dir)
    wanted = None if files is None else {Path(file).name for file in files}
    for shard in manifest.shards:
        if wanted is not None and shard.file not in wanted:
            continue
        path = data_dir / shard.file
        try:
            status = path.stat()
        except OSError:
            raise SrasError(f"{path}: shard missing (listed in manifest.json); convert the dataset again") from None
        key = (str(path.resolve()), status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, shard.sha256)
        if key in _CHECKED:
            continue
        if status.st_size != shard.bytes:
            raise _corrupted(path, data_dir)
        sha256, largest = scan_shard(path)
        if sha256 != shard.sha256:
            raise _corrupted(path, data_dir)
        if max(largest) > manifest.image_size:
            raise SrasError(f"{path}: {oversized(largest, manifest.image_size)}; convert the dataset again")
        _CHECKED.add(key)


def _corrupted(path: Path, data_dir) -> SrasError:
    return SrasError(
        f"{path}: shard is corrupted (its sha256 differs from manifest.json); run `sras data verify {data_dir}` "
        "and convert the dataset again"
    )


def oversized(size: tuple[int, int], image_size: int) -> str:
    return (
        f"a record's image claims {size[0]} x {size[1]} pixels, more than this dataset's {image_size} x {image_size} "
        "(a damaged or hostile shard)"
    )


def scan_shard(path: Path, chunk: int = 1 << 20) -> tuple[str, tuple[int, int]]:
    """(sha256, the largest (width, height) a PNG header in it claims; (0, 0) for none) of a shard, in one read."""
    digest, largest, tail = hashlib.sha256(), (0, 0), b""
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
            window = tail + block
            largest = max([largest, *png_sizes(window)], key=max)
            tail = window[-(PNG_HEADER_BYTES - 1) :]  # a header cut by the chunk's end, never one counted already
    return digest.hexdigest(), largest


def _selected_shards(
    manifest: Manifest, data_dir, parts: list[str], rotated_copies: bool, synthetic: bool
) -> list[Shard]:
    unknown = sorted(set(parts) - set(manifest.parts))
    if unknown:
        raise SrasError(f"{data_dir}: no part {', '.join(unknown)} (it has {', '.join(manifest.parts)})")
    return [
        shard
        for shard in manifest.shards
        if shard.part in parts and {"original": True, "rot": rotated_copies, "smote": synthetic}[shard.kind]
    ]


def shard_files(
    data_dir: str | Path,
    parts: list[str],
    rotated_copies: bool,
    manifest: Manifest | None = None,
    synthetic: bool = False,
) -> list[str]:
    """The shard paths of ``parts``: the original images, plus the rotated copies (``rotated_copies``) and SMOTE's
    synthetic images (``synthetic``) where the part has them. Training wants all three; evaluation only the first."""
    manifest = manifest or load_manifest(data_dir)
    return [
        str(Path(data_dir) / shard.file)
        for shard in _selected_shards(manifest, data_dir, parts, rotated_copies, synthetic)
    ]


def record_count(
    data_dir: str | Path,
    parts: list[str],
    rotated_copies: bool,
    synthetic: bool = False,
    max_rotation: float | None = None,
) -> int:
    """About how many records ``make_dataset`` will read from ``parts`` (from the manifest, without a pass;
    exact without ``max_rotation``, whose share of each image's copies is the same for every image)."""
    manifest = load_manifest(data_dir)
    total = 0.0
    share = kept_rotation_fraction(manifest.rotations, max_rotation)
    for shard in _selected_shards(manifest, data_dir, parts, rotated_copies, synthetic):
        if shard.kind == "original":
            total += shard.records
        elif shard.kind == "rot":  # angles 15, 30, ...: every stored angle but 0
            total += shard.records * (share * manifest.rotations - 1) / max(manifest.rotations - 1, 1)
        else:  # SMOTE images, all angles
            total += shard.records * share
    return round(total)


def record_decoder(manifest: Manifest):
    """serialized record -> dict with ``image`` (S, S, 1) uint8 and every metadata field: the pipeline's parse and
    decode stages on one record, then its canvas placement (which ``batch_on_canvas`` does per batch)."""
    canvas = manifest.canvas
    decode = image_decoder(manifest)

    def decode_one(serialized):
        record = decode(parse_example(serialized))
        if canvas:
            record["image"] = place_on_canvas(
                record["image"], canvas["size"], canvas["background"], canvas["placement"]
            )
        record["image"] = tf.ensure_shape(record["image"], [manifest.image_size, manifest.image_size, 1])
        return record

    return decode_one


# The stages of ``make_dataset``, in its order, each over dict elements: read -> parse -> select -> decode ->
# flip -> batch (on the canvas) -> augment -> model input. ``_CONTROL`` keys ride along between stages and never
# reach the model or the metadata.
_CONTROL = ("cell", "crop_shape", "coin", "batch_seed")


def read_records(files: list[str], *, shuffle: bool, seed: int, parallel, deterministic: bool) -> tf.data.Dataset:
    """Serialized records of ``files``, read in parallel (shard order shuffled each epoch with ``shuffle``)."""
    dataset = tf.data.Dataset.from_tensor_slices(files)
    if shuffle:
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    cycle_length = min(len(files), 8)
    return dataset.interleave(
        tf.data.TFRecordDataset,
        cycle_length=cycle_length,
        num_parallel_calls=parallel if parallel == AUTOTUNE else min(parallel, cycle_length),
        deterministic=deterministic,
    )


def parse_records(records: tf.data.Dataset, keys, *, parallel, deterministic: bool) -> tf.data.Dataset:
    """Serialized records -> dicts of the ``keys`` fields (None: all). Parsed in batches, then handed on one record
    at a time, which is faster than parsing each record alone; the records, and so the shuffle's input, keep their
    order."""
    return (
        records.batch(PARSE_BATCH)
        .map(lambda batch: parse_example(batch, keys), num_parallel_calls=parallel, deterministic=deterministic)
        .unbatch()
    )


def select_rotations(records: tf.data.Dataset, max_rotation: float | None) -> tf.data.Dataset:
    """Only the stored copies rotated by at most ``max_rotation`` degrees either way (None: all)."""
    if max_rotation is None:
        return records
    return records.filter(lambda record: _tilt(record["rotation"]) <= max_rotation + 1e-3)


def image_decoder(manifest: Manifest, mirror: bool = False, cells: tf.lookup.StaticHashTable | None = None):
    """record -> the same dict with ``image`` decoded to (H, W, 1) uint8 (the fitted crop of an IAM dataset, whole
    (S, S, 1) otherwise), mirrored left-right with ``mirror``; ``cells`` adds the image's ``cell`` index."""
    canvas = manifest.canvas

    def decode(record):
        record = dict(record)
        if cells is not None:
            record["cell"] = cells.lookup(record["source_path"])
        image = tf.io.decode_png(_checked_png(record["image"], manifest.image_size), channels=1)
        if not canvas:
            image = tf.ensure_shape(image, [manifest.image_size, manifest.image_size, 1])
        record["image"] = tf.image.flip_left_right(image) if mirror else image
        return record

    return decode


def _checked_png(png, image_size: int):
    """``png``, once its header says it is a PNG of at most ``image_size`` a side, as every stored image is: a record
    whose PNG claims more fails here, before ``decode_png`` allocates its pixels (a small hostile file can claim
    gigapixels). ``check_shards`` refuses such a shard before reading it; this guards the decode itself."""
    header = tf.io.decode_raw(tf.strings.substr(png, 0, PNG_HEADER_BYTES), tf.uint8)
    size = tf.shape(header)[0]
    fields = tf.cast(tf.pad(header, [[0, PNG_HEADER_BYTES - size]])[len(PNG_HEADER) :], tf.int64)
    width = tf.reduce_sum(fields[:4] * [1 << 24, 1 << 16, 1 << 8, 1])
    height = tf.reduce_sum(fields[4:] * [1 << 24, 1 << 16, 1 << 8, 1])
    valid = tf.logical_and(
        tf.equal(size, PNG_HEADER_BYTES), tf.equal(tf.strings.substr(png, 0, len(PNG_HEADER)), PNG_HEADER)
    )
    checked = tf.debugging.Assert(
        tf.logical_and(valid, tf.logical_and(width <= image_size, height <= image_size)),
        [
            f"a record's image is not a PNG of at most {image_size} x {image_size} pixels; its header says",
            width,
            height,
            "(damaged or hostile shard: run `sras data verify`)",
        ],
    )
    with tf.control_dependencies([checked]):
        return tf.identity(png)


def random_flips(examples: tf.data.Dataset, flip: str, seed: int, *, parallel, deterministic: bool) -> tf.data.Dataset:
    """Each chromosome mirrored at random, left-right (``horizontal``) or also up-down (``both``), before canvas
    placement so IAM's layout holds; per-element seeds from a seeded stream: deterministic, different every epoch."""
    if flip == "none":
        return examples
    coins = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(4)
    coins = coins.map(lambda bits: tf.reshape(bits, [2, 2]))

    def flipped(example, coin):
        example = dict(example)
        image = tf.image.stateless_random_flip_left_right(example["image"], coin[0])
        if flip == "both":
            image = tf.image.stateless_random_flip_up_down(image, coin[1])
        example["image"] = image
        return example

    return tf.data.Dataset.zip((examples, coins)).map(flipped, num_parallel_calls=parallel, deterministic=deterministic)


def batch_on_canvas(
    examples: tf.data.Dataset, manifest: Manifest, batch_size: int, by_cell: bool, *, parallel, deterministic: bool
) -> tf.data.Dataset:
    """Batches; an IAM dataset's crops are copied into the top-left of a background canvas while batching (each
    crop's size kept in ``crop_shape`` for centring). ``by_cell``: each batch from one cell (the ``cell`` key)."""
    canvas = manifest.canvas
    if canvas and canvas["placement"] == "center":
        examples = examples.map(
            lambda example: {**example, "crop_shape": tf.shape(example["image"])[:2]},
            num_parallel_calls=parallel,
            deterministic=deterministic,
        )

    def batched(elements):
        if not canvas:
            return elements.batch(batch_size)
        # padded_batch copies each crop into the top-left of a background canvas in C++: faster than ragged_batch
        # followed by a vectorised pad.
        spec = elements.element_spec
        return elements.padded_batch(
            batch_size,
            padded_shapes={
                key: [canvas["size"], canvas["size"], 1] if key == "image" else spec[key].shape for key in spec
            },
            padding_values={
                key: tf.constant(canvas["background"], tf.uint8) if key == "image" else tf.zeros([], spec[key].dtype)
                for key in spec
            },
        )

    if by_cell:
        return examples.group_by_window(
            lambda example: example["cell"], lambda _, window: batched(window), window_size=batch_size
        )
    return batched(examples)


def augment_batches(
    batches: tf.data.Dataset,
    manifest: Manifest,
    *,
    blur: float,
    contrast: float,
    zoom: float,
    seed: int,
    parallel,
    deterministic: bool,
) -> tf.data.Dataset:
    """float32 batches in [0, 255] on their canvas (centred where the dataset says), with the seeded random zoom,
    contrast and blur of training batches (all 0: none)."""
    canvas = manifest.canvas
    centred = bool(canvas) and canvas["placement"] == "center"
    background = float(manifest.background_value)
    augmented = blur > 0 or contrast > 0 or zoom > 0
    if augmented:
        seeds = tf.data.Dataset.random(seed=seed + 1, rerandomize_each_iteration=True).batch(2)
        batches = tf.data.Dataset.zip((batches, seeds)).map(
            lambda batch, batch_seed: {**batch, "batch_seed": batch_seed}
        )

    def augment(batch):
        batch = dict(batch)
        image = batch["image"]
        if centred:
            shapes = batch["crop_shape"]
            image = center_batch(image, shapes[:, 0], shapes[:, 1], canvas["background"])
        image = tf.cast(image, tf.float32)
        if zoom > 0:
            zoom_seed = tf.random.experimental.stateless_fold_in(batch["batch_seed"], 2)
            image = random_zoom(image, zoom, background, zoom_seed, centred)
        if contrast > 0:
            contrast_seed = tf.random.experimental.stateless_fold_in(batch["batch_seed"], 1)  # blur keeps batch_seed
            image = random_contrast(image, contrast, background, contrast_seed)
        if blur > 0:
            image = random_gaussian_blur(image, blur, batch["batch_seed"])
        batch["image"] = image
        return batch

    return batches.map(augment, num_parallel_calls=parallel, deterministic=deterministic)


def model_inputs(
    batches: tf.data.Dataset, preprocess, with_metadata: bool, *, parallel, deterministic: bool
) -> tf.data.Dataset:
    """The tuples Keras takes: ``(image, label)``, or ``(image, label, metadata)`` with every other record field;
    ``preprocess`` maps the float32 batch to the model's input."""

    def to_tuple(batch):
        image = preprocess(batch["image"]) if preprocess is not None else batch["image"]
        if not with_metadata:
            return image, batch["label"]
        metadata = {key: value for key, value in batch.items() if key not in ("image", "label", *_CONTROL)}
        return image, batch["label"], metadata

    return batches.map(to_tuple, num_parallel_calls=parallel, deterministic=deterministic)


def make_dataset(
    data_dir: str | Path,
    parts: list[str] | str,
    *,
    batch_size: int = 32,
    rotated_copies: bool = True,
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
    zoom: float = 0.0,
    mirror: bool = False,
    cell_batches: bool = False,
) -> tf.data.Dataset:
    """Batches of ``(image, label)`` (or ``(image, label, metadata)``) from the shards of ``parts``: the stages above.

    ``preprocess`` maps a float32 batch (B, S, S, 1) in [0, 255] to the model's input (a backbone's
    ``preprocess_input`` after channel replication, say). ``autotune=False`` fixes parallelism to the core count:
    short-lived pipelines then do not stall at their end while autotuning winds down. Augmentation (training parts
    only): ``flip`` (``random_flips``), ``max_rotation`` (``select_rotations``: upright karyogram crops need no
    upside-down copies), ``blur`` > 0 blurs half the images by a random Gaussian of sigma up to ``blur``,
    ``contrast`` > 0 scales each image's contrast about the background by up to 1 + ``contrast`` either way,
    ``zoom`` > 0 zooms each canvas about its anchor by up to 1 + ``zoom`` either way (all seeded).
    ``mirror`` flips every chromosome left-right before placement: the second view of test-time augmentation.
    ``cell_batches`` fills each batch from one cell (a SMOTE image goes with its first parent's cell), so BatchNorm
    trains on one cell's statistics, as `sras predict --cell-bn` normalises each cell at test time.
    """
    if flip not in FLIPS:
        raise SrasError(f"unknown flip {flip!r}; choose one of {', '.join(FLIPS)}")
    parts = [parts] if isinstance(parts, str) else list(parts)
    manifest = load_manifest(data_dir)
    files = shard_files(data_dir, parts, rotated_copies, manifest, synthetic)
    if not files:
        raise SrasError(f"{data_dir}: no shards for part(s) {', '.join(parts)}")
    check_shards(data_dir, files, manifest)
    parallel = AUTOTUNE if autotune else usable_cpus()
    options = tf.data.Options()
    options.deterministic = deterministic
    if not autotune:
        options.autotune.enabled = False
    stage = {"parallel": parallel, "deterministic": deterministic}

    # without metadata, only what training needs is parsed
    needed = (
        "image",
        "label",
        *(("rotation",) if max_rotation is not None else ()),
        *(("source_path",) if cell_batches else ()),
    )
    records = parse_records(
        read_records(files, shuffle=shuffle, seed=seed, **stage), None if with_metadata else needed, **stage
    )
    records = select_rotations(records, max_rotation)
    if shuffle:
        records = records.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        records = records.repeat()
    decode = image_decoder(manifest, mirror, home_cells(data_dir) if cell_batches else None)
    examples = random_flips(records.map(decode, **_map(stage)), flip, seed, **stage)
    batches = batch_on_canvas(examples, manifest, batch_size, cell_batches, **stage)
    batches = augment_batches(batches, manifest, blur=blur, contrast=contrast, zoom=zoom, seed=seed, **stage)
    dataset = model_inputs(batches, preprocess, with_metadata, **stage)
    return dataset.prefetch(AUTOTUNE if autotune else 2).with_options(options)


def _map(stage: dict) -> dict:
    return {"num_parallel_calls": stage["parallel"], "deterministic": stage["deterministic"]}


def home_cells(data_dir: str | Path) -> tf.lookup.StaticHashTable:
    """source path -> index of the image's cell, for every image of a converted dataset; a SMOTE image's home is its
    first parent's cell (its parents may come from two cells; it needs one to share batches with)."""
    images = load_splits(data_dir).images
    cell_of = {image.path: image.cell_id for image in images}
    if not any(cell_of.values()):
        raise SrasError(f"{data_dir}: its images carry no cell ids, so batches cannot be filled by cell")
    home = {image.path: cell_of[image.parents[0]] if image.synthetic else image.cell_id for image in images}
    if "" in home.values():
        missing = next(path for path, cell in home.items() if not cell)
        raise SrasError(f"{data_dir}: {missing} has no cell id, so batches cannot be filled by cell")
    index = {cell: k for k, cell in enumerate(sorted(set(home.values())))}
    return tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(list(home), tf.constant([index[cell] for cell in home.values()], tf.int64)),
        default_value=-1,
    )


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
