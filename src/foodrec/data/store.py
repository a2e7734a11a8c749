"""The store: canonical Parquet files under one directory, with a DuckDB catalogue.

Layout::

    STORE/
      catalogue.duckdb        sources ingested (fingerprint, counts), store metadata (time zone, ...)
      orders/day=YYYY-MM-DD/part-*.parquet   accepted canonical order lines, one folder per UTC day (hive style)
      quarantine/part-*.parquet  rejected rows, raw values as text, with a reason
      restaurants.parquet, items.parquet, customers.parquet   catalogue tables when known
      ingest_summary.json     the last ingest's accounting (read = accepted + quarantined + duplicates)
      truth/, city.json       ground truth and city settings, copied from a `foodrec generate` directory
      .commit.json            the journal of a commit in progress (or killed: :func:`recover` finishes it)
    .STORE.lock               beside the store: the writer's lock (see :class:`StoreLock`)

Reading is what most of foodrec needs:

>>> store = Store.open("runs/demo/store")          # doctest: +SKIP
>>> log = store.order_log(until="2026-03-01")      # doctest: +SKIP
>>> log.orders.columns[:5].tolist()                # doctest: +SKIP
['order_id', 'customer_id', 'ordered_at', 'area', 'restaurant_id']
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from foodrec.data.faults import fault_point
from foodrec.data.orderlog import OrderLog, to_utc_timestamp
from foodrec.data.schema import CATALOGUE_TABLES, ORDER_COLUMNS
from foodrec.errors import StoreError

CATALOGUE_FILE = "catalogue.duckdb"
SUMMARY_FILE = "ingest_summary.json"
STAGING_PREFIX = ".staging-"
JOURNAL_FILE = ".commit.json"
# Order parts: one folder per UTC day of ``ordered_at`` (``orders/day=2026-03-01/part-<id>.parquet``), so engines
# read days in parallel and a cutoff skips whole folders. Parts directly under ``orders/`` are the layout of stores
# written before (read as well). DuckDB reads them with hive partitioning off: the day is ``ordered_at``'s.
DAY_PREFIX = "day="
PARQUET_OPTIONS = "union_by_name=true, hive_partitioning=false"


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
        store.recover()
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

    def recover(self) -> list[str]:
        """Finish or roll back an ingest that was killed (see :func:`recover`), unless a writer is at work now."""
        lock = StoreLock(self.path)
        left = (self.path / JOURNAL_FILE).exists() or any(self.path.glob(f"{STAGING_PREFIX}*"))
        if not left and not lock.path.exists():  # a lock file left by a killed writer is removed too
            return []
        try:
            lock.acquire()
        except StoreError:
            return []  # a live writer holds the lock (its staging folder is not stale), or the folder is read-only
        try:
            return recover(self.path)
        finally:
            lock.release()

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
        return self.order_parts()

    def order_parts(self, until: object = None) -> list[Path]:
        """The Parquet files of the order lines: day folders (those that can hold lines before ``until``) and the
        flat parts of an older store."""
        return order_parts(self.path / "orders", until)

    def orders(self, until: object = None, columns: list[str] | None = None) -> pd.DataFrame:
        """Accepted order lines, sorted by time; only those strictly before ``until`` when given."""
        if not self.order_parts():
            raise StoreError(f"store {str(self.path)!r} holds no orders yet (run `foodrec ingest`)")
        parts = self.order_parts(until)
        if not parts:  # every day folder is on or after the cutoff: the same empty frame as a filter gives
            parts = self.order_parts()[:1]
        cols = ", ".join(columns) if columns else "* EXCLUDE (filename, file_row_number)"
        # The file and row break ties within an order: DuckDB reads the day files in parallel, and the lines of one
        # order must come back in one order every time (the training data's fingerprint hashes them in order).
        sql = f"SELECT {cols} FROM read_parquet(?, {PARQUET_OPTIONS}, filename=true, file_row_number=true)"
        params: list[object] = [[str(p) for p in parts]]
        if until is not None:
            sql += " WHERE ordered_at < ?"
            params.append(to_utc_timestamp(until).to_pydatetime())
        sql += " ORDER BY ordered_at, order_id, filename, file_row_number"
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
            sql = f"SELECT * FROM read_parquet(?, {PARQUET_OPTIONS}) ORDER BY source, line"
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
        """Write canonical order lines as a new part (one file per day folder), each file atomically; returns the
        part's file name (the same in every day folder)."""
        name = f"part-{uuid.uuid4().hex}.parquet"
        write_day_parts(pa.Table.from_pandas(orders, preserve_index=False), self.path / "orders", name, atomic=True)
        return name

    def write_table(self, name: str, frame: pd.DataFrame) -> None:
        """Replace a catalogue table, atomically."""
        if name not in CATALOGUE_TABLES:
            raise StoreError(f"unknown table {name!r}: choose one of {', '.join(CATALOGUE_TABLES)}")
        _atomic_parquet(frame, self.path / f"{name}.parquet")


