"""``perflab incident ...`` (open, show, ls, note, close, run-book, bundle) and ``perflab event
deploy``: incident response on the store's timeline."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import click

from perflab.cli._common import emit_doc, json_option, open_store, store_option
from perflab.errors import InvalidValue, UsageError
from perflab.units import format_timestamp, printable

if TYPE_CHECKING:
    from perflab.incident import (
        IncidentBundleDoc,
        IncidentCloseDoc,
        IncidentDoc,
        IncidentLsDoc,
        IncidentNoteDoc,
    )
    from perflab.store import Store

_MAX_TITLE = 500
_MAX_NOTE = 10_000


@click.group()
def incident() -> None:
    """Incidents: capture evidence, triage, notes, runbooks, postmortem, bundle."""


@incident.command("open")
@click.argument("title")
@click.option("--pid", "pids", type=click.IntRange(min=1), multiple=True,
              help="A suspect process (repeatable): proc, stacks, profiles, memory watch.")
@click.option("--service", "services", multiple=True,
              help="A suspect service, by its name in spans and deploys (repeatable).")
@click.option("--pprof", "pprof", multiple=True,
              help="A Go suspect's net/http/pprof base URL: goroutine dump, CPU profile "
                   "(a --pid's loopback listeners serving pprof are found without it).")
@click.option("--profile-duration", type=click.FloatRange(min=0, max=60), default=10.0,
              show_default=True, help="Seconds of CPU and off-CPU profile (0: none).")
@click.option("--nice", type=click.IntRange(0, 19), default=10, show_default=True,
              help="The capture's niceness: on busy cores the target keeps ~9 CPU slices in "
                   "10 (0: the steps run at perflab's own).")
@click.option("--alert", default=None, help="The alert that opened it: the runbook linked to"
              " this alert name (in $PERFLAB_RUNBOOKS) runs after the capture.")
@click.option("--alert-fingerprint", default=None, hidden=True)
@store_option
@json_option
def open_(*, title: str, pids: tuple[int, ...], services: tuple[str, ...],
          pprof: tuple[str, ...], profile_duration: float, nice: int, alert: str | None,
          alert_fingerprint: str | None, store_path: str | None, as_json: bool) -> None:
    """Open an incident and capture its evidence bundle, then triage it."""
    _nice_self(nice)  # before the imports below (numpy, the web routes), most of its start
    from perflab.incident import (  # noqa: PLC0415  # lazy: keeps --help fast
        CaptureOptions,
        analyse,
        incident_document,
        open_incident,
    )

    if not title.strip() or len(title) > _MAX_TITLE:
        raise InvalidValue(f"the title is 1 to {_MAX_TITLE} characters",
                           hint='e.g. perflab incident open "checkout slow" --pid 1234')
    opts = CaptureOptions(title, tuple(dict.fromkeys(pids)), tuple(dict.fromkeys(services)),
                          tuple(dict.fromkeys(pprof)), profile_s=profile_duration, nice=nice,
                          alert={"name": alert, "fingerprint": alert_fingerprint or alert}
                          if alert else None)

    def progress(step: str, status: str) -> None:
        if not as_json:
            click.echo(f"  {printable(step)}: {status}", err=True)

    with open_store(store_path) as store:
        if not as_json:
            click.echo(f"capturing evidence for {printable(title)!r} ...", err=True)
        captured = open_incident(store, opts, progress=progress)
        if alert:
            _alert_runbook(store, captured.incident_id, alert)
        analyse(store, captured.incident_id)
        doc = incident_document(store, captured.incident_id)
    _print_incident(doc, as_json=as_json)


def _nice_self(nice: int) -> None:
    """This process at the capture's niceness too (its imports, the store context and the
    triage: ~0.45 CPU-s of a capture's ~1.9). Its autogroup is niced only when the process
    leads its own session (the hub's automatic open): a terminal's session is the user's, and
    their shell is not ours to slow. Best effort: a nice value that cannot be set is left."""
    if nice <= 0:
        return
    with contextlib.suppress(OSError):
        current = os.getpriority(os.PRIO_PROCESS, 0)
        if current < nice:
            os.setpriority(os.PRIO_PROCESS, 0, nice)
    if os.getsid(0) == os.getpid():
        with contextlib.suppress(OSError):
            Path("/proc/self/autogroup").write_text(str(nice))


def _alert_runbook(store: Store, incident_id: int, alert: str) -> None:
    """Run the runbook linked to the alert, when there is one; a missing one is no error."""
    from perflab.errors import NotFound  # noqa: PLC0415
    from perflab.incident import find_runbook, run_runbook  # noqa: PLC0415

    try:
        book = find_runbook(alert)
    except NotFound:
        return
    run_runbook(store, incident_id, book)


@incident.command("show")
@click.argument("incident_id", type=click.IntRange(min=1))
@click.option("--triage", "retriage", is_flag=True,
              help="Run triage again over the evidence before showing it.")
@store_option
@json_option
def show(*, incident_id: int, retriage: bool, store_path: str | None, as_json: bool) -> None:
    """An incident: findings ranked, evidence, notes."""
    from perflab.incident import analyse, incident_document  # noqa: PLC0415

    with open_store(store_path, create=retriage) as store:
        if retriage:
            analyse(store, incident_id)
        doc = incident_document(store, incident_id)
    _print_incident(doc, as_json=as_json)


def _print_incident(doc: IncidentDoc, *, as_json: bool) -> None:
    if as_json:
        emit_doc(doc)
        return
    click.echo(f"incident {doc['id']}: {printable(doc['title'])} ({doc['status']}, opened"
               f" {format_timestamp(doc['opened_ns'])})")
    click.echo("findings, most likely first:")
    for f in doc["findings"]:
        click.echo(f"  {f['rank']:>2}. [{f['score']:.2f}] {printable(f['title'])}")
        click.echo(f"      {printable(f['detail'])}  <- {', '.join(f['evidence'])}"
                   + (f"  {f['link']}" if f["link"] else ""))
    if not doc["findings"]:
        click.echo("  none: see the evidence")
    failed = [e for e in doc["evidence"] if e["status"] != "ok"]
    click.echo(f"evidence: {len(doc['evidence']) - len(failed)} steps captured"
               + (f", {len(failed)} not:" if failed else ""))
    for e in failed:
        click.echo(f"  {printable(e['step'])}: {e['status']} {printable(e['message'])}")
    for n in doc["entries"]:
        click.echo(f"{n['kind']} {format_timestamp(n['ts_ns'])}: {printable(n['text'])}")
    click.echo(f"page: {doc['link']} (perflab serve)")


@incident.command("ls")
@click.option("--limit", type=click.IntRange(min=1, max=10_000), default=20, show_default=True)
@store_option
@json_option
def ls(*, limit: int, store_path: str | None, as_json: bool) -> None:
    """Incidents, newest first."""
    from perflab.store import incident_items, incidents  # noqa: PLC0415

    with open_store(store_path, create=False) as store:
        doc: IncidentLsDoc = {"schema": "perflab.incident-ls/1", "incidents": []}
        for row in incidents(store, limit=limit):
            top = incident_items(store, row.id, "finding")[:1]
            doc["incidents"].append({
                "id": row.id, "title": row.title,
                "status": "closed" if row.status == "closed" else "open",
                "opened_ns": row.opened_ns, "closed_ns": row.closed_ns,
                "top_finding": top[0].title if top else None})
    if as_json:
        emit_doc(doc)
        return
    for r in doc["incidents"]:
        click.echo(f"{r['id']:>6}  {r['status']:<6}  {format_timestamp(r['opened_ns'])}  "
                   f"{printable(r['title'])}"
                   + (f"  — {printable(r['top_finding'])}" if r["top_finding"] else ""))
    if not doc["incidents"]:
        click.echo('no incidents: `perflab incident open "title" --pid PID`')


@incident.command("note")
@click.argument("incident_id", type=click.IntRange(min=1))
@click.argument("text")
@click.option("--action", is_flag=True, help="An action taken or to take (the postmortem's"
              " action items), not a note.")
@store_option
@json_option
def note(*, incident_id: int, text: str, action: bool, store_path: str | None,
         as_json: bool) -> None:
    """Add a note (or, with --action, an action) to an incident's timeline."""
    from perflab.store import add_incident_item, incident  # noqa: PLC0415

    if not text.strip() or len(text) > _MAX_NOTE:
        raise InvalidValue(f"a note is 1 to {_MAX_NOTE:,} characters",
                           hint='e.g. perflab incident note 3 "rolled back to v41"')
    kind: Literal["note", "action"] = "action" if action else "note"
    with open_store(store_path) as store:
        incident(store, incident_id)
        ts = time.time_ns()
        item = add_incident_item(store, incident_id, kind, text, ts_ns=ts)
    doc: IncidentNoteDoc = {"schema": "perflab.incident-note/1", "incident": incident_id,
                            "entry": {"id": item, "ts_ns": ts, "kind": kind, "text": text}}
    if as_json:
        emit_doc(doc)
    else:
        click.echo(f"{kind} {item} added to incident {incident_id}")


@incident.command("close")
@click.argument("incident_id", type=click.IntRange(min=1))
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the postmortem draft (Markdown) to this file too.")
@store_option
@json_option
def close(*, incident_id: int, output: str | None, store_path: str | None,
          as_json: bool) -> None:
    """Close an incident and write its postmortem draft (Markdown)."""
    from perflab.incident import postmortem  # noqa: PLC0415
    from perflab.store import close_incident, incident  # noqa: PLC0415

    with open_store(store_path) as store:
        if incident(store, incident_id).status == "closed":
            raise UsageError(f"incident {incident_id} is already closed",
                             hint=f"`perflab incident show {incident_id}` shows it")
        closed = time.time_ns()
        text = postmortem(store, incident_id, closed_ns=closed)
        if output is not None:
            _write_text(Path(output), text)
        close_incident(store, incident_id, text, closed_ns=closed)
    doc: IncidentCloseDoc = {"schema": "perflab.incident-close/1", "id": incident_id,
                             "closed_ns": closed, "output": output, "postmortem": text}
    if as_json:
        emit_doc(doc)
    elif output is None:
        click.echo(text, nl=False)
    else:
        click.echo(f"incident {incident_id} closed; postmortem draft in {output}")


def _write_text(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}",
                         hint="choose another -o path") from exc


