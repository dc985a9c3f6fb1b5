"""Every exercise's check fails on a wrong answer.

Each exercise cell (tagged `exercise`) defines `def test_...(answer)` and calls `check(answer, test_...)`. Here each
cell runs as the learner first sees it (the placeholder `...` untouched) in a namespace that holds the notebook's
imports plus cheap stand-ins for what the notebook computed before (an untrained model where a trained one would
be, a few generated images, a number from the stored run); then its test function gets a wrong answer and must
raise AssertionError (a NameError or TypeError would mean the check is broken, not that it caught the answer).
The wrong answers live here, not in the notebooks; an exercise without one fails `test_every_exercise_has_a_case`.
"""

from __future__ import annotations

import ast
import contextlib
import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


@dataclass
class Case:
    """A wrong answer for one exercise check, and what the exercise cell needs from the notebook's earlier cells."""

    wrong: Callable[[dict], object]  # the namespace after the cell ran -> a wrong answer
    names: Callable[[], dict] = dict  # stand-ins for the notebook's state, made fresh for each case


def exercise_cells(path: Path) -> list[tuple[str, list[str]]]:
    """(source, names of the test functions it passes to check) of each exercise cell of a notebook."""
    found = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code" and "exercise" in cell.metadata.get("tags", []):
            tree = ast.parse(cell.source)
            tests = [
                node.args[1].id
                for node in ast.walk(tree)
                if isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "check"
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Name)
            ]
            found.append((cell.source, tests))
    return found


def imports_of(path: Path) -> dict:
    """A namespace with every top-level import statement of the notebook's code cells executed."""
    ns: dict = {}
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code" or cell.source.startswith("# Colab set-up"):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                with contextlib.suppress(ImportError):
                    exec(compile(ast.Module([node], []), str(path), "exec"), ns)
    return ns


def notebook_defs(path: Path, names: tuple[str, ...], ns: dict) -> None:
    """Execute the notebook's top-level `def`s of `names` into `ns` (helpers an exercise's check calls)."""
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code" and any(f"def {n}(" in cell.source for n in names):
            tree = ast.parse(cell.source)
            nodes = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in names]
            exec(compile(ast.Module(nodes, []), str(path), "exec"), ns)


def shapes(n: int, size: int = 32, seed: int = 0):
    from gaplib.data import make_shapes

    return make_shapes(n, size, seed=seed)


def loader(n: int, size: int = 32):
    from gaplib.data import make_loader

    return make_loader(shapes(n, size), 32)


def untrained(build: Callable[[], torch.nn.Module]) -> torch.nn.Module:
    torch.manual_seed(0)
    return build().eval()


def nb01() -> dict:
    from gaplib.models import flatten_cnn

    return {"N_CLASSES": 6, "model": untrained(lambda: flatten_cnn(32, 6)), "SEEDS": (0, 1, 2),
            "fc": {"train": 1.0, "valid": 0.33}}  # fmt: skip


def nb02() -> dict:
    from gaplib.models import stride_cnn

    return {
        "N_CLASSES": 6,
        "model": untrained(lambda: stride_cnn(32, 6, width=8)),
        "receptive_fields": lambda body: [(None, None, None, 22), (None, None, None, 46)],
        "train_dl": loader(48),
        "valid_dl": loader(48),
    }


def untrained_fcn() -> torch.nn.Module:
    from gaplib.models import stride_cnn

    net = untrained(lambda: stride_cnn(32, 6, width=8))
    net.body = net.body[:-1]
    net.head = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(128, 6))
    return net.eval()


def nb03() -> dict:
    from gaplib.models import post_model

    left = shapes(100)
    return {
        "N_CLASSES": 6,
        # a linear classifier of the raw pixels: cheap, and every padding mode moves its predictions differently
        "gap_net": untrained(lambda: torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 6))),
        "left_valid": left,
        "post_net": untrained(lambda: post_model(10, width=4)),
        "post_hist": SimpleNamespace(valid_acc=[0.9]),
    }


def worst_mode(ns: dict) -> str:
    """The padding mode with the highest mean flip rate: the wrong choice for 'looks most robust'."""
    means = {
        m: sum(ns["flip_rate"](ns["gap_net"], ns["left_valid"].images[:100], [2, 4, 8], mode=m).values())
        for m in ("replicate", "reflect", "constant", "circular")
    }
    assert max(means.values()) > min(means.values()), "the stand-in network should tell the modes apart"
    return max(means, key=means.get)


def nb04() -> dict:
    from gaplib.models import flatten_cnn, nin_net

    drop32 = {"config": "FC + dropout", "seed": 0, "train_acc": 1.0, "valid_acc": 0.69, "plateaued": True}
    return {
        "model": untrained(lambda: nin_net(6, (8, 16, 32))),
        "rows": [drop32],
        "heads": {"FC + dropout": (lambda: flatten_cnn(32, 6, (8, 16, 32), dropout=0.5), 32)},
        "acc": {("FC", 0): 0.70},
    }


