"""Validation: raw columns -> typed canonical columns, and a quarantine reason for each bad row.

Everything is one vectorised DuckDB query per file (no per-row Python). A row is quarantined when
its ``__reason`` is not empty; reasons of one row are joined with ``"; "``. The reasons:

============================  ==========================================================================
``missing <column>``          a required column is empty (order_id, customer_id, ordered_at, area,
                              restaurant_id; the key of a catalogue row; restaurant_id of an item)
``unparseable ordered_at``    not ISO 8601, ``YYYY-MM-DD HH:MM:SS`` or epoch seconds
``ordered_at out of range``   before 1990 or from 2100 on (e.g. epoch milliseconds)
``non-numeric <column>``      quantity or a money column holds text that is not a number
``negative <column>``         quantity, unit_price, order_total, discount, tip or refunded_amount < 0
``quantity not a positive     quantity 0 or fractional
integer``
``<column> out of range``     quantity over 1,000,000 or a money column at or over 1e9 in size (``1e20``,
                              ``2^63``: nothing a shop sells)
``non-integral <column>``     an id read from a float column (Parquet) that is not a whole number below 2^53
``<column> has a control      an id with a control character (tab, CR, NUL, ...): the service refuses it
character``
``<column> too long``         an id over 128 characters: the service refuses it
``impossible UTC offset``     a timestamp offset beyond +14:00/-14:00 or with minutes over 59
``unknown restaurant``        the store knows its restaurants and this one is not among them
``unknown item``              the store knows its items and this one is not among them
``item of another             the item is sold by a different restaurant than the order line says
restaurant``
``unknown restaurant for      an item (catalogue row) whose restaurant is not in the restaurants table
item``
``conflicting duplicate       a catalogue row repeats an earlier row's key with other values
<key>``
``wrong number of fields``    a CSV record the parser could not split into the header's columns
============================  ==========================================================================

>>> REASON_SEP
'; '
"""

from __future__ import annotations

from foodrec.data.readers.tables import LINE, RawTable
from foodrec.data.schema import (
    CATALOGUE_TABLES,
    ID_COLUMNS,
    MAX_ID_LENGTH,
    MONEY_COLUMNS,
    ORDER_COLUMNS,
    REQUIRED_ORDER_COLUMNS,
)

REASON_SEP = "; "
EARLIEST, LATEST = "1990-01-01", "2100-01-01"
NON_NEGATIVE = ("quantity", "unit_price", "order_total", "discount", "tip", "refunded_amount")
# Epoch seconds: up to 11 digits (year 5138); longer digit strings are not seconds.
_EPOCH = r"[+-]?[0-9]{1,11}([.][0-9]+)?"
MAX_QUANTITY = 1_000_000
MAX_MONEY = 1e9
MAX_OFFSET_HOURS = 14  # UTC-12:00 .. UTC+14:00 are the offsets in use; allow 14 both ways
# A clock time then an offset: groups 3 and 4 are the offset's hours and minutes.
_OFFSET = r"[0-9]:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)? ?[+-]([0-9]{2}):?([0-9]{2})?$"
CATALOGUE_IDS = frozenset({"restaurant_id", "item_id", "customer_id", "chain_id", "area", "home_area"})


def _id_reasons(column: str, value: str, raw: RawTable) -> list[str]:
    """Reasons for an id the service would refuse (control characters, too long) or a float id not whole."""
    reasons = [
        f"CASE WHEN regexp_matches({value}, '[\\x00-\\x1f\\x7f]') THEN '{column} has a control character' END",
        f"CASE WHEN length({value}) > {MAX_ID_LENGTH} THEN '{column} too long' END",
    ]
    if column in raw.nonintegral:
        reasons.append(f"CASE WHEN n.__nonint_{column} THEN 'non-integral {column}' END")
    return reasons


def row_hash_sql(prefix: str = "") -> str:
    """A 64-bit hash of a canonical order line, with the stored types, to find exact duplicates fast."""
    parts = []
    for column in ORDER_COLUMNS:
        kind = "VARCHAR" if column in ID_COLUMNS else "TIMESTAMPTZ" if column == "ordered_at" else (
            "BIGINT" if column == "quantity" else "DOUBLE")  # fmt: skip
        parts.append(f"CAST({prefix}{column} AS {kind})")
    return f"hash({', '.join(parts)})"


def _finite(value: str) -> str:
    """The number in ``value`` (text or numeric); NULL when missing, not a number, NaN or infinite."""
    return f"CASE WHEN isfinite(TRY_CAST({value} AS DOUBLE)) THEN TRY_CAST({value} AS DOUBLE) END"


