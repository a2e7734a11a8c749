"""The leaderboard: recommenders side by side, best first, as a rich table and as JSON.

>>> board = leaderboard(results)                     # doctest: +SKIP
>>> print_leaderboard(board, title="Baselines")      # doctest: +SKIP
>>> write_json("results.json", {"leaderboard": board_records(board)})   # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from foodrec.errors import InputError
from foodrec.evaluation.evaluate import EvaluationResult
from foodrec.evaluation.metrics import METRICS

SORT_METRIC = "ndcg"


def leaderboard(results: Sequence[EvaluationResult], sort_by: str = SORT_METRIC) -> pd.DataFrame:
    """One row per recommender (``metric``, ``metric_lo``, ``metric_hi`` columns), best ``sort_by`` first."""
    if sort_by not in METRICS:
        raise InputError(f"cannot sort by {sort_by!r}: choose one of {', '.join(METRICS)}")
    rows = []
    for result in results:
        row: dict[str, Any] = {"recommender": result.name, "k": result.k, "n_queries": result.n_queries}
        for metric in METRICS:
            stats = result.overall.loc[metric]
            row[metric], row[f"{metric}_lo"], row[f"{metric}_hi"] = stats["mean"], stats["ci_low"], stats["ci_high"]
        row["coverage"] = result.coverage
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    return frame.sort_values([sort_by, "hr", "recommender"], ascending=[False, False, True], kind="stable").reset_index(
        drop=True
    )


def board_records(board: pd.DataFrame) -> list[dict[str, Any]]:
    """The leaderboard as JSON-ready dicts (floats rounded, NaN as null)."""
    records = []
    for row in board.to_dict("records"):
        records.append(
            {
                k: (None if isinstance(v, float) and math.isnan(v) else round(v, 6) if isinstance(v, float) else v)
                for k, v in row.items()
            }
        )
    return records


def print_leaderboard(board: pd.DataFrame, title: str = "Leaderboard", console: Any = None) -> None:
    """Print the leaderboard as a rich table: HR@K, NDCG@K and MRR with 95% CIs, and coverage (MAP: JSON)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    k = int(board["k"].iloc[0]) if len(board) else 10
    table = Table(
        title=title,
        caption="mean ± half-width of the 95% bootstrap CI; MAP and exact bounds in the JSON; best NDCG first",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("recommender", no_wrap=True)
    for label in (f"HR@{k}", f"NDCG@{k}", "MRR"):
        table.add_column(label, justify="right", no_wrap=True)
    table.add_column("coverage", justify="right", no_wrap=True)
    for row in board.to_dict("records"):
        cells = [f"{row[m]:.3f} ±{_half(row, m)}" for m in ("hr", "ndcg", "mrr")]
        table.add_row(str(row["recommender"]), *cells, f"{row['coverage']:.3f}")
    console.print(table)


def _half(row: dict[str, Any], metric: str) -> str:
    """Half-width of the CI without the leading zero (``.012``): keeps the table within 80 columns."""
    half = (row[f"{metric}_hi"] - row[f"{metric}_lo"]) / 2
    return f"{half:.3f}".lstrip("0") if 0 <= half < 1 else f"{half:.3f}"


def write_json(path: str | os.PathLike[str], payload: dict[str, Any]) -> Path:
    """Write ``payload`` as indented JSON, atomically (a reader never sees half a file)."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(json.dumps(payload, indent=2, default=str))
        os.replace(tmp, target)
    except OSError as err:
        raise InputError(f"cannot write {str(path)!r}: {err.strerror or err}") from err
    return target
