"""Ranking reads the newest snapshot's popularity features from cached per-combination tables: the very numbers
of the direct computation, before and after new orders, whatever the tables' room."""

import numpy as np
import pytest

from foodrec.features import popularity as popularity_module
from foodrec.features.clock import N_HOURS, N_MEALS
from foodrec.features.lines import order_lines
from foodrec.features.popularity import N_POP_FEATURES, Popularity
from foodrec.features.vocabulary import FeatureSpace
from foodrec.recommenders.keras.toydata import toy_log


def _popularity() -> Popularity:
    log = toy_log(n_customers=40, n_restaurants=6, days=20, seed=3)
    space = FeatureSpace.fit(log, "dish")
    lines = order_lines(log, space)
    return Popularity.build(space, lines, end=float(lines["t"].max()) + 1e-6, step_days=4.0)


def _queries(pop: Popularity, rng: np.random.Generator, n: int, n_cands: int = 7):
    snap = rng.integers(0, len(pop.times), n)
    area = rng.integers(0, pop.rest_area.shape[1], n)
    meal = rng.integers(0, N_MEALS, n)
    hour = rng.integers(0, N_HOURS, n).astype(np.float32) + 0.5
    cands = rng.integers(0, pop.glob.shape[1], (n, n_cands)).astype(np.int32)
    return snap, area, meal, hour, cands


@pytest.mark.parametrize("slots", [256, 2, 0])
def test_tables_give_the_direct_numbers(monkeypatch, slots):
    pop = _popularity()  # room for every combination's table, for two (evictions), for none
    monkeypatch.setattr(popularity_module, "TABLE_FLOATS", slots * N_POP_FEATURES * pop.glob.shape[1])
    rng = np.random.default_rng(0)
    for _ in range(60):  # few combinations, so tables are built, read, mixed with direct rows and evicted
        snap, area, meal, hour, cands = _queries(pop, rng, int(rng.integers(1, 12)))
        snap, area = np.where(snap % 2, len(pop.times) - 1, 0), area % 3  # the newest snapshot gets tables
        got = pop.gather_features(snap, area, meal % 2, hour % 2, cands)
        assert got.dtype == np.float32
        assert np.array_equal(got, pop.features(snap, area, meal % 2, hour % 2, cands))
    assert pop._tables.slots == slots
    if slots:
        assert pop._tables.slot, "some combination was asked for often enough to get a table"


def test_new_orders_reach_the_tables():
    pop = _popularity()
    rng = np.random.default_rng(1)
    last = np.full(20, len(pop.times) - 1)
    _, area, meal, hour, cands = _queries(pop, rng, 20)
    area, meal, hour = area % 2, meal % 2, np.full(20, 12.0)
    before = pop.gather_features(last, area, meal, hour, cands)
    assert pop._tables.slot
    pop.observe(float(pop.times[-1]) + 0.01, item=int(cands[0, 0]) or 1, area=int(area[0]), meal=int(meal[0]), hour=12)
    after = pop.gather_features(last, area, meal, hour, cands)
    assert np.array_equal(after, pop.features(last, area, meal, hour, cands))
    assert not np.array_equal(after, before)


def test_a_pickled_copy_leaves_the_tables_behind():
    import pickle

    pop = _popularity()
    newest = np.full(30, len(pop.times) - 1)
    args = (newest, np.ones(30, int), np.ones(30, int), np.full(30, 12.0), np.ones((30, 5), np.int32))
    pop.gather_features(*args)
    copy = pickle.loads(pickle.dumps(pop))
    assert "_tables" not in vars(copy)
    assert np.array_equal(copy.gather_features(*args), pop.gather_features(*args))