def _not_a_number(value: str) -> str:
    """True when ``value`` is present but not a finite number; NaN counts as missing (pandas writes it so)."""
    return f"({value} IS NOT NULL AND (TRY_CAST({value} AS DOUBLE) IS NULL OR isinf(TRY_CAST({value} AS DOUBLE))))"


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ts_expr(mode: str, value: str, timezone: str) -> str:
    """SQL for an instant (TIMESTAMPTZ) from ``value`` read per ``mode``; NULL when unparseable.

    Naive text is read in the session time zone, which the caller sets to ``timezone``.
    """
    if mode == "tstz":
        return f"CAST({value} AS TIMESTAMPTZ)"
    if mode == "naive":
        return f"timezone({_sql_str(timezone)}, CAST({value} AS TIMESTAMP))"
    if mode == "epoch":
        return f"CASE WHEN abs({value}) < 1e11 THEN to_timestamp(CAST({value} AS DOUBLE)) END"
    return (
        f"CASE WHEN regexp_full_match({value}, '{_EPOCH}') THEN to_timestamp(CAST({value} AS DOUBLE))"
        f" ELSE TRY_CAST({value} AS TIMESTAMPTZ) END"
    )


def _reasons(parts: list[str]) -> str:
    """``CASE WHEN <cond> THEN '<reason>' END`` parts -> the row's reasons joined, '' for a good row.

    The joined text is built only for rows where some condition holds (most rows are good).
    """
    if not parts:
        return "''"
    conditions = " OR ".join("(" + p.removeprefix("CASE WHEN ").rsplit(" THEN '", 1)[0] + ")" for p in parts)
    return f"CASE WHEN {conditions} THEN concat_ws({_sql_str(REASON_SEP)}, {', '.join(parts)}) ELSE '' END"


def orders_sql(raw: RawTable, relation: str, timezone: str, refs: set[str]) -> str:
    """SELECT giving canonical typed order columns, ``__line`` and ``__reason`` for every row of ``relation``.

    ``refs`` names the reference tables that exist (``ref_restaurants``, ``ref_items``) for the
    referential checks; set the connection's TimeZone to ``timezone`` before running it.
    """
    exprs = raw.exprs
    inner = [LINE]
    for column in ORDER_COLUMNS:
        value = exprs.get(column, "NULL")
        if column == "ordered_at":
            inner.append(f"{value} AS __ts_raw")
        elif column in ID_COLUMNS:
            inner.append(f"CAST({value} AS VARCHAR) AS {column}")
            if column in raw.nonintegral:
                inner.append(f"{raw.nonintegral[column]} AS __nonint_{column}")
        else:
            inner.append(f"{value} AS __raw_{column}")
    mid = [LINE, "__ts_raw"] + [c for c in ORDER_COLUMNS if c in ID_COLUMNS]
    mid += [f"__nonint_{c}" for c in ORDER_COLUMNS if c in raw.nonintegral]
    mid.append(f"{_ts_expr(raw.ts_mode, '__ts_raw', timezone)} AS ordered_at")
    for column in ORDER_COLUMNS:
        if column in MONEY_COLUMNS or column == "quantity":
            mid.append(f"{_finite(f'__raw_{column}')} AS __num_{column}")
            mid.append(f"{_not_a_number(f'__raw_{column}')} AS __bad_{column}")
    reasons = []
    for column in REQUIRED_ORDER_COLUMNS:
        source = "n.__ts_raw" if column == "ordered_at" else f"n.{column}"
        reasons.append(f"CASE WHEN {source} IS NULL THEN 'missing {column}' END")
    reasons.append("CASE WHEN n.__ts_raw IS NOT NULL AND n.ordered_at IS NULL THEN 'unparseable ordered_at' END")
    reasons.append(
        f"CASE WHEN n.ordered_at < TIMESTAMPTZ '{EARLIEST} 00:00:00+00' OR n.ordered_at >= TIMESTAMPTZ"
        f" '{LATEST} 00:00:00+00' THEN 'ordered_at out of range' END"
    )
    for column in NON_NEGATIVE:
        reasons.append(f"CASE WHEN n.__bad_{column} THEN 'non-numeric {column}' END")
        reasons.append(f"CASE WHEN n.__num_{column} < 0 THEN 'negative {column}' END")
    reasons.append(
        "CASE WHEN n.__num_quantity >= 0 AND (n.__num_quantity = 0 OR n.__num_quantity <> floor(n.__num_quantity))"
        " THEN 'quantity not a positive integer' END"
    )
    reasons.append(f"CASE WHEN n.__num_quantity > {MAX_QUANTITY} THEN 'quantity out of range' END")
    for column in sorted(MONEY_COLUMNS):
        reasons.append(f"CASE WHEN abs(n.__num_{column}) >= {MAX_MONEY:.0f} THEN '{column} out of range' END")
    for column in ORDER_COLUMNS:
        if column in ID_COLUMNS:
            reasons += _id_reasons(column, f"n.{column}", raw)
    if raw.ts_mode == "text":
        offset = [f"TRY_CAST(regexp_extract(n.__ts_raw, '{_OFFSET}', {g}) AS INTEGER)" for g in (3, 4)]
        reasons.append(
            f"CASE WHEN {offset[0]} > {MAX_OFFSET_HOURS} OR {offset[1]} > 59 THEN 'impossible UTC offset' END"
        )
    joins = ""
    if "ref_restaurants" in refs:
        joins += " LEFT JOIN ref_restaurants rr ON rr.restaurant_id = n.restaurant_id"
        reasons.append(
            "CASE WHEN n.restaurant_id IS NOT NULL AND rr.restaurant_id IS NULL THEN 'unknown restaurant' END"
        )
    if "ref_items" in refs:
        joins += " LEFT JOIN ref_items ri ON ri.item_id = n.item_id"
        reasons.append("CASE WHEN n.item_id IS NOT NULL AND ri.item_id IS NULL THEN 'unknown item' END")
        reasons.append(
            "CASE WHEN ri.item_id IS NOT NULL AND n.restaurant_id IS NOT NULL AND ri.restaurant_id IS NOT NULL"
            " AND ri.restaurant_id <> n.restaurant_id THEN 'item of another restaurant' END"
        )
    out = [f"n.{LINE}"]
    for column in ORDER_COLUMNS:
        if column in ID_COLUMNS or column == "ordered_at":
            out.append(f"n.{column}")
        elif column == "quantity":
            out.append("CASE WHEN n.__num_quantity = floor(n.__num_quantity) AND abs(n.__num_quantity) < 1e15"
                       " THEN CAST(n.__num_quantity AS BIGINT) END AS quantity")  # fmt: skip
        elif column == "unit_price" and raw.source.kind == "dhrd" and "ref_items" in refs:
            # DHRD order lines carry no price: take the product's price from products_<city>.txt.
            out.append("COALESCE(n.__num_unit_price, ri.unit_price) AS unit_price")
        else:
            out.append(f"n.__num_{column} AS {column}")
    out.append(f"{_reasons(reasons)} AS __reason")
    # Layers: raw text per column -> parsed values -> checked columns with reasons -> plus the row hash.
    layer1 = f"SELECT {', '.join(inner)} FROM {relation}"
    layer2 = f"SELECT {', '.join(mid)} FROM ({layer1})"
    layer3 = f"SELECT {', '.join(out)} FROM ({layer2}) n{joins}"
    return f"SELECT *, {row_hash_sql()} AS __h FROM ({layer3})"


