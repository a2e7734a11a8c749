"""`foodrec abtest` end to end on event stores and exported files; bad inputs give one line and exit 2."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd
import pytest

from foodrec.cli import main
from foodrec.data.store import Store
from foodrec.experiments.analysis import synthetic_events


@pytest.fixture
def sqlite_events(tmp_path):
    from foodrec.serving.events import Event, open_event_store

    frame = synthetic_events(3000, lift=0.3, seed=21)
    path = tmp_path / "events.sqlite"
    store = open_event_store(path)
    store.write([
        Event(event_id=r.event_id, type=r.type, customer_id=r.customer_id, variant=r.variant,
              order_value=None if r.order_value != r.order_value else float(r.order_value),
              occurred_at=r.occurred_at.to_pydatetime(), received_at=datetime.now(UTC))
        for r in frame.itertuples()
    ])  # fmt: skip
    store.close()
    return path


def test_abtest_on_sqlite_writes_json_and_html_and_rolls_out(sqlite_events, tmp_path, capsys):
    out = tmp_path / "ab.html"
    code = main(["abtest", "--events", str(sqlite_events), "--out", str(out), "--n-boot", "200"])
    assert code == 0, capsys.readouterr().err
    data = json.loads((tmp_path / "ab.json").read_text())
    assert data["decision"]["action"] == "roll out" and data["decision"]["variant"] == "treatment"
    assert {v["variant"] for v in data["variants"]} == {"control", "treatment"}
    html = out.read_text()
    assert html.count("data:image/png") >= 4 and "ROLL OUT" in html
    assert "roll out" in capsys.readouterr().out


def test_abtest_uses_store_pre_period_for_cuped(tmp_path, capsys):
    events, pre = synthetic_events(3000, lift=0.0, seed=22, with_pre_period=True)
    events.to_csv(tmp_path / "ev.csv", index=False)
    store = Store.create(tmp_path / "store")
    start = events["occurred_at"].min()
    pre = pre.loc[pre["spend"] > 0, "spend"]
    store.write_orders_part(pd.DataFrame({
        "order_id": [f"p{i}" for i in range(len(pre))], "customer_id": pre.index.astype(str),
        "ordered_at": start - pd.Timedelta(days=3), "area": "a1", "restaurant_id": "r1", "order_total": pre.to_numpy(),
    }))  # fmt: skip
    code = main(["abtest", "--events", str(tmp_path / "ev.csv"), "--store", str(tmp_path / "store"),
                 "--json-out", str(tmp_path / "r.json"), "--n-boot", "0"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["cuped"]["available"] and data["cuped"]["customers_with_history"] == len(pre)
    assert {"revenue_per_customer_cuped", "orders_per_customer_cuped"} <= {c["metric"] for c in data["comparisons"]}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--events", "missing.sqlite"], "does not exist"),
        (["--events", "missing.csv"], "does not exist"),
        (["--events", "mysql://x/y"], "event store"),
        (["--events", "EV", "--mde", "0"], "--mde"),
        (["--events", "EV", "--power", "1.5"], "--power"),
        (["--events", "EV", "--control", "nope"], "--control"),
        (["--events", "EV", "--split", "control=abc"], "--split"),
        (["--events", "EV", "--primary", "clicks"], "--primary"),
        (["--events", "EV", "--store", "no-such-store"], "does not exist"),
    ],
)
def test_abtest_bad_inputs_are_one_line_errors(tmp_path, capsys, args, message):
    synthetic_events(200, seed=23).to_csv(tmp_path / "ev.csv", index=False)
    args = [str(tmp_path / "ev.csv") if a == "EV" else a for a in args]
    code = main(["abtest", *args, "--json-out", str(tmp_path / "x.json")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_abtest_on_a_file_that_is_not_a_database(tmp_path, capsys):
    bad = tmp_path / "events.sqlite"
    bad.write_text("hello, not sqlite")
    assert main(["abtest", "--events", str(bad)]) == 2
    assert capsys.readouterr().err.startswith("error: ")


@pytest.mark.parametrize("content", ["[1, 2]", "not json", '{"true_lift": [1]}'])
def test_abtest_rejects_a_truth_file_that_is_not_a_simulation_summary(tmp_path, capsys, content):
    synthetic_events(200, seed=24).to_csv(tmp_path / "ev.csv", index=False)
    (tmp_path / "t.json").write_text(content)
    code = main(["abtest", "--events", str(tmp_path / "ev.csv"), "--truth", str(tmp_path / "t.json"),
                 "--json-out", str(tmp_path / "x.json")])  # fmt: skip
    assert code == 2 and capsys.readouterr().err.startswith("error: --truth")


def test_pre_period_counts_each_order_once_and_only_inside_the_window(tmp_path):
    from foodrec.experiments.command import pre_period

    store = Store.create(tmp_path / "store")
    start = pd.Timestamp("2026-03-01T00:00Z")
    store.write_orders_part(pd.DataFrame({
        "order_id": ["o1", "o1", "o2", "o3", "o4"], "customer_id": ["c1", "c1", "c1", "c2", "c2"],
        "ordered_at": [start - pd.Timedelta(days=d) for d in (2, 2, 2, 40)] + [start + pd.Timedelta(hours=1)],
        "area": "a", "restaurant_id": "r", "item_id": ["i1", "i2", "i3", "i4", "i5"],
        "order_total": [30.0, 30.0, 12.0, 99.0, 50.0],   # order-level money repeated on each line
    }))  # fmt: skip
    pre = pre_period(str(tmp_path / "store"), start, days=28)
    assert pre.loc["c1", "spend"] == 42.0 and pre.loc["c1", "orders"] == 2
    assert "c2" not in pre.index  # one order too old, one after the start


def test_abtest_reads_the_planned_split_from_the_services_ab_config(tmp_path, capsys):
    events = synthetic_events(4000, seed=26, split=0.9)  # 90% of customers in 'treatment', as planned
    events.to_csv(tmp_path / "ev.csv", index=False)
    (tmp_path / "ab.toml").write_text(
        'salt = "s"\n[[variants]]\nname = "control"\nrecommender = "area-popularity"\nshare = 0.1\n'
        '[[variants]]\nname = "treatment"\nrecommender = "customer-history"\nshare = 0.9\n'
    )
    args = ["abtest", "--events", str(tmp_path / "ev.csv"), "--n-boot", "0", "--json-out", str(tmp_path / "r.json")]
    assert main([*args, "--split", str(tmp_path / "ab.toml")]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["srm"]["ok"] is True
    assert main([*args, "--split", "control=0.9,treatment=0.1"]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["srm"]["ok"] is False
    assert main(args) == 0  # default: equal split, so a 10/90 test is a mismatch and the decision is stop
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["srm"]["ok"] is False and data["decision"]["action"] == "stop"


def test_the_command_module_imports_no_heavy_library():
    import subprocess
    import sys

    code = (
        "import sys, foodrec.experiments.command\n"
        "print(','.join(m for m in ('scipy', 'statsmodels', 'matplotlib', 'pandas', 'httpx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""
