"""Validation SQL: timestamp formats, typed columns and quarantine reasons."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from foodrec.data.readers import read_source
from foodrec.data.readers.detect import SourceFile
from foodrec.data.validate import catalogue_sql, orders_sql

HEADER = "order_id,customer_id,ordered_at,area,restaurant_id,item_id,quantity,unit_price,order_total,discount"


def check(tmp_path, rows: list[str], tz: str = "UTC", header: str = HEADER, refs: dict | None = None) -> pd.DataFrame:
    path = tmp_path / "orders.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    raw = read_source(SourceFile(path, "orders", "csv", "orders.csv"))
    with duckdb.connect() as con:
        con.register("raw_data", raw.data)
        for name, frame in (refs or {}).items():
            con.register(name, frame)
        con.execute(f"SET TimeZone='{tz}'")
        frame = con.sql(orders_sql(raw, "raw_data", tz, set(refs or {}))).to_arrow_table().to_pandas()
    return frame.sort_values("__line").reset_index(drop=True)


@pytest.mark.parametrize(
    ("text", "tz", "expected_utc"),
    [
        ("2026-03-01T12:00:00Z", "UTC", "2026-03-01 12:00:00"),
        ("2026-03-01T12:00:00+01:00", "UTC", "2026-03-01 11:00:00"),
        ("2026-03-01T12:00:00.250-05:00", "Europe/Berlin", "2026-03-01 17:00:00.250"),
        ("2026-03-01 12:00:00", "UTC", "2026-03-01 12:00:00"),
        ("2026-03-01 12:00:00", "Europe/Berlin", "2026-03-01 11:00:00"),
        ("2026-07-01T12:00", "America/Los_Angeles", "2026-07-01 19:00:00"),
        ("2026-03-01", "UTC", "2026-03-01 00:00:00"),
        ("1772366400", "Europe/Berlin", "2026-03-01 12:00:00"),
        ("1772366400.5", "UTC", "2026-03-01 12:00:00.5"),
    ],
)
def test_accepted_timestamp_formats_become_utc(tmp_path, text, tz, expected_utc):
    out = check(tmp_path, [f"o1,c1,{text},a,r,,,,,"], tz=tz)
    assert out.loc[0, "__reason"] == ""
    assert out.loc[0, "ordered_at"] == pd.Timestamp(expected_utc, tz="UTC")


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (",c1,2026-01-01,a,r,,,,,", "missing order_id"),
        ("o1,  ,2026-01-01,a,r,,,,,", "missing customer_id"),
        ("o1,c1,,a,r,,,,,", "missing ordered_at"),
        ("o1,c1,2026-01-01,,r,,,,,", "missing area"),
        ("o1,c1,2026-01-01,a,,,,,,", "missing restaurant_id"),
        ("o1,c1,yesterday,a,r,,,,,", "unparseable ordered_at"),
        ("o1,c1,2026-02-30 10:00:00,a,r,,,,,", "unparseable ordered_at"),
        ("o1,c1,1772366400000,a,r,,,,,", "unparseable ordered_at"),
        ("o1,c1,1980-01-01T00:00:00Z,a,r,,,,,", "ordered_at out of range"),
        ("o1,c1,2026-01-01,a,r,i,-1,,,", "negative quantity"),
        ("o1,c1,2026-01-01,a,r,i,0,,,", "quantity not a positive integer"),
        ("o1,c1,2026-01-01,a,r,i,1.5,,,", "quantity not a positive integer"),
        ("o1,c1,2026-01-01,a,r,i,two,,,", "non-numeric quantity"),
        ("o1,c1,2026-01-01,a,r,i,1,-3.5,,", "negative unit_price"),
        ("o1,c1,2026-01-01,a,r,i,1,5,abc,", "non-numeric order_total"),
        ("o1,c1,2026-01-01,a,r,i,1,5,10,-1", "negative discount"),
        ("o1,c1,2026-01-01,a,r,i,1,inf,10,", "non-numeric unit_price"),
        ("o1,c1,2026-01-01,a,r,i,1,NaN,10,", ""),
    ],
)
def test_each_bad_value_gets_its_reason(tmp_path, row, reason):
    out = check(tmp_path, [row])
    assert out.loc[0, "__reason"] == reason


def test_good_row_is_typed_and_several_reasons_are_joined(tmp_path):
    out = check(tmp_path, [" o1 ,c1,2026-01-01T10:00Z,a,r,i,2,4.5,9,0", "o2,,soon,,r,i,-2,,,"])
    good, bad = out.iloc[0], out.iloc[1]
    assert (good["order_id"], good["quantity"], good["unit_price"], good["__reason"]) == ("o1", 2, 4.5, "")
    assert bad["__reason"] == "missing customer_id; missing area; unparseable ordered_at; negative quantity"


def test_referential_checks_when_the_catalogue_is_known(tmp_path):
    refs = {
        "ref_restaurants": pd.DataFrame({"restaurant_id": ["r1", "r2"]}),
        "ref_items": pd.DataFrame({"item_id": ["i1"], "restaurant_id": ["r1"]}),
    }
    rows = ["o1,c,2026-01-01,a,r1,i1,,,,", "o2,c,2026-01-01,a,r9,,,,,", "o3,c,2026-01-01,a,r1,i7,,,,",
            "o4,c,2026-01-01,a,r2,i1,,,,"]  # fmt: skip
    out = check(tmp_path, rows, refs=refs)
    assert out["__reason"].tolist() == ["", "unknown restaurant", "unknown item", "item of another restaurant"]


def test_identical_rows_hash_alike_and_different_rows_do_not(tmp_path):
    rows = ["o1,c,2026-01-01,a,r,i,1,2,,", "o1,c,2026-01-01T00:00:00Z,a,r,i,1,2.0,,", "o1,c,2026-01-01,a,r,i,1,,,"]
    out = check(tmp_path, rows)
    assert out.loc[0, "__h"] == out.loc[1, "__h"] != out.loc[2, "__h"]


def test_catalogue_rows_are_checked(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text("item_id,restaurant_id,name,unit_price\ni1,r1,Soup,4\n,r1,x,1\ni2,,y,1\ni3,r1,z,-1\ni4,r9,w,x\n")
    raw = read_source(SourceFile(path, "items", "csv", "items.csv"))
    with duckdb.connect() as con:
        con.register("raw_data", raw.data)
        con.register("ref_restaurants", pd.DataFrame({"restaurant_id": ["r1"]}))
        out = con.sql(catalogue_sql(raw, "raw_data", {"ref_restaurants"})).df().sort_values("__line")
    assert out["__reason"].tolist() == [
        "", "missing item_id", "missing restaurant_id", "negative unit_price",
        "non-numeric unit_price; unknown restaurant for item",
    ]  # fmt: skip
