"""The SR step of a run's preprocessing, and ``sras sr apply``, which upscales every image of a source tree with a
trained SRAFBN, keeping the tree's layout, so ``sras data convert`` takes the result (``--splits`` reuses the
original split: paths are unchanged).

Each image is first cropped to its chromosome plus a margin of background: BioImLab's fixed 100 x 200 canvases
would otherwise cost SR time for empty pixels (IAM crops them anyway). ``upscale_image`` is the step for one image,
as the exported ``ServingModule`` traces it. ``sras sr apply`` and ``Predictor`` run the same crop and network on
batches (``upscale_batch``), each crop padded with background to the batch's largest: the network then sees padding
where alone it would see its own border, which moved pixels near a crop's edge by up to 3 grey levels with the demo's
SR model. The SR datasets were made that way, so predictions batch too; a batch of one matches ``upscale_image`` to
one grey level (see ``upscale_batch``).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from sras_keras.configs.records import SRApply, write_record
from sras_keras.core.errors import SrasError
from sras_keras.core.io import make_folder
from sras_keras.core.progress import progress as progress_bar
from sras_keras.core.provenance import environment
from sras_keras.data.iam import background_of, crop_to_foreground
from sras_keras.data.readers import read_image, scan_source

_LOSSY = (".jpg", ".jpeg")
MARGIN = 4  # background pixels kept around the chromosome, so the network sees its edges in context


def output_name(relative: str) -> str:
    """Same path; JPEG becomes PNG so the upscaled pixels are stored losslessly."""
    path = Path(relative)
    return str(path.with_suffix(".png")) if path.suffix.lower() in _LOSSY else relative


def crop_with_margin(image, background: int) -> tf.Tensor:
    """(H, W) uint8 -> (h, w) uint8: the chromosome's bounding box with ``MARGIN`` pixels of background around it."""
    crop = tf.squeeze(crop_to_foreground(image, background), -1)
    return tf.pad(crop, [[MARGIN, MARGIN], [MARGIN, MARGIN]], constant_values=background)


def super_resolve(model, batch) -> tf.Tensor:
    """(B, h, w) uint8 -> (B, h * scale, w * scale) uint8: ``model`` on grey levels read as [0, 1], rounded back.
    The graph form, as the exported model runs it; ``upscale_batch`` does the same scaling in NumPy."""
    channel = tf.expand_dims(tf.cast(batch, tf.float32), -1)  # not [..., tf.newaxis]: no TFLite kernel for that
    upscaled = model(channel / 255.0, training=False)[..., 0]
    return tf.cast(tf.clip_by_value(tf.round(upscaled * 255.0), 0, 255), tf.uint8)


def upscale_image(model, background: int):
    """(H, W) uint8 image -> its chromosome upscaled by ``model``, (h, w) uint8: the SR step for one image in a
    graph (the exported model's): the crop of ``upscale_batch`` and ``super_resolve``."""
    return lambda image: super_resolve(model, crop_with_margin(image, background)[tf.newaxis])[0]


def compiled_forward(model):
    """``model(x)`` as a graph function: about twice the throughput of eager calls on a CPU."""
    return tf.function(lambda batch: model(batch, training=False), reduce_retracing=True)


def upscale_batch(model, forward, crops: list[np.ndarray], backgrounds: list[int]) -> list[np.ndarray]:
    """Upscale crops of different sizes in one ``forward`` (``compiled_forward``) call: each is padded with its
    background to the batch's largest size and its own region is cut back out (far cheaper on a CPU than one call
    per image). The grey levels are scaled to [0, 1] and back in NumPy, as every SR dataset so far was made: in a
    graph TensorFlow may compute ``x / 255`` as ``x * (1 / 255)``, and that moved 12 pixels of the demo's 736
    upscaled images by one grey level, enough to change what the demo's classifier learns from them. So the
    exported graph (``upscale_image``) and this path may differ by one grey level at a rounding boundary."""
    height = max(a.shape[0] for a in crops)
    width = max(a.shape[1] for a in crops)
    batch = (
        np.stack(
            [
                np.pad(a, ((0, height - a.shape[0]), (0, width - a.shape[1])), constant_values=bg)
                for a, bg in zip(crops, backgrounds)
            ]
        ).astype(np.float32)[..., None]
        / 255
    )
    upscaled = forward(tf.constant(batch)).numpy()[..., 0]
    scale = model.scale
    return [
        np.clip(np.round(sr[: a.shape[0] * scale, : a.shape[1] * scale] * 255), 0, 255).astype(np.uint8)
        for sr, a in zip(upscaled, crops)
    ]


def apply_sr(
    model,
    model_path,
    source,
    out,
    layout="auto",
    label_coding="standard",
    cell_regex=None,
    batch_size: int = 16,
    progress: bool = False,
) -> dict:
    source, out = Path(source), Path(out)
    _, images = scan_source(source, layout, label_coding, cell_regex)
    if out.exists() and any(out.iterdir()):
        raise SrasError(f"{out}: exists and is not empty; choose a new folder")
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    make_folder(partial).rmdir()  # an unwritable place is refused before any image is read
    loaded = []
    for image in images:
        array, _ = read_image(source / image.path)
        background = background_of(array)
        loaded.append((image.path, crop_with_margin(array, background).numpy(), background))
    loaded.sort(key=lambda item: (item[1].shape[0] * item[1].shape[1], item[0]))  # similar sizes share a batch
    forward = compiled_forward(model)
    start = time.perf_counter()
    try:
        with progress_bar(
            total=len(loaded), desc="upscaling", unit="img", disable=not progress, file=sys.stderr
        ) as bar:
            for first in range(0, len(loaded), batch_size):
                chunk = loaded[first : first + batch_size]
                arrays, backgrounds = [item[1] for item in chunk], [item[2] for item in chunk]
                for (relative, _, _), result in zip(chunk, upscale_batch(model, forward, arrays, backgrounds)):
                    target = partial / output_name(relative)
                    make_folder(target.parent)
                    Image.fromarray(result).save(target)
                bar.update(len(chunk))
        seconds = time.perf_counter() - start
        summary = SRApply(
            model=str(model_path),
            scale=model.scale,
            source=str(source.resolve()),
            images=len(loaded),
            seconds=round(seconds, 2),
            images_per_s=round(len(loaded) / seconds, 2),
            env=environment(),
            cropped_to_foreground_with_margin=MARGIN,
        )
        write_record(partial, summary)
        if out.exists():
            out.rmdir()
        os.replace(partial, out)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return summary
