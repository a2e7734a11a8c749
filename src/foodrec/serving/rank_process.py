"""A model's ranking in a process of its own, so that the event loop and the network's arithmetic use two cores.

Python lets one thread run Python at a time (the GIL). Ranking in a thread of the server (numpy in many small
steps, each taking the GIL back) shared one core with the event loop: on the demo model a ranked answer cost about
0.4 ms of that core, 0.2 ms of it ranking. With the ranking made free (a stand-in answering each batch after 2 ms)
the same event loop answered 3,655 distinct requests/s at 0.18 ms of CPU each, the cost of ``/healthz``.

:class:`RankProcess` holds a copy of a recommender (for the Keras model: its numpy weights and its feature view,
no TensorFlow) in a spawned process. The server's ranking thread sends each micro-batch's parsed queries through a
pipe and waits for the top k without holding the GIL. New orders reach both copies (:meth:`RankProcess.observe`,
called by :meth:`~foodrec.serving.state.ServiceState.observe`), so the answers are exactly those of the copy in the
server (a test compares them); ``explain`` and the customer routes keep reading the copy in the server.

>>> from datetime import UTC, datetime
>>> remote = RankProcess(recommender)                                                  # doctest: +SKIP
>>> remote.recommend_parsed(["c1"], ["9q8yy"], [datetime.now(UTC)], k=10).items       # doctest: +SKIP
>>> remote.close()                                                                     # doctest: +SKIP
"""

from __future__ import annotations

import copy
import multiprocessing
import pickle
import signal
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from foodrec.errors import InputError
from foodrec.recommenders.base import Ranking, Recommender

START_TIMEOUT_S = 300.0
# Attributes of a fitted Keras recommender that ranking does not read and that do not cross a process boundary
# (the Keras model itself: ranking uses its numpy copy, NumpyRanker).
_LOCAL_ONLY = ("model", "outcome", "engine", "progress")


def portable(recommender: Recommender) -> Recommender:
    """A shallow copy of ``recommender`` without what ranking does not need and pickle cannot carry."""
    clone = copy.copy(recommender)
    for name in _LOCAL_ONLY:
        if hasattr(clone, name):
            setattr(clone, name, None)
    return clone


def supports(recommender: Recommender) -> bool:
    """Whether ``recommender`` ranks from arrays in a process of its own (the Keras model; baselines rank
    through pandas in the server, where moving them would gain little)."""
    from foodrec.recommenders.keras.recommender import KerasRecommender

    return isinstance(recommender, KerasRecommender)


def _child(conn: Any, payload: bytes) -> None:
    """The ranking process: answers ``(method, args)`` messages with ``("ok", result)`` or ``("error", line)``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the server stops this one
    try:
        recommender = pickle.loads(payload)
    except Exception as err:  # noqa: BLE001 - reported to the server as one line
        conn.send(("error", f"{type(err).__name__}: {err}"))
        return
    del payload
    conn.send(("ok", None))
    while True:
        try:
            method, args = conn.recv()
        except (EOFError, OSError):  # the server went away
            return
        if method == "stop":
            return
        try:
            if method == "recommend_parsed":
                ranking = recommender.recommend_parsed(*args)
                result: Any = (ranking.items, ranking.scores)
            elif method == "observe":
                result = recommender.observe(*args)
            else:
                raise ValueError(f"unknown request {method!r}")
        except Exception as err:  # noqa: BLE001 - the server decides (fallback answer, log line)
            conn.send(("error", f"{type(err).__name__}: {err}"))
            continue
        conn.send(("ok", result))


class RankProcess:
    """A copy of ``recommender`` ranking in a spawned process; :meth:`recommend_parsed` and :meth:`observe` as the
    recommender's own, one request at a time (a lock: orders sent by :meth:`observe` reach the copy before any later
    request). A reader thread handing back pipelined answers measured no faster (3,670-3,750 against 3,770-3,970
    answers/s) and a second batch in flight no faster either, so the process waits for each answer."""

    def __init__(self, recommender: Recommender, start_timeout: float = START_TIMEOUT_S):
        payload = pickle.dumps(portable(recommender), protocol=pickle.HIGHEST_PROTOCOL)
        context = multiprocessing.get_context("spawn")  # never fork a process that loaded TensorFlow
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_child, args=(child, payload), name="foodrec-rank", daemon=True)
        self._process.start()
        child.close()
        self._lock = threading.Lock()
        if not self._conn.poll(start_timeout):
            self.close()
            raise InputError(f"the ranking process did not start within {start_timeout:g} s")
        try:
            status, detail = self._conn.recv()
        except EOFError:
            self.close()
            raise InputError(f"the ranking process exited while starting (code {self._process.exitcode})") from None
        if status != "ok":
            self.close()
            raise InputError(f"the ranking process could not load the model: {detail}")

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def _call(self, method: str, *args: Any) -> Any:
        with self._lock:
            try:
                self._conn.send((method, args))
                status, value = self._conn.recv()
            except (EOFError, OSError) as err:
                raise RuntimeError(f"the ranking process is gone (exit code {self._process.exitcode})") from err
        if status != "ok":
            raise RuntimeError(f"in the ranking process: {value}")
        return value

    def recommend_parsed(
        self, customer_ids: Sequence[str], areas: Sequence[str | None], at: Sequence[datetime], k: int = 10
    ) -> Ranking:
        items, scores = self._call("recommend_parsed", list(customer_ids), list(areas), list(at), k)
        return Ranking(items, scores)

    def observe(self, orders: pd.DataFrame) -> int:
        return self._call("observe", orders)

    def close(self) -> None:
        """Stop the process (it also stops by itself when the server's end of the pipe closes)."""
        if self._lock.acquire(timeout=1.0):
            try:
                self._conn.send(("stop", ()))
            except (OSError, ValueError):
                pass
            finally:
                self._lock.release()
        self._process.join(timeout=2.0)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=2.0)
        self._conn.close()
