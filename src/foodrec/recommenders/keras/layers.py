"""Custom Keras layers of the foodrec ranker (Keras has no layer for these ideas).

* :class:`CyclicalEncoding` - local hour and day of week as points on circles, so 23:30 is close to 00:10.
* :class:`HistoryMatch` - for every candidate, how often and how recently the customer ordered it
  (a recency-weighted multi-hot history, read out per candidate).
* :class:`HistoryPooling` - a recency-weighted mean of the embeddings of the customer's past items.

All three use ``keras.ops`` only and serialise with ``get_config``; they are registered under the ``foodrec``
package so a saved model loads in safe mode.

Example:

>>> import numpy as np
>>> layer = HistoryMatch(half_lives=(7.0,))
>>> out = layer([np.array([[3, 5]]), np.array([[3, 3, 9]]), np.array([[1.0, 8.0, 2.0]], "float32")])
>>> [round(float(v), 3) for v in np.asarray(out)[0, 0]]     # candidate 3: log1p(count), decayed, recency
[1.099, 0.858, 0.977]
>>> [round(float(v), 3) for v in np.asarray(out)[0, 1]]     # candidate 5 never ordered
[0.0, 0.0, 0.0]
"""

from __future__ import annotations

import math
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
from keras import ops  # noqa: E402


@keras.saving.register_keras_serializable(package="foodrec")
class CyclicalEncoding(keras.layers.Layer):
    """Encode periodic values (e.g. ``[hour, day_of_week]``) as ``sin`` and ``cos`` of their phase.

    Args:
        periods: the period of each input column, e.g. ``(24.0, 7.0)``.

    Example:

    >>> import numpy as np
    >>> enc = CyclicalEncoding(periods=(24.0, 7.0))
    >>> np.round(np.asarray(enc(np.array([[6.0, 0.0]], "float32"))), 3).tolist()[0][::3]
    [1.0, 1.0]
    """

    def __init__(self, periods: tuple[float, ...] = (24.0, 7.0), **kwargs):
        super().__init__(**kwargs)
        self.periods = tuple(float(p) for p in periods)

    def call(self, inputs):
        phase = ops.cast(inputs, "float32") * ops.convert_to_tensor([2.0 * math.pi / p for p in self.periods])
        parts = []
        for j in range(len(self.periods)):
            parts += [ops.sin(phase[:, j : j + 1]), ops.cos(phase[:, j : j + 1])]
        return ops.concatenate(parts, axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 2 * len(self.periods))

    def get_config(self):
        return {**super().get_config(), "periods": list(self.periods)}


@keras.saving.register_keras_serializable(package="foodrec")
class HistoryMatch(keras.layers.Layer):
    """Per candidate item: ``log1p(count)``, ``log1p`` of recency-decayed counts, and recency of the last order.

    Inputs: ``[candidates (B, C) int, history (B, H) int, age (B, H) float days]``; index 0 is padding.
    Output: ``(B, C, 2 + len(half_lives))`` - count, one decayed count per half-life, and
    ``0.5 ** (days since last order / recency_half_life)`` (0 when never ordered).

    Args:
        half_lives: half-lives in days of the decayed counts.
        recency_half_life: half-life in days of the recency feature.
    """

    def __init__(self, half_lives: tuple[float, ...] = (7.0, 60.0), recency_half_life: float = 30.0, **kwargs):
        super().__init__(**kwargs)
        self.half_lives = tuple(float(h) for h in half_lives)
        self.recency_half_life = float(recency_half_life)

    def call(self, inputs):
        candidates, history, age = inputs
        match = ops.logical_and(
            ops.equal(ops.expand_dims(candidates, 2), ops.expand_dims(history, 1)),
            ops.expand_dims(ops.greater(history, 0), 1),
        )
        match = ops.cast(match, "float32")  # (B, C, H)
        age = ops.cast(age, "float32")  # (B, H)
        # Weights per history line first (B, H, k), then one batched matmul: no power over (B, C, H).
        weights = [ops.ones_like(age)] + [ops.power(0.5, age / h) for h in self.half_lives]
        sums = ops.log1p(ops.matmul(match, ops.stack(weights, axis=-1)))  # (B, C, 1 + len(half_lives))
        recency = ops.max(match * ops.expand_dims(ops.power(0.5, age / self.recency_half_life), 1), axis=2)
        return ops.concatenate([sums, ops.expand_dims(recency, -1)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], input_shape[0][1], 2 + len(self.half_lives))

    def get_config(self):
        return {
            **super().get_config(),
            "half_lives": list(self.half_lives),
            "recency_half_life": self.recency_half_life,
        }


