"""Serving throughput and latency on loopback: distinct customers (every request ranked) against /healthz.

One run, same machine, same uvicorn settings (h11, asyncio loop, access log off), each with wrk (``--threads``
threads, ``--connections`` connections, ``--duration`` seconds after a warm-up):

1. a bare endpoint of the same framework (a FastAPI app whose only route returns ``{"ok": true}``), for reference,
2. ``foodrec serve``'s ``/healthz`` (the server under test, without the model: the framework's floor), measured
   before and after 3 on the same server; the ratios below are against their mean,
3. **distinct customers** (the headline): ``GET /v1/recommendations`` where every request is a different customer
   of the store (5% unknown ones: the cold-start path) at a time after the store ends; when the rotation wraps,
   the next pass asks for a new 5-minute slot, so no request is answered from the response cache,
4. the cached case: a rotation over 2,000 of those requests, repeated after a warm-up that fills the cache,
5. the event write path: ``EventStore.write`` of single events in a loop (SQLite, WAL), and ``POST /v1/events``
   over HTTP with one and with ten events per request.

Per run: requests/s, its ratio to /healthz, p50/p90/p99, errors, and the server's CPU per answer (all its
processes, user + system; for distinct customers also split between the server process and its children, the
ranking process). ``--rounds N`` repeats /healthz and distinct customers N times on the same server (each round asks
for time slots of its own) and prints every round's ratio: one run on a shared machine says little about
"reliably". Targets (issue 15): distinct customers >= 0.8 x /healthz (0.6 x on the large preset),
p99 <= 50 ms, 0 errors; (issue 5) >= 1,000 events/s sustained on SQLite.

    .venv/bin/python benchmarks/bench_serve.py                                   # generates a default city
    .venv/bin/python benchmarks/bench_serve.py --store runs/demo/store --recommender runs/demo/model
    .venv/bin/python benchmarks/bench_serve.py --store runs/demo/store --recommender runs/demo/model --workers 2
    .venv/bin/python benchmarks/bench_serve.py --store runs/demo/store --recommender runs/demo/model --rounds 3
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

# Distinct customers: request i of a thread asks for customer i of the rotation; each pass over the rotation (and
# each wrk thread) asks for its own 5-minute slot, so no request repeats an earlier one.
DISTINCT_LUA = """
local paths = {%s}
local base = %d
local i = 0
local threads = 0
local next_tid = 0
setup = function(thread) thread:set("tid", next_tid); next_tid = next_tid + 1 end
init = function(args) threads = tonumber(args[1]) or 1 end
request = function()
  local n = #paths
  local slot = base + ((math.floor(i / n) * threads) + tid) * 300
  local path = paths[(i %% n) + 1] .. "&at=" .. os.date("!%%Y-%%m-%%dT%%H:%%M:%%SZ", slot)
  i = i + 1
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
    """Run wrk; with ``pid``, also the server's CPU time per request (all its processes and threads, user +
    system)."""
    cpu_before, main_before = _cpu(pid), _cpu(pid, children=False)
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "5s"]
    if script is not None:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url, "--", str(threads)], capture_output=True, text=True, check=True).stdout
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
        requests = max(result["requests"], 1)
        result["server_cpu_ms_per_request"] = (_cpu(pid) - cpu_before) * 1000 / requests
        result["server_main_cpu_ms_per_request"] = (_cpu(pid, children=False) - main_before) * 1000 / requests
    return result


