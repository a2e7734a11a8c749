"""Commands of this workflow step (being written)."""

import typer


def register(app: typer.Typer) -> None:
    """Add this step's commands to the foodrec CLI."""
