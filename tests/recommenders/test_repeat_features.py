"""Repeat-cycle features (features/repeat.py): one definition, the same in numpy and Keras, from the past only."""

import numpy as np
import pandas as pd
import pytest

from foodrec.data.orderlog import OrderLog
from foodrec.features.lines import order_lines
from foodrec.features.popularity import Popularity, first_orders, return_gaps
from foodrec.features.repeat import ALL_GROUPS, PAD_SINCE, REPEAT_GROUPS, gather_numpy, repeat_features
from foodrec.features.view import FeatureView
from foodrec.features.vocabulary import FeatureSpace
from foodrec.recommenders.keras.layers import RepeatCycle
from foodrec.recommenders.keras.toydata import toy_log


def _random_inputs(seed: int, b: int = 24, c: int = 12, h: int = 10, n_items: int = 9):
    """History windows as the view gives them: newest first, lines of one order share an age, padding at the end."""
    rng = np.random.default_rng(seed)
    hist = np.zeros((b, h), np.int32)
    age = np.full((b, h), 1e4, np.float32)
    for row in range(b):
        n = int(rng.integers(0, h + 1))
        orders = np.sort(rng.uniform(0.1, 60.0, max(n, 1)))
        per_line = orders[np.sort(rng.integers(0, max(n, 1), n))]  # some orders hold several lines
        hist[row, :n] = rng.integers(1, n_items, n)
        age[row, :n] = np.round(per_line, 2)
    cands = rng.integers(0, n_items, (b, c)).astype(np.int32)
    clock = np.stack([rng.uniform(0, 24, b), rng.integers(0, 7, b)], 1).astype(np.float32)
    gap = rng.uniform(0.5, 4.0, (b, c)).astype(np.float32)
    return cands, hist, age, clock, gap


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_keras_layer_equals_the_numpy_definition(seed):
    cands, hist, age, clock, gap = _random_inputs(seed)
    groups = tuple(REPEAT_GROUPS)
    numpy_out = repeat_features(np, gather_numpy(cands, hist, age, clock), gap, groups)
    keras_out = np.asarray(RepeatCycle(groups)([cands, hist, age, clock, gap]))
    assert numpy_out.shape == keras_out.shape == (24, 12, 5)
    np.testing.assert_allclose(keras_out, numpy_out, rtol=1e-5, atol=1e-5)


def test_gathered_counts_equal_a_loop():
    cands, hist, age, clock, _ = _random_inputs(3)
    n = gather_numpy(cands, hist, age, clock)
    for b in range(len(hist)):
        valid = hist[b] > 0
        day = np.floor(clock[b, 1] + clock[b, 0] / 24.0 - age[b]) % 7 == clock[b, 1]
        orders = {float(a) for a in age[b][valid]}
        assert n["n_orders"][b, 0] == len(orders)
        for j, item in enumerate(cands[b]):
            hits = valid & (hist[b] == item) & (item > 0)
            assert n["count"][b, j] == hits.sum()
            assert n["count_dow"][b, j] == (hits & day).sum()
            assert n["since"][b, j] == (age[b][hits].min() if hits.any() else PAD_SINCE)


def test_never_ordered_items_have_no_cycle_and_groups_can_be_switched_off():
    cands, hist, age, clock, gap = _random_inputs(4)
    n = gather_numpy(cands, hist, age, clock)
    f = repeat_features(np, n, gap, ALL_GROUPS)
    never = n["count"] == 0
    assert np.all(f[..., :2][never] == 0.0) and np.isfinite(f).all()
    assert repeat_features(np, n, gap, ("explore",)).shape[-1] == 1
    assert repeat_features(np, n, gap, ("return",)).shape[-1] == 0


def test_return_gaps_count_only_the_same_customers_earlier_lines():
    lines = pd.DataFrame({"cust": [1, 2, 1, 0, 0, 1], "item": [4, 4, 5, 4, 4, 4], "t": [1.0, 2.0, 3.0, 4.0, 5.0, 9.5]})
    assert return_gaps(lines).tolist() == [np.inf, np.inf, np.inf, np.inf, np.inf, 8.5]


