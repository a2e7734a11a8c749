"""Readers: find what a SOURCE holds and read it as raw tables for validation.

A source is a canonical CSV/Parquet file (optionally renamed with ``--map``), a DHRD text file or
directory, or a directory written by ``foodrec generate``. :func:`plan_sources` expands the sources
into files without reading them; :func:`read_source` reads one file into a :class:`RawTable`:
the raw columns (text for CSV, native types for Parquet) plus a ``__line`` column, and SQL
expressions that give each canonical column from the raw ones.

>>> parse_map("order_id=OrderNo, ordered_at=Time")
{'order_id': 'OrderNo', 'ordered_at': 'Time'}
>>> plan = plan_sources(["orders.csv"], fmt="auto")   # doctest: +SKIP
>>> [f.table for f in plan.files]                     # doctest: +SKIP
['orders']
"""

from __future__ import annotations

from foodrec.data.readers.detect import SourceFile, SourcePlan, parse_map, plan_sources
from foodrec.data.readers.tables import RawTable, read_source

__all__ = ["RawTable", "SourceFile", "SourcePlan", "parse_map", "plan_sources", "read_source"]
