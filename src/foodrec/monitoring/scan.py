"""Run the drift check day by day: when is drift first flagged? (the benchmark and the slow test use it)

The monitored model stays fixed (trained once); the reference window stays the week before its
training cutoff; the recent window slides one day at a time. The first day flagged, minus the day the
drift began, is the detection delay; a flag on a window that ends before the drift is a false alarm.

>>> scan = scan_days(log, rec, "dish", reference_until="2026-02-02", first_end="2026-02-09")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from foodrec.data.orderlog import OrderLog, to_utc_timestamp
from foodrec.monitoring.check import Thresholds, TrainingQuality, check_drift
from foodrec.monitoring.windows import WindowPair, local_day_end, make_windows
from foodrec.recommenders.base import Recommender


def scan_days(
    log: OrderLog,
    rec: Recommender,
    level: str,
    reference_until: object,
    first_end: object,
    last_end: object = None,
    window_days: int = 7,
    training: TrainingQuality | None = None,
    thresholds: Thresholds | None = None,
    progress: Any = None,
) -> pd.DataFrame:
    """One row per recent-window end (daily, local midnights): the verdict and its main figures."""
    end = to_utc_timestamp(last_end) if last_end is not None else local_day_end(log.end, log.timezone)
    day = to_utc_timestamp(first_end)
    rows: list[dict[str, Any]] = []
    while day <= end:
        windows: WindowPair = make_windows(log, window_days, reference_until, until=day)
        result = check_drift(log, rec, windows, level, training, thresholds)
        by = {f["feature"]: f for f in result["inputs"]}
        rows.append(
            {
                "recent_end": day,
                "drift": result["drift"],
                "cuisine_psi": (by.get("cuisine") or {}).get("psi"),
                "cuisine_status": (by.get("cuisine") or {}).get("status"),
                "score_psi": result["scores"]["psi"],
                "ndcg_reference": result["quality"]["reference"],
                "ndcg_recent": result["quality"]["recent"],
                "reasons": "; ".join(result["reasons"]),
            }
        )
        if progress is not None:
            progress(day)
        day = (day.tz_convert(log.timezone) + pd.DateOffset(days=1)).tz_convert("UTC")
    return pd.DataFrame(rows)


def detection_delay(scan: pd.DataFrame, drift_start: object) -> dict[str, Any]:
    """Days from the drift's start to the end of the first flagged window, and any false alarm before it.

    A window ending exactly at the drift start holds no drifted day, so a flag there is a false alarm.
    """
    start = to_utc_timestamp(drift_start)
    before = scan[scan["recent_end"] <= start]
    after = scan[scan["recent_end"] > start]
    flagged = after[after["drift"]]
    first = flagged["recent_end"].min() if not flagged.empty else None
    return {
        "false_alarms": int(before["drift"].sum()),
        "windows_before": len(before),
        "first_flag": None if first is None else first.isoformat(),
        "delay_days": None if first is None else round((first - start) / pd.Timedelta(days=1), 2),
        "all_flagged_after_first": bool(first is not None and after[after["recent_end"] >= first]["drift"].all()),
    }
