"""The one interface that joins the middle of the workflow.

A :class:`Recommender` is fitted on an :class:`~foodrec.data.orderlog.OrderLog` (everything before a
cutoff) and then ranks items for queries. A query is ``(customer_id, area, at)``: who asks, where the
food goes, and when. Baselines, Keras models, ``foodrec recommend``, evaluation and the service all
speak it, so any of them can stand in for any other.

>>> import pandas as pd
>>> from foodrec.recommenders.registry import make_recommender   # doctest: +SKIP
>>> rec = make_recommender("area-popularity").fit(log)            # doctest: +SKIP
>>> queries = make_queries(["c1"], ["9q8yy"], ["2026-03-01T12:30Z"])
>>> ranking = rec.recommend(queries, k=10)                        # doctest: +SKIP
>>> ranking.items.shape                                           # doctest: +SKIP
(1, 10)
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import importlib
import inspect
import json
import os
import re
import sys
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from foodrec.data.orderlog import OrderLog
from foodrec.errors import InputError

MANIFEST_FILE = "manifest.json"
QUERY_COLUMNS: tuple[str, ...] = ("customer_id", "area", "at")


def make_queries(customer_id: Any, area: Any, at: Any) -> pd.DataFrame:
    """Queries as the interface expects them: string ids and UTC timestamps.

    Missing areas (None/NaN) are allowed; recommenders fall back to wider popularity.
    """

    def ids(values: Any) -> pd.Series:
        series = pd.Series(values, dtype=object)
        return pd.Series([None if v is None or v != v else str(v) for v in series], dtype=object)

    customers, areas = ids(customer_id), ids(area)
    try:
        times = pd.to_datetime(pd.Series(at, dtype=object), utc=True, format="ISO8601")
    except (ValueError, TypeError) as err:
        raise InputError(f"queries: 'at' must be ISO 8601 timestamps ({err})") from err
    if times.isna().any():
        raise InputError("queries: 'at' is missing on some rows (ISO 8601 timestamps required)")
    if not len(customers) == len(areas) == len(times):
        raise InputError("queries: customer_id, area and at must have the same length")
    return pd.DataFrame({"customer_id": customers, "area": areas, "at": times.reset_index(drop=True)})


@dataclass(frozen=True)
class Ranking:
    """Top-k answers for n queries: ``items[i, r]`` is the item at rank r (0-based) for query i.

    Rows with fewer than k candidates are padded with ``None`` items and ``-inf`` scores.
    """

    items: np.ndarray  # shape (n, k), dtype object (str or None)
    scores: np.ndarray  # shape (n, k), float64, non-increasing along each row

    def __len__(self) -> int:
        return int(self.items.shape[0])

    @property
    def k(self) -> int:
        return int(self.items.shape[1])

    def to_frame(self) -> pd.DataFrame:
        """Long format: ``query_id, rank, item_id, score`` (rank starts at 1; padding dropped)."""
        n, k = self.items.shape
        frame = pd.DataFrame(
            {
                "query_id": np.repeat(np.arange(n), k),
                "rank": np.tile(np.arange(1, k + 1), n),
                "item_id": self.items.reshape(-1),
                "score": self.scores.reshape(-1),
            }
        )
        return frame[frame["item_id"].notna()].reset_index(drop=True)


class Recommender(ABC):
    """Fit on the past, rank items for queries. Subclasses set ``name`` and implement the three methods.

    ``level`` is ``"dish"`` (rank item ids) or ``"restaurant"`` (rank restaurant ids); ``None`` means
    "the log's default" and is fixed by :meth:`fit`.
    """

    name: ClassVar[str] = "recommender"
    # True when a query at time t sees only orders before t whatever log the recommender was refreshed on (a
    # feature view); False for counting baselines, which count the whole log: cut it before refreshing them.
    point_in_time: ClassVar[bool] = False

    def __init__(self, level: str | None = None):
        self.level = level

    @abstractmethod
    def fit(self, log: OrderLog) -> Recommender:
        """Learn from ``log`` (only the past: the caller has cut it at the training cutoff). Returns self."""

    @abstractmethod
    def recommend(self, queries: pd.DataFrame, k: int = 10) -> Ranking:
        """Rank the top ``k`` items for each row of ``queries`` (columns ``customer_id, area, at``).

        Unknown customers and areas must get a sensible fallback (area, then global popularity), never an error.
        """

    def recommend_parsed(
        self, customer_ids: Sequence[str], areas: Sequence[str | None], at: Sequence[Any], k: int = 10
    ) -> Ranking:
        """:meth:`recommend` for queries already parsed into typed values (string ids, ``None`` for no area,
        aware ``datetime`` times): what the service's batches carry. This default builds the query frame and
        calls :meth:`recommend`; a recommender with a faster way (the Keras model: no pandas) overrides it and
        must answer exactly the same."""
        frame = pd.DataFrame(
            {
                "customer_id": pd.Series(list(customer_ids), dtype=object),
                "area": pd.Series(list(areas), dtype=object),
                "at": pd.DatetimeIndex(list(at)).as_unit("us"),
            }
        )
        return self.recommend(frame, k=k)

    # -- new data, same parameters -------------------------------------------------------
    def refresh(self, log: OrderLog) -> Recommender:
        """Look everything data-derived up in ``log`` from now on, keeping the learned parameters. Returns self.

        A counting baseline has no parameters, so it recounts (this default: :meth:`fit`); a trained model binds
        a new feature view and keeps its weights. The service refreshes every variant on the same log at start
        and on reload, so A/B arms always see the same data.
        """
        self._log, self._seen = log, None
        return self.fit(log)

    def observe(self, orders: pd.DataFrame) -> int:
        """Fold new orders (canonical order lines) in, so the next :meth:`recommend` sees them; returns how many
        lines were taken (an ``order_id`` already seen counts once).

        This default recounts on the refreshed log plus the new orders (exact; costs a fit, so the service
        hands over all orders that arrived since the last ranking at once). Recommenders with a feature view
        fold each order in directly.
        """
        log = getattr(self, "_log", None)
        if log is None:
            raise InputError(f"{self.name}: refresh(log) before observe(orders)")
        fresh = self._unseen(orders)
        if fresh.empty:
            return 0
        seen = self._seen | set(fresh["order_id"].tolist())
        self.refresh(replace(log, orders=pd.concat([log.orders, fresh], ignore_index=True)))
        self._seen = seen
        return len(fresh)

    def _unseen(self, orders: pd.DataFrame) -> pd.DataFrame:
        """The lines of ``orders`` whose ``order_id`` (as text) is neither in the refreshed log nor observed since."""
        if self._seen is None:
            self._seen = set(self._log.orders["order_id"].astype(str).tolist())
        ids = orders["order_id"].astype(str)
        # Set lookups one id at a time: Series.isin(a set) copies the set (a million ids: about two seconds a call).
        new = np.fromiter((i not in self._seen for i in ids.tolist()), bool, len(ids))
        # ids[new], not ids: assigning a longer Series to an empty frame gives it that Series' rows (all-NaN lines)
        return orders[new].assign(order_id=ids[new])

    # -- for people: what the customer ordered, and why an item is there ------------------------
    def recent_orders(self, customer_id: str, n: int = 5) -> list[dict[str, Any]]:
        """The customer's last ``n`` orders in the data this recommender looks things up in (the refreshed log and
        the orders observed since), newest first, as ``{"at": ISO time, "items": [ids]}``; ``[]`` before
        :meth:`refresh`. Recommenders with a feature view read it instead."""
        from foodrec.data.schema import target_column
        from foodrec.recommenders.reasons import customer_orders

        log = getattr(self, "_log", None)
        if log is None:
            return []
        return customer_orders(log.orders, customer_id, target_column(self.level or log.default_level), n)

    def explain(self, queries: pd.DataFrame, items: Sequence[Sequence[str]]) -> list[list[str]]:
        """Why each of ``items[i]`` (ranked for row i of ``queries``) is there, in plain words for the customer,
        from the features that drove its score (phrases: :mod:`foodrec.recommenders.reasons`).

        Optional and off the ranking path (the service computes it only for ``explain=true``). This default names
        the recommender; baselines and models override it.
        """
        return [[f"picked by {self.name}"] * len(row) for row in items]

    # -- persistence: a directory with a JSON manifest ---------------------------------
    def config(self) -> dict[str, Any]:
        """JSON-serialisable settings recorded in the manifest (override to add hyper-parameters)."""
        return {"level": self.level}

    @abstractmethod
    def save_state(self, directory: Path) -> None:
        """Write the fitted state into ``directory`` (no pickle: Parquet, JSON, ``.keras``)."""

    @classmethod
    @abstractmethod
    def load_state(cls, directory: Path, manifest: dict[str, Any]) -> Recommender:
        """Rebuild a fitted recommender from :meth:`save_state`'s files and the manifest."""

    def save(self, path: str | os.PathLike[str], extra: dict[str, Any] | None = None) -> Path:
        """Save atomically as ``path/`` holding the state and ``manifest.json`` (every file with its sha256).

        The unit of atomicity is the whole directory: a reader finds the old model or the new one, never none
        and never a mix, whatever moment the process dies at (see :func:`_publish`). One writer at a time: a
        second ``save`` to the same path waits for the first (``.NAME.lock`` next to it while one writes).
        """
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with writer_lock(target):
            _recover(target)
            _check_replaceable(target)
            staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
            try:
                self.save_state(staging)
                _fault_point("state-written")
                manifest = {
                    "class": f"{type(self).__module__}.{type(self).__qualname__}",
                    "name": self.name,
                    "level": self.level,
                    "config": self.config(),
                    "foodrec_version": _foodrec_version(),
                    **(extra or {}),
                    "files": _checksums(staging),
                }
                _write_synced(staging / MANIFEST_FILE, json.dumps(manifest, indent=2, default=str).encode())
                _fsync_dir(staging)
                _fault_point("manifest-written")
                _publish(staging, target)
            finally:
                _rmtree(staging)  # a no-op after a successful publish (it moved or holds the old model)
        return target


