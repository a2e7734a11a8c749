"""``foodrec train --workers N`` side by side: wall time, peak memory and test quality with bootstrap CIs.

Trains the same store with the same seed once per worker count (1 = one process, no Ray; N >= 2 = Ray: the
search's settings as parallel tasks, the final training data-parallel on N Ray Train workers), then evaluates
every model on the same test orders (after the training cutoff): NDCG@10 and HR@10 with 95% bootstrap CIs, and
the paired difference to the first worker count. Prints one table; ``--json`` keeps the figures.

    python benchmarks/bench_scale.py                                   # the default city, 1 vs 2 workers
    python benchmarks/bench_scale.py --store runs/large/store --workers 1,2,4 --json scale.json

Wall times on a shared machine depend on its load: the load average before and after each run is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _make_store(root: Path, preset: str) -> Path:
    city, store = root / f"city-{preset}", root / f"store-{preset}"
    if not store.is_dir():
        for args in (
            ["generate", "--preset", preset, "--out", str(city)],
            ["ingest", str(city), "--store", str(store)],
        ):
            subprocess.run([sys.executable, "-m", "foodrec.cli", *args], check=True, capture_output=True)
    return store


def _train(store: Path, out: Path, workers: int, seed: int, search: bool) -> dict:
    """One ``foodrec train`` in a child process (so peak memory is its own), timed; returns train.json + timing."""
    code = (
        "import json, resource, sys, time\n"
        "from foodrec.quiet import quiet_tensorflow\n"
        "quiet_tensorflow()\n"
        "from foodrec.recommenders.command import run_train\n"
        "t = time.perf_counter()\n"
        f"r = run_train({str(store)!r}, __import__('pathlib').Path({str(out)!r}), seed={seed}, search={search},"
        f" workers={workers})\n"
        "r['wall_seconds'] = time.perf_counter() - t\n"
        "r['driver_peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "print('RESULT' + json.dumps(r, default=str))\n"
    )
    load = os.getloadavg()[0]
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"training with {workers} workers failed:\n{proc.stderr[-3000:]}")
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT"))
    result = json.loads(line[len("RESULT") :])
    result["children_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    result["load_before"], result["load_after"] = round(load, 1), round(os.getloadavg()[0], 1)
    return result


def _evaluate(store: Path, models: dict[int, Path]) -> dict[int, dict]:
    from foodrec.data.store import Store
    from foodrec.evaluation.cases import make_test_cases
    from foodrec.evaluation.evaluate import evaluate_recommender, paired_difference
    from foodrec.evaluation.split import temporal_split
    from foodrec.recommenders.base import load_recommender

    log = Store.open(store).order_log()
    results, first = {}, None
    for workers, path in models.items():
        manifest = json.loads((path / "manifest.json").read_text())
        split = temporal_split(log, until=manifest["cutoff"])
        cases = make_test_cases(split.train, split.test, level=manifest.get("level"))
        rec = load_recommender(path)
        rec.refresh(split.train)  # a saved model looks its features up in the training period
        res = evaluate_recommender(rec, cases)
        row = {m: res.overall.loc[m].to_dict() for m in ("ndcg", "hr") if m in res.overall.index}
        row["n_test_orders"] = len(cases)
        if first is None:
            first = res
        else:
            diff = paired_difference(res, first).loc["ndcg"]
            row["ndcg_diff_vs_first"] = {k: float(diff[k]) for k in ("diff", "ci_low", "ci_high")}
        results[workers] = row
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, help="store to train on (default: generate --preset PRESET)")
    parser.add_argument("--preset", default="default")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-search", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--reuse", action="store_true", help="keep models (and timings) an earlier run saved")
    parser.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()) / "foodrec-bench-scale")
    args = parser.parse_args()
    from foodrec.quiet import quiet_tensorflow

    quiet_tensorflow()  # the evaluation below loads the models here
    args.scratch.mkdir(parents=True, exist_ok=True)
    store = args.store or _make_store(args.scratch, args.preset)
    counts = [int(w) for w in args.workers.split(",")]
    runs, models = {}, {}
    for workers in counts:
        out = args.scratch / f"model-w{workers}"
        models[workers] = out
        saved = out / "bench_run.json"
        if args.reuse and saved.is_file():  # the model and its timing from an earlier run of this script
            runs[workers] = json.loads(saved.read_text())
            continue
        t = time.perf_counter()
        runs[workers] = _train(store, out, workers, args.seed, not args.no_search)
        saved.write_text(json.dumps(runs[workers], default=str))
        print(f"trained with {workers} worker(s) in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    quality = _evaluate(store, models)
    base = runs[counts[0]]["wall_seconds"]
    print(
        f"store {store}: {runs[counts[0]]['orders']:,} training orders, seed {args.seed}, search {not args.no_search}"
    )
    print("| workers | wall s | speed-up | train s | load before/after | driver peak MB | test NDCG@10 [95% CI] "
          "| HR@10 | NDCG diff vs first [95% CI] |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for workers in counts:
        r, q = runs[workers], quality[workers]
        nd, hr = q["ndcg"], q.get("hr", {})
        diff = q.get("ndcg_diff_vs_first")
        diff_s = f"{diff['diff']:+.4f} [{diff['ci_low']:+.4f}, {diff['ci_high']:+.4f}]" if diff else "-"
        print(f"| {workers} | {r['wall_seconds']:.0f} | {base / r['wall_seconds']:.2f} | {r['train_seconds']:.0f} "
              f"| {r['load_before']}/{r['load_after']} | {r['driver_peak_rss_mb']:.0f} "
              f"| {nd['mean']:.4f} [{nd['ci_low']:.4f}, {nd['ci_high']:.4f}] | {hr.get('mean', float('nan')):.4f} "
              f"| {diff_s} |")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"store": str(store), "runs": runs, "quality": quality}, indent=2, default=str))


if __name__ == "__main__":
    main()
