"""`foodrec eda` end to end on small stores: full, required columns only, with drivers; and its one-line errors."""

from __future__ import annotations

import json
import re
from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path

import pandas as pd
import pytest

from foodrec.cli import main
from foodrec.data.store import Store
from foodrec.explore.command import read_ingest_summary
from foodrec.explore.figures import summarize_ingest

_spec = spec_from_file_location("eda_test_figures", Path(__file__).with_name("test_figures.py"))
_mod = module_from_spec(_spec)
_spec.loader.exec_module(_mod)
hand_log, REQUIRED, TZ = _mod.hand_log, _mod.REQUIRED, _mod.TZ


def make_store(path: Path, orders: pd.DataFrame, timezone: str | None = TZ, **tables: pd.DataFrame) -> Path:
    store = Store.create(path)
    store.write_orders_part(orders)
    if timezone:
        store.set_meta(timezone=timezone)
    for name, frame in tables.items():
        store.write_table(name, frame)
    return path


def run_eda(tmp_path: Path, store: Path, capsys) -> tuple[int, str, dict, str]:
    out = tmp_path / "report.html"
    code = main(["eda", "--store", str(store), "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    figs = json.loads((tmp_path / "report.json").read_text())
    return code, out.read_text(), figs, captured.out


def assert_self_contained(html: str) -> None:
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, flags=re.I)
    assert "<script" not in html.lower()
    assert html.count('src="data:image/png;base64,') >= 3


def test_full_store_report(tmp_path, capsys):
    restaurants = pd.DataFrame(
        {
            "restaurant_id": ["r1", "r2", "r9"],
            "name": ["Pho 1", "Taco 2", "Never"],
            "cuisine": ["vietnamese", "mexican", "thai"],
        }
    )
    store = make_store(tmp_path / "store", hand_log(), restaurants=restaurants)
    (store / "ingest_summary.json").write_text(
        json.dumps(
            {
                "sources": {"orders.csv": {"read": 9, "accepted": 6, "quarantined": 2, "duplicates": 1}},
                "totals": {"read": 9, "accepted": 6, "quarantined": 2, "duplicates": 1},
            }
        )
    )
    _, html, figs, out = run_eda(tmp_path, store, capsys)
    assert_self_contained(html)
    assert TZ in html and "5 orders" in out
    assert figs["kind"] == "foodrec.eda"
    assert figs["overview"]["orders"] == 5 and figs["overview"]["timezone"] == TZ
    assert figs["popularity"]["restaurants"]["top"][0]["name"] == "Pho 1"
    assert figs["popularity"]["restaurants"]["in_catalogue_never_ordered"] == 1
    assert {c["cuisine"]: c["orders"] for c in figs["popularity"]["cuisines"]} == {"vietnamese": 4, "mexican": 1}
    assert figs["missing"]["ingest"]["totals"]["quarantined"] == 2
    assert "quarantined" in html and "Pho 1" in html
    for title in ("Volume over time", "Repeat behaviour", "Money", "Delivery people"):
        assert title in html
    assert "Not available: the log has no driver_id column" in html


def test_required_columns_only(tmp_path, capsys):
    store = make_store(tmp_path / "store", hand_log()[REQUIRED], timezone=None)
    out, json_out = tmp_path / "r.html", tmp_path / "sub" / "figs.json"
    assert main(["eda", "--store", str(store), "--out", str(out), "--json-out", str(json_out)]) == 0
    html, figs = out.read_text(), json.loads(json_out.read_text())
    assert_self_contained(html)
    assert figs["overview"]["timezone"] == "UTC" and "all times in UTC" in html
    assert figs["money"]["available"] is False and figs["drivers"]["available"] is False
    assert "Not available: the log has none of the columns order_total" in html
    assert "no item_id column" in html


def test_store_with_empty_optional_columns_treats_them_as_absent(tmp_path, capsys):
    # ingest writes every canonical column; a source with only the required ones leaves the rest empty
    log = hand_log()[REQUIRED].assign(item_id=None, order_total=float("nan"), driver_id=None)
    store = make_store(tmp_path / "store", log)
    _, html, figs, _ = run_eda(tmp_path, store, capsys)
    assert {"item_id", "order_total", "driver_id"} <= set(figs["overview"]["optional_columns_absent"])
    assert [r["column"] for r in figs["missing"]["per_column"]] == REQUIRED
    assert figs["money"]["available"] is False and figs["overview"]["level"] == "restaurant"
    assert "dish repeats cannot be measured" in html


def test_driver_column_section(tmp_path, capsys):
    log = pd.concat([hand_log()] * 10, ignore_index=True)
    log["order_id"] = log["order_id"] + "-" + (log.index // 6).astype(str)
    log["ordered_at"] = log["ordered_at"] + pd.to_timedelta(log.index // 6, unit="D")
    log["driver_id"] = log["order_id"].map(lambda o: "d1" if o.startswith(("o1", "o2")) else "d2")
    store = make_store(tmp_path / "store", log)
    _, html, figs, _ = run_eda(tmp_path, store, capsys)
    dr = figs["drivers"]
    assert dr["available"] and dr["drivers"] == 2 and dr["drivers_compared"] == 2
    assert dr["refunds"]["worst"][0]["driver_id"] == "d1"  # every refund (o2) went with d1
    assert "Does the delivery person matter?" in html and "Refund rate per driver" in html


def _one_line_error(capsys, pattern: str) -> None:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    assert re.search(pattern, err), err


def test_missing_store_is_one_line_error(tmp_path, capsys):
    assert main(["eda", "--store", str(tmp_path / "nope"), "--out", str(tmp_path / "r.html")]) == 2
    _one_line_error(capsys, "does not exist")
    assert not (tmp_path / "r.html").exists()


def test_empty_store_and_bad_options(tmp_path, capsys):
    Store.create(tmp_path / "empty")
    assert main(["eda", "--store", str(tmp_path / "empty"), "--out", str(tmp_path / "r.html")]) == 2
    _one_line_error(capsys, "no orders")
    store = make_store(tmp_path / "store", hand_log())
    assert main(["eda", "--store", str(store), "--out", str(tmp_path)]) == 2
    _one_line_error(capsys, "is a directory")
    assert main(["eda", "--store", str(store)]) == 2
    _one_line_error(capsys, "--out")
    (tmp_path / "file").write_text("x")
    assert main(["eda", "--store", str(store), "--out", str(tmp_path / "file" / "r.html")]) == 2
    _one_line_error(capsys, "cannot create the folder")


def test_bad_time_zone_in_store(tmp_path, capsys):
    store = make_store(tmp_path / "store", hand_log(), timezone="Not/AZone")
    assert main(["eda", "--store", str(store), "--out", str(tmp_path / "r.html")]) == 2
    _one_line_error(capsys, "time zone")


@pytest.mark.parametrize("junk", ["[1, 2]", "{not json", '{"sources": 3, "totals": "x"}'])
def test_odd_ingest_summary_is_ignored(tmp_path, junk):
    (tmp_path / "ingest_summary.json").write_text(junk)
    assert summarize_ingest(read_ingest_summary(tmp_path)) in (
        None,
        {"sources": [], "totals": None, "quarantine_reasons": {}},
    )
