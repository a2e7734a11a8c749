"""Serving throughput and latency on loopback: a bare FastAPI endpoint vs /v1/recommendations; event writes.

One run, same machine, same uvicorn settings (h11, asyncio loop, one process, access log off):

1. a bare endpoint of the same framework (a FastAPI app whose only route returns ``{"ok": true}``),
2. ``foodrec serve``'s ``/healthz`` (the same app as 3, without the model: middleware + routing cost),
3. ``GET /v1/recommendations`` with the recommender (a baseline fitted on the store, or a model path),
   rotating over 2,000 real customers and areas of the store (5% unknown ones for the cold-start path),
   once with the response cache off (``--cache-entries 0``: every request runs the model) and once with the
   default server (repeats within a 5-minute slot come from the cache; the hit rate is printed), and once
   more on the default server with ``--miss-share`` (10%) of the requests asking for a slot never seen before,

each with wrk, 32 connections, for ``--duration`` seconds after a warm-up. Then the event write path:
``EventStore.write`` of single events in a loop (SQLite, WAL), and ``POST /v1/events`` over HTTP with one and
with ten events per request. Targets (issue 5): recommendations >= 0.8 x bare throughput, p99 <= 50 ms,
0 errors; >= 1,000 events/s sustained on SQLite.

    .venv/bin/python benchmarks/bench_serve.py                                   # generates a default city
    .venv/bin/python benchmarks/bench_serve.py --store runs/demo/store --recommender runs/demo/model
    .venv/bin/python benchmarks/bench_serve.py --json bench_serve.json

Needs wrk (Debian: ``apt-get install -y wrk``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import httpx  # noqa: E402

BARE_APP = textwrap.dedent(
    """
    import socket, sys, uvicorn
    from fastapi import FastAPI
    app = FastAPI()
    @app.get("/bare")
    async def bare():
        return {"ok": True}
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # TCP_NODELAY, as foodrec serve
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0)); sock.listen(2048)
    print(f"serving on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False)).run(sockets=[sock])
    """
)

RECS_LUA = """
local paths = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
"""

# The same rotation, but a share of the requests asks for a time slot never asked before (a miss: ranked anew).
RECS_MIXED_LUA = """
local paths = {%s}
local miss_share = %f
local i = 0
local next_tid = 0
setup = function(thread) thread:set("tid", next_tid); next_tid = next_tid + 1 end
request = function()
  i = i + 1
  local path = paths[(i %% #paths) + 1]
  if math.random() < miss_share then
    -- a fresh 5-minute slot per request: one slot a request, threads apart by 10^7 slots
    local slot = 1000000000 + (tid * 10000000 + i) * 300
    path = path .. "&at=" .. os.date("!%%Y-%%m-%%dT%%H:%%M:%%SZ", slot)
  end
  return wrk.format("GET", path)
end
"""

EVENTS_LUA = """
local counter = 0
local next_tid = 0
setup = function(thread) thread:set("tid", next_tid); next_tid = next_tid + 1 end
request = function()
  local events = {}
  for j = 1, %d do
    counter = counter + 1
    events[j] = string.format('{"idempotency_key":"%s-%%s-%%d","type":"click","customer_id":"c%%d","items":["i1"]}',
                              tid, counter, counter %% 5000)
  end
  return wrk.format("POST", "/v1/events", {["Content-Type"] = "application/json"},
                    '{"events":[' .. table.concat(events, ",") .. ']}')
end
"""


def quiet_cli(argv: list[str]) -> None:
    from foodrec.cli import main

    with open(os.devnull, "w") as devnull:
        old, sys.stdout = sys.stdout, devnull
        try:
            code = main(argv)
        finally:
            sys.stdout = old
    if code != 0:
        raise SystemExit(f"foodrec {' '.join(argv)} failed ({code})")


def start(cmd: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        match = re.search(r"serving on (http://[\d.]+:\d+)", line)
        if match:
            url = match.group(1)
            for _ in range(200):
                try:
                    httpx.get(url + "/docs", timeout=2)
                    break
                except httpx.HTTPError:
                    time.sleep(0.05)
            return proc, url
    proc.kill()
    raise SystemExit("server did not start:\n" + "".join(lines))


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def wrk(
    url: str, duration: int, connections: int, threads: int, script: Path | None = None, pid: int | None = None
) -> dict[str, float]:
    """Run wrk; with ``pid``, also the server's CPU time per request (all its threads, user + system)."""
    cpu_before = _cpu(pid)
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "5s"]
    if script is not None:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    result = {"requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    for pct in ("50", "90", "99"):
        match = re.search(rf"^\s+{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value = float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]
        result[f"p{pct}_ms"] = value
    total = re.search(r"(\d+) requests in", out)
    result["requests"] = int(total.group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    result["errors"] = (int(non2xx.group(1)) if non2xx else 0) + (
        sum(int(g) for g in sockets.groups()) if sockets else 0
    )
    if pid is not None:
        result["server_cpu_ms_per_request"] = (_cpu(pid) - cpu_before) * 1000 / max(result["requests"], 1)
    return result


def _cpu(pid: int | None) -> float:
    if pid is None:
        return 0.0
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def query_paths(store_dir: Path, n: int = 2000) -> list[str]:
    from urllib.parse import urlencode

    import pandas as pd

    from foodrec.data.store import Store

    orders = Store.open(store_dir).orders(columns=["customer_id", "area", "ordered_at"])
    sample = orders.drop_duplicates("customer_id").sample(min(n, orders["customer_id"].nunique()), random_state=0)
    paths = []
    for i, row in enumerate(sample.itertuples(index=False)):
        customer = row.customer_id if i % 20 else f"new-customer-{i}"  # 5% unknown: the cold-start path
        area = row.area if isinstance(row.area, str) else "unknown-area"
        at = (row.ordered_at + pd.Timedelta(days=i % 7)).strftime("%Y-%m-%dT%H:%M:%SZ") if i % 2 else None
        params = {"customer_id": customer, "area": area, "k": 10}
        if at:
            params["at"] = at
        paths.append("/v1/recommendations?" + urlencode(params))
    return paths


def mean_batch_size(metrics: str) -> float | None:
    batch = re.search(r"foodrec_recommend_batch_size_sum ([\d.e+]+)\nfoodrec_recommend_batch_size_count (\d+)", metrics)
    return round(float(batch.group(1)) / max(int(batch.group(2)), 1), 2) if batch else None


def cache_counts(metrics: str) -> tuple[int, int]:
    """(hits, misses) of the response cache so far."""
    found = dict(re.findall(r'foodrec_recommendation_cache_requests_total\{result="(hit|miss)"\} (\d+)', metrics))
    return int(found.get("hit", 0)), int(found.get("miss", 0))


def sqlite_direct(path: Path, seconds: float) -> float:
    from foodrec.serving.events import Event, open_event_store

    run = uuid.uuid4().hex[:8]
    with open_event_store(path) as store:
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            store.write([Event(event_id=f"direct-{run}-{n}", type="click", customer_id=f"c{n % 5000}", variant="v")])
            n += 1
        return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, help="store to serve (default: generate and ingest a default city)")
    parser.add_argument("--recommender", default="customer-history", help="baseline name or model directory")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--miss-share", type=float, default=0.1, help="share of never-seen slots in the mixed run")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("bench_serve needs wrk: apt-get install -y wrk")

    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    store = args.store
    if store is None:
        store = work / "store"
        print("generating and ingesting the default city ...", flush=True)
        quiet_cli(["generate", "--out", str(work / "city")])
        quiet_cli(["ingest", str(work / "city"), "--store", str(store)])
    events_path = work / "events.sqlite"
    paths = query_paths(store)
    (work / "recs.lua").write_text(RECS_LUA % ", ".join(json.dumps(p) for p in paths))
    no_time = [p for p in paths if "&at=" not in p]  # the mixed run adds its own times
    (work / "recs-mixed.lua").write_text(RECS_MIXED_LUA % (", ".join(json.dumps(p) for p in no_time), args.miss_share))
    run = uuid.uuid4().hex[:8]
    for n in (1, 10):
        (work / f"events{n}.lua").write_text(EVENTS_LUA % (n, f"{run}-{n}"))

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    figures: dict[str, object] = {
        "recommender": args.recommender,
        "connections": args.connections,
        "duration_s": args.duration,
        "cpus": os.cpu_count(),
    }
    bare, bare_url = start([sys.executable, "-c", BARE_APP], env)
    try:
        wrk(bare_url + "/bare", 2, args.connections, args.threads)  # warm-up
        figures["bare"] = wrk(bare_url + "/bare", args.duration, args.connections, args.threads, pid=bare.pid)
    finally:
        stop(bare)
    serve_cmd = [sys.executable, "-m", "foodrec.cli", "serve", "--recommender", args.recommender, "--store", str(store),
                 "--events", str(events_path), "--port", "0"]  # fmt: skip
    # Cache off first: every request runs the model (the cost of a ranking); then the default server.
    server, url = start([*serve_cmd, "--cache-entries", "0"], env)
    try:
        wrk(url, 3, args.connections, args.threads, work / "recs.lua")  # warm-up
        figures["recommendations_uncached"] = wrk(
            url, args.duration, args.connections, args.threads, work / "recs.lua", pid=server.pid
        )
        figures["uncached_mean_batch_size"] = mean_batch_size(httpx.get(url + "/metrics").text)
    finally:
        stop(server)
    server, url = start(serve_cmd, env)
    try:
        figures["healthz"] = wrk(url + "/healthz", args.duration, args.connections, args.threads, pid=server.pid)
        wrk(url, 3, args.connections, args.threads, work / "recs.lua")  # warm-up (fills the cache)
        before = cache_counts(httpx.get(url + "/metrics").text)
        figures["recommendations"] = wrk(
            url, args.duration, args.connections, args.threads, work / "recs.lua", pid=server.pid
        )
        metrics = httpx.get(url + "/metrics").text
        after = cache_counts(metrics)
        hits, misses = after[0] - before[0], after[1] - before[1]
        figures["cache_hit_rate"] = round(hits / max(hits + misses, 1), 4)
        figures["mean_batch_size"] = mean_batch_size(metrics)
        before = after
        figures["recommendations_mixed"] = wrk(
            url, args.duration, args.connections, args.threads, work / "recs-mixed.lua", pid=server.pid
        )
        after = cache_counts(httpx.get(url + "/metrics").text)
        hits, misses = after[0] - before[0], after[1] - before[1]
        figures["mixed_hit_rate"] = round(hits / max(hits + misses, 1), 4)
        for n in (1, 10):
            result = wrk(url, args.duration, args.connections, args.threads, work / f"events{n}.lua", pid=server.pid)
            result["events_per_s"] = result["requests_per_s"] * n
            figures[f"events_http_{n}_per_request"] = result
    finally:
        stop(server)
    from foodrec.serving.events import open_event_store

    with open_event_store(events_path) as events:
        figures["events_stored"] = events.count()
    figures["events_sqlite_direct_per_s"] = round(sqlite_direct(work / "direct.sqlite", 3.0), 1)

    bare_rps = figures["bare"]["requests_per_s"]
    rec = figures["recommendations"]
    print(f"\nfoodrec serve on loopback, wrk {args.connections} connections x {args.duration}s, "
          f"{os.cpu_count()} CPUs, recommender {args.recommender}")  # fmt: skip
    print(f"{'endpoint':<34}{'req/s':>10}{'ratio':>8}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'errors':>8}"
          f"{'CPU ms/req':>12}{'CPU ratio':>11}")  # fmt: skip
    bare_cpu = figures["bare"]["server_cpu_ms_per_request"]
    rows = (("bare FastAPI endpoint", "bare"), ("foodrec /healthz", "healthz"),
            ("/v1/recommendations, cache off", "recommendations_uncached"),
            ("/v1/recommendations (default)", "recommendations"),
            (f"  same, {args.miss_share:.0%} new time slots", "recommendations_mixed"))  # fmt: skip
    for name, key in rows:
        r = figures[key]
        print(f"{name:<34}{r['requests_per_s']:>10.0f}{r['requests_per_s'] / bare_rps:>8.2f}"
              f"{r['p50_ms']:>9.2f}{r['p90_ms']:>9.2f}{r['p99_ms']:>9.2f}{r['errors']:>8}"
              f"{r['server_cpu_ms_per_request']:>12.3f}{bare_cpu / r['server_cpu_ms_per_request']:>11.2f}")  # fmt: skip
    print("CPU ratio = bare CPU per request / this endpoint's: the throughput ratio on a quiet machine where the")
    print("server has a core to itself (wrk's req/s ratio is noisy when other processes share the CPUs).")
    print(
        f"response cache hit rate of the default run: {figures['cache_hit_rate']:.1%} "
        f"({len(paths)} distinct requests in rotation, {figures['recommendations']['requests']} requests)"
    )
    print(f"mixed run: {figures['mixed_hit_rate']:.1%} of its requests answered from the cache")
    # CPU per answer from the cache (default run) and per ranking: in a batch (cache off) and alone (mixed run,
    # where a miss rarely has company in its batch).
    miss_cpu = figures["recommendations_uncached"]["server_cpu_ms_per_request"]
    hit_rate = figures["cache_hit_rate"]
    hit_cpu = (rec["server_cpu_ms_per_request"] - (1 - hit_rate) * miss_cpu) / max(hit_rate, 1e-9)
    mixed_rate = figures["mixed_hit_rate"]
    mixed_miss_cpu = (figures["recommendations_mixed"]["server_cpu_ms_per_request"] - mixed_rate * hit_cpu) / max(
        1 - mixed_rate, 1e-9
    )
    figures["hit_cpu_ms"], figures["miss_cpu_ms"] = round(hit_cpu, 4), round(miss_cpu, 4)
    figures["mixed_miss_cpu_ms"] = round(mixed_miss_cpu, 4)
    print(f"server CPU per request: {hit_cpu:.3f} ms from the cache; ranked {miss_cpu:.3f} ms in the cache-off run's "
          f"batches, {mixed_miss_cpu:.3f} ms in the mixed run")  # fmt: skip
    print(f"mean recommend() batch size under load: cache off {figures['uncached_mean_batch_size']}, "
          f"default {figures['mean_batch_size']}")  # fmt: skip
    print("\nevent write path (SQLite, WAL)")
    print(f"  EventStore.write, one event per transaction:  {figures['events_sqlite_direct_per_s']:>8.0f} events/s")
    for n in (1, 10):
        r = figures[f"events_http_{n}_per_request"]
        print(f"  POST /v1/events, {n:>2} event(s) per request:    {r['events_per_s']:>8.0f} events/s "
              f"(p99 {r['p99_ms']:.1f} ms, errors {r['errors']}, server CPU "
              f"{r['server_cpu_ms_per_request'] / n:.3f} ms/event = {1000 * n / r['server_cpu_ms_per_request']:.0f}"
              " events per CPU-second)")  # fmt: skip
    print(f"  events stored by the HTTP runs: {figures['events_stored']}")
    verdict = {
        "throughput_ratio": round(rec["requests_per_s"] / bare_rps, 3),
        "cpu_ratio": round(bare_cpu / rec["server_cpu_ms_per_request"], 3),
        "ratio_ok": rec["requests_per_s"] >= 0.8 * bare_rps,
        "uncached_throughput_ratio": round(figures["recommendations_uncached"]["requests_per_s"] / bare_rps, 3),
        "mixed_throughput_ratio": round(figures["recommendations_mixed"]["requests_per_s"] / bare_rps, 3),
        "p99_ok": rec["p99_ms"] <= 50,
        "errors_ok": rec["errors"] == 0,
        "events_ok": figures["events_http_1_per_request"]["events_per_s"] >= 1000,
    }
    figures["targets"] = verdict
    figures["load_average"] = os.getloadavg()
    print(f"load average during the run (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print("\ntargets:", ", ".join(f"{k}={v}" for k, v in verdict.items()))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
