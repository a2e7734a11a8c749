"""``foodrec train``: bad inputs give one line and exit 2; a run writes a loadable model and a report."""

import json

import pytest

from foodrec.cli import main
from foodrec.data.store import Store
from foodrec.recommenders.keras.toydata import toy_log


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("store")
    log = toy_log(n_customers=150, n_restaurants=25, days=30, seed=2)
    st = Store.create(path)
    st.write_orders_part(log.orders)
    st.set_meta(timezone="UTC")
    return path


def _err(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    return err[-1] if err else ""


def test_missing_store_is_one_line(tmp_path, capsys):
    assert main(["train", "--store", str(tmp_path / "nope"), "--out", str(tmp_path / "m")]) == 2
    assert _err(capsys).startswith("error: store")


def test_out_is_required_and_epochs_positive(store, tmp_path, capsys):
    assert main(["train", "--store", str(store)]) == 2
    assert "--out" in _err(capsys)
    assert main(["train", "--store", str(store), "--out", str(tmp_path / "m"), "--epochs", "0"]) == 2
    assert "--epochs" in _err(capsys)


@pytest.mark.parametrize(
    "args",
    [
        ["--until", "not-a-date"],
        ["--level", "pizza"],
        ["--until", "1999-01-01"],
        ["--max-minutes", "0"],
        ["--epochs", "x"],
    ],
)
def test_bad_options_are_one_line(store, tmp_path, capsys, args):
    assert main(["train", "--store", str(store), "--out", str(tmp_path / "m"), *args]) == 2
    assert _err(capsys).startswith("error:")


def test_train_writes_a_model_the_interface_can_load(store, tmp_path, capsys):
    out = tmp_path / "model"
    rc = main(
        ["train", "--store", str(store), "--out", str(out), "--no-search", "--epochs", "2", "--level", "restaurant"]
    )
    assert rc == 0, capsys.readouterr().err
    manifest = json.loads((out / "manifest.json").read_text())
    for key in ("cutoff", "data_fingerprint", "versions", "metrics", "validation"):
        assert key in manifest
    assert manifest["versions"]["keras"].startswith("3.")
    html = (out / "training_report.html").read_text()
    assert "Verdict" in html and "data:image/png;base64," in html
    summary = json.loads((out / "train.json").read_text())
    assert summary["verdict"] and 0 <= summary["validation"]["val_ndcg10"] <= 1
    assert not out.with_name("model.work").exists()  # the resume state is cleaned up after success

    from foodrec.data.store import Store
    from foodrec.recommenders.base import make_queries
    from foodrec.recommenders.registry import resolve_recommender

    rec = resolve_recommender(str(out), log=Store.open(store).order_log())
    assert rec.recommend(make_queries(["c1"], ["a0"], ["2026-02-10T12:00Z"]), k=3).items.shape == (1, 3)


def test_a_finished_search_is_not_repeated_on_resume(store, tmp_path):
    from foodrec.recommenders.command import planned_resume_key, prepare_work_dir, run_train
    from foodrec.recommenders.keras.training import TrainConfig, search_grid

    out = tmp_path / "model"
    work = out.with_name("model.work")
    prepare_work_dir(work, planned_resume_key(store, level="restaurant", epochs=1))  # the same run, interrupted
    done = [{"params": p, "val_ndcg10": 0.1 * i, "folds": [0.1 * i]} for i, p in enumerate(search_grid(TrainConfig()))]
    (work / "search.json").write_text(json.dumps(done))
    result = run_train(store, out, level="restaurant", epochs=1)
    assert result["params"] == done[-1]["params"] and result["search"] == done


@pytest.mark.slow
def test_sanity_run_falls_to_popularity(store, tmp_path, capsys):
    rc = main(["train", "--store", str(store), "--sanity", "--out", str(tmp_path / "s"), "--epochs", "3"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "sanity check passed" in out.out
    assert json.loads((tmp_path / "s" / "sanity.json").read_text())["sanity_passed"] is True
