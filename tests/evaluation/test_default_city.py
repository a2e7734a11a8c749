"""The "done when" of the baseline step on the default synthetic city (slow: generates and ingests the city)."""

import json

import pytest

from foodrec.cli import main


@pytest.mark.slow
@pytest.mark.parametrize("level", ["dish", "restaurant"])
def test_leaderboard_on_the_default_city(tmp_path, level):
    assert main(["generate", "--out", str(tmp_path / "city")]) == 0
    assert main(["ingest", str(tmp_path / "city"), "--store", str(tmp_path / "store")]) == 0
    out = tmp_path / "baselines.json"
    assert (
        main(["baselines", "--store", str(tmp_path / "store"), "--level", level, "--n-boot", "200", "--out", str(out)])
        == 0
    )
    board = json.loads(out.read_text())["leaderboard"]
    names = [row["recommender"] for row in board]
    assert names[0] == "oracle"
    assert names[-1] == "global-popularity"
    ndcg = {row["recommender"]: row for row in board}
    # customer history beats area popularity, and not by chance: the CIs do not overlap
    assert ndcg["customer-history"]["ndcg_lo"] > ndcg["area-popularity"]["ndcg_hi"]
