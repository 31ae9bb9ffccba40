"""``perflab chaos inject KIND``: one process or resource fault, bounded and rolled back.

Everything is checked before the fault's run, journal or watchdog exist: a wrong PID, a kind
without its options, a size the machine cannot spare. Then the band opens on the run, the
watchdog is armed, the fault is applied, held for its duration, and rolled back.
"""

from __future__ import annotations

import shlex
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from perflab.chaos.faults._hogs import (
    HogPlan,
    check_fill,
    check_memory,
    choose_engine,
    fill_disk,
    start_hog,
)
from perflab.chaos.faults._process_faults import (
    exhaust_fds,
    kill,
    restart_kill,
    restart_now,
    stop,
)
from perflab.chaos.faults._session import FaultSession
from perflab.chaos.faults._targets import Target, resolve_targets
from perflab.errors import InvalidValue

if TYPE_CHECKING:
    import subprocess

    from perflab.chaos.faults._contracts import FaultDoc
    from perflab.chaos.faults._hogs import Engine

FaultKind = Literal["kill", "stop", "restart", "cpu", "memory", "disk", "io", "fds"]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
_NEEDS_TARGET = ("kill", "stop", "restart", "fds")


@dataclass(frozen=True)
class InjectSpec:
    """What to inject; the CLI's options. ``duration_s`` 0 is an instant fault (kill)."""

    kind: str
    duration_s: float
    pids: tuple[int, ...] = ()
    matches: tuple[str, ...] = ()
    signal: str | None = None      # kill: KILL; restart: TERM
    restart_cmd: str | None = None
    workers: int = 1
    size: int | None = None
    path: Path | None = None
    engine: Engine = "auto"
    headroom: int = 0

    def params(self) -> dict[str, Any]:
        """The parameters shown on the fault's band and in --json."""
        out: dict[str, Any] = {"duration_s": self.duration_s}
        if self.kind in ("kill", "restart"):
            out["signal"] = self.signal_name()
        if self.kind == "restart":
            out["restart_cmd"] = self.restart_cmd
        if self.kind in ("cpu", "io"):
            out["workers"] = self.workers
        if self.kind in ("memory", "disk"):
            out["size"] = self.size
        if self.kind in ("disk", "io"):
            out["path"] = str(self.path)
        if self.kind == "fds":
            out["headroom"] = self.headroom
        return out

    def signal_name(self) -> str:
        return (self.signal or ("KILL" if self.kind == "kill" else "TERM")).upper()


def _signal(name: str) -> signal.Signals:
    try:
        return signal.Signals[name if name.startswith("SIG") else f"SIG{name}"]
    except KeyError:
        raise InvalidValue(f"unknown signal {name!r}", hint="e.g. KILL, TERM, INT, HUP") from None


def check_spec(spec: InjectSpec) -> list[Target]:
    """Refuse what cannot be injected, before anything exists; returns the targets."""
    if spec.kind in ("clock-skew", "clock"):  # libfaketime acts only when a program starts
        raise InvalidValue("clock skew cannot be injected into a running process",
                           hint="start the program under it: perflab run --clock-skew -2h -- CMD")
    if spec.kind not in FAULT_KINDS:
        raise InvalidValue(f"unknown fault {spec.kind!r}", hint=f"one of: {', '.join(FAULT_KINDS)}")
    # kill is an instant; restart may come back at once (--duration: the downtime)
    if spec.kind not in ("kill", "restart") and spec.duration_s <= 0:
        raise InvalidValue(f"a {spec.kind} fault needs --duration",
                           hint="every fault is bounded in time, e.g. --duration 30s")
    if spec.kind in ("kill", "restart"):
        _signal(spec.signal_name())
    if spec.kind == "restart" and not (spec.restart_cmd or "").strip():
        raise InvalidValue("restart needs --restart-cmd",
                           hint="the command that starts the service again, e.g. "
                                "--restart-cmd 'systemctl start api'")
    if spec.kind in ("memory", "disk") and not spec.size:
        raise InvalidValue(f"{spec.kind} needs --size", hint="e.g. --size 512M")
    if spec.kind in ("disk", "io") and spec.path is None:
        raise InvalidValue(f"{spec.kind} needs --path",
                           hint="the directory whose filesystem to fill or stress, "
                                "e.g. --path /var/tmp")
    if spec.kind == "io" and spec.path is not None and not spec.path.is_dir():
        raise InvalidValue(f"--path {spec.path} is not a directory",
                           hint="give an existing directory")
    if spec.kind == "disk" and spec.path is not None and spec.size:
        check_fill(spec.path, spec.size)
    if spec.kind == "memory" and spec.size:
        check_memory(spec.size, Path("/proc/meminfo").read_text())
    if spec.workers < 1:
        raise InvalidValue("--workers must be at least 1", hint="e.g. --workers 2")
    return resolve_targets(spec.pids, spec.matches, required=spec.kind in _NEEDS_TARGET)


