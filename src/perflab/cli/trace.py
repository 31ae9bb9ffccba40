"""``perflab trace ls|show|critical-path|diff|coverage``: the spans in the store, on the
command line (what the Traces, Trace and Services pages show; the same documents with --json)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, TypeVar

import click

from perflab.cli._common import emit_doc, json_option, open_store, parse_labels, store_option
from perflab.errors import InvalidValue, NotFound
from perflab.units import format_duration_ns, format_timestamp, parse_duration_ns, printable

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from perflab.load import LoadResult, LoadTracingDoc
    from perflab.store import Store
    from perflab.trace import (
        TraceCoverageDoc,
        TraceCriticalPathDoc,
        TraceCriticalPathOperation,
        TraceDiffDoc,
        TraceLsDoc,
        TraceQuery,
        TraceShowDoc,
    )

_Doc = TypeVar("_Doc")


@click.group("trace")
def trace() -> None:
    """Distributed traces received by `perflab serve` (OTLP, Zipkin): search, show, critical
    path, diff, coverage."""


def _view(fn: Callable[[], _Doc]) -> _Doc:
    from perflab.trace import ViewError  # noqa: PLC0415

    try:
        return fn()
    except ViewError as exc:
        if exc.status == 404:
            raise NotFound(exc.message, hint="list traces with `perflab trace ls`") from None
        raise InvalidValue(exc.message) from None


def _duration(text: str | None, option: str) -> int | None:
    if not text:
        return None
    try:
        return parse_duration_ns(text)
    except InvalidValue as exc:
        raise InvalidValue(f"{option}: {exc.message}", hint=exc.hint) from None


def _when(text: str | None, option: str) -> int | None:
    if not text:
        return None
    from perflab.units import parse_time_ns  # noqa: PLC0415

    try:
        return parse_time_ns(text)
    except ValueError:
        pass
    try:
        return time.time_ns() - parse_duration_ns(text)
    except InvalidValue:
        raise InvalidValue(f"invalid {option} {text!r}",
                           hint="an ISO time (2026-12-03T10:00) or a duration ago (15m)"
                           ) from None


def _query(  # noqa: PLR0917  # the search options, in their order
        service: str | None, operation: str | None, tags: tuple[str, ...],
        min_duration: str | None, max_duration: str | None, since: str | None,
        until: str | None, limit: int) -> TraceQuery:
    from perflab.trace import TraceQuery  # noqa: PLC0415

    return TraceQuery(service=service, operation=operation, tags=parse_labels(tags, "--tag"),
                      start_ns=_when(since, "--since"), end_ns=_when(until, "--until"),
                      min_duration_ns=_duration(min_duration, "--min-duration"),
                      max_duration_ns=_duration(max_duration, "--max-duration"), limit=limit)


def _trace_id(text: str) -> bytes:
    from perflab.trace import parse_hex_id  # noqa: PLC0415

    tid = parse_hex_id(text, 16)
    if tid is None:
        raise InvalidValue(f"invalid trace id {text[:60]!r}",
                           hint="a trace id is up to 32 hex digits, as `perflab trace ls` "
                                "prints it")
    return tid


def search_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed([
        click.option("--service", default=None, help="Spans of this service."),
        click.option("--operation", default=None, help="Spans of this operation (span name)."),
        click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE",
                     help="An attribute the span has (repeatable); error=true for errors."),
        click.option("--min-duration", default=None, metavar="DURATION",
                     help="The span took at least this long (100ms)."),
        click.option("--max-duration", default=None, metavar="DURATION"),
        click.option("--since", default=None, metavar="TIME",
                     help="The span started after this (ISO time, or 1h ago)."),
        click.option("--until", default=None, metavar="TIME"),
    ]):
        f = option(f)
    return f


@trace.command("ls")
@search_options
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@store_option
@json_option
def ls(*, service: str | None, operation: str | None, tags: tuple[str, ...],
       min_duration: str | None, max_duration: str | None, since: str | None,
       until: str | None, limit: int, store_path: str | None, as_json: bool) -> None:
    """Traces with a span matching every condition, newest first."""
    from perflab.trace import search_document  # noqa: PLC0415

    query = _query(service, operation, tags, min_duration, max_duration, since, until, limit)
    store = open_store(store_path, create=False)
    with store:
        doc = _view(lambda: search_document(store, query))
    if as_json:
        ls_doc: TraceLsDoc = {"schema": "perflab.trace-ls/1", **doc}
        emit_doc(ls_doc)
        return
    if not doc["traces"]:
        click.echo("no traces match")
        return
    click.echo(f"{'trace id':32}  {'started (UTC)':23}  {'duration':>10}  {'spans':>6}  "
               f"{'errors':>6}  root")
    for t in doc["traces"]:
        click.echo(f"{t['trace_id']:32}  {format_timestamp(t['start_ns']):23}  "
                   f"{format_duration_ns(t['duration_ns']):>10}  {t['spans']:>6}  "
                   f"{t['errors']:>6}  {printable(t['root_service'])}: "
                   f"{printable(t['root_name'])}" + ("  (broken)" if t["broken"] else ""))


@trace.command("show")
@click.argument("trace_id")
@click.option("--limit", type=click.IntRange(1, 200_000), default=20_000, show_default=True,
              help="Read at most this many spans of the trace.")
@store_option
@json_option
def show(*, trace_id: str, limit: int, store_path: str | None, as_json: bool) -> None:
    """A trace as a tree: each span's service, operation, offset, duration, and its share of
    the critical path (*)."""
    from perflab.trace import trace_document  # noqa: PLC0415

    tid = _trace_id(trace_id)
    store = open_store(store_path, create=False)
    with store:
        doc = _view(lambda: trace_document(store, tid, limit=limit))
    if as_json:
        show_doc: TraceShowDoc = {"schema": "perflab.trace-show/1", **doc}
        emit_doc(show_doc)
        return
    t = doc["trace"]
    click.echo(f"trace {t['trace_id']}: {format_duration_ns(t['duration_ns'])}, "
               f"{t['spans']} spans, {t['errors']} errors, services "
               f"{', '.join(printable(s) for s in t['services'])}")
    for w in doc["warnings"]:
        click.echo(f"warning: {w}")
    for line in _tree_lines(doc["spans"], t["start_ns"]):
        click.echo(line)


def _tree_lines(spans: Sequence[Mapping[str, Any]], t0: int) -> list[str]:
    ids = {s["span_id"] for s in spans}
    children: dict[str | None, list[Mapping[str, Any]]] = {}
    for s in spans:
        parent = s["parent_id"] if s["parent_id"] in ids else None
        children.setdefault(parent, []).append(s)
    lines: list[str] = []
    stack = [(s, 0) for s in reversed(children.get(None, []))]
    while stack:
        s, depth = stack.pop()
        mark = "*" if s["critical_ns"] else " "
        err = "  ERROR" if s["status"] == "error" else ""
        lines.append(f"{mark} {'  ' * depth}{printable(s['service'])}: {printable(s['name'])}"
                     f"  +{format_duration_ns(s['start_ns'] - t0)}"
                     f"  {format_duration_ns(s['duration_ns'])}{err}")
        stack.extend((c, depth + 1) for c in reversed(children.get(s["span_id"], [])))
    return lines


@trace.command("critical-path")
@click.argument("trace_id")
@store_option
@json_option
def critical_path_cmd(*, trace_id: str, store_path: str | None, as_json: bool) -> None:
    """The chain of spans that determines the trace's latency (Jaeger's algorithm), and each
    operation's share of it."""
    from perflab.trace import trace_document  # noqa: PLC0415

    tid = _trace_id(trace_id)
    store = open_store(store_path, create=False)
    with store:
        doc = _view(lambda: trace_document(store, tid))
    spans = {s["span_id"]: s for s in doc["spans"]}
    total = sum(sec["end_ns"] - sec["start_ns"] for sec in doc["critical_path"])
    by_op: dict[tuple[str, str], int] = {}
    for sec in doc["critical_path"]:
        s = spans[sec["span_id"]]
        key = (s["service"], s["name"])
        by_op[key] = by_op.get(key, 0) + sec["end_ns"] - sec["start_ns"]
    ops: list[TraceCriticalPathOperation] = [
        {"service": k[0], "operation": k[1], "critical_ns": v,
         "share": v / total if total else 0.0}
        for k, v in sorted(by_op.items(), key=lambda kv: -kv[1])]
    if as_json:
        path_doc: TraceCriticalPathDoc = {
            "schema": "perflab.trace-critical-path/1", "trace_id": doc["trace"]["trace_id"],
            "duration_ns": doc["trace"]["duration_ns"], "sections": doc["critical_path"],
            "operations": ops}
        emit_doc(path_doc)
        return
    click.echo(f"critical path of {doc['trace']['trace_id']} "
               f"({format_duration_ns(total)}), by operation:")
    for o in ops:
        click.echo(f"  {o['share'] * 100:5.1f}%  {format_duration_ns(o['critical_ns']):>10}  "
                   f"{printable(o['service'])}: {printable(o['operation'])}")