def order_parts(folder: Path, until: object = None) -> list[Path]:
    """Order parts under ``folder`` (``STORE/orders``): ``day=*/part-*.parquet``, skipping days on or after the day
    of ``until`` (UTC) but the day itself, and flat ``part-*.parquet`` of the older layout."""
    last = to_utc_timestamp(until).strftime("%Y-%m-%d") if until is not None else None
    days = sorted(d for d in folder.glob(f"{DAY_PREFIX}*") if d.is_dir())
    if last is not None:
        days = [d for d in days if d.name[len(DAY_PREFIX) :] <= last]
    return sorted(folder.glob("part-*.parquet")) + [p for d in days for p in sorted(d.glob("part-*.parquet"))]


def utc_days(ordered_at: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """UTC calendar day of each timestamp as days since 1970-01-01 (int64)."""
    values = ordered_at.to_numpy() if isinstance(ordered_at, pa.ChunkedArray) else ordered_at.to_numpy(False)
    return values.astype("datetime64[D]").astype(np.int64)  # instants in UTC, whatever the unit


def write_day_parts(table: pa.Table, folder: Path, name: str, atomic: bool = False) -> list[Path]:
    """Write ``table`` (order lines) as ``folder/day=YYYY-MM-DD/name``, one file per UTC day; returns the files.

    >>> write_day_parts(lines, Path("runs/store/orders"), "part-1.parquet")     # doctest: +SKIP
    [PosixPath('runs/store/orders/day=2026-03-01/part-1.parquet'), ...]
    """
    if table.num_rows == 0:
        return []
    day = utc_days(table.column("ordered_at"))
    order = np.argsort(day, kind="stable")
    sorted_days = day[order]
    starts = np.flatnonzero(np.r_[True, sorted_days[1:] != sorted_days[:-1]])
    ends = np.r_[starts[1:], len(order)]
    written = []
    for lo, hi in zip(starts, ends, strict=True):
        label = np.datetime64(int(sorted_days[lo]), "D").astype(str)
        target = folder / f"{DAY_PREFIX}{label}" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        rows = table.take(pa.array(np.sort(order[lo:hi])))
        tmp = target.with_name(f".{target.name}.tmp") if atomic else target
        pq.write_table(rows, tmp)
        if atomic:
            os.replace(tmp, target)
        written.append(target)
    return written


def _init_catalogue(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)").fetchall()
    con.execute(
        "CREATE TABLE IF NOT EXISTS sources (fingerprint VARCHAR PRIMARY KEY, source VARCHAR, kind VARCHAR,"
        " ingested_at TIMESTAMPTZ, rows_read BIGINT, accepted BIGINT, quarantined BIGINT, duplicates BIGINT,"
        " part VARCHAR)"
    ).fetchall()


class StoreLock:
    """One writer at a time: an exclusive ``flock`` on ``<parent>/.<name>.lock``, which holds the writer's pid.

    The lock file sits beside the store so that it also guards a store that does not exist yet. The kernel
    drops the lock when the process dies (even by ``kill -9``), so a lock is never stale; the file is removed
    on release, and a writer that locked a file just removed by another tries again.
    """

    def __init__(self, target: str | os.PathLike[str]):
        self.target = Path(target)
        self.path = self.target.parent / f".{self.target.name}.lock"
        self._fd: int | None = None

    def acquire(self) -> StoreLock:
        """Take the lock, or a one-line :class:`StoreError` naming the writer that holds it."""
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as err:
                raise StoreError(f"cannot lock store {str(self.target)!r}: {err.strerror or err}") from err
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise StoreError(
                    f"store {str(self.target)!r} is being written by pid {holder}; try again when it has finished"
                ) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # the holder removed the file as we opened it: lock the new one
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)  # while still holding it, so a waiter re-checks and locks a fresh file
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> StoreLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def recover(target: str | os.PathLike[str]) -> list[str]:
    """Finish or roll back an interrupted ingest; the caller holds the store's :class:`StoreLock`.

    A journal (``STORE/.commit.json``) means the commit point was passed: its moves are redone (each is
    idempotent) and the commit completes. Staging folders without a journal are what killed runs left:
    removed, which rolls their ingest back. Returns what was done, one line each.
    """
    target = Path(target)
    done: list[str] = []
    journal = target / JOURNAL_FILE
    if journal.is_file():
        try:
            plan = json.loads(journal.read_text(encoding="utf-8"))
            moves, stage = plan["moves"], plan["stage"]
        except (ValueError, KeyError, TypeError):
            # A journal is renamed into place whole, so this is damage from outside: keep it for a person.
            raise StoreError(f"{journal} is damaged; move it away to roll the interrupted ingest back") from None
        _apply_moves(target, moves)
        journal.unlink()
        _fsync_dir(target)
        shutil.rmtree(target / stage, ignore_errors=True)
        done.append(f"finished the interrupted ingest staged in {stage}")
    stale = list(target.glob(f"{STAGING_PREFIX}*")) if target.is_dir() else []
    stale += list(target.parent.glob(f".{glob.escape(target.name)}{STAGING_PREFIX}*"))
    for folder in stale:
        shutil.rmtree(folder, ignore_errors=True)
        done.append(f"removed {folder.name}, left by an interrupted ingest")
    return done


