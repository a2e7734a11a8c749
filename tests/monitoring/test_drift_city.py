"""On a generated city with `--drift-at D`, the daily drift check flags within 10 days after D and never before."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from foodrec.cli import main
from foodrec.data.store import Store
from foodrec.monitoring.scan import detection_delay, scan_days

DRIFT_AT = 35
MAX_DELAY_DAYS = 10  # stated in docs/monitoring.md (7-day windows; the drift ramps up over 7 days)


@pytest.mark.slow
def test_drift_city_is_flagged_after_d_and_not_before(tmp_path: Path, capsys) -> None:
    pytest.importorskip("foodrec.recommenders.baselines")
    city, store_dir = tmp_path / "city", tmp_path / "store"
    assert main(["generate", "--out", str(city), "--seed", "3", "--days", "56", "--drift-at", str(DRIFT_AT)]) == 0
    assert main(["ingest", str(city), "--store", str(store_dir)]) == 0
    capsys.readouterr()
    meta = json.loads((city / "city.json").read_text())
    tz = meta["timezone"]

    def midnight(day: int) -> pd.Timestamp:
        return (pd.Timestamp(meta["start"]).tz_localize(tz) + pd.DateOffset(days=day)).tz_convert("UTC")

    log = Store.open(store_dir).order_log()
    from foodrec.recommenders.registry import make_recommender

    cutoff = midnight(DRIFT_AT - 14)
    rec = make_recommender("area-popularity", level="dish").fit(log.before(midnight(DRIFT_AT - 21)))
    scan = scan_days(log, rec, "dish", reference_until=cutoff, first_end=midnight(DRIFT_AT - 7),
                     last_end=midnight(DRIFT_AT + 12))  # fmt: skip
    result = detection_delay(scan, midnight(DRIFT_AT))
    assert result["windows_before"] == 8 and result["false_alarms"] == 0, scan[["recent_end", "drift", "reasons"]]
    assert result["delay_days"] is not None and 0 < result["delay_days"] <= MAX_DELAY_DAYS, result
    assert result["all_flagged_after_first"]
    assert meta["drift"]["cuisine"] in scan["reasons"].iloc[-1]
