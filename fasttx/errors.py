"""The one error type for user mistakes, and the one place that turns it into a line on stderr and an exit."""

from __future__ import annotations

from typing import NoReturn


class FasttxError(Exception):
    """A problem the user can act on (bad path, bad file, bad option). Programming errors keep their own types."""


def exit_with_error(error: FasttxError, status: int = 1) -> NoReturn:
    """Print `error: ...` as one line on stderr (never wrapped, also in logs) and exit with `status`."""
    from rich.markup import escape

    from fasttx.progress import stderr_console

    stderr_console().print(f"[red]error:[/] {escape(str(error))}", highlight=False, markup=True)
    raise SystemExit(status)


def load_failure(error: Exception) -> str:
    """Why torch.load(weights_only=True) refused a file, in one line. torch's own message advises re-running with
    weights_only=False, that is, running the file's code: never passed on for a file from elsewhere."""
    text = str(error).strip()
    if "Unsupported operand" in text:  # the first byte is not a pickle opcode: text or another format
        return "not a file written by torch.save"
    if "weights_only" in text or "unpickl" in text.lower():
        return "it holds objects other than tensors and plain data, which fasttx never unpickles"
    if isinstance(error, KeyError) or len(text) < 8:  # a text or foreign file: torch reports a byte it read
        return "not a file written by torch.save"
    return text.splitlines()[0]