@trace.command("diff")
@click.argument("traces", nargs=-1)
@search_options
@click.option("--slowest", is_flag=True,
              help="Compare the operation's slowest traces with those around its median.")
@click.option("--slowest-pct", type=click.FloatRange(0, 50, min_open=True), default=1.0,
              show_default=True, help="How slow: the slowest this many percent.")
@click.option("--run-a", type=int, default=None, help="The operation's traces in this run ...")
@click.option("--run-b", type=int, default=None, help="... against those in this run.")
@store_option
@json_option
def diff(*, traces: tuple[str, ...], service: str | None, operation: str | None,
         tags: tuple[str, ...], min_duration: str | None, max_duration: str | None,
         since: str | None, until: str | None, slowest: bool, slowest_pct: float,
         run_a: int | None,
         run_b: int | None, store_path: str | None, as_json: bool) -> None:
    """Which operations account for the latency difference of two traces (TRACE_A TRACE_B),
    or of two groups (--slowest, or --run-a/--run-b), by their share of the critical path."""
    from perflab.trace import diff_document  # noqa: PLC0415

    params: dict[str, str] = {}
    if traces:
        if len(traces) != 2:
            raise InvalidValue("give two trace ids, or a group comparison",
                               hint="perflab trace diff TRACE_A TRACE_B, or --service S "
                                    "--operation O --slowest")
        params = {"a": traces[0], "b": traces[1]}
        for raw in traces:
            _trace_id(raw)
    elif run_a is not None or run_b is not None:
        if run_a is None or run_b is None:
            raise InvalidValue("give both --run-a and --run-b")
        params = {"a_run": str(run_a), "b_run": str(run_b)}
    elif not slowest:
        raise InvalidValue("nothing to compare",
                           hint="two trace ids, --slowest or --run-a/--run-b (with --service)")
    else:
        params = {"slowest_pct": str(slowest_pct)}
    query = _query(service, operation, tags, min_duration, max_duration, since, until, 1000)
    store = open_store(store_path, create=False)
    with store:
        doc = _view(lambda: diff_document(store, params, query))
    if as_json:
        diff_doc: TraceDiffDoc = {"schema": "perflab.trace-diff/1", **doc}
        emit_doc(diff_doc)
        return
    click.echo(f"A: {printable(doc['labels']['a'])} ({doc['a']['traces']} traces, "
               f"{format_duration_ns(doc['a']['latency_ns'])})")
    click.echo(f"B: {printable(doc['labels']['b'])} ({doc['b']['traces']} traces, "
               f"{format_duration_ns(doc['b']['latency_ns'])})")
    sign = "+" if doc["delta_ns"] >= 0 else "-"
    click.echo(f"difference: {sign}{format_duration_ns(abs(doc['delta_ns']))}; by operation "
               "(critical-path time per trace):")
    for o in doc["operations"][:20]:
        if o["a_ns"] == 0 and o["b_ns"] == 0:
            continue
        share = "" if o["share"] is None else f"{o['share'] * 100:6.1f}%"
        d = o["delta_ns"]
        click.echo(f"  {share:>7}  {'+' if d >= 0 else '-'}{format_duration_ns(abs(d)):>9}  "
                   f"A {format_duration_ns(o['a_ns']):>9}  B {format_duration_ns(o['b_ns']):>9}"
                   f"  {printable(o['service'])}: {printable(o['operation'])}")


