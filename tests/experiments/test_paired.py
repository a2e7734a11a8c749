"""Paired ground truth: every visit priced under every variant's list; the paired lift, its CI, the arm imbalance."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from foodrec.experiments.paired import paired_lift, ratio_lift
from foodrec.experiments.simulator import run_simulation

_spec = importlib.util.spec_from_file_location("sim_helpers", Path(__file__).with_name("test_simulator.py"))
sim = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sim)


class PairedService(sim.FakeService):
    """The fake service's split, plus every variant's list for a visit (what the admin route answers)."""

    def __init__(self):
        super().__init__()
        self.ranking_calls = 0

    def rankings(self, customer_id, area, at, k, token):
        assert token == "tok"
        self.ranking_calls += 1
        lists = {"control": list(sim.ITEMS[::-1][:k]), "treatment": list(sim.ITEMS[:k])}
        return {"variants": {name: {"items": items} for name, items in lists.items()}}

    def rankings_many(self, visits, token):
        """POST /v1/admin/rankings/batch: each visit's rankings, only the variants asked when a list is given."""
        out = []
        for q in visits:
            answer = self.rankings(q["customer_id"], q["area"], q["at"], q["k"], token)
            only = q.get("variant") or list(answer["variants"])
            out.append({"variants": {name: answer["variants"][name] for name in only}})
        return out


class VaryingTruth:
    """Customers differ: each visit's utilities are the fake truth's plus noise (seeded by customer and time)."""

    def scores(self, queries, history, level):
        items, u = sim.FakeTruth().scores(queries, history, level)
        for i, q in enumerate(queries.itertuples()):
            rng = np.random.default_rng(abs(hash((q.customer_id, str(q.at)))) % 2**32)
            u[i, :-1] += rng.normal(0, 1.0, len(items) - 1)
        return items, u


def test_every_visit_is_priced_under_every_list_and_the_paired_lift_has_a_ci():
    service = PairedService()
    city = sim._city()
    city.truth = VaryingTruth()
    summary = run_simulation(sim._config(k=3, admin_token="tok"), client=service, city=city)
    assert service.ranking_calls == summary["requests"] and "admin_token" not in summary["config"]
    paired = summary["paired_true_lift"]["treatment"]
    lo, hi = paired["ci"]
    assert 0 < lo < paired["orders_per_visit"] < hi and paired["revenue_ci"][0] > 0
    # paired: the lift is the same visits priced twice, so its standard error is below the two-group one
    two_group = summary["true_lift"]["treatment"]
    assert (hi - lo) / 3.92 < two_group["orders_per_customer_se"]
    # control's list priced in each arm: a small difference (the luck of the split) with a CI
    imbalance = summary["arm_imbalance"]["arms"]["treatment"]["vs_control_arm"]
    assert imbalance["ci"][0] < imbalance["lift"] < imbalance["ci"][1] and abs(imbalance["lift"]) < 0.1
    assert summary["paired_best_variant"] == "treatment"
    # only the shown list's events were posted: the rankings are no exposures
    assert sum(e["type"] == "impression" for e in service.events) == summary["requests"]


def test_without_the_admin_token_there_is_no_paired_truth():
    summary = run_simulation(sim._config(k=3), client=sim.FakeService(), city=sim._city())
    assert "paired_true_lift" not in summary and summary["config"]["paired"] is False


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 10_000), st.floats(-0.2, 0.2))
def test_the_paired_ci_covers_a_known_lift(seed, lift):
    rng = np.random.default_rng(seed)
    n = 400
    c = rng.uniform(0.1, 0.6, n)
    t = c * (1 + lift) + rng.normal(0, 0.01, n)
    est, lo, hi = ratio_lift(t, c, np.repeat(np.arange(n // 4), 4))
    assert lo <= est <= hi
    assert abs(est - lift) < 6 * (hi - lo) / 3.92 + 1e-9


def test_paired_ci_coverage_over_repeated_samples():
    rng = np.random.default_rng(1)
    covered = 0
    for _ in range(400):
        cust = np.repeat(np.arange(300), 3)
        base = rng.uniform(0.1, 0.5, 300)[cust] * rng.uniform(0.5, 1.5, len(cust))
        t = base * (1.05 + rng.normal(0, 0.05, len(cust)))
        # the true lift of this population is 5% (noise has mean 0)
        _, lo, hi = ratio_lift(t, base, cust)
        covered += lo <= 0.05 <= hi
    assert 0.92 <= covered / 400 <= 0.98


def test_paired_lift_skips_visits_a_variant_could_not_price():
    visits = pd.DataFrame({"customer_id": ["a", "b", "c"], "p:control": [0.3, 0.2, 0.4], "p:model": [0.33, None, 0.44],
                           "v:control": [6.0, 4.0, 8.0], "v:model": [6.6, None, 8.8]})  # fmt: skip
    assert paired_lift(visits, "control")["model"]["visits"] == 2
