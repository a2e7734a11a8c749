"""The event store: impressions, clicks and orders, each stored once per idempotency key.

SQLite in WAL mode is the embedded default (a file path); PostgreSQL serves several replicas (a
``postgresql://`` URL). Both hold the same two tables:

``events``: ``event_id`` (the idempotency key, primary key), ``request_id``, ``received_at`` and
``occurred_at`` (UTC), ``type`` (impression | click | order), ``customer_id``, ``variant``,
``model_version``, ``items`` (JSON array of ids), ``order_value``, ``area``, ``credits`` (interleaving: JSON array
of the variant credited with each item, else null; added to older stores when they are opened).

``assignments``: ``customer_id, variant, first_seen`` -- the first event seen per customer and variant.

A write returns only after its transaction committed, so an acknowledged event survives the server
being killed.

>>> import tempfile, os
>>> store = open_event_store(os.path.join(tempfile.mkdtemp(), "events.sqlite"))
>>> event = Event(event_id="k1", type="order", customer_id="c1", variant="control", items=("i1",), order_value=12.5)
>>> store.write([event, event])        # the same key twice: stored once
[True, False]
>>> store.read_events()[["event_id", "type", "items", "order_value"]].to_dict("records")
[{'event_id': 'k1', 'type': 'order', 'items': ['i1'], 'order_value': 12.5}]
>>> store.close()
"""

from __future__ import annotations

import json
import os
import queue
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from foodrec.errors import InputError, StoreError

