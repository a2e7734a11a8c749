"""Features of the Keras recommender come from the past only, and batches have the promised shape."""

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from foodrec.data.orderlog import OrderLog
from foodrec.features.clock import FEW, local_clock, to_days
from foodrec.features.history import History
from foodrec.features.lines import order_lines
from foodrec.features.popularity import N_POP_FEATURES, Popularity
from foodrec.features.retrieval import first_unique as _first_unique
from foodrec.features.view import FeatureView
from foodrec.features.vocabulary import FeatureSpace, Vocab
from foodrec.recommenders.keras.examples import Examples
from foodrec.recommenders.keras.inputs import InputBuilder
from foodrec.recommenders.keras.toydata import toy_log


def _state(log, level="dish", **kw):
    space = FeatureSpace.fit(log, level)
    lines = order_lines(log, space)
    end = float(lines["t"].max()) + 1e-6
    return space, lines, History.build(len(space.customers), lines), Popularity.build(space, lines, end), end


def _view(log, level="dish"):
    space = FeatureSpace.fit(log, level)
    return space, order_lines(log, space), FeatureView.build(space, log)


def test_vocab_maps_unknown_and_missing_to_zero():
    v = Vocab(["x", "y"])
    assert v.encode(["y", "nope", None, float("nan")]).tolist() == [2, 0, 0, 0]
    assert v.decode(np.array([0, 1])).tolist() == [None, "x"]


def test_to_days_handles_microsecond_and_nanosecond_units():
    ts = pd.Series(pd.to_datetime(["2026-01-02T00:00Z"], utc=True))
    assert to_days(ts.dt.as_unit("us"))[0] == to_days(ts.dt.as_unit("ns"))[0] == 20455.0


def test_history_holds_only_orders_strictly_before_the_feature_time():
    log = toy_log(n_customers=30, n_restaurants=8, days=20, seed=3)
    space, lines, history, _, _ = _state(log)
    ex = Examples.from_lines(lines)
    items, _, ages = history.gather(ex.cust, ex.at, ex.at, depth=200)
    for i in range(0, len(ex), 7):
        cust_lines = lines[(lines["cust"] == ex.cust[i]) & (lines["t"] < ex.at[i])]
        assert (items[i] > 0).sum() == len(cust_lines)  # own order and later ones excluded
        assert np.all(ages[i][items[i] > 0] > 0)


def test_popularity_snapshots_ignore_later_orders():
    log = toy_log(n_customers=60, n_restaurants=10, days=30, seed=4)
    space, lines, _, full, end = _state(log)
    cut = full.times[len(full.times) // 2]
    early = Popularity.build(space, lines[lines["t"] < cut], end, step_days=full.times[1] - full.times[0])
    k = int(np.searchsorted(early.times, cut))
    np.testing.assert_allclose(early.glob[: k + 1], full.glob[: k + 1], rtol=1e-5)
    np.testing.assert_allclose(early.rest_area_meal[: k + 1], full.rest_area_meal[: k + 1], rtol=1e-5)
    np.testing.assert_allclose(early.rest_hour[: k + 1], full.rest_hour[: k + 1], rtol=1e-5)


def test_hour_lift_marks_the_hours_a_restaurant_takes_no_orders():
    # r1 gets orders only at 12:00 (a lunch place), r2 only at 19:00; both equally often.
    days = pd.date_range("2026-01-01", periods=20, freq="D", tz="UTC")
    at = [d + pd.Timedelta(hours=h) for d in days for h in (12, 19)]
    orders = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(len(at))],
            "customer_id": [f"c{i % 7}" for i in range(len(at))],
            "ordered_at": at,
            "area": "a",
            "restaurant_id": ["r1" if t.hour == 12 else "r2" for t in at],
        }
    )
    space, lines, _, pop, _ = _state(OrderLog(orders), level="restaurant")
    cands = space.items.encode(["r1", "r2"])[None, :].repeat(2, 0)
    snap = np.full(2, len(pop.times) - 1)
    area, hour = space.areas.encode(["a", "a"]), np.array([12, 19])
    lift = pop.features(snap, area, np.zeros(2, np.int32), hour, cands)[..., 6]
    assert lift[0, 0] > 0.5 > -1.5 > lift[0, 1]  # at 12:00 the lunch place is up, the dinner place far down
    assert lift[1, 1] > 0.5 > -1.5 > lift[1, 0]
    night = pop.features(snap, area, np.zeros(2, np.int32), np.array([3, 3]), cands)[..., 6]
    # An hour when nobody in the city orders says nothing about either place: small, and the same for both.
    assert np.abs(night).max() < 0.25 and np.ptp(night, axis=1).max() < 0.01


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 9), min_size=1, max_size=12), min_size=1, max_size=5), st.integers(1, 8))
def test_first_unique_keeps_first_occurrences_in_order(rows, n):
    width = max(len(r) for r in rows)
    pool = np.array([r + [0] * (width - len(r)) for r in rows])
    out = _first_unique(pool, n)
    assert out.shape == (len(rows), n)
    for row, got in zip(pool, out, strict=True):
        expected = list(dict.fromkeys(v for v in row if v > 0))[:n]
        assert got.tolist() == expected + [0] * (n - len(expected))


