"""Sticky salted-hash assignment and the A/B config file."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from foodrec.errors import InputError
from foodrec.serving.ab import ABConfig, Variant, bucket, load_ab_config

CUSTOMERS = [f"c{i}" for i in range(4000)]


def split(*shares: float, salt: str = "exp-1") -> ABConfig:
    return ABConfig(salt=salt, variants=tuple(Variant(f"v{i}", "area-popularity", s) for i, s in enumerate(shares)))


def test_assignment_is_sticky_and_follows_the_shares():
    config = split(0.8, 0.2)
    first = [config.assign(c) for c in CUSTOMERS]
    assert first == [split(0.8, 0.2).assign(c) for c in CUSTOMERS]
    share = first.count("v1") / len(first)
    assert 0.17 < share < 0.23


def test_another_salt_reshuffles():
    a = [split(0.5, 0.5, salt="a").assign(c) for c in CUSTOMERS]
    b = [split(0.5, 0.5, salt="b").assign(c) for c in CUSTOMERS]
    changed = sum(x != y for x, y in zip(a, b, strict=True)) / len(a)
    assert 0.4 < changed < 0.6


def test_growing_the_treatment_only_moves_control_customers_into_it():
    before = [split(0.9, 0.1).assign(c) for c in CUSTOMERS]
    after = [split(0.7, 0.3).assign(c) for c in CUSTOMERS]
    moves = {(b, a) for b, a in zip(before, after, strict=True) if b != a}
    assert moves == {("v0", "v1")}
    assert all(a == "v1" for b, a in zip(before, after, strict=True) if b == "v1")


shares = st.lists(st.integers(0, 20), min_size=2, max_size=4).filter(lambda s: sum(s) > 0)


@given(old=shares, data=st.data(), customer=st.text(max_size=30))
def test_lowering_cumulative_thresholds_never_moves_a_customer_backwards(old, data, customer):
    # New shares whose cumulative thresholds are each <= the old ones: customers may only move to later variants.
    total = sum(old)
    old_cum = [sum(old[: i + 1]) for i in range(len(old) - 1)]
    new_cum, lower = [], 0
    for c in old_cum:
        value = data.draw(st.integers(lower, c))
        new_cum.append(value)
        lower = value
    new = [b - a for a, b in zip([0, *new_cum], [*new_cum, total], strict=True)]
    before = split(*[s / total for s in old])
    after = split(*[s / total for s in new])
    assert after.index(customer) >= before.index(customer)


@given(customer=st.text(max_size=50), salt=st.text(min_size=1, max_size=20))
def test_bucket_is_in_the_unit_interval(customer, salt):
    assert 0.0 <= bucket(salt, customer) < 1.0


def test_toml_config_with_relative_model_path(tmp_path):
    (tmp_path / "models" / "m1").mkdir(parents=True)
    path = tmp_path / "ab.toml"
    path.write_text(
        'salt = "menu-2026"\n'
        '[[variants]]\nname = "control"\nrecommender = "area-popularity"\nshare = 0.75\n'
        '[[variants]]\nname = "model"\nrecommender = "models/m1"\nshare = 0.25\n'
    )
    config = load_ab_config(path)
    assert config.salt == "menu-2026" and config.names == ("control", "model")
    assert config.variant("model").recommender == str(tmp_path / "models" / "m1")
    assert config.variant("control").recommender == "area-popularity"
    assert config.thresholds == (0.75,)


def test_json_config(tmp_path):
    path = tmp_path / "ab.json"
    path.write_text(json.dumps({"salt": "s", "variants": [{"name": "only", "recommender": "global-popularity"}]}))
    assert load_ab_config(path).assign("anyone") == "only"


def test_short_form_with_a_split_table(tmp_path):
    path = tmp_path / "ab.json"
    path.write_text(
        json.dumps(
            {
                "salt": "s",
                "variants": {"control": "customer-history", "model": "m"},
                "split": {"control": 0.7, "model": 0.3},
            }
        )
    )
    config = load_ab_config(path)
    assert config.names == ("control", "model") and config.thresholds == (0.7,)
    assert config.variant("model").recommender == "m"
    path.write_text(json.dumps({"variants": {"control": "x", "model": "m"}, "split": {"control": 1.0}}))
    with pytest.raises(InputError, match="exactly the variants"):
        load_ab_config(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('salt = "s"\n', "'variants' must be a non-empty list"),
        ('salt = "s"\n[[variants]]\nname = "a"\n', "needs 'name' and 'recommender'"),
        (
            '[[variants]]\nname = "a"\nrecommender = "x"\nshare = 0.5\n[[variants]]\nname = "b"\nrecommender = "y"\n',
            "needs a 'share'",
        ),
        (
            '[[variants]]\nname = "a"\nrecommender = "x"\nshare = 0.5\n[[variants]]\nname = "a"\nrecommender = "y"\n'
            "share = 0.5\n",
            "unique",
        ),
        (
            '[[variants]]\nname = "a"\nrecommender = "x"\nshare = 0.6\n[[variants]]\nname = "b"\nrecommender = "y"\n'
            "share = 0.6\n",
            "add up to 1",
        ),
        ('[[variants]]\nname = "a"\nrecommender = "x"\nshare = -1\n', "share must be"),
        ('[[variants]]\nname = "a b"\nrecommender = "x"\n', "variant name"),
        ('[[variants]]\nname = "a"\nrecommender = "x"\ncolour = "red"\n', "unknown key"),
        ('seed = 3\n[[variants]]\nname = "a"\nrecommender = "x"\n', "unknown key"),
        ("this is not toml ===", "not valid"),
    ],
)
def test_bad_configs_say_what_is_wrong(tmp_path, text, message):
    path = tmp_path / "ab.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        load_ab_config(path)


def test_missing_config_file(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_ab_config(tmp_path / "nope.toml")
