"""`sras models`: the trained models that ship with sras-keras, the registered backbones, and packaging a run."""

from __future__ import annotations

import click

from sras_keras.cli.common import clear_errors


@click.group(invoke_without_command=True)
@click.pass_context
def models(context):
    """The shipped trained models (for `sras predict --model NAME`) and the registered backbones (for `sras train
    --backbone`): the input side of their ImageNet weights, whether those come from a PyTorch checkpoint (`sras
    weights convert`), and the paper."""
    if context.invoked_subcommand is not None:
        return
    from sras_keras.inference.shipped import shipped_card, shipped_models
    from sras_keras.models.registry import backbone_names, get_backbone
    from sras_keras.models.torch_weights.mapping import convertible_backbones

    click.echo("Shipped models (sras predict --model NAME):")
    if not shipped_models():
        click.echo("  (none installed)")
    for name in shipped_models():
        card = shipped_card(name)
        first = next(iter(card.held_out.values()))
        click.echo(
            f"  {name:<12} {card.band} band  {100 * first['accuracy']:.2f}% per image, "
            f"{100 * first['accuracy_assigned']:.2f}% assigned on {len(card.test_cells)} held-out {card.dataset} "
            f"cells  {card.title}"
        )
    click.echo("Backbones (sras train --backbone NAME):")
    torch = set(convertible_backbones())
    for name in backbone_names():
        spec = get_backbone(name)
        marker = "torch" if name in torch else ""
        click.echo(f"  {name:<22} {spec.default_size:>4} px  {marker:<5}  {spec.paper}")


@models.command("package")
@click.argument("run", type=click.Path(exists=True, file_okay=False))
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--name", required=True, help="The model's name (a shipped model's name takes that model's card texts).")
@click.option("--band", type=click.Choice(["Q", "G"]), default=None, help="The banding it reads (shipped: theirs).")
@click.option("--title", default=None, help="One line saying what it is (shipped names: theirs).")
@click.option(
    "--data-root",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder holding RUN's data set, read again for the held-out numbers. Default: $SRAS_DATA_DIR or "
    "../shared/data.",
)
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True)
@clear_errors
def package(run, out, name, band, title, data_root, batch_size):
    """Package training RUN (an honest-protocol run) as model folder OUT: float16 weights, its preprocessing and
    size-evidence fits, and a card (card.json, MODEL_CARD.md) whose held-out numbers are measured with OUT itself
    on RUN's test cells, read again from the source images."""
    import os

    from sras_keras.core.errors import SrasError
    from sras_keras.evaluation.model_card import package_model
    from sras_keras.inference.shipped import SHIPPED_SPECS, card_texts

    if name not in SHIPPED_SPECS and (band is None or title is None):
        raise SrasError(f"--name {name}: not a shipped model's name, so give --band and --title")
    spec = card_texts(name, band, title)
    card = package_model(
        run,
        out,
        name=name,
        title=spec.title,
        band=spec.band,
        intended_input=spec.intended_input,
        limits=spec.limits,
        selection=spec.selection,
        data_root=data_root or os.environ.get("SRAS_DATA_DIR", "../shared/data"),
        batch_size=batch_size,
        progress=True,
    )
    for view, scores in card.held_out.items():
        click.echo(
            f"{view}: {100 * scores['accuracy']:.2f}% per image, {100 * scores['accuracy_assigned']:.2f}% assigned "
            f"({scores['images']} images, {scores['cells']} held-out cells)"
        )
    click.echo(f"{out}/MODEL_CARD.md")
