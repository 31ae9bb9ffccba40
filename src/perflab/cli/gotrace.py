"""``perflab gotrace``: go tool trace's blocking profiles as flame graphs, on the run's timeline."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from perflab.cli._common import emit_doc, json_option, store_option
from perflab.cli._debug_record import finding_run, run_option
from perflab.errors import InvalidFile, NotFound, UsageError

if TYPE_CHECKING:
    from perflab.debug import GotraceBody, GotraceReport, TraceProfiles

Slice = tuple["TraceProfiles", int, int]  # profiles, window start and end (ns)


@click.command()
@click.argument("trace", required=False)
@click.option("--url", default=None,
              help="Take the trace from this Go service (/debug/pprof/trace) instead of a file.")
@click.option("--seconds", type=click.IntRange(1, 600), default=5, show_default=True,
              help="With --url: how long each trace lasts.")
@click.option("--slices", type=click.IntRange(1, 120), default=1, show_default=True,
              help="With --url: consecutive traces, each a point of the timeline's series.")
@click.option("--binary", type=click.Path(exists=True, dir_okay=False), default=None,
              help="The traced program's binary (only needed for traces of Go before 1.7).")
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Directory for the flame graphs (default: beside the trace, or the current "
                   "directory for --url).")
@run_option
@store_option
@json_option
def gotrace(*, trace: str | None, url: str | None, seconds: int, slices: int,
            binary: str | None, out_dir: str | None, run_ref: str | None,
            store_path: str | None, as_json: bool) -> int:
    """go tool trace's blocking profiles (net, sync, syscall, sched) as flame graphs.

    TRACE: a Go execution trace file; or --url to take traces from a service (--slices of
    --seconds each). Each trace's totals are stored on a run as series at the end of its window
    (scheduler latency and blocking on the timeline); the flame graphs add all slices up.
    """
    from perflab.debug import blocking_profiles, merge_traces  # noqa: PLC0415  # lazy

    if bool(trace) == bool(url):
        raise UsageError("give either a trace file or --url",
                         hint="perflab gotrace trace.out  or  perflab gotrace --url "
                              "http://127.0.0.1:6060")
    taken: list[Slice] = []
    if url:
        out_base = Path(out_dir or ".")
        for i in range(slices):
            start = time.time_ns()
            path = _fetch_trace(url, seconds, out_base, i if slices > 1 else None)
            end = time.time_ns()
            taken.append((blocking_profiles(path, binary=binary), start, end))
        name = Path(taken[-1][0].source).name
    else:
        assert trace is not None
        if not Path(trace).is_file():
            raise NotFound(f"no such file: {trace}", hint="check the path")
        out_base = Path(out_dir) if out_dir else Path(trace).parent
        now = time.time_ns()  # a file's window is unknown: the moment it was read
        taken.append((blocking_profiles(trace, binary=binary), now, now))
        name = Path(trace).name
    result = taken[0][0] if len(taken) == 1 else merge_traces([t[0] for t in taken],
                                                                url or "")
    graphs = _write_graphs(result, out_base, name)
    doc: GotraceBody = {**result.to_json(), "graphs": graphs}
    run_id = _store_gotrace(store_path, run_ref, taken, doc)
    if as_json:
        out: GotraceReport = {"schema": "perflab.gotrace/1", "run": run_id, **doc}
        emit_doc(out)
        return 0
    for p in result.profiles:
        if p.error:
            click.echo(f"{p.kind:8} {p.title}: {p.error}")
            continue
        click.echo(f"{p.kind:8} {p.title}: {p.total_seconds:.6f} s in total")
        for fn, sec in p.top():
            click.echo(f"           {sec:12.6f} s  {fn}")
    for kind, path in graphs.items():
        click.echo(f"flame graph ({kind}): {path}")
    click.echo(f"stored on run {run_id}", err=True)
    return 0


def _fetch_trace(url: str, seconds: int, out_base: Path, index: int | None) -> str:
    from perflab.debug import pprof_url  # noqa: PLC0415
    from perflab.profile import fetch  # noqa: PLC0415

    target = pprof_url(url, "trace") + f"?seconds={seconds}"
    data = fetch(target, timeout=seconds + 30)
    suffix = "" if index is None else f"-{index + 1}"
    path = out_base / f"trace-{seconds}s{suffix}.out"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as exc:
        raise InvalidFile(f"cannot write: {exc.strerror}", path=str(path)) from exc
    return str(path)


def _write_graphs(result: TraceProfiles, out_base: Path, stem: str) -> dict[str, str]:
    from perflab.profile import flame_html  # noqa: PLC0415

    graphs: dict[str, str] = {}
    for p in result.profiles:
        if p.profile is None or not p.profile.samples:
            continue
        path = out_base / f"{stem}.{p.kind}.html"
        try:
            path.write_text(flame_html(p.profile, title=f"{stem}: {p.title}"), encoding="utf-8")
        except OSError as exc:
            raise InvalidFile(f"cannot write: {exc.strerror}", path=str(path)) from exc
        graphs[p.kind] = str(path)
    return graphs


def _store_gotrace(store_path: str | None, run_ref: str | None, taken: list[Slice],
                   doc: GotraceBody) -> int:
    """Per trace: each profile's pprof bytes as an artifact, its total as a sample at the end of
    the window (``go_trace_blocking_seconds{profile}``), the window as an event band; and the
    command's document once."""
    first, last = taken[0][1], taken[-1][2]
    with finding_run(store_path, run_ref, "gotrace", f"gotrace {doc['source']}",
                     start_ns=first, end_ns=last) as (store, run_id):
        store.add_artifact(run_id, "gotrace", json.dumps(doc).encode(), name="gotrace.json",
                           content_type="application/json", ts_ns=first, end_ns=last)
        rows = []
        for result, start, end in taken:
            for p in result.profiles:
                if p.raw:
                    store.add_artifact(run_id, f"gotrace-{p.kind}", p.raw,
                                       name=f"{p.kind}.pb.gz", ts_ns=start, end_ns=end,
                                       attrs={"kind": p.kind})
                sid = store.series_id(run_id, "go_trace_blocking_seconds",
                                      {"profile": p.kind}, unit="s")
                rows.append((sid, end, p.total_seconds))
            store.add_event(run_id, "debug.gotrace", f"go trace of {result.source}",
                            ts_ns=start, end_ns=end,
                            attrs={p.kind: p.total_seconds for p in result.profiles})
        store.insert_samples(rows)
    return run_id
