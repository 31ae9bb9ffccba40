"""Go services' goroutines, deadlocks and races: ``perflab goroutines`` and ``perflab race``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from perflab.cli._common import DURATION, emit_doc, json_option, store_option
from perflab.cli._debug_record import Finding, record_finding, run_option
from perflab.errors import EXIT_CHECK_FAILED

if TYPE_CHECKING:
    from collections.abc import Mapping

    from perflab.debug import (
        GoroutineReport,
        GoroutinesBody,
        GoroutinesReport,
        RaceBody,
        RaceReportDoc,
    )


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
        out: GoroutinesReport = {"schema": "perflab.goroutines/2", "run": run_id, **doc}
        emit_doc(out)
    else:
        click.echo(render_goroutines(report, max_groups=max_groups), nl=False)
        click.echo(f"stored on run {run_id}", err=True)
    return EXIT_CHECK_FAILED if report.found else 0


def _finding(source: str, doc: GoroutinesBody, report: GoroutineReport) -> Finding:
    events: list[tuple[str, str, Mapping[str, object]]] = [
        ("debug.deadlock", f"deadlock ({d.confidence}): " + " <-> ".join(d.functions),
         d.to_json()) for d in report.deadlocks]
    events.extend(("debug.goroutine-leak", f"goroutine leak: {c.name} +{c.after - c.before}",
                   c.to_json()) for c in report.leaks)
    if report.blocked:
        text = f"{len(report.blocked)} goroutines blocked over {report.blocked_minutes:g} min"
        events.append(("debug.blocked", text,
                       {"goroutines": [b.to_json() for b in report.blocked[:50]]}))
    return Finding("goroutines", f"goroutines {source}", doc, events,
                   {"go_goroutines": dict(doc["states"])}, {"target": source})


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("--log", "log_path", type=click.Path(dir_okay=False), default=None,
              help="Read the reports from this log (a -race binary's stderr) instead of "
                   "running a command.")
@run_option
@store_option
@json_option
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def race(*, log_path: str | None, command: tuple[str, ...], run_ref: str | None,
         store_path: str | None, as_json: bool) -> int:
    """Go data races grouped by the pair of access sites: race -- go test -race ./...

    Runs COMMAND (its output goes to stderr as it comes, unless --json) or reads --log, and
    shows each race once with both stacks and where the goroutines were created. Exit 1 when a
    race is found (or the command failed without one), 0 when clean.
    """
    from perflab.debug import parse_race_log  # noqa: PLC0415  # lazy: keeps --help fast

    if bool(log_path) == bool(command):
        from perflab.errors import UsageError  # noqa: PLC0415

        raise UsageError("give either a command after -- or --log FILE",
                         hint="perflab race -- go test -race ./...  or  perflab race --log "
                              "race.log")
    source = log_path or " ".join(command)
    exit_status = None
    if log_path:
        text = _read_log(log_path)
    else:
        text, exit_status = _run_capturing(list(command), echo=not as_json)
    log = parse_race_log(text)
    groups = log.groups()
    doc: RaceBody = {
        "source": source, "exit_status": exit_status, "reports": len(log.reports),
        "summary": log.summary, "warnings": log.warnings,
        "groups": [g.to_json() for g in groups], "found": bool(groups)}
    events: list[tuple[str, str, Mapping[str, object]]] = [
        ("debug.race", f"data race: {' / '.join(g.functions)} ({g.count} reports)",
         g.to_json()) for g in groups]
    run_id = record_finding(store_path, run_ref, Finding("race", f"race {source}", doc, events))
    failed = bool(groups) or bool(exit_status)
    if as_json:
        out: RaceReportDoc = {"schema": "perflab.race/1", "run": run_id, **doc}
        emit_doc(out)
    else:
        click.echo(_race_text(doc), nl=False)
        click.echo(f"stored on run {run_id}", err=True)
    return EXIT_CHECK_FAILED if failed else 0


def _read_log(path: str) -> str:
    from pathlib import Path  # noqa: PLC0415

    from perflab.errors import InvalidFile, NotFound  # noqa: PLC0415

    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError as exc:
        raise NotFound(f"no such file: {path}", hint="check the path") from exc
    except OSError as exc:
        raise InvalidFile(f"cannot read: {exc.strerror}", path=path) from exc


def _run_capturing(argv: list[str], *, echo: bool) -> tuple[str, int]:
    """Run ``argv`` with stdout and stderr merged; its output and exit status."""
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    from perflab.errors import TargetError  # noqa: PLC0415

    try:
        proc = subprocess.Popen(  # noqa: S603  # the user's own command, as typed after --
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    except OSError as exc:
        raise TargetError(f"cannot run {argv[0]!r}: {exc.strerror}",
                          hint="check the command after --") from exc
    chunks = []
    assert proc.stdout is not None
    with proc.stdout:
        for line in proc.stdout:
            chunks.append(line)
            if echo:
                sys.stderr.write(line)
    return "".join(chunks), proc.wait()


def _race_text(doc: RaceBody) -> str:
    from perflab.units import printable  # noqa: PLC0415

    out = [f"{doc['reports']} race reports in {len(doc['groups'])} groups"
           + (f" ({doc['summary']})" if doc["summary"] else "")]
    out.extend(f"warning: {w}" for w in doc["warnings"])
    for g in doc["groups"]:
        out.append(f"DATA RACE x{g['count']}: {' / '.join(g['functions'])}")
        for a in g["accesses"]:
            who = f"goroutine {a['goroutine']}" if a["goroutine"] is not None else "main"
            prev = "previous " if a["previous"] else ""
            out.append(f"  {prev}{a['kind']} by {who} at {a['location']}")
            out.extend(f"      {f['function']} ({f['file']}:{f['line']})" for f in a["frames"])
        for c in g["created"]:
            top = c["frames"][0] if c["frames"] else None
            where = f"{top['function']} ({top['file']}:{top['line']})" if top else "?"
            out.append(f"  goroutine {c['goroutine']} ({c['status']}) created at {where}")
    if doc["exit_status"]:
        out.append(f"the command exited with status {doc['exit_status']}")
    return "\n".join(printable(line) for line in out) + "\n"
