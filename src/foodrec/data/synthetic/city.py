"""World building: areas, restaurants, dishes and customers of a synthetic city, as numpy arrays.

The :class:`World` holds every latent quantity the ground-truth choice model (``choice.py``) needs;
it is saved under ``truth/`` (npz of numbers + Parquet of ids/names, no pickle) and loaded back by
:class:`~foodrec.data.synthetic.truth.GroundTruth`.

>>> from foodrec.data.synthetic.presets import preset_config
>>> world = build_world(preset_config("small", customers=50, restaurants=10))
>>> world.n_restaurants, world.n_customers, len(world.area_ids) == 12
(10, 50, True)
>>> geohash(34.05, -118.30, 5)
'9q5cs'
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd

from foodrec.data.synthetic.presets import CityConfig

_BASE32 = "0123456789bcdefghjkmnpqrstuvwxyz"
CATEGORIES = ("main", "side", "drink", "dessert")

# cuisine: (share of restaurants, price multiplier, typical dish words)
CUISINES: dict[str, tuple[float, float, tuple[str, ...]]] = {
    "pizza": (0.12, 0.95, ("Margherita Pizza", "Pepperoni Pizza", "Veggie Pizza", "BBQ Chicken Pizza", "Calzone")),
    "burgers": (0.11, 0.85, ("Cheeseburger", "Bacon Burger", "Veggie Burger", "Double Burger", "Chicken Sandwich")),
    "chinese": (0.09, 0.9, ("Kung Pao Chicken", "Fried Rice", "Chow Mein", "Orange Chicken", "Mapo Tofu")),
    "mexican": (0.10, 0.8, ("Carne Asada Burrito", "Fish Tacos", "Chicken Quesadilla", "Nachos", "Enchiladas")),
    "japanese": (0.07, 1.25, ("Salmon Roll", "Chicken Teriyaki", "Ramen", "Poke Bowl", "Katsu Curry")),
    "indian": (0.06, 1.0, ("Chicken Tikka Masala", "Saag Paneer", "Lamb Biryani", "Dal Makhani", "Butter Chicken")),
    "thai": (0.06, 0.95, ("Pad Thai", "Green Curry", "Pad See Ew", "Tom Yum", "Basil Chicken")),
    "italian": (0.06, 1.2, ("Spaghetti Carbonara", "Lasagna", "Penne Arrabbiata", "Chicken Parmesan", "Risotto")),
    "salads": (0.05, 0.9, ("Caesar Salad", "Cobb Salad", "Grain Bowl", "Greek Salad", "Kale Salad")),
    "sandwiches": (0.06, 0.75, ("Turkey Club", "Italian Sub", "BLT", "Reuben", "Caprese Panini")),
    "breakfast": (0.04, 0.7, ("Breakfast Burrito", "Pancakes", "Avocado Toast", "Bagel", "Omelette")),
    "korean": (0.04, 1.1, ("Bibimbap", "Korean Fried Chicken", "Bulgogi", "Kimchi Fried Rice", "Japchae")),
    "mediterranean": (0.05, 1.0, ("Chicken Shawarma", "Falafel Wrap", "Gyro Plate", "Hummus Bowl", "Kebab")),
    "vietnamese": (0.04, 0.85, ("Pho", "Banh Mi", "Vermicelli Bowl", "Spring Rolls", "Com Tam")),
    "chicken": (0.05, 0.8, ("Fried Chicken", "Chicken Wings", "Chicken Tenders", "Spicy Wings", "Nuggets")),
}
CUISINE_NAMES = tuple(CUISINES)
_SIDES = ("Fries", "Side Salad", "Garlic Bread", "Rice", "Soup", "Coleslaw", "Onion Rings", "Edamame")
_DRINKS = ("Cola", "Iced Tea", "Lemonade", "Sparkling Water", "Bubble Tea", "Iced Coffee", "Orange Juice")
_DESSERTS = ("Cheesecake", "Brownie", "Ice Cream", "Cookie", "Mochi", "Churros")
_MODIFIERS = ("", "Spicy ", "Classic ", "Large ", "House ", "Deluxe ", "Mini ")
_PREFIXES = ("Golden", "Lucky", "Sunset", "Urban", "Little", "Big", "Corner", "Royal", "Green", "Blue", "Happy", "Old")
# open-hours types: hours (local) in which a restaurant takes orders
_HOURS_TYPES = {
    "all_day": [h for h in range(24) if h >= 10 or h == 0],  # 10:00-00:59
    "split": [*range(11, 15), *range(17, 22)],  # lunch and dinner
    "dinner_late": [*range(16, 24), 0, 1],
    "day": [*range(7, 17)],  # breakfast and lunch places
}
LATENT_DIM = 6


def geohash(lat: float, lon: float, precision: int = 5) -> str:
    """Standard geohash of a point (base32, ``precision`` characters)."""
    lat_lo, lat_hi, lon_lo, lon_hi = -90.0, 90.0, -180.0, 180.0
    out, ch, bit, even = [], 0, 0, True
    while len(out) < precision:
        if even:
            mid = (lon_lo + lon_hi) / 2
            if lon > mid:
                ch |= 1 << (4 - bit)
                lon_lo = mid
            else:
                lon_hi = mid
        else:
            mid = (lat_lo + lat_hi) / 2
            if lat > mid:
                ch |= 1 << (4 - bit)
                lat_lo = mid
            else:
                lat_hi = mid
        even = not even
        bit += 1
        if bit == 5:
            out.append(_BASE32[ch])
            ch, bit = 0, 0
    return "".join(out)


@dataclass
class World:
    """All latent quantities of a city. Arrays are indexed by integer position; ids map positions to strings."""

    # areas
    area_ids: np.ndarray  # (A,) str geohash-5
    area_xy: np.ndarray  # (A, 2) int grid position
    area_weight: np.ndarray  # (A,) share of customers living there
    # restaurants
    restaurant_ids: np.ndarray  # (R,) str
    rest_area: np.ndarray  # (R,) int
    rest_cuisine: np.ndarray  # (R,) int into CUISINE_NAMES
    rest_quality: np.ndarray  # (R,) float, the popularity term
    rest_latent: np.ndarray  # (R, K) float
    rest_log_price: np.ndarray  # (R,) float, log price level minus its mean
    rest_open: np.ndarray  # (R, 24) bool, open at local hour
    rest_radius: np.ndarray  # (R,) int delivery radius in grid steps (0 = own area only)
    rest_chain: np.ndarray  # (R,) int, -1 for independents
    rest_names: np.ndarray  # (R,) str
    # items (sorted by restaurant, then category)
    item_ids: np.ndarray  # (D,) str
    item_rest: np.ndarray  # (D,) int
    item_cat: np.ndarray  # (D,) int into CATEGORIES
    item_pop: np.ndarray  # (D,) float, within-group popularity
    item_latent: np.ndarray  # (D, K) float, taste deviation of the dish from its restaurant
    item_price: np.ndarray  # (D,) float
    item_log_price: np.ndarray  # (D,) float, log price relative to its group's mean
    item_names: np.ndarray  # (D,) str
    # customers
    customer_ids: np.ndarray  # (C,) str
    cust_home: np.ndarray  # (C,) int
    cust_work: np.ndarray  # (C,) int, -1 when none
    cust_taste: np.ndarray  # (C, K) float
    cust_price_sens: np.ndarray  # (C,) float
    cust_loyalty: np.ndarray  # (C,) float, weight of restaurant habit
    cust_dish_loyalty: np.ndarray  # (C,) float, weight of dish habit
    cust_rate: np.ndarray  # (C,) expected orders per day (before the day-of-week rhythm)
    cust_join: np.ndarray  # (C,) int, first day the customer may order (<= 0: before the log starts)
    cust_slots: np.ndarray  # (C, 5) meal-slot propensities (rows sum to 1)
    # choice-model tables
    meal_cuisine: np.ndarray  # (5, n_cuisines)
    weekend_cuisine: np.ndarray  # (n_cuisines,)
    cuisine_latent: np.ndarray  # (n_cuisines, K)
    params: dict = field(default_factory=dict)

    @property
    def n_restaurants(self) -> int:
        return len(self.restaurant_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_customers(self) -> int:
        return len(self.customer_ids)

    @property
    def n_areas(self) -> int:
        return len(self.area_ids)

    def neighbours(self) -> np.ndarray:
        """(A, A) bool: areas within one grid step (8-neighbourhood), not including the area itself."""
        d = np.abs(self.area_xy[:, None, :] - self.area_xy[None, :, :]).max(axis=2)
        return d == 1

    def delivery_penalty(self) -> np.ndarray:
        """(A, R): ``-distance_penalty * grid steps`` where the restaurant delivers (within its radius), else -inf."""
        d = np.abs(self.area_xy[:, None, :] - self.area_xy[self.rest_area][None, :, :]).max(axis=2)
        pen = -float(self.params["distance_penalty"]) * d.astype(np.float64)
        pen[d > self.rest_radius[None, :]] = -np.inf
        return pen

    # -- persistence -------------------------------------------------------------------
    _STRINGS = ("area_ids", "restaurant_ids", "rest_names", "item_ids", "item_names", "customer_ids")

    def save(self, directory: Path) -> None:
        """Write ``world.npz`` (numbers), ``*.parquet`` (ids and names) and ``model.json`` into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        numbers = {
            f.name: getattr(self, f.name) for f in fields(self) if f.name not in self._STRINGS and f.name != "params"
        }
        np.savez(directory / "world.npz", **numbers)
        pd.DataFrame({"area_id": self.area_ids}).to_parquet(directory / "areas.parquet", index=False)
        pd.DataFrame({"restaurant_id": self.restaurant_ids, "name": self.rest_names}).to_parquet(
            directory / "restaurants.parquet", index=False
        )
        pd.DataFrame({"item_id": self.item_ids, "name": self.item_names}).to_parquet(
            directory / "items.parquet", index=False
        )
        pd.DataFrame({"customer_id": self.customer_ids}).to_parquet(directory / "customers.parquet", index=False)
        (directory / "model.json").write_text(json.dumps(self.params, indent=2, default=str))

    @classmethod
    def load(cls, directory: Path) -> World:
        with np.load(directory / "world.npz", allow_pickle=False) as npz:
            values: dict[str, object] = {k: npz[k] for k in npz.files}
        values["area_ids"] = _strings(directory / "areas.parquet", "area_id")
        rest = pd.read_parquet(directory / "restaurants.parquet")
        values["restaurant_ids"] = rest["restaurant_id"].to_numpy(dtype=object)
        values["rest_names"] = rest["name"].to_numpy(dtype=object)
        items = pd.read_parquet(directory / "items.parquet")
        values["item_ids"] = items["item_id"].to_numpy(dtype=object)
        values["item_names"] = items["name"].to_numpy(dtype=object)
        values["customer_ids"] = _strings(directory / "customers.parquet", "customer_id")
        values["params"] = json.loads((directory / "model.json").read_text())
        return cls(**values)  # type: ignore[arg-type]


