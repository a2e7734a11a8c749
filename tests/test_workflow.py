"""`foodrec run` on your own log: every step with defaults derived from the log, outputs listed, a re-run continues
where it stopped, short logs explained, the UTC time-zone suggestion. Training is kept to one epoch, no search."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from foodrec.cli import main

FAST = ["--epochs", "1", "--no-search"]
STEPS = ["ingest", "eda", "baselines", "train", "evaluate", "drift", "report"]


def _export(root: Path, days: int, customers: int = 1200, level: str = "restaurant") -> list[str]:
    """A generated city's files without its city.json: an export whose times are UTC (the city is at UTC-8)."""
    city = root / f"city{days}"
    assert main(["generate", "--out", str(city), "--preset", "small", "--days", str(days), "--customers",
                 str(customers), "--restaurants", "40", "--level", level, "--seed", "3"]) == 0  # fmt: skip
    return [str(city / "orders.csv"), str(city / "restaurants.csv"), str(city / "customers.csv")]


def _record(out: Path) -> dict:
    return json.loads((out / "run.json").read_text())


@pytest.fixture(scope="module")
def month(tmp_path_factory) -> tuple[list[str], Path, int, str]:
    """One `foodrec run` on a 31-day restaurant-level log in UTC, with defaults (and a fast training)."""
    import contextlib
    import io

    root = tmp_path_factory.mktemp("month")
    sources = _export(root, 31)
    out = root / "run"
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(["run", *sources, "--out", str(out), *FAST])
    return sources, out, code, buffer.getvalue()


def test_a_month_long_log_passes_every_step_with_defaults(month) -> None:
    sources, out, code, text = month
    assert code == 0, text[-3000:]
    steps = _record(out)["steps"]
    assert {name: steps[name]["status"] for name in STEPS} == dict.fromkeys(STEPS, "done") | (
        {"drift": "finding"} if steps["drift"]["status"] == "finding" else {}
    )
    for name in STEPS:  # every output is listed at the end, and exists
        for label, path in steps[name]["outputs"].items():
            assert Path(path).exists(), (name, label)
            assert f"{label}" in text and path in text
    drift = json.loads((out / "drift.json").read_text())
    manifest = json.loads((out / "model" / "manifest.json").read_text())
    assert "--window-days" not in steps["drift"]["command"]
    assert drift["windows"]["reference_end"][:10] == manifest["cutoff"][:10]  # the days after the cutoff ...
    assert drift["window_days"] == 6  # ... against as many before it (31 local days: 6 test days)
    for skipped in ("serve", "simulate", "abtest"):  # one line each on why
        assert f"  {skipped}" in text


def test_the_utc_log_of_a_utc_minus_8_city_gets_the_suggestion(month) -> None:
    sources, out, _, text = month
    line = [ln for ln in text.splitlines() if ln.startswith("time zone:")][-1]
    assert "UTC−8" in line and f"foodrec run {' '.join(sources)} --out {out} --timezone America/Los_Angeles" in line
    assert _record(out)["log"]["timezone_hint"]["utc_offset"] == -8
    report = (out / "stakeholder_report.html").read_text()
    assert "What was run" in report and "wrong time zone" in report and "--timezone America/Los_Angeles" in report


def test_running_again_skips_the_finished_steps(month, capsys) -> None:
    sources, out, _, _ = month
    before = _record(out)["steps"]
    assert main(["run", *sources, "--out", str(out), *FAST]) == 0
    text = capsys.readouterr().out
    assert text.count("unchanged since") == len(STEPS)
    assert "$ foodrec" not in text  # no command ran
    after = _record(out)["steps"]
    assert {n: after[n]["finished_at"] for n in STEPS} == {n: before[n]["finished_at"] for n in STEPS}


def test_nothing_can_run_is_exit_2_with_one_line(tmp_path, capsys) -> None:
    bad = tmp_path / "orders.csv"
    bad.write_text("not,an,order,log\n1,2,3,4\n")
    assert main(["run", str(bad), "--out", str(tmp_path / "run")]) == 2
    captured = capsys.readouterr()
    assert "ingest     skipped: error:" in captured.out
    assert _record(tmp_path / "run")["steps"]["eda"]["reason"].startswith("needs the ingested store")
    assert main(["run", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "run2")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err


def test_a_folder_run_did_not_write_is_refused(tmp_path, capsys) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    (tmp_path / "orders.csv").write_text("order_id\n")
    assert main(["run", str(tmp_path / "orders.csv"), "--out", str(tmp_path)]) == 2
    assert "did not write" in capsys.readouterr().err


@pytest.mark.slow
def test_a_two_week_dish_level_log_passes_or_explains(tmp_path, capsys) -> None:
    sources = _export(tmp_path, 14, customers=2000, level="dish")
    assert main(["run", *sources, "--out", str(tmp_path / "run"), *FAST]) == 0
    steps = _record(tmp_path / "run")["steps"]
    assert all(steps[n]["status"] in ("done", "finding") for n in STEPS), steps
    assert json.loads((tmp_path / "run" / "drift.json").read_text())["window_days"] == 3


@pytest.mark.slow
def test_a_short_log_skips_training_with_what_it_needs(tmp_path, capsys) -> None:
    sources = _export(tmp_path, 5, customers=2000)
    assert main(["run", *sources, "--out", str(tmp_path / "run"), *FAST]) == 0
    steps = _record(tmp_path / "run")["steps"]
    assert steps["baselines"]["status"] == "done"
    assert steps["train"]["status"] == "skipped" and "needs at least 7 local days" in steps["train"]["reason"]
    assert steps["drift"]["reason"].startswith("needs the trained model")
    assert (
        "No drift check has been run yet: it needs the trained model"
        in (tmp_path / "run" / "stakeholder_report.html").read_text()
    )


@pytest.mark.slow
def test_the_suggested_timezone_rebuilds_the_store_and_silences_the_hint(month, capsys) -> None:
    sources, out, _, _ = month
    assert main(["run", *sources, "--out", str(out), *FAST, "--timezone", "America/Los_Angeles"]) == 0
    text = capsys.readouterr().out
    assert "rebuilding" in text and "time zone:" not in text and "unchanged since" not in text
    assert _record(out)["log"]["timezone_hint"] is None and _record(out)["log"]["timezone"] == "America/Los_Angeles"
