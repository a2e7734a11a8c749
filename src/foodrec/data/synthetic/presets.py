"""Sizes and settings of a synthetic city: :class:`CityConfig` and the named presets.

>>> cfg = preset_config("small")
>>> cfg.level, cfg.customers < preset_config("default").customers
('restaurant', True)
>>> preset_config("default", customers=500, days=14).customers
500
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field

from foodrec.errors import InputError

LEVELS = ("dish", "restaurant")
FORMATS = ("csv", "parquet")


@dataclass(frozen=True)
class CityConfig:
    """Everything that decides a city; the same config and seed give the same files."""

    seed: int = 42
    customers: int = 16000
    restaurants: int = 300
    days: int = 56
    grid: tuple[int, int] = (4, 3)  # areas: a grid of geohash-5 cells (about 5 km each)
    level: str = "dish"
    start: dt.date = dt.date(2026, 1, 5)  # a Monday
    timezone: str = "America/Los_Angeles"
    center: tuple[float, float] = (34.05, -118.30)  # lat, lon of the grid's centre
    drift_at: int | None = None
    drift_cuisine: str | None = None  # None: chosen by the seed among mid-popular cuisines
    dishes_per_restaurant: float = 12.0  # mean number of items on a menu
    city_code: str = "syn"  # used in DHRD file names: orders_<city>_train.txt
    warts: bool = True
    # shape knobs of the world (docs/synthetic.md); the defaults give the default city, the twin preset tunes them
    quality_sd: float = 1.1  # spread of restaurant quality: how concentrated orders are on the favourites
    loyalty_mean: float = 3.0  # mean weight of restaurant habit: how often returning customers repeat a restaurant
    rate_log_mean: float = -0.8  # customers' order rates: lognormal(rate_log_mean, rate_log_sd) per 30 days
    rate_log_sd: float = 1.35
    radius_shares: tuple[float, float, float] = (0.25, 0.55, 0.20)  # delivery radius 0 / 1 / 2 grid steps
    extra: dict[str, float] = field(default_factory=dict)  # overrides of choice-model parameters (experiments)

    def validate(self) -> CityConfig:
        """Raise :class:`InputError` for settings a user got wrong; returns self."""
        if self.customers < 10:
            raise InputError(f"--customers must be at least 10 (got {self.customers})")
        if self.restaurants < 5:
            raise InputError(f"--restaurants must be at least 5 (got {self.restaurants})")
        if self.days < 1:
            raise InputError(f"--days must be at least 1 (got {self.days})")
        if self.days > 3660:
            raise InputError(f"--days must be at most 3660 (got {self.days})")
        if self.customers > 5_000_000 or self.restaurants > 100_000:
            raise InputError("--customers must be at most 5,000,000 and --restaurants at most 100,000")
        if self.level not in LEVELS:
            raise InputError(f"unknown --level {self.level!r}: choose one of {', '.join(LEVELS)}")
        if self.drift_at is not None and not 1 <= self.drift_at < self.days:
            raise InputError(f"--drift-at must be a day between 1 and {self.days - 1} (got {self.drift_at})")
        if self.dishes_per_restaurant < 4:
            raise InputError("dishes per restaurant must be at least 4")
        if not 0 <= self.seed < 2**63:
            raise InputError(f"--seed must be a non-negative integer (got {self.seed})")
        return self

    def replace(self, **changes: object) -> CityConfig:
        return dataclasses.replace(self, **changes)


PRESETS: dict[str, dict[str, object]] = {
    # ~26k orders, ~55k lines over 8 weeks; dish level with ~3.6k dishes. The workflow runs in minutes on 2 cores.
    "default": {},
    # Restaurant level, < 20k orders: quick experiments and tests.
    "small": {"customers": 5000, "restaurants": 120, "days": 42, "grid": (4, 3), "level": "restaurant"},
    # Dish level with >= 10k dishes.
    "dishes": {"customers": 16000, "restaurants": 800, "days": 56, "grid": (6, 5), "dishes_per_restaurant": 14.0},
    # ~1M order lines (benchmarks).
    "large": {"customers": 200000, "restaurants": 1000, "days": 84, "grid": (10, 8)},
    # The realism twin: restaurant level, shaped like the real log of /shared/realism.md (one metro, 31 days,
    # ~18k orders, ~6.9k customers, 314 restaurants, three regions with a third of the restaurants serving more
    # than one). More one-off customers with a heavier tail of regulars, flatter restaurant quality and a little
    # less habit than the default city; restaurants deliver to their own region or the next one.
    "twin": {
        "customers": 22000,
        "restaurants": 314,
        "days": 31,
        "grid": (3, 1),
        "level": "restaurant",
        "rate_log_mean": -1.45,
        "rate_log_sd": 1.75,
        "quality_sd": 0.95,
        "loyalty_mean": 2.9,
        "radius_shares": (0.66, 0.34, 0.0),
    },  # fmt: skip
}


def preset_config(name: str = "default", **overrides: object) -> CityConfig:
    """The preset's config with ``overrides`` applied (``None`` values are ignored), validated."""
    if name not in PRESETS:
        raise InputError(f"unknown --preset {name!r}: choose one of {', '.join(PRESETS)}")
    values = dict(PRESETS[name])
    values.update({k: v for k, v in overrides.items() if v is not None})
    return CityConfig(**values).validate()  # type: ignore[arg-type]
