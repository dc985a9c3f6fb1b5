"""Unit tests for `gaplib.cam`: hooks, CAM's identity, Grad-CAM, torchcam agreement, boxes, IoU, pointing game."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from _bad_input import bad, check_bad_input
from torch import nn

from gaplib import cam as C
from gaplib.models import flatten_cnn, gap_cnn, nin_net, post_model
from gaplib.pool import ConcatPool, GlobalAvgPool, GlobalMaxPool
from gaplib.train import set_seed

WIDTHS = (4, 8, 16)
K = 5


def _warm(model: nn.Module, size: int = 32) -> nn.Sequential:
    """`model` with BatchNorm statistics from a few random batches (so eval mode is not the identity), in eval."""
    set_seed(0)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(8, 3, size, size))
    return model.eval()


def _seq(body: nn.Module, *head: nn.Module) -> nn.Sequential:
    return nn.Sequential(OrderedDict(body=body, head=nn.Sequential(*head)))


def _body() -> nn.Module:
    from gaplib.models import conv_body

    return conv_body(WIDTHS)


# heads CAM accepts: GAP -> one linear map, in several spellings
CAM_HEADS = {
    "gap_cnn": lambda: gap_cnn(K, WIDTHS),
    "nin_net (1x1 conv -> GAP)": lambda: nin_net(K, WIDTHS),
    "AdaptiveAvgPool2d -> Flatten -> Linear": lambda: _seq(
        _body(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, K)
    ),
    "GAP -> Dropout -> Linear without bias": lambda: _seq(
        _body(), GlobalAvgPool(), nn.Dropout(0.3), nn.Linear(16, K, bias=False)
    ),
    "AdaptiveAvgPool2d -> 1x1 conv -> Flatten": lambda: _seq(
        _body(), nn.AdaptiveAvgPool2d((1, 1)), nn.Conv2d(16, K, 1), nn.Flatten()
    ),
}


@pytest.fixture(params=list(CAM_HEADS), ids=list(CAM_HEADS))
def cam_model(request) -> nn.Sequential:
    set_seed(1)
    return _warm(CAM_HEADS[request.param]())


@pytest.fixture
def images() -> torch.Tensor:
    return torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(3))


# --- capture ---------------------------------------------------------------------------------------


def test_capture_records_the_layer_output_and_removes_its_hook(images):
    model = _warm(gap_cnn(K, WIDTHS))
    with C.capture(model, "body") as maps:
        model(images)
    assert len(maps) == 1 and torch.equal(maps[0], model.body(images))
    assert not model.body._forward_hooks, "the hook must be gone after the with block"


def test_capture_removes_its_hook_when_the_forward_raises():
    model = gap_cnn(K, WIDTHS)
    with pytest.raises(RuntimeError):
        with C.capture(model, model.body) as maps:
            model(torch.rand(2, 5, 32, 32))  # 5 channels: the first conv raises
    assert maps == [] and not model.body._forward_hooks


def test_capture_copies_so_a_later_inplace_op_cannot_change_it():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(inplace=True))
    x = torch.randn(2, 3, 8, 8)
    with C.capture(model, "0") as maps:
        model(x)
    assert (maps[0] < 0).any(), "the conv's output before the in-place ReLU, negative values included"


def test_capture_records_every_call(images):
    model = _warm(gap_cnn(K, WIDTHS))
    with C.capture(model, "head") as out:
        model(images[:2])
        model(images[:3])
    assert [o.shape[0] for o in out] == [2, 3]


# --- CAM -------------------------------------------------------------------------------------------


def test_cam_mean_plus_bias_equals_logit(cam_model, images):
    """The identity behind CAM: averaging and the linear map commute."""
    with torch.no_grad():
        logits = cam_model(images)
    _, bias = C.gap_linear_head(cam_model)
    for k in range(K):
        maps = C.cam(cam_model, images, k)
        assert maps.shape == (6, 4, 4)
        torch.testing.assert_close(maps.mean((1, 2)) + bias[k], logits[:, k], atol=1e-5, rtol=0)


def test_cam_default_class_is_the_prediction(cam_model, images):
    with torch.no_grad():
        pred = cam_model(images).argmax(1)
    torch.testing.assert_close(C.cam(cam_model, images), C.cam(cam_model, images, pred))
    torch.testing.assert_close(C.cam(cam_model, images), C.cam(cam_model, images, pred.tolist()))


def test_cam_equals_torchcam(images):
    torchcam = pytest.importorskip("torchcam.methods")
    for model, fc in ((gap_cnn(K, WIDTHS), "head.1"), (nin_net(K, WIDTHS), "head.0")):
        model = _warm(model)
        classes = [0, 1, 2, 3, 4, 0]
        with torchcam.CAM(model, "body", fc) as extractor:
            with torch.no_grad():
                model(images)
            ref = extractor(classes, normalized=False)[0]
        torch.testing.assert_close(C.cam(model, images, classes), ref, atol=1e-5, rtol=1e-5)


def test_cam_restores_training_mode(images):
    model = gap_cnn(K, WIDTHS).train()
    C.cam(model, images)
    C.grad_cam(model, images)
    assert all(m.training for m in model.modules())


def test_cam_runs_on_the_models_device(images):
    if not torch.cuda.is_available():
        pytest.skip("needs a GPU: checks that CAM runs where the model is and answers on the images' device")
    model = _warm(gap_cnn(K, WIDTHS))
    ref = C.cam(model, images, 1)
    out = C.cam(model.cuda(), images, 1)
    assert out.device == images.device
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)


# --- Grad-CAM --------------------------------------------------------------------------------------


def test_grad_cam_is_relu_of_cam_over_grid_area_on_gap_linear(cam_model, images):
    """On GAP -> Linear the gradient's spatial mean is W[k] / (h * w): Grad-CAM = ReLU(CAM) / (h * w)."""
    for k in (0, 3):
        g = C.grad_cam(cam_model, images, k)
        torch.testing.assert_close(g, C.cam(cam_model, images, k).relu() / 16, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("name", ["gap_cnn", "flatten_cnn", "gmp"])
def test_grad_cam_equals_torchcam(name, images):
    torchcam = pytest.importorskip("torchcam.methods")
    set_seed(2)
    build = {
        "gap_cnn": lambda: gap_cnn(K, WIDTHS),
        "flatten_cnn": lambda: flatten_cnn(32, K, WIDTHS, hidden=32),
        "gmp": lambda: _seq(_body(), GlobalMaxPool(), nn.Linear(16, K)),
    }
    model = _warm(build[name]())
    classes = [4, 3, 2, 1, 0, 4]
    with torchcam.GradCAM(model, "body") as extractor:
        scores = model(images)
        ref = extractor(classes, scores, normalized=False)[0]
    torch.testing.assert_close(C.grad_cam(model, images, classes), ref, atol=1e-6, rtol=1e-5)


def test_grad_cam_works_with_frozen_weights(images):
    model = _warm(flatten_cnn(32, K, WIDTHS, hidden=32))
    trainable = torch.stack([C.grad_cam(model, images, k) for k in range(K)])
    for p in model.parameters():
        p.requires_grad_(False)
    frozen = torch.stack([C.grad_cam(model, images, k) for k in range(K)])
    assert frozen.shape == (K, 6, 4, 4) and (frozen >= 0).all() and frozen.abs().sum() > 0
    torch.testing.assert_close(frozen, trainable)  # freezing the weights changes nothing
    assert all(p.grad is None for p in model.parameters())


def test_grad_cam_stores_no_parameter_gradient(images):
    model = _warm(gap_cnn(K, WIDTHS))
    C.grad_cam(model, images)
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("layer, side", [("body.0", 32), ("body.2", 16), ("body.4", 8)])
def test_grad_cam_at_an_inner_layer_follows_the_definition(layer, side, images):
    """`layer` may be any convolutional layer inside the body (CAM cannot do that): maps at that layer's grid."""
    model = _warm(flatten_cnn(32, K, WIDTHS, hidden=32))
    classes = [0, 1, 2, 3, 4, 0]
    out = C.grad_cam(model, images, classes, layer=layer)
    with C.capture(model, layer, detach=False) as maps:
        scores = model(images.clone().requires_grad_(True))
    (grad,) = torch.autograd.grad(scores.gather(1, torch.tensor(classes)[:, None]).sum(), maps[0])
    expected = (grad.mean((2, 3), keepdim=True) * maps[0]).sum(1).relu().detach()
    assert out.shape == (6, side, side)
    assert out.abs().sum() > 0, "a warmed network has some positive evidence at every depth"
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=1e-5)
    torchcam = pytest.importorskip("torchcam.methods")
    with torchcam.GradCAM(model, layer) as extractor:
        ref = extractor(classes, model(images), normalized=False)[0]
    torch.testing.assert_close(out, ref, atol=1e-6, rtol=1e-5)


