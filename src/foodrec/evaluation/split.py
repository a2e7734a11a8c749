"""Temporal splits: train on the past, test on the future, never a random split.

- :func:`temporal_split` cuts at ``until`` (the end of training); test is everything from the cutoff on
  (or ``test_days`` of it). Without ``until`` the cutoff is the local midnight that leaves the last ~20% of
  days for test.
- :func:`validation_split` takes the latest slice of training time as validation.
- :func:`time_blocked_folds` gives K forward-chaining folds for small logs: the time range is cut into K + 1
  blocks, fold i trains on blocks ``0..i`` and tests on block ``i + 1`` (training always precedes testing).

>>> import pandas as pd
>>> from foodrec.data.orderlog import OrderLog
>>> at = pd.date_range("2026-01-01", periods=10, freq="D", tz="UTC") + pd.Timedelta(hours=12)
>>> log = OrderLog(pd.DataFrame({"order_id": [f"o{i}" for i in range(10)], "customer_id": "c", "ordered_at": at,
...                              "area": "a", "restaurant_id": "r"}))
>>> split = temporal_split(log)
>>> str(split.cutoff), len(split.train.orders), len(split.test.orders)
('2026-01-09 00:00:00+00:00', 8, 2)
>>> [len(f.test.orders) for f in time_blocked_folds(log, 3)]
[2, 2, 3]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import pandas as pd

from foodrec.data.orderlog import OrderLog, to_utc_timestamp
from foodrec.errors import InputError

DEFAULT_TEST_FRACTION = 0.2


@dataclass(frozen=True)
class Split:
    """Training orders strictly before ``cutoff``; test orders at or after it."""

    train: OrderLog
    test: OrderLog
    cutoff: pd.Timestamp

    def describe(self) -> str:
        return (
            f"train {len(self.train.orders):,} lines before {self.cutoff.isoformat()}, "
            f"test {len(self.test.orders):,} lines from it"
        )


def _with_orders(log: OrderLog, orders: pd.DataFrame) -> OrderLog:
    return replace(log, orders=orders.reset_index(drop=True))


def _check_nonempty(log: OrderLog) -> pd.Series:
    if log.orders.empty:
        raise InputError("the order log is empty: nothing to split")
    at = log.orders["ordered_at"]
    if at.isna().all():
        raise InputError("the order log has no valid timestamps: nothing to split")
    return at


def default_cutoff(log: OrderLog, test_fraction: float = DEFAULT_TEST_FRACTION) -> pd.Timestamp:
    """Local midnight that leaves the last ``test_fraction`` of days (at least one) for test."""
    at = _check_nonempty(log)
    local = at.dt.tz_convert(log.timezone)
    first = local.min().normalize()
    last = local.max().normalize()
    n_days = (last - first).days + 1
    if n_days < 2:
        raise InputError(f"the log spans {n_days} day: a temporal split needs at least 2 days (give --until)")
    test_days = min(n_days - 1, max(1, round(n_days * test_fraction)))
    cutoff_local = last - pd.Timedelta(days=test_days - 1)
    # normalize() on a DST day may land on a non-existent local midnight; rebuild it from the calendar date.
    cutoff_local = pd.Timestamp(cutoff_local.date()).tz_localize(
        log.timezone, nonexistent="shift_forward", ambiguous=False
    )
    return cutoff_local.tz_convert("UTC")


def temporal_split(log: OrderLog, until: object = None, test_days: float | None = None) -> Split:
    """Train = orders before the cutoff, test = orders from it on (only ``test_days`` of them when given).

    ``until`` is a timestamp or ISO string (naive means UTC). Errors (cutoff outside the data, an empty side)
    are :class:`InputError` with one line.
    """
    at = _check_nonempty(log)
    if test_days is not None and not (test_days > 0):
        raise InputError(f"test_days must be positive, got {test_days}")
    if until is None:
        if test_days is None:
            cutoff = default_cutoff(log)
        else:
            local_last = at.max().tz_convert(log.timezone).normalize()
            cutoff = (local_last - pd.Timedelta(days=math.ceil(test_days) - 1)).tz_convert("UTC")
    else:
        cutoff = to_utc_timestamp(until)
    start, end = at.min(), at.max()
    if not (start < cutoff <= end):
        raise InputError(
            f"cutoff {cutoff.isoformat()} is outside the data: it must fall after the first order "
            f"({start.isoformat()}) and no later than the last ({end.isoformat()})"
        )
    orders = log.orders
    train = orders[orders["ordered_at"] < cutoff]
    test_mask = orders["ordered_at"] >= cutoff
    if test_days is not None and until is not None:
        test_mask &= orders["ordered_at"] < cutoff + pd.Timedelta(days=test_days)
    test = orders[test_mask]
    if train.empty or test.empty:
        side = "training" if train.empty else "test"
        raise InputError(f"cutoff {cutoff.isoformat()} leaves the {side} period empty")
    return Split(train=_with_orders(log, train), test=_with_orders(log, test), cutoff=cutoff)


def validation_split(train_log: OrderLog, fraction: float = 0.15) -> Split:
    """The latest ``fraction`` of the training time range as validation (``Split.test``), the rest as train."""
    if not 0 < fraction < 1:
        raise InputError(f"validation fraction must be between 0 and 1, got {fraction}")
    at = _check_nonempty(train_log)
    start, end = at.min(), at.max()
    cutoff = end - (end - start) * fraction
    orders = train_log.orders
    fit, valid = orders[orders["ordered_at"] < cutoff], orders[orders["ordered_at"] >= cutoff]
    if fit.empty or valid.empty:
        raise InputError("the training log is too short in time for a validation slice")
    return Split(train=_with_orders(train_log, fit), test=_with_orders(train_log, valid), cutoff=cutoff)


def time_blocked_folds(log: OrderLog, k: int) -> list[Split]:
    """K forward-chaining folds over K + 1 equal time blocks: fold i trains on blocks 0..i, tests on block i+1."""
    if k < 1:
        raise InputError(f"the number of folds must be at least 1, got {k}")
    at = _check_nonempty(log)
    start, end = at.min(), at.max()
    if start == end:
        raise InputError("all orders share one timestamp: time-blocked folds need a time range")
    width = (end - start) / (k + 1)
    orders = log.orders
    folds = []
    for i in range(1, k + 1):
        cutoff = start + width * i
        stop = start + width * (i + 1)
        train = orders[orders["ordered_at"] < cutoff]
        last = i == k
        test = orders[
            (orders["ordered_at"] >= cutoff)
            & ((orders["ordered_at"] <= end) if last else (orders["ordered_at"] < stop))
        ]
        if train.empty or test.empty:
            raise InputError(f"fold {i} of {k} has an empty side: use fewer folds for this log")
        folds.append(Split(train=_with_orders(log, train), test=_with_orders(log, test), cutoff=cutoff))
    return folds
