"""Data-parallel training of the Keras ranker with Ray Train and TensorFlow's ``MultiWorkerMirroredStrategy``.

Each of N Ray Train workers holds a replica of the model. Step ``s`` of the single-process run trains on one batch
of examples (a seeded permutation, the same on every worker); here worker ``r`` builds the features of every N-th
example of that batch (``batch[r::N]``) and computes its gradient, and the strategy all-reduces the gradients, so the
N workers together take the same step on the same examples: the union of their batches is the single-process batch
and the loss is the mean over it. Feature building, the expensive part of a step, is split N ways. Early stopping
looks at validation NDCG@10, computed by every worker on the same weights, so all stop at the same check. Worker 0
sends the result (curves and the best weights) back through a small actor; no shared file system is needed.

>>> with RayEngine(workers=2) as engine:                                   # doctest: +SKIP
...     result = train_one_data_parallel(engine, prep, cfg, params, tr, va, cut, epochs=12)

Two Keras 3.15 issues with a multi-worker strategy are worked around here (see :func:`_fit_ready`): the symbolic
build before ``fit`` reduces the whole input batch across workers (and fails), and the per-step logs (scalars)
are reduced along an axis they do not have.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from foodrec.errors import FoodrecError


class DistributedTrainingError(FoodrecError):
    """Data-parallel training failed on a worker (the message names the worker's error)."""


def _collector_cls(ray: Any) -> Any:
    @ray.remote(num_cpus=0)
    class Collector:
        """Holds what worker 0 reports (its results) until the driver asks."""

        def __init__(self) -> None:
            self.value: Any = None

        def put(self, value: Any) -> None:
            self.value = value

        def get(self) -> Any:
            return self.value

    return Collector


def train_one_data_parallel(
    engine: Any,
    prep: Any,
    cfg: Any,
    params: dict,
    train_ex: Any,
    val_ex: Any,
    val_cutoff: float,
    epochs: int,
    progress: Any = None,
    label: str = "final training",
    deadline: float | None = None,
    **_: Any,
) -> Any:
    """:func:`foodrec.recommenders.keras.training.train_one` on ``engine.workers`` Ray Train workers.

    Returns the same :class:`RunResult` (the model rebuilt here from worker 0's best weights). Not resumable
    from an epoch backup (a killed run starts its final training again; the search keeps its finished points).
    """
    from ray.train import RunConfig, ScalingConfig
    from ray.train.tensorflow import TensorflowTrainer

    from foodrec.recommenders.keras.training import RunResult, _new_model, builder

    ray = engine.ray
    start = time.perf_counter()
    collector = _collector_cls(ray).remote()
    payload = ray.put((prep, cfg, params, train_ex, val_ex, val_cutoff, epochs, deadline))
    if progress:
        progress(f"{label}: data-parallel on {engine.workers} Ray Train workers", 0, 0)
    with tempfile.TemporaryDirectory(prefix="foodrec-ray-train-") as storage:
        trainer = TensorflowTrainer(
            _worker_loop,
            train_loop_config={"payload": payload, "collector": collector},
            scaling_config=ScalingConfig(num_workers=engine.workers, resources_per_worker={"CPU": 1}),
            run_config=RunConfig(storage_path=str(Path(storage)), name="foodrec-train"),
        )
        try:
            trainer.fit()
        except Exception as err:  # Ray wraps a worker's exception; say which in one line
            cause = err.__cause__ or err
            first = str(cause).strip().splitlines()
            raise DistributedTrainingError(
                f"data-parallel training failed: {type(cause).__name__}: {first[-1] if first else ''}"
            ) from err
    result = ray.get(collector.get.remote())
    if result is None:
        raise DistributedTrainingError("data-parallel training ended without a result from worker 0")
    rows, weights, seen, parts = result
    val_build = builder(prep, cfg, cutoff=val_cutoff)
    model, _ = _new_model(prep, cfg, params, val_build, val_ex)
    model.set_weights(weights)
    best = max(rows, key=lambda r: r["val_ndcg10"]) if rows else {"val_ndcg10": 0.0, "epoch": 0}
    seconds = time.perf_counter() - start
    return RunResult(model, rows, float(best["val_ndcg10"]), int(best["epoch"]), seconds, params, parts, seen)


def _fit_ready(model: Any) -> None:
    """Work around Keras 3's multi-worker gaps (the model was built under the strategy's scope, ``fit`` runs in it).

    * ``fit`` builds the model symbolically from a first batch it reduces across workers with the strategy, which
      fails for a dict of inputs; the model is already built, so that build is skipped by not pinning the
      strategy on the model (``fit`` still finds it: it runs inside ``strategy.scope()``).
    * Per-step logs are reduced with ``strategy.reduce("MEAN", v, axis=0)``, which needs a batch axis: the logs are
      given one (shape ``(1,)``), so they come back as the mean over workers.
    """
    import tensorflow as tf

    model._distribute_strategy = None
    for name in ("train_step", "test_step"):
        step = getattr(model, name)
        setattr(model, name, lambda data, step=step: {k: tf.reshape(v, [1]) for k, v in step(data).items()})


def _sharded_dataset(batches: Any, rank: int, world: int, sample: tuple, cycle: int | None = None) -> Any:
    """An endless ``tf.data`` stream of this worker's share of batch 0, 1, 2, ... of ``batches`` (``cycle``: of
    batch ``g % cycle``). ``fit`` keeps one iterator across epochs when ``steps_per_epoch`` is given, so check
    ``k`` gets the batches ``k * steps ...`` exactly like the single-process run. Auto-sharding is off: the
    stream is this worker's already."""
    import tensorflow as tf

    def spec(a: np.ndarray) -> Any:
        return tf.TensorSpec([None] * a.ndim, tf.as_dtype(a.dtype))

    signature = tf.nest.map_structure(spec, sample)

    def generate():
        g = 0
        while True:
            yield batches.shard(g % cycle if cycle else g, rank, world)
            g += 1

    ds = tf.data.Dataset.from_generator(generate, output_signature=signature)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return ds.with_options(options)


def _worker_loop(config: dict) -> None:
    """One Ray Train worker: a replica of :func:`train_one` under ``MultiWorkerMirroredStrategy``."""
    import os

    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    import ray
    import ray.train
    import tensorflow as tf

    from foodrec.recommenders.keras.metrics import ndcg_at_k  # noqa: F401  (imports the training stack once)
    from foodrec.recommenders.keras.training import (
        _callbacks_module,
        _dataset_cls,
        _deadline_callback,
        _limit_threads,
        _new_model,
        builder,
        checks_per_pass,
    )

    prep, cfg, params, train_ex, val_ex, val_cutoff, epochs, deadline = ray.get(config["payload"])
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    _limit_threads()
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    keras.utils.set_random_seed(cfg.seed)
    train_build = builder(prep, cfg)
    train_build.seed = cfg.seed + 1000 * rank  # each worker samples its own negatives
    val_build = builder(prep, cfg, cutoff=val_cutoff)
    rng = np.random.default_rng(cfg.seed)
    sample = lambda ex: ex.take(np.sort(rng.choice(len(ex), min(len(ex), cfg.eval_sample), replace=False)))  # noqa: E731
    train_sample, val_sample = sample(train_ex), sample(val_ex)
    with strategy.scope():
        model, batch_size = _new_model(prep, cfg, params, val_build, val_sample)
        _fit_ready(model)
    Batches, _ = _dataset_cls()

    class Sharded(Batches):
        def shard(self, g: int, r: int, n: int):
            """Worker ``r`` of ``n``: every n-th example of the ``g``-th batch of the endless stream."""
            p, j = divmod(g, self.n_batches)
            idx = np.sort(self._order(p)[j * self.batch_size : (j + 1) * self.batch_size])
            mine = idx[r::n]
            return self.build.build(self.examples.take(mine if len(mine) else idx[:1]), force_positives=True)

    parts = checks_per_pass(len(train_ex), cfg)
    steps = math.ceil(math.ceil(len(train_ex) / batch_size) / parts)
    batches = Sharded(train_build, train_ex, batch_size, cfg.seed, shuffle=True, steps=steps)
    val_batches = Sharded(val_build, val_sample, batch_size, cfg.seed, shuffle=False)
    first = batches.shard(0, rank, world)
    Curves, _ = _callbacks_module(None)
    curves = Curves(train_build, train_sample, val_build, val_sample, None, verbose_epochs=False,
                    passes_per_check=steps / batches.n_batches)  # fmt: skip
    callbacks = [
        curves,
        keras.callbacks.EarlyStopping(monitor="val_ndcg10", mode="max", patience=cfg.patience),
    ]
    if deadline is not None:
        callbacks.append(_deadline_callback(deadline))
    with strategy.scope():
        model.fit(
            _sharded_dataset(batches, rank, world, first),
            validation_data=_sharded_dataset(val_batches, rank, world, first, cycle=len(val_batches)),
            epochs=epochs * parts,
            steps_per_epoch=steps,
            validation_steps=len(val_batches),
            callbacks=callbacks,
            verbose=0,
        )
    if rank == 0:
        rows = curves.rows
        weights = curves.best[1] if curves.best is not None else model.get_weights()
        seen = len(rows) * min(steps * batch_size, len(train_ex))
        ray.get(config["collector"].put.remote((rows, [np.asarray(w) for w in weights], seen, parts)))
