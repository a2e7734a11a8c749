"""`foodrec ingest` end to end: accounting, idempotence, all source kinds, the time zone."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from foodrec.cli import main
from foodrec.data.ingest import ingest
from foodrec.data.store import Store

HEADER = "order_id,customer_id,ordered_at,area,restaurant_id,item_id,quantity,unit_price"
ROWS = [
    "o1,c1,2026-01-05T12:00:00Z,a1,r1,i1,1,5.0",  # line 2
    "o1,c1,2026-01-05T12:00:00Z,a1,r1,i2,2,3.0",
    "o1,c1,2026-01-05T12:00:00Z,a1,r1,i2,2,3.0",  # exact duplicate of line 3
    "o2,c2,2026-01-05 19:30:00,a2,r2,i3,1,9.5",
    "o3,c2,not a time,a2,r2,i3,1,9.5",  # line 6
    "o4,c3,1767700800,,r1,i1,1,5.0",
    "o5,c3,2026-01-06T08:00:00+01:00,a1,r1,i1,1,-5.0",
    "o6,c4,2026-01-07T12:00:00Z,a1,r1,i1,1,5.0,surplus",  # line 9
]


def write_orders(path: Path, rows: list[str] = ROWS, header: str = HEADER) -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def balanced(counts: dict) -> bool:
    return counts["read"] == counts["accepted"] + counts["quarantined"] + counts["duplicates"]


def test_canonical_csv_accounting_summary_and_quarantine(tmp_path, capsys):
    src = write_orders(tmp_path / "orders.csv")
    assert main(["ingest", str(src), "--store", str(tmp_path / "store"), "--json", str(tmp_path / "s.json")]) == 0
    out = capsys.readouterr().out
    assert "quarantined rows by reason" in out and "unparseable ordered_at" in out
    store = Store.open(tmp_path / "store")
    summary = store.ingest_summary()
    assert summary["totals"] == {"read": 8, "accepted": 3, "quarantined": 4, "duplicates": 1}
    assert summary["last_run"]["totals"] == summary["totals"]  # a new store: its history is this run
    assert balanced(summary["sources"][0])
    assert json.loads((tmp_path / "s.json").read_text())["totals"] == summary["totals"]
    frame = store.orders()
    assert list(zip(frame["order_id"], frame["item_id"], strict=True)) == [("o1", "i1"), ("o1", "i2"), ("o2", "i3")]
    assert frame["ordered_at"].iloc[-1] == pd.Timestamp("2026-01-05 19:30", tz="UTC")
    quarantine = store.quarantine()
    assert quarantine["line"].tolist() == [6, 7, 8, 9]
    assert quarantine["reason"].tolist() == [
        "unparseable ordered_at", "missing area", "negative unit_price", "wrong number of fields (9, expected 8)"
    ]  # fmt: skip
    raw = json.loads(quarantine["raw"].iloc[0])
    assert raw["ordered_at"] == "not a time" and raw["order_id"] == "o3"
    assert json.loads(quarantine["raw"].iloc[3]) == {"_text": ROWS[-1]}


def test_same_file_twice_adds_nothing_and_row_dedupe_spans_files(tmp_path):
    src = write_orders(tmp_path / "orders.csv")
    store = tmp_path / "store"
    ingest([str(src)], store)
    before = Store.open(store).orders()
    again = ingest([str(src)], store)
    assert again["last_run"]["sources"][0]["skipped"] and again["last_run"]["totals"]["accepted"] == 0
    assert again["sources"] == Store.open(store).ingest_summary()["sources"]  # the store's history is unchanged
    assert again["totals"] == {"read": 8, "accepted": 3, "quarantined": 4, "duplicates": 1}
    # Another file repeating accepted rows (in another timestamp spelling) only adds the new row.
    rows = ["o1,c1,2026-01-05 12:00:00,a1,r1,i1,1,5", "o7,c9,2026-01-08,a1,r1,i1,1,5"]
    other = write_orders(tmp_path / "more.csv", rows)
    summary = ingest([str(other)], store)
    assert summary["last_run"]["totals"] == {"read": 2, "accepted": 1, "quarantined": 0, "duplicates": 1}
    assert summary["totals"] == {"read": 10, "accepted": 4, "quarantined": 4, "duplicates": 2}
    assert len(summary["sources"]) == 2
    assert len(Store.open(store).orders()) == len(before) + 1
    assert summary["store_rows"]["orders"] == len(before) + 1


def test_naive_times_use_the_timezone_option_and_it_is_stored(tmp_path):
    src = write_orders(tmp_path / "o.csv", ["o1,c1,2026-07-01 12:00:00,a,r,,,", "o2,c1,2026-07-01T12:00:00Z,a,r,,,"])
    assert main(["ingest", str(src), "--store", str(tmp_path / "s"), "--timezone", "America/New_York"]) == 0
    store = Store.open(tmp_path / "s")
    assert store.timezone == "America/New_York"
    assert store.orders()["ordered_at"].tolist() == [
        pd.Timestamp("2026-07-01 12:00", tz="UTC"), pd.Timestamp("2026-07-01 16:00", tz="UTC")
    ]  # fmt: skip
    # The next file without --timezone is read in the store's zone.
    more = write_orders(tmp_path / "more.csv", ["o3,c1,2026-07-02 12:00:00,a,r,,,"])
    assert main(["ingest", str(more), "--store", str(tmp_path / "s")]) == 0
    assert store.orders()["ordered_at"].iloc[-1] == pd.Timestamp("2026-07-02 16:00", tz="UTC")


def test_mapped_csv(tmp_path):
    src = write_orders(tmp_path / "export.csv", ["A1,K1,2026-01-01 10:00,Z1,S1"], header="Order,Client,When,Zone,Shop")
    args = ["ingest", str(src), "--store", str(tmp_path / "s"),
            "--map", "order_id=Order,customer_id=Client,ordered_at=When,area=Zone,restaurant_id=Shop"]  # fmt: skip
    assert main(args) == 0
    row = Store.open(tmp_path / "s").orders().iloc[0]
    assert (row["order_id"], row["customer_id"], row["area"], row["restaurant_id"]) == ("A1", "K1", "Z1", "S1")


def test_parquet_export_with_typed_columns(tmp_path):
    frame = pd.DataFrame(
        {
            "order_id": ["o1", "o2", "o2"],
            "customer_id": ["c1", "c2", "c2"],
            "ordered_at": pd.to_datetime(["2026-01-01 10:00", "2026-01-02 11:00", "2026-01-02 11:00"]),
            "area": ["a", "a", "a"],
            "restaurant_id": ["r", "r", "r"],
            "quantity": [1.0, -2.0, -2.0],
            "order_total": [float("nan"), 20.0, 20.0],
        }
    )
    frame.to_parquet(tmp_path / "export.parquet")
    summary = ingest([str(tmp_path / "export.parquet")], tmp_path / "s", timezone="Europe/Berlin")
    assert summary["totals"] == {"read": 3, "accepted": 1, "quarantined": 2, "duplicates": 0}
    store = Store.open(tmp_path / "s")
    accepted = store.orders()
    assert accepted["ordered_at"].tolist() == [pd.Timestamp("2026-01-01 09:00", tz="UTC")]
    assert accepted["quantity"].tolist() == [1] and accepted["order_total"].isna().all()  # NaN is missing
    assert store.quarantine()["line"].tolist() == [2, 3]


def test_catalogue_tables_and_item_checks(tmp_path):
    (tmp_path / "restaurants.csv").write_text("restaurant_id,name,cuisine,area,chain_id\nr1,A,thai,a,\nr1,A,thai,a,\n")
    items = "item_id,restaurant_id,name,category,unit_price\ni1,r1,Soup,main,5\ni2,r8,X,main,1\n"
    (tmp_path / "items.csv").write_text(items)
    src = write_orders(tmp_path / "orders.csv", ["o1,c,2026-01-01,a,r1,i1,1,5", "o2,c,2026-01-01,a,r1,i9,1,5"])
    summary = ingest([str(src), str(tmp_path / "items.csv"), str(tmp_path / "restaurants.csv")], tmp_path / "s")
    tables = summary["tables"]
    assert tables["restaurants"] == {"read": 2, "accepted": 1, "quarantined": 0, "duplicates": 1}
    assert tables["items"] == {"read": 2, "accepted": 1, "quarantined": 1, "duplicates": 0}
    assert tables["orders"] == {"read": 2, "accepted": 1, "quarantined": 1, "duplicates": 0}
    store = Store.open(tmp_path / "s")
    assert store.table("items")["item_id"].tolist() == ["i1"]
    assert sorted(store.quarantine()["reason"]) == ["unknown item", "unknown restaurant for item"]
    # A changed catalogue row replaces the stored one; an identical one is a duplicate.
    (tmp_path / "update").mkdir()
    update = tmp_path / "update" / "restaurants.csv"
    update.write_text("restaurant_id,name,cuisine,area,chain_id\nr1,B,thai,a,\nr2,C,pho,b,\nr2,C,pho,b,\n")
    summary = ingest([str(update)], tmp_path / "s")
    assert summary["last_run"]["totals"] == {"read": 3, "accepted": 2, "quarantined": 0, "duplicates": 1}
    assert store.table("restaurants")["name"].tolist() == ["B", "C"]


def test_conflicting_catalogue_keys_are_quarantined(tmp_path):
    path = tmp_path / "restaurants.csv"
    path.write_text("restaurant_id,name\nr1,A\nr1,B\nr2,C\nr1,B\n")
    summary = ingest([str(path)], tmp_path / "s")
    assert summary["totals"] == {"read": 4, "accepted": 2, "quarantined": 2, "duplicates": 0}
    assert Store.open(tmp_path / "s").table("restaurants")["name"].tolist() == ["A", "C"]


def test_dhrd_files_become_timestamps_from_the_anchor(tmp_path):
    dhrd = tmp_path / "dhrd"
    dhrd.mkdir()
    (dhrd / "orders_xy_train.txt").write_text(
        "customer_id,geohash,order_id,vendor_id,product_id,day_of_week,order_time,order_day\n"
        "c1,u33d,0,v1,p1,3,12:30:00,3 days\nc1,u33d,0,v1,p2,3,12:30:00,3 days\nc2,u33e,1,v2,p3,4,09:00:00,x days\n"
    )
    (dhrd / "orders_xy_test.txt").write_text(
        "customer_id,geohash,order_id,vendor_id,product_id,day_of_week,order_time,order_day\n"
        "c1,u33d,2,v1,p1,0,18:00:00,10 days\n"
    )
    (dhrd / "vendors_xy.txt").write_text("vendor_id,chain_id,geohash,primary_cuisine\nv1,,u33d,thai\nv2,k,u33e,pizza\n")
    (dhrd / "products_xy.txt").write_text(
        "vendor_id,product_id,name,unit_price\nv1,p1,Soup,4.5\nv1,p2,Rice,2\nv2,p3,Pizza,9\n"
    )
    args = ["ingest", str(dhrd), "--store", str(tmp_path / "s"), "--timezone", "Europe/Berlin", "--anchor-date",
            "2026-03-01"]  # fmt: skip
    assert main(args) == 0
    store = Store.open(tmp_path / "s")
    frame = store.orders()
    assert frame["ordered_at"].tolist() == [pd.Timestamp("2026-03-04 11:30", tz="UTC")] * 2 + [
        pd.Timestamp("2026-03-11 17:00", tz="UTC")
    ]
    assert frame["area"].tolist()[0] == "u33d" and frame["restaurant_id"].tolist()[0] == "v1"
    assert frame["unit_price"].tolist() == [4.5, 2.0, 4.5]  # from products_xy.txt
    assert store.table("restaurants")["cuisine"].tolist() == ["thai", "pizza"]
    assert store.table("items")["unit_price"].tolist() == [4.5, 2.0, 9.0]
    assert store.quarantine()["reason"].tolist() == ["unparseable ordered_at"]
    assert balanced(store.ingest_summary()["totals"])


def test_catalogue_written_by_other_tools_is_normalised(tmp_path):
    store = Store.create(tmp_path / "s")
    store.write_table("restaurants", pd.DataFrame({"restaurant_id": ["r1"], "name": ["A"]}))  # no cuisine etc.
    src = write_orders(tmp_path / "o.csv", ["o1,c,2026-01-01,a,r1,,,", "o2,c,2026-01-01,a,r7,,,"])
    summary = ingest([str(src)], tmp_path / "s")
    assert summary["last_run"]["totals"] == {"read": 2, "accepted": 1, "quarantined": 1, "duplicates": 0}
    assert store.quarantine()["reason"].tolist() == ["unknown restaurant"]
