"""Shared state of one running service, handed to the routers as a FastAPI dependency.

>>> from fastapi import Depends
>>> def endpoint(service: Service = Depends(get_service)): ...   # how a router asks for it
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from foodrec.serving.batching import MicroBatcher
from foodrec.serving.cache import ResponseCache
from foodrec.serving.events import EventStore
from foodrec.serving.metrics import Metrics
from foodrec.serving.state import ServiceState


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


async def get_service(request: Request) -> Service:
    # async on purpose: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per request.
    return request.app.state.service
