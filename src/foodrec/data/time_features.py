"""Local time features of order timestamps: hour of day, day of week and meal time.

Timestamps are stored in UTC; people eat by the local clock, so every feature is computed in the data's
time zone (``OrderLog.timezone`` / ``Store.timezone``, an IANA name such as ``America/Los_Angeles``).
All functions are vectorised over a pandas Series (or anything ``pd.to_datetime`` accepts).

Meal times (local hour ``h``): breakfast 6 <= h < 11, lunch 11 <= h < 15, afternoon 15 <= h < 17,
dinner 17 <= h < 22, late 22 <= h < 6.

>>> import pandas as pd
>>> at = pd.Series(pd.to_datetime(["2026-03-02T19:30Z", "2026-03-03T03:10Z"], utc=True))
>>> hour_of_day(at, "America/Los_Angeles").tolist()
[11, 19]
>>> meal_time(at, "America/Los_Angeles").tolist()
['lunch', 'dinner']
>>> day_of_week(at, "UTC").tolist()      # Monday = 0
[0, 1]
>>> meal_time_of_hour([7, 12, 16, 20, 23, 2]).tolist()
['breakfast', 'lunch', 'afternoon', 'dinner', 'late', 'late']
>>> time_features(at, "UTC").columns.tolist()
['hour', 'day_of_week', 'meal_time']
"""

from __future__ import annotations

from collections.abc import Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from foodrec.errors import InputError

MEAL_TIMES: tuple[str, ...] = ("breakfast", "lunch", "afternoon", "dinner", "late")
DAY_NAMES: tuple[str, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

# _HOUR_TO_MEAL[h] is the index into MEAL_TIMES of local hour h.
_HOUR_TO_MEAL = np.array(
    [4] * 6  # 00-05 late
    + [0] * 5  # 06-10 breakfast
    + [1] * 4  # 11-14 lunch
    + [2] * 2  # 15-16 afternoon
    + [3] * 5  # 17-21 dinner
    + [4] * 2,  # 22-23 late
    dtype=np.int8,
)


def check_timezone(timezone: str | None) -> str:
    """The IANA name if it is known, else an :class:`InputError`; ``None`` means UTC.

    >>> check_timezone("Europe/Berlin")
    'Europe/Berlin'
    """
    name = timezone or "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise InputError(f"unknown time zone {name!r}: use an IANA name such as 'America/Los_Angeles'") from err
    return name


def local_time(at: object, timezone: str | None = "UTC") -> pd.Series:
    """``at`` (UTC or naive-as-UTC timestamps) converted to the local wall clock of ``timezone``.

    >>> local_time(pd.Series(pd.to_datetime(["2026-07-01T12:00Z"])), "Europe/Berlin").dt.hour.tolist()
    [14]
    """
    series = at if isinstance(at, pd.Series) else pd.Series(at)
    series = pd.to_datetime(series, utc=True)
    return series.dt.tz_convert(check_timezone(timezone))


def hour_of_day(at: object, timezone: str | None = "UTC") -> pd.Series:
    """Local hour 0-23 (int), NaT gives -1."""
    hours = local_time(at, timezone).dt.hour
    return hours.fillna(-1).astype("int64")


def day_of_week(at: object, timezone: str | None = "UTC") -> pd.Series:
    """Local day of week, Monday = 0 ... Sunday = 6 (int), NaT gives -1."""
    days = local_time(at, timezone).dt.day_of_week
    return days.fillna(-1).astype("int64")


def meal_time_of_hour(hours: Iterable[int] | np.ndarray | pd.Series) -> np.ndarray:
    """Meal-time names (object array) of local hours 0-23; an hour outside 0-23 gives ``None``."""
    h = np.asarray(hours, dtype=np.int64)
    valid = (h >= 0) & (h <= 23)
    names = np.asarray(MEAL_TIMES, dtype=object)[_HOUR_TO_MEAL[np.where(valid, h, 0)]]
    names[~valid] = None
    return names


def meal_time(at: object, timezone: str | None = "UTC") -> pd.Series:
    """Local meal time of each timestamp: one of :data:`MEAL_TIMES` (``None`` for NaT)."""
    local = local_time(at, timezone)
    names = meal_time_of_hour(local.dt.hour.fillna(-1).astype("int64").to_numpy())
    return pd.Series(names, index=local.index, dtype=object, name="meal_time")


def meal_time_codes(at: object, timezone: str | None = "UTC") -> np.ndarray:
    """Meal time as an int8 index into :data:`MEAL_TIMES` (fast path for models); NaT gives -1."""
    hours = hour_of_day(at, timezone).to_numpy()
    codes = _HOUR_TO_MEAL[np.clip(hours, 0, 23)].copy()
    codes[hours < 0] = -1
    return codes


def time_features(at: object, timezone: str | None = "UTC") -> pd.DataFrame:
    """``hour``, ``day_of_week`` and ``meal_time`` of each timestamp, in the local time zone."""
    local = local_time(at, timezone)
    hours = local.dt.hour.fillna(-1).astype("int64")
    return pd.DataFrame(
        {
            "hour": hours,
            "day_of_week": local.dt.day_of_week.fillna(-1).astype("int64"),
            "meal_time": pd.Series(meal_time_of_hour(hours.to_numpy()), index=local.index, dtype=object),
        }
    )
