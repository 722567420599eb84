"""The visual side of `fasttx evaluate --report DIR`: an offline HTML page and the same grid as one PNG.

One row per photo: content | model output | Gatys output (when computed) | style, each with its content and
style distances. The page links the PNGs that `evaluate_model(image_dir=...)` saved, by relative paths, so the
folder can be zipped, moved or opened from disk with no server; the contact sheet is for places that show a
single image (chat, issue trackers).
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from PIL import Image, ImageDraw, ImageFont, ImageOps

from fasttx.config import without_folders
from fasttx.evaluate import KINDS, Distances, EvaluationReport, PhotoRow
from fasttx.io import atomic_write, save_image

THUMB = 192  # contact-sheet cell, pixels
_LABEL_H = 30  # two lines of PIL's default font under each cell
_HEADER_H = 20
_PAD = 6
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: center; vertical-align: top; }
caption { text-align: left; font-weight: bold; padding: 4px 0; }
img { width: 256px; height: 256px; object-fit: contain; display: block; }
code { background: #f3f3f3; padding: 0 3px; }
"""


@dataclass
class ReportFiles:
    html: Path
    contact_sheet: Path


def write_report(report: EvaluationReport, directory: str | os.PathLike[str]) -> ReportFiles:
    """Write `index.html` and `contact_sheet.png` into `directory`, from a report whose images were saved."""
    directory = Path(directory)
    if report.style_image is None or any(not row.images for row in report.rows):
        raise ValueError("write_report needs an EvaluationReport made with evaluate_model(image_dir=...)")
    page = directory / "index.html"
    with atomic_write(page) as tmp:
        tmp.write_text(_html(report, directory), encoding="utf-8")
    sheet = save_image(contact_sheet(report), directory / "contact_sheet.png")
    return ReportFiles(page, sheet)


def _columns(report: EvaluationReport) -> list[tuple[str, str]]:
    """(kind, heading) per column; kind "style" is the style image."""
    names = {"photo": "content", "model": "model output", "gatys": f"Gatys output ({report.vs_optimize} steps)"}
    kinds = [k for k in KINDS if report.rows and k in report.rows[0].scores]
    return [(k, names[k]) for k in kinds] + [("style", "style")]


def _numbers(d: Distances) -> tuple[str, str]:
    return f"content {d.content:.3f}", f"style {d.style:.3f}"


def _cell_image(report: EvaluationReport, row: PhotoRow, kind: str) -> str:
    return report.style_image if kind == "style" else row.images[kind]  # type: ignore[return-value]


def _html(report: EvaluationReport, directory: Path) -> str:
    esc = html.escape
    columns = _columns(report)

    def src(path: str) -> str:
        return quote(Path(os.path.relpath(Path(path).resolve(), directory.resolve())).as_posix())

    averages = report.means
    means = "".join(
        f"<tr><th>{esc('unstyled photo (baseline)' if kind == 'photo' else heading)}</th>"
        f"<td>{averages[kind].content:.4f}</td><td>{averages[kind].style:.4f}</td></tr>"
        for kind, heading in columns
        if kind in averages
    )
    title = f"{Path(report.model).name} · {Path(report.style).name}"
    photo_style = averages["photo"].style if "photo" in averages else None
    model_style = averages["model"].style if "model" in averages else None
    share = f" ({model_style / photo_style:.0%} of the unstyled photos')" if photo_style and model_style else ""
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>fasttx evaluation: {esc(title)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
    ]
    if report.skipped:
        parts.append(f"<p>Unreadable photos skipped: {esc(', '.join(Path(p).name for p in report.skipped))}</p>")
    for row in report.rows:  # the pictures first
        heads = "".join(f"<th>{esc(heading)}</th>" for _, heading in columns)
        images = "".join(
            f'<td><img src="{src(_cell_image(report, row, kind))}" alt="{esc(heading)}"></td>'
            for kind, heading in columns
        )
        numbers = "".join(
            "<td>" + "<br>".join(_numbers(row.scores[kind])) + "</td>" if kind in row.scores else "<td></td>"
            for kind, _ in columns
        )
        parts.append(
            f"<table><caption>{esc(Path(row.photo).name)} ({row.width}×{row.height})</caption>"
            f"<tr>{heads}</tr><tr>{images}</tr><tr>{numbers}</tr></table>"
        )
    parts += [
        f"<table><caption>Means over {len(report.rows)} photos</caption>",
        f"<tr><th></th><th>content distance</th><th>style distance</th></tr>{means}</table>",
        "<p>The <b>content distance</b> is how far the output's VGG features moved from the photo's (0: the photo "
        "itself); the <b>style distance</b> is how far its texture statistics (Gram matrices) are from the "
        f"painting's, lower is closer{esc(share)}. Both are relative errors, 0 a perfect match.</p>",
        f"<p>Photos at a long side of {report.size} px, the style at {report.style_size} px; VGG weights: "
        f"{esc(without_folders(report.vgg))}.</p>",
    ]
    parts.append("</body></html>\n")
    return "\n".join(parts)


def contact_sheet(report: EvaluationReport) -> Image.Image:
    """The report's grid as one image: a header row, then per photo its thumbnails with the distances below."""
    columns = _columns(report)
    font = ImageFont.load_default()
    cell_w, cell_h = THUMB + 2 * _PAD, THUMB + _LABEL_H + 2 * _PAD
    sheet = Image.new("RGB", (cell_w * len(columns), _HEADER_H + cell_h * len(report.rows)), "white")
    draw = ImageDraw.Draw(sheet)
    for col, (_, heading) in enumerate(columns):
        draw.text((col * cell_w + _PAD, 4), heading, fill="black", font=font)
    for r, row in enumerate(report.rows):
        top = _HEADER_H + r * cell_h
        for col, (kind, _) in enumerate(columns):
            left = col * cell_w + _PAD
            with Image.open(_cell_image(report, row, kind)) as img:
                thumb = thumbnail(img)
            below = top + _PAD + (THUMB + thumb.height) // 2  # the labels sit right under the picture
            sheet.paste(thumb, (left + (THUMB - thumb.width) // 2, below - thumb.height))
            lines = ["  ".join(_numbers(row.scores[kind]))] if kind in row.scores else []
            if kind == "photo":
                lines.append(Path(row.photo).name[:32])
            for i, line in enumerate(lines):
                draw.text((left, below + 2 + i * _LABEL_H // 2), line, fill="black", font=font)
    return sheet


def contact_sheet_cell(sheet: Image.Image, row: int, column: int) -> Image.Image:
    """The THUMB x THUMB picture at `row`, `column` of a contact sheet, without its labels (for figures)."""
    cell_w, cell_h = THUMB + 2 * _PAD, THUMB + _LABEL_H + 2 * _PAD
    left, top = column * cell_w + _PAD, _HEADER_H + row * cell_h + _PAD
    return sheet.crop((left, top, left + THUMB, top + THUMB))


def thumbnail(img: Image.Image) -> Image.Image:
    """Scaled (up or down) to fit a THUMB x THUMB cell, so every column reads at the same size (also bench figures)."""
    return ImageOps.contain(img.convert("RGB"), (THUMB, THUMB), Image.Resampling.LANCZOS)
