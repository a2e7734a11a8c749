"""The base of the peer recommenders (implicit's, LightFM, TIFU-KNN): benchmarks fit and score them in-process
and never save them, so saving and loading refuse.

    class MyPeer(UnsavedRecommender):
        name = "my-peer"
        def fit(self, log): ...
        def recommend(self, queries, k=10): ...
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from foodrec.recommenders.base import Recommender


class UnsavedRecommender(Recommender):
    """A :class:`Recommender` that only lives in the benchmark's process."""

    def save_state(self, directory: Path) -> None:
        raise NotImplementedError(f"{self.name} is a benchmark peer: it is not saved")

    @classmethod
    def load_state(cls, directory: Path, manifest: dict[str, Any]) -> Recommender:
        raise NotImplementedError(f"{cls.name} is a benchmark peer: it is not loaded")
