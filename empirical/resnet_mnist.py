"""ResNet-18 for MNIST: torchvision's ImageNet-style resnet18 (He et al. 2016) with K outputs and a
1-channel first conv (7x7, stride 2, 64 channels), as in Patel & Sastry's code (their Sec. 4 trains it on
MNIST with Adam). The stem keeps the 3x3 stride-2 max pool, so a 28x28 image reaches layer4 as a 1x1 map.
"""

from __future__ import annotations

from torch import nn
from torchvision.models import resnet18 as torchvision_resnet18
from torchvision.models.resnet import ResNet


def resnet18_mnist(num_classes: int = 10, in_channels: int = 1) -> ResNet:
    """torchvision resnet18(num_classes) with conv1 = Conv2d(in_channels, 64, 7, stride 2, padding 3)."""
    model = torchvision_resnet18(weights=None, num_classes=num_classes)
    model.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    return model
