"""Fresh data, old weights: does the served model keep its win when its features come from today's store?

The check of the feature-view issue, reproducible by anyone: on the demo city (seed 7), train the Keras model on
the first 45% of the days, then ask it about the orders after 80% with its features looked up in the store up to
that point (``foodrec evaluate --until``), against customer-history fitted on the same data::

    python benchmarks/bench_fresh_features.py [--work runs/fresh] [--seed 7] [--train 0.45] [--features 0.8]

Prints NDCG@10 of both, their ratio and the model's paired difference against every baseline, from the JSON of
``foodrec evaluate``. Training uses the demo's settings (``--no-search``) to stay within minutes.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd
from steps import generated_store, run


def cutoff(store: Path, fraction: float) -> str:
    from foodrec.data.store import Store

    at = Store.open(store).order_log().orders["ordered_at"]
    start, end = at.min().normalize(), at.max().normalize() + pd.Timedelta(days=1)
    days = (end - start).days
    return (start + pd.Timedelta(days=round(days * fraction))).strftime("%Y-%m-%dT%H:%M:%SZ")


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("runs/fresh"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--train", type=float, default=0.45, help="weights cut at this share of the days")
    parser.add_argument("--features", type=float, default=0.8, help="features from the store up to this share")
    args = parser.parse_args()
    store, model = generated_store(args.work, preset="default", seed=args.seed), args.work / "model"
    weights_until, features_until = cutoff(store, args.train), cutoff(store, args.features)
    t0 = time.perf_counter()
    run("train", "--store", str(store), "--until", weights_until, "--out", str(model), "--seed", str(args.seed),
        "--no-search")  # fmt: skip
    trained = time.perf_counter() - t0
    out = args.work / "evaluate.json"
    run("evaluate", "--store", str(store), "--recommender", str(model), "--until", features_until, "--out", str(out))
    result = json.loads(out.read_text())
    model_ndcg = result["result"]["overall"]["ndcg"]["mean"]
    boards = {row["recommender"]: row for row in result["baselines"]}
    history = boards["customer-history"]["ndcg"]
    print(f"weights trained on orders before {weights_until} ({trained:.0f} s), features from orders before "
          f"{features_until}, {result['test_orders']:,} later orders")  # fmt: skip
    print(f"keras NDCG@10 {model_ndcg:.4f}; customer-history {history:.4f}; ratio {model_ndcg / history:.3f}")
    diff = result["paired_difference"]["ndcg"]
    print(f"paired difference against the strongest baseline ({result['strongest_baseline']}, "
          f"{boards[result['strongest_baseline']]['ndcg']:.4f}): {diff['diff']:+.4f} "
          f"[{diff['ci_low']:+.4f}, {diff['ci_high']:+.4f}]")  # fmt: skip


if __name__ == "__main__":
    main_()
