"""The one prediction path: a run's model with the preprocessing it was trained with (its ``preprocessing.json``:
inversion, SRAFBN, IAM or resize, canvas), on a user's images or on a converted dataset's records, seen as one or more
views, with the model's BatchNorm statistics or each cell's own."""

from __future__ import annotations

import dataclasses
import functools
import shutil
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from sras_keras.configs.inference import Preprocessing
from sras_keras.configs.records import Manifest, RunData, SRApply, read_record, write_record
from sras_keras.core.errors import SrasError
from sras_keras.core.io import atomic_path
from sras_keras.core.progress import progress as progress_bar
from sras_keras.core.run_files import DATA, FINAL, MANIFEST, PREPROCESSING, RUN_CONFIG, SR_APPLY, SR_MODEL
from sras_keras.data.iam import final_image
from sras_keras.data.labels import CLASS_NAMES
from sras_keras.data.pipeline import load_manifest, make_dataset
from sras_keras.inference.inputs import InputImage
from sras_keras.inference.upscale import compiled_forward, crop_with_margin, upscale_batch
from sras_keras.inference.views import cell_groups, view_probabilities
from sras_keras.models.heads import FEATURES_LAYER
from sras_keras.models.saving import load_classifier, load_sr_model


def dataset_preprocessing(data_dir) -> Preprocessing:
    """The chain a converted dataset's images went through: its manifest's settings and, when its source tree was
    upscaled (``sr_apply.json``), the path of that SR model."""
    manifest = load_manifest(data_dir)
    upscaled = (Path(manifest.source.root) / SR_APPLY).is_file()
    sr_model = read_record(SRApply, manifest.source.root).model if upscaled else None
    return Preprocessing.of(manifest, sr_model, CLASS_NAMES)


def write_preprocessing(run_dir: Path, data_dir) -> Preprocessing:
    """The run's ``preprocessing.json`` and a copy of its SR model, if any: a run folder then predicts on images
    after its dataset and the SR model's original are moved or deleted."""
    preprocessing = dataset_preprocessing(data_dir)
    if preprocessing.sr_model is not None:
        if not Path(preprocessing.sr_model).is_file():
            raise SrasError(
                f"{data_dir}: made from images upscaled by {preprocessing.sr_model}, which is missing; a run keeps a "
                "copy of it to upscale the images it predicts"
            )
        with atomic_path(run_dir / SR_MODEL) as temporary:
            shutil.copyfile(preprocessing.sr_model, temporary)
        preprocessing = dataclasses.replace(preprocessing, sr_model=SR_MODEL)
    write_record(run_dir, preprocessing)
    return preprocessing


def run_preprocessing(run_dir: Path) -> Preprocessing:
    """What a run's inputs went through: its ``preprocessing.json``, or for a run from before that file, its
    dataset's (which must then still be there)."""
    if (run_dir / PREPROCESSING).is_file():
        return read_record(Preprocessing, run_dir)
    for name in (RUN_CONFIG, DATA):
        if not (run_dir / name).is_file():
            raise SrasError(
                f"{run_dir}: no {PREPROCESSING} or {name}, so the preprocessing it was trained with is unknown; "
                "give the folder of a `sras train` run"
            )
    data = read_record(RunData, run_dir)
    return dataset_preprocessing(training_data(run_dir, data, f"a run without {PREPROCESSING} reads its chain there"))


def training_data(run_dir: Path, data: RunData, why: str) -> Path:
    """The run's converted dataset, or a clear error saying ``why`` it was needed when it is gone."""
    if not (Path(data.data_dir) / MANIFEST).is_file():
        raise SrasError(f"{run_dir}: its training data {data.data_dir} is gone (no {MANIFEST}); {why}")
    return Path(data.data_dir)


def as_trained(preprocessing: Preprocessing, image):
    """A user's image (array or graph tensor) as the run's conversion read its sources: inverted for an
    ``--invert`` run."""
    return 255 - image if preprocessing.invert else image


def placement(preprocessing: Preprocessing):
    """(H, W) uint8 image -> the model's (S, S, 1) input as the run's conversion made it (IAM or resize): the one
    definition ``Predictor`` and the exported ``ServingModule`` both trace."""
    p = preprocessing
    return final_image(p.preprocess, p.image_size, p.background, p.threshold, p.placement, p.magnify)


