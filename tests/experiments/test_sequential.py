"""The always-valid test (mSPRT): its boundary, its false positives under daily looks, and the abtest command."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from foodrec.cli import main
from foodrec.experiments.analysis import synthetic_events
from foodrec.experiments.sequential import msprt, sequential_path


def test_the_boundary_is_one_over_alpha_and_widens_with_the_variance():
    var, tau2 = 0.01, 0.02
    # Lambda = 1/alpha exactly where the confidence sequence touches 0
    half = msprt(0.0, var, tau2)["high"]
    at_edge = msprt(half, var, tau2)
    assert at_edge["lambda"] == pytest.approx(20.0, rel=1e-9) and at_edge["p_value"] == pytest.approx(0.05)
    assert msprt(half * 1.01, var, tau2)["p_value"] < 0.05 < msprt(half * 0.99, var, tau2)["p_value"]
    # the always-valid boundary is wider than the fixed-horizon z boundary (the price of peeking)
    assert half > 1.96 * math.sqrt(var)
    assert msprt(0.0, 4 * var, tau2)["high"] > half


def test_the_running_p_value_never_rises():
    rng = np.random.default_rng(0)
    looks = [(rng.normal(0, 1, n), rng.normal(0, 1, n)) for n in range(50, 2000, 150)]
    p = [r["p_value"] for r in sequential_path(looks, mde=0.1, tau=0.1)]
    assert all(b <= a for a, b in zip(p, p[1:], strict=False))


@pytest.mark.slow
def test_false_positives_stay_below_alpha_under_daily_looks_and_a_real_effect_is_found():
    rng = np.random.default_rng(3)
    hits, runs = 0, 400
    for _ in range(runs):
        t, c = rng.poisson(2.0, 3000).astype(float), rng.poisson(2.0, 3000).astype(float)
        looks = [(t[: n * 214], c[: n * 214]) for n in range(1, 15)]  # 14 daily looks
        hits += sequential_path(looks, mde=0.05)[-1]["significant"]
    # mSPRT: P(ever significant) <= alpha; with 400 runs the share stays below 0.05 + 2.5 sd
    assert hits / runs <= 0.05 + 2.5 * math.sqrt(0.05 * 0.95 / runs)
    t, c = rng.poisson(2.3, 3000).astype(float), rng.poisson(2.0, 3000).astype(float)
    path = sequential_path([(t[: n * 214], c[: n * 214]) for n in range(1, 15)], mde=0.05)
    assert path[-1]["significant"] and path[-1]["lift_low"] > 0


def test_abtest_sequential_writes_the_daily_path_and_decides(tmp_path):
    ev = synthetic_events(6000, lift=0.3, seed=5)
    ev["occurred_at"] = pd.to_datetime(ev["occurred_at"], utc=True)
    path = tmp_path / "events.csv"
    ev.to_csv(path, index=False)
    out = tmp_path / "ab.json"
    args = ["abtest", "--events", str(path), "--sequential", "--mde", "0.2", "--n-boot", "0", "--json-out", str(out)]
    assert main(args) == 0
    import json

    result = json.loads(out.read_text())
    seq = result["sequential"]["treatments"]["treatment"]
    stop = seq["first_significant_look"]  # the verdict is the one of the look where the test stopped
    assert len(seq["looks"]) >= 2 and seq["p_value"] == seq["looks"][stop]["p_value"] < 0.05
    assert result["decision"]["action"] == "roll out" and result["decision"]["power_detail"]["sequential"]


def test_sequential_on_conversion_is_a_one_line_error(tmp_path, capsys):
    path = tmp_path / "events.csv"
    synthetic_events(500, lift=0.0, seed=1).to_csv(path, index=False)
    code = main(["abtest", "--events", str(path), "--sequential", "--primary", "conversion", "--n-boot", "0",
                 "--json-out", str(tmp_path / "x.json")])  # fmt: skip
    assert code == 2 and "--sequential reads" in capsys.readouterr().err


def test_group_sequential_boundaries_spend_alpha_obrien_fleming_style():
    from foodrec.experiments.sequential import gst_boundaries, obf_spent

    fractions = [k / 14 for k in range(1, 15)]
    bounds = gst_boundaries(fractions, 0.05)
    assert all(b >= a for a, b in zip(bounds[1:], bounds, strict=False))  # strict early, easing to the end
    assert 1.96 < bounds[-1] < 2.2 and obf_spent(1.0, 0.05) == pytest.approx(0.05)
    # on fresh Brownian paths, the chance of ever crossing is alpha
    rng = np.random.default_rng(9)
    w = np.cumsum(rng.standard_normal((40_000, 14)) * math.sqrt(1 / 14), axis=1)
    crossed = (np.abs(w) / np.sqrt(fractions) >= bounds).any(axis=1).mean()
    assert abs(crossed - 0.05) < 0.006


@pytest.mark.slow
def test_group_sequential_false_positives_and_power_under_daily_looks():
    from foodrec.experiments.sequential import gst_path

    rng = np.random.default_rng(4)

    def run(effect):
        t, c = rng.poisson(2.0 * (1 + effect), 3000).astype(float), rng.poisson(2.0, 3000).astype(float)
        looks = [(t[: n * 214], c[: n * 214]) for n in range(1, 15)]
        return any(r["significant"] for r in gst_path(looks, 14 * 214, paths=50_000))

    runs = 300
    assert np.mean([run(0.0) for _ in range(runs)]) <= 0.05 + 2.5 * math.sqrt(0.05 * 0.95 / runs)
    assert np.mean([run(0.06) for _ in range(100)]) > 0.7  # fixed-horizon power here is about 0.85


def test_abtest_group_sequential_needs_a_known_method(tmp_path, capsys):
    path = tmp_path / "events.csv"
    synthetic_events(500, lift=0.0, seed=1).to_csv(path, index=False)
    code = main(["abtest", "--events", str(path), "--sequential", "--sequential-method", "bayes", "--n-boot", "0",
                 "--json-out", str(tmp_path / "x.json")])  # fmt: skip
    assert code == 2 and "choose msprt or gst" in capsys.readouterr().err
    out = tmp_path / "gst.json"
    code = main(["abtest", "--events", str(path), "--sequential", "--sequential-method", "gst", "--planned-per-arm",
                 "250", "--n-boot", "0", "--json-out", str(out)])  # fmt: skip
    assert code == 0
    import json

    seq = json.loads(out.read_text())["sequential"]
    assert seq["planned_per_arm"] == 250 and seq["method"].startswith("group-sequential")
