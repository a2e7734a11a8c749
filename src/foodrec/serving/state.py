"""What the service serves: one fitted recommender per A/B variant, the catalogue, the fallback; hot reload.

Everything a request needs lives in one immutable :class:`Snapshot`. A request takes the current
snapshot once and uses it to the end; :meth:`ServiceState.reload` builds a complete new snapshot on the
side and swaps it in with one assignment, so no request is dropped or sees half a reload.

>>> state = ServiceState(recommender="runs/model", store="runs/store")   # doctest: +SKIP
>>> snap = state.snapshot                                                  # doctest: +SKIP
>>> snap.models["default"].version                                         # doctest: +SKIP
'area-popularity@3f9a1c02de'
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from foodrec.data.orderlog import OrderLog
from foodrec.errors import InputError
from foodrec.recommenders.base import Recommender
from foodrec.serving.ab import ABConfig, Variant, load_ab_config
from foodrec.serving.fallback import PopularityFallback

MAX_EXAMPLES = 30


@dataclass(frozen=True)
class LoadedModel:
    """A fitted recommender serving one variant, with the version recorded on responses and events."""

    variant: str
    source: str
    recommender: Recommender
    version: str
    level: str
    loaded_at: datetime
    # Held while ranking and while folding new orders in: a recommender is never read half-updated.
    lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)
    # A copy ranking in a process of its own (foodrec.serving.rank_process), or None: ranked in the server.
    remote: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Catalogue:
    """Names, restaurants and prices by id, from the store's catalogue tables (empty when there are none)."""

    item_name: dict[str, str] = field(default_factory=dict)
    item_restaurant: dict[str, str] = field(default_factory=dict)
    item_price: dict[str, float] = field(default_factory=dict)
    restaurant_name: dict[str, str] = field(default_factory=dict)
    customers: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()

    @classmethod
    def from_log(cls, log: OrderLog | None) -> Catalogue:
        if log is None:
            return cls()
        item_name: dict[str, str] = {}
        item_restaurant: dict[str, str] = {}
        item_price: dict[str, float] = {}
        restaurant_name: dict[str, str] = {}
        if log.items is not None and "item_id" in log.items.columns:
            items = log.items
            ids = items["item_id"].astype(str).tolist()
            if "name" in items.columns:
                item_name = _present(ids, items["name"].tolist())
            if "restaurant_id" in items.columns:
                item_restaurant = _present(ids, items["restaurant_id"].tolist())
            if "unit_price" in items.columns:
                prices = pd.to_numeric(items["unit_price"], errors="coerce").tolist()
                item_price = {
                    i: round(float(p), 2)
                    for i, p in zip(ids, prices, strict=True)
                    if p is not None and math.isfinite(p)
                }
        if log.restaurants is not None and {"restaurant_id", "name"} <= set(log.restaurants.columns):
            restaurant_name = _present(
                log.restaurants["restaurant_id"].astype(str).tolist(), log.restaurants["name"].tolist()
            )
        orders = log.orders
        customers = orders["customer_id"].astype(str).value_counts().index[:MAX_EXAMPLES].tolist()
        areas = orders["area"].dropna().astype(str).value_counts().index[:MAX_EXAMPLES].tolist()
        return cls(item_name, item_restaurant, item_price, restaurant_name, tuple(customers), tuple(areas))

    def describe(self, item_id: str, level: str) -> dict[str, Any]:
        """``name, restaurant_id, restaurant_name, price`` for a ranked id (None where unknown)."""
        if level == "restaurant":
            return {
                "name": self.restaurant_name.get(item_id),
                "restaurant_id": item_id,
                "restaurant_name": self.restaurant_name.get(item_id),
                "price": None,
            }
        restaurant = self.item_restaurant.get(item_id)
        return {
            "name": self.item_name.get(item_id),
            "restaurant_id": restaurant,
            "restaurant_name": self.restaurant_name.get(restaurant) if restaurant is not None else None,
            "price": self.item_price.get(item_id),
        }


def _present(keys: list[str], values: list[Any]) -> dict[str, Any]:
    return {k: str(v) for k, v in zip(keys, values, strict=True) if v is not None and v == v}


@dataclass(frozen=True)
class Snapshot:
    """Everything one request needs, swapped as a whole on reload."""

    ab: ABConfig
    models: dict[str, LoadedModel]
    catalogue: Catalogue
    fallbacks: dict[str, PopularityFallback]
    loaded_at: datetime
    generation: int

    def model_for(self, customer_id: str) -> LoadedModel:
        return self.models[self.ab.assign(customer_id)]


