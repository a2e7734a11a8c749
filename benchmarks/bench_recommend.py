"""Benchmark: batch recommend + metrics for 100k queries over a 10k-item catalogue (budget: 60 s on 2 cores).

Builds a synthetic training log in memory (repeat-driven customers, areas, dishes), fits each non-ML baseline,
ranks the queries and computes the per-query metrics plus bootstrap CIs, and prints the seconds side by side
with each baseline's ratio to global popularity and to the budget.

    .venv/bin/python benchmarks/bench_recommend.py                     # full size
    .venv/bin/python benchmarks/bench_recommend.py --queries 10000     # quick look
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from foodrec.data.orderlog import OrderLog  # noqa: E402
from foodrec.evaluation.bootstrap import bootstrap_ci  # noqa: E402
from foodrec.evaluation.metrics import ranking_metrics  # noqa: E402
from foodrec.recommenders.base import make_queries  # noqa: E402
from foodrec.recommenders.registry import make_recommender  # noqa: E402

BUDGET_S = 60.0
NAMES = ("global-popularity", "area-popularity", "area-mealtime-popularity", "customer-history", "item-cooccurrence")


def build(n_items: int, n_customers: int, n_orders: int, n_areas: int, n_queries: int, seed: int = 0):
    """A training log (``n_orders`` one-line orders) and test queries with one target each."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / (np.arange(n_items) + 10.0) ** 0.9  # long-tailed, every item gets some orders
    popularity = rng.permutation(popularity / popularity.sum())
    home = rng.integers(0, n_areas, n_customers)
    favourites = rng.choice(n_items, size=(n_customers, 3), p=popularity)
    customers = rng.integers(0, n_customers, n_orders)
    repeat = rng.random(n_orders) < 0.5
    items = np.where(
        repeat, favourites[customers, rng.integers(0, 3, n_orders)], rng.choice(n_items, size=n_orders, p=popularity)
    )
    start = pd.Timestamp("2026-01-01", tz="UTC")
    at = start + pd.to_timedelta(rng.uniform(0, 28 * 86400, n_orders), unit="s")
    orders = pd.DataFrame(
        {
            "order_id": np.char.add("o", np.arange(n_orders).astype(str)),
            "customer_id": np.char.add("c", customers.astype(str)),
            "ordered_at": at,
            "area": np.char.add("a", home[customers].astype(str)),
            "restaurant_id": np.char.add("r", (items // 12).astype(str)),
            "item_id": np.char.add("i", items.astype(str)),
        }
    ).sort_values("ordered_at", ignore_index=True)
    # Queries: 90% known customers, 10% unknown; a few missing areas.
    q_customers = rng.integers(0, int(n_customers * 1.1), n_queries)
    q_area = np.char.add("a", (home[np.minimum(q_customers, n_customers - 1)]).astype(str)).astype(object)
    q_area[rng.random(n_queries) < 0.01] = None
    q_at = start + pd.Timedelta(days=28) + pd.to_timedelta(rng.uniform(0, 7 * 86400, n_queries), unit="s")
    queries = make_queries(np.char.add("c", q_customers.astype(str)), q_area, q_at)
    known = q_customers < n_customers
    target = np.where(
        known & (rng.random(n_queries) < 0.5),
        favourites[np.minimum(q_customers, n_customers - 1), 0],
        rng.choice(n_items, size=n_queries, p=popularity),
    )
    targets = [{f"i{t}"} for t in target]
    return OrderLog(orders), queries, targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--customers", type=int, default=60_000)
    parser.add_argument("--orders", type=int, default=300_000)
    parser.add_argument("--areas", type=int, default=40)
    parser.add_argument("--n-boot", type=int, default=200)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--only", nargs="*", default=list(NAMES))
    args = parser.parse_args()

    t0 = time.perf_counter()
    log, queries, targets = build(args.items, args.customers, args.orders, args.areas, args.queries)
    catalogue = log.orders["item_id"].nunique()
    print(
        f"data: {len(log.orders):,} training lines, {catalogue:,} items ordered, {len(queries):,} queries, "
        f"k={args.k}, n_boot={args.n_boot} (built in {time.perf_counter() - t0:.1f} s); "
        f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}, cpus={os.cpu_count()}"
    )
    rows = []
    for name in args.only:
        t0 = time.perf_counter()
        rec = make_recommender(name).fit(log)
        t1 = time.perf_counter()
        ranking = rec.recommend(queries, k=args.k)
        t2 = time.perf_counter()
        per_query = ranking_metrics(ranking, targets, k=args.k)
        ci = bootstrap_ci(per_query, n_boot=args.n_boot)
        t3 = time.perf_counter()
        rows.append(
            {
                "recommender": name,
                "fit_s": t1 - t0,
                "recommend_s": t2 - t1,
                "metrics_s": t3 - t2,
                "recommend+metrics_s": t3 - t1,
                "ndcg@10": ci.loc["ndcg", "mean"],
            }
        )
    table = pd.DataFrame(rows).set_index("recommender")
    if "global-popularity" in table.index:
        table["x_global"] = table["recommend+metrics_s"] / table.loc["global-popularity", "recommend+metrics_s"]
    table["share_of_budget"] = table["recommend+metrics_s"] / BUDGET_S
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:,.3f}".format):
        print(table)
    worst = table["recommend+metrics_s"].max()
    print(
        f"slowest recommend + metrics: {worst:.1f} s for {len(queries):,} queries "
        f"(budget {BUDGET_S:.0f} s: {'within' if worst <= BUDGET_S else 'OVER'})"
    )


if __name__ == "__main__":
    main()
