"""GroundTruth (contract 2): loading, scores, history handling, calibration against the simulator, the oracle."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from foodrec.data.synthetic.generate import generate_city
from foodrec.data.synthetic.presets import preset_config
from foodrec.data.synthetic.truth import GroundTruth
from foodrec.errors import InputError


def read_orders(directory) -> pd.DataFrame:
    frame = pd.read_csv(directory / "orders.csv", dtype=str)
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"], utc=True, errors="coerce", format="ISO8601")
    return frame.dropna(subset=["ordered_at"]).drop_duplicates().sort_values("ordered_at").reset_index(drop=True)


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    out = tmp_path_factory.mktemp("city")
    generate_city(preset_config("default", customers=12000, days=35, drift_at=20, seed=3), out)
    orders = read_orders(out)
    cut = orders["ordered_at"].min() + pd.Timedelta(days=28)
    return out, GroundTruth.load(out), orders[orders.ordered_at < cut], orders[orders.ordered_at >= cut]


def test_load_from_city_or_truth_folder_and_error_elsewhere(city, tmp_path):
    out, truth, _, _ = city
    assert GroundTruth.load(out / "truth").world.n_items == truth.world.n_items
    with pytest.raises(InputError, match="no synthetic ground truth"):
        GroundTruth.load(tmp_path)


def test_scores_shapes_ids_and_unavailable_items(city):
    _, truth, train, _ = city
    q = pd.DataFrame({"customer_id": ["c0000001", "nobody"], "area": [truth.world.area_ids[0], None],
                      "at": pd.to_datetime(["2026-02-03T20:00Z", "2026-02-03T03:00Z"], utc=True)})  # fmt: skip
    for level, n in (("dish", truth.world.n_items), ("restaurant", truth.world.n_restaurants)):
        ids, u = truth.scores(q, train, level)
        assert u.shape == (2, n) and len(ids) == n and ids.dtype.kind == "U"
        assert np.isfinite(u).any(axis=1).all()  # something is available for both, unknown customer included
    ids, u = truth.scores(q, train, "restaurant")
    # restaurants that do not deliver to area 0 are unavailable for the first query
    far = ~np.isfinite(truth.world.delivery_penalty()[0])
    assert np.isneginf(u[0, far]).all()
    with pytest.raises(InputError, match="level"):
        truth.scores(q, train, "menu")
    with pytest.raises(InputError, match="lack"):
        truth.scores(q.drop(columns="at"), train, "dish")
    with pytest.raises(InputError, match="'at'"):
        truth.scores(q.assign(at=["yesterday", "2026-02-03T03:00Z"]), train, "dish")


def test_only_history_before_the_query_counts(city):
    _, truth, train, test = city
    q = test.drop_duplicates("order_id").tail(50).rename(columns={"ordered_at": "at"})[["customer_id", "area", "at"]]
    _, u_train = truth.scores(q, train, "restaurant")
    _, u_all = truth.scores(q, pd.concat([train, test]), "restaurant")
    later = pd.concat([train, test[test.ordered_at > q["at"].max()]])
    _, u_later = truth.scores(q, later, "restaurant")
    assert np.array_equal(u_train, u_later)  # orders after every query change nothing
    assert not np.array_equal(u_train, u_all)  # orders between cut-off and query do count


def test_habit_raises_the_utility_of_past_restaurants(city):
    _, truth, train, _ = city
    w = truth.world
    cust = "c0000042"
    area = w.area_ids[w.cust_home[42]]
    at = pd.Timestamp("2026-02-10T03:00Z")
    q = pd.DataFrame({"customer_id": [cust], "area": [area], "at": [at]})
    _, base = truth.scores(q, None, "restaurant")
    r = int(np.nanargmax(np.where(np.isfinite(base[0]), base[0], -np.inf)))
    past = pd.DataFrame({"order_id": ["x1", "x2"], "customer_id": [cust, cust],
                         "ordered_at": [at - pd.Timedelta(days=1), at - pd.Timedelta(days=30)],
                         "restaurant_id": [w.restaurant_ids[r]] * 2})  # fmt: skip
    _, with_habit = truth.scores(q, past, "restaurant")
    tau = w.params["habit_tau_days"]
    expected = w.cust_loyalty[42] * np.log1p(np.exp(-1 / tau) + np.exp(-30 / tau))
    assert with_habit[0, r] - base[0, r] == pytest.approx(expected)
    others = np.isfinite(base[0]) & (np.arange(w.n_restaurants) != r)
    assert np.allclose(with_habit[0, others], base[0, others])


def test_choice_probabilities_and_slates(city):
    _, truth, train, test = city
    q = test.drop_duplicates("order_id").head(20).rename(columns={"ordered_at": "at"})[["customer_id", "area", "at"]]
    ids, p = truth.choice_probabilities(q, train, "dish")
    assert np.allclose(p.sum(axis=1), 1.0) and (p >= 0).all()
    top = ids[np.argsort(-p, axis=1)[:, :5]]
    slates = np.c_[top, np.full(len(q), None, dtype=object)]
    shown, ps = truth.choice_probabilities(q, train, "dish", slates=slates)
    assert ps.shape == (20, 7) and np.allclose(ps.sum(axis=1), 1.0) and (ps[:, 5] == 0).all()
    _, boosted = truth.choice_probabilities(q, train, "dish", slates=slates, slate_boost=1.0)
    assert (boosted[:, :5].sum(axis=1) > ps[:, :5].sum(axis=1)).all()


def test_truth_is_calibrated_on_the_simulated_choices(city):
    """Orders drawn by the simulator follow the truth's probabilities: in each bin of the predicted chance of
    the top restaurant (bins of >= 150 orders), how often it was chosen is within 3 binomial standard errors."""
    _, truth, train, test = city
    orders = test.drop_duplicates("order_id")
    orders = orders[orders.area.notna()]
    q = orders.rename(columns={"ordered_at": "at"})[["customer_id", "area", "at"]]
    history = pd.concat([train, test])  # only the part before each query counts
    ids, p = truth.choice_probabilities(q, history, "restaurant")
    top = p.argmax(axis=1)
    hit = ids[top] == orders["restaurant_id"].to_numpy()
    p_top = p[np.arange(len(p)), top]
    bins = np.digitize(p_top, [0.1, 0.2, 0.3, 0.5, 0.7])
    checked = 0
    for b in np.unique(bins):
        sel = bins == b
        if sel.sum() >= 150:
            expected = p_top[sel].mean()
            se = np.sqrt(expected * (1 - expected) / sel.sum())
            assert abs(hit[sel].mean() - expected) < 3 * se + 0.01, (b, hit[sel].mean(), expected)
            checked += 1
    assert checked >= 4
    # and overall: mean log-likelihood of the real choices beats a uniform guess among available restaurants
    chosen = pd.Index(ids).get_indexer(orders["restaurant_id"])
    assert (p[np.arange(len(p)), chosen] > 0).all()  # every real choice is possible under the truth
    ll = np.log(p[np.arange(len(p)), chosen])
    n_avail = (p > 0).sum(axis=1)
    assert ll.mean() > np.mean(-np.log(n_avail)) + 1.0


@pytest.mark.parametrize("level", ["dish", "restaurant"])
def test_oracle_beats_popularity_clearly(city, level):
    _, truth, train, test = city
    col = "item_id" if level == "dish" else "restaurant_id"
    targets = test.groupby("order_id").agg(customer_id=("customer_id", "first"), area=("area", "first"),
                                           at=("ordered_at", "first"), items=(col, set))  # fmt: skip
    popular = train.drop_duplicates(["order_id", col])[col].value_counts().index[:10]
    hr_pop = np.mean([len(t & set(popular)) > 0 for t in targets["items"]])
    ids, u = truth.scores(targets[["customer_id", "area", "at"]].reset_index(drop=True), train, level)
    top = ids[np.argsort(-u, axis=1)[:, :10]]
    hr_oracle = np.mean([len(t & set(row)) > 0 for t, row in zip(targets["items"], top, strict=True)])
    assert hr_oracle > 2.0 * hr_pop and hr_oracle - hr_pop > 0.2, (hr_oracle, hr_pop)


def test_drift_raises_the_trending_cuisine_after_the_drift_day(city):
    out, truth, _, _ = city
    drift = json.loads((out / "city.json").read_text())["drift"]
    assert drift["day"] == 20 and drift["cuisine"]
    w = truth.world
    c = drift["cuisine_index"]
    q = pd.DataFrame({"customer_id": ["c0000007"] * 2, "area": [None, None],
                      "at": pd.to_datetime(["2026-01-10T20:00Z", "2026-02-08T20:00Z"], utc=True)})  # fmt: skip
    _, u = truth.scores(q, None, "restaurant")
    both = np.isfinite(u[0]) & np.isfinite(u[1])
    change = u[1, both] - u[0, both]
    trend = w.rest_cuisine[both] == c
    gain = change[trend].mean() - change[~trend].mean()
    assert gain == pytest.approx(drift["boost"], abs=0.3)
