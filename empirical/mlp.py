"""A small fully connected network for CPU runs (flatten -> width -> width -> K, ReLU).

With width 512 on 1x28x28 input it has 669,706 parameters: far more than needed to memorize a few
thousand MNIST images with random labels (Zhang et al. 2017 show MLPs fit random labels too), so the
CPU-scale memorization experiments see the same effect as the paper's ResNets.
"""

from __future__ import annotations

from torch import nn


class MLP(nn.Sequential):
    """x -> flatten -> Linear(in_features, width) -> ReLU -> (Linear(width, width) -> ReLU) x (depth-1) -> Linear(width, K)."""

    def __init__(self, in_features: int, num_classes: int, width: int = 512, depth: int = 2):
        layers: list[nn.Module] = [nn.Flatten()]
        features = in_features
        for _ in range(depth):
            layers += [nn.Linear(features, width), nn.ReLU(inplace=True)]
            features = width
        layers.append(nn.Linear(features, num_classes))
        super().__init__(*layers)
