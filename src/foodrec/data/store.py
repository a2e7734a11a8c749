"""The store: canonical Parquet files under one directory, with a DuckDB catalogue.

Layout::

    STORE/
      catalogue.duckdb        sources ingested (fingerprint, counts), store metadata (time zone, ...)
      orders/part-*.parquet   accepted canonical order lines
      quarantine/part-*.parquet  rejected rows, raw values as text, with a reason
      restaurants.parquet, items.parquet, customers.parquet   catalogue tables when known
      ingest_summary.json     the last ingest's accounting (read = accepted + quarantined + duplicates)
      truth/, city.json       ground truth and city settings, copied from a `foodrec generate` directory

Reading is what most of foodrec needs:

>>> store = Store.open("runs/demo/store")          # doctest: +SKIP
>>> log = store.order_log(until="2026-03-01")      # doctest: +SKIP
>>> log.orders.columns[:5].tolist()                # doctest: +SKIP
['order_id', 'customer_id', 'ordered_at', 'area', 'restaurant_id']
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

from foodrec.data.orderlog import OrderLog, to_utc_timestamp
from foodrec.data.schema import CATALOGUE_TABLES, ORDER_COLUMNS
from foodrec.errors import StoreError

CATALOGUE_FILE = "catalogue.duckdb"
SUMMARY_FILE = "ingest_summary.json"
STAGING_PREFIX = ".staging-"


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
            _init_catalogue(con)
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
                con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, json.dumps(value)]).fetchall()

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

    def quarantine(self) -> pd.DataFrame:
        """Quarantined rows: ``source, line, table, reason, raw`` (raw = the row's values as a JSON object of text)."""
        parts = sorted((self.path / "quarantine").glob("part-*.parquet"))
        if not parts:
            return pd.DataFrame(columns=["source", "line", "table", "reason", "raw"])
        with duckdb.connect() as con:
            sql = "SELECT * FROM read_parquet(?, union_by_name=true) ORDER BY source, line"
            return con.execute(sql, [[str(p) for p in parts]]).df()

    def ingest_summary(self) -> dict[str, object] | None:
        """The last ingest's summary (``STORE/ingest_summary.json``), or None before any ingest."""
        path = self.path / SUMMARY_FILE
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    def sources(self) -> pd.DataFrame:
        """Sources ingested so far, one row each (fingerprint, counts, when)."""
        with self.connect(read_only=True) as con:
            return con.execute("SELECT * FROM sources ORDER BY ingested_at").df()

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


def _init_catalogue(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)").fetchall()
    con.execute(
        "CREATE TABLE IF NOT EXISTS sources (fingerprint VARCHAR PRIMARY KEY, source VARCHAR, kind VARCHAR,"
        " ingested_at TIMESTAMPTZ, rows_read BIGINT, accepted BIGINT, quarantined BIGINT, duplicates BIGINT,"
        " part VARCHAR)"
    ).fetchall()


class StagedIngest:
    """Writes of one ingest, staged beside the store and moved in by :meth:`commit`.

    Nothing in the store changes before :meth:`commit`; :meth:`abort` (or an exception inside
    :func:`staged_ingest`) removes the staging folder, so a failed ingest leaves the store as it was.
    A new store is built whole in a sibling folder and renamed into place (atomic); an existing one
    gets its new files moved in first and its catalogue replaced last.

    >>> with staged_ingest("runs/store") as stage:            # doctest: +SKIP
    ...     stage.orders_part_path()                          # write a Parquet part there
    ...     stage.record_source({...}); stage.set_meta(timezone="Europe/Berlin")
    """

    def __init__(self, target: str | os.PathLike[str]):
        self.target = Path(target)
        if self.target.exists() and not self.target.is_dir():
            raise StoreError(f"store path {str(target)!r} exists and is not a directory")
        self.existing = (self.target / CATALOGUE_FILE).is_file()
        if self.target.is_dir() and not self.existing and any(self.target.iterdir()):
            raise StoreError(f"{str(target)!r} is a non-empty directory but not a foodrec store; pick another --store")
        token = uuid.uuid4().hex[:12]
        self._made: list[Path] = []
        self._committed = False
        if self.existing:
            self.stage = self.target / f"{STAGING_PREFIX}{token}"
        else:
            # Remember folders made for a new store, to take them away again if the ingest fails.
            self._made = [p for p in [self.target.parent, *self.target.parent.parents] if not p.exists()]
            self.target.parent.mkdir(parents=True, exist_ok=True)
            self.stage = self.target.parent / f".{self.target.name}{STAGING_PREFIX}{token}"
        (self.stage / "orders").mkdir(parents=True)
        (self.stage / "quarantine").mkdir()
        self._meta: dict[str, object] = {}
        self._sources: list[dict[str, object]] = []
        self._tables: set[str] = set()
        self._copies: list[str] = []
        self._summary: dict[str, object] | None = None

    def orders_part_path(self) -> Path:
        """Where to write the next Parquet part of accepted order lines."""
        return self.stage / "orders" / f"part-{uuid.uuid4().hex}.parquet"

    def quarantine_part_path(self) -> Path:
        """Where to write the next Parquet part of quarantined rows."""
        return self.stage / "quarantine" / f"part-{uuid.uuid4().hex}.parquet"

    def table_path(self, name: str) -> Path:
        """Where to write the new version of a catalogue table (replaces the store's at commit)."""
        if name not in CATALOGUE_TABLES:
            raise StoreError(f"unknown table {name!r}: choose one of {', '.join(CATALOGUE_TABLES)}")
        self._tables.add(name)
        return self.stage / f"{name}.parquet"

    def copy_in(self, source: Path, name: str | None = None) -> None:
        """Copy a file or directory (``truth/``, ``city.json``) into the store at commit."""
        name = name or source.name
        dest = self.stage / "copies" / name
        dest.parent.mkdir(exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, dest)
        else:
            shutil.copy2(source, dest)
        self._copies.append(name)

    def set_meta(self, **values: object) -> None:
        self._meta.update(values)

    def record_source(self, row: dict[str, object]) -> None:
        """A row of the catalogue's ``sources`` table (fingerprint, source, kind, ingested_at, counts, part)."""
        self._sources.append(row)

    def write_summary(self, summary: dict[str, object]) -> None:
        self._summary = summary

    def commit(self) -> Store:
        """Move everything staged into the store; returns the store."""
        stage, target = self.stage, self.target
        if self._summary is not None:
            (stage / SUMMARY_FILE).write_text(json.dumps(self._summary, indent=2) + "\n", encoding="utf-8")
        if self.existing:
            shutil.copy2(target / CATALOGUE_FILE, stage / CATALOGUE_FILE)
        self._write_catalogue(Store(stage))
        if not self.existing:
            for name in self._copies:
                os.replace(stage / "copies" / name, stage / name)
            shutil.rmtree(stage / "copies", ignore_errors=True)
            if target.is_dir():
                target.rmdir()  # an empty directory the user made for the store
            os.replace(stage, target)
            self._committed = True
            return Store(target)
        for folder in ("orders", "quarantine"):
            for part in sorted((stage / folder).glob("part-*.parquet")):
                os.replace(part, target / folder / part.name)
        for name in sorted(self._tables):
            os.replace(stage / f"{name}.parquet", target / f"{name}.parquet")
        for name in self._copies:
            old = target / name
            if old.is_dir():
                os.replace(old, stage / f"old-{name}")
            os.replace(stage / "copies" / name, old)
        if self._summary is not None:
            os.replace(stage / SUMMARY_FILE, target / SUMMARY_FILE)
        os.replace(stage / CATALOGUE_FILE, target / CATALOGUE_FILE)  # the commit point of the catalogue
        shutil.rmtree(stage, ignore_errors=True)
        self._committed = True
        return Store(target)

    def _write_catalogue(self, store: Store) -> None:
        """Metadata and source rows into the (copied) catalogue, in one connection."""
        with store.connect() as con:
            _init_catalogue(con)
            for key, value in self._meta.items():
                con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, json.dumps(value)]).fetchall()
            columns = ["fingerprint", "source", "kind", "ingested_at", "rows_read", "accepted", "quarantined",
                       "duplicates", "part"]  # fmt: skip
            sql = f"INSERT OR REPLACE INTO sources VALUES ({', '.join('?' for _ in columns)})"
            for row in self._sources:
                con.execute(sql, [row.get(c) for c in columns]).fetchall()

    def abort(self) -> None:
        """Drop the staged writes (and folders made for a store that never came to be)."""
        shutil.rmtree(self.stage, ignore_errors=True)
        if not self._committed:
            for folder in self._made:  # deepest first
                try:
                    folder.rmdir()
                except OSError:
                    break


@contextmanager
def staged_ingest(target: str | os.PathLike[str]) -> Iterator[StagedIngest]:
    """Stage an ingest into ``target``; the caller commits, any exception (or no commit) discards the stage."""
    stage = StagedIngest(target)
    try:
        yield stage
    finally:
        stage.abort()


def _atomic_parquet(frame: pd.DataFrame, target: Path) -> None:
    tmp = target.with_name(f".{target.name}.tmp")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, target)