def describe(spec: InjectSpec, targets: list[Target]) -> str:
    who = ", ".join(t.label for t in targets) or "the machine"
    return f"{spec.kind} on {who}"


def inject(spec: InjectSpec, store_path: Path, *, run_id: int | None = None,
           on_applied: Callable[[str], None] | None = None) -> FaultDoc:
    """Inject, hold and roll back one fault; the band on the run shows it."""
    targets = check_spec(spec)
    engine = choose_engine(spec.engine) if spec.kind in ("cpu", "memory", "io") else None
    params = {**spec.params(), "targets": [t.to_json() for t in targets]}
    if engine is not None:
        params["engine"] = engine
    fault = FaultSession.begin(store_path, spec.kind, describe(spec, targets), params,
                               run_id=run_id)
    notes: list[str] = []
    restarted: int | None = None
    mechanism = "interrupted before it was applied"
    with fault:
        mechanism, hog = _apply(fault, spec, targets, engine)
        if on_applied is not None:
            on_applied(mechanism)
        if spec.kind != "kill":
            fault.hold(spec.duration_s)
        if hog is not None and hog.poll() is not None:
            notes.append(f"the hog exited before the end (exit {hog.returncode})")
        if spec.kind == "restart":
            restarted = restart_now(fault)
    doc: FaultDoc = {
        "schema": "perflab.chaos-fault/1", "fault_id": fault.journal.fault_id,
        "kind": spec.kind, "mechanism": mechanism,  # type: ignore[typeddict-item]
        "targets": [{"pid": t.pid, "name": t.name} for t in targets],
        "params": params, "run_id": fault.run_id, "event_id": fault.event_id,
        "started_ns": fault.started_ns, "ended_ns": fault.ended_ns or time.time_ns(),
        "status": "aborted" if fault.interrupted else "ok",
        "rolled_back": not fault.problems, "problems": fault.problems, "notes": notes,
    }
    if restarted is not None:
        doc["restarted_pid"] = restarted
    return doc


def _apply(fault: FaultSession, spec: InjectSpec, targets: list[Target],
           engine: str | None) -> tuple[str, subprocess.Popen[bytes] | None]:
    """Make the change (its undo steps journaled first); returns what was done, and the hog."""
    target_pid = targets[0].pid if targets else None
    if spec.kind == "kill":
        return kill(targets, _signal(spec.signal_name())), None
    if spec.kind == "stop":
        return stop(fault, targets), None
    if spec.kind == "restart":
        argv = shlex.split(spec.restart_cmd or "")
        return restart_kill(fault, targets, argv, _signal(spec.signal_name())), None
    if spec.kind == "fds":
        return exhaust_fds(fault, targets, spec.headroom), None
    if spec.kind == "disk":
        assert spec.path is not None  # check_spec
        assert spec.size is not None
        return fill_disk(fault, spec.path, spec.size), None
    assert engine is not None  # a hog kind
    directory = (spec.path / f"perflab-chaos-{fault.journal.fault_id}.io"
                 if spec.kind == "io" and spec.path is not None else None)
    plan = HogPlan(spec.kind, spec.workers, spec.duration_s,  # type: ignore[arg-type]
                   size=spec.size, directory=directory)
    hog, where = start_hog(fault, plan, engine, target_pid)
    return f"{spec.kind} hog: {where}", hog
