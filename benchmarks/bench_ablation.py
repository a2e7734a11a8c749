"""Ablation of the repeat features (features/repeat.py): what each group adds, on validation and on test.

For one store: the temporal split of ``foodrec evaluate`` (or ``--until``), the strongest baseline on its test
orders, then the Keras model trained with every repeat group, with each group left out in turn, and with none.
Every variant uses the same fixed setting (no search: the search would pick per variant and blur the comparison)
and the same seed, and model selection off (the network itself is measured). Prints validation NDCG@10 (the
model's own validation slice of the training period, the number a choice may use) and test NDCG@10 with its ratio
to the strongest baseline (reported, never used to choose), and new customers' test NDCG@10 against area x meal-time
popularity (what the cold-start head adds).

    python benchmarks/bench_ablation.py --store runs/twin/store
    python benchmarks/bench_ablation.py --store runs/demo/store --variants all,-cycle,none --json /tmp/abl.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

from foodrec.data.store import Store
from foodrec.evaluation.cases import make_test_cases
from foodrec.evaluation.evaluate import evaluate_recommender, paired_difference
from foodrec.evaluation.split import temporal_split
from foodrec.features.repeat import ALL_GROUPS
from foodrec.recommenders.keras.recommender import KerasRecommender
from foodrec.recommenders.registry import make_recommender

BASELINES = ("area-mealtime-popularity", "customer-history", "item-cooccurrence")


def variants(spec: str) -> dict[str, tuple[str, ...]]:
    """``all``, ``none``, ``-GROUP`` (all but one) or ``+GROUP`` (only one), comma separated."""
    out = {}
    for name in spec.split(","):
        name = name.strip()
        if name == "all":
            out[name] = ALL_GROUPS
        elif name == "none":
            out[name] = ()
        elif name[:1] in "+-" and name[1:] in ALL_GROUPS:
            out[name] = (name[1:],) if name[0] == "+" else tuple(g for g in ALL_GROUPS if g != name[1:])
        else:
            raise SystemExit(f"error: unknown variant {name!r}: all, none, -GROUP or +GROUP of {', '.join(ALL_GROUPS)}")
    return out


def new_customers(result) -> float:
    """NDCG@10 on the test orders of customers without an order before the cutoff (the cold-start head's share)."""
    seg = result.segments
    hit = seg[(seg["segment"] == "customer_type") & (seg["value"] == "new") & (seg["metric"] == "ndcg")]
    return float(hit["mean"].iloc[0]) if len(hit) else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", required=True, type=Path)
    ap.add_argument("--until", default=None)
    ap.add_argument("--variants", default="all,-cycle,-explore,-return,-dow,none")
    ap.add_argument("--dim", type=int, default=16)
    ap.add_argument("--lr", type=float, default=4e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    log = Store.open(args.store).order_log()
    split = temporal_split(log, until=args.until)
    level = split.train.resolve_level(None)
    cases = make_test_cases(split.train, split.test, level)
    print(f"{args.store}: level {level}, cutoff {split.cutoff.isoformat()}, {len(cases):,} test orders", flush=True)
    base = {name: evaluate_recommender(make_recommender(name, level=level).fit(split.train), cases,
                                       n_boot=args.n_boot, name=name) for name in BASELINES}  # fmt: skip
    best = max(base, key=lambda n: base[n].value("ndcg"))
    best_ndcg = base[best].value("ndcg")
    print(f"strongest baseline: {best} {best_ndcg:.4f}", flush=True)
    rows = []
    for name, groups in variants(args.variants).items():
        t0 = time.perf_counter()
        rec = KerasRecommender(
            level=level,
            search=False,
            select=False,  # the network itself: what the features add to it, not what selection makes of it
            dim=args.dim,
            hidden=2 * args.dim,
            lr=args.lr,
            seed=args.seed,
            extras=groups,
        ).fit(split.train)
        res = evaluate_recommender(rec, cases, n_boot=args.n_boot, name=name)
        diff = paired_difference(res, base[best], n_boot=args.n_boot).loc["ndcg"]
        row = {
            "variant": name,
            "groups": "+".join(groups) or "-",
            "val_ndcg10": rec.info["validation"]["val_ndcg10"],
            "test_ndcg10": res.value("ndcg"),
            "vs_best_baseline": res.value("ndcg") / best_ndcg,
            "new_test_ndcg10": new_customers(res),
            "new_vs_area_meal": new_customers(res) / new_customers(base["area-mealtime-popularity"]),
            "diff_ci_low": diff["ci_low"],
            "diff_ci_high": diff["ci_high"],
            "seconds": time.perf_counter() - t0,
        }
        rows.append(row)
        print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if args.json:
        args.json.write_text(json.dumps({"store": str(args.store), "cutoff": split.cutoff.isoformat(),
                                         "best_baseline": best, "best_baseline_ndcg10": best_ndcg,
                                         "rows": rows}, indent=2))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