@incident.command("run-book")
@click.argument("name")
@click.option("--incident", "incident_id", type=click.IntRange(min=1), default=None,
              help="The incident whose evidence the outputs become (default: the newest open"
              " one, else a new one named after the runbook).")
@store_option
@json_option
def run_book(*, name: str, incident_id: int | None, store_path: str | None,
             as_json: bool) -> None:
    """Run a runbook (a file, its name or an alert it is linked to) into an incident."""
    from perflab.incident import analyse, find_runbook, run_runbook  # noqa: PLC0415
    from perflab.store import create_incident, incident, incidents  # noqa: PLC0415

    book = find_runbook(name)
    with open_store(store_path) as store:
        if incident_id is not None:
            incident(store, incident_id)
        else:
            open_ones = [i for i in incidents(store) if i.status == "open"]
            incident_id = open_ones[0].id if open_ones else create_incident(
                store, f"runbook {book.name}", suspects={}).id

        def progress(result: object) -> None:
            if not as_json:
                step = getattr(result, "step", None)
                click.echo(f"  {printable(getattr(step, 'name', ''))}:"
                           f" {getattr(result, 'status', '')}", err=True)

        doc = run_runbook(store, incident_id, book, progress=progress)
        analyse(store, incident_id)
    if as_json:
        emit_doc(doc)
        return
    ok = sum(1 for s in doc["steps"] if s["status"] == "ok")
    click.echo(f"runbook {printable(book.name)}: {ok} of {len(doc['steps'])} steps ok, output"
               f" in incident {incident_id}")


