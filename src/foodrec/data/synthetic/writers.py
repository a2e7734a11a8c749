"""Writing a generated city: canonical orders (CSV/Parquet), catalogue CSVs and DHRD-format text files.

Order-level money (``order_total, discount, tip, refunded_amount``) and ``driver_id`` are repeated on every
line of an order, as exports of real platforms do. ``ordered_at`` is ISO 8601 UTC text with ``Z`` (a few
values are deliberately garbage), also in Parquet, so the warts survive.

>>> import numpy as np
>>> iso_utc(np.array([0], dtype=np.int64)).tolist()
['1970-01-01T00:00:00Z']
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from foodrec.data.synthetic.city import CATEGORIES, CUISINE_NAMES, World
from foodrec.data.synthetic.orders import Money, Simulation
from foodrec.data.synthetic.warts import RowWarts


def iso_utc(ns: np.ndarray) -> np.ndarray:
    """Epoch nanoseconds -> ``YYYY-MM-DDTHH:MM:SSZ`` strings."""
    return np.datetime_as_string((ns // 10**9).astype("datetime64[s]"), unit="s", timezone="UTC")


def _strings(values: np.ndarray, idx: np.ndarray) -> pa.Array:
    """``values[idx]`` as an Arrow string array; negative ``idx`` become nulls."""
    dictionary = pa.array(values.astype(str), type=pa.string())
    return dictionary.take(pa.array(idx, mask=idx < 0, type=pa.int64()))


def order_rank(sim: Simulation) -> np.ndarray:
    """Position of each order in time order (order ids follow it)."""
    rank = np.empty(len(sim.order_ns), dtype=np.int64)
    rank[np.argsort(sim.order_ns, kind="stable")] = np.arange(len(sim.order_ns))
    return rank


def build_orders_table(
    world: World, sim: Simulation, money: Money, warts: RowWarts, level: str
) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """The canonical order table with its warts; also returns order ids and, per clean row, its order index."""
    rank = order_rank(sim)
    order_ids = np.array([f"o{i:08d}" for i in range(len(rank))], dtype=object)
    if level == "dish":
        key = rank[sim.line_order] * 4 + world.item_cat[sim.line_item]
        rows = np.argsort(key, kind="stable")
        row_order = sim.line_order[rows]
    else:
        rows = np.argsort(rank, kind="stable")
        row_order = rows
    area = np.where(warts.missing_area[row_order], -1, sim.order_area[row_order])
    # outliers (catering-sized orders) reach ~1,600 at most, as in the real log
    total = np.round(np.minimum(money.total * warts.outlier_factor, np.maximum(money.total, 1650.0)), 2)[row_order]
    stamps = iso_utc(sim.order_ns[row_order]).astype(object)
    stamps[warts.bad_time_rows] = [warts.bad_time_values[i % len(warts.bad_time_values)] for i in
                                   range(len(warts.bad_time_rows))]  # fmt: skip
    columns: dict[str, pa.Array] = {
        "order_id": pa.array(order_ids[rank[row_order]].astype(str)),
        "customer_id": _strings(world.customer_ids, sim.order_cust[row_order]),
        "ordered_at": pa.array(stamps.astype(str)),
        "area": _strings(world.area_ids, area),
        "restaurant_id": _strings(world.restaurant_ids, sim.order_rest[row_order]),
    }
    if level == "dish":
        item = sim.line_item[rows]
        columns["item_id"] = _strings(world.item_ids, item)
        columns["quantity"] = pa.array(sim.line_qty[rows], type=pa.int64())
        columns["unit_price"] = pa.array(world.item_price[item])
    columns["order_total"] = pa.array(total)
    columns["discount"] = pa.array(money.discount[row_order])
    columns["tip"] = pa.array(money.tip[row_order])
    columns["refunded_amount"] = pa.array(money.refunded[row_order])
    drivers = np.array([f"d{i:04d}" for i in range(int(money.driver.max(initial=0)) + 1)], dtype=object)
    columns["driver_id"] = _strings(drivers, money.driver[row_order])
    table = pa.table(columns)
    if len(warts.duplicate_rows):
        take = np.sort(np.r_[np.arange(table.num_rows), warts.duplicate_rows], kind="stable")
        table = table.take(pa.array(take))
    return table, order_ids, row_order


def write_orders(table: pa.Table, out: Path, fmt: str) -> Path:
    """``orders.csv`` (pyarrow's fast writer) or ``orders.parquet``."""
    if fmt == "parquet":
        path = out / "orders.parquet"
        pq.write_table(table, path)
    else:
        path = out / "orders.csv"
        pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(quoting_style="needed"))
    return path


