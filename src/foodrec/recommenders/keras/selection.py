"""Model selection on validation only: the network, the strongest baseline, or a learned blend of the two.

Repeat-driven small logs are where a one-line baseline is hardest to beat, so the served model must never be worse
than the best baseline *as far as validation can tell*. After the final training (before the refit on the
validation days, so the network has not seen them) the validation orders are cut into two time blocks:

1. on the first block, the blend weight ``w`` is learned (a grid over ``BLEND_WEIGHTS``, by NDCG@10) for each
   counting baseline, and the strongest baseline is the one whose best blend scores highest;
2. on the second, later block, the network, that baseline and their blend with the learned ``w`` are scored. The
   network serves unless the baseline or the blend beats it there by more than the block's noise: a mean paired
   difference of NDCG@10 per order above ``MARGIN_SE`` standard errors (a blend is slower to serve and a baseline
   learns nothing, so a noise-sized win is no reason to leave the network); of those that do, the best serves.

The evidence also holds the new customers' orders of both blocks (no order before the cutoff): the network (its
cold-start head) against area x meal-time popularity there, and decides what answers customers without history
(``Choice.new_customers``): that popularity serves unless the head beats it by more than ``MARGIN_SE`` standard
errors of the paired per-order difference (the simpler answer is the default: it is what the head must beat; without
evidence it serves too). Models saved before this decision load with ``"network"`` (the head, as they served).

A large log's validation days hold tens of thousands of orders: at most ``MAX_SELECTION_ORDERS`` of them are used,
evenly spread over time (the evidence says how many of how many).

Every query sees only orders before the validation cutoff (the network through the feature view's cutoff, the
baselines fitted on the orders before it), exactly as test queries later see only the training period. The blend
is a weighted reciprocal-rank fusion of the two top-``FUSION_DEPTH`` lists:
``score(i) = (1 - w) / (RANK_OFFSET + rank_network(i)) + w / (RANK_OFFSET + rank_baseline(i))`` (rank 0 is the
first; an item missing from a list has rank ``FUSION_DEPTH``): it needs only rankings, so any baseline fits.

The choice (kind, baseline name, weight) and its evidence are learned parameters: they go into the manifest
(``validation.selection``) and the training report. A counting baseline holds no parameters (it is all view), so
the saved model stays "learned parameters only"; a loaded model refits the baseline on the log it is refreshed with.

>>> a = np.array([["x", "y", "z"]], dtype=object)
>>> b = np.array([["z", "x", "q"]], dtype=object)
>>> fuse(a, b, 0.0, 3).tolist(), fuse(a, b, 1.0, 3).tolist(), fuse(a, b, 0.5, 2).tolist()
([['x', 'y', 'z']], [['z', 'x', 'q']], [['x', 'z']])
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from foodrec.data.orderlog import OrderLog
from foodrec.evaluation.cases import TestCases, make_test_cases
from foodrec.evaluation.metrics import ranking_metrics
from foodrec.recommenders.base import Ranking

BLEND_WEIGHTS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
SELECTION_BASELINES = ("customer-history", "area-mealtime-popularity", "item-cooccurrence")
FUSION_DEPTH = 50
# At most this many validation orders, evenly spread over the validation days (a large log's validation days hold
# tens of thousands of orders; a few thousand settle the choice, and ranking and fusing all of them cost minutes).
MAX_SELECTION_ORDERS = 8000
RANK_OFFSET = 5.0
KINDS = ("network", "baseline", "blend")
NEW_CUSTOMER_KINDS = ("network", "popularity")  # what answers customers without history
NEW_CUSTOMER_BASELINE = "area-mealtime-popularity"
MARGIN_SE = 2.0  # leave the network only for a win of more than this many standard errors of the paired difference


@dataclass
class Choice:
    """What serves: ``network``, ``baseline`` (``baseline`` names it) or ``blend`` (with ``weight``); for customers
    without history, ``new_customers``: ``network`` (its cold-start head) or ``popularity``
    (:data:`NEW_CUSTOMER_BASELINE`). Manifests without the field (older models) read ``network``, as they served.

    >>> Choice.from_json({"kind": "network"}).new_customers, Choice.from_json({"kind": "network",
    ...     "new_customers": "popularity"}).new_customers
    ('network', 'popularity')
    """

    kind: str = "network"
    baseline: str | None = None
    weight: float = 0.0
    evidence: dict[str, Any] = field(default_factory=dict)
    new_customers: str = "network"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "baseline": self.baseline, "weight": self.weight, "evidence": self.evidence,
                "new_customers": self.new_customers}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Choice:
        if not data or data.get("kind") not in KINDS:
            return cls()
        new = data.get("new_customers", "network")
        return cls(data["kind"], data.get("baseline"), float(data.get("weight", 0.0)), data.get("evidence", {}),
                   new if new in NEW_CUSTOMER_KINDS else "network")  # fmt: skip


def fuse(network: np.ndarray, baseline: np.ndarray, weight: float, k: int) -> np.ndarray:
    """Weighted reciprocal-rank fusion of two ranked id lists per row; the top ``k`` (None-padded)."""
    out = np.full((len(network), k), None, dtype=object)
    for row, (a, b) in enumerate(zip(network, baseline, strict=True)):
        score: dict[Any, float] = {}
        depth = max(len(a), len(b))
        ranks_a = {item: r for r, item in enumerate(a) if item is not None}
        ranks_b = {item: r for r, item in enumerate(b) if item is not None}
        for item in set(ranks_a) | set(ranks_b):
            score[item] = (1.0 - weight) / (RANK_OFFSET + ranks_a.get(item, depth)) + weight / (
                RANK_OFFSET + ranks_b.get(item, depth)
            )
        first_seen: dict[Any, int] = {}
        for i, item in enumerate([*a, *b]):
            first_seen.setdefault(item, i)
        ranked = sorted(score, key=lambda item: (-score[item], first_seen.get(item, 0)))[:k]
        out[row, : len(ranked)] = ranked
    return out


def _per_order(items: np.ndarray, cases: TestCases) -> np.ndarray:
    scores = np.where(pd.isna(items), -np.inf, -np.arange(items.shape[1])[None, :]).astype(float)
    return ranking_metrics(Ranking(items, scores), cases.targets, k=10)["ndcg"].to_numpy()


def _ndcg(items: np.ndarray, cases: TestCases) -> float:
    return float(_per_order(items, cases).mean())


def paired_margin(alternative: np.ndarray, network: np.ndarray) -> tuple[float, float]:
    """``(mean, standard error)`` of the per-order difference ``alternative - network``.

    >>> paired_margin(np.array([1.0, 0.5, 0.0, 1.0]), np.array([0.5, 0.5, 0.0, 0.5]))
    (0.25, 0.14433756729740643)
    """
    diff = np.asarray(alternative, float) - np.asarray(network, float)
    se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else float("inf")
    return float(diff.mean()), se


def select(
    log: OrderLog,
    level: str,
    cutoff: pd.Timestamp,
    network_items: Any,
    baselines: tuple[str, ...] = SELECTION_BASELINES,
    max_orders: int = MAX_SELECTION_ORDERS,
) -> Choice:
    """The choice on the validation orders of ``log`` (from ``cutoff``; at most ``max_orders`` of them, evenly
    spread over time). ``network_items(queries, k)`` ranks with the network as it stands, seeing only orders before
    ``cutoff``."""
    from foodrec.recommenders.registry import make_recommender

    at = log.orders["ordered_at"]
    # replace() keeps the log's time zone (meal times are local) and catalogue; OrderLog(frame) would reset it to UTC
    before, after = log.before(cutoff), replace(log, orders=log.orders[at >= cutoff].reset_index(drop=True))
    cases = make_test_cases(before, after, level)
    n_validation = len(cases)
    if n_validation > max_orders:  # cases are in time order: every n-th keeps the blocks' time spread
        keep = np.zeros(n_validation, bool)
        keep[np.linspace(0, n_validation - 1, max_orders).round().astype(int)] = True
        cases = cases.subset(keep)
    if len(cases) < 20:
        return Choice(evidence={"skipped": f"only {len(cases)} validation orders"}, new_customers="popularity")
    times = pd.to_datetime(cases.queries["at"], utc=True)
    middle = times.iloc[len(times) // 2]
    first = (times < middle).to_numpy()
    blocks = {"learn": cases.subset(first), "choose": cases.subset(~first)}
    if min(len(b) for b in blocks.values()) < 10:
        return Choice(evidence={"skipped": "validation too short for two time blocks"}, new_customers="popularity")
    depth = FUSION_DEPTH
    net = {name: network_items(block.queries, depth) for name, block in blocks.items()}
    rows: list[dict[str, Any]] = []
    best: tuple[float, str, float] | None = None
    fitted = {}
    for name in baselines:
        try:
            fitted[name] = make_recommender(name, level=level).fit(before)
        except Exception as err:  # a baseline that cannot fit this log (e.g. no co-occurrences) is left out
            rows.append({"baseline": name, "error": f"{type(err).__name__}: {err}"})
            continue
        base = fitted[name].recommend(blocks["learn"].queries, k=depth).items
        scores = {w: _ndcg(fuse(net["learn"], base, w, 10), blocks["learn"]) for w in BLEND_WEIGHTS}
        w = max(scores, key=lambda key: (scores[key], -key))
        rows.append({"baseline": name, "learn_baseline": _ndcg(base[:, :10], blocks["learn"]),
                     "learn_blend": scores[w], "weight": w})  # fmt: skip
        if best is None or scores[w] > best[0]:
            best = (scores[w], name, w)
    if best is None:
        return Choice(
            evidence={"skipped": "no baseline could be fitted", "baselines": rows}, new_customers="popularity"
        )
    _, name, w = best
    base = fitted[name].recommend(blocks["choose"].queries, k=depth).items
    per_order = {
        "network": _per_order(net["choose"][:, :10], blocks["choose"]),
        "baseline": _per_order(base[:, :10], blocks["choose"]),
        "blend": _per_order(fuse(net["choose"], base, w, 10), blocks["choose"]),
    }
    choose = {kind: float(values.mean()) for kind, values in per_order.items()}
    margins = {kind: paired_margin(per_order[kind], per_order["network"]) for kind in ("baseline", "blend")}
    wins = [kind for kind, (mean, se) in margins.items() if mean > MARGIN_SE * se]
    kind = max(wins, key=lambda k: choose[k]) if wins else "network"
    evidence = {
        "cutoff": cutoff.isoformat(),
        "validation_orders": {"used": len(cases), "of": n_validation},
        "learn_block": {"orders": len(blocks["learn"]), "until": middle.isoformat()},
        "choose_block": {"orders": len(blocks["choose"]), "from": middle.isoformat()},
        "learn_network": _ndcg(net["learn"][:, :10], blocks["learn"]),
        "baselines": rows,
        "choose_ndcg10": choose,
        "margin_over_network": {k: {"mean": m, "se": se, "needed": MARGIN_SE * se} for k, (m, se) in margins.items()},
        "new_customers": _new_customers(blocks, net, fitted, before, level),
    }
    new_kind = evidence["new_customers"]["serves"]
    return Choice(kind, name if kind != "network" else None, w if kind == "blend" else 0.0, evidence, new_kind)


def _new_customers(blocks: dict, net: dict, fitted: dict, before: OrderLog, level: str) -> dict[str, Any]:
    """NDCG@10 on both blocks' orders by customers without an order before the cutoff: the network (its cold-start
    head) against area x meal-time popularity, the baseline a cold-start path must beat, and what serves them
    (``serves``): the popularity unless the head's mean paired difference per order is above ``MARGIN_SE``
    standard errors (``margin``)."""
    from foodrec.recommenders.registry import make_recommender

    name = NEW_CUSTOMER_BASELINE
    rec = fitted.get(name) or make_recommender(name, level=level).fit(before)
    out: dict[str, Any] = {"orders": 0, "network": None, name: None}
    per_order: dict[str, list[np.ndarray]] = {"network": [], name: []}
    for key, block in blocks.items():
        new = (block.segments["customer_type"] == "new").to_numpy()
        if not new.any():
            continue
        sub = block.subset(new)
        per_order["network"].append(_per_order(net[key][new][:, :10], sub))
        per_order[name].append(_per_order(rec.recommend(sub.queries, k=10).items, sub))
        out["orders"] += int(new.sum())
    serves = "popularity"
    if out["orders"]:
        head, base = np.concatenate(per_order["network"]), np.concatenate(per_order[name])
        out.update({"network": float(head.mean()), name: float(base.mean())})
        mean, se = paired_margin(head, base)
        out["margin"] = {"mean": mean, "se": se, "needed": MARGIN_SE * se}
        serves = "network" if mean > MARGIN_SE * se else "popularity"
    out["serves"] = serves
    return out


def network_ranker(model: Any, view: Any, cfg: Any, cutoff_days: float):
    """``items(queries, k)``: the network's top ``k`` ids per query, features cut at ``cutoff_days`` (as validation
    queries see them in training)."""
    from foodrec.recommenders.keras.examples import Examples
    from foodrec.recommenders.keras.inputs import InputBuilder
    from foodrec.recommenders.keras.metrics import top_k
    from foodrec.recommenders.keras.recommender import NumpyRanker

    ranker = NumpyRanker(model)
    builder = InputBuilder(
        view, cfg.depth, cfg.n_candidates, cfg.full_max, cutoff=cutoff_days, train_full_max=cfg.train_full_max
    )

    def items(queries: pd.DataFrame, k: int) -> np.ndarray:
        ex = Examples.from_queries(view, queries.reset_index(drop=True))
        out = np.full((len(ex), k), None, dtype=object)
        for lo in range(0, len(ex), 512):
            idx = np.arange(lo, min(lo + 512, len(ex)))
            inputs, _ = builder.build(ex.take(idx))
            top, scores = top_k(inputs["candidates"], ranker(inputs), k)
            valid = np.isfinite(scores) & (top > 0)
            decoded = view.space.items.decode(np.where(valid, top, 0))
            out[idx, : top.shape[1]] = np.where(valid, decoded, None)
        return out

    return items
