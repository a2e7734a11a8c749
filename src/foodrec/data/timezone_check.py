"""Does the log's hour-of-day profile look shifted? Which UTC offset puts its peaks at lunch and dinner?

Order times are stored as instants; every local-time feature (hour, meal time, the EDA's "when do people
order") reads them in the store's time zone. A log exported in UTC for a city at UTC−8, ingested without
``--timezone``, shows lunch at 19 h and dinner at 2 h: the meal-time features and reports are then wrong.

:func:`best_offset` finds the two meal peaks of the 24-hour profile (which one is lunch follows from the gaps
between them: lunch to dinner is the short way round the clock) and returns the whole-hour shift that puts
their midpoint where a typical delivery day has it (lunch near 11:45, dinner near 18:30).
:func:`timezone_hint` turns that into advice when the store's own zone is clearly off (the best fit is at
least :data:`MIN_SHIFT_HOURS` away and fits much better), naming zones whose offset matches on the log's dates.
Half-hour zones (India, Newfoundland) come out as the nearest whole hour.

>>> import numpy as np
>>> local = typical_profile()                    # a day as a city at UTC-8 orders it
>>> utc = np.roll(local, 8)                      # the same orders on the UTC clock: 11:45 lunch -> 19:45
>>> best_offset(utc).offset
-8
>>> hint = timezone_hint(utc * 1000, "UTC", "2026-01-15")
>>> hint.utc_offset, hint.zones[:1]
(-8, ['America/Los_Angeles'])
>>> timezone_hint(local * 1000, "America/Los_Angeles", "2026-01-15") is None
True
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

LUNCH_HOUR, DINNER_HOUR = 11.75, 18.5  # centres of the typical day's peaks (local hours; real US log ~11.5 and ~18)
MIN_SHIFT_HOURS = 3  # a smaller shift is within how cities differ (Spain dines at 21 h), not a wrong zone
MIN_GAIN = 0.25  # the best shift must beat the store's zone by this much correlation
MEAL_MIDPOINT = (LUNCH_HOUR + DINNER_HOUR) / 2  # halfway from lunch to dinner; the peaks' midpoint is placed here
MIN_SECOND_PEAK = 0.2  # the smaller meal peak must reach this share of the larger one
MIN_ORDERS = 200  # fewer orders: the profile is too noisy to judge

# Well-known zones, checked for their offset on the log's own dates (DST included); Etc/GMT±N is always added.
KNOWN_ZONES = (
    "Pacific/Honolulu", "America/Anchorage", "America/Los_Angeles", "America/Denver", "America/Phoenix",
    "America/Chicago", "America/Mexico_City", "America/New_York", "America/Bogota", "America/Halifax",
    "America/Sao_Paulo", "America/Argentina/Buenos_Aires", "Atlantic/Azores", "Europe/London", "Europe/Lisbon",
    "Africa/Lagos", "Europe/Berlin", "Europe/Paris", "Europe/Madrid", "Africa/Johannesburg", "Europe/Athens",
    "Africa/Cairo", "Europe/Istanbul", "Europe/Moscow", "Asia/Riyadh", "Asia/Dubai", "Asia/Karachi", "Asia/Dhaka",
    "Asia/Bangkok", "Asia/Jakarta", "Asia/Singapore", "Asia/Shanghai", "Asia/Manila", "Asia/Tokyo", "Asia/Seoul",
    "Australia/Brisbane", "Australia/Sydney", "Pacific/Noumea", "Pacific/Auckland",
)  # fmt: skip


def typical_profile(lunch: float = LUNCH_HOUR, dinner: float = DINNER_HOUR) -> np.ndarray:
    """Share of a typical delivery day's orders in each local hour 0..23: two peaks, a quiet night."""
    hours = np.arange(24) + 0.5

    def bump(centre: float, width: float) -> np.ndarray:
        d = (hours - centre + 12) % 24 - 12  # circular distance
        return np.exp(-0.5 * (d / width) ** 2)

    day = 0.9 * bump(lunch, 1.2) + 1.0 * bump(dinner, 1.5) + 0.01
    return day / day.sum()


@dataclass(frozen=True)
class OffsetFit:
    """``offset``: whole hours to add to the profile's clock so it looks like a typical day; ``estimate``: the
    same in fractional hours (None without two clear meal peaks); ``fit``: correlation with the typical day."""

    offset: int
    estimate: float | None
    fit: float
    fit_unshifted: float
    scores: dict[int, float]

    @property
    def also_fits(self) -> int | None:
        """The neighbouring whole-hour offset when the estimate lies within 15 minutes of halfway to it."""
        if self.estimate is None or abs(self.estimate - self.offset) < 0.25:
            return None
        return self.offset + (1 if self.estimate > self.offset else -1)


