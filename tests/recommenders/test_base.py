"""The Recommender interface: rankings, queries, saving and safe loading."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from foodrec.data.orderlog import OrderLog
from foodrec.errors import InputError
from foodrec.recommenders.base import Ranking, Recommender, load_recommender, make_queries


class MostRecent(Recommender):
    """A tiny recommender for the tests: the last k distinct items ordered in the log."""

    name = "most-recent"

    def fit(self, log: OrderLog) -> "MostRecent":
        self.items_ = log.orders.sort_values("ordered_at")["restaurant_id"].drop_duplicates(keep="last").tolist()[::-1]
        return self

    def recommend(self, queries: pd.DataFrame, k: int = 10) -> Ranking:
        top = (self.items_ + [None] * k)[:k]
        items = np.array([top] * len(queries), dtype=object)
        scores = np.array([[-r if i is not None else -np.inf for r, i in enumerate(top)]] * len(queries), dtype=float)
        return Ranking(items, scores)

    def save_state(self, directory: Path) -> None:
        (directory / "items.json").write_text(json.dumps(self.items_))

    @classmethod
    def load_state(cls, directory: Path, manifest: dict) -> "MostRecent":
        rec = cls(level=manifest["level"])
        rec.items_ = json.loads((directory / "items.json").read_text())
        return rec


def _log() -> OrderLog:
    return OrderLog(
        pd.DataFrame(
            {
                "order_id": ["o1", "o2"],
                "customer_id": ["c1", "c2"],
                "ordered_at": pd.to_datetime(["2026-01-01 12:00", "2026-01-02 12:00"], utc=True),
                "area": ["a", "a"],
                "restaurant_id": ["r1", "r2"],
            }
        )
    )


def test_make_queries_normalises_ids_and_times():
    q = make_queries([1, "c2"], ["a", None], ["2026-01-01T12:00", "2026-01-01T13:00+01:00"])
    assert q["customer_id"].tolist() == ["1", "c2"]
    assert q["area"].tolist() == ["a", None]
    assert (q["at"] == pd.Timestamp("2026-01-01 12:00", tz="UTC")).all()


def test_make_queries_rejects_bad_times():
    with pytest.raises(InputError, match="ISO 8601"):
        make_queries(["c"], ["a"], ["noon"])


def test_ranking_to_frame_drops_padding_and_numbers_ranks_from_one():
    rec = MostRecent(level="restaurant").fit(_log())
    frame = rec.recommend(make_queries(["c1"], ["a"], ["2026-02-01"]), k=3).to_frame()
    assert frame.to_dict("list") == {"query_id": [0, 0], "rank": [1, 2], "item_id": ["r2", "r1"], "score": [0.0, -1.0]}


def test_save_then_load_gives_the_same_answers(tmp_path):
    rec = MostRecent(level="restaurant").fit(_log())
    rec.save(tmp_path / "model")
    rec.save(tmp_path / "model")  # overwriting is atomic and leaves no staging folders
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    loaded = load_recommender(tmp_path / "model", trusted_prefixes=("foodrec.", MostRecent.__module__))
    q = make_queries(["c9"], ["z"], ["2026-02-01"])
    assert loaded.recommend(q, 2).items.tolist() == rec.recommend(q, 2).items.tolist()


def test_load_refuses_classes_outside_foodrec(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"class": "os.system", "level": None}))
    with pytest.raises(InputError, match="outside foodrec."):
        load_recommender(tmp_path)


def test_load_of_a_folder_without_manifest_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="not a saved recommender"):
        load_recommender(tmp_path)