def _apply_moves(target: Path, moves: list[list[str]]) -> None:
    """Move staged files into the store in order. Redoing is safe: a move whose source is gone is done."""
    for src_name, dst_name in moves:
        src, dst = target / src_name, target / dst_name
        if not src.exists():
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)  # a new day folder of the orders
        if dst.is_dir() and not dst.is_symlink():
            shutil.rmtree(dst)  # a replaced folder (truth/); a crash here is finished by redoing this move
        os.replace(src, dst)
    for folder in sorted({p for _, d in moves for p in (Path(d).parent, Path(d).parent.parent)}, reverse=True):
        _fsync_dir(target / folder)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # some file systems cannot fsync a directory
        _fsync(path)


def _fsync_tree(root: Path) -> None:
    """fsync every file under ``root`` and the folders holding them."""
    for path in sorted(root.rglob("*"), reverse=True):
        if path.is_file():
            _fsync(path)
        elif path.is_dir():
            _fsync_dir(path)
    _fsync_dir(root)


class StagedIngest:
    """Writes of one ingest, staged beside the store and committed in one atomic step by :meth:`commit`.

    Creating one takes the store's :class:`StoreLock` (one writer at a time) and runs :func:`recover`.
    Nothing in the store changes before :meth:`commit`; :meth:`abort` (or an exception inside
    :func:`staged_ingest`) removes the staging folder, so a failed ingest leaves the store as it was.

    The commit: a new store is built whole in a sibling folder and renamed into place. An existing store gets a
    journal (``STORE/.commit.json``) naming every move, written and fsynced first and renamed into the store:
    that rename is the commit point. The moves follow, the catalogue last; a kill anywhere after the commit
    point is finished by :func:`recover` on the next ingest or :meth:`Store.open`, a kill before it rolled back.
    The catalogue is checkpointed in the staging folder (no WAL may stay behind) and everything is fsynced
    before the commit point.

    >>> with staged_ingest("runs/store") as stage:            # doctest: +SKIP
    ...     stage.orders_part_path()                          # write a Parquet part there
    ...     stage.record_source({...}); stage.set_meta(timezone="Europe/Berlin")
    """

    def __init__(self, target: str | os.PathLike[str]):
        self.target = Path(target)
        if self.target.exists() and not self.target.is_dir():
            raise StoreError(f"store path {str(target)!r} exists and is not a directory")
        # Remember folders made for a new store, to take them away again if the ingest fails.
        self._made = [p for p in [self.target.parent, *self.target.parent.parents] if not p.exists()]
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self._lock = StoreLock(self.target)
        self._committed = False
        self.stage = self.target  # nothing staged yet: abort removes no folder
        try:
            self._lock.acquire()
            self.recovered = recover(self.target)
        except BaseException:
            self._lock.release()
            self._remove_made()
            raise
        self.existing = (self.target / CATALOGUE_FILE).is_file()
        if self.target.is_dir() and not self.existing and any(self.target.iterdir()):
            self.abort()
            raise StoreError(f"{str(target)!r} is a non-empty directory but not a foodrec store; pick another --store")
        token = uuid.uuid4().hex[:12]
        if self.existing:
            self.stage = self.target / f"{STAGING_PREFIX}{token}"
        else:
            self.stage = self.target.parent / f".{self.target.name}{STAGING_PREFIX}{token}"
        (self.stage / "orders").mkdir(parents=True)
        (self.stage / "quarantine").mkdir()
        self._meta: dict[str, object] = {}
        self._sources: list[dict[str, object]] = []
        self._tables: set[str] = set()
        self._copies: list[str] = []
        self._summary: dict[str, object] | None = None

    def orders_folder(self) -> Path:
        """Where to write accepted order lines: :func:`write_day_parts` into it."""
        return self.stage / "orders"

    def orders_part_path(self, day: str | None = None) -> Path:
        """Where to write one Parquet file of order lines: in the folder of ``day`` (``YYYY-MM-DD``, made here),
        or flat under ``orders/`` (the older layout, still read)."""
        folder = self.stage / "orders" / (f"{DAY_PREFIX}{day}" if day else "")
        folder.mkdir(exist_ok=True)
        return folder / f"part-{uuid.uuid4().hex}.parquet"

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
        """Move everything staged into the store in one atomic step; returns the store."""
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
            _fsync_tree(stage)
            fault_point("staged")
            if target.is_dir():
                target.rmdir()  # an empty directory the user made for the store
            os.replace(stage, target)  # the commit point of a new store
            _fsync_dir(target.parent)
            self._committed = True
            fault_point("renamed")
            return Store(target)
        rel = stage.name
        parts = [
            (folder, part.relative_to(stage / folder).as_posix())
            for folder in ("orders", "quarantine")
            for part in (stage / folder).rglob("*")
            if part.is_file()
        ]
        moves = [[f"{rel}/{folder}/{name}", f"{folder}/{name}"] for folder, name in sorted(parts)]
        moves += [[f"{rel}/{name}.parquet", f"{name}.parquet"] for name in sorted(self._tables)]
        moves += [[f"{rel}/copies/{name}", name] for name in self._copies]
        if self._summary is not None:
            moves.append([f"{rel}/{SUMMARY_FILE}", SUMMARY_FILE])
        moves.append([f"{rel}/{CATALOGUE_FILE}", CATALOGUE_FILE])  # last: what readers check first
        journal = stage / JOURNAL_FILE
        journal.write_text(json.dumps({"stage": rel, "moves": moves}, indent=1) + "\n", encoding="utf-8")
        _fsync_tree(stage)
        fault_point("staged")
        os.replace(journal, target / JOURNAL_FILE)  # the commit point
        _fsync_dir(target)
        self._committed = True
        fault_point("journal-written")
        try:
            _apply_moves(target, moves[:1])
            fault_point("first-part-moved")
            _apply_moves(target, moves[1 : len(parts)])
            fault_point("parts-moved")
            _apply_moves(target, moves[len(parts) : -1])
            fault_point("tables-moved")
            _apply_moves(target, moves[-1:])
            fault_point("catalogue-moved")
            (target / JOURNAL_FILE).unlink()
            _fsync_dir(target)
            fault_point("journal-removed")
        except OSError as err:
            raise StoreError(
                f"the ingest into {str(target)!r} passed its commit point but moving files in failed"
                f" ({err.strerror or err}); the next ingest or Store.open finishes it"
            ) from err
        shutil.rmtree(stage, ignore_errors=True)
        return Store(target)

    def _write_catalogue(self, store: Store) -> None:
        """Metadata and source rows into the (copied) catalogue, in one connection, checkpointed."""
        with store.connect() as con:
            _init_catalogue(con)
            for key, value in self._meta.items():
                con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, json.dumps(value)]).fetchall()
            columns = ["fingerprint", "source", "kind", "ingested_at", "rows_read", "accepted", "quarantined",
                       "duplicates", "part"]  # fmt: skip
            sql = f"INSERT OR REPLACE INTO sources VALUES ({', '.join('?' for _ in columns)})"
            for row in self._sources:
                con.execute(sql, [row.get(c) for c in columns]).fetchall()
            con.execute("CHECKPOINT").fetchall()  # raises when the disk is full, instead of leaving a WAL
        wal = store.path / f"{CATALOGUE_FILE}.wal"
        if wal.exists():
            raise StoreError(f"the catalogue could not be checkpointed ({wal.name} stayed; disk full?)")

    def abort(self) -> None:
        """Drop the staged writes (and folders made for a store that never came to be); release the lock."""
        if self.stage != self.target and not (self._committed and self.existing):
            shutil.rmtree(self.stage, ignore_errors=True)
        self._lock.release()
        if not self._committed:
            self._remove_made()

    def _remove_made(self) -> None:
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
