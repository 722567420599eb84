"""The one error type for user mistakes, and the one place that turns it into a line on stderr and an exit."""

from __future__ import annotations

from typing import NoReturn


class FasttxError(Exception):
    """A problem the user can act on (bad path, bad file, bad option). Programming errors keep their own types."""


def exit_with_error(error: FasttxError, status: int = 1) -> NoReturn:
    """Print `error: ...` as one line on stderr (never wrapped, also in logs) and exit with `status`."""
    from fasttx.progress import stderr_console

    stderr_console().print(f"[red]error:[/] {error}", highlight=False, markup=True)
    raise SystemExit(status)
