"""`foodrec drift` from the command line: exit codes 0 / 3 / 2, the JSON it writes, and retraining."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from foodrec.cli import main
from foodrec.data.orderlog import OrderLog
from foodrec.monitoring.command import find_metric, manifest_cutoff


@pytest.fixture
def drift_store(tmp_path: Path, drift_log: OrderLog, kit) -> Path:
    return kit.write_store(tmp_path / "store", drift_log)


@pytest.fixture
def stable_store(tmp_path: Path, stable_log: OrderLog, kit) -> Path:
    return kit.write_store(tmp_path / "stable", stable_log)


def test_no_drift_exits_0_and_writes_json(stable_store: Path, tmp_path: Path, test_baselines: dict, capsys) -> None:
    out = tmp_path / "drift.json"
    code = main(["drift", "--store", str(stable_store), "--recommender", "test-popularity", "--out", str(out)])
    assert code == 0
    result = json.loads(out.read_text())
    assert result["drift"] is False and result["recommender"] == "test-popularity"
    assert result["windows"]["recent_end"] == "2026-02-09T00:00:00Z"
    assert "no drift" in capsys.readouterr().out


def test_drift_exits_3_and_retraining_recovers_quality(
    drift_store: Path, tmp_path: Path, test_baselines: dict, capsys
) -> None:
    out, model = tmp_path / "drift.json", tmp_path / "retrained"
    args = ["drift", "--store", str(drift_store), "--recommender", "test-popularity", "--out", str(out)]
    code = main([*args, "--retrain-out", str(model), "--retrain-days", "7"])
    assert code == 3
    result = json.loads(out.read_text())
    assert result["drift"] is True
    retrain = result["retrain"]
    assert retrain["retrained"]["ndcg@10"] > retrain["stale"]["ndcg@10"] * 1.2
    assert retrain["gain"]["ci95"][0] > 0
    manifest = json.loads((model / "manifest.json").read_text())
    assert manifest["cutoff"] == "2026-02-09T00:00:00Z" and manifest["retrained_from"] == "test-popularity"
    assert manifest["validation_metrics"]["ndcg@10"] == pytest.approx(retrain["retrained"]["ndcg@10"])
    assert "DRIFT" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--window-days", "0"], "--window-days must be at least 1"),
        (["--window-days", "40"], "too late for a 40-day reference window"),
        (["--window-days", "17", "--until", "2026-02-08"], "no orders before the reference window"),
        (["--reference-until", "not-a-date"], "not a timestamp"),
        (["--max-ndcg-drop", "2"], "--max-ndcg-drop"),
        (["--retrain-out", "X", "--retrain-days", "0"], "--retrain-days"),
    ],
)
def test_bad_options_exit_2_with_one_line(
    drift_store: Path, test_baselines: dict, capsys, extra: list[str], message: str
) -> None:
    code = main(["drift", "--store", str(drift_store), "--recommender", "test-popularity", *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_missing_store_and_unknown_recommender_exit_2(
    drift_store: Path, tmp_path: Path, test_baselines, capsys
) -> None:
    assert main(["drift", "--store", str(tmp_path / "nope"), "--recommender", "test-popularity"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["drift", "--store", str(drift_store), "--recommender", "no-such-baseline"]) == 2
    assert "unknown recommender" in capsys.readouterr().err
    assert main(["drift", "--store", str(drift_store), "--recommender", str(tmp_path / "missing/model")]) == 2
    assert "neither a saved model directory nor a baseline" in capsys.readouterr().err


def test_manifest_readers_are_tolerant() -> None:
    assert find_metric({"validation_metrics": {"overall": {"ndcg@10": 0.4}}}) == 0.4
    assert find_metric({"ndcg@5": 0.9, "ndcg@10": 0.3}) == 0.3
    assert find_metric({"ndcg@10": float("nan")}) is None and find_metric(None) is None
    # foodrec train's manifest: metrics {"val_ndcg@10", "popularity_val_ndcg@10"}
    assert find_metric({"popularity_val_ndcg@10": 0.1, "val_ndcg@10": 0.25}) == 0.25
    assert manifest_cutoff({"cutoff": "2026-02-01"}) == "2026-02-01"
    assert manifest_cutoff({"training": {"train_cutoff": "2026-01-01"}}) == "2026-01-01"
    assert manifest_cutoff({}) is None


def test_saved_model_uses_its_manifest(drift_store: Path, tmp_path: Path, capsys) -> None:
    baselines = pytest.importorskip("foodrec.recommenders.baselines")
    from foodrec.data.store import Store

    log = Store.open(drift_store).order_log()
    rec = baselines.BASELINES["area-popularity"](level="restaurant").fit(log.before("2026-01-26"))
    model = tmp_path / "model"
    rec.save(model, extra={"cutoff": "2026-01-26T00:00:00Z", "validation_metrics": {"ndcg@10": 0.30}})
    out, retrained = tmp_path / "drift.json", tmp_path / "retrained"
    args = ["drift", "--store", str(drift_store), "--recommender", str(model), "--out", str(out)]
    code = main([*args, "--retrain-out", str(retrained), "--retrain-days", "7"])
    assert code == 3, capsys.readouterr()
    result = json.loads(out.read_text())
    assert result["windows"]["reference_end"] == "2026-01-26T00:00:00Z"  # the training cutoff
    assert result["quality"]["reference"] == 0.30 and "manifest" in result["quality"]["reference_source"]
    assert result["recommender_kind"] == "saved model"
    assert result["retrain"]["retrained"]["ndcg@10"] > result["retrain"]["stale"]["ndcg@10"]
    # the retrained model is a drop-in for the next check: its own cutoff and validation figure
    again = main(["drift", "--store", str(drift_store), "--recommender", str(retrained), "--window-days", "3"])
    assert again == 2 and "must end before the recent window" in capsys.readouterr().err
    assert main(["drift", "--store", str(drift_store), "--recommender", str(retrained), "--reference-until",
                 "2026-02-02", "--window-days", "3"]) in (0, 3)  # fmt: skip


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(until=st.text(max_size=25), window=st.integers(-3, 60))
def test_odd_windows_never_crash(stable_store: Path, test_baselines: dict, capsys, until: str, window: int) -> None:
    args = ["drift", "--store", str(stable_store), "--recommender", "test-popularity", "--window-days", str(window)]
    code = main([*args, "--until", until] if until.strip() and not until.startswith("-") else args)
    err = capsys.readouterr().err
    assert code in (0, 2, 3) and "internal error" not in err
    if code == 2:
        assert err.startswith("error: ")
