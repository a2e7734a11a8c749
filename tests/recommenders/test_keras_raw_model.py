"""The raw-input Keras model (``serving_model.keras``): its layers on their own, and the saved file against
``load_recommender(dir).recommend`` - same top-k and scores for known, unknown and history-less customers."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

keras = pytest.importorskip("keras")

from foodrec.features.clock import local_clock, to_days  # noqa: E402
from foodrec.features.history import History  # noqa: E402
from foodrec.features.lines import order_lines  # noqa: E402
from foodrec.features.popularity import N_POP_FEATURES, Popularity  # noqa: E402
from foodrec.features.vocabulary import FeatureSpace  # noqa: E402
from foodrec.recommenders.base import load_recommender, make_queries  # noqa: E402
from foodrec.recommenders.keras.raw_model import (  # noqa: E402
    RAW_MODEL_FILE,
    Catalogue,
    ColdStart,
    HistoryWindow,
    IndexTable,
    LocalClock,
    PopularityFeatures,
    TopK,
    load_raw_model,
)
from foodrec.recommenders.keras.recommender import KerasRecommender  # noqa: E402
from foodrec.recommenders.keras.toydata import toy_log  # noqa: E402

FAST = {"search": False, "epochs": 1, "eval_sample": 200, "batch_size": 128}


@pytest.fixture(scope="module")
def log():
    return toy_log(n_customers=120, n_restaurants=20, days=30, seed=5)


@pytest.fixture(scope="module")
def saved(log, tmp_path_factory):
    """Two saved models, each exported as a raw model with the log's popularity: restaurant level (whole
    catalogue) and dish level with the retrieval stage."""
    out = {}
    for name, kwargs in {
        "restaurant": {"level": "restaurant"},
        "dish": {"level": "dish", "full_max": 20, "train_full_max": 20, "n_candidates": 30},
    }.items():
        path = tmp_path_factory.mktemp(name) / "model"
        KerasRecommender(**kwargs, **FAST).fit(log).save(path)
        _loaded(path, log).raw_model().save(path.parent / RAW_MODEL_FILE)
        out[name] = path
    return out


def _early(log):
    return log.orders.drop_duplicates("order_id").head(1)


def _loaded(path, log):
    """The saved model over the log without the first customer's orders: a customer the model knows, with no
    history in the data it is given (the raw model bakes the newest popularity, so queries come after the log)."""
    early = _early(log)["customer_id"].iloc[0]
    return load_recommender(path).refresh(replace(log, orders=log.orders[log.orders["customer_id"] != early]))


def _queries(log):
    """Known customers, a customer without history before the query, unknown customers and areas, None."""
    first = log.orders.drop_duplicates("order_id")
    recent = first.tail(12)
    early = _early(log)  # known to the model, no history in the data it is given
    customers = [
        *recent["customer_id"],
        early["customer_id"].iloc[0],
        "never-seen",
        None,
        recent["customer_id"].iloc[0],
    ]
    areas = [*recent["area"], early["area"].iloc[0], "a0", "nowhere", None]
    at = [*(recent["ordered_at"] + pd.Timedelta(hours=30, minutes=7, seconds=5))]
    at += [at[3], at[0], at[1], at[2]]
    return make_queries(customers, areas, at)


@pytest.mark.parametrize("name", ["restaurant", "dish"])
def test_saved_raw_model_ranks_like_the_recommender(saved, log, name):
    rec = _loaded(saved[name], log)
    model = keras.saving.load_model(saved[name].parent / RAW_MODEL_FILE, safe_mode=True)
    q = _queries(log)
    expected = rec.recommend(q, k=10, network_only=True)  # the export is the network (not a chosen baseline/blend)
    inputs = rec.raw_inputs(q)
    assert ("candidates" in inputs) == (name == "dish")
    assert (inputs["history_items"][-4] == "").all()  # the customer without history
    out = model(inputs)
    got_items = np.asarray(out["items"]).astype(str)
    got_scores = np.asarray(out["scores"])
    want_items = np.where(expected.items == None, "", expected.items).astype(str)  # noqa: E711
    np.testing.assert_allclose(got_scores, expected.scores, rtol=1e-4, atol=1e-4)
    assert (got_items == want_items).all()
    assert np.asarray(out["candidate_scores"]).shape[0] == len(q)


def test_history_is_an_input_and_its_order_times_matter(saved, log):
    model = load_raw_model(saved["restaurant"].parent / RAW_MODEL_FILE)
    rec = _loaded(saved["restaurant"], log)
    inputs = rec.raw_inputs(_queries(log).iloc[:2])
    base = np.asarray(model(inputs)["candidate_scores"])
    # The same lines, now in the future of the query: ignored, so the scores equal an empty history's.
    future = {**inputs, "history_at": inputs["history_at"] * 0 + inputs["at"][:, None] + 60}
    empty = {**inputs, "history_items": np.full_like(inputs["history_items"], ""), "history_at": inputs["history_at"]}
    np.testing.assert_allclose(
        np.asarray(model(future)["candidate_scores"]), np.asarray(model(empty)["candidate_scores"])
    )
    assert np.abs(np.asarray(model(empty)["candidate_scores"]) - base).max() > 1e-3
    # A longer history (more columns than the training depth, shuffled) gives the same window: same scores.
    perm = np.random.default_rng(0).permutation(inputs["history_items"].shape[1])
    longer = {
        **inputs,
        "history_items": np.concatenate([inputs["history_items"][:, perm], np.full((2, 80), "")], 1),
        "history_at": np.concatenate([inputs["history_at"][:, perm], np.zeros((2, 80), np.int64)], 1),
    }
    np.testing.assert_allclose(np.asarray(model(longer)["candidate_scores"]), base, rtol=1e-5, atol=1e-5)


def test_bad_inputs_are_rejected_clearly(saved, log):
    model = load_raw_model(saved["restaurant"].parent / RAW_MODEL_FILE)
    good = _loaded(saved["restaurant"], log).raw_inputs(_queries(log).iloc[:2])
    with pytest.raises(ValueError, match="area"):
        model({k: v for k, v in good.items() if k != "area"})
    with pytest.raises(ValueError, match=r"(?s)Invalid input shape.*name 'at'"):
        model({**good, "at": good["at"][:, None].repeat(2, 1)})
    with pytest.raises(ValueError, match="history_items and history_at"):
        model({**good, "history_at": good["history_at"][:, :3]})
    with pytest.raises(Exception, match="string to int64"):
        model({**good, "at": np.array(["2026-01-01", "2026-01-02"])})
    with pytest.raises(ValueError, match="convert"):
        model({**good, "customer_id": np.array([1, 2])})


def test_the_saved_model_holds_learned_parameters_only(saved):
    files = {p.name for p in saved["restaurant"].iterdir()}
    assert {"model.keras", "features.json", "manifest.json"} <= files
    assert not files & {"history.npz", "popularity.npz", RAW_MODEL_FILE}  # no order data in the artefact
    assert not list(saved["restaurant"].parent.glob(".model.*"))  # no staging left behind


# -- the layers on their own -----------------------------------------------------------------------------


@pytest.mark.parametrize("tz", ["UTC", "America/Los_Angeles", "Europe/Berlin", "Asia/Kolkata"])
def test_local_clock_matches_pandas_across_daylight_saving(tz):
    rng = np.random.default_rng(1)
    at = rng.integers(1_700_000_000, 1_900_000_000, 400)
    at = np.concatenate([at, [1_774_746_000 - 1, 1_774_746_000, 1_792_890_000, 0, 4_200_000_000]])  # Berlin DST
    hour, dow, meal = local_clock(pd.to_datetime(at, unit="s", utc=True), tz)
    clock, got_meal = LocalClock(tz)(at)
    np.testing.assert_array_equal(np.asarray(clock), np.stack([hour, dow], 1))
    np.testing.assert_array_equal(np.asarray(got_meal), meal)


def test_history_window_matches_history_gather(log):
    space = FeatureSpace.fit(log, "restaurant")
    lines = order_lines(log, space)
    history = History.build(len(space.customers), lines)
    cust = np.arange(len(space.customers))
    at = np.full(len(cust), lines["t"].quantile(0.7))
    items, _, ages = history.gather(cust, at, at, depth=6)
    rows, valid = history.window(cust, at, 40)  # more lines than the depth, in scrambled order
    hist = np.where(valid, history.item[rows], 0)
    hist_at = np.round(np.where(valid, history.t[rows], 0) * 86_400).astype(np.int64)
    perm = np.random.default_rng(2).permutation(40)
    got_items, got_ages = HistoryWindow(depth=6)(
        [hist[:, perm], hist_at[:, perm], np.round(at * 86_400).astype(np.int64)]
    )
    # same lines (ties in time may come in another order), same ages
    np.testing.assert_array_equal(np.sort(np.asarray(got_items), 1), np.sort(items, 1))
    np.testing.assert_allclose(np.sort(np.asarray(got_ages), 1), np.sort(ages, 1), rtol=1e-6, atol=1e-4)


def test_popularity_features_match_numpy(log):
    space = FeatureSpace.fit(log, "dish")
    lines = order_lines(log, space)
    pop = Popularity.build(space, lines, end=float(lines["t"].max()) + 1).last()
    layer = PopularityFeatures(len(space.items), len(space.areas), len(space.restaurants))
    layer.set_popularity(pop)
    rng = np.random.default_rng(3)
    area, meal = rng.integers(0, len(space.areas), 16), rng.integers(0, 5, 16)
    clock = np.stack([rng.uniform(0, 24, 16), rng.integers(0, 7, 16)], 1).astype(np.float32)
    cands = rng.integers(0, len(space.items), (16, 30))
    want = pop.features(np.zeros(16, np.int64), area, meal, clock[:, 0].astype(np.int64), cands)
    got = np.asarray(layer([area, meal, clock, cands]))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert got.shape == (16, 30, N_POP_FEATURES)


def test_small_layers():
    table = IndexTable(size=3)
    table.set_table(np.array([0, 5, 7]))
    assert np.asarray(table(np.array([[2, 1, 0, 9, -1]]))).tolist() == [[7, 5, 0, 0, 0]]
    assert np.asarray(ColdStart()([np.array([3, 4]), np.array([[0, 0], [2, 0]])])).tolist() == [0, 4]
    assert np.asarray(Catalogue(n_items=2)(np.zeros(3))).tolist() == [[1, 2]] * 3
    items, scores, masked = TopK(k=4)([np.array([[5, 6, 0]]), np.array([[0.5, 2.0, 9.0]], "float32")])
    assert np.asarray(items).tolist() == [[6, 5, 0, 0]]
    assert np.asarray(scores)[0, :2].tolist() == [2.0, 0.5] and np.isinf(np.asarray(scores)[0, 2:]).all()
    assert np.isneginf(np.asarray(masked)[0, 2])


@pytest.mark.parametrize(
    "layer",
    [
        LocalClock("Europe/Berlin", 2000, 2050),
        HistoryWindow(7),
        IndexTable(4),
        PopularityFeatures(5, 3, 4, smoothing=10.0),
        ColdStart(),
        Catalogue(9),
        TopK(3),
    ],
)
def test_raw_layers_round_trip_through_their_config(layer):
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer), safe_mode=True)
    assert type(restored) is type(layer) and restored.get_config() == layer.get_config()


def test_to_days_and_unix_seconds_agree():
    at = pd.to_datetime(["2026-03-08T10:00:00Z"], utc=True)
    assert to_days(at)[0] * 86_400 == 1_772_964_000
