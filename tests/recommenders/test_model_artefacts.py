"""Saved models: every file checksummed in the manifest and verified on load; every bad folder one line, exit 2."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from foodrec.cli import main
from foodrec.data.orderlog import OrderLog
from foodrec.errors import InputError
from foodrec.recommenders.base import WriterBusyError, load_recommender, writer_lock
from foodrec.recommenders.baselines import AreaPopularity


def _log(restaurant: str = "r1") -> OrderLog:
    return OrderLog(
        pd.DataFrame(
            {
                "order_id": ["o1", "o2"],
                "customer_id": ["c1", "c2"],
                "ordered_at": pd.to_datetime(["2026-01-01 12:00", "2026-01-02 12:00"], utc=True),
                "area": ["a", "b"],
                "restaurant_id": [restaurant, "r2"],
            }
        )
    )


@pytest.fixture
def model(tmp_path) -> Path:
    return AreaPopularity(level="restaurant").fit(_log()).save(tmp_path / "model")


def _manifest(path: Path) -> dict:
    return json.loads((path / "manifest.json").read_text())


def _edit_manifest(path: Path, **changes) -> None:
    (path / "manifest.json").write_text(json.dumps({**_manifest(path), **changes}))


def test_the_manifest_lists_every_file_with_its_sha256(model):
    files = _manifest(model)["files"]
    on_disk = {p.relative_to(model).as_posix() for p in model.rglob("*") if p.is_file()} - {"manifest.json"}
    assert set(files) == on_disk and all(len(digest) == 64 for digest in files.values())
    load_recommender(model)


def _one_line_error(path: Path, match: str) -> str:
    with pytest.raises(InputError, match=match) as info:
        load_recommender(path)
    text = str(info.value)
    assert "\n" not in text and "Traceback" not in text
    return text


def test_a_changed_file_is_named_with_its_checksum_mismatch(model):
    name = next(iter(_manifest(model)["files"]))
    with (model / name).open("ab") as handle:
        handle.write(b"x")
    text = _one_line_error(model, f"file {name} does not match its checksum")
    assert "the model is damaged, save or train it again" in text


def test_a_file_of_another_model_is_refused_not_served(tmp_path, model):
    other = AreaPopularity(level="restaurant").fit(_log("r9")).save(tmp_path / "other")
    (model / "items.parquet").write_bytes((other / "items.parquet").read_bytes())
    _one_line_error(model, "file items.parquet does not match its checksum")


def test_a_missing_file_is_named(model):
    (model / "items.parquet").unlink()
    _one_line_error(model, "file items.parquet is missing")


def test_a_truncated_file_with_a_matching_checksum_is_still_one_line(model):
    import hashlib

    data = (model / "items.parquet").read_bytes()[:20]
    (model / "items.parquet").write_bytes(data)
    files = {**_manifest(model)["files"], "items.parquet": hashlib.sha256(data).hexdigest()}
    _edit_manifest(model, files=files)
    _one_line_error(model, "cannot load")


@pytest.mark.parametrize(
    ("manifest", "match"),
    [
        ([], "a JSON object is expected, found a list"),
        ("not json {", "unreadable manifest"),
        ({"class": 3}, "no recommender 'class'"),
        ({"class": "foodrec.errors.InputError"}, "not a recommender class"),
        ({"class": "foodrec.recommenders.base.Ranking"}, "not a recommender class"),
        ({"class": "foodrec.recommenders.base.Recommender"}, "not a recommender class"),
        ({"class": "foodrec.recommenders.base.make_queries"}, "not a recommender class"),
        ({"class": "foodrec.nope.Thing"}, "unknown recommender class"),
        ({"class": "os.system"}, "outside foodrec"),
    ],
)
def test_bad_manifests_are_one_line_errors(model, manifest, match):
    text = manifest if isinstance(manifest, str) else json.dumps(manifest)
    (model / "manifest.json").write_text(text)
    _one_line_error(model, match)


@pytest.mark.parametrize(
    ("files", "match"),
    [
        (None, "lists no file checksums"),
        ({"items.parquet": "abc"}, "must map file names to sha256"),
        ({"../escape": "0" * 64}, "points outside the model"),
        ({"/etc/passwd": "0" * 64}, "points outside the model"),
    ],
)
def test_bad_checksum_lists_are_one_line_errors(model, files, match):
    manifest = _manifest(model)
    if files is None:
        del manifest["files"]
    else:
        manifest["files"] = files
    (model / "manifest.json").write_text(json.dumps(manifest))
    _one_line_error(model, match)


def test_the_cli_says_it_in_one_line_with_exit_2(model, tmp_path, capsys):
    with (model / "items.parquet").open("ab") as handle:
        handle.write(b"x")
    queries = tmp_path / "q.csv"
    queries.write_text("customer_id,area,at\nc1,a,2026-02-01T12:00Z\n")
    code = main(["recommend", "--recommender", str(model), "--queries", str(queries), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error:") and "\n" not in err
    assert "does not match its checksum" in err


def test_save_refuses_to_replace_a_folder_that_is_not_a_model(tmp_path):
    precious = tmp_path / "documents"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(InputError, match="not a saved model"):
        AreaPopularity(level="restaurant").fit(_log()).save(precious)
    assert (precious / "thesis.tex").read_text() == "years of work"


def test_a_second_writer_that_will_not_wait_is_refused_with_the_holders_pid(tmp_path):
    import subprocess
    import sys

    target = tmp_path / "model"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from foodrec.recommenders.base import writer_lock\n"
            "with writer_lock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(30)",
            str(target),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(WriterBusyError, match=f"pid {holder.pid}"), writer_lock(target, wait=False):
            pass
    finally:
        holder.kill()
        holder.wait()
    with writer_lock(target, wait=False), writer_lock(target, wait=False):  # free again, and re-entrant
        pass
    assert not os.path.exists(tmp_path / ".model.lock")
