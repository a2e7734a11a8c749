"""Interleaving vs A/B, and the sequential A/B, calibrated on the simulator's closed-form visit model.

No HTTP: the visits of ``foodrec simulate`` (:func:`plan_visits`) are ranked directly by two recommenders
(customer-history and a trained model, as the service would rank them), and every visit is priced in closed
form with the simulator's choice model (:func:`visit_probabilities`): ``P(order)`` under each list, and under a
team-draft interleaving of the two, the probability that the order lands on an item credited to each team.
Experiments are then drawn from these probabilities many times:

1. Interleaving A/A (customer-history interleaved with itself): false-positive rate of the clustered preference
   test at alpha = 0.05 over ``--runs`` experiments.
2. Sequential A/A with daily looks: false-positive rate of the mSPRT (``foodrec abtest --sequential``) and of the
   group-sequential test (``--sequential-method gst``, planned at the experiment's size), next to "Welch's t-test
   read every day, stop at the first p < 0.05" (what peeking does).
3. Sensitivity, side by side on the same city and visits: the customers each method needs to detect the model
   vs customer-history at 80% power: interleaving (preference test), the A/B on orders per customer (Welch,
   and with CUPED on the pre-period orders, customers in both arms), and the sequential A/B.

    .venv/bin/python benchmarks/bench_interleaving.py --store runs/demo/store --model runs/demo/model

The visits are priced on the city's own history (the simulated orders do not feed back into habits), so the
numbers are for one closed-form model of customers; ``foodrec simulate`` runs the same choice model live.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402

from foodrec.experiments.interleaving import preference_test  # noqa: E402
from foodrec.experiments.sequential import gst_path, sequential_path  # noqa: E402
from foodrec.experiments.simulator import load_city, plan_visits, visit_probabilities  # noqa: E402
from foodrec.serving.interleave import team_draft  # noqa: E402

Q0, BOOST, K = 0.3, 3.0, 10


def rank(spec: str, store: str, queries: pd.DataFrame, k: int) -> list[list[str]]:
    """Each query's ranked ids from a recommender as the service loads it (a baseline fitted, a model refreshed)."""
    from foodrec.data.store import Store
    from foodrec.recommenders.registry import resolve_recommender

    log = Store.open(store).order_log()
    rec = resolve_recommender(spec, log=log)
    out: list[list[str]] = []
    for start in range(0, len(queries), 2000):
        ranking = rec.recommend(queries.iloc[start : start + 2000].reset_index(drop=True), k=k)
        for row in np.asarray(ranking.items, dtype=object):
            out.append([str(x) for x in row if x is not None and x == x])
    return out


def price(city, visits: pd.DataFrame, lists: dict[str, list[list[str]]], draws: int, seed: int, level: str):
    """Per visit: P(order) under each list (top K), and per team-draft draw the probability of an order credited to
    each team, for model-vs-history (``ab_*``) and history-vs-history (``aa_*``)."""
    queries = visits[["customer_id", "area", "at"]].reset_index(drop=True)
    n = len(queries)
    out = {
        "p_a": np.zeros(n), "p_b": np.zeros(n),
        "ab_a": np.zeros((n, draws)), "ab_b": np.zeros((n, draws)),
        "aa_a": np.zeros((n, draws)), "aa_b": np.zeros((n, draws)),
    }  # fmt: skip
    rng = random.Random(seed)
    history, model = lists["history"], lists["model"]
    for start in range(0, n, 1000):
        chunk = queries.iloc[start : start + 1000]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            item_ids, utilities = city.truth.scores(chunk, city.history, level)
        position = {str(item): j for j, item in enumerate(np.asarray(item_ids).astype(str))}
        utilities = np.asarray(utilities, dtype=np.float64)

        def idx(items: list[str], position: dict[str, int] = position) -> np.ndarray:
            return np.array([position.get(i, -1) for i in items], dtype=np.int64)

        for row in range(len(chunk)):
            v = start + row
            u = utilities[row]
            ha, mb = history[v], model[v]
            out["p_a"][v] = visit_probabilities(u, idx(ha[:K]), Q0, BOOST)[0]
            out["p_b"][v] = visit_probabilities(u, idx(mb[:K]), Q0, BOOST)[0]
            for d in range(draws):
                for tag, pair in (("ab", {"a": ha, "b": mb}), ("aa", {"a": ha, "b": ha})):
                    items, teams = team_draft(pair, K, rng)
                    shown = idx(items)
                    p, probs = visit_probabilities(u, shown, Q0, BOOST)
                    mask_a = np.array([t == "a" for t in teams]) & (shown >= 0)
                    mask_b = np.array([t == "b" for t in teams]) & (shown >= 0)
                    out[f"{tag}_a"][v, d] = p * probs[shown[mask_a]].sum()
                    out[f"{tag}_b"][v, d] = p * probs[shown[mask_b]].sum()
    return out


