"""`foodrec report`: one self-contained page, every part present or plainly marked missing, bad input exits 2."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import pytest

from foodrec.cli import main
from foodrec.reports.results import Metric, classify, collect_results, metric, recommender_scores
from foodrec.reports.stakeholder import GLOSSARY


def _report(args: list[str], tmp_path: Path, capsys) -> tuple[int, str]:
    out = tmp_path / "report.html"
    code = main(["report", *args, "--out", str(out)])
    capsys.readouterr()
    return code, out.read_text() if out.exists() else ""


def test_full_report_has_every_part(store: Path, results_dir: Path, tmp_path: Path, capsys) -> None:
    code, html = _report(["--store", str(store), "--results", str(results_dir)], tmp_path, capsys)
    assert code == 0
    assert html.count('src="data:image/png;base64,') >= 5  # data (2), offline, areas, A/B lift
    assert "http://" not in html and "https://" not in html  # self-contained
    assert 'class="note missing"' not in html  # nothing reported missing
    for anchor in ("summary", "problem", "data", "offline", "segments", "abtest", "drift", "limitations", "glossary"):
        assert f'id="{anchor}"' in html
    text = unescape(re.sub(r"<[^>]+>", " ", html))
    assert "A/B test decision: roll out (model)" in text
    assert "best simple rule ('area-popularity')" in text  # the oracle is not a fair rule
    assert "works best where there is plenty of data" in text
    assert "retraining is recommended" in text and "0.200 (current model) to 0.260 (retrained)" in text
    assert "60 of 3,100 rows were set aside" in text
    assert "synthetic city built" not in text  # this store has no ground truth


def test_missing_parts_are_said_plainly(store: Path, tmp_path: Path, capsys) -> None:
    code, html = _report(["--store", str(store)], tmp_path, capsys)
    assert code == 0
    assert "No A/B test has been analysed yet" in html
    assert "No drift check has been run yet" in html
    assert "No offline results yet" in html
    assert html.count("data:image/png") == 2  # the data plots still come


def test_results_without_store_and_unreadable_files(results_dir: Path, tmp_path: Path, capsys) -> None:
    (results_dir / "broken.json").write_text("{not json")
    code, html = _report(["--results", str(results_dir), "--results", str(tmp_path / "absent.json")], tmp_path, capsys)
    assert code == 0
    assert "No store was given" in html
    assert "broken.json: unreadable" in html and "absent.json: not found" in html


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give --store and/or --results"),
        (["--store", "/nonexistent/store"], "does not exist"),
        (["--results", ".", "--out", "report.pdf"], "--out must be an .html file"),
    ],
)
def test_bad_input_exits_2(args: list[str], message: str, capsys) -> None:
    code = main(["report", *args])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and message in err


def test_unwritable_out_exits_2(results_dir: Path, tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code = main(["report", "--results", str(results_dir), "--out", str(blocker / "r.html")])
    assert code == 2 and "cannot write" in capsys.readouterr().err


def test_jargon_is_explained() -> None:
    words = {w for w, _ in GLOSSARY}
    assert {"NDCG@10", "Hit rate @10", "PSI", "A/B test", "Lift", "Conversion", "95% interval", "Drift", "CI"} <= words
    assert {"Sample ratio", "Guardrail", "Control / treatment", "p-value (p)"} <= words


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"ndcg@10": 0.3}, Metric(0.3)),
        ({"NDCG_at_10": {"value": 0.3, "low": 0.2, "high": 0.4}}, Metric(0.3, 0.2, 0.4)),
        ({"overall": {"ndcg": {"mean": 0.3, "ci_low": 0.2, "ci_high": 0.4}}}, Metric(0.3, 0.2, 0.4)),
        ({"val_ndcg10": 0.3}, Metric(0.3)),
        ({"ndcg": 0.3, "ndcg_ci": [0.25, 0.35]}, Metric(0.3, 0.25, 0.35)),
        ({"ndcg": float("nan")}, None),
        ({"ndcg": "high"}, None),
        ("not a dict", None),
    ],
)
def test_metric_reader_is_tolerant(record: object, expected: Metric | None) -> None:
    assert metric(record, "ndcg") == expected


def test_leaderboard_shapes() -> None:
    as_list = [{"name": "a", "ndcg": 0.1}, {"name": "b", "ndcg": 0.2}]
    as_map = {"results": {"a": {"ndcg@10": 0.1}, "b": {"ndcg@10": 0.2}}}
    one = {"recommender": "runs/model", "metrics": {"ndcg@10": 0.3}, "segments": {"area": {"x": {"ndcg": 0.2}}}}
    assert [s.name for s in recommender_scores(as_list)] == ["a", "b"]
    assert [s.name for s in recommender_scores(as_map)] == ["a", "b"]
    (model,) = recommender_scores(one)
    assert model.is_model and model.segments.to_dict("records")[0]["value"] == "x"
    assert recommender_scores({"something": 1}) == [] and recommender_scores(None) == []


def test_classify_by_content_then_name(tmp_path: Path) -> None:
    assert classify(tmp_path / "x.json", {"kind": "foodrec.drift"}) == "drift"
    assert classify(tmp_path / "x.json", {"decision": {}, "comparisons": []}) == "abtest"
    assert classify(tmp_path / "baselines.json", {}) == "leaderboard"
    assert classify(tmp_path / "notes.json", {"hello": 1}) is None


def test_collect_prefers_paths_given_first(results_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "drift_later.json"
    other.write_text(json.dumps({"kind": "foodrec.drift", "drift": False}))
    found = collect_results([other, results_dir])
    assert found.get("drift")["drift"] is False and found.sources["drift"] == str(other)
    assert found.get("manifest")["level"] == "restaurant"


def test_reads_the_real_abtest_json(tmp_path: Path, capsys) -> None:
    analysis = pytest.importorskip("foodrec.experiments.analysis")
    decision = pytest.importorskip("foodrec.experiments.decision")
    result = analysis.analyze(analysis.synthetic_events(2000, lift=0.1, seed=1), n_boot=0)
    payload = {**result.to_dict(), "decision": decision.decide(result, mde=0.05).to_dict()}
    path = tmp_path / "abtest.json"
    path.write_text(json.dumps(payload, default=str).replace("NaN", "null"))
    code, html = _report(["--results", str(path)], tmp_path, capsys)
    assert code == 0 and "A/B test decision:" in html and "No A/B test" not in html


def test_reads_foodrec_baselines_and_evaluate_json(evaluate_style_dir: Path, tmp_path: Path, capsys) -> None:
    found = collect_results([evaluate_style_dir])
    assert set(found.found) == {"leaderboard", "evaluation"}
    scores = recommender_scores(found.get("evaluation"))
    assert scores[0].name == "keras" and scores[0].is_model
    assert scores[0].ndcg == Metric(0.31, 0.3, 0.32)
    areas = scores[0].segments[scores[0].segments["segment"] == "area"]
    assert len(areas) == 6 and areas["n"].tolist()[0] == 500
    board = recommender_scores(found.get("leaderboard"))
    assert [s.name for s in board] == ["customer-history", "area-popularity"] and board[0].segments is not None
    code, html = _report(["--results", str(evaluate_style_dir)], tmp_path, capsys)
    text = unescape(re.sub(r"<[^>]+>", " ", html))
    assert code == 0
    assert "NDCG@10 0.310 vs 0.270" in text  # the model vs the best rule, customer-history
    assert "works best where there is plenty of data" in text
    assert "For returning customers the model's NDCG@10 is 0.360; for new customers 0.210" in text
    assert "graded on 2,500 later orders up to 2026-03-01" in text
    assert "By meal time" in text and "rule: customer-history" in text


def test_empty_store_still_gives_a_report(results_dir: Path, tmp_path: Path, capsys) -> None:
    from foodrec.data.store import Store

    empty = Store.create(tmp_path / "empty").path
    code, html = _report(["--store", str(empty), "--results", str(results_dir)], tmp_path, capsys)
    assert code == 0 and "so there are no data plots" in html and "A/B test decision" in html
