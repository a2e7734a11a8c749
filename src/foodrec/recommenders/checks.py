"""The contract every :class:`~foodrec.recommenders.base.Recommender` must keep, as one suite of checks.

Modelled on scikit-learn's ``utils/estimator_checks.py``: :func:`check_recommender` runs every check on a
recommender made by ``make()`` and fitted on ``log``, and raises one ``AssertionError`` naming each check that
failed. ``tests/recommenders/test_contract.py`` runs it over every baseline, the serving fallback and the Keras
model; a new recommender only has to be added there.

The checks (``CHECKS``, in order):

- ``check_fit_returns_self``: ``fit(log)`` returns the recommender itself.
- ``check_ranking_shape``: ``recommend(queries, k)`` is a :class:`Ranking` of shape ``(n, k)``; items are ``str``
  or ``None``, scores are floats.
- ``check_scores_sorted``: scores never increase along a row.
- ``check_items_distinct``: no item twice in a row.
- ``check_padding_at_end``: an item is ``None`` exactly when its score is ``-inf``, and only after the last item
  (asked for more items than the log holds, so padding is exercised).
- ``check_top_k_prefix``: the top 3 are the first 3 of the top 10.
- ``check_unknown_queries_fall_back``: an unknown customer, an unknown area and a missing area get items (as many
  as the least-served known query), not an error.
- ``check_empty_queries``: no queries, no rows (shape ``(0, k)``).
- ``check_missing_columns``: queries without ``customer_id``, ``area`` or ``at`` are a one-line ``InputError``.
- ``check_queries_untouched``: ``recommend`` does not change the caller's queries (values, columns or index).
- ``check_deterministic``: the same data gives the same answers (a second ``fit``; and a second ``recommend``).
- ``check_save_load_refresh``: ``save`` -> ``load_recommender`` -> ``refresh(log)`` gives the same answers.
- ``check_refresh_same_log``: ``refresh(log)`` with the log it was fitted on changes no answer.
- ``check_refresh_point_in_time``: (``point_in_time`` recommenders only) ``refresh`` on the log plus later orders
  changes no answer for queries before those orders: the learned parameters and the past are as they were.
- ``check_observe_counts_once``: after ``refresh(log)``, ``observe`` of a new one-line order returns 1, the same
  order again 0, the same order next to another new one 1, and no orders 0.
- ``check_observe_is_seen``: after ``observe`` of an order by customer X, X's next answer differs (items or scores):
  every recommender here counts or looks up orders, so one that ignores ``observe`` fails.
- ``check_observe_point_in_time``: (``point_in_time`` recommenders only) after ``observe`` of an order at time T,
  every answer to a query before T is unchanged.

Queries are made from the log: its most active customers at their usual area, one and one and a half days after
the last order, plus unknown customers and areas and missing areas; they carry a non-default index.

>>> from foodrec.recommenders.baselines import AreaPopularity
>>> check_recommender(AreaPopularity, log)          # doctest: +SKIP
{'check_fit_returns_self': None, ..., 'check_observe_point_in_time': 'not applicable: counts the whole log'}
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import replace
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from foodrec.data.orderlog import OrderLog
from foodrec.data.schema import target_column
from foodrec.errors import InputError
from foodrec.recommenders.base import QUERY_COLUMNS, Ranking, Recommender, load_recommender, make_queries

K = 10
UNKNOWN_CUSTOMER = "__contract_new_customer__"
UNKNOWN_AREA = "__contract_nowhere__"


class NotApplicable(Exception):  # noqa: N818 - a verdict, not an error
    """Raised by a check that does not apply to this recommender (the reason is the message)."""


class Contract:
    """One recommender under test: the log, the queries, and what is expensive made once (fit, save)."""

    def __init__(self, make: Callable[[], Recommender], log: OrderLog, workdir: str | Path | None = None):
        self.make, self.log = make, log
        self._own_dir = workdir is None
        self.workdir = Path(tempfile.mkdtemp(prefix="foodrec-contract-")) if workdir is None else Path(workdir)
        orders = log.orders
        self.end = pd.Timestamp(orders["ordered_at"].max())
        self.order_time = self.end + pd.Timedelta(days=2)  # new orders (observe, refresh) happen here
        counts = orders.groupby("customer_id")["order_id"].nunique().reset_index(name="n")
        top = counts.sort_values(["n", "customer_id"], ascending=[False, True])["customer_id"].astype(str)
        self.customers = top.head(4).tolist()
        home = (
            orders.astype({"customer_id": str})
            .groupby("customer_id")["area"]
            .agg(lambda a: a.dropna().astype(str).mode().min() if a.notna().any() else None)
        )
        self.area = {c: home.get(c) for c in self.customers}
        now, later = self.end + pd.Timedelta(days=1), self.end + pd.Timedelta(days=1.5)
        rows = [(c, self.area[c], t) for c in self.customers for t in (now, later)]
        self.n_known = len(rows)
        c0, a0 = self.customers[0], self.area[self.customers[0]]
        rows += [(UNKNOWN_CUSTOMER, a0, now), (c0, UNKNOWN_AREA, now), (c0, None, now), (UNKNOWN_CUSTOMER, None, now)]
        customers, areas, times = zip(*rows, strict=True)
        queries = make_queries(list(customers), list(areas), [t.isoformat() for t in times])
        queries.index = pd.RangeIndex(100, 100 + 3 * len(queries), 3)  # not 0..n-1: answers go by position
        self.queries = queries
        self.n_items = int(orders[target_column(log.resolve_level(None))].nunique())

    def close(self) -> None:
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- made once ---------------------------------------------------------------------------------------------
    @cached_property
    def first_fit(self) -> tuple[Recommender, object]:
        rec = self.make()
        return rec, rec.fit(self.log)

    @property
    def fitted(self) -> Recommender:
        rec, returned = self.first_fit
        return returned if isinstance(returned, Recommender) else rec

    @cached_property
    def ranking(self) -> Ranking:
        return self.fitted.recommend(self.queries, K)

    @cached_property
    def second_fit(self) -> tuple[Recommender, Ranking]:
        rec = self.make()
        rec.fit(self.log)
        return rec, rec.recommend(self.queries, K)

    @cached_property
    def saved(self) -> Path:
        return self.fitted.save(self.workdir / "saved")

    def fresh(self) -> Recommender:
        """A fitted copy to change (``observe``, ``refresh``): loaded from the saved one, refreshed on the log."""
        # The class under test is trusted (it may live outside foodrec: a test's own recommender).
        trusted = ("foodrec.", type(self.fitted).__module__)
        return load_recommender(self.saved, trusted_prefixes=trusted).refresh(self.log)

    def new_order(self, order_id: str, customer: str | None = None, at: pd.Timestamp | None = None) -> pd.DataFrame:
        """One canonical order line: the customer's last line again, under a new id and time."""
        customer = self.customers[0] if customer is None else customer
        orders = self.log.orders
        mine = orders[orders["customer_id"].astype(str) == customer].sort_values("ordered_at", kind="stable")
        line = mine.tail(1).copy()
        line["order_id"] = order_id
        line["ordered_at"] = self.order_time if at is None else at
        return line.reset_index(drop=True)

    def later_log(self) -> OrderLog:
        """The log plus one order after its end (at :attr:`order_time`)."""
        extra = self.new_order("__contract_later__")
        return replace(self.log, orders=pd.concat([self.log.orders, extra], ignore_index=True))


