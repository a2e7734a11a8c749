"""The saved Keras model that takes raw inputs: ids as strings, times as unix seconds.

``KerasRecommender.raw_model()`` builds it and ``.save("serving_model.keras")`` exports it. ``model.keras`` is the bare
network (:class:`~foodrec.recommenders.keras.model.FoodrecRanker`), whose inputs are integer indices and features
that :class:`~foodrec.recommenders.keras.inputs.InputBuilder` computes in numpy. ``serving_model.keras`` wraps the
same network (same weights) with the preprocessing inside, so the file alone answers a query:

* ``keras.layers.StringLookup`` for customers, areas and items (an unknown id is index 0, as in ``features.Vocab``);
* :class:`LocalClock` - local hour, day of week and meal time from the unix time, in the data's time zone
  (daylight saving included: the zone's UTC offsets from 1970 to 2100 are a table inside the layer);
* :class:`HistoryWindow` - the customer's ``depth`` most recent lines before the query time and their ages;
* :class:`IndexTable` - the item -> restaurant map (non-trainable);
* :class:`PopularityFeatures` - the popularity features, from the newest snapshot of the feature view bound
  at export time
  (non-trainable tables, exactly as ``load_recommender(dir).recommend`` uses them);
* :class:`ColdStart`, :class:`Catalogue` and :class:`TopK` - small glue: a customer without history is scored as
  unknown (as in training), the whole catalogue as candidates, the best ``k`` at the end.

Inputs (a dict; ``B`` queries, any history length ``H``, pad with ``""``):

=================  ================  ===========================================================================
name               dtype, shape      meaning
=================  ================  ===========================================================================
``customer_id``    string ``(B,)``   raw customer id (unknown or ``""``: the cold-start path)
``area``           string ``(B,)``   delivery area of the query
``at``             int64 ``(B,)``    query time, unix seconds (UTC)
``history_items``  string ``(B,H)``  the customer's past order lines (item ids; restaurant ids at restaurant level)
``history_at``     int64 ``(B,H)``   their order times, unix seconds; lines at or after ``at`` are ignored
``candidates``     string ``(B,C)``  only when the catalogue is larger than ``full_max`` (retrieval): the items to rank
=================  ================  ===========================================================================

The history is an input, not a table in the model, so a feature store keeps it fresh without retraining. The
model reads the ``depth`` (50 by default) most recent lines before ``at``; lines with unknown items count as
padding. Outputs: ``items`` (B, k) strings and ``scores`` (B, k), best first (``""`` / ``-inf`` where there are
fewer than ``k`` candidates), and ``candidate_scores`` (B, C): every candidate's score, in vocabulary order for
the whole catalogue (``model.get_layer("item_lookup").get_vocabulary()[1:]``) or in the order of ``candidates``.

Load it with safe mode after importing this module (it registers the layers)::

    import keras
    import foodrec.recommenders.keras.raw_model  # noqa: F401  registers the foodrec layers
    model = keras.saving.load_model("runs/demo/model/serving_model.keras", safe_mode=True)

``KerasRecommender.raw_inputs(queries)`` builds these inputs from the bound feature view (what the tests compare
against ``recommend``); serving itself keeps the faster numpy path.

>>> import numpy as np
>>> clock, meal = LocalClock("Europe/Berlin")(np.array([1_783_000_800]))   # 2026-07-02 14:00 UTC
>>> np.asarray(clock).tolist(), np.asarray(meal).tolist()                 # 16:00 local, a Thursday: afternoon
([[16.0, 3.0]], [2])
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from keras import ops  # noqa: E402

from foodrec.data.time_features import _HOUR_TO_MEAL  # noqa: E402
from foodrec.features.clock import N_HOURS, N_MEALS  # noqa: E402
from foodrec.features.history import PAD_AGE  # noqa: E402
from foodrec.features.popularity import N_POP_FEATURES, Popularity, popularity_features  # noqa: E402
from foodrec.features.vocabulary import FeatureSpace  # noqa: E402
from foodrec.recommenders.keras.model import FoodrecRanker, example_inputs  # noqa: E402

RAW_MODEL_FILE = "serving_model.keras"
_DAY_S = 86_400
_EPOCH_DOW = 3  # 1970-01-01 was a Thursday (Monday = 0)


def utc_offsets(timezone: str, first_year: int = 1970, last_year: int = 2100) -> tuple[np.ndarray, np.ndarray]:
    """``(starts, offsets)``: from unix second ``starts[j]`` on, local time is UTC + ``offsets[j]`` seconds.

    >>> starts, offsets = utc_offsets("Europe/Berlin", 2026, 2026)
    >>> offsets.tolist(), pd.to_datetime(starts[1:], unit="s").strftime("%m-%d %H:%M").tolist()
    ([3600, 7200, 3600], ['03-29 01:00', '10-25 01:00'])
    """
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(timezone)
    lo = int(pd.Timestamp(f"{first_year}-01-01", tz="UTC").timestamp())
    hi = int(pd.Timestamp(f"{last_year + 1}-01-01", tz="UTC").timestamp())
    grid = np.arange(lo, hi + 1, 6 * 3600, dtype=np.int64)  # every 6 h; zones change offset at most that often

    def offset(ts: int) -> int:
        return int(pd.Timestamp(ts, unit="s", tz="UTC").astimezone(zone).utcoffset().total_seconds())

    local = pd.to_datetime(grid, unit="s", utc=True).tz_convert(zone)
    offs = ((local.tz_localize(None) - local.tz_convert("UTC").tz_localize(None)).total_seconds()).to_numpy()
    offs = offs.astype(np.int64)
    starts, values = [np.iinfo(np.int64).min // 4], [int(offs[0])]
    for j in np.flatnonzero(np.diff(offs) != 0):
        a, b = int(grid[j]), int(grid[j + 1])  # offset(a) != offset(b): bisect to the second of the change
        while b - a > 1:
            mid = (a + b) // 2
            a, b = (mid, b) if offset(mid) == offs[j] else (a, mid)
        starts.append(b)
        values.append(int(offs[j + 1]))
    return np.asarray(starts, np.int64), np.asarray(values, np.int64)


@keras.saving.register_keras_serializable(package="foodrec")
class LocalClock(keras.layers.Layer):
    """Unix seconds -> local ``[hour, day_of_week]`` (float32, hour to the minute) and meal-time code (int32).

    The same values as ``features.local_clock`` (pandas): hour = local hour + minute / 60, Monday = 0, meal times
    as in ``foodrec.data.time_features``.

    Args:
        timezone: IANA time zone of the data, e.g. ``"America/Los_Angeles"``.
        first_year, last_year: the years whose UTC offsets are tabulated (outside: the nearest year's offset).

    Example:

    >>> import numpy as np
    >>> clock, meal = LocalClock("UTC")(np.array([0, 86_400 * 4 + 3600 * 12 + 30 * 60]))
    >>> np.asarray(clock).tolist(), np.asarray(meal).tolist()   # 1970-01-01 00:00 Thu, 1970-01-05 12:30 Mon
    ([[0.0, 3.0], [12.5, 0.0]], [4, 1])
    """

    def __init__(self, timezone: str = "UTC", first_year: int = 1970, last_year: int = 2100, **kwargs):
        super().__init__(**kwargs)
        self.timezone, self.first_year, self.last_year = str(timezone), int(first_year), int(last_year)
        self._starts, self._offsets = utc_offsets(self.timezone, self.first_year, self.last_year)

    def build(self, input_shape):
        self.built = True  # the offset table is derived from the config, no weights

    def call(self, at):
        at = ops.cast(at, "int64")
        j = ops.searchsorted(ops.convert_to_tensor(self._starts), at, side="right") - 1
        local = at + ops.take(ops.convert_to_tensor(self._offsets), ops.maximum(j, 0))
        day = ops.floor_divide(local, _DAY_S)
        minute = ops.floor_divide(local - day * _DAY_S, 60)
        hour = ops.cast(ops.cast(minute, "float64") / 60.0, "float32")
        dow = ops.cast(ops.mod(day + _EPOCH_DOW, 7), "float32")
        meal = ops.take(ops.convert_to_tensor(_HOUR_TO_MEAL.astype(np.int32)), ops.floor_divide(minute, 60))
        return ops.stack([hour, dow], axis=-1), meal

    def compute_output_shape(self, input_shape):
        return (*input_shape, 2), tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "timezone": self.timezone,
            "first_year": self.first_year,
            "last_year": self.last_year,
        }


@keras.saving.register_keras_serializable(package="foodrec")
class HistoryWindow(keras.layers.Layer):
    """The ``depth`` most recent history lines before the query time, and their ages in days.

    Inputs: ``[items (B, H) int (0 = padding/unknown), times (B, H) int64 unix s, at (B,) int64 unix s]``.
    Output: ``[items (B, depth) int32, ages (B, depth) float32]``, most recent first; lines at or after ``at`` and
    padding give item 0 and age ``1e4`` (as ``History.gather``). Ties in time keep the input order.

    Args:
        depth: how many lines to keep (the model's training depth).

    Example:

    >>> import numpy as np
    >>> items, ages = HistoryWindow(depth=3)([np.array([[4, 0, 7, 9]]),
    ...     np.array([[86_400, 0, 2 * 86_400, 9 * 86_400]]), np.array([3 * 86_400])])
    >>> np.asarray(items).tolist(), np.asarray(ages).tolist()   # 9 is in the future, 0 is padding
    ([[7, 4, 0]], [[1.0, 2.0, 10000.0]])
    """

    def __init__(self, depth: int = 50, **kwargs):
        super().__init__(**kwargs)
        self.depth = int(depth)

    def build(self, input_shape):
        self.built = True

    def call(self, inputs):
        items, times, at = inputs
        if None not in (items.shape[-1], times.shape[-1]) and items.shape[-1] != times.shape[-1]:
            raise ValueError(
                f"history_items and history_at must have the same shape, got {tuple(items.shape)} and "
                f"{tuple(times.shape)}: one order time per history line (pad both)"
            )
        items = ops.cast(items, "int32")
        times = ops.cast(times, "int64")
        at = ops.expand_dims(ops.cast(at, "int64"), 1)
        valid = ops.logical_and(ops.greater(items, 0), ops.less(times, at))
        key = ops.where(valid, ops.cast(times, "float64"), float("-inf"))
        pad = ops.zeros_like(key[:, :1])  # (B, 1): pad to at least `depth` columns so top_k always fits
        pad = ops.repeat(pad, self.depth, axis=1)
        key = ops.concatenate([key, pad + float("-inf")], axis=1)
        items = ops.concatenate([items, ops.cast(pad, "int32")], axis=1)
        times = ops.concatenate([times, ops.cast(pad, "int64")], axis=1)
        valid = ops.concatenate([valid, ops.cast(pad, "bool")], axis=1)
        _, idx = ops.top_k(key, self.depth)  # largest times first; ties: lower index first
        valid = ops.take_along_axis(valid, idx, axis=1)
        items = ops.where(valid, ops.take_along_axis(items, idx, axis=1), 0)
        age = ops.cast(at - ops.take_along_axis(times, idx, axis=1), "float64") / float(_DAY_S)
        return items, ops.where(valid, ops.cast(age, "float32"), PAD_AGE)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], self.depth), (input_shape[0][0], self.depth)

    def get_config(self):
        return {**super().get_config(), "depth": self.depth}


@keras.saving.register_keras_serializable(package="foodrec")
class IndexTable(keras.layers.Layer):
    """A fixed int table read by index, e.g. item index -> restaurant index; indices outside it read entry 0.

    Args:
        size: number of entries. The values are a non-trainable weight: set them with ``set_table``.

    Example:

    >>> import numpy as np
    >>> table = IndexTable(size=3)
    >>> table.set_table(np.array([0, 5, 7]))
    >>> np.asarray(table(np.array([[2, 1, 0, 9]]))).tolist()
    [[7, 5, 0, 0]]
    """

    def __init__(self, size: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.size = int(size)

    def build(self, input_shape=None):
        self.table = self.add_weight(
            shape=(self.size,), dtype="int32", initializer="zeros", trainable=False, name="table"
        )
        self.built = True

    def set_table(self, values: np.ndarray) -> None:
        if not self.built:
            self.build()
        self.table.assign(np.asarray(values, np.int32))

    def call(self, indices):
        indices = ops.cast(indices, "int32")
        inside = ops.logical_and(ops.greater_equal(indices, 0), ops.less(indices, self.size))
        return ops.take(self.table, ops.where(inside, indices, 0))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "size": self.size}


@keras.saving.register_keras_serializable(package="foodrec")
class PopularityFeatures(keras.layers.Layer):
    """``Popularity.features`` of one snapshot as a layer: per candidate, ten popularity features.

    Inputs: ``[area (B,) int, meal (B,) int, clock (B, 2) float (local hour, day), candidates (B, C) int]``.
    Output ``(B, C, 10)``: logs of smoothed shares (item global, item in area, its restaurant in area x meal time,
    short/long trend, item within its restaurant, restaurant in area), the hour lift of its restaurant, the
    item's return rate and typical return gap, and its restaurant's share of first orders in area x meal time.
    The counts are non-trainable weights, set from a :class:`~foodrec.features.popularity.Popularity`
    with ``set_popularity`` (its last snapshot).

    Args:
        n_items, n_areas, n_restaurants: table sizes (index 0 included). n_meals: meal-time codes.
        smoothing, hour_smoothing: pseudo-counts of the area/meal and hour shares (as ``Popularity.features``).
    """

    _SHAPES = {
        "glob": ("i",),
        "short": ("i",),
        "area": ("a", "i"),
        "rest_area": ("a", "r"),
        "rest_area_meal": ("a", "m", "r"),
        "glob_tot": (),
        "short_tot": (),
        "area_tot": ("a",),
        "rest_area_tot": ("a",),
        "rest_area_meal_tot": ("a", "m"),
        "rest_glob": ("r",),
        "rest_size": ("r",),
        "rest_hour": ("r", "h"),
        "rest_hour_tot": ("r",),
        "city_hour_share": ("h",),
        "ret": ("i",),
        "ret_gap": ("i",),
        "ret_tot": (),
        "ret_gap_tot": (),
        "first_area_meal": ("a", "m", "r"),
        "first_tot": ("a", "m"),
    }

    def __init__(
        self,
        n_items: int = 1,
        n_areas: int = 1,
        n_restaurants: int = 1,
        n_meals: int = N_MEALS,
        smoothing: float = 20.0,
        hour_smoothing: float = 1.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.n_items, self.n_areas, self.n_restaurants = int(n_items), int(n_areas), int(n_restaurants)
        self.n_meals, self.smoothing, self.hour_smoothing = int(n_meals), float(smoothing), float(hour_smoothing)

    def build(self, input_shape=None):
        dims = {"i": self.n_items, "a": self.n_areas, "r": self.n_restaurants, "m": self.n_meals, "h": N_HOURS}
        self.tables = {
            name: self.add_weight(shape=tuple(dims[d] for d in shape), initializer="zeros", trainable=False, name=name)
            for name, shape in self._SHAPES.items()
        }
        self.item_restaurant = self.add_weight(
            shape=(self.n_items,), dtype="int32", initializer="zeros", trainable=False, name="item_restaurant"
        )
        self.built = True

    def set_popularity(self, pop: Popularity) -> None:
        """Copy the last snapshot of ``pop`` (and the totals ``Popularity.features`` divides by)."""
        if not self.built:
            self.build()
        k = len(pop.times) - 1
        values = {
            "glob": pop.glob[k],
            "short": pop.short[k],
            "area": pop.area[k],
            "rest_area": pop.rest_area[k],
            "rest_area_meal": pop.rest_area_meal[k],
            "glob_tot": pop._glob_tot[k],
            "short_tot": pop._short_tot[k],
            "area_tot": pop._area_tot[k],
            "rest_area_tot": pop._rest_area_tot[k],
            "rest_area_meal_tot": pop._rest_area_meal_tot[k],
            "rest_glob": pop._rest_glob[k],
            "rest_size": pop._rest_size,
            "rest_hour": pop.rest_hour[k],
            "rest_hour_tot": pop._rest_hour_tot[k],
            "city_hour_share": pop._city_hour_share[k],
            "ret": pop.ret[k],
            "ret_gap": pop.ret_gap[k],
            "ret_tot": pop._ret_tot[k],
            "ret_gap_tot": pop._ret_gap_tot[k],
            "first_area_meal": pop.first_area_meal[k],
            "first_tot": pop._first_tot[k],
        }
        for name, var in self.tables.items():
            var.assign(np.asarray(values[name], np.float32).reshape(var.shape))
        self.item_restaurant.assign(np.asarray(pop.item_restaurant, np.int32))

    def call(self, inputs):
        area, meal, clock, cands = inputs
        area, meal, cands = (ops.cast(x, "int32") for x in (area, meal, cands))
        hour = ops.clip(ops.cast(ops.floor(ops.cast(clock, "float32")[:, 0]), "int32"), 0, N_HOURS - 1)
        t = self.tables
        a = ops.expand_dims(area, 1)  # (B, 1)
        am = a * self.n_meals + ops.expand_dims(meal, 1)
        h = ops.expand_dims(hour, 1)
        r = ops.take(self.item_restaurant, cands)  # (B, C)
        flat = lambda name: ops.reshape(t[name], (-1,))  # noqa: E731
        counts = {
            "glob": ops.take(t["glob"], cands),
            "glob_tot": t["glob_tot"],
            "short": ops.take(t["short"], cands),
            "short_tot": t["short_tot"],
            "area": ops.take(flat("area"), a * self.n_items + cands),
            "area_tot": ops.take(t["area_tot"], a),
            "rest_glob": ops.take(t["rest_glob"], r),
            "rest_size": ops.take(t["rest_size"], r),
            "rest_area": ops.take(flat("rest_area"), a * self.n_restaurants + r),
            "rest_area_tot": ops.take(t["rest_area_tot"], a),
            "rest_area_meal": ops.take(flat("rest_area_meal"), am * self.n_restaurants + r),
            "rest_area_meal_tot": ops.take(flat("rest_area_meal_tot"), am),
            "rest_hour": ops.take(flat("rest_hour"), r * N_HOURS + h),
            "rest_hour_tot": ops.take(t["rest_hour_tot"], r),
            "city_hour_share": ops.take(t["city_hour_share"], h),
            "ret": ops.take(t["ret"], cands),
            "ret_gap": ops.take(t["ret_gap"], cands),
            "ret_tot": t["ret_tot"],
            "ret_gap_tot": t["ret_gap_tot"],
            "first_ram": ops.take(flat("first_area_meal"), am * self.n_restaurants + r),
            "first_ram_tot": ops.take(flat("first_tot"), am),
        }
        return popularity_features(
            ops, counts, float(self.n_items), float(self.n_restaurants), self.smoothing, self.hour_smoothing
        )

    def compute_output_shape(self, input_shape):
        return (*input_shape[3], N_POP_FEATURES)

    def get_config(self):
        return {
            **super().get_config(),
            "n_items": self.n_items,
            "n_areas": self.n_areas,
            "n_restaurants": self.n_restaurants,
            "n_meals": self.n_meals,
            "smoothing": self.smoothing,
            "hour_smoothing": self.hour_smoothing,
        }


@keras.saving.register_keras_serializable(package="foodrec")
class ColdStart(keras.layers.Layer):
    """The customer index where the customer has history, else 0 (unknown): the model learned cold start so.

    Inputs: ``[customer (B,) int, history (B, H) int]``. Output ``(B,)`` int32.

    Example:

    >>> import numpy as np
    >>> np.asarray(ColdStart()([np.array([3, 4]), np.array([[0, 0], [2, 0]])])).tolist()
    [0, 4]
    """

    def build(self, input_shape):
        self.built = True

    def call(self, inputs):
        customer, history = inputs
        has = ops.any(ops.greater(history, 0), axis=1)
        return ops.where(has, ops.cast(customer, "int32"), 0)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])


@keras.saving.register_keras_serializable(package="foodrec")
class Catalogue(keras.layers.Layer):
    """Every item index ``1..n_items`` as the candidates of each query: ``(B,)`` -> ``(B, n_items)`` int32.

    Args:
        n_items: catalogue size (without the padding index 0).

    Example:

    >>> import numpy as np
    >>> np.asarray(Catalogue(n_items=3)(np.zeros(2))).tolist()
    [[1, 2, 3], [1, 2, 3]]
    """

    def __init__(self, n_items: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.n_items = int(n_items)

    def build(self, input_shape):
        self.built = True

    def call(self, reference):
        ones = ops.ones_like(ops.cast(ops.expand_dims(reference, 1), "int32"))  # (B, 1)
        return ones * ops.expand_dims(ops.arange(1, self.n_items + 1, dtype="int32"), 0)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n_items)

    def get_config(self):
        return {**super().get_config(), "n_items": self.n_items}


@keras.saving.register_keras_serializable(package="foodrec")
class TopK(keras.layers.Layer):
    """The ``k`` best candidates per row, best first.

    Inputs: ``[candidates (B, C) int (0 = padding), scores (B, C)]``. Outputs: ``[items (B, k) int32, scores (B, k),
    candidate_scores (B, C)]``; padding scores ``-inf`` and, where there are fewer than ``k`` candidates, the rest
    of the row is item 0 with score ``-inf``.

    Args:
        k: how many to return.

    Example:

    >>> import numpy as np
    >>> items, scores, _ = TopK(k=3)([np.array([[5, 6, 0]]), np.array([[0.5, 2.0, 9.0]], "float32")])
    >>> np.asarray(items).tolist(), np.asarray(scores).tolist()
    ([[6, 5, 0]], [[2.0, 0.5, -inf]])
    """

    def __init__(self, k: int = 10, **kwargs):
        super().__init__(**kwargs)
        self.k = int(k)

    def build(self, input_shape):
        self.built = True

    def call(self, inputs):
        cands, scores = inputs
        cands = ops.cast(cands, "int32")
        masked = ops.where(ops.greater(cands, 0), ops.cast(scores, "float32"), float("-inf"))
        pad = ops.repeat(ops.zeros_like(masked[:, :1]), self.k, axis=1)
        top_scores, idx = ops.top_k(ops.concatenate([masked, pad + float("-inf")], axis=1), self.k)
        top = ops.take_along_axis(ops.concatenate([cands, ops.cast(pad, "int32")], axis=1), idx, axis=1)
        return ops.where(ops.isfinite(top_scores), top, 0), top_scores, masked

    def compute_output_shape(self, input_shape):
        b = input_shape[0][0]
        return (b, self.k), (b, self.k), tuple(input_shape[0])

    def get_config(self):
        return {**super().get_config(), "k": self.k}


def build_raw_model(
    ranker: Any, space: FeatureSpace, popularity: Popularity, depth: int, full: bool, k: int = 10
) -> keras.Model:
    """A functional model around the trained ``ranker`` (weights shared) that takes raw ids and unix times.

    ``full``: score the whole catalogue; otherwise the model takes ``candidates`` (raw item ids) as an input.
    """
    # An uncompiled copy of the trained network: the file then needs no loss or optimizer to load.
    trained, ranker = ranker, FoodrecRanker.from_config(ranker.get_config())
    ranker(example_inputs(batch=1, candidates=2, depth=2, n_items=2))
    ranker.set_weights(trained.get_weights())

    def lookup(vocab, name):
        return keras.layers.StringLookup(
            vocabulary=[str(v) for v in vocab.ids], num_oov_indices=1, mask_token=None, name=name
        )

    inputs = {
        "customer_id": keras.Input((), dtype="string", name="customer_id"),
        "area": keras.Input((), dtype="string", name="area"),
        "at": keras.Input((), dtype="int64", name="at"),
        "history_items": keras.Input((None,), dtype="string", name="history_items"),
        "history_at": keras.Input((None,), dtype="int64", name="history_at"),
    }
    if not full:
        inputs["candidates"] = keras.Input((None,), dtype="string", name="candidates")
    items = lookup(space.items, "item_lookup")
    customer = lookup(space.customers, "customer_lookup")(inputs["customer_id"])
    area = lookup(space.areas, "area_lookup")(inputs["area"])
    clock, meal = LocalClock(space.timezone, name="local_clock")(inputs["at"])
    hist, age = HistoryWindow(depth, name="history_window")(
        [items(inputs["history_items"]), inputs["history_at"], inputs["at"]]
    )
    cands = Catalogue(len(space.items) - 1, name="catalogue")(inputs["at"]) if full else items(inputs["candidates"])
    item_restaurant = IndexTable(len(space.item_restaurant), name="item_restaurant")
    pop_layer = PopularityFeatures(len(space.items), len(space.areas), len(space.restaurants), name="popularity")
    features = {
        "customer": ColdStart(name="cold_start")([customer, hist]),
        "area": area,
        "clock": clock,
        "candidates": cands,
        "candidate_restaurants": item_restaurant(cands),
        "history_items": hist,
        "history_restaurants": item_restaurant(hist),
        "history_age": age,
        "popularity": pop_layer([area, meal, clock, cands]),
    }
    top, top_scores, cand_scores = TopK(k, name="top_k")([cands, ranker(features)])
    names = keras.layers.StringLookup(
        vocabulary=[str(v) for v in space.items.ids],
        num_oov_indices=1,
        mask_token=None,
        oov_token="",
        invert=True,
        name="item_names",
    )
    outputs = {"items": names(top), "scores": top_scores, "candidate_scores": cand_scores}
    item_restaurant.set_table(space.item_restaurant)
    pop_layer.set_popularity(popularity)
    return keras.Model(inputs, outputs, name="foodrec_raw_ranker")


def load_raw_model(path: str | os.PathLike[str]) -> keras.Model:
    """``keras.saving.load_model`` in safe mode (this module's import registers the layers it needs)."""
    return keras.saving.load_model(Path(path), safe_mode=True, compile=False)
