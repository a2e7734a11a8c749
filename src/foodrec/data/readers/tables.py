"""Read one planned file into a :class:`RawTable`: raw columns, line numbers, canonical expressions.

CSV and DHRD text are read by ``pyarrow.csv`` with every column as text (multi-threaded, no per-row
Python); Parquet keeps its native types. Nothing is converted here: :mod:`foodrec.data.validate`
turns the raw columns into canonical ones with the SQL expressions in :attr:`RawTable.exprs`, so a
bad value becomes a quarantined row with a reason, never an exception.

>>> from pathlib import Path
>>> import tempfile
>>> tmp = Path(tempfile.mkdtemp()) / "orders.csv"
>>> _ = tmp.write_text("order_id,customer_id,ordered_at,area,restaurant_id\\no1,c1,2026-01-01T12:00Z,a1,r1\\n")
>>> raw = read_source(SourceFile(tmp, "orders", "csv", "orders.csv"))
>>> raw.data.num_rows, raw.data.column("__line").to_pylist(), raw.exprs["area"]
(1, [2], 'NULLIF("area", \\'\\')')
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv
import pyarrow.parquet as pq

from foodrec.data.readers.detect import SourceFile
from foodrec.data.schema import CATALOGUE_TABLES, ORDER_COLUMNS, REQUIRED_ORDER_COLUMNS
from foodrec.errors import InputError

LINE = "__line"
_HEAD_BYTES = 1 << 16
_OTHER_DELIMITERS = {";": "';'", "\t": "tab", "|": "'|'"}

# DHRD column -> canonical column, per file kind (order_day/order_time become ordered_at).
_DHRD_COLUMNS = {
    "orders": {"order_id": "order_id", "customer_id": "customer_id", "area": "geohash",
               "restaurant_id": "vendor_id", "item_id": "product_id"},
    "restaurants": {"restaurant_id": "vendor_id", "chain_id": "chain_id", "area": "geohash",
                    "cuisine": "primary_cuisine", "name": "name"},
    "items": {"item_id": "product_id", "restaurant_id": "vendor_id", "name": "name", "unit_price": "unit_price"},
}  # fmt: skip
_DHRD_REQUIRED = {
    "orders": ("customer_id", "geohash", "order_id", "vendor_id", "product_id", "order_time", "order_day"),
    "restaurants": ("vendor_id",),
    "items": ("product_id", "vendor_id"),
}


@dataclass
class RawTable:
    """A file's raw rows and how to get canonical columns from them.

    ``exprs`` maps each canonical column the file provides to a DuckDB SQL expression over the raw
    columns; ``ts_mode`` says what ``exprs['ordered_at']`` yields: ``text`` (to be parsed), ``tstz``
    (an instant), ``naive`` (a local timestamp) or ``epoch`` (seconds). ``bad_rows`` are records the
    CSV parser could not split into the header's columns: (line, reason, raw text).
    """

    source: SourceFile
    data: pa.Table
    exprs: dict[str, str]
    ts_mode: str = "text"
    bad_rows: list[tuple[int, str, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return self.data.num_rows + len(self.bad_rows)

    @property
    def raw_columns(self) -> list[str]:
        return [c for c in self.data.column_names if c != LINE]


def quote(name: str) -> str:
    """A DuckDB identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def read_source(src: SourceFile) -> RawTable:
    """Read ``src``; a one-line :class:`InputError` when the file itself is unusable."""
    if src.kind == "parquet":
        data = _read_parquet(src)
    else:
        data, bad = _read_csv(src)
    raw = RawTable(src, data, {}, bad_rows=bad if src.kind != "parquet" else [])
    if src.kind == "dhrd":
        _dhrd_exprs(raw)
    else:
        _canonical_exprs(raw)
    return raw