class Population:
    """Customers with their visits (indices into the priced arrays), their visit days, and pre-period orders."""

    def __init__(self, visits: pd.DataFrame, pre_orders: pd.Series):
        codes, uniques = pd.factorize(visits["customer_id"])
        order = np.argsort(codes, kind="stable")
        self.visit_of = order
        self.cust_of_sorted = codes[order]
        self.starts = np.searchsorted(self.cust_of_sorted, np.arange(len(uniques)))
        self.counts = np.bincount(codes, minlength=len(uniques))
        self.day = visits["day"].to_numpy()
        self.n = len(uniques)
        self.pre = pre_orders.reindex(uniques).fillna(0).to_numpy(float)

    def sample_visits(self, customers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Visit indices of the given customers (repeats allowed), and each visit's position in ``customers``."""
        counts = self.counts[customers]
        owner = np.repeat(np.arange(len(customers)), counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        return self.visit_of[np.repeat(self.starts[customers], counts) + offsets], owner


def interleaving_rejects(pop: Population, wa: np.ndarray, wb: np.ndarray, n: int, rng: np.random.Generator) -> bool:
    customers = rng.integers(0, pop.n, n)
    v, owner = pop.sample_visits(customers)
    d = rng.integers(0, wa.shape[1], len(v))
    u = rng.random(len(v))
    pa, pb = wa[v, d], wb[v, d]
    win_b = u < pb
    win_a = (u >= pb) & (u < pa + pb)
    wins_b = np.bincount(owner, weights=win_b, minlength=n)
    decided = np.bincount(owner, weights=win_b | win_a, minlength=n)
    keep = decided > 0
    return preference_test(wins_b[keep], decided[keep])["p_value"] < 0.05


def ab_outcomes(pop: Population, p: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Orders per customer (and pre-period orders) of ``n`` customers drawn from the population, all seeing p."""
    customers = rng.integers(0, pop.n, n)
    v, owner = pop.sample_visits(customers)
    orders = np.bincount(owner, weights=rng.random(len(v)) < p[v], minlength=n)
    return orders, pop.pre[customers]


def ab_rejects(pop: Population, pa: np.ndarray, pb: np.ndarray, n: int, rng: np.random.Generator, cuped: bool) -> bool:
    ya, xa = ab_outcomes(pop, pa, n, rng)
    yb, xb = ab_outcomes(pop, pb, n, rng)
    if cuped:
        x = np.concatenate([xa, xb])
        y = np.concatenate([ya, yb])
        theta = np.cov(x, y)[0, 1] / x.var(ddof=1) if x.var() > 0 else 0.0
        ya, yb = ya - theta * (xa - x.mean()), yb - theta * (xb - x.mean())
    return stats.ttest_ind(yb, ya, equal_var=False).pvalue < 0.05


def daily(pop: Population, p: np.ndarray, n: int, days: int, rng: np.random.Generator):
    """Per daily look: each customer's orders so far (customers count from their first visit)."""
    customers = rng.integers(0, pop.n, n)
    v, owner = pop.sample_visits(customers)
    ordered = rng.random(len(v)) < p[v]
    day = pop.day[v]
    first = np.full(n, days)
    np.minimum.at(first, owner, day)
    looks = []
    for d in range(days):
        seen = first <= d
        y = np.bincount(owner, weights=ordered & (day <= d), minlength=n)
        looks.append((y, seen, customers))
    return looks


def sequential_run(pop, pa, pb, n, days, rng, mde, cuped=True) -> tuple[bool, int | None, bool, bool]:
    """(mSPRT ever significant, its first significant day, Welch-every-day ever significant, group-sequential
    O'Brien-Fleming ever significant, planned at ``n`` per arm)."""
    la, lb = daily(pop, pa, n, days, rng), daily(pop, pb, n, days, rng)
    looks, peek = [], False
    for (ya, sa, ca), (yb, sb, cb) in zip(la, lb, strict=True):
        a, b = ya[sa], yb[sb]
        if cuped:
            xa, xb = pop.pre[ca[sa]], pop.pre[cb[sb]]
            x, y = np.concatenate([xa, xb]), np.concatenate([a, b])
            if len(x) > 2 and x.var() > 0:
                theta = np.cov(x, y)[0, 1] / x.var(ddof=1)
                a, b = a - theta * (xa - x.mean()), b - theta * (xb - x.mean())
        looks.append((b, a))
        if len(a) > 2 and len(b) > 2 and stats.ttest_ind(b, a, equal_var=False).pvalue < 0.05:
            peek = True
    path = sequential_path(looks, mde)
    first = next((i for i, r in enumerate(path) if r["significant"]), None)
    gst = any(r["significant"] for r in gst_path(looks, n, 0.05, paths=100_000))
    return first is not None, first, peek, gst


def customers_for_power(reject, target: float = 0.8, reps: int = 200, start: int = 200, cap: int = 400_000):
    """Smallest n (on a doubling grid refined by bisection) whose share of rejections reaches ``target``."""
    cache: dict[int, float] = {}

    def power(n: int) -> float:
        if n not in cache:
            cache[n] = float(np.mean([reject(n) for _ in range(reps)]))
        return cache[n]

    lo, hi = None, start
    while power(hi) < target:
        lo, hi = hi, hi * 2
        if hi > cap:
            return None, cache
    lo = lo or hi // 2
    for _ in range(4):
        mid = (lo + hi) // 2
        if power(mid) >= target:
            hi = mid
        else:
            lo = mid
    return hi, cache


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", required=True, help="store (or generate folder) of a synthetic city")
    parser.add_argument("--model", required=True, help="saved model folder (the treatment)")
    parser.add_argument("--control", default="customer-history")
    parser.add_argument("--customers", type=int, default=4000, help="customers whose visits are priced")
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--runs", type=int, default=1000, help="A/A experiments per false-positive rate")
    parser.add_argument("--aa-customers", type=int, default=2000, help="customers per A/A experiment (per arm)")
    parser.add_argument("--reps", type=int, default=200, help="experiments per point of a power curve")
    parser.add_argument("--draws", type=int, default=4, help="team-draft coin draws priced per visit")
    parser.add_argument("--mde", type=float, default=0.05, help="mSPRT mixture scale, relative")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from foodrec.quiet import quiet_tensorflow

    quiet_tensorflow()
    t0 = time.perf_counter()
    city = load_city(args.store)
    visits = plan_visits(city, args.customers, args.days, Q0, args.seed)
    queries = visits[["customer_id", "area", "at"]].reset_index(drop=True)
    lists = {
        "history": rank(args.control, args.store, queries, 2 * K),
        "model": rank(args.model, args.store, queries, 2 * K),
    }
    t_rank = time.perf_counter() - t0
    from foodrec.data.store import Store

    level = Store.open(args.store).order_log().default_level
    priced = price(city, visits, lists, args.draws, args.seed, level)
    t_price = time.perf_counter() - t0 - t_rank
    start = visits["at"].min()
    h = city.history
    pre = h[(h["ordered_at"] < start) & (h["ordered_at"] >= start - pd.Timedelta(days=28))]
    pop = Population(visits, pre.groupby("customer_id")["order_id"].nunique())
    pa, pb = priced["p_a"], priced["p_b"]
    paired = pb.sum() / pa.sum() - 1
    print(f"city {args.store}: {pop.n:,} customers, {len(visits):,} visits over {args.days} days "
          f"(ranked in {t_rank:.0f}s, priced in {t_price:.0f}s)")  # fmt: skip
    print(f"truth: P(order) per visit {pa.mean():.4f} ({args.control}) vs {pb.mean():.4f} (model): "
          f"paired lift {paired:+.2%}")  # fmt: skip
    ia, ib = priced["ab_a"].mean(), priced["ab_b"].mean()
    print(f"interleaved: P(order credited to model | order) = {ib / (ia + ib):.3f}")
    rng = np.random.default_rng(args.seed)
    se = math.sqrt(0.05 * 0.95 / args.runs)
    print(f"\nA/A false-positive rates at alpha 0.05, {args.runs:,} runs of {args.aa_customers:,} customers "
          f"(a calibrated test: 0.05 ± {1.96 * se:.3f})")  # fmt: skip
    fp = np.mean([interleaving_rejects(pop, priced["aa_a"], priced["aa_b"], args.aa_customers, rng)
                  for _ in range(args.runs)])  # fmt: skip
    print(f"  interleaving (history vs history), clustered z-test   {fp:.4f}")
    seq = [sequential_run(pop, pa, pa, args.aa_customers, args.days, rng, args.mde) for _ in range(args.runs)]
    print(f"  sequential A/B (mSPRT, {args.days} daily looks, CUPED)      {np.mean([s[0] for s in seq]):.4f}")
    print(f"  group-sequential A/B (O'Brien-Fleming, daily looks)   {np.mean([s[3] for s in seq]):.4f}")
    print(f"  Welch read daily, stop at first p < 0.05 (peeking)    {np.mean([s[2] for s in seq]):.4f}")
    ab_fp = np.mean([ab_rejects(pop, pa, pa, args.aa_customers, rng, cuped=True) for _ in range(args.runs)])
    print(f"  fixed-horizon A/B (Welch, CUPED), read once             {ab_fp:.4f}")

    print(f"\ncustomers needed for 80% power, model vs {args.control} (alpha 0.05, {args.reps} experiments a point)")
    rows = []
    n_il, _ = customers_for_power(lambda n: interleaving_rejects(pop, priced["ab_a"], priced["ab_b"], n, rng),
                                  reps=args.reps, start=50)  # fmt: skip
    rows.append(("interleaving (all customers see the merged list)", n_il, n_il))
    for cuped in (False, True):
        n_ab, _ = customers_for_power(lambda n, c=cuped: ab_rejects(pop, pa, pb, n, rng, c), reps=args.reps)
        rows.append(
            (f"A/B orders per customer, Welch{' + CUPED' if cuped else ''}", n_ab, None if n_ab is None else 2 * n_ab)
        )
    n_seq, _ = customers_for_power(lambda n: sequential_run(pop, pa, pb, n, args.days, rng, args.mde)[0],
                                   reps=max(args.reps // 2, 50))  # fmt: skip
    rows.append(("A/B sequential (mSPRT, daily looks, CUPED)", n_seq, None if n_seq is None else 2 * n_seq))
    n_gst, _ = customers_for_power(lambda n: sequential_run(pop, pa, pb, n, args.days, rng, args.mde)[3],
                                   reps=max(args.reps // 2, 50))  # fmt: skip
    rows.append(("A/B group-sequential (O'Brien-Fleming, daily, CUPED)", n_gst, None if n_gst is None else 2 * n_gst))
    print(f"  {'method':52s} {'per arm':>9s} {'customers':>10s} {'vs interleaving':>16s}")
    for name, per_arm, total in rows:
        ratio = f"{total / n_il:,.0f}x" if total and n_il else "—"
        print(f"  {name:52s} {per_arm or 0:>9,} {total or 0:>10,} {ratio:>16s}")
    print(f"\n(total {time.perf_counter() - t0:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