# -- the checks -------------------------------------------------------------------------------------------------


def _same(a: Ranking, b: Ranking, what: str, rows: np.ndarray | None = None) -> None:
    rows = np.arange(len(a)) if rows is None else rows
    items_a, items_b = a.items[rows], b.items[rows]
    differ = [int(i) for i in rows[(items_a != items_b).any(axis=1)]]
    assert not differ, f"{what}: items differ on query rows {differ}: {items_a[0]} vs {items_b[0]}"
    np.testing.assert_allclose(a.scores[rows], b.scores[rows], rtol=1e-6, atol=1e-9, err_msg=what)


def check_fit_returns_self(c: Contract) -> None:
    rec, returned = c.first_fit
    assert returned is rec, f"fit(log) returned {type(returned).__name__}, not the recommender itself"


def check_ranking_shape(c: Contract) -> None:
    r = c.ranking
    assert isinstance(r, Ranking), f"recommend returned {type(r).__name__}, not a Ranking"
    n = len(c.queries)
    assert r.items.shape == (n, K), f"items have shape {r.items.shape}, expected {(n, K)}"
    assert r.scores.shape == (n, K), f"scores have shape {r.scores.shape}, expected {(n, K)}"
    assert np.issubdtype(r.scores.dtype, np.floating), f"scores are {r.scores.dtype}, not floats"
    kinds = {type(x).__name__ for x in r.items.ravel() if x is not None}
    assert kinds <= {"str"}, f"items must be str or None, found {sorted(kinds)}"


