"""Test cases: one query per test order, the items it held as targets, and the segment it belongs to.

A query is what the recommender would have been asked when the order was placed: ``(customer_id, area, at)``.
Segments: the area, the meal time (local clock of the log's time zone) and whether the customer is ``new``
(no order in the training log) or ``returning``. Only the training log decides "returning", so nothing from the
test period leaks into the segments.

>>> import pandas as pd
>>> from foodrec.data.orderlog import OrderLog
>>> def log(rows):
...     return OrderLog(pd.DataFrame(rows, columns=["order_id", "customer_id", "ordered_at", "area",
...                                                 "restaurant_id"]).astype({"ordered_at": "datetime64[ns, UTC]"}))
>>> train = log([("o1", "c1", "2026-01-01T12:00Z", "a", "r1")])
>>> test = log([("o2", "c1", "2026-01-02T19:00Z", "a", "r2"), ("o3", "c9", "2026-01-02T08:00Z", None, "r1")])
>>> cases = make_test_cases(train, test)
>>> cases.targets, cases.segments["customer_type"].tolist(), cases.segments["meal_time"].tolist()
([{'r1'}, {'r2'}], ['new', 'returning'], ['breakfast', 'dinner'])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from foodrec.data.orderlog import OrderLog
from foodrec.data.schema import target_column
from foodrec.data.time_features import meal_time
from foodrec.errors import InputError
from foodrec.recommenders.baselines.common import as_str_objects

SEGMENT_COLUMNS: tuple[str, ...] = ("area", "meal_time", "customer_type")
UNKNOWN_AREA = "(missing)"


@dataclass(frozen=True)
class TestCases:
    """Queries (``customer_id, area, at``), their target item sets and segments, row-aligned."""

    __test__ = False  # not a pytest test class

    queries: pd.DataFrame
    targets: list[set[str]]
    segments: pd.DataFrame
    level: str
    order_ids: np.ndarray
    catalogue_size: int  # distinct target ids in the training log (for catalogue coverage)

    def __len__(self) -> int:
        return len(self.targets)

    def subset(self, mask: np.ndarray) -> TestCases:
        """The cases where ``mask`` is true (e.g. returning customers only)."""
        mask = np.asarray(mask, dtype=bool)
        return TestCases(
            queries=self.queries[mask].reset_index(drop=True),
            targets=[t for t, keep in zip(self.targets, mask, strict=True) if keep],
            segments=self.segments[mask].reset_index(drop=True),
            level=self.level,
            order_ids=self.order_ids[mask],
            catalogue_size=self.catalogue_size,
        )


def make_test_cases(train: OrderLog, test: OrderLog, level: str | None = None) -> TestCases:
    """One query per test order (its customer, area and time); its distinct target ids are the answer.

    Orders without any target id (e.g. a line without ``item_id`` at dish level) are left out.
    """
    level = train.resolve_level(level)
    column = target_column(level)
    orders = test.orders
    if column not in orders.columns:
        raise InputError(f"the test log has no {column} column: cannot evaluate at level {level!r}")
    lines = orders[orders[column].notna() & orders["ordered_at"].notna()]
    if lines.empty:
        raise InputError(f"the test period has no orders with a {column}: nothing to evaluate")
    lines = pd.DataFrame(
        {
            "order_id": as_str_objects(lines["order_id"]).to_numpy(),
            "customer_id": as_str_objects(lines["customer_id"]).to_numpy(),
            "area": as_str_objects(lines["area"]).to_numpy(),
            "at": lines["ordered_at"].to_numpy(),
            "item": as_str_objects(lines[column]).to_numpy(),
        }
    )
    lines["at"] = pd.to_datetime(lines["at"], utc=True)
    # An order's query: its customer, the first area given, the time of its first line.
    head = lines.groupby("order_id", sort=False).agg(
        customer_id=("customer_id", "first"), area=("area", "first"), at=("at", "min")
    )
    head = head.reset_index().sort_values(["at", "order_id"], kind="stable").reset_index(drop=True)
    targets_by_order = lines.groupby("order_id", sort=False)["item"].agg(lambda s: set(s))
    targets = targets_by_order.reindex(head["order_id"]).tolist()

    head["customer_id"] = head["customer_id"].astype(object).where(head["customer_id"].notna(), None)
    head["area"] = head["area"].astype(object).where(head["area"].notna(), None)
    queries = head[["customer_id", "area", "at"]].copy()
    known = set(as_str_objects(train.orders["customer_id"]).dropna())
    segments = pd.DataFrame(
        {
            "area": head["area"].fillna(UNKNOWN_AREA).astype(object),
            "meal_time": meal_time(head["at"], test.timezone).astype(object).to_numpy(),
            "customer_type": np.where(head["customer_id"].isin(known).to_numpy(), "returning", "new").astype(object),
        }
    )
    train_items = train.orders[column].dropna() if column in train.orders.columns else pd.Series([], dtype=object)
    return TestCases(
        queries=queries,
        targets=targets,
        segments=segments,
        level=level,
        order_ids=head["order_id"].to_numpy(dtype=object),
        catalogue_size=int(as_str_objects(train_items).nunique()),
    )
