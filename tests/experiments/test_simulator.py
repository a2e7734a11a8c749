"""The simulator: loopback only, bounded, deterministic, choices follow the ground truth and the list shown."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from foodrec.cli import main
from foodrec.errors import InputError
from foodrec.experiments.analysis import analyze
from foodrec.experiments.simulator import (
    City,
    SimulationConfig,
    check_loopback,
    run_simulation,
    visit_probabilities,
)

ITEMS = np.array([f"r{i}" for i in range(8)])


class FakeTruth:
    """Every customer prefers r0 > r1 > ... (utilities fall by 0.5 per item), r7 is closed."""

    def scores(self, queries, history, level):
        u = np.tile(-0.5 * np.arange(len(ITEMS), dtype=float), (len(queries), 1))
        u[:, -1] = -np.inf
        return ITEMS, u


class FakeService:
    """Sticky 50/50 split by hash; 'treatment' shows the customer's favourites, 'control' the least liked."""

    def __init__(self):
        self.requests, self.events = [], []

    def variant(self, customer_id):
        return "treatment" if hashlib.sha256(customer_id.encode()).digest()[0] % 2 else "control"

    def recommend(self, customer_id, area, at, k):
        self.requests.append((customer_id, area, at))
        variant = self.variant(customer_id)
        items = list(ITEMS[:k]) if variant == "treatment" else list(ITEMS[::-1][:k])
        return {"request_id": f"q{len(self.requests)}", "variant": variant, "level": "restaurant",
                "items": [{"item_id": i} for i in items]}  # fmt: skip

    def post_events(self, events):
        keys = {e["idempotency_key"] for e in self.events}
        new = [e for e in events if e["idempotency_key"] not in keys]
        self.events.extend(new)
        return {"stored": len(new), "duplicates": len(events) - len(new)}

    def frame(self):
        ev = pd.DataFrame(self.events).rename(columns={"idempotency_key": "event_id"})
        return ev


def _city(n_customers=400):
    rng = np.random.default_rng(0)
    customers = pd.DataFrame({"customer_id": [f"c{i}" for i in range(n_customers)], "area": "a1"})
    n = 3 * n_customers
    history = pd.DataFrame({
        "order_id": [f"o{i}" for i in range(n)], "customer_id": rng.choice(customers["customer_id"], n),
        "ordered_at": pd.Timestamp("2026-02-01T12:00Z") + pd.to_timedelta(rng.integers(0, 28 * 86400, n), unit="s"),
        "area": "a1", "restaurant_id": rng.choice(ITEMS[:-1], n), "order_total": rng.lognormal(3.3, 0.4, n),
    })  # fmt: skip
    hours = np.zeros(24)
    hours[[12, 13, 19, 20]] = 0.25
    return City(FakeTruth(), history, customers, "UTC", hours)


def _config(**kw):
    return SimulationConfig(url="http://127.0.0.1:9", city="unused", **{"customers": 400, "days": 7, **kw})


@pytest.mark.parametrize(
    "url", ["http://10.0.0.1:8000", "http://example.com", "ftp://127.0.0.1", "127.0.0.1:8000", "http://[::2]:80", ""]
)
def test_non_loopback_urls_are_refused(url):
    with pytest.raises(InputError):
        check_loopback(url)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000", "http://localhost:1", "http://[::1]:8000/", "http://127.3.0.1"]
)
def test_loopback_urls_are_accepted(url):
    assert check_loopback(url).startswith("http")


def test_simulate_cli_refuses_a_remote_url_in_one_line(tmp_path, capsys):
    out = str(tmp_path / "s.json")
    code = main(["simulate", "--url", "http://192.168.1.10:8000", "--city", str(tmp_path), "--out", out])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: --url") and "loopback" in err and err.count("\n") == 1


def test_simulate_cli_on_a_folder_without_ground_truth(tmp_path, capsys):
    code = main(["simulate", "--url", "http://127.0.0.1:9", "--city", str(tmp_path), "--out", str(tmp_path / "s.json")])
    assert code == 2 and "truth" in capsys.readouterr().err


def test_unreachable_service_is_a_one_line_error(tmp_path):
    from foodrec.experiments.simulator import ServiceClient, ServiceError

    client = ServiceClient("http://127.0.0.1:9", timeout=1.0)  # port 9 (discard): nothing listens
    with pytest.raises(ServiceError, match="cannot reach"):
        client.recommend("c1", None, pd.Timestamp("2026-03-01T12:00Z"), 5)


def test_position_bias_and_list_quality_drive_conversion():
    u = np.log(np.array([0.4, 0.3, 0.2, 0.1]))
    none, _ = visit_probabilities(u, np.array([], dtype=np.int64), base_conversion=0.3)
    assert none == pytest.approx(0.3)  # no list: the base rate
    best_first, p1 = visit_probabilities(u, np.array([0, 3]), 0.3)
    worst_first, p2 = visit_probabilities(u, np.array([3, 0]), 0.3)
    assert best_first > worst_first > none
    assert p2[3] > p1[3]  # shown first, chosen more often
    closed = u.copy()
    closed[:] = -np.inf
    assert visit_probabilities(closed, np.array([0]), 0.3)[0] == 0.0


@given(
    st.lists(st.floats(-20, 20) | st.just(-np.inf), min_size=1, max_size=12),
    st.lists(st.integers(-2, 14), max_size=10),
)
def test_visit_probabilities_are_probabilities(utilities, shown):
    p, probs = visit_probabilities(np.array(utilities), np.array(shown, dtype=np.int64), 0.3, 3.0)
    assert 0.0 <= p <= 1.0
    if p > 0:
        assert probs.sum() == pytest.approx(1.0)
        assert (probs[~np.isfinite(np.array(utilities))] == 0).all()


