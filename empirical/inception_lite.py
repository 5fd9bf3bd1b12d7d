"""Inception-Lite: the small Inception for CIFAR-10 of Zhang et al. 2017 ("Understanding deep learning
requires rethinking generalization", ICLR, appendix A, Fig. 3), used by Patel & Sastry 2021 (Sec. 4).

Modules (each conv is conv + BatchNorm + ReLU, with 'same' padding):
  Conv(c, k, s)      -- a k x k conv with c output channels and stride s;
  Inception(c1, c3)  -- Conv(c1, 1x1) and Conv(c3, 3x3) on the same input, concatenated: c1 + c3 channels;
  Downsample(c3)     -- Conv(c3, 3x3, stride 2) and a 3x3 stride-2 max pool, concatenated: c3 + c_in channels.
Layout: Conv(96, 3x3) -> Inc(32,32) -> Inc(32,48) -> Down(80) -> Inc(112,48) -> Inc(96,64) -> Inc(80,80)
-> Inc(48,96) -> Down(96) -> Inc(176,160) -> Inc(176,160) -> global mean pool -> Linear(336, K).
Zhang et al. crop to 28x28 and pool a 7x7 map; we feed 32x32 images (an 8x8 map) and pool adaptively.
The convs carry biases as in their count: conv weights + conv biases + the final layer = 1,649,402
parameters for K = 10 (their Table 1); BatchNorm adds 3,424 more (scale and shift per channel).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class ConvModule(nn.Module):
    """relu(bn(conv_k(x))), 'same' padding (for stride 2: padding (k-1)/2, halving the map rounding up)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)))


class InceptionModule(nn.Module):
    """cat(Conv(ch1, 1x1)(x), Conv(ch3, 3x3)(x)) along channels."""

    def __init__(self, in_channels: int, ch1: int, ch3: int):
        super().__init__()
        self.branch1 = ConvModule(in_channels, ch1, 1)
        self.branch3 = ConvModule(in_channels, ch3, 3)
        self.out_channels = ch1 + ch3

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.branch1(x), self.branch3(x)], dim=1)


class DownsampleModule(nn.Module):
    """cat(Conv(ch3, 3x3, stride 2)(x), maxpool_3x3_stride2(x)) along channels."""

    def __init__(self, in_channels: int, ch3: int):
        super().__init__()
        self.conv = ConvModule(in_channels, ch3, 3, stride=2)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.out_channels = ch3 + in_channels

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.conv(x), self.pool(x)], dim=1)


LAYOUT: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("inception", (32, 32)), ("inception", (32, 48)), ("downsample", (80,)),
    ("inception", (112, 48)), ("inception", (96, 64)), ("inception", (80, 80)), ("inception", (48, 96)),
    ("downsample", (96,)),
    ("inception", (176, 160)), ("inception", (176, 160)),
)


class InceptionLite(nn.Module):
    """The small Inception of Zhang et al. 2017 with the layout in the module docstring."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3, stem_channels: int = 96):
        super().__init__()
        self.stem = ConvModule(in_channels, stem_channels, 3)
        blocks: list[nn.Module] = []
        channels = stem_channels
        for kind, widths in LAYOUT:
            block = InceptionModule(channels, *widths) if kind == "inception" else DownsampleModule(channels, *widths)
            blocks.append(block)
            channels = block.out_channels
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.blocks(self.stem(x))
        return self.fc(self.pool(x).flatten(1))
