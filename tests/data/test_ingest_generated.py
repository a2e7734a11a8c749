"""Ingest what `foodrec generate` writes: the directory as one source, its DHRD copy, its Parquet variant."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from foodrec.cli import main
from foodrec.data.ingest import ingest
from foodrec.data.store import Store

SMALL = ["--preset", "small", "--customers", "300", "--days", "14", "--restaurants", "30", "--seed", "3"]


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "city"
    assert main(["generate", "--out", str(out), "--level", "dish", "--dhrd", *SMALL]) == 0
    return out


def test_generate_directory_is_one_source(city, tmp_path):
    summary = ingest([str(city)], tmp_path / "store")
    store = Store.open(tmp_path / "store")
    meta = json.loads((city / "city.json").read_text())
    assert store.timezone == meta["timezone"]
    assert (tmp_path / "store" / "city.json").read_bytes() == (city / "city.json").read_bytes()
    assert sorted(p.name for p in (tmp_path / "store" / "truth").iterdir()) == sorted(
        p.name for p in (city / "truth").iterdir()
    )
    assert {s["table"] for s in summary["sources"]} == {"orders", "restaurants", "items", "customers"}
    for counts in [summary["totals"], *summary["tables"].values(), *summary["sources"]]:
        assert counts["read"] == counts["accepted"] + counts["quarantined"] + counts["duplicates"]
    assert summary["tables"]["orders"]["duplicates"] >= meta["warts"]["duplicate_rows"] > 0
    log = store.order_log()
    assert log.default_level == "dish" and len(log.orders) == summary["tables"]["orders"]["accepted"]
    assert len(store.table("items")) == summary["tables"]["items"]["accepted"]
    from foodrec.data.synthetic.truth import GroundTruth

    assert GroundTruth.load(tmp_path / "store").timezone == meta["timezone"]
    # The same directory again adds nothing.
    again = ingest([str(city)], tmp_path / "store")
    assert again["last_run"]["totals"]["accepted"] == 0 and all(s["skipped"] for s in again["last_run"]["sources"])
    assert again["totals"] == summary["totals"]  # what EDA shows stays the first ingest's accounting
    assert len(Store.open(tmp_path / "store").orders()) == len(log.orders)


def test_dhrd_copy_gives_the_same_timestamps(city, tmp_path):
    ingest([str(city)], tmp_path / "canonical")
    summary = ingest([str(city)], tmp_path / "dhrd", fmt="dhrd")
    assert all(s["kind"] == "dhrd" for s in summary["sources"])
    assert summary["sources"][-1]["source"].endswith("dhrd/orders_syn_train.txt")
    canonical = Store.open(tmp_path / "canonical").orders().groupby("order_id")["ordered_at"].first()
    dhrd_store = Store.open(tmp_path / "dhrd")
    dhrd = dhrd_store.orders().groupby("order_id")["ordered_at"].first()
    common = canonical.index.intersection(dhrd.index)
    assert len(common) > 0.9 * len(canonical)
    assert (canonical[common] == dhrd[common]).all()
    assert dhrd_store.timezone == Store.open(tmp_path / "canonical").timezone


def test_parquet_generate_directory(tmp_path, capsys):
    out = tmp_path / "city"
    assert main(["generate", "--out", str(out), "--format", "parquet", *SMALL]) == 0
    assert main(["ingest", str(out), "--store", str(tmp_path / "store")]) == 0
    summary = Store.open(tmp_path / "store").ingest_summary()
    orders = [s for s in summary["sources"] if s["table"] == "orders"]
    assert orders[0]["source"].endswith("orders.parquet") and orders[0]["accepted"] > 0
    assert "unparseable ordered_at" in orders[0]["reasons"]  # the generator's bad timestamps survive as text
