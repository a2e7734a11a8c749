"""Generate a synthetic city into a directory (what ``foodrec generate`` runs).

>>> import tempfile
>>> from foodrec.data.synthetic.presets import preset_config
>>> out = Path(tempfile.mkdtemp())
>>> summary = generate_city(preset_config("small", customers=300, restaurants=20, days=7), out)
>>> sorted(p.name for p in out.iterdir())[:3], summary["orders"] > 0
(['city.json', 'customers.csv', 'orders.csv'], True)
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from foodrec.data.synthetic.city import CUISINE_NAMES, build_world
from foodrec.data.synthetic.orders import day_start_utc_days, order_money, simulate_orders
from foodrec.data.synthetic.presets import FORMATS, CityConfig
from foodrec.data.synthetic.warts import RowWarts, add_drink_spammer, pick_row_warts
from foodrec.data.synthetic.writers import build_orders_table, write_catalogue, write_dhrd, write_orders
from foodrec.errors import InputError

DRIFT_CANDIDATES = ("korean", "vietnamese", "mediterranean", "thai", "indian")
DRIFT_BOOST = 1.5
DRIFT_RAMP_DAYS = 7.0


def generate_city(
    config: CityConfig,
    out: str | os.PathLike[str],
    fmt: str = "csv",
    dhrd: bool = False,
    preset: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Build the world, simulate orders, add warts and write everything into ``out``; returns the summary."""
    if fmt not in FORMATS:
        raise InputError(f"unknown --format {fmt!r}: choose one of {', '.join(FORMATS)}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {str(out)!r} exists and is not a directory")
    if out.is_dir() and (out / "city.json").exists() is False and any(out.iterdir()):
        raise InputError(f"--out {str(out)!r} is a non-empty directory that is not a generated city; pick a new one")
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("orders.csv", "orders.parquet", "items.csv"):
        (out / stale).unlink(missing_ok=True)
    if (out / "dhrd").is_dir():
        shutil.rmtree(out / "dhrd")

    world = build_world(config)
    drift = None
    if config.drift_at is not None:
        rng = np.random.default_rng([config.seed, 4])
        cuisine = config.drift_cuisine or str(rng.choice(DRIFT_CANDIDATES))
        if cuisine not in CUISINE_NAMES:
            raise InputError(f"unknown drift cuisine {cuisine!r}: choose one of {', '.join(CUISINE_NAMES)}")
        drift = {
            "day": config.drift_at,
            "date": (pd.Timestamp(config.start) + pd.Timedelta(days=config.drift_at)).date().isoformat(),
            "cuisine": cuisine,
            "cuisine_index": CUISINE_NAMES.index(cuisine),
            "boost": DRIFT_BOOST,
            "ramp_days": DRIFT_RAMP_DAYS,
            "t_days": day_start_utc_days(config.start, config.drift_at, config.timezone),
            "what": f"from {config.drift_at} days after the start, {cuisine} gains utility, ramping up to "
            f"+{DRIFT_BOOST} over {DRIFT_RAMP_DAYS:g} days",
        }
    world.params["drift"] = drift

    sim = simulate_orders(world, config, progress=progress)
    if len(sim.order_cust) == 0:
        raise InputError(
            f"no orders were generated ({config.customers} customers over {config.days} days): "
            "use more --customers or --days"
        )
    spam: dict = {}
    wart_rng = np.random.default_rng([config.seed, 3])
    if config.warts:
        sim, spam = add_drink_spammer(world, sim, config.start, config.days, config.timezone, wart_rng)
    money = order_money(world, sim, np.random.default_rng([config.seed, 5]))
    n_orders = len(sim.order_cust)
    n_rows_clean = len(sim.line_order) if config.level == "dish" else n_orders
    if config.warts:
        warts = pick_row_warts(wart_rng, n_orders, n_rows_clean)
    else:
        warts = RowWarts(np.zeros(n_orders, bool), np.zeros(n_orders, bool), np.ones(n_orders), np.empty(0, np.int64),
                         np.empty(0, np.int64), [])  # fmt: skip
    table, order_ids, row_order = build_orders_table(world, sim, money, warts, config.level)
    files = [write_orders(table, out, fmt)]
    files += write_catalogue(world, out, config.level)
    world.save(out / "truth")
    anchor = pd.Timestamp(config.start)
    if dhrd:
        files += write_dhrd(world, sim, order_ids, warts.missing_area, out, config.city_code, anchor, config.timezone,
                            test_from_day=int(np.ceil(config.days * 0.8)))  # fmt: skip

    end = (anchor + pd.Timedelta(days=config.days - 1)).date().isoformat()
    summary = {
        "rows": int(table.num_rows),
        "orders": int(n_orders),
        "customers": int(len(np.unique(sim.order_cust))),
        "days": config.days,
        "restaurants": world.n_restaurants,
        "items": world.n_items if config.level == "dish" else 0,
        "areas": world.n_areas,
        "files": sorted(str(p.relative_to(out)) for p in files) + ["city.json", "truth/"],
    }
    meta = {
        "generator": "foodrec generate",
        "preset": preset,
        "seed": config.seed,
        "level": config.level,
        "timezone": config.timezone,
        "start": config.start.isoformat(),
        "end": end,
        "format": fmt,
        "parameters": _jsonable(dataclasses.asdict(config)),
        "choice_model": {k: v for k, v in world.params.items() if k != "drift"},
        "counts": {**{k: v for k, v in summary.items() if k != "files"}, "customers_total": world.n_customers},
        "drift": drift,
        "dhrd": {
            "written": dhrd,
            "city": config.city_code,
            "anchor_date": anchor.date().isoformat(),
            "order_day": "'<n> days': local calendar days after anchor_date",
            "order_time": "local time HH:MM:SS in the city's time zone",
            "day_of_week": "0=Monday ... 6=Sunday (local)",
            "test_from_day": int(np.ceil(config.days * 0.8)),
        },
        "warts": {
            "duplicate_rows": int(len(warts.duplicate_rows)),
            "bad_timestamps": int(len(warts.bad_time_rows)),
            "missing_area_orders": int(warts.missing_area.sum()),
            "missing_area_rows": int(
                warts.missing_area[row_order].sum() + warts.missing_area[row_order[warts.duplicate_rows]].sum()
            ),
            "outlier_orders": int(warts.outlier.sum()),
            "refunded_orders": int((money.refunded > 0).sum()),
            "discounted_orders": int((money.discount > 0).sum()),
            "drink_spammer": spam or None,
        },
        "summary": summary,
    }
    (out / "city.json").write_text(json.dumps(meta, indent=2, default=str))
    return summary


def _jsonable(values: dict) -> dict:
    return json.loads(json.dumps(values, default=str))