@keras.saving.register_keras_serializable(package="foodrec")
class HistoryPooling(keras.layers.Layer):
    """Recency-weighted mean of history embeddings: ``sum(w * e) / sum(w)``, ``w = 0.5 ** (age / half_life)``.

    Inputs: ``[embeddings (B, H, d), history (B, H) int, age (B, H)]``; padding (index 0) has weight 0 and an
    empty history gives zeros.

    Example:

    >>> import numpy as np
    >>> pool = HistoryPooling(half_life=1.0)
    >>> e = np.array([[[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]]], "float32")
    >>> out = pool([e, np.array([[1, 2, 0]]), np.array([[0.0, 1.0, 0.0]], "float32")])
    >>> [round(float(v), 3) for v in np.asarray(out)[0]]
    [0.667, 0.333]
    """

    def __init__(self, half_life: float = 30.0, **kwargs):
        super().__init__(**kwargs)
        self.half_life = float(half_life)

    def call(self, inputs):
        emb, history, age = inputs
        w = ops.power(0.5, ops.cast(age, "float32") / self.half_life) * ops.cast(ops.greater(history, 0), "float32")
        total = ops.sum(w, axis=1, keepdims=True)
        return ops.sum(emb * ops.expand_dims(w, -1), axis=1) / ops.maximum(total, 1e-6)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], input_shape[0][2])

    def get_config(self):
        return {**super().get_config(), "half_life": self.half_life}


@keras.saving.register_keras_serializable(package="foodrec")
class RepeatCycle(keras.layers.Layer):
    """The repeat-cycle features of :mod:`foodrec.features.repeat` (repurchase cycle, exploration rate, day-of-week
    habits) computed from the network's own inputs with ``keras.ops``; the numpy ranker gathers the same counts with
    ``gather_numpy`` and both call ``repeat_features``.

    Inputs: ``[candidates (B, C) int, history (B, H) int, age (B, H) float days, clock (B, 2) [local hour, day],
    item_log_gap (B, C)]``. Output ``(B, C, n_repeat_features(groups))``.

    Args:
        groups: which feature groups to compute (of ``cycle``, ``explore``, ``dow``).

    Example:

    >>> import numpy as np
    >>> out = RepeatCycle()([np.array([[3, 5]]), np.array([[3, 4, 3, 0]]),
    ...     np.array([[2.0, 9.0, 16.0, 1e4]], "float32"), np.array([[12.0, 2.0]], "float32"),
    ...     np.log1p(np.full((1, 2), 14.0, "float32"))])
    >>> tuple(out.shape), round(float(np.asarray(out)[0, 0, 0]), 3)
    ((1, 2, 5), -1.17)
    """

    def __init__(self, groups: tuple[str, ...] = ("cycle", "explore", "dow"), **kwargs):
        super().__init__(**kwargs)
        self.groups = tuple(str(g) for g in groups)

    def call(self, inputs):
        from foodrec.features.repeat import EXPLORE_HALF_LIFE, PAD_SINCE, repeat_features

        cands, hist, age, clock, item_log_gap = inputs
        cands, hist = ops.cast(cands, "int32"), ops.cast(hist, "int32")
        age, clock = ops.cast(age, "float32"), ops.cast(clock, "float32")
        valid = ops.greater(hist, 0)
        validf = ops.cast(valid, "float32")
        changed = ops.not_equal(age[:, 1:], age[:, :-1])
        first = ops.logical_and(valid, ops.concatenate([ops.ones_like(changed[:, :1]), changed], axis=1))
        firstf = ops.cast(first, "float32")
        depth = ops.shape(hist)[1]
        older = ops.greater(ops.expand_dims(ops.arange(depth), 0), ops.expand_dims(ops.arange(depth), 1))
        same = ops.logical_and(ops.equal(ops.expand_dims(hist, 2), ops.expand_dims(hist, 1)), older)
        new = ops.cast(ops.logical_and(valid, ops.logical_not(ops.any(same, axis=2))), "float32")
        weight = ops.power(0.5, age / EXPLORE_HALF_LIFE) * validf
        day = ops.floor(clock[:, 1:2] + clock[:, 0:1] / 24.0 - age)
        same_dow = ops.cast(ops.equal(ops.mod(day, 7.0), clock[:, 1:2]), "float32") * validf
        same_item = ops.equal(ops.expand_dims(cands, 2), ops.expand_dims(hist, 1))
        match = ops.logical_and(same_item, ops.expand_dims(valid, 1))
        matchf = ops.cast(match, "float32")  # (B, C, H)
        n = {
            "n_orders": ops.sum(firstf, axis=1, keepdims=True),
            "span": ops.max(age * validf, axis=1, keepdims=True),
            "explore_new": ops.sum(weight * new, axis=1, keepdims=True),
            "explore_weight": ops.sum(weight, axis=1, keepdims=True),
            "n_dow": ops.sum(firstf * same_dow, axis=1, keepdims=True),
            "count": ops.sum(matchf, axis=2),
            "count_dow": ops.sum(matchf * ops.expand_dims(same_dow, 1), axis=2),
            "since": ops.min(ops.where(match, ops.expand_dims(age, 1), PAD_SINCE), axis=2),
        }
        return repeat_features(ops, n, ops.cast(item_log_gap, "float32"), self.groups)

    def compute_output_shape(self, input_shape):
        from foodrec.features.repeat import n_repeat_features

        return (input_shape[0][0], input_shape[0][1], n_repeat_features(self.groups))

    def get_config(self):
        return {**super().get_config(), "groups": list(self.groups)}
