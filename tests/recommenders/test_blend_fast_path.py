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
from foodrec.recommenders.registry import make_recommender  # noqa: E402


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
        Choice("baseline", "area-mealtime-popularity"),
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


def test_area_mealtime_top_indices_is_its_recommend_in_local_time(log):
    from dataclasses import replace

    local = replace(log, timezone="America/Los_Angeles")
    rec = make_recommender("area-mealtime-popularity", level="restaurant").fit(local)
    areas = sorted(log.orders["area"].astype(str).unique())
    start = log.orders["ordered_at"].max().floor("h")
    times = [(start + pd.Timedelta(hours=h)).to_pydatetime() for h in range(0, 24, 2)]
    customers = ["c"] * (len(areas) + 2) * len(times)
    where = [*areas, "nowhere", None] * len(times)
    at = [t for t in times for _ in range(len(areas) + 2)]
    assert rec.top_indices(customers, where, 7) is None  # without times it cannot tell the meal time
    idx, scores = rec.top_indices(customers, where, 7, at)
    frame = rec.recommend(make_queries(customers, where, at), k=7)
    assert np.append(rec.items, None)[idx].tolist() == frame.items.tolist()
    np.testing.assert_array_equal(scores, frame.scores)
    assert len({tuple(row) for row in frame.items.tolist()}) > len(areas)  # meal times change the answer


@pytest.mark.parametrize("kind", ["network", "blend"])
def test_new_customers_get_area_mealtime_popularity_when_validation_chose_it(fitted, log, kind):
    import pickle

    choice = Choice(kind, "customer-history" if kind == "blend" else None, 0.4 if kind == "blend" else 0.0)
    rec = KerasRecommender.__new__(KerasRecommender)
    rec.__dict__.update(fitted.__dict__)
    rec.info = {**fitted.info, "validation": {**fitted.info["validation"], "selection": choice.to_json()}}
    rec.refresh(log)
    last = log.orders.drop_duplicates("customer_id").tail(8)
    start = (log.orders["ordered_at"].max() + pd.Timedelta(hours=1)).floor("s")
    areas = sorted(log.orders["area"].astype(str).unique())
    customers = [*last["customer_id"].astype(str), *[f"walk-in-{i}" for i in range(8)]]
    where = [*last["area"].astype(str), areas[0], areas[-1], None, "nowhere", *areas[:4]]
    times = [(start + pd.Timedelta(hours=3 * i)).to_pydatetime() for i in range(16)]
    queries = make_queries(customers, where, times)
    head = rec.recommend(queries, k=10).items  # validation chose the network's head for new customers
    rec.info["validation"]["selection"] = {**choice.to_json(), "new_customers": "popularity"}
    assert rec.choice.new_customers == "popularity"
    expected = make_recommender("area-mealtime-popularity", level="restaurant").fit(log).recommend(queries, k=10)
    frame = rec.recommend(queries, k=10)
    assert frame.items[8:].tolist() == expected.items[8:].tolist()  # new customers: exactly the baseline's top-k
    np.testing.assert_array_equal(frame.scores[8:], expected.scores[8:])
    assert frame.items[:8].tolist() == head[:8].tolist()  # returning customers: unchanged
    assert head[8:].tolist() != expected.items[8:].tolist()  # (the head answers otherwise)
    fast = _same(rec, customers, where, times, 10)  # the service's array path answers the same
    served = pickle.loads(pickle.dumps(rec))  # the rank process pickles the recommender
    assert served.recommend_parsed(customers, where, times, k=10).items.tolist() == fast.items.tolist()
    assert rec.recommend(queries, k=10, network_only=True).items.tolist() != frame.items.tolist()
    # The new customer's first order makes them a returning customer: the network answers them from then on.
    first = start - pd.Timedelta(minutes=5)
    order = pd.DataFrame({"order_id": ["new-1"], "customer_id": [customers[8]], "area": [where[8]],
                          "restaurant_id": [expected.items[8][0]], "ordered_at": [first]})  # fmt: skip
    assert rec.observe(order) == 1
    after = _same(rec, customers, where, times, 10)
    refit = make_recommender("area-mealtime-popularity", level="restaurant").fit(rec._log)
    assert after.items[9:].tolist() == refit.recommend(queries, k=10).items[9:].tolist()
    assert after.items[8].tolist() == rec._recommend_chosen(queries.iloc[8:9], 10, False).items[0].tolist()


