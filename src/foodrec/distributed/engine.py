"""The distributed engine: Ray, started quietly on this machine or joined at a cluster's address.

foodrec runs on an existing engine rather than a home-made one (``docs/scaling.md`` says why Ray). Ray is an
optional extra (``pip install foodrec[scale]``); without it every command runs in one process as before, and
asking for workers says how to install it in one line.

>>> with RayEngine(workers=2) as engine:                 # local mode: 2 CPUs, no dashboard, quiet  # doctest: +SKIP
...     engine.map(pow, [(2, 3), (3, 2)])
[8, 9]
>>> RayEngine(workers=4, cluster="ray://head:10001")     # production: join a running cluster     # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from foodrec.errors import InputError

# Settings every Ray worker process starts with: TensorFlow as quiet as the CLI, one thread per worker (a
# worker is one CPU's share), Keras on TensorFlow.
WORKER_ENV = {
    "KERAS_BACKEND": "tensorflow",
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "GRPC_VERBOSITY": "ERROR",
    "GLOG_minloglevel": "3",
    "FOODREC_TF_THREADS": "1",
    "PYTHONWARNINGS": "ignore",
    "RAY_TRAIN_V2_ENABLED": "1",
}
# The local object store: small, the order log of a city fits many times over (Ray's own default is 30% of RAM).
LOCAL_OBJECT_STORE_BYTES = 256 * 1024**2


def require_ray() -> Any:
    """Import Ray, or a one-line :class:`InputError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise InputError(
            "--workers/--cluster need Ray: pip install 'foodrec[scale]' (or ray[data,train]); "
            "without them foodrec runs in one process"
        ) from None
    return ray


def check_workers(workers: int, cluster: str | None) -> None:
    """The options' one-line errors, before anything starts."""
    if workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    if cluster is not None:
        if workers < 2:
            raise InputError("--cluster needs --workers 2 or more (one worker runs in this process)")
        if not cluster.strip() or any(c.isspace() for c in cluster):
            raise InputError(f"--cluster {cluster!r}: expected a Ray address such as ray://head:10001 or auto")
        _probe(cluster)


class RayEngine:
    """Ray for one command: ``workers`` processes' worth of CPUs, locally or on a cluster.

    Locally Ray starts a private instance with ``workers`` CPUs, no dashboard, workers' output kept out of the
    terminal and a 256 MiB object store; it is shut down on exit. With ``cluster`` it connects to that address
    (``ray://host:10001`` or ``auto``) and leaves the cluster running. Workers import foodrec itself, so the
    cluster's image must have the same foodrec installed (the driver's version is checked).
    """

    def __init__(self, workers: int, cluster: str | None = None):
        check_workers(workers, cluster)
        self.workers = workers
        self.cluster = cluster
        self.ray: Any = None

    def __enter__(self) -> RayEngine:
        ray = require_ray()
        os.environ.update({k: v for k, v in WORKER_ENV.items() if k not in os.environ or k == "RAY_TRAIN_V2_ENABLED"})
        os.environ.setdefault("RAY_DEDUP_LOGS", "0")
        os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
        kwargs: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": bool(os.environ.get("FOODREC_DEBUG")),
            "logging_level": "INFO" if os.environ.get("FOODREC_DEBUG") else "ERROR",
            "runtime_env": {"env_vars": dict(WORKER_ENV)},
            "namespace": "foodrec",
        }
        if self.cluster is None:
            kwargs.update(num_cpus=self.workers, object_store_memory=LOCAL_OBJECT_STORE_BYTES)
        else:
            kwargs.update(address=self.cluster)
        try:
            ray.init(**kwargs)
        except (ConnectionError, ValueError, RuntimeError) as err:
            where = f"the Ray cluster at {self.cluster!r}" if self.cluster else "a local Ray instance"
            raise InputError(f"cannot start {where}: {str(err).splitlines()[0] if str(err) else err}") from None
        self.ray = ray
        if self.cluster is not None:
            self._check_cluster()
        return self

    def _check_cluster(self) -> None:
        from foodrec import __version__

        cpus = int(self.ray.cluster_resources().get("CPU", 0))
        if cpus < self.workers:
            self.__exit__()
            raise InputError(f"--workers {self.workers}: the cluster at {self.cluster!r} has only {cpus} CPUs")
        theirs = self.ray.get(self.ray.remote(num_cpus=0)(_version).remote())
        if theirs != __version__:
            self.__exit__()
            raise InputError(f"the cluster's workers run foodrec {theirs}, this driver {__version__}: install the same")

    def __exit__(self, *exc: object) -> None:
        if self.ray is not None and self.ray.is_initialized():
            self.ray.shutdown()
        self.ray = None

    def map(self, fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]], shared: Any = None) -> list[Any]:
        """``[fn(*call) for call in calls]``, one Ray task (one CPU) each, results in the order of ``calls``.

        ``shared`` (when given) is put once into the object store and passed to every call as its first argument.
        """
        if self.ray is None:
            raise RuntimeError("RayEngine.map outside `with RayEngine(...)`")
        task = self.ray.remote(num_cpus=1, max_retries=1)(_call)
        ref = self.ray.put(shared) if shared is not None else None
        futures = [task.remote(fn, ref, call) for call in calls]
        return self.ray.get(futures)


def _probe(address: str, timeout: float = 5.0) -> None:
    """A one-line error at once when nothing listens at a cluster address (Ray itself retries for minutes)."""
    import socket

    if address == "auto":
        return
    host_port = address.split("://", 1)[-1].rsplit("/", 1)[0]
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"--cluster {address!r}: expected HOST:PORT, ray://HOST:PORT or auto")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as err:
        raise InputError(f"--cluster {address!r}: no Ray cluster answers there ({err.strerror or err})") from None


def _call(fn: Callable[..., Any], shared: Any, call: tuple[Any, ...]) -> Any:
    # An ObjectRef passed as a top-level argument arrives resolved.
    return fn(shared, *call) if shared is not None else fn(*call)


def _version() -> str:
    from foodrec import __version__

    return __version__