def test_simulation_posts_consistent_events_and_knows_the_better_variant():
    service = FakeService()
    summary = run_simulation(_config(), client=service, city=_city())
    assert summary["stopped"] == "done" and summary["requests"] == len(service.requests)
    assert summary["best_variant"] == "treatment"
    truth = summary["true_lift"]["treatment"]
    assert truth["orders_per_customer"] > 0.1 and truth["orders_per_customer_se"] > 0
    ev = service.frame()
    assert (ev["type"] == "impression").sum() == summary["requests"]
    orders = ev[ev["type"] == "order"]
    assert orders["order_value"].gt(0).all() and orders["items"].map(len).eq(1).all()
    assert not orders["items"].map(lambda x: x[0]).eq("r7").any()  # closed restaurant never chosen
    # every visit is in the simulated days, at the city's usual hours (UTC here)
    at = pd.to_datetime(ev["occurred_at"], utc=True, format="ISO8601")
    assert at.min() > pd.Timestamp("2026-03-01T00:00Z")
    hours = pd.to_datetime(ev.loc[ev["type"] == "impression", "occurred_at"], format="ISO8601").dt.hour
    assert set(hours) <= {12, 13, 19, 20}
    # and the analysis finds the better variant, with the truth inside its CI
    res = analyze(ev, control="control", n_boot=0)
    est = res.comparison("treatment", "orders_per_customer")
    assert est["lift"] > 0 and est["lift_low"] < truth["orders_per_customer"] < est["lift_high"]


def test_simulation_is_deterministic_and_idempotent():
    city = _city()
    a, b = FakeService(), FakeService()
    sa = run_simulation(_config(seed=3), client=a, city=city)
    sb = run_simulation(_config(seed=3), client=b, city=city)
    assert a.events == b.events and sa["true_lift"] == sb["true_lift"]
    again = run_simulation(_config(seed=3), client=a, city=city)  # same keys: the service stores nothing twice
    assert again["events_stored"] == 0 and again["events_duplicate"] == len(b.events)


def test_simulation_stops_at_max_requests():
    service = FakeService()
    summary = run_simulation(_config(max_requests=37), client=service, city=_city())
    assert summary["stopped"] == "max_requests" and summary["requests"] == 37 == len(service.requests)


@pytest.mark.parametrize(
    "kw", [{"customers": 0}, {"days": 0}, {"k": 0}, {"max_seconds": 0}, {"concurrency": 0}, {"base_conversion": 1.0}]
)
def test_bad_settings_are_input_errors(kw):
    with pytest.raises(InputError):
        _config(**kw).validate()


class CityService(FakeService):
    """Shows real restaurants of a generated city: 'treatment' the customer's past ones, 'control' random ones."""

    def __init__(self, history):
        super().__init__()
        self.rests = np.array(sorted(history["restaurant_id"].unique()))
        self.past = history.groupby("customer_id")["restaurant_id"].agg(lambda s: list(s.value_counts().index))

    def recommend(self, customer_id, area, at, k):
        self.requests.append((customer_id, area, at))
        variant = self.variant(customer_id)
        rng = np.random.default_rng(len(self.requests))
        items = list(rng.choice(self.rests, k, replace=False))
        if variant == "treatment":
            items = (self.past.get(customer_id, []) + items)[:k]
        return {"request_id": f"q{len(self.requests)}", "variant": variant, "level": "restaurant",
                "items": [{"item_id": i} for i in items]}  # fmt: skip


def test_simulation_on_a_generated_city_folder(tmp_path):
    from foodrec.experiments.simulator import load_city

    assert main(["generate", "--out", str(tmp_path / "city"), "--preset", "small", "--seed", "2"]) == 0
    city = load_city(tmp_path / "city")
    assert city.timezone == "America/Los_Angeles" and city.hour_weights.sum() == pytest.approx(1.0)
    assert city.history["ordered_at"].dt.tz is not None and city.customers["area"].notna().mean() > 0.9
    service = CityService(city.history)
    summary = run_simulation(_config(customers=300, days=3, seed=1), client=service, city=city)
    assert summary["requests"] > 300 and summary["variants"]["control"]["share_of_shown_items_known_to_truth"] == 1.0
    orders = service.frame().query("type == 'order'")
    assert len(orders) > 0 and set(orders["items"].map(lambda x: x[0])) <= set(service.rests)
    # visits happen at the city's local meal times: almost none between 3 and 8 in the morning
    local = pd.to_datetime(service.frame()["occurred_at"], format="ISO8601").dt.tz_convert(city.timezone).dt.hour
    assert local.between(3, 7).mean() < 0.05


class FlakyService(FakeService):
    """Answers 422 to every ``every``-th request."""

    def __init__(self, every):
        super().__init__()
        self.every, self.calls = every, 0

    def recommend(self, customer_id, area, at, k):
        from foodrec.experiments.simulator import ServiceError

        self.calls += 1
        if self.calls % self.every == 0:
            raise ServiceError("GET /v1/recommendations answered 422: bad area")
        return super().recommend(customer_id, area, at, k)


def test_a_few_failed_requests_are_counted_and_many_stop_the_run():
    from foodrec.experiments.simulator import ServiceError

    summary = run_simulation(_config(concurrency=1), client=FlakyService(every=50), city=_city())
    assert 0 < summary["failed_requests"] < 0.05 * summary["requests"]
    with pytest.raises(ServiceError, match="requests failed; first: GET /v1/recommendations answered 422"):
        run_simulation(_config(concurrency=1), client=FlakyService(every=2), city=_city())
