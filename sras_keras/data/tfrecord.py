"""The TFRecord format of a converted dataset: one ``tf.train.Example`` per (image, rotation).

Shards are named ``<part>-00000-of-00004.tfrecord`` (original orientation), ``<part>-rot-...`` (the other
rotations of the same part) and ``<part>-smote-...`` (SMOTE images synthesised from that part, all angles):
evaluation reads only the first kind.
"""

from __future__ import annotations

import dataclasses
import re
import struct
from pathlib import Path

import tensorflow as tf

from sras_keras.core.errors import SrasError
from sras_keras.core.io import atomic_path, display_path

SCHEMA_VERSION = 1
PNG_HEADER = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"  # the PNG signature, then IHDR's length (13) and type
PNG_HEADER_BYTES = len(PNG_HEADER) + 8  # then the width and the height, big-endian
SHARD_KINDS = ("original", "rot", "smote")
_SHARD_NAME = re.compile(
    r"^(?P<part>[a-z0-9]+)(?:-(?P<kind>rot|smote))?-(?P<index>\d{5})-of-(?P<count>\d{5})\.tfrecord$"
)


@dataclasses.dataclass(frozen=True)
class RecordMeta:
    """Everything a record says about its image besides the pixels."""

    label: int
    class_name: str
    cell_id: str
    source_path: str
    source_md5: str
    part: str
    fold: int  # -1 outside K-fold splits
    rotation: float
    orig_height: int
    orig_width: int
    synthetic: bool = False
    parents: str = ""  # SMOTE: "<parent A>|<parent B>", the image is A + smote_step * (B - A)
    smote_step: float = 0.0


def shard_name(part: str, kind: str, index: int, count: int) -> str:
    suffix = "" if kind == "original" else f"-{kind}"
    return f"{part}{suffix}-{index:05d}-of-{count:05d}.tfrecord"


def parse_shard_name(name: str) -> tuple[str, str] | None:
    """(part, kind) for a shard file name, None for any other file."""
    match = _SHARD_NAME.match(name)
    return (match.group("part"), match.group("kind") or "original") if match else None


def png_sizes(data: bytes):
    """(width, height) of every PNG header in ``data`` (a shard's bytes: records store their PNG as is), which is
    what its pixels will take once decoded, read without decoding them."""
    start = data.find(PNG_HEADER)
    while 0 <= start <= len(data) - PNG_HEADER_BYTES:
        yield struct.unpack_from(">II", data, start + len(PNG_HEADER))
        start = data.find(PNG_HEADER, start + 1)


def _bytes(value: bytes | str) -> tf.train.Feature:
    if isinstance(value, str):
        value = value.encode("utf-8")
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int(value: int) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))


def serialize_example(png: bytes, height: int, width: int, meta: RecordMeta) -> bytes:
    features = {
        "image": _bytes(png),
        "height": _int(height),
        "width": _int(width),
        "label": _int(meta.label),
        "class_name": _bytes(meta.class_name),
        "cell_id": _bytes(meta.cell_id),
        "source_path": _bytes(meta.source_path),
        "source_md5": _bytes(meta.source_md5),
        "part": _bytes(meta.part),
        "fold": _int(meta.fold),
        "rotation": tf.train.Feature(float_list=tf.train.FloatList(value=[meta.rotation])),
        "orig_height": _int(meta.orig_height),
        "orig_width": _int(meta.orig_width),
        "synthetic": _int(meta.synthetic),
        "parents": _bytes(meta.parents),
        "smote_step": tf.train.Feature(float_list=tf.train.FloatList(value=[meta.smote_step])),
    }
    # deterministic: a map field's order otherwise follows the per-process string hash seed, so two conversions
    # of the same images wrote different bytes (and a resumed conversion mixed both orders)
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString(deterministic=True)


FEATURE_SPEC = {
    "image": tf.io.FixedLenFeature([], tf.string),
    "height": tf.io.FixedLenFeature([], tf.int64),
    "width": tf.io.FixedLenFeature([], tf.int64),
    "label": tf.io.FixedLenFeature([], tf.int64),
    "class_name": tf.io.FixedLenFeature([], tf.string),
    "cell_id": tf.io.FixedLenFeature([], tf.string),
    "source_path": tf.io.FixedLenFeature([], tf.string),
    "source_md5": tf.io.FixedLenFeature([], tf.string),
    "part": tf.io.FixedLenFeature([], tf.string),
    "fold": tf.io.FixedLenFeature([], tf.int64),
    "rotation": tf.io.FixedLenFeature([], tf.float32),
    "orig_height": tf.io.FixedLenFeature([], tf.int64),
    "orig_width": tf.io.FixedLenFeature([], tf.int64),
    "synthetic": tf.io.FixedLenFeature([], tf.int64),
    "parents": tf.io.FixedLenFeature([], tf.string),
    "smote_step": tf.io.FixedLenFeature([], tf.float32),
}


def parse_example(serialized, keys=None) -> dict:
    """The features of one record, or of a batch of records (a vector of them: much cheaper per record than one at
    a time); only ``keys`` when given (parsing fewer fields is faster)."""
    spec = FEATURE_SPEC if keys is None else {key: FEATURE_SPEC[key] for key in keys}
    return tf.io.parse_example(serialized, spec)


def write_shard(path: Path, serialized_records) -> int:
    """Write records to ``path`` through a temporary file; returns how many were written."""
    count = 0
    with atomic_path(path) as temporary:
        try:
            with tf.io.TFRecordWriter(str(temporary)) as writer:
                for record in serialized_records:
                    writer.write(record)
                    count += 1
        except (tf.errors.PermissionDeniedError, tf.errors.NotFoundError, tf.errors.ResourceExhaustedError) as error:
            raise SrasError(
                f"{display_path(path)}: cannot write there ({error.message}); choose another folder"
            ) from None
    return count
