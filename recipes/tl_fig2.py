"""Two-step transfer learning, Fig 2: the change in Macro-F1 from two-step transfer against ImageNet pre-training,
per architecture and band, with paired-bootstrap 95% CIs (10,000 resamples of the pooled out-of-fold
predictions), plotted against log10(parameters). Reads the finished ``tl_table2`` runs; trains nothing.

    sras cv run --recipe tl_table2 --config paper && sras cv run --recipe tl_fig2 --config paper
    sras cv run --recipe tl_fig2 --config cpu     # over the cpu Table 2: two-step (no ImageNet) vs from scratch

Paper: no simple relation with model size; on the Q band the modern architectures gain +0.8 to +3.3 points
(MobileNetV3-L, 4.18M parameters, the most: +3.3), VGG-16 (134.37M) loses 2.5 (G) and 0.5 (Q) points; on the G band
most changes are within ±1 point. Under the cpu config the baseline is training from scratch (no ImageNet
weights here), so the figure shows what the other band adds to a from-scratch model. Results: results/tl_fig2.md.
"""

import dataclasses
import time
from pathlib import Path
from typing import ClassVar

from sras_keras.configs.records import Environment, write_config, write_record
from sras_keras.core.errors import SrasError
from sras_keras.core.io import write_json_atomic
from sras_keras.core.provenance import environment, new_run_dir
from sras_keras.core.tables import markdown_table
from sras_keras.experiments.registry import register
from sras_keras.experiments.report import (
    COMMITTED,
    analysis_link,
    collect_rows,
    commit_analysis,
    read_analysis,
    write_results,
)
from sras_keras.experiments.spec import Analysis
from sras_keras.experiments.transfer_study import gains_figure, two_step_gains
from sras_keras.models.tl_architectures import TL_ARCHITECTURES

PAPER_GAINS = {("MobileNetV3-L", "Q"): 3.3, ("VGG-16", "G"): -2.5, ("VGG-16", "Q"): -0.5}


@dataclasses.dataclass(frozen=True)
class GainFigure:
    FORMAT_VERSION: ClassVar[int] = 1  # the layout of the run's config.json

    table: str = "tl_table2"  # the recipe whose runs are read
    resamples: int = 10000
    seed: int = 0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def run(params: GainFigure, data_root: Path, runs: Path, results: Path, log=print) -> Path:
    rows = collect_rows([results / COMMITTED, runs], params.table)
    started = time.monotonic()
    gains = two_step_gains(rows, params.resamples, params.seed)
    if not gains:
        raise SrasError(
            f"no architecture of {params.table} under {runs} has finished both its two-step row and its "
            f"baseline row (run `sras cv run --recipe {params.table}` first)"
        )
    run_dir = new_run_dir(runs, "tl_fig2", params.seed)
    write_config(run_dir, params)
    write_record(run_dir, Environment.from_dict(environment(seed=params.seed)))
    write_json_atomic(run_dir / "results.json", {"gains": gains, "wall_seconds": round(time.monotonic() - started, 1)})
    parameters = {name: architecture.expected_params for name, architecture in TL_ARCHITECTURES.items()}
    gains_figure(
        gains,
        parameters,
        run_dir / "figures" / "tl_fig2.png",
        f"two-step vs {gains[0]['baseline']} ({params.resamples:,} paired bootstrap resamples)",
    )
    render(commit_analysis(run_dir, results, "tl_fig2"), results)
    return run_dir


def render(run: Path, results: Path) -> Path:
    """``results/tl_fig2.md|csv`` from a committed run. The paper's change (two-step vs ImageNet weights) stands
    beside ours only where our baseline is ImageNet weights too."""
    _, document = read_analysis(run, GainFigure)
    gains = [
        {**gain, "paper_gain_points": PAPER_GAINS.get((gain["architecture"], gain["band"]))}
        if gain["baseline"] == "imagenet"
        else {**gain, "paper_gain_points": None}
        for gain in document["gains"]
    ]
    header = [
        "architecture",
        "band",
        "protocol",
        "baseline",
        "paper Δ (points)",
        "Δ Macro-F1 (points)",
        "95% CI",
        "p (two-sided)",
        "images",
    ]
    figure = f"runs/{run.parent.name}/{run.name}/figures/tl_fig2.png"
    lines = [
        "# tl_fig2: Macro-F1 change of two-step transfer",
        "",
        f"Run: {analysis_link(run)} (config, env with the commit, results.json).",
        "",
        f"![tl_fig2]({figure})",
        "",
        *markdown_table(
            header,
            [
                [
                    gain["architecture"],
                    gain["band"],
                    gain["protocol"],
                    gain["baseline"],
                    "" if gain["paper_gain_points"] is None else f"{gain['paper_gain_points']:+.1f}",
                    f"{100 * gain['difference']:+.2f}",
                    f"[{100 * gain['ci_low']:+.2f}, {100 * gain['ci_high']:+.2f}]",
                    f"{gain['p_two_sided']:.4f}",
                    gain["n"],
                ]
                for gain in gains
            ],
        ),
    ]
    if any(gain["baseline"] != "imagenet" for gain in gains):
        paper = ", ".join(f"{a} {b} band {v:+.1f}" for (a, b), v in PAPER_GAINS.items())
        lines += [
            "",
            "Rows whose baseline is training from scratch measure what the other band adds to a model without "
            f"ImageNet weights, not the paper's quantity (two-step vs ImageNet weights: {paper} points).",
        ]
    return write_results(results, "tl_fig2", lines, gains)


@register("tl_fig2")
def tl_fig2(config: str = "cpu") -> Analysis:
    """Fig 2 of the two-step study (see the module docstring for the command and the paper's numbers)."""
    return Analysis("tl_fig2", config, run, GainFigure(), __doc__, render)
