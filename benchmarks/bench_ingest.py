"""Ingest speed and memory: `foodrec ingest` on ~1M canonical order lines.

Times the ingest itself (imports excluded) of the large synthetic city (`foodrec generate --preset large`) when
the generator works, else of a 1M-row canonical CSV it writes. Each measurement runs in a fresh child process, so
peak RSS is that run's own; CPU seconds are shown too because wall time depends on what else the machine runs.
A peer that only converts the CSV to Parquet with DuckDB (no validation, no dedupe) is shown beside it.

    .venv/bin/python benchmarks/bench_ingest.py [--rows 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
kind, src, out = sys.argv[1], sys.argv[2], sys.argv[3]
import duckdb  # imports are start-up cost, not ingest: done before the clock starts
if kind == "foodrec":
    from foodrec.data.ingest import ingest
t0 = time.perf_counter()
_u = resource.getrusage(resource.RUSAGE_SELF)
cpu0 = _u.ru_utime + _u.ru_stime
if kind == "foodrec":
    summary = ingest([src], out)
    rows = summary["tables"]["orders"]["read"]
    extra = {k: summary["tables"]["orders"][k] for k in ("accepted", "quarantined", "duplicates")}
else:
    orders = src + "/orders.csv" if not src.endswith(".csv") else src
    con = duckdb.connect()
    sql = f"COPY (SELECT * FROM read_csv('{orders}', all_varchar=true)) TO '{out}.parquet'"
    rows = con.execute(sql).fetchall()[0][0]
    extra = {}
elapsed = time.perf_counter() - t0
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu = usage.ru_utime + usage.ru_stime - cpu0
print(json.dumps({"rows": rows, "seconds": elapsed, "cpu": cpu, "peak_rss": usage.ru_maxrss * 1024, **extra}))
"""


def _child(kind: str, src: Path, out: Path) -> dict:
    env = dict(os.environ)
    done = subprocess.run([sys.executable, "-c", CHILD, kind, str(src), str(out)], capture_output=True, text=True,
                          env=env, check=False)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"{kind} run failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _write_csv(path: Path, rows: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pv

    rng = np.random.default_rng(7)
    orders = rng.integers(0, rows // 2, rows)
    start = np.datetime64("2026-01-01T00:00:00", "s")
    at = start + rng.integers(0, 90 * 86400, rows).astype("timedelta64[s]")
    table = pa.table(
        {
            "order_id": pa.array([f"o{n:08d}" for n in orders]),
            "customer_id": pa.array([f"c{n:07d}" for n in rng.integers(0, 60_000, rows)]),
            "ordered_at": pa.array(np.datetime_as_string(at, unit="s")).cast(pa.string()),
            "area": pa.array([f"9q5c{n}" for n in rng.integers(0, 30, rows)]),
            "restaurant_id": pa.array([f"r{n:05d}" for n in rng.integers(0, 2000, rows)]),
            "item_id": pa.array([f"i{n:06d}" for n in rng.integers(0, 30000, rows)]),
            "quantity": rng.integers(1, 4, rows),
            "unit_price": np.round(rng.gamma(4, 3, rows), 2),
            "order_total": np.round(rng.gamma(4, 10, rows), 2),
        }
    )
    table = table.set_column(2, "ordered_at", pa.compute.binary_join_element_wise(table["ordered_at"], "Z", ""))
    pv.write_csv(table, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the fallback CSV")
    parser.add_argument("--keep", help="reuse/keep the source data in this folder")
    parser.add_argument("--csv", action="store_true", help="use the script's own CSV even when the generator works")
    args = parser.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_ingest_"))
    work.mkdir(parents=True, exist_ok=True)
    source = work / "city"
    how = "foodrec generate --preset large"
    if args.csv:
        how = f"a {args.rows:,}-row canonical CSV written by this script"
        source = work / f"orders-{args.rows}.csv"
        if not source.is_file():
            _write_csv(source, args.rows)
    elif not (source / "city.json").is_file():
        foodrec = Path(sys.executable).with_name("foodrec")
        t0 = time.perf_counter()
        done = subprocess.run([str(foodrec), "generate", "--out", str(source), "--preset", "large"],
                              capture_output=True, text=True, check=False)  # fmt: skip
        if done.returncode == 0:
            print(f"generated the large city in {time.perf_counter() - t0:.1f} s")
        else:
            how = f"a {args.rows:,}-row canonical CSV written by this script (generate failed: "
            how += (done.stderr.strip().splitlines() or ["?"])[-1] + ")"
            shutil.rmtree(source, ignore_errors=True)
            source = work / f"orders-{args.rows}.csv"
            if not source.is_file():
                _write_csv(source, args.rows)
    print(f"data: {how}")
    for old in (work / "store", work / "peer.parquet"):
        shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(missing_ok=True)
    ours = _child("foodrec", source, work / "store")
    peer = _child("duckdb", source, work / "peer")
    mb = 1024 * 1024
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (other work slows wall time)")
    print(f"{'':28}{'rows':>12}{'seconds':>10}{'rows/s':>12}{'CPU s':>8}{'rows/CPU-s':>12}{'peak RSS MB':>13}")
    for name, r in (("foodrec ingest", ours), ("duckdb CSV->Parquet (peer)", peer)):
        rate, per_cpu, rss = r["rows"] / r["seconds"], r["rows"] / max(r["cpu"], 1e-9), r["peak_rss"] / mb
        print(
            f"{name:28}{r['rows']:>12,}{r['seconds']:>10.2f}{rate:>12,.0f}{r['cpu']:>8.2f}{per_cpu:>12,.0f}{rss:>13,.0f}"
        )
    counts = ", ".join(f"{k} {ours[k]:,}" for k in ("accepted", "quarantined", "duplicates"))
    print(f"foodrec / peer time: {ours['seconds'] / peer['seconds']:.2f}x; {counts}")
    print("targets: >= 500,000 rows/s, peak RSS <= 2,048 MB")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
