"""Errors a user can fix: the CLI prints them as one line and exits with code 2.

Raise :class:`FoodrecError` (or a subclass) for anything caused by the user's input
(a missing file, a bad option, a column that is absent). Never raise it for bugs.

>>> try:
...     raise InputError("orders.csv: required column 'customer_id' is missing")
... except FoodrecError as err:
...     print(err)
orders.csv: required column 'customer_id' is missing
"""


class FoodrecError(Exception):
    """A problem the user caused and can fix; shown as one line, exit code 2."""

    exit_code = 2


class InputError(FoodrecError):
    """A bad input file, column, value or option."""


class StoreError(FoodrecError):
    """The store directory is missing, empty or inconsistent."""
