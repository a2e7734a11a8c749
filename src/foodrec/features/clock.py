"""The time axis of every feature: days since 1970 (UTC) and the local clock of the data's time zone.

>>> import pandas as pd
>>> to_days(["1970-01-02T12:00Z"]).tolist()
[1.5]
>>> hour, dow, meal = local_clock(pd.Series(pd.to_datetime(["2026-01-05T12:30Z"], utc=True)), "UTC")
>>> hour.tolist(), dow.tolist(), meal.tolist()     # a Monday lunch
([12.5], [0.0], [1])
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from foodrec.data.time_features import _HOUR_TO_MEAL, MEAL_TIMES, local_time

DAY_NS = 86_400 * 10**9
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
FEW = 64  # up to this many queries per call, the per-element paths below beat pandas' fixed cost
N_MEALS = len(MEAL_TIMES)
N_HOURS = 24


def to_days(at: object) -> np.ndarray:
    """UTC timestamps as float days since 1970-01-01 (the time axis of every feature)."""
    series = pd.to_datetime(pd.Series(at), utc=True).dt.as_unit("ns")  # pandas 3 may hold us or s units
    return series.astype("int64").to_numpy() / DAY_NS


def local_clock(at: object, timezone: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local fractional hour (0-24), day of week (Mon = 0) and meal-time code of UTC timestamps."""
    local = local_time(pd.Series(at), timezone)
    hour = (local.dt.hour + local.dt.minute / 60.0).to_numpy(dtype=np.float32)
    dow = local.dt.dayofweek.to_numpy(dtype=np.float32)
    return hour, dow, meal_codes(hour)


def meal_codes(hour: np.ndarray) -> np.ndarray:
    """Meal-time index into ``MEAL_TIMES`` for local fractional hours (same bins as ``time_features``)."""
    return _HOUR_TO_MEAL[np.clip(np.asarray(hour, dtype=np.int64), 0, 23)].astype(np.int32)


def few_times(at: pd.Series, timezone: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`to_days` and :func:`local_clock` for a few timestamps, element by element (same values).

    pandas' vectorised time zone conversion costs ~0.8 ms a call whatever the length: most of a served request.
    """
    zone = ZoneInfo(timezone)
    stamps = [pd.Timestamp(t) for t in at]
    stamps = [t.tz_localize("UTC") if t.tzinfo is None else t for t in stamps]
    local = [t.tz_convert(zone) for t in stamps]
    hour = np.asarray([t.hour + t.minute / 60.0 for t in local], dtype=np.float32)
    dow = np.asarray([t.dayofweek for t in local], dtype=np.float32)
    days = np.asarray([t.value for t in stamps], dtype=np.int64) / DAY_NS
    return days, hour, dow, meal_codes(hour)


def parsed_times(at: Sequence[datetime], timezone: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`few_times` for timestamps already parsed into ``datetime`` objects (naive = UTC): the same values,
    with the standard library's time zone conversion (a few microseconds each; what the service's requests carry).

    >>> from datetime import datetime, UTC
    >>> days, hour, dow, meal = parsed_times([datetime(2026, 1, 5, 12, 30, tzinfo=UTC)], "UTC")
    >>> days.tolist() == to_days(["2026-01-05T12:30Z"]).tolist(), hour.tolist(), dow.tolist(), meal.tolist()
    (True, [12.5], [0.0], [1])
    """
    zone = ZoneInfo(timezone)
    aware = [t.replace(tzinfo=UTC) if t.tzinfo is None else t for t in at]
    local = [t.astimezone(zone) for t in aware]
    hour = np.asarray([t.hour + t.minute / 60.0 for t in local], dtype=np.float32)
    dow = np.asarray([t.weekday() for t in local], dtype=np.float32)
    micros = [(t - _EPOCH) // _MICROSECOND for t in aware]
    days = np.asarray(micros, dtype=np.int64) * 1000 / DAY_NS
    return days, hour, dow, meal_codes(hour)
