"""The shuffled-target sanity run and the popularity reference it is judged against.

Trained on shuffled targets (each training order gets the items of a random other order), the model keeps its
inputs but loses any real link between them and what was ordered. Its validation NDCG@10 must then fall to about
what popularity alone achieves; if it stays clearly above, information leaks from the future into the features.
It is judged at its last epoch: picking the best validation epoch would use real labels to select the epoch whose
random initial weights happen to agree with them.

>>> sanity_verdict(0.21, 0.20)[0], sanity_verdict(0.35, 0.20)[0]
(True, False)
"""

from __future__ import annotations

import numpy as np

from foodrec.features.popularity import Popularity
from foodrec.recommenders.keras.metrics import ndcg_at_k, top_k
from foodrec.recommenders.keras.training import TrainConfig, TrainOutcome, builder

# The shuffled model may match popularity, plus a little noise; anything more is a leak.
TOLERANCE_RATIO = 1.10
TOLERANCE_ABS = 0.01


def popularity_ndcg(outcome: TrainOutcome, cfg: TrainConfig | None = None) -> float:
    """Validation NDCG@10 of ranking by popularity (restaurant in area x meal time, times dish within restaurant;
    past-only, same candidates as the model)."""
    cfg = cfg or outcome.config
    prep = outcome.prep
    cut = outcome.validation["cutoff_days"]
    ex = prep.examples.take(np.flatnonzero(prep.examples.at >= cut))
    rng = np.random.default_rng(cfg.seed)
    ex = ex.take(np.sort(rng.choice(len(ex), min(len(ex), cfg.eval_sample), replace=False)))
    build = builder(prep, cfg, cutoff=cut)
    scores = []
    for lo in range(0, len(ex), 512):
        part = ex.take(np.arange(lo, min(lo + 512, len(ex))))
        inputs, _ = build.build(part)
        ranked = top_k(inputs["candidates"], Popularity.reference_score(inputs["popularity"]), 10)[0]
        scores.append(ndcg_at_k(ranked, part.positives))
    return float(np.concatenate(scores).mean()) if scores else 0.0


def sanity_verdict(shuffled_ndcg: float, popularity: float) -> tuple[bool, str]:
    """``(passed, message)``: passed when the shuffled run is no better than popularity (within tolerance)."""
    limit = popularity * TOLERANCE_RATIO + TOLERANCE_ABS
    if shuffled_ndcg <= limit:
        return True, (
            f"sanity check passed: trained on shuffled targets the model reaches validation NDCG@10 "
            f"{shuffled_ndcg:.4f}, no better than popularity ({popularity:.4f}); no sign of leakage"
        )
    return False, (
        f"SANITY CHECK FAILED: trained on shuffled targets the model still reaches validation NDCG@10 "
        f"{shuffled_ndcg:.4f}, above popularity ({popularity:.4f}, limit {limit:.4f}): features leak "
        "information about the target"
    )
