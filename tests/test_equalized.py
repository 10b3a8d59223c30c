"""Equalized learning rate (Karras et al. 2018, Sec. 4.1): unit-variance storage, He scale at run time."""

from __future__ import annotations

import math

import pytest
import torch

from zoo.nn.equalized import EqualizedConv2d, EqualizedLinear


def test_conv_stores_unit_variance_weights_and_scales_them_by_sqrt_2_over_fan_in_at_run_time():
    torch.manual_seed(0)
    conv = EqualizedConv2d(64, 32, 3, gain=math.sqrt(2))
    assert abs(conv.weight.std().item() - 1) < 0.02 and abs(conv.weight.mean().item()) < 0.02
    assert conv.scale == pytest.approx(math.sqrt(2 / (64 * 9)), rel=1e-12)
    x = torch.randn(2, 64, 5, 5)
    expected = torch.nn.functional.conv2d(x, conv.weight * math.sqrt(2 / 576), conv.bias, padding=1)
    torch.testing.assert_close(conv(x), expected)


def test_linear_lr_multiplier_divides_the_stored_weight_and_multiplies_the_runtime_scale():
    torch.manual_seed(0)
    fc = EqualizedLinear(512, 256, lr_multiplier=0.01, bias_init=1.0)
    assert abs(fc.weight.std().item() - 100) < 2  # N(0, 1) / 0.01
    torch.testing.assert_close(fc.bias * 0.01, torch.ones(256))  # the bias used is bias_init
    x = torch.randn(3, 512)
    torch.testing.assert_close(fc(x), x @ (fc.weight * 0.01 / math.sqrt(512)).T + 1)
    # the effective weight has unit variance / fan_in whatever the multiplier
    assert abs((fc.weight * fc.scale).std().item() * math.sqrt(512) - 1) < 0.02
