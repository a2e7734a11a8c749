"""The canonical order log and catalogue tables (documented in ``docs/data.md``).

Every reader turns its source into these columns; everything downstream reads only these.
Identifiers are strings, timestamps are timezone-aware UTC, money is float64.

>>> REQUIRED_ORDER_COLUMNS
('order_id', 'customer_id', 'ordered_at', 'area', 'restaurant_id')
>>> target_column("dish"), target_column("restaurant")
('item_id', 'restaurant_id')
"""

from __future__ import annotations

from typing import Literal

from foodrec.errors import InputError

REQUIRED_ORDER_COLUMNS: tuple[str, ...] = ("order_id", "customer_id", "ordered_at", "area", "restaurant_id")
OPTIONAL_ORDER_COLUMNS: tuple[str, ...] = (
    "item_id",
    "quantity",
    "unit_price",
    "order_total",
    "discount",
    "tip",
    "refunded_amount",
    "driver_id",
)
ORDER_COLUMNS: tuple[str, ...] = REQUIRED_ORDER_COLUMNS + OPTIONAL_ORDER_COLUMNS

ID_COLUMNS = frozenset({"order_id", "customer_id", "area", "restaurant_id", "item_id", "driver_id"})
MONEY_COLUMNS = frozenset({"unit_price", "order_total", "discount", "tip", "refunded_amount"})
COUNT_COLUMNS = frozenset({"quantity"})
# Ids longer than this (or with control characters) are quarantined: the service refuses them (serving/schemas.py).
MAX_ID_LENGTH = 128

# Catalogue tables: name -> (columns, key columns)
CATALOGUE_TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "restaurants": (("restaurant_id", "name", "cuisine", "area", "chain_id"), ("restaurant_id",)),
    "items": (("item_id", "restaurant_id", "name", "category", "unit_price"), ("item_id",)),
    "customers": (("customer_id", "home_area"), ("customer_id",)),
}

Level = Literal["dish", "restaurant"]
LEVELS: tuple[str, ...] = ("dish", "restaurant")


def target_column(level: str) -> str:
    """Column holding the recommended thing: ``item_id`` for dishes, ``restaurant_id`` for restaurants."""
    if level == "dish":
        return "item_id"
    if level == "restaurant":
        return "restaurant_id"
    raise InputError(f"unknown level {level!r}: choose one of {', '.join(LEVELS)}")
