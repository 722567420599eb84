"""`fasttx datasets`: download training photo datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fasttx.cli.common import app, err

datasets_app = typer.Typer(help="Download training photo datasets.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")


@datasets_app.command("coco2014")
def coco2014(
    directory: Annotated[Path, typer.Option("--dir", help="Where to put the zip and the train2014/ photos.")] = Path(
        "datasets/coco"
    ),
    keep_zip: Annotated[bool, typer.Option(help="Keep the 13.5 GB zip after unpacking.")] = True,
) -> None:
    """Download and unpack COCO 2014 train (~83k photos, 13.5 GB); rerun to resume a broken download."""
    from fasttx.coco import COCO2014_TRAIN, download_and_extract

    folder = download_and_extract(COCO2014_TRAIN, directory, progress=True, keep_zip=keep_zip)
    err.print(f"[green]ready[/]: train with --dataset {folder}")