def _cpu(pid: int | None, children: bool = True) -> float:
    """CPU seconds (user + system) of process ``pid`` and, with ``children``, of its children (--workers N: the
    worker processes; a Keras model: its ranking process)."""
    if pid is None:
        return 0.0
    import psutil

    process = psutil.Process(pid)
    total = 0.0
    for proc in [process, *(process.children(recursive=True) if children else [])]:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def query_paths(store_dir: Path, n: int | None = None) -> tuple[list[str], int]:
    """Requests for distinct customers of the store (``n`` of them, default all; every 20th an unknown customer),
    each in the area of their last order, without a time; and the first 5-minute slot after the store's end (unix
    seconds), when the requests are made."""
    from urllib.parse import urlencode

    from foodrec.data.store import Store

    orders = Store.open(store_dir).orders(columns=["customer_id", "area", "ordered_at"])
    end = orders["ordered_at"].max()
    last = orders.sort_values("ordered_at", kind="stable").drop_duplicates("customer_id", keep="last")
    sample = last.sample(len(last) if n is None else min(n, len(last)), random_state=0)
    paths = []
    for i, row in enumerate(sample.itertuples(index=False)):
        customer = row.customer_id if i % 20 else f"new-customer-{i}"  # 5% unknown: the cold-start path
        area = row.area if isinstance(row.area, str) else "unknown-area"
        paths.append("/v1/recommendations?" + urlencode({"customer_id": customer, "area": area, "k": 10}))
    first_slot = (int(end.timestamp()) // 300 + 1) * 300
    return paths, first_slot


def round_ratio(healthz_before: dict, distinct: dict, healthz_after: dict) -> dict[str, float]:
    """One round: distinct customers' requests/s over the mean of the /healthz runs around it."""
    health = (healthz_before["requests_per_s"] + healthz_after["requests_per_s"]) / 2
    return {
        "healthz_per_s": round(health, 1),
        "distinct_per_s": distinct["requests_per_s"],
        "ratio": round(distinct["requests_per_s"] / health, 3),
        "p99_ms": distinct["p99_ms"],
        "errors": distinct["errors"],
    }


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
    parser.add_argument("--workers", type=int, default=1, help="foodrec serve --workers")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--no-events", action="store_true", help="skip the event write runs")
    parser.add_argument(
        "--no-rank-process", action="store_true", help="foodrec serve --no-rank-process: rank in the server's thread"
    )
    parser.add_argument("--customers", type=int, help="distinct customers in rotation (default: all of the store)")
    parser.add_argument("--rounds", type=int, default=1, help="/healthz + distinct customers this many times")
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
    paths, first_slot = query_paths(store, args.customers)
    for r in range(args.rounds):  # each round its own time slots: no round is answered from an earlier one's cache
        base = first_slot + 300 * 10_000 * r
        (work / f"distinct{r}.lua").write_text(DISTINCT_LUA % (", ".join(json.dumps(p) for p in paths), base))
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(first_slot))
    (work / "cached.lua").write_text(RECS_LUA % ", ".join(json.dumps(f"{p}&at={at}") for p in paths[:2000]))
    run = uuid.uuid4().hex[:8]
    for n in (1, 10):
        (work / f"events{n}.lua").write_text(EVENTS_LUA % (n, f"{run}-{n}"))

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    figures: dict[str, object] = {
        "recommender": args.recommender,
        "workers": args.workers,
        "rank_process": not args.no_rank_process,
        "connections": args.connections,
        "duration_s": args.duration,
        "cpus": os.cpu_count(),
        "distinct_customers_in_rotation": len(paths),
    }
    bare, bare_url = start([sys.executable, "-c", BARE_APP], env)
    try:
        wrk(bare_url + "/bare", 2, args.connections, args.threads)  # warm-up
        figures["bare"] = wrk(bare_url + "/bare", args.duration, args.connections, args.threads, pid=bare.pid)
    finally:
        stop(bare)
    serve_cmd = [sys.executable, "-m", "foodrec.cli", "serve", "--recommender", args.recommender, "--store", str(store),
                 "--events", str(events_path), "--port", "0", "--workers", str(args.workers),
                 *(["--no-rank-process"] if args.no_rank_process else [])]  # fmt: skip
    server, url = start(serve_cmd, env)
    bench = lambda path, script=None: wrk(  # noqa: E731
        url + path, args.duration, args.connections, args.threads, script, pid=server.pid
    )
    try:
        wrk(url + "/healthz", 2, args.connections, args.threads)  # warm-up
        figures["healthz_before"] = bench("/healthz")
        # Warm-up of the ranking path on the last slots of the rotation's range (not asked again below).
        warm = work / "warm.lua"
        warm.write_text(DISTINCT_LUA % (", ".join(json.dumps(p) for p in paths), first_slot + 300 * 100_000))
        wrk(url, 3, args.connections, args.threads, warm)
        before = cache_counts(httpx.get(url + "/metrics").text)
        figures["distinct"] = bench("", work / "distinct0.lua")
        metrics = httpx.get(url + "/metrics").text
        after = cache_counts(metrics)
        figures["distinct_hit_rate"] = round((after[0] - before[0]) / max(sum(after) - sum(before), 1), 4)
        figures["distinct_mean_batch_size"] = mean_batch_size(metrics)
        figures["healthz_after"] = bench("/healthz")
        figures["rounds"] = [round_ratio(figures["healthz_before"], figures["distinct"], figures["healthz_after"])]
        for r in range(1, args.rounds):
            healthz_before, distinct = bench("/healthz"), bench("", work / f"distinct{r}.lua")
            figures["rounds"].append(round_ratio(healthz_before, distinct, bench("/healthz")))
        wrk(url, 3, args.connections, args.threads, work / "cached.lua")  # warm-up: fills the cache
        before = cache_counts(httpx.get(url + "/metrics").text)
        figures["cached"] = bench("", work / "cached.lua")
        after = cache_counts(httpx.get(url + "/metrics").text)
        figures["cached_hit_rate"] = round((after[0] - before[0]) / max(sum(after) - sum(before), 1), 4)
        if not args.no_events:
            for n in (1, 10):
                result = bench("", work / f"events{n}.lua")
                result["events_per_s"] = result["requests_per_s"] * n
                figures[f"events_http_{n}_per_request"] = result
    finally:
        stop(server)
    if not args.no_events:
        from foodrec.serving.events import open_event_store

        with open_event_store(events_path) as events:
            figures["events_stored"] = events.count()
        figures["events_sqlite_direct_per_s"] = round(sqlite_direct(work / "direct.sqlite", 3.0), 1)
    report(figures, args)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    shutil.rmtree(work, ignore_errors=True)


