"""Find a recommender by name (a baseline) or path (a saved model).

>>> sorted(BASELINE_NAMES)[:2]     # doctest: +SKIP
['area-mealtime-popularity', 'area-popularity']
>>> rec = resolve_recommender("area-popularity", log=log)   # fitted on log   # doctest: +SKIP
>>> rec = resolve_recommender("runs/model", log=log)        # loaded, its features looked up in log   # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from foodrec.data.orderlog import OrderLog
from foodrec.errors import InputError
from foodrec.recommenders.base import Recommender, load_recommender, saved_model_dir


def baseline_factories() -> dict[str, type[Recommender]]:
    """Baseline name -> class. Imported lazily so the CLI starts fast."""
    from foodrec.recommenders.baselines import BASELINES

    return dict(BASELINES)


def make_recommender(name: str, level: str | None = None, **options: object) -> Recommender:
    """An unfitted baseline by name, e.g. ``make_recommender("area-popularity")``."""
    factories = baseline_factories()
    if name not in factories:
        raise InputError(
            f"unknown recommender {name!r}: give a saved model directory or one of {', '.join(sorted(factories))}"
        )
    return factories[name](level=level, **options)


def resolve_recommender(name_or_path: str, log: OrderLog | None = None, level: str | None = None) -> Recommender:
    """A saved model when ``name_or_path`` is a directory (refreshed on ``log`` when given: its learned
    parameters with this data), else the named baseline fitted on ``log``."""
    path = Path(name_or_path)
    if saved_model_dir(path) is not None:  # a folder, or a model whose save died between its two renames
        rec = load_recommender(path)
        return rec.refresh(log) if log is not None else rec
    rec = make_recommender(name_or_path, level=level)
    if log is None:
        raise InputError(f"recommender {name_or_path!r} is a baseline and needs a store to be fitted on (--store)")
    return rec.refresh(log)
