"""Through the service: an interleaving experiment served over HTTP, customers simulated with paired truth,
`foodrec abtest` picks the ranking the ground truth prefers."""

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
def test_interleaving_through_the_service_picks_what_the_paired_truth_prefers(tmp_path, capsys, monkeypatch):
    city, store = tmp_path / "city", tmp_path / "store"
    assert main(["generate", "--out", str(city), "--preset", "small", "--seed", "5"]) == 0
    assert main(["ingest", str(city), "--store", str(store)]) == 0
    (tmp_path / "il.toml").write_text(
        'salt = "e2e"\ninterleave = ["popular", "history"]\n'
        '[[variants]]\nname = "popular"\nrecommender = "area-popularity"\nshare = 0.5\n'
        '[[variants]]\nname = "history"\nrecommender = "customer-history"\nshare = 0.5\n'
    )
    port = _free_port()
    token = "e2e-token"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "FOODREC_ADMIN_TOKEN": token}
    server = subprocess.Popen(
        [sys.executable, "-m", "foodrec.cli", "serve", "--ab", str(tmp_path / "il.toml"), "--store", str(store),
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
        monkeypatch.setenv("FOODREC_ADMIN_TOKEN", token)
        code = main(["simulate", "--url", f"http://127.0.0.1:{port}", "--city", str(store), "--customers", "800",
                     "--days", "7", "--seed", "1", "--out", str(tmp_path / "sim.json")])  # fmt: skip
        assert code == 0, capsys.readouterr().err
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    finally:
        server.terminate()
        server.wait(timeout=30)
    truth = json.loads((tmp_path / "sim.json").read_text())
    paired = truth["paired_true_lift"]["popular"]  # control of the pair: 'history' sorts first
    assert truth["paired_control"] == "history" and paired["ci"][1] < 0  # popularity is truly worse
    assert set(truth["variants"]) == {"interleaved"}
    assert "foodrec_admin_rankings_total" in metrics
    code = main(["abtest", "--events", str(tmp_path / "events.sqlite"), "--truth", str(tmp_path / "sim.json"),
                 "--json-out", str(tmp_path / "il.json")])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    result = json.loads((tmp_path / "il.json").read_text())
    assert result["interleaving"]["teams"] == ["history", "popular"]
    assert result["decision"]["action"] == "pick" and result["decision"]["variant"] == "history"