# -- files -----------------------------------------------------------------------------------------------
def _head(src: SourceFile) -> bytes:
    try:
        size = src.path.stat().st_size
        with open(src.path, "rb") as fh:
            head = fh.read(_HEAD_BYTES)
    except OSError as err:
        raise InputError(f"{src.label}: cannot read ({err.strerror or err})") from err
    if size == 0 or not head.strip():
        raise InputError(f"{src.label}: file is empty")
    return head


def _read_csv(src: SourceFile) -> tuple[pa.Table, list[tuple[int, str, str]]]:
    head = _head(src)
    if b"\x00" in head or head.startswith(b"PAR1"):
        raise InputError(f"{src.label}: binary content, not a CSV text file")
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as err:
        raise InputError(f"{src.label}: not UTF-8 text (byte {err.start}); save it as UTF-8 CSV") from err
    first_line = text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""
    delimiter = ","
    if src.kind == "dhrd" and "," not in first_line and "\t" in first_line:
        delimiter = "\t"  # DHRD copies are sometimes tab separated
    header = [h.strip() for h in next(csv.reader(io.StringIO(first_line), delimiter=delimiter))] if first_line else []
    if not header or not any(header):
        raise InputError(f"{src.label}: no header line (the first line must name the columns)")
    # An unnamed column is usually a saved pandas index (DHRD copies have one): keep it under a made-up name.
    header = [h or f"_unnamed_{i}" for i, h in enumerate(header)]
    if len(header) == 1 and delimiter == ",":
        for char, name in _OTHER_DELIMITERS.items():
            if char in header[0]:
                raise InputError(f"{src.label}: wrong delimiter: the header is split by {name}, foodrec expects ','")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise InputError(f"{src.label}: the header has a duplicate column {dupes[0]!r}")
    if LINE in header:
        raise InputError(f"{src.label}: column name {LINE!r} is reserved")
    bad: list[str] = []

    def on_bad(row: pv.InvalidRow) -> str:
        bad.append(f"{row.expected_columns}:{row.actual_columns}:{row.text}")
        return "skip"

    table = _arrow_csv(src, header, delimiter, on_bad, threads=True)
    bad_rows: list[tuple[int, str, str]] = []
    if bad:
        # Threaded parsing does not know line numbers; re-read on one thread to learn them (rare case).
        numbered: list[tuple[int, str, str]] = []

        def on_bad_numbered(row: pv.InvalidRow) -> str:
            reason = f"wrong number of fields ({row.actual_columns}, expected {row.expected_columns})"
            numbered.append((int(row.number) if row.number is not None else -1, reason, row.text))
            return "skip"

        table = _arrow_csv(src, header, delimiter, on_bad_numbered, threads=False)
        bad_rows = numbered
    # Record numbers: the header is 1, data records follow (equal to line numbers unless a quoted field spans lines).
    total = table.num_rows + len(bad_rows)
    records = np.arange(2, total + 2, dtype=np.int64)  # record numbers: the header is 1
    if bad_rows:
        records = records[~np.isin(records, [n for n, _, _ in bad_rows])][: table.num_rows]
    if _count_lines(src) == total + 1:
        return table.append_column(LINE, pa.array(records)), bad_rows  # records are lines
    return _split_spanning_records(table, records, bad_rows, _nonempty_line_numbers(src), delimiter)


SPANNING = "line break inside a value (unbalanced quote?)"


def _count_lines(src: SourceFile) -> int:
    """Lines of the file (a last line without a line break counts), in one fast pass.

    Equal to records + 1 exactly when no record spans lines and no line is blank: then record numbers are lines.
    """
    lines, last = 0, b"\n"
    with open(src.path, "rb") as fh:
        while chunk := fh.read(1 << 24):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n")


def _nonempty_line_numbers(src: SourceFile) -> np.ndarray:
    """1-based numbers of the file's non-empty lines (the slow, exact path)."""
    data = np.fromfile(src.path, dtype=np.uint8)
    breaks = np.flatnonzero(data == 10)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(data)]])
    length = ends - starts
    carriage = (length == 1) & (data[np.minimum(starts, max(len(data) - 1, 0))] == 13)
    return np.flatnonzero((length > 0) & ~carriage) + 1


