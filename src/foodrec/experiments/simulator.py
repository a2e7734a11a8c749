"""Simulated customers of a synthetic city using a running foodrec service, driven by the city's ground truth.

Each sampled customer visits the app a few times over the simulated days (at hours drawn from the city's own
order times), asks ``GET /v1/recommendations`` and sees ``k`` items. Whether they order, and what, follows the
ground-truth utilities ``u`` (``GroundTruth.scores``) with a position bias for what was shown::

    attraction[i] = exp(u[i]) * (1 + boost * w[rank(i)])     w[r] = 1 / log2(r + 1) for shown items, else 0
    P(order)      = A / (A + N),  A = sum_i attraction[i],   N = S * (1 - q0) / q0,  S = sum_i exp(u[i])
    P(i | order)  = attraction[i] / A

so without recommendations a visit converts with probability ``q0`` (``base_conversion``) and a list converts
better the more of the customer's own choice probability it puts near the top. Which item is chosen, clicks and
orders are posted to ``POST /v1/events`` with idempotency keys (re-running the same simulation stores nothing
twice). Because ``P(order)`` and the expected order value of every visit are known in closed form, the
simulation also reports the *true* conversion and revenue per customer of each variant, so the A/B analysis
can be checked against them.

Loopback only, and bounded by ``max_requests`` and ``max_seconds``.

>>> check_loopback("http://127.0.0.1:8000/")
'http://127.0.0.1:8000'
>>> check_loopback("http://example.com")   # doctest: +ELLIPSIS
Traceback (most recent call last):
...
foodrec.errors.InputError: --url 'http://example.com': the simulator only talks to loopback addresses ...
>>> p, probs = visit_probabilities(np.log([0.5, 0.3, 0.2]), np.array([2, -1]), base_conversion=0.3, boost=3.0)
>>> round(p, 3), probs.round(3).tolist()        # item 2 shown first: more orders, more of them item 2
(0.407, [0.312, 0.187, 0.5])
"""

from __future__ import annotations

import ipaddress
import json
import math
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from foodrec.errors import InputError

LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")