@dataclass(frozen=True)
class Query:
    customer_id: str
    area: str | None
    at: datetime
    k: int


@dataclass(frozen=True)
class Ranked:
    """A completed ranking: ``fallback`` counts the slots filled by the cold-start fallback."""

    items: list[str]
    scores: list[float | None]
    fallback: int
    error: str | None = None


class ServiceState:
    """Loads and reloads the variants' recommenders; :attr:`snapshot` is what requests use."""

    def __init__(
        self,
        recommender: str | None = None,
        store: str | os.PathLike[str] | None = None,
        ab: str | os.PathLike[str] | ABConfig | None = None,
        level: str | None = None,
        log: OrderLog | None = None,
        rank_process: bool = False,
    ):
        """``rank_process``: each Keras model ranks in a process of its own (:mod:`foodrec.serving.rank_process`;
        ``foodrec serve`` does this), the other recommenders in the server."""
        if recommender is None and ab is None:
            raise InputError("give --recommender NAME_OR_PATH or an A/B config with --ab")
        self._recommender = recommender if ab is None else None
        self._store = Path(store) if store is not None else None
        self._ab_source = ab
        self._level = level
        self._rank_process = rank_process
        self._fixed_log = log  # tests pass an OrderLog instead of a store
        self._event_orders: Any = None  # the event store, once bound: its orders join the store's at every build
        self._lock = threading.Lock()
        self._generation = 0
        config = self._load_ab()
        if (
            recommender is not None
            and ab is not None
            and not any(_same_recommender(recommender, v.recommender) for v in config.variants)
        ):
            # With an A/B config, --recommender may only repeat one of its variants (a consistency check).
            raise InputError(
                f"--recommender {recommender!r} is not one of the A/B config's variants "
                f"({', '.join(v.recommender for v in config.variants)}); leave it out, the config names them"
            )
        self._snapshot = self._build(config, {})

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    def _load_ab(self) -> ABConfig:
        if isinstance(self._ab_source, ABConfig):
            return self._ab_source
        if self._ab_source is not None:
            return load_ab_config(self._ab_source)
        assert self._recommender is not None
        return ABConfig.single(self._recommender)

    def _log(self) -> OrderLog | None:
        if self._fixed_log is not None:
            return self._fixed_log
        if self._store is None:
            return None
        from foodrec.data.store import Store

        return Store.open(self._store).order_log()

    def _build(self, ab: ABConfig, overrides: dict[str, str]) -> Snapshot:
        unknown = set(overrides) - set(ab.names)
        if unknown:
            raise InputError(f"unknown variant(s) {', '.join(sorted(unknown))}: choose from {', '.join(ab.names)}")
        if overrides:
            ab = ABConfig(
                salt=ab.salt,
                variants=tuple(Variant(v.name, overrides.get(v.name, v.recommender), v.share) for v in ab.variants),
                source=ab.source,
                interleave=ab.interleave,
            )
        log = self._log()
        fingerprint = _log_fingerprint(self._store, log)
        catalogue = Catalogue.from_log(log)
        if log is not None and self._event_orders is not None:
            log = with_event_orders(log, self._event_orders.read_orders(), catalogue)
        now = datetime.now(UTC)
        models: dict[str, LoadedModel] = {}
        for variant in ab.variants:
            models[variant.name] = _load_model(variant, log, self._level, fingerprint, now, self._rank_process)
        fallbacks: dict[str, PopularityFallback] = {}
        if log is not None:
            for level in {m.level for m in models.values()}:
                # A model at dish level on a log without items gets no fallback at that level.
                with contextlib.suppress(InputError):
                    fallbacks[level] = PopularityFallback(level=level).fit(log)
        self._generation += 1
        return Snapshot(ab, models, catalogue, fallbacks, now, self._generation)

    def bind_events(self, events: Any) -> None:
        """Take the event store's orders into account: at every (re)build they join the store's orders (an
        ``order_id`` that is in both counts once), so a restart loses none of the orders the service saw."""
        self._event_orders = events
        if (self._store is not None or self._fixed_log is not None) and len(events.read_orders()):
            self.reload()

    def observe(self, orders: pd.DataFrame) -> int:
        """Fold new order lines into every variant's recommender (the next request sees them); returns the
        number of lines taken by the first variant. Orders already seen (same ``order_id``) count once."""
        taken = 0
        for i, model in enumerate(self._snapshot.models.values()):
            with model.lock:
                n = model.recommender.observe(orders)
                if model.remote is not None:  # the copy that ranks: the same orders, so the same answers
                    model.remote.observe(orders)
            taken = n if i == 0 else taken
        return taken

    def reload(self, overrides: dict[str, str] | None = None) -> Snapshot:
        """Build a new snapshot (re-reading the store, the models and the A/B file) and swap it in atomically.

        ``overrides`` maps variant names to a new recommender (baseline name or model path). Requests keep
        being answered by the old snapshot while the new one is built; on error the old one stays. With an
        A/B file, the file is the source of truth: a later reload re-reads it (dropping earlier overrides).
        """
        with self._lock:
            if self._ab_source is not None and not isinstance(self._ab_source, ABConfig):
                ab = load_ab_config(self._ab_source)
            else:
                ab = self._snapshot.ab
            snapshot = self._build(ab, overrides or {})
            self._snapshot = snapshot
            return snapshot


