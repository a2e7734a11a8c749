"""Repeat-cycle features: what repeat-driven logs reward, learned by the network rather than hand-weighted.

Per candidate item, from the customer's own history window (the same ``history_items``/``history_age`` the network
reads) and the item's return statistics (two popularity columns, looked up point in time in the feature view):

* ``cycle`` - the repurchase cycle: days since the customer last ordered this item against their own usual gap
  between orders, and against the item's typical return gap (both ``log1p(days) - log1p(gap)``; 0 when never
  ordered). "Due again" sits near 0, "just had it" far below, "lapsed" far above (ReCANet's repurchase-cycle idea).
* ``explore`` - the customer's exploration rate: the recency-weighted share of their past lines at an item they
  had not ordered before (smoothed towards 1/2), so the network can weigh novelty per customer.
* ``dow`` - day-of-week habits: the customer's share of orders on the query's local weekday (log-ratio to 1/7,
  smoothed) and how often they ordered this item on that weekday.
* ``return`` - the item's return rate and typical return gap: columns 7 and 8 of the popularity features
  (:func:`~foodrec.features.popularity.popularity_features`); listed here so one switch names each group.
* ``cold`` - the cold-start path: the restaurant's share of *first* orders in the area at this meal time (popularity
  column 9) and a separate head of the network that scores customers without history, trained on first orders
  only (``FoodrecRanker``).

One definition: :func:`gather_numpy` (numpy, ranking and training inputs' consumers) and the Keras layer
``RepeatCycle`` (``recommenders/keras/layers.py``) gather the same per-candidate counts, and both call
:func:`repeat_features` with ``xp`` = ``numpy`` or ``keras.ops``; a parity test covers every feature. A query at
time ``t`` sees only history lines before ``t`` (the window is point in time) and popularity snapshots before
``t``.

>>> import numpy as np
>>> cands = np.array([[3, 5]])
>>> hist, age = np.array([[3, 4, 3, 0]]), np.array([[2.0, 9.0, 16.0, 1e4]], np.float32)
>>> clock = np.array([[12.0, 2.0]], np.float32)           # Wednesday noon; the lines were Mon, Sun, Mon
>>> n = gather_numpy(cands, hist, age, clock)
>>> n["count"].tolist(), n["since"].tolist(), n["n_orders"].tolist()
([[2.0, 0.0]], [[2.0, 10000.0]], [[3.0]])
>>> f = repeat_features(np, n, item_log_gap=np.log1p(np.full((1, 2), 14.0)))
>>> f.shape, round(float(f[0, 0, 0]), 3), float(f[0, 1, 0])   # item 3: 2 days ago, usual gap (16 + 10) / 3 days
((1, 2, 5), -1.17, 0.0)
"""

from __future__ import annotations

import numpy as np

from foodrec.features.history import BatchTables

# Feature groups in the network's input order, with their number of columns (``return`` lives in popularity).
REPEAT_GROUPS: dict[str, int] = {"cycle": 2, "explore": 1, "dow": 2}
ALL_GROUPS = ("cycle", "explore", "return", "dow", "cold")
RETURN_COLUMNS = (7, 8)  # popularity feature columns: the item's log return rate and log1p typical return gap
COLD_COLUMN = 9  # popularity feature column: the restaurant's share of first orders in area x meal time


def popularity_columns(groups: tuple[str, ...]) -> list[int]:
    """The popularity columns a network with feature ``groups`` reads (``return`` and ``cold`` add theirs).

    >>> popularity_columns(("cycle",)), popularity_columns(ALL_GROUPS)
    ([0, 1, 2, 3, 4, 5, 6], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    """
    return [*range(7), *(RETURN_COLUMNS if "return" in groups else ()), *((COLD_COLUMN,) if "cold" in groups else ())]


PAD_SINCE = 1e4  # "never ordered" (days), as the history's padding age
PRIOR_GAP_DAYS = 10.0  # the usual gap of a customer with one order (and the weight of one gap)
EXPLORE_HALF_LIFE = 30.0


def n_repeat_features(groups: tuple[str, ...]) -> int:
    """Columns :func:`repeat_features` returns for ``groups`` (``return`` adds none here)."""
    return sum(REPEAT_GROUPS.get(g, 0) for g in groups)


