"""Order lines encoded for the feature view: one row per (order, target) with indices, time and local clock.

>>> import pandas as pd
>>> from foodrec.data.orderlog import OrderLog
>>> from foodrec.features.vocabulary import FeatureSpace
>>> orders = pd.DataFrame({
...     "order_id": ["o1", "o2"], "customer_id": ["c1", "c2"],
...     "ordered_at": pd.to_datetime(["2026-01-01 12:00", "2026-01-02 19:00"], utc=True),
...     "area": ["a1", "a1"], "restaurant_id": ["r1", "r2"]})
>>> log = OrderLog(orders)
>>> order_lines(log, FeatureSpace.fit(log, "restaurant"))[["cust", "item", "meal"]].to_numpy().tolist()
[[1, 1, 1], [2, 2, 3]]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from foodrec.data.orderlog import OrderLog
from foodrec.data.schema import target_column
from foodrec.features.clock import local_clock, to_days
from foodrec.features.vocabulary import FeatureSpace, Vocab


def order_lines(log: OrderLog, space: FeatureSpace, customers: Vocab | None = None) -> pd.DataFrame:
    """One row per (order, target) with encoded ids, time in days and local meal time, sorted by time.

    Items, areas and restaurants are indices of the model's ``space``; customers of ``customers`` (the feature
    view's vocabulary; default the model's own).
    """
    customers = space.customers if customers is None else customers
    col = target_column(space.level)
    lines = log.orders.dropna(subset=[col, "ordered_at"])
    lines = lines.drop_duplicates(["order_id", col])
    if lines.empty:
        return pd.DataFrame(
            {k: np.zeros(0, dtype=np.int32) for k in ("cust", "area", "item", "rest", "meal")}
            | {
                "t": np.zeros(0),
                "order": np.zeros(0, dtype=object),
                "hour": np.zeros(0, np.float32),
                "dow": np.zeros(0, np.float32),
            }
        )
    hour, dow, meal = local_clock(lines["ordered_at"], space.timezone)
    frame = pd.DataFrame(
        {
            "order": lines["order_id"].astype(str).to_numpy(),
            "cust": customers.encode(lines["customer_id"]),
            "area": space.areas.encode(lines["area"]),
            "t": to_days(lines["ordered_at"]),
            "item": space.items.encode(lines[col]),
            "rest": space.restaurants.encode(lines["restaurant_id"]),
            "hour": hour,
            "dow": dow,
            "meal": meal,
        }
    )
    return frame.sort_values(["t", "order"], kind="stable").reset_index(drop=True)
