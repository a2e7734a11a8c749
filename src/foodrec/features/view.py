"""The point-in-time feature view: every data-derived input of a model, looked up at the moment of the query.

A model's saved artefact holds only learned parameters (weights, vocabularies, feature settings). What it knows
about the data - each customer's history, popularity by area, meal time and hour, trends, the dishes retrieval
draws from - comes from a :class:`FeatureView` built over an order log (the store, cut at ``--until`` when given)
and kept current with the orders the service sees (:meth:`FeatureView.observe`). Training, evaluation,
``foodrec recommend`` and the service all read through it, so a model sees in serving exactly what it saw in
training. A query at time ``t`` sees only lines before ``t``.

Customers have the view's own vocabulary (everyone in the data); :attr:`FeatureView.model_customer` maps them to
the model's embedding rows, so a customer the model never saw still gets history features (and the unknown row).

>>> import pandas as pd
>>> from foodrec.data.orderlog import OrderLog
>>> from foodrec.features.vocabulary import FeatureSpace
>>> orders = pd.DataFrame({"order_id": ["o1", "o2"], "customer_id": ["c1", "c2"],
...     "ordered_at": pd.to_datetime(["2026-01-01 12:00", "2026-01-02 12:00"], utc=True),
...     "area": "a", "restaurant_id": ["r1", "r2"]})
>>> space = FeatureSpace.fit(OrderLog(orders.iloc[:1]), "restaurant")     # a model that knows c1 and r1 only
>>> view = FeatureView.build(space, OrderLog(orders))
>>> view.customers.encode(["c2"]).tolist(), view.model_customer.tolist()   # c2: history yes, embedding no
([2], [0, 1, 0])
>>> new = pd.DataFrame({"order_id": ["o3"], "customer_id": ["c3"], "area": ["a"], "restaurant_id": ["r1"],
...     "ordered_at": pd.to_datetime(["2026-01-03 12:00"], utc=True)})
>>> view.observe(new), view.observe(new)       # the second copy of o3 is not counted again
(1, 0)
>>> view.recent_orders("c3")[0]["items"]
['r1']
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from foodrec.data.orderlog import OrderLog
from foodrec.data.schema import target_column
from foodrec.features.clock import few_times, to_days
from foodrec.features.history import History
from foodrec.features.lines import order_lines
from foodrec.features.popularity import Popularity
from foodrec.features.vocabulary import FeatureSpace, Vocab


@dataclass
class FeatureView:
    """History and popularity over an order log, in a model's index space, with a live tail."""

    space: FeatureSpace
    customers: Vocab
    model_customer: np.ndarray  # view customer index -> the model's customer index (0: unknown to the model)
    history: History
    popularity: Popularity
    end: float  # days: the built data ends here (exclusive); orders folded in later may lie beyond
    order_ids: set[str] = field(default_factory=set)
    n_observed: int = 0

    @classmethod
    def build(
        cls,
        space: FeatureSpace,
        log: OrderLog,
        end: float | None = None,
        lines: pd.DataFrame | None = None,
        popularity_budget: float = 6e7,
    ) -> FeatureView:
        """The view of ``log`` (cut it first to respect ``--until``) for a model with vocabularies ``space``.

        ``end`` (days) is where the newest popularity snapshot sits (default: just after the last order);
        ``lines`` may pass :func:`~foodrec.features.lines.order_lines` already computed with the same customers.
        """
        customers = Vocab(log.orders["customer_id"])
        if lines is None:
            lines = order_lines(log, space, customers)
        lines = lines[lines["item"] > 0]  # items the model does not know cannot be scored or matched
        if end is None:
            last = log.orders["ordered_at"].max()
            end = float(to_days([last])[0]) + 1e-6 if pd.notna(last) else 0.0
        model_customer = np.concatenate([[0], space.customers.encode(customers.ids)]).astype(np.int32)
        return cls(
            space,
            customers,
            model_customer,
            History.build(len(customers), lines),
            Popularity.build(space, lines, end, budget_floats=popularity_budget),
            end,
            set(log.orders["order_id"].astype(str).unique().tolist()),
        )

    # -- reading ------------------------------------------------------------------------------------------------
    def customer_index(self, customer_ids: object) -> np.ndarray:
        """View indices of raw customer ids (0: no orders in the view)."""
        return self.customers.encode(customer_ids)

    def model_customers(self, view_customers: np.ndarray) -> np.ndarray:
        """The model's embedding rows of view customers (customers added after the build are unknown: 0)."""
        idx = np.asarray(view_customers, np.int64)
        inside = idx < len(self.model_customer)
        return np.where(inside, self.model_customer[np.where(inside, idx, 0)], 0).astype(np.int32)

    def recent_orders(self, customer_id: str, n: int = 5, before: float | None = None) -> list[dict]:
        """The customer's last ``n`` orders before ``before`` (days; default: all), newest first, as
        ``{"at": ISO time, "items": [item ids]}`` - what the demo page shows beside the recommendations."""
        cust = int(self.customers.encode([customer_id])[0])
        if cust == 0:
            return []
        before = np.inf if before is None else before
        items, _, times = self.history.recent(np.array([cust]), np.array([before]), depth=200)
        orders: dict[float, list[str]] = {}  # lines of one order share its time
        for item, t in zip(items[0], times[0], strict=True):
            if item > 0:
                orders.setdefault(float(t), []).append(str(self.space.items.decode([item])[0]))
        newest = sorted(orders, reverse=True)[:n]
        stamp = lambda t: pd.Timestamp(round(t * 86_400), unit="s", tz="UTC").isoformat()  # noqa: E731
        return [{"at": stamp(t), "items": orders[t]} for t in newest]

    # -- the live tail ------------------------------------------------------------------------------------------
    def observe(self, orders: pd.DataFrame) -> int:
        """Fold new order lines (canonical columns ``order_id, customer_id, ordered_at, area, restaurant_id``
        and ``item_id`` at dish level) into history and popularity; orders already in the view count once.

        Returns the number of lines folded in. Lines of items the model does not know are skipped (documented
        fallback: they cannot be scored).
        """
        col = target_column(self.space.level)
        if orders.empty or col not in orders.columns:
            return 0
        # Plain lists, not pandas operations: the service folds one order at a time and each pandas call costs
        # a fixed ~0.1 ms.
        ids = orders["order_id"].astype(str).tolist()
        targets, stamps = orders[col].tolist(), orders["ordered_at"].tolist()
        seen_lines: set[tuple[str, str]] = set()
        rows = []
        for i, (order_id, target, stamp) in enumerate(zip(ids, targets, stamps, strict=True)):
            if order_id in self.order_ids or target is None or target != target or pd.isna(stamp):
                continue
            if (order_id, str(target)) not in seen_lines:
                seen_lines.add((order_id, str(target)))
                rows.append(i)
        if not rows:
            return 0
        pick = lambda column: [orders[column].iat[i] for i in rows]  # noqa: E731
        at, hours, _, meals = few_times(pick("ordered_at"), self.space.timezone)
        items = self.space.items.encode([str(targets[i]) for i in rows])
        areas = self.space.areas.encode(pick("area"))
        rests = self.space.item_restaurant[items]
        n = 0
        for cust_id, t, item, rest, area, hour, meal in zip(
            [str(c) for c in pick("customer_id")], at, items, rests, areas, hours, meals, strict=True
        ):
            if item <= 0:
                continue
            cust = self.customers.add(cust_id)
            last = self.history.last_time(cust, item, t)  # the item's returns count this line's gap
            first = self.history.last_time(cust, None, t) is None  # no earlier order: a first order
            self.history.append(cust, t, item, rest)
            gap = None if last is None else t - last
            self.popularity.observe(t, item, area, meal, hour, gap=gap, first=first)
            n += 1
        self.order_ids.update(ids[i] for i in rows)
        self.n_observed += n
        return n