def check_loopback(url: str) -> str:
    """The base URL without trailing slash, or an InputError when it is not http(s) on a loopback address."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError as err:
        raise InputError(f"--url {url!r}: not a URL ({err})") from err
    if parts.scheme not in ("http", "https") or not host:
        raise InputError(f"--url {url!r}: give http://127.0.0.1:PORT (the running `foodrec serve`)")
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host.lower() in LOOPBACK_NAMES
    if not loopback:
        raise InputError(f"--url {url!r}: the simulator only talks to loopback addresses (127.0.0.1, ::1, localhost)")
    netloc = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{netloc}{f':{port}' if port else ''}{parts.path.rstrip('/')}"


def position_weights(k: int) -> np.ndarray:
    """Examination weight of ranks 1..k: ``1 / log2(rank + 1)`` (1 for the first slot, 0.29 for the tenth)."""
    return 1.0 / np.log2(np.arange(1, k + 1) + 1.0)


def visit_probabilities(
    utilities: np.ndarray, shown: np.ndarray, base_conversion: float = 0.3, boost: float = 3.0
) -> tuple[float, np.ndarray]:
    """``(P(order), P(item | order))`` for one visit; ``shown[r]`` is the item index at rank r+1 (-1 = unknown).

    Items with utility ``-inf`` (closed, not delivering) can never be chosen. A visit where nothing is
    available cannot convert.
    """
    u = np.asarray(utilities, dtype=np.float64)
    finite = np.isfinite(u)
    if not finite.any():
        return 0.0, np.zeros_like(u)
    top = u[finite].max()
    base = np.where(finite, np.exp(np.where(finite, u - top, 0.0)), 0.0)
    attraction = base.copy()
    w = position_weights(len(shown))
    shown = np.asarray(shown, dtype=np.int64)
    ranks = np.flatnonzero((shown >= 0) & (shown < len(u)))
    # an item shown twice counts once, at its best rank (np.unique keeps each item's first, i.e. best, rank)
    idx, first = np.unique(shown[ranks], return_index=True)
    attraction[idx] = base[idx] * (1.0 + boost * w[ranks[first]])
    s, a = base.sum(), attraction.sum()
    no_order = s * (1.0 - base_conversion) / base_conversion
    return float(a / (a + no_order)), attraction / a


# -- the city ------------------------------------------------------------------------------------------
@dataclass
class City:
    """What the simulator needs from a synthetic city: ground truth, history, customers, time zone, prices."""

    truth: Any
    history: pd.DataFrame
    customers: pd.DataFrame  # customer_id, area
    timezone: str
    hour_weights: np.ndarray  # (24,) share of orders per local hour
    items: pd.DataFrame | None = None  # item_id, restaurant_id, unit_price
    source: str = ""
    _values: dict[str, pd.Series] = field(default_factory=dict, repr=False)

    def order_values(self, level: str) -> pd.Series:
        """Value of an order per recommended id: a restaurant's mean order total; at dish level the dish's price
        plus what is usually added at that restaurant (its mean order total minus its dearest dish's price).
        """
        if level in self._values:
            return self._values[level]
        h = self.history
        if "order_total" in h.columns and h["order_total"].notna().any():
            per_order = h.groupby("order_id").agg(
                restaurant_id=("restaurant_id", "first"), total=("order_total", "first")
            )
        else:
            per_order = pd.DataFrame({"restaurant_id": h["restaurant_id"], "total": 30.0})
        per_order = per_order[per_order["total"].between(0, per_order["total"].quantile(0.99))]
        rest_total = per_order.groupby("restaurant_id")["total"].mean()
        fallback = float(per_order["total"].median()) if len(per_order) else 30.0
        if level == "restaurant" or self.items is None or "unit_price" not in self.items.columns:
            values = rest_total
        else:
            it = self.items.dropna(subset=["unit_price"])
            # what is added around the main dish: the mean order total minus the menu's dearest dish (a main)
            main_price = it.groupby("restaurant_id")["unit_price"].max()
            extra = (rest_total - main_price.reindex(rest_total.index)).clip(lower=0).fillna(0)
            values = it["unit_price"].to_numpy() + extra.reindex(it["restaurant_id"]).fillna(0).to_numpy()
            values = pd.Series(values, index=it["item_id"].astype(str).to_numpy())
        values = values.astype("float64")
        values.attrs["fallback"] = fallback
        self._values[level] = values
        return values


def _read_orders_csv(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype=str)
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"], utc=True, errors="coerce", format="ISO8601")
    frame = frame.dropna(subset=["ordered_at", "customer_id", "restaurant_id"]).drop_duplicates()
    for col in ("order_total", "unit_price", "quantity"):
        if col in frame.columns:
            frame[col] = pd.to_numeric(frame[col], errors="coerce")
    return frame.sort_values("ordered_at").reset_index(drop=True)


def load_city(path: str | Path) -> City:
    """A synthetic city from a ``foodrec generate`` folder or a store made from one (both hold ``truth/``)."""
    root = Path(path)
    if not root.is_dir():
        raise InputError(f"--city {str(path)!r} does not exist (a `foodrec generate --out` folder or a store)")
    if not (root / "truth").is_dir():
        raise InputError(f"--city {str(path)!r} has no truth/ folder: only synthetic cities have a ground truth")
    try:
        from foodrec.data.synthetic.truth import GroundTruth
    except ImportError as err:
        raise InputError(f"the simulator needs foodrec.data.synthetic.truth, which is unavailable ({err})") from err
    truth = GroundTruth.load(root)
    city_meta: dict[str, Any] = {}
    if (root / "city.json").is_file():
        city_meta = json.loads((root / "city.json").read_text())
    if (root / "catalogue.duckdb").is_file():
        from foodrec.data.store import Store

        store = Store.open(root)
        history = store.orders()
        customers, items = store.table("customers"), store.table("items")
        timezone = store.timezone
    else:
        orders_file = root / "orders.csv"
        if not orders_file.is_file():
            if not (root / "orders.parquet").is_file():
                raise InputError(f"--city {str(path)!r}: no orders.csv / orders.parquet")
            orders_file = root / "orders.parquet"
            tmp = pd.read_parquet(orders_file).astype({"ordered_at": str})
            history = _read_orders_csv_frame(tmp)
        else:
            history = _read_orders_csv(orders_file)
        customers = pd.read_csv(root / "customers.csv", dtype=str) if (root / "customers.csv").is_file() else None
        items = pd.read_csv(root / "items.csv", dtype={"item_id": str, "restaurant_id": str}) if (
            root / "items.csv").is_file() else None  # fmt: skip
        timezone = str(city_meta.get("timezone", "UTC"))
    if history.empty:
        raise InputError(f"--city {str(path)!r} holds no orders")
    for col in ("customer_id", "area", "restaurant_id", "order_id", "item_id"):
        if col in history.columns:
            history[col] = history[col].astype("object").where(history[col].notna(), None)
    # each customer's area: home area, else where they ordered most
    usual = history.dropna(subset=["area"]).groupby("customer_id")["area"].agg(lambda s: s.value_counts().index[0])
    if customers is not None and "home_area" in customers.columns:
        cust = pd.DataFrame({"customer_id": customers["customer_id"].astype(str).to_numpy(),
                             "area": customers["home_area"].astype("object").to_numpy()})  # fmt: skip
        cust["area"] = cust["area"].where(cust["area"].notna(), cust["customer_id"].map(usual))
    else:
        cust = pd.DataFrame({"customer_id": usual.index.astype(str), "area": usual.to_numpy()})
    local_hour = history["ordered_at"].dt.tz_convert(timezone).dt.hour
    hours = np.bincount(local_hour.to_numpy(), minlength=24).astype(float)
    return City(truth, history, cust.reset_index(drop=True), timezone, hours / hours.sum(), items, str(root))


def _read_orders_csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"], utc=True, errors="coerce", format="ISO8601")
    return frame.dropna(subset=["ordered_at", "customer_id", "restaurant_id"]).sort_values("ordered_at")


# -- visits ----------------------------------------------------------------------------------------
def plan_visits(city: City, n_customers: int, days: int, base_conversion: float, seed: int) -> pd.DataFrame:
    """Who visits when: ``n_customers`` drawn from the city, each visiting 1 + Poisson(orders rate / q0) times.

    Times start the day after the city's last order, at local hours drawn from the city's order times.
    """
    rng = np.random.default_rng([seed, 1])
    pool = city.customers
    n = min(n_customers, len(pool))
    chosen = pool.iloc[np.sort(rng.choice(len(pool), size=n, replace=False))].reset_index(drop=True)
    last = city.history["ordered_at"].max()
    recent = city.history[city.history["ordered_at"] > last - pd.Timedelta(days=28)]
    rate = recent.groupby("customer_id")["order_id"].nunique().reindex(chosen["customer_id"]).fillna(0) / 28.0
    n_visits = 1 + rng.poisson(np.minimum(rate.to_numpy() * days / base_conversion, 3 * days))
    who = np.repeat(np.arange(n), n_visits)
    start_local = (last.tz_convert(city.timezone) + pd.Timedelta(days=1)).normalize()
    day = rng.integers(0, days, len(who))
    hour = rng.choice(24, size=len(who), p=city.hour_weights)
    second = rng.integers(0, 3600, len(who))
    local = start_local.tz_localize(None) + pd.to_timedelta(day * 86400 + hour * 3600 + second, unit="s")
    at = pd.DatetimeIndex(local).tz_localize(city.timezone, ambiguous="NaT", nonexistent="shift_forward")
    visits = pd.DataFrame({"customer_id": chosen["customer_id"].to_numpy()[who], "area": chosen["area"].to_numpy()[who],
                           "at": at.tz_convert("UTC"), "day": day})  # fmt: skip
    visits = visits.dropna(subset=["at"]).sort_values(["at", "customer_id"], kind="stable").reset_index(drop=True)
    visits["visit"] = np.arange(len(visits))
    return visits


# -- the service ---------------------------------------------------------------------------------
class ServiceClient:
    """The simulator's side of the API, through :class:`foodrec.client.FoodrecClient` (typed requests and
    answers, retries of 503 with backoff and ``Retry-After``); answers come back as plain JSON dicts and every
    failure as a one-line :class:`ServiceError`."""

    def __init__(self, base_url: str, timeout: float = 10.0):
        from foodrec.client import FoodrecClient

        self.base_url = check_loopback(base_url)
        self._api = FoodrecClient(self.base_url, timeout=timeout)

    def recommend(self, customer_id: str, area: str | None, at: pd.Timestamp, k: int) -> dict[str, Any]:
        get = self._api.recommendations
        answer = self._guard("GET", "/v1/recommendations", get, customer_id, area=area or None, at=at, k=k)
        return answer.model_dump(mode="json", exclude_unset=True)  # exactly the fields the service sent

    def rankings(self, customer_id: str, area: str | None, at: pd.Timestamp, k: int, token: str) -> dict[str, Any]:
        """Every variant's own list for the visit (``GET /v1/admin/rankings``; paired truth, not an exposure)."""
        params: dict[str, Any] = {"customer_id": customer_id, "at": at.isoformat(), "k": k}
        if area:
            params["area"] = area
        return self._call("GET", "/v1/admin/rankings", params=params, headers={"Authorization": f"Bearer {token}"})

    def rankings_many(self, visits: list[dict[str, Any]], token: str) -> list[dict[str, Any]]:
        """``rankings`` of many visits (``customer_id``, ``area``, ``at``, ``k``, optional ``variant`` list: only
        those), through ``POST /v1/admin/rankings/batch`` in requests of at most 256 visits; answers in order."""
        out: list[dict[str, Any]] = []
        for start in range(0, len(visits), 256):
            body = [{key: (value.isoformat() if key == "at" else value) for key, value in visit.items()
                     if value is not None} for visit in visits[start : start + 256]]  # fmt: skip
            answer = self._call("POST", "/v1/admin/rankings/batch", json={"visits": body},
                                headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            out.extend(answer["rankings"])
        return out

    def post_events(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        """Post events (dicts validated into the server's ``EventIn``, keys included); stored/duplicate counts."""
        return self._guard("POST", "/v1/events", self._api.post_events, events).model_dump(mode="json")

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """Any route, with the client's retries; the JSON answer."""

        def send() -> Any:
            response = self._api.request(method, path, **kwargs)
            self._api.raise_for_status(method, path, response)
            return response.json()

        return self._guard(method, path, send)

    def _guard(self, method: str, path: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        from pydantic import ValidationError

        from foodrec.client import ConnectionFailed, FoodrecAPIError, ServiceUnavailable

        try:
            return call(*args, **kwargs)
        except ConnectionFailed as err:
            raise ServiceError(f"{err}; is `foodrec serve` running?") from err
        except ServiceUnavailable as err:
            raise ServiceError(f"{method} {path}: service stayed busy ({err.detail})") from err
        except FoodrecAPIError as err:
            raise ServiceError(str(err)[:300]) from err
        except ValidationError as err:  # an event the server would refuse: said before sending it
            raise ServiceError(f"{method} {path}: invalid request: {err.errors()[0]['msg']}") from err

    def close(self) -> None:
        self._api.close()


class ServiceError(InputError):
    """The service is unreachable or refused a request."""


# -- the simulation --------------------------------------------------------------------------------
@dataclass
class SimulationConfig:
    url: str
    city: str
    customers: int = 1000
    days: int = 7
    max_requests: int = 20000
    max_seconds: float = 300.0
    k: int = 10
    seed: int = 0
    base_conversion: float = 0.3  # P(order | visit) without recommendations
    boost: float = 3.0  # how much the first slot multiplies an item's attraction
    browse_click: float = 0.05  # P(click | shown at rank 1, not chosen), scaled by the position weight
    concurrency: int = 8  # requests in flight at once (the service batches them)
    # The service's admin token: with it every visit is also priced under every variant's list (paired truth).
    admin_token: str | None = field(default=None, repr=False)

    def validate(self) -> SimulationConfig:
        if self.customers < 1 or self.days < 1 or self.max_requests < 1 or self.max_seconds <= 0:
            raise InputError("--customers, --days, --max-requests and --max-seconds must be positive")
        if not 1 <= self.k <= 100:
            raise InputError(f"--k must be between 1 and 100, got {self.k}")
        if not 1 <= self.concurrency <= 64:
            raise InputError(f"--concurrency must be between 1 and 64, got {self.concurrency}")
        if not 0 < self.base_conversion < 1 or self.boost < 0 or not 0 <= self.browse_click <= 1:
            raise InputError("base conversion must be in (0, 1), boost >= 0 and browse click in [0, 1]")
        check_loopback(self.url)
        return self


def run_simulation(config: SimulationConfig, client: Any = None, city: City | None = None) -> dict[str, Any]:
    """Run the simulation against the service; returns the summary (true effects per variant included)."""
    from rich.progress import Progress

    config.validate()
    city = city or load_city(config.city)
    visits = plan_visits(city, config.customers, config.days, config.base_conversion, config.seed)
    own_client = client is None
    client = client or ServiceClient(config.url)
    started = time.monotonic()
    history = city.history
    per_visit: list[dict[str, Any]] = []
    counts = {"requests": 0, "failed_requests": 0, "events_stored": 0, "events_duplicate": 0}
    first_error: str | None = None
    stopped = "done"
    latencies: dict[str, list[float]] = {}
    pool = ThreadPoolExecutor(max_workers=config.concurrency)

    variant_names: list[str] = []  # the service's variants, from the first full paired-truth answer

    def ask(v: Any) -> tuple[Any, dict[str, Any] | None, float, str | None]:
        t0 = time.perf_counter()
        try:
            answer, error = client.recommend(v.customer_id, v.area, v.at, config.k), None
        except ServiceError as err:  # counted; too many of them stop the run
            answer, error = None, str(err)
        return v, answer, (time.perf_counter() - t0) * 1000, error

    try:
        with Progress(transient=True) as progress:
            task = progress.add_task("simulating customers", total=len(visits))
            for _, day_visits in visits.groupby("day", sort=True):
                answers = []
                rows = list(day_visits.itertuples())
                # ask in small waves so the request and time limits hold within a day too
                for start in range(0, len(rows), 4 * config.concurrency):
                    budget = config.max_requests - counts["requests"]
                    if budget <= 0:
                        stopped = "max_requests"
                        break
                    if time.monotonic() - started > config.max_seconds:
                        stopped = "max_seconds"
                        break
                    wave = rows[start : start + min(4 * config.concurrency, budget)]
                    answered = []
                    for v, answer, latency, error in pool.map(ask, wave):
                        counts["requests"] += 1
                        if answer is None:
                            counts["failed_requests"] += 1
                            first_error = first_error or error
                            continue
                        latencies.setdefault(str(answer.get("variant")), []).append(latency)
                        answered.append((v, answer))
                    if config.admin_token and answered:
                        try:  # the paired truth of the whole wave in one request
                            _paired_lists(client, answered, config, variant_names)
                        except ServiceError as err:
                            counts["failed_requests"] += len(answered)
                            first_error, answered = first_error or str(err), []
                    answers.extend(answered)
                    progress.advance(task, len(wave))
                    if counts["failed_requests"] > max(10, 0.1 * counts["requests"]):
                        raise ServiceError(
                            f"{counts['failed_requests']} of {counts['requests']} requests failed; first: {first_error}"
                        )
                if answers:
                    events, outcomes, new_orders = _outcomes(city, history, answers, config)
                    per_visit.extend(outcomes)
                    for start in range(0, len(events), 500):
                        res = client.post_events(events[start : start + 500])
                        counts["events_stored"] += int(res.get("stored", 0))
                        counts["events_duplicate"] += int(res.get("duplicates", 0))
                    if len(new_orders):
                        history = pd.concat([history, new_orders], ignore_index=True)
                if stopped != "done":
                    break
    finally:
        pool.shutdown(wait=True)
        if own_client:
            client.close()
    summary = summarise(per_visit, config)
    summary.update(
        requests=counts["requests"], failed_requests=counts["failed_requests"], events_stored=counts["events_stored"],
        events_duplicate=counts["events_duplicate"], stopped=stopped,
        seconds=round(time.monotonic() - started, 2), city=city.source,
        latency_ms={v: {"p50": float(np.percentile(x, 50)), "p95": float(np.percentile(x, 95)), "n": len(x)}
                    for v, x in latencies.items()},
    )  # fmt: skip
    return summary


def _paired_lists(
    client: Any, answered: list[tuple[Any, dict[str, Any]]], config: SimulationConfig, names: list[str]
) -> None:
    """Every variant's own list for each answered visit, as ``answer["_lists"]``: the list shown is the shown
    variant's (what it answered for this visit); the other variants' come from the admin rankings (one request for
    all the visits). An interleaved list belongs to no variant, so then all are asked. ``names`` keeps the
    service's variants once an answer has listed them all."""
    asked = []
    for v, answer in answered:
        shown = str(answer.get("variant"))
        others = [name for name in names if name != shown] if shown in names else []
        asked.append({"customer_id": v.customer_id, "area": v.area or None, "at": v.at, "k": config.k,
                      "variant": others or None})  # fmt: skip
    ranked = client.rankings_many(asked, config.admin_token)
    for (_, answer), query, result in zip(answered, asked, ranked, strict=True):
        lists = {name: r["items"] for name, r in result["variants"].items()}
        if query["variant"]:
            lists[str(answer.get("variant"))] = [str(item["item_id"]) for item in answer.get("items", [])]
        elif not names:
            names[:] = list(lists)
        answer["_lists"] = lists


def _outcomes(
    city: City, history: pd.DataFrame, answers: list[tuple[Any, dict[str, Any]]], config: SimulationConfig
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], pd.DataFrame]:
    """Ground-truth choices for one day's answered visits: events to post, per-visit truth, new order lines."""
    events: list[dict[str, Any]] = []
    outcomes: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    by_level: dict[str, list[int]] = {}
    for i, (_, answer) in enumerate(answers):
        by_level.setdefault(str(answer.get("level", "restaurant")), []).append(i)
    item_rest = None
    if city.items is not None:
        item_rest = dict(zip(city.items["item_id"].astype(str), city.items["restaurant_id"].astype(str), strict=False))
    for level, idx in by_level.items():
        queries = pd.DataFrame({
            "customer_id": [answers[i][0].customer_id for i in idx],
            "area": [answers[i][0].area for i in idx],
            "at": pd.to_datetime([answers[i][0].at for i in idx], utc=True),
        })  # fmt: skip
        with warnings.catch_warnings():  # numpy's note on tz-aware datetimes inside GroundTruth
            warnings.simplefilter("ignore", UserWarning)
            item_ids, utilities = city.truth.scores(queries, history, level)
        item_ids = np.asarray(item_ids).astype(str)
        position = {item: j for j, item in enumerate(item_ids)}
        values = city.order_values(level).reindex(item_ids).fillna(city.order_values(level).attrs["fallback"])
        values = values.to_numpy(dtype=np.float64)
        utilities = np.asarray(utilities, dtype=np.float64)
        top_k = np.argsort(-np.where(np.isfinite(utilities), utilities, -1e300), axis=1)[:, : config.k]
        for row, i in enumerate(idx):
            visit, answer = answers[i]
            shown_ids = [str(it["item_id"]) for it in answer.get("items", [])]
            teams = [it.get("team") for it in answer.get("items", [])]
            credits = {"credits": teams} if teams and all(teams) else {}  # an interleaved list: each item's team
            shown = np.array([position.get(s, -1) for s in shown_ids], dtype=np.int64)
            p_order, probs = visit_probabilities(utilities[row], shown, config.base_conversion, config.boost)
            paired = price_lists(answer.get("_lists", {}), position, utilities[row], values, config)
            best, _ = visit_probabilities(utilities[row], top_k[row], config.base_conversion, config.boost)
            rng = np.random.default_rng([config.seed, 2, int(visit.visit)])
            variant, request_id = str(answer.get("variant")), answer.get("request_id")
            key = f"sim{config.seed}-v{int(visit.visit)}"
            base = {"customer_id": visit.customer_id, "request_id": request_id, "variant": variant}
            if visit.area:
                base["area"] = visit.area
            at = pd.Timestamp(visit.at)
            events.append({**base, "idempotency_key": f"{key}-imp", "type": "impression", "items": shown_ids,
                           "occurred_at": at.isoformat(), **credits})  # fmt: skip
            w = position_weights(len(shown_ids))
            ordered = bool(rng.random() < p_order)
            choice = int(rng.choice(len(probs), p=probs)) if ordered else -1
            for rank, item in enumerate(shown_ids):
                chosen_here = ordered and shown[rank] == choice
                if chosen_here or rng.random() < config.browse_click * w[rank]:
                    events.append({**base, "idempotency_key": f"{key}-click{rank}", "type": "click", "items": [item],
                                   "occurred_at": (at + pd.Timedelta(seconds=20 + rank)).isoformat(),
                                   **({"credits": [teams[rank]]} if credits else {})})  # fmt: skip
            expected_value = float(p_order * (probs * values).sum())
            value = 0.0
            if ordered:
                item = item_ids[choice]
                value = round(float(values[choice]), 2)
                when = (at + pd.Timedelta(minutes=3)).isoformat()
                credit = {}
                if credits and shown_ids.count(item):
                    credit = {"credits": [teams[shown_ids.index(item)]]}
                events.append({**base, "idempotency_key": f"{key}-order", "type": "order", "items": [item],
                               "order_value": value, "occurred_at": when, **credit})  # fmt: skip
                rest = item if level == "restaurant" else (item_rest or {}).get(item, item)
                lines.append({"order_id": f"{key}-order", "customer_id": visit.customer_id, "ordered_at": at,
                              "area": visit.area, "restaurant_id": rest,
                              "item_id": item if level == "dish" else None, "order_total": value})  # fmt: skip
            outcomes.append({
                "customer_id": visit.customer_id, "variant": variant, "p_order": p_order, "p_order_best": best,
                "expected_value": expected_value, "ordered": ordered, "value": value,
                "shown_known": int((shown >= 0).sum()), "shown": len(shown_ids), **paired,
            })  # fmt: skip
    new = pd.DataFrame(lines)
    if len(new):
        new["ordered_at"] = pd.to_datetime(new["ordered_at"], utc=True)
    return events, outcomes, new


def price_lists(
    lists: dict[str, list[str]], position: dict[str, int], utilities: np.ndarray, values: np.ndarray, config: Any
) -> dict[str, float]:
    """``{"p:V": P(order), "v:V": expected order value}`` of the visit under each variant V's own list."""
    out: dict[str, float] = {}
    for name, items in lists.items():
        idx = np.array([position.get(str(i), -1) for i in items], dtype=np.int64)
        p, probs = visit_probabilities(utilities, idx, config.base_conversion, config.boost)
        out[f"p:{name}"], out[f"v:{name}"] = p, float(p * (probs * values).sum())
    return out


def summarise(per_visit: list[dict[str, Any]], config: SimulationConfig) -> dict[str, Any]:
    """Per variant: simulated outcomes and *expected* (ground-truth) values, and the true lift of each treatment.

    The visit plan does not depend on the variant, so the true lift in orders (revenue) per customer equals the
    lift in ``P(order)`` (expected order value) per visit; it is estimated with all visits of each arm, with a
    standard error that treats customers as clusters. The true conversion lift pools the customers of both arms
    and scales each visit's ``P(order)`` by that per-visit ratio (a multiplicative per-visit effect is assumed).
    ``expected_*`` per variant are what this particular set of customers would do on average (they still
    carry the luck of who landed in which arm, like any A/B estimate).
    """
    from foodrec.experiments.analysis import ratio_metric

    model = {"base_conversion": config.base_conversion, "boost": config.boost, "position_weight": "1/log2(rank+1)"}
    settings = {k: v for k, v in asdict(config).items() if k != "admin_token"}
    out: dict[str, Any] = {"config": {**settings, "paired": bool(config.admin_token)}, "choice_model": model}
    if not per_visit:
        out.update(variants={}, true_lift={}, control=None, best_variant=None, visits=0)
        return out
    visits = pd.DataFrame(per_visit)
    # a customer who saw two variants counts in the first, like the analysis does
    first_variant = visits.groupby("customer_id", sort=False)["variant"].transform("first")
    visits = visits.assign(arm=first_variant)
    visits["log_no"] = np.log1p(-visits["p_order"].clip(upper=1 - 1e-12))
    cust = visits.groupby(["customer_id", "arm"], sort=True).agg(
        log_no=("log_no", "sum"), expected_revenue=("expected_value", "sum"), ordered=("ordered", "max"),
        revenue=("value", "sum"), visits=("p_order", "size"), expected_orders=("p_order", "sum"),
        orders=("ordered", "sum"),
    ).reset_index()  # fmt: skip
    cust["expected_conversion"] = 1 - np.exp(cust["log_no"])
    variants: dict[str, Any] = {}
    per_visit_ratio: dict[str, tuple[float, float, float, float]] = {}
    for name, g in cust.groupby("arm", sort=True):
        v = visits[visits["arm"] == name]
        p_visit, p_var = ratio_metric(g["expected_orders"].to_numpy(), g["visits"].to_numpy())
        e_visit, e_var = ratio_metric(g["expected_revenue"].to_numpy(), g["visits"].to_numpy())
        per_visit_ratio[str(name)] = (p_visit, p_var, e_visit, e_var)
        variants[str(name)] = {
            "customers": int(len(g)), "visits": int(g["visits"].sum()),
            "expected_conversion": float(g["expected_conversion"].mean()),
            "expected_orders_per_customer": float(g["expected_orders"].mean()),
            "expected_revenue_per_customer": float(g["expected_revenue"].mean()),
            "simulated_conversion": float(g["ordered"].mean()),
            "simulated_orders_per_customer": float(g["orders"].mean()),
            "simulated_revenue_per_customer": float(g["revenue"].mean()),
            "p_order_per_visit": float(v["p_order"].mean()),
            "expected_value_per_visit": float(v["expected_value"].mean()),
            "p_order_per_visit_best_list": float(v["p_order_best"].mean()),
            "share_of_shown_items_known_to_truth": float(v["shown_known"].sum() / max(v["shown"].sum(), 1)),
        }  # fmt: skip
    names = sorted(variants)
    control = "control" if "control" in names else names[0]
    lifts: dict[str, Any] = {}
    pc, pc_var, ec, ec_var = per_visit_ratio[control]
    for name in names:
        if name == control:
            continue
        pt, pt_var, et, et_var = per_visit_ratio[name]
        r_orders = pt / pc if pc > 0 else math.nan
        pair = visits[visits["arm"].isin([control, name])]
        scale_t = np.where(pair["arm"] == name, 1.0, r_orders)
        scale_c = np.where(pair["arm"] == name, 1.0 / r_orders, 1.0)
        conv = {}
        for label, scale in (("t", scale_t), ("c", scale_c)):
            no = np.log1p(-np.clip(pair["p_order"].to_numpy() * scale, 0, 1 - 1e-12))
            conv[label] = float((1 - np.exp(pd.Series(no).groupby(pair["customer_id"].to_numpy()).sum())).mean())
        lifts[name] = {
            "orders_per_customer": r_orders - 1,
            "orders_per_customer_se": _ratio_se(pt, pt_var, pc, pc_var),
            "revenue_per_customer": et / ec - 1 if ec > 0 else None,
            "revenue_per_customer_se": _ratio_se(et, et_var, ec, ec_var),
            "conversion": conv["t"] / conv["c"] - 1 if conv["c"] > 0 else None,
        }  # fmt: skip
    best = max(names, key=lambda n: variants[n]["p_order_per_visit"])
    out.update(variants=variants, control=control, true_lift=lifts, best_variant=best, visits=len(visits))
    if any(c.startswith("p:") for c in visits.columns):
        from foodrec.experiments.paired import arm_imbalance, paired_lift

        priced = sorted(c[2:] for c in visits.columns if c.startswith("p:"))
        paired_control = "control" if "control" in priced else priced[0]
        paired = paired_lift(visits, paired_control)
        out.update(paired_control=paired_control, paired_true_lift=paired,
                   arm_imbalance=arm_imbalance(visits, paired_control))  # fmt: skip
        if paired:
            better = {n: v["orders_per_visit"] for n, v in paired.items()}
            top = max(better, key=lambda n: better[n])
            out["paired_best_variant"] = top if better[top] > 0 else paired_control
    return out


def _ratio_se(t: float, t_var: float, c: float, c_var: float) -> float | None:
    """Standard error of ``t / c - 1`` (delta method, independent arms)."""
    if not (t > 0 and c > 0) or math.isnan(t_var) or math.isnan(c_var):
        return None
    return float(t / c * math.sqrt(t_var / t**2 + c_var / c**2))
