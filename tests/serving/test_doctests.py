"""The usage examples in the serving modules' docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["ab", "batching", "contract", "events", "fallback", "metrics", "schemas"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"foodrec.serving.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
