"""``perflab runs``, ``perflab show RUN`` and ``perflab query RUN SERIES``: reading the store."""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import sys
from typing import TYPE_CHECKING, Any

import click

from perflab.cli._common import (
    checked_ns,
    emit_doc,
    json_option,
    open_store,
    parse_labels,
    store_option,
)
from perflab.errors import InvalidValue, NotFound, UsageError
from perflab.units import (
    format_duration,
    format_duration_ns,
    format_value,
    parse_duration_ns,
    parse_time_ns,
    printable,
)

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray
    from rich.console import Console

    from perflab.store import (
        QueryDoc,
        Run,
        RunsDoc,
        RunsRun,
        Series,
        ShowDoc,
        ShowProfile,
        ShowSeries,
        Store,
    )

# More columns than this in `query` is not a table anyone reads: ask for --label instead.
_MAX_QUERY_COLUMNS = 8


# -- perflab runs ------------------------------------------------------------------------------


@click.command()
@click.option("--kind", default=None, help="Only runs of this kind (record, load, bench ...).")
@click.option("--name", default=None, help="Only runs whose name contains this.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="Show at most this many runs, newest first.")
@store_option
@json_option
def runs(*, kind: str | None, name: str | None, limit: int, store_path: str | None,
         as_json: bool) -> None:
    """List the runs in the store, newest first."""
    with open_store(store_path, create=False) as store:
        found = store.runs(kind=kind, name=name, limit=limit)
        rows = [_run_summary(store, r) for r in found]
    if as_json:
        doc: RunsDoc = {"schema": "perflab.runs/1", "store": str(store.path), "runs": rows}
        emit_doc(doc)
        return
    if not rows:
        click.echo("no runs" + (" match" if kind or name else " yet: try `perflab record`"))
        return
    from rich.table import Table  # noqa: PLC0415  # lazy: keeps --help fast
    from rich.text import Text  # noqa: PLC0415  # lazy: keeps --help fast

    table = Table(box=None, header_style="bold", pad_edge=False)
    for col, justify in (("id", "right"), ("kind", "left"), ("name", "left"),
                         ("status", "left"), ("started", "left"), ("duration", "right"),
                         ("series", "right"), ("samples", "right")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]  # literal set above
    for row in rows:
        duration = "-" if row["duration_s"] is None else format_duration(row["duration_s"])
        table.add_row(str(row["id"]), row["kind"], Text(printable(row["name"])),
                      _status_text(row["status"]),
                      _local_time(row["started_ns"]), duration, str(row["series"]),
                      str(row["samples"]))
    _console().print(table)


def _console() -> Console:
    """A console for tables: the terminal's width, or wide lines when piped (no wrapping)."""
    from rich.console import Console  # noqa: PLC0415  # lazy: keeps --help fast

    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def _run_summary(store: Store, run: Run) -> RunsRun:
    """A run as `runs` lists it, with its series and sample counts. Its status is the store's:
    ``interrupted`` for a run whose recorder died (kill -9, power), its samples still here."""
    meta = run.meta
    if run.ended_ns is not None and isinstance(meta.get("samples"), int) and isinstance(
            meta.get("series"), int):
        # written by the recorder when the run ended: counting hours of samples is not free
        series, samples = meta["series"], meta["samples"]
    else:
        counts = store.sample_counts(run.id)
        series, samples = len(counts), sum(counts.values())
    return {**run.to_json(), "series": series, "samples": samples}


def _status_text(status: str) -> str:
    colour = {"ok": "green", "running": "cyan", "aborted": "yellow", "interrupted": "yellow",
              "failed": "red"}.get(status)
    return f"[{colour}]{status}[/]" if colour else status


def _local_time(ts_ns: int, *, seconds_only: bool = True) -> str:
    t = dt.datetime.fromtimestamp(ts_ns / 1e9).astimezone()
    if seconds_only:
        return t.strftime("%Y-%m-%d %H:%M:%S")
    return t.isoformat(timespec="milliseconds")


# -- perflab show ------------------------------------------------------------------------------


@click.command()
@click.argument("run_ref", metavar="RUN")
@click.option("--all", "show_all", is_flag=True,
              help="Also list the series that never changed (folded into one line by default).")
@store_option
@json_option
def show(*, run_ref: str, show_all: bool, store_path: str | None, as_json: bool) -> None:
    """Summarise a run (id, name or `last`): min/mean/max/p95/last per series, by area."""
    with open_store(store_path, create=False) as store:
        run = store.run(run_ref)
        summary = _run_summary(store, run)
        values = _values_by_series(store.run_values(run.id))
        stats = [_series_stats(s, values.get(s.id)) for s in store.series(run.id)]
        events = store.events(run.id)
        profile = _profile_summary(store, run.id)
    if as_json:
        doc: ShowDoc = {"schema": "perflab.show/1", "run": summary, "series": stats,
                        "events": [e.to_json() for e in events]}
        if profile is not None:
            doc["profile"] = profile
        emit_doc(doc)
        return
    _print_show(summary, stats, events, show_all=show_all)
    if profile is not None:
        pids = ", ".join(str(p) for p in profile["pids"])
        _console().print(
            f"\nprofile: {profile['slices']} slices{' of PID ' + pids if pids else ''} "
            f"({', '.join(profile['backends'])}); a range as a flame graph: perflab profile "
            f"export {summary['id']} --from 0s --to 10s -o range.html, or the Run page "
            "(perflab serve)")


def _profile_summary(store: Store, run_id: int) -> ShowProfile | None:
    """Where the run has profile slices (``record --profile``), or None."""
    from perflab.profile import profile_slices  # noqa: PLC0415  # lazy: keeps --help fast

    slices = profile_slices(store, run_id)
    if not slices:
        return None
    return {"slices": len(slices), "pids": sorted({s.pid for s in slices if s.pid is not None}),
            "backends": sorted({s.backend for s in slices}),
            "start_ns": slices[0].start_ns, "end_ns": max(s.end_ns for s in slices)}


def _values_by_series(rows: list[tuple[int, float]]) -> dict[int, NDArray[np.float64]]:
    """(series_id, value) rows, grouped by series -> one array per series (numpy, no loop)."""
    import numpy as np  # noqa: PLC0415  # lazy: keeps --help fast

    if not rows:
        return {}
    table = np.asarray(rows, dtype=np.float64)
    sids, values = table[:, 0], table[:, 1]
    starts = np.flatnonzero(np.diff(sids)) + 1
    chunks = np.split(values, starts)
    return {int(sid): chunk for sid, chunk in zip(sids[np.r_[0, starts]], chunks, strict=True)}


def _series_stats(series: Series, values: NDArray[np.float64] | None) -> ShowSeries:
    from perflab.store import nearest_rank  # noqa: PLC0415  # lazy: keeps --help fast

    out: ShowSeries = {
        "name": series.name, "labels": series.labels, "unit": series.unit,
        "area": series.name.split(".", 1)[0], "count": 0 if values is None else len(values),
        "min": None, "mean": None, "max": None, "p95": None, "last": None,
    }
    if values is not None and len(values):
        out.update({"min": float(values.min()), "mean": float(values.mean()),
                    "max": float(values.max()), "p95": nearest_rank(values, 95.0),
                    "last": float(values[-1])})
    return out


def _print_show(summary: RunsRun, stats: list[ShowSeries], events: list[Any], *,
                show_all: bool = False) -> None:
    from rich.markup import escape  # noqa: PLC0415  # lazy: keeps --help fast
    from rich.table import Table  # noqa: PLC0415  # lazy: keeps --help fast
    from rich.text import Text  # noqa: PLC0415  # lazy: keeps --help fast

    from perflab.store import format_labels  # noqa: PLC0415  # lazy: keeps --help fast

    console = _console()
    duration = ("running" if summary["duration_s"] is None
                else format_duration(summary["duration_s"]))
    console.print(
        f"[bold]run {summary['id']}[/] {escape(printable(summary['name']))} · {summary['kind']} · "
        f"{_status_text(summary['status'])} · {_local_time(summary['started_ns'])} · "
        f"{duration} · {summary['series']} series · {summary['samples']} samples")
    if not stats:
        console.print("no series recorded")
    areas: dict[str, list[ShowSeries]] = {}
    for s in stats:
        areas.setdefault(s["area"], []).append(s)
    for area, members in areas.items():
        table = Table(title=f"{area}", title_justify="left", title_style="bold", box=None,
                      header_style="bold", pad_edge=False)
        table.add_column("series")
        for col in ("min", "mean", "max", "p95", "last"):
            table.add_column(col, justify="right")
        # a series that never changed (an idle interface's 0/s) says one thing: fold those, as
        # the dashboard does, so the table shows what moved
        constant = [] if show_all else [m for m in members if m["count"] and m["min"] == m["max"]]
        empty = [] if show_all else [m for m in members if not m["count"]]
        for s in members:
            if s in constant or s in empty:
                continue
            label = s["name"] + format_labels(s["labels"])
            table.add_row(Text(printable(label)), *(format_value(s[c], s["unit"])
                                   for c in ("min", "mean", "max", "p95", "last")))
        console.print()
        if table.row_count:
            console.print(table)
        else:
            console.print(f"[bold]{area}[/]")
        if constant:
            values = sorted({format_value(c["min"], c["unit"]) for c in constant})
            shown = ", ".join(values[:4]) + (", ..." if len(values) > 4 else "")
            console.print(f"[dim]+ {len(constant)} series that never changed ({shown}); "
                          "--all lists them[/]")
        if empty:  # a process seen once: a rate needs two readings
            console.print(f"[dim]+ {len(empty)} series with no samples; --all lists them[/]")
    if events:
        console.print()
        console.print("[bold]events[/]")
        for e in events:
            attrs = " ".join(f"{k}={v}" for k, v in sorted(e.attrs.items()))
            offset = format_duration_ns(e.ts_ns - summary["started_ns"])
            console.print(f"  +{offset}  {e.kind}: {e.text}  {attrs}".rstrip(),
                          markup=False)


# -- perflab query -----------------------------------------------------------------------------


@click.command()
@click.argument("run_ref", metavar="RUN")
@click.argument("series_name", metavar="SERIES")
@click.option("--label", "labels", multiple=True, metavar="K=V",
              help="Only series with this label (repeatable).")
@click.option("--since", default=None, metavar="WHEN",
              help="From this offset into the run (30s, 5m) or time (ISO 8601).")
@click.option("--until", default=None, metavar="WHEN",
              help="Up to this offset into the run (30s, 5m) or time (ISO 8601).")
@click.option("--csv", "as_csv", is_flag=True,
              help="Print CSV: ts_ns, time, one column per series.")
@store_option
@json_option
def query(*, run_ref: str, series_name: str, labels: tuple[str, ...], since: str | None,
          until: str | None, as_csv: bool, store_path: str | None, as_json: bool) -> None:
    """Print the samples (time and value) of one series of a run.

    When several label sets match, each gets a column; narrow them with --label.
    """
    wanted = parse_labels(labels)
    with open_store(store_path, create=False) as store:
        run = store.run(run_ref)
        start_ns = _when(since, run, "--since")
        end_ns = _when(until, run, "--until")
        matching = store.series(run.id, name=series_name, labels=wanted or None)
        if not matching:
            raise _no_such_series(store, run, series_name, wanted)
        if len(matching) > _MAX_QUERY_COLUMNS:
            listed = "\n  ".join(s.name + s.label_text() for s in matching[:20])
            more = "" if len(matching) <= 20 else f"\n  ... and {len(matching) - 20} more"
            raise UsageError(
                f"{len(matching)} series named {series_name} in run {run.id}:\n  {listed}{more}",
                hint="pick one or a few with --label k=v",
            )
        data = [(s, store.samples(s.id, start_ns, end_ns)) for s in matching]
    if as_json:
        doc: QueryDoc = {"schema": "perflab.query/1", "run": run.id, "series": [
            {**s.to_json(), "samples": samples} for s, samples in data]}
        emit_doc(doc)
        return
    headers = [s.name + s.label_text() + (f" ({s.unit})" if s.unit else "") for s, _ in data]
    table = _align(data)
    if as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["ts_ns", "time", *headers])
        for ts, values in table:
            writer.writerow([ts, _local_time(ts, seconds_only=False),
                             *("" if v is None else repr(v) for v in values)])
        return
    click.echo("\t".join(["time", *headers]))
    for ts, values in table:
        cells = ["" if v is None else f"{v:.6g}" for v in values]
        click.echo("\t".join([_local_time(ts, seconds_only=False), *cells]))


