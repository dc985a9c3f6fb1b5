import math

import pytest
import torch
from torch import nn

from gaplib import models


@pytest.mark.parametrize("size", [16, 24, 32, 48, 64, 96, 128])
def test_post_model_accepts_16_to_128_px(size):
    m = models.post_model().eval()
    assert m(torch.randn(2, 3, size, size)).shape == (2, 10)


def test_post_model_is_the_posts_model():
    m = models.post_model()
    linears = [(lin.in_features, lin.out_features) for lin in m if isinstance(lin, nn.Linear)]
    assert linears == [(256, 128), (128, 56), (56, 10)]
    convs = [(c.in_channels, c.out_channels) for c in m if isinstance(c, nn.Conv2d)]
    assert convs == [(3, 32), (32, 64), (64, 128), (128, 128), (128, 256), (256, 256)]
    assert sum(isinstance(layer, nn.MaxPool2d) for layer in m) == 3
    assert sum(isinstance(layer, nn.BatchNorm2d) for layer in m) == 3
    assert any(isinstance(layer, nn.AdaptiveAvgPool2d) and layer.output_size == (1, 1) for layer in m)


def test_post_model_width_scales_every_layer_and_keeps_the_grid():
    m = models.post_model(10, width=8).eval()
    convs = [(c.in_channels, c.out_channels) for c in m if isinstance(c, nn.Conv2d)]
    assert convs == [(3, 8), (8, 16), (16, 32), (32, 32), (32, 64), (64, 64)]
    linears = [(lin.in_features, lin.out_features) for lin in m if isinstance(lin, nn.Linear)]
    assert linears == [(64, 32), (32, 14), (14, 10)]
    assert m[:18](torch.randn(1, 3, 32, 32)).shape[-2:] == (4, 4)
    assert m(torch.randn(2, 3, 48, 48)).shape == (2, 10)


def test_mlpconv_net_is_two_1x1_convs_with_a_relu_then_gap():
    m = models.mlpconv_net(6, widths=(8, 16), hidden=12).eval()
    convs = [(c.in_channels, c.out_channels, c.kernel_size) for c in m.head if isinstance(c, nn.Conv2d)]
    assert convs == [(16, 12, (1, 1)), (12, 6, (1, 1))]
    assert isinstance(m.head[1], nn.ReLU)
    assert models.count_params(m)["head"] == 16 * 12 + 12 + 12 * 6 + 6
    assert models.mlpconv_net(6, widths=(8, 16)).head[0].out_channels == 16  # hidden defaults to the last width


def test_mlpconv_head_is_not_linear_but_the_nin_head_is():
    torch.manual_seed(0)
    feats = torch.randn(2, 16, 4, 4)
    lin, mlp = models.nin_net(6, widths=(16,)).head, models.mlpconv_net(6, widths=(16,)).head
    zero = torch.zeros(1, 16, 4, 4)
    assert torch.allclose(lin(feats[:1] + feats[1:]), lin(feats[:1]) + lin(feats[1:]) - lin(zero), atol=1e-5)
    assert not torch.allclose(mlp(-feats), 2 * mlp(zero) - mlp(feats), atol=1e-3)


def test_flatten_cnn_only_works_at_its_size():
    m = models.flatten_cnn(32, 6).eval()
    assert m(torch.randn(2, 3, 32, 32)).shape == (2, 6)
    with pytest.raises(RuntimeError, match="mat1 and mat2"):
        m(torch.randn(2, 3, 64, 64))


def test_flatten_cnn_dropout_and_widths():
    m = models.flatten_cnn(32, 6, widths=(8, 16), hidden=32, dropout=0.5)
    assert any(isinstance(layer, nn.Dropout) for layer in m.head)
    assert m.head[1].in_features == 16 * 8 * 8
    assert not any(isinstance(layer, nn.Dropout) for layer in models.flatten_cnn(32, 6).head)


