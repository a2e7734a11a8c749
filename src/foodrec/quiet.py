"""TensorFlow's start-up noise, silenced in one place: :func:`quiet_tensorflow`, called by the CLI before anything.

What it silences, and how (each by the narrowest means that works with TensorFlow 2.21):

- C++ log lines that honour ``TF_CPP_MIN_LOG_LEVEL`` (the CPU-instruction notice of ``cpu_feature_guard.cc``,
  ``generator_dataset_op.cc ... Memory patch applied`` during ``model.fit``): ``TF_CPP_MIN_LOG_LEVEL=3``;
  ``GRPC_VERBOSITY=ERROR`` and ``GLOG_minloglevel=3`` for the libraries that read those instead.
- C++ lines written while ``import tensorflow`` loads its shared libraries, before absl logging is initialised
  (``WARNING: All log messages before absl::InitializeLog() ...`` and ``port.cc ... oneDNN custom operations are
  on``): no environment variable reaches them (``TF_ENABLE_ONEDNN_OPTS=0`` would, by switching oneDNN off and so
  changing the numbers), so the first ``import tensorflow`` runs with file descriptor 2 pointed at ``/dev/null``
  (a one-shot import hook: TensorFlow still loads only when a command needs it, ``foodrec --help`` stays fast).
- Python warnings raised from ``tensorflow``/``keras``/``absl`` modules, and the ``tensorflow`` and ``absl``
  loggers below ERROR (``tf.function`` retracing warnings come through the ``tensorflow`` logger).

``FOODREC_DEBUG=1`` leaves everything as TensorFlow has it (and shows tracebacks, see :mod:`foodrec.cli`).
Variables the user set already are kept.

>>> quiet_tensorflow()          # doctest: +SKIP
>>> import tensorflow           # doctest: +SKIP  (no start-up lines on stderr)
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from typing import Any

DEBUG_ENV = "FOODREC_DEBUG"
QUIET_ENV: dict[str, str] = {"TF_CPP_MIN_LOG_LEVEL": "3", "GRPC_VERBOSITY": "ERROR", "GLOG_minloglevel": "3"}
NOISY_MODULES = r"(tensorflow|tf_keras|keras|keras_rs|absl)(\.|$)"
NOISY_LOGGERS = ("tensorflow", "absl")


def debugging() -> bool:
    """True when ``FOODREC_DEBUG`` is set (to anything but empty): show TensorFlow's output and tracebacks."""
    return bool(os.environ.get(DEBUG_ENV))


def quiet_tensorflow() -> None:
    """Silence TensorFlow's start-up lines and Python warnings unless ``FOODREC_DEBUG`` is set (idempotent).

    Call it before the first TensorFlow or Keras import; afterwards only the loggers and warning filters apply.
    """
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if debugging():
        return
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    warnings.filterwarnings("ignore", module=NOISY_MODULES)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    if "tensorflow" not in sys.modules and not any(isinstance(f, _SilentFirstImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _SilentFirstImport())


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at ``/dev/null`` for the block (what C/C++ libraries write there is dropped)."""
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class _SilentFirstImport(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` as usual but runs its top-level import under :func:`native_stderr_silenced`; one shot."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != "tensorflow":
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _SilentLoader(spec.loader)
        return spec


class _SilentLoader(importlib.abc.Loader):
    def __init__(self, inner: Any):
        self._inner = inner

    def create_module(self, spec: Any) -> Any:
        return self._inner.create_module(spec)

    def exec_module(self, module: Any) -> None:
        with native_stderr_silenced():
            self._inner.exec_module(module)

    def __getattr__(self, name: str) -> Any:  # get_filename, get_resource_reader, is_package ...
        return getattr(self._inner, name)
