"""The shared static files and templates, and the jinja filters the templates use."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from markupsafe import Markup

from perflab.units import format_duration_ns, format_timestamp

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
TEMPLATES = HERE / "templates"


def asset(name: str, directory: Path = STATIC) -> Markup:
    """A static file's text (of ``directory``: these shared ones, or a capability's own), to
    inline in a ``<script>`` or ``<style>`` element of a page."""
    text = (directory / name).read_text(encoding="utf-8")
    # our own files; a "</script" inside a string literal would still end the element
    text = text.replace("</script", "<\\/script").replace("</style", "<\\/style")
    return Markup(text)  # noqa: S704


def _fmt_dur(ns: float | None) -> str:
    return "-" if ns is None else format_duration_ns(ns)


def _fmt_ts(ns: int | None) -> str:
    return "-" if ns is None else format_timestamp(ns)


def _fmt_num(v: float | None) -> str:
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1e4 or (0 < a < 1e-3):
        return f"{v:.4g}"
    return f"{v:.3f}".rstrip("0").rstrip(".") if a < 100 else f"{v:.1f}"


def template_filters() -> dict[str, Callable[[Any], str]]:
    """The jinja filters of the shared templates (``ts``, ``num``, ``dur``)."""
    return {"ts": _fmt_ts, "num": _fmt_num, "dur": _fmt_dur}
