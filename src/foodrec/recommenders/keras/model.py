"""The Keras ranking model: scores candidate items for a (customer, area, time) query.

For each candidate the score combines

* what the customer did with it (:class:`~foodrec.recommenders.keras.layers.HistoryMatch`: count, decayed
  counts, recency; at dish level also the same for the dish's restaurant),
* how popular it is now (global, area, area x meal time, short-term trend) and whether its restaurant takes
  orders at this local hour (its orders' hour profile against the city's),
* a learned affinity: the dot product of the item's embedding with a context vector built from the customer's
  embedding, the area's, the cyclical time of day / day of week and the pooled embeddings of the customer's past
  items (so customers with history but few training examples still get a representation),
* a learned item bias,

through a small MLP (Dropout, L2). Training uses softmax cross-entropy over the candidates of each order.

>>> import numpy as np
>>> model = FoodrecRanker(n_customers=3, n_areas=2, n_items=5, n_restaurants=3, dim=4, hidden=8)
>>> inputs = example_inputs(batch=2, candidates=5, depth=3)
>>> tuple(model(inputs).shape)
(2, 5)
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

from foodrec.features.popularity import N_POP_FEATURES  # noqa: E402
from foodrec.features.repeat import ALL_GROUPS, REPEAT_GROUPS, RETURN_COLUMNS, popularity_columns  # noqa: E402
from foodrec.recommenders.keras.layers import CyclicalEncoding, HistoryMatch, HistoryPooling, RepeatCycle  # noqa: E402

MASK_VALUE = -1e9


@keras.saving.register_keras_serializable(package="foodrec")
class FoodrecRanker(keras.Model):
    """Candidate scorer; ``call`` takes the dict built by ``BatchBuilder`` and returns logits ``(B, C)``.

    Args:
        n_customers, n_areas, n_items, n_restaurants: vocabulary sizes including index 0 (unknown/padding).
        dim: embedding size. hidden: width of the first MLP layer. dropout: dropout rate. l2: L2 penalty.
        dish: whether candidates are dishes (adds restaurant-level history features).
        extras: the repeat feature groups it reads (``features/repeat.py``: cycle, explore, return, dow) and
            ``cold``, the cold-start head: customers without history are scored by a head of their own (context,
            popularity, first-order popularity, the context x item affinity; a hidden layer, a linear path and an
            item bias of its own) that only first orders train; the ablation benchmark switches each off.
    """

    def __init__(
        self,
        n_customers: int,
        n_areas: int,
        n_items: int,
        n_restaurants: int,
        dim: int = 32,
        hidden: int = 64,
        dropout: float = 0.2,
        l2: float = 1e-5,
        dish: bool = False,
        extras: tuple[str, ...] = ALL_GROUPS,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.n_customers, self.n_areas, self.n_items, self.n_restaurants = n_customers, n_areas, n_items, n_restaurants
        self.dim, self.hidden, self.dropout_rate, self.l2, self.dish = dim, hidden, dropout, l2, dish
        self.extras = tuple(g for g in ALL_GROUPS if g in extras)
        history_groups = tuple(g for g in self.extras if g in REPEAT_GROUPS)
        self.repeat = RepeatCycle(history_groups, name="repeat") if history_groups else None
        self.pop_columns = popularity_columns(self.extras)
        self.cold = "cold" in self.extras
        reg = keras.regularizers.L2(l2)
        init = keras.initializers.RandomNormal(stddev=0.05)
        self.customer_emb = keras.layers.Embedding(
            n_customers, dim, embeddings_initializer=init, embeddings_regularizer=reg, name="customer_emb"
        )
        self.area_emb = keras.layers.Embedding(
            n_areas, dim, embeddings_initializer=init, embeddings_regularizer=reg, name="area_emb"
        )
        self.item_emb = keras.layers.Embedding(
            n_items, dim, embeddings_initializer=init, embeddings_regularizer=reg, name="item_emb"
        )
        # Dishes share their restaurant's embedding (dish level): sparse dishes borrow strength from it.
        self.rest_emb = keras.layers.Embedding(
            n_restaurants, dim, embeddings_initializer=init, embeddings_regularizer=reg, name="rest_emb"
        )
        self.item_bias = keras.layers.Embedding(
            n_items, 1, embeddings_initializer="zeros", embeddings_regularizer=reg, name="item_bias"
        )
        self.clock = CyclicalEncoding((24.0, 7.0), name="clock")
        self.match = HistoryMatch(name="match")
        self.rest_match = HistoryMatch(name="rest_match")
        self.pool = HistoryPooling(name="pool")
        self.context = keras.layers.Dense(dim, kernel_regularizer=reg, name="context")
        self.hidden1 = keras.layers.Dense(hidden, activation="relu", kernel_regularizer=reg, name="hidden1")
        self.drop = keras.layers.Dropout(dropout, name="drop")
        self.hidden2 = keras.layers.Dense(
            max(hidden // 2, 4), activation="relu", kernel_regularizer=reg, name="hidden2"
        )
        self.out = keras.layers.Dense(1, name="out")
        if self.cold:
            self.cold_hidden = keras.layers.Dense(
                max(hidden // 2, 8), activation="relu", kernel_regularizer=reg, name="cold_hidden"
            )
            self.cold_out = keras.layers.Dense(1, name="cold_out")
            # A linear path beside the hidden layer (the head starts as a weighted sum of log shares, the form of
            # the popularity baselines) and an item bias of its own: the shared one is learned mostly from returning
            # customers' orders, where loyal regulars inflate a restaurant's standing with strangers.
            self.cold_lin = keras.layers.Dense(1, use_bias=False, kernel_regularizer=reg, name="cold_lin")
            self.cold_bias = keras.layers.Embedding(
                n_items, 1, embeddings_initializer="zeros", embeddings_regularizer=reg, name="cold_bias"
            )

    def build(self, input_shape):
        # The sub-layers' input sizes follow from the inputs, so a forward pass on zeros of the given shapes builds
        # them all (what Keras does on the first call, without its warning about an unbuilt subclassed model).
        ints = {"customer", "area", "candidates", "candidate_restaurants", "history_items", "history_restaurants"}
        zeros = {
            name: ops.zeros(tuple(1 if d is None else d for d in shape), "int32" if name in ints else "float32")
            for name, shape in input_shape.items()
        }
        self.call(zeros)
        self.built = True

    def call(self, inputs, training=False):
        cands = inputs["candidates"]
        hist = inputs["history_items"]
        age = inputs["history_age"]
        clock = self.clock(inputs["clock"])  # (B, 4)
        hist_emb = self.item_emb(hist)
        if self.dish:
            hist_emb = hist_emb + self.rest_emb(inputs["history_restaurants"])
        pooled = self.pool([hist_emb, hist, age])
        n_hist = ops.log1p(ops.sum(ops.cast(ops.greater(hist, 0), "float32"), axis=1, keepdims=True))
        loyalty = repeat_share(hist)
        ctx = ops.concatenate(
            [self.customer_emb(inputs["customer"]), self.area_emb(inputs["area"]), clock, pooled, n_hist], axis=-1
        )
        user = self.context(ctx)  # (B, d)
        cand_emb = self.item_emb(cands)  # (B, C, d)
        if self.dish:
            cand_emb = cand_emb + self.rest_emb(inputs["candidate_restaurants"])
        affinity = ops.sum(cand_emb * ops.expand_dims(user, 1), axis=-1, keepdims=True)
        per_query = ops.concatenate([clock, n_hist, loyalty], axis=-1)
        per_query = ops.expand_dims(per_query, 1) * ops.ones_like(affinity)  # (B, C, 6)
        pop = ops.cast(inputs["popularity"], "float32")
        used_pop = ops.take(pop, self.pop_columns, axis=-1)
        parts = [self.match([cands, hist, age]), used_pop, affinity, per_query]
        if self.repeat is not None:
            parts.append(self.repeat([cands, hist, age, inputs["clock"], pop[..., RETURN_COLUMNS[1]]]))
        if self.dish:
            parts.insert(1, self.rest_match([inputs["candidate_restaurants"], inputs["history_restaurants"], age]))
        x = ops.concatenate(parts, axis=-1)
        x = self.drop(self.hidden1(x), training=training)
        score = ops.squeeze(self.out(self.hidden2(x)), -1) + ops.squeeze(self.item_bias(cands), -1)
        if self.cold:
            # Customers without history: a head of their own, so only first orders train it.
            cold_x = ops.concatenate([used_pop, affinity, ops.expand_dims(clock, 1) * ops.ones_like(affinity)], -1)
            cold_score = self.cold_out(self.cold_hidden(cold_x)) + self.cold_lin(cold_x) + self.cold_bias(cands)
            cold_score = ops.squeeze(cold_score, -1)
            score = ops.where(ops.equal(n_hist, 0.0), cold_score, score)
        if "logq" in inputs:  # sampled-softmax correction (zero when ranking)
            score = score - inputs["logq"]
        return ops.where(ops.greater(cands, 0), score, MASK_VALUE)

    def get_config(self):
        return {
            **super().get_config(),
            "n_customers": self.n_customers,
            "n_areas": self.n_areas,
            "n_items": self.n_items,
            "n_restaurants": self.n_restaurants,
            "dim": self.dim,
            "hidden": self.hidden,
            "dropout": self.dropout_rate,
            "l2": self.l2,
            "dish": self.dish,
            "extras": list(self.extras),
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def repeat_share(hist):
    """``(B, 1)``: the share of a customer's history lines that repeat an item of an older line, ``(N - D) /
    (N - 1)`` for ``N`` lines and ``D`` distinct items (0 with fewer than 2 lines). Loyal customers (near 1) keep
    to their places, explorers (near 0) try new ones: how much a candidate's absence from the history counts.

    >>> import numpy as np
    >>> np.asarray(repeat_share(np.array([[3, 3, 5, 0], [1, 2, 0, 0], [4, 0, 0, 0]]))).round(3).tolist()
    [[0.5], [0.0], [0.0]]
    """
    valid = ops.greater(hist, 0)
    depth = ops.shape(hist)[1]
    older = ops.greater(ops.expand_dims(ops.arange(depth), 0), ops.expand_dims(ops.arange(depth), 1))  # j > i
    same = ops.logical_and(ops.equal(ops.expand_dims(hist, 2), ops.expand_dims(hist, 1)), older)
    is_repeat = ops.logical_and(ops.any(same, axis=2), valid)  # (B, H): the item appears again further back
    n = ops.sum(ops.cast(valid, "float32"), axis=1, keepdims=True)
    repeats = ops.sum(ops.cast(is_repeat, "float32"), axis=1, keepdims=True)
    return repeats / ops.maximum(n - 1.0, 1.0)


@keras.saving.register_keras_serializable(package="foodrec")
def softmax_loss(y_true, logits):
    """Cross-entropy between the ordered items' share of the candidates and the softmax of the scores."""
    logp = logits - ops.logsumexp(logits, axis=-1, keepdims=True)
    has_target = ops.cast(ops.greater(ops.sum(y_true, axis=-1), 0.0), "float32")
    return -ops.sum(y_true * ops.maximum(logp, MASK_VALUE), axis=-1) * has_target


def example_inputs(batch: int, candidates: int, depth: int, n_items: int = 5, seed: int = 0) -> dict:
    """Random inputs of the right shapes (for tests and for building a model before loading weights)."""
    rng = np.random.default_rng(seed)
    return {
        "customer": rng.integers(0, 2, batch).astype(np.int32),
        "area": rng.integers(0, 2, batch).astype(np.int32),
        "clock": np.stack([rng.uniform(0, 24, batch), rng.integers(0, 7, batch)], 1).astype(np.float32),
        "candidates": rng.integers(1, n_items, (batch, candidates)).astype(np.int32),
        "candidate_restaurants": rng.integers(1, 3, (batch, candidates)).astype(np.int32),
        "history_items": rng.integers(0, n_items, (batch, depth)).astype(np.int32),
        "history_restaurants": rng.integers(0, 3, (batch, depth)).astype(np.int32),
        "history_age": rng.uniform(0, 30, (batch, depth)).astype(np.float32),
        "popularity": rng.normal(size=(batch, candidates, N_POP_FEATURES)).astype(np.float32),
        "logq": np.zeros((batch, candidates), np.float32),
    }
