"""The honest training loop of the Keras ranker.

* Temporal validation: the last ``validation_fraction`` of the training period's days is validation; validation
  examples see features from before the validation cutoff only (exactly like test queries later).
* EarlyStopping on validation NDCG@10 with the best weights restored; Dropout and L2 in the model. Validation is
  checked every ``check_examples`` training examples (a whole pass on small logs, a part of one on large logs), so
  that patience costs a bounded number of examples however long the log is.
* A small capacity x learning-rate search scored on validation only; logs with fewer than 50k orders score each
  setting with time-blocked (forward-chaining) K-fold instead of one split.
* BackupAndRestore: an interrupted run resumes from its last finished epoch (search results are kept too).
* Curves: loss and NDCG@10 on a train sample and on validation, per check.
* Refit: the served model continues from the selected weights over the newest examples (the validation days, which
  it has not trained on) - a warm start - instead of training again from scratch on everything.

>>> cfg = TrainConfig(epochs=2)
>>> [c["dim"] for c in search_grid(cfg)]
[16, 16, 48, 48]
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # before any keras import below

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from foodrec.data.orderlog import OrderLog
from foodrec.errors import InputError
from foodrec.features.clock import to_days
from foodrec.features.lines import order_lines
from foodrec.features.view import FeatureView
from foodrec.features.vocabulary import FeatureSpace
from foodrec.recommenders.keras.examples import Examples
from foodrec.recommenders.keras.inputs import InputBuilder
from foodrec.recommenders.keras.metrics import ndcg_at_k, top_k
from foodrec.recommenders.keras.training_report import check_name

KFOLD_MAX_ORDERS = 50_000


@dataclass
class TrainConfig:
    """Settings of one training run (recorded in the manifest)."""

    dim: int = 32
    hidden: int = 64
    lr: float = 2e-3
    dropout: float = 0.2
    l2: float = 1e-5
    batch_size: int = 256
    epochs: int = 12
    patience: int = 2
    depth: int = 50
    n_candidates: int = 200
    # Above this many items, rank the n_candidates retrieved ones (history, dishes of recent restaurants, popular
    # in the area at that meal time) instead of the whole catalogue. On the default city (2,915 dishes) this gave
    # the same test NDCG@10 (0.2357 vs 0.2357) at a quarter of the CPU per query.
    full_max: int = 1000
    train_full_max: int = 600
    n_train_candidates: int = 400
    max_examples: int = 150_000
    # Early stopping looks at validation after at most this many training examples (one "check"); a pass over more
    # examples is split into equal parts. Patience is counted in checks.
    check_examples: int = 50_000
    validation_fraction: float = 0.15
    search: bool = True
    search_epochs: int = 2
    search_max_examples: int = 12_000
    # Optional wall-clock budget of the whole run: the search stops starting new points after 40% of it, the final
    # training stops after the epoch that crosses it (best weights kept). None (default): no limit, so the same
    # command on the same data gives the same model on any machine.
    max_seconds: float | None = None
    folds: int = 3
    eval_sample: int = 2_000
    search_eval_sample: int = 1_000
    seed: int = 0
    sanity: bool = False
    refit: bool = True
    # Refit as a warm start: continue from the selected weights for one pass over the newest examples (validation
    # days, at most check_examples). False: train again from scratch on all days for the selected number of checks.
    warm_refit: bool = True
    # Repeat feature groups the network reads (features/repeat.py); the ablation benchmark drops them one at a time.
    extras: tuple[str, ...] = ("cycle", "explore", "return", "dow", "cold")
    # Choose between the network, the strongest baseline and their learned blend on validation (selection.py).
    select: bool = True

    def params(self) -> dict:
        return {"dim": self.dim, "hidden": self.hidden, "lr": self.lr}


def search_grid(cfg: TrainConfig) -> list[dict]:
    """Capacity x learning rate: a deliberately small grid (each point is a full training run)."""
    return [{"dim": d, "hidden": 2 * d, "lr": lr} for d in (16, 48) for lr in (1e-3, 4e-3)]


@dataclass
class Prepared:
    """Everything derived from the training log once: vocabularies, the feature view over it, examples."""

    space: FeatureSpace
    view: FeatureView
    examples: Examples
    end: float  # days: end of the training period
    n_orders: int


def prepare(log: OrderLog, level: str) -> Prepared:
    space = FeatureSpace.fit(log, level)
    lines = order_lines(log, space)
    if lines["order"].nunique() < 20:
        raise InputError(f"too few orders to train on ({lines['order'].nunique()}); need at least 20")
    end = float(to_days([log.orders["ordered_at"].max()])[0]) + 1e-6
    # The model's customers are the training log's, so the view's customer indices are the model's own.
    view = FeatureView.build(space, log, end=end, lines=lines)
    return Prepared(space, view, Examples.from_lines(lines), end, int(lines["order"].nunique()))


def builder(prep: Prepared, cfg: TrainConfig, cutoff: float = np.inf) -> InputBuilder:
    return InputBuilder(
        prep.view,
        cfg.depth,
        cfg.n_candidates,
        cfg.full_max,
        cutoff,
        cfg.train_full_max,
        cfg.seed,
        cfg.n_train_candidates,
    )


def _limit_threads() -> None:
    import tensorflow as tf

    n = int(os.environ.get("FOODREC_TF_THREADS", "1"))
    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # already initialised in this process
        pass


def _dataset_cls():
    import keras

    class Batches(keras.utils.PyDataset):
        """Shuffled batches of examples built on the fly (features need not fit in memory).

        One Keras "epoch" is one check of ``steps`` batches (default: a whole pass). Batches form an endless stream
        of passes, each in its own seeded order, so check ``k`` always gets the same batches (resume included).
        """

        def __init__(
            self,
            build: InputBuilder,
            examples: Examples,
            batch_size: int,
            seed: int,
            shuffle: bool,
            steps: int | None = None,
        ):
            super().__init__()
            self.build, self.examples, self.batch_size = build, examples, batch_size
            self.shuffle, self.seed = shuffle, seed
            self.n_batches = math.ceil(len(examples) / batch_size)
            self.steps = steps or self.n_batches
            self.check = 0
            self._pass: tuple[int, np.ndarray] | None = None

        def __len__(self) -> int:
            return self.steps

        def _order(self, p: int) -> np.ndarray:
            if self._pass is None or self._pass[0] != p:
                n = len(self.examples)
                order = np.random.default_rng([self.seed, p]).permutation(n) if self.shuffle else np.arange(n)
                self._pass = (p, order)
            return self._pass[1]

        def __getitem__(self, i: int):
            p, j = divmod(self.check * self.steps + i, self.n_batches)
            idx = np.sort(self._order(p)[j * self.batch_size : (j + 1) * self.batch_size])
            return self.build.build(self.examples.take(idx), force_positives=True)

        def on_epoch_end(self) -> None:
            self.check += 1

    class FollowEpochs(keras.callbacks.Callback):
        """Points the batches at Keras' epoch number (BackupAndRestore may resume at any epoch)."""

        def __init__(self, batches: Batches):
            super().__init__()
            self.batches = batches

        def on_epoch_begin(self, epoch, logs=None):
            self.batches.check = epoch

    return Batches, FollowEpochs


