"""Sticky A/B assignment: a salted hash puts each customer in a bucket in [0, 1), split by cumulative shares.

The config file (TOML or JSON) names the salt and the variants in order, each with a recommender (a
baseline name or a saved model directory) and a share of customers::

    salt = "menu-test-2026-03"
    [[variants]]
    name = "control"
    recommender = "area-popularity"
    share = 0.9
    [[variants]]
    name = "model"
    recommender = "runs/demo/model"
    share = 0.1

With ``interleave = ["history", "model"]`` (two of the variants) the file asks for an interleaving
experiment instead: every customer gets one list merged from both variants' rankings by team draft, each item
credited to the variant that contributed it (:mod:`foodrec.serving.interleave`); responses and events then carry
the variant ``interleaved``. The shares still have to add up to 1, but nobody is split by them.

Variant ``i`` owns the buckets between the cumulative shares of the variants before it and up to it.
A customer's bucket never changes (same salt), so assignment is sticky across requests and restarts.
Moving the boundaries towards the first variant (growing the later ones) only moves customers to later
variants; nobody else is reshuffled. A new salt starts a fresh experiment.

>>> config = ABConfig(salt="s", variants=(Variant("control", "area-popularity", 0.5), Variant("model", "m", 0.5)))
>>> config.assign("c1") == config.assign("c1")
True
>>> config.assign("c1") == ("control" if bucket("s", "c1") < 0.5 else "model")
True
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tomllib
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foodrec.errors import InputError

DEFAULT_SALT = "foodrec"
INTERLEAVED = "interleaved"  # the variant recorded on responses and events of an interleaving experiment
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def bucket(salt: str, customer_id: str) -> float:
    """The customer's position in [0, 1): the first 64 bits of SHA-256(salt, customer id) as a fraction.

    >>> 0.0 <= bucket("salt", "c1") < 1.0
    True
    """
    digest = hashlib.sha256(f"{salt}\x1f{customer_id}".encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


@dataclass(frozen=True)
class Variant:
    """One arm: a name recorded on responses and events, the recommender serving it, its share of customers."""

    name: str
    recommender: str
    share: float = 1.0


@dataclass(frozen=True)
class ABConfig:
    """Salt and ordered variants; :meth:`assign` maps a customer id to a variant name."""

    salt: str
    variants: tuple[Variant, ...]
    source: Path | None = None
    # Two variant names: every customer gets their team-draft interleaving (foodrec.serving.interleave).
    interleave: tuple[str, ...] = ()
    _thresholds: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        where = f"{self.source}: " if self.source else ""
        if not self.variants:
            raise InputError(f"{where}an A/B config needs at least one variant")
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise InputError(f"{where}variant names must be unique, got {names}")
        for v in self.variants:
            if not v.name or not set(v.name) <= _NAME_CHARS or len(v.name) > 64:
                raise InputError(f"{where}variant name {v.name!r}: use 1-64 letters, digits, '-', '_' or '.'")
            if not v.recommender:
                raise InputError(f"{where}variant {v.name!r} has no recommender")
            if not (isinstance(v.share, int | float) and math.isfinite(v.share) and v.share >= 0):
                raise InputError(f"{where}variant {v.name!r}: share must be a number >= 0, got {v.share!r}")
        total = sum(v.share for v in self.variants)
        if total <= 0:
            raise InputError(f"{where}the variants' shares add up to 0; give at least one a positive share")
        if abs(total - 1.0) > 1e-6:
            raise InputError(f"{where}the variants' shares must add up to 1, got {total:g}")
        if self.interleave:
            if len(self.interleave) != 2 or len(set(self.interleave)) != 2:
                raise InputError(
                    f"{where}interleaving compares exactly two different variants, got {list(self.interleave)}"
                )
            for name in self.interleave:
                if name not in names:
                    raise InputError(f"{where}interleave: unknown variant {name!r}; the variants are {names}")
            if INTERLEAVED in names:
                raise InputError(f"{where}the variant name {INTERLEAVED!r} is reserved for the interleaved list")
        cumulative, acc = [], 0.0
        for v in self.variants[:-1]:
            acc += v.share
            cumulative.append(acc)
        object.__setattr__(self, "_thresholds", tuple(cumulative))

    @classmethod
    def single(cls, recommender: str, name: str = "default") -> ABConfig:
        """Everyone gets one recommender (no experiment)."""
        return cls(salt=DEFAULT_SALT, variants=(Variant(name, recommender, 1.0),))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.variants)

    @property
    def thresholds(self) -> tuple[float, ...]:
        """Cumulative shares that end each variant's range except the last's (which ends at 1)."""
        return self._thresholds

    def index(self, customer_id: str) -> int:
        """Position of the customer's variant in :attr:`variants`."""
        if len(self.variants) == 1:  # one arm: everybody's (no hash to compute per request)
            return 0
        return bisect_right(self._thresholds, bucket(self.salt, customer_id))

    def assign(self, customer_id: str) -> str:
        """The variant name for a customer; the same answer every time for the same salt and split."""
        return self.variants[self.index(customer_id)].name

    def variant(self, name: str) -> Variant:
        for v in self.variants:
            if v.name == name:
                return v
        raise InputError(f"unknown variant {name!r}: choose one of {', '.join(self.names)}")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "salt": self.salt,
            "variants": [{"name": v.name, "recommender": v.recommender, "share": v.share} for v in self.variants],
        }
        if self.interleave:
            out["interleave"] = list(self.interleave)
        return out


