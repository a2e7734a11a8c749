"""The ground-truth choice model: one definition used by the simulator and by the oracle.

A customer ``c`` who orders at UTC time ``t`` (local hour ``h``, weekday ``w``) to area ``a`` picks a
restaurant ``r`` with probability ``softmax_r(U)`` where (see docs/synthetic.md)::

    U[c,r] = quality[r] + taste[c] . latent[r] + meal[slot(h), cuisine[r]] + weekend(w) * wk[cuisine[r]]
             - price_sens[c] * log_price[r] + delivery[a, r] (0 / -1 / -inf) + open[r, h] (0 / -inf)
             + drift(t)[cuisine[r]] + loyalty[c] * log1p(H[c,r](t))

``H[c,r](t) = sum over c's earlier orders at r of exp(-(t - t_o) / tau)`` is the habit. Inside the restaurant
the main dish ``d`` is drawn with ``softmax_d(V)`` among the restaurant's mains, and each extra category
(side, drink, dessert) is added with a fixed probability, its dish drawn the same way::

    V[c,d] = pop[d] + taste[c] . latent[d] - dish_price_weight * price_sens[c] * log_price[d]
             + dish_loyalty[c] * log1p(Hd[c,d](t))

The oracle's dish utility is ``U[c, r(d)] + log P(d in order | r)``, so ranking by it ranks dishes by the
probability that they appear in the order.

>>> counts = DecayedCounts(width=3, tau=10.0)
>>> counts.add(np.array([0]), np.array([2]), np.array([0.0]))
>>> counts.rows(np.array([0, 1]), np.array([10.0, 10.0])).round(3).tolist()
[[0.0, 0.0, 0.368], [0.0, 0.0, 0.0]]
"""

from __future__ import annotations

import numpy as np

from foodrec.data.synthetic.city import World

MEAL_SLOTS = ("breakfast", "lunch", "afternoon", "dinner", "late")
# local hour -> meal slot index: 0-4 late, 5-10 breakfast, 11-14 lunch, 15-16 afternoon, 17-20 dinner, 21-23 late
HOUR_TO_SLOT = np.array([4] * 5 + [0] * 6 + [1] * 4 + [2] * 2 + [3] * 4 + [4] * 3, dtype=np.int64)