def _wide(c: Contract) -> Ranking:
    return c.fitted.recommend(c.queries, c.n_items + 3)


def check_scores_sorted(c: Contract) -> None:
    for r in (c.ranking, _wide(c)):
        assert not np.isnan(r.scores).any(), "scores contain NaN"
        finite = np.where(np.isneginf(r.scores), np.finfo(np.float64).min, r.scores)  # -inf - -inf would be NaN
        bad = np.flatnonzero((np.diff(finite, axis=1) > 0).any(axis=1))
        assert not len(bad), f"scores increase along rows {bad.tolist()}: {r.scores[bad[0]]}"


def check_items_distinct(c: Contract) -> None:
    for r in (c.ranking, _wide(c)):
        for i, row in enumerate(r.items):
            present = [x for x in row if x is not None]
            assert len(present) == len(set(present)), f"row {i} repeats items: {present}"


def check_padding_at_end(c: Contract) -> None:
    for r in (c.ranking, _wide(c)):
        empty = np.vectorize(lambda x: x is None, otypes=[bool])(r.items)
        mismatch = np.flatnonzero((empty != np.isneginf(r.scores)).any(axis=1))
        assert not len(mismatch), f"rows {mismatch.tolist()}: an item is None exactly when its score is -inf"
        gaps = np.flatnonzero((np.diff(empty.astype(int), axis=1) < 0).any(axis=1))
        assert not len(gaps), f"rows {gaps.tolist()} have an item after the padding: {r.items[gaps[0]]}"


def check_top_k_prefix(c: Contract) -> None:
    top3 = c.fitted.recommend(c.queries, 3)
    assert top3.items.shape == (len(c.queries), 3), f"k=3 gave shape {top3.items.shape}"
    first3 = Ranking(c.ranking.items[:, :3], c.ranking.scores[:, :3])
    _same(top3, first3, "the top 3 are not the first 3 of the top 10")


def check_unknown_queries_fall_back(c: Contract) -> None:
    r = c.ranking
    counts = (r.items != None).sum(axis=1)  # noqa: E711 - element-wise
    least_known = int(counts[: c.n_known].min())
    assert least_known > 0, "a known customer in their own area got no item at all"
    for row in range(c.n_known, len(c.queries)):
        q = c.queries.iloc[row]
        assert counts[row] >= least_known, (
            f"query ({q['customer_id']}, {q['area']}) got {counts[row]} items; known queries get {least_known}"
        )


def check_empty_queries(c: Contract) -> None:
    for empty in (make_queries([], [], []), c.queries.iloc[:0]):
        r = c.fitted.recommend(empty, K)
        assert r.items.shape == (0, K) and r.scores.shape == (0, K), f"no queries gave shape {r.items.shape}"


def check_missing_columns(c: Contract) -> None:
    for column in QUERY_COLUMNS:
        try:
            c.fitted.recommend(c.queries.drop(columns=[column]), K)
        except InputError as err:
            assert "\n" not in str(err), f"the error for a missing {column!r} is not one line: {err!r}"
            assert column in str(err), f"the error for a missing {column!r} does not name it: {err}"
        except Exception as err:  # noqa: BLE001 - any other exception is the failure this check reports
            raise AssertionError(f"queries without {column!r}: {type(err).__name__}: {err}, not an InputError") from err
        else:
            raise AssertionError(f"queries without {column!r} were answered, not refused with an InputError")


def check_queries_untouched(c: Contract) -> None:
    queries = c.queries.copy(deep=True)
    c.fitted.recommend(queries, K)
    pd.testing.assert_frame_equal(queries, c.queries, obj="the queries after recommend")


def check_deterministic(c: Contract) -> None:
    _same(c.fitted.recommend(c.queries, K), c.ranking, "a second recommend on the same recommender")
    _, second = c.second_fit
    _same(second, c.ranking, "a second fit on the same data")


def check_save_load_refresh(c: Contract) -> None:
    _same(c.fresh().recommend(c.queries, K), c.ranking, "save -> load_recommender -> refresh(log)")