def _split_spanning_records(
    table: pa.Table, records: np.ndarray, bad_rows: list[tuple[int, str, str]], lines: np.ndarray, delimiter: str
) -> tuple[pa.Table, list[tuple[int, str, str]]]:
    """Blank lines or records spanning lines: give every record its first line and quarantine spanning ones.

    A quoted value with a line break is almost always a stray quote that swallowed the following lines;
    accepting it would lose those lines silently, so the record goes to quarantine with its raw text.
    """
    extra = np.zeros(table.num_rows, np.int64)
    for name in table.column_names:
        extra += pc.fill_null(pc.count_substring(table.column(name), "\n"), 0).to_numpy().astype(np.int64)
    numbers = np.concatenate([records, np.array([n for n, _, _ in bad_rows], np.int64)])
    spans = np.concatenate([extra, np.array([t.count("\n") for _, _, t in bad_rows], np.int64)])
    order = np.argsort(numbers, kind="stable")
    first = np.empty(len(numbers), np.int64)
    before = np.concatenate([[0], np.cumsum(spans[order])[:-1]])
    first[order] = np.arange(len(numbers)) + 1 + before  # index into the non-empty lines, after the header
    line = np.where(first < len(lines), lines[np.minimum(first, len(lines) - 1)], numbers)
    good_lines, bad_lines = line[: table.num_rows], line[table.num_rows :]
    new_bad = [(int(n), reason, text) for n, (_, reason, text) in zip(bad_lines, bad_rows, strict=True)]
    spanning = extra > 0
    if spanning.any():
        rows = table.filter(pa.array(spanning)).to_pylist()
        for n, row in zip(good_lines[spanning], rows, strict=True):
            new_bad.append((int(n), SPANNING, delimiter.join("" if v is None else v for v in row.values())))
        table, good_lines = table.filter(pa.array(~spanning)), good_lines[~spanning]
    return table.append_column(LINE, pa.array(good_lines)), sorted(new_bad)


def _arrow_csv(src: SourceFile, header: list[str], delimiter: str, on_bad, threads: bool) -> pa.Table:
    try:
        return pv.read_csv(
            src.path,
            read_options=pv.ReadOptions(use_threads=threads, skip_rows=1, column_names=header, block_size=8 << 20),
            parse_options=pv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_bad, newlines_in_values=False),
            convert_options=pv.ConvertOptions(
                column_types={h: pa.string() for h in header},
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
                null_values=[""],
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError) as err:
        msg = str(err).splitlines()[0]
        if "UTF8" in msg or "utf-8" in msg.lower():
            raise InputError(f"{src.label}: not UTF-8 text; save it as UTF-8 CSV") from err
        raise InputError(f"{src.label}: cannot read as CSV: {msg}") from err


def _read_parquet(src: SourceFile) -> pa.Table:
    head = _head(src)
    if not head.startswith(b"PAR1"):
        raise InputError(f"{src.label}: not a Parquet file (no PAR1 magic bytes)")
    try:
        table = pq.read_table(src.path)
    except (pa.ArrowInvalid, OSError) as err:
        raise InputError(f"{src.label}: cannot read as Parquet: {str(err).splitlines()[0]}") from err
    if LINE in table.column_names:
        raise InputError(f"{src.label}: column name {LINE!r} is reserved")
    # Parquet has no lines: row numbers from 1.
    return table.append_column(LINE, pa.array(np.arange(1, table.num_rows + 1, dtype=np.int64)))


