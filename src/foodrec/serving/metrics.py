"""Prometheus metrics in the text exposition format (version 0.0.4), thread-safe, no extra dependency.

>>> m = Metrics()
>>> m.request("/v1/recommendations", "GET", 200, "control", 0.004)
>>> m.inc("foodrec_events_total", type="order", variant="control", result="stored")
>>> text = m.render()
>>> 'foodrec_http_requests_total{route="/v1/recommendations",method="GET",status="200",variant="control"} 1' in text
True
>>> 'foodrec_http_request_duration_seconds_bucket{route="/v1/recommendations",variant="control",le="0.005"} 1' in text
True
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable

BUCKETS: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS: tuple[float, ...] = (1, 2, 4, 8, 16, 32, 64, 128)

HELP: dict[str, tuple[str, str]] = {
    "foodrec_http_requests_total": ("counter", "HTTP requests answered, by route, method, status and A/B variant."),
    "foodrec_http_request_duration_seconds": ("histogram", "Time to answer an HTTP request, by route and variant."),
    "foodrec_http_requests_in_flight": ("gauge", "HTTP requests being handled now."),
    "foodrec_http_requests_shed_total": ("counter", "Requests refused with 503/413 to protect the server, by reason."),
    "foodrec_recommendations_total": ("counter", "Rankings served, by variant and model version."),
    "foodrec_recommendation_fallback_items_total": ("counter", "Ranked slots filled by the cold-start fallback."),
    "foodrec_recommender_errors_total": ("counter", "recommend() calls that raised (answered by the fallback)."),
    "foodrec_recommend_batch_size": ("histogram", "Queries per recommend() call of the micro-batcher."),
    "foodrec_events_total": ("counter", "Events received, by type, variant and result (stored or duplicate)."),
    "foodrec_event_labels_ignored_total": (
        "counter",
        "Client-sent event variant or model_version that disagreed with the server's assignment (ignored).",
    ),
    "foodrec_recommendation_cache_requests_total": (
        "counter",
        "Recommendation requests answered from the response cache (hit) or ranked by the model (miss).",
    ),
    "foodrec_recommendation_cache_entries": ("gauge", "Answers held in the response cache."),
    "foodrec_recommendation_cache_bytes": (
        "gauge",
        "Estimated bytes held by the response cache (answers and remembered query strings).",
    ),
    "foodrec_model_info": ("gauge", "Models being served: 1 per variant and model version."),
    "foodrec_model_reloads_total": ("counter", "Hot reloads, by result."),
}

Labels = tuple[tuple[str, str], ...]
_INF = 'le="+Inf"'


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels, extra: str = "") -> str:
    parts = [f'{k}="{_escape(v)}"' for k, v in labels]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class _Histogram:
    __slots__ = ("buckets", "counts", "sum", "count")

    def __init__(self, buckets: tuple[float, ...]):
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.buckets, value)] += 1
        self.sum += value
        self.count += 1


class Metrics:
    """Counters, gauges and histograms keyed by name and labels; :meth:`render` writes the exposition text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, dict[Labels, float]] = {}
        self._histograms: dict[str, dict[Labels, _Histogram]] = {}
        self._gauges: dict[str, Callable[[], dict[Labels, float]]] = {}

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = tuple(labels.items())
        with self._lock:
            series = self._counters.setdefault(name, {})
            series[key] = series.get(key, 0.0) + amount

    def observe(self, name: str, value: float, buckets: tuple[float, ...] = BUCKETS, **labels: str) -> None:
        key = tuple(labels.items())
        with self._lock:
            series = self._histograms.setdefault(name, {})
            hist = series.get(key)
            if hist is None:
                hist = series[key] = _Histogram(buckets)
            hist.observe(value)

    def gauge(self, name: str, read: Callable[[], dict[Labels, float]]) -> None:
        """Register a gauge whose values are read when metrics are rendered."""
        self._gauges[name] = read

    def request(self, route: str, method: str, status: int, variant: str, seconds: float) -> None:
        """Record one answered HTTP request."""
        self.inc("foodrec_http_requests_total", route=route, method=method, status=str(status), variant=variant)
        self.observe("foodrec_http_request_duration_seconds", seconds, route=route, variant=variant)

    def counter_value(self, name: str, **labels: str) -> float:
        """Sum of a counter over the series matching ``labels`` (for tests and the demo)."""
        with self._lock:
            series = self._counters.get(name, {})
            return sum(v for k, v in series.items() if set(labels.items()) <= set(k))

    def render(self) -> str:
        lines: list[str] = []
        with self._lock:
            counters = {name: dict(series) for name, series in self._counters.items()}
            histograms = {
                name: {k: (list(h.counts), h.sum, h.count, h.buckets) for k, h in series.items()}
                for name, series in self._histograms.items()
            }
        gauges = {name: read() for name, read in self._gauges.items()}
        for name in sorted(set(counters) | set(histograms) | set(gauges)):
            kind, text = HELP.get(name, ("untyped", name))
            lines.append(f"# HELP {name} {text}")
            lines.append(f"# TYPE {name} {kind}")
            for key, value in sorted(counters.get(name, {}).items()):
                lines.append(f"{name}{_labels(key)} {_number(value)}")
            for key, value in sorted(gauges.get(name, {}).items()):
                lines.append(f"{name}{_labels(key)} {_number(value)}")
            for key, (counts, total, count, buckets) in sorted(histograms.get(name, {}).items()):
                cumulative = 0
                for bound, n in zip(buckets, counts, strict=False):
                    cumulative += n
                    le = 'le="' + _number(bound) + '"'
                    lines.append(f"{name}_bucket{_labels(key, le)} {cumulative}")
                lines.append(f"{name}_bucket{_labels(key, _INF)} {count}")
                lines.append(f"{name}_sum{_labels(key)} {repr(float(total))}")
                lines.append(f"{name}_count{_labels(key)} {count}")
        return "\n".join(lines) + "\n"
