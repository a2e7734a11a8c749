"""``foodrec serve``: the recommendation service over HTTP.

Usage::

    foodrec serve --recommender area-popularity --store runs/demo/store      # a baseline fitted on the store
    foodrec serve --recommender runs/demo/model --store runs/demo/store      # a saved model
    foodrec serve --ab ab.toml --store runs/demo/store --admin-token "$TOKEN"

Binds 127.0.0.1:8000 unless told otherwise. Events go to ``STORE/events.sqlite`` (or ``--events``,
a SQLite path or a ``postgresql://`` URL). The API is documented at ``/docs`` and in docs/serving.md.
"""

from __future__ import annotations

import gc
import os
import socket
import sys
from pathlib import Path
from typing import Any

import typer

from foodrec.errors import InputError
from foodrec.serving.cache import DEFAULT_MAX_BYTES, DEFAULT_MAX_ENTRIES, DEFAULT_RESOLUTION_S

THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
}


def cap_threads() -> None:
    """One BLAS/OpenMP/TensorFlow thread in the server: on 2 cores, more threads made top-k 50x slower.

    Environment variables cover libraries not loaded yet (TensorFlow); threadpoolctl caps the BLAS that
    numpy already loaded, when it is installed.
    """
    for key, value in THREAD_ENV.items():
        os.environ[key] = value
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(1)


def _listen(host: str, port: int, reuse_port: bool = False, listen: bool = True) -> socket.socket:
    """A TCP socket bound to ``host:port``; with ``reuse_port`` others may bind the same port (SO_REUSEPORT: the
    kernel spreads new connections over the listening ones); ``listen=False`` only reserves the port."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise InputError(f"--host {host!r}: {err.strerror}") from err
    family, _, _, _, address = infos[0]
    # proto must be IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted connections only then; with proto 0,
    # Nagle's algorithm meets delayed ACKs and every response waits ~40 ms.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind(address)
    except OSError as err:
        sock.close()
        raise InputError(f"cannot listen on {host}:{port}: {err.strerror}") from err
    if listen:
        sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _load(options: dict[str, Any]) -> tuple[Any, Any]:
    """The service state and app of one process, from the command's options."""
    from foodrec.serving.app import create_app
    from foodrec.serving.state import ServiceState

    state = ServiceState(
        recommender=options["recommender"], store=options["store"], ab=options["ab"], level=options["level"],
        rank_process=options.get("rank_process", False),
    )  # fmt: skip
    app = create_app(state, options["events"], **options["app"])
    return state, app


def _run(app: Any, sock: socket.socket, log_level: str) -> None:
    """uvicorn on ``sock``, after the start-up heap is frozen."""
    import uvicorn

    config = uvicorn.Config(app, log_level=log_level, access_log=False, timeout_graceful_shutdown=5)
    # The models, TensorFlow and pandas leave millions of long-lived objects; without this, every full garbage
    # collection walks them all while requests wait (p99 of ranked requests 220 ms instead of ~40 ms).
    gc.collect()
    gc.freeze()
    # The ranking thread and the event loop share the GIL; with Python's default 5 ms switch interval, answers
    # from the cache waited behind a ranking in progress (p99 69 ms in the mixed benchmark run).
    sys.setswitchinterval(0.0005)
    uvicorn.Server(config).run(sockets=[sock])


def _worker(options: dict[str, Any], port: int, ready: Any) -> None:
    """One process of ``--workers N``: loads the models itself, listens on the shared port (SO_REUSEPORT)."""
    from foodrec.quiet import quiet_tensorflow

    quiet_tensorflow()
    cap_threads()
    try:
        _, app = _load(options)
        sock = _listen(options["host"], port, reuse_port=True)
    except Exception as err:  # noqa: BLE001 - reported by the parent as one line
        ready.put(f"{type(err).__name__}: {err}")
        return
    ready.put("ok")
    # The parent stops the workers with SIGTERM (uvicorn's graceful shutdown); Ctrl-C reaches the whole group.
    _run(app, sock, options["log_level"])


def _serve_workers(options: dict[str, Any], workers: int, console: Any) -> None:
    """``--workers N``: N processes answer on one port, each with its own copy of the models, all sharing the event
    store (orders and reloads reach every one through it: :mod:`foodrec.serving.sync`). The A/B assignment is a
    hash of salt and customer, the same in every process. The parent only reserves the port and watches them."""
    import multiprocessing
    import queue
    import signal

    reserved = _listen(options["host"], options["port"], reuse_port=True, listen=False)
    port = reserved.getsockname()[1]
    context = multiprocessing.get_context("spawn")  # no fork: TensorFlow's threads do not survive one
    ready = context.Queue()
    procs = [context.Process(target=_worker, args=(options, port, ready), name=f"foodrec-worker-{i}")
             for i in range(workers)]  # fmt: skip
    for proc in procs:
        proc.start()

    def stop(*_: object) -> None:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()

    signal.signal(signal.SIGTERM, lambda *_: (stop(), sys.exit(0)))
    try:
        with console.status(f"loading models in {workers} worker processes ..."):
            started = 0
            while started < workers:
                try:
                    message = ready.get(timeout=1.0)
                except queue.Empty:
                    dead = [p for p in procs if not p.is_alive()]
                    if dead and ready.empty():
                        raise InputError(f"worker process {dead[0].pid} exited (code {dead[0].exitcode}) while "
                                         "loading") from None  # fmt: skip
                    continue
                if message != "ok":
                    raise InputError(f"a worker could not start: {message}")
                started += 1
        console.print(f"{workers} worker processes (pids {', '.join(str(p.pid) for p in procs)})")
        console.print(f"serving on http://{options['host']}:{port}  (API docs: /docs, events: "
                      f"{options['events'].split('@')[-1]})")  # fmt: skip
        while all(proc.is_alive() for proc in procs):
            procs[0].join(timeout=0.5)
        dead = next(p for p in procs if not p.is_alive())
        raise InputError(f"worker process {dead.pid} exited (code {dead.exitcode}); stopping the others")
    except KeyboardInterrupt:
        pass
    finally:
        stop()
        reserved.close()