def _strings(path: Path, column: str) -> np.ndarray:
    return pd.read_parquet(path)[column].to_numpy(dtype=object)


def default_params(config: CityConfig) -> dict:
    """Choice-model parameters (documented in docs/synthetic.md); ``config.extra`` overrides them."""
    params: dict = {
        "latent_dim": LATENT_DIM,
        "habit_tau_days": 21.0,  # habits fade with this time constant
        "distance_penalty": 0.6,  # utility lost per grid step between the restaurant and the delivery area
        "dish_price_weight": 0.6,  # price sensitivity inside a restaurant, relative to between restaurants
        "p_second_main": 0.28,
        "p_extra": {"side": 0.35, "drink": 0.40, "dessert": 0.12},
        "work_lunch_share": 0.65,  # weekday lunch orders of customers with a work area go there
        "visit_share": 0.03,  # orders to a neighbouring area (visiting friends)
        "dow_rhythm": [0.92, 0.90, 0.95, 1.00, 1.12, 1.15, 1.04],  # Monday..Sunday
        "timezone": config.timezone,
        "start": config.start.isoformat(),
        "days": config.days,
        "seed": config.seed,
        "drift": None,
    }
    params.update(config.extra)
    return params


def build_world(config: CityConfig, rng: np.random.Generator | None = None) -> World:
    """Draw a city from ``config`` (deterministic per ``config.seed`` when ``rng`` is not given)."""
    rng = rng or np.random.default_rng([config.seed, 1])
    params = default_params(config)
    k = LATENT_DIM
    n_cuisines = len(CUISINE_NAMES)

    # areas: a grid of geohash-5 cells around the centre; density falls off from downtown
    nx, ny = config.grid
    step = 180.0 / 4096  # geohash-5 cell size in degrees (both axes)
    lat0 = (np.floor((config.center[0] + 90) / step) + 0.5) * step - 90
    lon0 = (np.floor((config.center[1] + 180) / step) + 0.5) * step - 180
    xy = np.array([(x, y) for y in range(ny) for x in range(nx)], dtype=np.int64)
    area_ids = np.array(
        [geohash(lat0 + (y - ny // 2) * step, lon0 + (x - nx // 2) * step) for x, y in xy], dtype=object
    )
    centre = np.array([(nx - 1) / 2, (ny - 1) / 2])
    dist = np.sqrt(((xy - centre) ** 2).sum(axis=1))
    area_weight = np.exp(-dist / max(nx, ny) * 1.5) * rng.lognormal(0, 0.35, len(xy))
    area_weight /= area_weight.sum()

    # cuisines: latent vectors, meal-time and weekend effects
    cuisine_latent = rng.normal(0, 1, (n_cuisines, k))
    ci = {c: i for i, c in enumerate(CUISINE_NAMES)}
    meal = np.zeros((5, n_cuisines))  # breakfast, lunch, afternoon, dinner, late
    for c, v in {"breakfast": 2.2, "sandwiches": 0.8, "salads": 0.2, "pizza": -0.8, "indian": -1.0}.items():
        meal[0, ci[c]] = v
    for c, v in {"salads": 0.9, "sandwiches": 0.9, "mexican": 0.3, "vietnamese": 0.4, "breakfast": -0.3,
                 "italian": -0.3, "pizza": -0.2, "mediterranean": 0.4}.items():  # fmt: skip
        meal[1, ci[c]] = v
    for c, v in {"korean": 0.2, "chicken": 0.3, "salads": 0.3, "vietnamese": 0.2}.items():
        meal[2, ci[c]] = v
    for c, v in {"pizza": 0.3, "italian": 0.5, "indian": 0.5, "japanese": 0.4, "thai": 0.3, "salads": -0.6,
                 "sandwiches": -0.8, "breakfast": -2.0}.items():  # fmt: skip
        meal[3, ci[c]] = v
    for c, v in {"burgers": 0.9, "pizza": 0.9, "chicken": 0.7, "mexican": 0.4, "salads": -1.2,
                 "breakfast": -2.0, "sandwiches": -0.8}.items():  # fmt: skip
        meal[4, ci[c]] = v
    weekend = np.zeros(n_cuisines)
    for c, v in {"pizza": 0.3, "burgers": 0.25, "breakfast": 0.4, "salads": -0.3, "sandwiches": -0.3}.items():
        weekend[ci[c]] = v

    # restaurants
    n_r = config.restaurants
    rest_area = rng.choice(len(xy), n_r, p=_normalise(area_weight**1.2))
    shares = np.array([CUISINES[c][0] for c in CUISINE_NAMES])
    rest_cuisine = rng.choice(n_cuisines, n_r, p=shares / shares.sum())
    # the clip: no runaway favourite, shapes stable per seed
    rest_quality = np.clip(rng.normal(0, config.quality_sd, n_r), -3.0, 2.4)
    rest_chain = np.full(n_r, -1)
    n_chains = max(1, n_r // 40)
    chain_members = rng.choice(n_r, size=min(n_r, n_chains * 4), replace=False)
    for j, r in enumerate(chain_members):  # chains: same cuisine, quality and prices across their outlets
        lead = chain_members[j % n_chains]
        rest_chain[r] = j % n_chains
        rest_cuisine[r] = rest_cuisine[lead]
        rest_quality[r] = rest_quality[lead] + 0.3
    rest_latent = cuisine_latent[rest_cuisine] + rng.normal(0, 0.6, (n_r, k))
    price_mult = np.array([CUISINES[c][1] for c in CUISINE_NAMES])[rest_cuisine]
    price_level = 22.0 * price_mult * rng.lognormal(0, 0.22, n_r)
    rest_log_price = np.log(price_level) - np.log(price_level).mean()
    hours_type = rng.choice(list(_HOURS_TYPES), n_r, p=[0.6, 0.25, 0.10, 0.05])
    hours_type[rest_cuisine == ci["breakfast"]] = "day"
    rest_open = np.zeros((n_r, 24), dtype=bool)
    for name, hours in _HOURS_TYPES.items():
        rest_open[np.ix_(hours_type == name, hours)] = True
    rest_radius = rng.choice(np.array([0, 1, 2]), n_r, p=list(config.radius_shares))
    prefix = rng.integers(len(_PREFIXES), size=n_r)
    rest_names = np.array(
        [f"{_PREFIXES[prefix[i]]} {CUISINE_NAMES[c].title()} {i}" for i, c in enumerate(rest_cuisine)], dtype=object
    )
    restaurant_ids = np.array([f"r{i:05d}" for i in range(n_r)], dtype=object)

    # items, sorted by restaurant then category
    mains = 3 + rng.poisson(max(1.0, config.dishes_per_restaurant * 0.5 - 3), n_r)
    desserts = rng.poisson(config.dishes_per_restaurant * 0.08, n_r)
    counts = np.stack([mains, 1 + rng.poisson(1.5, n_r), 1 + rng.poisson(1.5, n_r), desserts], axis=1)
    scale = config.dishes_per_restaurant / counts.sum(axis=1).mean()
    counts[:, 0] = np.maximum(3, np.round(counts[:, 0] * scale)).astype(np.int64)
    item_rest = np.repeat(np.repeat(np.arange(n_r), 4), counts.reshape(-1))
    item_cat = np.repeat(np.tile(np.arange(4), n_r), counts.reshape(-1))
    n_d = len(item_rest)
    item_pop = rng.normal(0, 0.9, n_d)
    item_latent = rng.normal(0, 0.7, (n_d, k))
    cat_mult = np.array([1.0, 0.38, 0.22, 0.45])[item_cat]
    item_price = np.round(price_level[item_rest] * cat_mult * rng.lognormal(0, 0.18, n_d), 1) - 0.01
    group = item_rest * 4 + item_cat
    log_p = np.log(item_price)
    group_mean = np.bincount(group, log_p, minlength=n_r * 4) / np.maximum(1, np.bincount(group, minlength=n_r * 4))
    item_log_price = log_p - group_mean[group]
    item_names = np.empty(n_d, dtype=object)
    for d in range(n_d):
        cat = item_cat[d]
        if cat == 0:
            words = CUISINES[CUISINE_NAMES[rest_cuisine[item_rest[d]]]][2]
            item_names[d] = _MODIFIERS[rng.integers(len(_MODIFIERS))] + words[rng.integers(len(words))]
        else:
            pool = (_SIDES, _DRINKS, _DESSERTS)[cat - 1]
            item_names[d] = pool[rng.integers(len(pool))]
    item_ids = np.array([f"i{i:06d}" for i in range(n_d)], dtype=object)

    # customers
    n_c = config.customers
    cust_home = rng.choice(len(xy), n_c, p=area_weight)
    business = _normalise(np.exp(-dist / max(nx, ny) * 3.0))
    cust_work = np.where(rng.random(n_c) < 0.35, rng.choice(len(xy), n_c, p=business), -1)
    cust_work[cust_work == cust_home] = -1
    cust_taste = rng.normal(0, 0.45, (n_c, k))
    cust_price_sens = rng.lognormal(np.log(0.9), 0.45, n_c)
    cust_loyalty = np.clip(rng.normal(config.loyalty_mean, 0.6, n_c), 0.5, 5.0)
    cust_dish_loyalty = np.clip(rng.normal(1.6, 0.5, n_c), 0.2, 3.0)
    # heavy tail (default city: median ~1 order a month, p99 ~16)
    cust_rate = rng.lognormal(config.rate_log_mean, config.rate_log_sd, n_c) / 30.0
    cust_join = np.where(rng.random(n_c) < 0.75, 0, rng.integers(1, max(2, config.days), n_c))
    base_slots = np.array([0.04, 0.36, 0.05, 0.52, 0.03])
    cust_slots = rng.dirichlet(base_slots * 8.0, n_c)
    customer_ids = np.array([f"c{i:07d}" for i in range(n_c)], dtype=object)

    return World(
        area_ids=area_ids, area_xy=xy, area_weight=area_weight,
        restaurant_ids=restaurant_ids, rest_area=rest_area, rest_cuisine=rest_cuisine, rest_quality=rest_quality,
        rest_latent=rest_latent, rest_log_price=rest_log_price, rest_open=rest_open, rest_radius=rest_radius,
        rest_chain=rest_chain, rest_names=rest_names,
        item_ids=item_ids, item_rest=item_rest, item_cat=item_cat, item_pop=item_pop, item_latent=item_latent,
        item_price=item_price, item_log_price=item_log_price, item_names=item_names,
        customer_ids=customer_ids, cust_home=cust_home, cust_work=cust_work, cust_taste=cust_taste,
        cust_price_sens=cust_price_sens, cust_loyalty=cust_loyalty, cust_dish_loyalty=cust_dish_loyalty,
        cust_rate=cust_rate, cust_join=cust_join, cust_slots=cust_slots,
        meal_cuisine=meal, weekend_cuisine=weekend, cuisine_latent=cuisine_latent, params=params,
    )  # fmt: skip


def _normalise(w: np.ndarray) -> np.ndarray:
    return w / w.sum()