def write_catalogue(world: World, out: Path, level: str) -> list[Path]:
    """``restaurants.csv``, ``customers.csv`` and (dish level) ``items.csv`` in canonical columns."""
    restaurants = pd.DataFrame(
        {
            "restaurant_id": world.restaurant_ids,
            "name": world.rest_names,
            "cuisine": np.array(CUISINE_NAMES, dtype=object)[world.rest_cuisine],
            "area": world.area_ids[world.rest_area],
            "chain_id": np.where(world.rest_chain >= 0, [f"chain{c:03d}" for c in world.rest_chain], None),
        }
    )
    customers = pd.DataFrame({"customer_id": world.customer_ids, "home_area": world.area_ids[world.cust_home]})
    paths = [out / "restaurants.csv", out / "customers.csv"]
    restaurants.to_csv(paths[0], index=False)
    customers.to_csv(paths[1], index=False)
    if level == "dish":
        items = pd.DataFrame(
            {
                "item_id": world.item_ids,
                "restaurant_id": world.restaurant_ids[world.item_rest],
                "name": world.item_names,
                "category": np.array(CATEGORIES, dtype=object)[world.item_cat],
                "unit_price": world.item_price,
            }
        )
        paths.append(out / "items.csv")
        items.to_csv(paths[2], index=False)
    return paths


def write_dhrd(
    world: World,
    sim: Simulation,
    order_ids: np.ndarray,
    missing_area: np.ndarray,
    out: Path,
    city: str,
    anchor: pd.Timestamp,
    timezone: str,
    test_from_day: int,
) -> list[Path]:
    """DHRD text files (CSV with a leading unnamed index column, like the published dataset).

    ``order_day`` is ``"<n> days"`` after ``anchor`` (a local date), ``order_time`` local ``HH:MM:SS``,
    ``day_of_week`` 0 = Monday ... 6 = Sunday, ``geohash`` the delivery area (empty when missing).
    """
    folder = out / "dhrd"
    folder.mkdir(parents=True, exist_ok=True)
    rank = order_rank(sim)
    rows = np.argsort(rank[sim.line_order] * world.n_items + sim.line_item, kind="stable")
    o = sim.line_order[rows]
    local = pd.DatetimeIndex(sim.order_ns[o].astype("datetime64[ns]")).tz_localize("UTC").tz_convert(timezone)
    local_naive = local.tz_localize(None)
    day = (local_naive.normalize() - anchor).days.to_numpy()
    area = np.where(missing_area[o], -1, sim.order_area[o])
    frame = pd.DataFrame(
        {
            "customer_id": world.customer_ids[sim.order_cust[o]],
            "geohash": np.where(area >= 0, world.area_ids[np.maximum(area, 0)], ""),
            "order_id": order_ids[rank[o]],
            "vendor_id": world.restaurant_ids[sim.order_rest[o]],
            "product_id": world.item_ids[sim.line_item[rows]],
            "day_of_week": local_naive.day_of_week.to_numpy(),
            "order_time": local_naive.strftime("%H:%M:%S"),
            "order_day": pd.Series(day).astype(str).to_numpy(dtype=object) + " days",
        }
    )
    test = sim.order_day[o] >= test_from_day
    paths = [folder / f"orders_{city}_train.txt", folder / f"orders_{city}_test.txt"]
    frame[~test].reset_index(drop=True).to_csv(paths[0])
    frame[test].reset_index(drop=True).to_csv(paths[1])
    vendors = pd.DataFrame(
        {
            "vendor_id": world.restaurant_ids,
            "chain_id": np.where(world.rest_chain >= 0, [f"chain{c:03d}" for c in world.rest_chain], ""),
            "geohash": world.area_ids[world.rest_area],
            "primary_cuisine": np.array(CUISINE_NAMES, dtype=object)[world.rest_cuisine],
        }
    )
    products = pd.DataFrame(
        {
            "vendor_id": world.restaurant_ids[world.item_rest],
            "product_id": world.item_ids,
            "name": world.item_names,
            "unit_price": world.item_price,
        }
    )
    paths += [folder / f"vendors_{city}.txt", folder / f"products_{city}.txt"]
    vendors.to_csv(paths[2])
    products.to_csv(paths[3])
    return paths