def report(figures: dict, args: argparse.Namespace) -> None:
    """Print the table and the verdict (and add the verdict to ``figures``)."""
    health = {
        key: (figures["healthz_before"][key] + figures["healthz_after"][key]) / 2
        for key in ("requests_per_s", "server_cpu_ms_per_request")
    }
    bare = figures["bare"]
    how = " --no-rank-process" if args.no_rank_process else ""
    print(f"\nfoodrec serve --workers {args.workers}{how} on loopback, wrk {args.threads} threads x {args.connections} "
          f"connections x {args.duration}s, {os.cpu_count()} CPUs, recommender {args.recommender}")  # fmt: skip
    print(f"{'endpoint':<40}{'req/s':>9}{'ratio':>7}{'p50 ms':>8}{'p90 ms':>8}{'p99 ms':>8}{'errors':>7}"
          f"{'CPU ms/answer':>15}{'CPU ratio':>10}")  # fmt: skip
    rows = (("bare FastAPI endpoint (other process)", "bare"), ("foodrec /healthz, before", "healthz_before"),
            ("/v1/recommendations, distinct customers", "distinct"), ("foodrec /healthz, after", "healthz_after"),
            ("/v1/recommendations, cached (2,000)", "cached"))  # fmt: skip
    for name, key in rows:
        r = figures[key]
        print(f"{name:<40}{r['requests_per_s']:>9.0f}{r['requests_per_s'] / health['requests_per_s']:>7.2f}"
              f"{r['p50_ms']:>8.2f}{r['p90_ms']:>8.2f}{r['p99_ms']:>8.2f}{r['errors']:>7}"
              f"{r['server_cpu_ms_per_request']:>15.3f}"
              f"{health['server_cpu_ms_per_request'] / r['server_cpu_ms_per_request']:>10.2f}")  # fmt: skip
    print("ratio: requests/s over the mean of the two /healthz runs of the same server; CPU ratio: /healthz's CPU per")
    print("answer over this one's (the throughput ratio on a quiet machine where the server has the cores to itself).")
    print(f"distinct customers: {figures['distinct_customers_in_rotation']} in rotation, "
          f"{figures['distinct']['requests']} requests, {figures['distinct_hit_rate']:.1%} from the cache, "
          f"mean batch {figures['distinct_mean_batch_size']}; cached run: {figures['cached_hit_rate']:.1%} from the "
          "cache")  # fmt: skip
    d = figures["distinct"]
    if "server_main_cpu_ms_per_request" in d:
        main_ms = d["server_main_cpu_ms_per_request"]
        print(f"distinct customers' CPU per answer: {main_ms:.3f} ms in the server process (event loop), "
              f"{d['server_cpu_ms_per_request'] - main_ms:.3f} ms in its children (the ranking process)")  # fmt: skip
    rounds = figures["rounds"]
    if len(rounds) > 1:
        ratios = sorted(r["ratio"] for r in rounds)
        print(
            f"rounds ({len(rounds)}): distinct / /healthz "
            + ", ".join(f"{r['ratio']:.2f}" for r in rounds)
            + " ("
            + ", ".join(f"{r['distinct_per_s']:,.0f}" for r in rounds)
            + " req/s)"
            + f"; min {ratios[0]:.2f}, median {ratios[len(ratios) // 2]:.2f}; p99 "
            + ", ".join(f"{r['p99_ms']:.1f}" for r in rounds)
            + f" ms; errors {sum(r['errors'] for r in rounds)}"
        )
    if "events_sqlite_direct_per_s" in figures:
        print("\nevent write path (SQLite, WAL)")
        print(f"  EventStore.write, one event per transaction:  {figures['events_sqlite_direct_per_s']:>8.0f} events/s")
        for n in (1, 10):
            r = figures[f"events_http_{n}_per_request"]
            print(f"  POST /v1/events, {n:>2} event(s) per request:    {r['events_per_s']:>8.0f} events/s "
                  f"(p99 {r['p99_ms']:.1f} ms, errors {r['errors']}, server CPU "
                  f"{r['server_cpu_ms_per_request'] / n:.3f} ms/event)")  # fmt: skip
        print(f"  events stored by the HTTP runs: {figures['events_stored']}")
    distinct = figures["distinct"]
    verdict = {
        "distinct_ratio": round(distinct["requests_per_s"] / health["requests_per_s"], 3),
        "distinct_cpu_ratio": round(health["server_cpu_ms_per_request"] / distinct["server_cpu_ms_per_request"], 3),
        "distinct_ratio_to_bare": round(distinct["requests_per_s"] / bare["requests_per_s"], 3),
        "cached_ratio": round(figures["cached"]["requests_per_s"] / health["requests_per_s"], 3),
        "distinct_p99_ok": all(r["p99_ms"] <= 50 for r in rounds),
        "distinct_errors_ok": all(r["errors"] == 0 for r in rounds),
    }
    if len(rounds) > 1:
        verdict["distinct_ratio_min"] = min(r["ratio"] for r in rounds)
    if "events_http_1_per_request" in figures:
        verdict["events_ok"] = figures["events_http_1_per_request"]["events_per_s"] >= 1000
    figures["targets"] = verdict
    figures["load_average"] = os.getloadavg()
    print(f"load average at the end (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print("\ntargets:", ", ".join(f"{k}={v}" for k, v in verdict.items()))


if __name__ == "__main__":
    main()