EVENT_TYPES: tuple[str, ...] = ("impression", "click", "order")
EVENT_COLUMNS: tuple[str, ...] = (
    "event_id",
    "request_id",
    "received_at",
    "occurred_at",
    "type",
    "customer_id",
    "variant",
    "model_version",
    "items",
    "order_value",
    "area",
    "credits",
)
ASSIGNMENT_COLUMNS: tuple[str, ...] = ("customer_id", "variant", "first_seen")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Event:
    """One event as stored. ``event_id`` is the client's idempotency key."""

    event_id: str
    type: str
    customer_id: str
    variant: str
    items: tuple[str, ...] = ()
    order_value: float | None = None
    request_id: str | None = None
    model_version: str | None = None
    area: str | None = None
    occurred_at: datetime = field(default_factory=_now)
    received_at: datetime = field(default_factory=_now)
    credits: tuple[str, ...] | None = None  # interleaving: the variant credited with each of ``items``

    def __post_init__(self) -> None:
        if self.type not in EVENT_TYPES:
            raise InputError(f"event type {self.type!r}: choose one of {', '.join(EVENT_TYPES)}")

    def row(self) -> tuple[Any, ...]:
        return (
            self.event_id,
            self.request_id,
            _utc(self.received_at),
            _utc(self.occurred_at),
            self.type,
            self.customer_id,
            self.variant,
            self.model_version,
            json.dumps(list(self.items)),
            self.order_value,
            self.area,
            None if self.credits is None else json.dumps(list(self.credits)),
        )


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class EventStore(ABC):
    """Where events go. Thread-safe: the service writes from several threads at once."""

    url: str
    kind: str

    @abstractmethod
    def write(self, events: Sequence[Event]) -> list[bool]:
        """Store events in one transaction; per event True when stored, False when its key was already there."""

    @abstractmethod
    def _query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run a read-only query, returning column names and rows."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""

    def ping(self) -> None:
        """Raise StoreError unless the database answers."""
        try:
            self._query("SELECT 1")
        except Exception as err:  # any driver error means "not ready"
            raise StoreError(f"event store {self.url!r} does not answer: {err}") from err

    def count(self) -> int:
        """Number of stored events."""
        return int(self._query("SELECT COUNT(*) FROM events")[1][0][0])

    def read_events(self) -> pd.DataFrame:
        """All events, oldest first: the columns of :data:`EVENT_COLUMNS`, UTC timestamps, ``items`` as lists."""
        names, rows = self._query(f"SELECT {', '.join(EVENT_COLUMNS)} FROM events ORDER BY received_at, event_id")
        frame = pd.DataFrame.from_records(rows, columns=names)
        for column in ("received_at", "occurred_at"):
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
        frame["items"] = [_as_list(value) for value in frame["items"]]
        frame["credits"] = [None if value is None or value != value else _as_list(value) for value in frame["credits"]]
        frame["order_value"] = pd.to_numeric(frame["order_value"]).astype("float64")
        for column in ("event_id", "request_id", "type", "customer_id", "variant", "model_version", "area"):
            frame[column] = frame[column].astype("object")
        return frame

    def read_orders(self) -> pd.DataFrame:
        """The order events only (what the recommenders fold in at start): ``event_id, customer_id, area,
        occurred_at, items``, oldest first."""
        names, rows = self._query(
            "SELECT event_id, customer_id, area, occurred_at, items FROM events WHERE type = 'order' "
            "ORDER BY occurred_at, event_id"
        )
        frame = pd.DataFrame.from_records(rows, columns=names or ["event_id", "customer_id", "area", "occurred_at",
                                                                  "items"])  # fmt: skip
        frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True, format="ISO8601")
        frame["items"] = [_as_list(value) for value in frame["items"]]
        return frame

    def read_orders_since(self, since: datetime | None) -> pd.DataFrame:
        """The order events received at or after ``since`` (UTC; None: all), as :meth:`read_orders` plus
        ``received_at``: how the processes of one service (and replicas) see each other's orders. Reading again
        from a little before the last one seen is safe (an order id is folded in once)."""
        where = "" if since is None else f" AND received_at >= {self._time_literal(_utc(since))}"
        names, rows = self._query(
            "SELECT event_id, customer_id, area, occurred_at, items, received_at FROM events WHERE type = 'order'"
            f"{where} ORDER BY received_at, event_id"
        )
        frame = pd.DataFrame.from_records(rows, columns=names or ["event_id", "customer_id", "area", "occurred_at",
                                                                  "items", "received_at"])  # fmt: skip
        for column in ("occurred_at", "received_at"):
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
        frame["items"] = [_as_list(value) for value in frame["items"]]
        return frame

    @abstractmethod
    def _time_literal(self, when: datetime) -> str:
        """``when`` as an SQL literal comparable with the stored ``received_at``."""

    @abstractmethod
    def announce_reload(self, variants: dict[str, str]) -> int:
        """Record that the models were reloaded (with these variant overrides); returns the new reload generation.
        Every process serving from this store reloads when it sees a generation newer than its own."""

    def latest_reload(self) -> tuple[int, dict[str, str]]:
        """The newest reload generation (0: none yet) and its variant overrides."""
        _, rows = self._query("SELECT generation, variants FROM reloads ORDER BY generation DESC LIMIT 1")
        if not rows:
            return 0, {}
        generation, variants = rows[0]
        return int(generation), dict(json.loads(variants) if isinstance(variants, str) else variants)

    def read_assignments(self) -> pd.DataFrame:
        """First time each customer was seen in each variant (``customer_id, variant, first_seen``)."""
        names, rows = self._query(
            f"SELECT {', '.join(ASSIGNMENT_COLUMNS)} FROM assignments ORDER BY first_seen, customer_id"
        )
        frame = pd.DataFrame.from_records(rows, columns=names)
        frame["first_seen"] = pd.to_datetime(frame["first_seen"], utc=True, format="ISO8601")
        return frame

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return list(json.loads(value))
    return list(value)


# -- SQLite -----------------------------------------------------------------------------------