@trace.command("coverage")
@click.option("--since", default="1h", show_default=True, metavar="TIME")
@click.option("--until", default=None, metavar="TIME")
@click.option("--run", "run_ref", default=None, help="The window of this run instead.")
@store_option
@json_option
def coverage(*, since: str, until: str | None, run_ref: str | None, store_path: str | None,
             as_json: bool) -> None:
    """Tracing coverage: which entry operations have complete traces, which calls end in a
    service that sends no spans, which traces are broken."""
    from perflab.trace import coverage_document  # noqa: PLC0415

    store = open_store(store_path, create=False)
    with store:
        start, end = _window(store, since, until, run_ref)
        doc = _view(lambda: coverage_document(store, start, end))
    if as_json:
        coverage_doc: TraceCoverageDoc = {"schema": "perflab.trace-coverage/1",
                                          "start_ns": start, "end_ns": end, **doc}
        emit_doc(coverage_doc)
        return
    if not doc["traces"]:
        click.echo("no spans in this window")
        return
    click.echo(f"{doc['traces']} traces, {doc['complete_traces']} complete "
               f"({doc['complete_pct']:.1f} %)")
    for o in doc["operations"]:
        click.echo(f"  {o['complete_pct']:5.1f}%  {o['complete']}/{o['traces']}  "
                   f"{printable(o['service'])}: {printable(o['operation'])}")
    for c in doc["uninstrumented_calls"]:
        click.echo(f"uninstrumented: {printable(c['service'])}: {printable(c['operation'])} -> "
                   f"{printable(c['peer']) or '?'} ({c['calls']} calls with no span on the "
                   "other side)")
    if doc["broken_count"]:
        click.echo(f"broken: {doc['broken_count']} traces with missing parents")


