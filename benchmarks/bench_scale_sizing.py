"""What one training worker holds and how long its data steps take, measured per store, then projected to 10^7,
10^8 and 10^9 order lines (the sizing table of docs/scaling.md).

Per store (each in a fresh child process, so peak memory is its own): the order lines, the seconds and peak RSS of
reading the store (DuckDB) and of building the features (vocabularies, the point-in-time feature view, examples:
``training.prepare``), and the size of the prepared features as Ray ships them to each worker (pickled bytes).

Projection: a least-squares line through the measured stores (``bytes = a + b * lines``, ``seconds = c + d * lines``),
evaluated at 10^7, 10^8 and 10^9 lines. Training itself does not grow with the log: the final training sees at
most ``max_examples`` (150k) recent orders and the search 12k per fold, so its time is taken from bench_scale.py
and held constant.

    python benchmarks/bench_scale_sizing.py --store runs/default/store --store runs/large/store
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

CHILD = r"""
import json, pickle, resource, sys, time
from foodrec.quiet import quiet_tensorflow
quiet_tensorflow()
from foodrec.data.store import Store
from foodrec.recommenders.keras.training import prepare
t0 = time.perf_counter()
log = Store.open(sys.argv[1]).order_log()
t1 = time.perf_counter()
rss_read = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
prep = prepare(log, log.resolve_level(None))
t2 = time.perf_counter()
shipped = len(pickle.dumps(prep, protocol=5))
print("RESULT" + json.dumps({
    "lines": len(log.orders), "orders": int(log.orders["order_id"].nunique()),
    "customers": int(log.orders["customer_id"].nunique()),
    "read_s": t1 - t0, "prepare_s": t2 - t1, "peak_rss_read": rss_read,
    "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "prepared_bytes": shipped}))
"""


def measure(store: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, str(store)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{store}: {proc.stderr[-2000:]}")
    return json.loads(next(x for x in proc.stdout.splitlines() if x.startswith("RESULT"))[6:])


def fit(x: list[float], y: list[float]) -> tuple[float, float]:
    """Intercept and slope of the least-squares line (through the origin's direction when one point)."""
    if len(x) == 1:
        return 0.0, y[0] / x[0]
    slope, intercept = np.polyfit(np.asarray(x, float), np.asarray(y, float), 1)
    return float(intercept), float(slope)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, action="append", required=True)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = [{"store": str(s), **measure(s)} for s in args.store]
    print("| store | lines | read s | features s | peak RSS MB | prepared (shipped) MB | bytes/line (RSS) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        mb, shipped_mb = r["peak_rss"] / 2**20, r["prepared_bytes"] / 2**20
        print(f"| {Path(r['store']).name} | {r['lines']:,} | {r['read_s']:.1f} | {r['prepare_s']:.1f} "
              f"| {mb:.0f} | {shipped_mb:.0f} | {r['peak_rss'] / r['lines']:.0f} |")  # fmt: skip
    lines = [r["lines"] for r in rows]
    rss = fit(lines, [r["peak_rss"] for r in rows])
    shipped = fit(lines, [r["prepared_bytes"] for r in rows])
    secs = fit(lines, [r["read_s"] + r["prepare_s"] for r in rows])
    print(f"\nfit: peak RSS = {rss[0] / 2**20:.0f} MB + {rss[1]:.0f} B/line; prepared = {shipped[1]:.0f} B/line; "
          f"read+features = {secs[0]:.1f} s + {secs[1] * 1e6:.2f} s per million lines")  # fmt: skip
    print("| order lines | peak RSS per worker GB (projected) | prepared features GB | read+features s (one worker) |")
    print("|---|---|---|---|")
    projected = []
    for n in (1e7, 1e8, 1e9):
        row = {"lines": n, "rss_gb": (rss[0] + rss[1] * n) / 2**30,
               "prepared_gb": (shipped[0] + shipped[1] * n) / 2**30, "data_s": secs[0] + secs[1] * n}  # fmt: skip
        projected.append(row)
        print(f"| {n:.0e} | {row['rss_gb']:.1f} | {row['prepared_gb']:.1f} | {row['data_s']:.0f} |")
    if args.json:
        args.json.write_text(json.dumps({"measured": rows, "projected": projected}, indent=2))


if __name__ == "__main__":
    main()
