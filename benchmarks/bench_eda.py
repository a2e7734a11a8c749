"""How long `foodrec eda` takes on the default synthetic city (~55k lines) and the large one (~1M lines).

    .venv/bin/python benchmarks/bench_eda.py                   # generate + ingest both cities in a temp dir
    .venv/bin/python benchmarks/bench_eda.py --store DIR ...   # time existing stores instead

Prints, per store: order lines, seconds to load the store, to compute the figures, to draw and write the
report, total, and peak RSS; then the large/default ratios. Target (issue 3): default city in a few seconds,
1M lines within about a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")


def build_store(root: Path, preset: str) -> Path:
    from foodrec.cli import main

    city, store = root / f"city-{preset}", root / f"store-{preset}"
    with contextlib.redirect_stdout(io.StringIO()):
        if main(["generate", "--out", str(city), "--preset", preset]) != 0:
            sys.exit(f"generate --preset {preset} failed")
        if main(["ingest", str(city), "--store", str(store)]) != 0:
            sys.exit(f"ingest of {city} failed")
    return store


def time_eda(store_dir: Path, out_dir: Path) -> dict[str, float]:
    from foodrec.data.store import Store
    from foodrec.explore.command import read_ingest_summary
    from foodrec.explore.figures import compute_figures
    from foodrec.explore.report import build_report

    t0 = time.perf_counter()
    store = Store.open(store_dir)
    log = store.order_log()
    t1 = time.perf_counter()
    figs = compute_figures(log.orders, log.timezone, log.restaurants, log.items, read_ingest_summary(store.path))
    t2 = time.perf_counter()
    build_report(figs, source=str(store_dir)).write(out_dir / f"{store_dir.name}.html")
    t3 = time.perf_counter()
    return {"lines": len(log.orders), "load_s": t1 - t0, "figures_s": t2 - t1, "report_s": t3 - t2, "total_s": t3 - t0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", nargs="*", type=Path, help="existing stores to time (default: generate two)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        stores = args.store or [build_store(root, preset) for preset in ("default", "large")]
        rows = [(s.name, time_eda(s, root)) for s in stores]
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'store':<16}{'lines':>11}{'load s':>9}{'figures s':>11}{'report s':>10}{'total s':>9}")
    for name, r in rows:
        print(
            f"{name:<16}{r['lines']:>11,}{r['load_s']:>9.2f}{r['figures_s']:>11.2f}{r['report_s']:>10.2f}"
            f"{r['total_s']:>9.2f}"
        )
    if len(rows) >= 2:
        (_, a), (_, b) = rows[0], rows[-1]
        print(f"ratio last/first: lines {b['lines'] / a['lines']:.1f}x, total time {b['total_s'] / a['total_s']:.1f}x")
    print(f"peak RSS of this process: {rss_mb:,.0f} MB (cores: {os.cpu_count()})")


if __name__ == "__main__":
    main()
