"""Ranking metrics against hand-computed cases, and their invariants on random rankings."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from foodrec.errors import InputError
from foodrec.evaluation.metrics import catalogue_coverage, hit_matrix, ranking_metrics
from foodrec.recommenders.base import Ranking


def ranking(rows):
    items = np.array(rows, dtype=object)
    return Ranking(items=items, scores=np.zeros(items.shape))


def test_single_target_at_rank_three():
    m = ranking_metrics(ranking([["a", "b", "c", "d"]]), [{"c"}], k=4).iloc[0]
    assert m["hr"] == 1.0
    assert m["ndcg"] == pytest.approx(1 / math.log2(4))  # 0.5
    assert m["mrr"] == pytest.approx(1 / 3)
    assert m["map"] == pytest.approx(1 / 3)


def test_two_targets_hand_computed():
    # hits at ranks 1 and 3 of 4; two targets
    m = ranking_metrics(ranking([["a", "x", "b", "y"]]), [{"a", "b"}], k=4).iloc[0]
    dcg = 1 / math.log2(2) + 1 / math.log2(4)
    idcg = 1 / math.log2(2) + 1 / math.log2(3)
    assert m["ndcg"] == pytest.approx(dcg / idcg)
    assert m["mrr"] == 1.0
    assert m["map"] == pytest.approx((1 / 1 + 2 / 3) / 2)


def test_more_targets_than_k_caps_the_ideal():
    m = ranking_metrics(ranking([["a", "b"]]), [{"a", "b", "c", "d"}], k=2).iloc[0]
    assert m["ndcg"] == pytest.approx(1.0)
    assert m["map"] == pytest.approx(1.0)


def test_k_cuts_the_list_and_misses_score_zero():
    m = ranking_metrics(ranking([["a", "b", "c"], ["x", "y", "z"]]), [{"c"}, {"q"}], k=2)
    assert m.to_dict("list") == {"hr": [0.0, 0.0], "ndcg": [0.0, 0.0], "mrr": [0.0, 0.0], "map": [0.0, 0.0]}


def test_padding_is_never_a_hit():
    hits = hit_matrix(np.array([["a", None]], dtype=object), [{"a"}])
    assert hits.tolist() == [[True, False]]


def test_same_item_in_another_querys_targets_is_not_a_hit():
    m = ranking_metrics(ranking([["a"], ["b"]]), [{"b"}, {"a"}], k=1)
    assert m["hr"].tolist() == [0.0, 0.0]


def test_mismatched_lengths_is_an_input_error():
    with pytest.raises(InputError):
        ranking_metrics(ranking([["a"]]), [{"a"}, {"b"}], k=1)
    with pytest.raises(InputError):
        ranking_metrics(Ranking(items=np.array(["a"], dtype=object), scores=np.zeros(1)), [{"a"}], k=1)


def test_catalogue_coverage():
    r = ranking([["a", "b"], ["a", None]])
    assert catalogue_coverage(r, 4) == 0.5
    assert catalogue_coverage(r, 4, k=1) == 0.25
    assert catalogue_coverage(r, 0) == 0.0


@settings(max_examples=60, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.permutations(list("abcdefgh")), st.sets(st.sampled_from(list("abcdefghij")), min_size=1)),
        min_size=1,
        max_size=20,
    ),
    k=st.integers(min_value=1, max_value=8),
)
def test_metric_invariants(data, k):
    r = ranking([list(p) for p, _ in data])
    targets = [t for _, t in data]
    m = ranking_metrics(r, targets, k=k)
    assert ((m >= 0) & (m <= 1 + 1e-12)).all().all()
    assert (m["mrr"] <= m["hr"]).all()
    assert ((m["hr"] == 0) == (m["ndcg"] == 0)).all()
    # a list that starts with all the targets is perfect
    perfect = ranking([(sorted(t) + list("klmnopqrst"))[:10] for t in targets])
    best = ranking_metrics(perfect, targets, k=k)
    assert np.allclose(best["ndcg"], 1.0) and np.allclose(best["hr"], 1.0)