def test_first_unique_by_table_and_by_sorting_agree():
    from foodrec.features import retrieval

    rng = np.random.default_rng(3)
    for _ in range(100):
        b, p, n, top = (int(v) for v in rng.integers(1, [30, 300, 250, 13_000]))
        pool = np.where(rng.random((b, p)) < 0.3, 0, rng.integers(0, top, (b, p))).astype(np.int32)
        table = retrieval.first_unique(pool, n)
        assert table.dtype == np.int32 and (table == retrieval._first_unique_sorted(pool, n)).all()


def test_training_batches_contain_the_ordered_items_and_valid_targets():
    log = toy_log(n_customers=80, n_restaurants=30, days=25, seed=5)
    space, lines, view = _view(log)
    build = InputBuilder(
        view, depth=10, n_candidates=20, full_max=5, train_full_max=5, n_train_candidates=20
    )  # sampled softmax
    ex = Examples.from_lines(lines).take(np.arange(40))
    inputs, y = build.build(ex, force_positives=True)
    assert inputs["candidates"].shape == (40, 20)
    np.testing.assert_allclose(y.sum(axis=1), 1.0)
    cands = inputs["candidates"]
    for row in cands:
        nz = row[row > 0]
        assert len(nz) == len(set(nz.tolist()))
    assert inputs["popularity"].shape == (40, 20, N_POP_FEATURES) and np.isfinite(inputs["popularity"]).all()


def test_validation_examples_see_nothing_after_the_cutoff():
    log = toy_log(n_customers=40, n_restaurants=10, days=20, seed=6)
    space, lines, view = _view(log, level="restaurant")
    ex = Examples.from_lines(lines)
    cutoff = float(np.floor(ex.at.min() + 10))
    later = ex.take(np.flatnonzero(ex.at > cutoff + 3))
    inputs, _ = InputBuilder(view, depth=100, cutoff=cutoff).build(later)
    # every history line is older than the gap between the query and the cutoff
    ages = inputs["history_age"][inputs["history_items"] > 0]
    gaps = np.repeat(later.at - cutoff, (inputs["history_items"] > 0).sum(axis=1))
    assert np.all(ages >= gaps - 1e-9)


def test_unknown_customers_and_areas_still_get_candidates():
    orders = toy_log(n_customers=30, n_restaurants=6, days=10, seed=7)
    space, lines, view = _view(orders, level="restaurant")
    q = pd.DataFrame({"customer_id": ["nobody"], "area": [None], "at": pd.to_datetime(["2026-02-01T12:00Z"])})
    inputs, _ = InputBuilder(view).build(Examples.from_queries(view, q))
    assert inputs["customer"][0] == 0 and (inputs["candidates"] > 0).sum() == len(space.items) - 1
    assert isinstance(OrderLog(orders.orders), OrderLog)


@settings(max_examples=60, deadline=None)
@given(
    seconds=st.lists(st.integers(0, 4_000_000_000), min_size=1, max_size=70),
    ids=st.lists(st.one_of(st.none(), st.sampled_from(["x", "y", "z", "nope"]), st.integers(0, 3)), max_size=70),
    timezone=st.sampled_from(["UTC", "Europe/Berlin", "America/Los_Angeles", "Asia/Kolkata", "Australia/Sydney"]),
)
def test_few_queries_path_gives_the_same_features_as_the_vectorised_one(seconds, ids, timezone):
    """Up to FEW queries are encoded element by element (serving); the values must equal pandas' vectorised ones."""
    v = Vocab(["x", "y", "1"])
    many = v.encode(pd.Series(ids + ["x"] * (FEW + 1), dtype=object))[: len(ids)]
    assert v.encode(pd.Series(ids, dtype=object)).tolist() == many.tolist()
    at = pd.Series(pd.to_datetime(seconds, unit="s", utc=True)).dt.as_unit("us")
    space = FeatureSpace("dish", timezone, Vocab(["c"]), Vocab(["a"]), Vocab(["i"]), Vocab(["r"]), np.zeros(2, int))
    queries = pd.DataFrame({"customer_id": "c", "area": "a", "at": at})
    empty = pd.DataFrame({"order_id": [], "customer_id": [], "area": [], "item_id": [], "restaurant_id": []})
    view = FeatureView.build(space, OrderLog(empty.assign(ordered_at=pd.to_datetime([], utc=True)), timezone=timezone))
    ex = Examples.from_queries(view, queries)
    hour, dow, meal = local_clock(at, timezone)
    if len(at) <= FEW:  # the per-element path was taken: compare it with the vectorised functions
        np.testing.assert_array_equal(ex.at, to_days(at))
        np.testing.assert_array_equal(ex.hour, hour)
        np.testing.assert_array_equal(ex.dow, dow)
        np.testing.assert_array_equal(ex.meal, meal)
