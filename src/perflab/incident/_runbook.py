"""Runbooks: YAML files of steps, linked to alert names, run against an incident.

    name: checkout-slow
    alerts: [CheckoutLatencyHigh, CheckoutErrors]
    steps:
      - name: sockets
        perflab: net --json -a         # a perflab command (its arguments)
        timeout: 20s
      - name: disk space
        shell: df -h /                 # a shell command line
        timeout: 5s                    # default 60 s; at most 10 min

Each step runs in its own process group with its timeout (``_steps``); its output is evidence
of the incident; a step that hangs (stopped at its timeout) or fails is recorded and the next
one runs: a runbook is what responders want done, and one broken step must not hide the rest.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml

from perflab.errors import InvalidFile, NotFound
from perflab.incident._steps import Step, StepResult, run_step
from perflab.store import add_incident_item
from perflab.units import parse_duration

if TYPE_CHECKING:
    from collections.abc import Callable

    from perflab.incident._contracts import IncidentRunbookDoc, RunbookStepResult
    from perflab.store import Store

DEFAULT_TIMEOUT_S = 60.0
MAX_TIMEOUT_S = 600.0
MAX_STEPS = 50
MAX_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Runbook:
    name: str
    path: str
    alerts: tuple[str, ...]
    steps: tuple[Step, ...]


def runbook_dirs() -> list[Path]:
    """Where runbooks are looked for: ``$PERFLAB_RUNBOOKS`` (paths separated by ``:``), else
    ``./runbooks``."""
    env = os.environ.get("PERFLAB_RUNBOOKS")
    return [Path(p) for p in env.split(":") if p] if env else [Path("runbooks")]


def load_runbook(path: Path) -> Runbook:
    where = str(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InvalidFile("larger than 1 MiB: not a runbook", path=where)
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InvalidFile(f"not valid YAML: {getattr(exc, 'problem', exc)}", path=where,
                          line=None if mark is None else mark.line + 1,
                          hint="a runbook is a YAML mapping: name, alerts, steps") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidFile(f"cannot be read: {exc}", path=where) from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("steps"), list):
        raise InvalidFile("a runbook is a mapping with a list of steps", path=where,
                          hint="see docs/incident.md, Runbooks")
    steps = raw["steps"]
    if not steps or len(steps) > MAX_STEPS:
        raise InvalidFile(f"a runbook has 1 to {MAX_STEPS} steps, not {len(steps)}", path=where)
    alerts = raw.get("alerts") or []
    if not isinstance(alerts, list):
        raise InvalidFile("alerts: a list of alert names", path=where)
    return Runbook(str(raw.get("name") or path.stem), where, tuple(str(a) for a in alerts),
                   tuple(_step(s, i, where) for i, s in enumerate(steps, start=1)))


def _step(raw: Any, index: int, where: str) -> Step:
    if not isinstance(raw, dict) or (("perflab" in raw) == ("shell" in raw)):
        raise InvalidFile(f"step {index}: give either `perflab: ARGS` or `shell: COMMAND`",
                          path=where)
    timeout = raw.get("timeout", DEFAULT_TIMEOUT_S)
    try:
        seconds = (float(timeout) if isinstance(timeout, (int, float))
                   else parse_duration(str(timeout)))
    except ValueError as exc:
        raise InvalidFile(f"step {index}: timeout {timeout!r} is not a duration",
                          path=where) from exc
    if not 0 < seconds <= MAX_TIMEOUT_S:
        raise InvalidFile(f"step {index}: the timeout must be within (0, 10m]", path=where)
    name = str(raw.get("name") or f"step {index}")
    if "perflab" in raw:
        return Step(name, tuple(shlex.split(str(raw["perflab"]))), seconds)
    return Step(name, (str(raw["shell"]),), seconds, perflab=False)


def find_runbook(name: str, dirs: list[Path] | None = None) -> Runbook:
    """A runbook by file path, by name (``NAME.yaml``/``.yml`` or its ``name:``), or by an
    alert name it lists."""
    if name.endswith((".yaml", ".yml")) or "/" in name:
        return load_runbook(Path(name))
    found = [load_runbook(p) for d in (dirs or runbook_dirs()) if d.is_dir()
             for p in sorted(d.iterdir()) if p.suffix in (".yaml", ".yml")]
    for book in found:
        if book.name == name or Path(book.path).stem == name:
            return book
    for book in found:
        if name in book.alerts:
            return book
    shown = ", ".join(str(d) for d in (dirs or runbook_dirs()))
    raise NotFound(f"no runbook {name!r} in {shown}",
                   hint="give a file, or set PERFLAB_RUNBOOKS to the directory of your runbooks")


def run_runbook(store: Store, incident_id: int, book: Runbook, *,
                progress: Callable[[StepResult], None] | None = None) -> IncidentRunbookDoc:
    """Run every step in order, each output an evidence artifact of the incident."""
    results: list[RunbookStepResult] = []
    for planned in book.steps:
        # a perflab step reads and writes the incident's store unless it names another
        step = dataclasses.replace(planned, env=(("PERFLAB_STORE", str(store.path)),))
        result = run_step(step)
        if progress is not None:
            progress(result)
        name = f"runbook {book.name}: {step.name}"
        output = result.stdout + (b"\n--- stderr ---\n" + result.stderr if result.stderr else b"")
        art = store.add_artifact(incident_id, "runbook", output, name=name,
                                 content_type="text/plain; charset=utf-8",
                                 attrs={"exit_code": result.exit_code})
        status: Literal["ok", "failed", "timeout"] = (
            "ok" if result.status == "ok" else "timeout" if result.status == "timeout"
            else "failed")
        add_incident_item(store, incident_id, "evidence", name, body=result.message, attrs={
            "status": status, "duration_s": round(result.duration_s, 3), "artifact_id": art,
            "bytes": len(output), "runbook": book.name})
        results.append({"name": step.name, "command": " ".join(
            shlex.quote(a) for a in step.argv) if step.perflab else step.argv[0],
            "status": status, "exit_code": result.exit_code,
            "duration_s": round(result.duration_s, 3), "output_bytes": len(output)})
        if step.perflab and result.stdout.lstrip().startswith(b"{"):
            # a perflab step's JSON is evidence triage can read, like the capture's
            try:
                json.loads(result.stdout)
            except ValueError:
                continue
            store.add_artifact(incident_id, "evidence", result.stdout, name=name,
                               content_type="application/json")
    return {"schema": "perflab.incident-runbook/1", "incident": incident_id,
            "runbook": book.name, "steps": results}