_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY,
    request_id TEXT,
    received_at TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    type TEXT NOT NULL CHECK (type IN ('impression', 'click', 'order')),
    customer_id TEXT NOT NULL,
    variant TEXT NOT NULL,
    model_version TEXT,
    items TEXT NOT NULL DEFAULT '[]',
    order_value REAL,
    area TEXT,
    credits TEXT
);
CREATE INDEX IF NOT EXISTS events_received_at ON events (received_at);
CREATE TABLE IF NOT EXISTS assignments (
    customer_id TEXT NOT NULL,
    variant TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    PRIMARY KEY (customer_id, variant)
);
CREATE TABLE IF NOT EXISTS reloads (
    generation INTEGER PRIMARY KEY AUTOINCREMENT,
    requested_at TEXT NOT NULL,
    variants TEXT NOT NULL DEFAULT '{}'
);
"""


class SQLiteEventStore(EventStore):
    """One SQLite file in WAL mode; one connection behind a lock (SQLite has one writer at a time anyway)."""

    kind = "sqlite"

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.url = str(self.path)
        if self.path.parent and not self.path.parent.is_dir():
            raise InputError(f"event store: folder {str(self.path.parent)!r} does not exist")
        try:
            self._con = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10.0)
            self._con.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a commit survives the process being killed (not a power cut) without an fsync.
            self._con.execute("PRAGMA synchronous=NORMAL")
            self._con.executescript(_SQLITE_SCHEMA)
            columns = {row[1] for row in self._con.execute("PRAGMA table_info(events)")}
            if "credits" not in columns:  # a store written before interleaving existed
                self._con.execute("ALTER TABLE events ADD COLUMN credits TEXT")
        except sqlite3.DatabaseError as err:
            raise StoreError(f"event store {self.url!r}: {err}") from err
        self._lock = threading.Lock()

    def write(self, events: Sequence[Event]) -> list[bool]:
        stored: list[bool] = []
        with self._lock:
            cur = self._con.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                for event in events:
                    row = list(event.row())
                    row[2], row[3] = row[2].isoformat(), row[3].isoformat()
                    cur.execute(
                        f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(row))})"
                        " ON CONFLICT (event_id) DO NOTHING",
                        row,
                    )
                    stored.append(cur.rowcount == 1)
                    if stored[-1]:
                        cur.execute(
                            "INSERT INTO assignments VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                            (event.customer_id, event.variant, row[3]),
                        )
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        return stored

    def _query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        with self._lock:
            cur = self._con.execute(sql)
            return [d[0] for d in cur.description], cur.fetchall()

    def _time_literal(self, when: datetime) -> str:
        # Stored as UTC isoformat() text, which sorts as time: "+00:00" (no fraction) < ".5+00:00" < ".6+00:00".
        return f"'{when.isoformat()}'"

    def announce_reload(self, variants: dict[str, str]) -> int:
        with self._lock:
            cur = self._con.execute(
                "INSERT INTO reloads (requested_at, variants) VALUES (?, ?)", (_now().isoformat(), json.dumps(variants))
            )
            return int(cur.lastrowid)

    def close(self) -> None:
        with self._lock:
            self._con.close()


# -- PostgreSQL -------------------------------------------------------------------------------

_PG_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY,
    request_id TEXT,
    received_at TIMESTAMPTZ NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL,
    type TEXT NOT NULL CHECK (type IN ('impression', 'click', 'order')),
    customer_id TEXT NOT NULL,
    variant TEXT NOT NULL,
    model_version TEXT,
    items JSONB NOT NULL DEFAULT '[]',
    order_value DOUBLE PRECISION,
    area TEXT,
    credits JSONB
);
ALTER TABLE events ADD COLUMN IF NOT EXISTS credits JSONB;
CREATE INDEX IF NOT EXISTS events_received_at ON events (received_at);
CREATE TABLE IF NOT EXISTS assignments (
    customer_id TEXT NOT NULL,
    variant TEXT NOT NULL,
    first_seen TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (customer_id, variant)
);
CREATE TABLE IF NOT EXISTS reloads (
    generation BIGSERIAL PRIMARY KEY,
    requested_at TIMESTAMPTZ NOT NULL,
    variants JSONB NOT NULL DEFAULT '{}'
);
"""


