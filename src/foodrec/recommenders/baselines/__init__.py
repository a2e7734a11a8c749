"""Non-ML baselines behind the :class:`~foodrec.recommenders.base.Recommender` interface.

>>> sorted(BASELINES)
['area-mealtime-popularity', 'area-popularity', 'customer-history', 'global-popularity', 'item-cooccurrence', 'oracle']
>>> BASELINES["area-popularity"]().strategy
'area'
"""

from __future__ import annotations

from foodrec.recommenders.base import Recommender
from foodrec.recommenders.baselines.cooccurrence import ItemCooccurrence
from foodrec.recommenders.baselines.oracle import Oracle, has_ground_truth
from foodrec.recommenders.baselines.popularity import (
    AreaMealtimePopularity,
    AreaPopularity,
    CustomerHistory,
    GlobalPopularity,
    PopularityBaseline,
)

BASELINES: dict[str, type[Recommender]] = {
    cls.name: cls
    for cls in (GlobalPopularity, AreaPopularity, AreaMealtimePopularity, CustomerHistory, ItemCooccurrence, Oracle)
}

__all__ = [
    "BASELINES",
    "AreaMealtimePopularity",
    "AreaPopularity",
    "CustomerHistory",
    "GlobalPopularity",
    "ItemCooccurrence",
    "Oracle",
    "PopularityBaseline",
    "has_ground_truth",
]
