"""Power, sample size and the roll-out decision."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from foodrec.errors import InputError
from foodrec.experiments.analysis import analyze, synthetic_events
from foodrec.experiments.decision import KEEP_RUNNING, ROLL_OUT, STOP, decide
from foodrec.experiments.power import power_proportion, sample_size_mean, sample_size_proportion


def test_sample_size_matches_the_textbook_formula():
    # n = (z_a/2 + z_b)^2 * 2 sd^2 / delta^2 for a mean; 7.849 * 2 * 1600 / 1 = 25118
    assert sample_size_mean(mean=20, sd=40, mde=0.05) == pytest.approx(25118, abs=2)
    n = sample_size_proportion(0.2, 0.1)
    assert power_proportion(0.2, 0.1, n) == pytest.approx(0.8, abs=0.002)
    assert power_proportion(0.2, 0.1, n // 2) < 0.8 < power_proportion(0.2, 0.1, n * 2)
    # smaller effects and stricter alpha need more customers
    assert sample_size_proportion(0.2, 0.05) > n
    assert sample_size_proportion(0.2, 0.1, alpha=0.01) > n


@given(st.floats(allow_nan=True, allow_infinity=True), st.floats(allow_nan=True, allow_infinity=True))
def test_sizing_bad_inputs_raise_input_errors(p, mde):
    try:
        n = sample_size_proportion(p, mde)
    except InputError:
        return
    assert n > 0


@pytest.mark.parametrize("primary", ["conversion", "orders_per_customer"])
def test_decision_rolls_out_a_clear_winner(primary):
    res = analyze(synthetic_events(20000, lift=0.15, seed=11), n_boot=0, primary=primary)
    d = decide(res, mde=0.05)
    assert d.action == ROLL_OUT and d.variant == "treatment"
    assert f"raises {primary.replace('_', ' ')}" in d.reasons[0]


def test_decision_stops_a_clear_loser():
    d = decide(analyze(synthetic_events(20000, lift=-0.15, seed=12), n_boot=0), mde=0.05)
    assert d.action == STOP and d.variant is None
    assert "lowers orders per customer" in d.reasons[0]


def test_decision_keeps_running_an_underpowered_test_and_says_how_many_more():
    res = analyze(synthetic_events(1000, lift=0.0, seed=13), n_boot=0)
    d = decide(res, mde=0.05)
    assert d.action == KEEP_RUNNING
    assert d.required_per_arm > d.current_per_arm
    assert d.more_customers == (d.required_per_arm - d.current_per_arm) * 2
    assert f"{d.more_customers:,}" in d.reasons[-1]


def test_decision_stops_a_well_powered_null_and_on_sample_ratio_mismatch():
    res = analyze(synthetic_events(8000, lift=0.0, seed=14), n_boot=0, primary="conversion")
    d = decide(res, mde=0.25)  # 8000 customers are plenty for a 25% lift
    if res.comparison("treatment", "conversion")["significant"]:  # 5% chance by construction; seed fixed
        pytest.fail("seed 14 was chosen to give a null result")
    assert d.action == STOP and "smaller than that" in d.reasons[-1]
    events = synthetic_events(8000, lift=0.3, seed=15)
    lost = events[(events["variant"] == "treatment") & events["customer_id"].str.endswith(("1", "2", "3"))]
    d = decide(analyze(events.drop(lost.index), n_boot=0))
    assert d.action == STOP and "sample-ratio mismatch" in d.reasons[0]


@pytest.mark.parametrize("primary", ["revenue_per_customer", "orders_per_customer"])
def test_cuped_on_the_primary_metric_needs_fewer_customers(primary):
    events, pre = synthetic_events(4000, lift=0.0, seed=16, with_pre_period=True)
    plain = decide(analyze(events, primary=primary, n_boot=0), mde=0.05)
    cuped = decide(analyze(events, primary=primary, pre_period=pre, n_boot=0), mde=0.05)
    assert cuped.required_per_arm < plain.required_per_arm
    assert cuped.power_detail.get("cuped") and "(CUPED)" in cuped.reasons[0]


def test_three_arms_split_alpha_and_roll_out_the_best_treatment():
    a = synthetic_events(16000, lift=0.10, seed=31)
    b = synthetic_events(16000, lift=0.0, seed=32, variants=("control", "same"))
    b = b[b["variant"] == "same"].assign(
        customer_id=lambda f: "b" + f["customer_id"], event_id=lambda f: "b" + f["event_id"]
    )
    res = analyze(pd.concat([a, b], ignore_index=True), n_boot=0)
    assert res.treatments == ["same", "treatment"]
    assert any("Bonferroni" in n for n in res.notes)
    assert res.comparisons["p_value"].notna().all()
    assert res.comparison("same", "orders_per_customer")["significant"] == (
        res.comparison("same", "orders_per_customer")["p_value"] < 0.025
    )
    d = decide(res, mde=0.05)
    assert d.action == ROLL_OUT and d.variant == "treatment"
