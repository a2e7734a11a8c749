"""Fixtures of the serving tests: a small city (order log, store, saved model) and servers to talk to."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from foodrec.data.orderlog import OrderLog
from foodrec.data.store import Store
from foodrec.serving.fallback import PopularityFallback

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
TIMEZONE = "Europe/Berlin"


def skip_or_fail(reason: str) -> None:
    """Skip locally when a system dependency is missing; in CI (CI=true) that is a failure."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this test must run in CI; see .ci/run)")
    pytest.skip(reason)


@pytest.fixture(name="skip_or_fail")
def skip_or_fail_fixture():
    """The :func:`skip_or_fail` helper, for test modules (conftest is not importable under importlib mode)."""
    return skip_or_fail


def make_log(seed: int = 7, n_orders: int = 300) -> OrderLog:
    """3 areas, 6 restaurants with 4 dishes each, 40 customers who mostly order near home."""
    rng = np.random.default_rng(seed)
    areas = ["north", "south", "east"]
    restaurants = pd.DataFrame(
        {
            "restaurant_id": [f"r{i}" for i in range(6)],
            "name": ["Pizza Roma", "Sushi Go", "Curry House", "Burger Barn", "Taco Loco", "Pho Real"],
            "cuisine": ["italian", "japanese", "indian", "american", "mexican", "vietnamese"],
            "area": [areas[i % 3] for i in range(6)],
            "chain_id": [None] * 6,
        }
    )
    items = pd.DataFrame(
        {
            "item_id": [f"i{r}{j}" for r in range(6) for j in range(4)],
            "restaurant_id": [f"r{r}" for r in range(6) for _ in range(4)],
            "name": [f"{restaurants['name'][r].split()[0]} dish {j}" for r in range(6) for j in range(4)],
            "category": ["main"] * 24,
            "unit_price": [round(8.0 + r + 0.5 * j, 2) for r in range(6) for j in range(4)],
        }
    )
    customers = [f"c{i:02d}" for i in range(40)]
    start = pd.Timestamp("2026-02-01T10:00Z")
    rows = []
    for o in range(n_orders):
        c = int(rng.integers(40))
        area = areas[c % 3]
        r = (c % 3) + 3 * int(rng.random() < 0.3)
        dish = int(rng.integers(4))
        rows.append(
            {
                "order_id": f"o{o:04d}",
                "customer_id": customers[c],
                "ordered_at": start + pd.Timedelta(hours=int(rng.integers(24 * 28))),
                "area": area,
                "restaurant_id": f"r{r}",
                "item_id": f"i{r}{dish}",
                "quantity": 1,
                "unit_price": float(items["unit_price"][r * 4 + dish]),
            }
        )
    orders = pd.DataFrame(rows).sort_values(["ordered_at", "order_id"]).reset_index(drop=True)
    orders["ordered_at"] = pd.to_datetime(orders["ordered_at"], utc=True)
    return OrderLog(orders, restaurants=restaurants, items=items, timezone=TIMEZONE)


@pytest.fixture(scope="session")
def order_log() -> OrderLog:
    return make_log()


@pytest.fixture(scope="session")
def city(tmp_path_factory: pytest.TempPathFactory, order_log: OrderLog) -> dict[str, Path]:
    """A store with orders and catalogue, and a saved model (the popularity fallback) next to it."""
    root = tmp_path_factory.mktemp("city")
    store = Store.create(root / "store")
    store.write_orders_part(order_log.orders)
    store.write_table("restaurants", order_log.restaurants)
    store.write_table("items", order_log.items)
    store.set_meta(timezone=TIMEZONE)
    model = PopularityFallback().fit(order_log).save(root / "model")
    return {"root": root, "store": root / "store", "model": model}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """uvicorn serving an app in a background thread of this process."""

    def __init__(self, app):
        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # TCP_NODELAY
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="error", access_log=False))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@pytest.fixture()
def live_server() -> type[LiveServer]:
    """``with live_server(app) as server: httpx.get(server.url + ...)``"""
    return LiveServer


class ServerProcess:
    """``python -m foodrec.cli serve ...`` as a child process, on a free port."""

    def __init__(self, args: list[str], cwd: Path):
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "foodrec.cli", "serve", "--port", "0", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        deadline = time.monotonic() + 90
        self.url = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            match = re.search(r"serving on (http://[\d.]+:\d+)", line)
            if match:
                self.url = match.group(1)
                break
        if not self.url:
            self.proc.kill()
            raise RuntimeError("server did not start:\n" + "".join(self.lines) + (self.proc.stdout.read() or ""))
        threading.Thread(target=self._drain, daemon=True).start()
        import httpx

        for _ in range(200):
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("server never became healthy")

    def _drain(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture()
def serve_process(tmp_path: Path) -> Iterator:
    started: list[ServerProcess] = []

    def start(*args: str) -> ServerProcess:
        server = ServerProcess(list(args), cwd=tmp_path)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


# What .ci/run creates; tried when FOODREC_TEST_PG_URL is not set, so a machine set up once runs the PG tests.
DEFAULT_PG_URL = "postgresql://foodrec:foodrec@127.0.0.1:5432/foodrec_test"


@pytest.fixture(scope="session")
def pg_url() -> str:
    """A PostgreSQL URL from FOODREC_TEST_PG_URL (set by .ci/run) or the one .ci/run creates, checked to answer."""
    import psycopg

    url = os.environ.get("FOODREC_TEST_PG_URL") or DEFAULT_PG_URL
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.Error as err:
        skip_or_fail(
            f"no PostgreSQL at {'FOODREC_TEST_PG_URL' if os.environ.get('FOODREC_TEST_PG_URL') else DEFAULT_PG_URL}"
            f" ({str(err).strip().splitlines()[0]}); run .ci/run or set FOODREC_TEST_PG_URL=postgresql://..."
        )
    return url


@pytest.fixture()
def pg_schema_url(pg_url: str) -> Iterator[str]:
    """A URL whose search_path is a fresh schema, dropped afterwards, so tests do not see each other's rows."""
    import uuid

    import psycopg

    schema = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in pg_url else "?"
    yield f"{pg_url}{sep}options=-csearch_path%3D{schema}"
    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute(f"DROP SCHEMA {schema} CASCADE")
