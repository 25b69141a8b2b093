"""Two-step transfer learning, Figs 3-4: Grad-CAM (jet overlay, maps normalised to [0, 1], bilinear upsampling)
of one architecture and band under the three approaches on the same correctly classified test images (Fig 3),
and of the baseline model's misclassified images for the predicted and for the true class (Fig 4). Reads the
finished ``tl_table2`` runs (their fold-0 models); trains nothing.

    sras cv run --recipe tl_fig3 --config paper --set analysis.architecture='"ViT-S/16"' --set analysis.band='"G"'
    sras cv run --recipe tl_fig3 --config cpu      # MobileNetV3-L on the Q band, the paper's first case

Paper (qualitative): MobileNetV3-L on the Q band attends to edges from scratch, to the long arm's bands with
ImageNet weights and to both arms after two-step transfer; misclassified G-band images (cropping artefacts) draw
diffuse or edge attention. Results: results/tl_fig3.md.
"""

import dataclasses
from pathlib import Path
from typing import ClassVar

import numpy as np

from sras_keras.configs.records import Environment, write_config, write_record
from sras_keras.core.errors import SrasError
from sras_keras.core.io import atomic_path, write_json_atomic
from sras_keras.core.provenance import environment, new_run_dir
from sras_keras.core.run_files import FINAL
from sras_keras.data.labels import CLASS_NAMES
from sras_keras.evaluation.gradcam import grad_cam
from sras_keras.experiments.registry import register
from sras_keras.experiments.report import analysis_link, collect_rows, commit_analysis, portable, read_analysis
from sras_keras.experiments.spec import Analysis
from sras_keras.experiments.transfer_study import fold_test_images, gradcam_grid
from sras_keras.models.saving import load_classifier


@dataclasses.dataclass(frozen=True)
class GradCamFigure:
    FORMAT_VERSION: ClassVar[int] = 1  # the layout of the run's config.json

    table: str = "tl_table2"
    architecture: str = "MobileNetV3-L"
    band: str = "Q"
    protocol: str = "paper"
    samples: int = 4
    seed: int = 0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _fold0_models(params: GradCamFigure, runs: Path) -> dict[str, str]:
    models = {}
    for row in collect_rows(runs, params.table):  # its models: only runs/ holds them
        tags = dict(tuple(pair) for pair in row.get("tags") or ())
        if (tags.get("architecture"), tags.get("band"), tags.get("protocol")) == (
            params.architecture,
            params.band,
            params.protocol,
        ):
            models[tags["approach"]] = (row.get("fold_runs") or [row["run"]])[0]
    if not models:
        raise SrasError(
            f"no finished {params.table} row of {params.architecture} / {params.band} band / "
            f"{params.protocol} protocol under {runs}"
        )
    return dict(sorted(models.items(), key=lambda item: ("scratch", "imagenet", "two_step").index(item[0])))


def run(params: GradCamFigure, data_root: Path, runs: Path, results: Path, log=print) -> Path:
    fold_runs = _fold0_models(params, runs)
    models = {approach: load_classifier(Path(run) / FINAL) for approach, run in fold_runs.items()}
    images, labels, paths = fold_test_images(next(iter(fold_runs.values())), 512, params.seed)
    predictions = {
        approach: np.asarray(model.predict(images, batch_size=64, verbose=0)).argmax(1)
        for approach, model in models.items()
    }
    correct = np.flatnonzero(np.all([predicted == labels for predicted in predictions.values()], axis=0))
    baseline = "imagenet" if "imagenet" in models else "scratch"
    wrong = np.flatnonzero(predictions[baseline] != labels)
    run_dir = new_run_dir(runs, "tl_fig3", params.seed)
    write_config(run_dir, params)
    write_record(run_dir, Environment.from_dict(environment(seed=params.seed)))
    title = f"{params.architecture}, {params.band} band, fold 0 ({params.protocol} protocol)"
    figures = []
    if len(correct):
        chosen = correct[: params.samples]
        columns = [(approach, grad_cam(model, images[chosen], labels[chosen])) for approach, model in models.items()]
        figures.append(
            gradcam_grid(
                images[chosen],
                columns,
                [CLASS_NAMES[labels[i]] for i in chosen],
                run_dir / "figures" / "tl_fig3.png",
                f"Grad-CAM, true class: {title}",
            )
        )
    if len(wrong):
        chosen = wrong[: params.samples]
        model = models[baseline]
        columns = [
            ("predicted class", grad_cam(model, images[chosen], predictions[baseline][chosen])),
            ("true class", grad_cam(model, images[chosen], labels[chosen])),
        ]
        names = [f"{CLASS_NAMES[labels[i]]} as {CLASS_NAMES[predictions[baseline][i]]}" for i in chosen]
        figures.append(
            gradcam_grid(
                images[chosen],
                columns,
                names,
                run_dir / "figures" / "tl_fig4.png",
                f"Grad-CAM of errors, {baseline}: {title}",
            )
        )
    write_json_atomic(
        run_dir / "results.json",
        {
            "title": title,
            "models": {approach: portable(run) for approach, run in fold_runs.items()},
            "images_looked_at": len(labels),
            "correct_under_every_approach": int(len(correct)),
            f"misclassified_by_{baseline}": int(len(wrong)),
            "figures": [figure.name for figure in figures],
            "samples": {
                "correct": [paths[i] for i in correct[: params.samples]],
                "misclassified": [paths[i] for i in wrong[: params.samples]],
            },
        },
    )
    render(commit_analysis(run_dir, results, "tl_fig3"), results)
    return run_dir


def render(run: Path, results: Path) -> Path:
    """``results/tl_fig3.md`` from a committed run: its figures, shown."""
    _, document = read_analysis(run, GradCamFigure)
    lines = [
        f"# tl_fig3: Grad-CAM, {document['title']}",
        "",
        f"Run: {analysis_link(run)} (config, env with the commit, results.json with the "
        f"images shown); {document['images_looked_at']} test images looked at, "
        f"{document['correct_under_every_approach']} right under every approach.",
        "",
        *(f"![{Path(name).stem}](runs/{run.parent.name}/{run.name}/figures/{name})" for name in document["figures"]),
    ]
    results.mkdir(parents=True, exist_ok=True)
    with atomic_path(results / "tl_fig3.md") as temporary:
        temporary.write_text("\n".join(lines) + "\n")
    return results / "tl_fig3.md"


@register("tl_fig3")
def tl_fig3(config: str = "cpu") -> Analysis:
    """Figs 3-4 of the two-step study (see the module docstring for the command and the paper's description)."""
    return Analysis("tl_fig3", config, run, GradCamFigure(), __doc__, render)
