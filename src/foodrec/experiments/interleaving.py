"""Reading an interleaving experiment: which of the two teams do customers prefer, and how sure is that?

Every visit saw one team-draft list (:mod:`foodrec.serving.interleave`); every order (or click) on a shown item
is a vote for the team credited with it, as the events record (``credits``). A visit *shows a preference* when
one team got more votes than the other. The preference share of team B is ``wins_B / (wins_A + wins_B)`` over
those visits; with no preference it is 0.5 whatever the teams rank, because team draft gives both the same
positions on average. The test is a z-test of the share against 0.5 with a delta-method variance that treats
customers as clusters (a customer's visits are not independent), and the CI is the same.

>>> import pandas as pd
>>> ev = pd.DataFrame({"event_id": ["o1", "o2", "o3"], "type": "order", "customer_id": ["a", "b", "c"],
...                    "variant": "interleaved", "request_id": ["q1", "q2", "q3"],
...                    "credits": [["model"], ["model"], ["history"]]})
>>> r = analyze_interleaving(ev)
>>> r["teams"], r["wins"], round(r["preference_share"], 3)
(['history', 'model'], {'history': 1, 'model': 2}, 0.667)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from foodrec.errors import InputError

INTERLEAVED = "interleaved"


def visit_votes(events: pd.DataFrame, signal: str = "order") -> pd.DataFrame:
    """One row per interleaved visit with a credited ``signal`` event: ``customer_id, visit`` and votes per team.

    A visit is the ``request_id`` the events quote (each credited event on its own when they quote none).
    """
    if "credits" not in events.columns:
        raise InputError("events: no 'credits' column, so no interleaving experiment is recorded here")
    ev = events[(events["variant"] == INTERLEAVED) & (events["type"] == signal)]
    ev = ev[ev["credits"].map(lambda c: isinstance(c, list | tuple | np.ndarray) and len(c) > 0)]
    visit = ev["request_id"] if "request_id" in ev.columns else pd.Series(None, index=ev.index)
    visit = visit.where(visit.notna(), "event:" + ev["event_id"].astype(str))
    rows = ev.assign(visit=visit.to_numpy()).explode("credits")
    votes = rows.groupby(["customer_id", "visit", "credits"]).size().unstack("credits", fill_value=0)
    return votes.reset_index()


def preference_test(wins_b: np.ndarray, decided: np.ndarray, z: float = 1.959963984540054) -> dict[str, float]:
    """Share of B among decided visits, clustered by customer: ``wins_b[c]``, ``decided[c]`` per customer.

    >>> preference_test(np.array([3, 2, 4]), np.array([4, 4, 4]))["share"]
    0.75
    """
    n_cust = int((decided > 0).sum())
    total = float(decided.sum())
    if total == 0:
        return {"share": math.nan, "low": math.nan, "high": math.nan, "z": math.nan, "p_value": 1.0, "se": math.nan}
    share = float(wins_b.sum() / total)
    if n_cust < 2:
        return {"share": share, "low": math.nan, "high": math.nan, "z": math.nan, "p_value": 1.0, "se": math.nan}
    # under H0 (share 0.5) the clustered variance of the ratio; the CI uses the observed share
    m = decided.mean()
    se0 = math.sqrt((wins_b - 0.5 * decided).var(ddof=1) / len(decided)) / m
    se = math.sqrt((wins_b - share * decided).var(ddof=1) / len(decided)) / m
    zs = (share - 0.5) / se0 if se0 > 0 else 0.0
    p = float(2 * stats.norm.sf(abs(zs)))
    return {"share": share, "low": share - z * se, "high": share + z * se, "z": zs, "p_value": p, "se": se}


def analyze_interleaving(
    events: pd.DataFrame, alpha: float = 0.05, power: float = 0.8, signal: str = "order"
) -> dict[str, Any]:
    """The interleaving result as a dict: teams, visits, wins, preference share with CI, p-value, winner."""
    votes = visit_votes(events, signal)
    teams = sorted(c for c in votes.columns if c not in ("customer_id", "visit"))
    imp = events[(events["variant"] == INTERLEAVED) & (events["type"] == "impression")]
    if len(teams) == 1:
        teams = [*teams, "(none)"]
        votes[teams[1]] = 0
    if len(teams) != 2:
        if not teams:
            raise InputError(f"events: no credited {signal} events of an interleaving experiment yet")
        raise InputError(f"events: credits name {len(teams)} variants ({', '.join(teams)}); interleaving has two")
    a, b = teams
    diff = votes[b] - votes[a]
    votes = votes.assign(win_b=(diff > 0).astype(int), decided=(diff != 0).astype(int))
    per = votes.groupby("customer_id")[["win_b", "decided"]].sum()
    per = per[per["decided"] > 0]
    z = float(stats.norm.ppf(1 - alpha / 2))
    test = preference_test(per["win_b"].to_numpy(float), per["decided"].to_numpy(float), z)
    wins = {a: int((diff < 0).sum()), b: int((diff > 0).sum())}
    decided = wins[a] + wins[b]
    significant = test["p_value"] < alpha
    winner = (b if test["share"] > 0.5 else a) if significant else None
    # visits with a preference needed for `power` at the observed share (binomial, one visit = one trial)
    needed = None
    if test["share"] == test["share"] and test["share"] != 0.5:
        q = max(test["share"], 1 - test["share"])
        zb = float(stats.norm.ppf(power))
        needed = math.ceil(((0.5 * z + zb * math.sqrt(q * (1 - q))) / (q - 0.5)) ** 2)
    return {
        "method": "team-draft interleaving", "signal": signal, "teams": [a, b],
        "customers": int(imp["customer_id"].nunique()) if len(imp) else int(votes["customer_id"].nunique()),
        "visits": int(len(imp)) if len(imp) else None, "visits_with_preference": decided,
        "customers_with_preference": int(len(per)), "wins": wins,
        "preference_share": test["share"], "preferred_team_of_share": b, "ci": [test["low"], test["high"]],
        "z": test["z"], "p_value": test["p_value"], "alpha": alpha, "significant": bool(significant),
        "winner": winner, "visits_with_preference_needed": needed,
    }  # fmt: skip


def interleaving_decision(result: dict[str, Any]) -> dict[str, Any]:
    """Pick the preferred team when the preference is significant, else keep running (and for how long)."""
    a, b = result["teams"]
    share, (lo, hi) = result["preference_share"], result["ci"]
    text = (
        f"{b} preferred in {share:.1%} of {result['visits_with_preference']:,} visits with a preference "
        f"(95% CI {lo:.1%} to {hi:.1%}, p = {result['p_value']:.2g})"
    )
    if result["winner"] is not None:
        then = f"{result['winner']} goes on to the A/B test"
        return {"action": "pick", "variant": result["winner"], "reasons": [text, then],
                "customers": result["customers"]}  # fmt: skip
    needed = result["visits_with_preference_needed"]
    more = f"; about {needed:,} visits with a preference are needed at this share" if needed else ""
    return {"action": "keep running", "variant": None, "reasons": [f"no significant preference yet: {text}{more}"],
            "customers": result["customers"]}  # fmt: skip
