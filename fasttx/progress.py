"""What people watch on stderr (stdout stays free for --json): the one console and the one progress display of
every long loop (training, stylizing, downloads, optimisation, evaluation)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text


def stderr_console() -> Console:
    """The console for messages: stderr, and no wrapping (a message stays one line in logs, not cut at 80 columns)."""
    return Console(stderr=True, soft_wrap=True)


class _RateColumn(ProgressColumn):
    """Items per second of a task, in the task's `unit` field (img, frames, steps), from rich's moving estimate."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        unit = task.fields.get("unit", "it")
        return Text(f"{speed:.1f} {unit}/s" if speed else f"- {unit}/s", style="progress.data.speed")


class _MetricsColumn(ProgressColumn):
    """Whatever the loop reports beside the count (a task's `metrics` field: losses, the current photo)."""

    def render(self, task: Task) -> Text:
        return Text(str(task.fields.get("metrics", "")))


def progress_bar(console: Console | None = None, enabled: bool = True, bytes_: bool = False) -> Progress:
    """Description, bar, done/total, rate, the task's `metrics`, elapsed and remaining time; with `bytes_`, sizes
    and transfer speed instead of counts (downloads, unpacking)."""
    counts: list[ProgressColumn] = (
        [DownloadColumn(), TransferSpeedColumn()] if bytes_ else [MofNCompleteColumn(), _RateColumn(), _MetricsColumn()]
    )
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        *counts,
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console or stderr_console(),
        disable=not enabled,
    )
