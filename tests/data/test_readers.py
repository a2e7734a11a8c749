"""Readers: source detection, CSV/Parquet/DHRD reading, line numbers, file-level errors."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from foodrec.data.readers import parse_map, plan_sources, read_source
from foodrec.data.readers.detect import DEFAULT_DHRD_ANCHOR, SourceFile
from foodrec.data.readers.tables import SPANNING
from foodrec.errors import InputError

HEADER = "order_id,customer_id,ordered_at,area,restaurant_id"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_parse_map_accepts_pairs_and_rejects_bad_ones():
    assert parse_map("order_id=OrderNo, area = zone") == {"order_id": "OrderNo", "area": "zone"}
    assert parse_map(None) == {}
    with pytest.raises(InputError, match="not a canonical column"):
        parse_map("orderid=OrderNo")
    with pytest.raises(InputError, match="ours=theirs"):
        parse_map("order_id")
    with pytest.raises(InputError, match="mapped twice"):
        parse_map("order_id=a,order_id=b")


def test_plan_detects_file_kinds_and_puts_catalogue_first(tmp_path):
    orders = write(tmp_path / "orders.csv", HEADER + "\n")
    rest = write(tmp_path / "restaurants.csv", "restaurant_id\n")
    pq_path = tmp_path / "export.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(pq_path)
    plan = plan_sources([str(orders), str(pq_path), str(rest)])
    assert [(f.table, f.kind) for f in plan.files] == [("restaurants", "csv"), ("orders", "csv"), ("orders", "parquet")]


@pytest.mark.parametrize(
    ("name", "message"),
    [("orders.xlsx", "unsupported file type '.xlsx'"), ("orders", r"unsupported file type '\(no extension\)'"),
     ("notes.txt", "not a DHRD file name")],
)  # fmt: skip
def test_plan_rejects_unknown_file_types(tmp_path, name, message):
    path = write(tmp_path / name, "x\n")
    with pytest.raises(InputError, match=message):
        plan_sources([str(path)])


def test_plan_rejects_missing_source_and_same_file_twice(tmp_path):
    with pytest.raises(InputError, match="no such file or directory"):
        plan_sources([str(tmp_path / "nope.csv")])
    path = write(tmp_path / "o.csv", HEADER + "\n")
    with pytest.raises(InputError, match="given twice"):
        plan_sources([str(path), str(path)])


def test_plan_reads_generate_directory(tmp_path):
    city = tmp_path / "city"
    (city / "truth").mkdir(parents=True)
    write(city / "orders.csv", HEADER + "\n")
    write(city / "restaurants.csv", "restaurant_id\n")
    write(city / "city.json", json.dumps({"timezone": "America/Los_Angeles", "dhrd": {"anchor_date": "2026-01-05"}}))
    plan = plan_sources([str(city)])
    assert [f.table for f in plan.files] == ["restaurants", "orders"]
    assert plan.timezone == "America/Los_Angeles"
    assert plan.copy_dirs == [city / "truth"] and plan.copy_files == [city / "city.json"]


def test_plan_reads_dhrd_directory_with_anchor_from_city_json(tmp_path):
    dhrd = tmp_path / "dhrd"
    dhrd.mkdir()
    for name in ("orders_x_train.txt", "orders_x_test.txt", "vendors_x.txt", "products_x.txt"):
        write(dhrd / name, "a\n")
    write(tmp_path / "city.json", json.dumps({"timezone": "Asia/Singapore", "dhrd": {"anchor_date": "2026-02-01"}}))
    plan = plan_sources([str(dhrd)])
    assert sorted(f.table for f in plan.files) == ["items", "orders", "orders", "restaurants"]
    assert {f.anchor for f in plan.files} == {dt.date(2026, 2, 1)}
    assert plan.timezone == "Asia/Singapore"
    alone = plan_sources([str(dhrd / "orders_x_train.txt")], anchor=dt.date(2020, 1, 1))
    assert alone.files[0].anchor == dt.date(2020, 1, 1)


def test_plan_rejects_directory_that_is_neither(tmp_path):
    with pytest.raises(InputError, match="neither"):
        plan_sources([str(tmp_path)])


def test_csv_lines_skip_header_and_count_bad_records(tmp_path):
    path = write(tmp_path / "o.csv", HEADER + '\no1,c1,t,a,r\nbroken,row\no2,c2,t,a,r\n"o3",c3,t,a,r\n')
    raw = read_source(SourceFile(path, "orders", "csv", "o.csv"))
    assert raw.data.column("__line").to_pylist() == [2, 4, 5]
    assert raw.data.column("order_id").to_pylist() == ["o1", "o2", "o3"]
    assert raw.bad_rows == [(3, "wrong number of fields (2, expected 5)", "broken,row")]
    assert raw.rows_read == 4


def test_csv_empty_strings_are_missing_and_unnamed_index_is_kept(tmp_path):
    path = write(tmp_path / "o.csv", "," + HEADER + "\n0,o1,c1,t,,r\n")
    raw = read_source(SourceFile(path, "orders", "csv", "o.csv"))
    assert raw.data.column("area").to_pylist() == [None]
    assert raw.ignored == ["_unnamed_0"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "file is empty"),
        (b"  \n\n", "file is empty"),
        (b"\x00\x01\x02binary\x00junk", "binary content"),
        (b"order_id;customer_id;ordered_at;area;restaurant_id\no1;c1;t;a;r\n", "wrong delimiter.*';'"),
        (b"order_id\tcustomer_id\tordered_at\n", "wrong delimiter.*tab"),
        (b"order_id,customer_id,ordered_at,area\no1,c1,t,a\n", "required column 'restaurant_id' is missing"),
        (b"order_id,order_id,customer_id\n", "duplicate column 'order_id'"),
        (b"order_id,customer_id,ordered_at,area,restaurant_id\n\xff\xfe\xfa,c,t,a,r\n", "not UTF-8"),
    ],
)
def test_csv_file_problems_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "orders.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as err:
        read_source(SourceFile(path, "orders", "csv", "orders.csv"))
    assert "\n" not in str(err.value) and "orders.csv" in str(err.value)


def test_parquet_junk_and_unknown_map_column(tmp_path):
    junk = tmp_path / "o.parquet"
    junk.write_bytes(b"PAR1 this is not really parquet")
    with pytest.raises(InputError, match="cannot read as Parquet"):
        read_source(SourceFile(junk, "orders", "parquet", "o.parquet"))
    text = tmp_path / "t.parquet"
    text.write_text("order_id,customer_id\n")
    with pytest.raises(InputError, match="not a Parquet file"):
        read_source(SourceFile(text, "orders", "parquet", "t.parquet"))
    path = write(tmp_path / "m.csv", "OrderNo,customer_id,ordered_at,area,restaurant_id\n")
    with pytest.raises(InputError, match="--map order_id=Order: m.csv has no column 'Order'"):
        read_source(SourceFile(path, "orders", "csv", "m.csv", column_map=(("order_id", "Order"),)))


def test_mapped_csv_uses_their_column_names(tmp_path):
    path = write(tmp_path / "m.csv", "OrderNo,Who,When,Zone,Shop\no1,c1,2026-01-01,z,s\n")
    mapping = (("order_id", "OrderNo"), ("customer_id", "Who"), ("ordered_at", "When"), ("area", "Zone"),
               ("restaurant_id", "Shop"))  # fmt: skip
    raw = read_source(SourceFile(path, "orders", "csv", "m.csv", column_map=mapping))
    assert raw.exprs["restaurant_id"] == "NULLIF(\"Shop\", '')"
    assert raw.ignored == []


def test_parquet_timestamp_types_choose_the_parse_mode(tmp_path):
    base = {"order_id": ["o1"], "customer_id": ["c1"], "area": ["a"], "restaurant_id": ["r"]}
    cases = {
        "tstz": pd.to_datetime(["2026-01-01 12:00"]).tz_localize("UTC"),
        "naive": pd.to_datetime(["2026-01-01 12:00"]),
        "epoch": [1767268800],
        "text": ["2026-01-01T12:00:00Z"],
    }
    for mode, values in cases.items():
        path = tmp_path / f"{mode}.parquet"
        pd.DataFrame({**base, "ordered_at": values}).to_parquet(path)
        raw = read_source(SourceFile(path, "orders", "parquet", path.name))
        assert raw.ts_mode == mode
        assert raw.data.column("__line").to_pylist() == [1]


def test_dhrd_orders_need_their_columns(tmp_path):
    path = write(tmp_path / "orders_x_train.txt", "customer_id,geohash,order_id\n")
    with pytest.raises(InputError, match="DHRD column 'vendor_id' is missing"):
        read_source(SourceFile(path, "orders", "dhrd", "orders_x_train.txt", anchor=DEFAULT_DHRD_ANCHOR))


def test_line_numbers_survive_blank_lines_crlf_and_a_missing_final_break(tmp_path):
    path = tmp_path / "o.csv"
    path.write_bytes(HEADER.encode() + b"\r\no1,c,t,a,r\r\n\r\no2,c,t,a,r\r\no3,c,t,a,r")
    raw = read_source(SourceFile(path, "orders", "csv", "o.csv"))
    assert raw.data.column("__line").to_pylist() == [2, 4, 5]
    assert raw.data.column("restaurant_id").to_pylist() == ["r", "r", "r"]


def test_a_stray_quote_cannot_swallow_lines_silently(tmp_path):
    # Quotes open on lines 2 and 4: each line has its own fate, so the lines between are not taken with them.
    path = write(tmp_path / "o.csv", HEADER + '\no1,"c1,t,a,r\no2,c2,t,a,r\no3,c"3,t,a,r\no4,c4,t,a,r\n')
    raw = read_source(SourceFile(path, "orders", "csv", "o.csv"))
    assert raw.data.column("order_id").to_pylist() == ["o2", "o4"]
    assert raw.data.column("__line").to_pylist() == [3, 5]
    assert [(n, reason) for n, reason, _ in raw.bad_rows] == [(2, SPANNING), (4, SPANNING)]
    assert raw.bad_rows[0][2] == 'o1,"c1,t,a,r' and raw.rows_read == raw.physical_rows == 4


def test_a_lone_carriage_return_ends_a_line_and_blank_lines_keep_numbers(tmp_path):
    path = tmp_path / "o.csv"
    path.write_bytes(HEADER.encode() + b"\ro1,c,t,a,r\n\n\no2,c,t,a\ro3,c,t,a,r\n")
    raw = read_source(SourceFile(path, "orders", "csv", "o.csv"))
    assert raw.data.column("__line").to_pylist() == [2, 6]
    assert [(n, reason) for n, reason, _ in raw.bad_rows] == [(5, "wrong number of fields (4, expected 5)")]
    assert raw.rows_read == raw.physical_rows == 3


def test_byte_order_mark_and_padded_header_names(tmp_path):
    path = tmp_path / "o.csv"
    path.write_bytes(b"\xef\xbb\xbforder_id , customer_id,ordered_at,area,restaurant_id\no1,c1,t,a,r\n")
    raw = read_source(SourceFile(path, "orders", "csv", "o.csv"))
    assert raw.raw_columns[:2] == ["order_id", "customer_id"] and raw.data.num_rows == 1


def test_map_is_refused_for_directories(tmp_path):
    with pytest.raises(InputError, match="--map applies to CSV/Parquet files"):
        plan_sources([str(tmp_path)], column_map={"area": "zone"})