def _same_recommender(a: str, b: str) -> bool:
    pa, pb = Path(a), Path(b)
    if pa.is_dir() and pb.is_dir():
        return pa.resolve() == pb.resolve()
    return a == b


def _load_model(
    variant: Variant,
    log: OrderLog | None,
    level: str | None,
    fingerprint: str,
    now: datetime,
    rank_process: bool = False,
) -> LoadedModel:
    """The variant's recommender, fitted or loaded; with ``rank_process`` a Keras model also gets a copy ranking in a
    process of its own, stopped when the model is dropped (a reload)."""
    from foodrec.recommenders.registry import resolve_recommender

    path = Path(variant.recommender)
    rec = resolve_recommender(variant.recommender, log=log, level=level)
    # A saved model is versioned by its files; a baseline by the data it was fitted on.
    version = f"{rec.name}@{_directory_hash(path)}" if path.is_dir() else f"{variant.recommender}@{fingerprint}"
    resolved_level = rec.level or (log.default_level if log is not None else "restaurant")
    remote = None
    if rank_process:
        from foodrec.serving import rank_process as rp

        if rp.supports(rec):
            remote = rp.RankProcess(rec)
    loaded = LoadedModel(variant.name, variant.recommender, rec, version, resolved_level, now, remote=remote)
    if remote is not None:
        weakref.finalize(loaded, remote.close)  # a reload drops the old model: its process stops with it
    return loaded


