"""The custom Keras layers on their own: values, padding, serialisation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

keras = pytest.importorskip("keras")

from foodrec.recommenders.keras.layers import CyclicalEncoding, HistoryMatch, HistoryPooling  # noqa: E402


def _match_reference(cands, hist, age, half_lives, recency):
    out = np.zeros((*cands.shape, 2 + len(half_lives)))
    for b in range(cands.shape[0]):
        for c in range(cands.shape[1]):
            hit = (hist[b] == cands[b, c]) & (hist[b] > 0)
            out[b, c, 0] = np.log1p(hit.sum())
            for j, h in enumerate(half_lives):
                out[b, c, 1 + j] = np.log1p((0.5 ** (age[b][hit] / h)).sum())
            out[b, c, -1] = (0.5 ** (age[b][hit] / recency)).max() if hit.any() else 0.0
    return out


def test_history_match_equals_a_loop_and_ignores_padding():
    rng = np.random.default_rng(0)
    cands = rng.integers(0, 6, (4, 7)).astype("int32")
    hist = rng.integers(0, 6, (4, 9)).astype("int32")
    age = rng.uniform(0, 90, (4, 9)).astype("float32")
    layer = HistoryMatch(half_lives=(7.0, 60.0), recency_half_life=30.0)
    got = np.asarray(layer([cands, hist, age]))
    np.testing.assert_allclose(got, _match_reference(cands, hist, age, (7.0, 60.0), 30.0), rtol=1e-5, atol=1e-6)
    assert np.all(got[cands == 0] == 0)  # a padding candidate never matches padding history


def test_recent_orders_weigh_more_than_old_ones():
    layer = HistoryMatch(half_lives=(7.0,))
    recent = np.asarray(layer([np.array([[1]]), np.array([[1]]), np.array([[1.0]], "float32")]))[0, 0]
    old = np.asarray(layer([np.array([[1]]), np.array([[1]]), np.array([[60.0]], "float32")]))[0, 0]
    assert recent[0] == old[0] and recent[1] > old[1] and recent[2] > old[2]


def test_cyclical_encoding_is_continuous_across_midnight_and_week():
    enc = CyclicalEncoding((24.0, 7.0))
    late, early = np.asarray(enc(np.array([[23.99, 6.99], [0.01, 0.01]], "float32")))
    noon = np.asarray(enc(np.array([[12.0, 3.5]], "float32")))[0]
    assert np.abs(late - early).max() < 0.02
    assert np.abs(noon - early).max() > 1.5


def test_pooling_of_an_empty_history_is_zero():
    pool = HistoryPooling(half_life=30.0)
    emb = np.ones((2, 3, 4), "float32")
    out = np.asarray(pool([emb, np.array([[0, 0, 0], [1, 0, 0]]), np.zeros((2, 3), "float32")]))
    np.testing.assert_allclose(out, [[0, 0, 0, 0], [1, 1, 1, 1]], atol=1e-6)


@pytest.mark.parametrize("layer", [CyclicalEncoding((24.0,)), HistoryMatch((3.0,), 9.0), HistoryPooling(5.0)])
def test_layers_round_trip_through_their_config(layer):
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer), safe_mode=True)
    assert type(restored) is type(layer)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(0, 6), min_size=6, max_size=6), min_size=1, max_size=5))
def test_repeat_share_is_the_share_of_lines_that_repeat_an_older_item(rows):
    from foodrec.recommenders.keras.model import repeat_share

    hist = np.array(rows, dtype=np.int32)
    got = np.asarray(repeat_share(hist))[:, 0]
    for row, value in zip(hist, got, strict=True):
        items = row[row > 0]  # padding is not a line
        expected = (len(items) - len(set(items.tolist()))) / max(len(items) - 1, 1)
        assert value == pytest.approx(expected)
        assert 0.0 <= value <= 1.0
