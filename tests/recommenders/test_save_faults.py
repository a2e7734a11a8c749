"""`Recommender.save` killed at each step, and two writers at once: the path always holds one whole model.

The child process saves a model whose manifest says which one it is ("old" or "new") and whose ranking says it too
(the only restaurant it knows). ``FOODREC_FAULT_AT=<step>`` makes the child SIGKILL itself at that step of
``save`` (see ``foodrec.recommenders.base``), so every crash point is hit on purpose, not by timing luck.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from foodrec.recommenders.base import FAULT_ENV, PROTOCOL_ENV, load_recommender, make_queries

CHILD = textwrap.dedent(
    """
    import sys, time
    import pandas as pd
    from foodrec.data.orderlog import OrderLog
    from foodrec.recommenders.baselines import GlobalPopularity

    path, label, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
    log = OrderLog(pd.DataFrame({
        "order_id": ["o1"], "customer_id": ["c1"], "ordered_at": pd.to_datetime(["2026-01-01 12:00"], utc=True),
        "area": ["a"], "restaurant_id": [f"r-{label}"],
    }))
    rec = GlobalPopularity(level="restaurant").fit(log)
    for i in range(repeats):
        rec.save(path, extra={"label": label, "round": i})
    """
)

EXCHANGE_STEPS = ["state-written", "manifest-written", "new-in-place", "cleaned-up"]
RENAME_STEPS = ["state-written", "manifest-written", "old-moved-aside", "new-in-place", "cleaned-up"]


def _child(path: Path, label: str, repeats: int = 1, env: dict[str, str] | None = None) -> subprocess.Popen:
    full = {k: v for k, v in os.environ.items() if k not in (FAULT_ENV, PROTOCOL_ENV)}
    full.update(env or {})
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), label, str(repeats)],
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _save(path: Path, label: str, **env: str) -> int:
    proc = _child(path, label, env=env)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode in (0, -signal.SIGKILL), err
    return proc.returncode


def _label(path: Path) -> str | None:
    for folder in (path, path.with_name(f".{path.name}.old")):
        try:
            return json.loads((folder / "manifest.json").read_text())["label"]
        except FileNotFoundError:
            continue
    return None


def _which(path: Path) -> str:
    """Load the model at ``path`` (checksums verified) and say which one it is; its ranking must agree."""
    for _ in range(50):
        before = _label(path)
        rec = load_recommender(path)
        if _label(path) == before:  # not replaced while we looked (a writer may be running)
            break
    items = rec.recommend(make_queries(["c1"], ["a"], ["2026-02-01"]), k=1).items.tolist()
    assert items == [[f"r-{before}"]], "the manifest and the state come from different saves"
    return before


@pytest.mark.slow
@pytest.mark.parametrize(
    ("protocol", "step"),
    [("exchange", s) for s in EXCHANGE_STEPS] + [("rename", s) for s in RENAME_STEPS],
)
def test_a_save_killed_at_any_step_leaves_the_old_or_the_new_model(tmp_path, protocol, step):
    path = tmp_path / "model"
    assert _save(path, "old") == 0
    env = {FAULT_ENV: step, **({PROTOCOL_ENV: "rename"} if protocol == "rename" else {})}
    assert _save(path, "new", **env) == -signal.SIGKILL  # the fault point was reached
    expected = "old" if step in ("state-written", "manifest-written", "old-moved-aside") else "new"
    assert _which(path) == expected
    # The next save cleans up whatever the killed one left and replaces the model.
    assert _save(path, "newer") == 0
    assert _which(path) == "newer"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_the_first_save_killed_before_its_rename_leaves_no_model_and_no_harm(tmp_path):
    path = tmp_path / "model"
    assert _save(path, "new", **{FAULT_ENV: "manifest-written"}) == -signal.SIGKILL
    assert not path.exists()
    assert _save(path, "new") == 0
    assert _which(path) == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["exchange", "rename"])
def test_two_writers_to_one_path_leave_one_whole_model(tmp_path, protocol):
    path = tmp_path / "model"
    env = {PROTOCOL_ENV: "rename"} if protocol == "rename" else {}
    writers = [_child(path, label, repeats=15, env=env) for label in ("a", "b")]
    seen = set()
    while any(w.poll() is None for w in writers):
        if path.exists() or path.with_name(".model.old").exists():
            seen.add(_which(path))  # a reader during the writes: always a whole model
    for w in writers:
        _, err = w.communicate(timeout=120)
        assert w.returncode == 0, err
    assert _which(path) in {"a", "b"}
    assert seen <= {"a", "b"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