class Predictor:
    """A run's model with the preprocessing it was trained with; ``model``: that run's model already in memory
    (training evaluates the model it has just trained), else the run's ``model.keras``."""

    def __init__(self, run_dir: Path, model: keras.Model | None = None):
        self.run_dir = Path(run_dir)
        self.preprocessing = run_preprocessing(self.run_dir)
        if self.preprocessing.class_names != CLASS_NAMES:
            raise SrasError(
                f"{self.run_dir}: trained on the classes {', '.join(self.preprocessing.class_names)}, "
                f"not the {len(CLASS_NAMES)} this sras-keras predicts"
            )
        self.model = model or load_classifier(self.run_dir / FINAL)
        self._with_features = None
        self.prepare_one = tf.function(  # one traced graph for every image size, not eager ops per image
            placement(self.preprocessing), input_signature=[tf.TensorSpec([None, None], tf.uint8)]
        )

    @functools.cached_property
    def run_data(self) -> RunData:
        """Which dataset and parts the run used (``data.json``): read only by those that predict on that dataset."""
        return read_record(RunData, self.run_dir)

    @functools.cached_property
    def manifest(self) -> Manifest:
        """The run's training data's manifest, read when first asked for: predicting on images never needs it."""
        return load_manifest(training_data(self.run_dir, self.run_data, "predicting on its records needs it"))

    @functools.cached_property
    def sr_model(self) -> keras.Model | None:
        """The SRAFBN the run's training images were upscaled with (None: they were not), loaded when first asked
        for: a converted dataset's records are upscaled already, so predicting them never needs it. A relative
        path is the run's own copy; an absolute one (runs from before ``preprocessing.json``) the original."""
        if self.preprocessing.sr_model is None:
            return None
        path = self.run_dir / self.preprocessing.sr_model
        if not path.is_file():
            raise SrasError(f"{self.run_dir}: trained on SRAFBN-upscaled images, but the SR model {path} is missing")
        return load_sr_model(path)

    @functools.cached_property
    def _sr_forward(self):
        return compiled_forward(self.sr_model)  # traced once, not per batch

    def as_trained(self, array: np.ndarray) -> np.ndarray:
        return as_trained(self.preprocessing, array)

    def prepare(self, arrays: list[np.ndarray]) -> np.ndarray:
        """(H, W) uint8 images -> the model's (B, S, S, 1) float32 input."""
        return self.place(self.upscale(arrays))

    def upscale(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        """The run's SR model on each image, if it was trained on upscaled images; else the images as they are.
        Batched as ``sras sr apply`` made the training images, each crop padded to the batch's largest, so an image
        is upscaled as its training counterparts were."""
        if self.preprocessing.sr_model is None:
            return arrays
        background = self.preprocessing.background
        crops = [crop_with_margin(array, background).numpy() for array in arrays]
        return upscale_batch(self.sr_model, self._sr_forward, crops, [background] * len(crops))

    def place(self, arrays: list[np.ndarray]) -> np.ndarray:
        """(Upscaled) images -> the model's input: IAM or resize, as in training."""
        return np.stack([self.prepare_one(a).numpy() for a in arrays]).astype(np.float32)

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        return view_probabilities(self.model, [batch])

    def view_probabilities(self, views: list[np.ndarray], adapt: bool = False) -> np.ndarray:
        """One batch's probabilities over ``views`` (``inference.views.view_probabilities``)."""
        return view_probabilities(self.model, views, adapt)

    def probabilities_and_features(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One batch's probabilities and penultimate features (the t-SNE of Fig 8), in one forward pass."""
        if self._with_features is None:
            features = self.model.get_layer(FEATURES_LAYER).output
            self._with_features = keras.Model(self.model.inputs, [self.model.output, features])
        probabilities, features = self._with_features.predict_on_batch(batch)
        return np.asarray(probabilities), np.asarray(features)


def prediction_groups(images: list[InputImage], batch_size: int, cell_bn: bool) -> list[tuple[np.ndarray, bool]]:
    """The images' indices in the groups predicted together, each with whether it is adapted: batches, or with
    ``cell_bn`` every cell of at least ``MIN_CELL_IMAGES`` images as one adapted group (the rest in batches)."""
    return cell_groups([image.cell_id if cell_bn else "" for image in images], batch_size)


def predict_files(
    predictor: Predictor,
    images: list[InputImage],
    batch_size: int = 64,
    progress: bool = False,
    tta: bool = False,
    cell_bn: bool = False,
):
    """``tta``: also the mirror image of each chromosome (``with_mirror_view``); ``cell_bn``: each cell normalised
    with its own statistics (``views.cell_statistics``)."""
    probabilities = [None] * len(images)
    for indices, adapt in progress_bar(
        prediction_groups(images, batch_size, cell_bn), unit="batch", disable=not progress
    ):
        arrays = predictor.upscale([images[k].array for k in indices])
        # The mirror view after SR, as an SR dataset's records are mirrored; IAM crops to the foreground, so
        # mirroring the whole image mirrors the crop before placement.
        views = [predictor.place(arrays)] + ([predictor.place([a[:, ::-1] for a in arrays])] if tta else [])
        for k, row in zip(indices, predictor.view_probabilities(views, adapt)):
            probabilities[k] = row
    return np.stack(probabilities)


def record_batches(data_dir, part: str, batch_size: int, mirror: bool = False):
    """Each original record of ``part`` once, in a fixed order: (model-input batch, its ``InputImage`` rows) per
    batch, mirrored left-right with ``mirror``. What predictions on a converted dataset and cell validation read."""
    dataset = make_dataset(
        data_dir,
        part,
        batch_size=batch_size,
        rotated_copies=False,
        synthetic=False,
        with_metadata=True,
        autotune=False,
        mirror=mirror,
    )
    for batch, labels, meta in dataset:
        yield (
            batch.numpy(),
            [
                InputImage(path.decode(), cell.decode(), int(label), synthetic=bool(synthetic))
                for path, cell, label, synthetic in zip(
                    meta["source_path"].numpy(), meta["cell_id"].numpy(), labels.numpy(), meta["synthetic"].numpy()
                )
            ],
        )


def predict_records(
    predictor: Predictor,
    data_dir: Path,
    parts: list[str] | None,
    batch_size: int = 64,
    tta: bool = False,
    cell_bn: bool = False,
    with_features: bool = False,
):
    """Records of a converted dataset made with the run's own preprocessing (the held-out cells, say), each original
    image once; ``tta``: also their mirror images (``with_mirror_view``); ``cell_bn``: each cell with its own
    statistics (``views.cell_statistics``). Returns (images, probabilities), and with ``with_features`` (plain
    views only) also the penultimate features."""
    if with_features and (tta or cell_bn):
        raise SrasError("features come from the plain view: not with tta or cell_bn")
    run = predictor.preprocessing
    # the run's own dataset (evaluation, size evidence): its manifest is read once per predictor
    same = Path(data_dir).resolve() == Path(predictor.run_data.data_dir).resolve()
    manifest = predictor.manifest if same else load_manifest(data_dir)
    if (manifest.image_size, manifest.canvas, manifest.config.preprocess, manifest.config.magnify) != (
        run.image_size,
        run.canvas,
        run.preprocess,
        run.magnify,
    ):
        raise SrasError(
            f"{data_dir}: converted with other preprocessing than the run's training data "
            f"({predictor.run_data.data_dir}); predict on the source images instead"
        )
    parts = parts or manifest.parts
    images, views = [], []
    for part in parts:
        batches = [
            record_batches(data_dir, part, batch_size, mirror) for mirror in ((False, True) if tta else (False,))
        ]
        for (batch, batch_images), *mirrored in zip(*batches):
            views.append([batch] + [view for view, _ in mirrored])
            images.extend(batch_images)
    if with_features:
        outputs = [predictor.probabilities_and_features(batch_views[0]) for batch_views in views]
        return images, np.concatenate([p for p, _ in outputs]), np.concatenate([f for _, f in outputs])
    if not cell_bn:  # the batches as read
        return images, np.concatenate([predictor.view_probabilities(batch_views) for batch_views in views])
    views = [np.concatenate(view) for view in zip(*views)]
    probabilities = np.zeros((len(images), len(CLASS_NAMES)))
    for indices, adapt in prediction_groups(images, batch_size, cell_bn):
        probabilities[indices] = predictor.view_probabilities([view[indices] for view in views], adapt)
    return images, probabilities
