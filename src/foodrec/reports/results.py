"""Find and read the JSON results of the other workflow steps, whatever shape each step chose.

``foodrec report`` is given folders or files; :func:`collect_results` sorts each JSON it finds by its
content (and by its file name when the content says nothing): leaderboard (``foodrec baselines``),
evaluation (``foodrec evaluate``), model manifest, A/B analysis (``foodrec abtest``), drift
(``foodrec drift``), EDA, simulation. Anything unreadable is listed in ``problems``, never raised.

The metric readers are tolerant: ``ndcg@10``, ``ndcg_at_10``, ``ndcg`` or ``val_ndcg10``; a number, or
a dict with ``mean``/``value`` and ``ci_low``/``ci_high`` (or ``low``/``high``).

>>> metric({"ndcg@10": {"mean": 0.3, "ci_low": 0.28, "ci_high": 0.32}}, "ndcg")
Metric(mean=0.3, low=0.28, high=0.32)
>>> metric({"hr": 0.5, "hr_ci_low": 0.4, "hr_ci_high": 0.6}, "hr")
Metric(mean=0.5, low=0.4, high=0.6)
>>> [s.name for s in recommender_scores({"leaderboard": [{"name": "area-popularity", "ndcg": 0.2}]})]
['area-popularity']
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

KINDS = ("leaderboard", "evaluation", "manifest", "abtest", "drift", "eda", "simulation", "ingest", "run")
_NAME_KEYS = ("recommender", "name", "model", "baseline")
_SEGMENT_KEYS = ("segments", "per_segment", "by_segment", "segment_metrics")
KINDS = (*KINDS, "interleaving")  # `foodrec abtest` on an interleaving experiment (the demo's first stage)


@dataclass(frozen=True)
class Metric:
    """A metric's mean and, when known, its 95% confidence interval."""

    mean: float
    low: float | None = None
    high: float | None = None


@dataclass
class RecommenderScore:
    """One recommender's offline quality: overall metrics and per-segment rows."""

    name: str
    ndcg: Metric | None = None
    hr: Metric | None = None
    segments: pd.DataFrame | None = None  # columns: segment, value, ndcg, hr, n
    is_model: bool = False


@dataclass
class Results:
    """Everything found; a missing part is ``None``."""

    found: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def get(self, kind: str) -> Any:
        return self.found.get(kind)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _keys_for(name: str, k: int) -> list[str]:
    return [f"{name}@{k}", f"{name}_at_{k}", f"{name}{k}", f"{name}_{k}", f"val_{name}{k}", name]


def metric(record: Any, name: str, k: int = 10) -> Metric | None:
    """The metric ``name`` (``ndcg``, ``hr``, ...) at ``k`` from a record, in any of the usual layouts."""
    if not isinstance(record, dict):
        return None
    lower = {str(key).lower(): key for key in record}
    for cand in _keys_for(name, k):
        if cand not in lower:
            continue
        value = record[lower[cand]]
        if isinstance(value, dict):
            mean = next((_number(value[x]) for x in ("mean", "value", "estimate") if x in value), None)
            if mean is None:
                continue
            low = next((_number(value[x]) for x in ("ci_low", "low", "lower") if x in value), None)
            high = next((_number(value[x]) for x in ("ci_high", "high", "upper") if x in value), None)
            return Metric(mean, low, high)
        mean = _number(value)
        if mean is None:
            continue
        low = next((_number(record[lower[f"{cand}{s}"]]) for s in ("_ci_low", "_low") if f"{cand}{s}" in lower), None)
        high = next(
            (_number(record[lower[f"{cand}{s}"]]) for s in ("_ci_high", "_high") if f"{cand}{s}" in lower), None
        )
        ci = record.get(f"{cand}_ci")
        if isinstance(ci, list | tuple) and len(ci) == 2:
            low, high = _number(ci[0]), _number(ci[1])
        return Metric(mean, low, high)
    for nested in ("overall", "metrics", "test", "mean"):
        if isinstance(record.get(nested), dict) and (found := metric(record[nested], name, k)) is not None:
            return found
    return None


def _segment_frame(raw: Any, k: int) -> pd.DataFrame | None:
    """Per-segment rows from a list of records or a nested dict, as ``segment, value, ndcg, hr, n``."""
    rows: list[dict[str, Any]] = []

    def add(segment: str, value: Any, rec: dict[str, Any]) -> None:
        nd, hr = metric(rec, "ndcg", k), metric(rec, "hr", k)
        n = next(
            (_number(rec[c]) for c in ("n", "n_queries", "queries", "count", "orders", "n_orders") if c in rec), None
        )
        rows.append({"segment": str(segment), "value": str(value), "ndcg": nd.mean if nd else None,
                     "ndcg_low": nd.low if nd else None, "ndcg_high": nd.high if nd else None,
                     "hr": hr.mean if hr else None, "n": n})  # fmt: skip

    if isinstance(raw, list) and raw and all(isinstance(r, dict) and "metric" in r and "mean" in r for r in raw):
        # long format (foodrec evaluate): one row per (segment, value, metric) with mean / ci_low / ci_high
        wide: dict[tuple[str, str], dict[str, Any]] = {}
        for r in raw:
            key = (str(r.get("segment")), str(r.get("value")))
            row = wide.setdefault(key, {"segment": key[0], "value": key[1], "n": r.get("n")})
            name = str(r["metric"]).lower()
            row[name] = {"mean": r.get("mean"), "ci_low": r.get("ci_low"), "ci_high": r.get("ci_high")}
        raw = list(wide.values())
    if isinstance(raw, list):
        for rec in raw:
            if not isinstance(rec, dict):
                continue
            seg = next((rec[c] for c in ("segment", "dimension", "column", "by") if c in rec), None)
            val = next((rec[c] for c in ("value", "group", "level", "name") if c in rec), None)
            if seg is None:  # e.g. {"area": "a1", "ndcg": ...}
                for col in ("area", "meal_time", "customer_type"):
                    if col in rec:
                        seg, val = col, rec[col]
                        break
            if seg is not None and val is not None:
                add(seg, val, rec)
    elif isinstance(raw, dict):
        for seg, inner in raw.items():
            if isinstance(inner, dict):
                for val, rec in inner.items():
                    if isinstance(rec, dict):
                        add(seg, val, rec)
            elif isinstance(inner, list):
                frame = _segment_frame(
                    [{**r, "segment": r.get("segment", seg)} for r in inner if isinstance(r, dict)], k
                )
                if frame is not None:
                    rows.extend(frame.to_dict("records"))
    if not rows:
        return None
    return pd.DataFrame(rows)


