"""The drift check on a log with a cuisine drift and on one without."""

from __future__ import annotations

from foodrec.data.orderlog import OrderLog
from foodrec.monitoring.check import TrainingQuality, check_drift
from foodrec.monitoring.windows import make_windows


def _check(log: OrderLog, kit, **kwargs: object) -> dict:
    windows = make_windows(log, window_days=7, **kwargs)
    rec = kit.TestPopularity(level="restaurant").fit(log.before(windows.reference_start))
    return check_drift(log, rec, windows, "restaurant")


def test_stable_city_shows_no_drift(stable_log: OrderLog, kit) -> None:
    result = _check(stable_log, kit)
    assert result["drift"] is False and result["exit_code"] == 0 and result["action"] == "none"
    assert {f["feature"] for f in result["inputs"]} == {"area", "meal_time", "cuisine", "basket_value"}
    assert all(f["status"] == "stable" for f in result["inputs"]), result["inputs"]
    assert result["scores"]["status"] == "stable"
    assert result["quality"]["degraded"] is False
    assert abs(result["quality"]["relative_drop"]) < 0.1


def test_cuisine_drift_is_found_and_hurts_quality(drift_log: OrderLog, kit) -> None:
    result = _check(drift_log, kit)  # recent window = days 28..34, all after the drift
    assert result["drift"] is True and result["exit_code"] == 3 and result["action"] == "retrain"
    by_name = {f["feature"]: f for f in result["inputs"]}
    assert by_name["cuisine"]["drifted"] and by_name["cuisine"]["top_changes"][0]["category"] == "thai"
    assert not by_name["area"]["drifted"] and not by_name["meal_time"]["drifted"]
    q = result["quality"]
    assert q["degraded"] and q["recent"] < q["reference"] * 0.9
    assert any("cuisine" in r for r in result["reasons"]) and any("NDCG@10 fell" in r for r in result["reasons"])


def test_training_quality_from_a_manifest_is_used(stable_log: OrderLog, kit) -> None:
    windows = make_windows(stable_log, window_days=7)
    rec = kit.TestPopularity(level="restaurant").fit(stable_log.before(windows.reference_start))
    claimed = TrainingQuality(0.99, "validation at training time (model manifest)")
    result = check_drift(stable_log, rec, windows, "restaurant", training=claimed)
    assert result["quality"]["reference"] == 0.99
    assert result["quality"]["degraded"] and result["drift"]
    assert "model manifest" in result["reasons"][-1]


def test_windows_before_the_drift_show_no_drift(drift_log: OrderLog, kit) -> None:
    result = _check(drift_log, kit, until="2026-02-02")  # recent window ends on day 28, the drift day
    assert result["drift"] is False, result["reasons"]


def test_without_catalogue_or_prices_cuisine_is_skipped_and_baskets_unknown(stable_log: OrderLog, kit) -> None:
    from dataclasses import replace

    bare = replace(stable_log, restaurants=None, orders=stable_log.orders.drop(columns=["order_total"]))
    result = _check(bare, kit)
    assert [f["feature"] for f in result["inputs"]] == ["area", "meal_time", "basket_value"]
    assert result["inputs"][-1]["status"] == "unknown" and result["drift"] is False
    assert any("too little data to judge (under 30 values): basket_value" in w for w in result["warnings"])
