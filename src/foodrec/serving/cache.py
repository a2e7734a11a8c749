"""Response cache for ``/v1/recommendations``: rank once per customer, area and time slot, answer repeats from memory.

A ranking depends on the variant's model, the customer, the area, the time and ``k``. The service ranks at a
time resolution (default 5 minutes: every request in the same slot is ranked for the slot's start), so a
customer who opens the app, scrolls and comes back within the slot gets the same answer, and the model
runs once for it. The cache keeps the serialised answer (without the per-request ``request_id`` and ``at``)
in a bounded LRU. It belongs to one snapshot generation: a hot reload empties it, so no answer of an old
model is served after the swap.

It also remembers validated query strings (customer, area, time, k by the raw query string), so an app that
sends the same query again (``at`` left out: "now") skips parsing and validation too.

Both are capped in bytes as well as in entries: ``max_bytes`` for the answers, a quarter of it for the remembered
query strings, and a query string longer than :data:`MAX_REMEMBERED_QUERY_BYTES` is never remembered (a real one
is a few hundred bytes; unknown parameters are ignored by the API, so a client could otherwise make every entry
60 KB and grow the server by a gigabyte). The sizes are estimates: the bytes held plus a fixed overhead per entry.

Only the event loop touches the cache (the route is ``async``), so it needs no lock.

>>> from datetime import datetime, UTC
>>> cache = ResponseCache(max_entries=2, resolution_s=300)
>>> cache.slot(datetime(2026, 3, 1, 12, 34, 56, tzinfo=UTC)).isoformat()
'2026-03-01T12:30:00+00:00'
>>> key = cache.key(1, "control", "c1", "9q8yy", datetime(2026, 3, 1, 12, 30, tzinfo=UTC), 10)
>>> cache.get(key) is None
True
>>> cache.put(key, CachedAnswer(b'{"k":10}', "control", "v1", 0))
>>> cache.get(key).body
b'{"k":10}'
>>> cache.hits, cache.misses
(1, 1)
>>> 0 < cache.nbytes < 1000
True
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

DEFAULT_MAX_ENTRIES = 20_000
DEFAULT_MAX_BYTES = 64 << 20
MAX_REMEMBERED_QUERY_BYTES = 2048
# Python objects around the bytes of one entry (key tuple, answer object, LRU node; measured with tracemalloc).
ANSWER_OVERHEAD_BYTES = 400
QUERY_OVERHEAD_BYTES = 450
DEFAULT_RESOLUTION_S = 300
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

MAX_ORDERING_CUSTOMERS = 200_000  # customers whose order counter is kept (part of the key); ~20 MB at most
Key = tuple[int, str, str, str | None, int, int, int]
Parsed = tuple[str, str | None, datetime | None, int]  # customer_id, area, at, k


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """A serialised answer: ``body`` is the JSON object without ``request_id`` and ``at``."""

    body: bytes
    variant: str
    model_version: str
    fallback_items: int


class ResponseCache:
    """Bounded LRU of rankings keyed by (generation, variant, customer, area, time slot, k).

    ``max_entries=0`` (or ``max_bytes=0``) turns caching off (every request is ranked); the time resolution still
    applies, so an answer never depends on whether it came from the cache.
    """

    def __init__(
        self,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        resolution_s: int = DEFAULT_RESOLUTION_S,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ):
        if max_entries < 0:
            raise ValueError("max_entries must be >= 0")
        if resolution_s < 1:
            raise ValueError("resolution_s must be >= 1 second")
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        self.max_entries = max_entries if max_bytes > 0 else 0
        self.max_bytes = max_bytes
        self.max_query_bytes = max_bytes // 4
        self.resolution_s = resolution_s
        self.answer_bytes = 0
        self.query_bytes = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0
        self._entries: OrderedDict[Key, CachedAnswer] = OrderedDict()
        self._parsed: OrderedDict[bytes, Parsed] = OrderedDict()
        self._generation = -1
        self._orders: dict[str, int] = {}  # customer -> orders seen by this service (part of the cache key)

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        """Estimated memory held: answers plus remembered query strings."""
        return self.answer_bytes + self.query_bytes

    def slot(self, when: datetime) -> datetime:
        """The start of ``when``'s time slot (UTC): the time the ranking is computed for."""
        seconds = int((when - _EPOCH).total_seconds() // self.resolution_s) * self.resolution_s
        return datetime.fromtimestamp(seconds, UTC)

    def key(self, generation: int, variant: str, customer_id: str, area: str | None, slot: datetime, k: int) -> Key:
        if generation != self._generation:
            # A new snapshot (hot reload): answers of the old models must not be served any more.
            self._entries.clear()
            self.answer_bytes = 0
            self._generation = generation
        # The customer's order count in the key: their next request after an order is ranked anew.
        return (generation, variant, customer_id, area, int(slot.timestamp()), k, self._orders.get(customer_id, 0))

    def ordered(self, customer_id: str) -> None:
        """The customer just ordered: their cached answers are stale (the feature view has the order now)."""
        if customer_id not in self._orders and len(self._orders) >= MAX_ORDERING_CUSTOMERS:
            # Bounded: start over (no cached answer may outlive its customer's counter).
            self._orders.clear()
            self._entries.clear()
            self.answer_bytes = 0
        self._orders[customer_id] = self._orders.get(customer_id, 0) + 1

    def get(self, key: Key) -> CachedAnswer | None:
        if not self.enabled:
            return None
        answer = self._entries.get(key)
        if answer is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return answer

    def put(self, key: Key, answer: CachedAnswer) -> None:
        if not self.enabled or key[0] != self._generation:
            return  # caching off, or a reload happened while this answer was being ranked
        old = self._entries.pop(key, None)
        if old is not None:
            self.answer_bytes -= _answer_cost(key, old)
        self._entries[key] = answer
        self.answer_bytes += _answer_cost(key, answer)
        while len(self._entries) > self.max_entries or self.answer_bytes > self.max_bytes:
            dropped_key, dropped = self._entries.popitem(last=False)
            self.answer_bytes -= _answer_cost(dropped_key, dropped)
            self.evictions += 1

    def parsed(self, query_string: bytes) -> Parsed | None:
        """The validated parameters of a query string seen before (None when new or caching is off)."""
        if not self.enabled:
            return None
        parsed = self._parsed.get(query_string)
        if parsed is not None:
            self._parsed.move_to_end(query_string)
        return parsed

    def remember(self, query_string: bytes, parsed: Parsed) -> None:
        """Keep the validated parameters of a query string (only valid ones: errors are checked every time)."""
        if not self.enabled or len(query_string) > MAX_REMEMBERED_QUERY_BYTES:
            return  # a long query string (unknown parameters) is validated every time rather than held
        old = self._parsed.pop(query_string, None)
        if old is not None:
            self.query_bytes -= _query_cost(query_string, old)
        self._parsed[query_string] = parsed
        self.query_bytes += _query_cost(query_string, parsed)
        while len(self._parsed) > self.max_entries or self.query_bytes > self.max_query_bytes:
            dropped_key, dropped = self._parsed.popitem(last=False)
            self.query_bytes -= _query_cost(dropped_key, dropped)


def _answer_cost(key: Key, answer: CachedAnswer) -> int:
    _, variant, customer_id, area, *_ = key
    return ANSWER_OVERHEAD_BYTES + len(answer.body) + len(customer_id) + len(area or "") + len(variant)


def _query_cost(query_string: bytes, parsed: Parsed) -> int:
    customer_id, area, _, _ = parsed
    return QUERY_OVERHEAD_BYTES + len(query_string) + len(customer_id) + len(area or "")
