"""``perflab pprof top|peek``: pprof's text reports over any profile file or a pprof URL."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import click

from perflab.cli._common import POSITIVE_DURATION, emit_doc, json_option

if TYPE_CHECKING:
    from perflab.profile import ProfilePprofPeekDoc, ProfilePprofTopDoc, ProfilePprofTopRow, TopRow


def _load(source: str, seconds: float | None) -> Any:
    from perflab.profile import fetch, is_url, parse_profile, read_profile  # noqa: PLC0415  # lazy  # noqa: PLC0415

    if is_url(source):
        url = source
        if seconds and "/profile" in url and "seconds=" not in url:
            url += ("&" if "?" in url else "?") + f"seconds={max(1, round(seconds))}"
        return parse_profile(fetch(url, timeout=(seconds or 0) + 30), path=source)
    return read_profile(source)


def _filter_options(f: Any) -> Any:
    for opt in reversed([
        click.option("-sample_index", "--sample-index", "sample_index", default=None,
                     help="Sample type to report, by name or index (default: pprof's)."),
        click.option("-focus", "--focus", "focus", default=None,
                     help="Only samples with a frame matching this regexp."),
        click.option("-ignore", "--ignore", "ignore", default=None,
                     help="Drop samples with a frame matching this regexp."),
        click.option("-hide", "--hide", "hide", default=None,
                     help="Remove frames matching this regexp from stacks."),
        click.option("--seconds", type=POSITIVE_DURATION, default=None,
                     help="For a /debug/pprof/profile URL: how long the server samples."),
    ]):
        f = opt(f)
    return f


@click.group()
def pprof() -> None:
    """pprof's text reports (`go tool pprof -top/-peek` rules) over any profile or a URL."""


@pprof.command("top")
@click.argument("source")
@click.option("-cum", "--cum", "cum", is_flag=True, help="Sort by cumulative value.")
@click.option("-nodefraction", "--nodefraction", "node_fraction", type=float, default=0.005,
              show_default=True, help="Hide functions below this fraction of the total.")
@click.option("-nodecount", "--nodecount", "node_count", type=int, default=0,
              help="Show at most this many functions (0: all).")
@_filter_options
@json_option
def top_cmd(*, source: str, cum: bool, node_fraction: float, node_count: int,
            sample_index: str | None, focus: str | None, ignore: str | None, hide: str | None,
            seconds: float | None, as_json: bool) -> None:
    """Functions by flat (own) and cumulative cost. SOURCE: a file or http(s) URL."""
    from perflab.profile import TopOptions, top  # noqa: PLC0415

    prof = _load(source, seconds)
    report = top(prof, TopOptions(sample_index=sample_index, cum=cum,
                                  node_fraction=node_fraction, node_count=node_count,
                                  focus=focus, ignore=ignore, hide=hide))
    if as_json:
        doc: ProfilePprofTopDoc = {
            "schema": "perflab.pprof-top/1",
            "source": source, "sample_type": report.sample_type, "unit": report.unit,
            "output_unit": report.output_unit, "total": report.total, "labels": report.labels,
            "rows": [_row_json(r) for r in report.rows],
        }
        emit_doc(doc)
        return
    click.echo(report.text(), nl=False)


def _pct(text: str) -> float:
    return float(text.strip().rstrip("%"))


def _row_json(r: TopRow) -> ProfilePprofTopRow:
    return {"name": r.name, "flat": r.flat, "cum": r.cum, "flat_text": r.flat_text,
            "cum_text": r.cum_text, "flat_pct": _pct(r.flat_pct), "sum_pct": _pct(r.sum_pct),
            "cum_pct": _pct(r.cum_pct), "inline": _inline(r.inline)}


def _inline(mark: str) -> Literal["", "(inline)", "(partial-inline)"]:
    """pprof's mark of a row whose frames were inlined, all or some of them."""
    if mark == "(inline)":
        return "(inline)"
    if mark == "(partial-inline)":
        return "(partial-inline)"
    return ""


@pprof.command("peek")
@click.argument("source")
@click.argument("regex")
@_filter_options
@json_option
def peek_cmd(*, source: str, regex: str, sample_index: str | None, focus: str | None,
             ignore: str | None, hide: str | None, seconds: float | None,
             as_json: bool) -> None:
    """Callers and callees of the functions matching REGEX."""
    from perflab.profile import TopOptions, peek  # noqa: PLC0415

    prof = _load(source, seconds)
    report = peek(prof, regex, TopOptions(sample_index=sample_index, focus=focus,
                                          ignore=ignore, hide=hide))
    if as_json:
        doc: ProfilePprofPeekDoc = {
            "schema": "perflab.pprof-peek/1",
            "source": source, "sample_type": report.sample_type, "unit": report.unit,
            "output_unit": report.output_unit, "total": report.total, "labels": report.labels,
            "entries": [{
                **_row_json(e.row),
                "callers": [{"name": c.name, "value": c.value, "text": c.text,
                             "pct": _pct(c.pct), "inline": c.inline} for c in e.callers],
                "callees": [{"name": c.name, "value": c.value, "text": c.text,
                             "pct": _pct(c.pct), "inline": c.inline} for c in e.callees],
            } for e in report.entries],
        }
        emit_doc(doc)
        return
    click.echo(report.text(), nl=False)