def _score(name: str, record: dict[str, Any], k: int) -> RecommenderScore | None:
    nd, hr = metric(record, "ndcg", k), metric(record, "hr", k)
    if nd is None and hr is None:
        return None
    seg_raw = next((record[key] for key in _SEGMENT_KEYS if key in record), None)
    segments = _segment_frame(seg_raw, k) if seg_raw is not None else None
    kind = str(record.get("kind", record.get("type", ""))).lower()
    is_model = kind in ("model", "keras") or "keras" in name.lower() or "/" in name or name.lower() == "model"
    return RecommenderScore(name, nd, hr, segments, is_model)


def recommender_scores(payload: Any, k: int = 10) -> list[RecommenderScore]:
    """Every recommender's scores in a leaderboard or evaluation JSON (empty when none can be read)."""
    out: list[RecommenderScore] = []
    if isinstance(payload, list):
        for rec in payload:
            if isinstance(rec, dict):
                name = next((str(rec[c]) for c in _NAME_KEYS if isinstance(rec.get(c), str)), None)
                if name and (score := _score(name, rec, k)):
                    out.append(score)
        return out
    if not isinstance(payload, dict):
        return out
    if isinstance(payload.get("result"), dict):  # foodrec evaluate: the recommender, its strongest peer, the rest
        out = recommender_scores(payload["result"], k)
        if out and isinstance(payload.get("recommender"), str):
            out[0].name = payload["recommender"]
        seen = {s.name for s in out}
        for extra in (payload.get("baseline_result"), payload.get("baselines")):
            out += [s for s in recommender_scores(extra, k) if s.name not in seen]
            seen = {s.name for s in out}
        return out
    for key in ("results", "leaderboard", "recommenders", "rows", "models", "baselines"):
        if key in payload:
            value = payload[key]
            if isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()):
                value = [{"name": n, **v} for n, v in value.items()]
            found = recommender_scores(value, k)
            if found:
                return found
    name = next((str(payload[c]) for c in _NAME_KEYS if isinstance(payload.get(c), str)), None)
    if name and (score := _score(name, payload, k)):
        return [score]
    return out


def classify(path: Path, payload: Any) -> str | None:
    """Which step wrote ``payload``: one of :data:`KINDS`, or None when it is not a result we know."""
    name = path.name.lower()
    if isinstance(payload, dict):
        kind = str(payload.get("kind", ""))
        if kind.startswith("foodrec."):
            short = kind.split(".", 1)[1]
            if short in KINDS:
                return short
        if {"inputs", "scores", "quality"} <= payload.keys():
            return "drift"
        if payload.get("experiment") == "interleaving" and "decision" in payload:
            return "interleaving"
        if "decision" in payload and ("comparisons" in payload or "variants" in payload):
            return "abtest"
        if name == "manifest.json" and "class" in payload:
            return "manifest"
        if name == "ingest_summary.json":
            return "ingest"
    for kind in ("drift", "abtest", "simulation", "eda", "evaluation", "baselines", "leaderboard"):
        if name.startswith(kind):
            return "leaderboard" if kind == "baselines" else kind
    if recommender_scores(payload):
        return "leaderboard" if len(recommender_scores(payload)) > 1 else "evaluation"
    return None


def _candidates(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        found = sorted(path.glob("*.json")) + sorted(path.glob("*/manifest.json"))
        return [p for p in found if not p.name.startswith(".")]
    return []


def collect_results(paths: list[Path], store: Path | None = None) -> Results:
    """Read the JSON results under ``paths`` (files or folders, one level deep) and the store's summary."""
    results = Results()
    todo: list[Path] = []
    for path in paths:
        if not path.exists():
            results.problems.append(f"{path}: not found")
        todo.extend(_candidates(path))
    if store is not None and (store / "ingest_summary.json").is_file():
        todo.append(store / "ingest_summary.json")
    for path in todo:
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as err:
            results.problems.append(f"{path}: unreadable ({type(err).__name__})")
            continue
        kind = classify(path, payload)
        if kind is None or kind in results.found:
            continue  # first one wins: paths given first take precedence
        results.found[kind] = payload
        results.sources[kind] = str(path)
    return results