# -- saving: one writer, an atomic swap, checksums -------------------------------------------------------------
#
# The steps of `Recommender.save` (each is a fault point, see `_fault_point`):
#   state-written     the state is in `.NAME.new-XXXX/`          -> a crash leaves NAME as it was (+ litter)
#   manifest-written  the manifest, with every file's sha256      -> same
#   then one atomic exchange of the two directories (Linux renameat2 RENAME_EXCHANGE):
#   new-in-place      NAME is the new model, the old one is in the staging name -> a crash leaves the new model
#   cleaned-up        the old model is deleted
# Where the exchange is not available (another OS, a file system without it) two renames do it:
#   old-moved-aside   NAME -> `.NAME.old`; NAME is missing until the next rename: loaders read `.NAME.old`
#   new-in-place      staging -> NAME
# The next save (under the lock) removes the litter and puts a `.NAME.old` left alone back in place.

FAULT_ENV = "FOODREC_FAULT_AT"
PROTOCOL_ENV = "FOODREC_SAVE_PROTOCOL"  # "rename" forces the two-rename protocol (tests of the fallback)
_CHECKSUM_RE = re.compile(r"^[0-9a-f]{64}$")
# Files foodrec writes next to a model (reports) or a sanity run leaves in --out: such a folder may be replaced.
_REPLACEABLE = frozenset({"train.json", "training_report.html", "sanity.json", "sanity_report.html"})


