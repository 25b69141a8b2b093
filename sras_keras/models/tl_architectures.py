"""The 11 architectures of the two-step transfer-learning study (Sci. Rep. 2026, Table 3) as registry entries, with
the parameter count each should have under its native head with 24 classes.

The study fine-tuned PyTorch models (torchvision; ViT-S/16 is timm's) with the 1000-class last layer replaced by a
24-class one, so the expected count is the published 1000-class count minus that layer plus the new one:

    expected = published - (features * 1000 + 1000) + (features * 24 + 24)

with `features` the last layer's input width (VGG 4096, ResNet-34 512, ResNet-50/101 and ResNeXt 2048, ConvNeXt-T
and Swin-T 768, ViT-S 384, MobileNetV3-L 1280). Counts are PyTorch parameters; Keras also counts BatchNorm's moving
statistics (PyTorch buffers), so compare with a Keras model's *trainable* count. The paper's text gives two counts:
VGG-16 134.37M, which is `vgg16_bn` (134,367,320; plain `vgg16` gives 134,358,872 = 134.36M), so the study's VGGs are
the BatchNorm variants; and MobileNetV3-L 4.18M, 1.3% below torchvision `mobilenet_v3_large` with 24 classes
(4,232,776; with no last layer at all it is 4,202,032; without its 24,400 BatchNorm parameters, 4,208,376). We found
no counting that gives 4.18M, so the model is not altered to match it and the discrepancy stays documented here.
ViT's count depends on the input size (position embeddings), so its reference is at 224 px.

Open question for the lead: the paper gives the parameter range of its 11 models as "4M to 192M", but ResNeXt-101
32x8d, the largest ResNeXt-101 in torchvision, has 86.79M (VGG-19-BN, 139.68M, would be the largest). 192M matches
ResNeXt-101 **32x16d** (Mahajan et al. 2018, WSL weights; 194,026,792 published -> 192,026,968 with 24 classes).
Table 3 itself is not in our text copy, so `resnext101_32x8d` (torchvision's) stays the registry choice here;
`resnext101_32x16d` is registered too (`TL_ALTERNATIVES`) should the lead settle on it.

`registry` is the backbone to build for the study (`build_classifier(registry, size, head="native")`);
`keras_imagenet` says whether Keras can load ImageNet weights for it (the others need `--weights PATH`);
`keras_alternative` names a registered near-equivalent that has Keras ImageNet weights, where one exists.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class TLArchitecture:
    study_name: str
    registry: str
    year: int
    published_params: int  # the 1000-class model, as published by torchvision (timm for ViT-S/16)
    head_in_features: int
    paper_params_text: float | None = None  # millions, where the paper's text states it
    keras_imagenet: bool = False
    keras_alternative: str | None = None

    @property
    def expected_params(self) -> int:
        """Parameters with a 24-class last layer (see the module docstring for the arithmetic)."""
        return self.published_params - (self.head_in_features * 1000 + 1000) + (self.head_in_features * 24 + 24)


TL_REFERENCE_SIZE = 224

_ARCHITECTURES = (
    # 138,365,992 - 4,097,000 + 98,328 = 134,367,320 (paper: 134.37M)
    TLArchitecture("VGG-16", "vgg16_bn", 2015, 138_365_992, 4096, 134.37, keras_alternative="vgg16"),
    # 143,678,248 - 4,097,000 + 98,328 = 139,679,576
    TLArchitecture("VGG-19", "vgg19_bn", 2015, 143_678_248, 4096, keras_alternative="vgg19"),
    # 21,797,672 - 513,000 + 12,312 = 21,296,984
    TLArchitecture("ResNet-34", "resnet34", 2016, 21_797_672, 512),
    # 25,557,032 - 2,049,000 + 49,176 = 23,557,208 (Keras' ResNet50 has conv biases: +26,560, +0.11%)
    TLArchitecture("ResNet-50", "resnet50", 2016, 25_557_032, 2048, keras_imagenet=True),
    # 44,549,160 - 2,049,000 + 49,176 = 42,549,336 (Keras' ResNet101 has conv biases: +52,672, +0.12%)
    TLArchitecture("ResNet-101", "resnet101", 2016, 44_549_160, 2048, keras_imagenet=True),
    # 25,028,904 - 2,049,000 + 49,176 = 23,029,080
    TLArchitecture("ResNeXt-50", "resnext50_32x4d", 2017, 25_028_904, 2048),
    # 88,791,336 - 2,049,000 + 49,176 = 86,791,512
    TLArchitecture("ResNeXt-101", "resnext101_32x8d", 2017, 88_791_336, 2048),
    # 28,589,128 - 769,000 + 18,456 = 27,838,584
    TLArchitecture("ConvNeXt-Tiny", "convnext_tiny", 2022, 28_589_128, 768, keras_imagenet=True),
    # 28,288,354 - 769,000 + 18,456 = 27,537,810
    TLArchitecture("Swin-T", "swin_t", 2021, 28_288_354, 768),
    # timm vit_small_patch16_224 at 224 px: 22,050,664 - 385,000 + 9,240 = 21,674,904
    TLArchitecture("ViT-S/16", "vit_s16", 2021, 22_050_664, 384),
    # 5,483,032 - 1,281,000 + 30,744 = 4,232,776 (paper: 4.18M, 1.3% less; see the module docstring)
    TLArchitecture("MobileNetV3-L", "mobilenet_v3_large", 2019, 5_483_032, 1280, 4.18, keras_imagenet=True),
)

TL_ARCHITECTURES: dict[str, TLArchitecture] = {architecture.study_name: architecture for architecture in _ARCHITECTURES}

# Candidates the study's text hints at, outside the 11 (see the module docstring).
TL_ALTERNATIVES: dict[str, TLArchitecture] = {
    # WSL 194,026,792 - 2,049,000 + 49,176 = 192,026,968: the paper's "192M" upper bound
    "ResNeXt-101 32x16d": TLArchitecture("ResNeXt-101 32x16d", "resnext101_32x16d", 2018, 194_026_792, 2048),
}
