"""Neural networks of the mini zoo, sized for 28 x 28 grey images on a CPU.

Every builder returns a *backbone* mapping images (B x 1 x 28 x 28) to embeddings
(B x D) and its width D; :class:`Classifier` puts a linear head on top, so that the
embedding of every neural member is its penultimate layer.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from norep.errors import NorepError


def _cnn() -> tuple[nn.Module, int]:
    # Three stride-2 3 x 3 convolutions (28 -> 14 -> 7 -> 4 pixels): cheap on a CPU.
    def block(c_in: int, c_out: int) -> list[nn.Module]:
        conv = nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False)
        return [conv, nn.BatchNorm2d(c_out), nn.ReLU()]

    layers = [*block(1, 32), *block(32, 64), *block(64, 128), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(*layers), 128


def _mlp() -> tuple[nn.Module, int]:
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU()), 128


def _mlp_deep() -> tuple[nn.Module, int]:
    widths = (784, 512, 256, 256, 128)
    layers = [nn.Flatten()]
    for w_in, w_out in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(w_in, w_out), nn.ReLU()]
    return nn.Sequential(*layers), widths[-1]


def _lenet() -> tuple[nn.Module, int]:
    # LeNet-5 (LeCun et al. 1998) with ReLU and max pooling: 5 x 5 convolutions, no batch norm.
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
    ), 84


def _timm_resnet() -> tuple[nn.Module, int]:
    from timm.models.resnet import BasicBlock, ResNet

    model = ResNet(BasicBlock, layers=(1, 1, 1, 1), channels=(32, 64, 128, 256), stem_width=32,
                   in_chans=1, num_classes=0, replace_stem_pool=True)
    return model, model.num_features


def _timm_vit() -> tuple[nn.Module, int]:
    from timm.models.vision_transformer import VisionTransformer

    model = VisionTransformer(img_size=28, patch_size=7, in_chans=1, num_classes=0, embed_dim=96,
                              depth=4, num_heads=3, mlp_ratio=2.0)
    return model, model.num_features


def _timm_convnext() -> tuple[nn.Module, int]:
    from timm.models.convnext import ConvNeXt

    # Four stages halve the resolution three times after the stem: pad 28 -> 32 pixels.
    model = ConvNeXt(in_chans=1, num_classes=0, depths=(1, 1, 2, 1), dims=(32, 64, 96, 128),
                     patch_size=4, kernel_sizes=7)
    return nn.Sequential(nn.ZeroPad2d(2), model), model.num_features


BACKBONES: dict[str, Callable[[], tuple[nn.Module, int]]] = {
    "cnn": _cnn,
    "mlp": _mlp,
    "mlp-deep": _mlp_deep,
    "lenet": _lenet,
    "timm-resnet": _timm_resnet,
    "timm-vit": _timm_vit,
    "timm-convnext": _timm_convnext,
}
"""Neural architectures by name: a small CNN (the base family), LeNet-5, two MLPs, and timm models."""


def build_backbone(name: str) -> tuple[nn.Module, int]:
    """Return a freshly initialized backbone and its embedding width.

    Args:
        name: A key of :data:`BACKBONES`.

    Returns:
        (backbone, width); initialization follows the current torch seed.
    """
    if name not in BACKBONES:
        raise NorepError(f"unknown architecture {name!r}; choose one of {sorted(BACKBONES)}")
    return BACKBONES[name]()


class Classifier(nn.Module):
    """A backbone followed by dropout and a linear head.

    Args:
        backbone: Maps images to embeddings.
        width: Embedding width.
        n_classes: Number of classes.
        dropout: Dropout rate before the head.
    """

    def __init__(self, backbone: nn.Module, width: int, n_classes: int, dropout: float = 0.0):
        super().__init__()
        self.backbone = backbone
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(width, n_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Return logits."""
        return self.head(self.dropout(self.backbone(images)))


def count_parameters(module: nn.Module) -> int:
    """Return the number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
