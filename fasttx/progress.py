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


def format_rate(per_second: float | None, unit: str) -> str:
    """A rate people can read at any speed: '12 img/s', '1.4 img/s', '0.37 img/s', '27 s/img' (never '0.0 /s')."""
    if not per_second:
        return f"- {unit}/s"
    if per_second >= 10:
        return f"{per_second:.0f} {unit}/s"
    if per_second >= 0.1:
        return f"{per_second:.2g} {unit}/s"
    return f"{1 / per_second:.0f} s/{unit}"


class _RateColumn(ProgressColumn):
    """Items per second of a task, in the task's `unit` field (img, frames, steps), from rich's moving estimate."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(format_rate(speed, task.fields.get("unit", "it")), style="progress.data.speed")


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
