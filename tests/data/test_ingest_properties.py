"""Hypothesis: on garbage rows, every row read is accepted, quarantined or a duplicate, and none is lost."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from foodrec.data.ingest import ingest
from foodrec.data.store import Store

HEADER = "order_id,customer_id,ordered_at,area,restaurant_id,quantity,unit_price"
GOOD_TIMES = ["2026-01-01T10:00:00Z", "2026-01-02 11:30:00", "1767700800", "2026-01-03T09:00:00+02:00"]
garbage = st.text(alphabet="ab19 -:TZ+.", max_size=6)
ids = st.sampled_from(["o1", "o2", "c1", "a1", "r1", "", " r2 "])
fields = st.lists(
    st.one_of(garbage, ids, st.sampled_from(GOOD_TIMES), st.sampled_from(["1", "2", "-1", "3.5", "x"])),
    min_size=5,
    max_size=8,
)
plausible = st.tuples(ids, ids, st.sampled_from(GOOD_TIMES + ["soon"]), ids, ids, st.sampled_from(["1", "-1", ""]),
                      st.sampled_from(["4.5", "", "-2"])).map(list)  # fmt: skip
rows = st.lists(st.one_of(fields, plausible), min_size=1, max_size=40)


def run(lines: list[str]) -> tuple[dict, pd.DataFrame, pd.DataFrame | None]:
    """Ingest the lines as a CSV into a fresh store: (summary, quarantine, orders or None)."""
    with tempfile.TemporaryDirectory(prefix="foodrec-hyp-") as tmp:
        folder = Path(tmp)
        (folder / "orders.csv").write_text(HEADER + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
        summary = ingest([str(folder / "orders.csv")], folder / "store")
        store = Store.open(folder / "store")
        return summary, store.quarantine(), store.orders() if summary["totals"]["accepted"] else None


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows)
def test_every_row_is_accounted_for_and_none_is_lost(data):
    lines = [",".join(r) for r in data]
    nonblank = [line for line in lines if line != ""]
    summary, quarantine, orders = run(lines)
    totals = summary["totals"]
    assert totals["read"] == totals["accepted"] + totals["quarantined"] + totals["duplicates"]
    assert totals["read"] == len(nonblank)  # no quotes: one record per non-empty line
    assert len(quarantine) == totals["quarantined"] and quarantine["line"].is_unique
    # Each line not quarantined is in the store (as itself or as the row it duplicates).
    file_lines = [(n, line) for n, line in enumerate(lines, start=2) if line != ""]
    quarantined = set(quarantine["line"])
    kept = [line for n, line in file_lines if n not in quarantined]
    assert len(kept) == totals["accepted"] + totals["duplicates"]
    stored = set() if orders is None else set(zip(orders["order_id"], orders["customer_id"], orders["area"],
                                                  orders["restaurant_id"], strict=True))  # fmt: skip
    for line in kept:
        values = [v.strip() for v in line.split(",")]
        assert (values[0], values[1], values[3], values[4]) in stored


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(alphabet='a1,"-: Z\n', max_size=25), min_size=1, max_size=20))
def test_quotes_and_line_breaks_never_break_the_accounting(lines):
    summary, quarantine, _ = run(lines)
    totals = summary["totals"]
    assert totals["read"] == totals["accepted"] + totals["quarantined"] + totals["duplicates"]
    assert len(quarantine) == totals["quarantined"]
