"""Is the A/B analysis calibrated? A/A false-positive rate and achieved power, by simulation.

1. A/A: many experiments where both arms are the same; each test of ``foodrec abtest`` should call a
   difference significant in about alpha of them (within the binomial sampling error of the run count).
2. Power: with a true lift equal to the MDE and the sample size ``foodrec abtest --mde`` computes, the
   share of significant results should be about the stated power.
3. Pipeline check: a few experiments through the full ``analyze()`` (events in, CLI numbers out) must give the
   same p-values as the fast path used for 1 and 2.

The customers come from :func:`foodrec.experiments.analysis.synthetic_customers` (heterogeneous propensity,
skewed order values, a pre-period correlated with the test period), where the lift is exact by construction.

    .venv/bin/python benchmarks/bench_ab_calibration.py            # 2000 runs each, about two minutes on 2 cores
    .venv/bin/python benchmarks/bench_ab_calibration.py --runs 4000
"""

from __future__ import annotations

import argparse
import math
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from foodrec.experiments.analysis import (  # noqa: E402
    analyze,
    cuped_adjust,
    proportion_ztest,
    synthetic_customers,
    synthetic_events,
    welch_test,
)
from foodrec.experiments.power import sample_size_mean, sample_size_proportion  # noqa: E402

TESTS = ("conversion z-test", "orders Welch", "orders Welch CUPED", "revenue Welch", "revenue Welch CUPED")


def p_values(c: dict[str, np.ndarray]) -> dict[str, float]:
    """The p-values ``analyze()`` reports, computed straight from per-customer arrays."""
    t, k = c["arm"] == 1, c["arm"] == 0
    out = {"conversion z-test": proportion_ztest(int(c["converted"][t].sum()), int(t.sum()),
                                                 int(c["converted"][k].sum()), int(k.sum()))["p_value"]}  # fmt: skip
    for metric, cov in (("orders", "pre_orders"), ("revenue", "pre_spend")):
        y = c[metric].astype(float)
        out[f"{metric} Welch"] = welch_test(y[t], y[k])["p_value"]
        adj, _, _ = cuped_adjust(y, c[cov].astype(float))
        out[f"{metric} Welch CUPED"] = welch_test(adj[t], adj[k])["p_value"]
    return out


def band(rate: float, runs: int) -> tuple[float, float]:
    """Central 95% range of the share of hits among ``runs`` experiments when the true rate is ``rate``."""
    from scipy.stats import binom

    return float(binom.ppf(0.025, runs, rate)) / runs, float(binom.ppf(0.975, runs, rate)) / runs


def aa(runs: int, n_customers: int, alpha: float, seed: int) -> dict[str, float]:
    hits = dict.fromkeys(TESTS, 0)
    srm = 0
    from scipy.stats import chisquare

    for r in range(runs):
        c = synthetic_customers(n_customers, lift=0.0, seed=seed + r)
        for name, p in p_values(c).items():
            hits[name] += p < alpha
        n_t = int(c["arm"].sum())
        srm += chisquare([n_t, n_customers - n_t]).pvalue < 0.001
    rates = {k: v / runs for k, v in hits.items()}
    rates["SRM check (threshold 0.001)"] = srm / runs
    return rates


def pilot(seed: int) -> dict[str, float]:
    """Baselines a team would take from history: a large control-only sample."""
    c = synthetic_customers(400_000, lift=0.0, seed=seed, split=0.0)
    orders, pre = c["orders"].astype(float), c["pre_orders"].astype(float)
    _, _, rho2 = cuped_adjust(orders, pre)
    return {"p0": float(c["converted"].mean()), "mean": float(orders.mean()), "sd": float(orders.std(ddof=1)),
            "rho2": rho2}  # fmt: skip


def power(runs: int, mde: float, alpha: float, target: float, seed: int) -> list[tuple[str, int, float]]:
    base = pilot(seed + 10_000_000)
    sizes = {
        "conversion z-test": sample_size_proportion(base["p0"], mde, alpha, target),
        "orders Welch": sample_size_mean(base["mean"], base["sd"], mde, alpha, target),
        "orders Welch CUPED": sample_size_mean(base["mean"], base["sd"] * math.sqrt(1 - base["rho2"]), mde, alpha,
                                               target),
    }  # fmt: skip
    out = []
    for name, n in sizes.items():
        hits = 0
        for r in range(runs):
            c = synthetic_customers(2 * n, lift=mde, seed=seed + 20_000_000 + r)
            hits += p_values(c)[name] < alpha
        out.append((name, n, hits / runs))
    return out


def pipeline_check(runs: int, seed: int) -> float:
    """Largest difference between analyze()'s p-values and the fast path's, over a few experiments."""
    worst = 0.0
    names = {"conversion z-test": "conversion", "orders Welch": "orders_per_customer",
             "orders Welch CUPED": "orders_per_customer_cuped", "revenue Welch": "revenue_per_customer",
             "revenue Welch CUPED": "revenue_per_customer_cuped"}  # fmt: skip
    for r in range(runs):
        events, pre = synthetic_events(3000, lift=0.05, seed=seed + r, with_pre_period=True)
        res = analyze(events, pre_period=pre, n_boot=0)
        fast = p_values(synthetic_customers(3000, lift=0.05, seed=seed + r))
        for test, metric in names.items():
            worst = max(worst, abs(res.comparison("treatment", metric)["p_value"] - fast[test]))
    return worst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--customers", type=int, default=4000, help="customers per A/A experiment (both arms)")
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--power", type=float, default=0.8)
    ap.add_argument("--mde", type=float, default=0.10, help="relative lift (at most 0.11 to stay exact)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    t0 = time.perf_counter()
    rates = aa(args.runs, args.customers, args.alpha, args.seed)
    print(f"A/A: {args.runs} experiments of {args.customers} customers, alpha {args.alpha} "
          f"({time.perf_counter() - t0:.0f} s)")  # fmt: skip
    print(f"{'test':30s} {'nominal':>8s} {'measured':>9s} {'95% band':>15s}  within")
    for name, rate in rates.items():
        nominal = 0.001 if name.startswith("SRM") else args.alpha
        lo, hi = band(nominal, args.runs)
        ok = lo <= rate <= hi
        print(f"{name:30s} {nominal:8.3f} {rate:9.4f} {lo:8.4f}–{hi:.4f}  {'yes' if ok else 'NO'}"
              f"  (ratio {rate / nominal:.2f})")  # fmt: skip

    t0 = time.perf_counter()
    results = power(args.runs, args.mde, args.alpha, args.power, args.seed)
    print(f"\nPower: true lift = MDE = {args.mde:.0%}, {args.runs} experiments per test at the computed sample size "
          f"({time.perf_counter() - t0:.0f} s)")  # fmt: skip
    print(f"{'test':30s} {'n per arm':>9s} {'stated':>7s} {'achieved':>9s} {'95% band':>15s}  within")
    for name, n, rate in results:
        lo, hi = band(args.power, args.runs)
        ok = lo <= rate <= hi
        print(f"{name:30s} {n:9,d} {args.power:7.2f} {rate:9.4f} {lo:8.4f}–{hi:.4f}  "
              f"{'yes' if ok else 'NO'}  (ratio {rate / args.power:.2f})")  # fmt: skip

    worst = pipeline_check(5, args.seed + 30_000_000)
    print(f"\nPipeline check: analyze() on events vs the fast path, 5 experiments: largest p-value gap {worst:.2g}")


if __name__ == "__main__":
    main()
