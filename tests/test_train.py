import math

import pytest
import torch
from torch import nn

from gaplib import data, models, train


@pytest.fixture(scope="module")
def loaders():
    return data.shapes_loaders(16, 96, 48, bs=32, seed=0)


def _tiny():
    return models.gap_cnn(6, widths=(8, 16))


def test_fit_history_and_determinism(loaders):
    tr, va = loaders
    runs = []
    for _ in range(2):
        train.set_seed(3)  # the model's initial weights come from the seed too
        runs.append(train.fit(_tiny(), tr, va, epochs=2, seed=3, device="cpu", progress=False))
    h1, h2 = runs
    assert len(h1.train_loss) == len(h1.valid_acc) == 2
    assert h1.valid_acc == h2.valid_acc and h1.train_loss == h2.train_loss
    assert all(0 <= a <= 1 for a in h1.train_acc + h1.valid_acc)
    assert "2 epochs" in repr(h1) and h1.overfit == h1.final_train_acc - h1.valid_acc[-1]


def test_fit_measures_final_train_accuracy_in_eval_mode(loaders):
    tr, va = loaders
    train.set_seed(0)
    model = nn.Sequential(_tiny(), nn.Dropout(0.9))  # heavy dropout: train-mode and eval-mode accuracy differ
    hist = train.fit(model, tr, va, epochs=2, device="cpu", progress=False)
    assert hist.final_train_acc == train.evaluate(model, tr, "cpu")[1]
    assert hist.plateaued == (hist.final_train_acc >= train.PLATEAU_TRAIN_ACC)


def test_fit_scoring_valid_only_after_the_last_epoch_trains_the_same_model(loaders):
    tr, va = loaders
    runs = {}
    for each_epoch in (True, False):
        train.set_seed(5)
        model = _tiny()
        hist = train.fit(model, tr, va, epochs=3, seed=5, device="cpu", progress=False, valid_each_epoch=each_epoch)
        runs[each_epoch] = hist, model.state_dict()
    (every, weights), (last, weights_last) = runs[True], runs[False]
    assert all(torch.equal(weights[k], weights_last[k]) for k in weights), "scoring valid must not change training"
    assert last.train_loss == every.train_loss and last.final_train_acc == every.final_train_acc
    assert last.valid_acc[-1] == every.valid_acc[-1] and last.valid_loss[-1] == every.valid_loss[-1]
    assert all(math.isnan(v) for v in last.valid_acc[:-1] + last.valid_loss[:-1]), "unscored epochs are NaN"
    assert last.overfit == every.overfit and "3 epochs" in repr(last)


def test_fit_says_which_epochs_it_did_not_score(loaders, capsys):
    tr, va = loaders
    train.fit(_tiny(), tr, va, epochs=2, device="cpu", progress=True, valid_each_epoch=False)
    out = capsys.readouterr().out
    assert "epoch 1/2: " in out and "valid not scored" in out.split("epoch 2/2")[0]
    assert "valid loss" in out.split("epoch 2/2")[1]


def test_plateau_criterion_is_one_threshold_on_eval_mode_train_accuracy():
    assert train.reached_plateau(train.PLATEAU_TRAIN_ACC) and train.reached_plateau(1.0)
    assert not train.reached_plateau(train.PLATEAU_TRAIN_ACC - 0.001)
    assert train.History(final_train_acc=0.999).plateaued and not train.History(final_train_acc=0.9).plateaued
    with pytest.raises(ValueError, match="no final_train_acc"):
        _ = train.History().plateaued
    with pytest.raises(ValueError, match="train_acc must be in \\[0, 1\\]"):
        train.reached_plateau(1.5)


def test_fit_learns(loaders):
    tr, va = loaders
    m = _tiny()
    before = train.evaluate(m, tr, "cpu")[0]
    h = train.fit(m, tr, va, epochs=4, device="cpu", progress=False)
    assert h.train_loss[-1] < h.train_loss[0] and train.evaluate(m, tr, "cpu")[0] < before


def test_fit_shows_progress(loaders, capsys):
    tr, va = loaders
    train.fit(_tiny(), tr, va, epochs=1, device="cpu", progress=True)
    assert "epoch 1/1" in capsys.readouterr().out


def test_predict_and_accuracy():
    m = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 2))
    x = torch.randn(10, 3, 4, 4)
    logits = train.predict(m, x, bs=3, device="cpu")
    assert logits.shape == (10, 2)
    assert train.accuracy(m, x, logits.argmax(1)) == 1.0


def test_set_seed_repeats():
    train.set_seed(5)
    a = torch.randn(3)
    train.set_seed(5)
    assert torch.equal(a, torch.randn(3))


def test_history_repr_of_a_partly_filled_history_says_so():
    assert repr(train.History(train_loss=[1.0])) == (
        "History(partly filled: train_loss 1, train_acc 0, valid_loss 0, valid_acc 0 epochs)"
    )


def test_final_train_accuracy_of_an_augmented_loader_is_measured_on_the_images_as_they_are():
    sample = data.make_shapes(48, 16, seed=0)
    shifted = data.make_loader(sample, bs=16, shuffle=True, shift=3)
    train.set_seed(0)
    model = _tiny()
    hist = train.fit(model, shifted, data.make_loader(sample, bs=16), epochs=2, device="cpu", progress=False)
    assert hist.final_train_acc == train.evaluate(model, data.make_loader(sample, bs=16), "cpu")[1]