def _directory_hash(path: Path) -> str:
    """Content hash of a saved model directory: a new save gives a new version."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode())
        with file.open("rb") as handle:
            for chunk in iter(lambda h=handle: h.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()[:10]


def _log_fingerprint(store: Path | None, log: OrderLog | None) -> str:
    """Identifies the data a baseline was fitted on: the store's order parts, else the log's size and span."""
    digest = hashlib.sha256()
    if store is not None and (store / "orders").is_dir():
        for part in sorted((store / "orders").rglob("part-*.parquet")):  # day folders and older flat parts
            digest.update(part.relative_to(store / "orders").as_posix().encode())
            digest.update(str(part.stat().st_size).encode())
    elif log is not None:
        digest.update(f"{len(log.orders)}|{log.start}|{log.end}".encode())
    return digest.hexdigest()[:10]


def event_order_lines(events: pd.DataFrame, catalogue: Catalogue) -> pd.DataFrame:
    """Order events (``event_id, customer_id, area, occurred_at, items``) as canonical order lines, one per item.

    An order event's idempotency key is its ``order_id`` (post your order id as the key); an item that the
    catalogue knows as a dish brings its restaurant, any other id is taken as a restaurant id.

    >>> import pandas as pd
    >>> events = pd.DataFrame({"event_id": ["o9"], "customer_id": ["c1"], "area": ["a"],
    ...     "occurred_at": pd.to_datetime(["2026-03-01T12:00Z"]), "items": [["d1", "r7"]]})
    >>> event_order_lines(events, Catalogue(item_restaurant={"d1": "r1"}))[["item_id", "restaurant_id"]].values.tolist()
    [['d1', 'r1'], [None, 'r7']]
    """
    rows = []
    dishes = catalogue.item_restaurant
    for e in events.itertuples(index=False):
        for item in e.items:
            item = str(item)
            rest = dishes.get(item)
            rows.append((str(e.event_id), str(e.customer_id), e.occurred_at, e.area, rest or item,
                         item if rest is not None else None))  # fmt: skip
    columns = ["order_id", "customer_id", "ordered_at", "area", "restaurant_id", "item_id"]
    frame = pd.DataFrame.from_records(rows, columns=columns)
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"], utc=True)
    return frame.astype({"order_id": object, "customer_id": object, "area": object, "item_id": object})


def with_event_orders(log: OrderLog, events: pd.DataFrame, catalogue: Catalogue) -> OrderLog:
    """``log`` plus the order events whose ``order_id`` it does not hold yet (ingested later: counted once)."""
    lines = event_order_lines(events, catalogue)
    lines = lines[~lines["order_id"].isin(set(log.orders["order_id"].astype(str)))]
    if lines.empty:
        return log
    lines["ordered_at"] = lines["ordered_at"].astype(log.orders["ordered_at"].dtype)
    return replace(log, orders=pd.concat([log.orders, lines], ignore_index=True))


def queries_frame(queries: Sequence[Query]) -> pd.DataFrame:
    """The frame :func:`~foodrec.recommenders.base.make_queries` builds, from already validated queries.

    Validation happened in the request; skipping make_queries' parsing halves the per-batch overhead.
    """
    return pd.DataFrame(
        {
            "customer_id": pd.Series([q.customer_id for q in queries], dtype=object),
            "area": pd.Series([q.area for q in queries], dtype=object),
            "at": pd.DatetimeIndex([q.at for q in queries]).as_unit("us"),
        }
    )


def rank_batch(model: LoadedModel, fallback: PopularityFallback | None, queries: Sequence[Query]) -> list[Ranked]:
    """Rank a batch with one recommend_parsed() call (typed queries: no pandas for the Keras model), then fill
    empty slots from the fallback.

    A recommender that raises does not fail the requests: they are answered by the fallback alone
    (``error`` says why, and the service counts it).
    """
    k = max(q.k for q in queries)
    error: str | None = None
    ranking = None
    try:
        columns = ([q.customer_id for q in queries], [q.area for q in queries], [q.at for q in queries])
        if model.remote is not None:
            # A copy ranking in a process of its own (the GIL stays with the event loop). It takes requests and the
            # orders folded in one at a time, in the order they were sent: the model's lock is not needed.
            ranking = model.remote.recommend_parsed(*columns, k=k)
        else:
            parsed = getattr(model.recommender, "recommend_parsed", None)  # absent on duck-typed stand-ins
            with model.lock:
                if parsed is None:
                    ranking = model.recommender.recommend(queries_frame(queries), k=k)
                else:
                    ranking = parsed(*columns, k=k)
    except Exception as err:  # noqa: BLE001 - keep serving; the error is reported on the response
        error = f"{type(err).__name__}: {err}"
    return ranked_batch(queries, ranking, error, fallback)


def ranked_batch(
    queries: Sequence[Query], ranking: Any, error: str | None, fallback: PopularityFallback | None
) -> list[Ranked]:
    """Each query's :class:`Ranked` from a batch's ranking (None, with ``error`` saying why, when it failed):
    its top ``k`` without empty slots, filled from the fallback."""
    k = max(q.k for q in queries)
    try:
        if ranking is None:
            raise RuntimeError(error or "no ranking")
        items = np.asarray(ranking.items, dtype=object)
        scores = np.asarray(ranking.scores, dtype=float)
        if items.shape[0] != len(queries):
            raise RuntimeError(f"recommend() returned {items.shape[0]} rows for {len(queries)} queries")
    except Exception as err:  # noqa: BLE001 - keep serving; the error is reported on the response
        error = error or f"{type(err).__name__}: {err}"
        items = np.full((len(queries), k), None, dtype=object)
        scores = np.full((len(queries), k), -np.inf)
    results = []
    for i, query in enumerate(queries):
        ids: list[str] = []
        values: list[float | None] = []
        for item, score in zip(items[i, : query.k].tolist(), scores[i, : query.k].tolist(), strict=True):
            if item is None or (isinstance(item, float) and item != item):
                continue
            ids.append(str(item))
            values.append(float(score) if math.isfinite(score) else None)
        filled = 0
        if len(ids) < query.k and fallback is not None:
            extra, extra_scores = fallback.ranked(query.area, query.k - len(ids), exclude=set(ids))
            ids.extend(extra)
            values.extend(extra_scores)
            filled = len(extra)
        results.append(Ranked(ids, values, filled, error))
    return results
