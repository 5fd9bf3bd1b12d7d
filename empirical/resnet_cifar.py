"""ResNet-32 for CIFAR-10 (He et al. 2016, "Deep Residual Learning for Image Recognition", Sec. 4.2).

A 3x3 conv with 16 channels, then 3 stages of n = 5 basic blocks with 16, 32 and 64 channels (the first
block of stages 2 and 3 halves the map with stride 2), global average pooling and a linear layer:
6n + 2 = 32 weighted layers. Shortcuts are option A, parameter-free: the identity, or where the shape
changes, the input subsampled by 2 and zero-padded to the new channel count. With 10 classes this has
464,154 parameters, the 0.46M of He et al.'s Table 6. Patel & Sastry 2021 (Sec. 4) train it on CIFAR-10.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class PadShortcut(nn.Module):
    """Option-A shortcut: x[:, :, ::stride, ::stride] with `extra` zero channels split evenly on both sides."""

    def __init__(self, stride: int, extra: int):
        super().__init__()
        self.stride = stride
        self.before = extra // 2
        self.after = extra - extra // 2

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, self.before, self.after))


class BasicBlock(nn.Module):
    """relu(bn(conv3x3(relu(bn(conv3x3(x))))) + shortcut(x))."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        if stride != 1 or in_planes != planes:
            self.shortcut: nn.Module = PadShortcut(stride, planes - in_planes)
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """The CIFAR ResNet with `blocks` basic blocks per stage (5 gives ResNet-32) and widths (16, 32, 64)."""

    def __init__(self, blocks: int = 5, num_classes: int = 10, in_channels: int = 3,
                 widths: tuple[int, int, int] = (16, 32, 64)):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        stages = []
        in_planes = widths[0]
        for index, planes in enumerate(widths):
            first_stride = 1 if index == 0 else 2
            stage = [BasicBlock(in_planes, planes, first_stride)]
            stage += [BasicBlock(planes, planes) for _ in range(blocks - 1)]
            stages.append(nn.Sequential(*stage))
            in_planes = planes
        self.layer1, self.layer2, self.layer3 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[-1], num_classes)
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.pool(x).flatten(1))


def resnet32(num_classes: int = 10, in_channels: int = 3) -> CifarResNet:
    """ResNet-32: 3 stages x 5 basic blocks (He et al. 2016, n = 5)."""
    return CifarResNet(blocks=5, num_classes=num_classes, in_channels=in_channels)
