"""Values the service could not use, or that would be silently wrong, are quarantined with a reason."""

from __future__ import annotations

import numpy as np
import pandas as pd

from foodrec.cli import main
from foodrec.data.ingest import ingest
from foodrec.data.schema import MAX_ID_LENGTH
from foodrec.data.store import Store

HEADER = "order_id,customer_id,ordered_at,area,restaurant_id,quantity,unit_price"
T = "2026-01-05T16:00:00Z"


def reasons_by_line(store: Store) -> dict[int, str]:
    q = store.quarantine()
    return dict(zip(q["line"], q["reason"], strict=True))


def test_out_of_range_numbers_control_characters_long_ids_and_offsets(tmp_path):
    lines = [
        f"o1,c1,{T},a,r1,1e20,2",  # 2
        f"o2,c1,{T},a,r1,9223372036854775808,2",  # 3: 2^63
        f"o3,c1,{T},a,r1,2,1e12",  # 4
        f"o4,c\t1,{T},a,r1,1,2",  # 5: a tab inside an id
        f"o5,c1,{T},a\x1bx,r1,1,2",  # 6: ESC (a NUL in a CSV makes it binary; see the Parquet test)
        f"o6,{'c' * (MAX_ID_LENGTH + 1)},{T},a,r1,1,2",  # 7
        "o7,c1,2026-01-05T16:00:00+25:00,a,r1,1,2",  # 8
        "o8,c1,2026-01-05T16:00:00-03:75,a,r1,1,2",  # 9
        f"o9,{'c' * MAX_ID_LENGTH},2026-01-05T16:00:00+14:00,a,r1,1000000,999999999",  # 10: all at the limit
    ]
    (tmp_path / "o.csv").write_text(HEADER + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    t = ingest([str(tmp_path / "o.csv")], tmp_path / "s")["totals"]
    assert (t["read"], t["accepted"], t["quarantined"]) == (9, 1, 8)
    why = reasons_by_line(Store.open(tmp_path / "s"))
    assert why == {
        2: "quantity out of range",
        3: "quantity out of range",
        4: "unit_price out of range",
        5: "customer_id has a control character",
        6: "area has a control character",
        7: "customer_id too long",
        8: "impossible UTC offset",
        9: "impossible UTC offset",
    }


def test_parquet_float_ids_read_as_the_csv_ids_and_nan_or_fractions_are_refused(tmp_path):
    frame = pd.DataFrame(
        {
            "order_id": [1.0, 2.0, 3.0, 4.0, 5.0],
            "customer_id": [1305.0, np.nan, 1305.5, np.inf, 7.0],
            "ordered_at": pd.Timestamp(T),
            "area": "a",
            "restaurant_id": ["r1", "r1", "r1", "r1", "r\x00"],
            "item_id": [10.0, np.nan, 10.0, 10.0, 10.0],
        }
    )
    frame.to_parquet(tmp_path / "o.parquet")
    (tmp_path / "o.csv").write_text(f"order_id,customer_id,ordered_at,area,restaurant_id,item_id\n1,1305,{T},a,r1,10\n")
    t = ingest([str(tmp_path / "o.parquet"), str(tmp_path / "o.csv")], tmp_path / "s")["totals"]
    store = Store.open(tmp_path / "s")
    orders = store.orders()
    assert orders["customer_id"].tolist() == ["1305"] and orders["order_id"].tolist() == ["1"]
    assert orders["item_id"].tolist() == ["10"]
    assert (t["read"], t["accepted"], t["quarantined"], t["duplicates"]) == (6, 1, 4, 1)  # the CSV line: a duplicate
    assert reasons_by_line(store) == {
        2: "missing customer_id",
        3: "non-integral customer_id",
        4: "non-integral customer_id",
        5: "restaurant_id has a control character",
    }


def test_an_order_id_reused_with_another_customer_or_time_is_quarantined(tmp_path):
    first = [f"o1,c1,{T},a,r1,1,2", f"o1,c1,{T},a,r1,2,3"]  # two lines of one order: fine
    (tmp_path / "a.csv").write_text(HEADER + "\n" + "\n".join(first) + "\n")
    later = [
        f"o1,c2,{T},a,r1,1,2",  # 2: the store knows o1 with c1
        "o1,c1,2026-01-05T17:00:00Z,a,r1,1,2",  # 3: another time
        "o1,c1,2026-01-05 16:00:00,a,r1,5,5",  # 4: the same instant written otherwise: fine
        "o2,c3,2026-01-06T10:00:00Z,a,r1,1,2",  # 5
        "o2,c4,2026-01-06T10:00:00Z,a,r1,1,2",  # 6: o2 first seen on line 5
    ]
    (tmp_path / "b.csv").write_text(HEADER + "\n" + "\n".join(later) + "\n")
    ingest([str(tmp_path / "a.csv")], tmp_path / "s")
    t = ingest([str(tmp_path / "b.csv")], tmp_path / "s")["last_run"]["totals"]
    assert (t["read"], t["accepted"], t["quarantined"]) == (5, 2, 3)
    why = reasons_by_line(Store.open(tmp_path / "s"))
    assert why == dict.fromkeys([2, 3, 6], "order_id reused with another customer or time")


def test_catalogue_ids_are_checked_too(tmp_path):
    (tmp_path / "restaurants.csv").write_text("restaurant_id,name\nr1,Pizza\nr\x7f2,Bad\n")
    (tmp_path / "o.csv").write_text(HEADER + f"\no1,c1,{T},a,r1,1,2\n")
    t = ingest([str(tmp_path / "restaurants.csv"), str(tmp_path / "o.csv")], tmp_path / "s")["tables"]
    assert t["restaurants"]["quarantined"] == 1 and t["orders"]["accepted"] == 1


def test_generate_refuses_to_write_into_a_store(tmp_path, capsys):
    (tmp_path / "o.csv").write_text(HEADER + f"\no1,c1,{T},a,r1,1,2\n")
    assert main(["ingest", str(tmp_path / "o.csv"), "--store", str(tmp_path / "s")]) == 0
    before = sorted(p.name for p in (tmp_path / "s").iterdir())
    assert main(["generate", "--out", str(tmp_path / "s"), "--preset", "small", "--days", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "is a foodrec store" in err and err.count("\n") == 1
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == before
