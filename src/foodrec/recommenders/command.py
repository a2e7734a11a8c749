"""``foodrec train``: fit the Keras recommender on a store's past and save it as a model directory.

.. code-block:: text

    foodrec train --store runs/demo/store --out runs/demo/model
    foodrec train --store STORE --out MODEL --until 2026-03-01 --level restaurant --epochs 8 --seed 1
    foodrec train --store STORE --sanity          # shuffled-target run: must fall to popularity
    foodrec train --store STORE --out MODEL --workers 2                       # Ray on this machine
    foodrec train --store STORE --out MODEL --workers 8 --cluster ray://head:10001   # a Ray cluster

Without ``--until`` the training cutoff is the one ``foodrec evaluate`` uses by default (the last ~20% of days are
left for test). The model directory holds ``model.keras``, the features' state, ``manifest.json`` (versions, data
fingerprint, cutoff, validation metrics) and ``training_report.html``; ``train.json`` repeats the facts for
machines. An interrupted run resumes where it stopped (``MODEL.work/`` keeps the search and epoch backups).

Resume is keyed: ``MODEL.work/key.json`` records the data fingerprint, the cutoff, the level and every training
option (seed included; the ``--max-minutes`` budget excepted). A run whose key differs (another store, another
``--seed``, other options) says so and starts fresh instead of continuing someone else's run. One training per
``--out`` at a time: a second one is refused at once (``.MODEL.lock`` next to the model names the holder's pid);
the model itself is replaced atomically at the end (see :meth:`foodrec.recommenders.base.Recommender.save`).

``--workers N`` (N >= 2) runs on Ray (the optional extra ``foodrec[scale]``): the search's settings as parallel
tasks, the final training data-parallel on N Ray Train workers (``docs/scaling.md``). The worker count is part of
the resume key (a data-parallel run samples other negatives); ``--workers 1``, the default, needs no Ray.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from foodrec.errors import InputError


def data_fingerprint(orders: Any) -> str:
    """A short hash of the training orders (ids, customers, times, targets): same data, same fingerprint."""
    import pandas as pd

    cols = [c for c in ("order_id", "customer_id", "ordered_at", "area", "restaurant_id", "item_id") if c in orders]
    hashed = pd.util.hash_pandas_object(orders[cols], index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()[:16]


def _versions() -> dict[str, str]:
    import keras
    import numpy as np
    import tensorflow as tf

    from foodrec import __version__

    return {
        "foodrec": __version__,
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "keras_backend": keras.backend.backend(),
    }


KEY_FILE = "key.json"
# Options that do not change what a resumed run computes (a budget only decides where it stops).
_NOT_IN_KEY = frozenset({"max_seconds"})


def resume_key(data_fingerprint: str, cutoff: str, level: str, cfg: Any) -> dict[str, Any]:
    """What a run's ``MODEL.work/`` belongs to: the data, the cutoff, the level and the training options."""
    from foodrec import __version__

    options = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in _NOT_IN_KEY}
    key = {
        "data_fingerprint": data_fingerprint,
        "cutoff": cutoff,
        "level": level,
        "options": options,
        "foodrec": __version__,
    }
    return json.loads(json.dumps(key, default=str))  # as it reads back from key.json


def prepare_work_dir(work: Path, key: dict[str, Any]) -> str | None:
    """Make ``work`` a resume folder for ``key``: kept when its key matches, else emptied. Returns a note, if any."""
    note = None
    if work.exists():
        try:
            old = json.loads((work / KEY_FILE).read_text())
        except (OSError, ValueError):
            old = None
        if old == key:
            return f"resuming the interrupted run in {work}"
        if isinstance(old, dict):
            changed = sorted(k for k in key if old.get(k) != key[k])
            if "options" in changed and isinstance(old.get("options"), dict):
                changed.remove("options")
                changed += sorted(k for k in key["options"] if old["options"].get(k) != key["options"][k])
            why = f"it was for another {', '.join(changed)}"
        else:
            why = "it has no readable key"
        note = f"{work} is not resumed ({why}): starting fresh"
        shutil.rmtree(work)
    work.mkdir(parents=True)
    tmp = work / f".{KEY_FILE}.tmp"
    tmp.write_text(json.dumps(key, indent=2))
    os.replace(tmp, work / KEY_FILE)
    return note


@contextlib.contextmanager
def one_trainer(out: Path) -> Iterator[None]:
    """Hold ``--out`` for the whole run: a second training into it is refused at once with a one-line error."""
    from foodrec.recommenders.base import WriterBusyError, writer_lock

    try:
        lock = writer_lock(out, wait=False)
        lock.__enter__()
    except WriterBusyError as err:
        raise InputError(
            f"--out {str(out)!r}: another training (pid {err.holder}) is writing it; wait for it to finish or "
            "choose another --out"
        ) from None
    try:
        yield
    finally:
        lock.__exit__(None, None, None)


