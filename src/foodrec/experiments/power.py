"""Sample size and power for an A/B test with two equal arms.

The minimum detectable effect (MDE) is *relative*: ``mde=0.05`` means "a 5% lift over control".
Conversion uses Cohen's h (arcsine transform) and revenue a standardised mean difference; both go through
statsmodels' normal-approximation power solver, which is what the z-test and (for large n) Welch's test use.

>>> n = sample_size_proportion(0.30, mde=0.10)          # customers per arm to see 30% -> 33%
>>> 3700 < n < 3800
True
>>> round(power_proportion(0.30, mde=0.10, n_per_arm=n), 2)
0.8
>>> sample_size_mean(mean=20.0, sd=40.0, mde=0.05)      # revenue: noisy, needs many customers
25117
"""

from __future__ import annotations

import math

from foodrec.errors import InputError


def _check(alpha: float, power: float | None = None, mde: float | None = None) -> None:
    if not 0 < alpha < 1:
        raise InputError(f"--alpha must be between 0 and 1, got {alpha}")
    if power is not None and not 0 < power < 1:
        raise InputError(f"--power must be between 0 and 1, got {power}")
    if mde is not None and not (mde > 0 and math.isfinite(mde)):
        raise InputError(f"--mde must be a positive relative lift such as 0.05, got {mde}")


def _solver():  # statsmodels is heavy: import on first use
    from statsmodels.stats.power import NormalIndPower

    return NormalIndPower()


def proportion_effect(p_control: float, mde: float) -> float:
    """Cohen's h between ``p_control`` and ``p_control * (1 + mde)`` (capped just below 1)."""
    from statsmodels.stats.proportion import proportion_effectsize

    p_treat = min(p_control * (1 + mde), 1 - 1e-9)
    return abs(float(proportion_effectsize(p_treat, p_control)))


def _solve_n(effect: float, alpha: float, power: float, what: str) -> int:
    """Customers per arm for a standardised ``effect``; a one-line error when it cannot be sized."""
    import warnings

    if not (effect > 1e-6 and math.isfinite(effect)):
        raise InputError(f"cannot size the test: the {what} is too small to detect (standardised effect {effect:.2g})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            n = float(_solver().solve_power(effect_size=effect, alpha=alpha, power=power, ratio=1.0))
        except ValueError as err:
            raise InputError(f"cannot size the test for the {what}: {err}") from err
    if not math.isfinite(n) or n <= 0:
        raise InputError(f"cannot size the test for the {what} (effect {effect:.2g}, alpha {alpha}, power {power})")
    return int(math.ceil(n))


def sample_size_proportion(p_control: float, mde: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Customers per arm for a two-sided two-proportion z-test to detect a relative lift ``mde``."""
    _check(alpha, power, mde)
    if not 0 < p_control < 1:  # also NaN
        raise InputError(f"baseline conversion must be strictly between 0 and 1 to size a test, got {p_control:.4f}")
    if p_control * (1 + mde) >= 1:
        raise InputError(f"a {mde:.0%} lift on a {p_control:.1%} conversion would exceed 100%: choose a smaller --mde")
    return _solve_n(proportion_effect(p_control, mde), alpha, power, "lift in conversion")


def power_proportion(p_control: float, mde: float, n_per_arm: float, alpha: float = 0.05) -> float:
    """Power of the two-proportion z-test with ``n_per_arm`` customers in each arm."""
    _check(alpha, None, mde)
    if n_per_arm < 2 or not 0 < p_control < 1:
        return 0.0
    effect = proportion_effect(p_control, mde)
    return float(_solver().power(effect_size=effect, nobs1=n_per_arm, alpha=alpha, ratio=1.0))


def sample_size_mean(mean: float, sd: float, mde: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Customers per arm for a two-sided test on a mean (e.g. revenue per customer) to detect a relative lift."""
    _check(alpha, power, mde)
    if not (mean > 0 and sd > 0 and math.isfinite(mean) and math.isfinite(sd)):
        raise InputError(f"need a positive control mean and spread to size a test (mean={mean:.4g}, sd={sd:.4g})")
    return _solve_n(mde * mean / sd, alpha, power, "lift in the mean")


def power_mean(mean: float, sd: float, mde: float, n_per_arm: float, alpha: float = 0.05) -> float:
    """Power of the two-sided test on a mean with ``n_per_arm`` customers per arm."""
    _check(alpha, None, mde)
    if n_per_arm < 2 or not (mean > 0 and sd > 0):
        return 0.0
    return float(_solver().power(effect_size=mde * mean / sd, nobs1=n_per_arm, alpha=alpha, ratio=1.0))
