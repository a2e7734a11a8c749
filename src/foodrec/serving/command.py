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


def _listen(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise InputError(f"--host {host!r}: {err.strerror}") from err
    family, _, _, _, address = infos[0]
    # proto must be IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted connections only then; with proto 0,
    # Nagle's algorithm meets delayed ACKs and every response waits ~40 ms.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as err:
        sock.close()
        raise InputError(f"cannot listen on {host}:{port}: {err.strerror}") from err
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


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
) -> None:
    """Serve recommendations over HTTP with sticky A/B assignment and an event log."""
    cap_threads()
    import uvicorn

    from foodrec.serving.app import create_app
    from foodrec.serving.state import ServiceState

    if store is None and recommender is not None and not Path(recommender).is_dir():
        raise InputError(f"recommender {recommender!r} is a baseline name: give --store to fit it on")
    if events is None:
        events = str((store if store is not None else Path(".")) / "events.sqlite")
    from rich.console import Console

    console = Console(stderr=True)
    with console.status("loading models ..."):
        state = ServiceState(recommender=recommender, store=store, ab=ab, level=level)
        app = create_app(
            state,
            events,
            admin_token=admin_token,
            max_in_flight=max_in_flight,
            max_body_bytes=max_body_kb * 1024,
            cache_entries=cache_entries,
            time_resolution_s=time_resolution,
            cache_bytes=cache_mb << 20,
        )
    sock = _listen(host, port)
    bound_port = sock.getsockname()[1]
    snapshot = state.snapshot
    for name, model in snapshot.models.items():
        console.print(f"variant {name}: {model.source} ({model.version}, level {model.level})")
    console.print(f"serving on http://{host}:{bound_port}  (API docs: /docs, events: {events.split('@')[-1]})")
    config = uvicorn.Config(app, log_level=log_level, access_log=False, timeout_graceful_shutdown=5)
    # The models, TensorFlow and pandas leave millions of long-lived objects; without this, every full garbage
    # collection walks them all while requests wait (p99 of ranked requests 220 ms instead of ~40 ms).
    gc.collect()
    gc.freeze()
    # The ranking thread and the event loop share the GIL; with Python's default 5 ms switch interval, answers
    # from the cache waited behind a ranking in progress (p99 69 ms in the mixed benchmark run).
    sys.setswitchinterval(0.0005)
    uvicorn.Server(config).run(sockets=[sock])


def register(app: typer.Typer) -> None:
    """Add this step's commands to the foodrec CLI."""
    app.command("serve")(serve)
