"""Shared state of one running service, handed to the routers as a FastAPI dependency.

>>> from fastapi import Depends
>>> def endpoint(service: Service = Depends(get_service)): ...   # how a router asks for it
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from foodrec.serving.batching import MicroBatcher
from foodrec.serving.cache import ResponseCache
from foodrec.serving.events import EventStore
from foodrec.serving.metrics import Metrics
from foodrec.serving.state import ServiceState, Snapshot

log = logging.getLogger("foodrec.serving")


@dataclass
class Service:
    """The loaded models, the event store, metrics and limits of one app instance."""

    state: ServiceState
    events: EventStore
    metrics: Metrics
    batcher: MicroBatcher
    event_writer: MicroBatcher
    admin_token: str | None = None
    max_in_flight: int = 256
    max_body_bytes: int = 1 << 20
    recommend_timeout_s: float = 10.0
    cache: ResponseCache = field(default_factory=ResponseCache)
    in_flight: int = field(default=0)
    sync: Any = None  # the WorkerSync of this process (foodrec.serving.sync), when it polls the event store

    def reload(self, overrides: dict[str, str] | None = None) -> Snapshot:
        """Reload the models here (:meth:`ServiceState.reload`), then record it in the event store so that every
        other process serving from it reloads the same way (:mod:`foodrec.serving.sync`)."""
        snapshot = self.state.reload(overrides)
        try:
            generation = self.events.announce_reload(dict(overrides or {}))
        except Exception as err:  # noqa: BLE001 - this process reloaded; the others keep their models
            log.error("reloaded here, but could not tell the other processes: %s: %s", type(err).__name__, err)
            return snapshot
        if self.sync is not None:
            self.sync.generation = max(self.sync.generation, generation)  # not again when it polls
        return snapshot


async def get_service(request: Request) -> Service:
    # async on purpose: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per request.
    return request.app.state.service
