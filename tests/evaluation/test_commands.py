"""The batch commands: foodrec baselines / evaluate / recommend, and their one-line errors."""

import json

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from foodrec.cli import main


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err, needle):
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert needle in err


def test_baselines_leaderboard_and_json(store_dir, tmp_path, capsys):
    out_json = tmp_path / "results.json"
    code, out, err = run(capsys, "baselines", "--store", str(store_dir), "--n-boot", "50", "--out", str(out_json))
    assert code == 0, err
    payload = json.loads(out_json.read_text())
    names = [row["recommender"] for row in payload["leaderboard"]]
    assert names[-1] == "global-popularity"
    assert names.index("customer-history") < names.index("area-popularity")
    assert "oracle" in payload["skipped"]
    assert payload["level"] == "dish" and payload["k"] == 10
    first = payload["leaderboard"][0]
    assert first["ndcg_lo"] <= first["ndcg"] <= first["ndcg_hi"]
    assert set(payload["results"]["area-popularity"]["overall"]) == {"hr", "ndcg", "mrr", "map"}
    assert "customer-history" in out and "NDCG@10" in out


def test_baselines_are_reproducible_and_default_json_path(store_dir, capsys):
    run(capsys, "baselines", "--store", str(store_dir), "--n-boot", "30", "--level", "restaurant")
    first = json.loads((store_dir / "evaluation" / "baselines.json").read_text())
    run(capsys, "baselines", "--store", str(store_dir), "--n-boot", "30", "--level", "restaurant")
    second = json.loads((store_dir / "evaluation" / "baselines.json").read_text())
    assert first["leaderboard"] == second["leaderboard"]
    assert first["level"] == "restaurant"


def test_evaluate_named_baseline_with_paired_difference(store_dir, tmp_path, capsys):
    out_json = tmp_path / "eval.json"
    code, out, err = run(
        capsys,
        "evaluate",
        "--store",
        str(store_dir),
        "--recommender",
        "area-popularity",
        "--until",
        "2026-01-20",
        "--n-boot",
        "50",
        "--out",
        str(out_json),
    )
    assert code == 0, err
    payload = json.loads(out_json.read_text())
    assert payload["cutoff"].startswith("2026-01-20")
    assert payload["strongest_baseline"] in ("customer-history", "item-cooccurrence")
    diff = payload["paired_difference"]["ndcg"]
    assert diff["ci_high"] < 0  # area popularity loses to the customer's own history here
    segments = {s["segment"] for s in payload["result"]["segments"]}
    assert segments == {"area", "meal_time", "customer_type"}
    assert "Paired difference" in out


def test_evaluate_saved_model_uses_its_own_cutoff(store_dir, tmp_path, capsys):
    from foodrec.data.store import Store
    from foodrec.recommenders.registry import make_recommender

    train = Store.open(store_dir).order_log(until="2026-01-18")
    make_recommender("customer-history").fit(train).save(tmp_path / "model", extra={"cutoff": "2026-01-18"})
    out_json = tmp_path / "eval.json"
    code, _, err = run(
        capsys,
        "evaluate",
        "--store",
        str(store_dir),
        "--recommender",
        str(tmp_path / "model"),
        "--n-boot",
        "30",
        "--out",
        str(out_json),
    )
    assert code == 0, err
    payload = json.loads(out_json.read_text())
    assert payload["cutoff"].startswith("2026-01-18")
    assert payload["recommender"] == "customer-history"
    assert payload["strongest_baseline"] != "customer-history"


def test_recommend_writes_the_contract(store_dir, tmp_path, capsys):
    queries = tmp_path / "q.csv"
    pd.DataFrame(
        {
            "customer_id": ["c1", "nobody", "c2"],
            "area": ["north", "", "atlantis"],
            "at": ["2026-02-01T12:00Z", "2026-02-01T19:00:00+01:00", "2026-02-02"],
        }
    ).to_csv(queries, index=False)
    out = tmp_path / "r.csv"
    code, _, err = run(
        capsys,
        "recommend",
        "--recommender",
        "area-popularity",
        "--store",
        str(store_dir),
        "--until",
        "2026-01-15",
        "--queries",
        str(queries),
        "--k",
        "5",
        "--out",
        str(out),
    )
    assert code == 0, err
    result = pd.read_csv(out, dtype={"item_id": str})
    assert result.columns.tolist() == ["query_id", "rank", "item_id", "score"]
    assert result.groupby("query_id")["rank"].apply(list).tolist() == [[1, 2, 3, 4, 5]] * 3
    assert result["score"].is_monotonic_decreasing or (result.groupby("query_id")["score"].diff().dropna() <= 0).all()