def checks_per_pass(n_examples: int, cfg: TrainConfig) -> int:
    """Into how many checks one pass over ``n_examples`` is split (1 up to ``check_examples``)."""
    return max(1, math.ceil(n_examples / max(cfg.check_examples, 1)))


def score_examples(model, build: InputBuilder, ex: Examples, k: int = 10) -> np.ndarray:
    """Ranked item indices ``(n, k)`` of the model for examples (no forced positives: the real candidates)."""
    n_cand = build.n_items if build.full else build.n_candidates
    batch = int(np.clip(2_000_000 // max(n_cand * build.depth, 1), 8, 512))
    out = []
    for lo in range(0, len(ex), batch):
        inputs, _ = build.build(ex.take(np.arange(lo, min(lo + batch, len(ex)))), force_positives=False)
        logits = np.asarray(model(inputs, training=False))
        out.append(top_k(inputs["candidates"], logits, k)[0])
    return np.concatenate(out) if out else np.zeros((0, k), np.int32)


def _callbacks_module(progress: Callable[[str, int, int], None] | None):
    import keras

    class Curves(keras.callbacks.Callback):
        """Adds ``ndcg10`` (train sample) and ``val_ndcg10`` to the epoch logs and keeps every epoch's logs."""

        def __init__(
            self,
            train_build,
            train_ex,
            val_build,
            val_ex,
            store: Path | None,
            verbose_epochs: bool,
            passes_per_check: float = 1.0,
        ):
            super().__init__()
            self.passes_per_check = passes_per_check
            self.verbose_epochs = verbose_epochs
            self.args = (train_build, train_ex, val_build, val_ex)
            self.store = store
            self.rows: list[dict] = []
            self.best: tuple[float, list] | None = None
            if store is not None and store.is_file():
                self.rows = json.loads(store.read_text())

        def on_epoch_end(self, epoch, logs=None):
            logs = logs if logs is not None else {}
            tb, tex, vb, vex = self.args
            if tex is not None:
                logs["ndcg10"] = float(ndcg_at_k(score_examples(self.model, tb, tex), tex.positives).mean())
            logs["val_ndcg10"] = float(ndcg_at_k(score_examples(self.model, vb, vex), vex.positives).mean())
            if self.best is None or logs["val_ndcg10"] > self.best[0]:
                self.best = (logs["val_ndcg10"], self.model.get_weights())
            self.rows = [r for r in self.rows if r["epoch"] < epoch + 1]
            passes = round((epoch + 1) * self.passes_per_check, 3)
            self.rows.append({"epoch": epoch + 1, "passes": passes, **{k: float(v) for k, v in logs.items()}})
            if self.store is not None:
                self.store.write_text(json.dumps(self.rows))
            if progress is not None and self.verbose_epochs:
                where = check_name(epoch + 1, passes, within_pass=self.passes_per_check < 1)
                progress(
                    f"{where}: loss {logs.get('loss', float('nan')):.4f}, val loss "
                    f"{logs.get('val_loss', float('nan')):.4f}, NDCG@10 train {logs['ndcg10']:.4f}, "
                    f"validation {logs['val_ndcg10']:.4f}",
                    0,
                    0,
                )

    class Progress(keras.callbacks.Callback):
        def __init__(self, label: str, total: int):
            super().__init__()
            self.label, self.total, self.done = label, total, 0

        def on_train_batch_end(self, batch, logs=None):
            self.done += 1
            if progress is not None and self.done % 5 == 0:
                progress(self.label, self.done, self.total)

    return Curves, Progress


def _deadline_callback(deadline: float):
    import keras

    class Deadline(keras.callbacks.Callback):
        """Stop after the epoch that ends past ``deadline`` (``time.perf_counter()`` seconds)."""

        def on_epoch_end(self, epoch, logs=None):
            if time.perf_counter() > deadline:
                self.model.stop_training = True

    return Deadline()


@dataclass
class RunResult:
    model: object
    curves: list[dict]
    best_val_ndcg: float
    best_epoch: int
    seconds: float
    params: dict = field(default_factory=dict)
    parts: int = 1  # checks per pass over the training examples
    examples_seen: int = 0  # training examples processed (all checks)


def train_one(
    prep: Prepared,
    cfg: TrainConfig,
    params: dict,
    train_ex: Examples,
    val_ex: Examples,
    val_cutoff: float,
    epochs: int,
    backup_dir: Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    label: str = "training",
    deadline: float | None = None,
    curves_only_validation: bool = False,
) -> RunResult:
    """Train one model with early stopping on validation NDCG@10; best weights restored."""
    import keras

    _limit_threads()
    keras.utils.set_random_seed(cfg.seed)
    start = time.perf_counter()
    train_build = builder(prep, cfg)
    val_build = builder(prep, cfg, cutoff=val_cutoff)
    rng = np.random.default_rng(cfg.seed)
    sample = lambda ex: ex.take(np.sort(rng.choice(len(ex), min(len(ex), cfg.eval_sample), replace=False)))  # noqa: E731
    # Search runs only need validation NDCG; the final run also records training NDCG and validation loss.
    train_sample, val_sample = (None if curves_only_validation else sample(train_ex)), sample(val_ex)
    model, batch_size = _new_model(prep, cfg, params, val_build, val_sample)
    Batches, FollowEpochs = _dataset_cls()
    parts = checks_per_pass(len(train_ex), cfg)
    steps = math.ceil(math.ceil(len(train_ex) / batch_size) / parts)
    batches = Batches(train_build, train_ex, batch_size, cfg.seed, shuffle=True, steps=steps)
    val_batches = Batches(val_build, val_sample, batch_size, cfg.seed, shuffle=False)
    Curves, Progress = _callbacks_module(progress)
    store = backup_dir / "curves.json" if backup_dir is not None else None
    curves = Curves(
        train_build,
        train_sample,
        val_build,
        val_sample,
        store,
        verbose_epochs=label == "final training",
        passes_per_check=steps / batches.n_batches,
    )
    callbacks = [
        FollowEpochs(batches),
        curves,
        keras.callbacks.EarlyStopping(
            monitor="val_ndcg10", mode="max", patience=cfg.patience, restore_best_weights=True
        ),
        Progress(label, epochs * parts * steps),
    ]
    if deadline is not None:
        callbacks.append(_deadline_callback(deadline))
    if backup_dir is not None:
        backup_dir.mkdir(parents=True, exist_ok=True)
        callbacks.insert(2, keras.callbacks.BackupAndRestore(str(backup_dir / "backup"), delete_checkpoint=True))
    model.fit(
        batches,
        validation_data=None if curves_only_validation else val_batches,
        epochs=epochs * parts,
        callbacks=callbacks,
        verbose=0,
    )
    rows = curves.rows
    best = max(rows, key=lambda r: r["val_ndcg10"]) if rows else {"val_ndcg10": 0.0, "epoch": 0}
    # EarlyStopping restores only when it stopped early; make sure the best epoch's weights are the final ones.
    if curves.best is not None:
        model.set_weights(curves.best[1])
    seconds = time.perf_counter() - start
    seen = len(rows) * min(steps * batch_size, len(train_ex))
    return RunResult(model, rows, float(best["val_ndcg10"]), int(best["epoch"]), seconds, params, parts, seen)


def _new_model(prep: Prepared, cfg: TrainConfig, params: dict, build: InputBuilder, ex: Examples):
    """A compiled, built ranker and the batch size that keeps a batch's candidate rows bounded."""
    import keras

    from foodrec.recommenders.keras.model import FoodrecRanker, softmax_loss

    space = prep.space
    model = FoodrecRanker(
        len(space.customers),
        len(space.areas),
        len(space.items),
        len(space.restaurants),
        dim=params["dim"],
        hidden=params["hidden"],
        dropout=cfg.dropout,
        l2=cfg.l2,
        dish=space.dish,
        extras=tuple(cfg.extras),
    )
    model.compile(optimizer=keras.optimizers.Adam(params["lr"]), loss=softmax_loss)
    model(build.build(ex.take(np.arange(min(2, len(ex)))))[0])  # build the weights
    return model, batch_size_for(prep, cfg)


def batch_size_for(prep: Prepared, cfg: TrainConfig) -> int:
    """Examples per batch, fewer when each has many candidates (bounded candidate rows per batch)."""
    n_items = len(prep.space.items) - 1
    n_cand = n_items if n_items <= cfg.train_full_max else cfg.n_train_candidates
    return int(min(cfg.batch_size, max(32, 400_000 // max(n_cand, 1))))


def refit(
    prep: Prepared,
    cfg: TrainConfig,
    params: dict,
    examples: Examples,
    checks: int,
    progress: Callable[[str, int, int], None] | None = None,
):
    """Train the chosen setting from scratch for ``checks`` checks on ``examples`` (all days, validation included)."""
    import keras

    _limit_threads()
    keras.utils.set_random_seed(cfg.seed)
    build = builder(prep, cfg)
    model, batch_size = _new_model(prep, cfg, params, build, examples)
    parts = checks_per_pass(len(examples), cfg)
    steps = math.ceil(math.ceil(len(examples) / batch_size) / parts)
    Batches, FollowEpochs = _dataset_cls()
    batches = Batches(build, examples, batch_size, cfg.seed, shuffle=True, steps=steps)
    _, Progress = _callbacks_module(progress)
    model.fit(
        batches,
        epochs=checks,
        callbacks=[FollowEpochs(batches), Progress("refit on all training days", checks * steps)],
        verbose=0,
    )
    return model


def warm_refit(
    prep: Prepared,
    cfg: TrainConfig,
    model,
    examples: Examples,
    progress: Callable[[str, int, int], None] | None = None,
):
    """Continue training ``model`` (its selected weights and optimizer state) for one pass over ``examples``.

    Used with the newest examples - the validation days the model has not trained on - so the served model learns
    the latest days at the cost of one pass over them rather than a whole new training.
    """
    import keras

    _limit_threads()
    keras.utils.set_random_seed(cfg.seed + 1)
    Batches, FollowEpochs = _dataset_cls()
    batches = Batches(builder(prep, cfg), examples, batch_size_for(prep, cfg), cfg.seed + 1, shuffle=True)
    _, Progress = _callbacks_module(progress)
    label = "refit: warm start on the validation days"
    model.fit(batches, epochs=1, callbacks=[FollowEpochs(batches), Progress(label, len(batches))], verbose=0)
    return model


def validation_cutoff(examples: Examples, fraction: float, start: float | None = None) -> float:
    """Days value such that the last ``fraction`` of the days of ``examples`` (after ``start``) is validation."""
    lo = float(examples.at.min()) if start is None else start
    hi = float(examples.at.max())
    return float(np.floor(lo + (hi - lo) * (1.0 - fraction)))


def _recent(ex: Examples, n: int) -> Examples:
    return ex if len(ex) <= n else ex.take(np.arange(len(ex) - n, len(ex)))


def folds(prep: Prepared, cfg: TrainConfig) -> list[tuple[Examples, Examples, float]]:
    """(train, validation, cutoff) per fold: one temporal split, or forward-chaining time blocks for small logs."""
    ex = prep.examples
    if prep.n_orders >= KFOLD_MAX_ORDERS or cfg.folds < 2:
        cut = validation_cutoff(ex, cfg.validation_fraction)
        return [(ex.take(np.flatnonzero(ex.at < cut)), ex.take(np.flatnonzero(ex.at >= cut)), cut)]
    lo, hi = float(ex.at.min()), float(ex.at.max())
    # Blocks 0..k; fold j trains on blocks < j+1 ... the first block is warm-up history only.
    edges = lo + (hi - lo) * np.linspace(0.4, 1.0, cfg.folds + 1)
    out = []
    for j in range(cfg.folds):
        a, b = np.floor(edges[j]), np.floor(edges[j + 1]) if j < cfg.folds - 1 else np.inf
        tr = ex.take(np.flatnonzero(ex.at < a))
        va = ex.take(np.flatnonzero((ex.at >= a) & (ex.at < b)))
        if len(tr) and len(va):
            out.append((tr, va, float(a)))
    return out


def shuffled_targets(ex: Examples, seed: int) -> Examples:
    """The same examples with the ordered items of randomly chosen other orders (the sanity run)."""
    perm = np.random.default_rng(seed + 7).permutation(len(ex))
    return replace(ex, positives=ex.positives[perm])


@dataclass
class TrainOutcome:
    model: object
    prep: Prepared
    config: TrainConfig
    params: dict
    curves: list[dict]
    search: list[dict]
    validation: dict
    seconds: float


def train(
    log: OrderLog,
    level: str,
    cfg: TrainConfig,
    work_dir: Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    engine: object | None = None,
) -> TrainOutcome:
    """Search (optional) then train the final model; ``work_dir`` makes the run resumable.

    ``engine`` (a :class:`foodrec.distributed.training.ScaledTraining`) runs the search's settings in parallel and
    the final training data-parallel; None runs both here."""
    start = time.perf_counter()
    if progress:
        progress("building features", 0, 0)
    prep = prepare(log, level)
    params = cfg.params()
    search_rows: list[dict] = []
    if cfg.search and not cfg.sanity:
        state = work_dir / "search.json" if work_dir is not None else None
        done = json.loads(state.read_text()) if state is not None and state.is_file() else []
        search_rows = list(done)
        fold_list = [
            (_recent(tr, cfg.search_max_examples), _recent(va, cfg.search_eval_sample), cut)
            for tr, va, cut in folds(prep, cfg)
        ]
        todo = [p for p in search_grid(cfg) if not any(r["params"] == p for r in search_rows)]
        if engine is not None and todo:
            if progress:
                progress(f"search: {len(todo)} settings x {len(fold_list)} folds on {engine.workers} workers", 0, 0)
            parallel = engine.search(prep, cfg, todo, fold_list)
        for i, p in enumerate(todo):
            if cfg.max_seconds is not None and time.perf_counter() - start > 0.4 * cfg.max_seconds:
                if progress:
                    progress(f"search stopped after {len(search_rows)} settings: time budget", 0, 0)
                break
            scores = parallel[i] if engine is not None else []
            for j, (tr, va, cut) in enumerate(fold_list if engine is None else []):
                res = train_one(
                    prep,
                    cfg,
                    p,
                    tr,
                    va,
                    cut,
                    cfg.search_epochs,
                    progress=progress,
                    label=f"search dim={p['dim']} lr={p['lr']:g} fold {j + 1}/{len(fold_list)}",
                    curves_only_validation=True,
                )
                scores.append(res.best_val_ndcg)
            search_rows.append({"params": p, "val_ndcg10": float(np.mean(scores)), "folds": scores})
            if progress:
                progress(
                    f"search dim={p['dim']} lr={p['lr']:g}: validation NDCG@10 {np.mean(scores):.4f} "
                    f"({len(scores)} fold{'s' if len(scores) > 1 else ''})",
                    0,
                    0,
                )
            if state is not None:
                state.write_text(json.dumps(search_rows))
        if search_rows:
            params = max(search_rows, key=lambda r: r["val_ndcg10"])["params"]
    ex = prep.examples
    cut = validation_cutoff(ex, cfg.validation_fraction)
    tr = _recent(ex.take(np.flatnonzero(ex.at < cut)), cfg.max_examples)
    va = ex.take(np.flatnonzero(ex.at >= cut))
    if len(tr) == 0 or len(va) == 0:
        raise InputError("the training period is too short to hold out a validation slice; give more days")
    if cfg.sanity:
        tr = shuffled_targets(tr, cfg.seed)
    final = (engine.train_one if engine is not None else train_one)(
        prep,
        cfg,
        params,
        tr,
        va,
        cut,
        cfg.epochs,
        backup_dir=work_dir / "final" if work_dir is not None else None,
        progress=progress,
        label="final training",
        deadline=start + cfg.max_seconds if cfg.max_seconds is not None else None,
    )
    validation = {
        "cutoff": pd.Timestamp(cut * 86400, unit="s", tz="UTC").isoformat(),
        "cutoff_days": cut,
        "val_ndcg10": final.best_val_ndcg,
        "best_epoch": final.best_epoch,
        "checks_per_pass": final.parts,
        "best_passes": next((r["passes"] for r in final.curves if r["epoch"] == final.best_epoch), 0.0),
        "n_train_examples": len(tr),
        "n_validation_examples": len(va),
        "refit": False,
    }
    if cfg.select and not cfg.sanity:
        # Before the refit: the network has not seen the validation days yet (recommenders/keras/selection.py).
        from foodrec.recommenders.keras.selection import network_ranker, select

        if progress:
            progress("model selection on validation: network, strongest baseline, blend", 0, 0)
        ranker = network_ranker(final.model, prep.view, cfg, cut)
        validation["selection"] = select(log, level, pd.Timestamp(cut * 86400, unit="s", tz="UTC"), ranker).to_json()
    model = final.model
    if cfg.refit and not cfg.sanity and final.best_epoch >= 1:
        # Validation chose the setting and the number of checks; the latest days are the most informative about the
        # future, so the served model learns them too (when the time budget allows). Warm start (default): continue
        # from the selected weights over the newest validation-day examples, which the model has not trained on.
        if cfg.warm_refit:
            refit_ex = _recent(va, cfg.check_examples)
            n_seen = len(refit_ex)
        else:
            refit_ex = _recent(ex, cfg.max_examples)
            n_seen = math.ceil(len(refit_ex) / checks_per_pass(len(refit_ex), cfg)) * final.best_epoch
        per_example = final.seconds / max(final.examples_seen, 1)
        elapsed = time.perf_counter() - start
        if cfg.max_seconds is None or elapsed + per_example * n_seen <= cfg.max_seconds * 1.1:
            if cfg.warm_refit:
                model = warm_refit(prep, cfg, model, refit_ex, progress)
            else:
                model = refit(prep, cfg, params, refit_ex, final.best_epoch, progress)
            validation.update(refit=True, refit_mode="warm" if cfg.warm_refit else "scratch")
            validation.update(n_refit_examples=len(refit_ex))
        elif progress:
            progress("no refit on the validation days: time budget", 0, 0)
    return TrainOutcome(model, prep, cfg, params, final.curves, search_rows, validation, time.perf_counter() - start)


def config_dict(cfg: TrainConfig) -> dict:
    return asdict(cfg)
