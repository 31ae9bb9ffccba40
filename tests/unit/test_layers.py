"""Dependencies point down, and packages meet through each other's public names only.

The layers, top to bottom (docs/design.md, "Layers"): a module may import from its own package,
from any lower layer, and from other packages of its own layer; never from a higher layer. Across
packages it imports public names (``perflab.load``), never private modules (``perflab.load._run``).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "perflab"

LAYERS: list[set[str]] = [
    {"__main__", "cli", "testing"},                        # entry points
    {"web", "demo"},                                         # compose capabilities
    {"report", "top"},                                       # views of one kind of data
    {"collect", "load", "bench", "profile", "ebpf", "export",  # capabilities
     "trace", "metrics", "logs", "debug", "chaos", "incident", "netcap", "otel"},
    {"store", "serving", "_ui", "gotemplate"},               # core
    {"errors", "units", "children", "__init__"},             # foundations
]
RANK = {pkg: depth for depth, layer in enumerate(LAYERS) for pkg in layer}


def _package(path: Path) -> str:
    rel = path.relative_to(SRC).parts
    return rel[0] if len(rel) > 1 else rel[0].removesuffix(".py")


def _imports(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "perflab":
                out += [(node.lineno, f"perflab.{a.name}") for a in node.names]
            elif node.module.startswith("perflab."):
                out.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("perflab.")]
    return out


def _offences() -> list[str]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        here = _package(path)
        assert here in RANK, f"{here} has no layer: add it to LAYERS and docs/design.md"
        for line, module in _imports(path):
            parts = module.split(".")
            there = parts[1]
            if there in (here, "__version__"):
                continue
            where = f"{path.relative_to(SRC)}:{line} imports {module}"
            if there not in RANK:
                found.append(f"{where}: unknown package")
            elif RANK[there] < RANK[here]:
                found.append(f"{where}: upward")
            if any(p.startswith("_") for p in parts[2:]):
                found.append(f"{where}: another package's private module")
    return found


def test_dependencies_point_down_through_public_names():
    assert _offences() == []


def test_the_walk_sees_imports():
    """The walk finds the CLI's imports of capabilities, so an empty result means something."""
    assert any(m == "perflab.load" for _, m in _imports(SRC / "cli" / "load.py"))
