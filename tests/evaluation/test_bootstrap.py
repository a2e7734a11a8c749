"""Bootstrap CIs over queries: seeded, sensible, and in line with scipy's percentile bootstrap."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from foodrec.errors import InputError
from foodrec.evaluation.bootstrap import bootstrap_ci, paired_difference


def test_same_seed_same_interval_and_the_mean_is_inside():
    values = pd.DataFrame({"hr": np.random.default_rng(1).integers(0, 2, 500).astype(float)})
    a, b = bootstrap_ci(values, n_boot=300, seed=7), bootstrap_ci(values, n_boot=300, seed=7)
    pd.testing.assert_frame_equal(a, b)
    assert a.loc["hr", "ci_low"] < a.loc["hr", "mean"] < a.loc["hr", "ci_high"]


def test_constant_metric_has_a_zero_width_interval():
    ci = bootstrap_ci(pd.DataFrame({"ndcg": [0.5] * 50}), n_boot=100)
    assert ci.loc["ndcg"].tolist() == pytest.approx([0.5, 0.5, 0.5])


def test_matches_scipy_percentile_bootstrap():
    x = np.random.default_rng(3).exponential(size=400)
    ours = bootstrap_ci(pd.DataFrame({"m": x}), n_boot=4000, seed=0).loc["m"]
    ref = stats.bootstrap(
        (x,),
        np.mean,
        n_resamples=4000,
        method="percentile",
        confidence_level=0.95,
        random_state=np.random.default_rng(0),
    ).confidence_interval
    assert ours["ci_low"] == pytest.approx(ref.low, abs=0.02)
    assert ours["ci_high"] == pytest.approx(ref.high, abs=0.02)


def test_paired_difference_is_narrower_than_separate_intervals():
    rng = np.random.default_rng(5)
    base = rng.random(800)
    a = pd.DataFrame({"ndcg": base + 0.02})
    b = pd.DataFrame({"ndcg": base})
    diff = paired_difference(a, b, n_boot=500)
    assert diff.loc["ndcg", "diff"] == pytest.approx(0.02)
    assert diff.loc["ndcg", "ci_low"] == pytest.approx(0.02) and bool(diff.loc["ndcg", "significant"])
    same = paired_difference(b, b, n_boot=200)
    assert same.loc["ndcg", "diff"] == 0 and not bool(same.loc["ndcg", "significant"])


def test_paired_difference_needs_the_same_queries():
    with pytest.raises(InputError, match="same queries"):
        paired_difference(pd.DataFrame({"hr": [1.0]}), pd.DataFrame({"hr": [1.0, 0.0]}))
    with pytest.raises(InputError):
        bootstrap_ci(pd.DataFrame({"hr": [1.0]}), n_boot=0)
