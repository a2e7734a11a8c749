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
from foodrec.data.schema import CATALOGUE_TABLES, ID_COLUMNS, ORDER_COLUMNS, REQUIRED_ORDER_COLUMNS
from foodrec.errors import InputError

LINE = "__line"
_ID_COLUMNS = ID_COLUMNS | {"chain_id", "home_area"}
_HEAD_BYTES = 1 << 16
BLOCK_SIZE = 8 << 20  # bytes per block of the threaded CSV reader (tests make it small)
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
    physical_rows: int = -1  # non-empty data lines of a CSV (rows of a Parquet file), counted apart from parsing
    nonintegral: dict[str, str] = field(default_factory=dict)  # id column -> SQL: true when a float id is not whole

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
        data, physical, bad = _read_parquet(src), pq.ParquetFile(src.path).metadata.num_rows, []
    else:
        data, bad, physical = _read_csv(src)
    raw = RawTable(src, data, {}, bad_rows=bad, physical_rows=physical)
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


def _read_csv(src: SourceFile) -> tuple[pa.Table, list[tuple[int, str, str]], int]:
    """(records, bad records, non-empty data lines): every non-empty line after the header is one of the first two."""
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

    try:
        table = _arrow_csv(src, header, delimiter, on_bad, threads=True)
    except _ParseFailure:
        return _read_lines_exact(src, header, delimiter)
    lines, all_lines, lone_cr = _line_stats(src)
    if lone_cr or table.num_rows + len(bad) != lines - 1:
        # Records are not lines: a stray quote swallowed lines (the threaded reader may even drop the rest of
        # its block), a lone CR split one, or blank lines shift the numbers. Read line by line instead.
        return _read_lines_exact(src, header, delimiter)
    bad_rows: list[tuple[int, str, str]] = []
    if bad:
        # Threaded parsing does not know line numbers; re-read on one thread to learn them (rare case).
        numbered: list[tuple[int, str, str]] = []

        def on_bad_numbered(row: pv.InvalidRow) -> str:
            reason = f"wrong number of fields ({row.actual_columns}, expected {row.expected_columns})"
            numbered.append((int(row.number) if row.number is not None else -1, reason, row.text))
            return "skip"

        try:
            table = _arrow_csv(src, header, delimiter, on_bad_numbered, threads=False)
        except _ParseFailure:
            return _read_lines_exact(src, header, delimiter)
        if table.num_rows + len(numbered) != lines - 1 or any(n < 0 for n, _, _ in numbered):
            return _read_lines_exact(src, header, delimiter)
        bad_rows = numbered
    # One record per non-empty line, in order: record numbers are line numbers unless blank lines are skipped.
    total = table.num_rows + len(bad_rows)
    if all_lines == total + 1:
        records = np.arange(2, total + 2, dtype=np.int64)  # the header is line 1
        if bad_rows:
            records = records[~np.isin(records, [n for n, _, _ in bad_rows])]
        return table.append_column(LINE, pa.array(records)), bad_rows, total
    nonempty = _nonempty_line_numbers(src)[1:]  # after the header
    is_bad = np.zeros(total, bool)
    if bad_rows:
        is_bad[np.array([n for n, _, _ in bad_rows], np.int64) - 2] = True  # record numbers from 2
    bad_rows = [(int(nonempty[n - 2]), reason, text) for n, reason, text in bad_rows]
    return table.append_column(LINE, pa.array(nonempty[~is_bad])), bad_rows, total


SPANNING = "unbalanced quote (a value would span lines)"


class _ParseFailure(Exception):
    """pyarrow gave up on the file's structure (a quote spanning blocks, out of sync): read it line by line."""


def _line_stats(src: SourceFile) -> tuple[int, int, bool]:
    """(non-empty lines, all lines, whether some CR is not followed by LF), in one chunked pass.

    A line is empty when it has no bytes or only a CR (the CSV reader skips both). The count is what the
    records read must add up to: pyarrow reads one record per non-empty line unless something went wrong.
    """
    nonempty, breaks_seen, pos, last_break, last_byte, lone_cr, cr_at_end = 0, 0, 0, -1, 0, False, False
    with open(src.path, "rb") as fh:
        while chunk := fh.read(1 << 24):
            data = np.frombuffer(chunk, np.uint8)
            if cr_at_end and data[0] != 10:
                lone_cr = True
            crs = np.flatnonzero(data[:-1] == 13)
            if crs.size and not lone_cr:
                lone_cr = bool((data[crs + 1] != 10).any())
            cr_at_end = bool(data[-1] == 13)
            breaks = np.flatnonzero(data == 10)
            if breaks.size:
                starts = np.concatenate([[last_break + 1 - pos], breaks[:-1] + 1])
                length = breaks - starts
                before = np.where(breaks > 0, data[np.maximum(breaks - 1, 0)], last_byte)
                nonempty += int(((length > 1) | ((length == 1) & (before != 13))).sum())
                last_break = pos + int(breaks[-1])
                breaks_seen += breaks.size
            pos += len(data)
            last_byte = int(data[-1])
    tail = pos - 1 - last_break
    nonempty += int(tail > 1 or (tail == 1 and last_byte != 13))
    # A last line without a line break counts; a CR ending the file ends its last line (not lone).
    return nonempty, breaks_seen + (tail > 0), lone_cr


