"""`sras predict`, `sras size-evidence` and `sras export`: a trained run on new images."""

from __future__ import annotations

import click

from sras_keras.cli.common import clear_errors


@click.command()
@click.option(
    "--model",
    "model",
    required=True,
    help="A shipped model's name (bioimlab-q for the Q band, gband65-g for the G band; `sras models` lists them) "
    "or a model folder: a "
    "`sras train` run or `sras models package` output.",
)
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for the outputs.")
@click.option(
    "--karyotype",
    is_flag=True,
    help="Assign each cell's chromosomes jointly (two per autosome, XX or XY) and draw karyograms.",
)
@click.option(
    "--size-evidence",
    is_flag=True,
    help="Multiply in each chromosome's size relative to its cell (fitted by `sras size-evidence RUN`).",
)
@click.option(
    "--tta",
    is_flag=True,
    help="Test-time augmentation: average each chromosome's probabilities with its "
    "mirror image's (with --size-evidence: as fitted by `sras size-evidence RUN --tta`).",
)
@click.option(
    "--cell-bn",
    is_flag=True,
    help="Normalise each cell of 10 or more images with its own BatchNorm "
    "statistics (with --size-evidence: as fitted by `sras size-evidence RUN --cell-bn`).",
)
@click.option(
    "--cell-regex",
    default=None,
    help="Regex on the file stem whose first group is the cell id (default: the enclosing folder).",
)
@click.option(
    "--layout",
    type=click.Choice(["auto", "cells", "cell_folders", "class_folders", "files", "records"]),
    default="auto",
    show_default=True,
    help="How INPUTS are read: files = image files; cells = each folder one cell; cell_folders = a folder per cell "
    "(BioImLab); class_folders = a folder per class; records = one converted dataset; auto refuses a tree that "
    "reads more than one way.",
)
@click.option(
    "--label-coding",
    type=click.Choice(["standard", "sras"]),
    default="standard",
    show_default=True,
    help="class_folders labels: standard = 1..22, 23/X, 24/Y; sras = SRAS-net's 23 = X, 0 = Y.",
)
@click.option(
    "--parts", default=None, help="Comma-separated parts of a converted-dataset INPUT (--layout records): only these."
)
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True)
@clear_errors
def predict(
    model, inputs, out, karyotype, size_evidence, tta, cell_bn, cell_regex, layout, label_coding, parts, batch_size
):
    """Classify INPUTS (images, cell folders, folders of cell or class folders, or one converted dataset) with MODEL
    and the preprocessing it was trained with; writes predictions.csv, summary.json, skipped.csv for the files not
    read (and karyotypes.json, karyograms/ with --karyotype)."""
    from sras_keras.inference.predict import predict as run_predict

    summary = run_predict(
        model,
        list(inputs),
        out,
        karyotype=karyotype,
        size_evidence=size_evidence,
        tta=tta,
        cell_bn=cell_bn,
        cell_regex=cell_regex,
        layout=layout,
        label_coding=label_coding,
        parts=[part.strip() for part in parts.split(",") if part.strip()] if parts else None,
        batch_size=batch_size,
        progress=True,
    )
    cells = f"{summary['cells']} cells"
    if summary["layout"] == "class_folders" and not cell_regex:
        cells = f"{summary['images']} images, cells unknown (no --cell-regex)"
    labels = "no labels" if summary["labels"] == "none" else f"labels from {summary['labels']}"
    click.echo(f"read as {summary['layout']}: {cells}; {labels}")
    line = f"{summary['images']} images in {summary['cells']} cells, {summary['cells_per_minute']:.1f} cells/min"
    if summary["skipped"]:
        line += f"; {summary['skipped']} not read, listed with why in {out}/skipped.csv"
    click.echo(line)
    if "accuracy_argmax_image_only" in summary:
        click.echo(
            f"size evidence (weight {summary['size_evidence_weight']}): argmax "
            f"{100 * summary['accuracy_argmax_image_only']:.2f}% without it"
        )
    if "accuracy_argmax" in summary:
        click.echo(
            f"accuracy per image: argmax {100 * summary['accuracy_argmax']:.2f}%"
            + (
                f", karyotype assignment {100 * summary['accuracy_assigned']:.2f}%; sex right in "
                f"{summary['sex_correct_cells']}/{summary['sex_cells']} cells; every chromosome right in "
                f"{summary['cells_all_assigned_right']}/{summary['sex_cells']} cells"
                if karyotype
                else ""
            )
        )
    click.echo(f"{out}/predictions.csv" + (f", {out}/karyotypes.json, {out}/karyograms/" if karyotype else ""))


