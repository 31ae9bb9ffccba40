"""``perflab load import`` and ``perflab load coverage``: scenarios from production traffic, and
how much of that traffic a scenario exercises (see load/_import*.py)."""

from __future__ import annotations

import os
import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from perflab.cli._common import DURATION, emit_doc, json_option, open_store, store_option
from perflab.errors import CheckFailed, UsageError
from perflab.units import parse_percent

if TYPE_CHECKING:
    from perflab.load import Traffic

_FORMATS = click.Choice(["auto", "combined", "common", "har", "jmx"])


def _traffic(source: str | None, fmt: str, *, traces: bool, since: float | None,
             service: str | None, store_path: str | None) -> Traffic:
    """What the command reads: a file, or the server spans in the store."""
    from perflab.load import read_traces, read_traffic  # noqa: PLC0415  # fast --help

    if traces == (source is not None):
        raise UsageError("give a traffic file or --traces (one of them)",
                         hint="perflab load import access.log -o s.py  or  perflab load "
                              "import --traces -o s.py")
    if source is not None:
        return read_traffic(source, fmt)
    start_ns = None if since is None else time.time_ns() - int(since * 1e9)
    with open_store(store_path, create=False) as store:
        return read_traces(store, start_ns=start_ns, service=service,
                           where=f"traces in {store.path}")


def _write(path: str, text: str, *, force: bool) -> None:
    """Write the scenario whole (a temporary file renamed), never over a file by surprise."""
    target = Path(path)
    if target.exists() and not force:
        raise UsageError(f"{path} exists", hint="give another -o, or --force to replace it")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None


def _traffic_options(f: click.decorators.FC) -> click.decorators.FC:
    for option in reversed((
        click.option("--format", "fmt", type=_FORMATS, default="auto", show_default=True,
                     help="The file's format: an nginx/Apache access log (combined, common), "
                          "a HAR file, a JMeter plan; auto: by its name and first line."),
        click.option("--traces", is_flag=True,
                     help="Read the server spans in the store instead of a file."),
        click.option("--since", type=DURATION, default=None, metavar="DURATION",
                     help="With --traces: spans of the last DURATION (default: all)."),
        click.option("--service", default=None, help="With --traces: this service's spans."),
    )):
        f = option(f)
    return f


@click.command("import")
@click.argument("source", required=False)
@_traffic_options
@click.option("-o", "--output", default=None, type=click.Path(dir_okay=False),
              help="Write the scenario file here (default: print it).")
@click.option("--replay", is_flag=True,
              help="Keep the recorded timing: the requests in their order, the rate following "
                   "the recorded one second by second.")
@click.option("--base-url", default=None,
              help="The target the scenario sends to (default: what the source names, else "
                   "the URL given to perflab load run).")
@click.option("--force", is_flag=True, help="Replace the -o file if it exists.")
@store_option
@json_option
def import_(source: str | None, fmt: str, traces: bool, since: float | None,  # noqa: PLR0917
            service: str | None, output: str | None, replay: bool, base_url: str | None,
            force: bool, store_path: str | None, as_json: bool) -> None:
    """Make a scenario from recorded traffic: an access log, a HAR file, a JMeter plan or
    the traces in the store.

    The scenario has the observed mix of endpoints (ids and UUIDs in paths collapsed),
    methods, payload sizes and arrival rate. What the input holds that the scenario does
    not reproduce is listed on stderr (and in --json's "unmapped").
    """
    from perflab.load import (  # noqa: PLC0415
        import_document,
        render_import,
        render_scenario,
        render_unmapped,
    )

    if as_json and output is None:
        raise UsageError("--json needs -o (the scenario goes to a file, the JSON to stdout)",
                         hint="perflab load import access.log -o scenario.py --json")
    traffic = _traffic(source, fmt, traces=traces, since=since, service=service,
                       store_path=store_path)
    if base_url is not None:
        traffic.base_url = base_url
    command = shlex.join([  # how this file was made, for the one who reads it
        "perflab", "load", "import", *([source] if source is not None else ["--traces"]),
        *(["--format", fmt] if fmt != "auto" else []), *(["--replay"] if replay else []),
        *(["--base-url", base_url] if base_url else []),
        *(["--service", service] if service else []), *(["-o", output] if output else [])])
    text = render_scenario(traffic, replay=replay, command=command)
    doc = import_document(traffic, output=output, replay=replay)
    if output is not None:
        _write(output, text, force=force)
    sys.stderr.write(render_unmapped(doc))
    if as_json:
        emit_doc(doc)
    elif output is None:
        sys.stdout.write(text)
    else:
        sys.stdout.write(render_import(doc))


@click.command("coverage")
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option("--against", "against", default=None, metavar="FILE",
              help="Production traffic: an access log, a HAR file (or a JMeter plan).")
@_traffic_options
@click.option("--target", default="95%", show_default=True,
              help="The share of production requests the scenario should cover.")
@click.option("--fail-under", is_flag=True,
              help="Exit 1 when the coverage is below --target (a CI gate).")
@store_option
@json_option
def coverage(scenario: str, against: str | None, fmt: str,  # noqa: PLR0917
             traces: bool, since: float | None, service: str | None, target: str,
             fail_under: bool, store_path: str | None, as_json: bool) -> None:
    """The share of production requests (by endpoint, weighted by traffic) SCENARIO
    exercises, and the endpoints it misses."""
    from perflab.load import coverage_document, render_coverage  # noqa: PLC0415

    target_pct = parse_percent(target) * 100
    production = _traffic(against, fmt, traces=traces, since=since, service=service,
                          store_path=store_path)
    doc = coverage_document(scenario, production, target_pct=target_pct)
    if as_json:
        emit_doc(doc)
    else:
        sys.stdout.write(render_coverage(doc))
    if fail_under and not doc["meets_target"]:
        pct = doc["coverage_pct"]
        raise CheckFailed(f"the scenario covers {pct or 0:.1f} % of production requests, "
                          f"below the target {target_pct:g} %",
                          hint="add tasks for the endpoints listed as missed")
