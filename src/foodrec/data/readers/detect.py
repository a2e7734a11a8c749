"""Turn the SOURCE arguments of ``foodrec ingest`` into a plan: which files, which table, which reader.

Nothing is read here except directory listings, ``city.json`` and the first bytes of a file, so a bad
argument fails fast, before any work.

>>> parse_map("")
{}
>>> parse_map("area=zone")
{'area': 'zone'}
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from foodrec.data.schema import CATALOGUE_TABLES, ORDER_COLUMNS
from foodrec.errors import InputError

FORMATS = ("auto", "canonical", "dhrd")
CSV_SUFFIXES = (".csv",)
PARQUET_SUFFIXES = (".parquet", ".pq")
# The DHRD files carry relative days; day 0 is this date unless city.json or --anchor-date says otherwise.
DEFAULT_DHRD_ANCHOR = dt.date(2023, 1, 1)
_DHRD_NAME = re.compile(r"^(orders|vendors|products)_([A-Za-z0-9-]+?)(?:_(train|test))?\.txt$")
_DHRD_TABLE = {"orders": "orders", "vendors": "restaurants", "products": "items"}


@dataclass(frozen=True)
class SourceFile:
    """One file to read: where it is, which table it feeds and which reader reads it.

    ``kind`` is ``csv``, ``parquet`` or ``dhrd``; ``table`` is ``orders`` or a catalogue table.
    """

    path: Path
    table: str
    kind: str
    label: str
    column_map: tuple[tuple[str, str], ...] = ()
    anchor: dt.date = DEFAULT_DHRD_ANCHOR


@dataclass
class SourcePlan:
    """Files to read (catalogue tables first) plus what a generate directory brings along."""

    files: list[SourceFile] = field(default_factory=list)
    copy_dirs: list[Path] = field(default_factory=list)  # e.g. a generate directory's truth/
    copy_files: list[Path] = field(default_factory=list)  # e.g. city.json
    timezone: str | None = None  # the city's time zone when a city.json says it


def parse_map(text: str | None) -> dict[str, str]:
    """``ours=theirs,...`` -> {canonical column: column in the file}; unknown canonical names are an error."""
    mapping: dict[str, str] = {}
    if not text:
        return mapping
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        ours, sep, theirs = part.partition("=")
        ours, theirs = ours.strip(), theirs.strip()
        if not sep or not ours or not theirs:
            raise InputError(f"--map: {part!r} is not ours=theirs (e.g. --map order_id=OrderNo,ordered_at=Time)")
        known = ORDER_COLUMNS + tuple(c for cols, _ in CATALOGUE_TABLES.values() for c in cols)
        if ours not in known:
            raise InputError(f"--map: {ours!r} is not a canonical column (one of {', '.join(ORDER_COLUMNS)})")
        if ours in mapping:
            raise InputError(f"--map: {ours!r} is mapped twice")
        mapping[ours] = theirs
    return mapping


def check_timezone(name: str) -> str:
    """The IANA time zone name, or a one-line error."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as err:
        raise InputError(f"unknown time zone {name!r} (use an IANA name such as UTC or Europe/Berlin)") from err
    return name


def parse_anchor(value: object, origin: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError as err:
        raise InputError(f"{origin}: DHRD anchor date {value!r} is not YYYY-MM-DD") from err


def _find_key(obj: object, pred) -> object | None:
    """First value whose key satisfies ``pred`` in a nested JSON object (city.json layout may grow)."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if pred(key) and not isinstance(value, (dict, list)):
                return value
        for value in obj.values():
            found = _find_key(value, pred)
            if found is not None:
                return found
    return None


def read_city(path: Path) -> tuple[str | None, dt.date | None]:
    """(time zone, DHRD anchor date) from a generate directory's city.json."""
    try:
        city = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"{path}: not a readable city.json ({err})") from err
    tz = _find_key(city, lambda k: k.lower() in ("timezone", "time_zone", "tz"))
    anchor = _find_key(city, lambda k: "anchor" in k.lower())
    return (
        check_timezone(str(tz)) if tz else None,
        parse_anchor(anchor, str(path)) if anchor else None,
    )


def _dhrd_files(folder: Path, anchor: dt.date, label_root: str) -> list[SourceFile]:
    files = []
    for path in sorted(folder.glob("*.txt")):
        match = _DHRD_NAME.match(path.name)
        if match:
            table = _DHRD_TABLE[match.group(1)]
            files.append(SourceFile(path, table, "dhrd", f"{label_root}/{path.name}", anchor=anchor))
    return files


def _nearby_city(plan: SourcePlan, path: Path, given: dt.date | None) -> dt.date:
    """The DHRD anchor (and, into the plan, the time zone) from a city.json beside or above ``path``."""
    for folder in (path.parent, path.parent.parent):
        if (folder / "city.json").is_file():
            tz, anchor = read_city(folder / "city.json")
            if tz and not plan.timezone:
                plan.timezone = tz
            return given or anchor or DEFAULT_DHRD_ANCHOR
    return given or DEFAULT_DHRD_ANCHOR


