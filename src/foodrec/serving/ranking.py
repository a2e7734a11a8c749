"""One query's ranking for a route: through the event loop's batches to the model's ranking process when it has
one (:class:`~foodrec.serving.rank_process.LoopBatches`), else through the micro-batcher's thread.

>>> # ranked = await rank_query(service, snapshot, model, Query("c1", "9q8yy", slot, 10))
"""

from __future__ import annotations

import asyncio
from typing import Any

from foodrec.serving.deps import Service
from foodrec.serving.state import LoadedModel, Query, Ranked, Snapshot


async def rank_query(service: Service, snapshot: Snapshot, model: LoadedModel, query: Query) -> Ranked:
    """The model's :class:`Ranked` for ``query``, its empty slots filled by the snapshot's fallback;
    :class:`~foodrec.serving.batching.Overloaded` or :class:`TimeoutError` when the service cannot rank now."""
    fallback = snapshot.fallbacks.get(model.level)
    if model.remote is not None:
        return await remote_batches(service, model.remote).submit(query, fallback)
    return await service.batcher.submit(model, (query, fallback), timeout=service.recommend_timeout_s)


def remote_batches(service: Service, remote: Any) -> Any:
    """The running loop's client of a ranking process; attached on first use (or when the loop changed) with the
    service's queue limit, timeout and batch-size metric."""
    loop = asyncio.get_running_loop()
    client = remote.client
    if client is None or client.loop is not loop or client.closed:
        batcher = service.batcher
        client = remote.attach(
            loop, max_pending=batcher.max_pending, timeout_s=service.recommend_timeout_s, on_batch=batcher.on_batch
        )
    return client
