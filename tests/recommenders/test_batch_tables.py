"""Per-row history tables over a batch (features/history.py): the ranker's history match and repeat counts."""

import numpy as np
import pytest

from foodrec.features import history
from foodrec.features.history import BatchTables, batch_item_columns


def _batch(seed: int, top: int, b: int = 12, h: int = 9, c: int = 15):
    rng = np.random.default_rng(seed)
    hist = rng.integers(1, top, (b, h))
    hist[:, 4:6] = hist[:, :2]  # repeats within a row
    hist[rng.random((b, h)) < 0.3] = 0  # padding
    cands = rng.integers(0, top, (b, c))
    cands[:, :3] = hist[:, :3]  # candidates in the history, some of them padding
    return hist, cands


@pytest.mark.parametrize("top", [40, 50_000, 3 << 24])
def test_item_columns_by_table_and_by_search_agree_with_the_definition(top, monkeypatch):
    hist, cands = _batch(0, top)
    items = hist[hist > 0]
    seen, inverse = np.unique(items, return_inverse=True)
    expected_cand = np.array([[list(seen).index(v) + 1 if v in seen else 0 for v in row] for row in cands])
    got = batch_item_columns(items, cands)
    monkeypatch.setattr(history, "_TABLE_IDS", 0)  # every id past the table: the binary search
    searched = batch_item_columns(items, cands)
    for hist_code, cand_code, width in (got, searched):
        assert hist_code.tolist() == (inverse + 1).tolist() and width == len(seen) + 1
        assert cand_code.tolist() == expected_cand.tolist()


def test_an_empty_history_has_one_empty_column():
    hist_code, cand_code, width = batch_item_columns(np.zeros(0, np.int64), np.array([[0, 3]]))
    assert hist_code.size == 0 and cand_code.tolist() == [[0, 0]] and width == 1


def test_tables_equal_loops_over_each_row():
    hist, cands = _batch(1, 30)
    values = np.random.default_rng(2).uniform(0, 9, hist.shape)
    t = BatchTables(hist, cands)
    sums, lowest = t.sum(t.lines(values)), t.reduce(np.minimum, t.lines(values), 99.0)
    for row in range(len(hist)):
        for j, item in enumerate(cands[row]):
            hits = (hist[row] == item) & (item > 0)
            assert t.sum()[row, j] == hits.sum() and sums[row, j] == values[row][hits].sum()
            assert lowest[row, j] == (values[row][hits].min() if hits.any() else 99.0)
    older = np.triu(np.ones((hist.shape[1],) * 2, bool), 1)  # the definition: no older line has the item
    assert (t.new == ((hist > 0) & ~((hist[:, :, None] == hist[:, None, :]) & older).any(2))).all()
