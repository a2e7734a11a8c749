"""Reference and recent windows of an order log, and the per-order inputs that drift is measured on.

The *recent* window is the last ``window_days`` whole local days up to ``until`` (default: the end of
the data). The *reference* window is the ``window_days`` before ``reference_until`` — the model's
training cutoff for a saved model, else the start of the recent window. Windows are whole days in the
data's time zone, so with 7-day windows both hold every weekday once and the weekly rhythm cancels out.

Without ``--window-days``, :func:`default_window_days` derives the length from the log: for a model, the
whole days after its training cutoff (at most as many as there are before it), in whole weeks when a week or
more fits; for a baseline, a third of the log, at most 7 days.

>>> import pandas as pd
>>> from foodrec.data.orderlog import OrderLog
>>> at = pd.date_range("2026-03-01", periods=28 * 4, freq="6h", tz="UTC")
>>> log = OrderLog(pd.DataFrame({"order_id": [f"o{i}" for i in range(len(at))], "customer_id": "c",
...     "ordered_at": at, "area": "a", "restaurant_id": "r"}))
>>> w = make_windows(log, window_days=7)
>>> str(w.recent_start.date()), str(w.recent_end.date()), str(w.reference_start.date())
('2026-03-22', '2026-03-29', '2026-03-15')
>>> len(order_inputs(log.between(w.recent_start, w.recent_end)))
28
>>> default_window_days(log), default_window_days(log, reference_until="2026-03-24")
(7, 5)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from foodrec.data.orderlog import OrderLog, to_utc_timestamp
from foodrec.data.time_features import meal_time
from foodrec.errors import InputError


@dataclass(frozen=True)
class WindowPair:
    """Half-open UTC intervals ``[start, end)`` of the reference and the recent window."""

    reference_start: pd.Timestamp
    reference_end: pd.Timestamp
    recent_start: pd.Timestamp
    recent_end: pd.Timestamp

    def reference(self, log: OrderLog) -> OrderLog:
        return log.between(self.reference_start, self.reference_end)

    def recent(self, log: OrderLog) -> OrderLog:
        return log.between(self.recent_start, self.recent_end)

    def to_dict(self) -> dict[str, str]:
        return {k: _iso(v) for k, v in self.__dict__.items()}


def _iso(ts: pd.Timestamp) -> str:
    return ts.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def local_day_end(at: pd.Timestamp, timezone: str) -> pd.Timestamp:
    """The local midnight that ends the day holding ``at`` (as UTC); a midnight itself is kept.

    >>> str(local_day_end(pd.Timestamp("2026-03-01T10:00Z"), "UTC"))
    '2026-03-02 00:00:00+00:00'
    >>> str(local_day_end(pd.Timestamp("2026-03-02T00:00Z"), "UTC"))
    '2026-03-02 00:00:00+00:00'
    """
    local = at.tz_convert(timezone)
    floor = local.normalize()
    end = floor if floor == local else floor + pd.Timedelta(days=1)
    return end.tz_convert("UTC")


def _days_before(at: pd.Timestamp, days: int, timezone: str) -> pd.Timestamp:
    """``days`` calendar days earlier on the local clock (a day is 23 or 25 hours when the clocks change)."""
    return (at.tz_convert(timezone) - pd.DateOffset(days=days)).tz_convert("UTC")


def _local_days(start: pd.Timestamp, end: pd.Timestamp, timezone: str) -> int:
    """Whole local calendar days from the day holding ``start`` (a midnight counts as its own day) to ``end``."""
    first = start.tz_convert(timezone).normalize().tz_localize(None)
    last = end.tz_convert(timezone).normalize().tz_localize(None)
    return int((last - first).days)


def default_window_days(log: OrderLog, reference_until: object = None, until: object = None) -> int:
    """The window length that fits the log (see the module docstring); a one-line error when none does.

    With ``reference_until`` (a model's cutoff): the whole local days from it to ``until`` (default: the end of
    the data), no more than the days before it, rounded down to whole weeks from 7 days on. Without: a third of
    the log's days, 1 to 7.
    """
    if log.orders.empty:
        raise InputError("the order log is empty: nothing to monitor")
    end = to_utc_timestamp(until) if until is not None else local_day_end(log.end, log.timezone)
    if reference_until is None:
        total = _local_days(log.start, end, log.timezone)
        if total < 3:
            raise InputError(
                f"the log spans {total} day(s): a drift check needs at least 3 (history, a reference and a recent "
                "window of at least a day each)"
            )
        return min(7, total // 3)
    cutoff = to_utc_timestamp(reference_until)
    after = _local_days(local_day_end(cutoff, log.timezone), end, log.timezone)
    before = _local_days(log.start, cutoff, log.timezone)
    days = min(after, before)
    if days < 1:
        where = "after" if after < 1 else "before"
        raise InputError(
            f"the data hold no whole day {where} the cutoff {_iso(cutoff)} (data {_iso(log.start)} to {_iso(log.end)}):"
            " a drift check compares the days after the model's cutoff with as many before it; ingest newer orders"
            " or give --window-days and --reference-until"
        )
    return 7 * (days // 7) if days >= 7 else days


def make_windows(
    log: OrderLog,
    window_days: int = 7,
    reference_until: object = None,
    until: object = None,
) -> WindowPair:
    """Reference and recent windows of ``log`` (see the module docstring); a one-line error if impossible."""
    if window_days < 1:
        raise InputError(f"--window-days must be at least 1 (got {window_days})")
    if log.orders.empty:
        raise InputError("the order log is empty: nothing to monitor")
    end = to_utc_timestamp(until) if until is not None else local_day_end(log.end, log.timezone)
    recent_start = _days_before(end, window_days, log.timezone)
    ref_end = to_utc_timestamp(reference_until) if reference_until is not None else recent_start
    ref_start = _days_before(ref_end, window_days, log.timezone)
    if ref_end > recent_start:
        raise InputError(
            f"the reference window must end before the recent window starts: --reference-until {_iso(ref_end)} "
            f"is after {_iso(recent_start)} ({window_days} days before the end {_iso(end)}); "
            "choose an earlier --reference-until or fewer --window-days"
        )
    if ref_start < log.start.floor("D") - pd.Timedelta(days=1):
        raise InputError(
            f"the data start on {_iso(log.start)}, too late for a {window_days}-day reference window ending "
            f"{_iso(ref_end)}; choose a later --reference-until or fewer --window-days"
        )
    return WindowPair(ref_start, ref_end, recent_start, end)


def basket_values(orders: pd.DataFrame) -> pd.Series:
    """Value of each order (indexed by ``order_id``): ``order_total`` when known, else the sum of its lines."""
    if "order_total" in orders.columns and orders["order_total"].notna().any():
        return orders.groupby("order_id", sort=False)["order_total"].first().astype(float)
    if {"unit_price", "quantity"} <= set(orders.columns):
        line = orders["unit_price"].astype(float) * orders["quantity"].astype(float).fillna(1.0)
        return line.groupby(orders["order_id"], sort=False).sum(min_count=1)
    if "unit_price" in orders.columns:
        return orders.groupby("order_id", sort=False)["unit_price"].sum(min_count=1).astype(float)
    return pd.Series(np.nan, index=pd.Index(orders["order_id"].unique(), name="order_id"), dtype=float)


def order_inputs(log: OrderLog) -> pd.DataFrame:
    """One row per order: ``order_id, customer_id, at, area, meal_time, cuisine, basket_value``.

    ``cuisine`` comes from the restaurants table (missing when the catalogue has none); the meal time is
    computed in the log's time zone.
    """
    lines = log.orders
    columns = ["order_id", "customer_id", "at", "area", "restaurant_id", "meal_time", "cuisine", "basket_value"]
    if lines.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    first = lines.groupby("order_id", sort=False).first()
    frame = pd.DataFrame(
        {
            "order_id": first.index.astype(str),
            "customer_id": first["customer_id"].to_numpy(dtype=object),
            "at": pd.to_datetime(first["ordered_at"], utc=True).to_numpy(),
            "area": first["area"].to_numpy(dtype=object),
            "restaurant_id": first["restaurant_id"].to_numpy(dtype=object),
        }
    )
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    frame["meal_time"] = meal_time(frame["at"], log.timezone).to_numpy()
    cuisine: Any = None
    rest = log.restaurants
    if rest is not None and "cuisine" in rest.columns and rest["cuisine"].notna().any():
        lookup = rest.drop_duplicates("restaurant_id").set_index("restaurant_id")["cuisine"]
        cuisine = frame["restaurant_id"].map(lookup).to_numpy(dtype=object)
    frame["cuisine"] = cuisine
    frame["basket_value"] = basket_values(lines).reindex(first.index).to_numpy(dtype=float)
    return frame.sort_values(["at", "order_id"], kind="stable").reset_index(drop=True)


def has_cuisines(log: OrderLog) -> bool:
    """True when the catalogue tells each restaurant's cuisine."""
    rest = log.restaurants
    return rest is not None and "cuisine" in rest.columns and bool(rest["cuisine"].notna().any())
