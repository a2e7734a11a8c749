"""An in-memory order log: canonical orders plus whatever catalogue tables exist.

This is what recommenders are fitted on and what evaluation splits. Load one from a store
(:meth:`foodrec.data.store.Store.order_log`) or build one from frames in tests.

>>> import pandas as pd
>>> orders = pd.DataFrame({
...     "order_id": ["o1", "o2"], "customer_id": ["c1", "c1"],
...     "ordered_at": pd.to_datetime(["2026-01-01 12:00", "2026-01-02 19:00"], utc=True),
...     "area": ["a1", "a1"], "restaurant_id": ["r1", "r2"]})
>>> log = OrderLog(orders)
>>> len(log.before("2026-01-02").orders), log.default_level
(1, 'restaurant')
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from foodrec.data.schema import target_column
from foodrec.errors import InputError


def to_utc_timestamp(value: object) -> pd.Timestamp:
    """Parse a cutoff such as ``2026-03-01`` or ``2026-03-01T12:00+01:00`` into a UTC timestamp."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as err:
        raise InputError(f"not a timestamp: {value!r} (use ISO 8601, e.g. 2026-03-01 or 2026-03-01T12:00)") from err
    if ts is pd.NaT:
        raise InputError(f"not a timestamp: {value!r}")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


@dataclass(frozen=True)
class OrderLog:
    """Canonical order lines (one row per ordered line) and optional catalogue tables."""

    orders: pd.DataFrame
    restaurants: pd.DataFrame | None = None
    items: pd.DataFrame | None = None
    customers: pd.DataFrame | None = None
    timezone: str = "UTC"
    # Where the log came from; a store of a synthetic city keeps the ground truth in ``source/truth``.
    source: Path | None = None

    @property
    def has_items(self) -> bool:
        """True when the log names dishes (an ``item_id`` column with at least one value)."""
        return "item_id" in self.orders.columns and bool(self.orders["item_id"].notna().any())

    @property
    def default_level(self) -> str:
        """``dish`` when the log has item ids, else ``restaurant``."""
        return "dish" if self.has_items else "restaurant"

    def resolve_level(self, level: str | None) -> str:
        """The level to rank at: the one asked for (checked against the data) or the default."""
        if level is None:
            return self.default_level
        target_column(level)
        if level == "dish" and not self.has_items:
            raise InputError("--level dish needs an item_id column, and this log has none; use --level restaurant")
        return level

    def before(self, cutoff: object) -> OrderLog:
        """Orders strictly before ``cutoff`` (catalogue tables are kept whole)."""
        ts = to_utc_timestamp(cutoff)
        return replace(self, orders=self.orders[self.orders["ordered_at"] < ts].reset_index(drop=True))

    def between(self, start: object, end: object) -> OrderLog:
        """Orders with ``start <= ordered_at < end``."""
        lo, hi = to_utc_timestamp(start), to_utc_timestamp(end)
        at = self.orders["ordered_at"]
        return replace(self, orders=self.orders[(at >= lo) & (at < hi)].reset_index(drop=True))

    @property
    def start(self) -> pd.Timestamp:
        return self.orders["ordered_at"].min()

    @property
    def end(self) -> pd.Timestamp:
        return self.orders["ordered_at"].max()
