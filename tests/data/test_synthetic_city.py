"""The synthetic city's building blocks: world, habits, simulation, warts, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from foodrec.data.synthetic.choice import HOUR_TO_SLOT, DecayedCounts, habit_from_history
from foodrec.data.synthetic.city import CATEGORIES, World, build_world, geohash
from foodrec.data.synthetic.orders import simulate_orders
from foodrec.data.synthetic.presets import PRESETS, preset_config
from foodrec.errors import InputError


@pytest.fixture(scope="module")
def small():
    cfg = preset_config("default", customers=600, restaurants=40, days=14, grid=(3, 3))
    world = build_world(cfg)
    return cfg, world, simulate_orders(world, cfg)


def test_geohash_matches_reference_values():
    # Reference: geohash.org encodes (57.64911, 10.40744) as u4pruydqqvj
    assert geohash(57.64911, 10.40744, 11) == "u4pruydqqvj"
    assert geohash(34.05, -118.30, 5).startswith("9q5")


def test_world_shapes_and_catalogue_invariants(small):
    cfg, world, _ = small
    assert world.n_restaurants == 40 and world.n_customers == 600 and world.n_areas == 9
    assert len(set(world.area_ids)) == world.n_areas
    # items sorted by restaurant then category, every restaurant has at least 3 mains, prices positive
    key = world.item_rest * 4 + world.item_cat
    assert (np.diff(key) >= 0).all()
    mains = np.bincount(world.item_rest[world.item_cat == 0], minlength=world.n_restaurants)
    assert mains.min() >= 3
    assert (world.item_price > 0).all()
    assert np.allclose(world.cust_slots.sum(axis=1), 1.0)
    # every restaurant delivers at least to its own area, with no penalty
    pen = world.delivery_penalty()
    assert (pen[world.rest_area, np.arange(world.n_restaurants)] == 0).all()
    assert len(CATEGORIES) == 4


def test_same_seed_same_world_other_seed_other_world():
    a = build_world(preset_config("small", customers=100, restaurants=10))
    b = build_world(preset_config("small", customers=100, restaurants=10))
    c = build_world(preset_config("small", customers=100, restaurants=10, seed=7))
    assert np.array_equal(a.rest_quality, b.rest_quality) and np.array_equal(a.cust_taste, b.cust_taste)
    assert not np.array_equal(a.rest_quality, c.rest_quality)


def test_world_round_trips_through_files(tmp_path, small):
    _, world, _ = small
    world.save(tmp_path)
    back = World.load(tmp_path)
    assert list(back.item_ids) == list(world.item_ids)
    assert np.array_equal(back.rest_open, world.rest_open)
    assert back.params == world.params
    assert not list(tmp_path.glob("*.pkl"))


def test_simulated_orders_respect_availability(small):
    cfg, world, sim = small
    assert len(sim.order_cust) > 200
    # restaurant delivers to the order's area and is open at the local hour
    pen = world.delivery_penalty()
    assert np.isfinite(pen[sim.order_area, sim.order_rest]).all()
    local = pd.DatetimeIndex(sim.order_ns.astype("datetime64[ns]")).tz_localize("UTC").tz_convert(cfg.timezone)
    assert world.rest_open[sim.order_rest, local.hour.to_numpy()].all()
    # every dish belongs to the order's restaurant; one main at least per order
    assert (world.item_rest[sim.line_item] == sim.order_rest[sim.line_order]).all()
    has_main = np.bincount(sim.line_order[world.item_cat[sim.line_item] == 0], minlength=len(sim.order_cust))
    assert has_main.min() >= 1
    # customers order only after joining, at most once a day
    assert (world.cust_join[sim.order_cust] <= sim.order_day).all()
    assert not pd.DataFrame({"c": sim.order_cust, "d": sim.order_day}).duplicated().any()


def test_simulation_is_deterministic(small):
    cfg, world, sim = small
    again = simulate_orders(world, cfg)
    assert np.array_equal(again.order_ns, sim.order_ns) and np.array_equal(again.line_item, sim.line_item)


def test_hour_to_slot_covers_the_day():
    assert len(HOUR_TO_SLOT) == 24
    assert HOUR_TO_SLOT[12] == 1 and HOUR_TO_SLOT[19] == 3 and HOUR_TO_SLOT[8] == 0 and HOUR_TO_SLOT[23] == 4


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 5), st.floats(0, 50, allow_nan=False)), min_size=1, max_size=40
    ),
    st.floats(51, 100),
)
def test_running_habits_equal_habits_computed_from_history(events, t_query):
    """The simulator's lazily decayed counts and the truth's from-history habit are the same function."""
    events = sorted(events, key=lambda e: e[2])
    owner = np.array([e[0] for e in events])
    col = np.array([e[1] for e in events])
    t = np.array([e[2] for e in events])
    running = DecayedCounts(width=6, tau=7.0)
    for o, c, tt in zip(owner, col, t, strict=True):
        running.add(np.array([o]), np.array([c]), np.array([tt]))
    owners = np.arange(5)
    tq = np.full(5, t_query)
    from_history = habit_from_history(owners, tq, owner, col, t, width=6, tau=7.0)
    assert np.allclose(running.rows(owners, tq), from_history)
    assert np.allclose(running.get(owners[:, None], np.arange(6)[None, :], tq[:, None]), from_history)


def test_presets_and_bad_settings():
    assert set(PRESETS) >= {"default", "small", "large", "dishes"}
    assert preset_config("small").level == "restaurant"
    with pytest.raises(InputError, match="--customers"):
        preset_config("default", customers=3)
    with pytest.raises(InputError, match="--drift-at"):
        preset_config("default", days=10, drift_at=10)
    with pytest.raises(InputError, match="--preset"):
        preset_config("huge")
    with pytest.raises(InputError, match="--level"):
        preset_config("default", level="menu")


def test_dishes_preset_has_at_least_10k_dishes():
    world = build_world(preset_config("dishes", customers=50))
    assert world.n_items >= 10_000
