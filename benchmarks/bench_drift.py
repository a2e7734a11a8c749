"""Drift detection delay on a drift city, false alarms on its no-drift twin, and the quality retraining recovers.

For each seed: generate the default city twice — with ``--drift-at D`` and without — ingest both, fit the
monitored recommender at day D-14 (the week before is the reference window), then run the drift check
with the recent window ending on every day from D-7 to the end. Prints, side by side for the two cities:
the first flagged day (delay after D), false alarms (flags on windows that end on or before D), and on the
last days held out: NDCG@10 of the stale model vs the same kind retrained on recent data — overall and on
the orders of the cuisine that surged.

    .venv/bin/python benchmarks/bench_drift.py                      # seed 3, windows 7 and 3 days
    .venv/bin/python benchmarks/bench_drift.py --seeds 3 11 --recommenders area-popularity customer-history
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from foodrec.cli import main as cli  # noqa: E402
from foodrec.data.store import Store  # noqa: E402
from foodrec.monitoring.quality import measure_window  # noqa: E402
from foodrec.monitoring.retrain import fresh_recommender  # noqa: E402
from foodrec.monitoring.scan import detection_delay, scan_days  # noqa: E402
from foodrec.monitoring.windows import order_inputs  # noqa: E402
from foodrec.recommenders.registry import make_recommender  # noqa: E402


def build_city(root: Path, seed: int, drift_at: int | None, days: int) -> Store:
    name = f"seed{seed}-{'drift' if drift_at is not None else 'stable'}"
    city, store = root / name / "city", root / name / "store"
    if not (store / "catalogue.duckdb").is_file():
        args = ["generate", "--out", str(city), "--seed", str(seed), "--days", str(days)]
        if drift_at is not None:
            args += ["--drift-at", str(drift_at)]
        for argv in (args, ["ingest", str(city), "--store", str(store)]):
            with open(os.devnull, "w") as quiet:
                old, sys.stdout = sys.stdout, quiet
                try:
                    code = cli(argv)
                finally:
                    sys.stdout = old
            if code != 0:
                raise SystemExit(f"foodrec {' '.join(argv)} failed ({code})")
    return Store.open(store)


def local_midnight(start: str, day: int, timezone: str) -> pd.Timestamp:
    return (pd.Timestamp(start).tz_localize(timezone) + pd.DateOffset(days=day)).tz_convert("UTC")


def retrain_gain(log, name, stale, level, holdout_start, end, retrain_days, cuisine):
    """NDCG@10 of stale vs retrained on the holdout, overall and on orders of ``cuisine``."""
    holdout = log.between(holdout_start, end)
    train = log.before(holdout_start)
    if retrain_days is not None:
        train = log.between(holdout_start - pd.Timedelta(days=retrain_days), holdout_start)
    new = fresh_recommender(name, level).fit(train)
    q_old, q_new = measure_window(stale, holdout, level), measure_window(new, holdout, level)
    inputs = order_inputs(holdout).set_index("order_id")
    mask = inputs.loc[q_old.extra["order_ids"], "cuisine"].to_numpy() == cuisine
    return {
        "all": (q_old.mean_ndcg, q_new.mean_ndcg, q_old.n),
        "cuisine": (float(q_old.ndcg[mask].mean()), float(q_new.ndcg[mask].mean()), int(mask.sum())),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[3])
    parser.add_argument("--drift-at", type=int, default=35)
    parser.add_argument("--days", type=int, default=56)
    parser.add_argument("--windows", type=int, nargs="+", default=[7, 3])
    parser.add_argument("--recommenders", nargs="+", default=["area-popularity"])
    parser.add_argument("--holdout-days", type=int, default=3)
    parser.add_argument("--work", type=Path, default=None, help="Keep the cities here (default: a temp dir).")
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args()
    root = args.work or Path(tempfile.mkdtemp(prefix="bench_drift."))
    d = args.drift_at
    records = []
    for seed in args.seeds:
        t0 = time.perf_counter()
        cities = {"drift": build_city(root, seed, d, args.days), "stable": build_city(root, seed, None, args.days)}
        meta = json.loads((cities["drift"].path / "city.json").read_text())
        cuisine = meta["drift"]["cuisine"]
        print(f"\nseed {seed}: cities built in {time.perf_counter() - t0:.0f}s; drift from day {d} "
              f"({meta['drift']['date']}): {meta['drift']['what']}")  # fmt: skip
        start, tz = meta["start"], meta["timezone"]
        drift_start = local_midnight(start, d, tz)
        cutoff = local_midnight(start, d - 14, tz)
        for name in args.recommenders:
            for window in args.windows:
                row = {"seed": seed, "recommender": name, "window_days": window}
                for kind, store in cities.items():
                    log = store.order_log()
                    level = log.resolve_level(None)
                    stale = make_recommender(name, level=level).fit(log.before(cutoff - pd.Timedelta(days=7)))
                    t1 = time.perf_counter()
                    first = max(cutoff + pd.Timedelta(days=window), drift_start - pd.Timedelta(days=7))
                    scan = scan_days(log, stale, level, reference_until=cutoff, first_end=first)
                    res = detection_delay(scan, drift_start)
                    row[f"{kind}_windows"] = len(scan)
                    row[f"{kind}_false_alarms"] = res["false_alarms"]
                    row[f"{kind}_windows_before"] = res["windows_before"]
                    row[f"{kind}_flags_after"] = int(scan[scan["recent_end"] > drift_start]["drift"].sum())
                    row[f"{kind}_windows_after"] = int((scan["recent_end"] > drift_start).sum())
                    row[f"{kind}_delay_days"] = res["delay_days"]
                    row[f"{kind}_scan_s"] = round(time.perf_counter() - t1, 1)
                    if window == args.windows[0]:
                        end = scan["recent_end"].max()
                        hold = end - pd.Timedelta(days=args.holdout_days)
                        for days in (None, 14):
                            g = retrain_gain(log, name, stale, level, hold, end, days, cuisine)
                            tag = "all" if days is None else f"last{days}d"
                            row[f"{kind}_ndcg_stale"] = g["all"][0]
                            row[f"{kind}_ndcg_retrained_{tag}"] = g["all"][1]
                            row[f"{kind}_{cuisine}_stale"] = g["cuisine"][0]
                            row[f"{kind}_{cuisine}_retrained_{tag}"] = g["cuisine"][1]
                            row[f"{kind}_{cuisine}_orders"] = g["cuisine"][2]
                            row["holdout_orders"] = g["all"][2]
                records.append(row)
                _print_row(row, cuisine)
    if args.json_out:
        args.json_out.write_text(json.dumps(records, indent=2, default=float))
    print(f"\ncities kept in {root}" if args.work else "")


def _fmt(v: object) -> str:
    if v is None:
        return "never"
    if isinstance(v, float):
        return "nan" if np.isnan(v) else f"{v:.4f}"
    return str(v)


def _print_row(row: dict, cuisine: str) -> None:
    print(f"\n  {row['recommender']}, {row['window_days']}-day windows       drift city    no-drift twin")
    for label, key in [("windows scanned", "windows"), ("false alarms (window ends <= D)", "false_alarms"),
                       ("  out of windows ending <= D", "windows_before"), ("flags after D", "flags_after"),
                       ("  out of windows ending > D", "windows_after"), ("first flag, days after D", "delay_days"),
                       ("scan seconds", "scan_s")]:  # fmt: skip
        print(f"    {label:34s} {_fmt(row.get('drift_' + key)):>12s} {_fmt(row.get('stable_' + key)):>14s}")
    if "drift_ndcg_stale" not in row:
        return
    print(f"    NDCG@10 on the last days held out ({row['holdout_orders']} orders on the drift city):")
    for label, key in [("stale model", "ndcg_stale"), ("retrained, all history", "ndcg_retrained_all"),
                       ("retrained, last 14 days", "ndcg_retrained_last14d"),
                       (f"{cuisine} orders: stale", f"{cuisine}_stale"),
                       (f"{cuisine} orders: retrained, all", f"{cuisine}_retrained_all"),
                       (f"{cuisine} orders: retrained, 14d", f"{cuisine}_retrained_last14d"),
                       (f"{cuisine} orders in holdout", f"{cuisine}_orders")]:  # fmt: skip
        print(f"    {label:34s} {_fmt(row.get('drift_' + key)):>12s} {_fmt(row.get('stable_' + key)):>14s}")
    for kind in ("drift", "stable"):
        s, r = row[f"{kind}_ndcg_stale"], row[f"{kind}_ndcg_retrained_all"]
        cs, cr = row[f"{kind}_{cuisine}_stale"], row[f"{kind}_{cuisine}_retrained_all"]
        ratio = f"{cr / cs:.3f}" if cs > 0 else f"n/a (stale {cs:.3f} -> retrained {cr:.3f})"
        print(f"    ratio retrained/stale ({kind}): all orders {r / s:.3f}, {cuisine} orders {ratio}")


if __name__ == "__main__":
    main()
