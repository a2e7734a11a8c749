"""How far any cold-start path can get on a synthetic store: the best ranking from context alone, on new customers.

A customer with no order before the cutoff is known to a recommender only by the query's context (area, local time).
On a synthetic city the generator's choice model says what the best ranking from that context is: rank by the
probability of being chosen, averaged over the customer population's tastes and price sensitivities (the customer is
a random draw from it, as far as anyone can tell). For orders of one restaurant that ranking maximises expected
NDCG@10, so no context-only model can beat it but by chance. The script prints it beside area x meal-time
popularity (the baseline a cold-start path must beat) and the oracle that knows the customer's taste::

    python benchmarks/peers/cold_ceiling.py --store /tmp/twins/twin-42/store
    python benchmarks/peers/cold_ceiling.py --store STORE --draws 150 --json out.json

Test split: ``foodrec.evaluation``'s default cutoff; only new customers' test orders are scored, with the training
period's orders as history (as every recommender sees them).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from foodrec.data.store import Store
from foodrec.data.synthetic.truth import GroundTruth
from foodrec.errors import InputError
from foodrec.evaluation.cases import make_test_cases
from foodrec.evaluation.evaluate import evaluate_recommender
from foodrec.evaluation.metrics import ranking_metrics
from foodrec.evaluation.split import temporal_split
from foodrec.recommenders.base import Ranking
from foodrec.recommenders.registry import make_recommender


def context_ceiling(truth: GroundTruth, queries: pd.DataFrame, level: str, draws: int, seed: int = 0):
    """``(item_ids, probabilities)``: choice probabilities averaged over ``draws`` random customers of the city,
    each query keeping its own area and time (no history)."""
    rng = np.random.default_rng(seed)
    population = np.asarray(truth.world.customer_ids, dtype=object)
    total = None
    for _ in range(draws):
        q = queries.assign(customer_id=population[rng.integers(0, len(population), len(queries))])
        ids, p = truth.choice_probabilities(q, None, level=level)
        total = p if total is None else total + p
    return ids, total / draws


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--draws", type=int, default=150, help="customers drawn per query to average over")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    try:
        if not (args.store / "truth").exists():
            raise InputError(f"{args.store} has no synthetic ground truth (truth/): the ceiling needs a synthetic city")
        if args.draws < 1:
            raise InputError("--draws must be at least 1")
        split = temporal_split(Store.open(args.store).order_log())
        level = split.train.resolve_level(None)
        cases = make_test_cases(split.train, split.test, level)
        new = cases.subset((cases.segments["customer_type"] == "new").to_numpy())
        if len(new) == 0:
            raise InputError("no new customers' orders in the test period")
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    rows = {}
    for name in ("area-mealtime-popularity", "oracle"):
        rec = make_recommender(name, level=level).fit(split.train)
        rows[name] = evaluate_recommender(rec, new, n_boot=50, name=name).value("ndcg")
    ids, prob = context_ceiling(GroundTruth.load(args.store / "truth"), new.queries, level, args.draws)
    top = np.argsort(-prob, axis=1)[:, :10]
    ranking = Ranking(np.asarray(ids, dtype=object)[top], np.take_along_axis(prob, top, 1))
    rows["context ceiling"] = float(ranking_metrics(ranking, new.targets, k=10)["ndcg"].mean())
    base = rows["area-mealtime-popularity"]
    print(f"{args.store}: {len(new):,} new customers' test orders, NDCG@10 (x area x meal-time popularity)")
    for name, value in rows.items():
        print(f"  {name:28s} {value:.4f}  {value / base:.3f} x")
    if args.json:
        args.json.write_text(json.dumps({"store": str(args.store), "orders": len(new), "ndcg10": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