def test_item_returns_in_snapshots_ignore_later_orders():
    log = toy_log(n_customers=40, n_restaurants=8, days=30, seed=5)
    space = FeatureSpace.fit(log, "restaurant")
    lines = order_lines(log, space)
    end = float(lines["t"].max()) + 1e-6
    full = Popularity.build(space, lines, end)
    assert full.ret[-1].sum() > 0  # the toy log has returns
    cut = full.times[len(full.times) // 2]
    early = Popularity.build(space, lines[lines["t"] < cut], end, step_days=full.times[1] - full.times[0])
    k = int(np.searchsorted(early.times, cut))
    np.testing.assert_allclose(early.ret[: k + 1], full.ret[: k + 1], rtol=1e-5)
    np.testing.assert_allclose(early.ret_gap[: k + 1], full.ret_gap[: k + 1], rtol=1e-5)
    np.testing.assert_allclose(early.first_area_meal[: k + 1], full.first_area_meal[: k + 1], rtol=1e-5)


def test_orders_folded_in_count_their_returns_as_a_rebuild_would():
    log = toy_log(n_customers=30, n_restaurants=6, days=24, seed=6)
    orders = log.orders.sort_values("ordered_at")
    cut = orders["ordered_at"].iloc[len(orders) * 2 // 3]
    old, new = orders[orders["ordered_at"] < cut], orders[orders["ordered_at"] >= cut]
    space = FeatureSpace.fit(OrderLog(orders), "restaurant")
    live = FeatureView.build(space, OrderLog(old))
    live.observe(new)
    rebuilt = FeatureView.build(space, OrderLog(orders))
    a, b = live.popularity, rebuilt.popularity
    # Counts of one snapshot share a reference time, so shares are what must agree (observe keeps the old one).
    np.testing.assert_allclose(a.ret[-1] / a.glob[-1].clip(1e-9), b.ret[-1] / b.glob[-1].clip(1e-9), atol=1e-4)
    np.testing.assert_allclose(a.ret_gap[-1] / a.ret[-1].clip(1e-9), b.ret_gap[-1] / b.ret[-1].clip(1e-9), rtol=1e-4)
    first_a = a.first_area_meal[-1] / a.rest_area_meal[-1].clip(1e-9)
    first_b = b.first_area_meal[-1] / b.rest_area_meal[-1].clip(1e-9)
    np.testing.assert_allclose(first_a, first_b, atol=1e-4)  # first orders folded in as a rebuild counts them


def test_first_orders_are_the_customers_first_in_the_data():
    lines = pd.DataFrame({"cust": [3, 3, 4, 3, 4, 0], "t": [1.0, 1.0, 2.0, 5.0, 6.0, 7.0]})
    assert first_orders(lines).tolist() == [True, True, True, False, False, False]


def test_only_first_orders_train_the_cold_start_head():
    import keras
    import tensorflow as tf

    from foodrec.recommenders.keras.model import FoodrecRanker, example_inputs, softmax_loss

    model = FoodrecRanker(n_customers=3, n_areas=2, n_items=6, n_restaurants=3, dim=4, hidden=8)
    inputs = example_inputs(batch=8, candidates=5, depth=4, n_items=6)
    inputs["history_items"][:, 0] = 1 + np.arange(8) % 5  # every customer has history: no first order
    y = np.eye(5, dtype=np.float32)[np.arange(8) % 5]
    model(inputs)
    with tf.GradientTape() as tape:
        loss = keras.ops.mean(softmax_loss(y, model(inputs, training=True)))
    cold = [model.cold_hidden.kernel, model.cold_out.kernel, model.cold_lin.kernel, model.cold_bias.embeddings]
    grads = [tf.convert_to_tensor(g) for g in tape.gradient(loss, cold)]
    assert all(float(tf.reduce_max(tf.abs(g))) == 0.0 for g in grads)
    inputs["history_items"][:4] = 0  # four first orders: now they train it
    with tf.GradientTape() as tape:
        loss = keras.ops.mean(softmax_loss(y, model(inputs, training=True)))
    grads = [tf.convert_to_tensor(g) for g in tape.gradient(loss, cold)]
    assert all(float(tf.reduce_max(tf.abs(g))) > 0.0 for g in grads)