def test_recommend_from_a_saved_model_takes_its_data_from_the_store(store_dir, tmp_path, capsys):
    from foodrec.data.store import Store
    from foodrec.recommenders.registry import make_recommender

    make_recommender("global-popularity").fit(Store.open(store_dir).order_log()).save(tmp_path / "m")
    queries = tmp_path / "q.csv"
    queries.write_text("customer_id,area,at\nc1,north,2026-02-01T12:00Z\n")
    code, _, err = run(
        capsys,
        "recommend",
        "--recommender",
        str(tmp_path / "m"),
        "--queries",
        str(queries),
        "--out",
        str(tmp_path / "r.csv"),
    )
    assert code == 2 and "give --store" in err  # a saved model holds no order data
    code, _, err = run(capsys, "recommend", "--recommender", str(tmp_path / "m"), "--store", str(store_dir),
                       "--queries", str(queries), "--out", str(tmp_path / "r.csv"))  # fmt: skip
    assert code == 0, err
    assert len(pd.read_csv(tmp_path / "r.csv")) == 10


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["baselines", "--store", "{tmp}/nope"], "does not exist"),
        (["baselines", "--store", "{store}", "--until", "yesterday-ish"], "not a timestamp"),
        (["baselines", "--store", "{store}", "--until", "2030-01-01"], "outside the data"),
        (["baselines", "--store", "{store}", "--level", "cuisine"], "unknown level"),
        (["evaluate", "--store", "{store}", "--recommender", "magic"], "unknown recommender"),
        (["evaluate", "--store", "{store}", "--recommender", "oracle"], "ground truth"),
        (["evaluate", "--store", "{store}", "--recommender", "{tmp}"], "not a saved recommender"),
        (
            [
                "recommend",
                "--recommender",
                "area-popularity",
                "--queries",
                "{tmp}/missing.csv",
                "--out",
                "{tmp}/r.csv",
                "--store",
                "{store}",
            ],
            "does not exist",
        ),
        (
            [
                "recommend",
                "--recommender",
                "area-popularity",
                "--queries",
                "{q_nocol}",
                "--out",
                "{tmp}/r.csv",
                "--store",
                "{store}",
            ],
            "missing column(s) at",
        ),
        (
            [
                "recommend",
                "--recommender",
                "area-popularity",
                "--queries",
                "{q_badtime}",
                "--out",
                "{tmp}/r.csv",
                "--store",
                "{store}",
            ],
            "ISO 8601",
        ),
        (
            [
                "recommend",
                "--recommender",
                "area-popularity",
                "--queries",
                "{q_empty}",
                "--out",
                "{tmp}/r.csv",
                "--store",
                "{store}",
            ],
            "empty",
        ),
        (["recommend", "--recommender", "area-popularity", "--queries", "{q_ok}", "--out", "{tmp}/r.csv"], "--store"),
        (
            [
                "recommend",
                "--recommender",
                "area-popularity",
                "--queries",
                "{q_ok}",
                "--out",
                "{tmp}/r.csv",
                "--store",
                "{store}",
                "--until",
                "1999-01-01",
            ],
            "no orders",
        ),
        (
            [
                "recommend",
                "--recommender",
                "area-popularity",
                "--queries",
                "{q_ok}",
                "--out",
                "{tmp}/r.csv",
                "--store",
                "{store}",
                "--k",
                "0",
            ],
            "--k",
        ),
    ],
)
def test_bad_input_is_one_line(store_dir, tmp_path, capsys, args, needle):
    (tmp_path / "nocol.csv").write_text("customer_id,area\nc1,north\n")
    (tmp_path / "badtime.csv").write_text("customer_id,area,at\nc1,north,not-a-time\n")
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "ok.csv").write_text("customer_id,area,at\nc1,north,2026-02-01T12:00Z\n")
    subs = {
        "{tmp}": str(tmp_path),
        "{store}": str(store_dir),
        "{q_nocol}": str(tmp_path / "nocol.csv"),
        "{q_badtime}": str(tmp_path / "badtime.csv"),
        "{q_empty}": str(tmp_path / "empty.csv"),
        "{q_ok}": str(tmp_path / "ok.csv"),
    }
    filled = []
    for arg in args:
        for key, value in subs.items():
            arg = arg.replace(key, value)
        filled.append(arg)
    code, _, err = run(capsys, *filled)
    one_line_error(code, err, needle)


def test_dish_level_on_a_restaurant_only_store_is_one_line(tmp_path, capsys, orders):
    from foodrec.data.store import Store

    store = Store.create(tmp_path / "s")
    store.write_orders_part(orders.drop(columns="item_id"))
    code, _, err = run(capsys, "baselines", "--store", str(store.path), "--level", "dish")
    one_line_error(code, err, "item_id")
    code, _, err = run(capsys, "baselines", "--store", str(store.path), "--n-boot", "20")
    assert code == 0, err


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.one_of(
        st.text(max_size=200),
        st.lists(
            st.tuples(
                st.text(alphabet='abc1,;" ', max_size=6),
                st.one_of(st.none(), st.text(alphabet="xyz,", max_size=4)),
                st.sampled_from(["2026-02-01T12:00Z", "2026-02-01", "", "13:00", "2026-13-01", "nan", "1e9"]),
            ),
            max_size=5,
        ).map(lambda rows: "customer_id,area,at\n" + "".join(f"{c},{a or ''},{t}\n" for c, a, t in rows)),
    )
)
def test_any_queries_file_reads_or_fails_in_one_line(tmp_path, text):
    """Whatever a queries file holds, reading it gives query rows or an InputError, never another exception."""
    from foodrec.errors import InputError
    from foodrec.evaluation.command import read_queries

    path = tmp_path / "q.csv"
    path.write_text(text)
    try:
        frame = read_queries(path)
    except InputError as err:
        assert "\n" not in str(err)
    else:
        assert list(frame.columns) == ["customer_id", "area", "at"]
        assert str(frame["at"].dt.tz) == "UTC"
