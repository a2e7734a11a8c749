"""The store: read API on small stores, and the staged (all-or-nothing) write side."""

from __future__ import annotations

import pandas as pd
import pytest

from foodrec.data.store import StagedIngest, Store, staged_ingest
from foodrec.errors import StoreError


def orders(n: int = 3) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(n)],
            "customer_id": ["c1"] * n,
            "ordered_at": pd.date_range("2026-01-01", periods=n, freq="D", tz="UTC"),
            "area": ["a1"] * n,
            "restaurant_id": ["r1"] * n,
        }
    )


def test_open_reports_missing_or_foreign_directories(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        Store.open(tmp_path / "nope")
    with pytest.raises(StoreError, match="not a foodrec store"):
        Store.open(tmp_path)


def test_orders_until_and_order_log(tmp_path):
    store = Store.create(tmp_path / "s")
    store.write_orders_part(orders())
    store.set_meta(timezone="Europe/Berlin")
    assert len(store.orders(until="2026-01-02")) == 1
    log = store.order_log()
    assert log.timezone == "Europe/Berlin" and len(log.orders) == 3 and str(log.orders["ordered_at"].dt.tz) == "UTC"


def test_staged_writes_are_invisible_until_commit_and_gone_on_error(tmp_path):
    target = tmp_path / "new"
    with pytest.raises(RuntimeError), staged_ingest(target) as stage:
        orders().to_parquet(stage.orders_part_path())
        raise RuntimeError("bad file")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []  # no staging folder left behind


def test_commit_creates_then_extends_a_store(tmp_path):
    target = tmp_path / "s"
    with staged_ingest(target) as stage:
        orders(2).to_parquet(stage.orders_part_path())
        stage.set_meta(timezone="Asia/Tokyo")
        stage.record_source({"fingerprint": "f1", "source": "a.csv", "kind": "csv:orders", "rows_read": 2})
        stage.write_summary({"totals": {"read": 2}})
        stage.commit()
    store = Store.open(target)
    assert store.timezone == "Asia/Tokyo" and len(store.orders()) == 2
    assert store.ingest_summary() == {"totals": {"read": 2}}
    with staged_ingest(target) as stage:
        orders(3).to_parquet(stage.orders_part_path())
        pd.DataFrame({"restaurant_id": ["r1"], "name": ["R"]}).to_parquet(stage.table_path("restaurants"))
        stage.record_source({"fingerprint": "f2", "source": "b.csv", "kind": "csv:orders", "rows_read": 3})
        stage.commit()
    assert len(store.orders()) == 5
    assert store.table("restaurants")["name"].tolist() == ["R"]
    assert store.sources()["fingerprint"].tolist() == ["f1", "f2"]
    assert store.timezone == "Asia/Tokyo"
    assert not [p for p in target.iterdir() if p.name.startswith(".staging")]


def test_staging_refuses_a_non_store_directory_with_files(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(StoreError, match="not a foodrec store"):
        StagedIngest(tmp_path)
    with pytest.raises(StoreError, match="unknown table"):
        StagedIngest(tmp_path / "s").table_path("dishes")


def test_quarantine_is_empty_frame_before_any_ingest(tmp_path):
    store = Store.create(tmp_path / "s")
    assert store.quarantine().columns.tolist() == ["source", "line", "table", "reason", "raw"]
    assert store.ingest_summary() is None
