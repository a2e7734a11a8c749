"""The store: canonical Parquet files under one directory, with a DuckDB catalogue.

Layout::

    STORE/
      catalogue.duckdb        sources ingested (fingerprint, counts), store metadata (time zone, ...)
      orders/part-*.parquet   accepted canonical order lines
      quarantine/part-*.parquet  rejected rows, raw values as text, with a reason
      restaurants.parquet, items.parquet, customers.parquet   catalogue tables when known

Reading is what most of foodrec needs:

>>> store = Store.open("runs/demo/store")          # doctest: +SKIP
>>> log = store.order_log(until="2026-03-01")      # doctest: +SKIP
>>> log.orders.columns[:5].tolist()                # doctest: +SKIP
['order_id', 'customer_id', 'ordered_at', 'area', 'restaurant_id']
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import duckdb
import pandas as pd

from foodrec.data.orderlog import OrderLog, to_utc_timestamp
from foodrec.data.schema import CATALOGUE_TABLES, ORDER_COLUMNS
from foodrec.errors import StoreError

CATALOGUE_FILE = "catalogue.duckdb"


class Store:
    """A foodrec store directory. Use :meth:`open` for an existing one, :meth:`create` for a new one."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)

    # -- opening -----------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Store:
        """Open an existing store; a one-line :class:`StoreError` if it is not one."""
        store = cls(path)
        if not store.path.is_dir():
            raise StoreError(f"store {str(path)!r} does not exist (create it with `foodrec ingest ... --store {path}`)")
        if not (store.path / CATALOGUE_FILE).is_file():
            raise StoreError(f"{str(path)!r} is not a foodrec store (no {CATALOGUE_FILE})")
        return store

    @classmethod
    def create(cls, path: str | os.PathLike[str]) -> Store:
        """Open a store, creating the directory and catalogue when missing."""
        store = cls(path)
        if store.path.exists() and not store.path.is_dir():
            raise StoreError(f"store path {str(path)!r} exists and is not a directory")
        store.path.mkdir(parents=True, exist_ok=True)
        (store.path / "orders").mkdir(exist_ok=True)
        (store.path / "quarantine").mkdir(exist_ok=True)
        with store.connect() as con:
            con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
            con.execute(
                "CREATE TABLE IF NOT EXISTS sources (fingerprint VARCHAR PRIMARY KEY, source VARCHAR, kind VARCHAR,"
                " ingested_at TIMESTAMPTZ, rows_read BIGINT, accepted BIGINT, quarantined BIGINT, duplicates BIGINT,"
                " part VARCHAR)"
            )
        return store

    def connect(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection to the catalogue (close it, or use it as a context manager)."""
        return duckdb.connect(str(self.path / CATALOGUE_FILE), read_only=read_only)

    # -- metadata ------------------------------------------------------------------
    @property
    def meta(self) -> dict[str, str]:
        with self.connect(read_only=True) as con:
            return dict(con.execute("SELECT key, value FROM meta").fetchall())

    def set_meta(self, **values: object) -> None:
        with self.connect() as con:
            for key, value in values.items():
                con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, json.dumps(value)])

    @property
    def timezone(self) -> str:
        """The data's local time zone (IANA name) used for hour-of-day and meal-time features."""
        raw = self.meta.get("timezone")
        return json.loads(raw) if raw else "UTC"

    # -- reading -------------------------------------------------------------------
    def _order_parts(self) -> list[Path]:
        return sorted((self.path / "orders").glob("part-*.parquet"))

    def orders(self, until: object = None, columns: list[str] | None = None) -> pd.DataFrame:
        """Accepted order lines, sorted by time; only those strictly before ``until`` when given."""
        parts = self._order_parts()
        if not parts:
            raise StoreError(f"store {str(self.path)!r} holds no orders yet (run `foodrec ingest`)")
        cols = ", ".join(columns) if columns else "*"
        sql = f"SELECT {cols} FROM read_parquet(?, union_by_name=true)"
        params: list[object] = [[str(p) for p in parts]]
        if until is not None:
            sql += " WHERE ordered_at < ?"
            params.append(to_utc_timestamp(until).to_pydatetime())
        sql += " ORDER BY ordered_at, order_id"
        with duckdb.connect() as con:
            con.execute("SET TimeZone='UTC'")
            frame = con.execute(sql, params).df()
        if "ordered_at" in frame.columns:
            frame["ordered_at"] = pd.to_datetime(frame["ordered_at"], utc=True)
        ordered = [c for c in ORDER_COLUMNS if c in frame.columns]
        return frame[ordered + [c for c in frame.columns if c not in ordered]]

    def table(self, name: str) -> pd.DataFrame | None:
        """A catalogue table (``restaurants``, ``items``, ``customers``) or None when the store lacks it."""
        if name not in CATALOGUE_TABLES:
            raise StoreError(f"unknown table {name!r}: choose one of {', '.join(CATALOGUE_TABLES)}")
        path = self.path / f"{name}.parquet"
        return pd.read_parquet(path) if path.is_file() else None

    def order_log(self, until: object = None) -> OrderLog:
        """Orders (before ``until``) and all catalogue tables as an :class:`OrderLog`."""
        return OrderLog(
            orders=self.orders(until=until),
            restaurants=self.table("restaurants"),
            items=self.table("items"),
            customers=self.table("customers"),
            timezone=self.timezone,
            source=self.path,
        )

    # -- writing (ingest uses these; tests use them to build small stores) ---------------
    def write_orders_part(self, orders: pd.DataFrame) -> str:
        """Write canonical order lines as a new Parquet part, atomically; returns the part's file name."""
        name = f"part-{uuid.uuid4().hex}.parquet"
        _atomic_parquet(orders, self.path / "orders" / name)
        return name

    def write_table(self, name: str, frame: pd.DataFrame) -> None:
        """Replace a catalogue table, atomically."""
        if name not in CATALOGUE_TABLES:
            raise StoreError(f"unknown table {name!r}: choose one of {', '.join(CATALOGUE_TABLES)}")
        _atomic_parquet(frame, self.path / f"{name}.parquet")


def _atomic_parquet(frame: pd.DataFrame, target: Path) -> None:
    tmp = target.with_name(f".{target.name}.tmp")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, target)
