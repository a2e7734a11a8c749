"""The served blend from arrays (recommenders/keras/blend.py, ``top_indices`` of the baselines): the same answer as
the frame path (``recommend``: pandas queries, ``fuse`` row by row), before and after an order arrives."""

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("keras")

from foodrec.recommenders.base import make_queries  # noqa: E402
from foodrec.recommenders.keras.blend import fuse_codes  # noqa: E402
from foodrec.recommenders.keras.recommender import KerasRecommender  # noqa: E402
from foodrec.recommenders.keras.selection import Choice, fuse  # noqa: E402
from foodrec.recommenders.keras.toydata import toy_log  # noqa: E402


def test_fuse_codes_is_fuse_on_random_lists():
    rng = np.random.default_rng(3)
    for trial in range(300):
        n, da, db = rng.integers(1, 5), rng.integers(1, 12), rng.integers(1, 12)
        k = int(rng.integers(1, 16))
        net = np.stack([rng.permutation(30)[:da] + 1 for _ in range(n)])
        base = np.stack([rng.permutation(30)[:db] + 1 for _ in range(n)])
        net[:, rng.integers(0, da + 1) :] = 0  # None padding at the end, as top-k lists have it
        base[:, rng.integers(0, db + 1) :] = 0
        weight = float(rng.choice([0.0, 0.1, 0.2, 0.5, 0.9, 1.0, rng.uniform()]))
        ids = lambda codes: np.where(codes > 0, codes.astype(str), None).astype(object)  # noqa: E731
        expected = fuse(ids(net), ids(base), weight, k)
        assert ids(fuse_codes(net, base, weight, k)).tolist() == expected.tolist(), (trial, weight, k)


@pytest.fixture(scope="module")
def log():
    return toy_log(n_customers=150, n_restaurants=25, days=30, seed=11)


@pytest.fixture(scope="module")
def fitted(log):
    return KerasRecommender(level="restaurant", search=False, epochs=1, eval_sample=200, batch_size=128).fit(log)


def _same(rec, customers, areas, at, k):
    fast = rec.recommend_parsed(customers, areas, at, k=k)
    frame = rec.recommend(make_queries(customers, areas, at), k=k)
    assert fast.items.tolist() == frame.items.tolist()
    np.testing.assert_array_equal(fast.scores, frame.scores)
    return fast


@pytest.mark.parametrize(
    "choice",
    [
        Choice("blend", "item-cooccurrence", 0.3),
        Choice("blend", "customer-history", 0.6),
        Choice("baseline", "item-cooccurrence"),
    ],  # fmt: skip
    ids=lambda c: f"{c.kind}-{c.baseline}",
)
def test_the_array_path_answers_as_the_frame_path_before_and_after_an_order(fitted, log, choice):
    rec = KerasRecommender.__new__(KerasRecommender)
    rec.__dict__.update(fitted.__dict__)
    rec.info = {**fitted.info, "validation": {**fitted.info["validation"], "selection": choice.to_json()}}
    rec.refresh(log)
    last = log.orders.drop_duplicates("customer_id").tail(12)
    at = log.orders["ordered_at"].max() + pd.Timedelta(hours=3)
    at = at.floor("s")
    customers = [*last["customer_id"].astype(str), "walk-in", "walk-in"]
    areas = [*last["area"].astype(str), str(last["area"].iloc[0]), None]
    times = [at.to_pydatetime()] * len(customers)
    calls = []
    top = rec._chosen_baseline().top_indices
    rec._chosen_baseline().top_indices = lambda *a: calls.append(1) or top(*a)  # the array path, not a fallback
    before = _same(rec, customers, areas, times, 10)
    assert calls and before.items.shape == (14, 10) and (before.items[:, 0] != None).all()  # noqa: E711
    one = customers[0]
    pick = next(r for r in sorted(set(log.orders["restaurant_id"])) if r not in before.items[0].tolist())
    order = pd.DataFrame({"order_id": ["fast-1"], "customer_id": [one], "area": [areas[0]],
                          "restaurant_id": [pick], "ordered_at": [at - pd.Timedelta(minutes=20)]})  # fmt: skip
    assert rec.observe(order) == 1
    del rec._chosen_baseline().top_indices  # the baseline was refitted on the log with the new order
    top = rec._chosen_baseline().top_indices
    rec._chosen_baseline().top_indices = lambda *a: calls.append(2) or top(*a)
    after = _same(rec, customers, areas, times, 10)
    assert 2 in calls and after.items[0].tolist() != before.items[0].tolist()
