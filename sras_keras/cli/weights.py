"""`sras weights`: ImageNet starts for the backbones Keras has none for."""

from __future__ import annotations

import click

from sras_keras.cli.common import clear_errors


@click.group()
def weights():
    """ImageNet starts for the architectures Keras has no weights for."""


@weights.command("convert")
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--backbone", required=True, help="A backbone with a PyTorch mapping (`sras models` marks them).")
@click.option(
    "--image-size",
    type=click.IntRange(1),
    default=224,
    help="Input side the file is for: only ViT's position embedding depends on it (resampled).",
)
@clear_errors
def weights_convert(source, backbone, out, image_size):
    """Convert a torchvision / timm ImageNet checkpoint (SOURCE, .safetensors) into OUT, a Keras .weights.h5 for
    `--weights PATH`. Every tensor must fit a layer and every layer a tensor, else nothing is written.

    A .pth file is a pickle, which sras never loads: where PyTorch is installed, turn it into safetensors with

    \b
      python -c "import sys, torch; from safetensors.torch import save_file;
        save_file(torch.load(sys.argv[1], weights_only=True), sys.argv[2])" IN.pth OUT.safetensors
    """
    from sras_keras.models.torch_weights.convert import convert_torch_checkpoint

    path = convert_torch_checkpoint(source, backbone, out, image_size)
    click.echo(f"{path}: {backbone} at {image_size} px from {source}")
