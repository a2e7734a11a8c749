"""The ``foodrec`` command: one sub-command per workflow step, plus ``demo``.

Each step's module owns its commands and exposes ``register(app)``; this file only assembles them and
turns user errors into one line on stderr with exit code 2. Heavy libraries (TensorFlow, Keras) are
imported inside the commands that need them, so ``foodrec --help`` stays fast.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer
from typer import exceptions as typer_exc
from typer._click import exceptions as click_exc  # typer >= 0.2x vendors click; version pinned

from foodrec.errors import FoodrecError
from foodrec.quiet import quiet_tensorflow

# Order = the workflow; each module defines register(app).
COMMAND_MODULES = (
    "foodrec.data.generate_command",
    "foodrec.data.ingest_command",
    "foodrec.explore.command",
    "foodrec.evaluation.command",
    "foodrec.recommenders.command",
    "foodrec.serving.command",
    "foodrec.experiments.command",
    "foodrec.monitoring.command",
    "foodrec.reports.command",
    "foodrec.pipeline",
    "foodrec.workflow",
)

app = typer.Typer(
    name="foodrec",
    help="Recommend what a food-delivery customer will order now: the whole ML workflow on an order log.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _show_version(value: bool) -> None:
    if value:
        from foodrec import __version__

        typer.echo(f"foodrec {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", callback=_show_version, is_eager=True
    ),
) -> None:
    """Recommend what a food-delivery customer will order now: the whole ML workflow on an order log."""


for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI; user errors become ``error: ...`` on one line and exit code 2."""
    quiet_tensorflow()  # before any command imports TensorFlow: no start-up lines unless FOODREC_DEBUG=1
    try:
        result = app(args=argv, standalone_mode=False)
    except FoodrecError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except click_exc.NoArgsIsHelpError:
        return 0
    except click_exc.UsageError as err:
        hint = f" (see `foodrec {err.ctx.info_name if err.ctx and err.ctx.parent else ''} --help`)".replace("  ", " ")
        print(f"error: {err.format_message()}{hint}", file=sys.stderr)
        return 2
    except typer_exc.Exit as err:
        return err.exit_code
    except typer_exc.Abort:
        print("aborted", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # a bug, not a user error: say so in one line unless debugging
        if os.environ.get("FOODREC_DEBUG"):
            raise
        print(f"internal error: {type(err).__name__}: {err} (set FOODREC_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1
    return result if isinstance(result, int) else 0


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
