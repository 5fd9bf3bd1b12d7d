"""The networks of the memorization experiments, by name: ``build_network(arch, C, K, S)``.

| arch | network | accepts |
|---|---|---|
| ``mlp`` | flatten -> 512 -> 512 -> K, ReLU (CPU scale) | any C x S x S |
| ``resnet18`` | torchvision ResNet-18, 1-channel 7x7/2 stem (Patel & Sastry 2021, MNIST) | 1 x S x S, S >= 28 |
| ``resnet32`` | CIFAR ResNet-32, option-A shortcuts (He et al. 2016; Patel & Sastry 2021, CIFAR-10) | 3 x 32 x 32 |
| ``inception-lite`` | small Inception of Zhang et al. 2017 (Patel & Sastry 2021, CIFAR-10) | 3 x 32 x 32 |

Every network maps a float batch [N, C, S, S] (contiguous or channels_last) to logits [N, K], has no
global state and no host synchronization in ``forward``, and runs under bf16 autocast. Importing this module
does not import torch, so a config's architecture is checked before torch is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from symtheory.errors import BadInput

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class Architecture:
    """A network family: its builder (C, K) -> module, what input it takes, and a one-line description."""

    name: str
    description: str
    build: Callable[[int, int, int], nn.Module]
    channels: int | None = None
    exact_size: int | None = None
    min_size: int = 1

    def check(self, in_channels: int, image_size: int) -> None:
        """BadInput with a one-line reason if a C x S x S input does not fit this network."""
        got = f"{in_channels}x{image_size}x{image_size}"
        if self.exact_size is not None and (in_channels != self.channels or image_size != self.exact_size):
            raise BadInput(f"{self.name} expects {self.channels}x{self.exact_size}x{self.exact_size} input, got {got}")
        if self.channels is not None and in_channels != self.channels:
            raise BadInput(f"{self.name} expects {self.channels}-channel input, got {got}")
        if image_size < self.min_size:
            raise BadInput(f"{self.name} expects images of at least {self.min_size}x{self.min_size}, got {got}")


def _mlp(in_channels: int, num_classes: int, image_size: int) -> nn.Module:
    from symtheory.empirical.mlp import MLP

    return MLP(in_channels * image_size * image_size, num_classes)


def _resnet18(in_channels: int, num_classes: int, image_size: int) -> nn.Module:
    from symtheory.empirical.resnet_mnist import resnet18_mnist

    return resnet18_mnist(num_classes, in_channels)


def _resnet32(in_channels: int, num_classes: int, image_size: int) -> nn.Module:
    from symtheory.empirical.resnet_cifar import resnet32

    return resnet32(num_classes, in_channels)


def _inception_lite(in_channels: int, num_classes: int, image_size: int) -> nn.Module:
    from symtheory.empirical.inception_lite import InceptionLite

    return InceptionLite(num_classes, in_channels)


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in (
        Architecture("mlp", "MLP flatten -> 512 -> 512 -> K with ReLU; small, for CPU runs", _mlp),
        Architecture("resnet18", "ResNet-18 (torchvision) with a 1-channel 7x7/2 stem, for MNIST",
                     _resnet18, channels=1, min_size=28),
        Architecture("resnet32", "CIFAR ResNet-32, 3 stages x 5 basic blocks, 16/32/64 channels",
                     _resnet32, channels=3, exact_size=32),
        Architecture("inception-lite", "small Inception of Zhang et al. 2017 (ICLR), for CIFAR-10",
                     _inception_lite, channels=3, exact_size=32),
    )
}


def get_architecture(arch: str) -> Architecture:
    """The entry for ``arch`` (case-insensitive); BadInput listing the choices otherwise."""
    key = arch.strip().lower()
    if key not in ARCHITECTURES:
        raise BadInput(f"unknown architecture {arch!r}; choices: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[key]


def build_network(arch: str, in_channels: int, num_classes: int, image_size: int) -> nn.Module:
    """A freshly initialised ``arch`` for C x S x S images and K classes; BadInput if it does not fit."""
    spec = get_architecture(arch)
    if num_classes < 2:
        raise BadInput(f"a classifier needs at least 2 classes, got {num_classes}")
    spec.check(in_channels, image_size)
    return spec.build(in_channels, num_classes, image_size)


def count_parameters(model: nn.Module, exclude_batchnorm: bool = False) -> int:
    """Number of trainable parameters, optionally leaving out BatchNorm's scale and shift."""
    from torch import nn

    skipped = set()
    if exclude_batchnorm:
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                skipped |= {id(p) for p in module.parameters(recurse=False)}
    return sum(p.numel() for p in model.parameters() if p.requires_grad and id(p) not in skipped)
