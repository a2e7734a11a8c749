"""A small store and the JSON results of the other steps, in the shapes those steps write."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from foodrec.data.store import Store

AREAS = [f"9q5c{i}" for i in range(6)]


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    n = 3000
    at = pd.Timestamp("2026-01-05", tz="UTC") + pd.to_timedelta(rng.integers(0, 28 * 24 * 60, n), unit="min")
    orders = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(n)],
            "customer_id": [f"c{j}" for j in rng.zipf(1.6, n) % 900],
            "ordered_at": at,
            "area": rng.choice(AREAS, n, p=[0.35, 0.25, 0.15, 0.12, 0.08, 0.05]),
            "restaurant_id": [f"r{j}" for j in rng.integers(0, 40, n)],
            "order_total": rng.lognormal(3.5, 0.4, n).round(2),
        }
    )
    path = tmp_path_factory.mktemp("stores") / "store"
    s = Store.create(path)
    s.write_orders_part(orders)
    s.set_meta(timezone="America/Los_Angeles")
    (path / "ingest_summary.json").write_text(
        json.dumps({"sources": {}, "totals": {"read": 3100, "accepted": 3000, "quarantined": 60, "duplicates": 40}})
    )
    return path


def _segments(base: float, slope: float = 0.0) -> list[dict]:
    """Per-area rows: NDCG falls by ``slope`` from the area with most orders to the one with fewest."""
    rows = [
        {"segment": "area", "value": a, "ndcg": base + slope * (5 - i) / 5, "hr": 0.5, "n": 300 - 40 * i}
        for i, a in enumerate(AREAS)
    ]
    rows += [
        {"segment": "customer_type", "value": "new", "ndcg": base - 0.1, "hr": 0.3, "n": 200},
        {"segment": "customer_type", "value": "returning", "ndcg": base + 0.1, "hr": 0.6, "n": 1000},
    ]
    return rows


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    out = tmp_path / "results"
    (out / "model").mkdir(parents=True)
    board = {
        "leaderboard": [
            {"recommender": "global-popularity", "ndcg@10": {"mean": 0.12, "ci_low": 0.11, "ci_high": 0.13},
             "hr@10": {"mean": 0.3, "ci_low": 0.28, "ci_high": 0.32}},
            {"recommender": "area-popularity", "ndcg@10": {"mean": 0.18, "ci_low": 0.17, "ci_high": 0.19},
             "hr@10": {"mean": 0.4, "ci_low": 0.38, "ci_high": 0.42}, "segments": _segments(0.16)},
            {"recommender": "oracle", "ndcg@10": {"mean": 0.5, "ci_low": 0.49, "ci_high": 0.51}},
        ]
    }  # fmt: skip
    evaluation = {
        "recommender": str(out / "model"),
        "overall": {"ndcg": 0.27, "ndcg_ci_low": 0.26, "ndcg_ci_high": 0.28, "hr": 0.55},
        "segments": _segments(0.25, slope=0.08),
    }
    abtest = {
        "control": "control", "treatments": ["model"], "alpha": 0.05, "primary": "conversion",
        "variants": [
            {"variant": "control", "customers": 1000, "conversion": 0.30, "orders_per_customer": 0.4,
             "revenue_per_customer": 12.0, "aov": 30.0},
            {"variant": "model", "customers": 1010, "conversion": 0.34, "orders_per_customer": 0.46,
             "revenue_per_customer": 13.5, "aov": 29.5},
        ],
        "comparisons": [
            {"treatment": "model", "metric": "conversion", "lift": 0.13, "lift_low": 0.04, "lift_high": 0.22,
             "p_value": 0.004, "significant": True},
            {"treatment": "model", "metric": "revenue_per_customer", "lift": 0.125, "lift_low": -0.01,
             "lift_high": 0.26, "p_value": 0.07, "significant": False},
        ],
        "srm": {"ok": True, "p_value": 0.8},
        "decision": {"action": "roll out", "variant": "model", "reasons": ["conversion is significantly higher"],
                     "more_customers": 0},
    }  # fmt: skip
    drift = {
        "kind": "foodrec.drift", "drift": True, "action": "retrain", "reasons": ["input 'cuisine' shifted (PSI 0.61)"],
        "windows": {"reference_start": "2026-01-19T08:00:00Z", "reference_end": "2026-01-26T08:00:00Z",
                    "recent_start": "2026-01-26T08:00:00Z", "recent_end": "2026-02-02T08:00:00Z"},
        "inputs": [{"feature": "area", "psi": 0.01, "status": "stable", "drifted": False},
                   {"feature": "cuisine", "psi": 0.61, "status": "major", "drifted": True}],
        "scores": {"feature": "model_score", "psi": None, "status": "unknown", "drifted": False},
        "quality": {"reference": 0.27, "recent": 0.2, "recent_n_queries": 700},
        "retrain": {"holdout": {"days": 3}, "stale": {"ndcg@10": 0.2}, "retrained": {"ndcg@10": 0.26}},
    }  # fmt: skip
    manifest = {"class": "foodrec.recommenders.keras.recommender.KerasRecommender", "level": "restaurant"}
    for name, payload in [("baselines.json", board), ("evaluation.json", evaluation), ("abtest.json", abtest),
                          ("drift.json", drift), ("model/manifest.json", manifest)]:  # fmt: skip
        (out / name).write_text(json.dumps(payload))
    return out


@pytest.fixture
def evaluate_style_dir(tmp_path: Path) -> Path:
    """JSON in the exact shapes `foodrec baselines` and `foodrec evaluate` write (long segment rows)."""
    out = tmp_path / "eval_results"
    out.mkdir()

    def long_segments(base: float, slope: float) -> list[dict]:
        rows = []
        for i, area in enumerate(AREAS):
            for metric, value in (("hr", 0.5), ("ndcg", base + slope * (5 - i))):
                rows.append({"segment": "area", "value": area, "n": 500 - 50 * i, "metric": metric, "mean": value,
                             "ci_low": value - 0.01, "ci_high": value + 0.01})  # fmt: skip
        for meal, shift in (("lunch", 0.01), ("dinner", -0.01)):
            rows.append({"segment": "meal_time", "value": meal, "n": 700, "metric": "ndcg", "mean": base + shift,
                         "ci_low": None, "ci_high": None})  # fmt: skip
        for ctype, shift in (("new", -0.1), ("returning", 0.05)):
            rows.append({"segment": "customer_type", "value": ctype, "n": 400, "metric": "ndcg", "mean": base + shift,
                         "ci_low": None, "ci_high": None})  # fmt: skip
        return rows

    def result(name: str, base: float, slope: float = 0.0) -> dict:
        return {"recommender": name, "k": 10, "level": "dish", "n_queries": 2500,
                "overall": {"hr": {"mean": 0.5, "ci_low": 0.49, "ci_high": 0.51},
                            "ndcg": {"mean": base, "ci_low": base - 0.01, "ci_high": base + 0.01}},
                "coverage": 0.3, "segments": long_segments(base, slope)}  # fmt: skip

    board = [{"recommender": "customer-history", "k": 10, "hr": 0.43, "hr_lo": 0.42, "hr_hi": 0.44, "ndcg": 0.27,
              "ndcg_lo": 0.26, "ndcg_hi": 0.28, "coverage": 0.2},
             {"recommender": "area-popularity", "k": 10, "hr": 0.32, "hr_lo": 0.31, "hr_hi": 0.33, "ndcg": 0.17,
              "ndcg_lo": 0.16, "ndcg_hi": 0.18, "coverage": 0.05}]  # fmt: skip
    baselines = {"store": "s", "cutoff": "2026-02-19T08:00:00+00:00", "leaderboard": board,
                 "results": {"customer-history": result("customer-history", 0.27),
                             "area-popularity": result("area-popularity", 0.17)}}  # fmt: skip
    evaluation = {"store": "s", "recommender": "keras", "test_orders": 2500, "test_end": "2026-03-01T07:59:00+00:00",
                  "result": result("keras", 0.31, slope=0.02),
                  "strongest_baseline": "customer-history", "baseline_result": result("customer-history", 0.27),
                  "paired_difference": {"ndcg": {"diff": 0.04, "ci_low": 0.03, "ci_high": 0.05}},
                  "baselines": board}  # fmt: skip
    (out / "baselines.json").write_text(json.dumps(baselines))
    (out / "evaluation.json").write_text(json.dumps(evaluation))
    return out