def _fault_point(step: str) -> None:
    """Fault injection for tests: ``FOODREC_FAULT_AT=<step>`` makes the process SIGKILL itself at that step."""
    if os.environ.get(FAULT_ENV) == step:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


def backup_path(path: Path) -> Path:
    """Where the previous model waits while the two-rename protocol swaps (``.NAME.old`` next to ``NAME``)."""
    return path.with_name(f".{path.name}.old")


def saved_model_dir(path: str | os.PathLike[str]) -> Path | None:
    """The directory holding the model saved at ``path``: ``path`` itself, or ``.NAME.old`` when a save died
    between its two renames (only possible without the atomic exchange); None when there is neither."""
    target = Path(path)
    if target.is_dir():
        return target
    backup = backup_path(target)
    if not target.exists() and (backup / MANIFEST_FILE).is_file():
        return backup
    return None


def _recover(target: Path) -> None:
    """Under the writer lock: finish what a killed save left (a lone ``.NAME.old`` back in place, litter gone)."""
    backup = backup_path(target)
    if backup.is_dir():
        if not target.exists():
            os.replace(backup, target)
        else:
            _rmtree(backup)
    for litter in target.parent.glob(f".{glob.escape(target.name)}.new-*"):
        _rmtree(litter)


def _check_replaceable(target: Path) -> None:
    if not target.exists():
        return
    if not target.is_dir():
        raise InputError(f"{target}: exists and is not a directory; choose another path for the model")
    names = {p.name for p in target.iterdir()}
    if names and MANIFEST_FILE not in names and not names <= _REPLACEABLE:
        raise InputError(
            f"{target}: refusing to replace a folder that is not a saved model (no {MANIFEST_FILE}); "
            "choose another path or empty it"
        )


