"""PSI and KS: zero for equal samples, large for shifted ones, never negative, safe on odd input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from foodrec.monitoring.drift import (
    MISSING,
    OTHER,
    categorical_psi,
    category_shares,
    compare_categorical,
    compare_numeric,
    numeric_psi,
    psi_status,
    quantile_edges,
)


def test_same_distribution_is_stable_and_a_shift_is_major() -> None:
    rng = np.random.default_rng(1)
    ref = rng.lognormal(3.5, 0.4, 4000)
    same = compare_numeric("basket_value", ref, rng.lognormal(3.5, 0.4, 4000))
    shifted = compare_numeric("basket_value", ref, rng.lognormal(3.9, 0.4, 4000))
    assert same.status == "stable" and not same.drifted
    assert same.psi < 0.02 and same.ks_statistic < 0.05
    assert shifted.drifted and shifted.psi > 0.25 and shifted.ks_pvalue < 1e-6
    assert shifted.recent_summary["median"] > shifted.reference_summary["median"]


def test_psi_of_identical_samples_is_zero() -> None:
    values = np.arange(1000.0)
    assert numeric_psi(values, values) == pytest.approx(0.0, abs=1e-12)
    assert categorical_psi(["a", "b", "b"], ["a", "b", "b"]) == pytest.approx(0.0, abs=1e-12)


def test_bins_come_from_the_reference_only() -> None:
    ref = np.arange(100.0)
    # everything recent falls above the reference's top edge: one bin holds it all
    assert numeric_psi(ref, np.full(100, 1e6)) > 1.0
    assert quantile_edges(np.ones(50)).tolist() == [1.0]  # constant reference: "at most 1" and "above 1"
    assert numeric_psi(np.ones(50), np.ones(50)) == pytest.approx(0.0, abs=1e-12)
    assert numeric_psi(np.ones(50), np.full(50, 2.0)) > 1.0


def test_psi_status_thresholds() -> None:
    assert [psi_status(v) for v in (0.0, 0.099, 0.1, 0.249, 0.25, 3.0)] == [
        "stable", "stable", "moderate", "moderate", "major", "major",
    ]  # fmt: skip
    assert psi_status(float("nan")) == "unknown"


def test_new_and_missing_categories() -> None:
    shares = category_shares(["a", "a", None, "b"], ["z", "z", "a", None])
    assert shares.set_index("category").loc[OTHER, "recent"] == pytest.approx(0.5)
    assert shares.set_index("category").loc[MISSING, "reference"] == pytest.approx(0.25)
    assert shares["reference"].sum() == pytest.approx(1.0) and shares["recent"].sum() == pytest.approx(1.0)


def test_categorical_shift_names_the_category_that_moved() -> None:
    ref = ["pizza"] * 400 + ["thai"] * 100 + ["sushi"] * 500
    new = ["pizza"] * 200 + ["thai"] * 600 + ["sushi"] * 200
    result = compare_categorical("cuisine", ref, new)
    assert result.drifted
    assert result.top_changes[0]["category"] == "thai"
    assert result.top_changes[0]["recent"] == pytest.approx(0.6)


def test_too_little_data_is_unknown_not_drift_and_serialises() -> None:
    result = compare_numeric("basket_value", [1.0, 2.0], [3.0] * 100)
    assert result.status == "unknown" and not result.drifted
    payload = result.to_dict()
    assert payload["psi"] is None  # NaN becomes null: valid JSON
    json.dumps(payload, allow_nan=False)
    assert compare_categorical("area", [], ["a"] * 50).status == "unknown"
    assert math.isnan(numeric_psi([], [1.0]))


def test_nan_and_inf_are_ignored() -> None:
    ref = np.r_[np.arange(100.0), np.nan, np.inf]
    assert numeric_psi(ref, np.arange(100.0)) == pytest.approx(0.0, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=200),
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=200),
    st.integers(2, 20),
)
def test_numeric_psi_is_finite_and_non_negative(ref: list[float], new: list[float], bins: int) -> None:
    value = numeric_psi(ref, new, bins)
    assert math.isfinite(value) and value >= -1e-12


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.text(max_size=3)), min_size=1, max_size=100),
    st.lists(st.one_of(st.none(), st.text(max_size=3)), min_size=1, max_size=100),
)
def test_categorical_psi_is_finite_and_non_negative(ref: list[str | None], new: list[str | None]) -> None:
    value = categorical_psi(ref, new, max_categories=5)
    assert math.isfinite(value) and value >= -1e-12
