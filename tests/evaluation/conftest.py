"""Small synthetic order logs and stores for the evaluation and baseline tests (no generator needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from foodrec.data.orderlog import OrderLog
from foodrec.data.store import Store


def synthetic_orders(
    n_customers: int = 120, n_days: int = 20, n_restaurants: int = 30, seed: int = 0, dishes: bool = True
) -> pd.DataFrame:
    """Repeat-driven orders: each customer has a home area and a few favourite restaurants and dishes."""
    rng = np.random.default_rng(seed)
    areas = np.array(["north", "south", "east"])
    rest_area = areas[rng.integers(0, 3, n_restaurants)]
    rows = []
    start = pd.Timestamp("2026-01-05", tz="UTC")
    order_no = 0
    for c in range(n_customers):
        home = areas[c % 3]
        local = np.flatnonzero(rest_area == home)
        favourites = rng.choice(local, size=min(2, len(local)), replace=False)
        n_orders = 1 + rng.poisson(3)
        for _ in range(n_orders):
            day = rng.integers(0, n_days)
            hour = rng.choice([8, 12, 13, 19, 20, 23])
            at = start + pd.Timedelta(days=int(day), hours=int(hour), minutes=int(rng.integers(0, 60)))
            r = rng.choice(favourites) if rng.random() < 0.7 else rng.choice(local)
            n_lines = 1 + rng.integers(0, 2)
            for line in range(n_lines):
                rows.append(
                    {
                        "order_id": f"o{order_no}",
                        "customer_id": f"c{c}",
                        "ordered_at": at,
                        "area": home,
                        "restaurant_id": f"r{r}",
                        "item_id": f"r{r}-d{rng.integers(0, 4) if line else 0}",
                    }
                )
            order_no += 1
    frame = pd.DataFrame(rows).sort_values(["ordered_at", "order_id"]).reset_index(drop=True)
    if not dishes:
        frame = frame.drop(columns="item_id")
    return frame


@pytest.fixture
def orders() -> pd.DataFrame:
    return synthetic_orders()


@pytest.fixture
def log(orders) -> OrderLog:
    return OrderLog(orders, timezone="UTC")


@pytest.fixture
def store_dir(tmp_path, orders):
    store = Store.create(tmp_path / "store")
    store.write_orders_part(orders)
    store.set_meta(timezone="UTC")
    return store.path
