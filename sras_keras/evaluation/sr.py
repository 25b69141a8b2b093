"""``sras sr evaluate``: PSNR/SSIM of every SRAFBN step and of bicubic on held-out cells, plus a Fig 6-style figure."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf
from matplotlib.figure import Figure

from sras_keras.configs.records import Environment, SRMetrics, write_record
from sras_keras.core.io import make_folder
from sras_keras.core.progress import progress as progress_bar
from sras_keras.core.provenance import environment
from sras_keras.data.iam import foreground_mask
from sras_keras.data.sr_pairs import crop_to_multiple, downscale, load_hr_images
from sras_keras.evaluation.image_quality import SSIM_WINDOW, psnr, shave, ssim


def _mean(values):
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")


def evaluate_sr(
    model, data_dir, parts: list[str], out: str | Path, max_images: int | None = None, progress: bool = False
) -> SRMetrics:
    """Score ``model`` on the whole held-out images of ``parts``; writes ``metrics.json`` and a figure to ``out``."""
    out = make_folder(out)
    images, entries, background = load_hr_images(data_dir, parts)
    if max_images:
        images, entries = images[:max_images], entries[:max_images]
    scale = model.scale
    steps = tf.function(lambda lr: model.steps(lr), input_signature=[tf.TensorSpec([1, None, None, 1], tf.float32)])
    names = ["bicubic"] + [f"step{t + 1}" for t in range(model.num_steps)]
    scores = {region: {name: {"psnr": [], "ssim": []} for name in names} for region in ("whole", "foreground")}
    examples = {}
    for image, entry in progress_bar(
        list(zip(images, entries)), desc="evaluating", disable=not progress, file=sys.stderr
    ):
        hr = crop_to_multiple(image, scale).astype(np.float32) / 255
        lr = downscale(hr[None, :, :, None], scale)
        outputs = {"bicubic": tf.image.resize(lr, hr.shape, method="bicubic")}
        sr_steps, _ = steps(lr)
        outputs.update({f"step{t + 1}": sr for t, sr in enumerate(sr_steps)})
        target = shave(hr, scale)
        mask = shave(foreground_mask(crop_to_multiple(image, scale), background), scale)
        for name, output in outputs.items():
            result = shave(np.clip(output.numpy()[0, :, :, 0], 0, 1), scale)
            big_enough = min(target.shape) >= SSIM_WINDOW
            scores["whole"][name]["psnr"].append(psnr(target, result))
            scores["foreground"][name]["psnr"].append(psnr(target, result, mask=mask) if mask.any() else float("nan"))
            scores["whole"][name]["ssim"].append(ssim(target, result) if big_enough else float("nan"))
            scores["foreground"][name]["ssim"].append(ssim(target, result, mask=mask) if big_enough else float("nan"))
        examples.setdefault(
            entry.class_name,
            (lr.numpy()[0, :, :, 0], outputs["bicubic"].numpy()[0, :, :, 0], sr_steps[-1].numpy()[0, :, :, 0], hr),
        )
    last = names[-1]
    summary = {
        region: {
            name: {metric: _mean(values) for metric, values in by_metric.items()} for name, by_metric in table.items()
        }
        for region, table in scores.items()
    }
    metrics = SRMetrics(
        images=len(images),
        parts=list(parts),
        scale=scale,
        shave=scale,
        data_range=1.0,
        ssim_skipped_small_images=int(sum(math.isnan(v) for v in scores["whole"]["bicubic"]["ssim"])),
        srafbn_step=last,
        whole=summary["whole"],
        foreground=summary["foreground"],
        gain_db={region: summary[region][last]["psnr"] - summary[region]["bicubic"]["psnr"] for region in summary},
    )
    write_record(out, metrics)
    write_record(out, Environment.from_dict(environment()))
    comparison_figure(examples, out / "figures" / "sr_comparison.png")
    return metrics


def comparison_figure(examples: dict, path: Path, classes=("1", "7", "13", "19", "X", "Y")) -> None:
    """Rows of LR | bicubic | SRAFBN | HR for a few classes, as the paper's Fig 6."""
    chosen = [name for name in classes if name in examples] or list(examples)[:6]
    figure = Figure(figsize=(8, 2.2 * len(chosen)))
    axes = figure.subplots(len(chosen), 4, squeeze=False)
    for row, name in zip(axes, chosen):
        for axis, image, title in zip(row, examples[name], ("LR", "bicubic", "SRAFBN", "HR")):
            axis.imshow(np.clip(image, 0, 1), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            axis.set_title(f"{title} (chr {name})", fontsize=8)
            axis.axis("off")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
