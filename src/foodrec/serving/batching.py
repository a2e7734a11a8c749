"""Opportunistic micro-batching: one worker thread runs the model on whatever queries piled up meanwhile.

Ranking one query at a time behind an HTTP server pays the per-call overhead of pandas/Keras for every
request. The worker takes every job queued while it was busy (up to ``max_batch``), groups them by
model and makes one call per group; under light load a batch is one query, so latency does not grow.
When others were already waiting it lingers while more keep arriving (at most ``linger_s``, 5 ms), so that
requests the event loop is still parsing join the batch.
The event loop only enqueues and awaits, so it keeps accepting connections while the model works.

>>> import asyncio
>>> batcher = MicroBatcher(lambda key, payloads: [p * 2 for p in payloads])
>>> asyncio.run(batcher.submit("model", 21))
42
>>> batcher.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
import weakref
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any


class Overloaded(Exception):
    """More jobs are waiting than the queue allows; the caller should shed the request (HTTP 503)."""


@dataclass
class _Job:
    key: Hashable
    payload: Any
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


def _resolve(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.done():  # the client went away and the request was cancelled
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


def _expire(future: asyncio.Future[Any], timeout: float) -> None:
    if not future.done():
        future.set_exception(TimeoutError(f"no answer from the model within {timeout:g} s"))


def _deliver_all(outcomes: list[tuple[_Job, Any, BaseException | None]]) -> None:
    """Results of a batch: one wake-up of each event loop for all of its jobs, not one per job."""
    by_loop: dict[int, list[tuple[_Job, Any, BaseException | None]]] = {}
    for outcome in outcomes:
        by_loop.setdefault(id(outcome[0].loop), []).append(outcome)
    for group in by_loop.values():
        with contextlib.suppress(RuntimeError):  # the loop was closed meanwhile: nobody is waiting any more
            group[0][0].loop.call_soon_threadsafe(_resolve_all, group)


def _resolve_all(outcomes: list[tuple[_Job, Any, BaseException | None]]) -> None:
    for job, value, error in outcomes:
        _resolve(job.future, value, error)


class MicroBatcher:
    """Runs ``run_batch(key, payloads) -> results`` (same length, same order) in one worker thread."""

    def __init__(
        self,
        run_batch: Callable[[Any, Sequence[Any]], Sequence[Any]],
        max_batch: int = 64,
        max_pending: int = 1024,
        on_batch: Callable[[int], None] | None = None,
        linger_s: float = 0.005,
        linger_step_s: float = 0.0005,
    ):
        self._run_batch = run_batch
        self.max_batch = max_batch
        self.max_pending = max_pending
        self.on_batch = on_batch  # called with each batch's size (the service's batch-size metric)
        self.linger_s = linger_s
        self.linger_step_s = linger_step_s
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._pending = 0
        self._closed = False
        self._lock = threading.Lock()
        # Per event loop: the deadline and timeout of each waiting future, and the task that enforces them.
        self._deadlines: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict] = weakref.WeakKeyDictionary()
        self._watchdogs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
        self._thread = threading.Thread(target=self._work, name="foodrec-recommend", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        return self._pending

    async def submit(self, key: Hashable, payload: Any, timeout: float | None = None) -> Any:
        """Queue one job and wait for its result.

        :class:`Overloaded` when the queue is full or the batcher closed; :class:`TimeoutError` when no result
        came within ``timeout`` seconds (a stuck model must not hold requests forever).
        """
        with self._lock:
            if self._closed:
                raise Overloaded("shutting down")
            if self._pending >= self.max_pending:
                raise Overloaded(f"{self._pending} recommendation requests are queued")
            self._pending += 1
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.put(_Job(key, payload, future, loop))
        if timeout is None:
            return await future
        # One watchdog per event loop checks the deadlines a few times a second: a timer per request (heap push,
        # cancel) cost more of the event loop than the rest of the queueing together.
        deadlines = self._deadlines.setdefault(loop, {})
        deadlines[future] = (loop.time() + timeout, timeout)
        watchdog = self._watchdogs.get(loop)
        if watchdog is None or watchdog.done():
            self._watchdogs[loop] = loop.create_task(self._watch(loop, deadlines), name="foodrec-batch-watchdog")
        try:
            return await future
        finally:
            deadlines.pop(future, None)

    async def _watch(self, loop: asyncio.AbstractEventLoop, deadlines: dict) -> None:
        """Fail the requests of ``loop`` still waiting past their deadline (a stuck model holds nobody forever)."""
        while True:
            step = min((timeout for _, timeout in deadlines.values()), default=1.0) / 20
            await asyncio.sleep(min(max(step, 0.001), 0.25))
            now = loop.time()
            for future, (deadline, timeout) in list(deadlines.items()):
                if deadline <= now:
                    deadlines.pop(future, None)
                    _expire(future, timeout)
            if not deadlines:
                return

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _work(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            jobs = [first]
            stop = self._drain(jobs)
            if not stop and len(jobs) > 1 and self.linger_s > 0:
                # Under load (others were already waiting), give the event loop the GIL in short steps while
                # requests keep arriving, so those it is parsing join this batch instead of each paying the
                # model's per-call overhead alone. Stops at the first quiet step, after linger_s at most.
                deadline = time.perf_counter() + self.linger_s
                while not stop and len(jobs) < self.max_batch and time.perf_counter() < deadline:
                    before = len(jobs)
                    time.sleep(self.linger_step_s)
                    stop = self._drain(jobs)
                    if len(jobs) == before:
                        break
            with self._lock:
                self._pending -= len(jobs)
            if self.on_batch is not None:
                with contextlib.suppress(Exception):  # metrics must never stop the worker
                    self.on_batch(len(jobs))
            groups: dict[int, list[_Job]] = {}
            for job in jobs:
                groups.setdefault(id(job.key), []).append(job)
            for group in groups.values():
                self._run_group(group)
            if stop:
                return

    def _drain(self, jobs: list[_Job]) -> bool:
        """Move queued jobs into ``jobs`` up to the batch size; True when the stop signal was seen."""
        while len(jobs) < self.max_batch:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return False
            if job is None:
                return True
            jobs.append(job)
        return False

    def _run_group(self, group: list[_Job]) -> None:
        try:
            results = self._run_batch(group[0].key, [job.payload for job in group])
            if len(results) != len(group):
                raise RuntimeError(f"batch function returned {len(results)} results for {len(group)} jobs")
        except Exception as err:  # delivered to each waiting request, which decides what to answer
            _deliver_all([(job, None, err) for job in group])
            return
        _deliver_all([(job, result, None) for job, result in zip(group, results, strict=True)])
