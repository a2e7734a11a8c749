"""The loop closes: an order posted to ``/v1/events`` is in that customer's features for the next request, for
every variant (a served Keras model and a counting baseline), with SQLite and PostgreSQL; a restart rebuilds from
store + event log and an order that arrives twice (event, then ingest) counts once; the service and
``foodrec recommend`` give the same top-k and scores for the same query."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

pytest.importorskip("keras")

from foodrec.cli import main  # noqa: E402
from foodrec.data.store import Store  # noqa: E402
from foodrec.recommenders.keras.recommender import KerasRecommender  # noqa: E402
from foodrec.serving.app import create_app  # noqa: E402
from foodrec.serving.state import ServiceState  # noqa: E402

AT = "2026-03-02T12:30:00Z"  # after the store's last order (the fixture log spans February 2026)


@pytest.fixture(scope="module")
def keras_model(city, order_log, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("keras") / "model"
    KerasRecommender(level="dish", search=False, epochs=2, eval_sample=200, batch_size=64).fit(order_log).save(path)
    return path


@pytest.fixture(scope="module")
def ab_file(keras_model, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ab") / "ab.json"
    variants = [
        {"name": "control", "recommender": "customer-history", "share": 0.5},
        {"name": "model", "recommender": str(keras_model), "share": 0.5},
    ]
    path.write_text(json.dumps({"salt": "loop", "variants": variants}))
    return path


def _ask(client, customer, area="north", k=8) -> dict:
    answer = client.get("/v1/recommendations", params={"customer_id": customer, "area": area, "at": AT, "k": k})
    assert answer.status_code == 200, answer.text
    return answer.json()


def _order(client, key, customer, item, area="north", minute=0) -> None:
    event = {"idempotency_key": key, "type": "order", "customer_id": customer, "items": [item], "area": area,
             "occurred_at": f"2026-03-02T11:{minute:02d}:00Z"}  # fmt: skip
    answer = client.post("/v1/events", json={"events": [event]})
    assert answer.status_code == 200 and answer.json()["stored"] == 1, answer.text


def _customer_in(state: ServiceState, variant: str) -> str:
    return next(c for c in (f"walk-in-{i}" for i in range(1000)) if state.snapshot.ab.assign(c) == variant)


def _events_url(kind: str, tmp_path: Path, request) -> str:
    return str(tmp_path / "events.sqlite") if kind == "sqlite" else request.getfixturevalue("pg_schema_url")


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_posted_order_reaches_the_next_recommendation_of_every_variant(city, ab_file, tmp_path, request, kind):
    events = _events_url(kind, tmp_path, request)
    state = ServiceState(ab=ab_file, store=city["store"])
    with TestClient(create_app(state, events)) as client:
        for variant in ("control", "model"):
            customer = _customer_in(state, variant)  # new to the store: no history yet
            before = _ask(client, customer)
            assert before["variant"] == variant
            shown = [it["item_id"] for it in before["items"]]
            item = next(i for i in (f"i{r}{d}" for r in range(6) for d in range(4)) if i not in shown)
            for n in range(3):  # a regular: three orders of a dish the list did not show
                _order(client, f"{variant}-order-{n}", customer, item, minute=n)
            after = _ask(client, customer)  # the same query: a cached answer must not hide the orders
            assert item in [it["item_id"] for it in after["items"]], (variant, after["items"])
            rec = state.snapshot.models[variant].recommender
            if hasattr(rec, "view"):  # the model: history features from the event log, the unknown-customer row
                assert len(rec.view.recent_orders(customer)) == 3


def test_an_order_placed_now_is_seen_by_the_request_right_after_it(city, tmp_path):
    """Rankings are computed for the start of the request's time slot: an order of this very minute must count
    (customer-history: its own items come first, so what is checked is only that the order arrived in time)."""
    state = ServiceState(recommender="customer-history", store=city["store"])
    customer = "walk-in-now"
    with TestClient(create_app(state, tmp_path / "events.sqlite")) as client:

        def ask() -> list[str]:  # no `at`: now, as an app asks
            answer = client.get("/v1/recommendations", params={"customer_id": customer, "area": "north", "k": 8})
            return [it["item_id"] for it in answer.json()["items"]]

        item = next(i for i in (f"i{r}{d}" for r in range(6) for d in range(4)) if i not in ask())
        now = pd.Timestamp.now(tz="UTC").isoformat()
        for n in range(3):
            event = {"idempotency_key": f"now-{n}", "type": "order", "customer_id": customer, "items": [item],
                     "area": "north", "occurred_at": now}  # fmt: skip
            assert client.post("/v1/events", json={"events": [event]}).json()["stored"] == 1
        assert item in ask()


def test_the_model_sees_an_order_of_this_minute_at_the_start_of_the_slot(city, keras_model, tmp_path):
    from foodrec.features.clock import to_days

    state = ServiceState(recommender=str(keras_model), store=city["store"])
    app = create_app(state, tmp_path / "events.sqlite")
    with TestClient(app) as client:
        now = pd.Timestamp.now(tz="UTC")
        event = {"idempotency_key": "now-1", "type": "order", "customer_id": "walk-in", "items": ["i01"],
                 "area": "north", "occurred_at": now.isoformat()}  # fmt: skip
        assert client.post("/v1/events", json={"events": [event]}).json()["stored"] == 1
        slot = app.state.service.cache.slot(now.to_pydatetime())  # the time the next ranking is computed for
        view = state.snapshot.models["default"].recommender.view
        assert view.recent_orders("walk-in", before=float(to_days([slot])[0]))[0]["items"] == ["i01"]


def test_a_restart_rebuilds_from_store_and_events_and_counts_an_order_once(city, ab_file, tmp_path, order_log):
    events = tmp_path / "events.sqlite"
    state = ServiceState(ab=ab_file, store=city["store"])
    customer = _customer_in(state, "model")
    with TestClient(create_app(state, events)) as client:
        before = _ask(client, customer)["items"]
        _order(client, "ord-1", customer, "i51")
        after = _ask(client, customer)["items"]
    assert after != before  # the order changed the customer's features
    # Restart: a new service on the same store and event log has the order in its features again, so it ranks as
    # the service that took the order did (scores may differ a little: a rebuild recounts popularity snapshots that
    # the live service folded the order into).
    state = ServiceState(ab=ab_file, store=city["store"])
    with TestClient(create_app(state, events)) as client:
        assert [it["item_id"] for it in _ask(client, customer)["items"]] == [it["item_id"] for it in after]
        assert len(state.snapshot.models["model"].recommender.view.recent_orders(customer)) == 1
    # The same order later ingested into the store (same order_id): still one order, not two.
    store = Store.open(city["store"])
    line = pd.DataFrame(
        [
            {
                **order_log.orders.iloc[0].to_dict(),
                "order_id": "ord-1",
                "customer_id": customer,
                "item_id": "i51",
                "restaurant_id": "r5",
                "ordered_at": pd.Timestamp("2026-03-02T11:00Z"),
            }
        ]
    )
    copy = Store.create(tmp_path / "store2")
    copy.write_orders_part(pd.concat([store.order_log().orders, line], ignore_index=True))
    for name in ("restaurants", "items"):
        copy.write_table(name, store.table(name))
    copy.set_meta(timezone=order_log.timezone)
    state = ServiceState(ab=ab_file, store=tmp_path / "store2")
    with TestClient(create_app(state, events)) as client:
        view = state.snapshot.models["model"].recommender.view
        assert len(view.recent_orders(customer)) == 1
        control = state.snapshot.models["control"].recommender
        assert (control.tables["history"].dense(control.tables["history"].codes([customer])) > 0).sum() == 1


def test_the_service_and_batch_recommend_agree_on_the_same_store(city, keras_model, tmp_path):
    state = ServiceState(recommender=str(keras_model), store=city["store"])
    with TestClient(create_app(state, tmp_path / "events.sqlite", cache_entries=0)) as client:
        served = [_ask(client, c, area, k=5) for c, area in (("c01", "south"), ("c07", "east"), ("nobody", "north"))]
    queries = tmp_path / "q.csv"
    queries.write_text(f"customer_id,area,at\nc01,south,{AT}\nc07,east,{AT}\nnobody,north,{AT}\n")
    out = tmp_path / "r.csv"
    rc = main(["recommend", "--recommender", str(keras_model), "--store", str(city["store"]), "--queries",
               str(queries), "--out", str(out), "--k", "5"])  # fmt: skip
    assert rc == 0
    batch = pd.read_csv(out, dtype={"item_id": str})
    for i, answer in enumerate(served):
        rows = batch[batch["query_id"] == i]
        assert [it["item_id"] for it in answer["items"]] == rows["item_id"].tolist()
        np.testing.assert_allclose([it["score"] for it in answer["items"]], rows["score"], rtol=1e-6)


def test_recommend_with_a_model_needs_a_store_and_says_so(keras_model, tmp_path, capsys):
    queries = tmp_path / "q.csv"
    queries.write_text(f"customer_id,area,at\nc01,south,{AT}\n")
    rc = main(["recommend", "--recommender", str(keras_model), "--queries", str(queries), "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert rc == 2 and "--store" in err and len(err.strip().splitlines()) == 1


def test_a_model_ranked_in_a_process_of_its_own_answers_as_in_the_server_orders_and_reloads_included(
    city, keras_model, tmp_path
):
    import gc

    here = ServiceState(recommender=str(keras_model), store=city["store"])
    apart = ServiceState(recommender=str(keras_model), store=city["store"], rank_process=True)
    remote = apart.snapshot.models["default"].remote
    assert remote is not None and here.snapshot.models["default"].remote is None
    process = remote._process
    assert process.is_alive() and process.pid != __import__("os").getpid()
    asks = (("c01", "south"), ("c07", "east"), ("nobody", "north"), ("c03", None))

    def answers(client) -> list[list[tuple[str, float]]]:
        out = []
        for customer, area in asks:
            params = {"customer_id": customer, "at": AT, "k": 8, **({"area": area} if area else {})}
            answer = client.get("/v1/recommendations", params=params)
            assert answer.status_code == 200, answer.text
            out.append([(it["item_id"], it["score"]) for it in answer.json()["items"]])
        return out

    with (
        TestClient(create_app(here, tmp_path / "here.sqlite", cache_entries=0)) as a,
        TestClient(create_app(apart, tmp_path / "apart.sqlite", cache_entries=0)) as b,
    ):
        before = answers(b)
        assert before == answers(a)
        item = before[0][-1][0]  # c01's 8th item, ordered twice now: the ranking must move
        for client in (a, b):
            for minute in (1, 2):
                _order(client, f"o-{minute}", "c01", item, area="south", minute=minute)
        after = answers(b)
        assert after == answers(a) and after[0] != before[0]
        for state in (here, apart):
            state.reload()  # rebuilt from the store and the event store's orders: a new copy in a new process
        assert apart.snapshot.models["default"].remote._process.pid != process.pid
        assert answers(b) == answers(a)
    gc.collect()
    process.join(timeout=10)
    assert not process.is_alive()  # the dropped model's process stopped with it
