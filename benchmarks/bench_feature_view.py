"""The feature view's cost on the large city (~1M order lines): memory, build time, folding one order in, and
how long the service takes to start on the large store.

    python benchmarks/bench_feature_view.py [--work runs/bench-view] [--orders 2000]

Steps (each figure printed as it is measured):

1. ``foodrec generate --preset large`` and ``foodrec ingest`` (skipped when ``WORK/store`` exists);
2. a model's vocabularies are fitted on the store (the view's cost does not depend on the weights) and the
   :class:`~foodrec.features.view.FeatureView` is built: seconds, and the memory it holds (numpy arrays, summed
   exactly, plus the Python sets and dicts, measured with tracemalloc);
3. ``--orders`` new orders are folded in one at a time with ``FeatureView.observe``: mean and p99 per order,
   side by side with one numpy top-k over the catalogue (the cost of the request they precede);
4. a tiny Keras model is trained on the store (one pass, no search: only the vocabulary sizes matter here) and
   ``ServiceState`` is built on the large store as ``foodrec serve`` does it (load the weights, read the store,
   build the view and the fallback), timed in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
from steps import generated_store, run


def view_bytes(view) -> int:
    """Bytes held by the view's numpy arrays (every snapshot included)."""
    arrays = [*vars(view.history).values(), *vars(view.popularity).values(), view.model_customer]
    return sum(a.nbytes for a in arrays if isinstance(a, np.ndarray))


SERVE_START = r"""
import sys, time
t0 = time.perf_counter()
from foodrec.serving.state import ServiceState
state = ServiceState(recommender=sys.argv[1], store=sys.argv[2])
import resource
print(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("runs/bench-view"))
    parser.add_argument("--orders", type=int, default=2000)
    args = parser.parse_args()
    store, model = generated_store(args.work), args.work / "model"

    from foodrec.data.store import Store
    from foodrec.features.view import FeatureView
    from foodrec.features.vocabulary import FeatureSpace

    log = Store.open(store).order_log()
    level = log.default_level
    space = FeatureSpace.fit(log, level)
    tracemalloc.start()
    t0 = time.perf_counter()
    view = FeatureView.build(space, log)
    built = time.perf_counter() - t0
    python_bytes = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    arrays = view_bytes(view)
    print(f"large store: {len(log.orders):,} order lines, {len(space.customers) - 1:,} customers, "
          f"{len(space.items) - 1:,} items ({level}), {len(view.popularity.times)} popularity snapshots")  # fmt: skip
    print(
        f"feature view: built in {built:.1f} s; holds {arrays / 2**20:,.0f} MB of arrays, "
        f"peak traced Python allocation while building {python_bytes / 2**20:,.0f} MB (target: under 2 GB)"
    )

    rng = np.random.default_rng(0)
    sample = log.orders.sample(args.orders, random_state=0).reset_index(drop=True)
    end = log.orders["ordered_at"].max()
    new = sample.assign(
        order_id=[f"bench-{i}" for i in range(len(sample))],
        customer_id=np.where(rng.random(len(sample)) < 0.3, [f"new-{i}" for i in range(len(sample))],
                             sample["customer_id"]),
        ordered_at=end + pd.to_timedelta(np.arange(len(sample)) * 7, unit="s"),
    )  # fmt: skip
    per_order = []
    for i in range(len(new)):
        one = new.iloc[i : i + 1]
        t0 = time.perf_counter()
        view.observe(one)
        per_order.append(time.perf_counter() - t0)
    per_order_ms = np.asarray(per_order) * 1000
    scores = rng.random(len(space.items)).astype(np.float32)
    t0 = time.perf_counter()
    for _ in range(200):
        np.argpartition(-scores, 10)[:10]
    topk_ms = (time.perf_counter() - t0) / 200 * 1000
    print(f"fold one order in: mean {per_order_ms.mean():.3f} ms, p99 {np.percentile(per_order_ms, 99):.3f} ms "
          f"over {len(new):,} orders (30% from new customers) (target: at most 1 ms); a numpy top-10 over the "
          f"catalogue takes {topk_ms:.3f} ms: ratio {per_order_ms.mean() / topk_ms:.1f}x")  # fmt: skip

    if not (model / "manifest.json").is_file():
        run("train", "--store", str(store), "--out", str(model), "--no-search", "--epochs", "1")
    out = subprocess.run(
        [sys.executable, "-c", SERVE_START, str(model), str(store)], capture_output=True, text=True, check=True
    )
    seconds, rss_mb = (float(v) for v in out.stdout.split()[-2:])
    print(f"service start on the large store (weights, store, view, fallback): {seconds:.1f} s, peak RSS "
          f"{rss_mb:,.0f} MB (target: at most 30 s)")  # fmt: skip
    print(json.dumps({"view_build_s": round(built, 2), "view_array_mb": round(arrays / 2**20, 1),
                      "observe_mean_ms": round(float(per_order_ms.mean()), 4),
                      "observe_p99_ms": round(float(np.percentile(per_order_ms, 99)), 4),
                      "serve_start_s": round(seconds, 1), "serve_peak_rss_mb": round(rss_mb)}))  # fmt: skip


if __name__ == "__main__":
    main_()
