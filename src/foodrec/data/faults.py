"""Fault injection for the write paths: ``FOODREC_FAULT_AT=<step>`` kills the process at that step.

The kill is a real ``SIGKILL`` (no ``finally``, no ``atexit``, no flushing), so a test that runs a command with
the variable set sees exactly what a crash or ``kill -9`` at that point leaves behind. The steps of an ingest are
listed in :data:`INGEST_STEPS` (see ``docs/data.md``, "Faults").

>>> fault_point("nowhere")   # without FOODREC_FAULT_AT=nowhere this does nothing
"""

from __future__ import annotations

import os
import signal

ENV = "FOODREC_FAULT_AT"

# The steps of an ingest's commit, in order (a new store has only ``staged`` and ``renamed``).
INGEST_STEPS: tuple[str, ...] = (
    "staged",  # everything is written in the staging folder; the store is untouched
    "journal-written",  # the commit point: the journal naming every move is durable in the store
    "first-part-moved",  # one Parquet part moved in
    "parts-moved",  # all order and quarantine parts moved in
    "tables-moved",  # catalogue tables, copies and the summary moved in
    "catalogue-moved",  # the catalogue replaced; the journal still there
    "journal-removed",  # the journal removed; the staging folder still there
    "renamed",  # a new store: its staging folder renamed into place
)


def fault_point(step: str) -> None:
    """Kill this process with SIGKILL when ``FOODREC_FAULT_AT`` names ``step``."""
    if os.environ.get(ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)
