"""ImageNet starts from PyTorch checkpoints (torchvision / timm) for the ported architectures."""
