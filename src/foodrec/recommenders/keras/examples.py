"""Examples: queries (and, for training, the items ordered) as encoded arrays, one row per order.

Customers are indices of the :class:`~foodrec.features.view.FeatureView` (its history is keyed by them); the model's
embedding row is looked up from the view when inputs are built.

>>> from foodrec.recommenders.keras.toydata import toy_log
>>> from foodrec.features.lines import order_lines
>>> from foodrec.features.vocabulary import FeatureSpace
>>> log = toy_log(n_customers=5, n_restaurants=3, days=3, seed=0)
>>> ex = Examples.from_lines(order_lines(log, FeatureSpace.fit(log, "restaurant")))
>>> ex.positives.shape[1], bool((ex.at[1:] >= ex.at[:-1]).all())      # sorted by time
(8, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from foodrec.features.clock import FEW, few_times, local_clock, parsed_times, to_days
from foodrec.features.view import FeatureView


@dataclass
class Examples:
    """Queries (and, for training, the ordered items) as encoded arrays, one row per order."""

    cust: np.ndarray
    area: np.ndarray
    at: np.ndarray  # days
    hour: np.ndarray
    dow: np.ndarray
    meal: np.ndarray
    positives: np.ndarray  # (n, P) item indices, 0 = padding; may be all 0 for queries

    def __len__(self) -> int:
        return len(self.cust)

    def take(self, idx: np.ndarray) -> Examples:
        return Examples(*(getattr(self, f)[idx] for f in ("cust", "area", "at", "hour", "dow", "meal", "positives")))

    @classmethod
    def from_lines(cls, lines: pd.DataFrame, max_positives: int = 8) -> Examples:
        """One example per order: its customer, area, time and up to ``max_positives`` ordered items."""
        grouped = lines.groupby("order", sort=False)
        first = grouped.head(1).reset_index(drop=True)
        rank = grouped.cumcount().to_numpy()
        keep = rank < max_positives
        row = pd.Index(first["order"]).get_indexer(lines["order"][keep])
        pos = np.zeros((len(first), max_positives), np.int32)
        pos[row, rank[keep]] = lines["item"].to_numpy()[keep]
        first = first.assign(_o=np.arange(len(first))).sort_values(["t", "_o"], kind="stable")
        order = first["_o"].to_numpy()
        return cls(
            first["cust"].to_numpy(np.int32),
            first["area"].to_numpy(np.int32),
            first["t"].to_numpy(),
            first["hour"].to_numpy(np.float32),
            first["dow"].to_numpy(np.float32),
            first["meal"].to_numpy(np.int32),
            pos[order],
        )

    @classmethod
    def from_queries(cls, view: FeatureView, queries: pd.DataFrame) -> Examples:
        """Queries (``customer_id, area, at``) encoded: customers in the view's vocabulary, areas in the model's."""
        n = len(queries)
        space = view.space
        if n <= FEW:
            at, hour, dow, meal = few_times(queries["at"], space.timezone)
        else:
            hour, dow, meal = local_clock(queries["at"], space.timezone)
            at = to_days(queries["at"])
        return cls(
            view.customer_index(queries["customer_id"]),
            space.areas.encode(queries["area"]),
            at,
            hour,
            dow,
            meal,
            np.zeros((n, 1), np.int32),
        )

    @classmethod
    def from_parsed(
        cls, view: FeatureView, customer_ids: Sequence[str], areas: Sequence[str | None], at: Sequence[datetime]
    ) -> Examples:
        """:meth:`from_queries` for queries already parsed into typed values (the service's requests): the same
        arrays, without a DataFrame. Customers and areas are dict lookups, times the standard library's.

        >>> from datetime import datetime, UTC
        >>> from foodrec.recommenders.keras.toydata import toy_log
        >>> from foodrec.features.vocabulary import FeatureSpace
        >>> log = toy_log(n_customers=5, n_restaurants=3, days=3, seed=0)
        >>> view = FeatureView.build(FeatureSpace.fit(log, "restaurant"), log)
        >>> ex = Examples.from_parsed(view, ["c1", "nobody"], [None, None], [datetime(2026, 1, 5, 12, tzinfo=UTC)] * 2)
        >>> ex.cust.tolist()[1], ex.meal.tolist()
        (0, [1, 1])
        """
        customers, area_lookup = view.customers._lookup, view.space.areas._lookup
        at_days, hour, dow, meal = parsed_times(at, view.space.timezone)
        return cls(
            np.asarray([customers.get(c, 0) for c in customer_ids], np.int32),
            np.asarray([0 if a is None else area_lookup.get(a, 0) for a in areas], np.int32),
            at_days,
            hour,
            dow,
            meal,
            np.zeros((len(at_days), 1), np.int32),
        )
