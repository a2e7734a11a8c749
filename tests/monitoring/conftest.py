"""A small order log with (or without) a cuisine drift, a popularity recommender, and a store holding it."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from foodrec.data.orderlog import OrderLog
from foodrec.data.store import Store
from foodrec.recommenders.base import Ranking, Recommender

START = pd.Timestamp("2026-01-05", tz="UTC")  # a Monday
CUISINES = ("pizza", "sushi", "burger", "thai")


def restaurants(n: int = 20) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "restaurant_id": [f"r{i:02d}" for i in range(n)],
            "name": [f"R{i}" for i in range(n)],
            "cuisine": [CUISINES[i % len(CUISINES)] for i in range(n)],
            "area": [f"a{i % 4}" for i in range(n)],
            "chain_id": None,
        }
    )


def make_log(days: int = 35, drift_at: int | None = None, per_day: int = 160, seed: int = 0) -> OrderLog:
    """Orders at restaurant level; from day ``drift_at`` on, thai restaurants take most of the orders."""
    rng = np.random.default_rng(seed)
    rest = restaurants()
    n_rest = len(rest)
    base = 1.0 / np.arange(1, n_rest + 1) ** 1.1  # r00 most popular
    thai = (rest["cuisine"] == "thai").to_numpy()
    drifted = np.where(thai, base * 25, base)
    rows: dict[str, list[Any]] = {k: [] for k in ("order_id", "customer_id", "ordered_at", "area", "restaurant_id",
                                                  "order_total")}  # fmt: skip
    hours = np.array([11, 12, 13, 18, 19, 20, 21])
    for day in range(days):
        weights = drifted if drift_at is not None and day >= drift_at else base
        p = weights / weights.sum()
        n = rng.poisson(per_day)
        choice = rng.choice(n_rest, size=n, p=p)
        minutes = rng.choice(hours, size=n) * 60 + rng.integers(0, 60, size=n)
        at = START + pd.Timedelta(days=day) + pd.to_timedelta(np.sort(minutes), unit="min")
        for j in range(n):
            rows["order_id"].append(f"o{day:03d}-{j:04d}")
            rows["customer_id"].append(f"c{rng.integers(0, 400)}")
            rows["ordered_at"].append(at[j])
            rows["area"].append(f"a{rng.integers(0, 4)}")
            rows["restaurant_id"].append(rest["restaurant_id"].iloc[choice[j]])
            rows["order_total"].append(float(np.round(rng.lognormal(3.5, 0.4), 2)))
    orders = pd.DataFrame(rows)
    orders["ordered_at"] = pd.to_datetime(orders["ordered_at"], utc=True)
    return OrderLog(orders, restaurants=rest, timezone="UTC")


class TestPopularity(Recommender):
    """Most ordered restaurants in the query's area (global popularity for unknown areas)."""

    name = "test-popularity"
    __test__ = False  # not a pytest test class

    def fit(self, log: OrderLog) -> TestPopularity:
        self.level = log.resolve_level(self.level)
        col = "restaurant_id" if self.level == "restaurant" else "item_id"
        counts = log.orders.groupby(["area", col]).size().rename("n").reset_index()
        self.by_area = {
            a: g.sort_values(["n", col], ascending=[False, True])[[col, "n"]].to_numpy().tolist()
            for a, g in counts.groupby("area")
        }
        total = log.orders.groupby(col).size().sort_values(ascending=False)
        self.overall = [[i, int(n)] for i, n in total.items()]
        return self

    def recommend(self, queries: pd.DataFrame, k: int = 10) -> Ranking:
        items = np.full((len(queries), k), None, dtype=object)
        scores = np.full((len(queries), k), -np.inf)
        for i, area in enumerate(queries["area"]):
            ranked = self.by_area.get(area, self.overall)[:k]
            total = sum(n for _, n in ranked) or 1
            for r, (item, n) in enumerate(ranked):
                items[i, r], scores[i, r] = item, n / total
        return Ranking(items, scores)

    def save_state(self, directory: Path) -> None:
        (directory / "state.json").write_text(json.dumps({"by_area": self.by_area, "overall": self.overall}))

    @classmethod
    def load_state(cls, directory: Path, manifest: dict[str, Any]) -> TestPopularity:
        rec = cls(level=manifest.get("level"))
        state = json.loads((directory / "state.json").read_text())
        rec.by_area, rec.overall = state["by_area"], state["overall"]
        return rec


def write_store(path: Path, log: OrderLog) -> Path:
    store = Store.create(path)
    store.write_orders_part(log.orders)
    if log.restaurants is not None:
        store.write_table("restaurants", log.restaurants)
    store.set_meta(timezone=log.timezone)
    return path


@pytest.fixture
def test_baselines(monkeypatch: pytest.MonkeyPatch) -> dict[str, type[Recommender]]:
    """Make `test-popularity` a baseline name for the registry (the real baselines are not needed)."""
    from foodrec.recommenders import registry

    factories = {"test-popularity": TestPopularity}
    monkeypatch.setattr(registry, "baseline_factories", lambda: dict(factories))
    return factories


@pytest.fixture(scope="session")
def drift_log() -> OrderLog:
    return make_log(days=35, drift_at=28)


@pytest.fixture(scope="session")
def stable_log() -> OrderLog:
    return make_log(days=35, drift_at=None)


@pytest.fixture(scope="session")
def kit() -> SimpleNamespace:
    """The helpers above for test modules (importlib mode: tests cannot import conftest)."""
    return SimpleNamespace(make_log=make_log, TestPopularity=TestPopularity, write_store=write_store)
