"""Re-run the course's asserted comparisons over a list of seeds and write one row per comparison x seed.

Notebooks say which seeds an asserted ordering held on ("held on each of seeds 0-5 we tried on a CPU"); this script
is how anyone re-runs those seeds, on a CPU or a GPU, and the table it writes under benchmarks/reference/ is what
those sentences point at (tests/test_seed_sweep.py checks that every such sentence has its rows). Each comparison
rebuilds the notebook's experiment with gaplib (same data, models, epochs and lr) and records the margin the
notebook's assert needs to be positive. Usage:
  python scripts/seed_sweep.py [--seeds 0-5] [--only NAME|NOTEBOOK ...] [--out FILE.csv] [--merge] [--list]
(--only 04 runs all of notebook 04's comparisons; the default --out is benchmarks/reference/seed_sweep_<device>.csv)
"""

from __future__ import annotations

import argparse
import csv
import functools
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIELDS = ("comparison", "notebook", "seed", "device", "a", "b", "margin", "holds", "seconds")


@dataclass
class Comparison:
    """One asserted ordering: `run(seed)` returns {row name: (a, b)}; the notebook asserts a - b > `need`."""

    name: str
    notebook: str
    what: str
    need: float
    run: Callable[[int], dict[str, tuple[float, float]]]


def _nb01(seed: int) -> dict[str, tuple[float, float]]:
    """Notebook 01, 240 images: GAP vs the best flatten head (valid), and the flatten head's overfitting."""
    from gaplib.data import VALID_SEED_OFFSET, make_loader, make_shapes
    from gaplib.experiments import run_ablation
    from gaplib.models import flatten_cnn, gap_cnn

    size, widths = 24, (8, 16, 32)
    builders = {
        "flatten": lambda: flatten_cnn(size, 6, widths),
        "flatten + dropout": lambda: flatten_cnn(size, 6, widths, dropout=0.5),
        "flatten, no hidden": lambda: flatten_cnn(size, 6, widths, hidden=None),
        "GAP": lambda: gap_cnn(6, widths),
    }
    rows = run_ablation(
        builders,
        make_loader(make_shapes(240, size, seed=0), 32, shuffle=True),
        make_loader(make_shapes(200, size, seed=VALID_SEED_OFFSET), 256),
        seeds=(seed,),
        epochs=36,
        lr=1e-2,
        progress=False,
    )
    by = {r["config"]: r for r in rows}
    best_flat = max(by[k]["valid_acc"] for k in builders if k != "GAP")
    fc = by["flatten"]
    return {
        "01-gap-beats-every-flatten-head": (by["GAP"]["valid_acc"], best_flat),
        "01-flatten-overfits": (fc["train_acc"] - fc["valid_acc"], 0.4),
    }


@functools.cache
def _nb04_head(name: str, seed: int) -> dict:
    """Notebook 04 section 4: one head trained to its plateau on one seed (its run_ablation row, with the model)."""
    from gaplib.data import VALID_SEED_OFFSET, make_loader, make_shapes
    from gaplib.experiments import run_ablation
    from gaplib.models import flatten_cnn, nin_net

    size, widths = 32, (8, 16, 32)
    train = make_loader(make_shapes(500, size, seed=0), 32, shuffle=True)
    valid = make_loader(make_shapes(500, size, seed=VALID_SEED_OFFSET), 256)
    build, epochs = {
        "FC": (lambda: flatten_cnn(size, 6, widths), 20),
        "FC + dropout": (lambda: flatten_cnn(size, 6, widths, dropout=0.5), 32),
        "GAP (linear NiN)": (lambda: nin_net(6, widths), 30),
    }[name]
    (row,) = run_ablation({name: build}, train, valid, seeds=(seed,), epochs=epochs, lr=1e-2, keep_models=True,
                          progress=False)  # fmt: skip
    return row


