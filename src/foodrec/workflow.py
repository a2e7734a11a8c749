"""``foodrec run``: the whole workflow on your own order log, every step with defaults that fit the log.

.. code-block:: text

    foodrec run orders.csv restaurants.csv --out runs/mine
    foodrec run export/ --out runs/mine --timezone America/Los_Angeles --level restaurant

ingest → EDA → baselines → train → evaluate → drift → stakeholder report. Each step is the command a user
could type, run in-process exactly like ``foodrec demo`` does (:func:`foodrec.pipeline._cli`), with the
same ``$ foodrec ...`` line printed first. Nothing is tuned to a calendar: the test split, validation,
K-fold and drift windows all come from the log's own length, so a two-week log and a two-year log run
with the same defaults. A step the log is too short for is skipped with one line that says what it needs;
the A/B steps are skipped because they need customers (simulated ones need a generated city's ground
truth and a running service: see ``foodrec demo``).

``DIR/run.json`` records, per step, the command, a fingerprint of its inputs (sources, store, model,
options), its outputs and its status. Running the same command again continues where it stopped: a
finished step whose inputs did not change is skipped, and a step whose inputs changed runs again
(``--fresh`` starts over). The stakeholder report reads ``run.json`` to say what was and was not run.

Exit codes: 0 when every step ran or was skipped with a reason, 2 when nothing could run (bad input, a
log too short for anything past ingest), 1 when a step failed unexpectedly.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from foodrec.errors import InputError
from foodrec.pipeline import DemoRun, _cli

RUN_FILE = "run.json"
DONE = ("done", "finding")  # finding: drift found (exit 3), a result, not a failure
MIN_DAYS = {"baselines": 2, "train": 7}  # local days a step needs: a time split; train + validation + test


@dataclass
class WorkflowRun(DemoRun):
    """One ``foodrec run``: where it writes (``store``, ``model`` as in the demo), its sources and options."""

    sources: list[str] = field(default_factory=list)
    timezone: str | None = None
    level: str | None = None
    epochs: int | None = None
    search: bool = True
    record: dict[str, Any] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def steps(self) -> dict[str, dict[str, Any]]:
        return self.record.setdefault("steps", {})

    def path(self, name: str) -> Path:
        return self.out / name

    def save(self) -> None:
        """Write ``run.json`` atomically (after every step, so a killed run resumes from the last one)."""
        tmp = self.out / f".{RUN_FILE}.tmp"
        tmp.write_text(json.dumps(self.record, indent=2, default=str))
        os.replace(tmp, self.out / RUN_FILE)


@dataclass(frozen=True)
class RunStep:
    """A step: its command line, what it reads (fingerprinted), what it writes and what it needs first."""

    name: str
    title: str
    args: Callable[[WorkflowRun], list[str]]
    inputs: Callable[[WorkflowRun], list[Any]]
    outputs: Callable[[WorkflowRun], dict[str, Path]]
    needs: Callable[[WorkflowRun], str | None] = lambda run: None  # why it cannot run, or None
    ok: tuple[int, ...] = (0,)


# -- fingerprints ---------------------------------------------------------------------------------------
_VOLATILE = (".duckdb", ".wal", ".lock", ".tmp", "ingest_summary.json")


def _print_of(item: Any) -> Any:
    """What identifies an input: a file's bytes (sources: size and mtime), a folder's files, or the value."""
    if isinstance(item, tuple) and item and item[0] == "source":
        path = Path(item[1])
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        return [[str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns] for p in files if p.exists()]
    if isinstance(item, Path):
        if item.is_file():
            return hashlib.sha256(item.read_bytes()).hexdigest()
        if item.is_dir():  # immutable parts with unique names: names and sizes say what changed
            return [
                [str(p.relative_to(item)), p.stat().st_size]
                for p in sorted(item.rglob("*"))
                if p.is_file() and not p.name.startswith(".") and not p.name.endswith(_VOLATILE)
            ]
        return None
    return item


def fingerprint(items: list[Any]) -> str:
    """sha256 over the inputs' prints: same sources, store, model and options, same fingerprint."""
    text = json.dumps([_print_of(i) for i in items], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _store_inputs(run: WorkflowRun) -> list[Any]:
    return [run.store, ("timezone", run.facts.get("timezone"))]


# -- what the log allows ------------------------------------------------------------------------------------
def log_facts(store: Path) -> dict[str, Any]:
    """Length and size of the stored log (local days, orders, customers), its zone and any time-zone hint."""
    from foodrec.data.store import Store
    from foodrec.data.timezone_check import hint_for_times
    from foodrec.errors import StoreError

    opened = Store.open(store)
    try:
        heads = opened.orders(columns=["order_id", "customer_id", "ordered_at"]).drop_duplicates("order_id")
    except StoreError:
        heads = None
    tz = opened.timezone
    if heads is None or heads.empty:
        return {"orders": 0, "days": 0, "timezone": tz, "truth": (opened.path / "truth").is_dir()}
    local = heads["ordered_at"].dt.tz_convert(tz)
    days = int((local.max().normalize() - local.min().normalize()).days) + 1
    hint = hint_for_times(heads["ordered_at"], tz)
    return {
        "orders": int(len(heads)),
        "customers": int(heads["customer_id"].nunique()),
        "days": days,
        "first_order": heads["ordered_at"].min().isoformat(),
        "last_order": heads["ordered_at"].max().isoformat(),
        "timezone": tz,
        "truth": (opened.path / "truth").is_dir(),
        "timezone_hint": None if hint is None else hint.to_dict(),
    }


def _needs_days(step: str) -> Callable[[WorkflowRun], str | None]:
    def check(run: WorkflowRun) -> str | None:
        have, need = run.facts.get("days", 0), MIN_DAYS[step]
        if have < need:
            what = {"baselines": "a time split (train before a cutoff, test after it)",
                    "train": "training days, a validation slice and test days after the cutoff"}[step]  # fmt: skip
            return f"needs at least {need} local days of orders for {what}; the log spans {have}"
        return None

    return check


def _needs_model(run: WorkflowRun) -> str | None:
    if not (run.model / "manifest.json").is_file():
        return "needs the trained model (the train step did not finish)"
    return None


def _needs_orders(run: WorkflowRun) -> str | None:
    return None if run.facts.get("orders") else "needs orders in the store (ingest accepted none)"


def _level(run: WorkflowRun) -> list[str]:
    return ["--level", run.level] if run.level else []


STEPS: tuple[RunStep, ...] = (
    RunStep(
        "ingest", "Ingest and validate the order log",
        args=lambda r: ["ingest", *r.sources, "--store", str(r.store), "--json", str(r.path("ingest.json"))]
        + (["--timezone", r.timezone] if r.timezone else []),
        inputs=lambda r: [*(("source", s) for s in r.sources), ("timezone", r.timezone)],
        outputs=lambda r: {"store": r.store, "ingest summary": r.path("ingest.json")},
    ),
    RunStep(
        "eda", "Explore the data (EDA report)",
        args=lambda r: ["eda", "--store", str(r.store), "--out", str(r.path("eda.html")),
                        "--json-out", str(r.path("eda.json"))],
        inputs=_store_inputs,
        outputs=lambda r: {"EDA report": r.path("eda.html"), "EDA figures": r.path("eda.json")},
        needs=_needs_orders,
    ),
    RunStep(
        "baselines", "Score the non-ML baselines",
        args=lambda r: ["baselines", "--store", str(r.store), "--out", str(r.path("baselines.json")), *_level(r)],
        inputs=lambda r: [*_store_inputs(r), ("level", r.level)],
        outputs=lambda r: {"baseline leaderboard": r.path("baselines.json")},
        needs=_needs_days("baselines"),
    ),
    RunStep(
        "train", "Train the Keras recommender",
        args=lambda r: ["train", "--store", str(r.store), "--out", str(r.model), "--seed", str(r.seed), *_level(r)]
        + (["--epochs", str(r.epochs)] if r.epochs else []) + ([] if r.search else ["--no-search"]),
        inputs=lambda r: [*_store_inputs(r), ("options", r.level, r.seed, r.epochs, r.search)],
        outputs=lambda r: {"model": r.model, "training report": r.model / "training_report.html"},
        needs=_needs_days("train"),
    ),
    RunStep(
        "evaluate", "Evaluate the model on the test period",
        args=lambda r: ["evaluate", "--store", str(r.store), "--recommender", str(r.model),
                        "--out", str(r.path("evaluation.json"))],
        inputs=lambda r: [*_store_inputs(r), r.model / "manifest.json"],
        outputs=lambda r: {"model evaluation": r.path("evaluation.json")},
        needs=_needs_model,
    ),
    RunStep(
        "drift", "Check for drift (the days after the model's cutoff against as many before it)",
        args=lambda r: ["drift", "--store", str(r.store), "--recommender", str(r.model),
                        "--out", str(r.path("drift.json"))],
        inputs=lambda r: [*_store_inputs(r), r.model / "manifest.json"],
        outputs=lambda r: {"drift check": r.path("drift.json")},
        needs=_needs_model,
        ok=(0, 3),  # 3: drift found, retraining recommended - a finding, not a failure
    ),
    RunStep(
        "report", "Write the stakeholder report",
        args=lambda r: ["report", "--store", str(r.store), "--results", str(r.out),
                        "--out", str(r.path("stakeholder_report.html"))],
        inputs=lambda r: [
            *_store_inputs(r),
            *(r.path(n) for n in ("eda.json", "baselines.json", "evaluation.json", "drift.json")),
            r.model / "manifest.json",
            {k: v.get("status") for k, v in r.steps.items() if k != "report"},
        ],
        outputs=lambda r: {"stakeholder report": r.path("stakeholder_report.html")},
    ),
)  # fmt: skip

# Steps of the whole workflow that `foodrec run` does not do, and why (one line each, also in run.json).
NOT_RUN = {
    "serve": "not started by `foodrec run`: serve the model with `foodrec serve --recommender {model} --store {store}`"
    " (add --ab ab.json for an A/B split)",
    "simulate": "skipped: simulated customers come from a generated city's ground truth (truth/) and need a running"
    " service; {why}",
    "abtest": "skipped: needs the events of an A/B test (`foodrec serve --ab ...` with real customers, then"
    " `foodrec abtest --events EVENTS`)",
}


# -- running --------------------------------------------------------------------------------------------------
class _Tee(io.TextIOBase):
    """stderr that also keeps what was written, so a failed step's ``error: ...`` line can be recorded."""

    def __init__(self, real: Any) -> None:
        self.real, self.kept = real, io.StringIO()

    def write(self, text: str) -> int:
        self.kept.write(text)
        return self.real.write(text)

    def flush(self) -> None:
        self.real.flush()

    def isatty(self) -> bool:
        return bool(getattr(self.real, "isatty", lambda: False)())

    def fileno(self) -> int:
        return self.real.fileno()


def _error_line(text: str) -> str | None:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip().startswith(("error:", "internal error:"))]
    return lines[-1] if lines else None


