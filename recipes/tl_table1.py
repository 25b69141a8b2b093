"""Two-step transfer learning, Table 1: domain similarity of the G band, the Q band and natural images, as
unbiased MMD^2 (RBF kernel, median-heuristic bandwidth) of ConvNeXt-Tiny's pooled features, with a 1,000-bootstrap
95% CI, a permutation test, and CORAL as the alternative distance.

    sras cv run --recipe tl_table1 --config paper --set analysis.natural='"/path/to/imagenette2"'
    sras cv run --recipe tl_table1 --config cpu       # here: ~1.5 min once converted; writes results/tl_table1.md|csv

Paper (MMD^2, all P < 0.001): G band vs Q band 0.148, G band vs ImageNet 0.310, Q band vs ImageNet 0.264: the two
chromosome bands are closer to each other than either is to natural images.

``paper`` embeds every image at 224 px with ImageNet ConvNeXt-Tiny (weights via ``analysis.weights``) and needs a
natural-image folder (the study used ImageNette2). ``cpu`` (2 cores) has no ImageNet weights: 400 images per domain
at 64 px, *random* ConvNeXt-Tiny weights, crops of scikit-learn's sample photographs as the natural domain; its
numbers measure low-level image statistics, not the paper's quantity. Results: results/tl_table1.md.
"""

import dataclasses
import time
from pathlib import Path
from typing import ClassVar

from sras_keras.configs.records import Environment, write_config, write_record
from sras_keras.core.io import write_json_atomic
from sras_keras.core.provenance import environment, new_run_dir
from sras_keras.core.tables import markdown_table
from sras_keras.evaluation.domains import chromosome_images, domain_table, embedder, natural_images
from sras_keras.experiments.registry import register
from sras_keras.experiments.report import analysis_link, commit_analysis, read_analysis, write_results
from sras_keras.experiments.spec import Analysis
from sras_keras.experiments.two_step import BANDS

PAPER_MMD2 = {"G vs Q": 0.148, "G vs natural": 0.310, "Q vs natural": 0.264}


@dataclasses.dataclass(frozen=True)
class DomainSimilarity:
    FORMAT_VERSION: ClassVar[int] = 1  # the layout of the run's config.json

    backbone: str = "convnext_tiny"
    weights: str = "imagenet"  # "imagenet", "none" or a local weights file
    image_size: int = 224
    max_images: int = 0  # per domain; 0: all
    natural: str = ""  # a folder of natural images; "": scikit-learn's sample photographs, cropped
    bootstraps: int = 1000
    permutations: int = 1000
    seed: int = 0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


PAPER = DomainSimilarity()
CPU = DomainSimilarity(weights="none", image_size=64, max_images=400)


def run(params: DomainSimilarity, data_root: Path, runs: Path, results: Path, log=print) -> Path:
    run_dir = new_run_dir(runs, "tl_table1", params.seed)
    write_config(run_dir, params)
    write_record(run_dir, Environment.from_dict(environment(seed=params.seed)))
    weights = None if params.weights == "none" else params.weights
    started = time.monotonic()
    embed = embedder(params.backbone, params.image_size, weights, params.seed)
    embeddings = {}
    for name, band in BANDS.items():
        log(f"embedding {band.label} with {params.backbone} ({params.weights} weights)")
        images = chromosome_images(
            data_root / band.source, params.image_size, params.max_images, params.seed, band.cell_regex
        )
        embeddings[name] = embed(images)
    log("embedding the natural images")
    embeddings["natural"] = embed(natural_images(params.natural, params.image_size, params.max_images, params.seed))
    rows = domain_table(embeddings, params.bootstraps, params.permutations, params.seed)
    write_json_atomic(
        run_dir / "results.json",
        {"weights": params.weights, "rows": rows, "wall_seconds": round(time.monotonic() - started, 1)},
    )
    render(commit_analysis(run_dir, results, "tl_table1"), results)
    return run_dir


def render(run: Path, results: Path) -> Path:
    """``results/tl_table1.md|csv`` from a committed run. The paper's MMD^2 stands beside ours only where ours was
    measured as the paper's was (ImageNet features); random features measure something else."""
    params, document = read_analysis(run, DomainSimilarity)
    comparable = params.weights != "none"
    rows = [{**row, "paper_mmd2": PAPER_MMD2.get(row["pair"]) if comparable else None} for row in document["rows"]]
    header = ["pair", *(["paper MMD^2"] if comparable else []), "MMD^2", "95% CI", "p (permutation)", "CORAL"]
    lines = [
        f"# tl_table1: domain similarity ({params.backbone}, {params.weights} weights, {params.image_size} px)",
        "",
        f"Run: {analysis_link(run)} (config, env with the commit, results.json); "
        f"{document['wall_seconds'] / 60:.1f} min.",
        "",
        *markdown_table(
            [*header, "n", "bandwidth"],
            [
                [
                    row["pair"],
                    *([f"{row['paper_mmd2']:.3f}"] if comparable else []),
                    f"{row['mmd2']:.4f}",
                    f"[{row['ci_low']:.4f}, {row['ci_high']:.4f}]",
                    f"{row['p_value']:.4f}",
                    f"{row['coral']:.3g}",
                    f"{row['n_x']} / {row['n_y']}",
                    f"{row['bandwidth']:.3g}",
                ]
                for row in rows
            ],
        ),
    ]
    if not comparable:
        paper = ", ".join(f"{pair} {value:.3f}" for pair, value in PAPER_MMD2.items())
        lines += [
            "",
            "Random embedding weights (no ImageNet weights here): these distances compare low-level image "
            "statistics, not the ImageNet features of the paper, so the paper's values are not set beside them "
            f"(paper, ImageNet ConvNeXt-Tiny at 224 px, all P < 0.001: {paper}).",
        ]
    return write_results(results, "tl_table1", lines, rows)


@register("tl_table1")
def tl_table1(config: str = "cpu") -> Analysis:
    """Table 1 of the two-step study (see the module docstring for the command, runtime and the paper's numbers)."""
    return Analysis("tl_table1", config, run, PAPER if config == "paper" else CPU, __doc__, render)
