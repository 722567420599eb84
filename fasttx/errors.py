"""The one error type for user mistakes: the CLI prints it on one line and exits non-zero."""


class FasttxError(Exception):
    """A problem the user can act on (bad path, bad file, bad option). Programming errors keep their own types."""
