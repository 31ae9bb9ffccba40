"""Go services' goroutines, deadlocks and races: ``perflab goroutines`` and ``perflab race``."""

from __future__ import annotations

from typing import Any

import click

from perflab.cli._common import DURATION, emit_json, json_option, store_option
from perflab.cli._debug_record import Finding, record_finding, run_option
from perflab.errors import EXIT_CHECK_FAILED


@click.command()
@click.argument("source")
@click.option("--diff", "base", default=None, metavar="BASE",
              help="An earlier dump (file or URL) of the same service: groups that grew are "
                   "goroutine leaks.")
@click.option("--blocked-over", "blocked_over", type=DURATION, default=None,
              help="Flag goroutines blocked on a mutex or a channel at least this long (Go "
                   "reports whole minutes), e.g. 1m.")
@click.option("--mutex", "mutex_path", type=click.Path(dir_okay=False), default=None,
              help="A mutex profile (/debug/pprof/mutex) for a file dump; fetched for a URL.")
@click.option("--block", "block_path", type=click.Path(dir_okay=False), default=None,
              help="A block profile (/debug/pprof/block) for a file dump; fetched for a URL.")
@click.option("--min-growth", type=click.IntRange(min=1), default=1, show_default=True,
              help="With --diff: goroutines a group must gain to be a leak.")
@click.option("--max-groups", type=click.IntRange(min=1), default=20, show_default=True,
              help="Groups listed in the text output (--json lists all).")
@run_option
@store_option
@json_option
def goroutines(*, source: str, base: str | None, blocked_over: float | None,
               mutex_path: str | None, block_path: str | None, min_growth: int,
               max_groups: int, run_ref: str | None, store_path: str | None,
               as_json: bool) -> int:
    """Group a Go goroutine dump's stacks; find leaks, long waits and partial deadlocks.

    SOURCE: a file (a /debug/pprof/goroutine?debug=2 dump, a SIGQUIT traceback, a panic) or
    the URL of a Go service with net/http/pprof (its mutex and block profiles are read too).
    Exit 1 when a leak, a goroutine blocked over --blocked-over or a deadlock is found.
    """
    from perflab.debug import (  # noqa: PLC0415  # lazy: keeps --help fast
        analyze_goroutines,
        load_goroutine_dump,
        load_pprof_profile,
        render_goroutines,
    )

    dump = load_goroutine_dump(source)
    notes: list[str] = []
    before = load_goroutine_dump(base) if base is not None else None
    mutex = load_pprof_profile(mutex_path, source, "mutex", notes)
    block = load_pprof_profile(block_path, source, "block", notes)
    report = analyze_goroutines(dump, base=before,
                                blocked_minutes=None if blocked_over is None
                                else blocked_over / 60, mutex=mutex, block=block,
                                min_growth=min_growth)
    report.notes.extend(notes)
    doc = report.to_json()
    run_id = record_finding(store_path, run_ref, _finding(source, doc, report))
    if as_json:
        emit_json("perflab.goroutines/1", {"run": run_id, **doc})
    else:
        click.echo(render_goroutines(report, max_groups=max_groups), nl=False)
        click.echo(f"stored on run {run_id}", err=True)
    return EXIT_CHECK_FAILED if report.found else 0


def _finding(source: str, doc: dict[str, Any], report: Any) -> Finding:
    events: list[tuple[str, str, dict[str, Any]]] = [
        ("debug.deadlock", f"deadlock ({d.confidence}): " + " <-> ".join(d.functions),
         d.to_json()) for d in report.deadlocks]
    events.extend(("debug.goroutine-leak", f"goroutine leak: {c.name} +{c.after - c.before}",
                   c.to_json()) for c in report.leaks)
    if report.blocked:
        text = f"{len(report.blocked)} goroutines blocked over {report.blocked_minutes:g} min"
        events.append(("debug.blocked", text,
                       {"goroutines": [b.to_json() for b in report.blocked[:50]]}))
    return Finding("goroutines", f"goroutines {source}", doc, events,
                   {"go_goroutines": dict(doc["states"])})
