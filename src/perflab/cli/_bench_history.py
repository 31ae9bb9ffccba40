"""``perflab bench record | history | regressions``: results over commits, change points."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from perflab.cli._common import checked_ns, emit_doc, json_option, open_store, store_option
from perflab.errors import CheckFailed, InvalidValue
from perflab.units import parse_time_ns

if TYPE_CHECKING:
    from perflab.bench import (
        BenchHistoryDoc,
        BenchRecordDoc,
        BenchRegressionsChange,
        BenchRegressionsDoc,
        Change,
    )


def _parse_time(text: str | None) -> int | None:
    if text is None:
        return None
    hint = "use ISO 8601 (2026-11-27T10:00:00Z; local time without a zone) or Unix seconds"
    if text.isascii() and text.isdigit():
        value = int(text)
        value = value if value > 10**15 else value * 1_000_000_000  # seconds or ns
    else:
        try:
            value = parse_time_ns(text)
        except (ValueError, OverflowError) as exc:
            raise InvalidValue(f"invalid --time {text[:80]!r}", hint=hint) from exc
    return checked_ns(value, "--time", text, hint=hint)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--commit", required=True, help="Commit SHA the results belong to.")
@click.option("--branch", default="", help="Branch name.")
@click.option("--time", "when", default=None,
              help="Commit time (ISO 8601 or Unix seconds); default now. Orders the history.")
@store_option
@json_option
def record(*, file: str, commit: str, branch: str, when: str | None, store_path: str | None,
           as_json: bool) -> None:
    """Store a results file (any supported format) under a commit."""
    from perflab.bench import load  # noqa: PLC0415  # lazy import keeps --help fast
    from perflab.bench import record_results as do_record  # noqa: PLC0415

    time_ns = _parse_time(when)
    rs = load([file])  # parse fully before touching the store: bad input records nothing
    for problem in rs.problems:
        click.echo(str(problem), err=True)
    raw = Path(file).read_bytes() if file != "-" else b""
    with open_store(store_path) as store:
        run_id, count = do_record(store, rs, commit=commit, branch=branch, time_ns=time_ns,
                                  source=Path(file).name, raw=raw)
    names = len({r.name for r in rs.results})
    if as_json:
        doc: BenchRecordDoc = {"schema": "perflab.bench-record/1", "run_id": run_id,
                               "commit": commit, "branch": branch, "benchmarks": names,
                               "values": count}
        emit_doc(doc)
        return
    click.echo(f"recorded {count} values of {names} benchmarks for {commit[:12]} "
               f"as run {run_id}")


@click.command()
@click.argument("bench", required=False)
@click.option("--branch", default=None, help="Only results recorded on this branch.")
@store_option
@json_option
def history(*, bench: str | None, branch: str | None, store_path: str | None,
            as_json: bool) -> None:
    """Show each benchmark's median per recorded commit."""
    from perflab.bench import histories  # noqa: PLC0415

    with open_store(store_path, create=False) as store:
        hists = histories(store, bench, branch=branch)
    if as_json:
        doc: BenchHistoryDoc = {"schema": "perflab.bench-history/1", "benchmarks": [
            {"name": h.bench, "unit": h.unit, "points": [
                {"commit": p.commit, "branch": p.branch, "time_ns": p.time_ns,
                 "median": p.median, "n": p.n, "run_id": p.run_id} for p in h.points]}
            for h in hists]}
        emit_doc(doc)
        return
    if not hists:
        click.echo("no benchmark history; record some with `perflab bench record`")
        return
    from perflab.bench import common_scale, is_binary  # noqa: PLC0415

    for h in hists:
        click.echo(f"{h.bench} [{h.unit}]  {len(h.points)} commits")
        scaler = common_scale([p.median for p in h.points], is_binary(h.unit))
        for p in h.points:
            # local time, as every time the command line prints or reads without a zone
            stamp = datetime.fromtimestamp(p.time_ns / 1e9).astimezone().strftime("%Y-%m-%d %H:%M")
            click.echo(f"  {p.commit[:12]:12}  {stamp}  {scaler.format(p.median):>10}"
                       f"  n={p.n}")


@click.command()
@click.argument("bench", required=False)
@click.option("--since", "since", default=None,
              help="Only report changes at or after this commit (SHA prefix).")
@click.option("--branch", default=None, help="Only results recorded on this branch.")
@click.option("--max-pvalue", type=float, default=0.001, show_default=True,
              help="A change point must have a t-test p-value below this.")
@click.option("--min-magnitude", type=float, default=0.0, show_default=True,
              help="Ignore changes smaller than this relative size (0.05 = 5 %).")
@click.option("--window", type=int, default=50, show_default=True,
              help="Window length (commits) of the E-divisive search.")
@store_option
@json_option
def regressions(*, bench: str | None, since: str | None, branch: str | None, max_pvalue: float,
                min_magnitude: float, window: int, store_path: str | None,
                as_json: bool) -> int:
    """Find change points in the history (E-divisive means); exit 1 on a regression."""
    from perflab.bench import find_changes, histories  # noqa: PLC0415

    if window < 2:
        raise InvalidValue("--window must be at least 2", hint="the default is 50 commits")
    with open_store(store_path, create=False) as store:
        hists = histories(store, bench, branch=branch)
    changes = []
    notes = []
    for h in hists:
        if len(h.points) < 3:
            notes.append(f"{h.bench} [{h.unit}]: only {len(h.points)} commit(s) recorded; "
                         "change points need at least 3")
            continue
        found = find_changes(h, window=window, max_pvalue=max_pvalue,
                             min_magnitude=min_magnitude)
        if since is not None:
            idx = next((i for i, p in enumerate(h.points) if p.commit.startswith(since)), None)
            if idx is None:
                notes.append(f"{h.bench} [{h.unit}]: commit {since} not in its history")
                continue
            found = [c for c in found if h.points.index(c.after) >= idx]
        changes.extend(found)
    for note in notes:
        click.echo(f"perflab: note: {note}", err=True)
    if as_json:
        doc: BenchRegressionsDoc = {"schema": "perflab.bench-regressions/1",
                                    "changes": [_change_json(c) for c in changes],
                                    "notes": notes}
        emit_doc(doc)
    elif not changes:
        n = len(hists)
        click.echo(f"no change points in {n} benchmark histor{'y' if n == 1 else 'ies'}")
    else:
        for c in changes:
            click.echo(f"{c.verdict:11}  {c.bench} [{c.unit}]  {c.change.rel_change * 100:+.2f}%"
                       f"  p={c.change.pvalue:.2g}  between {c.before.commit[:12]} and "
                       f"{c.after.commit[:12]}")
    bad = [c for c in changes if c.verdict == "regression"]
    if bad:
        sys.stdout.flush()
        raise CheckFailed(f"{len(bad)} regression(s) in the benchmark history",
                          hint="inspect with `perflab bench history BENCH`")
    return 0


def _change_json(c: Change) -> BenchRegressionsChange:
    return {
        "bench": c.bench, "unit": c.unit, "verdict": c.verdict,
        "from_commit": c.before.commit, "to_commit": c.after.commit,
        "index": c.change.index, "rel_change": c.change.rel_change,
        "magnitude": c.change.magnitude, "pvalue": c.change.pvalue,
        "mean_before": c.change.mean_before, "mean_after": c.change.mean_after,
    }
