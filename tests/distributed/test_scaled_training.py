"""``foodrec train --workers 2`` on Ray (slow: Ray Train starts two TensorFlow workers): the parallel search scores
exactly what the single-process search scores, and the data-parallel model matches the single-process one within
the bootstrap CI on the same test orders."""

import json

import pytest

from foodrec.data.store import Store
from foodrec.evaluation.cases import make_test_cases
from foodrec.evaluation.evaluate import evaluate_recommender
from foodrec.evaluation.split import temporal_split
from foodrec.recommenders.base import load_recommender
from foodrec.recommenders.command import run_train
from foodrec.recommenders.keras.toydata import toy_log

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("store")
    log = toy_log(n_customers=300, n_restaurants=30, days=40, seed=3)
    st = Store.create(path)
    st.write_orders_part(log.orders)
    st.set_meta(timezone="UTC")
    return path


def _test_ndcg(store, model):
    log = Store.open(store).order_log()
    manifest = json.loads((model / "manifest.json").read_text())
    split = temporal_split(log, until=manifest["cutoff"])
    cases = make_test_cases(split.train, split.test, level="restaurant")
    rec = load_recommender(model)
    rec.refresh(split.train)  # a saved model looks its features up in the training period
    return evaluate_recommender(rec, cases).overall.loc["ndcg"]


def test_two_workers_match_one_within_the_ci(store, tmp_path):
    options = dict(level="restaurant", epochs=4, seed=1, search=True, search_epochs=1)
    one = run_train(store, tmp_path / "one", **options)
    two = run_train(store, tmp_path / "two", workers=2, **options)
    assert two["workers"] == 2 and one["workers"] == 1
    # The search's runs are independent and seeded: the same scores, however they are spread over workers.
    assert [r["val_ndcg10"] for r in two["search"]] == [r["val_ndcg10"] for r in one["search"]]
    assert two["params"] == one["params"]
    a, b = _test_ndcg(store, tmp_path / "one"), _test_ndcg(store, tmp_path / "two")
    assert a["ci_low"] <= b["mean"] <= a["ci_high"], (a.to_dict(), b.to_dict())
    assert b["ci_low"] <= a["mean"] <= b["ci_high"], (a.to_dict(), b.to_dict())
    assert not (tmp_path / "two.work").exists()  # the run finished: its resume folder is gone