def _centre(counts: np.ndarray, peak: int) -> float:
    """Where the peak is, between hours: a parabola through the logs of the peak hour and its neighbours (exact
    for a Gaussian bump), clipped to the peak hour."""
    left, mid, right = np.log(counts[[(peak - 1) % 24, peak, (peak + 1) % 24]] + 1.0)
    curve = left - 2 * mid + right
    shift = 0.0 if curve >= 0 else float(np.clip(0.5 * (left - right) / curve, -0.5, 0.5))
    return peak + 0.5 + shift


def meal_peaks(hour_counts: np.ndarray | list[int]) -> tuple[float, float] | None:
    """(lunch, dinner) centres in hours of the profile's clock, or None without two clear peaks.

    The busiest hour and the busiest other peak at least four hours from it are the meals; which one is lunch
    comes from the gaps between them (lunch to dinner is the short way round the clock), not from their heights.

    >>> meal_peaks(typical_profile())
    (11.72, 18.5)
    """
    counts = np.asarray(hour_counts, dtype=float)
    a = int(np.argmax(counts))
    far = [h for h in range(24) if min((h - a) % 24, (a - h) % 24) >= 4]
    b = max(far, key=lambda h: counts[h])
    if counts[b] < MIN_SECOND_PEAK * counts[a] or counts[b] < max(counts[(b - 1) % 24], counts[(b + 1) % 24]):
        return None
    first, second = (a, b) if (b - a) % 24 < 12 else (b, a)
    return round(_centre(counts, first) % 24, 2), round(_centre(counts, second) % 24, 2)


def best_offset(hour_counts: np.ndarray | list[int]) -> OffsetFit:
    """The whole-hour shift (−12..+12) that puts the two meal peaks of ``hour_counts`` (orders per hour 0..23)
    where a typical delivery day has them (their midpoint at 15:07); without two clear peaks, the shift that
    correlates best with the typical day."""
    counts = np.asarray(hour_counts, dtype=float)
    if counts.shape != (24,) or counts.sum() <= 0:
        raise ValueError("hour_counts must be 24 non-negative counts with at least one order")
    template = typical_profile()
    scores: dict[int, float] = {}
    for offset in range(-12, 15):
        shifted = np.roll(counts, offset)  # hour h on the profile's clock -> hour h + offset
        scores[offset] = float(np.corrcoef(shifted, template)[0, 1]) if shifted.std() > 0 else 0.0
    peaks = meal_peaks(counts)
    if peaks is None:
        best = max(scores, key=lambda o: (round(scores[o], 9), -abs(o)))
        return OffsetFit(best, None, scores[best], scores[0], scores)
    lunch, dinner = peaks
    middle = lunch + ((dinner - lunch) % 24) / 2
    estimate = (MEAL_MIDPOINT - middle + 12) % 24 - 12  # in [-12, 12)
    best = int(np.floor(estimate + 0.5))
    best = 12 if best == -12 else best
    return OffsetFit(best, round(float(estimate), 2), scores[best], scores[0], scores)