@incident.command("bundle")
@click.argument("incident_id", type=click.IntRange(min=1))
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True,
              help="The tar.gz to write.")
@store_option
@json_option
def bundle(*, incident_id: int, output: str, store_path: str | None, as_json: bool) -> None:
    """Everything about an incident in one tar.gz: HTML report, postmortem, raw evidence."""
    from perflab.incident import bundle_members, write_bundle  # noqa: PLC0415
    from perflab.report import render_report  # noqa: PLC0415

    with open_store(store_path, create=False) as store:
        members = bundle_members(store, incident_id)
        members["report.html"] = render_report(store, incident_id).encode()
    try:
        size = write_bundle(Path(output), members)
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror}",
                         hint="choose another -o path") from exc
    doc: IncidentBundleDoc = {"schema": "perflab.incident-bundle/1", "id": incident_id,
                              "output": output, "files": sorted(members), "bytes": size}
    if as_json:
        emit_doc(doc)
    else:
        click.echo(f"{output}: {len(members)} files, {size:,} bytes")


@click.group()
def event() -> None:
    """Events on every timeline: deploys (from CI: also POST /api/events/deploy)."""


@event.command("deploy")
@click.option("--service", required=True, help="The service deployed.")
@click.option("--version", "version", required=True, help="Its new version (tag, commit).")
@store_option
@json_option
def deploy(*, service: str, version: str, store_path: str | None, as_json: bool) -> None:
    """Record a deploy: a marker on every timeline, a suspect change in incidents."""
    from perflab.incident import deploy_document  # noqa: PLC0415
    from perflab.store import record_deploy  # noqa: PLC0415

    for what, value in (("--service", service), ("--version", version)):
        if not value.strip() or len(value) > 200:  # as the API's bound
            raise InvalidValue(f"{what} is 1 to 200 characters", hint=f"e.g. {what} checkout")
    with open_store(store_path) as store:
        doc = deploy_document(record_deploy(store, service, version))
    if as_json:
        emit_doc(doc)
    else:
        click.echo(f"deploy of {printable(service)} {printable(version)} recorded"
                   f" (run {doc['event']['run_id']})")
