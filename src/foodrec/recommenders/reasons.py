"""Why an item is recommended, in plain words, and what a customer ordered: shared by every recommender's
:meth:`~foodrec.recommenders.base.Recommender.explain` and ``recent_orders`` so the service and the demo page
always use the same phrases.

>>> ordered_before(1), ordered_before(3), ordered_before()
('you ordered it before (1 time)', 'you ordered it before (3 times)', 'you ordered it before')
>>> popular_in("south", "dinner"), popular_in(None, "lunch"), popular_in("south"), popular_in(None)
('popular in south at dinner', 'popular at lunch', 'popular in south', 'popular overall')
>>> import pandas as pd
>>> orders = pd.DataFrame({"order_id": ["o1", "o1", "o2", "o3"], "customer_id": ["c1", "c1", "c1", "c2"],
...     "ordered_at": pd.to_datetime(["2026-01-01 12:00"] * 2 + ["2026-01-02 19:00", "2026-01-02 19:00"], utc=True),
...     "item_id": ["d1", "d2", "d1", "d9"]})
>>> customer_orders(orders, "c1", "item_id", n=5)
[{'at': '2026-01-02T19:00:00+00:00', 'items': ['d1']}, {'at': '2026-01-01T12:00:00+00:00', 'items': ['d1', 'd2']}]
>>> order_counts(orders, "c1", "item_id")
{'d1': 2, 'd2': 1}
"""

from __future__ import annotations

from typing import Any

import pandas as pd

SIMILAR_CUSTOMERS = "liked by customers like you"
POPULAR_NEARBY = "popular nearby"  # the cold-start fallback's items


def ordered_before(n: int | None = None) -> str:
    """``n``: how many of the customer's orders hold the item (None: known to be more than none)."""
    return "you ordered it before" + ("" if n is None else f" ({n} time{'' if n == 1 else 's'})")


def popular_in(area: str | None, meal: str | None = None) -> str:
    where = f" in {area}" if area else ""
    when = f" at {meal}" if meal else ""
    return f"popular{where}{when}" if where or when else "popular overall"


def _mine(orders: pd.DataFrame, customer_id: str, column: str) -> pd.DataFrame:
    """The customer's order lines (a scan of the log: only asked for by people, never on the ranking path)."""
    if column not in orders.columns:
        return orders.iloc[:0]
    mine = orders[orders["customer_id"].astype(str) == str(customer_id)]
    return mine.dropna(subset=[column])


def customer_orders(orders: pd.DataFrame, customer_id: str, column: str, n: int = 5) -> list[dict[str, Any]]:
    """The customer's last ``n`` orders in canonical order lines, newest first, as ``{"at": ISO time, "items":
    [ids of column]}`` (the shape of :meth:`~foodrec.features.view.FeatureView.recent_orders`)."""
    mine = _mine(orders, customer_id, column)
    if mine.empty or n < 1:
        return []
    grouped = mine.groupby("order_id", sort=False).agg(at=("ordered_at", "min"), items=(column, list))
    newest = grouped.sort_values("at", ascending=False, kind="stable").head(n)
    return [
        {"at": pd.Timestamp(at).floor("s").isoformat(), "items": list(dict.fromkeys(str(i) for i in items))}
        for at, items in zip(newest["at"], newest["items"], strict=True)
    ]


def order_counts(orders: pd.DataFrame, customer_id: str, column: str) -> dict[str, int]:
    """How many of the customer's orders hold each id of ``column``."""
    mine = _mine(orders, customer_id, column).drop_duplicates(["order_id", column])
    return {str(k): int(v) for k, v in mine[column].astype(str).value_counts(sort=False).items()}
