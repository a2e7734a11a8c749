"""KerasRecommender behind the Recommender interface: ranking, the numpy fast path, saving and loading."""

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("keras")

from foodrec.recommenders.base import load_recommender, make_queries  # noqa: E402
from foodrec.recommenders.keras.examples import Examples  # noqa: E402
from foodrec.recommenders.keras.recommender import FEATURES_VERSION, KerasRecommender  # noqa: E402
from foodrec.recommenders.keras.toydata import toy_log  # noqa: E402

FAST = {"search": False, "epochs": 2, "eval_sample": 300, "batch_size": 128}


@pytest.fixture(scope="module")
def log():
    return toy_log(n_customers=150, n_restaurants=25, days=30, seed=11)


@pytest.fixture(scope="module")
def fitted(log):
    return KerasRecommender(level="restaurant", **FAST).fit(log)


@pytest.fixture(scope="module")
def fitted_dish(log):
    # full_max=20 forces the retrieval stage (candidates) on this small dish catalogue
    return KerasRecommender(level="dish", full_max=20, train_full_max=20, n_candidates=40, **FAST).fit(log)


def _queries(log, n=30):
    first = log.orders.drop_duplicates("order_id").tail(n)
    return make_queries(first["customer_id"], first["area"], first["ordered_at"] + pd.Timedelta(days=1))


def test_rankings_have_k_distinct_known_items(fitted, log):
    ranking = fitted.recommend(_queries(log), k=10)
    assert ranking.items.shape == (30, 10)
    known = set(log.orders["restaurant_id"])
    for row, scores in zip(ranking.items, ranking.scores, strict=True):
        assert len(set(row)) == 10 and set(row) <= known
        assert np.all(np.diff(scores) <= 1e-9)


def test_unknown_customers_areas_and_empty_queries_fall_back(fitted):
    q = make_queries(["never-seen", None], [None, "nowhere"], ["2026-03-01T12:00Z", "2026-03-01T19:00Z"])
    ranking = fitted.recommend(q, k=5)
    assert ranking.items.shape == (2, 5) and all(v is not None for v in ranking.items.ravel())
    assert len(fitted.recommend(q.iloc[:0], k=5)) == 0


def test_numpy_path_matches_the_keras_model(fitted, fitted_dish, log):
    for rec in (fitted, fitted_dish):
        cands, keras_scores, numpy_scores = rec.keras_scores(_queries(log, 16))
        valid = cands > 0
        np.testing.assert_allclose(numpy_scores[valid], keras_scores[valid], rtol=1e-4, atol=1e-4)


def test_numpy_path_matches_the_keras_model_with_customers_without_history_in_the_batch(fitted, fitted_dish, log):
    queries = _queries(log, 12)
    queries.loc[::3, "customer_id"] = [f"first-timer-{i}" for i in range(len(queries.loc[::3]))]  # the cold head
    for rec in (fitted, fitted_dish):
        assert rec._ranker.cold is not None
        cands, keras_scores, numpy_scores = rec.keras_scores(queries)
        valid = cands > 0
        np.testing.assert_allclose(numpy_scores[valid], keras_scores[valid], rtol=1e-4, atol=1e-4)


def test_parsed_queries_rank_exactly_as_the_query_frame(fitted, fitted_dish, log):
    # The service's typed path (no pandas) against recommend(): same items, same scores, for known and unknown
    # customers, missing and unknown areas, and times on both sides of a DST change in the log's time zone.
    queries = _queries(log, 24)
    extra = make_queries(["never-seen", queries["customer_id"][0], "x"], [None, "nowhere", None],
                         ["2026-03-29T00:30Z", "2026-03-29T01:30Z", "2026-10-25T00:59:59.5Z"])  # fmt: skip
    queries = pd.concat([queries, extra], ignore_index=True)
    queries["at"] = queries["at"].dt.floor("us")  # what a request carries (a datetime has no nanoseconds)
    times = [t.to_pydatetime() for t in queries["at"]]
    areas = [None if a is None else str(a) for a in queries["area"]]
    for rec in (fitted, fitted_dish):
        expected = rec.recommend(queries, k=7)
        got = rec.recommend_parsed(queries["customer_id"].tolist(), areas, times, k=7)
        assert got.items.tolist() == expected.items.tolist()
        np.testing.assert_array_equal(got.scores, expected.scores)
        ex_frame = Examples.from_queries(rec.view, queries)
        ex_parsed = Examples.from_parsed(rec.view, queries["customer_id"].tolist(), areas, times)
        for field in ("cust", "area", "at", "hour", "dow", "meal"):
            np.testing.assert_array_equal(getattr(ex_parsed, field), getattr(ex_frame, field), err_msg=field)