def test_popularity_counts_new_orders_in_place_as_a_refit_would(log):
    from dataclasses import replace

    rec = make_recommender("area-mealtime-popularity", level="restaurant").refresh(log)
    start = log.orders["ordered_at"].max().floor("h")
    areas = sorted(log.orders["area"].astype(str).unique())
    at = [(start + pd.Timedelta(hours=h)).to_pydatetime() for h in range(0, 24, 3) for _ in areas]
    where = areas * 8
    queries = make_queries(["c"] * len(at), where, at)
    rows = lambda n, rest, area, when: pd.DataFrame({"order_id": [f"in-{n}"] * 2, "customer_id": ["c1"] * 2,  # noqa: E731
        "area": [area] * 2, "restaurant_id": [rest, rest], "ordered_at": [when] * 2})  # fmt: skip
    rest = sorted(log.orders["restaurant_id"].unique())
    batches = [rows(i, rest[i % len(rest)], areas[i % len(areas)], start + pd.Timedelta(hours=i)) for i in range(6)]
    batches.append(rows(9, "brand-new", areas[0], start))  # an item the counts do not know: a refit
    batches.append(rows(10, rest[0], "new-area", start))  # an area it does not know: a refit
    grown, in_place = log, []
    for i, batch in enumerate([*batches, batches[0]]):  # the last one again: already seen, not counted twice
        table = rec.tables["area"]
        taken = rec.observe(batch)
        assert taken == (0 if i == len(batches) else 2)
        if taken:
            grown = replace(grown, orders=pd.concat([grown.orders, batch], ignore_index=True))
        refit = make_recommender("area-mealtime-popularity", level="restaurant").fit(grown)
        assert rec.recommend(queries, k=8).items.tolist() == refit.recommend(queries, k=8).items.tolist()
        np.testing.assert_array_equal(rec.recommend(queries, k=8).scores, refit.recommend(queries, k=8).scores)
        idx, _ = rec.top_indices(["c"] * len(at), where, 8, at)
        assert np.append(rec.items, None)[idx].tolist() == refit.recommend(queries, k=8).items.tolist()
        in_place.append(rec.tables["area"] is table)  # else it had to refit
    assert in_place[0] and in_place[-1] and not in_place[6] and not in_place[7]  # new item, new area: refits
    assert len(rec._log.orders) == len(grown.orders) and "brand-new" in rec.items.tolist()


def test_customer_history_counts_new_orders_in_place_as_a_refit_would(log):
    from dataclasses import replace

    rec = make_recommender("customer-history", level="restaurant").refresh(log)
    end = log.orders["ordered_at"].max().floor("s")
    areas = sorted(log.orders["area"].astype(str).unique())
    rest = sorted(log.orders["restaurant_id"].unique())
    regulars = log.orders["customer_id"].astype(str).value_counts().index[:3].tolist()
    customers = [*regulars, "walk-in-1", "walk-in-2", "never", None]
    where = [areas[i % len(areas)] for i in range(len(customers))]
    at = [(end + pd.Timedelta(days=2)).to_pydatetime()] * len(customers)
    queries = make_queries(customers, where, at)
    rows = lambda n, who, item, area, when: pd.DataFrame({"order_id": [f"h-{n}"], "customer_id": [who],  # noqa: E731
        "area": [area], "restaurant_id": [item], "ordered_at": [when]})  # fmt: skip
    batches = [
        rows(0, "walk-in-1", rest[3], areas[0], end + pd.Timedelta(hours=5)),  # a new customer, later: end moves on
        rows(1, regulars[0], rest[7], areas[1], end + pd.Timedelta(hours=2)),  # a returning one, before the new end
        pd.concat(
            [
                rows(2, "walk-in-2", rest[1], areas[0], end + pd.Timedelta(days=1)),  # one batch, three lines
                rows(3, regulars[1], rest[2], areas[1], end + pd.Timedelta(days=1, hours=1)),
                rows(4, "walk-in-1", rest[5], areas[2], end + pd.Timedelta(days=1)),
            ]
        ),  # fmt: skip
        rows(5, regulars[2], rest[0], areas[0], end - pd.Timedelta(days=3)),  # a late line: end stays
        rows(6, "walk-in-3", "brand-new", areas[0], end + pd.Timedelta(days=1)),  # a new item: a refit
        rows(7, regulars[0], rest[4], areas[0], end + pd.Timedelta(days=1, hours=2)),  # in place again
    ]
    grown, in_place = log, []
    for i, batch in enumerate([*batches, batches[0]]):  # the last one again: already seen, not counted twice
        table = rec.tables["history"]
        taken = rec.observe(batch)
        assert taken == (0 if i == len(batches) else len(batch))
        if taken:
            grown = replace(grown, orders=pd.concat([grown.orders, batch], ignore_index=True))
        refit = make_recommender("customer-history", level="restaurant").refresh(grown)
        assert rec.trained_until == refit.trained_until
        expected = refit.recommend(queries, k=8)
        got = rec.recommend(queries, k=8)
        assert got.items.tolist() == expected.items.tolist()
        np.testing.assert_allclose(got.scores, expected.scores, rtol=1e-6)
        idx, scores = rec.top_indices(customers, where, 8)
        assert np.append(rec.items, None)[idx].tolist() == expected.items.tolist()
        np.testing.assert_allclose(scores, expected.scores, rtol=1e-6)
        assert rec.explain(queries, got.items.tolist()) == refit.explain(queries, got.items.tolist())
        assert rec.recent_orders("walk-in-1") == refit.recent_orders("walk-in-1") != []
        in_place.append(rec.tables["history"] is table)  # else it had to refit
    assert in_place == [True, True, True, True, False, True, True]  # the new item: a refit
    assert rec.items[idx[3, 0]] == rest[5]  # the new customer's own latest order comes first
    assert "walk-in-1" in rec.tables["history"].keys and len(rec._log.orders) < len(grown.orders)


