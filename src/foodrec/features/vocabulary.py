"""Vocabularies: the learned part of a model's data interface (ids -> indices, saved with the weights).

A :class:`FeatureSpace` holds the ids a model was trained on (customers, areas, items, restaurants; index 0 =
unknown/padding), the item -> restaurant map and the data's time zone. It is saved in ``features.json``; the data
itself (history, popularity) is never saved with a model: it comes from a
:class:`~foodrec.features.view.FeatureView` over whatever store the model is used with.

>>> import pandas as pd
>>> from foodrec.data.orderlog import OrderLog
>>> orders = pd.DataFrame({
...     "order_id": ["o1", "o2", "o3"], "customer_id": ["c1", "c1", "c2"],
...     "ordered_at": pd.to_datetime(["2026-01-01 12:00", "2026-01-02 19:00", "2026-01-03 12:00"], utc=True),
...     "area": ["a1", "a1", "a2"], "restaurant_id": ["r1", "r2", "r1"]})
>>> space = FeatureSpace.fit(OrderLog(orders), "restaurant")
>>> space.items.encode(["r2", "zz"]).tolist()
[2, 0]
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from foodrec.data.orderlog import OrderLog
from foodrec.data.schema import target_column
from foodrec.features.clock import FEW


class Vocab:
    """Strings -> indices 1..n; 0 stands for unknown (and padding).

    >>> v = Vocab(["b", "a", "b"])
    >>> v.encode(["a", "b", None, "c"]).tolist(), len(v)
    ([1, 2, 0, 0], 3)
    """

    def __init__(self, values: object):
        series = pd.Series(values, dtype=object).dropna().astype(str)
        self.ids = np.asarray(sorted(series.unique()), dtype=object)
        self._index = pd.Index(self.ids)
        self._added: list[str] = []  # ids appended by add(), indices after the sorted ones

    def __len__(self) -> int:
        return len(self.ids) + len(self._added) + 1

    def add(self, value: str) -> int:
        """The index of ``value``, appended when new (O(1): a feature view's customers grow with new orders).

        >>> v = Vocab(["a"])
        >>> v.add("z"), v.add("a"), v.encode(["z"] * 100)[:1].tolist(), v.decode([2]).tolist()
        (2, 1, [2], ['z'])
        """
        index = self._lookup.get(value)
        if index is None:
            index = len(self)
            self._added.append(value)
            self._lookup[value] = index
        return index

    def encode(self, values: object) -> np.ndarray:
        if isinstance(values, (pd.Series, np.ndarray, list, tuple)) and len(values) <= FEW:
            # A few ids (a served request): a dict lookup, without pandas' fixed cost of ~0.3 ms a call.
            lookup = self._lookup
            return np.asarray(
                [0 if v is None or v != v else lookup.get(v if isinstance(v, str) else str(v), 0) for v in values],
                dtype=np.int32,
            )
        vals = pd.Series(values, dtype=object)
        vals = vals.where(vals.notna(), "\x00").astype(str)
        codes = (self._index.get_indexer(vals) + 1).astype(np.int32)
        if self._added:
            missing = np.flatnonzero(codes == 0)
            lookup = self._lookup
            codes[missing] = [lookup.get(v, 0) for v in vals.to_numpy()[missing]]
        return codes

    @cached_property
    def _lookup(self) -> dict[str, int]:
        return {v: i + 1 for i, v in enumerate(self.ids.tolist())}

    def decode(self, indices: np.ndarray) -> np.ndarray:
        # The table is built once per size (ids added since rebuild it), not per call: a served answer decodes a
        # few codes, and concatenating a 10k-item catalogue for them cost more than the lookup.
        table = self.__dict__.get("_table")
        if table is None or len(table) != len(self):
            table = np.concatenate([np.asarray([None], dtype=object), self.ids, np.asarray(self._added, dtype=object)])
            self._table = table
        return table[np.asarray(indices)]


@dataclass
class FeatureSpace:
    """Vocabularies and static facts of the training log."""

    level: str
    timezone: str
    customers: Vocab
    areas: Vocab
    items: Vocab
    restaurants: Vocab
    item_restaurant: np.ndarray  # item index -> restaurant index (0 for padding)

    @property
    def dish(self) -> bool:
        return self.level == "dish"

    @classmethod
    def fit(cls, log: OrderLog, level: str) -> FeatureSpace:
        orders = log.orders
        col = target_column(level)
        targets = orders.dropna(subset=[col])
        items = Vocab(targets[col])
        restaurants = Vocab(orders["restaurant_id"])
        item_rest = np.zeros(len(items), dtype=np.int32)
        if level == "dish":
            pairs = targets[[col, "restaurant_id"]].drop_duplicates(col, keep="last")
            item_rest[items.encode(pairs[col])] = restaurants.encode(pairs["restaurant_id"])
        else:
            item_rest[1:] = restaurants.encode(items.ids)
        return cls(
            level,
            log.timezone or "UTC",
            Vocab(orders["customer_id"]),
            Vocab(orders["area"]),
            items,
            restaurants,
            item_rest,
        )

    def to_json(self) -> dict:
        return {
            "level": self.level,
            "timezone": self.timezone,
            "customers": self.customers.ids.tolist(),
            "areas": self.areas.ids.tolist(),
            "items": self.items.ids.tolist(),
            "restaurants": self.restaurants.ids.tolist(),
            "item_restaurant": self.item_restaurant.tolist(),
        }

    @classmethod
    def from_json(cls, data: dict) -> FeatureSpace:
        return cls(
            data["level"],
            data["timezone"],
            Vocab(data["customers"]),
            Vocab(data["areas"]),
            Vocab(data["items"]),
            Vocab(data["restaurants"]),
            np.asarray(data["item_restaurant"], np.int32),
        )
