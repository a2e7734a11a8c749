"""``KerasRecommender``: the Keras ranker behind the one :class:`~foodrec.recommenders.base.Recommender` interface.

Saved as a directory of learned parameters only: ``model.keras`` (the weights; loaded with ``safe_mode=True``),
``features.json`` (vocabularies) and ``manifest.json`` (feature settings). No order data and no pickle: a loaded
model gets its data-derived inputs (history, popularity, retrieval) from a
:class:`~foodrec.features.view.FeatureView` over the store it is used with - :meth:`KerasRecommender.refresh`
binds one, :meth:`KerasRecommender.observe` folds new orders into it, and the weights never change.
:meth:`KerasRecommender.raw_model` exports the network with its preprocessing inside (raw ids and unix times in,
top-k out; see :mod:`~foodrec.recommenders.keras.raw_model`), popularity baked from the bound view.

Ranking uses a numpy copy of the network's weights (``NumpyRanker``): one query takes about a millisecond,
without TensorFlow's per-call overhead; a test checks it matches the Keras model.

>>> rec = KerasRecommender(epochs=3).fit(log)                         # doctest: +SKIP
>>> rec.save("runs/model")                                            # doctest: +SKIP
>>> from foodrec.recommenders.base import load_recommender
>>> load_recommender("runs/model").refresh(store_log).recommend(queries, k=10).items   # doctest: +SKIP
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # before any keras import below

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from foodrec.data.orderlog import OrderLog
from foodrec.data.time_features import MEAL_TIMES
from foodrec.errors import InputError
from foodrec.features.clock import N_HOURS
from foodrec.features.history import BatchTables
from foodrec.features.popularity import Popularity
from foodrec.features.repeat import RETURN_COLUMNS, gather_numpy, n_repeat_features, repeat_features
from foodrec.features.view import FeatureView
from foodrec.features.vocabulary import FeatureSpace
from foodrec.recommenders.base import QUERY_COLUMNS, Ranking, Recommender
from foodrec.recommenders.keras.blend import UnionCodes, fuse_codes
from foodrec.recommenders.keras.examples import Examples
from foodrec.recommenders.keras.inputs import InputBuilder
from foodrec.recommenders.keras.metrics import top_k
from foodrec.recommenders.keras.selection import FUSION_DEPTH, NEW_CUSTOMER_BASELINE, Choice, fuse
from foodrec.recommenders.reasons import SIMILAR_CUSTOMERS, ordered_before, popular_in

MODEL_FILE = "model.keras"
# Bumped whenever the model's inputs change: a model saved with other features cannot be loaded, only retrained.
# 2: the restaurant's hour lift (popularity) and the customer's repeat share.
# 3: no order data in the saved model (history and popularity come from the feature view).
# 4: repeat features (repurchase cycle, exploration, day-of-week habits; the item's return rate and gap).
# 5: the cold-start head's linear path and item bias of its own.
FEATURES_VERSION = 5


class NumpyRanker:
    """The forward pass of :class:`~foodrec.recommenders.keras.model.FoodrecRanker` in numpy (inference only)."""

    def __init__(self, model: Any):
        from keras import ops

        w = lambda var: np.asarray(ops.convert_to_numpy(var), dtype=np.float32)  # noqa: E731
        self.customer = w(model.customer_emb.embeddings)
        self.area = w(model.area_emb.embeddings)
        self.item = w(model.item_emb.embeddings)
        self.rest = w(model.rest_emb.embeddings) if model.dish else None
        self.bias = w(model.item_bias.embeddings)[:, 0]
        self.ctx_w, self.ctx_b = w(model.context.kernel), w(model.context.bias)
        self.h1_w, self.h1_b = w(model.hidden1.kernel), w(model.hidden1.bias)
        self.h2_w, self.h2_b = w(model.hidden2.kernel), w(model.hidden2.bias)
        self.out_w, self.out_b = w(model.out.kernel), w(model.out.bias)
        self.periods = model.clock.periods
        self.match_cfg = (model.match.half_lives, model.match.recency_half_life)
        self.rest_cfg = (model.rest_match.half_lives, model.rest_match.recency_half_life)
        self.pool_half_life = model.pool.half_life
        self.dish = model.dish
        self.extras = tuple(model.extras)
        self.repeat_groups = tuple(model.repeat.groups) if model.repeat is not None else ()
        self.pop_columns = list(model.pop_columns)
        cols = self.pop_columns
        contiguous = bool(cols) and cols == list(range(cols[0], cols[-1] + 1))
        self.pop_read = slice(cols[0], cols[-1] + 1) if contiguous else cols  # a slice reads without a copy
        self.cold = (w(model.cold_hidden.kernel), w(model.cold_hidden.bias), w(model.cold_out.kernel),
                     w(model.cold_out.bias), w(model.cold_lin.kernel),
                     w(model.cold_bias.embeddings)[:, 0]) if model.cold else None  # fmt: skip
        self.layout = self._layout()

    @staticmethod
    def _match(cands, hist, age, cfg, tables: BatchTables | None = None, out: np.ndarray | None = None):
        """HistoryMatch by scattering the history into per-row tables (no (B, C, H) tensor: fast on big C). The
        tables span only the items of this batch's histories (:class:`BatchTables`: column 0, none of them, reads 0
        for padding and unseen candidates), not the catalogue, and the logarithm is taken of the gathered candidates
        only: the same sums in the same order, so the same numbers. ``out``: a float32 ``(B, C, 2 + half-lives)``."""
        half_lives, rec = cfg
        tables = BatchTables(hist, cands) if tables is None else tables
        out = np.empty((*cands.shape, 2 + len(half_lives)), np.float32) if out is None else out
        a = tables.lines(age).astype(np.float64)
        out[..., 0] = np.log1p(tables.count)
        for j, hl in enumerate(half_lives, 1):
            out[..., j] = np.log1p(tables.sum(np.power(0.5, a / hl)))
        out[..., -1] = tables.reduce(np.maximum, np.power(0.5, a / rec), 0.0)
        return out

    def _layout(self) -> dict[str, slice]:
        """Where each input group sits in the first hidden layer's input, in the Keras model's order."""
        widths = {"match": 2 + len(self.match_cfg[0])}
        if self.dish:
            widths["rest_match"] = 2 + len(self.rest_cfg[0])
        widths |= {"pop": len(self.pop_columns), "affinity": 1, "per_query": 6}
        widths["repeat"] = n_repeat_features(self.repeat_groups) if self.repeat_groups else 0
        edges = np.cumsum([0, *widths.values()]).tolist()
        return {name: slice(lo, hi) for name, lo, hi in zip(widths, edges[:-1], edges[1:], strict=True)}

    def __call__(self, x: dict[str, np.ndarray]) -> np.ndarray:
        cands, hist, age = x["candidates"], x["history_items"], x["history_age"]
        at = self.layout
        h = np.empty((*cands.shape, at["repeat"].stop), np.float32)  # float32 as the Keras model (float64: 6x slower)
        phase = x["clock"] * np.asarray([2 * np.pi / p for p in self.periods], np.float32)
        clock = np.concatenate([f(phase[:, j : j + 1]) for j in range(len(self.periods)) for f in (np.sin, np.cos)], 1)
        valid = hist > 0
        wts = np.zeros_like(age)  # padding lines weigh 0 (their 0.5 ** (1e4 / half-life) underflows: slow in numpy)
        wts[valid] = np.power(0.5, age[valid] / self.pool_half_life)
        hist_emb = self._embed(hist, x.get("history_restaurants"))
        pooled = (hist_emb * wts[:, :, None]).sum(1) / np.maximum(wts.sum(1, keepdims=True), 1e-6)
        n_lines = valid.sum(1, keepdims=True).astype(np.float32)
        n_hist = np.log1p(n_lines)
        items = BatchTables(hist, cands)
        repeats = (valid & ~items.new).sum(1, keepdims=True)  # lines whose item is in an older line too
        loyalty = repeats / np.maximum(n_lines - 1.0, 1.0)
        ctx = np.concatenate([self.customer[x["customer"]], self.area[x["area"]], clock, pooled, n_hist], 1)
        user = ctx @ self.ctx_w + self.ctx_b
        cand_emb = self._embed(cands, x.get("candidate_restaurants"))
        h[..., at["affinity"]] = np.einsum("bcd,bd->bc", cand_emb, user)[:, :, None]
        h[..., at["per_query"]] = np.concatenate([clock, n_hist, loyalty], 1)[:, None, :]
        pop = x["popularity"]
        h[..., at["pop"]] = pop[..., self.pop_read]
        self._match(cands, hist, age, self.match_cfg, items, h[..., at["match"]])
        if self.dish:
            rests = BatchTables(x["history_restaurants"], x["candidate_restaurants"])
            self._match(x["candidate_restaurants"], x["history_restaurants"], age, self.rest_cfg, rests,
                        h[..., at["rest_match"]])  # fmt: skip
        if self.repeat_groups:
            n = gather_numpy(cands, hist, age, x["clock"], items)
            repeat_features(np, n, pop[..., RETURN_COLUMNS[1]], self.repeat_groups, out=h[..., at["repeat"]])
        score = self._hidden(h) + self.bias[cands]
        cold = np.flatnonzero(n_lines[:, 0] == 0) if self.cold is not None else ()
        if len(cold):  # the cold-start head, for the rows of customers without history only
            c_w, c_b, o_w, o_b, lin_w, c_bias = self.cold
            c = cands[cold]
            # Laid out (rows, features, candidates) in memory, as the concatenation this head was first written
            # with: matmul's rounding depends on the layout, and this keeps the scores bit for bit.
            cold_x = np.empty((len(cold), c_w.shape[0], c.shape[1]), np.float32).transpose(0, 2, 1)
            used = slice(at["pop"].start, at["affinity"].stop)  # popularity, then affinity: the head's first inputs
            cold_x[..., : used.stop - used.start] = h[cold][..., used]
            cold_x[..., used.stop - used.start :] = clock[cold][:, None, :]
            score[cold] = (np.maximum(cold_x @ c_w + c_b, 0.0) @ o_w + o_b + cold_x @ lin_w)[..., 0] + c_bias[c]
        return np.where(cands > 0, score, -np.inf)

    def _embed(self, items: np.ndarray, rests: np.ndarray | None) -> np.ndarray:
        """Item embeddings (plus their restaurant's at dish level); ``np.take``: the same rows, faster."""
        emb = np.take(self.item, items, 0)
        return emb if self.rest is None else emb + np.take(self.rest, rests, 0)

    def _hidden(self, h: np.ndarray) -> np.ndarray:
        """The two hidden layers and the output unit (in place: no temporaries beyond each layer's output)."""
        for w, b in ((self.h1_w, self.h1_b), (self.h2_w, self.h2_b)):
            h = h @ w
            h += b
            np.maximum(h, 0.0, out=h)
        return (h @ self.out_w + self.out_b)[..., 0]


class KerasRecommender(Recommender):
    """History-aware neural ranker (see ``docs/model.md``). ``fit`` runs the honest training loop."""

    name: ClassVar[str] = "keras"
    point_in_time: ClassVar[bool] = True

    def __init__(
        self,
        level: str | None = None,
        config: Any = None,
        work_dir: str | Path | None = None,
        progress: Any = None,
        engine: Any = None,
        **overrides: Any,
    ):
        super().__init__(level)
        self.engine = engine  # foodrec.distributed.training.ScaledTraining: search and training on Ray
        from foodrec.recommenders.keras.training import TrainConfig

        self.train_config = config if config is not None else TrainConfig()
        for key, value in overrides.items():
            if not hasattr(self.train_config, key):
                raise InputError(f"unknown training setting {key!r}")
            setattr(self.train_config, key, value)
        self.work_dir = Path(work_dir) if work_dir is not None else None
        self.progress = progress
        self.model: Any = None
        self.space: FeatureSpace | None = None
        self.view: FeatureView | None = None
        self.outcome: Any = None
        self.info: dict[str, Any] = {}
        self._ranker: NumpyRanker | None = None

    # -- fitting -----------------------------------------------------------------
    def fit(self, log: OrderLog) -> KerasRecommender:
        from foodrec.recommenders.keras.training import train

        self.level = log.resolve_level(self.level)
        outcome = train(log, self.level, self.train_config, self.work_dir, self.progress, self.engine)
        self.outcome = outcome
        self.model = outcome.model
        self.space = outcome.prep.space
        self.view = outcome.prep.view
        self._log = log
        self.info = {
            "params": outcome.params,
            "validation": outcome.validation,
            "search": outcome.search,
            "train_seconds": round(outcome.seconds, 1),
            "training_end": float(outcome.prep.end),
        }
        self._ranker = NumpyRanker(self.model)
        return self

    # -- new data, same parameters -----------------------------------------------------
    def refresh(self, log: OrderLog) -> KerasRecommender:
        """Bind a feature view over ``log`` (cut it at ``--until`` first); the weights stay as they are."""
        if self.space is None:
            raise InputError("the Keras recommender is not fitted: run `foodrec train` first")
        self.view = FeatureView.build(self.space, log)
        self._log = log  # the chosen baseline (if validation chose one) is fitted on the same data
        return self

    def observe(self, orders: pd.DataFrame) -> int:
        if self.view is None:
            raise InputError("the Keras recommender has no feature view yet: refresh it with an order log first")
        if self.choice.kind != "network" and getattr(self, "_log", None) is not None:
            self._chosen_baseline().observe(orders)  # the chosen baseline sees the new orders too
        if self.choice.new_customers == "popularity" and getattr(self, "_log", None) is not None:
            self._new_customer_baseline().observe(orders)  # and the one new customers get
        return self.view.observe(orders)

    # -- for people: what the customer ordered, and why an item is there ---------------
    def recent_orders(self, customer_id: str, n: int = 5) -> list[dict[str, Any]]:
        """The customer's last ``n`` orders in the bound feature view (the store and the orders observed since)."""
        return [] if self.view is None else self.view.recent_orders(customer_id, n)

    def explain(self, queries: pd.DataFrame, items: Sequence[Sequence[str]]) -> list[list[str]]:
        """Reasons from the model's own inputs, in this order: the item is in the customer's history (the last
        ``depth`` lines the model reads; with how often) -> ordered before; its popularity in the query's area at this
        meal time (the reference score: its restaurant's share in area x meal time plus its share within the
        restaurant) is above the catalogue's median -> popular here at this hour; else the learned affinity of the
        customer's and the item's embeddings put it there -> liked by customers like you."""
        build = self._builder()
        view, space = self.view, self.space
        queries = queries.reset_index(drop=True)
        ex = Examples.from_queries(view, queries)
        hist, _, _ = view.history.gather(ex.cust, ex.at, ex.at, build.depth)
        snap = view.popularity.snapshot_index(ex.at)
        hour = np.clip(ex.hour.astype(np.int64), 0, N_HOURS - 1)
        every = np.arange(1, len(space.items), dtype=np.int64)[None, :]
        out = []
        for i, row in enumerate(items):
            one = slice(i, i + 1)
            reference = Popularity.reference_score(
                view.popularity.features(snap[one], ex.area[one], ex.meal[one], hour[one], every)
            )[0]
            median = float(np.median(reference)) if reference.size else np.inf
            area = queries["area"][i] if ex.area[i] > 0 else None
            meal = MEAL_TIMES[int(ex.meal[i])]
            reasons = []
            for code in space.items.encode([str(item) for item in row]).tolist():
                times = int((hist[i] == code).sum()) if code > 0 else 0
                if times:
                    reasons.append(ordered_before(times))
                elif code > 0 and reference[code - 1] > median:
                    reasons.append(popular_in(area, meal))
                else:
                    reasons.append(SIMILAR_CUSTOMERS)
            out.append(reasons)
        return out

    # -- ranking -------------------------------------------------------------------
    def _builder(self) -> InputBuilder:
        if self.view is None:
            raise InputError(
                "the Keras model holds no order data: give it a store to look features up in "
                "(--store, or refresh(log) in Python)"
            )
        cfg = self.train_config
        return InputBuilder(
            self.view,
            cfg.depth,
            cfg.n_candidates,
            cfg.full_max,
            train_full_max=cfg.train_full_max,
        )

    @property
    def choice(self) -> Choice:
        """What validation chose to serve (selection.py): the network, the strongest baseline or their blend."""
        return Choice.from_json(self.info.get("validation", {}).get("selection"))

    def _chosen_baseline(self) -> Recommender | None:
        """The chosen counting baseline, fitted on the bound view's log (it holds no parameters: all view)."""
        choice = self.choice
        if choice.kind == "network" or choice.baseline is None:
            return None
        return self._fitted_baseline(choice.baseline)

    def _new_customer_baseline(self) -> Recommender:
        """Area x meal-time popularity fitted on the bound view's log: what customers without history get when
        validation chose it for them (``Choice.new_customers``)."""
        return self._fitted_baseline(NEW_CUSTOMER_BASELINE)

    def _fitted_baseline(self, name: str) -> Recommender:
        """The counting baseline ``name`` fitted on the bound view's log, once per log. The log is kept beside the
        fitted baselines (not its ``id``), so a copy pickled into the ranking process finds them fitted."""
        log = getattr(self, "_log", None)
        if log is None:
            raise InputError(
                "the Keras model holds no order data: give it a store to look features up in "
                "(--store, or refresh(log) in Python)"
            )
        if getattr(self, "_baselines_of", None) is not log:
            self._baselines_of, self._baselines = log, {}
        if name not in self._baselines:
            from foodrec.recommenders.registry import make_recommender

            self._baselines[name] = make_recommender(name, level=self.level).refresh(log)
        return self._baselines[name]

    def _without_history(self, ex: Examples) -> np.ndarray:
        """Rows whose customer has no history line before the query in the bound view: the rows the network
        answers with its cold-start head (``NumpyRanker``: no line among the last ``depth``)."""
        items, _, _ = self.view.history.recent(ex.cust, ex.at, self._builder().depth)
        return ~(items > 0).any(1)

    def _serve_new_customers(self, ranking: Ranking, cold: np.ndarray, ranked: Any) -> Ranking:
        """``ranking`` with the rows in ``cold`` replaced by ``ranked(rows)``, the popularity's ``(items, scores)``
        for those rows."""
        rows = np.flatnonzero(cold)
        if len(rows) == 0:
            return ranking
        items, scores = ranking.items.copy(), ranking.scores.copy()
        items[rows], scores[rows] = ranked(rows)
        return Ranking(items, scores)

    def recommend(self, queries: pd.DataFrame, k: int = 10, network_only: bool = False) -> Ranking:
        """The chosen model's top ``k`` (``network_only``: the network's, whatever validation chose). Customers
        without history get area x meal-time popularity's answer where validation chose it for them."""
        ranking = self._recommend_chosen(queries, k, network_only)
        if network_only or self.choice.new_customers != "popularity" or len(queries) == 0:
            return ranking
        queries = queries.reset_index(drop=True)
        cold = self._without_history(Examples.from_queries(self.view, queries))

        def ranked(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            pop = self._new_customer_baseline().recommend(queries.iloc[rows].reset_index(drop=True), k=k)
            return pop.items, pop.scores

        return self._serve_new_customers(ranking, cold, ranked)

    def _recommend_chosen(self, queries: pd.DataFrame, k: int, network_only: bool) -> Ranking:
        if self._ranker is None or self.space is None:
            raise InputError("the Keras recommender is not fitted: run `foodrec train` first")
        missing = [c for c in QUERY_COLUMNS if c not in queries.columns]
        if missing:
            raise InputError(f"queries lack column(s) {', '.join(missing)}")
        choice = self.choice
        if not network_only and choice.kind != "network" and len(queries):
            base = self._chosen_baseline().recommend(queries, k=k if choice.kind == "baseline" else FUSION_DEPTH)
            if choice.kind == "baseline":
                return base
            net = self.recommend(queries, k=FUSION_DEPTH, network_only=True)
            items = fuse(net.items, base.items, choice.weight, k)
            scores = np.where(pd.isna(items), -np.inf, -np.arange(k, dtype=np.float64)[None, :])
            return Ranking(items, scores)
        if len(queries) == 0:
            return Ranking(np.full((0, k), None, dtype=object), np.full((0, k), -np.inf))
        self._builder()  # the one message for a model without a feature view
        return self._rank(Examples.from_queries(self.view, queries.reset_index(drop=True)), k)

    def recommend_parsed(
        self, customer_ids: Sequence[str], areas: Sequence[str | None], at: Sequence[datetime], k: int = 10
    ) -> Ranking:
        """:meth:`recommend` for queries already parsed into typed values (the service's batches): the same
        inputs from the same feature view and input builder, without pandas."""
        if self._ranker is None or self.space is None:
            raise InputError("the Keras recommender is not fitted: run `foodrec train` first")
        self._builder()  # the one message for a model without a feature view
        choice = self.choice
        ex = Examples.from_parsed(self.view, customer_ids, areas, at)
        if choice.kind != "network" and len(customer_ids):  # validation chose a baseline or a blend
            ranking = self._chosen_parsed(choice, ex, customer_ids, areas, at, k)
            if ranking is None:
                from foodrec.recommenders.base import make_queries

                return self.recommend(make_queries(list(customer_ids), list(areas), list(at)), k)
        else:
            ranking = self._rank(ex, k)
        if choice.new_customers != "popularity" or len(customer_ids) == 0:
            return ranking
        base = self._new_customer_baseline()

        def ranked(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            pick = lambda values: [values[i] for i in rows.tolist()]  # noqa: E731
            idx, scores = base.top_indices(pick(customer_ids), pick(areas), k, pick(at))
            labels = getattr(self, "_new_labels", None)
            if labels is None or labels[0] is not base.items:  # index -1 (padding) is None
                labels = self._new_labels = (base.items, np.append(base.items, None).astype(object))
            return labels[1][idx], scores

        return self._serve_new_customers(ranking, self._without_history(ex), ranked)

    def _chosen_parsed(
        self,
        choice: Choice,
        ex: Examples,
        customer_ids: Sequence[str],
        areas: Sequence[str | None],
        at: Sequence[datetime],
        k: int,
    ) -> Ranking | None:
        """The chosen baseline or blend from arrays (the baseline's ``top_indices``, the fusion over item codes,
        :mod:`~foodrec.recommenders.keras.blend`): :meth:`recommend`'s answer without pandas or per-row Python.
        None when the baseline has no array path (the caller takes the frame path)."""
        base = self._chosen_baseline()
        depth = k if choice.kind == "baseline" else FUSION_DEPTH
        top = getattr(base, "top_indices", None)
        got = top(customer_ids, areas, depth, at) if top is not None else None
        if got is None:
            return None
        b_idx, b_scores = got
        union = getattr(self, "_union", None)
        if union is None or not union.fits(self.space.items, base.items):
            union = self._union = UnionCodes(self.space.items, base.items)
        if choice.kind == "baseline":
            return Ranking(union.labels[union.of_baseline[b_idx + 1]], b_scores)
        net, _ = self._top_codes(ex, FUSION_DEPTH)
        fused = fuse_codes(net, union.of_baseline[b_idx + 1], choice.weight, k)
        scores = np.where(fused > 0, -np.arange(k, dtype=np.float64)[None, :], -np.inf)
        return Ranking(union.labels[fused], scores)

    def _rank(self, ex: Examples, k: int) -> Ranking:
        """Top ``k`` per example: inputs from the feature view (:class:`InputBuilder`), scores from the numpy
        forward pass, in chunks that bound memory."""
        codes, scores = self._top_codes(ex, k)
        return Ranking(self.space.items.decode(codes), scores)

    def _top_codes(self, ex: Examples, k: int) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_rank` before decoding: item codes (0: none) and scores (-inf for none), ``(len(ex), k)``."""
        n = len(ex)
        codes = np.zeros((n, k), dtype=np.int64)
        scores = np.full((n, k), -np.inf)
        if n == 0:
            return codes, scores
        build = self._builder()
        chunk = 256 if build.full and len(self.space.items) > 2000 else 512
        for lo in range(0, n, chunk):
            idx = np.arange(lo, min(lo + chunk, n))
            inputs, _ = build.build(ex.take(idx))
            top, top_scores = top_k(inputs["candidates"], self._ranker(inputs), k)
            valid = np.isfinite(top_scores) & (top > 0)
            codes[idx, : top.shape[1]] = np.where(valid, top, 0)
            scores[idx, : top.shape[1]] = np.where(valid, top_scores, -np.inf)
        return codes, scores

    def keras_scores(self, queries: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Candidates and scores from the Keras model itself (slow path; tests compare it with numpy)."""
        build = self._builder()
        inputs, _ = build.build(Examples.from_queries(self.view, queries.reset_index(drop=True)))
        return inputs["candidates"], np.asarray(self.model(inputs, training=False)), self._ranker(inputs)

    # -- the raw-input Keras model -----------------------------------------------------
    def raw_model(self, k: int = 10) -> Any:
        """The network with its preprocessing inside: raw ids and unix times in, top ``k`` items out.

        An export (``.save("serving_model.keras")``) for use without foodrec: popularity is baked in from the
        bound view's newest snapshot; see :mod:`foodrec.recommenders.keras.raw_model` for its inputs.
        """
        from foodrec.recommenders.keras.raw_model import build_raw_model

        if self.model is None:
            raise InputError("the Keras recommender is not fitted: run `foodrec train` first")
        build = self._builder()
        return build_raw_model(self.model, self.space, self.view.popularity.last(), build.depth, build.full, k)

    def raw_inputs(self, queries: pd.DataFrame) -> dict[str, np.ndarray]:
        """The raw model's inputs for ``queries``, with each customer's history from the bound view (as
        ``recommend`` sees it) and, above ``full_max`` items, the retrieved candidates: what a feature store and
        a retrieval stage would supply."""
        queries = queries.reset_index(drop=True)
        build = self._builder()
        ex = Examples.from_queries(self.view, queries)
        hist, _, times = self.view.history.recent(ex.cust, ex.at, build.depth)
        valid = hist > 0
        hist_t = np.where(valid, times, 0.0)

        def ids(values: pd.Series) -> np.ndarray:
            return values.astype(object).where(values.notna(), "").astype(str).to_numpy()

        at_ns = pd.to_datetime(queries["at"], utc=True).dt.as_unit("ns").astype("int64").to_numpy()
        inputs = {
            "customer_id": ids(queries["customer_id"]),
            "area": ids(queries["area"]),
            "at": at_ns // 10**9,
            "history_items": np.where(valid, self.space.items.decode(hist), "").astype(str),
            "history_at": np.round(hist_t * 86_400).astype(np.int64),
        }
        if not build.full:
            built, _ = build.build(ex)
            cands = built["candidates"]
            inputs["candidates"] = np.where(cands > 0, self.space.items.decode(cands), "").astype(str)
        return inputs

    # -- persistence ---------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        from foodrec.recommenders.keras.training import config_dict

        return {
            "level": self.level,
            "features_version": FEATURES_VERSION,
            "train": config_dict(self.train_config),
            **self.info,
        }

    def save_state(self, directory: Path) -> None:
        if self.model is None:
            raise InputError("nothing to save: the Keras recommender is not fitted")
        self.model.save(directory / MODEL_FILE)
        (directory / "features.json").write_text(json.dumps(self.space.to_json()))

    @classmethod
    def load_state(cls, directory: Path, manifest: dict[str, Any]) -> KerasRecommender:
        import keras

        from foodrec.recommenders.keras import layers as _layers  # noqa: F401  (registers the custom layers)
        from foodrec.recommenders.keras import model as _model  # noqa: F401
        from foodrec.recommenders.keras.training import TrainConfig, _limit_threads

        _limit_threads()
        cfg_data = manifest.get("config", {})
        saved_version = cfg_data.get("features_version", 1)  # manifests before versioning: 1
        if saved_version != FEATURES_VERSION:
            raise InputError(
                f"{directory}: the model was saved by another foodrec version (features version "
                f"{saved_version}, this one reads {FEATURES_VERSION}); "
                "train it again with `foodrec train`"
            )
        known = TrainConfig.__dataclass_fields__
        cfg = TrainConfig(**{k: v for k, v in cfg_data.get("train", {}).items() if k in known})
        rec = cls(level=manifest.get("level"), config=cfg)
        try:
            rec.model = keras.saving.load_model(directory / MODEL_FILE, safe_mode=True, compile=False)
            rec.space = FeatureSpace.from_json(json.loads((directory / "features.json").read_text()))
        except (OSError, ValueError, KeyError) as err:
            first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise InputError(f"{directory}: cannot load the Keras model ({first_line})") from err
        rec.info = {k: v for k, v in cfg_data.items() if k not in ("level", "train", "features_version")}
        rec._ranker = NumpyRanker(rec.model)
        return rec
