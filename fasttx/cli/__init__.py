"""The `fasttx` command line: one module per command group; each parses options, calls the package and prints.

User mistakes (FasttxError) print one line and exit with status 1; Ctrl-C exits with 130, SIGTERM with 143.
"""

from __future__ import annotations

import signal
import sys
import warnings
from typing import Annotated

import typer
from rich.markup import escape

from fasttx import __version__
from fasttx.cli import datasets, measure, ship, stylize, train  # noqa: F401  (each registers its commands)
from fasttx.cli.common import app, err
from fasttx.errors import FasttxError, exit_with_error

# `fasttx --help` lists the commands in the order a user meets them
ORDER = [
    "train",
    "resume",
    "add-style",
    "distill",
    "stylize",
    "webcam",
    "export",
    "web",
    "info",
    "evaluate",
    "optimize",
]
app.registered_commands.sort(
    key=lambda c: (ORDER + [c.name or c.callback.__name__]).index(c.name or c.callback.__name__)
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fasttx {__version__}")
        raise typer.Exit()


@app.callback()
@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Fast feed-forward style transfer.

    Typical use: [bold]fasttx train --style painting.jpg --dataset photos/[/] then
    [bold]fasttx stylize --model models/painting/model.pth photo.jpg -o out.jpg[/].
    """


def main() -> None:
    """Console entry point: user mistakes become one red line and exit status 1, a mistyped command line one line
    and 2 (click's convention); Ctrl-C exits with 130, SIGTERM (schedulers, `timeout`, container stops) with 143,
    both after the half-written outputs are removed (training handles both itself: it checkpoints first)."""
    signal.signal(signal.SIGTERM, _terminated)
    previous, warnings.showwarning = warnings.showwarning, _warning
    try:
        status = app(standalone_mode=False)
    except FasttxError as e:
        exit_with_error(e)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]")
        sys.exit(130)
    except Exception as e:
        # click's UsageError (typer >= 0.24 vendors click: matched by name, not class), else a real bug
        kinds = {cls.__name__ for cls in type(e).__mro__}
        if "NoArgsIsHelpError" in kinds:
            typer.echo(e.ctx.get_help() if e.ctx else "")  # type: ignore[attr-defined]
            sys.exit(0)
        if "UsageError" in kinds:
            command = e.ctx.command_path if e.ctx else "fasttx"  # type: ignore[attr-defined]
            exit_with_error(FasttxError(f"{e.format_message()} (see {command} --help)"), status=2)  # type: ignore[attr-defined]
        if "Abort" in kinds:  # Ctrl-C at a prompt
            sys.exit(130)
        raise
    finally:
        warnings.showwarning = previous
    sys.exit(status if isinstance(status, int) else 0)


def _warning(message: Warning | str, category: type[Warning], *args: object, **kwargs: object) -> None:
    # one line, like errors: not Python's "file:line: UserWarning:" and the source line under it
    err.print(f"[yellow]warning:[/] {escape(str(message))}", highlight=False)


def _terminated(signum: int, frame: object) -> None:
    # an exception, unlike the default action, unwinds through atomic_write, which deletes its temp file
    err.print("[yellow]terminated[/]")
    raise SystemExit(128 + signum)