def _align(data: list[tuple[Series, list[tuple[int, float]]]]
           ) -> list[tuple[int, list[float | None]]]:
    """One row per timestamp, one column per series; a series without that timestamp is None."""
    by_ts: dict[int, list[float | None]] = {}
    for col, (_, samples) in enumerate(data):
        for ts, v in samples:
            by_ts.setdefault(ts, [None] * len(data))[col] = v
    return sorted(by_ts.items())


def _when(text: str | None, run: Run, option: str) -> int | None:
    """``30s`` (offset from the run's start) or an ISO 8601 time -> ns since the epoch."""
    if text is None:
        return None
    try:
        when = run.started_ns + parse_duration_ns(text)
    except InvalidValue:
        try:
            when = parse_time_ns(text)
        except (ValueError, OverflowError):
            raise InvalidValue(
                f"invalid {option} {printable(text[:80])!r}",
                hint="give an offset into the run (30s, 5m) or a time (2026-11-27T16:30:00)",
            ) from None
    return checked_ns(when, option, printable(text), hint="give an offset into the run (30s, "
                      "5m) or a time (2026-11-27T16:30:00)")


def _no_such_series(store: Store, run: Run, name: str, labels: dict[str, str]) -> NotFound:
    from perflab.store import format_labels  # noqa: PLC0415  # lazy: keeps --help fast

    names = sorted({s.name for s in store.series(run.id)})
    if name in names:
        sets = [s.label_text() for s in store.series(run.id, name=name)][:10]
        return NotFound(
            f"no series {name} with labels {format_labels(labels)} in run {run.id}",
            hint="its label sets are: " + ", ".join(sets),
        )
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    hint = ("did you mean " + " or ".join(close) + "?" if close
            else f"see the series of this run with `perflab show {run.id}`")
    return NotFound(f"no series {name} in run {run.id}", hint=hint)
