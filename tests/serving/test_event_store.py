"""One suite, both event stores: SQLite (WAL, default) and PostgreSQL (FOODREC_TEST_PG_URL)."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from foodrec.errors import InputError, StoreError
from foodrec.serving.events import EVENT_COLUMNS, Event, SQLiteEventStore, open_event_store


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "events.sqlite")
    return request.getfixturevalue("pg_schema_url")


@pytest.fixture()
def store(store_url):
    with open_event_store(store_url) as s:
        yield s


def order(key: str, customer: str = "c1", variant: str = "control", **kw) -> Event:
    return Event(
        event_id=key,
        type="order",
        customer_id=customer,
        variant=variant,
        items=("i1", "i2"),
        order_value=31.5,
        request_id="req-1",
        model_version="m@1",
        area="north",
        **kw,
    )


def test_kind_follows_the_url(store, store_url):
    assert store.kind == ("postgresql" if store_url.startswith("postgresql") else "sqlite")
    store.ping()


def test_a_key_is_stored_once(store):
    assert store.write([order("a"), order("b")]) == [True, True]
    assert store.write([order("a"), order("c"), order("c")]) == [False, True, False]
    assert store.count() == 3


def test_read_events_returns_the_contract_columns_and_types(store):
    at = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    store.write([order("a", occurred_at=at, received_at=at + timedelta(seconds=2))])
    store.write([Event(event_id="b", type="impression", customer_id="c2", variant="model", items=())])
    frame = store.read_events()
    assert tuple(frame.columns) == EVENT_COLUMNS
    assert list(frame["event_id"]) == ["a", "b"]
    a = frame.iloc[0]
    assert a["occurred_at"] == pd.Timestamp("2026-03-01T12:30Z") and str(frame["received_at"].dt.tz) == "UTC"
    assert a["items"] == ["i1", "i2"] and frame.iloc[1]["items"] == []
    assert a["order_value"] == 31.5 and pd.isna(frame.iloc[1]["order_value"])
    assert (a["type"], a["customer_id"], a["variant"], a["model_version"], a["area"], a["request_id"]) == (
        "order",
        "c1",
        "control",
        "m@1",
        "north",
        "req-1",
    )


def test_empty_store_reads_as_an_empty_frame(store):
    frame = store.read_events()
    assert len(frame) == 0 and tuple(frame.columns) == EVENT_COLUMNS


def test_assignments_keep_the_first_time_a_customer_was_seen(store):
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    store.write([order("a", occurred_at=t0), order("b", occurred_at=t0 + timedelta(hours=1))])
    store.write([order("c", customer="c2", variant="model", occurred_at=t0 + timedelta(hours=2))])
    assignments = store.read_assignments()
    assert list(zip(assignments["customer_id"], assignments["variant"], strict=True)) == [
        ("c1", "control"),
        ("c2", "model"),
    ]
    assert assignments["first_seen"].iloc[0] == pd.Timestamp(t0)


def test_concurrent_writers_lose_nothing_and_duplicate_nothing(store):
    def write(worker: int) -> None:
        for i in range(40):
            # every key is written by two workers
            store.write([order(f"k{(worker // 2)}-{i}", customer=f"c{worker}")])

    threads = [threading.Thread(target=write, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.count() == 3 * 40
    assert store.read_events()["event_id"].is_unique


def test_events_survive_reopening(store_url):
    with open_event_store(store_url) as first:
        first.write([order("persist")])
    with open_event_store(store_url) as second:
        assert list(second.read_events()["event_id"]) == ["persist"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    key=st.text(st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=128),
    items=st.lists(st.text(st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=20), max_size=5),
    value=st.none() | st.floats(min_value=0, max_value=1e6, allow_nan=False),
)
def test_any_valid_text_round_trips(store, key, items, value):
    key = f"{uuid.uuid4().hex}{key}"[:128]  # the store outlives the examples: keep keys apart
    event = Event(event_id=key, type="click", customer_id=key, variant="v", items=tuple(items), order_value=value)
    store.write([event])
    row = store.read_events().set_index("event_id").loc[key]
    assert row["items"] == items
    assert (pd.isna(row["order_value"]) and value is None) or row["order_value"] == pytest.approx(value)


def test_unknown_event_type_is_an_input_error():
    with pytest.raises(InputError, match="event type"):
        Event(event_id="k", type="like", customer_id="c", variant="v")


def test_bad_urls_and_paths_are_one_line_errors(tmp_path):
    with pytest.raises(InputError, match="use a file path"):
        open_event_store("mysql://db/events")
    with pytest.raises(InputError, match="does not exist"):
        open_event_store(tmp_path / "missing" / "events.sqlite")
    (tmp_path / "not-a-db.sqlite").write_text("hello, I am not SQLite" * 100)
    with pytest.raises(StoreError):
        open_event_store(tmp_path / "not-a-db.sqlite")


def test_unreachable_postgres_is_a_store_error_without_the_password():
    with pytest.raises(StoreError) as err:
        open_event_store("postgresql://u:hunter2@127.0.0.1:1/db?connect_timeout=2")
    assert "hunter2" not in str(err.value) and "***" in str(err.value)


def test_sqlite_uses_wal(tmp_path):
    with SQLiteEventStore(tmp_path / "e.sqlite") as s:
        assert s._query("PRAGMA journal_mode")[1][0][0] == "wal"
