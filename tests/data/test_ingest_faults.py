"""Fault injection for ingest: kill -9 at each commit step, a full disk, two writers, lines that break the parser.

Every case ends with the same check (:func:`assert_consistent`): the accounting identity holds, and the summary, the
catalogue and the rows actually in the store agree. Kills use the ``FOODREC_FAULT_AT`` hook (a real SIGKILL at a
named step) in a forked child, so they hit the step every time, not by timing luck. The table of cases and
results is in ``docs/data.md`` ("Faults").
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from foodrec.cli import main
from foodrec.data.faults import ENV, INGEST_STEPS
from foodrec.data.readers import tables
from foodrec.data.store import JOURNAL_FILE, STAGING_PREFIX, Store, StoreLock

HEADER = "order_id,customer_id,ordered_at,area,restaurant_id,quantity"
QUOTE = '"'


def order_lines(first: int, n: int, bad_every: int = 0) -> list[str]:
    rows = []
    for i in range(first, first + n):
        quantity = "-1" if bad_every and i % bad_every == 0 else "1"
        rows.append(f"o{i},c{i % 7},2026-01-05T{10 + i % 10}:00:00Z,a{i % 3},r{i % 4},{quantity}")
    return rows


def write_csv(path: Path, lines: list[str]) -> Path:
    path.write_text(HEADER + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def leftovers(store: Path) -> list[str]:
    """Staging folders, journals and lock files an interrupted ingest could leave behind."""
    inside = [p.name for p in store.iterdir() if p.name.startswith(STAGING_PREFIX) or p.name == JOURNAL_FILE]
    beside = [p.name for p in store.parent.iterdir() if p.name.startswith(f".{store.name}.")]
    return inside + beside


def assert_consistent(path: Path) -> dict:
    """Open the store (which recovers it) and check that accounting, catalogue and rows agree."""
    store = Store.open(path)
    assert leftovers(path) == []
    summary = store.ingest_summary()
    t = summary["totals"]
    assert t["read"] == t["accepted"] + t["quarantined"] + t["duplicates"]
    sources = store.sources()
    assert sorted(sources["fingerprint"]) == sorted(s["fingerprint"] for s in summary["sources"])
    orders = sources[sources["kind"].str.endswith(":orders")]
    n_orders = len(store.orders()) if store.order_parts() else 0
    assert n_orders == int(orders["accepted"].sum()) == summary["tables"]["orders"]["accepted"]
    assert n_orders == summary["store_rows"]["orders"]
    assert len(store.quarantine()) == int(sources["quarantined"].sum()) == t["quarantined"]
    assert int(sources["rows_read"].sum()) == t["read"]
    return {"orders": n_orders, "quarantine": len(store.quarantine()), "read": t["read"]}


def run_killed(args: list[str], step: str) -> int:
    """Run ``foodrec ARGS`` in a forked child with the fault hook at ``step``; its wait status."""
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 99
        try:
            os.environ[ENV] = step
            sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115
            code = main(args)
        finally:
            os._exit(code)
    return os.waitpid(pid, 0)[1]


@pytest.fixture
def city(tmp_path) -> tuple[Path, Path, Path]:
    """(a store holding a.csv, b.csv with new rows and bad ones, restaurants.csv) in tmp_path."""
    a = write_csv(tmp_path / "a.csv", order_lines(0, 40, bad_every=9))
    b = write_csv(tmp_path / "b.csv", order_lines(30, 60, bad_every=7))  # 10 lines repeat a.csv
    restaurants = tmp_path / "restaurants.csv"
    restaurants.write_text("restaurant_id,name\n" + "".join(f"r{i},R{i}\n" for i in range(4)))
    assert main(["ingest", str(a), "--store", str(tmp_path / "s")]) == 0
    return tmp_path / "s", b, restaurants


COMMITTED = {"journal-written", "first-part-moved", "parts-moved", "tables-moved", "catalogue-moved",
             "journal-removed"}  # fmt: skip


FAST_STEPS = {"staged", "parts-moved"}  # one rolled back, one rolled forward; every step in `make test-all`


@pytest.mark.parametrize(
    "step", [pytest.param(s, marks=[] if s in FAST_STEPS else [pytest.mark.slow]) for s in INGEST_STEPS[:-1]]
)
def test_kill_at_each_commit_step_of_an_existing_store(city, step):
    store, b, restaurants = city
    before = assert_consistent(store)
    status = run_killed(["ingest", str(restaurants), str(b), "--store", str(store)], step)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, f"not killed at {step}"
    after = assert_consistent(store)  # Store.open finishes or rolls back the commit
    if step in COMMITTED:
        assert after["read"] == before["read"] + 64 and after["orders"] > before["orders"]
        assert Store.open(store).table("restaurants") is not None
    else:
        assert after == before and Store.open(store).table("restaurants") is None
    # Running the ingest again ends in the same store either way.
    assert main(["ingest", str(restaurants), str(b), "--store", str(store)]) == 0
    final = assert_consistent(store)
    assert final == {"orders": 35 + 44, "quarantine": 5 + 8, "read": 40 + 64}


@pytest.mark.parametrize("step", ["staged", pytest.param("renamed", marks=pytest.mark.slow)])
def test_kill_while_creating_a_new_store(tmp_path, step):
    b = write_csv(tmp_path / "b.csv", order_lines(0, 30, bad_every=7))
    status = run_killed(["ingest", str(b), "--store", str(tmp_path / "s")], step)
    assert os.WIFSIGNALED(status)
    if step == "staged":
        assert not (tmp_path / "s").exists()  # the staging folder beside it is removed by the next ingest
    assert main(["ingest", str(b), "--store", str(tmp_path / "s")]) == 0
    assert assert_consistent(tmp_path / "s") == {"orders": 25, "quarantine": 5, "read": 30}


def test_a_second_writer_is_refused_while_the_first_holds_the_store(city, capsys):
    store, b, _ = city
    before = assert_consistent(store)
    with StoreLock(store):
        assert main(["ingest", str(b), "--store", str(store)]) == 2
        assert main(["ingest", str(b), "--store", str(store.parent / "new")]) == 0  # another store is free
    err = capsys.readouterr().err
    assert f"error: store '{store}' is being written by pid {os.getpid()}" in err
    assert assert_consistent(store) == before
    assert main(["ingest", str(b), "--store", str(store)]) == 0  # the lock is gone with its holder


def test_json_to_an_unwritable_path_fails_before_the_store_changes(city, capsys):
    store, b, _ = city
    before = assert_consistent(store)
    for target in (store.parent / "no" / "x.json", store.parent):
        assert main(["ingest", str(b), "--store", str(store), "--json", str(target)]) == 2
        assert "error: --json" in capsys.readouterr().err
        assert assert_consistent(store) == before
    assert main(["ingest", str(b), "--store", str(store), "--json", str(store.parent / "x.json")]) == 0
    assert [p.name for p in store.parent.iterdir() if p.name.startswith(".x.json")] == []


def test_a_stray_quote_in_a_threaded_block_loses_no_line(tmp_path, monkeypatch):
    # The threaded reader drops the rest of a block after a stray quote: small blocks show it on a small file.
    monkeypatch.setattr(tables, "BLOCK_SIZE", 1 << 14)
    lines = [f"o{i},{QUOTE if i == 10 else ' '}c{i},2026-01-05T16:00:00Z,a,r1,1" for i in range(3000)]
    write_csv(tmp_path / "q.csv", lines)
    assert main(["ingest", str(tmp_path / "q.csv"), "--store", str(tmp_path / "s")]) == 0
    assert assert_consistent(tmp_path / "s") == {"orders": 2999, "quarantine": 1, "read": 3000}
    assert Store.open(tmp_path / "s").quarantine()["line"].tolist() == [12]


line_text = st.text(alphabet='o1c,"-:TZ \r2', max_size=30)


generated_lines = st.lists(st.one_of(line_text, st.sampled_from(order_lines(0, 5))), min_size=1, max_size=30)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated_lines)
def test_generated_csvs_keep_the_identity_against_the_stored_rows(lines):
    check_generated(lines)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated_lines)
def test_many_generated_csvs_keep_the_identity_against_the_stored_rows(lines):
    check_generated(lines)


def check_generated(lines: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="foodrec-faults-") as tmp:
        path = Path(tmp) / "g.csv"
        path.write_bytes((HEADER + "\n" + "\n".join(lines) + "\n").encode())
        code = main(["ingest", str(path), "--store", str(Path(tmp) / "s")])
        assert code == 0
        counts = assert_consistent(Path(tmp) / "s")
        physical = [line for line in path.read_bytes().splitlines()[1:] if line]
        assert counts["read"] == len(physical)


# -- a full disk: a small tmpfs (needs root and mount; skipped otherwise) -------------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True)
    except OSError as err:
        pytest.skip(f"no mount command ({err})")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip() or done.returncode}")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def fill(disk: Path, free: int) -> Path:
    """Leave about ``free`` bytes free on ``disk``."""
    stat = os.statvfs(disk)
    filler = disk / f"filler-{uuid.uuid4().hex}"
    with open(filler, "wb") as fh:
        fh.write(b"\0" * max(stat.f_bavail * stat.f_frsize - free, 0))
    return filler


@pytest.mark.slow
def test_a_full_disk_leaves_the_store_as_it_was_or_commits_it_whole(tmp_path, small_disk, capsys):
    a = write_csv(tmp_path / "a.csv", order_lines(0, 200, bad_every=9))
    b = write_csv(tmp_path / "b.csv", order_lines(1000, 5000, bad_every=7))
    store = small_disk / "s"
    assert main(["ingest", str(a), "--store", str(store)]) == 0
    refused = 0
    for free in (1 << 20, 2 << 20, 8 << 20):  # the catalogue alone is about 1.8 MB, staged as a copy
        before = assert_consistent(store)
        filler = fill(small_disk, free)
        code = main(["ingest", str(b), "--store", str(store)])
        err = capsys.readouterr().err
        filler.unlink()
        if code == 0:
            assert assert_consistent(store)["read"] == before["read"] + 5000
            break
        refused += 1
        assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
        assert "no space left" in err or "disk full" in err, err
        assert assert_consistent(store) == before
    assert refused, "the disk was never full: the case tested nothing"
    assert main(["ingest", str(b), "--store", str(store)]) == 0
    assert assert_consistent(store)["read"] == 200 + 5000


# -- slow: the reproductions at full size, through the real CLI ------------------------------------------------
def foodrec(*args: str, env: dict | None = None) -> subprocess.Popen:
    exe = shutil.which("foodrec", path=str(Path(sys.executable).parent)) or "foodrec"
    return subprocess.Popen([exe, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})  # fmt: skip


@pytest.mark.slow
def test_the_600k_stray_quote_file_loses_no_line(tmp_path):
    path = tmp_path / "s.csv"
    with open(path, "w") as fh:
        fh.write("order_id,customer_id,ordered_at,area,restaurant_id\n")
        fh.writelines(f"o{i},{QUOTE if i == 10 else ' '}c{i},2026-01-05T16:00:00Z,a,r1\n" for i in range(600_000))
    proc = foodrec("ingest", str(path), "--store", str(tmp_path / "st"))
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    assert assert_consistent(tmp_path / "st") == {"orders": 599_999, "quarantine": 1, "read": 600_000}


@pytest.mark.slow
@pytest.mark.parametrize("existing", [True, False])
def test_two_concurrent_ingests_of_200k_lines_store_them_once(tmp_path, existing):
    path = tmp_path / "k.csv"
    with open(path, "w") as fh:
        fh.write("order_id,customer_id,ordered_at,area,restaurant_id\n")
        fh.writelines(f"o{i},c{i},2026-01-05T16:00:00Z,a,r1\n" for i in range(200_000))
    store = tmp_path / "st"
    if existing:
        write_csv(tmp_path / "seed.csv", ["x1,c1,2026-01-01T10:00:00Z,a,r1,1"])
        assert main(["ingest", str(tmp_path / "seed.csv"), "--store", str(store)]) == 0
    before = assert_consistent(store)["orders"] if existing else 0
    procs = [foodrec("ingest", str(path), "--store", str(store)) for _ in range(2)]
    results = [(p.wait(), p.stderr.read()) for p in procs]
    assert sorted(code for code, _ in results) in ([0, 0], [0, 2]), results
    for code, err in results:
        assert code == 0 or "is being written by pid" in err, err
    assert assert_consistent(store)["orders"] == before + 200_000


@pytest.mark.slow
@pytest.mark.parametrize("step", INGEST_STEPS)
def test_kill_9_through_the_cli_at_each_step(city, tmp_path, step):
    store, b, restaurants = city
    target = store if step != "renamed" else tmp_path / "fresh"
    proc = foodrec("ingest", str(restaurants), str(b), "--store", str(target), env={ENV: step})
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    if target.exists():
        assert_consistent(target)
    proc = foodrec("ingest", str(restaurants), str(b), "--store", str(target))
    _, err = proc.communicate()
    assert proc.returncode == 0, err
    assert_consistent(target)
