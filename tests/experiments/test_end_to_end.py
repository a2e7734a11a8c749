"""Generate a city, serve two baselines as A/B variants, simulate customers over HTTP, analyse the test."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from foodrec.cli import main


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_simulated_ab_test_finds_the_variant_the_ground_truth_prefers(tmp_path, capsys):
    city, store = tmp_path / "city", tmp_path / "store"
    assert main(["generate", "--out", str(city), "--preset", "small", "--seed", "5"]) == 0
    assert main(["ingest", str(city), "--store", str(store)]) == 0
    (tmp_path / "ab.toml").write_text(
        'salt = "e2e"\n'
        '[[variants]]\nname = "control"\nrecommender = "area-popularity"\nshare = 0.5\n'
        '[[variants]]\nname = "history"\nrecommender = "customer-history"\nshare = 0.5\n'
    )
    port = _free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "foodrec.cli", "serve", "--ab", str(tmp_path / "ab.toml"), "--store", str(store),
         "--port", str(port), "--events", str(tmp_path / "events.sqlite")],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(120):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        code = main(["simulate", "--url", f"http://127.0.0.1:{port}", "--city", str(store), "--customers", "2500",
                     "--days", "21", "--seed", "1", "--out", str(tmp_path / "sim.json")])  # fmt: skip
        assert code == 0, capsys.readouterr().err
    finally:
        server.terminate()
        server.wait(timeout=30)
    truth = json.loads((tmp_path / "sim.json").read_text())
    assert truth["best_variant"] == "history" and truth["true_lift"]["history"]["orders_per_customer"] > 0
    code = main(["abtest", "--events", str(tmp_path / "events.sqlite"), "--store", str(store), "--truth",
                 str(tmp_path / "sim.json"), "--out", str(tmp_path / "ab.html"), "--n-boot", "500"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    result = json.loads((tmp_path / "ab.json").read_text())
    primary = next(c for c in result["comparisons"] if c["metric"] == "orders_per_customer_cuped")
    assert primary["lift"] > 0  # the estimate points the right way
    check = {c["metric"]: c for c in result["truth_check"]}
    assert check["orders_per_customer_cuped"]["covers_truth"]
