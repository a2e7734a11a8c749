"""Quality side by side on one store: baselines, the Keras model, peers (implicit ALS, LightFM), the oracle.

Everything is evaluated on the same temporal split (``foodrec.evaluation``'s default cutoff unless ``--until``)
and the same test cases. Prints one table: NDCG@10 with its bootstrap CI, the ratio to the strongest baseline,
the paired bootstrap CI of (model - strongest baseline) and the ratio to the oracle; writes it as JSON too.

    python benchmarks/peers/quality.py --store runs/demo/store --model runs/demo/model
    python benchmarks/peers/quality.py --store STORE --train-out /tmp/model      # trains first (foodrec train)

Peers are optional extras, not in the default install: ``pip install implicit==0.7.3`` (ALS and BPR). LightFM 1.17
does not build on Python 3.11 here (its setup.py breaks under current setuptools), so it is reported as unavailable
when missing and implicit's BPR stands in for a ranking-loss factorisation.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

# Before numpy is imported: OpenBLAS reads its thread count once (implicit warns, and runs slower, otherwise).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from foodrec.data.store import Store  # noqa: E402
from foodrec.evaluation.cases import make_test_cases  # noqa: E402
from foodrec.evaluation.evaluate import evaluate_recommender, paired_difference  # noqa: E402
from foodrec.evaluation.split import temporal_split  # noqa: E402
from foodrec.recommenders.base import load_recommender  # noqa: E402
from foodrec.recommenders.registry import make_recommender  # noqa: E402

BASELINE_NAMES = (
    "global-popularity",
    "area-popularity",
    "area-mealtime-popularity",
    "customer-history",
    "item-cooccurrence",
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", required=True, type=Path)
    ap.add_argument("--model", type=Path, help="a model directory written by `foodrec train` (same cutoff)")
    ap.add_argument("--train-out", type=Path, help="train a model here first (foodrec train defaults)")
    ap.add_argument("--until", default=None)
    ap.add_argument("--level", default=None)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    store = Store.open(args.store)
    log = store.order_log()
    split = temporal_split(log, until=args.until)
    level = split.train.resolve_level(args.level)
    cases = make_test_cases(split.train, split.test, level)
    print(f"{args.store}: level {level}, cutoff {split.cutoff.isoformat()}, {len(cases):,} test orders")
    results = {}
    seconds = {}
    for name in BASELINE_NAMES:
        t0 = time.perf_counter()
        rec = make_recommender(name, level=level).fit(split.train)
        results[name] = evaluate_recommender(rec, cases, n_boot=args.n_boot, name=name)
        seconds[name] = time.perf_counter() - t0
    model_dir = args.model
    if args.train_out is not None:
        from foodrec.recommenders.command import run_train

        t0 = time.perf_counter()
        run_train(args.store, args.train_out, until=split.cutoff.isoformat(), level=level)
        seconds["keras (train)"] = time.perf_counter() - t0
        model_dir = args.train_out
    if model_dir is not None:
        rec = load_recommender(model_dir)
        manifest = json.loads((model_dir / "manifest.json").read_text())
        if pd.Timestamp(manifest["cutoff"]) != split.cutoff:
            print(f"warning: the model's cutoff {manifest['cutoff']} differs from the split's {split.cutoff}")
        t0 = time.perf_counter()
        results["keras"] = evaluate_recommender(rec, cases, n_boot=args.n_boot, name="keras")
        seconds["keras"] = time.perf_counter() - t0
    if not args.no_peers:
        from peers import PEERS

        for name, factory in PEERS.items():
            try:
                rec = factory(level)
            except ImportError as err:
                print(f"peer {name}: not installed ({err})")
                continue
            t0 = time.perf_counter()
            rec.fit(split.train)
            results[name] = evaluate_recommender(rec, cases, n_boot=args.n_boot, name=name)
            seconds[name] = time.perf_counter() - t0
    try:
        oracle = make_recommender("oracle", level=level).fit(split.train)
        results["oracle"] = evaluate_recommender(oracle, cases, n_boot=args.n_boot, name="oracle")
    except Exception as err:  # the oracle exists only for synthetic stores
        print(f"oracle: unavailable ({type(err).__name__}: {err})")
    table = summarise(results, seconds, args.n_boot)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "store": str(args.store),
                    "level": level,
                    "cutoff": split.cutoff.isoformat(),
                    "n_test_orders": len(cases),
                    "rows": table.to_dict("records"),
                },
                indent=2,
                default=str,
            )
        )
    return 0


def summarise(results: dict, seconds: dict, n_boot: int) -> pd.DataFrame:
    baselines = [n for n in BASELINE_NAMES if n in results]
    best = max(baselines, key=lambda n: results[n].value("ndcg"))
    best_ndcg = results[best].value("ndcg")
    oracle = results["oracle"].value("ndcg") if "oracle" in results else np.nan
    rows = []
    for name, res in results.items():
        ndcg = res.overall.loc["ndcg"]
        row = {
            "recommender": name + (" *" if name == best else ""),
            "ndcg@10": ndcg["mean"],
            "ci_low": ndcg["ci_low"],
            "ci_high": ndcg["ci_high"],
            "hr@10": res.value("hr"),
            "vs_best_baseline": ndcg["mean"] / best_ndcg,
            "to_oracle": ndcg["mean"] / oracle if oracle == oracle else np.nan,
            "seconds": seconds.get(name, np.nan),
        }
        if name != best:
            diff = paired_difference(res, results[best], n_boot=n_boot).loc["ndcg"]
            row.update(diff=diff["diff"], diff_ci_low=diff["ci_low"], diff_ci_high=diff["ci_high"])
        rows.append(row)
    return pd.DataFrame(rows).sort_values("ndcg@10", ascending=False)


if __name__ == "__main__":
    sys.exit(main())
