"""The numbers behind the EDA report: plain dicts of numbers, lists and small tables, ready for JSON.

:func:`compute_figures` takes canonical order lines (and the catalogue tables when known) and returns one
dict per report section. A section whose columns the data lacks says so (``available: False`` with a
``reason``) instead of failing, so the report works on a log with only the required columns. Everything
about time is computed in the data's local time zone.

>>> import pandas as pd
>>> lines = pd.DataFrame({
...     "order_id": ["o1", "o2", "o3"], "customer_id": ["c1", "c1", "c2"],
...     "ordered_at": pd.to_datetime(["2026-03-02T19:00Z", "2026-03-03T03:00Z", "2026-03-03T19:30Z"], utc=True),
...     "area": ["a", "a", None], "restaurant_id": ["r1", "r1", "r2"]})
>>> figs = compute_figures(lines, timezone="America/Los_Angeles")
>>> figs["overview"]["orders"], figs["customers"]["share_customers_2plus"]
(3, 0.5)
>>> figs["repeat"]["restaurant_repeat_share"]   # c1's second order repeats r1
1.0
>>> figs["money"]["available"], figs["money"]["reason"]
(False, 'the log has none of the columns order_total, unit_price, discount, refunded_amount, tip')
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from foodrec.data.schema import OPTIONAL_ORDER_COLUMNS, ORDER_COLUMNS, REQUIRED_ORDER_COLUMNS
from foodrec.data.time_features import DAY_NAMES, MEAL_TIMES, check_timezone, meal_time_of_hour
from foodrec.errors import InputError

TOP_N = 20
# A customer is flagged as an outlier when the same dish (restaurant at restaurant level) was in this many orders
# of one local day, or in 2+ orders of one day on MIN_REPEAT_DAYS days or more.
SAME_ITEM_PER_DAY = 4
MIN_REPEAT_DAYS = 3
# Tukey's "far out" fence (Q3 + 3 IQR), on a log scale because money and activity are right-skewed.
FENCE_K = 3.0
# Drivers with fewer orders than this are left out of per-driver rates (too noisy to compare).
MIN_DRIVER_ORDERS = 20
TEST_FRACTION = 0.2
MONEY_COLUMNS = ("order_total", "unit_price", "discount", "refunded_amount", "tip")


@dataclass
class Prepared:
    """Order lines and one row per order, with integer codes for ids and local times."""

    lines: pd.DataFrame
    orders: pd.DataFrame
    timezone: str
    columns: frozenset[str]
    level: str  # "dish" when the log has item ids, else "restaurant"
    money_how: dict[str, str]  # money column -> "per order" (repeated on each line) or "sum of lines"


def _has(frame: pd.DataFrame, column: str) -> bool:
    return column in frame.columns and bool(frame[column].notna().any())


def _code(series: pd.Series) -> np.ndarray:
    codes, _ = pd.factorize(series, use_na_sentinel=True)
    return codes.astype(np.int64)


def prepare(lines: pd.DataFrame, timezone: str = "UTC") -> Prepared:
    """Checks the required columns, sorts by time, adds codes and local time; builds the order table."""
    missing = [c for c in REQUIRED_ORDER_COLUMNS if c not in lines.columns]
    if missing:
        raise InputError(f"order log lacks required column(s): {', '.join(missing)}")
    if lines.empty:
        raise InputError("the order log is empty: nothing to explore")
    tz = check_timezone(timezone)
    df = lines.copy()
    df["ordered_at"] = pd.to_datetime(df["ordered_at"], utc=True, errors="coerce")
    if not df["ordered_at"].is_monotonic_increasing:  # the store already sorts by (ordered_at, order_id)
        keys = ["ordered_at", "order_id"] + [c for c in ("item_id",) if c in df.columns]
        df = df.sort_values(keys, kind="stable", na_position="last")
    df = df.reset_index(drop=True)
    df["_ord"] = _code(df["order_id"])
    df["_cust"] = _code(df["customer_id"])
    df["_rest"] = _code(df["restaurant_id"])
    level = "dish" if _has(df, "item_id") else "restaurant"
    df["_item"] = _code(df["item_id"]) if level == "dish" else df["_rest"]
    df["_local"] = df["ordered_at"].dt.tz_convert(tz)
    first = ~df["_ord"].duplicated() & (df["_ord"] >= 0)
    keep = ["_ord", "_cust", "_rest", "order_id", "customer_id", "restaurant_id", "area", "ordered_at", "_local"]
    keep += [c for c in ("driver_id",) if c in df.columns]
    orders = df.loc[first, keep].reset_index(drop=True)
    orders["n_lines"] = np.bincount(df["_ord"][df["_ord"] >= 0], minlength=int(orders["_ord"].max()) + 1)[
        orders["_ord"]
    ]
    for col in ("area", "driver_id"):  # first non-missing value of the order's lines
        if col in df.columns and df[col].isna().any():
            orders[col] = df[col].groupby(df["_ord"]).first().reindex(orders["_ord"]).to_numpy()
    money_how: dict[str, str] = {}
    for col in MONEY_COLUMNS:
        if col != "unit_price" and _has(df, col):
            orders[col], money_how[col] = _order_money(df, orders, col)
    # A store keeps every canonical column; one that is entirely empty was not in the source: treat it as absent.
    columns = frozenset(c for c in lines.columns if c in REQUIRED_ORDER_COLUMNS or lines[c].notna().any())
    return Prepared(df, orders, tz, columns, level, money_how)


def _order_money(df: pd.DataFrame, orders: pd.DataFrame, col: str) -> tuple[np.ndarray, str]:
    """One value per order: the first line's value when it repeats on the lines of an order, else the lines' sum.

    "Repeats" is judged over all multi-line orders (95% of them carrying one value), so a few odd orders do not
    turn a per-order column into a per-line one.
    """
    values = pd.to_numeric(df[col], errors="coerce")
    grouped = values.groupby(df["_ord"])
    sizes = grouped.size()
    multi = sizes > 1
    per_order = (not multi.any()) or bool((grouped.nunique(dropna=True)[multi] <= 1).mean() >= 0.95)
    agg = grouped.first() if per_order else grouped.sum(min_count=1)
    return agg.reindex(orders["_ord"]).to_numpy(), "per order" if per_order else "sum of lines"


def _q(values: pd.Series | np.ndarray, qs: tuple[float, ...]) -> dict[str, float]:
    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        return {f"p{_pname(q)}": math.nan for q in qs}
    out = np.percentile(arr, [q * 100 for q in qs])
    return {f"p{_pname(q)}": float(v) for q, v in zip(qs, out, strict=True)}


def _pname(q: float) -> str:
    text = f"{q * 100:g}"
    return text.replace(".", "_")


def _log_fence(values: np.ndarray, k: float = FENCE_K, offset: float = 0.0) -> float:
    """Upper Tukey fence computed on ``log(values + offset)``, returned on the original scale."""
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr) & (arr + offset > 0)]
    if arr.size < 4:
        return math.inf
    logs = np.log(arr + offset)
    q1, q3 = np.percentile(logs, [25, 75])
    return float(np.exp(q3 + k * (q3 - q1)) - offset)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.to_dict(orient="records")


def _unavailable(reason: str, **extra: Any) -> dict[str, Any]:
    return {"available": False, "reason": reason, **extra}


# --------------------------------------------------------------------------------------------- sections


def overview(p: Prepared) -> dict[str, Any]:
    """Size of the log, its span and the columns it has."""
    o = p.orders
    at = o["_local"].dropna()
    present = [c for c in ORDER_COLUMNS if c in p.columns]
    return {
        "available": True,
        "timezone": p.timezone,
        "lines": int(len(p.lines)),
        "orders": int(len(o)),
        "customers": int(o["customer_id"].nunique()),
        "restaurants": int(o["restaurant_id"].nunique()),
        "items": int(p.lines["item_id"].nunique()) if p.level == "dish" else None,
        "areas": int(o["area"].nunique()),
        "first_order": at.min().isoformat() if len(at) else None,
        "last_order": at.max().isoformat() if len(at) else None,
        "days": int(at.dt.normalize().nunique()) if len(at) else 0,
        "lines_per_order_mean": float(o["n_lines"].mean()),
        "level": p.level,
        "columns_present": present,
        "optional_columns_absent": [c for c in OPTIONAL_ORDER_COLUMNS if c not in p.columns],
        "extra_columns": sorted(c for c in p.columns if c not in ORDER_COLUMNS),
        "sample": _sample(p, present),
    }


def _sample(p: Prepared, columns: list[str], n: int = 5) -> list[dict[str, Any]]:
    """The first ``n`` order lines, times on the local clock, for a reader who has never seen the data."""
    head = p.lines.head(n)[columns].copy()
    head["ordered_at"] = p.lines["_local"].head(n).map(lambda v: v.isoformat() if pd.notna(v) else None)
    return _records(head.astype(object).where(head.notna(), None))


def volume(p: Prepared) -> dict[str, Any]:
    """Orders per local day, per local hour (with peaks), per weekday and per meal time."""
    local = p.orders["_local"].dropna()
    if local.empty:
        return _unavailable("no order has a valid timestamp")
    days = local.dt.tz_localize(None).dt.normalize()
    per_day = days.value_counts().sort_index()
    full = pd.date_range(per_day.index.min(), per_day.index.max(), freq="D")
    per_day = per_day.reindex(full, fill_value=0)
    hours = np.bincount(local.dt.hour.to_numpy(), minlength=24)
    utc_hours = np.bincount(local.dt.tz_convert("UTC").dt.hour.to_numpy(), minlength=24)
    dow = local.dt.day_of_week.to_numpy()
    dow_orders = np.bincount(dow, minlength=7)
    dow_days = np.bincount(per_day.index.day_of_week.to_numpy(), minlength=7)
    dow_mean = np.where(dow_days > 0, dow_orders / np.maximum(dow_days, 1), np.nan)
    meals = pd.Series(meal_time_of_hour(local.dt.hour.to_numpy())).value_counts()
    return {
        "available": True,
        "per_day": [{"date": d.date().isoformat(), "orders": int(n)} for d, n in per_day.items()],
        "per_day_stats": {
            "min": int(per_day.min()),
            "median": float(per_day.median()),
            "max": int(per_day.max()),
            "mean": float(per_day.mean()),
            "cv": float(per_day.std(ddof=0) / per_day.mean()) if per_day.mean() > 0 else None,
            "zero_days": int((per_day == 0).sum()),
        },
        "per_hour_local": hours.tolist(),
        "per_hour_utc": utc_hours.tolist(),
        "hour_peaks_local": _peaks(hours),
        "hour_peaks_utc": _peaks(utc_hours),
        "quiet_hours_local": [int(h) for h in np.flatnonzero(hours < 0.05 * hours.max())],
        "timezone_hint": _timezone_hint(hours, p.timezone, local),
        "per_weekday": [
            {
                "day": DAY_NAMES[i],
                "orders": int(dow_orders[i]),
                "days": int(dow_days[i]),
                "mean_per_day": None if np.isnan(dow_mean[i]) else float(dow_mean[i]),
            }
            for i in range(7)
        ],
        "weekday_ratio_max_min": _ratio(np.nanmax(dow_mean), np.nanmin(dow_mean)),
        "per_meal_time": [{"meal_time": m, "orders": int(meals.get(m, 0))} for m in MEAL_TIMES],
    }


def _timezone_hint(hours: np.ndarray, timezone: str, local: pd.Series) -> dict[str, Any] | None:
    """When the hour profile looks shifted (meals at night): the offset that fits and how to pass it."""
    from foodrec.data.timezone_check import timezone_hint

    middle = local.min() + (local.max() - local.min()) / 2
    hint = timezone_hint(hours, timezone, middle)
    return None if hint is None else hint.to_dict()


def _ratio(a: float, b: float) -> float | None:
    return float(a / b) if b and np.isfinite(a) and np.isfinite(b) else None


def _peaks(hours: np.ndarray, min_share_of_max: float = 0.3) -> list[int]:
    """Local maxima of a circular 24-hour histogram, biggest first, ignoring small bumps."""
    prev, nxt = np.roll(hours, 1), np.roll(hours, -1)
    is_peak = (hours >= prev) & (hours > nxt) & (hours >= min_share_of_max * hours.max()) & (hours > 0)
    peaks = np.flatnonzero(is_peak)
    return [int(h) for h in peaks[np.argsort(-hours[peaks], kind="stable")]]


def areas(p: Prepared) -> dict[str, Any]:
    """Orders per area, missing areas and restaurants delivering to more than one area."""
    o = p.orders
    missing = int(o["area"].isna().sum())
    counts = o["area"].value_counts()
    rest_areas = p.orders.dropna(subset=["area"]).groupby("_rest")["area"].nunique()
    n_rest = int(o["restaurant_id"].nunique())
    return {
        "available": True,
        "areas": int(len(counts)),
        "missing_area_orders": missing,
        "missing_area_share": missing / len(o),
        "per_area": [{"area": str(a), "orders": int(n), "share": n / len(o)} for a, n in counts.head(TOP_N).items()],
        "orders_per_area_stats": {"min": int(counts.min()), "median": float(counts.median()), "max": int(counts.max())}
        if len(counts)
        else None,
        "restaurants_multi_area": int((rest_areas > 1).sum()),
        "restaurants": n_rest,
        "restaurants_multi_area_share": float((rest_areas > 1).sum() / n_rest) if n_rest else None,
    }


def _top_share(counts: pd.Series, n: int) -> float:
    total = counts.sum()
    return float(counts.head(n).sum() / total) if total else math.nan


def _rank_curve(counts: pd.Series, points: int = 200) -> dict[str, list[float]]:
    """Cumulative share of volume by popularity rank, thinned to at most ``points`` log-spaced ranks."""
    values = counts.to_numpy(dtype=float)
    cum = np.cumsum(values) / values.sum()
    ranks = np.unique(np.geomspace(1, len(values), num=min(points, len(values))).round().astype(int))
    return {"rank": ranks.tolist(), "count": values[ranks - 1].tolist(), "cum_share": cum[ranks - 1].tolist()}


def popularity(p: Prepared, restaurants: pd.DataFrame | None, items: pd.DataFrame | None) -> dict[str, Any]:
    """Most ordered restaurants and dishes and how concentrated orders are (share in the top 10 / 50)."""
    o = p.orders
    rest = o["restaurant_id"].value_counts()
    rest_top = pd.DataFrame({"restaurant_id": rest.index.astype(str), "orders": rest.to_numpy()}).head(TOP_N)
    rest_top["share"] = rest_top["orders"] / len(o)
    rest_top = _with_names(rest_top, restaurants, "restaurant_id", ("name", "cuisine"))
    out: dict[str, Any] = {
        "available": True,
        "restaurants": {
            "distinct": int(len(rest)),
            "top10_share": _top_share(rest, 10),
            "top50_share": _top_share(rest, 50),
            "top": _records(rest_top),
            "curve": _rank_curve(rest),
            "in_catalogue_never_ordered": _never(restaurants, "restaurant_id", rest.index),
        },
    }
    if p.level == "dish":
        dish = p.lines.loc[p.lines["_item"] >= 0, "item_id"].value_counts()  # order lines per dish
        dish_top = pd.DataFrame({"item_id": dish.index.astype(str), "lines": dish.to_numpy()}).head(TOP_N)
        dish_top["share"] = dish_top["lines"] / dish.sum()
        dish_top = _with_names(dish_top, items, "item_id", ("name", "restaurant_id"))
        out["dishes"] = {
            "distinct": int(len(dish)),
            "top10_share": _top_share(dish, 10),
            "top50_share": _top_share(dish, 50),
            "top": _records(dish_top),
            "curve": _rank_curve(dish),
            "in_catalogue_never_ordered": _never(items, "item_id", dish.index),
        }
    else:
        out["dishes"] = _unavailable("the log has no item_id column (restaurant level): no dish figures")
    if restaurants is not None and "cuisine" in restaurants.columns:
        cuisine = o["restaurant_id"].map(
            restaurants.drop_duplicates("restaurant_id").set_index("restaurant_id")["cuisine"]
        )
        counts = cuisine.fillna("(unknown)").value_counts()
        out["cuisines"] = [{"cuisine": str(c), "orders": int(n), "share": n / len(o)} for c, n in counts.items()]
    return out


def _with_names(top: pd.DataFrame, table: pd.DataFrame | None, key: str, cols: tuple[str, ...]) -> pd.DataFrame:
    if table is None or key not in table.columns:
        return top
    wanted = [c for c in cols if c in table.columns and c != key]
    if not wanted:
        return top
    info = table.drop_duplicates(key)[[key, *wanted]].astype({key: str})
    info = info.rename(columns={c: c if c != "restaurant_id" else "restaurant" for c in wanted})
    merged = top.merge(info, on=key, how="left")
    return merged.astype({c: object for c in merged.columns if c not in top.columns}).where(merged.notna(), None)


def _never(table: pd.DataFrame | None, key: str, seen: pd.Index) -> int | None:
    if table is None or key not in table.columns:
        return None
    return int((~table[key].astype(str).isin(seen.astype(str))).sum())


def customers(p: Prepared, same_item_per_day: int = SAME_ITEM_PER_DAY) -> dict[str, Any]:
    """Orders per customer (median/p90/p99/max), heavy customers and same-item-many-times-a-day outliers."""
    o = p.orders[p.orders["_cust"] >= 0]
    per_cust = np.bincount(o["_cust"].to_numpy())
    per_cust = per_cust[per_cust > 0]
    dist = pd.Series(per_cust).value_counts().sort_index()
    fence = _log_fence(per_cust.astype(float), offset=1.0)
    heavy_codes = np.flatnonzero(np.bincount(o["_cust"].to_numpy()) > fence)
    ids = o.drop_duplicates("_cust").set_index("_cust")["customer_id"]
    local_day = o["_local"].dt.tz_localize(None).dt.normalize()
    per_day = o.assign(_day=local_day).groupby(["_cust", "_day"]).size()
    max_per_day = per_day.groupby(level=0).max()
    active_days = per_day.groupby(level=0).size()
    heavy = pd.DataFrame(
        {
            "customer_id": ids.reindex(heavy_codes).astype(str).to_numpy(),
            "orders": np.bincount(o["_cust"].to_numpy())[heavy_codes],
            "active_days": active_days.reindex(heavy_codes).to_numpy(),
            "max_orders_per_day": max_per_day.reindex(heavy_codes).to_numpy(),
        }
    ).sort_values("orders", ascending=False, kind="stable")
    return {
        "available": True,
        "customers": int(len(per_cust)),
        "orders_per_customer": {
            "mean": float(per_cust.mean()),
            "median": float(np.median(per_cust)),
            **_q(per_cust, (0.9, 0.99)),
            "max": int(per_cust.max()),
        },
        "share_customers_2plus": float((per_cust >= 2).mean()),
        "distribution": [{"orders": int(k), "customers": int(v)} for k, v in dist.items()],
        "heavy_fence": fence if math.isfinite(fence) else None,
        "heavy_customers": int(len(heavy)),
        "heavy_top": _records(heavy.head(TOP_N)),
        "max_orders_one_day": int(per_day.max()) if len(per_day) else 0,
        "same_item_per_day": _same_item(p, same_item_per_day),
    }


def _same_item(p: Prepared, threshold: int, min_days: int = MIN_REPEAT_DAYS) -> dict[str, Any]:
    """Customers who put one dish (restaurant at restaurant level) in several orders of the same local day.

    A customer is flagged when that happened on ``min_days`` or more days (2+ orders of it each), or when
    ``threshold`` or more orders of one day had it. Ordinary customers almost never do either.
    """
    col = "item_id" if p.level == "dish" else "restaurant_id"
    lines = p.lines[(p.lines["_cust"] >= 0) & (p.lines["_item"] >= 0) & p.lines["_local"].notna()]
    day = lines["_local"].dt.tz_localize(None).dt.normalize()
    keyed = pd.DataFrame({"_cust": lines["_cust"], "_item": lines["_item"], "_ord": lines["_ord"], "_day": day})
    keyed = keyed.drop_duplicates(["_ord", "_item"])
    counts = keyed.groupby(["_cust", "_item", "_day"]).size()
    repeated = counts[counts >= 2].sort_values(ascending=False, kind="stable")
    cust_ids = lines.drop_duplicates("_cust").set_index("_cust")["customer_id"]
    item_ids = lines.drop_duplicates("_item").set_index("_item")[col]
    cust_level = repeated.index.get_level_values(0)
    top = pd.DataFrame(
        {
            "_cust": cust_level,
            "customer_id": cust_ids.reindex(cust_level).astype(str).to_numpy(),
            col: item_ids.reindex(repeated.index.get_level_values(1)).astype(str).to_numpy(),
            "date": [d.date().isoformat() for d in repeated.index.get_level_values(2)],
            "orders_that_day": repeated.to_numpy(),
        }
    )
    per = top.groupby("_cust", sort=False).agg(
        customer_id=("customer_id", "first"),
        **{col: (col, lambda v: v.mode().iat[0])},
        days=("date", "nunique"),
        max_per_day=("orders_that_day", "max"),
        orders_on_those_days=("orders_that_day", "sum"),
    )
    flagged = per[(per["days"] >= min_days) | (per["max_per_day"] >= threshold)]
    flagged = flagged.assign(customer_orders=np.bincount(p.orders["_cust"][p.orders["_cust"] >= 0])[flagged.index])
    flagged = flagged.sort_values(["days", "max_per_day"], ascending=False, kind="stable")
    return {
        "threshold": threshold,
        "min_days": min_days,
        "unit": "dish" if p.level == "dish" else "restaurant",
        "customer_days": int(len(repeated)),
        "customers": int(len(flagged)),
        "orders_share": float(flagged["orders_on_those_days"].sum() / len(p.orders)),
        "flagged": _records(flagged.reset_index(drop=True).head(TOP_N)),
        "top": _records(top.drop(columns="_cust").head(TOP_N)),
    }


def missing_values(p: Prepared, ingest: dict[str, Any] | None = None) -> dict[str, Any]:
    """Missing (null or blank) values per column, absent optional columns and what ingest quarantined."""
    rows = []
    n = len(p.lines)
    for col in [c for c in ORDER_COLUMNS if c in p.columns] + sorted(c for c in p.columns if c not in ORDER_COLUMNS):
        series = p.lines[col]
        miss = series.isna()
        if series.dtype == object or pd.api.types.is_string_dtype(series):
            miss = miss | (series.astype("string").str.strip() == "").fillna(False)
        k = int(miss.sum())
        rows.append({"column": col, "required": col in REQUIRED_ORDER_COLUMNS, "missing": k, "share": k / n})
    return {
        "available": True,
        "lines": n,
        "per_column": rows,
        "absent_optional_columns": [c for c in OPTIONAL_ORDER_COLUMNS if c not in p.columns],
        "ingest": summarize_ingest(ingest),
    }


INGEST_COUNTS = ("read", "accepted", "quarantined", "duplicates")


def summarize_ingest(ingest: dict[str, Any] | None) -> dict[str, Any] | None:
    """Per-source counts, totals and quarantine reasons (summed) from ``STORE/ingest_summary.json``.

    Tolerant of the summary's exact nesting: ``sources`` as a list or a dict, ``totals`` or top-level counts.

    >>> summarize_ingest({"sources": [{"source": "/x/orders.csv", "table": "orders", "read": 3, "accepted": 2,
    ...     "quarantined": 1, "duplicates": 0, "reasons": {"missing area": 1}}]})["quarantine_reasons"]
    {'missing area': 1}
    """
    if not isinstance(ingest, dict):
        return None
    sources = ingest.get("sources")
    if isinstance(sources, dict):
        sources = [{"source": k, **v} for k, v in sources.items() if isinstance(v, dict)]
    rows, reasons = [], {}
    for i, src in enumerate(sources if isinstance(sources, list) else []):
        if not isinstance(src, dict):
            continue
        name = str(src.get("source", src.get("name", i))).replace("\\", "/").rsplit("/", 1)[-1]
        rows.append({"source": name, "table": src.get("table"), **{k: src.get(k) for k in INGEST_COUNTS}})
        for reason, count in (src.get("reasons") or {}).items():
            if isinstance(count, int | float):
                reasons[str(reason)] = reasons.get(str(reason), 0) + int(count)
    totals = ingest.get("totals") if isinstance(ingest.get("totals"), dict) else None
    if totals is None and any(k in ingest for k in INGEST_COUNTS):
        totals = {k: ingest.get(k) for k in INGEST_COUNTS}
    return {
        "sources": rows,
        "totals": {k: totals.get(k) for k in INGEST_COUNTS} if totals else None,
        "quarantine_reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
    }


def timestamps(p: Prepared) -> dict[str, Any]:
    """Timestamp resolution (second, minute, ...) and the longest gaps between consecutive orders."""
    at = p.orders["ordered_at"].dropna().sort_values()
    if at.empty:
        return _unavailable("no order has a valid timestamp")
    ns = at.dt.tz_localize(None).to_numpy("datetime64[ns]").view(np.int64)
    resolution = "day"
    for name, unit in (
        ("sub-second", 10**9),
        ("second", 60 * 10**9),
        ("minute", 3600 * 10**9),
        ("hour", 86400 * 10**9),
    ):
        if (ns % unit != 0).any():
            resolution = name
            break
    gaps = np.diff(ns) / 1e9
    order = np.argsort(-gaps, kind="stable")[:10]
    local = at.dt.tz_convert(p.timezone).reset_index(drop=True)
    return {
        "available": True,
        "resolution": resolution,
        "share_on_whole_minute": float((ns % (60 * 10**9) == 0).mean()),
        "share_on_whole_hour": float((ns % (3600 * 10**9) == 0).mean()),
        "same_timestamp_share": float((gaps == 0).mean()) if len(gaps) else 0.0,
        "median_gap_s": float(np.median(gaps)) if len(gaps) else None,
        "gaps_over_6h": int((gaps > 6 * 3600).sum()),
        "gaps_over_24h": int((gaps > 24 * 3600).sum()),
        "longest_gaps": [
            {"from": local.iloc[i].isoformat(), "to": local.iloc[i + 1].isoformat(), "hours": float(gaps[i] / 3600)}
            for i in order
        ],
        "invalid_timestamps": int(p.orders["ordered_at"].isna().sum()),
    }


def money(p: Prepared) -> dict[str, Any]:
    """Order totals (percentiles, histogram, outliers), refunds, discounts and tips."""
    present = [c for c in MONEY_COLUMNS if _has(p.lines, c)]
    if not present:
        return _unavailable(f"the log has none of the columns {', '.join(MONEY_COLUMNS)}")
    o = p.orders
    out: dict[str, Any] = {"available": True, "columns": present}
    total = None
    if "order_total" in o.columns:
        total = o["order_total"].astype(float)
        out["total_source"] = f"order_total ({p.money_how['order_total']})"
    elif _has(p.lines, "unit_price"):
        qty = pd.to_numeric(p.lines["quantity"], errors="coerce").fillna(1) if "quantity" in p.columns else 1
        line_value = pd.to_numeric(p.lines["unit_price"], errors="coerce") * qty
        total = line_value.groupby(p.lines["_ord"]).sum(min_count=1).reindex(o["_ord"]).reset_index(drop=True)
        out["total_source"] = "sum of unit_price x quantity over the order's lines (no order_total column)"
    out["totals"] = _totals(o, total) if total is not None else _unavailable("no order_total or unit_price column")
    if "refunded_amount" in o.columns:
        ref = o["refunded_amount"].astype(float)
        refunded = ref.fillna(0) > 0
        block: dict[str, Any] = {
            "refunded_orders": int(refunded.sum()),
            "refund_rate": float(refunded.mean()),
            "refunded_amount_sum": float(ref.fillna(0).sum()),
        }
        if total is not None:
            t = np.asarray(total, dtype=float)
            block["refunded_value_share"] = float(ref.fillna(0).sum() / np.nansum(t)) if np.nansum(t) else None
            block["full_refunds"] = int((refunded & (ref >= 0.99 * t)).sum())
        out["refunds"] = block
    else:
        out["refunds"] = _unavailable("no refunded_amount column")
    if "discount" in o.columns:
        disc = o["discount"].astype(float)
        has = disc.fillna(0) > 0
        out["discounts"] = {
            "discounted_orders": int(has.sum()),
            "discount_rate": float(has.mean()),
            "median_discount": float(disc[has].median()) if has.any() else None,
            "discount_sum": float(disc.fillna(0).sum()),
        }
    else:
        out["discounts"] = _unavailable("no discount column")
    if "tip" in o.columns:
        tip = o["tip"].astype(float)
        out["tips"] = {
            "tipped_share": float((tip.fillna(0) > 0).mean()),
            "median_tip": float(tip[tip > 0].median()) if (tip > 0).any() else None,
        }
    negatives = {c: int((pd.to_numeric(p.lines[c], errors="coerce") < 0).sum()) for c in present}
    out["negative_values"] = {c: k for c, k in negatives.items() if k}
    return out


def _totals(o: pd.DataFrame, total: pd.Series) -> dict[str, Any]:
    t = np.asarray(total, dtype=float)
    valid = t[np.isfinite(t)]
    if valid.size == 0:
        return _unavailable("every order total is missing")
    fence = _log_fence(valid)
    out_mask = np.isfinite(t) & (t > fence)
    positive = valid[valid > 0]
    edges = np.array([0.0, 1.0])
    if positive.size:
        lo = max(float(positive.min()), 1e-6)
        hi = max(float(positive.max()), lo * 1.01) * 1.0001
        edges = np.geomspace(lo, hi, 41)
    hist, _ = np.histogram(np.clip(positive, edges[0], edges[-1]), bins=edges)
    big = o.loc[out_mask, ["order_id", "customer_id", "restaurant_id", "_local"]].assign(order_total=t[out_mask])
    big = big.sort_values("order_total", ascending=False, kind="stable").head(TOP_N)
    big["_local"] = big["_local"].map(lambda v: v.isoformat() if pd.notna(v) else None)
    return {
        "available": True,
        "orders_with_total": int(valid.size),
        "mean": float(valid.mean()),
        "min": float(valid.min()),
        **_q(valid, (0.01, 0.05, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)),
        "max": float(valid.max()),
        "non_positive": int((valid <= 0).sum()),
        "outlier_fence": fence if math.isfinite(fence) else None,
        "outliers": int(out_mask.sum()),
        "outlier_share": float(out_mask.sum() / valid.size),
        "outliers_top": _records(big.rename(columns={"_local": "ordered_at_local"}).astype({"order_id": str})),
        "histogram": {"edges": edges.tolist(), "counts": hist.tolist()},
    }


def drivers(p: Prepared) -> dict[str, Any]:
    """Whether the delivery person goes with refunds or order totals (only when a driver_id column exists)."""
    if not _has(p.lines, "driver_id"):
        return _unavailable("the log has no driver_id column: no delivery-person figures")
    o = p.orders.dropna(subset=["driver_id"])
    if o.empty:
        return _unavailable("no order names its driver")
    per = o.groupby("driver_id").size()
    out: dict[str, Any] = {
        "available": True,
        "drivers": int(len(per)),
        "orders_with_driver_share": float(len(o) / len(p.orders)),
        "orders_per_driver": {"median": float(per.median()), "max": int(per.max()), "min": int(per.min())},
        "min_orders": MIN_DRIVER_ORDERS,
    }
    big = per[per >= MIN_DRIVER_ORDERS].index
    sub = o[o["driver_id"].isin(big)]
    out["drivers_compared"] = int(len(big))
    if "refunded_amount" in o.columns and len(big) >= 2:
        refunded = sub["refunded_amount"].fillna(0).astype(float) > 0
        stats = (
            refunded.groupby(sub["driver_id"]).agg(["size", "sum"]).rename(columns={"size": "orders", "sum": "refunds"})
        )
        rate = float(refunded.mean())
        stats["rate"] = stats["refunds"] / stats["orders"]
        se = np.sqrt(max(rate * (1 - rate), 1e-12) / stats["orders"])
        stats["z"] = (stats["rate"] - rate) / se
        out["refunds"] = {
            "overall_rate": rate,
            "p_value_chi2": _chi2_p(stats["refunds"].to_numpy(), stats["orders"].to_numpy()),
            "drivers_z_over_3": int((stats["z"] > 3).sum()),
            "worst": _records(
                stats.sort_values("z", ascending=False, kind="stable").head(10).reset_index().astype({"driver_id": str})
            ),
            "funnel": {"orders": stats["orders"].tolist(), "rate": stats["rate"].tolist()},
        }
    else:
        out["refunds"] = _unavailable(
            "no refunded_amount column"
            if "refunded_amount" not in o.columns
            else f"fewer than 2 drivers with {MIN_DRIVER_ORDERS}+ orders"
        )
    if "order_total" in o.columns and len(big) >= 2:
        totals = sub["order_total"].astype(float)
        means = totals.groupby(sub["driver_id"]).agg(["size", "mean", "median"]).rename(columns={"size": "orders"})
        out["totals"] = {
            "p_value_kruskal": _kruskal_p(totals, sub["driver_id"]),
            "mean_total_spread": {**_q(means["mean"], (0.05, 0.5, 0.95))},
            "highest": _records(
                means.sort_values("mean", ascending=False, kind="stable")
                .head(10)
                .reset_index()
                .astype({"driver_id": str})
            ),
        }
    else:
        out["totals"] = _unavailable(
            "no order_total column"
            if "order_total" not in o.columns
            else f"fewer than 2 drivers with {MIN_DRIVER_ORDERS}+ orders"
        )
    return out


def _chi2_p(successes: np.ndarray, trials: np.ndarray) -> float | None:
    from scipy.stats import chi2_contingency

    table = np.vstack([successes, trials - successes])
    if (table.sum(axis=1) == 0).any():
        return None
    return float(chi2_contingency(table)[1])


def _kruskal_p(values: pd.Series, groups: pd.Series) -> float | None:
    from scipy.stats import kruskal

    samples = [g.dropna().to_numpy() for _, g in values.groupby(groups)]
    samples = [s for s in samples if len(s)]
    if len(samples) < 2 or np.ptp(np.concatenate(samples)) == 0:
        return None
    return float(kruskal(*samples).pvalue)


def repeat(p: Prepared, test_fraction: float = TEST_FRACTION) -> dict[str, Any]:
    """How often returning customers re-order a restaurant / dish, and how much of the future is cold start."""
    o = p.orders[(p.orders["_cust"] >= 0)]
    n_rest = int(p.orders["_rest"].max()) + 2
    returning = o["_cust"].duplicated().to_numpy()  # orders are in time order: all but each customer's first
    rest_pair = o["_cust"].to_numpy() * n_rest + (o["_rest"].to_numpy() + 1)
    rest_repeat = pd.Series(rest_pair).duplicated().to_numpy()
    out: dict[str, Any] = {
        "available": True,
        "orders": int(len(o)),
        "returning_orders": int(returning.sum()),
        "returning_share": float(returning.mean()),
        "first_order_share": float(1 - returning.mean()),
        "restaurant_repeat_share": float(rest_repeat[returning].mean()) if returning.any() else None,
    }
    if p.level == "dish":
        lines = p.lines[(p.lines["_cust"] >= 0) & (p.lines["_item"] >= 0)].drop_duplicates(["_ord", "_item"])
        n_item = int(p.lines["_item"].max()) + 2
        item_pair = pd.Series(lines["_cust"].to_numpy() * n_item + lines["_item"].to_numpy())
        # A line repeats when the pair appeared in an earlier order; pairs within one order were deduplicated.
        line_repeat = item_pair.duplicated().to_numpy()
        order_repeat = np.bincount(lines["_ord"].to_numpy(), weights=line_repeat, minlength=int(o["_ord"].max()) + 1)
        dish_repeat = order_repeat[o["_ord"].to_numpy()] > 0
        out["dish_repeat_share"] = float(dish_repeat[returning].mean()) if returning.any() else None
    else:
        out["dish_repeat_share"] = None
        out["dish_note"] = "The log has no item_id column, so dish repeats cannot be measured."
    out["cold_start"] = _cold_start(p, test_fraction)
    return out


def _cold_start(p: Prepared, test_fraction: float) -> dict[str, Any] | None:
    """Cold start at a temporal split that keeps the last ``test_fraction`` of local days for test."""
    local = p.orders["_local"]
    days = local.dropna().dt.tz_localize(None).dt.normalize()
    unique_days = np.sort(days.unique())
    if len(unique_days) < 2:
        return None
    n_test = max(1, int(round(test_fraction * len(unique_days))))
    cutoff_local = pd.Timestamp(unique_days[-n_test]).tz_localize(
        p.timezone, ambiguous=False, nonexistent="shift_forward"
    )
    cutoff = cutoff_local.tz_convert("UTC")
    at = p.orders["ordered_at"]
    train, test = p.orders[at < cutoff], p.orders[at >= cutoff]
    if test.empty or train.empty:
        return None
    seen_cust = set(train["_cust"].unique())
    new_cust = ~test["_cust"].isin(seen_cust)
    block = {
        "cutoff": cutoff_local.isoformat(),
        "test_days": n_test,
        "test_orders": int(len(test)),
        "new_customer_order_share": float(new_cust.mean()),
        "new_customers_in_test": int(test.loc[new_cust, "_cust"].nunique()),
        "new_restaurant_order_share": float((~test["_rest"].isin(set(train["_rest"].unique()))).mean()),
    }
    if p.level == "dish":
        lines_at = p.lines["ordered_at"]
        train_items = set(p.lines.loc[lines_at < cutoff, "_item"].unique())
        test_lines = p.lines[lines_at >= cutoff]
        block["new_dish_line_share"] = float((~test_lines["_item"].isin(train_items)).mean())
    return block


# --------------------------------------------------------------------------------------------- all at once

SECTIONS: tuple[str, ...] = (
    "overview",
    "volume",
    "areas",
    "popularity",
    "customers",
    "repeat",
    "missing",
    "timestamps",
    "money",
    "drivers",
)


def compute_figures(
    lines: pd.DataFrame,
    timezone: str = "UTC",
    restaurants: pd.DataFrame | None = None,
    items: pd.DataFrame | None = None,
    ingest: dict[str, Any] | None = None,
    progress: Any = None,
) -> dict[str, Any]:
    """Every section's figures as one JSON-ready dict (see :data:`SECTIONS`).

    ``progress``, when given, is called with each section's name as it is computed.
    """
    p = prepare(lines, timezone)
    steps = {
        "overview": lambda: overview(p),
        "volume": lambda: volume(p),
        "areas": lambda: areas(p),
        "popularity": lambda: popularity(p, restaurants, items),
        "customers": lambda: customers(p),
        "repeat": lambda: repeat(p),
        "missing": lambda: missing_values(p, ingest),
        "timestamps": lambda: timestamps(p),
        "money": lambda: money(p),
        "drivers": lambda: drivers(p),
    }
    out: dict[str, Any] = {"kind": "foodrec.eda"}  # how other steps (reports) recognise this JSON
    for name in SECTIONS:
        if progress is not None:
            progress(name)
        out[name] = jsonable(steps[name]())
    return out


def jsonable(value: Any) -> Any:
    """Numpy and pandas scalars to Python, NaN/inf to None, timestamps to ISO 8601 (recursively)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        f = float(value)
        return f if math.isfinite(f) else None
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    return value
