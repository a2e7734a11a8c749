"""Team-draft interleaving (Radlinski, Kurup and Joachims, CIKM 2008) and ranking every variant for one visit.

Two rankings are merged into one list the way two captains pick a team: in each round the team with fewer picks
so far (a coin flip when both have as many) adds its highest-ranked item that is not in the list yet. An item
both rankings hold is shown once, credited to the team that picked it first; a team whose ranking runs out stops
picking and the other one fills the rest of the list. Each shown item is credited to exactly one team, so a
click or an order on it is a vote for that team, and neither team is favoured by position on average.

>>> import random
>>> items, teams = team_draft({"a": ["x", "y", "z"], "b": ["y", "w", "x"]}, k=4, rng=random.Random(0))
>>> items, teams
(['y', 'x', 'w', 'z'], ['b', 'a', 'b', 'a'])

In the service, an A/B file with ``interleave = ["history", "model"]`` makes :func:`interleaved_answer` answer
``GET /v1/recommendations``: both variants rank the visit (``depth`` items each), the merge is seeded by the
experiment's salt, the customer and the time slot (a repeat within the slot gets the same list), and each item
carries its ``team``. The admin route ``GET /v1/admin/rankings`` (:func:`rank_all`) returns every variant's own
list for one visit: the simulator's paired ground truth, never an exposure.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from foodrec.serving.ab import INTERLEAVED

__all__ = ["INTERLEAVED", "interleave_seed", "rank_all", "team_draft"]


def team_draft(rankings: Mapping[str, Sequence[str]], k: int, rng: random.Random) -> tuple[list[str], list[str]]:
    """``(items, teams)``: the team-draft merge of two rankings, at most ``k`` long; ``teams[i]`` credits items[i].

    ``rankings`` maps each of the two team names to its ranked item ids (best first; an id repeated within one
    ranking counts at its first place). ``rng`` flips the coin when both teams have as many picks.
    """
    if len(rankings) != 2:
        raise ValueError(f"team draft merges exactly two rankings, got {len(rankings)}")
    (name_a, list_a), (name_b, list_b) = rankings.items()
    items: list[str] = []
    teams: list[str] = []
    shown: set[str] = set()
    picks = {name_a: 0, name_b: 0}
    cursor = {name_a: 0, name_b: 0}
    lists = {name_a: list(list_a), name_b: list(list_b)}

    def next_item(team: str) -> str | None:
        ranking, i = lists[team], cursor[team]
        while i < len(ranking) and ranking[i] in shown:
            i += 1
        cursor[team] = i
        return ranking[i] if i < len(ranking) else None

    while len(items) < k:
        left_a, left_b = next_item(name_a), next_item(name_b)
        if left_a is None and left_b is None:
            break
        if left_a is None:
            team = name_b
        elif left_b is None:
            team = name_a
        elif picks[name_a] != picks[name_b]:
            team = name_a if picks[name_a] < picks[name_b] else name_b
        else:
            team = name_a if rng.random() < 0.5 else name_b
        item = left_a if team == name_a else left_b
        assert item is not None
        items.append(item)
        teams.append(team)
        shown.add(item)
        picks[team] += 1
    return items, teams


def interleave_seed(salt: str, customer_id: str, slot: datetime) -> int:
    """The coin flips' seed of one visit: the same customer in the same time slot gets the same merged list.

    >>> interleave_seed("s", "c1", datetime(2026, 1, 1)) == interleave_seed("s", "c1", datetime(2026, 1, 1))
    True
    """
    digest = hashlib.sha256(f"{salt}\x1f{customer_id}\x1f{slot.isoformat()}".encode("utf-8", "surrogatepass"))
    return int.from_bytes(digest.digest()[:8], "big")


async def rank_all(service: Any, snapshot: Any, query: Any, names: Sequence[str]) -> dict[str, Any]:
    """Each named variant's own ranking of one query (``{name: Ranked}``), ranked as ``/v1/recommendations`` ranks
    (:func:`~foodrec.serving.ranking.rank_query`).

    Nothing is cached and nothing is recorded as an exposure: the caller decides what the answer is used for.
    """
    import asyncio

    from foodrec.serving.ranking import rank_query

    ranked = await asyncio.gather(*(rank_query(service, snapshot, snapshot.models[name], query) for name in names))
    return dict(zip(names, ranked, strict=True))


async def interleaved_answer(service: Any, snapshot: Any, query: Any, depth_factor: int = 2) -> tuple[Any, bool]:
    """The interleaved response of one visit: ``(RecommendationResponse, cacheable)``.

    Each team ranks ``depth_factor * k`` items, so that the merged list reaches ``k`` even when the two rankings
    overlap a lot.
    """
    from dataclasses import replace

    from foodrec.serving.schemas import RecommendationResponse, RecommendedItem

    names = list(snapshot.ab.interleave)
    deep = replace(query, k=min(depth_factor * query.k, 100))
    ranked = await rank_all(service, snapshot, deep, names)
    rng = random.Random(interleave_seed(snapshot.ab.salt, query.customer_id, query.at))
    items, teams = team_draft({name: ranked[name].items for name in names}, query.k, rng)
    sources: dict[str, tuple[str, float | None]] = {}
    for name in names:
        r = ranked[name]
        n_model = len(r.items) - r.fallback
        for i, (item, score) in enumerate(zip(r.items, r.scores, strict=True)):
            sources.setdefault(f"{name}\x1f{item}", ("model" if i < n_model else "fallback", score))
    catalogue = snapshot.catalogue
    level = snapshot.models[names[0]].level
    out = []
    for rank, (item, team) in enumerate(zip(items, teams, strict=True), start=1):
        source, score = sources[f"{team}\x1f{item}"]
        out.append(
            RecommendedItem(
                rank=rank,
                item_id=item,
                score=score,
                source=source,
                team=team,  # type: ignore[arg-type]
                **catalogue.describe(item, level),
            )  # fmt: skip
        )
    response = RecommendationResponse(
        request_id="",
        customer_id=query.customer_id,
        area=query.area,
        at=query.at,
        k=query.k,
        level=level,  # type: ignore[arg-type]
        variant=INTERLEAVED,
        model_version=interleaved_version(snapshot),
        fallback=any(s == "fallback" for s, _ in (sources[f"{t}\x1f{i}"] for i, t in zip(items, teams, strict=True))),
        items=out,
    )
    return response, all(ranked[name].error is None for name in names)


def interleaved_version(snapshot: Any) -> str:
    """``version_a+version_b``: what an interleaved answer and its events record as the model version."""
    return "+".join(snapshot.models[name].version for name in snapshot.ab.interleave)[:128]
