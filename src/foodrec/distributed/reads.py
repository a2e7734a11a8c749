"""Parallel reads of the day-partitioned order store with Ray Data.

The store keeps one folder per UTC day (``orders/day=YYYY-MM-DD/``, see :mod:`foodrec.data.store`); Ray Data
reads the day files as parallel read tasks across the engine's workers (on a cluster, from storage every node
sees). The result is the same frame as :meth:`foodrec.data.store.Store.orders` (DuckDB, the embedded default).

>>> with RayEngine(workers=2):                                            # doctest: +SKIP
...     orders = read_orders(Store.open("runs/store"), until="2026-03-01")
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from foodrec.data.orderlog import to_utc_timestamp
from foodrec.data.schema import ORDER_COLUMNS
from foodrec.errors import StoreError


def read_orders(store: Any, until: object = None, parallelism: int | None = None) -> pd.DataFrame:
    """Order lines strictly before ``until`` (all without it), sorted like :meth:`Store.orders`; Ray must be up."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import ray

    parts = store.order_parts(until)
    if not store.order_parts():
        raise StoreError(f"store {str(store.path)!r} holds no orders yet (run `foodrec ingest`)")
    if not parts:
        return store.orders(until=until)  # nothing before the cutoff: the embedded reader's empty frame
    ds = ray.data.read_parquet(
        [str(p) for p in parts],
        partitioning=None,  # the day is ordered_at's; no extra column
        override_num_blocks=parallelism or len(parts),
    )
    if until is not None:
        cut = pa.scalar(to_utc_timestamp(until).to_pydatetime(), pa.timestamp("us", tz="UTC"))
        ds = ds.map_batches(lambda t: t.filter(pc.less(t["ordered_at"], cut)), batch_format="pyarrow")
    # Parts written by older versions may lack optional columns: missing ones become nulls, as in DuckDB's
    # union_by_name.
    tables = [t for t in ray.get(ds.to_arrow_refs()) if t.num_rows]
    if not tables:
        return store.orders(until="1900-01-01")
    frame = pa.concat_tables(tables, promote_options="default").to_pandas()
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"], utc=True)
    frame = frame.sort_values(["ordered_at", "order_id"], kind="stable").reset_index(drop=True)
    ordered = [c for c in ORDER_COLUMNS if c in frame.columns]
    return frame[ordered + [c for c in frame.columns if c not in ordered]]
