"""Folding one new order into a counting baseline on the large city (~1M order lines): a full refit (the default
``Recommender.observe``) against counting in place (``PopularityBaseline.observe``), side by side in one run.

    python benchmarks/bench_observe.py [--work runs/bench-observe] [--orders 6] [--baseline item-cooccurrence]

The service's large model serves a blend of the network and customer-history, so every order batch it takes
reaches this baseline; a refit stalls ranking for seconds. Steps:

1. ``foodrec generate --preset large`` and ``foodrec ingest`` (skipped when ``WORK/store`` exists);
2. two customer-history baselines (restaurant level; ``--baseline item-cooccurrence``: that one, whose item x item
   similarity rows are recomputed for the items the orders touch) are fitted on the store;
3. ``--orders`` one-order batches, alternately from a new and a returning customer, each later than the last: one
   copy refits, the other counts in place; then the next ``top_indices`` call of the in-place copy is timed;
4. both copies must rank a set of queries identically (items equal, scores within 1e-6): the figures are only
   comparable if the answers are.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from steps import generated_store


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("runs/bench-observe"))
    parser.add_argument("--orders", type=int, default=6)
    parser.add_argument("--baseline", default="customer-history", choices=["customer-history", "item-cooccurrence"])
    args = parser.parse_args()
    store = generated_store(args.work)

    from foodrec.data.store import Store
    from foodrec.recommenders.base import Recommender, make_queries
    from foodrec.recommenders.registry import make_recommender

    log = Store.open(store).order_log()
    orders = log.orders
    print(f"log: {len(orders):,} order lines, {orders['customer_id'].nunique():,} customers")
    end = orders["ordered_at"].max().floor("s")
    regulars = orders["customer_id"].astype(str).value_counts().index[:20].tolist()
    restaurants = orders["restaurant_id"].dropna().astype(str).unique()
    areas = orders["area"].dropna().astype(str).unique()

    def one_order(n: int) -> pd.DataFrame:
        customer = f"bench-new-{n}" if n % 2 == 0 else regulars[n % len(regulars)]
        return pd.DataFrame(
            {
                "order_id": [f"bench-order-{n}"],
                "customer_id": [customer],
                "area": [areas[n % len(areas)]],
                "restaurant_id": [restaurants[n * 7 % len(restaurants)]],
                "ordered_at": [end + pd.Timedelta(minutes=10 * (n + 1))],
            }
        )

    def fitted():
        return make_recommender(args.baseline, level="restaurant").refresh(log)

    started = time.perf_counter()
    refit = fitted()
    print(f"{args.baseline} fit: {time.perf_counter() - started:.2f} s")
    in_place = fitted()
    customers = [*regulars[:10], "bench-new-0", "bench-new-2", "nobody"]
    where = [areas[i % len(areas)] for i in range(len(customers))]
    in_place.top_indices(customers, where, 10)

    refit_s, place_s, rank_s = [], [], []
    for n in range(args.orders):
        batch = one_order(n)
        started = time.perf_counter()
        Recommender.observe(refit, batch)
        refit_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        in_place.observe(batch)
        place_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        in_place.top_indices(customers, where, 10)
        rank_s.append(time.perf_counter() - started)

    def show(label: str, seconds: list[float]) -> None:
        each = " ".join(f"{s * 1000:.0f}" for s in seconds)
        print(f"{label:<28} {each}  (median {np.median(seconds) * 1000:.0f} ms)")

    show("refit, ms per order", refit_s)
    show("in place, ms per order", place_s)
    show("next top_indices, ms", rank_s)
    print(f"refit / in place (medians): {np.median(refit_s) / np.median(place_s):.0f}x")

    queries = make_queries(customers, where, [end.to_pydatetime()] * len(customers))
    a, b = refit.recommend(queries, k=10), in_place.recommend(queries, k=10)
    if a.items.tolist() != b.items.tolist():
        raise SystemExit("the in-place counts rank differently from the refit")
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-6)
    print("same rankings as the refit (items equal, scores within 1e-6)")


if __name__ == "__main__":
    main_()
