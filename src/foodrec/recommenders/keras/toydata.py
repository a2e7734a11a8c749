"""A small repeat-driven order log for tests, docs and quick experiments (no generator needed).

Customers live in an area, have a few favourite restaurants they return to, and otherwise order what is
popular in their area at that meal time - the shape of real delivery logs, in a few lines.

>>> log = toy_log(n_customers=50, n_restaurants=20, days=20, seed=1)
>>> sorted(log.orders.columns)[:3], log.orders["ordered_at"].dt.tz is not None
(['area', 'customer_id', 'item_id'], True)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from foodrec.data.orderlog import OrderLog


def toy_log(
    n_customers: int = 300,
    n_restaurants: int = 40,
    days: int = 60,
    dishes_per_restaurant: int = 5,
    n_areas: int = 4,
    orders_per_day: float = 0.12,
    repeat: float = 0.6,
    seed: int = 0,
) -> OrderLog:
    """Orders of ``n_customers`` over ``days`` days (UTC), one to two dishes per order."""
    rng = np.random.default_rng(seed)
    home = rng.integers(0, n_areas, n_customers)
    rest_area = rng.integers(0, n_areas, n_restaurants)
    appeal = rng.gamma(0.7, 1.0, n_restaurants)
    lunchy = rng.uniform(0, 1, n_restaurants)
    activity = rng.gamma(0.8, 1.0, n_customers)
    start = pd.Timestamp("2026-01-05", tz="UTC")
    rows = []
    hist: dict[int, list[int]] = {}
    n_orders = rng.poisson(orders_per_day * activity * days)
    events = [(c, rng.uniform(0, days)) for c in range(n_customers) for _ in range(n_orders[c])]
    events.sort(key=lambda e: e[1])
    for o, (c, day) in enumerate(events):
        lunch = rng.uniform() < 0.45
        hour = rng.normal(12.5, 1.0) if lunch else rng.normal(19.5, 1.2)
        at = start + pd.Timedelta(days=int(day)) + pd.Timedelta(hours=float(np.clip(hour, 0, 23.9)))
        past = hist.setdefault(c, [])
        if past and rng.uniform() < repeat:
            r = past[rng.integers(0, len(past))]
        else:
            w = appeal * np.where(rest_area == home[c], 3.0, 0.3) * np.where(lunch, lunchy, 1 - lunchy)
            r = int(rng.choice(n_restaurants, p=w / w.sum()))
        past.append(r)
        for d in rng.choice(dishes_per_restaurant, size=rng.integers(1, 3), replace=False):
            rows.append((f"o{o}", f"c{c}", at, f"a{home[c]}", f"r{r}", f"r{r}-d{d}"))
    orders = pd.DataFrame(rows, columns=["order_id", "customer_id", "ordered_at", "area", "restaurant_id", "item_id"])
    return OrderLog(orders.sort_values("ordered_at", kind="stable").reset_index(drop=True))