def check_refresh_same_log(c: Contract) -> None:
    rec, before = c.second_fit
    returned = rec.refresh(c.log)
    assert returned is rec, f"refresh(log) returned {type(returned).__name__}, not the recommender itself"
    _same(rec.recommend(c.queries, K), before, "refresh(log) with the fitted log")


def _point_in_time(c: Contract) -> None:
    if not type(c.fitted).point_in_time:
        raise NotApplicable("counts the whole log (point_in_time is False): cut the log before refreshing")


def check_refresh_point_in_time(c: Contract) -> None:
    _point_in_time(c)
    rec = c.fresh()
    rec.refresh(c.later_log())
    _same(rec.recommend(c.queries, K), c.ranking, "refresh on the log plus later orders, queries before them")


def check_observe_counts_once(c: Contract) -> None:
    rec = c.fresh()
    order, other = c.new_order("__contract_o1__"), c.new_order("__contract_o2__")
    assert rec.observe(order.iloc[:0]) == 0, "observe of no orders did not return 0"
    assert (taken := rec.observe(order)) == 1, f"observe of a new one-line order returned {taken}, not 1"
    assert (taken := rec.observe(order)) == 0, f"observe of the same order again returned {taken}, not 0"
    both = pd.concat([order, other], ignore_index=True)
    assert (taken := rec.observe(both)) == 1, f"observe of a seen and a new order returned {taken}, not 1"
    existing = c.log.orders.head(1)
    assert (taken := rec.observe(existing)) == 0, f"observe of an order already in the log returned {taken}, not 0"


def _after_order(c: Contract) -> pd.DataFrame:
    c0 = c.customers[0]
    return make_queries([c0], [c.area[c0]], [(c.order_time + pd.Timedelta(hours=1)).isoformat()])


def check_observe_is_seen(c: Contract) -> None:
    rec = c.fresh()
    query = _after_order(c)
    before = rec.recommend(query, K)
    rec.observe(c.new_order("__contract_o1__"))
    after = rec.recommend(query, K)
    same = (before.items == after.items).all() and np.array_equal(before.scores, after.scores)
    assert not same, f"customer {c.customers[0]}'s answer after observe(their order) is unchanged: {after.items[0]}"


def check_observe_point_in_time(c: Contract) -> None:
    _point_in_time(c)
    rec = c.fresh()
    rec.observe(c.new_order("__contract_o1__"))
    rec.observe(c.new_order("__contract_o2__", customer=c.customers[-1]))
    _same(rec.recommend(c.queries, K), c.ranking, "observe of orders at T, queries before T")


CHECKS: tuple[Callable[[Contract], None], ...] = (
    check_fit_returns_self,
    check_ranking_shape,
    check_scores_sorted,
    check_items_distinct,
    check_padding_at_end,
    check_top_k_prefix,
    check_unknown_queries_fall_back,
    check_empty_queries,
    check_missing_columns,
    check_queries_untouched,
    check_deterministic,
    check_save_load_refresh,
    check_refresh_same_log,
    check_refresh_point_in_time,
    check_observe_counts_once,
    check_observe_is_seen,
    check_observe_point_in_time,
)


def run_check(check: Callable[[Contract], None], contract: Contract) -> str | None:
    """Run one check: None when it passed, ``"not applicable: ..."`` when it does not apply; raises on failure."""
    try:
        check(contract)
    except NotApplicable as why:
        return f"not applicable: {why}"
    return None


def check_recommender(
    make: Callable[[], Recommender], log: OrderLog, workdir: str | Path | None = None
) -> dict[str, str | None]:
    """Run every check on ``make()`` fitted on ``log``; raise one ``AssertionError`` naming each failure.

    Returns ``{check name: None (passed) or "not applicable: ..."}``. ``workdir`` holds the saved copy (a temporary
    folder, removed afterwards, when not given).
    """
    contract = Contract(make, log, workdir)
    results: dict[str, str | None] = {}
    failures: list[str] = []
    try:
        for check in CHECKS:
            try:
                results[check.__name__] = run_check(check, contract)
            except Exception as err:  # noqa: BLE001 - every failure is reported, not just the first
                failures.append(f"{check.__name__}: {type(err).__name__}: {err}")
    finally:
        contract.close()
    if failures:
        raise AssertionError("recommender contract broken:\n" + "\n".join(failures))
    return results