def test_flatten_cnn_without_hidden_layer_is_one_linear_over_the_grid():
    m = models.flatten_cnn(32, 6, widths=(8, 16), hidden=None).eval()
    linears = [layer for layer in m.head if isinstance(layer, nn.Linear)]
    assert [(lin.in_features, lin.out_features) for lin in linears] == [(16 * 8 * 8, 6)]
    assert models.count_params(m)["head"] == 16 * 8 * 8 * 6 + 6
    assert m(torch.randn(2, 3, 32, 32)).shape == (2, 6)
    drop = models.flatten_cnn(32, 6, widths=(8, 16), hidden=None, dropout=0.5)
    assert [type(layer) for layer in drop.head] == [nn.Flatten, nn.Dropout, nn.Linear]


@pytest.mark.parametrize("size", [16, 24, 32, 48, 64, 100, 256])
def test_stride_cnn_reaches_1x1(size):
    m = models.stride_cnn(size, 6, width=2).eval()
    assert len(m.body) == 1 + math.ceil(math.log2(size)) == 1 + models.n_stride_layers(size)
    assert m.body(torch.randn(1, 3, size, size)).shape[-2:] == (1, 1)
    assert m(torch.randn(1, 3, size, size)).shape == (1, 6)


def test_stride_cnn_is_built_like_fastbook():
    m = models.stride_cnn(32, 6, width=8)
    convs = [block[0] for block in m.body]
    assert [c.stride[0] for c in convs] == [1, 2, 2, 2, 2, 2]
    assert [c.out_channels for c in convs] == [8, 16, 32, 64, 128, 256]
    assert [c.in_channels for c in convs[1:]] == [c.out_channels for c in convs[:-1]]
    assert (m.head[1].in_features, m.head[1].out_features) == (256, 6)
    x, sides = torch.randn(1, 3, 32, 32), []
    for block in m.body.eval():
        x = block(x)
        sides.append(x.shape[-1])
    assert sides == [32, 16, 8, 4, 2, 1]


def test_stride_cnn_is_size_locked():
    m = models.stride_cnn(32, 6, width=8).eval()
    with pytest.raises(RuntimeError):
        m(torch.randn(1, 3, 64, 64))


@pytest.mark.parametrize("builder", [models.gap_cnn, models.nin_net, models.mlpconv_net])
@pytest.mark.parametrize("size", [8, 17, 32, 64, 96])
def test_gap_models_work_at_any_size(builder, size):
    m = builder(5, widths=(8, 16, 16)).eval()
    assert m(torch.randn(2, 3, size, size)).shape == (2, 5)


def test_nin_has_no_linear_layer():
    m = models.nin_net(6)
    assert not any(isinstance(layer, nn.Linear) for layer in m.modules())
    assert m.head[0].out_channels == 6


def test_count_params_split():
    m = models.flatten_cnn(32, 6, widths=(8, 16), hidden=10)
    c = models.count_params(m)
    assert c["head"] == (16 * 8 * 8 * 10 + 10) + (10 * 6 + 6)
    assert c["total"] == sum(p.numel() for p in m.parameters())
    g = models.count_params(models.gap_cnn(6, widths=(8, 16)))
    assert g["head"] == 16 * 6 + 6 and g["body"] == c["body"]


def test_count_params_flat_sequential_splits_at_pooling():
    c = models.count_params(models.post_model())
    assert c["head"] == (256 * 128 + 128) + (128 * 56 + 56) + (56 * 10 + 10)
    assert c["body"] + c["head"] == c["total"] == sum(p.numel() for p in models.post_model().parameters())


def test_grid_size():
    assert models.grid_size(32, 3) == 4
    assert models.grid_size(48, 3) == 6
    with pytest.raises(ValueError, match="too small"):
        models.grid_size(4, 3)


def test_trace_prints_each_top_level_layer_and_returns_the_output(capsys):
    model = models.gap_cnn(6, (8, 16))
    out = models.trace(model, 32)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["input", "(1,", "3,", "32,", "32)"]
    assert [line.split()[0] for line in lines[1:]] == [name for name, _ in model.named_children()]
    assert out.shape == (1, 6) and lines[-1].endswith("(1, 6)")
