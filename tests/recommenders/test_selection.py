"""Model selection on validation (recommenders/keras/selection.py): the blend, the choice, and serving the choice."""

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("keras")

from foodrec.recommenders.base import load_recommender, make_queries  # noqa: E402
from foodrec.recommenders.keras.recommender import KerasRecommender  # noqa: E402
from foodrec.recommenders.keras.selection import Choice, fuse, select  # noqa: E402
from foodrec.recommenders.keras.toydata import toy_log  # noqa: E402
from foodrec.recommenders.registry import make_recommender  # noqa: E402


@pytest.fixture(scope="module")
def log():
    return toy_log(n_customers=150, n_restaurants=25, days=30, seed=11)


def test_fuse_moves_from_the_network_to_the_baseline_with_the_weight():
    net = np.array([["a", "b", "c", "d"]], dtype=object)
    base = np.array([["d", "c", "x", None]], dtype=object)
    assert fuse(net, base, 0.0, 4).tolist() == [["a", "b", "c", "d"]]
    assert fuse(net, base, 1.0, 3).tolist() == [["d", "c", "x"]]
    mixed = fuse(net, base, 0.5, 4)[0].tolist()
    assert mixed[0] == "d" and "c" in mixed[:3] and set(mixed) <= {"a", "b", "c", "d", "x"}  # high in both: up


def test_a_network_that_ranks_at_random_loses_to_the_baseline(log):
    rng = np.random.default_rng(0)
    items = np.array(sorted(log.orders["restaurant_id"].unique()), dtype=object)

    def random_network(queries, k):
        return np.stack([rng.permutation(items)[:k] for _ in range(len(queries))])

    cutoff = log.orders["ordered_at"].quantile(0.8)
    choice = select(log, "restaurant", cutoff, random_network)
    choose = choice.evidence["choose_ndcg10"]
    assert choice.kind in ("baseline", "blend") and choice.baseline is not None
    assert choose[choice.kind] >= max(choose.values()) and choose["baseline"] > choose["network"]
    assert choice.evidence["learn_block"]["until"] <= choice.evidence["choose_block"]["from"]  # learn, then choose
    capped = select(log, "restaurant", cutoff, random_network, max_orders=60)
    used = capped.evidence["validation_orders"]
    assert used["used"] == 60 < used["of"] == choice.evidence["validation_orders"]["used"]
    assert capped.evidence["learn_block"]["orders"] + capped.evidence["choose_block"]["orders"] == 60


def test_a_network_no_better_than_noise_away_from_the_baseline_keeps_serving(log):
    cutoff = log.orders["ordered_at"].quantile(0.8)
    before = log.orders[log.orders["ordered_at"] < cutoff]
    from foodrec.data.orderlog import OrderLog

    same = make_recommender("customer-history", level="restaurant").fit(OrderLog(before))
    choice = select(log, "restaurant", cutoff, lambda queries, k: same.recommend(queries, k=k).items)
    assert choice.kind == "network"  # it ranks as customer-history does: no reason to leave it for a baseline
    assert all(m["mean"] <= m["needed"] for m in choice.evidence["margin_over_network"].values())
    new = choice.evidence["new_customers"]
    assert new["orders"] > 0 and 0.0 <= new["network"] <= 1.0 and 0.0 <= new["area-mealtime-popularity"] <= 1.0


def test_the_chosen_baseline_serves_and_survives_save_and_load(log, tmp_path):
    rec = KerasRecommender(level="restaurant", search=False, epochs=1, eval_sample=200, batch_size=128).fit(log)
    assert "selection" in rec.info["validation"]  # validation made a choice (whatever it was) and kept its evidence
    rec.info["validation"]["selection"] = Choice("baseline", "customer-history").to_json()
    first = log.orders.drop_duplicates("order_id").tail(20)
    queries = make_queries(first["customer_id"], first["area"], first["ordered_at"] + pd.Timedelta(days=1))
    expected = make_recommender("customer-history", level="restaurant").fit(log).recommend(queries, k=5).items
    assert rec.recommend(queries, k=5).items.tolist() == expected.tolist()
    assert rec.recommend(queries, k=5, network_only=True).items.tolist() != expected.tolist()
    rec.save(tmp_path / "m")
    loaded = load_recommender(tmp_path / "m").refresh(log)
    assert loaded.choice.kind == "baseline"
    assert loaded.recommend(queries, k=5).items.tolist() == expected.tolist()
    loaded.info["validation"]["selection"] = Choice("blend", "customer-history", 0.5).to_json()
    blended = loaded.recommend(queries, k=5).items
    assert blended.shape == (20, 5) and all(len(set(row)) == 5 for row in blended.tolist())


