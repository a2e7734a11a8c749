"""``foodrec`` commands run in-process by the benchmark scripts (``benchmarks/`` is on ``sys.path`` when one runs).

from steps import generated_store, run
store = generated_store(Path("runs/bench-view"))    # foodrec generate --preset large + ingest, once
run("train", "--store", str(store), "--out", "model")
"""

from __future__ import annotations

from pathlib import Path

from foodrec.cli import main


def run(*args: str) -> None:
    """``foodrec ARGS``; stops the benchmark with the command line when it fails."""
    code = main(list(args))
    if code != 0:
        raise SystemExit(f"foodrec {' '.join(args)} failed with exit code {code}")


def generated_store(work: Path, preset: str = "large", seed: int = 42) -> Path:
    """``WORK/store``: a generated city's store, made (``WORK/city``, then ingest) only when it is not there yet."""
    city, store = work / "city", work / "store"
    if not store.is_dir():
        run("generate", "--out", str(city), "--preset", preset, "--seed", str(seed))
        run("ingest", str(city), "--store", str(store))
    return store
