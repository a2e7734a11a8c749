"""Quality side by side on one store: baselines, the Keras model, peers (implicit ALS, LightFM), the oracle.

Everything is evaluated on the same temporal split (``foodrec.evaluation``'s default cutoff unless ``--until``)
and the same test cases. Prints one table: NDCG@10 with its bootstrap CI, the ratio to the strongest baseline,
the paired bootstrap CI of (model - strongest baseline) and the ratio to the oracle; writes it as JSON too.

    python benchmarks/peers/quality.py --store runs/demo/store --model runs/demo/model
    python benchmarks/peers/quality.py --store STORE --train-out /tmp/model      # trains first (foodrec train)
    python benchmarks/peers/quality.py --twin-seeds 42,1,2,3,4 --workdir /tmp/twins  # the realism twin, 5 seeds

``--twin-seeds`` generates the realism twin (``foodrec generate --preset twin``) once per seed, ingests it, trains
the model (``foodrec train`` defaults, ``--seed`` = the city's seed) and prints each seed's table, then one summary
row per seed: the model against the strongest baseline (ratio and paired bootstrap CI of the difference) and, on new
customers (no order before the cutoff), against area x meal-time popularity. TIFU-KNN (``peers/tifu.py``, tuned on
the training period's last days only) runs with the peers.

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
    ap.add_argument("--store", type=Path)
    ap.add_argument("--twin-seeds", default=None, help="comma-separated seeds: generate, train and evaluate twins")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/foodrec-twins"))
    ap.add_argument(
        "--no-search",
        action="store_true",
        help="train with one fixed setting (embedding 16, lr 4e-3) instead of the search: a quarter of the time",
    )
    ap.add_argument("--model", type=Path, help="a model directory written by `foodrec train` (same cutoff)")
    ap.add_argument("--train-out", type=Path, help="train a model here first (foodrec train defaults)")
    ap.add_argument("--until", default=None)
    ap.add_argument("--level", default=None)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    if args.twin_seeds:
        return twins(args)
    if args.store is None:
        ap.error("give --store (or --twin-seeds)")
    evaluate_store(args)
    return 0


def evaluate_store(args: argparse.Namespace, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """The table of one store (baselines, the model, peers, the oracle); also the raw results by name."""
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
        fixed = {"search": False, "dim": 16, "hidden": 32, "lr": 4e-3} if args.no_search else {}
        run_train(args.store, args.train_out, until=split.cutoff.isoformat(), level=level, seed=seed, **fixed)
        seconds["keras (train)"] = time.perf_counter() - t0
        model_dir = args.train_out
    if model_dir is not None:
        rec = load_recommender(model_dir).refresh(split.train)  # its features: the training period, as evaluate
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
    return table, results


def twins(args: argparse.Namespace) -> int:
    """Generate, ingest, train and evaluate the realism twin once per seed; print the per-seed summary."""
    from foodrec.data.ingest import ingest
    from foodrec.data.synthetic.generate import generate_city
    from foodrec.data.synthetic.presets import preset_config

    rows = []
    for seed in [int(s) for s in args.twin_seeds.split(",")]:
        base = args.workdir / f"twin-{seed}"
        city, store, model = base / "city", base / "store", base / "model"
        if not store.exists():  # a twin generated and ingested before is reused
            generate_city(preset_config("twin", seed=seed), city, preset="twin")
            ingest([str(city)], store)
        trained = (model / "manifest.json").exists()  # a twin trained before (same seed) is evaluated again
        paths = {"store": store, "model": model if trained else None, "train_out": None if trained else model}
        run = argparse.Namespace(**{**vars(args), **paths})
        run.json = base / "quality.json"
        table, results = evaluate_stores_row(run, seed)
        rows.append(table)
    summary = pd.DataFrame(rows)
    print(
        "\nrealism twin, one row per seed (test NDCG@10; ratios to the strongest baseline / to area x meal time "
        "popularity on new customers):"
    )
    with pd.option_context("display.width", 220, "display.max_columns", 30):
        print(summary.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if args.json:
        args.json.write_text(json.dumps({"twin_seeds": summary.to_dict("records")}, indent=2, default=str))
    return 0


def evaluate_stores_row(run: argparse.Namespace, seed: int) -> tuple[dict, dict]:
    table, results = evaluate_store(run, seed)
    baselines = [n for n in BASELINE_NAMES if n in results]
    best = max(baselines, key=lambda n: results[n].value("ndcg"))
    model = results["keras"]
    diff = paired_difference(model, results[best], n_boot=run.n_boot).loc["ndcg"]
    new_model = _segment(model, "new")
    new_pop = _segment(results["area-mealtime-popularity"], "new")
    peers = {n: results[n].value("ndcg") for n in ("tifu-knn", "implicit-als", "implicit-bpr") if n in results}
    row = {
        "seed": seed,
        "best_baseline": best,
        "baseline": results[best].value("ndcg"),
        "keras": model.value("ndcg"),
        "ratio": model.value("ndcg") / results[best].value("ndcg"),
        "diff_ci_low": diff["ci_low"],
        "diff_ci_high": diff["ci_high"],
        "new_keras": new_model,
        "new_area_meal_pop": new_pop,
        "new_ratio": new_model / new_pop if new_pop else np.nan,
        **peers,
    }
    return row, results


def _segment(result, value: str, segment: str = "customer_type") -> float:
    seg = result.segments
    hit = seg[(seg["segment"] == segment) & (seg["value"] == value) & (seg["metric"] == "ndcg")]
    return float(hit["mean"].iloc[0]) if len(hit) else np.nan


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
