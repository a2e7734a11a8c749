"""top_k: the k best candidates of each row, best first, padding (0) behind every real candidate."""

from collections import Counter

import numpy as np

from foodrec.recommenders.keras.metrics import top_k


def test_top_k_picks_the_best_in_order_per_row():
    rng = np.random.default_rng(0)
    for _ in range(200):
        b, c, k = (int(v) for v in rng.integers(1, [20, 60, 70]))
        cands = rng.integers(0, 30, (b, c)).astype(np.int32)
        scores = rng.integers(-3, 4, (b, c)).astype(np.float32)  # ties on purpose
        items, top = top_k(cands, scores, k)
        assert items.shape == top.shape == (b, min(k, c))
        masked = np.where(cands > 0, scores, -np.inf)
        assert np.array_equal(top, -np.sort(-masked, axis=1)[:, : min(k, c)])
        for row in range(b):  # the picks are candidates of the row with their scores, each at most as often
            have = Counter(zip(cands[row].tolist(), masked[row].tolist(), strict=True))
            picked = Counter(zip(items[row].tolist(), top[row].tolist(), strict=True))
            assert all(have[pair] >= count for pair, count in picked.items())