def nb05() -> dict:
    import tempfile

    from fastai.learner import Learner

    from gaplib.fastai_data import folder_dls
    from gaplib.folders import write_image_folder

    root = write_image_folder(Path(tempfile.mkdtemp()) / "faces", shapes(12), shapes(6, seed=1))
    dls = folder_dls(root, 32, bs=4, device="cpu")
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, stride=8, padding=1),
        torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 2)),
    )
    learn = Learner(dls, model)
    learn.n_epoch = 3  # as after fine_tune(FT_EPOCHS + 1)
    return {
        "nf": 8,
        "FT_EPOCHS": 2,
        "body": untrained(lambda: torch.nn.Conv2d(3, 8, 3, stride=8, padding=1)),  # a stand-in body: 8 maps, any size
        "faces_dls": dls,
        "learn": learn,
        "runs": {},
        "eval_train_acc": lambda learn: 0.5,
    }


def nb06() -> dict:
    from gaplib.data import shapes_loaders

    loaders = {500: shapes_loaders(20, n_train=60, n_valid=30, bs=64, seed=0)}
    valid_dl = loaders[500][1]
    ns = {"WIDTHS": (8, 16, 32), "C": 32, "N_CLASSES": 6, "SMALL": 500, "loaders": loaders, "valid_dl": valid_dl,
          "valid_images": valid_dl.dataset.tensors[0], "maps_valid": torch.rand(16, 8, 4, 4)}  # fmt: skip
    ns["__defs__"] = ("stage", "down_model", "convs")
    return ns


def nb07() -> dict:
    from gaplib.models import flatten_cnn, gap_cnn

    valid = shapes(60, seed=10_000)
    return {
        "SIZE": 32,
        "N_CLASSES": 6,
        "WIDTHS": (8, 16, 32),
        "gap4": untrained(lambda: gap_cnn(6, (8, 16, 32))),
        "flat": untrained(lambda: flatten_cnn(32, 6, (8, 16, 32))),
        "images": valid.images,
        "labels": valid.labels,
        "boxes": valid.boxes,
        "train_set": shapes(60),
        "centred_row": {"pointing": 0.65},
    }


def untrained_nin8() -> torch.nn.Module:
    from gaplib.models import nin_net

    net = untrained(lambda: nin_net(6, (8, 16, 32)))
    net.body = net.body[:-1]
    return net


def nb08() -> dict:
    def body(x: torch.Tensor) -> torch.Tensor:  # the real body's grid: the size / 32, rounded up
        return torch.zeros(x.shape[0], 1280, math.ceil(x.shape[-2] / 32), math.ceil(x.shape[-1] / 32))

    def top1(images: torch.Tensor, size: int = 224):  # a stand-in network that sees a cat from 44 px on
        return [("tabby" if size >= 44 else "jackfruit", 0.9)] * len(images), None

    return {
        "body": body,
        "device": torch.device("cpu"),
        "chance": {"shapes": 1 / 6},
        "acc": {("pretrained", "GAP", "shapes"): [0.85]},
        "top1": top1,
        "sweep_imgs": torch.rand(1, 3, 8, 8),
        "CATS": ("tabby", "tiger cat"),
    }


def nb09() -> dict:
    return {"head": (256, 2048, 7, 7), "cpu_balance": 12.9, "device": torch.device("cpu"), "runnable": False}


