"""The A/B statistics: tests give the textbook numbers, CUPED reduces variance, SRM and guardrails fire."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from foodrec.errors import InputError
from foodrec.experiments.analysis import (
    analyze,
    bootstrap_mean_diff,
    cuped_adjust,
    customer_outcomes,
    proportion_ztest,
    ratio_metric,
    srm_check,
    synthetic_events,
    welch_test,
)


def _events(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["event_id", "type", "customer_id", "variant", "occurred_at", "order_value"])


def test_customer_outcomes_counts_only_orders_after_first_exposure_and_dedupes_event_ids():
    ev = _events([
        ("o0", "order", "c1", "control", "2026-03-01T09:00Z", 50.0),  # before exposure: not counted
        ("i1", "impression", "c1", "control", "2026-03-01T10:00Z", None),
        ("k1", "click", "c1", "control", "2026-03-01T10:01Z", None),
        ("o1", "order", "c1", "control", "2026-03-01T10:02Z", 20.0),
        ("o1", "order", "c1", "control", "2026-03-01T10:02Z", 20.0),  # retried post, same idempotency key
        ("i2", "impression", "c2", "model", "2026-03-01T11:00Z", None),
        ("i3", "impression", "c2", "control", "2026-03-02T11:00Z", None),  # later: still counted in 'model'
        ("o2", "order", "c3", "model", "2026-03-01T11:00Z", 9.0),  # never exposed: not in the experiment
    ])  # fmt: skip
    out = customer_outcomes(ev).set_index("customer_id")
    assert sorted(out.index) == ["c1", "c2"]
    assert out.loc["c1", "orders"] == 1 and out.loc["c1", "revenue"] == 20.0 and out.loc["c1", "clicks"] == 1
    assert out.loc["c2", "variant"] == "model" and out.loc["c2", "variants_seen"] == 2
    assert out.loc["c2", "converted"] == 0


def test_proportion_test_matches_hand_computed_z():
    res = proportion_ztest(x_t=330, n_t=1000, x_c=300, n_c=1000)
    pooled = 630 / 2000
    z = (0.33 - 0.30) / math.sqrt(pooled * (1 - pooled) * (2 / 1000))
    assert res["statistic"] == pytest.approx(z)
    assert res["lift"] == pytest.approx(0.1)
    assert res["lift_low"] < 0.1 < res["lift_high"]
    assert res["diff_low"] < 0.03 < res["diff_high"]


def test_welch_agrees_with_scipy_and_bootstrap_ci_brackets_the_difference():
    from scipy import stats

    rng = np.random.default_rng(0)
    a, b = rng.lognormal(3, 1, 800), rng.lognormal(3, 1, 900) * 1.2
    res = welch_test(b, a)
    assert res["p_value"] == pytest.approx(stats.ttest_ind(b, a, equal_var=False).pvalue)
    boot = bootstrap_mean_diff(b, a, n_boot=500, seed=1)
    assert boot["diff_low"] < res["diff"] < boot["diff_high"]
    # the two CIs describe the same thing: similar width
    assert (boot["diff_high"] - boot["diff_low"]) == pytest.approx(res["diff_high"] - res["diff_low"], rel=0.25)
    assert bootstrap_mean_diff(b, a, n_boot=200, seed=3) == bootstrap_mean_diff(b, a, n_boot=200, seed=3)


def test_cuped_removes_the_variance_explained_by_the_pre_period():
    rng = np.random.default_rng(1)
    x = rng.normal(50, 10, 5000)
    y = 0.8 * x + rng.normal(0, 5, 5000)
    adj, theta, rho2 = cuped_adjust(y, x)
    assert theta == pytest.approx(0.8, abs=0.05)
    assert adj.var() == pytest.approx(y.var() * (1 - rho2), rel=1e-6)
    assert adj.mean() == pytest.approx(y.mean())
    same, theta0, _ = cuped_adjust(y, np.zeros_like(y))  # no pre-period information: unchanged
    assert theta0 == 0.0 and np.array_equal(same, y)


def test_ratio_metric_delta_variance_matches_bootstrap():
    rng = np.random.default_rng(2)
    orders = rng.poisson(1.0, 3000)
    revenue = orders * rng.lognormal(3, 0.5, 3000)
    r, var = ratio_metric(revenue, orders)
    assert r == pytest.approx(revenue.sum() / orders.sum())
    boots = []
    for _ in range(300):
        idx = rng.integers(0, 3000, 3000)
        boots.append(revenue[idx].sum() / orders[idx].sum())
    assert math.sqrt(var) == pytest.approx(np.std(boots), rel=0.2)


def test_srm_flags_a_broken_split_and_accepts_a_planned_uneven_one():
    assert srm_check({"control": 5000, "model": 5100})["ok"]
    assert not srm_check({"control": 5000, "model": 5600})["ok"]
    assert srm_check({"control": 9000, "model": 1010}, {"control": 0.9, "model": 0.1})["ok"]
    with pytest.raises(InputError):
        srm_check({"control": 10, "model": 10}, {"control": 0.5, "other": 0.5})
    # a planned variant nobody reached is a mismatch too
    assert not srm_check({"control": 1000}, {"control": 0.5, "model": 0.5})["ok"]


def test_analyze_finds_a_true_lift_and_cuped_narrows_the_cis():
    events, pre = synthetic_events(20000, lift=0.15, seed=4, with_pre_period=True)
    res = analyze(events, control="control", pre_period=pre, n_boot=200)
    conv = res.comparison("treatment", "conversion")
    assert conv["significant"] and conv["lift_low"] < 0.15 < conv["lift_high"]
    for metric in ("revenue_per_customer", "orders_per_customer"):
        raw = res.comparison("treatment", metric)
        cup = res.comparison("treatment", f"{metric}_cuped")
        assert cup["diff_high"] - cup["diff_low"] < raw["diff_high"] - raw["diff_low"]
        assert cup["diff_low"] < raw["diff"] < cup["diff_high"]
        assert 0 < res.cuped[metric]["variance_reduction"] < 1
    assert res.cuped["available"]
    assert res.srm["ok"]
    assert set(res.guardrails["guardrail"]) == {"average order value"}


def test_analyze_flags_srm_when_customers_are_lost_from_one_arm():
    events = synthetic_events(8000, seed=5)
    lost = events[(events["variant"] == "treatment") & (events["customer_id"].str[-1].isin(["1", "2"]))]
    res = analyze(events.drop(lost.index), n_boot=0)
    assert not res.srm["ok"]


def test_latency_guardrail_is_breached_when_the_treatment_is_much_slower():
    events = synthetic_events(3000, seed=6)
    rng = np.random.default_rng(0)
    events["latency_ms"] = np.where(events["variant"] == "treatment", 80.0, 40.0) + rng.normal(0, 5, len(events))
    res = analyze(events, n_boot=0)
    row = res.guardrails.set_index("guardrail").loc["mean latency (ms)"]
    assert row["status"] == "breached"


def test_analyze_rejects_bad_inputs_with_one_line_errors():
    good = synthetic_events(200, seed=7)
    with pytest.raises(InputError, match="required column"):
        analyze(good.drop(columns=["variant"]))
    with pytest.raises(InputError, match="two variants"):
        analyze(good.assign(variant="control"))
    with pytest.raises(InputError, match="--control"):
        analyze(good, control="nope")
    with pytest.raises(InputError, match="no impressions"):
        analyze(good[good["type"] == "order"])
    with pytest.raises(InputError, match="alpha"):
        analyze(good, alpha=1.5)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["impression", "click", "order", "bogus", None]),
            st.sampled_from(["c1", "c2", "c3", None]),
            st.sampled_from(["control", "model", None]),
            st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=3)),
            st.sampled_from(["2026-03-01T10:00Z", "not a time", None, "2026-03-02"]),
        ),
        max_size=30,
    )
)
def test_arbitrary_event_frames_give_a_result_or_an_input_error(rows):
    ev = pd.DataFrame(
        [(f"e{i}", t, c, v, o, val) for i, (t, c, v, val, o) in enumerate(rows)],
        columns=["event_id", "type", "customer_id", "variant", "occurred_at", "order_value"],
    )
    try:
        res = analyze(ev, n_boot=20)
    except InputError:
        return
    assert set(res.variants["variant"]) >= {res.control}
    assert (res.customers["revenue"] >= 0).all() and np.isfinite(res.customers["revenue"]).all()
