"""The Ray engine's plumbing (fast): option errors are one line before Ray starts; Ray starts quietly in local
mode, runs tasks, and is shut down; without Ray the options say how to install it."""

import sys

import pytest

from foodrec.cli import main
from foodrec.distributed.engine import RayEngine, check_workers, require_ray
from foodrec.errors import InputError


def _err(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    return err[-1] if err else ""


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--workers", "0"], "--workers must be at least 1"),
        (["--cluster", "ray://head:10001"], "--cluster needs --workers 2"),
        (["--workers", "2", "--cluster", "ray://a b"], "expected a Ray address"),
        (["--workers", "2", "--cluster", "head"], "expected HOST:PORT"),
        (["--workers", "2", "--cluster", "ray://127.0.0.1:1"], "no Ray cluster answers there"),
    ],
)
def test_bad_worker_options_are_one_line(tmp_path, capsys, args, needle):
    assert main(["train", "--store", str(tmp_path / "nope"), "--out", str(tmp_path / "m"), *args]) == 2
    err = _err(capsys)
    assert err.startswith("error:") and needle in err


def test_without_ray_the_options_say_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    with pytest.raises(InputError, match=r"pip install 'foodrec\[scale\]'"):
        require_ray()
    check_workers(1, None)  # one worker needs no Ray


def _square_plus(shared, x):
    return x * x + shared


def test_local_ray_runs_tasks_quietly_and_shuts_down(capfd):
    import ray

    with RayEngine(workers=2) as engine:
        assert ray.is_initialized()
        assert ray.cluster_resources()["CPU"] == 2
        assert engine.map(_square_plus, [(1,), (2,), (3,)], shared=10) == [11, 14, 19]
        assert engine.map(pow, [(2, 3), (3, 2)]) == [8, 9]
    assert not ray.is_initialized()
    out, err = capfd.readouterr()
    assert out == "" and err == "", (out, err)


@pytest.mark.slow  # Ray Data start-up: ~15 s on an idle machine, minutes on a loaded one
def test_ray_data_reads_the_partitioned_store_like_duckdb(tmp_path):
    import pandas as pd

    from foodrec.data.store import Store
    from foodrec.distributed.reads import read_orders
    from foodrec.recommenders.keras.toydata import toy_log

    store = Store.create(tmp_path / "store")
    orders = toy_log(n_customers=40, n_restaurants=6, days=9, seed=1).orders
    store.write_orders_part(orders.iloc[: len(orders) // 2])
    orders.iloc[len(orders) // 2 :].to_parquet(store.path / "orders" / "part-flat.parquet", index=False)  # older
    assert len(list((store.path / "orders").glob("day=*"))) >= 4
    cut = orders["ordered_at"].iloc[len(orders) // 3]
    with RayEngine(workers=2):
        for until in (None, cut, "1999-01-01"):
            key = ["ordered_at", "order_id", "item_id"]  # lines of one order come in no defined order
            expected = store.orders(until=until).sort_values(key, ignore_index=True)
            got = read_orders(store, until=until).sort_values(key, ignore_index=True)
            assert list(got.columns) == list(expected.columns)
            pd.testing.assert_frame_equal(got, expected, check_dtype=False)
