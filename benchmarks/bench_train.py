"""Training time, peak memory and single-query latency of the Keras recommender, per city size.

For each preset: generate the city and ingest it (once, kept under --work), run ``foodrec train`` with its default
settings (the search included unless --no-search) in a fresh process (wall seconds, peak RSS of that process, and
where the time went: loading the store, feature building, search, final training, refit + saving), then time 300
single-query ``recommend`` calls in-process. Prints one table, presets side by side, and the ratio of the training
time of the last preset to the first against the ratio of their order lines. The load average before and after is
printed too: on a shared machine, run it under ``flock /tmp/foodrec-bench.lock`` so timed runs do not overlap.

    python benchmarks/bench_train.py --presets small default           # quick
    flock /tmp/foodrec-bench.lock python benchmarks/bench_train.py --presets default large --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FOODREC = str(Path(sys.executable).with_name("foodrec"))

_TRAIN = """
import json, resource, sys, time
from pathlib import Path
from foodrec.recommenders.command import run_train
t0 = time.perf_counter()
starts = {}
def phase(label):
    if label.startswith("building features"):
        return "features"
    if label.startswith("search"):
        return "search"
    if label.startswith(("final training", "epoch ", "check ")):
        return "final"
    if label.startswith("refit"):
        return "refit"
def progress(label, done, total):
    name = phase(label)
    if name is not None and name not in starts:
        starts[name] = time.perf_counter() - t0
res = run_train(Path(sys.argv[1]), Path(sys.argv[2]), search=sys.argv[3] == "1", progress=progress)
end = time.perf_counter() - t0
marks = sorted(starts.items(), key=lambda kv: kv[1]) + [("end", end)]
phases = {"load": marks[0][1]} | {a[0]: b[1] - a[1] for a, b in zip(marks, marks[1:])}
print(json.dumps({"seconds": end, "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                  * 1024, "orders": res["orders"], "val_ndcg10": res["validation"]["val_ndcg10"],
                  "params": res["params"], "phases": phases, "validation": res["validation"]}))
"""
PHASES = ("load", "features", "search", "final", "refit")


def ensure_store(work: Path, preset: str) -> Path:
    store = work / f"store-{preset}"
    if (store / "catalogue.duckdb").is_file():
        return store
    city = work / f"city-{preset}"
    subprocess.run([FOODREC, "generate", "--preset", preset, "--out", str(city)], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([FOODREC, "ingest", str(city), "--store", str(store)], check=True, stdout=subprocess.DEVNULL)
    return store


def latency(model_dir: Path, store: Path, n: int = 300) -> tuple[float, float]:
    from foodrec.data.store import Store
    from foodrec.recommenders.base import load_recommender, make_queries

    rec = load_recommender(model_dir)
    orders = Store.open(store).orders(columns=["customer_id", "area", "ordered_at"]).tail(n)
    times = []
    for row in orders.itertuples(index=False):
        q = make_queries([row.customer_id], [row.area], [row.ordered_at])
        t0 = time.perf_counter()
        rec.recommend(q, k=10)
        times.append(time.perf_counter() - t0)
    ms = np.asarray(times[10:]) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=["small", "default"])
    ap.add_argument("--work", type=Path, default=Path("/tmp/foodrec-bench-train"))
    ap.add_argument("--threads", type=int, default=1, help="TensorFlow intra-op threads during training")
    ap.add_argument("--no-search", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "FOODREC_TF_THREADS": str(args.threads), "OMP_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    rows = []
    load_before = os.getloadavg()
    print(f"load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}", flush=True)
    for preset in args.presets:
        store = ensure_store(args.work, preset)
        from foodrec.data.store import Store

        lines = len(Store.open(store).orders(columns=["order_id"]))
        model = args.work / f"model-{preset}"
        proc = subprocess.run(
            [sys.executable, "-c", _TRAIN, str(store), str(model), "0" if args.no_search else "1"],
            env=env,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        if proc.returncode != 0:
            print(proc.stderr[-2000:], file=sys.stderr)
            return 1
        stats = json.loads(proc.stdout.strip().splitlines()[-1])
        p50, p95 = latency(model, store)
        rows.append(
            {
                "preset": preset,
                "search": not args.no_search,
                "lines": lines,
                "orders": stats["orders"],
                "train_s": stats["seconds"],
                "s_per_100k_lines": stats["seconds"] / lines * 1e5,
                "peak_rss_gb": stats["peak_rss"] / 2**30,
                "val_ndcg10": stats["val_ndcg10"],
                "query_p50_ms": p50,
                "query_p95_ms": p95,
                "phases_s": stats["phases"],
                "params": stats["params"],
                "best_passes": stats["validation"].get("best_passes"),
                "refit": stats["validation"].get("refit_mode", stats["validation"].get("refit")),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    load_after = os.getloadavg()
    print(
        f"\nsearch {'off' if args.no_search else 'on'}, {args.threads} TensorFlow thread(s); load average before "
        f"{load_before[0]:.2f}, after {load_after[0]:.2f} (1-minute)"
    )
    print(
        f"{'preset':<9}{'lines':>10}{'orders':>9}{'train s':>9}{'s/100k':>8}{'RSS GB':>8}{'val NDCG':>9}"
        f"{'p50 ms':>8}{'p95 ms':>8}  " + " ".join(f"{p:>8}" for p in PHASES)
    )
    for r in rows:
        print(
            f"{r['preset']:<9}{r['lines']:>10,}{r['orders']:>9,}{r['train_s']:>9.1f}{r['s_per_100k_lines']:>8.1f}"
            f"{r['peak_rss_gb']:>8.2f}{r['val_ndcg10']:>9.4f}{r['query_p50_ms']:>8.2f}{r['query_p95_ms']:>8.2f}  "
            + " ".join(f"{r['phases_s'].get(p, 0.0):>8.1f}" for p in PHASES)
        )
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        print(
            f"{b['preset']} vs {a['preset']}: {b['lines'] / a['lines']:.1f}x the lines, "
            f"{b['train_s'] / a['train_s']:.2f}x the training time"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
