"""``foodrec train``: ``MODEL.work/`` is resumed only for the same data and options; one training per ``--out``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from foodrec.cli import main
from foodrec.data.store import Store
from foodrec.errors import InputError
from foodrec.recommenders.command import KEY_FILE, planned_resume_key, prepare_work_dir, run_train
from foodrec.recommenders.keras.toydata import toy_log


def _store(path, seed):
    log = toy_log(n_customers=60, n_restaurants=10, days=20, seed=seed)
    st = Store.create(path)
    st.write_orders_part(log.orders)
    st.set_meta(timezone="UTC")
    return path


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("stores")
    return _store(root / "a", 2), _store(root / "b", 3)


def test_a_new_work_folder_records_its_key(tmp_path):
    work = tmp_path / "model.work"
    assert prepare_work_dir(work, {"data_fingerprint": "f1", "options": {"seed": 0}}) is None
    assert json.loads((work / KEY_FILE).read_text()) == {"data_fingerprint": "f1", "options": {"seed": 0}}


def test_the_same_key_resumes_and_keeps_the_saved_progress(tmp_path):
    work = tmp_path / "model.work"
    key = {"data_fingerprint": "f1", "options": {"seed": 0}}
    prepare_work_dir(work, key)
    (work / "search.json").write_text("[]")
    assert "resuming" in prepare_work_dir(work, key)
    assert (work / "search.json").exists()


@pytest.mark.parametrize(
    ("new", "named"),
    [
        ({"data_fingerprint": "f2", "options": {"seed": 0}}, "data_fingerprint"),
        ({"data_fingerprint": "f1", "options": {"seed": 1}}, "seed"),
    ],
)
def test_another_store_or_seed_starts_fresh_and_says_why(tmp_path, new, named):
    work = tmp_path / "model.work"
    prepare_work_dir(work, {"data_fingerprint": "f1", "options": {"seed": 0}})
    (work / "search.json").write_text("[]")
    note = prepare_work_dir(work, new)
    assert note is not None and "starting fresh" in note and named in note
    assert not (work / "search.json").exists()
    assert json.loads((work / KEY_FILE).read_text()) == new


def test_a_work_folder_without_a_key_is_not_trusted(tmp_path):
    work = tmp_path / "model.work"
    (work / "final").mkdir(parents=True)
    note = prepare_work_dir(work, {"data_fingerprint": "f1"})
    assert "no readable key" in note and not (work / "final").exists()


def test_the_key_follows_the_data_and_every_option_but_the_time_budget(stores):
    a, b = stores
    base = planned_resume_key(a, level="restaurant")
    assert planned_resume_key(a, level="restaurant") == base
    assert planned_resume_key(a, level="restaurant", max_seconds=60.0) == base
    assert planned_resume_key(b, level="restaurant")["data_fingerprint"] != base["data_fingerprint"]
    assert planned_resume_key(a, level="restaurant", seed=1)["options"]["seed"] == 1
    assert planned_resume_key(a, level="restaurant", epochs=3) != base


def _holder(out):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from foodrec.recommenders.base import writer_lock\n"
            "with writer_lock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(60)",
            str(out),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_training_into_the_same_out_is_refused_in_one_line(stores, tmp_path, capsys):
    out = tmp_path / "model"
    holder = _holder(out)
    try:
        with pytest.raises(InputError, match=f"another training \\(pid {holder.pid}\\)"):
            run_train(stores[0], out, level="restaurant", epochs=1, search=False)
        assert main(["train", "--store", str(stores[0]), "--out", str(out), "--epochs", "1"]) == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert err.startswith("error: --out") and "another training" in err
    finally:
        holder.kill()
        holder.wait()
    assert not out.exists() and not out.with_name("model.work").exists()  # the refused run touched nothing


@pytest.mark.slow
def test_a_work_folder_of_another_store_is_not_resumed(stores, tmp_path):
    a, b = stores
    out = tmp_path / "model"
    work = out.with_name("model.work")
    prepare_work_dir(work, planned_resume_key(b, level="restaurant", epochs=1, search=False))
    (work / "final").mkdir()
    (work / "final" / "curves.json").write_text("not what this run wrote")
    result = run_train(a, out, level="restaurant", epochs=1, search=False)
    assert "data_fingerprint" in result["resume"] and "starting fresh" in result["resume"]
    assert json.loads((out / "train.json").read_text())["data_fingerprint"] == result["data_fingerprint"]
    assert not work.exists()
