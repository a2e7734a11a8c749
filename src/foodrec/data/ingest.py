"""The ingest pipeline: read -> normalise -> validate -> dedupe -> write, with exact accounting.

Every row read from a source ends up exactly once in *accepted* (written to the store),
*quarantined* (``STORE/quarantine/``, raw values as text, with source, line and reason) or
*duplicates* (an exact copy of a row already accepted, in the same file, an earlier source of this
run or the store). A file already ingested with the same options (same fingerprint) is skipped.
All writes are staged and committed at the end, so a bad file leaves the store exactly as it was.

>>> summary = ingest(["runs/city"], "runs/store")                # doctest: +SKIP
>>> t = summary["last_run"]["totals"]                            # this run; summary["totals"]: the store's history
>>> t["read"] == t["accepted"] + t["quarantined"] + t["duplicates"]   # doctest: +SKIP
True
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from foodrec.data.readers import RawTable, SourceFile, SourcePlan, parse_map, plan_sources, read_source
from foodrec.data.readers.detect import check_timezone, parse_anchor
from foodrec.data.readers.tables import LINE, quote
from foodrec.data.schema import CATALOGUE_TABLES, ORDER_COLUMNS
from foodrec.data.store import PARQUET_OPTIONS, Store, staged_ingest, write_day_parts
from foodrec.data.validate import REASON_SEP, catalogue_sql, orders_sql, row_hash_sql
from foodrec.errors import InputError, StoreError

COUNTS = ("read", "accepted", "quarantined", "duplicates")


@dataclass
class SourceResult:
    """The accounting of one file: ``read == accepted + quarantined + duplicates``."""

    source: str
    table: str
    kind: str
    fingerprint: str
    read: int = 0
    accepted: int = 0
    quarantined: int = 0
    duplicates: int = 0
    skipped: str | None = None
    reasons: dict[str, int] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)


def fingerprint(src: SourceFile, options: dict[str, object]) -> str:
    """sha256 of the file's bytes and the options that change how it is read."""
    digest = hashlib.sha256()
    with open(src.path, "rb") as fh:
        digest.update(hashlib.file_digest(fh, "sha256").digest())
    digest.update(json.dumps(options, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def ingest(
    sources: list[str],
    store: str | Path,
    timezone: str | None = None,
    column_map: str | dict[str, str] | None = None,
    fmt: str = "auto",
    anchor_date: str | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, object]:
    """Ingest ``sources`` into the store at ``store`` and return the summary (also saved in the store).

    ``timezone`` reads naive timestamps (default: the city's from a city.json, else the store's, else UTC);
    ``column_map`` is ``ours=theirs,...``; ``on_progress(label, done, total)`` is called per file.
    Raises :class:`~foodrec.errors.InputError` / :class:`~foodrec.errors.StoreError` before anything is written.
    """
    mapping = parse_map(column_map) if not isinstance(column_map, dict) else column_map
    if timezone is not None:
        check_timezone(timezone)
    anchor = parse_anchor(anchor_date, "--anchor-date") if anchor_date else None
    plan = plan_sources(list(sources), fmt=fmt, column_map=mapping, anchor=anchor)
    store_path = Path(store)
    try:
        return _ingest(plan, store_path, timezone, on_progress)
    except (OSError, duckdb.Error) as err:
        # A full disk or an unwritable store: nothing was committed (the stage is gone), so say it in one line.
        full = isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT) or "No space left" in str(err)
        if not (full or isinstance(err, OSError | duckdb.IOException)):
            raise
        text = "no space left on device" if full else getattr(err, "strerror", None) or str(err).splitlines()[0]
        raise StoreError(f"cannot write store {str(store_path)!r}: {text}; the store was not changed") from err


def _ingest(
    plan: SourcePlan,
    store_path: Path,
    timezone: str | None,
    on_progress: Callable[[str, int, int], None] | None,
) -> dict[str, object]:
    now = dt.datetime.now(dt.UTC)
    results: list[SourceResult] = []
    # The stage holds the store's lock from here to the end, so what is read below cannot change under us.
    with staged_ingest(store_path) as stage, _Connection() as con:
        existing = Store(store_path) if stage.existing else None
        stored_tz = existing.timezone if existing else "UTC"
        parse_tz = timezone or plan.timezone or stored_tz
        store_tz = plan.timezone or timezone or stored_tz
        known = set(existing.sources()["fingerprint"]) if existing else set()
        con.run("SET TimeZone='UTC'")
        con.run("SET preserve_insertion_order=false")
        run = _Run(con, stage, existing)
        for number, src in enumerate(plan.files):
            if on_progress:
                on_progress(src.label, number, len(plan.files))
            options = {"table": src.table, "kind": src.kind, "map": src.column_map, "timezone": parse_tz}
            if src.kind == "dhrd":
                options["anchor"] = src.anchor.isoformat()
            fp = fingerprint(src, options)
            result = SourceResult(src.label, src.table, src.kind, fp)
            results.append(result)
            if fp in known:
                result.skipped = "already ingested with the same options"
                continue
            known.add(fp)
            raw = read_source(src)
            result.ignored_columns = raw.ignored
            if src.table == "orders":
                run.orders(raw, result, parse_tz)
            else:
                run.catalogue(raw, result)
            _check_accounting(result, raw.physical_rows)
            stage.record_source(
                {
                    "fingerprint": fp,
                    "source": src.label,
                    "kind": f"{src.kind}:{src.table}",
                    "ingested_at": now,
                    "rows_read": result.read,
                    "accepted": result.accepted,
                    "quarantined": result.quarantined,
                    "duplicates": result.duplicates,
                    "part": run.last_part,
                }
            )
        if on_progress:
            on_progress("committing", len(plan.files), len(plan.files))
        run.finish()
        for folder in plan.copy_dirs:
            stage.copy_in(folder)
        for file in plan.copy_files:
            stage.copy_in(file)
        stage.set_meta(timezone=store_tz)
        previous = existing.ingest_summary() if existing else None
        summary = _summary(store_path, store_tz, now, results, run.store_rows(), previous)
        stage.write_summary(summary)
        stage.commit()
    return summary


def _check_accounting(result: SourceResult, physical_rows: int) -> None:
    """Refuse to commit unless every physical line (Parquet row) of the source is accepted, quarantined or a
    duplicate, exactly once. A failure here is a bug in foodrec, caught before it can lose a row."""
    parts = result.accepted + result.quarantined + result.duplicates
    if result.read != physical_rows or result.read != parts:
        raise InputError(
            f"{result.source}: {physical_rows:,} data lines but read {result.read:,} = accepted {result.accepted:,}"
            f" + quarantined {result.quarantined:,} + duplicates {result.duplicates:,} does not add up;"
            " refused, the store was not changed (please report this)"
        )


def _counts(rows: list[dict]) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """(totals, per table) of source rows."""
    tables: dict[str, dict[str, int]] = {}
    for row in rows:
        counts = tables.setdefault(row["table"], dict.fromkeys(COUNTS, 0))
        for key in COUNTS:
            counts[key] += int(row[key])
    return {key: sum(int(row[key]) for row in rows) for key in COUNTS}, tables


def _summary(
    store: Path,
    tz: str,
    now: dt.datetime,
    results: list[SourceResult],
    store_rows: dict[str, int],
    previous: dict | None,
) -> dict[str, object]:
    """The store's accounting: every source ever ingested (``sources``, ``tables``, ``totals``) and this run.

    A source skipped as already ingested keeps its first entry, so re-running the same ingest leaves the
    store-wide figures as they were; ``last_run`` says what this run did.
    """
    run = [asdict(r) | {"ingested_at": now.isoformat()} for r in results]
    history = [s for s in (previous or {}).get("sources", []) if isinstance(s, dict) and "read" in s]
    history += [s for s in run if not s["skipped"]]
    totals, tables = _counts(history)
    run_totals, run_tables = _counts(run)
    return {
        "store": str(store),
        "timezone": tz,
        "ingested_at": now.isoformat(),
        "sources": history,
        "tables": tables,
        "totals": totals,
        "last_run": {"ingested_at": now.isoformat(), "sources": run, "tables": run_tables, "totals": run_totals},
        "store_rows": store_rows,
    }


class _Run:
    """State of one ingest: a DuckDB session, the staged parts and the reference tables."""

    def __init__(self, con: _Connection, stage, existing: Store | None):
        self.con, self.stage, self.existing = con, stage, existing
        self.order_parts: list[str] = [str(p) for p in existing._order_parts()] if existing else []
        self.existing_orders = len(self.order_parts)
        self.accepted_orders = 0
        self.quarantined_rows = 0
        self.refs: set[str] = set()
        self.changed_tables: set[str] = set()
        self.last_part: str | None = None
        self._existing_hashes: np.ndarray | None = None
        self._order_keys = False
        self._hashes: list[np.ndarray] = []
        for name in CATALOGUE_TABLES:
            path = existing.path / f"{name}.parquet" if existing else None
            if path is not None and path.is_file():
                # Tables written by other tools may lack columns or use other types: normalise them.
                have = set(pq.read_schema(path).names)
                columns, _ = CATALOGUE_TABLES[name]
                select = ", ".join(
                    f"CAST({c if c in have else 'NULL'} AS {'DOUBLE' if c == 'unit_price' else 'VARCHAR'}) AS {c}"
                    for c in columns
                )
                con.run(f"CREATE TEMP TABLE cat_{name} AS SELECT {select} FROM read_parquet(?)", [str(path)])
                self._refresh_ref(name)

    # -- helpers ----------------------------------------------------------------------------------------
    def _count(self, sql: str, params: list[object] | None = None) -> int:
        return int(self.con.run(sql, params)[0][0])

    def _refresh_ref(self, name: str) -> None:
        if name == "restaurants":
            self.con.run(
                "CREATE OR REPLACE TEMP TABLE ref_restaurants AS SELECT DISTINCT restaurant_id FROM cat_restaurants"
            )
            self.refs.add("ref_restaurants")
        elif name == "items":
            self.con.run(
                "CREATE OR REPLACE TEMP TABLE ref_items AS SELECT item_id, any_value(restaurant_id) AS restaurant_id,"
                " any_value(unit_price) AS unit_price"
                " FROM cat_items GROUP BY item_id"
            )
            self.refs.add("ref_items")

    def _register(self, raw: RawTable) -> None:
        self.con.register("raw_data", raw.data)

    def _quarantine(self, raw: RawTable, result: SourceResult, checked: str | None, extra: str | None = None) -> None:
        """Quarantine rows of ``checked`` with a reason, ``extra`` rows (__line, __reason) and the parser's bad rows."""
        con, label, table = self.con, _lit(raw.source.label), _lit(raw.source.table)
        raw_json = (
            "to_json(struct_pack("
            + ", ".join(f"{quote(c)} := CAST(r.{quote(c)} AS VARCHAR)" for c in raw.raw_columns)
            + "))"
        )
        parts = [f"SELECT {LINE}, __reason FROM {checked} WHERE __reason <> ''"] if checked else []
        if extra:
            parts.append(extra)
        bad = " UNION ALL ".join(parts) or f"SELECT {LINE}, '' AS __reason FROM raw_data WHERE FALSE"
        con.run(
            f'CREATE OR REPLACE TEMP TABLE q AS SELECT {label} AS source, b.{LINE} AS line, {table} AS "table",'
            f" b.__reason AS reason, CAST({raw_json} AS VARCHAR) AS raw FROM ({bad}) b JOIN raw_data r USING ({LINE})"
        )
        if raw.bad_rows:
            rows = pa.table(
                {
                    "source": [raw.source.label] * len(raw.bad_rows),
                    "line": pa.array([n for n, _, _ in raw.bad_rows], pa.int64()),
                    "table": [raw.source.table] * len(raw.bad_rows),
                    "reason": [reason for _, reason, _ in raw.bad_rows],
                    "raw": [json.dumps({"_text": text}) for _, _, text in raw.bad_rows],
                }
            )
            con.register("bad_rows", rows)
            con.run("INSERT INTO q SELECT * FROM bad_rows")
            con.unregister("bad_rows")
        n = self._count("SELECT count(*) FROM q")
        result.quarantined = n
        self.quarantined_rows += n
        if n:
            for reason_list, count in con.run("SELECT reason, count(*) FROM q GROUP BY reason"):
                for reason in str(reason_list).split(REASON_SEP):
                    key = reason.split(" (")[0]
                    result.reasons[key] = result.reasons.get(key, 0) + count
            path = self.stage.quarantine_part_path()
            con.run(f"COPY (SELECT * FROM q ORDER BY line) TO {_lit(str(path))} (FORMAT parquet)")

    # -- order lines -------------------------------------------------------------------------------------
    def orders(self, raw: RawTable, result: SourceResult, tz: str) -> None:
        con = self.con
        self._register(raw)
        result.read = raw.rows_read
        con.run(f"SET TimeZone={_lit(tz)}")
        checked = con.arrow(orders_sql(raw, "raw_data", tz, self.refs))
        con.run("SET TimeZone='UTC'")
        bad = pc.not_equal(checked.column("__reason"), "")
        n_bad = int(pc.sum(bad).as_py() or 0)
        if n_bad:
            con.register("checked_bad", checked.filter(bad).select([LINE, "__reason"]))
        good = checked.filter(pc.invert(bad)) if n_bad else checked
        reused = self._reused_order_ids(good)
        if reused.num_rows:
            good = good.filter(pc.invert(pc.is_in(good.column(LINE), reused.column(LINE))))
            con.register("reused", reused)
        self._quarantine(raw, result, "checked_bad" if n_bad else None,
                         f"SELECT {LINE}, __reason FROM reused" if reused.num_rows else None)  # fmt: skip
        drop = self._duplicate_lines(good)
        if len(drop):
            good = good.filter(pc.invert(pc.is_in(good.column(LINE), pa.array(drop, pa.int64()))))
        result.accepted = good.num_rows
        result.duplicates = checked.num_rows - n_bad - reused.num_rows - good.num_rows
        self.last_part = None
        if good.num_rows:
            name = f"part-{uuid.uuid4().hex}.parquet"
            out = good.select(list(ORDER_COLUMNS))
            at = out.schema.get_field_index("ordered_at")
            out = out.set_column(at, "ordered_at", out.column(at).cast(pa.timestamp("us", tz="UTC")))
            self.order_parts += [str(p) for p in write_day_parts(out, self.stage.orders_folder(), name)]
            self._hashes.append(good.column("__h").to_numpy())
            self.last_part = name
            self.accepted_orders += good.num_rows
        con.unregister("raw_data")
        if n_bad:
            con.unregister("checked_bad")
        if reused.num_rows:
            con.unregister("reused")

    def _reused_order_ids(self, good: pa.Table) -> pa.Table:
        """Lines (``__line``, ``__reason``) whose order_id is already known with another customer or time.

        An order's lines share its customer and time. The first sight of an order id wins: the store's lines,
        then earlier sources of this run, then the earliest line of this file; later lines that disagree are
        quarantined. Known orders are kept in a temp table, so each file costs one GROUP BY and one join.
        """
        con = self.con
        if not self._order_keys:
            con.run("CREATE TEMP TABLE order_keys (order_id VARCHAR, c VARCHAR, t TIMESTAMPTZ)")
            parts = self.order_parts[: self.existing_orders]
            if parts:
                con.run(
                    "INSERT INTO order_keys SELECT order_id, arg_min(customer_id, ordered_at), min(ordered_at)"
                    f" FROM read_parquet(?, {PARQUET_OPTIONS}) GROUP BY order_id",
                    [parts],
                )
            self._order_keys = True
        con.register("good_keys", good.select([LINE, "order_id", "customer_id", "ordered_at"]))
        con.run(
            "CREATE OR REPLACE TEMP TABLE first_keys AS SELECT order_id, arg_min(customer_id, __line) AS c,"
            " arg_min(ordered_at, __line) AS t FROM good_keys GROUP BY order_id"
        )
        reused = con.arrow(
            f"SELECT g.{LINE}, 'order_id reused with another customer or time' AS __reason FROM good_keys g JOIN"
            " (SELECT f.order_id, CASE WHEN k.order_id IS NULL THEN f.c ELSE k.c END AS c,"
            " CASE WHEN k.order_id IS NULL THEN f.t ELSE k.t END AS t"
            " FROM first_keys f LEFT JOIN order_keys k USING (order_id)) r USING (order_id)"
            f" WHERE g.customer_id IS DISTINCT FROM r.c OR g.ordered_at IS DISTINCT FROM r.t ORDER BY g.{LINE}"
        )
        con.run(
            "INSERT INTO order_keys SELECT f.order_id, f.c, f.t FROM first_keys f"
            " ANTI JOIN order_keys k USING (order_id)"
        )
        con.unregister("good_keys")
        return reused

    def _known_hashes(self) -> np.ndarray:
        """Row hashes of the order lines in the store and accepted earlier in this run."""
        if self._existing_hashes is None:
            parts = self.order_parts[: self.existing_orders]
            self._existing_hashes = np.empty(0, np.uint64)
            if parts:
                sql = f"SELECT {row_hash_sql()} AS h FROM read_parquet(?, {PARQUET_OPTIONS})"
                self._existing_hashes = self.con.arrow(sql, [parts]).column("h").to_numpy()
        return np.concatenate([self._existing_hashes, *self._hashes]) if self._hashes else self._existing_hashes

    def _duplicate_lines(self, good: pa.Table) -> np.ndarray:
        """Lines of ``good`` that exactly repeat an earlier line of it, of the store or of this run.

        Hashes pick the few candidates; exact comparison (NULL equal to NULL) decides.
        """
        if good.num_rows == 0:
            return np.empty(0, np.int64)
        h = good.column("__h").to_numpy()
        repeated = pd.Series(h).duplicated(keep=False).to_numpy()  # a hash table: cheaper than sorting
        known = self._known_hashes()
        seen = np.isin(h, known) if known.size else np.zeros(len(h), bool)
        if not (repeated.any() or seen.any()):
            return np.empty(0, np.int64)
        cols = ", ".join(ORDER_COLUMNS)
        same = " AND ".join(f"c.{c} IS NOT DISTINCT FROM e.{c}" for c in ORDER_COLUMNS)
        self.con.register("cand", good.filter(pa.array(repeated | seen)))
        sql = (
            f"SELECT {LINE} FROM (SELECT {LINE}, row_number() OVER (PARTITION BY {cols} ORDER BY {LINE}) AS k"
            f" FROM cand) WHERE k > 1"
        )
        params: list[object] = []
        if seen.any():
            sql += (
                f" UNION SELECT c.{LINE} FROM cand c SEMI JOIN (SELECT * FROM read_parquet(?, {PARQUET_OPTIONS})"
                f" WHERE {row_hash_sql()} IN (SELECT __h FROM cand)) e ON {same}"
            )
            params.append(self.order_parts)
        lines = self.con.arrow(sql, params).column(LINE).to_numpy()
        self.con.unregister("cand")
        return lines

    # -- catalogue tables ---------------------------------------------------------------------------------
    def catalogue(self, raw: RawTable, result: SourceResult) -> None:
        con, name = self.con, raw.source.table
        columns, keys = CATALOGUE_TABLES[name]
        cols, key = ", ".join(columns), keys[0]
        self._register(raw)
        result.read = raw.rows_read
        con.run(f"CREATE OR REPLACE TEMP TABLE checked AS {catalogue_sql(raw, 'raw_data', self.refs)}")
        # Exact copies of an earlier row are duplicates; a repeated key with other values is a conflict.
        con.run(
            f"CREATE OR REPLACE TEMP TABLE uniq AS SELECT {cols}, min({LINE}) AS {LINE} FROM checked"
            f" WHERE __reason = '' GROUP BY ALL"
        )
        con.run(
            f"CREATE OR REPLACE TEMP TABLE conflicts AS SELECT {LINE}, 'conflicting duplicate {key}' AS __reason"
            f" FROM (SELECT {LINE}, row_number() OVER (PARTITION BY {key} ORDER BY {LINE}) AS k FROM uniq) WHERE k > 1"
        )
        # Rows exactly equal to a conflicting row share its fate: quarantine all their lines.
        extra = (
            f"SELECT ch.{LINE}, 'conflicting duplicate {key}' FROM checked ch JOIN"
            f" (SELECT u.* FROM uniq u SEMI JOIN conflicts c USING ({LINE})) x ON "
            + " AND ".join(f"ch.{c} IS NOT DISTINCT FROM x.{c}" for c in columns)
            + " WHERE ch.__reason = ''"
        )
        self._quarantine(raw, result, "checked", extra)
        con.run(f"DELETE FROM uniq WHERE {LINE} IN (SELECT {LINE} FROM conflicts)")
        valid = raw.data.num_rows - (result.quarantined - len(raw.bad_rows))
        unique = self._count("SELECT count(*) FROM uniq")
        have = self._count(f"SELECT count(*) FROM information_schema.tables WHERE table_name = 'cat_{name}'")
        same = 0
        if have:
            on = " AND ".join(f"u.{c} IS NOT DISTINCT FROM t.{c}" for c in columns)
            same = self._count(f"SELECT count(*) FROM uniq u SEMI JOIN cat_{name} t ON {on}")
            con.run(f"DELETE FROM uniq u WHERE EXISTS (SELECT 1 FROM cat_{name} t WHERE {on})")
        result.accepted = unique - same
        result.duplicates = valid - result.accepted
        if result.accepted:
            if have:
                con.run(
                    f"CREATE OR REPLACE TEMP TABLE cat_{name} AS SELECT {cols} FROM cat_{name} t"
                    f" WHERE {key} NOT IN (SELECT {key} FROM uniq) UNION ALL SELECT {cols} FROM uniq"
                )
            else:
                con.run(f"CREATE TEMP TABLE cat_{name} AS SELECT {cols} FROM uniq")
            self.changed_tables.add(name)
            self._refresh_ref(name)
        self.last_part = f"{name}.parquet" if result.accepted else None
        con.unregister("raw_data")
        con.run("DROP TABLE checked")
        con.run("DROP TABLE uniq")
        con.run("DROP TABLE conflicts")

    # -- end ------------------------------------------------------------------------------------------------
    def finish(self) -> None:
        for name in sorted(self.changed_tables):
            _, keys = CATALOGUE_TABLES[name]
            path = self.stage.table_path(name)
            ordered = f"SELECT * FROM cat_{name} ORDER BY {keys[0]}"
            self.con.run(f"COPY ({ordered}) TO {_lit(str(path))} (FORMAT parquet)")

    def store_rows(self) -> dict[str, int]:
        rows = {"orders": 0, "quarantine": 0}
        if self.order_parts:
            sql = f"SELECT count(*) FROM read_parquet(?, {PARQUET_OPTIONS})"
            rows["orders"] = self._count(sql, [self.order_parts])
        if self.existing:
            parts = [str(p) for p in (self.existing.path / "quarantine").glob("part-*.parquet")]
            if parts:
                rows["quarantine"] = self._count("SELECT count(*) FROM read_parquet(?, union_by_name=true)", [parts])
        rows["quarantine"] += self.quarantined_rows
        for name in CATALOGUE_TABLES:
            if self._count(f"SELECT count(*) FROM information_schema.tables WHERE table_name = 'cat_{name}'"):
                rows[name] = self._count(f"SELECT count(*) FROM cat_{name}")
        return rows


class _Connection:
    """An in-memory DuckDB connection whose statements always run to completion (DuckDB 2 wants results fetched)."""

    def __init__(self) -> None:
        self._con = duckdb.connect()

    def run(self, sql: str, params: list[object] | None = None) -> list[tuple]:
        return self._con.execute(sql, params or []).fetchall()

    def arrow(self, sql: str, params: list[object] | None = None) -> pa.Table:
        return self._con.sql(sql, params=params or None).to_arrow_table()

    def register(self, name: str, table: pa.Table) -> None:
        self._con.register(name, table)

    def unregister(self, name: str) -> None:
        self._con.unregister(name)

    def __enter__(self) -> _Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self._con.close()


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
