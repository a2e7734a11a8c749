"""evaluate_recommender and the leaderboard on a small repeat-driven log."""

import json

import numpy as np
import pytest

from foodrec.errors import InputError
from foodrec.evaluation.cases import make_test_cases
from foodrec.evaluation.evaluate import evaluate_recommender, paired_difference
from foodrec.evaluation.leaderboard import board_records, leaderboard, print_leaderboard
from foodrec.evaluation.split import temporal_split
from foodrec.recommenders.registry import make_recommender


@pytest.fixture
def setup(log):
    split = temporal_split(log)
    return split, make_test_cases(split.train, split.test)


def run(name, setup, **kwargs):
    split, cases = setup
    return evaluate_recommender(make_recommender(name).fit(split.train), cases, n_boot=100, **kwargs)


def test_result_has_overall_segments_and_ci(setup):
    result = run("area-popularity", setup)
    assert list(result.overall.index) == ["hr", "ndcg", "mrr", "map"]
    assert (result.overall["ci_low"] <= result.overall["mean"]).all()
    assert (result.overall["mean"] <= result.overall["ci_high"]).all()
    assert set(result.segments["segment"]) == {"area", "meal_time", "customer_type"}
    by_type = result.segments[(result.segments["segment"] == "customer_type") & (result.segments["metric"] == "hr")]
    assert by_type["n"].sum() == result.n_queries
    assert 0 < result.coverage <= 1
    json.dumps(result.to_dict())  # JSON-ready


def test_same_seed_same_numbers(setup):
    a, b = run("customer-history", setup, seed=3), run("customer-history", setup, seed=3)
    assert a.to_dict()["overall"] == b.to_dict()["overall"]


def test_history_beats_area_beats_global_on_a_repeat_driven_log(setup):
    results = [run(name, setup) for name in ("global-popularity", "area-popularity", "customer-history")]
    board = leaderboard(results)
    assert board["recommender"].tolist() == ["customer-history", "area-popularity", "global-popularity"]
    diff = paired_difference(results[2], results[1], n_boot=200)
    assert diff.loc["ndcg", "ci_low"] > 0
    assert board_records(board)[0]["recommender"] == "customer-history"
    print_leaderboard(board)


def test_bad_inputs(setup):
    split, cases = setup
    rec = make_recommender("global-popularity").fit(split.train)
    with pytest.raises(InputError):
        evaluate_recommender(rec, cases, k=0)
    with pytest.raises(InputError):
        evaluate_recommender(rec, cases.subset(np.zeros(len(cases), dtype=bool)))
    with pytest.raises(InputError):
        leaderboard([], sort_by="accuracy")