def _nonempty_line_numbers(src: SourceFile) -> np.ndarray:
    """1-based numbers of the file's non-empty lines (the slow, exact path)."""
    data = np.fromfile(src.path, dtype=np.uint8)
    breaks = np.flatnonzero(data == 10)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(data)]])
    length = ends - starts
    carriage = (length == 1) & (data[np.minimum(starts, max(len(data) - 1, 0))] == 13)
    return np.flatnonzero((length > 0) & ~carriage) + 1


def _read_lines_exact(
    src: SourceFile, header: list[str], delimiter: str
) -> tuple[pa.Table, list[tuple[int, str, str]], int]:
    """Read the file one physical line at a time, so that no line can take another with it.

    Every non-empty line after the header becomes either a record or a bad row with a reason: a line with an
    unbalanced quote (``SPANNING``) or malformed quoting, or the wrong number of fields. Lines end at LF, CRLF
    or a lone CR, as for pyarrow. Slower than pyarrow (about a second per million lines), so it runs only when
    the fast read's records do not add up to the file's lines.
    """
    try:
        lines = src.path.read_bytes().splitlines()
    except OSError as err:
        raise InputError(f"{src.label}: cannot read ({err.strerror or err})") from err
    width = len(header)
    columns: list[list[str | None]] = [[] for _ in header]
    numbers: list[int] = []
    bad: list[tuple[int, str, str]] = []
    for number, raw_line in enumerate(lines[1:], start=2):
        if not raw_line:
            continue
        try:
            line = raw_line.decode("utf-8")
        except UnicodeDecodeError as err:
            raise InputError(f"{src.label}: not UTF-8 text (line {number}); save it as UTF-8 CSV") from err
        if '"' in line:
            if line.count('"') % 2:
                bad.append((number, SPANNING, line))
                continue
            try:
                fields = next(csv.reader([line], delimiter=delimiter, strict=True))
            except csv.Error:
                bad.append((number, "malformed quoting", line))
                continue
        else:
            fields = line.split(delimiter)
        if len(fields) != width:
            bad.append((number, f"wrong number of fields ({len(fields)}, expected {width})", line))
            continue
        numbers.append(number)
        for column, value in zip(columns, fields, strict=True):
            column.append(value or None)
    data = {name: pa.array(values, pa.string()) for name, values in zip(header, columns, strict=True)}
    data[LINE] = pa.array(numbers, pa.int64())
    return pa.table(data), bad, sum(1 for line in lines[1:] if line)


def _arrow_csv(src: SourceFile, header: list[str], delimiter: str, on_bad, threads: bool) -> pa.Table:
    try:
        return pv.read_csv(
            src.path,
            read_options=pv.ReadOptions(use_threads=threads, skip_rows=1, column_names=header, block_size=BLOCK_SIZE),
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
        raise _ParseFailure(msg) from err


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
    for column in list(raw.exprs):
        theirs = mapping.get(column, column)
        if column in _ID_COLUMNS and pa.types.is_floating(raw.data.schema.field(theirs).type):
            # pandas stores integer ids with gaps as floats: 1305.0 is the id "1305" (as in a CSV), NaN is
            # missing, and anything else (1305.5, inf, beyond 2^53) is quarantined as non-integral.
            col = quote(theirs)
            whole = f"(isfinite({col}) AND {col} = floor({col}) AND abs({col}) < 9007199254740992)"
            raw.exprs[column] = (
                f"CASE WHEN isnan({col}) THEN NULL WHEN {whole} THEN CAST(CAST({col} AS BIGINT) AS VARCHAR)"
                f" ELSE CAST({col} AS VARCHAR) END"
            )
            raw.nonintegral[column] = f"(NOT isnan({col}) AND NOT {whole})"
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
