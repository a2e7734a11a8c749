"""The order store partitioned by UTC day: ingest writes ``orders/day=YYYY-MM-DD/part-*.parquet``; DuckDB reads it
(a cutoff skips later days); a store in the older flat layout, or one holding both, reads the same lines."""

from __future__ import annotations

import shutil

import pandas as pd
import pyarrow.parquet as pq

from foodrec.data.ingest import ingest
from foodrec.data.store import Store


def _lines(n: int = 60) -> pd.DataFrame:
    at = pd.Timestamp("2026-03-01T20:30:00Z") + pd.to_timedelta(range(n), unit="h") * 2
    return pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(n)],
            "customer_id": [f"c{i % 7}" for i in range(n)],
            "ordered_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "area": ["a1", "a2"] * (n // 2),
            "restaurant_id": [f"r{i % 5}" for i in range(n)],
        }
    )


def test_ingest_writes_one_folder_per_utc_day_and_reads_back(tmp_path):
    src = tmp_path / "orders.csv"
    _lines().to_csv(src, index=False)
    ingest([str(src)], tmp_path / "store")
    store = Store.open(tmp_path / "store")
    days = sorted(p.name for p in (store.path / "orders").iterdir())
    assert days == [f"day=2026-03-{d:02d}" for d in range(1, 7)]  # 60 lines 2 h apart from 1 March 20:30 UTC
    for folder in (store.path / "orders").iterdir():
        at = pq.read_table(next(folder.glob("part-*.parquet"))).column("ordered_at").to_pandas()
        assert (at.dt.strftime("day=%Y-%m-%d") == folder.name).all()
    everything = store.orders()
    assert len(everything) == 60 and list(everything.columns[:5]) == [
        "order_id", "customer_id", "ordered_at", "area", "restaurant_id"]  # fmt: skip
    assert "day" not in everything.columns  # the partition is not a column: ordered_at says it
    cut = pd.Timestamp("2026-03-03T06:00:00Z")
    assert len(store.order_parts(until=cut)) == 3  # days after the cutoff's day are not opened
    before = store.orders(until=cut)
    assert len(before) == int((pd.to_datetime(_lines()["ordered_at"]) < cut).sum())
    assert store.orders(until="2026-01-01").empty
    # The same file again is skipped; the rows are still counted once.
    ingest([str(src)], tmp_path / "store")
    assert len(Store.open(tmp_path / "store").orders()) == 60


def test_flat_and_mixed_layouts_keep_loading(tmp_path):
    src = tmp_path / "orders.csv"
    _lines().to_csv(src, index=False)
    ingest([str(src)], tmp_path / "store")
    expected = Store.open(tmp_path / "store").orders()
    # An older store: the same lines as one flat part under orders/.
    flat = tmp_path / "flat"
    shutil.copytree(tmp_path / "store", flat)
    shutil.rmtree(flat / "orders")
    (flat / "orders").mkdir()
    expected.to_parquet(flat / "orders" / "part-old.parquet", index=False)
    pd.testing.assert_frame_equal(Store.open(flat).orders(), expected)
    # Ingesting into it adds day folders beside the flat part; both are read (and dedupe sees the flat lines).
    more = _lines(80).iloc[60:]
    more.to_csv(tmp_path / "more.csv", index=False)
    _lines().iloc[::-1].to_csv(tmp_path / "again.csv", index=False)  # the same lines, other bytes: duplicates
    summary = ingest([str(tmp_path / "more.csv"), str(tmp_path / "again.csv")], flat)
    totals = summary["last_run"]["totals"]
    assert (totals["accepted"], totals["duplicates"], totals["quarantined"]) == (20, 60, 0), totals
    mixed = Store.open(flat)
    assert (flat / "orders" / "part-old.parquet").is_file() and any((flat / "orders").glob("day=*"))
    assert len(mixed.orders()) == 80 and mixed.orders()["order_id"].is_unique