def catalogue_sql(raw: RawTable, relation: str, refs: set[str]) -> str:
    """SELECT giving a catalogue table's canonical columns, ``__line`` and ``__reason`` (before key checks)."""
    table = raw.source.table
    columns, keys = CATALOGUE_TABLES[table]
    required = keys + (("restaurant_id",) if table == "items" else ())
    inner = [LINE]
    for column in columns:
        value = raw.exprs.get(column, "NULL")
        if column == "unit_price":
            inner.append(f"{_finite(value)} AS unit_price")
            inner.append(f"{_not_a_number(value)} AS __bad_unit_price")
        else:
            inner.append(f"CAST({value} AS VARCHAR) AS {column}")
            if column in raw.nonintegral:
                inner.append(f"{raw.nonintegral[column]} AS __nonint_{column}")
    reasons = [f"CASE WHEN n.{c} IS NULL THEN 'missing {c}' END" for c in required]
    for column in columns:
        if column in CATALOGUE_IDS:
            reasons += _id_reasons(column, f"n.{column}", raw)
    if table == "items":
        reasons.append(f"CASE WHEN abs(n.unit_price) >= {MAX_MONEY:.0f} THEN 'unit_price out of range' END")
    if table == "items":
        reasons.append("CASE WHEN n.__bad_unit_price THEN 'non-numeric unit_price' END")
        reasons.append("CASE WHEN n.unit_price < 0 THEN 'negative unit_price' END")
    joins = ""
    if table == "items" and "ref_restaurants" in refs:
        joins = " LEFT JOIN ref_restaurants rr ON rr.restaurant_id = n.restaurant_id"
        reasons.append(
            "CASE WHEN n.restaurant_id IS NOT NULL AND rr.restaurant_id IS NULL THEN 'unknown restaurant for item' END"
        )
    out = [f"n.{LINE}"] + [f"n.{c}" for c in columns] + [f"{_reasons(reasons)} AS __reason"]
    return f"SELECT {', '.join(out)} FROM (SELECT {', '.join(inner)} FROM {relation}) n{joins}"
