"""Benchmark ``foodrec generate``: wall time and peak memory for the presets (target: large <= 60 s, <= 2 GB).

Run: ``.venv/bin/python benchmarks/bench_generate.py [--presets large default] [--threads 1]``.
Each preset runs in a fresh process (the CLI itself), so peak RSS is that process's own maximum.
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

TARGET_SECONDS = 60.0
TARGET_RSS_MB = 2048.0


def run(preset: str, threads: int) -> dict:
    """Generate one city in a child process; returns rows, seconds and the child's peak RSS."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads)}
    foodrec = Path(sys.executable).with_name("foodrec")
    with tempfile.TemporaryDirectory(prefix=f"bench-generate-{preset}-") as tmp:
        out = Path(tmp) / "city"
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        start = time.perf_counter()
        subprocess.run([str(foodrec), "generate", "--out", str(out), "--preset", preset], check=True, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        seconds = time.perf_counter() - start
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # max over children so far
        summary = json.loads((out / "city.json").read_text())["summary"]
    return {
        "preset": preset,
        "rows": summary["rows"],
        "orders": summary["orders"],
        "seconds": seconds,
        "peak_rss_mb": peak_kb / 1024,
        "rss_is_max_of_earlier_runs": peak_kb == before and before > 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["large"])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    print(f"foodrec generate, {args.threads} BLAS thread(s), {os.cpu_count()} CPU(s) on this machine")
    print(f"{'preset':8s} {'rows':>10s} {'orders':>9s} {'seconds':>8s} {'rows/s':>9s} {'peak RSS':>9s} "
          f"{'time/target':>11s} {'RSS/target':>10s}")  # fmt: skip
    for preset in args.presets:
        r = run(preset, args.threads)
        note = " (RSS: max of this and earlier runs)" if r["rss_is_max_of_earlier_runs"] else ""
        print(f"{r['preset']:8s} {r['rows']:>10,d} {r['orders']:>9,d} {r['seconds']:>8.1f} "
              f"{r['rows'] / r['seconds']:>9,.0f} {r['peak_rss_mb']:>7.0f}MB "
              f"{r['seconds'] / TARGET_SECONDS:>11.2f} {r['peak_rss_mb'] / TARGET_RSS_MB:>10.2f}{note}")  # fmt: skip
    print(f"targets: <= {TARGET_SECONDS:.0f} s and <= {TARGET_RSS_MB:.0f} MB for ~1M order lines (ratios <= 1 pass)")


if __name__ == "__main__":
    main()