def _window(store: Store, since: str, until: str | None, run_ref: str | None
            ) -> tuple[int, int]:
    if run_ref is not None:
        run = store.run(run_ref)
        return run.started_ns, run.ended_ns or time.time_ns()
    start = _when(since, "--since")
    end = _when(until, "--until") or time.time_ns()
    return start if start is not None else 0, end


# The OTel SDKs' BatchSpanProcessor exports every 5 s: the last spans of a load arrive up to
# that long after it ended. `perflab load --trace-wait` changes this bound.
EXPORT_DELAY_S = 6.0
_POLL_S = 0.2    # how often the store is asked while spans still arrive
_SETTLE_S = 1.0  # no new span this long (and the latest near the end): all are in
_TAIL_GAPS = 5   # "near the end": within this many average gaps between span starts


def load_tracing(result: LoadResult, store_path: str | None, *,
                 wait_s: float = EXPORT_DELAY_S, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 now_ns: Callable[[], int] = time.time_ns) -> LoadTracingDoc | None:
    """The tracing coverage of a finished load test (``perflab load`` calls this): None when
    no span started during it (then perflab.trace is not even imported).

    When spans did and not every request is traced yet, the target's last exports may still
    be on their way: the count is taken again while spans arrive, until every request is
    traced, or the spans have stopped changing for ``_SETTLE_S`` with the latest of them
    started near the test's end (an SDK still holding its last batch holds the newest spans),
    or ``wait_s`` after the test's end at the latest. ``sleep``, ``clock`` (monotonic) and
    ``now_ns`` (wall) are the tests'."""
    from urllib.parse import urlsplit  # noqa: PLC0415

    from perflab.store import span_window_stats  # noqa: PLC0415

    if result.run_id is None:
        return None
    requests = result.requests
    # a scenario's requests go to several paths: compared with every trace, under ""
    by_path = {"": requests} if result.by_name else \
        {urlsplit(result.config.target.url).path or "/": requests}
    store = open_store(store_path, create=False)
    try:
        run = store.run(result.run_id)
        start = run.started_ns
        end = run.ended_ns if run.ended_ns is not None else now_ns()
        seen = span_window_stats(store, start, end)
        if not seen[0]:
            return None
        from perflab.trace import load_coverage  # noqa: PLC0415  # only when spans came

        doc = load_coverage(store, start, end, by_path)
        deadline = clock() + (end - now_ns()) / 1e9 + wait_s
        quiet_since = clock()
        stale = False
        while not _all_traced(doc) and clock() < deadline:
            sleep(min(_POLL_S, max(0.0, deadline - clock())))
            now = span_window_stats(store, start, end)
            if now != seen:
                seen, quiet_since, stale = now, clock(), True
                continue
            if stale:  # counted again once the spans stopped changing
                doc, stale = load_coverage(store, start, end, by_path), False
            if clock() - quiet_since >= _SETTLE_S and _tail_in(seen, start, end):
                break
        if stale:
            doc = load_coverage(store, start, end, by_path)
    finally:
        store.close()
    return doc


def _all_traced(doc: LoadTracingDoc | None) -> bool:
    return doc is not None and (doc["traced_pct"] or 0.0) >= 100.0


def _tail_in(seen: tuple[int, int | None], start_ns: int, end_ns: int) -> bool:
    """Whether the latest span started within a few average gaps of the test's end: the
    spans of its last moments have arrived."""
    count, latest = seen
    if latest is None or not count:
        return False
    gap_ns = (end_ns - start_ns) / count
    return latest >= end_ns - _TAIL_GAPS * gap_ns