# --- heads CAM refuses -----------------------------------------------------------------------------


def _fastai_head_model() -> nn.Sequential:
    learner = pytest.importorskip("fastai.vision.learner")
    return _seq(_body(), *learner.create_head(16, K))


REFUSED = {
    "flatten head": (lambda: flatten_cnn(32, K, WIDTHS), "a flatten head"),
    "GAP -> MLP": (lambda: _seq(_body(), GlobalAvgPool(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, K)), "2 linear"),
    "global max pooling": (lambda: _seq(_body(), GlobalMaxPool(), nn.Linear(16, K)), "maximum"),
    "concat pooling": (lambda: _seq(_body(), ConcatPool(), nn.Linear(32, K)), "concatenates"),
    "GAP -> BatchNorm1d -> Linear": (
        lambda: _seq(_body(), GlobalAvgPool(), nn.BatchNorm1d(16), nn.Linear(16, K)),
        "BatchNorm1d besides",
    ),
    "3x3 conv -> GAP": (lambda: _seq(_body(), nn.Conv2d(16, K, 3), GlobalAvgPool()), "Conv2d(3x3) besides"),
    "fastai create_head": (_fastai_head_model, "concatenates"),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_cam_refuses_other_heads_and_points_to_grad_cam(name, images):
    build, phrase = REFUSED[name]
    model = build().eval()
    err = check_bad_input(lambda: C.cam(model, images), ValueError, phrase)
    assert "grad_cam" in str(err)
    assert C.grad_cam(model, images).shape == (6, 4, 4), "Grad-CAM works for the head CAM refused"


def test_cam_refuses_the_post_models_mlp_head(images):
    model = post_model(K).eval()
    check_bad_input(lambda: C.cam(model, images, layer="17"), ValueError, "3 linear maps (an MLP head)")


# --- upsample, boxes, IoU, pointing game -----------------------------------------------------------


def test_upsample_keeps_a_constant_map_and_the_rank():
    maps = torch.full((2, 4, 4), 3.0)
    up = C.upsample(maps, 32)
    assert up.shape == (2, 32, 32) and torch.allclose(up, torch.full_like(up, 3.0))
    assert C.upsample(maps[0], (8, 16)).shape == (8, 16)


def test_cam_box_of_a_blob_is_its_bounding_box():
    m = torch.zeros(20, 30)
    m[5:9, 10:17] = 1.0  # rows 5..8, columns 10..16
    m[7, 12] = 2.0
    assert C.cam_box(m).tolist() == [10.0, 5.0, 17.0, 9.0]


def test_cam_box_keeps_only_the_largest_connected_region():
    m = torch.zeros(2, 20, 20)
    m[:, 1:3, 1:3] = 1.0  # small region holding the max
    m[:, 1, 1] = 5.0
    m[:, 10:18, 5:15] = 2.0  # large region at 40 % of the max: kept, and larger
    boxes = C.cam_box(m)
    assert boxes.tolist() == [[5.0, 10.0, 15.0, 18.0]] * 2
    assert C.cam_box(m, threshold=0.5).tolist() == [[1.0, 1.0, 2.0, 2.0]] * 2, "at 50 % only the max pixel is left"


def test_cam_box_of_diagonal_pixels_uses_4_connectivity():
    m = torch.zeros(6, 6)
    m[1, 1] = m[2, 2] = m[3, 3] = 1.0  # touching only at corners: three regions of one pixel
    assert C.cam_box(m).tolist() == [1.0, 1.0, 2.0, 2.0]


def test_cam_box_of_a_map_without_positive_values_is_its_maximum():
    m = -torch.ones(8, 8)
    m[3, 4] = -0.5
    assert C.cam_box(m).tolist() == [4.0, 3.0, 5.0, 4.0]


def test_cam_box_threshold_is_relative_to_the_max_not_the_min():
    m = torch.linspace(-10, 10, 21).repeat(3, 1)  # columns -10..10; 20 % of the max is 2
    assert C.cam_box(m).tolist() == [12.0, 0.0, 21.0, 3.0]


def test_box_iou_known_values():
    a = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 0, 0]])
    b = torch.tensor([[0.0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 0, 0]])
    torch.testing.assert_close(C.box_iou(a, b), torch.tensor([1.0, 1 / 3, 0.0, 0.0]))
    torch.testing.assert_close(C.box_iou(a[1], b[1]), torch.tensor(1 / 3))
    torch.testing.assert_close(C.box_iou(b, a), C.box_iou(a, b))