def _entries_from_mapping(file: Path, variants: dict[str, Any], split: Any) -> list[dict[str, Any]]:
    """The short form ``{"variants": {name: recommender}, "split": {name: share}}`` as a list of entries."""
    if split is None:
        if len(variants) != 1:
            raise InputError(f"{file}: with 'variants' as a table, give 'split' (variant -> share)")
        split = dict.fromkeys(variants, 1.0)
    if not isinstance(split, dict) or set(split) != set(variants):
        raise InputError(f"{file}: 'split' must give a share for exactly the variants {', '.join(variants)}")
    return [{"name": name, "recommender": rec, "share": split[name]} for name, rec in variants.items()]


def load_ab_config(path: str | os.PathLike[str]) -> ABConfig:
    """Read an A/B config from a ``.toml`` or ``.json`` file (see the module docstring for the format).

    A short form is accepted too: ``{"salt": "s", "variants": {"control": "customer-history", "model": "m"},
    "split": {"control": 0.5, "model": 0.5}}`` (variants in the order written). Relative model paths are
    resolved against the config file's folder when they exist there.
    """
    file = Path(path)
    if not file.is_file():
        raise InputError(f"A/B config {str(path)!r} does not exist")
    try:
        text = file.read_text(encoding="utf-8")
        raw = json.loads(text) if file.suffix.lower() == ".json" else tomllib.loads(text)
    except (ValueError, UnicodeDecodeError) as err:
        raise InputError(f"A/B config {str(path)!r} is not valid {file.suffix.lstrip('.') or 'TOML'}: {err}") from err
    if not isinstance(raw, dict):
        raise InputError(f"{file}: expected a table with 'salt' and 'variants'")
    unknown = set(raw) - {"salt", "variants", "split", "interleave"}
    if unknown:
        raise InputError(f"{file}: unknown key(s) {', '.join(sorted(unknown))}; expected 'salt' and 'variants'")
    interleave = raw.get("interleave", [])
    if not isinstance(interleave, list) or not all(isinstance(n, str) for n in interleave):
        raise InputError(f"{file}: 'interleave' must be a list of two variant names, e.g. ['history', 'model']")
    salt = raw.get("salt", DEFAULT_SALT)
    if not isinstance(salt, str) or not salt:
        raise InputError(f"{file}: 'salt' must be a non-empty string")
    entries = raw.get("variants")
    if isinstance(entries, dict):
        entries = _entries_from_mapping(file, entries, raw.get("split"))
    elif "split" in raw:
        raise InputError(f"{file}: 'split' goes with 'variants' as a name -> recommender table; else give each a share")
    if not isinstance(entries, list) or not entries:
        raise InputError(f"{file}: 'variants' must be a non-empty list of {{name, recommender, share}}")
    variants = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not {"name", "recommender"} <= set(entry):
            raise InputError(f"{file}: variant #{i + 1} needs 'name' and 'recommender' (and 'share')")
        extra = set(entry) - {"name", "recommender", "share"}
        if extra:
            raise InputError(f"{file}: variant #{i + 1} has unknown key(s) {', '.join(sorted(extra))}")
        recommender = str(entry["recommender"])
        local = file.parent / recommender
        if not Path(recommender).is_absolute() and local.is_dir():
            recommender = str(local)
        share = entry.get("share", 1.0 if len(entries) == 1 else None)
        if share is None:
            raise InputError(f"{file}: variant {entry['name']!r} needs a 'share'")
        if isinstance(share, bool) or not isinstance(share, int | float):
            raise InputError(f"{file}: variant {entry['name']!r}: share must be a number, got {share!r}")
        variants.append(Variant(str(entry["name"]), recommender, float(share)))
    return ABConfig(salt=salt, variants=tuple(variants), source=file, interleave=tuple(interleave))