def plan_sources(
    sources: list[str],
    fmt: str = "auto",
    column_map: dict[str, str] | None = None,
    anchor: dt.date | None = None,
) -> SourcePlan:
    """Expand SOURCE arguments into files; a one-line :class:`InputError` for anything unusable."""
    if fmt not in FORMATS:
        raise InputError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if not sources:
        raise InputError("give at least one SOURCE (a CSV/Parquet file, DHRD files or a `foodrec generate` directory)")
    mapping = tuple(sorted((column_map or {}).items()))
    plan = SourcePlan()
    for raw in sources:
        path = Path(raw)
        if not path.exists():
            raise InputError(f"{raw}: no such file or directory")
        if path.is_dir():
            if mapping:
                raise InputError(f"--map applies to CSV/Parquet files, and {raw} is a directory")
            _plan_directory(plan, path, raw, fmt, anchor)
        elif path.is_file():
            plan.files.append(_plan_file(plan, path, raw, fmt, mapping, anchor))
        else:
            raise InputError(f"{raw}: not a regular file or directory")
    # Catalogue tables first: order lines are checked against them.
    order = {"restaurants": 0, "items": 1, "customers": 2, "orders": 3}
    plan.files.sort(key=lambda f: order[f.table])
    seen: set[Path] = set()
    for f in plan.files:
        resolved = f.path.resolve()
        if resolved in seen:
            raise InputError(f"{f.label}: given twice")
        seen.add(resolved)
    return plan


def _plan_directory(plan: SourcePlan, path: Path, raw: str, fmt: str, anchor: dt.date | None) -> None:
    if (path / "city.json").is_file() and fmt != "dhrd":
        tz, city_anchor = read_city(path / "city.json")
        if tz:
            if plan.timezone and plan.timezone != tz:
                raise InputError(f"{raw}: time zone {tz} differs from another source's {plan.timezone}")
            plan.timezone = tz
        orders = [path / n for n in ("orders.csv", "orders.parquet") if (path / n).is_file()]
        if not orders:
            raise InputError(f"{raw}: generate directory without orders.csv or orders.parquet")
        for order_path in orders[:1]:  # a generate directory writes one of them
            kind = "parquet" if order_path.suffix == ".parquet" else "csv"
            plan.files.append(SourceFile(order_path, "orders", kind, f"{raw.rstrip('/')}/{order_path.name}"))
        for table in CATALOGUE_TABLES:
            table_path = path / f"{table}.csv"
            if table_path.is_file():
                plan.files.append(SourceFile(table_path, table, "csv", f"{raw.rstrip('/')}/{table_path.name}"))
        if (path / "truth").is_dir():
            plan.copy_dirs.append(path / "truth")
        plan.copy_files.append(path / "city.json")
        return
    dhrd_dir = path
    if (path / "dhrd").is_dir() and fmt == "dhrd":  # the DHRD copy inside a generate directory
        dhrd_dir = path / "dhrd"
        if (path / "truth").is_dir():
            plan.copy_dirs.append(path / "truth")
        if (path / "city.json").is_file():
            plan.copy_files.append(path / "city.json")
    label_root = raw.rstrip("/") + ("/dhrd" if dhrd_dir != path else "")
    files = _dhrd_files(dhrd_dir, _nearby_city(plan, dhrd_dir / "x", anchor), label_root)
    if fmt in ("auto", "dhrd") and files:
        if not any(f.table == "orders" for f in files):
            raise InputError(f"{raw}: DHRD directory without orders_<city>_train.txt / _test.txt")
        plan.files.extend(files)
        return
    if fmt == "dhrd":
        raise InputError(f"{raw}: no DHRD files (orders_<city>_train.txt, vendors_<city>.txt, products_<city>.txt)")
    raise InputError(f"{raw}: directory is neither a `foodrec generate` output (no city.json) nor DHRD files")


def _plan_file(
    plan: SourcePlan,
    path: Path,
    raw: str,
    fmt: str,
    mapping: tuple[tuple[str, str], ...],
    anchor: dt.date | None,
) -> SourceFile:
    suffix = path.suffix.lower()
    dhrd = _DHRD_NAME.match(path.name)
    if fmt == "dhrd" or (fmt == "auto" and suffix == ".txt"):
        if not dhrd:
            raise InputError(
                f"{raw}: not a DHRD file name (orders_<city>_train.txt, orders_<city>_test.txt, vendors_<city>.txt,"
                " products_<city>.txt)"
            )
        return SourceFile(path, _DHRD_TABLE[dhrd.group(1)], "dhrd", raw, anchor=_nearby_city(plan, path, anchor))
    table = path.stem if path.stem in CATALOGUE_TABLES else "orders"
    if suffix in CSV_SUFFIXES:
        return SourceFile(path, table, "csv", raw, column_map=mapping)
    if suffix in PARQUET_SUFFIXES:
        return SourceFile(path, table, "parquet", raw, column_map=mapping)
    shown = suffix or "(no extension)"
    raise InputError(f"{raw}: unsupported file type {shown!r}: expected .csv, .parquet or DHRD .txt")
