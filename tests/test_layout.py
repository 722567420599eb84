"""The package's shape: imports run one way (no cycles, lazy ones included), the light modules stay light, the
docs show no missing picture."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fasttx"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """Every fasttx module and the fasttx modules it imports anywhere (module level or inside functions)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fasttx"):
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.startswith("fasttx")]
            found |= {t for t in targets if t in modules and t != name}
        graph[name] = found - {"fasttx"}  # the package's own __init__ is imported by every module
    return graph


def test_no_module_imports_in_a_circle() -> None:
    graph = imports()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize(
    ("module", "absent"),
    [
        ("fasttx.cli", "torch"),  # --help stays fast
        ("fasttx.config", "torch"),  # the recipe is plain data
        ("fasttx.io", "fasttx.nets.transformer"),  # file plumbing knows no network
        ("fasttx.train", "onnxruntime"),  # training loads the exporter only when it exports
    ],
)
def test_light_modules_stay_light(module: str, absent: str) -> None:
    code = f"import sys, {module}; assert {absent!r} not in sys.modules, '{module} loads {absent}'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_file_the_docs_show_or_link_exists() -> None:
    root = Path(__file__).resolve().parents[1]
    for page in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):  # pictures, sound examples, other pages
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue  # a web address or a heading of the same page
            assert (page.parent / target.split("#")[0]).exists(), f"{page.name} links {target}, which is not there"
