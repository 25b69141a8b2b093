"""Checks `sras weights convert` against the PyTorch models themselves, in two steps, because PyTorch and this
package live in different environments:

    # where torch, torchvision, timm and safetensors are installed (randomly initialised models, no download):
    python scripts/torch_parity.py export --out /tmp/parity
    # in this package's environment:
    python scripts/torch_parity.py check --out /tmp/parity

`export` writes, per architecture, its state dict (BatchNorm running statistics randomised too) as safetensors, an
input batch and the PyTorch feature map; `check` converts each checkpoint with
`sras_keras.models.torch_weights.convert` and compares
the Keras backbone's output on the same input (max abs difference, relative to the output's scale).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

# (torch constructor, input side, how the feature map is read); ViT at 224 (its native grid: no resampling)
CASES = {
    "resnet34": ("torchvision.models.resnet34", 64),
    "resnext50_32x4d": ("torchvision.models.resnext50_32x4d", 64),
    "vgg16_bn": ("torchvision.models.vgg16_bn", 64),
    "swin_t": ("torchvision.models.swin_t", 64),
    "vit_s16": ("timm:vit_small_patch16_224", 224),
}


def export(out: Path) -> None:
    import importlib

    import torch
    from safetensors.torch import save_file

    torch.manual_seed(0)
    for name, (constructor, size) in CASES.items():
        if constructor.startswith("timm:"):
            import timm

            model = timm.create_model(constructor[5:], pretrained=False)
        else:
            module, _, function = constructor.rpartition(".")
            model = getattr(importlib.import_module(module), function)()
        for module in model.modules():  # non-trivial running statistics, so their mapping is tested too
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
        model.eval()
        images = torch.randn(2, 3, size, size)
        with torch.no_grad():
            if name.startswith(("resnet", "resnext")):
                features = torch.nn.Sequential(*list(model.children())[:-2])(images).permute(0, 2, 3, 1)
            elif name.startswith("vgg"):
                features = model.features(images).permute(0, 2, 3, 1)
            elif name == "swin_t":
                features = model.norm(model.features(images))
            else:
                tokens = model.forward_features(images)[:, 1:]
                features = tokens.reshape(2, size // 16, size // 16, -1)
        save_file({key: value.contiguous() for key, value in model.state_dict().items()}, out / f"{name}.safetensors")
        np.save(out / f"{name}_input.npy", images.permute(0, 2, 3, 1).numpy())
        np.save(out / f"{name}_features.npy", features.numpy())
        print(f"{name}: exported")


def check(out: Path) -> None:
    from sras_keras.models.registry import build_backbone
    from sras_keras.models.torch_weights.convert import convert_torch_checkpoint

    results = {}
    for name, (_, size) in CASES.items():
        weights = convert_torch_checkpoint(out / f"{name}.safetensors", name, out / f"{name}.weights.h5", size)
        model = build_backbone(name, size, str(weights))
        expected = np.load(out / f"{name}_features.npy")
        found = np.asarray(model(np.load(out / f"{name}_input.npy"), training=False))
        difference = float(np.abs(found - expected).max())
        results[name] = {"max_abs_diff": difference, "scale": float(np.abs(expected).max()), "shape": found.shape}
        print(f"{name}: max |keras - torch| {difference:.2e} (outputs up to {results[name]['scale']:.2f})")
    (out / "parity.json").write_text(json.dumps(results, indent=2, default=list))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["export", "check"])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    export(args.out) if args.step == "export" else check(args.out)


if __name__ == "__main__":
    main()
