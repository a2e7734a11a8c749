"""``foodrec generate``: files per contract 1, options, determinism, warts, DHRD export, bad options."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from foodrec.cli import main
from foodrec.data.schema import ORDER_COLUMNS, REQUIRED_ORDER_COLUMNS

SMALL = ["--preset", "small", "--customers", "600", "--restaurants", "30", "--days", "14"]


@pytest.fixture(scope="module")
def dish_city(tmp_path_factory):
    out = tmp_path_factory.mktemp("dish")
    code = main(["generate", "--out", str(out), *SMALL, "--level", "dish", "--dhrd", "--drift-at", "7", "--seed", "5"])
    assert code == 0
    return out


def test_writes_contract_files_and_summary(dish_city, capsys):
    names = {p.name for p in dish_city.iterdir()}
    assert {"orders.csv", "restaurants.csv", "items.csv", "customers.csv", "city.json", "truth", "dhrd"} <= names
    orders = pd.read_csv(dish_city / "orders.csv", dtype=str)
    assert tuple(orders.columns) == ORDER_COLUMNS
    assert orders["ordered_at"].str.endswith("Z").mean() > 0.99
    meta = json.loads((dish_city / "city.json").read_text())
    assert meta["timezone"] == "America/Los_Angeles" and meta["seed"] == 5 and meta["level"] == "dish"
    assert meta["summary"]["rows"] == len(orders) and meta["counts"]["orders"] == orders["order_id"].nunique()
    assert meta["drift"]["day"] == 7 and meta["dhrd"]["anchor_date"] == "2026-01-05"
    assert pd.read_csv(dish_city / "restaurants.csv").columns.tolist() == [
        "restaurant_id", "name", "cuisine", "area", "chain_id"]  # fmt: skip
    assert pd.read_csv(dish_city / "items.csv").columns.tolist() == [
        "item_id", "restaurant_id", "name", "category", "unit_price"]  # fmt: skip
    assert pd.read_csv(dish_city / "customers.csv").columns.tolist() == ["customer_id", "home_area"]
    # every item in the log is in the catalogue, at the restaurant the row names
    items = pd.read_csv(dish_city / "items.csv", dtype=str).set_index("item_id")["restaurant_id"]
    assert (items.reindex(orders["item_id"]).to_numpy() == orders["restaurant_id"].to_numpy()).all()


def test_warts_are_there_and_counted(dish_city):
    orders = pd.read_csv(dish_city / "orders.csv", dtype=str)
    warts = json.loads((dish_city / "city.json").read_text())["warts"]
    assert orders.duplicated().sum() == warts["duplicate_rows"] > 0
    bad = pd.to_datetime(orders["ordered_at"], utc=True, errors="coerce", format="ISO8601").isna()
    assert bad.sum() == warts["bad_timestamps"] >= 1
    per_order = orders.drop_duplicates("order_id")
    assert per_order["area"].isna().sum() == warts["missing_area_orders"]
    assert orders["area"].isna().sum() == warts["missing_area_rows"]
    assert warts["drink_spammer"]["max_per_day"] >= 2
    spam = orders[(orders.customer_id == warts["drink_spammer"]["customer_id"])
                  & (orders.item_id == warts["drink_spammer"]["item_id"])]  # fmt: skip
    assert spam["order_id"].nunique() >= warts["drink_spammer"]["orders"]
    refunds = (per_order["refunded_amount"].astype(float) > 0).mean()
    discounts = (per_order["discount"].astype(float) > 0).mean()
    assert 0.01 < refunds < 0.06 and 0.10 < discounts < 0.20


def test_same_seed_same_bytes_other_seed_other_orders(dish_city, tmp_path):
    args = ["generate", *SMALL, "--level", "dish", "--dhrd", "--drift-at", "7", "--seed", "5"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert (tmp_path / "a" / "orders.csv").read_bytes() == (dish_city / "orders.csv").read_bytes()
    assert (tmp_path / "a" / "dhrd" / "orders_syn_train.txt").read_bytes() == (
        dish_city / "dhrd" / "orders_syn_train.txt").read_bytes()  # fmt: skip
    assert main(["generate", *SMALL, "--seed", "6", "--out", str(tmp_path / "b")]) == 0
    assert (tmp_path / "b" / "orders.csv").read_bytes() != (dish_city / "orders.csv").read_bytes()


def test_restaurant_level_has_no_items(tmp_path, capsys):
    assert main(["generate", "--out", str(tmp_path), *SMALL]) == 0
    out = capsys.readouterr().out
    assert "orders" in out and "customers" in out and "files:" in out
    orders = pd.read_csv(tmp_path / "orders.csv", dtype=str)
    assert "item_id" not in orders.columns and set(REQUIRED_ORDER_COLUMNS) <= set(orders.columns)
    assert not (tmp_path / "items.csv").exists()
    assert orders["order_id"].duplicated().sum() == json.loads((tmp_path / "city.json").read_text())["warts"][
        "duplicate_rows"]  # one row per order (plus the duplicated rows)  # fmt: skip


def test_parquet_format_keeps_columns_and_text_timestamps(tmp_path, dish_city):
    assert main(["generate", "--out", str(tmp_path), *SMALL, "--level", "dish", "--drift-at", "7", "--seed", "5",
                 "--format", "parquet"]) == 0  # fmt: skip
    table = pq.read_table(tmp_path / "orders.parquet")
    assert tuple(table.column_names) == ORDER_COLUMNS
    assert str(table.schema.field("ordered_at").type) == "string"
    csv = pd.read_csv(dish_city / "orders.csv", dtype=str)
    assert table.num_rows == len(csv)
    assert table.column("ordered_at").to_pylist() == csv["ordered_at"].tolist()


def test_dhrd_files_rebuild_the_timestamps(dish_city):
    folder = dish_city / "dhrd"
    train = folder / "orders_syn_train.txt"
    assert train.read_text().splitlines()[0] == (
        ",customer_id,geohash,order_id,vendor_id,product_id,day_of_week,order_time,order_day"
    )
    dhrd = pd.concat([pd.read_csv(train, index_col=0, dtype=str),
                      pd.read_csv(folder / "orders_syn_test.txt", index_col=0, dtype=str)])  # fmt: skip
    assert dhrd["order_day"].str.fullmatch(r"\d+ days").all()
    meta = json.loads((dish_city / "city.json").read_text())
    days = pd.to_timedelta(dhrd["order_day"].str.split().str[0].astype(int), unit="D")
    local = pd.Timestamp(meta["dhrd"]["anchor_date"]) + days + pd.to_timedelta(dhrd["order_time"])
    utc = pd.DatetimeIndex(local).tz_localize(meta["timezone"]).tz_convert("UTC")
    orders = pd.read_csv(dish_city / "orders.csv", dtype=str).drop_duplicates()
    orders["t"] = pd.to_datetime(orders["ordered_at"], utc=True, errors="coerce", format="ISO8601")
    expected = orders.dropna(subset=["t"]).drop_duplicates("order_id").set_index("order_id")["t"]
    got = pd.Series(utc, index=dhrd["order_id"].to_numpy()).groupby(level=0).first()
    common = expected.index.intersection(got.index)
    assert len(common) > 0.99 * len(expected)
    assert (expected[common] == got[common]).all()
    dow = pd.DatetimeIndex(local).dayofweek.to_numpy()
    assert (dow == dhrd["day_of_week"].astype(int).to_numpy()).all()
    vendors = pd.read_csv(folder / "vendors_syn.txt", index_col=0)
    products = pd.read_csv(folder / "products_syn.txt", index_col=0)
    assert vendors.columns.tolist() == ["vendor_id", "chain_id", "geohash", "primary_cuisine"]
    assert products.columns.tolist() == ["vendor_id", "product_id", "name", "unit_price"]


def test_start_date_is_honoured(tmp_path):
    assert main(["generate", "--out", str(tmp_path), *SMALL, "--start", "2025-06-02"]) == 0
    orders = pd.read_csv(tmp_path / "orders.csv", dtype=str)
    t = pd.to_datetime(orders["ordered_at"], utc=True, errors="coerce", format="ISO8601").dropna()
    local = t.dt.tz_convert("America/Los_Angeles")
    assert str(local.min().date()) == "2025-06-02" and str(local.max().date()) <= "2025-06-16"


def test_regenerating_into_a_city_replaces_it(tmp_path):
    assert main(["generate", "--out", str(tmp_path), *SMALL, "--level", "dish", "--dhrd"]) == 0
    assert main(["generate", "--out", str(tmp_path), *SMALL]) == 0
    assert not (tmp_path / "items.csv").exists() and not (tmp_path / "dhrd").exists()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--level", "menu"], "--level"),
        (["--format", "xlsx"], "--format"),
        (["--preset", "huge"], "--preset"),
        (["--start", "tomorrow"], "--start"),
        (["--drift-at", "14"], "--drift-at"),
        (["--days", "0"], "--days"),
        (["--seed", "-1"], "--seed"),
    ],
)
def test_bad_options_give_one_line_and_exit_2(tmp_path, capsys, extra, message):
    code = main(["generate", "--out", str(tmp_path / "x"), *SMALL, *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error:") and message in err and "\n" not in err
    assert not (tmp_path / "x" / "orders.csv").exists()


def test_out_must_be_a_directory_for_cities(tmp_path, capsys):
    file = tmp_path / "file.txt"
    file.write_text("hello")
    assert main(["generate", "--out", str(file), *SMALL]) == 2
    assert "not a directory" in capsys.readouterr().err
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert main(["generate", "--out", str(other), *SMALL]) == 2
    assert "non-empty" in capsys.readouterr().err and (other / "notes.txt").read_text() == "mine"
    assert main(["generate", "--out", str(tmp_path / "empty"), "--customers", "10", "--days", "1"]) == 2
    assert "no orders were generated" in capsys.readouterr().err
    assert main(["generate", *SMALL]) == 2  # --out is required
    assert "--out" in capsys.readouterr().err


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(customers=st.integers(-(10**6), 9), days=st.integers(-100, 0), restaurants=st.integers(-50, 4))
def test_out_of_range_sizes_never_traceback(tmp_path, capsys, customers, days, restaurants):
    for option, value in (("--customers", customers), ("--days", days), ("--restaurants", restaurants)):
        code = main(["generate", "--out", str(tmp_path / "x"), option, str(value)])
        err = capsys.readouterr().err.strip()
        assert code == 2 and err.startswith("error:") and option in err and len(err.splitlines()) == 1


def test_generated_log_is_mostly_clean(dish_city):
    """Beyond the warts the log is sane: positive prices and totals, quantities >= 1, known ids."""
    orders = pd.read_csv(dish_city / "orders.csv", dtype=str)
    assert (orders["unit_price"].astype(float) > 0).all() and (orders["quantity"].astype(int) >= 1).all()
    assert (orders["order_total"].astype(float) > 0).all()
    customers = set(pd.read_csv(dish_city / "customers.csv", dtype=str)["customer_id"])
    assert set(orders["customer_id"]) <= customers
    restaurants = pd.read_csv(dish_city / "restaurants.csv", dtype=str)["restaurant_id"]
    assert np.isin(orders["restaurant_id"], restaurants).all()
