"""Benchmark ``foodrec generate``: wall time and peak memory for the presets (target: large <= 60 s, <= 2 GB).

Run: ``.venv/bin/python benchmarks/bench_generate.py [--presets large default] [--threads 1]``.
Each preset runs the CLI in a fresh Python process (start-up included in the time); peak RSS is that process's own.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 60.0
TARGET_RSS_MB = 2048.0


_CHILD = """
import resource, sys
from foodrec.cli import main
code = main(["generate", "--out", sys.argv[1], "--preset", sys.argv[2]])
print("PEAK_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
sys.exit(code)
"""


def run(preset: str, threads: int) -> dict:
    """Generate one city in a fresh Python process; returns rows, seconds and that process's peak RSS."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads)}
    with tempfile.TemporaryDirectory(prefix=f"bench-generate-{preset}-") as tmp:
        out = Path(tmp) / "city"
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", _CHILD, str(out), preset], check=True, env=env,
                              capture_output=True, text=True)  # fmt: skip
        seconds = time.perf_counter() - start
        peak_kb = int(done.stdout.rsplit("PEAK_KB", 1)[1].split()[0])
        summary = json.loads((out / "city.json").read_text())["summary"]
    return {"preset": preset, "rows": summary["rows"], "orders": summary["orders"], "seconds": seconds,
            "peak_rss_mb": peak_kb / 1024}  # fmt: skip


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
        print(f"{r['preset']:8s} {r['rows']:>10,d} {r['orders']:>9,d} {r['seconds']:>8.1f} "
              f"{r['rows'] / r['seconds']:>9,.0f} {r['peak_rss_mb']:>7.0f}MB "
              f"{r['seconds'] / TARGET_SECONDS:>11.2f} {r['peak_rss_mb'] / TARGET_RSS_MB:>10.2f}")  # fmt: skip
    print(f"targets: <= {TARGET_SECONDS:.0f} s and <= {TARGET_RSS_MB:.0f} MB for ~1M order lines (ratios <= 1 pass)")


if __name__ == "__main__":
    main()