@click.command("size-evidence")
@click.argument("run", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--min-cell-images",
    type=click.IntRange(2),
    default=10,
    show_default=True,
    help="Cells with fewer chromosomes get no size evidence (their median is unreliable).",
)
@click.option(
    "--tta",
    is_flag=True,
    help="For `sras predict --tta`: the model's probabilities averaged with the "
    "mirror image's (RUN/size_evidence_tta.json).",
)
@click.option(
    "--cell-bn",
    is_flag=True,
    help="For `sras predict --cell-bn`: each cell normalised with its own "
    "BatchNorm statistics (RUN/size_evidence_cellbn.json).",
)
@clear_errors
def size_evidence_command(run, min_cell_images, tta, cell_bn):
    """Fit cell-relative size evidence for training RUN: one Gaussian per class on its training cells, the weight
    chosen on its validation cells; scores the test cells with and without it (RUN/size_evidence.json)."""
    from sras_keras.core.run_files import size_evidence_file
    from sras_keras.evaluation.size_fit import fit_size_evidence

    fit = fit_size_evidence(run, min_cell_images, progress=True, tta=tta, cell_bn=cell_bn)
    weight, tried = fit.evidence["weight"], fit.validation_by_weight
    scores = ", ".join(
        f"weight {w:g}: log loss {tried[w]['log_loss']:.4f}, accuracy {100 * tried[w]['accuracy']:.2f}%"
        for w in sorted({0.0, weight})
    )
    click.echo(f"weight {weight:g}, the least log loss on {fit.weight_chosen_on}: {scores}")
    for name in ("without", "with"):
        test = fit.test[name]
        click.echo(
            f"test {name} size evidence: argmax {100 * test['accuracy_argmax']:.2f}% "
            f"(macro-F1 {test['macro_f1_argmax']:.4f}), assigned {100 * test['accuracy_assigned']:.2f}%, "
            f"sex right in {test['sex_correct_cells']}/{test['sex_cells']} cells, every chromosome right in "
            f"{test['cells_all_assigned_right']}/{test['sex_cells']}"
        )
    if not fit.test_cells_whole:
        click.echo("the test part holds pieces of cells (image-level split): the assigned accuracy means little")
    click.echo(f"{run}/{size_evidence_file(tta, cell_bn)}")


@click.command()
@click.argument("run", type=click.Path(exists=True, file_okay=False))
@click.option("--format", "export_format", type=click.Choice(["savedmodel", "tflite"]), default="savedmodel")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Default: RUN/export.")
@click.option(
    "--parity-images",
    type=click.IntRange(1),
    default=200,
    help="Test images on which the export is checked against the Keras model.",
)
@clear_errors
def export(run, export_format, out, parity_images):
    """Export training RUN's classifier with its preprocessing inside the graph (raw grayscale image in,
    24 probabilities out), and check it against the Keras model."""
    from sras_keras.inference.export import export_run

    record = export_run(run, out, export_format, parity_images)
    parity = record["parity"]
    click.echo(
        f"{record['path']}: parity on {parity['images']} test images: max |dp| {parity['max_abs_diff']:.2e}, "
        f"top-1 agreement {100 * parity['top1_agreement']:.1f}%"
    )