# -- canonical expressions ----------------------------------------------------------------------------------
def _value_expr(data: pa.Table, column: str) -> str:
    """SQL for a raw column's value: text trimmed, empty text NULL; other types as they are.

    Trimming is costly in SQL, so it is only asked for when some value starts or ends with blank space
    (checked with Arrow, a few milliseconds a column). CSV readers already turn empty fields into NULL.

    >>> print(_value_expr(pa.table({"a": ["x", None]}), "a"))
    NULLIF("a", '')
    >>> "TRIM" in _value_expr(pa.table({"a": [" x"]}), "a")
    True
    """
    col = quote(column)
    kind = data.schema.field(column).type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        return col
    values = data.column(column)
    trimmed = pc.ascii_trim_whitespace(values)
    if pc.any(pc.not_equal(pc.binary_length(values), pc.binary_length(trimmed))).as_py():
        return f"NULLIF(TRIM({col}, ' ' || chr(9) || chr(13)), '')"
    return f"NULLIF({col}, '')"


def _ts_mode(kind: pa.DataType) -> str:
    if pa.types.is_timestamp(kind):
        return "tstz" if kind.tz else "naive"
    if pa.types.is_date(kind):
        return "naive"
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        return "epoch"
    return "text"


def _table_columns(table: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(all canonical columns, required columns) of a table."""
    if table == "orders":
        return ORDER_COLUMNS, REQUIRED_ORDER_COLUMNS
    columns, keys = CATALOGUE_TABLES[table]
    required = keys + (("restaurant_id",) if table == "items" else ())
    return columns, required


def _canonical_exprs(raw: RawTable) -> None:
    src, names = raw.source, raw.raw_columns
    mapping = dict(src.column_map)
    columns, required = _table_columns(src.table)
    for ours, theirs in mapping.items():
        if theirs not in names and ours in columns:
            shown = ", ".join(names)
            raise InputError(f"--map {ours}={theirs}: {src.label} has no column {theirs!r} (columns: {shown})")
    for column in columns:
        theirs = mapping.get(column, column)
        if theirs in names:
            raw.exprs[column] = _value_expr(raw.data, theirs)
    missing = [c for c in required if c not in raw.exprs]
    if missing:
        hint = " (rename with --map ours=theirs)" if src.table == "orders" else ""
        raise InputError(f"{src.label}: required column {missing[0]!r} is missing (columns: {', '.join(names)}){hint}")
    used = {mapping.get(c, c) for c in raw.exprs}
    raw.ignored = [c for c in names if c not in used]
    if "ordered_at" in raw.exprs:
        raw.ts_mode = _ts_mode(raw.data.schema.field(mapping.get("ordered_at", "ordered_at")).type)


def _dhrd_exprs(raw: RawTable) -> None:
    src, names = raw.source, raw.raw_columns
    table = src.table
    missing = [c for c in _DHRD_REQUIRED[table] if c not in names]
    if missing:
        raise InputError(f"{src.label}: DHRD column {missing[0]!r} is missing (columns: {', '.join(names)})")
    for ours, theirs in _DHRD_COLUMNS[table].items():
        if theirs in names:
            raw.exprs[ours] = _value_expr(raw.data, theirs)
    if table == "orders":
        day, time = _value_expr(raw.data, "order_day"), _value_expr(raw.data, "order_time")
        anchor = src.anchor.isoformat()
        # "11 days" after the anchor date, at the local order_time; '#' marks a present but unusable value.
        raw.exprs["ordered_at"] = (
            f"CASE WHEN {day} IS NULL OR {time} IS NULL THEN NULL ELSE COALESCE("
            f"strftime(DATE '{anchor}' + TRY_CAST(regexp_extract({day}, '^(-?[0-9]+)', 1) AS INTEGER), '%Y-%m-%d')"
            f" || ' ' || {time}, '#') END"
        )
        raw.ts_mode = "text"
    used = set(_DHRD_COLUMNS[table].values()) | {"order_day", "order_time"}
    raw.ignored = [c for c in names if c not in used and c != "day_of_week" and not c.startswith("_unnamed_")]
