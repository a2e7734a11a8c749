"""Training on the engine: the search's settings in parallel (Ray tasks), the final training data-parallel.

:func:`foodrec.recommenders.keras.training.train` takes an ``engine`` with the two methods below; without one it
runs everything in its own process, as before.

>>> with RayEngine(workers=2) as ray_engine:                               # doctest: +SKIP
...     outcome = train(log, "dish", TrainConfig(seed=0), engine=ScaledTraining(ray_engine))
"""

from __future__ import annotations

from typing import Any

from foodrec.distributed.data_parallel import train_one_data_parallel


class ScaledTraining:
    """The search's (setting, fold) runs as one Ray task each; the final training on ``workers`` Ray Train workers.

    The search's runs are independent and seeded, so they score exactly what the single-process search scores,
    only ``workers`` at a time. The final training splits every batch among the workers (see
    :mod:`foodrec.distributed.data_parallel`).
    """

    def __init__(self, engine: Any):
        self.engine = engine
        self.workers = engine.workers

    def search(self, prep: Any, cfg: Any, points: list[dict], fold_list: list[tuple]) -> list[list[float]]:
        """Validation NDCG@10 of each setting in ``points`` on each fold of ``fold_list`` (one list per point)."""
        jobs = [(p, j) for p in points for j in range(len(fold_list))]
        scores = self.engine.map(_search_run, jobs, shared=(prep, cfg, fold_list))
        n = len(fold_list)
        return [scores[i * n : (i + 1) * n] for i in range(len(points))]

    def train_one(self, *args: Any, **kwargs: Any) -> Any:
        """:func:`~foodrec.recommenders.keras.training.train_one`, data-parallel."""
        return train_one_data_parallel(self.engine, *args, **kwargs)


def _search_run(shared: tuple, params: dict, fold: int) -> float:
    """One search run (a Ray task): the setting ``params`` trained on fold ``fold``; its best validation NDCG@10."""
    from foodrec.recommenders.keras.training import train_one

    prep, cfg, fold_list = shared
    tr, va, cut = fold_list[fold]
    return train_one(prep, cfg, params, tr, va, cut, cfg.search_epochs, curves_only_validation=True).best_val_ndcg
