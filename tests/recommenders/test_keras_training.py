"""The training loop's cost controls: validation checks within a pass, the warm-start refit, a bounded search."""

import numpy as np
import pytest

pytest.importorskip("keras")

from foodrec.recommenders.keras import training  # noqa: E402
from foodrec.recommenders.keras.examples import Examples  # noqa: E402
from foodrec.recommenders.keras.toydata import toy_log  # noqa: E402
from foodrec.recommenders.keras.training import TrainConfig, checks_per_pass  # noqa: E402

FAST = {"epochs": 2, "eval_sample": 200, "batch_size": 128, "search": False}


@pytest.fixture(scope="module")
def log():
    return toy_log(n_customers=300, n_restaurants=20, days=30, seed=5)


def test_checks_split_a_pass_into_equal_parts():
    cfg = TrainConfig(check_examples=1000)
    assert [checks_per_pass(n, cfg) for n in (1, 1000, 1001, 5000)] == [1, 1, 2, 5]


class _IdBuilder:
    """Returns the examples' row ids (stored in ``cust``) instead of model inputs."""

    def build(self, ex, force_positives=False):
        return ex.cust, None


def _examples(n: int) -> Examples:
    z = np.zeros(n)
    return Examples(np.arange(n), z, z, z, z, z, np.zeros((n, 1), np.int32))


def test_batches_stream_covers_every_example_once_per_pass_and_follows_the_check():
    Batches, _ = training._dataset_cls()
    n, bs = 50, 4  # 13 batches a pass, checks of 5 batches
    batches = Batches(_IdBuilder(), _examples(n), bs, seed=3, shuffle=True, steps=5)
    seen = []
    for check in range(6):  # 30 batches: two whole passes and part of a third
        batches.check = check
        seen += [batches[i][0] for i in range(len(batches))]
    first, second = np.concatenate(seen[:13]), np.concatenate(seen[13:26])
    assert sorted(first) == list(range(n)) and sorted(second) == list(range(n))
    assert not np.array_equal(first, second)  # each pass has its own order
    batches.check = 4  # a resumed run asking for check 4 gets the same batches again
    assert all(np.array_equal(batches[i][0], seen[20 + i]) for i in range(5))


def test_large_training_sets_are_checked_within_a_pass(log):
    cfg = TrainConfig(**FAST, check_examples=200, refit=False)
    out = training.train(log, "restaurant", cfg)
    n_train = out.validation["n_train_examples"]
    parts = checks_per_pass(n_train, cfg)
    assert parts > 1 and out.validation["checks_per_pass"] == parts
    assert [r["epoch"] for r in out.curves] == list(range(1, len(out.curves) + 1))
    assert 1 / parts <= out.curves[0]["passes"] < 1  # a check is a part of a pass (rounded up to whole batches)
    assert len(out.curves) <= cfg.epochs * parts


def test_refit_is_a_warm_start_on_the_newest_validation_days(log, monkeypatch):
    calls = {}
    real_warm = training.warm_refit

    def spy(prep, cfg, model, examples, progress=None):
        calls["weights"] = [w.copy() for w in model.get_weights()]
        calls["examples"] = examples
        return real_warm(prep, cfg, model, examples, progress)

    def no_scratch(*args, **kwargs):
        raise AssertionError("the default refit must not train from scratch")

    monkeypatch.setattr(training, "warm_refit", spy)
    monkeypatch.setattr(training, "refit", no_scratch)
    cfg = TrainConfig(**FAST, check_examples=50)
    out = training.train(log, "restaurant", cfg)
    assert out.validation["refit"] is True and out.validation["refit_mode"] == "warm"
    cut = out.validation["cutoff_days"]
    ex = calls["examples"]
    # only validation-day examples, the newest ones, at most one check's worth
    assert (
        len(ex)
        == out.validation["n_refit_examples"]
        == min(cfg.check_examples, out.validation["n_validation_examples"])
    )
    assert ex.at.min() >= cut and ex.at.max() == out.prep.examples.at.max()
    # it continued from the trained model: same object, weights moved on from the selected ones
    final = out.model.get_weights()
    assert any(not np.allclose(a, b) for a, b in zip(calls["weights"], final, strict=True))
    drift = max(float(np.abs(a - b).max()) for a, b in zip(calls["weights"], final, strict=True))
    assert drift < 1.0  # a nudge from the trained weights, not a new model


def test_scratch_refit_is_still_available(log, monkeypatch):
    monkeypatch.setattr(training, "warm_refit", lambda *a, **k: pytest.fail("warm refit used"))
    out = training.train(log, "restaurant", TrainConfig(**FAST, warm_refit=False))
    assert out.validation["refit_mode"] == "scratch"
    assert out.validation["n_refit_examples"] == len(out.prep.examples)


@pytest.mark.parametrize("days", [20, 40])
def test_search_sample_does_not_grow_with_the_log(days, monkeypatch):
    log = toy_log(n_customers=200, n_restaurants=20, days=days, seed=1)
    sizes = []

    def fake_train_one(prep, cfg, params, tr, va, cut, epochs, **kwargs):
        sizes.append((len(tr), len(va), epochs))
        return training.RunResult(None, [], 0.1, 1, 0.0, params)

    monkeypatch.setattr(training, "train_one", fake_train_one)
    cfg = TrainConfig(search_max_examples=150, search_eval_sample=50, folds=2, refit=False, select=False)
    training.train(log, "restaurant", cfg)
    search = sizes[:-1]
    assert len(search) == len(training.search_grid(cfg)) * cfg.folds
    assert all(tr <= 150 and va <= 50 and ep == cfg.search_epochs for tr, va, ep in search)
    assert max(tr for tr, _, _ in search) == 150  # both logs are larger than the sample: the cap is what is used


def test_verdict_names_epochs_or_checks_within_passes():
    from foodrec.recommenders.keras.training_report import verdict

    def rows(passes_per_check):
        vals = [0.30, 0.34, 0.33, 0.31]
        return [
            {"epoch": e, "passes": round(e * passes_per_check, 3), "ndcg10": 0.3 + 0.05 * e, "val_ndcg10": v}
            for e, v in enumerate(vals, start=1)
        ]

    label, text = verdict(rows(1.0))
    assert label == "overfitting from epoch 2" and "weights of epoch 2 are kept" in text
    label, text = verdict(rows(1 / 3))
    assert label == "overfitting from check 2 (0.667 passes)" and "epoch" not in text
    assert verdict([])[0] == "no epochs"