def run_train(store_dir: Path, out: Path | None, **options: Any) -> dict[str, Any]:
    """The whole ``foodrec train`` as a function (demo and benchmarks call it); returns ``train.json``'s content.
    ``options`` are :func:`_run_train`'s (until, level, sanity, epochs, seed, search, progress, training settings).

    One run per ``out`` at a time (:func:`one_trainer`); ``MODEL.work/`` is resumed only for the same data and
    options (:func:`prepare_work_dir`).
    """
    with one_trainer(out) if out is not None else contextlib.nullcontext():
        return _run_train(store_dir, out, **options)


@dataclasses.dataclass
class _Plan:
    log: Any
    cutoff: Any
    level: str
    cfg: Any
    fingerprint: str

    @property
    def key(self) -> dict[str, Any]:
        return resume_key(self.fingerprint, self.cutoff.isoformat(), self.level, self.cfg)


def _plan(
    store_dir: Path,
    until: str | None = None,
    level: str | None = None,
    sanity: bool = False,
    epochs: int | None = None,
    seed: int = 0,
    search: bool = True,
    **settings: Any,
) -> _Plan:
    """The data and options a run trains on (what its resume key records)."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # TensorFlow's log settings: foodrec.quiet (the CLI)
    from foodrec.data.orderlog import to_utc_timestamp
    from foodrec.data.store import Store
    from foodrec.evaluation.split import default_cutoff
    from foodrec.recommenders.keras.training import TrainConfig

    if epochs is not None and epochs < 1:
        raise InputError(f"--epochs must be at least 1, got {epochs}")
    store = Store.open(store_dir)
    full = store.order_log()
    cutoff = to_utc_timestamp(until) if until is not None else default_cutoff(full)
    log = full.before(cutoff)
    if log.orders.empty:
        raise InputError(f"no orders before the cutoff {cutoff.isoformat()}: nothing to train on")
    level = log.resolve_level(level)
    cfg = TrainConfig(seed=seed, sanity=sanity, search=search and not sanity, **settings)
    if epochs is not None:
        cfg.epochs = epochs
    return _Plan(log, cutoff, level, cfg, data_fingerprint(log.orders))


def planned_resume_key(store_dir: Path, **options: Any) -> dict[str, Any]:
    """The resume key :func:`run_train` would record with these arguments (tests prepare ``MODEL.work/`` with it)."""
    return _plan(store_dir, **options).key


def _run_train(
    store_dir: Path,
    out: Path | None,
    until: str | None = None,
    level: str | None = None,
    sanity: bool = False,
    epochs: int | None = None,
    seed: int = 0,
    search: bool = True,
    progress: Any = None,
    workers: int = 1,
    cluster: str | None = None,
    **settings: Any,
) -> dict[str, Any]:
    from foodrec.recommenders.keras.recommender import KerasRecommender
    from foodrec.recommenders.keras.sanity import popularity_ndcg, sanity_verdict
    from foodrec.recommenders.keras.training_report import write_training_report

    if workers != 1 or cluster is not None:
        from foodrec.distributed.engine import check_workers, require_ray

        check_workers(workers, cluster)
        require_ray()
    plan = _plan(store_dir, until, level, sanity, epochs, seed, search, **settings)
    log, cutoff, level, cfg, fingerprint = plan.log, plan.cutoff, plan.level, plan.cfg, plan.fingerprint
    work = None
    resume_note = None
    if out is not None:
        work = out.with_name(f"{out.name}.work{'-sanity' if sanity else ''}")
        key = plan.key if workers == 1 else {**plan.key, "workers": workers}
        resume_note = prepare_work_dir(work, key)
        if resume_note and progress:
            progress(resume_note, 0, 0)
    with _engine(workers, cluster) as engine:
        rec = KerasRecommender(level=level, config=cfg, work_dir=work, progress=progress, engine=engine)
        rec.fit(log)
    outcome = rec.outcome
    pop = popularity_ndcg(outcome)
    info = {
        "level": level,
        "cutoff": cutoff.isoformat(),
        "orders": outcome.prep.n_orders,
        "data_fingerprint": fingerprint,
        "params": outcome.params,
        "validation": {k: v for k, v in outcome.validation.items() if k != "cutoff_days"},
        "popularity_val_ndcg10": pop,
        "train_seconds": round(outcome.seconds, 1),
        "search": outcome.search,
        "seed": seed,
        "sanity": sanity,
        "workers": workers,
    }
    result: dict[str, Any] = {**info, "versions": _versions(), "resume": resume_note}
    if sanity:
        # Judge the trained model (last epoch): the best validation epoch would select, with real labels, the
        # epoch whose random initial weights happen to agree with them.
        last = outcome.curves[-1]["val_ndcg10"] if outcome.curves else outcome.validation["val_ndcg10"]
        passed, message = sanity_verdict(last, pop)
        result.update(sanity_last_epoch_val_ndcg10=last)
        result.update(sanity_passed=passed, message=message)
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            write_training_report(
                out / "sanity_report.html", outcome.curves, info, pop, title="Sanity run: shuffled targets"
            )
            (out / "sanity.json").write_text(json.dumps(result, indent=2, default=str))
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
        return result
    assert out is not None
    manifest_extra = {
        "cutoff": cutoff.isoformat(),
        "data_fingerprint": info["data_fingerprint"],
        "versions": result["versions"],
        "metrics": {"val_ndcg@10": outcome.validation["val_ndcg10"], "popularity_val_ndcg@10": pop},
        "validation": info["validation"],
        "curves": outcome.curves,
    }
    rec.save(out, extra=manifest_extra)
    label, text = write_training_report(out / "training_report.html", outcome.curves, info, pop)
    result.update(verdict=label, verdict_text=text, model=str(out))
    (out / "train.json").write_text(json.dumps(result, indent=2, default=str))
    if work is not None:
        shutil.rmtree(work, ignore_errors=True)
    return result


@contextlib.contextmanager
def _engine(workers: int, cluster: str | None) -> Iterator[Any]:
    """None for one worker (everything in this process), else Ray for the run (local, or the cluster's)."""
    if workers == 1:
        yield None
        return
    from foodrec.distributed.engine import RayEngine
    from foodrec.distributed.training import ScaledTraining

    with RayEngine(workers, cluster) as ray_engine:
        yield ScaledTraining(ray_engine)


def register(app: typer.Typer) -> None:
    """Add ``foodrec train`` to the CLI."""

    @app.command("train")
    def train_command(
        store: Path = typer.Option(..., "--store", help="Store directory written by `foodrec ingest`."),
        out: Path | None = typer.Option(None, "--out", help="Model directory to write (required unless --sanity)."),
        until: str | None = typer.Option(
            None,
            "--until",
            help="Training cutoff (ISO 8601); default: leave the last ~20% of days for test, like `foodrec evaluate`.",
        ),
        level: str | None = typer.Option(
            None, "--level", help="dish or restaurant (default: dish when the log has item ids)."
        ),
        sanity: bool = typer.Option(False, "--sanity", help="Train on shuffled targets: must fall to popularity."),
        epochs: int | None = typer.Option(None, "--epochs", help="Maximum epochs of the final training."),
        seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same data: same model)."),
        no_search: bool = typer.Option(False, "--no-search", help="Skip the capacity x learning-rate search."),
        max_minutes: float | None = typer.Option(
            None,
            "--max-minutes",
            help="Optional wall-clock budget: the search stops after 40% of it, the final training after the epoch "
            "that crosses it. Off by default, because a cut depends on the machine and breaks reproducibility.",
        ),
        workers: int = typer.Option(
            1,
            "--workers",
            help="Ray workers: the search's settings in parallel, the final training data-parallel (needs the "
            "'scale' extra). 1 (default): one process, no Ray.",
        ),
        cluster: str | None = typer.Option(
            None, "--cluster", help="Ray cluster address (ray://HOST:10001 or auto); default: Ray on this machine."
        ),
    ) -> int:
        """Train the Keras recommender on the store's past; writes MODEL_DIR and its training report."""
        if max_minutes is not None and not max_minutes > 0:
            raise InputError(f"--max-minutes must be positive, got {max_minutes}")
        if out is None and not sanity:
            raise InputError("--out MODEL_DIR is required (only --sanity runs without it)")
        if out is not None and out.exists() and not out.is_dir():
            raise InputError(f"--out {str(out)!r} exists and is not a directory")
        from foodrec.data.store import Store

        if workers != 1 or cluster is not None:
            from foodrec.distributed.engine import check_workers, require_ray

            check_workers(workers, cluster)
            require_ray()
        Store.open(store)  # a missing store is a one-line error before any progress display starts
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        console = Console(stderr=True)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as bar:
            task = bar.add_task("loading the store", total=None)

            def progress(label: str, done: int, total: int) -> None:
                if total:
                    bar.update(task, description=label, completed=done, total=total)
                else:
                    bar.console.print(f"  {label}")

            result = run_train(
                store,
                out,
                until=until,
                level=level,
                sanity=sanity,
                epochs=epochs,
                seed=seed,
                search=not no_search,
                progress=progress,
                max_seconds=max_minutes * 60 if max_minutes is not None else None,
                workers=workers,
                cluster=cluster,
            )
        if sanity:
            if result["sanity_passed"]:
                typer.echo(result["message"])
                return 0
            print(result["message"], file=sys.stderr)
            return 1
        val = result["validation"]
        typer.echo(
            f"model saved to {out} (level {result['level']}, cutoff {result['cutoff']}): validation NDCG@10 "
            f"{val['val_ndcg10']:.4f} vs popularity {result['popularity_val_ndcg10']:.4f}; "
            f"verdict: {result['verdict']}; report {out / 'training_report.html'}"
        )
        return 0