def _nb04(seed: int) -> dict[str, tuple[float, float]]:
    """Notebook 04 section 4: each head at its plateau, GAP (linear NiN) vs FC and FC + dropout."""
    gap, fc, drop = (_nb04_head(name, seed) for name in ("GAP (linear NiN)", "FC", "FC + dropout"))
    return {
        "04-gap-beats-fc": (gap["valid_acc"], fc["valid_acc"]),
        "04-gap-beats-fc-dropout": (gap["valid_acc"], drop["valid_acc"]),
        "04-gap-overfits-less": (fc["overfit"], gap["overfit"]),
    }


def _centre_pointing(boxes, size: int) -> float:
    """Pointing game of a map whose maximum is the centre pixel of every image (notebooks 04 and 07's control)."""
    import torch

    from gaplib.cam import pointing_game

    centre = torch.zeros(len(boxes), size, size)
    centre[:, size // 2, size // 2] = 1.0
    return pointing_game(centre, boxes).float().mean().item()


def _nb04_pointing(seed: int) -> dict[str, tuple[float, float]]:
    """Notebook 04 section 5: pointing game of the true class's 4x4 map (upsampled to 32 px) vs the centre pixel."""
    import torch

    from gaplib.cam import pointing_game, upsample
    from gaplib.data import VALID_SEED_OFFSET, make_shapes

    valid = make_shapes(500, 32, seed=VALID_SEED_OFFSET)
    model = _nb04_head("GAP (linear NiN)", seed)["model"]  # the same trained head as 04-gap-beats-fc's
    with torch.no_grad():
        maps = model.head[0](model.body(valid.images))[torch.arange(len(valid.labels)), valid.labels]
    hits = pointing_game(upsample(maps, 32), valid.boxes).float().mean().item()
    centre = _centre_pointing(valid.boxes, 32)
    return {
        "04-maps-point-below-centre": (centre, hits),
        "04-maps-point-within-slack": (centre + 0.03, hits),
    }


def _nb05(seed: int) -> dict[str, tuple[float, float]]:
    """Notebook 05 section 7, the fair test: progressive resizing vs the large size only, equal pixel-epochs."""
    import warnings

    warnings.filterwarnings("ignore", category=UserWarning)  # fastai's notices about non-writable arrays
    import torch
    from fastai.vision.all import Callback, CancelValidException, Learner, accuracy, create_head, params
    from torch import nn

    from gaplib.device import default_device
    from gaplib.fastai_data import folder_dls
    from gaplib.folders import shapes_folder
    from gaplib.pretrained import load_pretrained, split_body_head
    from gaplib.train import PLATEAU_TRAIN_ACC, set_seed

    # 05's design: 60 training / 120 validation images, bs 20, fine_tune(7) at 48 px then fine_tune(6) at 96 px;
    # control fine_tune(8) at 96 px = the same pixel-epochs ((7 + 1) * 48**2 + (6 + 1) * 96**2 = (8 + 1) * 96**2)
    small, large, bs, epochs_small, epochs_large, lr, lr_mult = 48, 96, 20, 7, 6, 5e-3, 10
    epochs_control = ((epochs_small + 1) * small**2 + (epochs_large + 1) * large**2) // large**2 - 1
    path = shapes_folder(size=96, n_train=60, n_valid=120)
    device = default_device()
    net = load_pretrained()
    stats, body_nf = (net.preprocess.mean, net.preprocess.std), split_body_head(net.model)[1][1].in_features

    class NoValidation(Callback):
        def before_validate(self):
            raise CancelValidException()

    def loaders(run_seed: int) -> dict:
        set_seed(run_seed)  # fastai's DataLoaders draw their shuffling generator when built: one fresh set per run
        return {s: folder_dls(path, s, bs=bs, device=device, stats=stats) for s in (small, large)}

    def make_learner(dls) -> Learner:
        set_seed(seed)
        body, _ = split_body_head(load_pretrained().model)
        model = nn.Sequential(body, create_head(body_nf, len(dls.vocab))).to(memory_format=torch.channels_last)
        return Learner(dls, model, metrics=accuracy, splitter=lambda m: [params(m[0]), params(m[1])], train_bn=False)

    def fine_tune(learn: Learner, epochs: int) -> None:
        with learn.no_bar(), learn.no_logging():
            learn.fine_tune(epochs, lr, lr_mult=lr_mult, cbs=NoValidation())

    def acc(learn: Learner, dl) -> float:
        with learn.no_bar():
            return float(learn.validate(dl=dl)[1])

    def train_acc(learn: Learner) -> float:  # eval mode, in order: what the plateau criterion reads
        return acc(learn, learn.dls.train.new(shuffle=False, drop_last=False))

    dls = loaders(seed)
    learn = make_learner(dls[small])
    fine_tune(learn, epochs_small)
    train1, valid1_small, valid1_large = train_acc(learn), acc(learn, dls[small].valid), acc(learn, dls[large].valid)
    learn.dls = dls[large]  # progressive resizing: the same model, larger images
    fine_tune(learn, epochs_large)
    train2, valid2_large, valid2_small = train_acc(learn), acc(learn, dls[large].valid), acc(learn, dls[small].valid)
    dls = loaders(seed)
    control = make_learner(dls[large])
    fine_tune(control, epochs_control)
    return {
        "05-control-plateau": (train_acc(control), PLATEAU_TRAIN_ACC),
        "05-stage1-plateau": (train1, PLATEAU_TRAIN_ACC),
        "05-stage2-plateau": (train2, PLATEAU_TRAIN_ACC),
        "05-no-carry-over": (valid1_small, valid1_large),
        "05-forgets-small-size": (valid1_small, valid2_small),
        "05-control-beats-progressive-96": (acc(control, dls[large].valid), valid2_large),
    }


def _nb06(seed: int) -> dict[str, tuple[float, float]]:
    """Notebook 06 section 5: the four downsampling bodies on 500 and 2000 images, and the base pair with shifts."""
    from collections import OrderedDict

    from torch import nn

    from gaplib import data, pool, train
    from gaplib.models import conv_block

    def stage(kind: str, c_in: int, c_out: int) -> list[nn.Module]:
        first = [conv_block(c_in, c_out), conv_block(c_out, c_out, stride=2 if kind == "strided" else 1)]
        extra = (
            [conv_block(c_out, c_out, stride=2 if kind == "all-conv" else 1)]
            if kind in ("ConvPool", "all-conv")
            else []
        )
        return first + extra + ([nn.MaxPool2d(2, ceil_mode=True)] if kind in ("max pool", "ConvPool") else [])

    def down_model(kind: str) -> nn.Sequential:
        layers, c_in = [], 3
        for c_out in (8, 16, 32):
            layers += stage(kind, c_in, c_out)
            c_in = c_out
        head = nn.Sequential(pool.GlobalAvgPool(), nn.Linear(32, len(data.SHAPES)))
        return nn.Sequential(OrderedDict(body=nn.Sequential(*layers), head=head))

    def train_eval(kind: str, n: int, shift: int = 0, epochs: int = 20) -> tuple[float, float]:
        train_dl, valid_dl = data.shapes_loaders(20, n_train=n, n_valid=300, bs=64, seed=0, shift=shift)
        train.set_seed(seed)
        model = down_model(kind)
        hist = train.fit(model, train_dl, valid_dl, epochs=epochs, lr=1e-2, seed=seed, progress=False)
        return hist.valid_acc[-1], hist.final_train_acc

    kinds = ("max pool", "strided", "ConvPool", "all-conv")
    r = {(n, k): train_eval(k, n) for n in (500, 2000) for k in kinds}
    r |= {("500-shift2", k): train_eval(k, 500, shift=2, epochs=40) for k in kinds[:2]}

    def gap(setting: int | str, a: str, b: str) -> float:
        return r[setting, a][0] - r[setting, b][0]

    def lowest_train(setting: int | str) -> tuple[float, float]:
        return min(t for (s, _), (_, t) in r.items() if s == setting), train.PLATEAU_TRAIN_ACC

    pair, ctl = kinds[:2], kinds[2:]
    return {
        "06-maxpool-beats-strided-500": (r[500, "max pool"][0], r[500, "strided"][0]),
        "06-pair-gap-halves-2000": (gap(500, *pair) / 2, gap(2000, *pair)),
        "06-convpool-beats-allconv-500": (r[500, "ConvPool"][0], r[500, "all-conv"][0]),
        "06-convpool-allconv-gap-shrinks-2000": (gap(500, *ctl), gap(2000, *ctl)),
        "06-shift-narrows-pair-gap-500": (gap(500, *pair), gap("500-shift2", *pair)),
        "06-plateau-500": lowest_train(500),
        "06-plateau-2000": lowest_train(2000),
        "06-plateau-500-shift2": lowest_train("500-shift2"),
    }


def _nb07(seed: int) -> dict[str, tuple[float, float]]:
    """Notebook 07 section 3: boxes (IoU >= 0.5 at 20 % and at a held-out-tuned threshold) and pointing, per model."""
    import torch

    from gaplib.cam import box_iou, cam, cam_box, grad_cam, pointing_game, upsample
    from gaplib.data import VALID_SEED_OFFSET, make_loader, make_shapes
    from gaplib.models import flatten_cnn, gap_cnn
    from gaplib.pool import GlobalMaxPool
    from gaplib.train import PLATEAU_TRAIN_ACC, accuracy, fit, set_seed

    size, n, widths, thresholds = 32, 6, (8, 16, 32), (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
    epochs = {"GAP 4x4": 40, "GAP 8x8": 48, "GMP 4x4": 16, "GMP 8x8": 20, "flatten": 20}
    train_set, valid = make_shapes(400, size, seed=0), make_shapes(300, size, seed=VALID_SEED_OFFSET)
    tune = make_shapes(200, size, seed=20_000)
    monitor = valid._replace(images=valid.images[:100], labels=valid.labels[:100], boxes=valid.boxes[:100])
    train_dl, valid_dl = make_loader(train_set, 32, shuffle=True), make_loader(monitor, 256)

    def build(name: str) -> torch.nn.Sequential:  # notebook 07's build(): GAP/GMP at 4x4/8x8 maps, or flatten
        model = flatten_cnn(size, n, widths) if name == "flatten" else gap_cnn(n, widths)
        if name.endswith("8x8"):
            model.body = model.body[:-1]
        if name.startswith("GMP"):
            model.head[0] = GlobalMaxPool()
        return model

    def iou50(maps: torch.Tensor, boxes: torch.Tensor, threshold: float) -> float:
        return (box_iou(cam_box(upsample(maps, size), threshold), boxes) >= 0.5).float().mean().item()

    def scores(model: torch.nn.Module, name: str, class_shift: int = 0) -> dict[str, float]:
        explain = cam if name.startswith("GAP") else grad_cam  # notebook 07's class_maps() and localization()
        maps, tune_maps = (explain(model, s.images, (s.labels + class_shift) % n) for s in (valid, tune))
        tuned = max(thresholds, key=lambda t: iou50(tune_maps, tune.boxes, t))
        pointing = pointing_game(upsample(maps, size), valid.boxes).float().mean().item()
        return {"20": iou50(maps, valid.boxes, 0.2), "tuned": iou50(maps, valid.boxes, tuned), "threshold": tuned,
                "pt": pointing}  # fmt: skip

    r, train_acc, valid_acc = {}, {}, {}
    for name, n_epochs in epochs.items():
        set_seed(seed)
        model = build(name)
        hist = fit(model, train_dl, valid_dl, epochs=n_epochs, lr=1e-2, seed=seed, progress=False)
        train_acc[name], valid_acc[name] = hist.final_train_acc, accuracy(model, valid.images, valid.labels)
        r[name] = scores(model.cpu().eval(), name)
        if name == "GAP 4x4":
            r["wrong class"] = scores(model, name, class_shift=1)
            set_seed(seed)
            r["untrained"] = scores(build(name).eval(), name)
    w, h = (train_set.boxes[:, 2:] - train_set.boxes[:, :2]).mean(0).tolist()
    centred = torch.tensor([size / 2 - w / 2, size / 2 - h / 2, size / 2 + w / 2, size / 2 + h / 2])
    centred_iou = (box_iou(centred.expand(len(valid.boxes), 4), valid.boxes) >= 0.5).float().mean().item()
    centre_pt = _centre_pointing(valid.boxes, size)
    lead = {t: r["GAP 4x4"][t] - r["GMP 4x4"][t] for t in ("20", "tuned")}
    return {
        "07-plateau": (min(train_acc.values()), PLATEAU_TRAIN_ACC),
        "07-flatten-lowest-valid": (min(v for k, v in valid_acc.items() if k != "flatten"), valid_acc["flatten"]),
        "07-gap4-below-centred-box-at-20": (centred_iou, r["GAP 4x4"]["20"]),
        "07-gap4-tuned-beats-centred-box": (r["GAP 4x4"]["tuned"], centred_iou),
        "07-tuning-moves-gap-vs-gmp-4x4": (lead["tuned"], lead["20"]),
        "07-gap8-beats-gmp8-tuned": (r["GAP 8x8"]["tuned"], r["GMP 8x8"]["tuned"]),
        "07-gap8-best-tuned": (r["GAP 8x8"]["tuned"], max(r[k]["tuned"] for k in epochs if k != "GAP 8x8")),
        "07-gap8-points-beat-4x4": (r["GAP 8x8"]["pt"], max(r["GAP 4x4"]["pt"], r["GMP 4x4"]["pt"])),
        "07-gmp8-points-beat-gmp4": (r["GMP 8x8"]["pt"], r["GMP 4x4"]["pt"]),
        "07-gap8-points-beat-centre": (r["GAP 8x8"]["pt"], centre_pt),
        "07-gap8-tuned-beats-centred-box": (r["GAP 8x8"]["tuned"], centred_iou),
        "07-gap4-points-beat-flatten": (r["GAP 4x4"]["pt"], r["flatten"]["pt"]),
        "07-gap4-tuned-beats-flatten": (r["GAP 4x4"]["tuned"], r["flatten"]["tuned"]),
        "07-gap4-tuned-beats-untrained": (r["GAP 4x4"]["tuned"], r["untrained"]["tuned"]),
        "07-gap4-points-beat-untrained": (r["GAP 4x4"]["pt"], r["untrained"]["pt"]),
        "07-gap4-tuned-beats-wrong-class": (r["GAP 4x4"]["tuned"], r["wrong class"]["tuned"]),
        "07-gap4-points-beat-wrong-class": (r["GAP 4x4"]["pt"], r["wrong class"]["pt"]),
        "07-gap4-threshold-above-gmp4": (r["GAP 4x4"]["threshold"], r["GMP 4x4"]["threshold"]),
        "07-gap8-threshold-above-gmp8": (r["GAP 8x8"]["threshold"], r["GMP 8x8"]["threshold"]),
        "07-gmp4-beats-gap4-at-20": (r["GMP 4x4"]["20"], r["GAP 4x4"]["20"]),
        "07-gmp8-beats-gap8-at-20": (r["GMP 8x8"]["20"], r["GAP 8x8"]["20"]),
        "07-gap4-beats-gmp4-tuned": (r["GAP 4x4"]["tuned"], r["GMP 4x4"]["tuned"]),
        "07-gap8-vs-gmp8-pointing": (r["GAP 8x8"]["pt"], r["GMP 8x8"]["pt"]),
        "07-gap4-vs-gmp4-pointing": (r["GAP 4x4"]["pt"], r["GMP 4x4"]["pt"]),
        "07-flatten-vs-gap4-at-20": (r["flatten"]["20"], r["GAP 4x4"]["20"]),
        "07-centre-points-vs-gap4": (centre_pt, r["GAP 4x4"]["pt"]),
    }


COMPARISONS = [
    Comparison(
        "01-gap-beats-every-flatten-head", "01", "GAP valid minus the best flatten head's, 240 images", 0.05, _nb01
    ),
    Comparison("01-flatten-overfits", "01", "flatten head train - valid minus 0.4, 240 images", 0.0, _nb01),
    Comparison("04-gap-beats-fc", "04", "GAP (linear NiN) valid minus FC valid, each at its plateau", 0.1, _nb04),
    Comparison("04-gap-beats-fc-dropout", "04", "GAP (linear NiN) valid minus FC + dropout valid", 0.03, _nb04),
    Comparison("04-gap-overfits-less", "04", "FC's train - valid minus GAP's", 0.1, _nb04),
    Comparison(
        "04-maps-point-below-centre",
        "04",
        "centre pixel's pointing game minus the 4x4 GAP maps' (true class)",
        0.0,
        _nb04_pointing,
    ),
    Comparison(
        "04-maps-point-within-slack",
        "04",
        "centre pixel's pointing + 0.03 minus the 4x4 maps' (the assert)",
        0.0,
        _nb04_pointing,
    ),
    Comparison("05-control-plateau", "05", "control's eval-mode train acc (96 px only) minus 0.98", 0.0, _nb05),
    Comparison("05-stage1-plateau", "05", "progressive stage 1's eval-mode train acc (48 px) minus 0.98", 0.0, _nb05),
    Comparison("05-stage2-plateau", "05", "progressive stage 2's eval-mode train acc (96 px) minus 0.98", 0.0, _nb05),
    Comparison("05-no-carry-over", "05", "stage-1 model's valid at 48 px minus at 96 px", 0.15, _nb05),
    Comparison("05-forgets-small-size", "05", "valid at 48 px after stage 1 minus after stage 2", 0.1, _nb05),
    Comparison(
        "05-control-beats-progressive-96",
        "05",
        "control's valid at 96 px minus progressive's (not asserted)",
        0.0,
        _nb05,
    ),
    Comparison("06-maxpool-beats-strided-500", "06", "max pool valid minus strided valid, 500 images", 0.3, _nb06),
    Comparison("06-pair-gap-halves-2000", "06", "half the pair's valid gap at 500 minus its gap at 2000", 0.0, _nb06),
    Comparison("06-convpool-beats-allconv-500", "06", "ConvPool valid minus all-conv valid, 500 images", 0.0, _nb06),
    Comparison(
        "06-convpool-allconv-gap-shrinks-2000", "06", "ConvPool - all-conv valid gap at 500 minus at 2000", 0.0, _nb06
    ),
    Comparison(
        "06-shift-narrows-pair-gap-500", "06", "pair's valid gap at 500 minus with shift=2 (40 epochs)", 0.0, _nb06
    ),
    Comparison("06-plateau-500", "06", "lowest eval-mode train acc of the 4 bodies, 500 images", 0.0, _nb06),
    Comparison("06-plateau-2000", "06", "lowest eval-mode train acc of the 4 bodies, 2000 images", 0.0, _nb06),
    Comparison(
        "06-plateau-500-shift2", "06", "lowest eval-mode train acc of the pair, 500 images, shift=2", 0.0, _nb06
    ),
    Comparison("07-plateau", "07", "lowest eval-mode train acc of the 5 models minus 0.98", 0.0, _nb07),
    Comparison("07-flatten-lowest-valid", "07", "lowest valid acc of the 4 GAP/GMP models minus flatten's", 0.0, _nb07),
    Comparison(
        "07-gap4-below-centred-box-at-20", "07", "IoU>=0.5 share: centred box minus GAP 4x4 at 20 %", 0.0, _nb07
    ),
    Comparison("07-gap4-tuned-beats-centred-box", "07", "IoU>=0.5 share: GAP 4x4 tuned minus centred box", 0.0, _nb07),
    Comparison("07-tuning-moves-gap-vs-gmp-4x4", "07", "IoU>=0.5, GAP 4x4 - GMP 4x4: tuned minus at 20 %", 0.08, _nb07),
    Comparison("07-gap8-beats-gmp8-tuned", "07", "IoU>=0.5 tuned: GAP 8x8 minus GMP 8x8", 0.0, _nb07),
    Comparison("07-gap8-best-tuned", "07", "IoU>=0.5 tuned: GAP 8x8 minus the best other model", 0.0, _nb07),
    Comparison("07-gap8-points-beat-4x4", "07", "pointing: GAP 8x8 minus the better 4x4 model", 0.0, _nb07),
    Comparison("07-gmp8-points-beat-gmp4", "07", "pointing: GMP 8x8 minus GMP 4x4", 0.0, _nb07),
    Comparison("07-gap8-points-beat-centre", "07", "pointing: GAP 8x8 minus the centre pixel", 0.0, _nb07),
    Comparison("07-gap8-tuned-beats-centred-box", "07", "IoU>=0.5: GAP 8x8 tuned minus the centred box", 0.0, _nb07),
    Comparison("07-gap4-points-beat-flatten", "07", "pointing: GAP 4x4 CAM minus flatten Grad-CAM", 0.0, _nb07),
    Comparison("07-gap4-tuned-beats-flatten", "07", "IoU>=0.5 tuned: GAP 4x4 CAM minus flatten Grad-CAM", 0.0, _nb07),
    Comparison("07-gap4-tuned-beats-untrained", "07", "IoU>=0.5 tuned: GAP 4x4 minus untrained GAP 4x4", 0.0, _nb07),
    Comparison("07-gap4-points-beat-untrained", "07", "pointing: GAP 4x4 minus untrained GAP 4x4", 0.0, _nb07),
    Comparison(
        "07-gap4-tuned-beats-wrong-class", "07", "IoU>=0.5 tuned: GAP 4x4 true class minus wrong class", 0.0, _nb07
    ),
    Comparison("07-gap4-points-beat-wrong-class", "07", "pointing: GAP 4x4 true class minus wrong class", 0.0, _nb07),
    Comparison(
        "07-gap4-threshold-above-gmp4",
        "07",
        "tuned threshold, GAP 4x4 minus GMP 4x4 (notebook: mean of seeds)",
        0.0,
        _nb07,
    ),
    Comparison(
        "07-gap8-threshold-above-gmp8",
        "07",
        "tuned threshold, GAP 8x8 minus GMP 8x8 (notebook: mean of seeds)",
        0.0,
        _nb07,
    ),
    Comparison("07-gmp4-beats-gap4-at-20", "07", "IoU>=0.5 at 20 %: GMP 4x4 minus GAP 4x4 (printed)", 0.0, _nb07),
    Comparison("07-gmp8-beats-gap8-at-20", "07", "IoU>=0.5 at 20 %: GMP 8x8 minus GAP 8x8 (printed)", 0.0, _nb07),
    Comparison("07-gap4-beats-gmp4-tuned", "07", "IoU>=0.5 tuned: GAP 4x4 minus GMP 4x4 (printed)", 0.0, _nb07),
    Comparison("07-gap8-vs-gmp8-pointing", "07", "pointing: GAP 8x8 minus GMP 8x8 (printed)", 0.0, _nb07),
    Comparison("07-gap4-vs-gmp4-pointing", "07", "pointing: GAP 4x4 minus GMP 4x4 (printed)", 0.0, _nb07),
    Comparison(
        "07-flatten-vs-gap4-at-20", "07", "IoU>=0.5 at 20 %: flatten Grad-CAM minus GAP 4x4 CAM (printed)", 0.0, _nb07
    ),
    Comparison("07-centre-points-vs-gap4", "07", "pointing: the centre pixel minus GAP 4x4 (printed)", 0.0, _nb07),
]


def parse_seeds(text: str) -> list[int]:
    """'0-5' or '0,1,2' or '0-2,7' -> a sorted list of seeds."""
    seeds: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        seeds.update(range(int(lo), int(hi or lo) + 1))
    return sorted(seeds)


def sweep(names: list[str], seeds: list[int], device: str) -> Iterator[list[dict]]:
    """Run each experiment once per seed (comparisons that share one run share it); yield each run's rows."""
    unknown = sorted(set(names) - {c.name for c in COMPARISONS} - {c.notebook for c in COMPARISONS})
    if unknown:
        raise SystemExit(f"--only: no comparison or notebook named {unknown}; see --list")
    wanted = [c for c in COMPARISONS if c.name in names or c.notebook in names]
    for run in dict.fromkeys(c.run for c in wanted):
        for seed in seeds:
            t0 = time.perf_counter()
            results = run(seed)
            seconds = time.perf_counter() - t0
            rows = []
            for c in (c for c in wanted if c.run is run):
                a, b = results[c.name]
                margin = a - b
                rows.append(dict(comparison=c.name, notebook=c.notebook, seed=str(seed), device=device,
                                 a=f"{a:.4f}", b=f"{b:.4f}", margin=f"{margin:.4f}",
                                 holds=str(margin > c.need), seconds=f"{seconds:.1f}"))  # fmt: skip
                print(f"{c.name:<38} seed {seed}: margin {margin:+.3f} (needs > {c.need}) {seconds:.0f} s", flush=True)
            yield rows


def write_table(out: Path, rows: list[dict], keep: list[dict]) -> list[dict]:
    """Write `keep`'s rows that `rows` does not replace (same comparison and seed) and `rows`, in sweep order."""
    new = {(r["comparison"], r["seed"]) for r in rows}
    order = [c.name for c in COMPARISONS]
    table = [r for r in keep if (r["comparison"], r["seed"]) not in new] + rows
    table.sort(key=lambda r: (order.index(r["comparison"]) if r["comparison"] in order else len(order), int(r["seed"])))
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(table)
    return table


def main() -> int:
    """Run the sweep and write its table after each run, so a sweep cut short keeps the seeds it finished."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-5", help="seeds, e.g. 0-5 or 0,1,2 (default 0-5)")
    parser.add_argument(
        "--only", nargs="*", default=[c.name for c in COMPARISONS], help="comparisons or notebooks (e.g. 04) to run"
    )
    parser.add_argument("--list", action="store_true", help="print the comparisons and exit")
    parser.add_argument("--out", type=Path, default=None, help="CSV to write (default: seed_sweep_<device>.csv)")
    parser.add_argument(
        "--merge", action="store_true", help="keep the CSV's other rows (same comparison and seed: new)"
    )
    args = parser.parse_args()
    if args.list:
        for c in COMPARISONS:
            print(f"{c.name:<38} needs > {c.need:<5} {c.what}")
        return 0
    from gaplib.device import default_device

    device = default_device().type
    out = args.out or ROOT / "benchmarks" / "reference" / f"seed_sweep_{device}.csv"
    keep = []
    if args.merge and out.exists():
        with out.open() as f:
            keep = list(csv.DictReader(f))
    rows: list[dict] = []
    table = keep
    for batch in sweep(args.only, parse_seeds(args.seeds), device):
        rows += batch
        table = write_table(out, rows, keep)
    flipped = sorted({r["comparison"] for r in rows if r["holds"] != "True"})
    print(f"wrote {len(table)} rows to {out}; " + (f"did not hold on every seed: {flipped}" if flipped else "all held"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