CASES: dict[tuple[str, str], Case] = {
    ("00", "test_big"): Case(lambda ns: ns["data"].make_shapes(4, size=64, seed=3)),
    ("00", "test_counts"): Case(lambda ns: torch.tensor([100, 100, 100, 100, 100, 101])),
    ("01", "test_fc1_params_64"): Case(lambda ns: 64 * 8 * 8 * 256, nb01),  # the biases forgotten
    ("01", "test_accepted"): Case(lambda ns: [32], nb01),
    ("01", "test_kept_scale"): Case(lambda ns: 0.5, nb01),
    ("01", "test_row_480"): Case(
        lambda ns: {"train_acc": 1.0, "valid_acc": 0.36, "overfit": 0.64, "plateaued": True}, nb01
    ),
    ("02", "test_n_layers"): Case(lambda ns: 6, nb02),
    ("02", "test_accepted"): Case(lambda ns: [32], nb02),
    ("02", "test_field_four"): Case(lambda ns: 38, nb02),
    ("02", "test_vgg"): Case(lambda ns: 512 * 7 * 7 * 4096 + 4096, nb02),  # the biases counted too
    ("02", "test_vgg_mib"): Case(lambda ns: 411.0, nb02),  # MB, not MiB
    ("02", "test_fcn"): Case(lambda ns: untrained_fcn(), nb02),
    ("03", "test_pooled_shape"): Case(lambda ns: (2, 8, 3, 1), nb03),
    ("03", "test_predicted_96"): Case(lambda ns: 64 * 12 * 12 * 256 + 256 * 6, nb03),
    ("03", "test_most_robust_mode"): Case(worst_mode, nb03),
    ("03", "test_raw_acc"): Case(lambda ns: 0.9, nb03),  # the centred accuracy, not the raw one
    ("04", "test_nin10_head"): Case(lambda ns: 64 * 10, nb04),
    ("04", "test_mlp10_head"): Case(lambda ns: 64 * 128 + 128 * 10, nb04),
    ("04", "test_map_sides"): Case(lambda ns: (8, 13), nb04),  # 100 px rounded up
    ("04", "test_drop20"): Case(lambda ns: ns["rows"][0], nb04),  # the 32-epoch run
    # the first Linear counted as nf -> 512, forgetting that concat pooling hands it 2 * nf features (at nf = 1280
    # this is 0.993 against 0.995: the check's tolerance must be tighter than that)
    ("05", "test_fraction"): Case(
        lambda ns: ns["nf"] * 512 / (ns["nf"] * 512 + 2 * ns["nf"] + 2 * 512 + 512 * 2), nb05
    ),
    ("05", "test_width"): Case(lambda ns: 512, nb05),  # the max alone: concat pooling hands over max and mean
    # the average, not the maximum, of each map
    ("05", "test_pooled"): Case(
        lambda ns: {s: ns["body"](torch.ones(1, 3, s, s)).mean((2, 3)) for s in (32, 64, 96)}, nb05
    ),
    ("05", "test_longer"): Case(lambda ns: (ns["learn"], 0.9, 0.5), nb05),  # a train accuracy it did not measure
    ("06", "test_gem"): Case(lambda ns: lambda x, p: x.mean((2, 3)), nb06),  # the average at every p
    ("06", "test_more_bodies"): Case(lambda ns: {k: ns["down_model"](k) for k in ("ConvPool", "all-conv")}, nb06),
    ("06", "test_my_pool"): Case(lambda ns: lambda x: x.amax((2, 3)) + 1, nb06),  # above the max
    ("06", "test_k"): Case(lambda ns: 3, nb06),  # leaves a 2 x 2 grid
    ("07", "test_threshold"): Case(lambda ns: 0.95, nb07),
    ("07", "test_nin_cam"): Case(lambda ns: torch.zeros(4, 4, 4), nb07),
    ("07", "test_bill"): Case(lambda ns: (1, 0), nb07),
    ("07", "test_nin8"): Case(lambda ns: untrained_nin8(), nb07),
    ("08", "test_grid"): Case(lambda ns: (9, 6), nb08),
    ("08", "test_knn_acc"): Case(lambda ns: 0.2, nb08),
    ("08", "test_smallest_cat"): Case(lambda ns: 64, nb08),
    ("09", "test_concat_ai"): Case(lambda ns: 0.5, nb09),
    ("09", "test_floor_us"): Case(lambda ns: 35.0, nb09),
    ("09", "test_conv_answer"): Case(lambda ns: (319.0, "memory"), nb09),
    ("09", "test_gmp_answer"): Case(lambda ns: ns["x_ex"].mean((2, 3)), nb09),
}

FOUND = [
    (path, source, test)
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    for source, tests in exercise_cells(path)
    for test in tests
]


def test_every_exercise_has_a_case():
    found = {(path.name[:2], test) for path, _, test in FOUND}
    assert len(found) == len(FOUND), "one test function per exercise, each named once per notebook"
    assert found == set(CASES), (
        f"exercises without a wrong answer here: {sorted(found - set(CASES))}; cases for no exercise: "
        f"{sorted(set(CASES) - found)}"
    )


@pytest.mark.parametrize("path,source,test", FOUND, ids=[f"{p.name[:2]}-{t}" for p, _, t in FOUND])
def test_the_check_fails_on_a_wrong_answer(path, source, test):
    case = CASES.get((path.name[:2], test))
    if case is None:
        pytest.fail(f"{path.name}: {test} has no wrong answer in CASES")
    ns = imports_of(path) | case.names()
    notebook_defs(path, ns.pop("__defs__", ()), ns)
    with contextlib.redirect_stdout(io.StringIO()) as said:
        exec(compile(source, f"{path.name}:{test}", "exec"), ns)  # as the learner first runs it: the ... untouched
        assert "fill in" in said.getvalue() or "skipped" in said.getvalue(), "the untouched cell asks to fill in"
        with pytest.raises(AssertionError):
            ns[test](case.wrong(ns))
