"""`python -m fasttx ...` is the same as the `fasttx` command."""

from fasttx.cli import main

main()