def _run_step(step: RunStep, run: WorkflowRun) -> tuple[str, str | None]:
    """Run the step's command; (status, reason): done / finding / skipped (a one-line user error) / failed."""
    tee = _Tee(sys.stderr)
    with contextlib.redirect_stderr(tee):
        code = _cli(*step.args(run), ok=tuple(range(256)))  # every code is recorded, none raises
    if code == 0:
        return "done", None
    if code == 3 and code in step.ok:
        return "finding", "drift found: retraining recommended"
    line = _error_line(tee.kept.getvalue()) or f"exit code {code}"
    return ("skipped" if code == 2 else "failed"), line


def _outputs_exist(step: RunStep, run: WorkflowRun) -> bool:
    return all(p.exists() for p in step.outputs(run).values())


def _prepare_ingest(run: WorkflowRun) -> None:
    """A store built with another time zone, or from sources no longer given, is rebuilt rather than appended to."""
    before = run.steps.get("ingest") or {}
    old_sources = [str(Path(s).resolve()) for s in before.get("sources", [])]
    new_sources = [str(Path(s).resolve()) for s in run.sources]
    if not run.store.exists() or not before:
        return
    dropped = [s for s in old_sources if s not in new_sources]
    if before.get("timezone") != run.timezone or dropped:
        why = "another --timezone" if before.get("timezone") != run.timezone else f"{dropped[0]} is no longer given"
        typer.secho(f"    rebuilding {run.store} from scratch ({why})", fg="yellow")
        shutil.rmtree(run.store)