def serve(
    recommender: str = typer.Option(
        None, "--recommender", "-r", help="Baseline name (fitted on --store) or saved model directory."
    ),
    store: Path = typer.Option(None, "--store", "-s", help="Store directory: data for baselines, catalogue, fallback."),
    ab: Path = typer.Option(None, "--ab", help="A/B config file (TOML or JSON): salt and variants with shares."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind; 0.0.0.0 exposes the service."),
    port: int = typer.Option(8000, "--port", "-p", min=0, max=65535, help="TCP port (0 = any free port)."),
    events: str = typer.Option(
        None, "--events", help="Event store: SQLite file or postgresql:// URL [default: STORE/events.sqlite]."
    ),
    admin_token: str = typer.Option(
        None, "--admin-token", envvar="FOODREC_ADMIN_TOKEN", help="Token for /v1/admin routes (disabled without)."
    ),
    level: str = typer.Option(None, "--level", help="dish or restaurant, for baselines [default: the store's]."),
    max_in_flight: int = typer.Option(256, "--max-in-flight", min=1, help="Requests in flight before answering 503."),
    max_body_kb: int = typer.Option(1024, "--max-body-kb", min=1, help="Largest request body accepted (KiB)."),
    cache_entries: int = typer.Option(
        DEFAULT_MAX_ENTRIES,
        "--cache-entries",
        min=0,
        help="Rankings kept in the response cache (0 = rank every request).",
    ),
    cache_mb: int = typer.Option(
        DEFAULT_MAX_BYTES >> 20,
        "--cache-mb",
        min=0,
        help="Memory cap of the response cache in MiB (answers; remembered query strings get a quarter more).",
    ),
    time_resolution: int = typer.Option(
        DEFAULT_RESOLUTION_S,
        "--time-resolution",
        min=1,
        max=86_400,
        help="Seconds per time slot: a request is ranked for its slot's start, repeats in a slot come from the cache.",
    ),
    log_level: str = typer.Option("warning", "--log-level", help="uvicorn log level."),
    workers: int = typer.Option(
        1, "--workers", min=1, max=64, help="Processes answering on the port, sharing the event store and the model."
    ),
    sync_interval: float = typer.Option(
        None,
        "--sync-interval",
        min=0.0,
        help="Seconds between polls of the event store for other processes' orders and reloads "
        "(0 = off) [default: 1 with --workers > 1 or a PostgreSQL store, else 0].",
    ),
    rank_process: bool = typer.Option(
        True,
        "--rank-process/--no-rank-process",
        help="Rank a saved Keras model in a process of its own, beside the event loop (one more process per worker).",
    ),
) -> None:
    """Serve recommendations over HTTP with sticky A/B assignment and an event log."""
    cap_threads()
    if store is None and recommender is not None and not Path(recommender).is_dir():
        raise InputError(f"recommender {recommender!r} is a baseline name: give --store to fit it on")
    if events is None:
        events = str((store if store is not None else Path(".")) / "events.sqlite")
    if sync_interval is None:
        sync_interval = 1.0 if workers > 1 or events.startswith(("postgresql://", "postgres://")) else 0.0
    options = {
        "recommender": recommender, "store": store, "ab": ab, "level": level, "events": events, "host": host,
        "port": port, "log_level": log_level, "rank_process": rank_process,
        "app": {"admin_token": admin_token, "max_in_flight": max_in_flight, "max_body_bytes": max_body_kb * 1024,
                "cache_entries": cache_entries, "time_resolution_s": time_resolution, "cache_bytes": cache_mb << 20,
                "sync_interval_s": sync_interval},
    }  # fmt: skip
    from rich.console import Console

    console = Console(stderr=True)
    if workers > 1:
        _serve_workers(options, workers, console)
        return
    with console.status("loading models ..."):
        state, app = _load(options)
    sock = _listen(host, port)
    bound_port = sock.getsockname()[1]
    snapshot = state.snapshot
    for name, model in snapshot.models.items():
        console.print(f"variant {name}: {model.source} ({model.version}, level {model.level})")
    console.print(f"serving on http://{host}:{bound_port}  (API docs: /docs, events: {events.split('@')[-1]})")
    _run(app, sock, log_level)


def register(app: typer.Typer) -> None:
    """Add this step's commands to the foodrec CLI."""
    app.command("serve")(serve)
