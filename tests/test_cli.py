"""The CLI shell: fast help, one-line errors, exit codes."""

import subprocess
import sys

from foodrec.cli import main

HEAVY = ("tensorflow", "keras", "matplotlib", "fastapi", "statsmodels", "scipy", "duckdb")


def test_help_lists_every_workflow_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("generate", "ingest", "eda", "baselines", "evaluate", "recommend", "train", "serve",
                    "simulate", "abtest", "drift", "report", "demo"):  # fmt: skip
        assert command in out


def test_startup_imports_no_heavy_library():
    code = f"import sys, foodrec.cli; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"foodrec --help imports {out} at start-up"


def test_unknown_command_is_one_line_and_exit_2(capsys):
    assert main(["no-such-command"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err


def test_bad_option_value_is_one_line_and_exit_2(capsys):
    assert main(["demo", "--seed", "not-a-number"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err


def test_demo_rejects_unknown_step(capsys, tmp_path):
    assert main(["demo", "--out", str(tmp_path / "d"), "--steps", "generate,teleport"]) == 2
    assert "teleport" in capsys.readouterr().err


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("foodrec ")
