"""The time-zone check: a shifted two-peak hour profile gives back its shift, and a UTC log of a city elsewhere
gets a --timezone suggestion from ingest and the EDA (a city ingested with its zone gets none)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from foodrec.cli import main
from foodrec.data.timezone_check import (
    MEAL_MIDPOINT,
    best_offset,
    meal_peaks,
    timezone_hint,
    typical_profile,
    zones_with_offset,
)

HOURS = np.arange(24) + 0.5


def two_peaks(lunch: float, dinner: float, widths: tuple[float, float], heights: tuple[float, float]) -> np.ndarray:
    def bump(centre: float, width: float) -> np.ndarray:
        return np.exp(-0.5 * (((HOURS - centre + 12) % 24 - 12) / width) ** 2)

    return heights[0] * bump(lunch, widths[0]) + heights[1] * bump(dinner, widths[1]) + 0.01


def on_utc_clock(local_counts: np.ndarray, offset: int) -> np.ndarray:
    """The same orders counted by UTC hour, for a city at UTC+offset (local hour h = UTC hour h - offset)."""
    return np.roll(local_counts, -offset)


@settings(max_examples=300, deadline=None)
@given(
    shift=st.integers(-11, 12),
    midpoint=st.floats(MEAL_MIDPOINT - 0.25, MEAL_MIDPOINT + 0.25),
    gap=st.floats(5.5, 8.0),
    widths=st.tuples(st.floats(0.7, 1.8), st.floats(0.7, 1.8)),
    heights=st.tuples(st.floats(0.3, 1.0), st.floats(0.3, 1.0)),
    orders=st.integers(300, 100_000),
)
def test_any_shift_of_a_two_peak_day_is_recovered(shift, midpoint, gap, widths, heights, orders) -> None:
    # Lunch may be the bigger or the smaller peak, broad or narrow: which peak is lunch comes from the gaps.
    day = two_peaks(midpoint - gap / 2, midpoint + gap / 2, widths, heights)
    counts = np.round(day / day.sum() * orders)
    fit = best_offset(on_utc_clock(counts, shift))
    assert fit.offset == shift, (fit.estimate, fit.offset)


@settings(max_examples=100, deadline=None)
@given(shift=st.integers(-11, 12), orders=st.integers(1_000, 50_000), seed=st.integers(0, 2**32 - 1))
def test_a_sampled_typical_day_gives_its_shift(shift, orders, seed) -> None:
    counts = np.random.default_rng(seed).poisson(typical_profile() * orders)
    assert best_offset(on_utc_clock(counts, shift)).offset == shift


def test_lunch_is_told_from_dinner_by_the_gaps_not_the_heights() -> None:
    lunch_heavy = two_peaks(11.75, 18.5, (1.5, 0.8), (2.0, 0.6))
    assert meal_peaks(lunch_heavy)[0] == pytest.approx(11.75, abs=0.3)
    assert best_offset(on_utc_clock(lunch_heavy * 100, 4)).offset == 4


def test_one_peak_is_not_two_meals() -> None:
    one = two_peaks(12.0, 18.5, (1.5, 1.5), (1.0, 0.0))
    assert meal_peaks(one) is None
    assert -12 <= best_offset(one).offset <= 14  # falls back to the best correlation with a typical day


def test_hint_names_zones_with_that_offset_on_the_logs_dates() -> None:
    utc = on_utc_clock(np.round(typical_profile() * 5000), -8)
    winter = timezone_hint(utc, "UTC", "2026-01-15")
    assert winter is not None and winter.utc_offset == -8
    assert winter.zones[0] == "America/Los_Angeles" and winter.zones[-1] == "Etc/GMT+8"
    assert "--timezone America/Los_Angeles" in winter.message() and "11:00" in winter.message()
    summer = timezone_hint(on_utc_clock(np.round(typical_profile() * 5000), -7), "UTC", "2026-07-15")
    assert summer is not None and summer.zones[0] == "America/Los_Angeles"  # PDT is UTC-7
    assert zones_with_offset(9, "2026-01-15")[:1] == ["Asia/Tokyo"]


def test_no_hint_when_the_zone_fits_or_the_data_cannot_tell() -> None:
    local = np.round(typical_profile() * 5000)
    assert timezone_hint(local, "America/Los_Angeles", "2026-01-15") is None  # already local
    assert timezone_hint(on_utc_clock(local, 1), "UTC", "2026-01-15") is None  # Berlin in UTC: within habits
    assert timezone_hint(on_utc_clock(np.round(typical_profile() * 100), -8), "UTC", "2026-01-15") is None
    # the store's zone is wrong the other way: a Tokyo log read in Los Angeles time
    wrong = timezone_hint(on_utc_clock(local, 9 - -8), "America/Los_Angeles", "2026-01-15")
    assert wrong is not None and wrong.utc_offset == 9


# -- generated cities written in UTC ------------------------------------------------------------------------
def _city(root: Path, zone: str) -> Path:
    out = root / zone.replace("/", "_")
    assert main(["generate", "--out", str(out), "--preset", "small", "--days", "14", "--customers", "1500",
                 "--restaurants", "40", "--timezone", zone]) == 0  # fmt: skip
    return out


@pytest.mark.parametrize(("zone", "offset"), [("America/Los_Angeles", -8), ("Asia/Tokyo", 9)])
def test_a_utc_export_of_a_city_gets_the_suggestion(tmp_path, capsys, zone, offset) -> None:
    city = _city(tmp_path, zone)
    store = tmp_path / "store"
    assert main(["ingest", str(city / "orders.csv"), "--store", str(store)]) == 0  # no city.json: read as UTC
    out = capsys.readouterr().out
    label = f"UTC{offset:+d}".replace("-", "−")
    assert f"at {label} they would be" in out and f"--timezone {zone}" in out
    if offset != -8:
        return
    assert main(["eda", "--store", str(store), "--out", str(tmp_path / "eda.html")]) == 0
    hint = json.loads((tmp_path / "eda.json").read_text())["volume"]["timezone_hint"]
    assert hint["utc_offset"] == offset and hint["zones"][0] == zone
    assert "Are the times in the right zone?" in (tmp_path / "eda.html").read_text()
    assert f"--timezone {zone}" in capsys.readouterr().out


def test_a_city_ingested_with_its_zone_gets_no_suggestion(tmp_path, capsys) -> None:
    from foodrec.data.store import Store
    from foodrec.explore.figures import prepare, volume

    city = _city(tmp_path, "America/Los_Angeles")
    assert main(["ingest", str(city), "--store", str(tmp_path / "store")]) == 0  # city.json names the zone
    assert "--timezone" not in capsys.readouterr().out
    log = Store.open(tmp_path / "store").order_log()
    assert volume(prepare(log.orders, log.timezone))["timezone_hint"] is None