def _publish(staging: Path, target: Path) -> None:
    """Put ``staging`` at ``target`` so that ``target`` always holds a complete model."""
    if not target.exists():
        os.replace(staging, target)  # one rename: before it no model, after it the new one
        _fsync_dir(target.parent)
        _fault_point("new-in-place")
    elif os.environ.get(PROTOCOL_ENV) != "rename" and _exchange(staging, target):
        _fsync_dir(target.parent)
        _fault_point("new-in-place")
        _rmtree(staging)  # now the old model
    else:
        backup = backup_path(target)
        os.replace(target, backup)
        _fault_point("old-moved-aside")
        os.replace(staging, target)
        _fsync_dir(target.parent)
        _fault_point("new-in-place")
        _rmtree(backup)
    _fault_point("cleaned-up")


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux ``renameat2(RENAME_EXCHANGE)``); False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes
    import errno

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EPERM):
        return False  # the file system or kernel does not support it: the caller uses two renames
    raise OSError(code, os.strerror(code), str(b))


_held: dict[str, list[Any]] = {}  # lock path -> [file descriptor, depth, owner thread id]
_held_guard = threading.Lock()


class WriterBusyError(InputError):
    """Another process is writing the same model path (``holder``: its pid, as the lock file says)."""

    def __init__(self, message: str, holder: str = "unknown"):
        super().__init__(message)
        self.holder = holder


