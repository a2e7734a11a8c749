"""A model's ranking in a process of its own, so that the event loop and the network's arithmetic use two cores.

Python lets one thread run Python at a time (the GIL). Ranking in a thread of the server (numpy in many small
steps, each taking the GIL back) shared one core with the event loop: on the demo model a ranked answer cost about
0.4 ms of that core, 0.2 ms of it ranking. With the ranking made free (a stand-in answering each batch after 2 ms)
the same event loop answered 3,655 distinct requests/s at 0.18 ms of CPU each, the cost of ``/healthz``.

:class:`RankProcess` holds a copy of a recommender (for the Keras model: its numpy weights and its feature view,
no TensorFlow) in a spawned process. The event loop sends the queries of ``/v1/recommendations`` down a pipe of their
own (:class:`LoopBatches`: whatever waits goes as one batch, two batches in flight, answers read by a reader
callback of the loop); a thread handing the batches over (the micro-batcher) cost a GIL handoff per batch and left
the process idle meanwhile: 0.74-0.77 x ``/healthz`` against 0.92-0.94 x this way, alternating runs on the demo
model. Other callers (interleaving, the thread path) use :meth:`RankProcess.recommend_parsed` on the control pipe.
New orders reach both copies (:meth:`RankProcess.observe`, called by
:meth:`~foodrec.serving.state.ServiceState.observe`), so the answers are exactly those of the copy in the server (a
test compares them); ``explain`` and the customer routes keep reading the copy in the server.

>>> from datetime import UTC, datetime
>>> remote = RankProcess(recommender)                                                  # doctest: +SKIP
>>> remote.recommend_parsed(["c1"], ["9q8yy"], [datetime.now(UTC)], k=10).items       # doctest: +SKIP
>>> remote.close()                                                                     # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import multiprocessing
import pickle
import signal
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from multiprocessing.connection import wait
from typing import Any

import pandas as pd

from foodrec.errors import InputError
from foodrec.recommenders.base import Ranking, Recommender
from foodrec.serving.batching import Overloaded
from foodrec.serving.state import Query, ranked_batch

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


def _child(conn: Any, batches: Any, payload: bytes) -> None:
    """The ranking process: answers ``(method, args)`` messages on ``conn`` with ``("ok", result)`` or
    ``("error", line)``, and ``(batch id, args)`` messages on ``batches`` (the event loop's) with
    ``(batch id, "ok" or "error", result)``, one message at a time in the order they come."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the server stops this one
    try:
        recommender = pickle.loads(payload)
    except Exception as err:  # noqa: BLE001 - reported to the server as one line
        conn.send(("error", f"{type(err).__name__}: {err}"))
        return
    del payload
    conn.send(("ok", None))

    def answer(method: str, args: Any) -> tuple[str, Any]:
        try:
            if method == "recommend_parsed":
                ranking = recommender.recommend_parsed(*args)
                return "ok", (ranking.items, ranking.scores)
            if method == "observe":
                return "ok", recommender.observe(*args)
            raise ValueError(f"unknown request {method!r}")
        except Exception as err:  # noqa: BLE001 - the server decides (fallback answer, log line)
            return "error", f"{type(err).__name__}: {err}"

    while True:
        try:
            for ready in wait([conn, batches]):
                if ready is batches:
                    batch_id, args = batches.recv()
                    batches.send((batch_id, *answer("recommend_parsed", args)))
                    continue
                method, args = conn.recv()
                if method == "stop":
                    return
                conn.send(answer(method, args))
        except (EOFError, OSError):  # the server went away
            return


class RankProcess:
    """A copy of ``recommender`` ranking in a spawned process; :meth:`recommend_parsed` and :meth:`observe` as the
    recommender's own, one request at a time (a lock: orders sent by :meth:`observe` reach the copy before any later
    request). A reader thread handing back pipelined answers measured no faster (3,670-3,750 against 3,770-3,970
    answers/s) and a second batch in flight no faster either, so the process waits for each answer."""

    def __init__(self, recommender: Recommender, start_timeout: float = START_TIMEOUT_S):
        payload = pickle.dumps(portable(recommender), protocol=pickle.HIGHEST_PROTOCOL)
        context = multiprocessing.get_context("spawn")  # never fork a process that loaded TensorFlow
        self._conn, child = context.Pipe()
        self._batches, child_batches = context.Pipe()
        self._process = context.Process(
            target=_child, args=(child, child_batches, payload), name="foodrec-rank", daemon=True
        )
        self._process.start()
        child.close()
        child_batches.close()
        self._lock = threading.Lock()
        self._client: LoopBatches | None = None
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
        """Fold new orders into the copy. A batch the event loop sent before may be ranked with or without them
        (its cache key has the customer's old order count: never read again); one sent after the call returns is
        ranked with them."""
        return self._call("observe", orders)

    @property
    def client(self) -> LoopBatches | None:
        """The event loop's client attached by :meth:`attach` (None before)."""
        return self._client

    def attach(self, loop: asyncio.AbstractEventLoop, **options: Any) -> LoopBatches:
        """A new client of this process for ``loop`` (:class:`LoopBatches` with ``options``); the one before (of
        another loop: a test client started again, or of a dead process) is detached."""
        if self._client is not None:
            self._client.detach("another event loop took over")
        self._client = LoopBatches(self._batches, loop, **options)
        return self._client

    def close(self) -> None:
        """Stop the process (it also stops by itself when the server's end of the pipe closes)."""
        client, self._client = self._client, None
        if client is not None:
            client.close_soon()
        elif not self._batches.closed:
            self._batches.close()
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


class LoopBatches:
    """The event loop's own line to a ranking process: no thread between them, so no GIL handoff per batch.

    :meth:`submit` queues a query; whatever waits goes down the pipe as one batch (at most ``max_batch``) as soon as
    fewer than ``depth`` batches are in flight, so the process finds the next batch waiting when it finishes one.
    Answers are read by a reader callback of the loop and handed out as each query's :class:`Ranked` (the fallback
    filling empty slots, as the micro-batcher's path does; a failed batch is answered by the fallback with the
    error). A batch unanswered after ``timeout_s`` fails its queries with :class:`TimeoutError`; more than
    ``max_pending`` waiting raises :class:`~foodrec.serving.batching.Overloaded`. One loop uses it (not
    thread-safe): the route's coroutines on the server's loop.
    """

    def __init__(
        self,
        conn: Any,
        loop: asyncio.AbstractEventLoop,
        # 16: the process ranks one batch while the loop reads the next requests (32 connections, demo model:
        # 12, 24 or 32 did worse); no lingering for more requests: the next batch piles up in the meantime.
        max_batch: int = 16,
        depth: int = 2,
        max_pending: int = 1024,
        timeout_s: float = 10.0,
        on_batch: Callable[[int], None] | None = None,
    ):
        self.conn, self.loop = conn, loop
        self.max_batch, self.depth, self.max_pending, self.timeout_s = max_batch, depth, max_pending, timeout_s
        self.on_batch = on_batch
        self.closed = False
        self._pending: list[tuple[Query, Any, asyncio.Future]] = []
        self._in_flight: dict[int, tuple[float, list[tuple[Query, Any, asyncio.Future]]]] = {}
        self._ids = itertools.count()
        self._watch: asyncio.TimerHandle | None = None
        loop.add_reader(conn.fileno(), self._readable)

    def submit(self, query: Query, fallback: Any) -> asyncio.Future:
        """A future of the query's :class:`Ranked`."""
        if self.closed:
            raise Overloaded("the ranking process is shutting down")
        if len(self._pending) >= self.max_pending:
            raise Overloaded(f"{len(self._pending)} recommendation requests are queued")
        future = self.loop.create_future()
        self._pending.append((query, fallback, future))
        if len(self._in_flight) < self.depth:
            self._send()
        return future

    def _send(self) -> None:
        while self._pending and len(self._in_flight) < self.depth:
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            queries = [query for query, _, _ in batch]
            k = max(q.k for q in queries)
            args = ([q.customer_id for q in queries], [q.area for q in queries], [q.at for q in queries], k)
            batch_id = next(self._ids)
            try:
                self.conn.send((batch_id, args))
            except (OSError, ValueError) as err:  # the process is gone: the fallback answers
                self._answer(batch, None, f"the ranking process is gone ({type(err).__name__})")
                continue
            self._in_flight[batch_id] = (self.loop.time(), batch)
            if self.on_batch is not None:
                with contextlib.suppress(Exception):  # metrics must never stop ranking
                    self.on_batch(len(batch))
        if self._in_flight and self._watch is None:
            self._watch = self.loop.call_later(self.timeout_s / 4, self._expire)

    def _readable(self) -> None:
        try:
            while self.conn.poll():
                batch_id, status, value = self.conn.recv()
                _, batch = self._in_flight.pop(batch_id, (None, None))
                if batch is None:
                    continue  # a batch that timed out, answered late
                if status == "ok":
                    self._answer(batch, Ranking(*value), None)
                else:
                    self._answer(batch, None, f"in the ranking process: {value}")
        except (EOFError, OSError):
            self.detach("the ranking process is gone")
            return
        self._send()

    @staticmethod
    def _answer(batch: list, ranking: Ranking | None, error: str | None) -> None:
        queries = [query for query, _, _ in batch]
        for (_, _, future), ranked in zip(batch, ranked_batch(queries, ranking, error, batch[0][1]), strict=True):
            if not future.done():  # the client went away
                future.set_result(ranked)

    def _expire(self) -> None:
        """Fail the queries of batches (and of queries waiting behind them) older than the timeout."""
        self._watch = None
        deadline = self.loop.time() - self.timeout_s
        error = TimeoutError(f"no answer from the model within {self.timeout_s:g} s")
        for batch_id, (sent, batch) in list(self._in_flight.items()):
            if sent <= deadline:
                del self._in_flight[batch_id]
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(error)
        if not self._in_flight:
            self._send()
        if self._in_flight:
            self._watch = self.loop.call_later(self.timeout_s / 4, self._expire)

    def detach(self, why: str) -> None:
        """Stop reading the pipe; what waits is answered by the fallback (``why`` as the error)."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):
            self.loop.remove_reader(self.conn.fileno())
        if self._watch is not None:
            self._watch.cancel()
        for _, batch in self._in_flight.values():
            self._answer(batch, None, why)
        if self._pending:
            self._answer(self._pending, None, why)
        self._in_flight, self._pending = {}, []

    def close_soon(self) -> None:
        """:meth:`detach` and close the pipe, on the loop's thread (the selector must forget the descriptor before it
        is closed); at once when the loop is closed already."""

        def close() -> None:
            self.detach("the model was reloaded")
            self.conn.close()

        try:
            self.loop.call_soon_threadsafe(close)
        except RuntimeError:  # the loop is closed: nothing reads the pipe any more
            self.closed = True
            self.conn.close()
