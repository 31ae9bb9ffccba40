"""``perflab stacks PID``: Python threads' stacks, lock waits, the wait-for graph, deadlocks."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from perflab.cli._common import emit_doc, json_option, store_option
from perflab.cli._debug_record import Finding, record_finding, run_option
from perflab.errors import EXIT_CHECK_FAILED

if TYPE_CHECKING:
    from collections.abc import Mapping

    from perflab.debug import StacksBody, StacksReportDoc


@click.command()
@click.argument("pid", type=click.IntRange(min=1))
@click.option("--locals", "with_locals", is_flag=True,
              help="Show each frame's local variables (py-spy; the agent is not used).")
@run_option
@store_option
@json_option
def stacks(*, pid: int, with_locals: bool, run_ref: str | None, store_path: str | None,
           as_json: bool) -> int:
    """Every thread of Python process PID: stacks, lock waits, wait-for graph, deadlocks.

    With the debug agent and lockwatch in the process (PERFLAB_DEBUG=1 PERFLAB_LOCKWATCH=1, or
    perflab.debug.lockwatch()) it knows who holds each lock: a wait-for cycle is a deadlock for
    certain, and lock-order inversions found so far are listed. Without it, py-spy dump reads
    the stacks. Exit 1 when a deadlock or an inversion is found.
    """
    from perflab.debug import python_stacks  # noqa: PLC0415  # lazy: keeps --help fast

    report = python_stacks(pid, with_locals=with_locals)
    doc = report.to_json()
    events: list[tuple[str, str, Mapping[str, object]]] = [
        ("debug.deadlock", "deadlock (certain): " + " <-> ".join(d["functions"]), d)
        for d in doc["deadlocks"]]
    events.extend(("debug.lock-inversion", "lock-order inversion: "
                   + " / ".join(inv.get("functions", [])), inv) for inv in report.inversions)
    states: dict[str, float] = {"waiting": sum(1 for t in report.threads if t.waits_for),
                                "other": sum(1 for t in report.threads if not t.waits_for)}
    run_id = record_finding(store_path, run_ref, Finding(
        "stacks", f"stacks {pid}", doc, events, {"python_threads": states}, {"pid": str(pid)}))
    if as_json:
        out: StacksReportDoc = {"schema": "perflab.stacks/1", "run": run_id, **doc}
        emit_doc(out)
    else:
        click.echo(_text(doc), nl=False)
        click.echo(f"stored on run {run_id}", err=True)
    return EXIT_CHECK_FAILED if report.found else 0


def _text(doc: StacksBody) -> str:
    from perflab.units import printable  # noqa: PLC0415

    out = [f"PID {doc['pid']}: {len(doc['threads'])} threads (from {doc['source']})"]
    out.extend(f"note: {n}" for n in doc["notes"])
    names = {t["thread"]: t["name"] for t in doc["threads"]}
    out.extend("DEADLOCK (certain): " + " <-> ".join(
        f"{names.get(t, t)} in {fn}" for t, fn in zip(d["threads"], d["functions"], strict=True))
        for d in doc["deadlocks"])
    for inv in doc["inversions"]:
        now, before = inv["now"], inv["before"]
        out.append("LOCK-ORDER INVERSION: " + " / ".join(inv.get("functions", [])))
        out.append(f"  thread {now['thread']}: holds from {now['holds_site']}, takes at "
                   f"{now['takes_site']}")
        out.append(f"  thread {before['thread']}: holds from {before['holds_site']}, takes at "
                   f"{before['takes_site']}")
    out.extend(f"held long: {h['site']} x{h['count']}, up to {h['max_s']:g} s"
               for h in doc["long_holds"])
    out.extend(f"wait-for: {names.get(e['waiter'], e['waiter'])} -> "
               f"{names.get(e['holder'], e['holder'])} ({e['lock']})" for e in doc["wait_for"])
    for t in doc["threads"]:
        state = f" waiting for {t['waits_for']}" if t["waits_for"] else ""
        holds = f" holding {', '.join(t['holds'])}" if t["holds"] else ""
        out.append("")
        out.append(f"Thread {t['thread']} ({t['name']}){state}{holds}")
        for f in t["frames"]:
            out.append(f"    {f['function']} ({f['file']}:{f['line']})")
            out.extend(f"        {k} = {v}" for k, v in (f.get("locals") or {}).items())
    return "\n".join(printable(line) for line in out) + "\n"