def test_the_numpy_history_match_is_the_keras_layer_on_a_big_catalogue():
    # NumpyRanker._match builds tables over the batch's history items only: ids up to 50,000, repeats, padding,
    # candidates in and out of the history, a row without history.
    from foodrec.recommenders.keras.layers import HistoryMatch
    from foodrec.recommenders.keras.recommender import NumpyRanker

    rng = np.random.default_rng(3)
    hist = rng.integers(1, 50_000, (6, 20)).astype(np.int32)
    hist[:, 10:] = hist[:, :10]  # every item twice
    hist[rng.random(hist.shape) < 0.2] = 0
    hist[5] = 0
    cands = np.concatenate([hist[:, :8], rng.integers(0, 50_000, (6, 30))], axis=1).astype(np.int32)
    age = rng.uniform(0, 90, hist.shape).astype(np.float32)
    layer = HistoryMatch(half_lives=(7.0, 60.0), recency_half_life=30.0)
    expected = np.asarray(layer([cands, hist, age]))
    got = NumpyRanker._match(cands, hist, age, ((7.0, 60.0), 30.0))
    valid = cands > 0
    np.testing.assert_allclose(got[valid], expected[valid], rtol=1e-5, atol=1e-6)
    assert got[:5, :8][hist[:5, :8] > 0][:, 0].min() >= np.log1p(1.0) - 1e-6  # in the history: counted
    assert np.log1p(2.0) - 1e-6 <= got[valid][:, 0].max()  # a repeated item counts twice


def test_dish_level_uses_retrieved_candidates(fitted_dish, log):
    ranking = fitted_dish.recommend(_queries(log), k=10)
    assert set(ranking.items[ranking.items != None].ravel()) <= set(log.orders["item_id"])  # noqa: E711


def test_save_and_load_give_the_same_rankings(fitted, tmp_path, log):
    fitted.save(tmp_path / "model", extra={"cutoff": "2026-02-04T00:00:00+00:00"})
    manifest = json.loads((tmp_path / "model" / "manifest.json").read_text())
    assert manifest["class"].endswith("KerasRecommender") and manifest["config"]["train"]["epochs"] == 2
    assert not list(tmp_path.glob("*.pkl")) and (tmp_path / "model" / "model.keras").is_file()
    loaded = load_recommender(tmp_path / "model").refresh(log)  # weights from the file, data from the log
    q = _queries(log)
    a, b = fitted.recommend(q, k=10), loaded.recommend(q, k=10)
    assert (a.items == b.items).all()
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-6)

    assert manifest["config"]["features_version"] == FEATURES_VERSION


def test_a_model_saved_with_other_features_asks_to_be_retrained(fitted, tmp_path):
    from foodrec.errors import InputError

    fitted.save(tmp_path / "model")
    path = tmp_path / "model" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["config"]["features_version"] = FEATURES_VERSION - 1
    path.write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="another foodrec version.*train it again") as err:
        load_recommender(tmp_path / "model")
    assert "\n" not in str(err.value)


def test_damaged_model_files_give_a_one_line_error(fitted, tmp_path):
    from foodrec.errors import InputError

    fitted.save(tmp_path / "model")
    (tmp_path / "model" / "features.json").write_text("{not json")
    with pytest.raises(InputError, match="cannot load the Keras model|checksum") as err:
        load_recommender(tmp_path / "model")
    assert "\n" not in str(err.value)


def test_a_loaded_model_needs_data_and_says_so(fitted, tmp_path, log):
    from foodrec.errors import InputError

    fitted.save(tmp_path / "model")
    loaded = load_recommender(tmp_path / "model")
    with pytest.raises(InputError, match="holds no order data.*--store") as err:
        loaded.recommend(_queries(log, 2), k=3)
    assert "\n" not in str(err.value)