def run_workflow(
    sources: list[str],
    out: Path,
    timezone: str | None = None,
    level: str | None = None,
    seed: int = 0,
    epochs: int | None = None,
    search: bool = True,
    fresh: bool = False,
) -> tuple[int, WorkflowRun]:
    """Run (or continue) the workflow; returns the exit code and the run (its ``record`` is ``run.json``)."""
    if not sources:
        raise InputError("give at least one SOURCE: your order log (CSV/Parquet files, DHRD files or folders)")
    for source in sources:
        if not Path(source).exists():
            raise InputError(f"{source}: no such file or directory")
    if timezone is not None:
        from foodrec.data.readers.detect import check_timezone

        check_timezone(timezone)
    if level is not None and level not in ("dish", "restaurant"):
        raise InputError(f"--level must be dish or restaurant (got {level!r})")
    if epochs is not None and epochs < 1:
        raise InputError(f"--epochs must be at least 1, got {epochs}")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {str(out)!r} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / RUN_FILE).is_file():
        raise InputError(f"--out {str(out)!r} is a folder that `foodrec run` did not write; choose an empty or new one")
    if fresh and (out / RUN_FILE).is_file():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    run = WorkflowRun(out=out, seed=seed, sources=list(sources), timezone=timezone, level=level, epochs=epochs,
                      search=search)  # fmt: skip
    if (out / RUN_FILE).is_file():
        with contextlib.suppress(OSError, ValueError):
            run.record = json.loads((out / RUN_FILE).read_text())
    options = {"timezone": timezone, "level": level, "seed": seed, "epochs": epochs, "search": search}
    run.record.update(kind="foodrec.run", out=str(out), sources=list(sources), options=options)
    started = time.perf_counter()
    blocked: dict[str, str] = {}
    for number, step in enumerate(STEPS, start=1):
        typer.secho(f"\n[{number}/{len(STEPS)}] {step.title}", bold=True)
        if step.name == "eda" and run.store.exists():  # the stored log, once, after the ingest
            run.facts = log_facts(run.store)
            run.record["log"] = run.facts
        why = _blocked(step, run, blocked)
        if why is not None:
            typer.secho(f"    skipped: {why}", fg="yellow")
            run.steps[step.name] = {"status": "skipped", "reason": why, "command": _command(step, run)}
            blocked[step.name] = why
            run.save()
            continue
        if step.name == "ingest":
            _prepare_ingest(run)
        print_ = fingerprint(step.inputs(run))
        before = run.steps.get(step.name) or {}
        if before.get("status") in DONE and before.get("fingerprint") == print_ and _outputs_exist(step, run):
            typer.secho(f"    unchanged since {before.get('finished_at', '?')}: skipped (same inputs)", fg="green")
            continue
        t0 = time.perf_counter()
        status, reason = _run_step(step, run)
        entry: dict[str, Any] = {
            "status": status,
            "reason": reason,
            "command": _command(step, run),
            "fingerprint": print_,
            "outputs": {k: str(v) for k, v in step.outputs(run).items()},
            "seconds": round(time.perf_counter() - t0, 1),
            "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        if step.name == "ingest":
            entry.update(sources=list(sources), timezone=timezone)
        run.steps[step.name] = entry
        if status in DONE:
            typer.secho(f"    done in {entry['seconds']:.1f}s" + (f" ({reason})" if reason else ""), fg="green")
        else:
            typer.secho(f"    {status}: {reason}", fg="yellow" if status == "skipped" else "red")
            blocked[step.name] = reason or status
        run.save()
    _not_run(run)
    run.save()
    code = _exit_code(run)
    _print_where(run, time.perf_counter() - started)
    return code, run


def _blocked(step: RunStep, run: WorkflowRun, blocked: dict[str, str]) -> str | None:
    if step.name != "ingest" and "ingest" in blocked:
        return "needs the ingested store (ingest did not finish)"
    if step.name in ("evaluate", "drift") and "train" in blocked:
        return f"needs the trained model (train: {blocked['train']})"
    return step.needs(run)


def _command(step: RunStep, run: WorkflowRun) -> str:
    return "foodrec " + " ".join(step.args(run))


def _not_run(run: WorkflowRun) -> None:
    truth = run.facts.get("truth")
    why = ("this store has one: `foodrec demo` shows the simulated A/B test on a generated city" if truth
           else "your own log has none")  # fmt: skip
    run.record["not_run"] = {
        name: text.format(model=run.model, store=run.store, why=why) for name, text in NOT_RUN.items()
    }


def _exit_code(run: WorkflowRun) -> int:
    statuses = {name: entry.get("status") for name, entry in run.steps.items()}
    if any(s == "failed" for s in statuses.values()):
        return 1
    ran = [n for n, s in statuses.items() if s in DONE and n not in ("ingest", "report")]
    return 0 if statuses.get("ingest") in DONE and ran else 2


def _print_where(run: WorkflowRun, seconds: float) -> None:
    typer.secho(f"\nfoodrec run finished in {seconds:.0f}s. Where each result is:", bold=True)
    for step in STEPS:
        entry = run.steps.get(step.name) or {}
        status = entry.get("status", "not run")
        if status in DONE:
            for label, path in step.outputs(run).items():
                typer.echo(f"  {step.name:10s} {label:22s} {path}")
        else:
            typer.echo(f"  {step.name:10s} {status}: {entry.get('reason')}")
    for name, text in run.record.get("not_run", {}).items():
        typer.echo(f"  {name:10s} {text}")
    typer.echo(f"  {'run':10s} {'steps and inputs':22s} {run.out / RUN_FILE}")
    hint = run.facts.get("timezone_hint")
    if hint:
        from foodrec.data.timezone_check import TimezoneHint

        command = f"foodrec run {' '.join(run.sources)} --out {run.out}"
        typer.secho("time zone: " + TimezoneHint.from_dict(hint).message(command), fg="yellow")


def register(app: typer.Typer) -> None:
    """Add ``run`` to the foodrec CLI."""

    @app.command("run")
    def run_command(
        sources: list[str] = typer.Argument(
            ...,
            help="Your order log: CSV/Parquet files, DHRD files or folders, or a `foodrec generate` folder.",
            show_default=False,
            metavar="SOURCE",
        ),
        out: Path = typer.Option(..., "--out", help="Folder for everything the run writes (and run.json)."),
        timezone: str | None = typer.Option(
            None, "--timezone", help="The city's IANA time zone, for times without one and for meal times."
        ),
        level: str | None = typer.Option(None, "--level", help="dish or restaurant (default: dish when items exist)."),
        seed: int = typer.Option(0, "--seed", help="Seed of training."),
        epochs: int | None = typer.Option(None, "--epochs", help="Maximum epochs of the final training."),
        no_search: bool = typer.Option(False, "--no-search", help="Skip training's capacity x learning-rate search."),
        fresh: bool = typer.Option(False, "--fresh", help="Start over instead of continuing the run in --out."),
    ) -> int:
        """Run the workflow on your own log: ingest → EDA → baselines → train → evaluate → drift → report, with
        defaults derived from the log; running it again continues where it stopped."""
        code, _ = run_workflow(sources, out, timezone, level, seed, epochs, not no_search, fresh)
        return code
