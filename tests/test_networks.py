"""The experiment networks: pinned parameter counts, forward shapes, refusals, channels_last and bf16."""

from __future__ import annotations

import pytest
import torch

from symtheory.errors import BadInput

from symtheory.empirical.networks import ARCHITECTURES, build_network, count_parameters

# (arch, C, S, all parameters, parameters without BatchNorm), K = 10.
PINNED = [
    ("mlp", 1, 28, 669_706, 669_706),
    ("resnet18", 1, 28, 11_175_370, 11_165_770),
    ("resnet32", 3, 32, 464_154, 461_882),
    ("inception-lite", 3, 32, 1_652_826, 1_649_402),
]


def test_architectures_listed():
    assert sorted(ARCHITECTURES) == sorted(arch for arch, *_ in PINNED)


@pytest.mark.parametrize("arch,channels,size,total,without_bn", PINNED, ids=[p[0] for p in PINNED])
def test_parameter_counts(arch, channels, size, total, without_bn):
    model = build_network(arch, channels, 10, size)
    assert count_parameters(model) == total
    assert count_parameters(model, exclude_batchnorm=True) == without_bn


def test_resnet32_matches_he_et_al():
    """He et al. 2016, Table 6: ResNet-32 has 0.46M parameters (464,154 with option-A shortcuts)."""
    assert count_parameters(build_network("resnet32", 3, 10, 32)) == 464_154


def test_inception_lite_matches_zhang_et_al():
    """Zhang et al. 2017, Table 1: 1,649,402 parameters (conv weights and biases and the final layer)."""
    assert count_parameters(build_network("inception-lite", 3, 10, 32), exclude_batchnorm=True) == 1_649_402


@pytest.mark.parametrize("arch,channels,size", [(a, c, s) for a, c, s, *_ in PINNED], ids=[p[0] for p in PINNED])
def test_forward_shape_channels_last_and_bf16(arch, channels, size):
    torch.manual_seed(0)
    model = build_network(arch, channels, 7, size).eval()
    x = torch.randn(2, channels, size, size)
    with torch.no_grad():
        out = model(x)
        model_cl = model.to(memory_format=torch.channels_last)
        out_cl = model_cl(x.to(memory_format=torch.channels_last))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out_bf16 = model_cl(x.to(memory_format=torch.channels_last))
    assert out.shape == (2, 7)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out_cl, out, rtol=1e-4, atol=1e-4)
    assert out_bf16.shape == (2, 7) and torch.isfinite(out_bf16).all()


def test_mlp_backward_on_mnist_batch():
    torch.manual_seed(0)
    model = build_network("mlp", 1, 10, 28)
    out = model(torch.randn(4, 1, 28, 28))
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_mlp_takes_any_image_shape():
    assert build_network("mlp", 3, 10, 32)(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_resnet18_accepts_larger_mnist_style_images():
    model = build_network("resnet18", 1, 10, 32).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 1, 32, 32)).shape == (2, 10)


def test_unknown_architecture_lists_choices():
    with pytest.raises(BadInput, match="choices: mlp, resnet18, resnet32, inception-lite"):
        build_network("vgg16", 3, 10, 32)


@pytest.mark.parametrize(
    "arch,channels,size,message",
    [
        ("resnet32", 1, 28, "resnet32 expects 3x32x32 input, got 1x28x28"),
        ("inception-lite", 1, 28, "inception-lite expects 3x32x32 input, got 1x28x28"),
        ("inception-lite", 3, 28, "inception-lite expects 3x32x32 input, got 3x28x28"),
        ("resnet18", 3, 32, "resnet18 expects 1-channel input, got 3x32x32"),
        ("resnet18", 1, 16, "resnet18 expects images of at least 28x28, got 1x16x16"),
    ],
)
def test_mismatched_input_refused(arch, channels, size, message):
    with pytest.raises(BadInput, match=message):
        build_network(arch, channels, 10, size)


def test_fewer_than_two_classes_refused():
    with pytest.raises(BadInput, match="at least 2 classes"):
        build_network("mlp", 1, 1, 28)