def repeat_features(xp, n: dict, item_log_gap, groups: tuple[str, ...] = ALL_GROUPS, out=None):
    """The one definition: ``(B, C, n_repeat_features(groups))`` from gathered counts ``n`` (see
    :func:`gather_numpy` for the keys) and the items' ``log1p`` typical return gap ``(B, C)``. ``out`` (numpy
    only): an array of that shape to fill instead of stacking a new one."""
    count, since = n["count"], n["since"]
    has = xp.cast(count > 0, "float32") if xp is not np else (count > 0).astype(np.float32)
    ones = xp.ones_like(count)
    log_since = xp.log1p(xp.minimum(since, PAD_SINCE)) * has
    gap = (n["span"] + PRIOR_GAP_DAYS) / (xp.maximum(n["n_orders"] - 1.0, 0.0) + 1.0)  # (B, 1)
    columns = []
    if "cycle" in groups:
        columns += [log_since - xp.log1p(gap) * has, log_since - item_log_gap * has]
    if "explore" in groups:
        columns.append(((n["explore_new"] + 1.0) / (n["explore_weight"] + 2.0)) * ones)
    if "dow" in groups:
        share = (n["n_dow"] + 2.0 / 7.0) / (n["n_orders"] + 2.0)
        columns += [(xp.log(share) + float(np.log(7.0))) * ones, xp.log1p(n["count_dow"])]
    if out is not None:
        for j, column in enumerate(columns):
            out[..., j] = column
        return out
    if not columns:
        return xp.zeros_like(xp.expand_dims(count, -1))[..., :0]
    return xp.stack(columns, axis=-1)


def line_flags(hist: np.ndarray, age: np.ndarray, clock: np.ndarray, tables: BatchTables) -> dict[str, np.ndarray]:
    """Per history line (numpy): valid, first line of its order, new (the item is not in an older line: from the
    batch's ``tables``), the recency weight and whether it fell on the query's local weekday."""
    valid = hist > 0
    age = age.astype(np.float32)
    first = valid.copy()
    first[:, 1:] &= age[:, 1:] != age[:, :-1]  # lines of one order share their age (newest first)
    weight = np.zeros_like(age)
    # Valid lines only: a padding line's weight is 0 anyway, and 0.5 ** (1e4 / 30) underflows (slow in numpy).
    weight[valid] = np.power(np.float32(0.5), age[valid] / np.float32(EXPLORE_HALF_LIFE))
    day = np.floor(clock[:, 1:2] + clock[:, 0:1] / np.float32(24.0) - age)
    same_dow = valid & (np.mod(day, 7.0) == clock[:, 1:2])
    return {"valid": valid, "first": first, "new": tables.new, "weight": weight, "same_dow": same_dow}


def gather_numpy(
    cands: np.ndarray, hist: np.ndarray, age: np.ndarray, clock: np.ndarray, tables: BatchTables | None = None
) -> dict[str, np.ndarray]:
    """The counts :func:`repeat_features` reads, by scattering each row's history into per-row tables (no
    ``(B, C, H)`` tensor). Per query ``(B, 1)``: ``n_orders``, ``span`` (age of the oldest line), ``explore_new``,
    ``explore_weight``, ``n_dow``; per candidate ``(B, C)``: ``count``, ``since`` (days, ``PAD_SINCE`` if never),
    ``count_dow``. ``tables``: the batch's :class:`~foodrec.features.history.BatchTables` of ``hist`` and
    ``cands`` when the caller has them already."""
    tables = BatchTables(hist, cands) if tables is None else tables
    f = line_flags(hist, age, clock, tables)
    age = age.astype(np.float32)
    n = {
        "n_orders": f["first"].sum(1, keepdims=True).astype(np.float32),
        "span": np.where(f["valid"], age, 0.0).max(1, keepdims=True, initial=0.0).astype(np.float32),
        "explore_new": (f["weight"] * f["new"]).sum(1, keepdims=True).astype(np.float32),
        "explore_weight": f["weight"].sum(1, keepdims=True).astype(np.float32),
        "n_dow": (f["first"] & f["same_dow"]).sum(1, keepdims=True).astype(np.float32),
    }
    # Counts are whole numbers (exact in any float); padding candidates read the never-written cells (0, PAD_SINCE).
    n["count"] = tables.count.astype(np.float32)
    n["count_dow"] = tables.sum(tables.lines(f["same_dow"]).astype(np.float64)).astype(np.float32)
    n["since"] = tables.reduce(np.minimum, tables.lines(age), np.float32(PAD_SINCE))
    return n