@dataclass(frozen=True)
class TimezoneHint:
    """Advice that the store's time zone is probably wrong, and what to pass instead."""

    store_timezone: str
    utc_offset: int  # the suggested city offset from UTC, in hours
    zones: list[str]  # zones with that offset on the log's dates, best known first; Etc/GMT form last
    peaks_now: list[int]  # busiest local hours as stored
    peaks_suggested: list[int]  # the same hours at the suggested offset
    fit_now: float
    fit_suggested: float
    also_fits: int | None = None  # a neighbouring offset that fits almost as well (an hour is hard to tell apart)

    @property
    def label(self) -> str:
        return _label(self.utc_offset)

    def message(self, command: str = "foodrec ingest SOURCE... --store STORE") -> str:
        """One line for a terminal: what looks wrong and what to type."""
        now = ", ".join(f"{h:02d}:00" for h in self.peaks_now)
        then = ", ".join(f"{h:02d}:00" for h in self.peaks_suggested)
        others = [z for z in self.zones[1:] if not z.startswith("Etc/")][:2]
        also = f" (or {', '.join(others)}; {self.zones[-1]} is the fixed offset)" if others else ""
        near = ""
        if self.also_fits is not None:
            near = f" ({_label(self.also_fits)} fits almost as well)"
        return (
            f"the busiest hours are {now} in {self.store_timezone}, which looks shifted (meals at night);"
            f" at {self.label}{near} they would be {then}, lunch and dinner. If the city is at {self.label}, run"
            f" `{command} --timezone {self.zones[0]}`{also}"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"label": self.label, "message": self.message()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TimezoneHint:
        """Back from :meth:`to_dict` (e.g. an EDA JSON's ``volume.timezone_hint``)."""
        return cls(**{f: data[f] for f in cls.__dataclass_fields__ if f in data})


def _label(offset: int) -> str:
    return f"UTC{offset:+d}".replace("-", "−") if offset else "UTC"


def _offset_hours(zone: str, when: pd.Timestamp) -> float:
    delta = when.tz_convert(ZoneInfo(zone)).utcoffset() or dt.timedelta(0)
    return delta.total_seconds() / 3600


def zones_with_offset(offset: int, when: object) -> list[str]:
    """Known zones at UTC``offset`` on the date ``when``, then the fixed-offset ``Etc/GMT`` name (its sign is
    POSIX's, reversed: Etc/GMT+8 is UTC−8).

    >>> zones_with_offset(-8, "2026-01-15")[:1], zones_with_offset(-8, "2026-01-15")[-1]
    (['America/Los_Angeles'], 'Etc/GMT+8')
    >>> zones_with_offset(-7, "2026-07-15")[:1]
    ['America/Los_Angeles']
    """
    at = pd.Timestamp(when)
    at = at.tz_localize("UTC") if at.tzinfo is None else at
    named = [z for z in KNOWN_ZONES if _offset_hours(z, at) == offset]
    fixed = "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"
    return named + [fixed]


def timezone_hint(local_hour_counts: np.ndarray | list[int], store_timezone: str, when: object) -> TimezoneHint | None:
    """Advice when orders per local hour (in ``store_timezone``) look shifted, else None.

    ``when`` is a time inside the log (its middle), used for the zones' offsets (DST).
    """
    counts = np.asarray(local_hour_counts, dtype=float)
    if counts.sum() < MIN_ORDERS:
        return None
    fit = best_offset(counts)
    if abs(fit.offset) < MIN_SHIFT_HOURS or fit.fit - fit.fit_unshifted < MIN_GAIN:
        return None
    at = pd.Timestamp(when)
    at = at.tz_localize("UTC") if at.tzinfo is None else at
    store_offset = _offset_hours(store_timezone, at)
    target = int(round(store_offset + fit.offset + 12)) % 24 - 12  # e.g. a Tokyo log read in Los Angeles time
    peaks = sorted(_two_peaks(counts), key=lambda h: (h + fit.offset) % 24)  # lunch first
    return TimezoneHint(
        store_timezone=store_timezone,
        utc_offset=target,
        zones=zones_with_offset(target, at),
        peaks_now=peaks,
        peaks_suggested=[(h + fit.offset) % 24 for h in peaks],
        fit_now=round(fit.fit_unshifted, 3),
        fit_suggested=round(fit.fit, 3),
        also_fits=None if fit.also_fits is None else int(round(store_offset + fit.also_fits + 12)) % 24 - 12,
    )


def _two_peaks(counts: np.ndarray) -> list[int]:
    """The busiest hour and the busiest hour at least four hours from it (hours 0..23)."""
    first = int(np.argmax(counts))
    far = [h for h in range(24) if min((h - first) % 24, (first - h) % 24) >= 4]
    return [first, max(far, key=lambda h: counts[h])]


def hint_for_times(at_utc: pd.Series, store_timezone: str) -> TimezoneHint | None:
    """:func:`timezone_hint` for a Series of UTC timestamps (NaT ignored)."""
    at = pd.to_datetime(at_utc, utc=True).dropna()
    if at.empty:
        return None
    local = at.dt.tz_convert(store_timezone)
    counts = np.bincount(local.dt.hour.to_numpy(), minlength=24)
    middle = at.min() + (at.max() - at.min()) / 2
    return timezone_hint(counts, store_timezone, middle)


def store_hint(store_dir: str | object) -> TimezoneHint | None:
    """:func:`hint_for_times` over a store's orders (one timestamp per order), in the store's zone."""
    from foodrec.data.store import Store
    from foodrec.errors import StoreError

    store = Store.open(store_dir)  # type: ignore[arg-type]
    try:
        heads = store.orders(columns=["order_id", "ordered_at"]).drop_duplicates("order_id")
    except StoreError:  # no orders yet
        return None
    return hint_for_times(heads["ordered_at"], store.timezone)