def test_pointing_game_uses_exclusive_right_and_bottom_edges():
    maps = torch.zeros(3, 10, 10)
    maps[0, 4, 2] = 1.0  # row 4, column 2
    maps[1, 4, 5] = 1.0  # column 5 == x1: outside
    maps[2, 7, 3] = 1.0  # row 7 == y1: outside
    boxes = torch.tensor([[2.0, 3, 5, 7]] * 3)
    assert C.pointing_game(maps, boxes).tolist() == [True, False, False]
    assert C.pointing_game(maps[0], boxes[0]).item() is True


def test_box_from_an_upsampled_cam_finds_a_planted_object():
    """End to end on a hand-made GAP network whose one channel fires on red pixels."""
    conv = nn.Conv2d(3, 1, 1)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1.0, -1.0, -1.0]).view(1, 3, 1, 1))
        conv.bias.zero_()
    body = nn.Sequential(conv, nn.ReLU(), nn.AvgPool2d(4))
    lin = nn.Linear(1, 2)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0], [-1.0]]))
    model = _seq(body, GlobalAvgPool(), lin)
    x = torch.zeros(1, 3, 32, 32)
    x[0, 0, 8:16, 16:28] = 1.0  # a red rectangle: columns 16..27, rows 8..15
    up = C.upsample(C.cam(model, x, 0), 32)
    box = C.cam_box(up)
    assert C.box_iou(box, torch.tensor([[16.0, 8, 28, 16]])).item() > 0.5
    assert C.pointing_game(up, torch.tensor([[16.0, 8, 28, 16]])).item()