def test_item_cooccurrence_observes_in_place_with_the_similarity_of_a_refit(log):
    from dataclasses import replace

    rec = make_recommender("item-cooccurrence", level="restaurant").refresh(log)
    end = log.orders["ordered_at"].max().floor("s")
    rest = sorted(log.orders["restaurant_id"].unique())
    area = str(log.orders["area"].iloc[0])
    regular = log.orders["customer_id"].astype(str).value_counts().index[0]
    rows = lambda n, who, items, hours: pd.DataFrame({"order_id": [f"co-{n}-{i}" for i in range(len(items))],  # noqa: E731
        "customer_id": [who] * len(items), "area": [area] * len(items), "restaurant_id": items,
        "ordered_at": [end + pd.Timedelta(hours=hours)] * len(items)})  # fmt: skip
    batches = [
        rows(0, "pair-0", [rest[0], rest[-1]], 1),  # a new customer joins two restaurants: C and S change
        rows(1, regular, [rest[1], rest[2], rest[-2]], 2),  # a returning one: rows of all their restaurants change
        rows(2, "pair-0", [rest[0]], 3),  # nothing new in X (the same pair again): S stays
        rows(3, "pair-1", ["brand-new"], 4),  # a new item: a refit
        rows(4, "pair-1", [rest[3]], 5),  # in place again
    ]
    grown, in_place = log, []
    customers, where = ["pair-0", "pair-1", regular, "nobody"], [area] * 4
    for batch in batches:
        table = rec.tables["history"]
        assert rec.observe(batch) == len(batch)
        grown = replace(grown, orders=pd.concat([grown.orders, batch], ignore_index=True))
        refit = make_recommender("item-cooccurrence", level="restaurant").fit(grown)
        assert rec.similarity.shape == refit.similarity.shape and (rec.similarity != refit.similarity).nnz == 0
        idx, scores = rec.top_indices(customers, where, 8)
        expected = refit.recommend(make_queries(customers, where, [end + pd.Timedelta(hours=6)] * 4), k=8)
        assert np.append(rec.items, None)[idx].tolist() == expected.items.tolist()
        np.testing.assert_allclose(scores, expected.scores, rtol=1e-6)
        in_place.append(rec.tables["history"] is table)
    assert in_place == [True, True, True, False, True]


def test_keeping_the_strongest_neighbours_breaks_ties_by_item_order():
    from scipy import sparse

    from foodrec.recommenders.baselines.cooccurrence import _keep_strongest

    row = sparse.csr_matrix((np.array([0.5, 0.5, 0.9, 0.5], np.float32), ([0, 0, 0, 0], [6, 2, 4, 9])), shape=(1, 10))
    row.sort_indices()
    assert _keep_strongest(row, 2).indices.tolist() == [2, 4]  # 0.9, then the first of the tied 0.5s by item
