"""The stakeholder report's two-stage section: each stage's decision beside the paired truth, and its customers."""

from __future__ import annotations

import json

from foodrec.reports.results import collect_results
from foodrec.reports.stakeholder import build_report


def _paired(lift, lo, hi):
    return {"paired_true_lift": {"model": {"orders_per_visit": lift, "ci": [lo, hi]}}}


def test_each_stage_shows_its_decision_the_paired_truth_and_its_customers(tmp_path):
    interleaving = {
        "experiment": "interleaving",
        "interleaving": {"teams": ["history", "model"], "customers": 2000, "preference_share": 0.588,
                         "ci": [0.542, 0.634]},
        "decision": {"action": "pick", "variant": "model", "reasons": []},
        "truth": _paired(0.039, 0.035, 0.042),
    }  # fmt: skip
    abtest = {
        "variants": [{"variant": "control", "customers": 7000}, {"variant": "model", "customers": 7100}],
        "comparisons": [],
        "decision": {"action": "roll out", "variant": "model", "reasons": []},
        "sequential": {"treatments": {"model": {"lift": 0.05, "ci": [0.01, 0.09], "looks": [{}] * 14}}},
        "truth": _paired(0.04, 0.035, 0.045),
    }
    (tmp_path / "interleaving.json").write_text(json.dumps(interleaving))
    (tmp_path / "abtest.json").write_text(json.dumps(abtest))
    results = collect_results([tmp_path])
    assert results.get("interleaving") is not None and results.get("abtest") is not None
    html = build_report(None, results).render()
    assert "Two stages" in html and "pick model" in html and "roll out model" in html
    assert "+3.9% orders per visit" in html and "14,100" in html and "2,000" in html
    assert html.count(">yes<") == 2


def test_a_wrong_decision_is_marked(tmp_path):
    interleaving = {
        "experiment": "interleaving",
        "interleaving": {"teams": ["history", "model"], "customers": 500},
        "decision": {"action": "pick", "variant": "model"},
        "truth": _paired(-0.03, -0.04, -0.02),
    }
    (tmp_path / "interleaving.json").write_text(json.dumps(interleaving))
    html = build_report(None, collect_results([tmp_path])).render()
    assert ">no<" in html