@contextlib.contextmanager
def writer_lock(target: Path, wait: bool = True) -> Iterator[None]:
    """Hold ``.NAME.lock`` next to ``target``: one writer per model path across processes (re-entrant in one).

    ``wait=False`` raises :class:`WriterBusyError` at once when another process holds it (``foodrec train``
    refuses a second training into the same ``--out``); ``wait=True`` waits (two saves: the last one wins).
    The lock file is removed on release; a waiter that then finds a different (or no) file retries.
    """
    import fcntl

    lock_path = target.with_name(f".{target.name}.lock")
    key = str(lock_path.absolute())
    me = threading.get_ident()
    while True:
        with _held_guard:
            entry = _held.get(key)
            if entry is None or entry[2] == me:
                break
        time.sleep(0.05)  # another thread of this process writes the same path
    if entry is not None:
        entry[1] += 1
        try:
            yield
        finally:
            entry[1] -= 1
        return
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise WriterBusyError(
                f"{target}: another process (pid {holder}) is writing this model; wait for it or choose another path",
                holder,
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(lock_path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder removed the file as it released: lock the new one
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    with _held_guard:
        _held[key] = [fd, 1, me]
    try:
        yield
    finally:
        with _held_guard:
            del _held[key]
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock_path)
        os.close(fd)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _checksums(directory: Path) -> dict[str, str]:
    """``relative/posix/path -> sha256`` of every file under ``directory`` (fsynced on the way)."""
    files: dict[str, str] = {}
    for file in sorted(p for p in directory.rglob("*") if p.is_file() and p.name != MANIFEST_FILE):
        with file.open("rb") as handle:
            os.fsync(handle.fileno())
        files[file.relative_to(directory).as_posix()] = _sha256(file)
    return files


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a directory
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# -- loading: verified, one-line errors ----------------------------------------------------------------------------


def load_recommender(path: str | os.PathLike[str], trusted_prefixes: tuple[str, ...] = ("foodrec.",)) -> Recommender:
    """Load a recommender saved with :meth:`Recommender.save`; only classes under ``trusted_prefixes`` are loaded.

    Every file the manifest lists is checked against its sha256 before anything is read; every problem with
    the folder is an :class:`InputError` with one line saying what is wrong. A save that replaces the model
    while it is being read makes the load start again, so the answer is never a mix.
    """
    attempts = 10
    for attempt in range(attempts):
        if attempt:
            time.sleep(0.02 * attempt)  # a writer is swapping the model: let it finish
        directory = saved_model_dir(path)
        if directory is None:
            raise InputError(f"{str(path)!r} is not a saved recommender (no such folder)")
        before = _identity(directory)
        try:
            rec = _load_from(directory, path, trusted_prefixes)
        except (InputError, OSError) as err:
            if _identity(saved_model_dir(path)) != before and attempt < attempts - 1:
                continue  # replaced while being read: read the new one
            if isinstance(err, InputError):
                raise
            raise InputError(f"{path}: cannot read the model ({_one_line(err)})") from err
        if _identity(saved_model_dir(path)) == before:
            return rec
    raise InputError(f"{path}: the model kept being replaced while loading; try again")


def _identity(directory: Path | None) -> tuple[int, ...] | None:
    """Which save a model folder is: the folder's and its manifest's inode and the manifest's mtime."""
    if directory is None:
        return None
    try:
        folder, manifest = os.stat(directory), os.stat(directory / MANIFEST_FILE)
    except OSError:
        return None
    return (folder.st_dev, folder.st_ino, manifest.st_ino, manifest.st_mtime_ns)


def _load_from(directory: Path, shown: str | os.PathLike[str], trusted_prefixes: tuple[str, ...]) -> Recommender:
    manifest_path = directory / MANIFEST_FILE
    if not manifest_path.is_file():
        raise InputError(f"{str(shown)!r} is not a saved recommender (no {MANIFEST_FILE})")
    try:
        manifest = json.loads(manifest_path.read_bytes())
    except (ValueError, UnicodeDecodeError) as err:
        raise InputError(f"{manifest_path}: unreadable manifest ({_one_line(err)})") from err
    if not isinstance(manifest, dict):
        raise InputError(f"{manifest_path}: unreadable manifest (a JSON object is expected, found {_kind(manifest)})")
    qualified = manifest.get("class")
    if not isinstance(qualified, str) or "." not in qualified:
        raise InputError(f"{manifest_path}: unreadable manifest (no recommender 'class')")
    module_name, _, class_name = qualified.rpartition(".")
    if not module_name.startswith(trusted_prefixes):
        raise InputError(
            f"{manifest_path}: refusing to load class {qualified!r} from outside {', '.join(trusted_prefixes)}"
        )
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as err:
        raise InputError(f"{manifest_path}: unknown recommender class {qualified!r}") from err
    if not (isinstance(cls, type) and issubclass(cls, Recommender)) or inspect.isabstract(cls):
        raise InputError(f"{manifest_path}: {qualified!r} is not a recommender class; refusing to load it")
    verify_files(directory, manifest, shown)
    try:
        return cls.load_state(directory, manifest)
    except InputError as err:
        if "\n" not in str(err):
            raise
        raise InputError(" ".join(str(err).split())) from err  # one line on the CLI and in HTTP answers
    except Exception as err:  # noqa: BLE001 - files verified, yet unusable: one line, not a traceback
        raise InputError(
            f"{shown}: the saved model cannot be loaded ({_one_line(err)}); save or train it again"
        ) from err


def verify_files(directory: Path, manifest: dict[str, Any], shown: str | os.PathLike[str] | None = None) -> None:
    """Check every file the manifest lists against its sha256 (InputError naming the first that differs)."""
    shown = directory if shown is None else shown
    files = manifest.get("files")
    if files is None:
        raise InputError(
            f"{shown}: the manifest lists no file checksums (saved by an older foodrec); save or train it again"
        )
    if not isinstance(files, dict) or not all(
        isinstance(name, str) and isinstance(digest, str) and _CHECKSUM_RE.match(digest)
        for name, digest in files.items()
    ):
        raise InputError(f"{shown}: unreadable manifest ('files' must map file names to sha256 checksums)")
    root = directory.resolve()
    for name, expected in files.items():
        file = directory / name
        if PurePosixPath(name).is_absolute() or ".." in PurePosixPath(name).parts or name == MANIFEST_FILE:
            raise InputError(f"{shown}: unreadable manifest (file name {name!r} points outside the model)")
        if not file.is_file() or not file.resolve().is_relative_to(root):
            raise InputError(f"{shown}: file {name} is missing; the model is damaged, save or train it again")
        actual = _sha256(file)
        if actual != expected:
            raise InputError(
                f"{shown}: file {name} does not match its checksum (sha256 {actual[:12]}…, manifest "
                f"{expected[:12]}…); the model is damaged, save or train it again"
            )


def _kind(value: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or "no details"
    text = text if len(text) <= 200 else text[:199] + "…"
    return f"{type(err).__name__}: {text}"


def _foodrec_version() -> str:
    from foodrec import __version__

    return __version__


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