def test_refresh_sees_newer_orders_with_the_same_weights(log):
    """Weights cut early, data up to now: customers new since training get their history, weights stay put."""
    cut = log.orders["ordered_at"].quantile(0.5)
    rec = KerasRecommender(level="restaurant", **FAST).fit(log.before(cut))
    weights = [w.copy() for w in rec.model.get_weights()]
    later = log.orders[log.orders["ordered_at"] >= cut]
    newcomer = sorted(set(later["customer_id"]) - set(log.orders[log.orders["ordered_at"] < cut]["customer_id"]))[0]
    mine = later[later["customer_id"] == newcomer]
    q = make_queries([newcomer], [mine["area"].iloc[-1]], [log.orders["ordered_at"].max() + pd.Timedelta(hours=1)])
    before = rec.recommend(q, k=3).items[0].tolist()
    rec.refresh(log)
    inputs, _ = rec._builder().build(Examples.from_queries(rec.view, q))
    assert (inputs["history_items"] > 0).sum() == mine.drop_duplicates("order_id").shape[0] > 0
    assert inputs["customer"][0] == 0  # unknown to the model: the unknown-customer embedding row
    after = rec.recommend(q, k=3).items[0].tolist()
    assert set(mine["restaurant_id"]) & set(after) and before != after
    for w, v in zip(weights, rec.model.get_weights(), strict=True):
        np.testing.assert_array_equal(w, v)


def test_observed_orders_reach_the_next_recommendation(fitted, log):
    rec = KerasRecommender.__new__(KerasRecommender)
    rec.__dict__.update(fitted.__dict__)
    rec.refresh(log)
    at = log.orders["ordered_at"].max() + pd.Timedelta(hours=2)
    q = make_queries(["walk-in"], [log.orders["area"].iloc[0]], [at])
    first = rec.recommend(q, k=5).items[0].tolist()
    pick = sorted(set(log.orders["restaurant_id"]) - set(first))[0]
    order = pd.DataFrame(
        {
            "order_id": ["new-1"] * 3,
            "customer_id": ["walk-in"] * 3,
            "area": [q["area"][0]] * 3,
            "restaurant_id": [pick] * 3,
            "ordered_at": [at - pd.Timedelta(minutes=30)] * 3,
        }
    )
    assert rec.observe(order) == 1 and rec.observe(order) == 0  # one line (restaurant level), counted once
    assert pick in rec.recommend(q, k=5).items[0].tolist()


def test_explain_reads_the_models_inputs_and_recent_orders_the_view(fitted, log):
    from foodrec.data.time_features import MEAL_TIMES
    from foodrec.recommenders.reasons import SIMILAR_CUSTOMERS, ordered_before, popular_in

    rec = KerasRecommender.__new__(KerasRecommender)
    rec.__dict__.update(fitted.__dict__)
    rec.refresh(log)
    last = log.orders.iloc[-1]
    at = log.orders["ordered_at"].max() + pd.Timedelta(hours=1)
    q = make_queries([last["customer_id"], "walk-in"], [last["area"], last["area"]], [at, at])
    items = rec.recommend(q, k=len(rec.space.items) - 1).items.tolist()  # the whole catalogue
    reasons = rec.explain(q, items)
    assert [len(r) for r in reasons] == [len(i) for i in items]
    recent = rec.recent_orders(last["customer_id"], 50)
    assert (
        recent
        and recent[0]["items"] == [last["restaurant_id"]]
        and recent == rec.view.recent_orders(last["customer_id"], 50)
    )
    counts = pd.Series([i for order in recent for i in order["items"]]).value_counts()  # depth 50 >= all of them
    popular = popular_in(last["area"], MEAL_TIMES[int(Examples.from_queries(rec.view, q).meal[0])])
    for item, reason in zip(items[0], reasons[0], strict=True):
        expected = {ordered_before(int(counts[item]))} if item in counts else {popular, SIMILAR_CUSTOMERS}
        assert reason in expected, (item, reason)
    assert set(reasons[1]) == {popular, SIMILAR_CUSTOMERS}  # no history: popular here, else the learned affinity
    assert rec.explain(q.iloc[:0], []) == []


@pytest.mark.slow
def test_same_seed_same_model(log):
    small = log.before("2026-01-25")
    a = KerasRecommender(level="restaurant", seed=3, **{**FAST, "epochs": 1}).fit(small)
    b = KerasRecommender(level="restaurant", seed=3, **{**FAST, "epochs": 1}).fit(small)
    q = _queries(small, 10)
    np.testing.assert_allclose(a.recommend(q, k=5).scores, b.recommend(q, k=5).scores, rtol=1e-5)


def test_unknown_setting_is_a_user_error():
    from foodrec.errors import InputError

    with pytest.raises(InputError, match="unknown training setting"):
        KerasRecommender(learning_speed=3)
