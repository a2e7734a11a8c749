"""The two-stage experiment of ``foodrec demo``: interleaving picks, an A/B test sized by its own power analysis
confirms on business metrics, read sequentially.

Stage 1 (interleaving) tells *which* ranking customers prefer with few customers, but not by how much they will
order more. Stage 2 sizes the A/B test before it starts, from what is known then: the baseline orders per
customer and their spread among the stage-1 customers (who saw a list half made by control), and how much of that
spread the pre-period explains (CUPED), for a chosen minimum detectable effect::

    n per arm = (z_{1-alpha/2} + z_power)^2 * 2 * sd^2 * (1 - rho^2) / (mde * mean)^2

>>> plan = {"baseline": 1.0, "sd": 1.2, "rho": 0.6}
>>> round(required_per_arm(plan, mde=0.05)) > 5000
True
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from foodrec.errors import InputError


def required_per_arm(plan: dict[str, Any], mde: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Customers per arm of a fixed-horizon test with CUPED (``plan``: baseline, sd, rho)."""
    from foodrec.experiments.power import sample_size_mean

    sd = plan["sd"] * math.sqrt(max(1 - plan["rho"] ** 2, 1e-6))
    return sample_size_mean(plan["baseline"], sd, mde, alpha, power)


def size_ab(
    events: pd.DataFrame, pre_period: pd.DataFrame | None, mde: float, alpha: float = 0.05, power: float = 0.8
) -> dict[str, Any]:
    """The A/B plan from the stage-1 events: baseline orders per customer, spread, CUPED correlation, the
    customers per arm needed for ``mde`` at ``power``, and the same for the sequential read (mSPRT needs more
    customers than a test read once; the ratio is measured in ``benchmarks/bench_interleaving.py``)."""
    from foodrec.experiments.analysis import customer_outcomes

    cust = customer_outcomes(events, pre_period)
    y = cust["orders"].to_numpy(float)
    if len(y) < 10 or y.mean() <= 0:
        raise InputError("the first stage left too few customers with orders to size the A/B test")
    rho = 0.0
    if "pre_orders" in cust.columns and cust["pre_orders"].var() > 0:
        rho = float(np.corrcoef(cust["pre_orders"].to_numpy(float), y)[0, 1])
    plan: dict[str, Any] = {"customers_seen": int(len(y)), "baseline": float(y.mean()), "sd": float(y.std(ddof=1)),
                            "rho": rho, "mde": mde, "alpha": alpha, "power": power}  # fmt: skip
    plan["required_per_arm"] = required_per_arm(plan, mde, alpha, power)
    return plan