class DecayedCounts:
    """Sparse exponentially decayed counts ``H[owner, col](t)``, kept as sorted int64 keys.

    Values are stored as of each key's last update and decayed lazily when read, so adding events in
    time order gives exactly ``sum exp(-(t - t_event) / tau)``.
    """

    def __init__(self, width: int, tau: float):
        self.width = int(width)
        self.tau = float(tau)
        self.keys = np.empty(0, dtype=np.int64)
        self.value = np.empty(0, dtype=np.float64)
        self.last = np.empty(0, dtype=np.float64)

    def add(self, owner: np.ndarray, col: np.ndarray, t: np.ndarray) -> None:
        """Count one event per (owner, col, t); duplicates of a key in one call must share ``t``."""
        keys = owner.astype(np.int64) * self.width + col.astype(np.int64)
        uniq, first, cnt = np.unique(keys, return_index=True, return_counts=True)
        tu = np.asarray(t, dtype=np.float64)[first]
        pos = np.searchsorted(self.keys, uniq)
        found = pos < len(self.keys)
        found[found] = self.keys[pos[found]] == uniq[found]
        p = pos[found]
        self.value[p] = self.value[p] * np.exp(-(tu[found] - self.last[p]) / self.tau) + cnt[found]
        self.last[p] = tu[found]
        new = ~found
        self.keys = np.insert(self.keys, pos[new], uniq[new])
        self.value = np.insert(self.value, pos[new], cnt[new].astype(np.float64))
        self.last = np.insert(self.last, pos[new], tu[new])

    def get(self, owner: np.ndarray, col: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Decayed counts at time ``t`` (broadcast over ``owner``/``col``/``t``); 0 where never counted."""
        owner, col, t = np.broadcast_arrays(owner, col, t)
        keys = owner.astype(np.int64) * self.width + col.astype(np.int64)
        out = np.zeros(keys.shape)
        if len(self.keys) == 0:
            return out
        pos = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        hit = (self.keys[pos] == keys) & (col >= 0)
        out[hit] = self.value[pos[hit]] * np.exp(-(t[hit] - self.last[pos[hit]]) / self.tau)
        return out

    def entries(self, owners: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Non-zero decayed counts of ``owners`` at times ``t`` as ``(row, col, value)`` (row indexes ``owners``)."""
        lo = np.searchsorted(self.keys, owners.astype(np.int64) * self.width)
        hi = np.searchsorted(self.keys, (owners.astype(np.int64) + 1) * self.width)
        cnt = hi - lo
        total = int(cnt.sum())
        row = np.repeat(np.arange(len(owners)), cnt)
        pos = np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt) + np.repeat(lo, cnt)
        cols = self.keys[pos] - owners[row].astype(np.int64) * self.width
        return row, cols, self.value[pos] * np.exp(-(t[row] - self.last[pos]) / self.tau)

    def rows(self, owners: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Dense ``(len(owners), width)`` matrix of decayed counts at times ``t``."""
        out = np.zeros((len(owners), self.width))
        row, cols, value = self.entries(owners, t)
        out[row, cols] = value
        return out


def habit_from_history(
    query_owner: np.ndarray,
    query_t: np.ndarray,
    hist_owner: np.ndarray,
    hist_col: np.ndarray,
    hist_t: np.ndarray,
    width: int,
    tau: float,
) -> np.ndarray:
    """Dense ``(n_queries, width)`` habit ``sum exp(-(t_q - t_e)/tau)`` over history events before each query.

    Owners < 0 (unknown customers) get zeros; the same definition as :class:`DecayedCounts`.
    """
    n = len(query_owner)
    out = np.zeros((n, width))
    ok = (hist_owner >= 0) & (hist_col >= 0)
    order = np.argsort(hist_owner[ok], kind="stable")
    ho, hc, ht = hist_owner[ok][order], hist_col[ok][order], hist_t[ok][order]
    lo = np.searchsorted(ho, query_owner, side="left")
    hi = np.searchsorted(ho, query_owner, side="right")
    cnt = np.where(query_owner >= 0, hi - lo, 0)
    total = int(cnt.sum())
    if total == 0:
        return out
    row = np.repeat(np.arange(n), cnt)
    pos = np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt) + np.repeat(lo, cnt)
    dt = query_t[row] - ht[pos]
    keep = dt > 0
    np.add.at(out, (row[keep], hc[pos][keep]), np.exp(-dt[keep] / tau))
    return out


def drift_boost(world: World, t: np.ndarray) -> np.ndarray:
    """(n, n_cuisines) utility added by the drift event at UTC days ``t`` (zeros without drift)."""
    out = np.zeros((len(t), len(world.cuisine_latent)))
    drift = world.params.get("drift")
    if not drift:
        return out
    ramp = np.clip((t - float(drift["t_days"])) / float(drift["ramp_days"]), 0.0, 1.0)
    out[:, int(drift["cuisine_index"])] = ramp * float(drift["boost"])
    return out


def _customer_terms(world: World, cust: np.ndarray) -> tuple[np.ndarray, ...]:
    """Taste, price sensitivity, loyalties; unknown customers (-1) get zero taste and average weights."""
    known = cust >= 0
    if known.all():  # the simulator's case: skip the fallbacks
        w = world
        return w.cust_taste[cust], w.cust_price_sens[cust], w.cust_loyalty[cust], w.cust_dish_loyalty[cust]
    ci = np.where(known, cust, 0)
    taste = np.where(known[:, None], world.cust_taste[ci], 0.0)
    price = np.where(known, world.cust_price_sens[ci], float(np.mean(world.cust_price_sens)))
    loyal = np.where(known, world.cust_loyalty[ci], float(np.mean(world.cust_loyalty)))
    dish_loyal = np.where(known, world.cust_dish_loyalty[ci], float(np.mean(world.cust_dish_loyalty)))
    return taste, price, loyal, dish_loyal


def restaurant_utilities(
    world: World,
    cust: np.ndarray,
    area: np.ndarray,
    t: np.ndarray,
    hour: np.ndarray,
    dow: np.ndarray,
    habit: np.ndarray | tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    penalty: np.ndarray | None = None,
    rest_idx: np.ndarray | None = None,
) -> np.ndarray:
    """(n, R) utilities ``U`` (``-inf`` where the restaurant does not deliver to the area or is closed).

    ``area`` -1 means unknown: every restaurant counts as delivering, without distance penalty.
    ``penalty`` is ``world.delivery_penalty()`` (pass it when calling repeatedly). ``rest_idx`` restricts the
    columns to those restaurants (the simulator passes the ones that deliver to the area). ``habit`` is the
    decayed count matrix over those columns, or sparse ``(row, col, value)`` entries, or None.
    """
    taste, price, loyal, _ = _customer_terms(world, cust)
    cols = np.arange(world.n_restaurants) if rest_idx is None else rest_idx
    cuis = world.rest_cuisine[cols]
    u = world.rest_quality[cols][None, :] + taste @ world.rest_latent[cols].T
    # time-of-day, weekend and drift effects act per cuisine: add them up first, gather once
    context = world.meal_cuisine[HOUR_TO_SLOT[hour]] + (dow >= 5)[:, None] * world.weekend_cuisine[None, :]
    context += drift_boost(world, t)
    u += context[:, cuis]
    u -= price[:, None] * world.rest_log_price[cols][None, :]
    if penalty is None:
        penalty = world.delivery_penalty()
    known = area >= 0
    if known.all() and (area == area[0]).all():
        u += penalty[area[0], cols][None, :]
    else:
        u += np.where(known[:, None], penalty[np.maximum(area, 0)][:, cols], 0.0)
    u[~world.rest_open[cols][:, hour].T] = -np.inf
    if isinstance(habit, tuple):
        row, col, value = habit
        u[row, col] += loyal[row] * np.log1p(value)
    elif habit is not None:
        u += loyal[:, None] * np.log1p(habit)
    return u


def dish_utilities(world: World, cust: np.ndarray, items: np.ndarray, dish_habit: np.ndarray | None) -> np.ndarray:
    """Within-restaurant utilities ``V`` for ``items`` (shape (n, m); -1 = padding, gets -inf)."""
    taste, price, _, dish_loyal = _customer_terms(world, cust)
    it = np.maximum(items, 0)
    v = world.item_pop[it] + np.einsum("nk,nmk->nm", taste, world.item_latent[it])
    v -= float(world.params["dish_price_weight"]) * price[:, None] * world.item_log_price[it]
    if dish_habit is not None:
        v += dish_loyal[:, None] * np.log1p(dish_habit)
    v[items < 0] = -np.inf
    return v


def category_log_prob(world: World) -> np.ndarray:
    """(4,) log probability that an order holds a dish of each category (main, side, drink, dessert)."""
    extra = world.params["p_extra"]
    return np.log(np.array([1.0, extra["side"], extra["drink"], extra["dessert"]]))


def item_utilities(world: World, cust: np.ndarray, rest_u: np.ndarray, dish_habit: np.ndarray | None) -> np.ndarray:
    """(n, D) oracle utilities of every dish: ``U[r(d)] + log P(category) + log softmax_group(V)[d]``."""
    n = len(cust)
    taste, price, _, dish_loyal = _customer_terms(world, cust)
    v = world.item_pop[None, :] + taste @ world.item_latent.T
    v -= float(world.params["dish_price_weight"]) * price[:, None] * world.item_log_price[None, :]
    if dish_habit is not None:
        v += dish_loyal[:, None] * np.log1p(dish_habit)
    group = world.item_rest * 4 + world.item_cat
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    gmax = np.maximum.reduceat(v, starts, axis=1)
    sizes = np.diff(np.r_[starts, len(group)])
    gmax_full = np.repeat(gmax, sizes, axis=1)
    lse = np.log(np.add.reduceat(np.exp(v - gmax_full), starts, axis=1)) + gmax
    v -= np.repeat(lse, sizes, axis=1)
    v += category_log_prob(world)[world.item_cat][None, :]
    v += rest_u[:, world.item_rest]
    assert v.shape == (n, world.n_items)
    return v