# --- bad input -------------------------------------------------------------------------------------

_M = gap_cnn(K, WIDTHS).eval()
_X = torch.rand(2, 3, 32, 32)
_MAPS = torch.rand(2, 8, 8)
_BOX = torch.tensor([[0.0, 0, 4, 4], [1, 1, 3, 3]])

ROWS = [
    bad("capture: model not a module", lambda: C.capture("net", "body").__enter__(), TypeError, "nn.Module"),
    bad("capture: layer not in model", lambda: C.capture(_M, "bdy").__enter__(), ValueError, "did you mean 'body'"),
    bad("capture: foreign module", lambda: C.capture(_M, nn.Conv2d(3, 3, 1)).__enter__(), ValueError, "not a module"),
    bad("capture: layer as int", lambda: C.capture(_M, 0).__enter__(), TypeError, "layer must be a layer name"),
    bad("capture: detach not bool", lambda: C.capture(_M, "body", detach=1).__enter__(), TypeError, "detach"),
    bad("cam: 3-D images", lambda: C.cam(_M, _X[0]), ValueError, "add a batch axis"),
    bad("cam: integer images", lambda: C.cam(_M, _X.byte()), TypeError, "floating"),
    bad("cam: class out of range", lambda: C.cam(_M, _X, K), IndexError, "out of range for 5 classes"),
    bad("cam: negative class", lambda: C.cam(_M, _X, -1), IndexError, "out of range"),
    bad("cam: float class", lambda: C.cam(_M, _X, 1.0), TypeError, "class_idx must be None"),
    bad("cam: too few classes", lambda: C.cam(_M, _X, [1]), ValueError, "one class per image: 2 images but 1"),
    bad("cam: 2-D class tensor", lambda: C.cam(_M, _X, torch.zeros(2, 1, dtype=torch.long)), ValueError, "1-D"),
    bad("cam: layer not in model", lambda: C.cam(_M, _X, layer="head.5"), ValueError, "not in the model"),
    bad("cam: nested layer", lambda: C.cam(_M, _X, layer="body.3"), ValueError, "a direct child of the model"),
    bad("cam: last layer", lambda: C.cam(_M, _X, layer="head"), ValueError, "no head follows"),
    bad("cam: not Sequential", lambda: C.cam(nn.ModuleDict({"body": nn.Identity()}), _X), ValueError, "nn.Sequential"),
    bad("cam: flatten head", lambda: C.cam(flatten_cnn(32, K, WIDTHS), _X), ValueError, "use gaplib.cam.grad_cam"),
    bad("grad_cam: 2-D images", lambda: C.grad_cam(_M, _X[0, 0]), ValueError, "must be 4-D"),
    bad("grad_cam: model not module", lambda: C.grad_cam(None, _X), TypeError, "model must be an nn.Module"),
    bad("grad_cam: inner layer not in model", lambda: C.grad_cam(_M, _X, layer="body.9"), ValueError, "not in"),
    bad("grad_cam: vector layer", lambda: C.grad_cam(_M, _X, layer="head"), ValueError, "must output feature maps"),
    bad("grad_cam: class out of range", lambda: C.grad_cam(_M, _X, 9), IndexError, "out of range"),
    bad("upsample: 4-D maps", lambda: C.upsample(_MAPS[None], 32), ValueError, "3-D (N, H, W) or 2-D"),
    bad("upsample: size 0", lambda: C.upsample(_MAPS, 0), ValueError, "size must be >= 1"),
    bad("upsample: size float", lambda: C.upsample(_MAPS, 32.0), TypeError, "size must be"),
    bad("upsample: not a tensor", lambda: C.upsample(_MAPS.numpy(), 32), TypeError, "must be a torch.Tensor"),
    bad("cam_box: NaN map", lambda: C.cam_box(torch.full((4, 4), float("nan"))), ValueError, "NaN"),
    bad("cam_box: integer map", lambda: C.cam_box(torch.ones(4, 4, dtype=torch.long)), TypeError, "floating"),
    bad("cam_box: empty map", lambda: C.cam_box(torch.zeros(0, 4, 4)), ValueError, "empty"),
    bad("cam_box: threshold 0", lambda: C.cam_box(_MAPS, 0), ValueError, "threshold must be"),
    bad("cam_box: threshold 20", lambda: C.cam_box(_MAPS, 20), ValueError, "in (0, 1]"),
    bad("box_iou: shape (N, 3)", lambda: C.box_iou(_BOX[:, :3], _BOX[:, :3]), ValueError, "shape (N, 4)"),
    bad("box_iou: x1 < x0", lambda: C.box_iou(_BOX.flip(1), _BOX), ValueError, "x0 <= x1"),
    bad("box_iou: count mismatch", lambda: C.box_iou(_BOX, _BOX[:1]), ValueError, "same number of boxes"),
    bad("box_iou: list", lambda: C.box_iou([0, 0, 1, 1], _BOX[0]), TypeError, "torch.Tensor"),
    bad("box_iou: inf", lambda: C.box_iou(_BOX * float("inf"), _BOX), ValueError, "NaN or inf"),
    bad("pointing_game: box count", lambda: C.pointing_game(_MAPS, _BOX[:1]), ValueError, "one box per map"),
    bad("pointing_game: 4-D maps", lambda: C.pointing_game(_MAPS[None], _BOX), ValueError, "pass one class's maps"),
    bad("gap_linear_head: MLP", lambda: C.gap_linear_head(post_model(K), "17"), ValueError, "MLP head"),
]


@pytest.mark.parametrize("call, exc, phrase", ROWS)
def test_bad_input(call, exc, phrase, tmp_path):
    check_bad_input(call, exc, phrase, tmp_path)


# --- viz.show_cams ---------------------------------------------------------------------------------


def test_show_cams_draws_one_panel_per_image_with_both_boxes(images):
    from gaplib.viz import show_cams

    maps = torch.rand(6, 4, 4)
    fig = show_cams(images, maps, [f"img {i}" for i in range(6)], C.cam_box(C.upsample(maps, 32)), _BOX6, ncols=4)
    drawn = [ax for ax in fig.axes if ax.images]
    assert len(drawn) == 6 and all(len(ax.images) == 2 and len(ax.patches) == 2 for ax in drawn)
    assert drawn[0].images[1].get_extent() == [0, 32, 32, 0], "the 4 x 4 map covers the whole 32 px image"


_BOX6 = torch.tensor([[0.0, 0, 8, 8]] * 6)
