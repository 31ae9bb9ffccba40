"""perflab._ui: the one JSON-in-a-script helper, and the assets the dashboard and report share."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import perflab._ui
from perflab._ui import STATIC, TEMPLATES, script_json

SRC = Path(perflab._ui.__file__).resolve().parents[1]
HOSTILE = ["<!--<script>", "</script>", "</SCRIPT ", "a\u2028b\u2029c", "<b>&amp;</b>", "]]>",
           "\x00\x07\x1b[2J", "'\"`"]


def test_public_names():
    assert sorted(perflab._ui.__all__) == ["STATIC", "TEMPLATES", "asset", "script_json",
                                           "template_filters"]


@pytest.mark.parametrize("name", HOSTILE)
def test_script_json_leaves_no_markup_and_round_trips(name):
    text = str(script_json({"name": name, "list": [name]}))
    for ch in "<>&\u2028\u2029":
        assert ch not in text
    assert json.loads(text) == {"name": name, "list": [name]}


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                    lambda kids: st.lists(kids) | st.dictionaries(st.text(), kids)))
def test_script_json_round_trips_anything(data):
    text = str(script_json(data))
    assert not any(ch in text for ch in "<>&\u2028\u2029")
    assert json.loads(text) == data


def test_script_json_refuses_nan():
    with pytest.raises(ValueError, match="JSON"):
        script_json(float("nan"))


def test_one_json_helper():
    """Nobody else escapes JSON for a script element by hand (there were five copies)."""
    offenders = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
                 if p.parent.name != "_ui" and '"<\\\\/"' in p.read_text(encoding="utf-8")]
    assert offenders == []


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_ui_imports_neither_web_nor_report():
    for path in (SRC / "_ui").rglob("*.py"):
        assert not {m for m in _imports(path)
                    if m.startswith(("perflab.web", "perflab.report"))}, path


def test_report_reads_no_web_file_and_web_no_report_template():
    render = (SRC / "report" / "_render.py").read_text(encoding="utf-8")
    assert '"web"' not in render
    assert not {m for p in (SRC / "web").rglob("*.py") for m in _imports(p)
                if m == "perflab.report._render"}
    app = (SRC / "web" / "_app.py").read_text(encoding="utf-8")
    assert "TEMPLATES as REPORT" not in app


def test_shared_assets_are_in_ui():
    for name in ("perflab.js", "app.css", "load.js", "vendor/uPlot.iife.min.js",
                 "vendor/uPlot.min.css", "vendor/uPlot.LICENSE", "vendor/README.md"):
        assert (STATIC / name).is_file(), name
    for name in ("section_overview.html", "section_events.html", "section_load.html"):
        assert (TEMPLATES / name).is_file(), name
