"""Bad files and options: one-line `error: ...`, exit 2, no traceback, the store left exactly as it was."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from foodrec.cli import main

GOOD = "order_id,customer_id,ordered_at,area,restaurant_id\no1,c1,2026-01-01T10:00:00Z,a,r\n"


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) -> sha256 of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def store(tmp_path) -> Path:
    (tmp_path / "good.csv").write_text(GOOD)
    assert main(["ingest", str(tmp_path / "good.csv"), "--store", str(tmp_path / "store")]) == 0
    return tmp_path / "store"


def bad_source(tmp_path: Path, case: str) -> tuple[list[str], str]:
    """(extra CLI args, expected message) for one bad input."""
    path = tmp_path / "orders.csv"
    if case == "missing":
        return [str(tmp_path / "nope.csv")], "no such file or directory"
    if case == "empty":
        path.write_bytes(b"")
        return [str(path)], "file is empty"
    if case == "not csv or parquet":
        (tmp_path / "orders.json").write_text("{}")
        return [str(tmp_path / "orders.json")], "unsupported file type '.json'"
    if case == "binary junk":
        path.write_bytes(bytes(range(256)) * 10)
        return [str(path)], "binary content"
    if case == "junk parquet":
        (tmp_path / "o.parquet").write_bytes(b"PAR1" + bytes(range(200)))
        return [str(tmp_path / "o.parquet")], "cannot read as Parquet"
    if case == "wrong delimiter":
        path.write_text(GOOD.replace(",", ";"))
        return [str(path)], "wrong delimiter"
    if case == "required column absent":
        pd.DataFrame({"order_id": ["o1"], "customer_id": ["c"], "ordered_at": ["2026-01-01"]}).to_csv(path, index=False)
        return [str(path)], "required column 'area' is missing"
    if case == "unknown map column":
        path.write_text(GOOD)
        return [str(path), "--map", "area=zone"], "has no column 'zone'"
    if case == "map to unknown canonical column":
        path.write_text(GOOD)
        return [str(path), "--map", "region=area"], "'region' is not a canonical column"
    if case == "bad timezone":
        path.write_text(GOOD)
        return [str(path), "--timezone", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"
    if case == "bad format":
        path.write_text(GOOD)
        return [str(path), "--format", "xml"], "--format 'xml'"
    if case == "good then bad":
        path.write_text(GOOD.replace("o1", "o2"))
        (tmp_path / "bad.csv").write_bytes(b"\x00\x00")
        return [str(path), str(tmp_path / "bad.csv")], "binary content"
    raise AssertionError(case)


CASES = ["missing", "empty", "not csv or parquet", "binary junk", "junk parquet", "wrong delimiter",
         "required column absent", "unknown map column", "map to unknown canonical column", "bad timezone",
         "bad format", "good then bad"]  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_bad_input_leaves_existing_store_unchanged(tmp_path, store, capsys, case):
    capsys.readouterr()
    before = snapshot(store)
    (tmp_path / "in").mkdir()
    args, message = bad_source(tmp_path / "in", case)
    code = main(["ingest", *args, "--store", str(store)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and message in err and err.count("\n") == 1 and "Traceback" not in err
    assert snapshot(store) == before


@pytest.mark.parametrize("case", ["empty", "wrong delimiter", "good then bad", "bad timezone"])
def test_bad_input_creates_no_store(tmp_path, capsys, case):
    args, message = bad_source(tmp_path, case)
    assert main(["ingest", *args, "--store", str(tmp_path / "new" / "store")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "new").exists()  # neither the store nor the folder made for it, nor a staging folder


def test_store_path_that_is_a_file_or_foreign_folder(tmp_path, capsys):
    (tmp_path / "good.csv").write_text(GOOD)
    (tmp_path / "file").write_text("x")
    assert main(["ingest", str(tmp_path / "good.csv"), "--store", str(tmp_path / "file")]) == 2
    assert "not a directory" in capsys.readouterr().err
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("x")
    assert main(["ingest", str(tmp_path / "good.csv"), "--store", str(tmp_path / "mine")]) == 2
    assert "not a foodrec store" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]


def test_missing_store_option_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "good.csv").write_text(GOOD)
    assert main(["ingest", str(tmp_path / "good.csv")]) == 2
    assert "--store" in capsys.readouterr().err
