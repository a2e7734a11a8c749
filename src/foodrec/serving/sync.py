"""Processes serving from one event store stay in step: each folds in the orders the others took, and reloads when
another one was told to (``foodrec serve --workers N``, or replicas sharing a PostgreSQL store).

Every ``interval_s`` a :class:`WorkerSync` (one per process, started with the app) reads

* the newest reload generation (``EventStore.latest_reload``): an admin reload on any process records one
  (:meth:`~foodrec.serving.deps.Service.reload`), and a process that sees a newer one reloads with the same
  variant overrides, so all of them serve the same models within one interval;
* the order events received since a little before the newest one it saw (``EventStore.read_orders_since``), and
  folds those it has not folded yet into every variant's features exactly as ``POST /v1/events`` does for its own
  (the same slot stamping; the customer's cached answers are dropped). An order id counts once in a feature
  view, so an order read twice (the overlap covers transactions that committed late) changes nothing.

>>> # create_app(state, events, sync_interval_s=1.0)   -- what `foodrec serve --workers 2` does in each worker
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from foodrec.serving.events import Event

if TYPE_CHECKING:
    from foodrec.serving.deps import Service

log = logging.getLogger("foodrec.serving")
# Orders are read again from this long before the newest one seen: a transaction that committed late (its
# received_at is earlier than an order already read) is still found; clocks of replicas may differ this much.
OVERLAP = timedelta(seconds=30)


class WorkerSync:
    """Polls the event store for reloads and orders of the other processes (see the module docstring)."""

    def __init__(self, service: Service, interval_s: float):
        self.service = service
        self.interval_s = interval_s
        self.since = datetime.now(UTC) - OVERLAP
        self.generation = service.events.latest_reload()[0]  # this process loaded the models just now
        self.folded: set[str] = set()  # order ids read in the current window (read again: skipped)
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="foodrec-sync")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.step()
            except Exception as err:  # noqa: BLE001 - a database hiccup must not stop the loop: next time
                log.warning("sync with the event store failed: %s: %s", type(err).__name__, err)
                self.service.metrics.inc("foodrec_sync_failures_total")

    async def step(self) -> tuple[bool, int]:
        """One poll: (whether the models were reloaded, orders folded in)."""
        loop = asyncio.get_running_loop()
        events = self.service.events
        generation, variants = await loop.run_in_executor(None, events.latest_reload)
        reloaded = False
        if generation > self.generation:
            self.generation = generation
            try:
                await loop.run_in_executor(None, self.service.state.reload, variants or None)
                reloaded = True
                self.service.metrics.inc("foodrec_model_reloads_total", result="ok (another process)")
            except Exception as err:  # noqa: BLE001 - the old models keep serving, as on a failed admin reload
                log.error("reload of generation %d failed, still serving the previous models: %s", generation, err)
                self.service.metrics.inc("foodrec_model_reloads_total", result="failed (another process)")
        orders = await loop.run_in_executor(None, events.read_orders_since, self.since)
        if orders.empty:
            return reloaded, 0
        fresh = orders[~orders["event_id"].isin(self.folded)]
        self.folded = set(orders["event_id"].tolist())
        self.since = max(self.since, orders["received_at"].max().to_pydatetime() - OVERLAP)
        if fresh.empty:
            return reloaded, 0
        from foodrec.serving.routers.events import _fold_in as fold_in

        await fold_in(
            self.service,
            [
                Event(event_id=str(r.event_id), type="order", customer_id=str(r.customer_id), variant="",
                      items=tuple(r.items), area=r.area, occurred_at=r.occurred_at.to_pydatetime())
                for r in fresh.itertuples(index=False)
            ],
        )  # fmt: skip
        return reloaded, len(fresh)