class PostgresEventStore(EventStore):
    """PostgreSQL through psycopg 3, with a small pool of connections (one per concurrent writer)."""

    kind = "postgresql"

    def __init__(self, url: str, max_connections: int = 8):
        import psycopg

        self._psycopg = psycopg
        self.url = url
        self._max = max_connections
        self._pool: queue.LifoQueue[Any] = queue.LifoQueue()
        self._created = 0
        self._lock = threading.Lock()
        self._closed = False
        try:
            with self._connection() as con:
                # Two replicas starting at once may race on CREATE ... IF NOT EXISTS; serialise them.
                con.execute("SELECT pg_advisory_xact_lock(727274)")
                con.execute(_PG_SCHEMA)
        except psycopg.Error as err:
            raise StoreError(f"event store {_redact(url)!r}: {str(err).strip().splitlines()[0]}") from err

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        """A pooled connection inside one transaction (committed when the block ends without error)."""
        try:
            con = self._pool.get_nowait()
        except queue.Empty:
            with self._lock:
                can_create = self._created < self._max
                self._created += can_create
            if can_create:
                try:
                    con = self._psycopg.connect(self.url, connect_timeout=10)
                except BaseException:
                    with self._lock:
                        self._created -= 1
                    raise
            else:
                con = self._pool.get(timeout=30)
        broken = False
        try:
            with con.transaction():
                yield con
        except self._psycopg.OperationalError:
            broken = True
            raise
        finally:
            if broken or con.closed or self._closed:
                con.close()
                with self._lock:
                    self._created -= 1
            else:
                self._pool.put(con)

    def write(self, events: Sequence[Event]) -> list[bool]:
        stored: list[bool] = []
        with self._connection() as con, con.cursor() as cur:
            for event in events:
                cur.execute(
                    f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES"
                    f" ({', '.join(['%s'] * len(EVENT_COLUMNS))}) ON CONFLICT (event_id) DO NOTHING",
                    event.row(),
                )
                stored.append(cur.rowcount == 1)
                if stored[-1]:
                    cur.execute(
                        "INSERT INTO assignments VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                        (event.customer_id, event.variant, _utc(event.occurred_at)),
                    )
        return stored

    def _query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        with self._connection() as con, con.cursor() as cur:
            cur.execute(sql)
            return [d.name for d in cur.description], cur.fetchall()

    def _time_literal(self, when: datetime) -> str:
        return f"'{when.isoformat()}'::timestamptz"

    def announce_reload(self, variants: dict[str, str]) -> int:
        with self._connection() as con, con.cursor() as cur:
            cur.execute(
                "INSERT INTO reloads (requested_at, variants) VALUES (%s, %s) RETURNING generation",
                (_now(), json.dumps(variants)),
            )
            return int(cur.fetchone()[0])

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                self._pool.get_nowait().close()
            except queue.Empty:
                return


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def open_event_store(url_or_path: str | os.PathLike[str]) -> EventStore:
    """A PostgreSQL store for ``postgresql://`` / ``postgres://`` URLs, else a SQLite file (``sqlite:///`` optional).

    >>> open_event_store("mysql://db/x")
    Traceback (most recent call last):
    ...
    foodrec.errors.InputError: event store 'mysql://db/x': use a file path, sqlite:///PATH or postgresql://...
    """
    text = str(url_or_path)
    if text.startswith(("postgresql://", "postgres://")):
        return PostgresEventStore(text)
    if text.startswith("sqlite:///"):
        return SQLiteEventStore(text.removeprefix("sqlite:///"))
    if "://" in text:
        raise InputError(f"event store {text!r}: use a file path, sqlite:///PATH or postgresql://...")
    return SQLiteEventStore(text)
