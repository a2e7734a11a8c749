"""Team-draft interleaving (the merge and the service's interleaving experiments) and the admin rankings route."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from foodrec.errors import InputError
from foodrec.serving.ab import ABConfig, Variant, load_ab_config
from foodrec.serving.app import create_app
from foodrec.serving.interleave import team_draft
from foodrec.serving.state import ServiceState

TOKEN = "s3cret-token"
AT = "2026-03-02T12:00:00Z"

ranking = st.lists(st.sampled_from([f"i{n}" for n in range(15)]), max_size=20)


@settings(max_examples=300, deadline=None)
@given(a=ranking, b=ranking, k=st.integers(1, 25), seed=st.integers(0, 2**32))
def test_team_draft_credits_each_item_once_keeps_each_teams_order_and_fills_the_list(a, b, k, seed):
    items, teams = team_draft({"a": a, "b": b}, k, random.Random(seed))
    assert len(items) == len(teams) == min(k, len(set(a) | set(b)))
    assert len(set(items)) == len(items)  # no duplicates
    assert set(teams) <= {"a", "b"}  # every shown item credited to exactly one team
    for team, ranked in (("a", a), ("b", b)):
        mine = [item for item, t in zip(items, teams, strict=True) if t == team]
        assert set(mine) <= set(ranked)
        first = {item: ranked.index(item) for item in mine}
        assert [first[i] for i in mine] == sorted(first[i] for i in mine)  # the team's relative order is kept
    # at every prefix, the teams' pick counts differ by at most one while both can still pick
    counts = Counter()
    for i, t in enumerate(teams):
        counts[t] += 1
        rest_a = [x for x in a if x not in items[: i + 1]]
        rest_b = [x for x in b if x not in items[: i + 1]]
        if rest_a and rest_b:
            assert abs(counts["a"] - counts["b"]) <= 1


def test_team_draft_is_fair_when_both_rankings_are_the_same():
    ranked = [f"i{n}" for n in range(10)]
    first = Counter(team_draft({"a": ranked, "b": ranked}, 10, random.Random(s))[1][0] for s in range(2000))
    assert 900 < first["a"] < 1100
    items, teams = team_draft({"a": ranked, "b": ranked}, 10, random.Random(1))
    assert items == ranked and Counter(teams) == {"a": 5, "b": 5}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('interleave = ["a", "b", "c"]', "exactly two"),
        ('interleave = ["a", "z"]', "unknown variant 'z'"),
        ('interleave = "a"', "list of two variant names"),
    ],
)
def test_bad_interleaving_files_get_one_line_errors(tmp_path, text, message):
    variants = "".join(
        f'[[variants]]\nname = "{n}"\nrecommender = "area-popularity"\nshare = {s}\n'
        for n, s in (("a", 0.4), ("b", 0.3), ("c", 0.3))
    )
    path = tmp_path / "ab.toml"
    path.write_text(f'salt = "s"\n{text}\n{variants}')
    with pytest.raises(InputError, match=message) as err:
        load_ab_config(path)
    assert "\n" not in str(err.value)


def test_interleaving_needs_shares_adding_up_to_one():
    with pytest.raises(InputError, match="add up to 1"):
        ABConfig("s", (Variant("a", "x", 0.5), Variant("b", "y", 0.2)), interleave=("a", "b"))


@pytest.fixture()
def interleaved(city, tmp_path):
    ab = ABConfig(
        salt="t",
        variants=(Variant("history", "customer-history", 0.5), Variant("model", str(city["model"]), 0.5)),
        interleave=("history", "model"),
    )
    app = create_app(ServiceState(ab=ab, store=city["store"]), tmp_path / "events.sqlite", admin_token=TOKEN)
    with TestClient(app) as c:
        yield c


def test_an_interleaving_experiment_serves_one_merged_list_and_stores_the_credits(interleaved):
    params = {"customer_id": "c01", "area": "south", "at": AT, "k": 6}
    answer = interleaved.get("/v1/recommendations", params=params).json()
    assert answer["variant"] == "interleaved"
    items = [it["item_id"] for it in answer["items"]]
    teams = [it["team"] for it in answer["items"]]
    assert len(items) == 6 == len(set(items)) and set(teams) <= {"history", "model"}
    again = interleaved.get("/v1/recommendations", params=params).json()
    assert [it["item_id"] for it in again["items"]] == items  # same slot: same coin flips
    # each team's items come from its own ranking (the admin route gives the rankings), in their order
    auth = {"Authorization": f"Bearer {TOKEN}"}
    own = interleaved.get("/v1/admin/rankings", params={**params, "k": 12}, headers=auth).json()["variants"]
    for team in ("history", "model"):
        mine = [i for i, t in zip(items, teams, strict=True) if t == team]
        assert mine == [i for i in own[team]["items"] if i in mine]
    events = [
        {"idempotency_key": "imp", "type": "impression", "customer_id": "c01", "items": items, "credits": teams},
        {"idempotency_key": "ord", "type": "order", "customer_id": "c01", "items": [items[0]], "credits": [teams[0]],
         "order_value": 12.0},
    ]  # fmt: skip
    stored = interleaved.post("/v1/events", json={"events": events})
    assert stored.status_code == 200 and stored.json()["stored"] == 2
    assert {r["variant"] for r in stored.json()["results"]} == {"interleaved"}
    frame = interleaved.app.state.service.events.read_events()
    assert frame.set_index("event_id").loc["ord", "credits"] == [teams[0]]


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"items": ["i00"], "credits": ["control"]}, "unknown variant 'control'"),
        ({"items": ["i00", "i01"], "credits": ["model"]}, "one variant per item"),
    ],
)
def test_credits_for_unknown_variants_are_refused_with_409(interleaved, event, message):
    body = {"events": [{"idempotency_key": "x", "type": "click", "customer_id": "c01", **event}]}
    answer = interleaved.post("/v1/events", json=body)
    assert answer.status_code == 409 and message in answer.text
    assert interleaved.app.state.service.events.count() == 0


def test_credits_outside_an_interleaving_experiment_are_refused(city, tmp_path):
    app = create_app(ServiceState(recommender="customer-history", store=city["store"]), tmp_path / "e.sqlite")
    with TestClient(app) as c:
        body = {"events": [{"idempotency_key": "x", "type": "click", "customer_id": "c01", "items": ["i00"],
                            "credits": ["default"]}]}  # fmt: skip
        answer = c.post("/v1/events", json=body)
        assert answer.status_code == 409 and "no interleaving experiment" in answer.text


def test_admin_rankings_need_the_token_and_are_not_exposures(city, tmp_path):
    ab = ABConfig(
        salt="t",
        variants=(Variant("control", "area-popularity", 0.5), Variant("model", "customer-history", 0.5)),
    )
    app = create_app(ServiceState(ab=ab, store=city["store"]), tmp_path / "events.sqlite", admin_token=TOKEN)
    with TestClient(app) as c:
        params = {"customer_id": "c01", "area": "south", "at": AT, "k": 5}
        assert c.get("/v1/admin/rankings", params=params).status_code == 401
        answer = c.get("/v1/admin/rankings", params=params, headers={"Authorization": f"Bearer {TOKEN}"})
        assert answer.status_code == 200
        lists = answer.json()["variants"]
        assert set(lists) == {"control", "model"} and all(len(v["items"]) == 5 for v in lists.values())
        shown = c.get("/v1/recommendations", params=params).json()
        assert [it["item_id"] for it in shown["items"]] == lists[shown["variant"]]["items"]
        assert "team" not in shown["items"][0]
        assert c.app.state.service.events.count() == 0
        metrics = c.get("/metrics").text
        assert "foodrec_admin_rankings_total 2" in metrics
        wrong = c.get("/v1/admin/rankings", params={**params, "variant": "nope"},
                      headers={"Authorization": f"Bearer {TOKEN}"})  # fmt: skip
        assert wrong.status_code == 404


def test_admin_rankings_batch_answers_each_visit_as_the_get_route(city, tmp_path):
    ab = ABConfig(
        salt="t",
        variants=(Variant("control", "area-popularity", 0.5), Variant("model", "customer-history", 0.5)),
    )
    app = create_app(ServiceState(ab=ab, store=city["store"]), tmp_path / "events.sqlite", admin_token=TOKEN)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    visits = [{"customer_id": "c01", "area": "south", "at": AT, "k": 5},
              {"customer_id": "c02", "at": AT, "k": 3, "variant": ["model"]}]  # fmt: skip
    with TestClient(app) as c:
        assert c.post("/v1/admin/rankings/batch", json={"visits": visits}).status_code == 401
        answer = c.post("/v1/admin/rankings/batch", json={"visits": visits}, headers=auth)
        assert answer.status_code == 200
        got = answer.json()["rankings"]
        for visit, ranking in zip(visits, got, strict=True):
            one = c.get("/v1/admin/rankings", params=visit, headers=auth).json()
            assert ranking == one and ranking["customer_id"] == visit["customer_id"]
        assert set(got[1]["variants"]) == {"model"} and len(got[1]["variants"]["model"]["items"]) == 3
        assert c.app.state.service.events.count() == 0
        wrong = c.post("/v1/admin/rankings/batch", json={"visits": [{**visits[0], "variant": ["nope"]}]}, headers=auth)
        assert wrong.status_code == 404 and "unknown variant 'nope'" in wrong.text
        too_many = c.post("/v1/admin/rankings/batch", json={"visits": [visits[0]] * 257}, headers=auth)
        assert too_many.status_code == 422
