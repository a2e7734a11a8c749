"""Reading an interleaving experiment: votes per visit, the clustered preference test, the abtest command."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from foodrec.cli import main
from foodrec.experiments.interleaving import analyze_interleaving, preference_test


def _events(n_visits: int, share_b: float, seed: int, per_customer: int = 3) -> pd.DataFrame:
    """Interleaved visits; a third of them end in an order, credited to 'model' with probability share_b."""
    rng = np.random.default_rng(seed)
    rows = []
    for v in range(n_visits):
        cust = f"c{v // per_customer}"
        rows.append({"event_id": f"i{v}", "type": "impression", "customer_id": cust, "variant": "interleaved",
                     "request_id": f"q{v}", "items": ["x", "y"], "credits": ["history", "model"]})  # fmt: skip
        if rng.random() < 1 / 3:
            team = "model" if rng.random() < share_b else "history"
            rows.append({"event_id": f"o{v}", "type": "order", "customer_id": cust, "variant": "interleaved",
                         "request_id": f"q{v}", "items": ["x"], "credits": [team], "order_value": 10.0})  # fmt: skip
    return pd.DataFrame(rows)


def test_no_preference_is_rejected_at_about_alpha():
    rng = np.random.default_rng(0)
    runs, rejections = 1000, 0
    for _ in range(runs):
        decided = rng.binomial(3, 1 / 3, 300).astype(float)  # 300 customers, 3 visits, a third with a preference
        wins_b = rng.binomial(decided.astype(int), 0.5).astype(float)
        keep = decided > 0
        rejections += preference_test(wins_b[keep], decided[keep])["p_value"] < 0.05
    assert abs(rejections / runs - 0.05) < 3 * math.sqrt(0.05 * 0.95 / runs)


def test_a_preference_is_found_with_the_right_winner_and_ci():
    r = analyze_interleaving(_events(3000, 0.62, 1))
    assert r["teams"] == ["history", "model"] and r["winner"] == "model"
    assert r["ci"][0] < 0.62 < r["ci"][1] and r["visits"] == 3000 and r["customers"] == 1000


def test_clustering_widens_the_ci_when_a_customers_visits_agree():
    wins = np.array([4, 0] * 50, dtype=float)  # each customer always prefers the same team
    clustered = preference_test(wins, np.full(100, 4.0))
    independent = preference_test(np.array([1, 0] * 200, dtype=float), np.ones(400))
    assert clustered["share"] == independent["share"] == 0.5
    assert clustered["se"] > 1.5 * independent["se"]


def test_abtest_reads_an_interleaving_experiment(tmp_path):
    path = tmp_path / "events.jsonl"
    _events(3000, 0.65, 2).to_json(path, orient="records", lines=True)
    out = tmp_path / "ab.json"
    assert main(["abtest", "--events", str(path), "--json-out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["experiment"] == "interleaving" and result["decision"] == {**result["decision"], "action": "pick",
                                                                              "variant": "model"}  # fmt: skip