def test_validation_baselines_keep_the_logs_time_zone(log):
    # Meal times are local: the validation split must keep the log's time zone, or area x meal-time popularity is
    # fitted and asked in UTC meal times and loses to a network that ranks exactly as it does on the real log.
    from dataclasses import replace

    local = replace(log, orders=log.orders.assign(ordered_at=log.orders["ordered_at"] + pd.Timedelta(hours=8)),
                    timezone="America/Los_Angeles")  # fmt: skip
    cutoff = local.orders["ordered_at"].quantile(0.8)
    same = make_recommender("area-mealtime-popularity", level="restaurant").fit(local.before(cutoff))
    choice = select(local, "restaurant", cutoff, lambda queries, k: same.recommend(queries, k=k).items)
    new = choice.evidence["new_customers"]
    assert new["orders"] > 0 and new["network"] == pytest.approx(new["area-mealtime-popularity"])
    row = next(r for r in choice.evidence["baselines"] if r["baseline"] == "area-mealtime-popularity")
    assert row["learn_baseline"] == pytest.approx(choice.evidence["learn_network"])


def test_new_customers_get_the_head_only_when_it_beats_popularity_by_the_margin(log):
    # Area x meal-time popularity answers customers without history unless the network's head beats it on
    # validation by more than MARGIN_SE standard errors of the paired per-order difference.
    from foodrec.recommenders.keras.selection import MARGIN_SE

    cutoff = log.orders["ordered_at"].quantile(0.8)
    pop = make_recommender("area-mealtime-popularity", level="restaurant").fit(log.before(cutoff))
    known = set(log.before(cutoff).orders["customer_id"].astype(str))
    ordered = log.orders.groupby(["customer_id", "ordered_at"])["restaurant_id"].first()

    def network(oracle_rows):
        def items(queries, k):
            out = pop.recommend(queries, k=k).items.copy()
            new = [i for i, c in enumerate(queries["customer_id"].astype(str)) if c not in known]
            for i in new[:oracle_rows]:  # the order's own restaurant first for the first few new customers
                target = ordered[(queries["customer_id"].iloc[i], queries["at"].iloc[i])]
                out[i] = [target, *[x for x in out[i] if x != target][: k - 1]]
            return out

        return items

    tie = select(log, "restaurant", cutoff, network(0)).evidence["new_customers"]
    assert tie["orders"] >= 5 and tie["margin"]["mean"] == 0.0 and tie["serves"] == "popularity"
    noise = select(log, "restaurant", cutoff, network(1))  # better on one order per block: a noise-sized win
    new = noise.evidence["new_customers"]
    assert 0.0 < new["margin"]["mean"] <= MARGIN_SE * new["margin"]["se"] == new["margin"]["needed"]
    assert new["network"] > new["area-mealtime-popularity"] and noise.new_customers == "popularity"
    win = select(log, "restaurant", cutoff, network(10_000))  # the head right on every new customer's order
    assert win.evidence["new_customers"]["margin"]["mean"] > win.evidence["new_customers"]["margin"]["needed"]
    assert win.new_customers == "network" == Choice.from_json(win.to_json()).new_customers
    assert Choice.from_json({"kind": "network"}).new_customers == "network"  # older models: the head, as before
    short = select(log, "restaurant", log.orders["ordered_at"].max(), network(0))
    assert "skipped" in short.evidence and short.new_customers == "popularity"  # no evidence for the head
