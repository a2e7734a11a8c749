"""The ranking inputs of a served batch with the view's popularity feature tables against computing the features
per candidate (``InputBuilder(popularity_tables=False)``), side by side in one run, on a store and a trained model.

    python benchmarks/bench_inputs.py STORE MODEL [--batches 16 32] [--answers 2048] [--orders 64]

Queries are those of distinct customers as the service gets them: each customer's area, one in twenty a new
customer, all five minutes after the store's last order. Printed per answer, for each batch size:

1. ``InputBuilder.build`` (history, retrieval, popularity features, the model's input arrays) with and without
   the tables, and the whole ``recommend_parsed`` (inputs, the numpy forward pass, top k) with and without;
2. the same with one new order folded in (``observe``) before every batch: the tables of the newest snapshot are
   dropped each time, so this is the worst case for them.

Every batch's inputs and rankings must be identical both ways (they are compared): the figures are only
comparable if the answers are.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]) for k in a)


def best_of(f, items, reps: int = 5) -> float:
    """The fastest of ``reps`` passes of ``f`` over ``items``, seconds."""
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        for x in items:
            f(x)
        best = min(best, time.perf_counter() - t)
    return best


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("model", type=Path)
    parser.add_argument("--batches", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--answers", type=int, default=2048)
    parser.add_argument("--orders", type=int, default=64)
    args = parser.parse_args()

    from foodrec.data.store import Store
    from foodrec.recommenders.keras.examples import Examples
    from foodrec.recommenders.keras.recommender import KerasRecommender
    from foodrec.recommenders.registry import resolve_recommender

    log = Store.open(args.store).order_log()
    rec = resolve_recommender(str(args.model), log=log, level=None)
    if not isinstance(rec, KerasRecommender):
        raise SystemExit(f"error: {args.model} is not a Keras model")
    orders = log.orders
    end = orders["ordered_at"].max()
    last = orders.sort_values("ordered_at").drop_duplicates("customer_id", keep="last").sample(frac=1, random_state=0)
    customers = [c if i % 20 else f"new-{i}" for i, c in enumerate(last["customer_id"].astype(str))]
    areas = last["area"].astype(str).tolist()
    at = end.to_pydatetime() + timedelta(minutes=5)
    builder = rec._builder
    direct = lambda: dataclasses.replace(builder(), popularity_tables=False)  # noqa: E731

    def batches(bs: int, n: int) -> list[tuple]:
        starts = [i % (len(customers) - bs) for i in range(0, n, bs)]
        return [(customers[i : i + bs], areas[i : i + bs], [at] * bs) for i in starts]

    b = builder()
    print(f"store: {len(orders):,} order lines; catalogue {b.n_items:,} items, {b.n_candidates} candidates a query")
    for bs in args.batches:
        qs = batches(bs, args.answers)
        examples = [Examples.from_parsed(rec.view, *q) for q in qs]
        tables, plain = builder(), direct()
        for ex in examples:  # identical inputs (and the tables are warm before timing)
            if not same(tables.build(ex)[0], plain.build(ex)[0]):
                raise SystemExit("error: the inputs differ with and without the tables")
        answered = len(qs) * bs

        def rank_direct(q):
            rec._builder = direct
            try:
                return rec.recommend_parsed(*q, 10)
            finally:
                rec._builder = builder

        for q in qs[:20]:
            a, b = rec.recommend_parsed(*q, 10), rank_direct(q)
            if not (np.array_equal(a.items, b.items) and np.array_equal(a.scores, b.scores)):
                raise SystemExit("error: the rankings differ with and without the tables")
        t = {}
        for _ in range(2):  # interleaved rounds, the best pass of each
            t["build direct"] = min(t.get("build direct", 1e9), best_of(plain.build, examples))
            t["build tables"] = min(t.get("build tables", 1e9), best_of(tables.build, examples))
            t["rank direct"] = min(t.get("rank direct", 1e9), best_of(rank_direct, qs, 3))
            t["rank tables"] = min(t.get("rank tables", 1e9), best_of(lambda q: rec.recommend_parsed(*q, 10), qs, 3))
        for part in ("build", "rank"):
            d, w = (t[f"{part} {how}"] * 1000 / answered for how in ("direct", "tables"))
            label = "InputBuilder.build" if part == "build" else "recommend_parsed"
            print(f"batch {bs:3d}  {label:18s}  per candidate {d:.4f} ms/answer, tables {w:.4f} ({d / w:.2f}x)")

    # the worst case: a new order (so new tables) before every batch
    bs = args.batches[0]
    sample = orders[orders["order_id"].isin(orders["order_id"].drop_duplicates().tail(args.orders))]
    ids = sample["order_id"].drop_duplicates().tolist()
    spent = {"direct": 0.0, "tables": 0.0}
    for n, q in enumerate(batches(bs, args.orders * bs)):
        order = sample[sample["order_id"] == ids[n % len(ids)]].assign(
            order_id=f"bench-{n}", ordered_at=end + pd.Timedelta(seconds=n + 1)
        )
        rec.observe(order)
        ex = Examples.from_parsed(rec.view, *q)
        built = {}
        for how, b in (("direct", direct()), ("tables", builder())):
            t0 = time.perf_counter()
            built[how] = b.build(ex)[0]
            spent[how] += time.perf_counter() - t0
        if not same(built["direct"], built["tables"]):
            raise SystemExit("error: the inputs differ with and without the tables after an order")
    d, w = (spent[how] * 1000 / (args.orders * bs) for how in ("direct", "tables"))
    print(f"batch {bs:3d}  an order before each  build per candidate {d:.4f} ms/answer, tables {w:.4f} ({d / w:.2f}x)")


if __name__ == "__main__":
    main_()
